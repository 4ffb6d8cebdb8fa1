"""Pickling jitted functions: lambdas and closures by value with cloudpickle, module-level ones
by reference with plain pickle; options survive, compiled code does not travel (the new process
recompiles or loads it from the persistent cache)."""
import os
import pickle
import subprocess
import sys

import cloudpickle
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends import cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@jc.jit
def decorated(x):
    return jnp.sin(x) + 1


def plain(x, n):
    return x * n


def make_closure(scale, offset):
    table = np.arange(4.0) * offset

    def f(x, power, mode="sum"):
        y = (x * scale + table) ** power
        return y.sum() if mode == "sum" else y.max()

    return jc.jit(f, static_argnums=1, static_argnames="mode")


def test_cloudpickle_round_trip_of_a_closure_with_static_args():
    f = make_closure(2.0, 0.5)
    x = np.linspace(0.0, 1.0, 4)
    want = f(x, 2, mode="max")
    g = cloudpickle.loads(cloudpickle.dumps(f))
    assert g is not f and g.cache_info().compiles == 0
    assert (g.static_argnums, g.static_argnames) == (f.static_argnums, f.static_argnames)
    np.testing.assert_array_equal(np.asarray(g(x, 2, mode="max")), np.asarray(want))
    np.testing.assert_allclose(np.asarray(g(x, 3)), ((x * 2 + np.arange(4.0) * 0.5) ** 3).sum())


def test_cloudpickle_keeps_donation_and_backend():
    f = jc.jit(lambda a, b: a + b, donate_argnums=(0,), backend="interp")
    g = cloudpickle.loads(cloudpickle.dumps(f))
    assert g.donate_argnums == (0,) and g.backend == "interp"
    a = jnp.asarray(np.ones(3))
    np.testing.assert_array_equal(np.asarray(g(a, np.ones(3))), np.full(3, 2.0))
    assert a.is_deleted()


def test_cloudpickle_of_jit_of_grad():
    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    f = jc.jit(jc.grad(loss))
    g = cloudpickle.loads(cloudpickle.dumps(f))
    w, x = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(0, 1, 12).reshape(4, 3)
    t = np.tanh(x @ w)
    np.testing.assert_allclose(np.asarray(g(w, x)), x.T @ (2 * t * (1 - t ** 2)), rtol=1e-12)


def test_plain_pickle_of_module_level_functions():
    assert pickle.loads(pickle.dumps(decorated)) is decorated   # by reference, as functions
    f = jc.jit(plain, static_argnums=1)
    g = pickle.loads(pickle.dumps(f))
    assert g is not f and g.fun is plain and g.static_argnums == (1,)
    np.testing.assert_array_equal(np.asarray(g(np.arange(3.0), 4)), np.arange(3.0) * 4)


def test_plain_pickle_of_a_lambda_fails_as_for_the_lambda_itself():
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(jc.jit(lambda x: x + 1))


def test_the_compiled_cache_is_not_pickled():
    f = jc.jit(lambda x: x * 3)
    f(np.ones(1000))
    assert len(cloudpickle.dumps(f)) < 4000


_CHILD = """
import pickle, sys
import numpy as np
from xla_like.backends import disk_cache
with open(sys.argv[1], "rb") as fh:
    fns, x = pickle.load(fh)
outs = {"lambda": fns["lambda"](x), "closure": fns["closure"](x, 2, mode="max"),
        "closure_sum": fns["closure"](x, 3)}
with open(sys.argv[2], "wb") as fh:
    pickle.dump(({k: np.asarray(v) for k, v in outs.items()}, dict(disk_cache.stats)), fh)
"""


def test_round_trip_into_another_process_loads_from_the_disk_cache(tmp_path):
    cache = tmp_path / "cache"
    x = np.linspace(-1.0, 1.0, 4)
    fns = {"lambda": jc.jit(lambda v: jnp.exp(v) * 2 - v.sum()), "closure": make_closure(3.0, 1.5)}
    cpu._machine_cache.clear()   # compile (and store) here, then load there
    with config.override(cache=1, cache_dir=str(cache)):
        want = {"lambda": fns["lambda"](x), "closure": fns["closure"](x, 2, mode="max"),
                "closure_sum": fns["closure"](x, 3)}
    cpu._machine_cache.clear()
    (tmp_path / "in.pkl").write_bytes(cloudpickle.dumps((fns, x)))
    env = dict(os.environ, JITCORE_CACHE_DIR=str(cache), JITCORE_CACHE="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "in.pkl"),
                        str(tmp_path / "out.pkl")], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    outs, stats = pickle.loads((tmp_path / "out.pkl").read_bytes())
    assert stats.get("hits", 0) == 3 and not stats.get("stores"), stats
    for k, v in want.items():
        np.testing.assert_array_equal(outs[k], np.asarray(v))
    np.testing.assert_allclose(outs["lambda"], np.exp(x) * 2 - x.sum(), rtol=1e-13)
    np.testing.assert_allclose(outs["closure"], ((x * 3 + np.arange(4.0) * 1.5) ** 2).max())
