"""NumPy-2 / JAX keywords of jitcore.numpy functions and methods against NumPy float64:
var/std(mean=), weighted inverted_cdf quantiles, order='F' reshapes, the statistic and
linear_ramp pad modes, and `Array.view(dtype)`; eagerly, under jit and vmap, with gradients
checked by finite differences."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from ops.errors import ConcretizationTypeError, ShapeError
from tests.covering import pairwise
from tests.helpers import assert_same, fd_grad, rand


def close(got, want, tol=1e-12):
    got = np.asarray(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


# --- var / std with a precomputed mean -------------------------------------------------------

@pytest.mark.parametrize("fn", ["var", "std", "nanvar", "nanstd"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False)])
def test_var_mean_keyword(fn, axis, keepdims):
    x = rand((3, 4, 2), seed=1)
    m = np.mean(x, axis=axis, keepdims=True) + 0.25   # not the true mean: it must be used
    want = getattr(np, fn)(x, axis=axis, mean=m, ddof=1, keepdims=keepdims)
    f = lambda a, mm: getattr(jnp, fn)(a, axis=axis, mean=mm, ddof=1, keepdims=keepdims)
    close(f(x, m), want)
    close(jax.jit(f)(x, m), want)


def test_var_mean_scalar_where_correction_and_method():
    x = rand((4, 5), seed=2)
    close(jnp.var(x, mean=0.5), np.var(x, mean=0.5))
    w = x > -0.5
    m = np.mean(x, axis=1, keepdims=True, where=w)
    close(jnp.std(x, axis=1, where=w, mean=m, correction=1),
          np.std(x, axis=1, where=w, mean=m, correction=1))
    close(jnp.asarray(x).var(axis=0, mean=np.zeros((1, 5))),
          np.var(x, axis=0, mean=np.zeros((1, 5))))


def test_var_mean_grad_and_vmap():
    x = rand((3, 4), seed=3)

    def f(a, m):
        return jnp.var(a, axis=1, mean=m).sum()
    m = np.mean(x, axis=1, keepdims=True) - 0.1
    g = jax.grad(f, argnums=(0, 1))(x, m)
    ref = lambda a, mm: np.var(a, axis=1, mean=mm).sum()
    close(g[0], fd_grad(lambda a: ref(a, m), x), 1e-6)
    close(g[1], fd_grad(lambda mm: ref(x, mm), m), 1e-6)
    xs = rand((5, 3, 4), seed=4)
    ms = xs.mean(axis=2, keepdims=True) * 0.5
    got = jax.vmap(lambda a, mm: jnp.var(a, axis=1, mean=mm))(xs, ms)
    close(got, np.stack([np.var(a, axis=1, mean=mm) for a, mm in zip(xs, ms)]))


def test_var_mean_bad_shape():
    x = np.ones((3, 4))
    with pytest.raises(ShapeError, match=r"var: mean of shape \(3,\).*\(3, 4\)"):
        jnp.var(x, axis=1, mean=np.ones(3))


# --- weighted quantiles (method='inverted_cdf') ----------------------------------------------

@pytest.mark.parametrize("fn,scale", [("quantile", 1), ("percentile", 100),
                                      ("nanquantile", 1), ("nanpercentile", 100)])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_inverted_cdf_weights(fn, scale, axis):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 7))
    x[1, 2] = x[1, 5]
    if fn.startswith("nan"):
        x[0, 3] = np.nan
    w = rng.integers(1, 4, size=x.shape).astype(float)
    q = np.array([0.0, 0.3, 0.5, 0.999, 1.0]) * scale
    want = getattr(np, fn)(x, q, axis=axis, method="inverted_cdf", weights=w)
    f = lambda a, ww: getattr(jnp, fn)(a, q, axis=axis, method="inverted_cdf", weights=ww)
    close(f(x, w), want)
    close(jax.jit(f)(x, w), want)
    # without weights too
    close(getattr(jnp, fn)(x, q, axis=axis, method="inverted_cdf", keepdims=True),
          getattr(np, fn)(x, q, axis=axis, method="inverted_cdf", keepdims=True))


def test_inverted_cdf_axis_weights_zero_and_bad_weights():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 6))
    w1 = np.array([1.0, 0.0, 2.0, 3.0, 0.0, 1.0])
    q = np.array([0.1, 0.5, 0.8])
    want = np.quantile(x, q, axis=1, method="inverted_cdf", weights=w1)
    close(jnp.quantile(x, q, axis=1, method="inverted_cdf", weights=w1), want)
    # weights over the reduced axes of a tuple axis, in `axis` order
    w2 = rng.integers(1, 4, size=(6, 3)).astype(float)
    close(jnp.quantile(x, 0.4, axis=(1, 0), method="inverted_cdf", weights=w2),
          np.quantile(x, 0.4, axis=None, method="inverted_cdf", weights=w2.T))
    # the rule, as a loop: the first sorted value whose cumulative weight reaches q * total
    xs = np.array([3.0, 1.0, 2.0, 5.0])
    ws = np.array([0.0, 0.0, 2.0, 1.0])
    for qq in (0.0, 0.2, 0.7, 1.0):
        order = np.argsort(xs)
        cum = np.cumsum(ws[order])
        expect = xs[order][np.searchsorted(cum, qq * cum[-1], side="left")]
        close(jnp.quantile(xs, qq, method="inverted_cdf", weights=ws), expect)
    # a negative or NaN weight makes its slice NaN
    wb = np.ones((3, 6))
    wb[1, 2] = -1.0
    wb[2, 0] = np.nan
    got = np.asarray(jnp.quantile(x, 0.5, axis=1, method="inverted_cdf", weights=wb))
    assert not np.isnan(got[0]) and np.isnan(got[1:]).all()


def test_inverted_cdf_grad():
    x = rand((3, 5), seed=7)
    w = np.arange(1.0, 6.0)

    def f(a):
        return jnp.quantile(a, np.array([0.3, 0.8]), axis=1, method="inverted_cdf",
                            weights=w).sum()
    ref = lambda a: np.quantile(a, np.array([0.3, 0.8]), axis=1, method="inverted_cdf",
                                weights=w).sum()
    close(jax.grad(f)(x), fd_grad(ref, x), 1e-6)


def test_quantile_weights_errors():
    x = np.ones((3, 4))
    with pytest.raises(NotImplementedError, match="'linear' doesn't support weights"):
        jnp.quantile(x, 0.5, weights=np.ones((3, 4)))
    with pytest.raises(ShapeError, match="axis is None"):
        jnp.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(12))
    with pytest.raises(ShapeError, match=r"reduced axes \(4,\)"):
        jnp.quantile(x, 0.5, axis=1, method="inverted_cdf", weights=np.ones(3))
    with pytest.raises(ValueError, match="complex"):
        jnp.quantile(x, 0.5, axis=1, method="inverted_cdf", weights=np.ones(4) * 1j)


# --- reshape / ravel with order='F' ------------------------------------------------------------

@pytest.mark.parametrize("shape,new", [((2, 3), (3, 2)), ((2, 3, 4), (4, -1)), ((6,), (2, 3)),
                                       ((2, 3, 4), (24,)), ((), (1, 1)), ((0, 3), (3, 0))])
def test_reshape_order_f(shape, new):
    x = rand(shape, seed=8)
    want = np.reshape(x, new, order="F")
    assert_same(jnp.reshape(x, new, order="F"), want)
    assert_same(jax.jit(lambda a: jnp.reshape(a, new, order="F"))(x), want)
    assert_same(jnp.asarray(x).reshape(new, order="F"), want)
    assert_same(jnp.ravel(x, order="F"), np.ravel(x, order="F"))
    assert_same(jnp.asarray(x).flatten(order="F"), x.flatten(order="F"))


def test_reshape_order_f_grad_and_errors():
    x = rand((2, 3), seed=9)
    c = np.arange(6.0).reshape(3, 2)
    g = jax.grad(lambda a: (jnp.reshape(a, (3, 2), order="F") * c).sum())(x)
    close(g, fd_grad(lambda a: (np.reshape(a, (3, 2), order="F") * c).sum(), x), 1e-6)
    with pytest.raises(NotImplementedError, match="order='K'"):
        jnp.ravel(x, order="K")
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        jnp.asarray(x).reshape(6, order="Z")


# --- pad: statistic and linear_ramp modes ---------------------------------------------------

STAT_LENGTHS = [None, 1, 2, (1, 3), ((2, 1), (4, 2)), 10]


# Every pair of (mode, pad widths, dtype) at least once, not all 36 combinations.
@pytest.mark.parametrize("mode,pw,dtype", pairwise(
    ["maximum", "minimum", "mean", "median"], [2, (1, 3), ((0, 2), (3, 1))],
    [np.float64, np.float32, np.int64]))
def test_pad_stat_modes(mode, pw, dtype):
    x = (rand((3, 5), seed=10) * 10).astype(dtype)
    for sl in STAT_LENGTHS:
        kw = {} if sl is None else {"stat_length": sl}
        want = np.pad(x, pw, mode, **kw)
        assert_same(jnp.pad(x, pw, mode, **kw), want)
        assert_same(jax.jit(lambda a: jnp.pad(a, pw, mode, **kw))(x), want)


@pytest.mark.parametrize("pw", [2, (1, 3), ((0, 2), (3, 1)), 5])
@pytest.mark.parametrize("ends", [0, 3.5, (1, -2), ((1, 2), (-3, 4.25))])
def test_pad_linear_ramp(pw, ends):
    x = rand((3, 4), seed=11)
    want = np.pad(x, pw, "linear_ramp", end_values=ends)
    close(jnp.pad(x, pw, "linear_ramp", end_values=ends), want)
    close(jax.jit(lambda a: jnp.pad(a, pw, "linear_ramp", end_values=ends))(x), want)
    xi = np.array([[3, -7, 2], [5, 1, -4]])
    assert_same(jnp.pad(xi, pw, "linear_ramp", end_values=ends if np.ndim(ends) else 4),
                np.pad(xi, pw, "linear_ramp", end_values=ends if np.ndim(ends) else 4))


@pytest.mark.parametrize("mode,kw", [("mean", {}), ("mean", {"stat_length": 2}),
                                     ("maximum", {"stat_length": (1, 3)}),
                                     ("median", {"stat_length": 3}),
                                     ("linear_ramp", {"end_values": (1.0, -2.0)})])
def test_pad_modes_grad_and_vmap(mode, kw):
    x = rand((4, 5), seed=12)
    c = rand((7, 9), seed=13)
    pw = ((1, 2), (3, 1))
    g = jax.grad(lambda a: (jnp.pad(a, pw, mode, **kw) * c).sum())(x)
    close(g, fd_grad(lambda a: (np.pad(a, pw, mode, **kw) * c).sum(), x), 1e-6)
    xs = rand((3, 4, 5), seed=14)
    got = jax.vmap(lambda a: jnp.pad(a, pw, mode, **kw))(xs)
    close(got, np.stack([np.pad(a, pw, mode, **kw) for a in xs]))


def test_pad_function_mode():
    # JAX's form returns the new line; NumPy's writes into it: same padding rule.
    def jfun(v, w, i, kw):
        v = v.at[:w[0]].set(kw["a"] + i)
        return v.at[v.shape[0] - w[1]:].set(v[w[0]] * 2.0)

    def nfun(v, w, i, kw):
        v[:w[0]] = kw["a"] + i
        v[v.shape[0] - w[1]:] = v[w[0]] * 2.0
    x = rand((3, 4), seed=16)
    pw = ((1, 2), (2, 1))
    want = np.pad(x, pw, nfun, a=5.0)
    close(jnp.pad(x, pw, jfun, a=5.0), want)
    close(jax.jit(lambda a: jnp.pad(a, pw, jfun, a=5.0))(x), want)
    g = jax.grad(lambda a: (jnp.pad(a, pw, jfun, a=5.0) ** 2).sum())(x)
    close(g, fd_grad(lambda a: (np.pad(a, pw, nfun, a=5.0) ** 2).sum(), x), 1e-5)
    with pytest.raises(ShapeError, match="mode function"):
        jnp.pad(x, 1, lambda v, w, i, kw: v[:2])


def test_pad_mode_errors():
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="stat_length of 0"):
        jnp.pad(x, 1, "mean", stat_length=0)
    with pytest.raises(ValueError, match="unsupported keyword.*'mean'"):
        jnp.pad(x, 1, "mean", end_values=3)
    with pytest.raises(ConcretizationTypeError, match="end_values"):
        jax.jit(lambda a, e: jnp.pad(a, 1, "linear_ramp", end_values=e))(np.ones(3), 2.0)
    with pytest.raises(ShapeError, match="stat_length"):
        jnp.pad(x, 1, "maximum", stat_length=((1, 2), (1, 2), (1, 2)))


# --- Array.view(dtype) ------------------------------------------------------------------------

VIEWS = [(np.float64, np.int64), (np.float64, np.int32), (np.float64, np.uint8),
         (np.float32, np.int16), (np.int16, np.float32), (np.int16, np.int64),
         (np.uint8, np.float64), (np.float64, np.complex128), (np.complex128, np.float64),
         (np.complex64, np.int32), (np.float32, np.complex64), (np.bool_, np.int8),
         (np.int8, np.bool_), (np.float64, np.float16), (np.float64, np.float64)]


@pytest.mark.parametrize("src,dst", VIEWS)
def test_view(src, dst):
    rng = np.random.default_rng(15)
    if np.dtype(src).kind == "b":
        x = rng.random((3, 8)) > 0.5
    elif np.dtype(dst).kind == "b":
        x = rng.integers(0, 2, size=(3, 8)).astype(src)
    elif np.dtype(src).kind == "c":
        x = (rng.normal(size=(3, 8)) + 1j * rng.normal(size=(3, 8))).astype(src)
    elif np.dtype(src).kind == "f":
        x = rng.normal(size=(3, 8)).astype(src)
    else:
        x = rng.integers(np.iinfo(src).min, np.iinfo(src).max, size=(3, 8), dtype=src)
    want = x.view(dst)
    assert_same(jnp.asarray(x).view(dst), want)
    assert_same(jax.jit(lambda a: a.view(dst))(x), want)
    assert_same(jax.vmap(lambda a: a.view(dst))(x), want)


def test_view_scalar_none_and_errors():
    x = np.array(2.5)
    assert_same(jnp.asarray(x).view(np.int64), x.view(np.int64))
    y = jnp.arange(6.0)
    assert_same(y.view(), np.arange(6.0))
    with pytest.raises(ValueError, match="0-d"):
        jnp.asarray(x).view(np.int32)
    with pytest.raises(ValueError, match="multiple of 16"):
        jnp.ones((2, 3)).view(np.complex128)
    with pytest.raises(NotImplementedError, match="type"):
        y.view(np.int64, type=np.ndarray)
