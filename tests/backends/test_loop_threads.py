"""Loops and branches whose bodies hold large kernels or GEMMs run on all of a segment's
threads (`cpu.control`: every thread runs the loop control, the large steps are shared out,
barriers between them). Each case is checked against a NumPy loop, on two threads (and on
three, more threads than this machine may have cores, where the barriers wait longest); the
segment's `parallel` flag says which path ran. Elementwise bodies give the same bits on any
thread count (each element is computed by the same code, whichever thread runs it)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config, lax
from xla_like.backends.cpu import blas

N = 150_000          # elements: over the threshold that makes a loop body worth the threads
F32 = np.float32


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


def compiled(fn, args, threads):
    """(outputs as NumPy, [parallel flag of each native segment]) under `num_threads`."""
    with config.override(num_threads=threads):
        f = jc.jit(lambda *a: fn(*a))       # a new function: compiled under these settings
        out = f(*args)
        ex = f.lower(*args).compile()._entry.executable
    flags = [seg.parallel for kind, seg in ex._order if kind == "native"]
    out = [np.asarray(o) for o in out] if isinstance(out, (tuple, list)) else np.asarray(out)
    return out, flags


def close(got, want, tol=2e-5):
    got, want = np.asarray(got), np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


# --- the functions and their NumPy loops ----------------------------------------------------

def fori_fn(x):
    return lax.fori_loop(0, 7, lambda i, v: jnp.sin(v) * 0.75 + 0.1 * i, x)


def fori_ref(x):
    v = x.astype(np.float64)
    for i in range(7):
        v = np.sin(v) * 0.75 + 0.1 * i
    return v


def while_fn(x):
    # A data-dependent trip count: halve until the largest magnitude is below 1.
    def cond(c):
        return jnp.max(jnp.abs(c[1])) >= 1.0

    def body(c):
        return c[0] + 1, c[1] * 0.5 + jnp.tanh(c[1]) * 0.01
    return lax.while_loop(cond, body, (jnp.int32(0), x))


def while_ref(x):
    v, k = x.astype(np.float64), 0
    while np.abs(v).max() >= 1.0:
        v, k = v * 0.5 + np.tanh(v) * 0.01, k + 1
    return k, v


def scan_fn(c, xs):
    def step(h, x):
        h = jnp.cos(h) * 0.5 + x
        return h, jnp.sum(h * h)
    return lax.scan(step, c, xs)


def scan_ref(c, xs):
    h, ys = c.astype(np.float64), []
    for x in xs:
        h = np.cos(h) * 0.5 + x
        ys.append(np.sum(h * h))
    return h, np.array(ys)


def scan_loss(c, xs):
    h, ys = scan_fn(c, xs)
    return jnp.sum(h) + jnp.sum(ys) * 1e-3


def scan_grad_ref(c, xs):
    """d loss / d c by the chain rule, backwards through the steps."""
    hs = [c.astype(np.float64)]
    for x in xs:
        hs.append(np.cos(hs[-1]) * 0.5 + x)
    g = np.ones_like(hs[0])
    for t in range(len(xs), 0, -1):
        g = g + 2e-3 * hs[t]              # from ys[t-1] = sum(h_t^2)
        g = g * (-0.5 * np.sin(hs[t - 1]))
    return g


def nested_fn(x):
    def outer(i, v):
        return lax.fori_loop(0, 3, lambda j, w: w * 0.9 + jnp.sin(w + j), v) + i
    return lax.fori_loop(0, 4, outer, x)


def nested_ref(x):
    v = x.astype(np.float64)
    for i in range(4):
        for j in range(3):
            v = v * 0.9 + np.sin(v + j)
        v = v + i
    return v


def cond_fn(x):
    def body(i, v):
        return lax.cond(i % 3 == 0, lambda u: jnp.exp(-u * u), lambda u: u * 0.5 + 1.0, v)
    return lax.fori_loop(0, 6, body, x)


def cond_ref(x):
    v = x.astype(np.float64)
    for i in range(6):
        v = np.exp(-v * v) if i % 3 == 0 else v * 0.5 + 1.0
    return v


def rnn_fn(h0, xs, u, b):
    def cell(h, x):
        h = jnp.tanh(x + h @ u + b)
        return h, h[0]
    return lax.scan(cell, h0, xs)


def rnn_ref(h0, xs, u, b):
    h = h0.astype(np.float64)
    ys = []
    for x in xs:
        h = np.tanh(x + h @ u.astype(np.float64) + b)
        ys.append(h[0])
    return h, np.array(ys)


# --- tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("threads", [2, 3])
def test_fori_loop_elementwise(threads):
    x = rand(N)
    got, flags = compiled(fori_fn, (x,), threads)
    assert any(flags)
    close(got, fori_ref(x))


def test_while_loop_with_an_early_exit():
    x = rand(N) * 40
    (k, v), flags = compiled(while_fn, (x,), 2)
    want_k, want_v = while_ref(x)
    assert any(flags)
    assert int(k) == want_k
    close(v, want_v)


def test_while_loop_that_never_runs_its_body():
    x = rand(N) * 1e-3
    (k, v), _ = compiled(while_fn, (x,), 2)
    assert int(k) == 0
    np.testing.assert_array_equal(v, x)


@pytest.mark.parametrize("threads", [2, 3])
def test_scan_forward(threads):
    c, xs = rand(N, seed=1), rand(5, N, seed=2)
    (h, ys), flags = compiled(scan_fn, (c, xs), threads)
    want_h, want_ys = scan_ref(c, xs)
    assert any(flags)
    close(h, want_h)
    close(ys, want_ys, tol=1e-5)


def test_scan_grad():
    c, xs = rand(N, seed=3), rand(4, N, seed=4)
    got, flags = compiled(jc.grad(scan_loss), (c, xs), 2)
    assert any(flags)
    close(got, scan_grad_ref(c, xs), tol=1e-4)


def test_nested_loops():
    x = rand(N, seed=5)
    got, flags = compiled(nested_fn, (x,), 2)
    assert any(flags)
    close(got, nested_ref(x), tol=1e-4)


def test_cond_inside_a_loop():
    x = rand(N, seed=6)
    got, flags = compiled(cond_fn, (x,), 2)
    assert any(flags)
    close(got, cond_ref(x))


@pytest.mark.skipif(not blas.available() or not blas.load().controls_threads,
                    reason="no BLAS with thread control: dots use loop kernels")
@pytest.mark.parametrize("threads", [2, 3])
def test_loop_with_a_gemm_in_its_body(threads):
    # Odd rows (uneven pieces), more than `small_gemm.MAX_M` (a product that kernel takes
    # whole keeps its loop on one thread); 17 Mflop per step.
    bsz, hid, steps = 131, 256, 5
    h0, xs = rand(bsz, hid, seed=7), rand(steps, bsz, hid, seed=8)
    u, b = (rand(hid, hid, seed=9) / np.sqrt(hid)).astype(F32), rand(hid, seed=10)
    (h, ys), flags = compiled(rnn_fn, (h0, xs, u, b), threads)
    want_h, want_ys = rnn_ref(h0, xs, u, b)
    assert any(flags)
    close(h, want_h, tol=1e-4)
    close(ys, want_ys, tol=1e-4)


@pytest.mark.skipif(not blas.available() or not blas.load().controls_threads,
                    reason="no BLAS with thread control: dots use loop kernels")
def test_loop_with_a_small_kernel_gemm_stays_on_one_thread():
    bsz, hid, steps = 67, 256, 5       # 8.8 Mflop per step, all in `small_gemm`
    h0, xs = rand(bsz, hid, seed=7), rand(steps, bsz, hid, seed=8)
    u, b = (rand(hid, hid, seed=9) / np.sqrt(hid)).astype(F32), rand(hid, seed=10)
    (h, ys), flags = compiled(rnn_fn, (h0, xs, u, b), 2)
    want_h, want_ys = rnn_ref(h0, xs, u, b)
    assert not any(flags)
    close(h, want_h, tol=1e-4)
    close(ys, want_ys, tol=1e-4)


@pytest.mark.parametrize("fn, ref, args", [
    (fori_fn, fori_ref, lambda: (rand(N),)),
    (nested_fn, nested_ref, lambda: (rand(N, seed=5),)),
    (cond_fn, cond_ref, lambda: (rand(N, seed=6),)),
])
def test_one_and_two_threads_give_the_same_bits(fn, ref, args):
    a = args()
    one, flags1 = compiled(fn, a, 1)
    two, flags2 = compiled(fn, a, 2)
    assert not any(flags1) and any(flags2)
    np.testing.assert_array_equal(one, two)


def test_small_loops_stay_on_one_thread():
    x = rand(1000)
    got, flags = compiled(fori_fn, (x,), 2)
    assert not any(flags)
    close(got, fori_ref(x))


def test_small_loop_beside_large_kernels():
    """A small loop in a segment shared out for its large kernels: thread 0 runs it whole."""
    x, s = rand(4 * N, seed=11), rand(16, seed=12)

    def fn(x, s):
        y = jnp.exp(x * 0.1)
        t = lax.fori_loop(0, 5, lambda i, v: v * 0.5 + jnp.sum(y[:16]), s)
        return y * jnp.sum(t), t

    (y, t), flags = compiled(fn, (x, s), 2)
    ref_y = np.exp(x.astype(np.float64) * 0.1)
    ref_t = s.astype(np.float64)
    for _ in range(5):
        ref_t = ref_t * 0.5 + ref_y[:16].sum()
    close(t, ref_t)
    close(y, ref_y * ref_t.sum(), tol=1e-5)


def test_calls_from_two_python_threads():
    """Two callers: one owns the workers, the other runs its loop alone (nthreads=1)."""
    xs = [rand(N, seed=20 + k) for k in range(2)]
    with config.override(num_threads=2):
        f = jc.jit(lambda x: fori_fn(x))
        f(xs[0])
    wants = [fori_ref(x) for x in xs]
    errors = []

    def worker(k):
        try:
            with config.override(num_threads=2):
                for _ in range(6):
                    close(f(xs[k]), wants[k])
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_linear_algebra_in_a_loop_keeps_one_thread():
    """A loop calling LAPACK: its segment stays on one thread (LAPACK has threads of its own)."""
    a = rand(6, 6, seed=30) + 6 * np.eye(6, dtype=F32)
    x = rand(N, seed=31)

    def fn(a, x):
        def body(i, c):
            m, v = c
            return jnp.linalg.solve(a, m), jnp.sin(v)
        return lax.fori_loop(0, 3, body, (jnp.eye(6, dtype=a.dtype), x))

    (m, v), flags = compiled(fn, (a, x), 2)
    want = np.eye(6)
    for _ in range(3):
        want = np.linalg.solve(a.astype(np.float64), want)
    close(m, want, tol=1e-4)
    close(v, np.sin(np.sin(np.sin(x.astype(np.float64)))))


def test_more_threads_than_cores_repeatedly():
    """Four threads on (likely) fewer cores: barriers in loops wait for threads the OS runs
    late, and every call must still agree with NumPy (no lost or reordered barrier)."""
    x, xs = rand(N, seed=40), rand(3, N, seed=41)
    with config.override(num_threads=4):
        fs = [(jc.jit(lambda v: cond_fn(v)), (x,), cond_ref(x)),
              (jc.jit(lambda v: while_fn(v * 40)[1]), (x,), while_ref(x * 40)[1]),
              (jc.jit(lambda c, v: scan_fn(c, v)[0]), (x, xs), scan_ref(x, xs)[0])]
        for _ in range(4):
            for f, args, want in fs:
                close(f(*args), want)
