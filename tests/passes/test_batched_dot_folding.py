"""The fold_batched_dots pass: batched dots of vmapped programs become one GEMM or
elementwise work. Each case: the pass alone keeps the interpreter's numbers, the compiled
program matches NumPy float64 (or a Python loop), and the kernel pipeline's module has the
expected dots."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from tests.helpers import assert_same_results
from xla_like import ir, pipeline
from xla_like.passes.fold_batched_dots import fold_batched_dots
from xla_like.verifier import verify_module


def kernel_module(f, *args):
    """The module the kernel pipeline hands the planner (before fusion hides the dots)."""
    seen = {}
    with pipeline.observe(lambda name, m: seen.__setitem__(name, ir.clone_module(m))
                          if name == "layout" else None):
        jc.jit(f).lower(*args).compile()
    return seen["layout"]


def dots(module):
    """(dot count, batched dot count) over every computation."""
    ds = [i for c in module.computations.values() for i in c.instructions
          if i.opcode == "dot_general"]
    return len(ds), sum(1 for d in ds if d.attrs["dimension_numbers"][1][0])


def check_pass(f, *args):
    """The pass alone on the traced module: verified, same numbers on the interpreter."""
    before = jc.make_hlo(f)(*args)
    after = fold_batched_dots(ir.clone_module(before))
    verify_module(after)
    f32 = any(np.asarray(a).dtype == np.float32 for a in args)
    assert_same_results(before, after, args, rtol=1e-5 if f32 else 1e-10)
    return before, after


def rand(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if np.dtype(dtype) == np.float32 else \
        dict(rtol=1e-12, atol=1e-12)


# -- per-example logistic-regression gradients (benchmarks/workloads_cases.py "logreg") ------

def _logreg_loss(w, x, y):
    z = x @ w
    return jnp.logaddexp(0.0, z) - y * z


def logreg(w, xs, ys):
    return jc.vmap(jc.grad(_logreg_loss), in_axes=(None, 0, 0))(w, xs, ys)


def logreg_ref(w, xs, ys):
    w, xs, ys = (np.asarray(a, np.float64) for a in (w, xs, ys))
    z = xs @ w
    return (1 / (1 + np.exp(-z)) - ys)[:, None] * xs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b,d", [(37, 13), (1, 5), (64, 1)])
def test_logreg_per_example_grads(dtype, b, d):
    args = (rand(d, dtype, 0), rand((b, d), dtype, 1),
            np.random.default_rng(2).integers(0, 2, b).astype(dtype))
    check_pass(logreg, *args)
    got = np.asarray(jc.jit(logreg)(*args))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, logreg_ref(*args), **tol(dtype))
    # No dot remains: the forward x @ w is a row sum, the per-example outer products are
    # elementwise.
    assert dots(kernel_module(logreg, *args)) == (0, 0)


def test_logreg_nan_propagates():
    w, xs, ys = rand(4, np.float64, 0), rand((3, 4), np.float64, 1), np.zeros(3)
    xs[1, 2] = np.nan
    got = np.asarray(jc.jit(logreg)(w, xs, ys))
    assert np.isnan(got[1]).all() and np.isfinite(got[[0, 2]]).all()


# -- batched outer products, batched vector dots, small matrix-vector ------------------------

def mat_outer(a, c):
    # An outer product written as a matmul (jnp.outer is a broadcast multiply, not a dot).
    return a[:, None] @ c[None, :]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("b,m,n", [(7, 5, 3), (1, 1, 1), (0, 4, 2), (5, 0, 3)])
def test_batched_outer(dtype, b, m, n):
    a, c = rand((b, m), dtype, 3), rand((b, n), dtype, 4)
    f = jc.vmap(mat_outer)
    check_pass(f, a, c)
    got = np.asarray(jc.jit(f)(a, c))
    want = np.zeros((b, m, n), dtype)
    for i in range(b):
        want[i] = np.outer(a[i], c[i])
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, **tol(dtype))
    assert dots(kernel_module(f, a, c)) == (0, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_batched_vector_dot_and_small_matvec(dtype):
    a, c = rand((9, 11), dtype, 5), rand((9, 11), dtype, 6)
    m = rand((9, 6, 11), dtype, 7)
    f = jc.vmap(lambda x, y, mm: (jnp.dot(x, y), mm @ x, x @ jnp.swapaxes(mm, 0, 1)))
    check_pass(f, a, c, m)
    got = [np.asarray(g) for g in jc.jit(f)(a, c, m)]
    want = [np.array([np.dot(a[i], c[i]) for i in range(9)]),
            np.stack([m[i] @ a[i] for i in range(9)]),
            np.stack([a[i] @ m[i].T for i in range(9)])]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **tol(dtype))
    assert dots(kernel_module(f, a, c, m)) == (0, 0)


def test_large_batched_matmul_stays_one_batched_dot():
    # Both operands batched and each product large: a batched GEMM, left as it is.
    a, c = rand((3, 40, 50), np.float64, 8), rand((3, 50, 30), np.float64, 9)
    f = jc.vmap(jnp.matmul)
    got = np.asarray(jc.jit(f)(a, c))
    np.testing.assert_allclose(got, np.einsum("bij,bjk->bik", a, c), rtol=1e-12)
    assert dots(kernel_module(f, a, c)) == (1, 1)


# -- a matrix shared by every batch element ---------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_matrix_folds_into_rows(dtype):
    x, w = rand((6, 5, 7), dtype, 10), rand((7, 4), dtype, 11)

    def f(x, w):   # a batched dot whose rhs is the matrix broadcast along the batch
        wb = lax.broadcast_in_dim(w, (6, 7, 4), (1, 2))
        return lax.dot_general(x, wb, (((2,), (1,)), ((0,), (0,))))

    def g(x, w):   # the same with the shared matrix on the left
        wb = lax.broadcast_in_dim(w, (6, 7, 4), (1, 2))
        return lax.dot_general(wb, x, (((1,), (2,)), ((0,), (0,))))

    for fn, want in ((f, np.einsum("bmk,kn->bmn", x, w)),
                     (g, np.einsum("kn,bmk->bnm", w, x))):
        check_pass(fn, x, w)
        got = np.asarray(jc.jit(fn)(x, w))
        np.testing.assert_allclose(got, want, **tol(dtype))
        assert dots(kernel_module(fn, x, w)) == (1, 0)


def test_vmap_of_mlp_layer_is_one_gemm():
    x, w, b = rand((33, 8, 16), np.float64, 12), rand((16, 24), np.float64, 13), rand(24, np.float64, 14)
    f = jc.vmap(lambda x, w, b: jnp.maximum(x @ w + b, 0.0), in_axes=(0, None, None))
    got = np.asarray(jc.jit(f)(x, w, b))
    np.testing.assert_allclose(got, np.maximum(np.einsum("bmk,kn->bmn", x, w) + b, 0),
                               rtol=1e-12)
    assert dots(kernel_module(f, x, w, b)) == (1, 0)


# -- a sum over the batch of a batched dot ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_summed_per_example_outer_products_are_one_gemm(dtype):
    g, x = rand((50, 3), dtype, 15), rand((50, 17), dtype, 16)
    f = lambda g, x: jnp.sum(jc.vmap(mat_outer)(g, x), axis=0)   # noqa: E731
    check_pass(f, g, x)
    got = np.asarray(jc.jit(f)(g, x))
    want = sum(np.outer(g[i].astype(np.float64), x[i]) for i in range(50))
    np.testing.assert_allclose(got, want, **tol(dtype))
    assert dots(kernel_module(f, g, x)) == (1, 0)


def test_partial_sum_over_batch_and_free_axes():
    a, c = rand((4, 5, 6, 3), np.float64, 17), rand((4, 5, 3, 2), np.float64, 18)
    def f(a, c):   # batch dims (0, 1); sum over batch dim 1 and lhs free dim
        d = lax.dot_general(a, c, (((3,), (2,)), ((0, 1), (0, 1))))
        return jnp.sum(d, axis=(1, 2))
    check_pass(f, a, c)
    got = np.asarray(jc.jit(f)(a, c))
    np.testing.assert_allclose(got, np.einsum("bsik,bskj->bj", a, c), rtol=1e-12)
    n, nb = dots(kernel_module(f, a, c))
    assert n == 1


# -- gradients through the folded dots --------------------------------------------------------

def test_gradient_through_batched_outer_and_sum():
    a, c, t = rand((8, 4), np.float64, 19), rand((8, 5), np.float64, 20), rand((8, 4, 5), np.float64, 21)

    def loss(a, c):
        return jnp.sum(jc.vmap(mat_outer)(a, c) * t) + jnp.sum(jc.vmap(jnp.dot)(a, a))

    ga, gc = jc.jit(jc.grad(loss, argnums=(0, 1)))(a, c)
    np.testing.assert_allclose(np.asarray(ga), np.einsum("bij,bj->bi", t, c) + 2 * a,
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gc), np.einsum("bij,bi->bj", t, a), rtol=1e-12)


# -- matrix @ vector as a row sum ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ws, f", [
    ((37, 19), (19,), lambda x, w: x @ w),
    ((5, 1), (1,), lambda x, w: x @ w),
    ((3, 4, 6), (6, 1), lambda x, w: x @ w),
    ((8, 2, 3), (2, 3), lambda x, w: jnp.tensordot(x, w, axes=((1, 2), (0, 1)))),
    ((64, 33), (33,), lambda x, w: x * (x @ w)[:, None]),      # fused with a reader of x
])
def test_matrix_vector_becomes_a_row_sum(xs, ws, f, dtype):
    x, w = rand(xs, dtype, 1), rand(ws, dtype, 2)
    want = np.asarray(f(jnp.asarray(x.astype(np.float64)), jnp.asarray(w.astype(np.float64))))
    np.testing.assert_allclose(np.asarray(jc.jit(f)(x, w)), want, **tol(dtype))
    assert dots(kernel_module(f, x, w)) == (0, 0)
    check_pass(f, x, w)
    # Its gradient (a vector @ matrix and an outer product) against the float64 reference.
    g = jc.grad(lambda x, w: f(x, w).sum(), argnums=(0, 1))
    gx, gw = jc.jit(g)(x, w)
    rx, rw = g(x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(np.asarray(gx), np.asarray(rx), **tol(dtype))
    np.testing.assert_allclose(np.asarray(gw), np.asarray(rw), **tol(dtype))


def test_vector_times_matrix_and_integer_dots_stay_dots():
    x, w = rand((16, 8), np.float32, 3), rand((16,), np.float32, 4)
    assert dots(kernel_module(lambda x, w: w @ x, x, w))[0] == 1     # contracts rows: a GEMV
    xi, wi = rand((6, 5), np.int32, 5), rand((5,), np.int32, 6)
    assert dots(kernel_module(lambda x, w: x @ w, xi, wi))[0] == 1
    np.testing.assert_array_equal(np.asarray(jc.jit(lambda x, w: x @ w)(xi, wi)), xi @ wi)
