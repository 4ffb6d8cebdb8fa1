"""Threaded segments whose threads claim their shares at run time (`cpu.claims`).

Claimed shares are the static shares (the same chunks, the same order inside each), only run
by whichever thread gets them: results are bit for bit those of static shares, and checked
against NumPy in float64. A worker that has not started (held here by a task queued before the
call, deterministically, not by timing) leaves every share to the calling thread, which must
finish without it; the worker then runs the stale task through without touching anything."""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config  # noqa: E402
from xla_like.backends.cpu import claims, gemm, pool, schedule  # noqa: E402
from tests.helpers import mlp_sgd_numpy  # noqa: E402
from xla_like.backends.cpu.executable import _SEG_CFUNC  # noqa: E402

RNG = np.random.default_rng(5)


def _f32(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def _mlp_step(params, x, y):
    def loss(params):
        (w1, b1), (w2, b2) = params
        h = jnp.maximum(x @ w1 + b1, 0.0)
        return -jnp.mean(jnp.sum(jc.nn.log_softmax(h @ w2 + b2) * y, axis=-1))
    value, g = jc.value_and_grad(loss)(params)
    return value, jc.tree_util.tree_map(lambda p, d: p - 0.1 * d, params, g)


def _mlp_numpy(params, x, y):
    value, ((w1, b1), (w2, b2)) = mlp_sgd_numpy(params, x, y, 0.1)
    return [value, w1, b1, w2, b2]


def _mlp_case(batch, hidden, classes=10, features=40):
    params = [(_f32(features, hidden) / 12, _f32(hidden) / 10),
              (_f32(hidden, classes) / 12, _f32(classes) / 10)]
    y = np.eye(classes, dtype=np.float32)[RNG.integers(0, classes, batch)]
    return _mlp_step, (params, _f32(batch, features), y), _mlp_numpy


def _rows_case(rows, cols):
    # Kernels and a shared product, row reductions and a column sum (a barrier between).
    def fn(x, w):
        h = jnp.tanh(x @ w)
        s = h - jnp.max(h, axis=1, keepdims=True)
        return jnp.exp(s) / jnp.sum(jnp.exp(s), axis=1, keepdims=True), jnp.sum(h, axis=0)

    def ref(x, w):
        h = np.tanh(x.astype(np.float64) @ w)
        e = np.exp(h - h.max(1, keepdims=True))
        return [e / e.sum(1, keepdims=True), h.sum(0)]
    return fn, (_f32(rows, cols), _f32(cols, 24) / 4), ref


def _sort_case(n):
    # A sort's phases end in barriers inside the step (`llvm.sort`).
    def fn(x):
        return jnp.sort(jnp.sin(x) * 3.0)

    return fn, (_f32(n),), lambda x: [np.sort(np.sin(x.astype(np.float64)) * 3.0)]


CASES = {"mlp-b64": lambda: _mlp_case(64, 48), "mlp-b37": lambda: _mlp_case(37, 33, 7),
         "rows-45": lambda: _rows_case(45, 30), "rows-130": lambda: _rows_case(130, 17),
         "sort": lambda: _sort_case(5000)}


@pytest.fixture(autouse=True)
def _small_programs_threaded(monkeypatch):
    """Small shapes (fast compiles), threaded as large ones would be: every segment on the
    threads, every product shared out in pieces."""
    monkeypatch.setattr(schedule, "DEFAULT", schedule.Schedule(parallel_min_work=1,
                                                               gemm_threads_min_flops=1))
    monkeypatch.setattr(gemm, "SHARE_MIN_FLOPS", 1)


def _compiled(fn, args, enabled, monkeypatch):
    """fn jitted and compiled with claimed (or static) shares; its threaded segments' flags."""
    monkeypatch.setattr(claims, "ENABLED", enabled)
    # A wrapper of its own: `jit` wrappers of one function share their compiled entries.
    f = jc.jit(lambda *a: fn(*a))
    ex = f.lower(*args).compile()._entry.executable
    f(*args)
    monkeypatch.setattr(claims, "ENABLED", True)
    return f, [seg.claims for kind, seg in ex._order if kind == "native" and seg.parallel]


def _leaves(out):
    return [np.asarray(x) for x in jc.tree_util.tree_leaves(out)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_claimed_shares_match_static_shares_and_numpy(case, monkeypatch):
    fn, args, ref = CASES[case]()
    with config.override(num_threads=2):
        claimed, flags = _compiled(fn, args, True, monkeypatch)
        static, static_flags = _compiled(fn, args, False, monkeypatch)
        assert flags and all(flags) and not any(static_flags), (flags, static_flags)
        got, want = _leaves(claimed(*args)), _leaves(static(*args))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for g, r in zip(got, ref(*args)):
        scale = max(1.0, float(np.abs(r).max()))
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5 * scale)
    with config.override(num_threads=1):     # the same code run alone: share 0 of each
        for g, w in zip(_leaves(claimed(*args)), want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["mlp-b64", "rows-130"])
def test_two_shares_a_thread_match_static_shares(case, monkeypatch):
    # `claims.SPLIT = 2`: four shares on two threads, GEMM pieces and chunks cut for four;
    # a GEMM's row blocks do not change its sums, so the bits are those of static shares.
    fn, args, _ = CASES[case]()
    monkeypatch.setattr(claims, "SPLIT", 2)
    with config.override(num_threads=2):
        claimed, flags = _compiled(fn, args, True, monkeypatch)
        static, _ = _compiled(fn, args, False, monkeypatch)
        assert flags and all(f == 2 for f in flags), flags
        for g, w in zip(_leaves(claimed(*args)), _leaves(static(*args))):
            np.testing.assert_array_equal(g, w)


def _hold_worker(p):
    """Give worker 1 of pool `p` a task that blocks it until the returned event is set. A
    native worker runs the blocker through a C callback, which must outlive the task: `p`
    holds it until the fixture closes the pool, which waits for every task."""
    started, release = threading.Event(), threading.Event()

    def blocker(*_):
        started.set()
        release.wait(120)
    if p._native is None:
        p._tasks[0].put((blocker, None, None, 1, 2, None, None, None))
        callback = None
    else:      # a native worker: post a C callback to its mailbox, as `try_run` posts
        callback = p.held = _SEG_CFUNC(blocker)
        p._native[1](p._boxes[0], pool._address(callback), 0, 0, 1, 2, 0)
    assert started.wait(30)
    return release


@pytest.fixture(params=["native", "python"])
def workers(request, monkeypatch):
    """The pool's native workers (`cpu.workers`), or Python ones (where futexes are missing)."""
    p = pool.ThreadPool(2, native=request.param == "native")
    if request.param == "native" and p._native is None:
        pytest.skip("no futex on this system: the pool runs Python workers only")
    monkeypatch.setattr(pool, "_instance", p)
    yield p
    # Its workers' late tasks read what the pool object keeps alive: stop them first.
    p.close()


@pytest.mark.parametrize("case", ["mlp-b64", "sort"])
def test_a_worker_that_never_starts_leaves_the_work_to_the_caller(case, workers, monkeypatch):
    fn, args, _ = CASES[case]()
    with config.override(num_threads=2):
        f, flags = _compiled(fn, args, True, monkeypatch)
        assert all(flags)
        want = _leaves(f(*args))
        release = _hold_worker(workers)
        result = []
        try:
            # With static shares this call would wait at its first barrier until the worker
            # came; claimed, the calling thread runs every share itself.
            def call():
                with config.override(num_threads=2):   # settings are per thread
                    result.append(_leaves(f(*args)))
            caller = threading.Thread(target=call)
            caller.start()
            caller.join(20)
            assert not caller.is_alive() and result, "the call waited for the held worker"
        finally:
            release.set()
        # The worker now runs the stale task (all shares done: it only reads its block);
        # calls after it still get every share right.
        for _ in range(3):
            got = _leaves(f(*args))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
    for g, w in zip(result[0], want):
        np.testing.assert_array_equal(g, w)


def test_a_closed_pool_stops_its_workers_after_their_tasks(workers):
    # (A pool made apart from the process's must stop its workers before it is dropped.)
    release = _hold_worker(workers)
    closer = threading.Thread(target=workers.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive(), "close returned while a worker still ran a task"
    release.set()
    closer.join(30)
    assert not closer.is_alive() and workers._workers
    assert not any(t.is_alive() for t in workers._workers)
