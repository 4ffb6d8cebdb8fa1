"""jitcore.lax's scans, top_k, slicing by axis, select_n, full, bit counting, Precision and
gamma functions: values against NumPy/SciPy, derivatives against finite differences, vmap
against a Python loop."""
import math

import numpy as np
import pytest
import scipy.special

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax

RNG = np.random.default_rng(0)


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# --- associative_scan ------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_sum_and_axis(n, reverse):
    x = RNG.standard_normal((3, n, 2))
    out = lax.associative_scan(jnp.add, x, reverse=reverse, axis=1)
    ref = np.flip(np.cumsum(np.flip(x, 1), 1), 1) if reverse else np.cumsum(x, 1)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12, atol=1e-12)
    out = lax.associative_scan(jnp.maximum, x, reverse=reverse, axis=-2)
    ref = np.flip(np.maximum.accumulate(np.flip(x, 1), 1), 1) if reverse else \
        np.maximum.accumulate(x, 1)
    np.testing.assert_array_equal(np.asarray(out), ref)


def test_associative_scan_noncommutative_pytree():
    # Composition of affine maps x -> a x + b (not commutative): prefix compositions by a loop.
    a, b = RNG.standard_normal(7), RNG.standard_normal(7)

    def fn(p, q):   # p then q
        return (p[0] * q[0], p[1] * q[0] + q[1])
    A, B = lax.associative_scan(fn, (a, b))
    ra, rb = [a[0]], [b[0]]
    for i in range(1, 7):
        ra.append(ra[-1] * a[i])
        rb.append(rb[-1] * a[i] + b[i])
    np.testing.assert_allclose(np.asarray(A), ra, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(B), rb, rtol=1e-12)
    # reverse: the same scan on the reversed sequence, reversed back
    A, B = lax.associative_scan(fn, (a, b), reverse=True)
    ra, rb = [a[-1]], [b[-1]]
    for i in range(5, -1, -1):
        ra.append(ra[-1] * a[i])
        rb.append(rb[-1] * a[i] + b[i])
    np.testing.assert_allclose(np.asarray(A), ra[::-1], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(B), rb[::-1], rtol=1e-12)
    # matrix products
    m = RNG.standard_normal((6, 2, 2))
    out = np.asarray(lax.associative_scan(lambda p, q: p @ q, m))
    acc = m[0]
    for i in range(1, 6):
        acc = acc @ m[i]
        np.testing.assert_allclose(out[i], acc, rtol=1e-10)


def test_associative_scan_bool_errors_grad_vmap_jit():
    x = np.array([False, False, True, False, True])
    np.testing.assert_array_equal(np.asarray(lax.associative_scan(jnp.logical_or, x)),
                                  np.logical_or.accumulate(x))
    with pytest.raises(ValueError, match="associative_scan"):
        lax.associative_scan(lambda p, q: (p[0] + q[0], p[1] + q[1]),
                             (np.ones(3), np.ones(4)))
    v = RNG.standard_normal(6) + 2.0

    def f(t):
        return (lax.associative_scan(jnp.multiply, t) ** 2).sum()
    np.testing.assert_allclose(np.asarray(jax.grad(f)(v)),
                               _fd_grad(lambda t: np.sum(np.cumprod(t) ** 2), v), rtol=1e-6)
    xs = RNG.standard_normal((4, 5))
    out = jax.vmap(lambda r: lax.associative_scan(jnp.add, r, reverse=True))(xs)
    ref = np.stack([np.asarray(lax.associative_scan(jnp.add, r, reverse=True)) for r in xs])
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12)
    np.testing.assert_allclose(ref, np.flip(np.cumsum(np.flip(xs, 1), 1), 1), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda t: lax.associative_scan(jnp.add, t))(v)),
                               np.cumsum(v), rtol=1e-12)


# --- top_k -----------------------------------------------------------------------------------

def _top_k_ref(x, k):
    """Descending, ties lowest index first (a stable argsort of the negation)."""
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, order, -1), order


