"""jitcore.distributed on a real Dask cluster: two worker processes (one thread each) on
loopback, started once for the module and closed at its end. Each worker gets a cache directory
of its own, so code it does not compile must have come with the tasks.

References: NumPy for values, the single-process jitcore result (value_and_grad, the training
loop run in this process) for the distributed ones; compile counts from each worker's
`process_stats` (its persistent cache's stores and loads).
"""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

import cloudpickle  # noqa: E402

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import distributed as jd  # noqa: E402
from jitcore.distributed import cluster, mapping, shipping, worker  # noqa: E402
from jitcore.errors import ShapeError  # noqa: E402

# Functions defined here travel by value: the workers cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# The cluster is the module's: under `pytest -n 2` each xdist worker that runs some of these
# tests starts its own (ports are chosen free, so two never collide).
TEST_SECONDS = 45


@pytest.fixture(autouse=True)
def _time_limit():
    """Each test fails after TEST_SECONDS instead of hanging the suite (a cluster that stopped
    answering)."""
    def expired(*_):
        raise TimeoutError(f"a distributed test ran past {TEST_SECONDS} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _private_cache():
    import tempfile
    from xla_like.settings import settings
    if "jitcore-worker-cache-" not in settings.cache_dir:
        settings.cache_dir = tempfile.mkdtemp(prefix="jitcore-worker-cache-")
    return settings.cache_dir


def _remove_private_cache():
    import shutil
    from xla_like.settings import settings
    if "jitcore-worker-cache-" in settings.cache_dir:
        shutil.rmtree(settings.cache_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_client():
    c = jd.local_client(2, threads_per_worker=1, env={"JITCORE_NUM_THREADS": "1"})
    try:
        yield c
    finally:
        try:
            c.run(_remove_private_cache)
        finally:
            c.close(timeout=20)


@pytest.fixture
def client(cluster_client):
    """The module's cluster with its 2 workers up (a killed one is replaced by its nanny),
    each with a cache directory of its own."""
    cluster_client.wait_for_workers(2, timeout=30)
    cluster_client.run(_private_cache)
    return cluster_client


def _stats(client):
    return jd.worker_stats(client)


def _delta(before, after, field):
    return {a: after[a][field] - before[a][field] for a in after if a in before}


def scaled_tanh(tree, shift):
    # Constants no other test uses: the driver's first compile of it is this test's (another
    # test's identical program, compiled earlier in the same process, would be reused).
    return {"a": jnp.tanh(tree["a"]) * 2.375 + shift, "b": tree["b"].sum(axis=1) - 1.625 * shift}


def test_map_matches_numpy_and_workers_load_the_shipped_code(client):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((103, 4)), rng.standard_normal((103, 3))
    shift = np.float64(0.5)
    before, driver = _stats(client), jd.process_stats()
    out = jd.map(scaled_tanh, {"a": a, "b": b}, shift, client=client, chunk_size=16,
                 broadcast_argnums=(1,))
    after = _stats(client)
    assert isinstance(out["a"], jc.Array) and out["a"].shape == (103, 4)
    np.testing.assert_allclose(np.asarray(out["a"]), np.tanh(a) * 2.375 + 0.5, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(out["b"]), b.sum(1) - 1.625 * 0.5, rtol=1e-12,
                               atol=1e-15)
    # The driver compiled; the 7 chunks ran on the workers, which compiled nothing.
    mine = jd.process_stats()
    assert mine["compiled"] + mine["loaded"] > driver["compiled"] + driver["loaded"]
    assert sum(_delta(before, after, "tasks").values()) == 7
    assert all(d == 0 for d in _delta(before, after, "compiled").values())
    ran = [w for w, d in _delta(before, after, "tasks").items() if d]
    assert all(after[w]["loaded"] >= 1 and after[w]["installed_files"] >= 1 for w in ran)


def wide(x):
    # Enough elements per chunk (2 x 64 x 1024) that the program is cut into compile units.
    h = jnp.sin(x) * jnp.cos(x * 0.5)
    return jnp.exp(-h * h) + jnp.log1p(jnp.abs(x))


def test_map_ships_every_compile_unit_of_a_large_program(client):
    x = np.random.default_rng(1).standard_normal((256, 1024))
    before = _stats(client)
    out = jd.map(wide, x, client=client, chunk_size=64)
    after = _stats(client)
    h = np.sin(x) * np.cos(x * 0.5)
    np.testing.assert_allclose(np.asarray(out), np.exp(-h * h) + np.log1p(np.abs(x)),
                               rtol=1e-13)
    (bundle,) = mapping.program(wide, jitted=True).bundles.values()
    assert len(bundle.files) > 1   # the program's units: the segments and each kernel
    assert all(d == 0 for d in _delta(before, after, "compiled").values())
    assert all(d == 0 for d in _delta(before, after, "units_compiled").values())


def test_map_without_a_client_uses_the_current_one(client):
    assert jd.client_for(None) is client   # the last Client made is Dask's default
    before = _stats(client)
    out = jd.map(lambda x: x + 1.0, np.arange(6.0), chunk_size=3)
    np.testing.assert_array_equal(np.asarray(out), np.arange(6.0) + 1)
    assert sum(_delta(before, _stats(client), "tasks").values()) == 2


def test_map_says_when_a_result_has_no_rows_to_concatenate(client):
    with pytest.raises(ValueError, match="rows on its leading axis"):
        jd.map(lambda x: x.sum(), np.ones((8, 2)), client=client, chunk_size=4)


def loss_sum(params, batch):
    pred = batch["x"] @ params["w"] + params["b"]
    return jnp.sum((pred - batch["y"]) ** 2)


def loss_mean(params, batch):
    pred = batch["x"] @ params["w"] + params["b"]
    return jnp.mean((pred - batch["y"]) ** 2)


def _regression(n=37, d=5, seed=2):
    rng = np.random.default_rng(seed)
    batch = {"x": rng.standard_normal((n, d)), "y": rng.standard_normal(n)}
    params = {"w": rng.standard_normal(d), "b": np.float64(0.3)}
    return params, batch


@pytest.mark.parametrize("loss,reduce", [(loss_sum, "sum"), (loss_mean, "mean")])
def test_data_parallel_equals_the_single_process_gradient(client, loss, reduce):
    params, batch = _regression()
    before = _stats(client)
    value, grads = jd.data_parallel(loss, client=client, reduce=reduce)(params, batch)
    after = _stats(client)
    ref_value, ref_grads = jc.value_and_grad(loss)(params, batch)
    # Independently, NumPy: d/dw sum r^2 = 2 X^T r (divided by n for the mean).
    r = batch["x"] @ params["w"] + params["b"] - batch["y"]
    scale = 1.0 if reduce == "sum" else 1.0 / len(r)
    np.testing.assert_allclose(float(value), float(ref_value), rtol=1e-12)
    np.testing.assert_allclose(float(value), scale * np.sum(r * r), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads["w"]), np.asarray(ref_grads["w"]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads["w"]), scale * 2 * batch["x"].T @ r, rtol=1e-12)
    np.testing.assert_allclose(float(grads["b"]), scale * 2 * r.sum(), rtol=1e-12)
    # 37 rows in 2 shards (19 and 18 rows): two signatures, both compiled by the driver.
    assert sum(_delta(before, after, "tasks").values()) == 2
    assert all(d == 0 for d in _delta(before, after, "compiled").values())


def _sgd_step(params, batch, lr):
    grads = jc.grad(loss_mean)(params, batch)
    return jc.tree_util.tree_map(lambda w, g: w - lr * g, params, grads)


def train(config):
    """A few steps of gradient descent on a regression problem drawn from the seed (every
    config has the same shapes: one program)."""
    params, batch = _regression(n=16, d=3, seed=config["seed"])
    step = jc.jit(_sgd_step)
    for _ in range(config["steps"]):
        params = step(params, batch, config["lr"])
    return {"w": params["w"], "loss": loss_mean(params, batch)}


def test_sweep_returns_each_config_with_its_result(client, capsys):
    configs = [{"lr": lr, "seed": s, "steps": 5} for lr in (0.05, 0.1, 0.2) for s in (0, 1)]
    before = _stats(client)
    runs = jd.sweep(train, configs, client=client, progress=True)
    after = _stats(client)
    assert [r.config for r in runs] == configs
    # The first config's worker compiled; the code it recorded went to the other worker.
    compiled = _delta(before, after, "compiled")
    assert sorted(d > 0 for d in compiled.values()) == [False, True]
    loader = next(w for w, d in compiled.items() if d == 0)
    assert _delta(before, after, "tasks")[loader] >= 1
    assert _delta(before, after, "loaded")[loader] >= 1
    for r in runs:
        ref = train(r.config)
        np.testing.assert_allclose(r.result["w"], np.asarray(ref["w"]), rtol=1e-12)
        np.testing.assert_allclose(r.result["loss"], float(ref["loss"]), rtol=1e-12)


def bad_train(config):
    x = jnp.ones((3, config["k"]))
    return x @ jnp.ones((4, 2))   # the line the error names when k != 4


def test_user_error_raises_on_the_driver_with_the_users_line(client):
    with pytest.raises(ShapeError) as info:
        jd.sweep(bad_train, [{"k": 4}, {"k": 5}], client=client)
    text = str(info.value)
    line = bad_train.__code__.co_firstlineno + 2
    assert f"test_distributed.py:{line}" in text
    assert "x @ jnp.ones((4, 2))" in text
    assert any("config 1 of sweep" in n for n in info.value.__notes__)


def shifted(x):
    return x * 3.0 - 1.0


def test_code_for_another_target_is_recompiled_not_run(client):
    x = np.arange(12.0).reshape(6, 2)
    jitted = jc.jit(shifted)
    profile = cluster.profile(client)
    bundle = shipping.capture(jitted, (x,), profile)
    assert bundle is not None and bundle.files
    tag = dict(bundle.tag, target=dict(bundle.tag["target"]))
    tag["target"]["features"] = tag["target"]["features"] + ",+an-extension-this-cpu-lacks"
    foreign = shipping.Bundle(tag, bundle.files)
    prog = mapping.program(jitted)
    code = mapping.submit_shipment(client, prog, [foreign])
    before = _stats(client)
    fut = client.submit(worker.run, code, (x,), "foreign code")
    out = fut.result(timeout=30)
    after = _stats(client)
    np.testing.assert_allclose(out, x * 3 - 1)
    ran = [w for w, d in _delta(before, after, "tasks").items() if d]
    assert len(ran) == 1
    assert _delta(before, after, "foreign_bundles")[ran[0]] == 1
    assert _delta(before, after, "compiled")[ran[0]] >= 1
    assert _delta(before, after, "installed_files")[ran[0]] == 0


def test_distributed_sgd_example_trains_the_same_parameters(client, capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "distributed_sgd.py")
    spec = importlib.util.spec_from_file_location("example_distributed_sgd", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    sys.modules[spec.name] = example   # registered by value: the workers cannot import it
    cloudpickle.register_pickle_by_value(example)
    before = _stats(client)
    try:
        r = example.main(small=True, client=client)
    finally:
        cloudpickle.unregister_pickle_by_value(example)
        del sys.modules[spec.name]
    for k in ("w", "b"):   # the single-process loop, run by the example itself
        np.testing.assert_allclose(np.asarray(r["params"][k]), np.asarray(r["reference"][k]),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r["losses"], r["losses_reference"], rtol=1e-10)
    assert r["losses"][-1] < 0.7 * r["losses"][0]
    assert all(d == 0 for d in _delta(before, r["stats"], "compiled").values())
    assert "largest parameter difference" in capsys.readouterr().out


def _slow_rows(x):
    time.sleep(0.15)
    return x


def slow_square(x):
    y = jc.pure_callback(_slow_rows, jc.ShapeDtypeStruct(x.shape, x.dtype), x)
    return y * y


def test_a_killed_worker_has_its_chunks_run_again(client):
    x = np.arange(48.0).reshape(24, 2)
    pending = jd.map_async(slow_square, x, client=client, chunk_size=2)
    from distributed import wait
    wait(pending.futures, return_when="FIRST_COMPLETED", timeout=30)
    busy = [w for w, keys in client.processing().items() if keys]
    assert busy, "no chunk was running when the worker was to be killed"
    pids = client.run(os.getpid)
    left = client.run(_private_cache, workers=[busy[0]])[busy[0]]   # removed here: it dies
    os.kill(pids[busy[0]], signal.SIGKILL)
    try:
        out = pending.result(timeout=40)
    finally:
        import shutil
        shutil.rmtree(left, ignore_errors=True)
    np.testing.assert_array_equal(np.asarray(out), x * x)
