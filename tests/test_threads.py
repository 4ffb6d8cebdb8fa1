"""Threads: jitted functions, transforms, tracing and settings used from several threads at once.

Threads start together at a barrier, so their calls overlap; every result is checked against
NumPy. Inputs sit on both sides of the CPU backend's threading threshold
(`cpu.PARALLEL_MIN_WORK` elements): small calls run on their calling thread, large ones hand
shares to the backend's worker pool, or run alone when another call holds it. Tests that need
two traces alive at the same moment meet at a barrier inside the traced function.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from jitcore.jit import JitFunction
from xla_like.backends import cpu
from xla_like.backends.cpu import pool as cpu_pool

HANG_S = 120   # a thread still running after this long is deadlocked
RTOL = ATOL = 1e-9


def run_threads(n, target, barriers=()):
    """`target(k)` on threads k = 0..n-1, started together; re-raises the first error. An
    error breaks `barriers` so that the other threads stop waiting for the failed one."""
    start = threading.Barrier(n, timeout=HANG_S)
    errors = []

    def body(k):
        try:
            start.wait()
            target(k)
        except BaseException as e:   # noqa: B036 (re-raised in the main thread)
            errors.append(e)
            for b in (start, *barriers):
                b.abort()

    threads = [threading.Thread(target=body, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_S)
    assert not any(t.is_alive() for t in threads), "threads deadlocked"
    if errors:
        raise errors[0]


# --- the functions, with their NumPy references ---------------------------------------------

def chain(x):
    return jnp.sin(x) * 2.0 + 1.0 - jnp.exp(-x * x)


def colsum(x):
    return jnp.tanh(x).sum(axis=0)


def dense(x, w):
    return jnp.tanh(x @ w)   # a BLAS GEMM, its tanh in row blocks when large


def loop(x):
    return jc.lax.fori_loop(0, 4, lambda i, c: c * 0.9 + jnp.sin(c), x)


def np_loop(x):
    c, dc = x, np.ones_like(x)
    for _ in range(4):
        c, dc = c * 0.9 + np.sin(c), dc * (0.9 + np.cos(c))
    return c, dc


# name: (function, its value, the gradient of its sum in the first argument)
FUNCTIONS = {
    "chain": (chain, lambda x: np.sin(x) * 2 + 1 - np.exp(-x * x),
              lambda x: 2 * np.cos(x) + 2 * x * np.exp(-x * x)),
    "colsum": (colsum, lambda x: np.tanh(x).sum(axis=0), lambda x: 1 - np.tanh(x) ** 2),
    "dense": (dense, lambda x, w: np.tanh(x @ w),
              lambda x, w: (1 - np.tanh(x @ w) ** 2) @ w.T),
    "loop": (loop, lambda x: np_loop(x)[0], lambda x: np_loop(x)[1]),
}

# (rows, columns) of x: 384 elements, and 163840 (>= PARALLEL_MIN_WORK; dense's output too).
SIZES = {"small": (16, 24), "large": (1024, 160)}
assert SIZES["large"][0] * SIZES["large"][1] >= cpu.PARALLEL_MIN_WORK


def inputs(name, size, seed):
    rows, cols = SIZES[size]
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (rows, cols))
    return (x, rng.uniform(-0.2, 0.2, (cols, cols))) if name == "dense" else (x,)


def batched(args):
    """vmap's inputs: x as two examples of half its rows (w shared), and vmap's in_axes."""
    x = args[0]
    xs = x.reshape(2, x.shape[0] // 2, x.shape[1])
    return (xs, *args[1:]), (0,) + (None,) * (len(args) - 1)


def tasks():
    """(description, callable, arguments, expected) for every function, size and mode."""
    out = []
    for name, (f, ref, dref) in FUNCTIONS.items():
        def loss(*a, f=f):
            return jnp.sum(f(*a))
        for size in SIZES:
            args = inputs(name, size, seed=len(out))
            bargs, in_axes = batched(args)
            want_b = np.stack([ref(xi, *args[1:]) for xi in bargs[0]])
            out += [
                (f"{name}/{size}/eager", f, args, ref(*args)),
                (f"{name}/{size}/jit", jc.jit(f), args, ref(*args)),
                (f"{name}/{size}/grad", jc.jit(jc.grad(loss)), args, dref(*args)),
                (f"{name}/{size}/vmap", jc.jit(jc.vmap(f, in_axes=in_axes)), bargs, want_b),
            ]
            if size == "small":   # a trace per call; at the large size only NumPy's time
                out.append((f"{name}/{size}/eager grad", jc.grad(loss), args, dref(*args)))
    return out


def test_large_inputs_use_the_worker_pool():
    """The stress test's large sizes really take the threaded path (where it exists)."""
    if cpu_pool.threads() < 2:
        pytest.skip("one CPU thread: the backend has no worker pool")
    for name in ("chain", "colsum", "dense"):
        for size, parallel in (("small", False), ("large", True)):
            args = inputs(name, size, seed=0)
            exe = jc.jit(FUNCTIONS[name][0]).lower(*args).compile()._entry.executable
            segs = [seg for kind, seg in exe._order if kind == "native"]
            assert any(s.parallel for s in segs) == parallel, (name, size)


