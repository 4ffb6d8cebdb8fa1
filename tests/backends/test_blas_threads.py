"""GEMMs shared out over jitcore's own threads: each large product (or batch of products) is
cut into pieces, each a one-thread OpenBLAS call on a pool thread. Results are checked against
NumPy in float64 on odd sizes, transposed operands, batches and every way of cutting (whole
products, rows, columns), on one thread and on two; OpenBLAS's own thread count stays at 1
between and during calls, and `num_threads` decides how many threads a call uses."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends.cpu import blas, gemm

pytestmark = pytest.mark.skipif(not blas.available() or not blas.load().controls_threads,
                                reason="no BLAS with thread control: dots use loop kernels")

TOL = {np.float32: 3e-5, np.float64: 1e-12}


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def executable(f, *args):
    return f.lower(*args).compile()._entry.executable


def check(fn, args, threads):
    with config.override(num_threads=threads):
        f = jc.jit(lambda *a: fn(*a))    # a new function: compiled under these settings
        out = np.asarray(f(*args))
        ex = executable(f, *args)
    want = fn(*[a.astype(np.float64) for a in args])
    dt = args[0].dtype.type
    assert out.shape == want.shape and out.dtype == args[0].dtype
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(out, want, rtol=0, atol=TOL[dt] * scale * 10)
    return ex


def parallel(ex):
    return [seg.parallel for kind, seg in ex._order if kind == "native"]


CASES = [
    # (name, lhs shape, rhs shape, function): each over THREADS_MIN_FLOPS, odd sizes
    ("rows", (257, 130), (130, 131), lambda a, b: a @ b),
    ("cols, few rows", (5, 301), (301, 3001), lambda a, b: a @ b),
    ("lhs transposed", (130, 257), (130, 131), lambda a, b: a.T @ b),
    ("rhs transposed", (131, 257), (193, 257), lambda a, b: a @ b.T),
    ("both transposed", (257, 131), (199, 257), lambda a, b: a.T @ b.T),
    ("batch", (9, 63, 141), (9, 141, 61), lambda a, b: a @ b),
    ("batch of one", (1, 259, 131), (1, 131, 131), lambda a, b: a @ b),
    ("batch, lhs transposed", (5, 141, 97), (5, 141, 89),
     lambda a, b: np.swapaxes(a, 1, 2) @ b if isinstance(a, np.ndarray)
     else jnp.swapaxes(a, 1, 2) @ b),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,ls,rs,fn", CASES, ids=[c[0] for c in CASES])
def test_shared_gemm_matches_numpy(name, ls, rs, fn, dtype, threads):
    a, b = rand(*ls, dtype=dtype), rand(*rs, seed=1, dtype=dtype)
    ex = check(fn, (a, b), threads)
    assert parallel(ex) == [threads > 1]     # large enough to share when threads are there


def test_attention_heads_are_one_batched_product():
    # 32 heads of 128x64 @ 64x128, as attention scores: one dot step, shared by heads.
    q, k = rand(32, 128, 64), rand(32, 64, 128, seed=1)
    ex = check(lambda q, k: q @ k, (q, k), 2)
    dots = [s for s in ex.plan.steps if s.kind == "dot"]
    assert len(dots) == 1 and parallel(ex) == [True]
    assert "piece" in ex.as_text("llvm")


def test_small_gemm_runs_on_one_thread():
    a, b = rand(33, 17), rand(17, 29, seed=1)
    assert 2 * 33 * 17 * 29 < gemm.SHARE_MIN_FLOPS
    ex = check(lambda a, b: a @ b, (a, b), 2)
    assert parallel(ex) == [False]


def test_vmap_of_small_products_is_batched():
    a, b = rand(40, 48, 60), rand(40, 60, 50, seed=1)
    with config.override(num_threads=2):
        f = jc.jit(jc.vmap(lambda x, y: x @ y))   # a new function: compiled with 2 threads
        out = np.asarray(f(a, b))
        ex = executable(f, a, b)
    want = np.stack([a[i].astype(np.float64) @ b[i] for i in range(40)])
    np.testing.assert_allclose(out, want, rtol=0, atol=3e-4 * np.abs(want).max())
    assert parallel(ex) == [True]


def test_flop_thresholds_of_the_cases():
    for _, ls, rs, fn in CASES:
        out = fn(np.zeros(ls), np.zeros(rs))
        k = ls[-1] if out.shape[-2] == ls[-2] else ls[-2]    # lhs transposed: rows are last
        assert 2 * out.size * k >= gemm.THREADS_MIN_FLOPS


def test_gemm_with_elementwise_work_in_one_segment():
    # A shared GEMM next to kernels that split across threads, meeting at barriers.
    x, w, c = rand(301, 129), rand(129, 257, seed=1), rand(257, seed=2)

    def fn(x, w, c):
        m = jnp if not isinstance(x, np.ndarray) else np
        h = m.tanh(x @ w + c)
        return (h.T @ h) * 0.5
    check(fn, (x, w, c), 2)


@pytest.mark.parametrize("batch,m,n,threads", [
    (1, 257, 65, 2), (1, 5, 1001, 2), (1, 5, 7, 8), (3, 100, 40, 8), (9, 63, 61, 2),
    (2, 17, 300, 8), (1, 1, 1, 2)])
def test_pieces_cover_every_output_once(batch, m, n, threads):
    axis, per, size = gemm.pieces(batch, m, n, threads)
    seen = np.zeros((batch, m, n), int)
    for p in range(batch * per):
        bi, lo = divmod(p, per)
        lo *= size
        if axis == "batch":
            seen[bi] += 1
        elif axis == "rows":
            seen[bi, lo:lo + size] += 1
        else:
            seen[bi, :, lo:lo + size] += 1
    assert (seen == 1).all()


def test_openblas_runs_one_thread_between_and_during_calls():
    lib = blas.load()
    a, b = rand(300, 200), rand(200, 300, seed=1)
    with config.override(num_threads=2):
        f = jc.jit(lambda a, b: jnp.tanh(a @ b))
        f(a, b)
    assert lib.config()["num_threads"] == 1
    with lib.threaded(2):
        assert lib.get_num_threads() == 2
        with lib.one_thread():           # GEMMs on pool threads win over LAPACK's request
            assert lib.get_num_threads() == 1
        assert lib.get_num_threads() == 2
    assert lib.get_num_threads() == 1


def test_concurrent_calls_agree():
    a = [rand(200, 150, seed=s) for s in range(3)]
    b = rand(150, 180, seed=9)
    f = jc.jit(lambda a, b: a @ b)
    outs = [None] * 3
    start = threading.Barrier(3, timeout=60)

    def run(i):
        start.wait()
        outs[i] = [np.asarray(f(a[i], b)) for _ in range(5)]
    ts = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(3):
        want = a[i].astype(np.float64) @ b
        for o in outs[i]:
            np.testing.assert_allclose(o, want, rtol=0, atol=3e-4 * np.abs(want).max())
    assert blas.load().get_num_threads() == 1


def test_lapack_segment_gets_the_threads_back_to_one():
    x = rand(200, 200, dtype=np.float64)
    spd = x @ x.T + 200 * np.eye(200)
    with config.override(num_threads=2):
        out = np.asarray(jc.jit(jnp.linalg.cholesky)(spd))
    np.testing.assert_allclose(out, np.linalg.cholesky(spd), rtol=0, atol=1e-10)
    assert blas.load().get_num_threads() == 1