def test_top_k_values_ties_dtypes():
    x = RNG.integers(0, 4, (3, 7)).astype(np.float64)   # many ties
    v, i = lax.top_k(x, 4)
    rv, ri = _top_k_ref(x, 4)
    assert i.dtype == np.int32 and v.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(v), rv)
    np.testing.assert_array_equal(np.asarray(i), ri)
    u = np.array([[1, 5, 5, 2, 255]], np.uint8)
    v, i = lax.top_k(u, 3)
    assert v.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(v), [[255, 5, 5]])
    np.testing.assert_array_equal(np.asarray(i), [[4, 1, 2]])
    # NaN counts as the largest; +0.0 above -0.0 (XLA's total order)
    v, i = lax.top_k(np.array([1., np.nan, 3., -0., 0.]), 5)
    np.testing.assert_array_equal(np.asarray(i), [1, 2, 0, 4, 3])
    # axis
    v, i = lax.top_k(x, 2, axis=0)
    rv, ri = _top_k_ref(x.T, 2)
    np.testing.assert_array_equal(np.asarray(v), rv.T)
    np.testing.assert_array_equal(np.asarray(i), ri.T)
    assert np.shape(lax.top_k(x, 0)[0]) == (3, 0)
    with pytest.raises(ValueError, match="top_k"):
        lax.top_k(x, 8)
    with pytest.raises(ValueError, match="top_k"):
        lax.top_k(x, -1)


def test_top_k_grad_vmap():
    x = RNG.standard_normal(6)
    w = RNG.standard_normal(3)

    def f(t):
        return (lax.top_k(t, 3)[0] * w).sum()
    np.testing.assert_allclose(np.asarray(jax.grad(f)(x)),
                               _fd_grad(lambda t: (_top_k_ref(t, 3)[0] * w).sum(), x),
                               rtol=1e-6, atol=1e-9)
    xs = RNG.standard_normal((4, 6))
    v, i = jax.vmap(lambda r: lax.top_k(r, 2))(xs)
    for b in range(4):
        rv, ri = _top_k_ref(xs[b], 2)
        np.testing.assert_array_equal(np.asarray(v)[b], rv)
        np.testing.assert_array_equal(np.asarray(i)[b], ri)


# --- slicing along one axis ------------------------------------------------------------------

def test_static_slicing_in_dim():
    x = np.arange(60.).reshape(3, 4, 5)
    np.testing.assert_array_equal(np.asarray(lax.slice_in_dim(x, 1, 4, 2, axis=2)),
                                  x[:, :, 1:4:2])
    np.testing.assert_array_equal(np.asarray(lax.slice_in_dim(x, -3, -1, axis=1)), x[:, -3:-1])
    np.testing.assert_array_equal(np.asarray(lax.slice_in_dim(x, None, None, 2)), x[::2])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(x, -1, 1)), x[:, -1:])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(x, 2, 2, keepdims=False)),
                                  x[:, :, 2])
    with pytest.raises(IndexError, match="index_in_dim"):
        lax.index_in_dim(x, 3, 0)
    np.testing.assert_array_equal(np.asarray(lax.collapse(x, 1)), x.reshape(3, 20))
    np.testing.assert_array_equal(np.asarray(lax.collapse(x, 0, 2)), x.reshape(12, 5))
    np.testing.assert_array_equal(np.asarray(lax.collapse(x, -2, -1)), x)
    assert np.shape(lax.expand_dims(x, (0, -1))) == (1, 3, 4, 5, 1)


def _ds_ref(x, start, size, axis):
    n = x.shape[axis]
    s = start + n if start < 0 else start
    s = min(max(s, 0), n - size)        # clamped so the slice fits
    return np.take(x, range(s, s + size), axis=axis)


