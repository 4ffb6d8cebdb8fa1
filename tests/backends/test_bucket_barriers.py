"""Barriers in bucketed programs (`cpu.barriers`): kernels splitting the same run-time count
of rows give every thread the same rows, so one reading back only the rows it wrote needs no
barrier; anything else keeps its barrier.

Each program runs on two and three threads at sizes across buckets (odd counts included,
where a split by 64-element blocks and one by rows would differ), twice each, against NumPy
in float64; the structure is checked on the compiled plans with the function the renderer
calls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config  # noqa: E402
from xla_like.backends.cpu import barriers, gemm_update, schedule  # noqa: E402
from xla_like.backends.cpu.gemm import blas_ok  # noqa: E402

RNG = np.random.default_rng(5)


def _barriers(g, threads=2):
    """[(kernels, barriers kept, barriers one after every step would make)] of the threaded
    segments of every compiled bucket of `g`."""
    out = []
    for plan in g._axes.calls.values():
        ex = plan.entry.executable
        for kind, seg in ex._order:
            if kind == "native" and seg.parallel:
                lib = [s.kind == "dot" and blas_ok(s.instr) for s in seg.steps]
                run = gemm_update.fold(ex.plan, seg.steps, lib)
                need, _ = barriers.plan_barriers(ex.plan, run, lib, threads)
                out.append((len(run), sum(need), len(run) - 1))
    return out


def _every_segment_threaded(monkeypatch):
    # Small programs too, and every segment with a product.
    monkeypatch.setattr(schedule, "DEFAULT",
                        schedule.Schedule(parallel_min_work=1, gemm_threads_min_flops=1))


def _run(g, ref, sizes, make, threads):
    for n in sizes:
        args = make(n)
        want = ref(*[a.astype(np.float64) for a in args])
        for _ in range(2):
            got = g(*args)
            got, want_t = (got, want) if isinstance(got, tuple) else ((got,), (want,))
            for x, w in zip(got, want_t):
                x = np.asarray(x, np.float64)
                assert x.shape == w.shape, (n, threads)
                np.testing.assert_allclose(x, w, rtol=2e-5, atol=2e-5 * max(1, np.abs(w).max()),
                                           err_msg=f"n={n} threads={threads}")


def _columns(x):
    return jnp.exp(x) * 0.5, jnp.tanh(x).sum(axis=1)


def _columns_np(x):
    return np.exp(x) * 0.5, np.tanh(x).sum(axis=1)


@pytest.mark.parametrize("threads", [2, 3])
def test_column_dynamic_exp_and_row_sum_needs_no_barrier(threads):
    # Both kernels split the 512 static rows; they write different outputs and read x only.
    g = jc.jit(_columns, dynamic_axes={0: 1})
    with config.override(num_threads=threads):
        _run(g, _columns_np, [300, 513, 77, 600, 300],
             lambda n: (RNG.standard_normal((512, n)).astype(np.float32),), threads)
        found = _barriers(g, threads)
    assert found and all(f == (2, 0, 1) for f in found), found   # the one barrier elided


def _chain(x, y):
    h = jnp.tanh(jnp.exp(x) * y + jnp.log1p(x * x))
    s = jc.nn.softmax(h, axis=-1)
    t = jnp.sin(s) * jnp.cos(h) + s.max(1, keepdims=True)
    return t * jnp.tanh(t), h.sum(1) + s.sum(1) + t.sum(1)


def _chain_np(x, y):
    h = np.tanh(np.exp(x) * y + np.log1p(x * x))
    e = np.exp(h - h.max(1, keepdims=True))
    s = e / e.sum(1, keepdims=True)
    t = np.sin(s) * np.cos(h) + s.max(1, keepdims=True)
    return t * np.tanh(t), h.sum(1) + s.sum(1) + t.sum(1)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("threads", [2, 3])
def test_kernel_chain_keeps_few_barriers(axis, threads, monkeypatch):
    # Ten kernels, flat ones and row ones, reading back each other's results. Along rows
    # (axis 0) they all split the run-time row count by whole rows; along columns they split
    # the static rows. Barriers stay only where a buffer's bytes are reused with another
    # layout (a vector in a matrix's place).
    _every_segment_threaded(monkeypatch)
    g = jc.jit(_chain, dynamic_axes={0: axis, 1: axis})

    def make(n):
        shape = (n, 96) if axis == 0 else (96, n)
        return (0.5 * RNG.standard_normal(shape)).astype(np.float32), \
            RNG.standard_normal(shape).astype(np.float32)
    with config.override(num_threads=threads):
        _run(g, _chain_np, [37, 64, 1, 101, 250, 37], make, threads)
        found = _barriers(g, threads)
    assert found
    for steps, kept, every in found:
        assert steps >= 6 and kept <= 2 and every - kept >= 4, found


def _column_sum(x, y):
    h = jnp.tanh(jnp.exp(x) * y)
    return h, h * y - h.sum(0) * 0.5


def _column_sum_np(x, y):
    h = np.tanh(np.exp(x) * y)
    return h, h * y - h.sum(0) * 0.5


@pytest.mark.parametrize("threads", [2, 3])
def test_reading_other_rows_keeps_the_barrier(threads, monkeypatch):
    # The column sum reads rows other threads wrote, and everything after it reads the sum:
    # both keep their barriers (no kernel runs alone on thread 0 here).
    _every_segment_threaded(monkeypatch)
    monkeypatch.setattr(barriers, "ALONE_MAX_WORK", 0)
    g = jc.jit(_column_sum, dynamic_axes={0: 0, 1: 0})

    def make(n):
        return (0.5 * RNG.standard_normal((n, 40))).astype(np.float32), \
            RNG.standard_normal((n, 40)).astype(np.float32)
    with config.override(num_threads=threads):
        _run(g, _column_sum_np, [33, 64, 3, 50, 33], make, threads)
        found = _barriers(g, threads)
    assert found and all(f == (3, 2, 2) for f in found), found


@pytest.mark.parametrize("threads", [2, 3])
def test_flat_and_row_kernels_share_rows(threads):
    # The chunk bounds the renderer gives a flat kernel of a run-time row count (whole rows)
    # and a row kernel of the same count, from their formulas, at every count.
    width = 96
    for rows in range(0, 300):
        chunk_rows = -(-rows // threads)
        for t in range(threads):
            lo = min(t * chunk_rows * width, rows * width)
            hi = min(lo + chunk_rows * width, rows * width)
            rlo = min(t * chunk_rows, rows)
            rhi = min(rlo + chunk_rows, rows)
            assert (lo, hi) == (rlo * width, rhi * width)


def test_a_product_in_between_keeps_its_barriers(monkeypatch):
    # A GEMM of run-time rows shares pieces of the true rows: modelled as touching all.
    _every_segment_threaded(monkeypatch)
    w = RNG.standard_normal((64, 64)).astype(np.float32) / 8
    g = jc.jit(lambda x, w: jnp.tanh(jnp.tanh(x * 2.0) @ w).sum(1), dynamic_axes={0: 0})
    for threads in (2, 3):
        with config.override(num_threads=threads):
            _run(g, lambda x, w: np.tanh(np.tanh(x * 2) @ w).sum(1), [300, 257, 512, 300],
                 lambda n: (RNG.standard_normal((n, 64)).astype(np.float32), w), threads)
            found = _barriers(g, threads)
        assert found and all(f == (3, 2, 2) for f in found), found
