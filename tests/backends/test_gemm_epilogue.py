"""GEMM epilogues: elementwise consumers of a large BLAS dot run on each row block right after
its GEMM. Checked against NumPy in float64 with float32 (or float64) tolerances, on sizes that
do not divide the block, and on the cases that must fall back to one GEMM then one kernel."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from tests.helpers import plan_of
from xla_like.backends.cpu import blas
from xla_like.backends.plan import planner as cpu_plan

pytestmark = pytest.mark.skipif(not blas.available(), reason="no BLAS: dots use loop kernels")

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def epilogues(f, *args):
    return [s.epilogue for s in plan_of(f, *args).steps if s.kind == "dot"]


@pytest.fixture
def small_blocks(monkeypatch):
    """256 KiB blocks: several per product at test sizes, the last one partial."""
    monkeypatch.setattr(cpu_plan, "EPILOGUE_BLOCK_BYTES", 1 << 18)


def check(f, args, ref, blocked):
    jf = jc.jit(f)
    out = jf(*args)
    want = ref(*[a.astype(np.float64) for a in args])
    for o, w in zip(jc.tree_util.tree_leaves(out), jc.tree_util.tree_leaves(want)):
        assert o.shape == w.shape and o.dtype == args[0].dtype
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(np.asarray(o, np.float64), w, rtol=0,
                                   atol=TOL[args[0].dtype.type] * scale * 10)
    eps = epilogues(jf, *args)
    assert any(e is not None for e in eps) == blocked, eps
    return eps


def relu_affine(x, w, b, np_=jnp):
    return np_.maximum(x @ w + b, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_and_relu_in_row_blocks(dtype, small_blocks):
    # 3001 rows of 100: 655 rows per 256 KiB block for float32, so the last block is partial.
    x, w, b = rand(3001, 37, dtype=dtype), rand(37, 100, seed=1, dtype=dtype), \
        rand(100, seed=2, dtype=dtype)
    (ep,) = check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), True)
    assert 3001 % ep.rows and ep.rows < 3001


def test_default_blocks():
    x, w, b = rand(3001, 37), rand(37, 100, seed=1), rand(100, seed=2)
    (ep,) = check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), True)
    assert ep.rows == cpu_plan.EPILOGUE_BLOCK_BYTES // (100 * 4) < 3001


def test_flat_epilogue(small_blocks):
    x, w = rand(2999, 64), rand(64, 128, seed=1)
    (ep,) = check(lambda x, w: jnp.tanh(x @ w) * 2, (x, w), lambda x, w: np.tanh(x @ w) * 2,
                  True)
    assert ep.unit_elems == 1


def test_rank3_lhs_blocks_by_its_outer_dimension(small_blocks):
    x, w, b = rand(7, 431, 37), rand(37, 100, seed=1), rand(100, seed=2)
    (ep,) = check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), True)
    assert ep.rows % 431 == 0 and ep.unit_elems == 431 * 100


def test_transposed_operands(small_blocks):
    x, w = rand(37, 3001), rand(100, 37, seed=1)
    check(lambda x, w: jnp.exp(-(x.T @ w.T) ** 2), (x, w), lambda x, w: np.exp(-(x.T @ w.T) ** 2),
          True)


@pytest.mark.parametrize("block", [1 << 12, 1 << 15, 1 << 30])
def test_block_sizes(monkeypatch, block):
    monkeypatch.setattr(cpu_plan, "EPILOGUE_BLOCK_BYTES", block)
    x, w, b = rand(2051, 33), rand(33, 130, seed=1), rand(130, seed=2)
    (ep,) = check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), True)
    assert ep.rows == min(2051, max(1, block // (130 * 4)))


def test_donated_addend_and_epilogue_together(small_blocks):
    x, w = rand(3001, 37), rand(37, 100, seed=1)
    y = jnp.asarray(rand(3001, 100, seed=3))
    yv = np.asarray(y).copy()
    before = np.asarray(y).ctypes.data
    f = jc.jit(lambda x, w, y: jnp.maximum(x @ w + y, 0), donate_argnums=2)
    out = f(x, w, y)
    assert np.asarray(out).ctypes.data == before
    want = np.maximum(x.astype(np.float64) @ w + yv, 0)
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_one_thread_segment(small_blocks):
    # One thread runs every block (each GEMM may then use BLAS's threads).
    x, w, b = rand(3001, 37), rand(37, 100, seed=1), rand(100, seed=2)
    with config.override(num_threads=1):
        check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), True)


def test_blas_threads_come_back_and_concurrent_calls_agree(small_blocks):
    import threading
    lib = blas.load()
    before = lib.get_num_threads()
    f = jc.jit(relu_affine)
    args = [(rand(3001, 37, seed=s), rand(37, 100, seed=s + 1), rand(100, seed=s + 2))
            for s in range(4)]
    outs = [[] for _ in range(4)]
    start = threading.Barrier(4, timeout=120)   # the calls overlap, the first ones included

    def run(i):
        start.wait()
        for _ in range(3):
            outs[i].append(np.asarray(f(*args[i])))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (x, w, b), results in zip(args, outs):
        want = relu_affine(x.astype(np.float64), w, b, np)
        assert len(results) == 3
        for o in results:
            np.testing.assert_allclose(o, want, rtol=0, atol=2e-4 * np.abs(want).max())
    assert f.cache_info().compiles == 1
    assert lib.get_num_threads() == before


# --- fallbacks: one GEMM, then the kernel ----------------------------------------------------

def test_small_result_is_not_blocked():
    x, w, b = rand(300, 37), rand(37, 100, seed=1), rand(100, seed=2)
    check(relu_affine, (x, w, b), lambda x, w, b: relu_affine(x, w, b, np), False)


def test_large_right_hand_matrix_is_not_blocked():
    x, w = rand(600, 700), rand(700, 500, seed=1)
    check(lambda x, w: jnp.tanh(x @ w), (x, w), lambda x, w: np.tanh(x @ w), False)


@pytest.mark.parametrize("name, f, ref", [
    ("reversed", lambda x, w: jnp.maximum(x @ w, 0)[::-1],
     lambda x, w: np.maximum(x @ w, 0)[::-1]),
    ("row reduction", lambda x, w: jax_softmax(x @ w), lambda x, w: np_softmax(x @ w)),
    ("two consumers", lambda x, w: (jnp.tanh(x @ w), jnp.exp((x @ w).T)),
     lambda x, w: (np.tanh(x @ w), np.exp((x @ w).T))),
    ("dot is an output", lambda x, w: (x @ w, jnp.tanh(x @ w)),
     lambda x, w: (x @ w, np.tanh(x @ w))),
    ("batched", lambda x, w: jnp.tanh(jnp.einsum("bik,bkn->bin", x, w)),
     lambda x, w: np.tanh(np.einsum("bik,bkn->bin", x, w))),
])
def test_consumers_that_must_not_be_blocked(name, f, ref):
    if name == "batched":
        x, w = rand(2, 1501, 37), rand(2, 37, 100, seed=1)
    else:
        x, w = rand(3001, 37), rand(37, 100, seed=1)
    check(f, (x, w), ref, False)


def jax_softmax(z):
    e = jnp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