@pytest.mark.parametrize("start", [-7, -2, 0, 1, 3, 9])
def test_dynamic_slicing_in_dim(start):
    x = np.arange(30.).reshape(5, 6)
    f = jax.jit(lambda t, s: lax.dynamic_slice_in_dim(t, s, 3, axis=1))
    np.testing.assert_array_equal(np.asarray(f(x, start)), _ds_ref(x, start, 3, 1))
    g = jax.jit(lambda t, s: lax.dynamic_index_in_dim(t, s, 0, keepdims=False))
    np.testing.assert_array_equal(np.asarray(g(x, start)), _ds_ref(x, start, 1, 0)[0])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_index_in_dim(x, start, 1)),
                                  _ds_ref(x, start, 1, 1))
    upd = -np.ones((5, 2))
    h = jax.jit(lambda t, u, s: lax.dynamic_update_slice_in_dim(t, u, s, 1))
    ref = x.copy()
    n = 6
    s = start + n if start < 0 else start
    s = min(max(s, 0), n - 2)
    ref[:, s:s + 2] = upd
    np.testing.assert_array_equal(np.asarray(h(x, upd, start)), ref)
    ref = x.copy()
    s = start + 5 if start < 0 else start
    ref[min(max(s, 0), 4)] = 7.0
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_update_index_in_dim(x, np.full(6, 7.0), start, 0)), ref)


def test_dynamic_slicing_grad_vmap():
    x = RNG.standard_normal((4, 5))
    w = RNG.standard_normal((4, 2))

    def f(t):
        return (lax.dynamic_slice_in_dim(t, 2, 2, axis=1) * w).sum()
    np.testing.assert_allclose(np.asarray(jax.grad(f)(x)),
                               _fd_grad(lambda t: (t[:, 2:4] * w).sum(), x), rtol=1e-6,
                               atol=1e-9)
    # without wrapping, a negative start is clamped to 0
    np.testing.assert_array_equal(
        np.asarray(lax.dynamic_slice_in_dim(x, -1, 2, 1, allow_negative_indices=False)),
        x[:, 0:2])
    starts = np.array([0, 3, -1, 2])
    out = jax.vmap(lambda r, s: lax.dynamic_slice_in_dim(r, s, 2))(x, starts)
    ref = np.stack([_ds_ref(x[b], int(starts[b]), 2, 0) for b in range(4)])
    np.testing.assert_array_equal(np.asarray(out), ref)


# --- select_n, full, sort_key_val ------------------------------------------------------------

def test_select_n():
    cases = [RNG.standard_normal((3, 4)) for _ in range(5)]
    which = RNG.integers(0, 5, (3, 4)).astype(np.int32)
    ref = np.choose(which, cases)
    np.testing.assert_array_equal(np.asarray(lax.select_n(which, *cases)), ref)
    np.testing.assert_array_equal(np.asarray(jax.jit(lax.select_n)(which, *cases)), ref)
    np.testing.assert_array_equal(np.asarray(lax.select_n(np.int32(3), *cases)), cases[3])
    pred = which > 2
    np.testing.assert_array_equal(np.asarray(lax.select_n(pred, cases[0], cases[1])),
                                  np.where(pred, cases[1], cases[0]))
    np.testing.assert_array_equal(np.asarray(lax.select_n(pred, cases[0])), cases[0])
    with pytest.raises(TypeError, match="select_n"):
        lax.select_n(pred, *cases[:3])
    with pytest.raises(TypeError, match="select_n"):
        lax.select_n(np.ones((3, 4)), *cases[:2])
    # gradient: d/d case_k is the indicator of which == k
    w3 = which % 3
    g = jax.grad(lambda c2: (lax.select_n(w3, cases[0], cases[1], c2) * 3.0).sum())(cases[2])
    np.testing.assert_array_equal(np.asarray(g), 3.0 * (w3 == 2))
    out = jax.vmap(lambda w, a, b: lax.select_n(w, a, b))(np.array([True, False, True]),
                                                         cases[0][:, 0], cases[1][:, 0])
    np.testing.assert_array_equal(np.asarray(out),
                                  [cases[1][0, 0], cases[0][1, 0], cases[1][2, 0]])