def test_eight_threads_call_every_function_and_transform():
    work = tasks()
    rounds = 2

    def run(k):
        order = np.random.default_rng(k).permutation(len(work))
        for _ in range(rounds):
            for i in order:
                what, f, args, want = work[i]
                got = np.asarray(f(*args))
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)

    run_threads(8, run)
    for what, f, _, _ in work:
        if isinstance(f, JitFunction):
            info = f.cache_info()   # every thread missed at once; one compiled
            assert (info.misses, info.compiles, info.hits) == (1, 1, 8 * rounds - 1), what


def test_four_threads_trace_at_the_same_time():
    # Every thread is inside its own trace when the others bind: each must see its own.
    inside = threading.Barrier(4, timeout=HANG_S)
    x = np.linspace(-1.0, 1.0, 12)
    rounds = 4

    def run(k):
        for r in range(rounds):
            scale = k + 1 + 10 * r

            def f(x):
                y = jnp.sin(x)
                inside.wait()
                return y * scale + r

            np.testing.assert_allclose(np.asarray(jc.jit(f)(x)), np.sin(x) * scale + r,
                                       rtol=RTOL, atol=ATOL)

            def loss(x):
                y = jnp.tanh(x * scale)
                inside.wait()
                return jnp.sum(y) + r

            np.testing.assert_allclose(np.asarray(jc.grad(loss)(x)),
                                       scale * (1 - np.tanh(x * scale) ** 2),
                                       rtol=RTOL, atol=ATOL)

    run_threads(4, run, barriers=(inside,))


def test_concurrent_misses_of_one_signature_compile_once():
    traced = []

    def slow(x):
        traced.append(1)
        time.sleep(0.5)   # at trace time only: every thread arrives while this one traces
        return jnp.cos(x) + 1.0

    f = jc.jit(slow)
    x = np.arange(6.0)
    results = [None] * 8

    def run(k):
        results[k] = np.asarray(f(x))

    run_threads(8, run)
    for r in results:
        np.testing.assert_allclose(r, np.cos(x) + 1.0, rtol=RTOL, atol=ATOL)
    info = f.cache_info()
    assert len(traced) == 1 and (info.misses, info.compiles, info.hits) == (1, 1, 7)


def test_a_failed_compile_is_retried_by_each_waiting_thread():
    traced = []

    def bad(x):
        traced.append(1)
        time.sleep(0.2)
        raise ValueError("not traceable")

    f = jc.jit(bad)
    failures = []

    def run(k):
        with pytest.raises(ValueError, match="not traceable") as e:
            f(np.ones(3))
        failures.append(e.value)

    run_threads(4, run)
    # Each thread traced and got its own error; nothing was cached, nobody still waits.
    assert len(traced) == 4 and len({id(e) for e in failures}) == 4
    assert f.cache_info().compiles == 0 and not f._building


def test_override_is_seen_only_by_its_own_thread():
    overridden, checked = threading.Event(), threading.Event()
    seen = {}
    g = jc.jit(lambda x: x * 2.0)
    x = np.arange(4.0)
    default = config.settings.backend

    def with_override():
        with config.override(backend="interp", explain_cache_misses=0):
            seen["inside"] = config.settings.backend
            np.testing.assert_allclose(np.asarray(g(x)), x * 2)
            overridden.set()
            assert checked.wait(HANG_S)
            child = threading.Thread(
                target=lambda: seen.__setitem__("child", config.settings.backend))
            child.start()
            child.join()
        seen["after"] = config.settings.backend

    def without():
        assert overridden.wait(HANG_S)
        seen["other"] = config.settings.backend
        np.testing.assert_allclose(np.asarray(g(x)), x * 2)
        checked.set()

    run_threads(2, lambda k: (with_override, without)[k]())
    assert seen == {"inside": "interp", "other": default, "child": default, "after": default}
    assert g.cache_info().compiles == 2   # one program per backend
    assert config.settings.backend == default


def test_a_call_that_finds_the_pool_busy_runs_alone():
    if cpu_pool.threads() < 2:
        pytest.skip("one CPU thread: the backend has no worker pool")
    f = jc.jit(dense)
    x, w = inputs("dense", "large", seed=3)
    want = np.tanh(x @ w)
    np.testing.assert_allclose(np.asarray(f(x, w)), want, rtol=RTOL, atol=ATOL)
    with cpu_pool.pool()._owner:   # as if another call were running on the workers
        got = np.asarray(f(x, w))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
