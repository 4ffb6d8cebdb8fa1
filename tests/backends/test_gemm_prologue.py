"""GEMM prologues: the kernel computing a large BLAS dot's left operand runs on each row block
right before that block's GEMM, into a block-sized scratch buffer. Checked against NumPy in
float64 (float32 and float64 tolerances), on sizes that do not divide the block, with an
epilogue on the same blocks, and on the cases that must fall back to one kernel then one GEMM."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from tests.helpers import plan_of
from xla_like.backends.cpu import blas
from xla_like.backends.plan import planner as cpu_plan

pytestmark = pytest.mark.skipif(not blas.available(), reason="no BLAS: dots use loop kernels")

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture
def small_blocks(monkeypatch):
    """128 KiB blocks: several per product at test sizes, the last one partial."""
    monkeypatch.setattr(cpu_plan, "PROLOGUE_BLOCK_BYTES", 1 << 17)
    monkeypatch.setattr(cpu_plan, "PROLOGUE_MIN_BYTES", 1 << 16)


def blocks(f, *args):
    """(prologue, epilogue) of each dot step of `f`'s CPU plan."""
    return [(s.prologue, s.epilogue) for s in plan_of(f, *args).steps if s.kind == "dot"]


def check(f, ref, args, prologue, epilogue=None):
    jf = jc.jit(f)
    out = np.asarray(jf(*args))
    want = ref(*[a.astype(np.float64) for a in args])
    assert out.shape == want.shape and out.dtype == args[0].dtype
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=0,
                               atol=TOL[args[0].dtype.type] * scale * 10)
    (pro, ep), = blocks(jf, *args)
    assert (pro is not None) == prologue, pro
    if epilogue is not None:
        assert (ep is not None) == epilogue, ep
    return pro, ep


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_producer_in_row_blocks(dtype, small_blocks):
    x, w = rand(3001, 37, dtype=dtype), rand(37, 50, seed=1, dtype=dtype)
    pro, _ = check(lambda x, w: (jnp.tanh(x) * 2) @ w, lambda x, w: (np.tanh(x) * 2) @ w,
                   (x, w), True)
    assert pro.unit_elems == 1 and 3001 % pro.rows and pro.rows < 3001


def test_prologue_and_epilogue_share_the_blocks(small_blocks):
    x, w, b = rand(4099, 64), rand(64, 96, seed=1), rand(96, seed=2)
    pro, ep = check(lambda x, w, b: jnp.maximum(jnp.exp(-x * x) @ w + b, 0),
                    lambda x, w, b: np.maximum(np.exp(-x * x) @ w + b, 0), (x, w, b), True,
                    epilogue=True)
    assert pro.rows == ep.rows < 4099


def test_patch_matrix_of_a_convolution(small_blocks):
    """An im2col matrix gathered from a padded image (strided slices, concatenated): the
    pattern a convolution lowers to."""
    x, k = rand(4, 30, 30, 8), rand(9 * 8, 16, seed=1)

    def conv(x, k):
        p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        taps = [p[:, i:i + 30, j:j + 30, :] for i in range(3) for j in range(3)]
        patches = jnp.concatenate(taps, axis=-1).reshape(4 * 30 * 30, 72)
        return (patches @ k).reshape(4, 30, 30, 16)

    def ref(x, k):
        p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        taps = [p[:, i:i + 30, j:j + 30, :] for i in range(3) for j in range(3)]
        return (np.concatenate(taps, -1).reshape(-1, 72) @ k).reshape(4, 30, 30, 16)
    check(conv, ref, (x, k), True)


def test_rank3_producer_blocks_by_whole_units(small_blocks):
    x, w = rand(9, 301, 40), rand(40, 30, seed=1)
    pro, _ = check(lambda x, w: jnp.sin(x)[:, ::-1, :] @ w,
                   lambda x, w: np.sin(x)[:, ::-1, :] @ w, (x, w), True)
    assert pro.rows % 301 == 0 and pro.unit_elems == 301 * 40


def test_cases_that_run_the_kernel_whole(small_blocks):
    x, w = rand(3001, 37), rand(37, 50, seed=1)
    # The producer's result is read again: it must exist whole.
    check(lambda x, w: (jnp.tanh(x) @ w).sum() + jnp.tanh(x).sum(),
          lambda x, w: np.array((np.tanh(x) @ w).sum() + np.tanh(x).sum()), (x, w), False)
    # A transposed left operand is not read by rows.
    check(lambda x, w: jnp.tanh(x).T @ w[:37, :37].T[:37, :],
          lambda x, w: np.tanh(x).T @ w[:37, :37].T[:37, :],
          (rand(37, 3001), rand(37, 50, seed=1)), False)
    # Too small to be worth blocks.
    check(lambda x, w: jnp.tanh(x) @ w, lambda x, w: np.tanh(x) @ w,
          (rand(20, 37), rand(37, 5, seed=1)), False)


def test_threads_share_the_blocks(small_blocks):
    x, w = rand(6007, 64), rand(64, 64, seed=1)
    f = jc.jit(lambda x, w: lax.logistic(x) @ w)
    want = (1 / (1 + np.exp(-x.astype(np.float64)))) @ w
    for _ in range(3):
        np.testing.assert_allclose(np.asarray(f(x, w)), want, rtol=0, atol=1e-3)