def test_full_and_full_like():
    out = lax.full((2, 3), 2.5)
    assert out.dtype == np.float64 and out.aval.weak_type
    np.testing.assert_array_equal(np.asarray(out), np.full((2, 3), 2.5))
    out = lax.full(4, 1, np.float32)
    assert out.dtype == np.float32 and not out.aval.weak_type and out.shape == (4,)
    out = lax.full_like(np.ones((2, 2), np.int32), 2.7)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), np.full((2, 2), 2))
    out = lax.full_like(np.ones(3), 5, dtype=np.int16, shape=(1, 2))
    assert out.dtype == np.int16 and out.shape == (1, 2)
    with pytest.raises(TypeError, match="scalar fill_value"):
        lax.full((2,), np.ones(2))
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda v: lax.full((3,), v))(4.0)),
                                  np.full(3, 4.0))


def test_sort_key_val():
    k = RNG.integers(0, 3, (2, 6))
    v = RNG.standard_normal((2, 6))
    sk, sv = lax.sort_key_val(k, v)
    order = np.argsort(k, axis=-1, kind="stable")
    np.testing.assert_array_equal(np.asarray(sk), np.take_along_axis(k, order, -1))
    np.testing.assert_array_equal(np.asarray(sv), np.take_along_axis(v, order, -1))
    sk, sv = lax.sort_key_val(k, v, dimension=0)
    order = np.argsort(k, axis=0, kind="stable")
    np.testing.assert_array_equal(np.asarray(sv), np.take_along_axis(v, order, 0))


# --- bits, precision, gamma ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64])
def test_population_count_and_clz(dtype):
    info = np.iinfo(dtype)
    bits = info.bits
    vals = [0, 1, 2, 3, 7, info.max, info.min, info.max // 3, 1 << (bits - 2)]
    vals += list(RNG.integers(info.min, info.max, 20, dtype=dtype, endpoint=True))
    x = np.array(vals, dtype)
    as_uint = [int(v) & ((1 << bits) - 1) for v in vals]
    pc = [bin(u).count("1") for u in as_uint]
    lz = [bits - u.bit_length() for u in as_uint]
    out = lax.population_count(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(np.asarray(out), np.array(pc).astype(dtype))
    out = jax.jit(lax.clz)(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(np.asarray(out), np.array(lz).astype(dtype))
    out = jax.vmap(lax.population_count)(x.reshape(-1, 1))
    np.testing.assert_array_equal(np.asarray(out).ravel(), np.array(pc).astype(dtype))


def test_bit_ops_reject_floats():
    with pytest.raises(TypeError, match="population_count"):
        lax.population_count(np.ones(2))
    with pytest.raises(TypeError, match="clz"):
        lax.clz(np.ones(2, np.float32))


def test_precision():
    assert lax.Precision("highest") is lax.Precision.HIGHEST
    assert lax.Precision("DEFAULT") is lax.Precision.DEFAULT
    assert lax.Precision(1) is lax.Precision.HIGH
    assert str(lax.Precision.HIGH) == "HIGH"
    with pytest.raises(ValueError):
        lax.Precision("nope")
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2))
    np.testing.assert_allclose(np.asarray(lax.dot(a, b, precision=lax.Precision.HIGHEST)),
                               a @ b, rtol=1e-12)
    out = lax.dot_general(a, b, (((1,), (0,)), ((), ())), precision=lax.Precision.DEFAULT)
    np.testing.assert_allclose(np.asarray(out), a @ b, rtol=1e-12)


def test_lgamma_digamma():
    x = np.array([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, -1.5, -2.3])
    np.testing.assert_allclose(np.asarray(lax.lgamma(x)), scipy.special.gammaln(x), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(lax.digamma(x)), scipy.special.digamma(x),
                               rtol=1e-10)
    p = np.array([0.7, 2.5, 6.0])
    np.testing.assert_allclose(np.asarray(jax.grad(lambda t: lax.lgamma(t).sum())(p)),
                               scipy.special.digamma(p), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(jax.vmap(lax.lgamma)(p)), [math.lgamma(v) for v in p],
                               rtol=1e-12)
