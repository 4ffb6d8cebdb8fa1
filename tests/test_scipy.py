"""jitcore.scipy.special and jitcore.scipy.stats.norm against Python's math module and
statistics.NormalDist (scipy is not a dependency), eagerly and under jit, with dtype checks,
derivatives by finite differences, and error messages."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore.scipy import special
from jitcore.scipy.stats import norm
from ops.errors import AxisError, ShapeError
from tests.helpers import check_grads, erfinv_reference

ND = statistics.NormalDist()
v_erf, v_erfc, v_lgamma = (np.vectorize(f) for f in (math.erf, math.erfc, math.lgamma))
v_ppf, v_pdf, v_cdf = (np.vectorize(f) for f in (ND.inv_cdf, ND.pdf, ND.cdf))
EPS = np.finfo(np.float64).eps


def both(f, *args):
    """f(*args) eagerly and under jit (the results must agree to a few ulps)."""
    eager, jitted = f(*args), jax.jit(f)(*args)
    assert eager.dtype == jitted.dtype
    np.testing.assert_allclose(np.asarray(jitted, np.float64), np.asarray(eager, np.float64),
                               rtol=1e-14 if eager.dtype == np.float64 else 1e-6, atol=0)
    return eager


def test_erf_and_erfc():
    x = np.linspace(-6, 6, 241)
    np.testing.assert_allclose(both(special.erf, x), v_erf(x), rtol=2 * EPS, atol=1e-300)
    t = np.linspace(-10, 26, 721)
    want = v_erfc(t)
    # exp(-x^2) is the accuracy limit in the far tail: x^2 ulps.
    np.testing.assert_allclose(both(special.erfc, t), want,
                               rtol=4 * EPS * (1 + t * t).max(), atol=1e-300)
    # Accurate where 1 - erf(x) would be 0 (or all rounding).
    assert float(special.erfc(10.0)) / math.erfc(10.0) == pytest.approx(1, rel=1e-13)
    assert special.erfc(np.float32(2.0)).dtype == np.float32
    assert special.erfc(3).dtype == np.float64
    np.testing.assert_array_equal(special.erfc(np.array([np.inf, -np.inf])), [0.0, 2.0])


def test_erfinv():
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 401), [1e-300, -1e-10, 1 - 1e-15]])
    # erfinv(y) = Phi^-1((1 + y) / 2) / sqrt(2), and erf undoes it.
    # (The reference rounds 1 + y: it is good to 1e-16 absolute near 0, not relatively.)
    ref = v_ppf((1 + y) / 2) / math.sqrt(2)
    got = both(special.erfinv, y)
    mid = np.abs(y) < 0.999
    np.testing.assert_allclose(got[mid], ref[mid], rtol=1e-14, atol=2 * EPS)
    np.testing.assert_allclose(v_erf(got), y, rtol=4 * EPS, atol=1e-300)
    out = special.erfinv(np.array([1.0, -1.0, 1.5, np.nan]))
    assert list(np.asarray(out)[:2]) == [np.inf, -np.inf] and np.all(np.isnan(out[2:]))
    y32 = np.linspace(-0.99, 0.99, 101).astype(np.float32)
    g32 = both(special.erfinv, y32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, v_ppf((1 + y32.astype(np.float64)) / 2) / math.sqrt(2),
                               rtol=2e-6)


def _ulps(got, want):
    got, want = np.asarray(got), np.asarray(want).astype(got.dtype)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):   # inf - inf where both are inf: `same` covers it
        return np.where(same, 0, np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erfinv_is_the_erf_inv_primitive_within_ulps(dtype):
    """lax.erf_inv against the bisection inverse of math.erf (itself within 1 ULP of exact):
    eagerly (NumPy reference, Newton-polished: <= 1 ULP, so <= 2 apart) and compiled (Giles'
    polynomials: <= 4 ULP in float64, so <= 5 apart; float32 computed in float64 and rounded
    once), with the edge values exact."""
    rng = np.random.default_rng(0)
    tail = 1 - 10.0 ** -rng.uniform(0.3, 16 if dtype == np.float64 else 7, 500)
    x = np.concatenate([rng.uniform(-1, 1, 1500), tail, -tail, 10.0 ** -rng.uniform(0, 300, 50),
                        [0.0, -0.0, 1.0, -1.0, 1.5, -2.0, np.inf, np.nan]]).astype(dtype)
    want = erfinv_reference(x).astype(dtype)
    eager, jitted = np.asarray(jax.lax.erf_inv(x)), np.asarray(jax.jit(special.erfinv)(x))
    assert eager.dtype == jitted.dtype == dtype
    assert _ulps(eager, want).max() <= (2 if dtype == np.float64 else 1)
    assert _ulps(jitted, want).max() <= (5 if dtype == np.float64 else 1)
    for got in (eager, jitted):
        np.testing.assert_array_equal(got[-8:-4], [0.0, -0.0, np.inf, -np.inf])
        assert np.signbit(got[-7]) and np.all(np.isnan(got[-4:]))
    # d/dx erfinv = sqrt(pi)/2 exp(erfinv^2), and its own derivative, by finite differences.
    check_grads(special.erfinv, (np.array([-0.8, -0.3, 0.0, 0.5, 0.7]),), order=2)
    g = jax.jit(jax.vmap(jax.grad(jax.lax.erf_inv)))(x[:50].astype(np.float64))
    np.testing.assert_allclose(g, math.sqrt(math.pi) / 2 * np.exp(want[:50].astype(np.float64) ** 2),
                               rtol=1e-13 if dtype == np.float64 else 1e-6)


def test_gammaln_and_digamma():
    x = np.concatenate([np.linspace(-9.7, 40, 500), [1e-8, 0.5, 1.0, 2.0, 1e5, 1e200]])
    want = v_lgamma(x)
    np.testing.assert_allclose(both(special.gammaln, x), want, rtol=1e-13, atol=1e-14)
    poles = special.gammaln(np.array([0.0, -1.0, -4.0, np.inf]))
    np.testing.assert_array_equal(poles, [np.inf] * 4)
    assert special.gammaln(np.float32(3.5)).dtype == np.float32
    np.testing.assert_allclose(special.gammaln(np.float32(3.5)), math.lgamma(3.5), rtol=1e-6)
    # digamma: psi(1) = -gamma, psi(1/2) = -gamma - 2 log 2, psi(x + 1) = psi(x) + 1/x.
    np.testing.assert_allclose(special.digamma(1.0), -np.euler_gamma, rtol=1e-14)
    np.testing.assert_allclose(special.digamma(0.5), -np.euler_gamma - 2 * np.log(2), rtol=1e-14)
    z = np.linspace(-4.7, 20, 101)
    d = np.asarray(special.digamma(z))
    np.testing.assert_allclose(special.digamma(z + 1), d + 1 / z, rtol=1e-12, atol=1e-12)
    assert np.all(np.isnan(special.digamma(np.array([0.0, -2.0]))))


def test_expit_logit_xlogy():
    x = np.linspace(-40, 40, 161)
    e = np.exp(-np.abs(x))
    np.testing.assert_allclose(both(special.expit, x), np.where(x >= 0, 1 / (1 + e), e / (1 + e)),
                               rtol=2 * EPS)
    p = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(both(special.logit, p), np.log(p / (1 - p)), rtol=1e-14,
                               atol=1e-16)
    xs, ys = np.array([0.0, 0.0, 2.0, 1.5]), np.array([0.0, 3.0, 0.5, 2.0])
    np.testing.assert_array_equal(special.xlogy(xs, ys), [0.0, 0.0, 2 * np.log(0.5),
                                                          1.5 * np.log(2.0)])
    np.testing.assert_allclose(special.xlog1py(xs, ys - 1), [0.0, 0.0, 2 * np.log(0.5),
                                                              1.5 * np.log(2.0)], rtol=1e-15)


def test_logsumexp_options():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4)) * 10
    b = rng.normal(size=(3, 4))
    for axis in (None, 0, 1, (0, 1)):
        for keepdims in (False, True):
            want = np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))
            got = special.logsumexp(a, axis=axis, keepdims=keepdims)
            assert got.shape == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-14)
    s = np.sum(b * np.exp(a), axis=1)
    out, sign = special.logsumexp(a, axis=1, b=b, return_sign=True)
    np.testing.assert_allclose(out, np.log(np.abs(s)), rtol=1e-13)
    np.testing.assert_array_equal(sign, np.sign(s))
    plain = np.asarray(special.logsumexp(a, axis=1, b=b))
    np.testing.assert_allclose(plain[s > 0], np.log(s[s > 0]), rtol=1e-13)
    assert np.all(np.isnan(plain[s < 0]))
    mask = a > 0
    np.testing.assert_allclose(special.logsumexp(a, axis=1, where=mask),
                               np.log(np.sum(np.where(mask, np.exp(a), 0), axis=1)), rtol=1e-14)
    assert special.logsumexp(np.float32([1, 2])).dtype == np.float32
    assert special.logsumexp(np.array([1, 2])).dtype == np.float64
    np.testing.assert_allclose(both(lambda v: special.logsumexp(v, b=b), a),
                               np.log(np.sum(b * np.exp(a))), rtol=1e-13)


def _log_mills_tail(x):
    """log Phi(x) for x << 0: -x^2/2 - log(2 pi)/2 + log m(-x), the Mills ratio m(t) =
    1/(t + 1/(t + 2/(t + 3/(t + ...)))) evaluated from the back (converges fast for t > 10)."""
    out = []
    for v in x:
        t = -v
        frac = t
        for k in range(200, 0, -1):
            frac = t + k / frac
        out.append(-t * t / 2 - 0.5 * math.log(2 * math.pi) - math.log(frac))
    return np.array(out)


def test_ndtr_log_ndtr_ndtri():
    x = np.linspace(-37, 9, 461)
    want = 0.5 * v_erfc(-x / math.sqrt(2))
    np.testing.assert_allclose(both(special.ndtr, x), want, rtol=4 * EPS * (1 + x * x / 2).max(),
                               atol=1e-300)
    with np.errstate(divide="ignore"):  # np.where evaluates log1p(-1) for the unused side
        log_want = np.where(x < 0, np.log(want), np.log1p(-0.5 * v_erfc(x / math.sqrt(2))))
    np.testing.assert_allclose(both(special.log_ndtr, x), log_want, rtol=1e-13, atol=1e-300)
    deep = np.array([-40.0, -100.0, -1e3, -1e5])
    np.testing.assert_allclose(special.log_ndtr(deep), _log_mills_tail(deep), rtol=1e-12)
    assert float(special.log_ndtr(40.0)) == 0.0 or abs(float(special.log_ndtr(40.0))) < 1e-300
    p = np.concatenate([np.geomspace(1e-300, 0.4, 200), np.linspace(0.4, 1 - 1e-12, 200)])
    np.testing.assert_allclose(both(special.ndtri, p), v_ppf(p), rtol=1e-13, atol=1e-15)
    ends = np.asarray(special.ndtri(np.array([0.0, 1.0, -0.5, 1.5])))
    assert list(ends[:2]) == [-np.inf, np.inf] and np.all(np.isnan(ends[2:]))


def test_norm_distribution():
    x = np.linspace(-6, 8, 57)
    loc, scale = np.array([[0.0], [1.5]]), np.array([[1.0], [2.5]])
    ref_pdf = np.vectorize(lambda v, m, s: statistics.NormalDist(m, s).pdf(v))(x, loc, scale)
    # NormalDist.cdf is 1 + erf(z): it cancels in the lower tail, so erfc serves instead.
    ref_cdf = 0.5 * v_erfc(-(x - loc) / (scale * math.sqrt(2)))
    np.testing.assert_allclose(both(norm.pdf, x, loc, scale), ref_pdf, rtol=1e-13)
    np.testing.assert_allclose(both(norm.logpdf, x, loc, scale), np.log(ref_pdf), rtol=1e-13)
    np.testing.assert_allclose(both(norm.cdf, x, loc, scale), ref_cdf, rtol=1e-13, atol=1e-16)
    ref_sf = 0.5 * v_erfc((x - loc) / (scale * math.sqrt(2)))
    z = (x - loc) / scale
    # log(1 - tiny) as log1p(-tiny): the logs stay accurate in both tails.
    ref_logcdf = np.where(z < 0, np.log(ref_cdf), np.log1p(-ref_sf))
    ref_logsf = np.where(z > 0, np.log(ref_sf), np.log1p(-ref_cdf))
    np.testing.assert_allclose(norm.logcdf(x, loc, scale), ref_logcdf, rtol=1e-13)
    np.testing.assert_allclose(norm.sf(x, loc, scale), ref_sf, rtol=1e-13)
    np.testing.assert_allclose(norm.logsf(x, loc, scale), ref_logsf, rtol=1e-13)
    # sf in the upper tail keeps its relative accuracy (1 - cdf would be 0).
    np.testing.assert_allclose(norm.sf(12.0), 0.5 * math.erfc(12 / math.sqrt(2)), rtol=1e-13)
    q = np.linspace(0.001, 0.999, 51)
    ref_ppf = np.vectorize(lambda v, m, s: statistics.NormalDist(m, s).inv_cdf(v))(q, loc, scale)
    np.testing.assert_allclose(both(norm.ppf, q, loc, scale), ref_ppf, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(norm.isf(q, loc, scale), ref_ppf[:, ::-1], rtol=1e-12,
                               atol=1e-13)
    # Defaults: the standard normal; float32 in, float32 out; ints become float64.
    np.testing.assert_allclose(norm.pdf(0.3), v_pdf(0.3), rtol=1e-15)
    assert norm.cdf(np.float32(0.5)).dtype == np.float32
    assert norm.logpdf(np.arange(3)).dtype == np.float64
    assert norm.pdf(np.zeros((0, 2))).shape == (0, 2)


@pytest.mark.parametrize("name,f,x", [
    ("erfc", special.erfc, np.array([-1.5, 0.3, 2.0, 5.0])),
    ("erfinv", special.erfinv, np.array([-0.6, -0.2, 0.4, 0.7])),
    ("gammaln", special.gammaln, np.array([-2.5, 0.3, 1.7, 12.0])),
    ("ndtri", special.ndtri, np.array([0.1, 0.3, 0.6, 0.85])),
    ("log_ndtr", special.log_ndtr, np.array([-25.0, -3.0, 0.5, 9.0])),
    ("logit", special.logit, np.array([0.1, 0.45, 0.8])),
    ("expit", special.expit, np.array([-3.0, 0.2, 4.0])),
    ("ndtr", special.ndtr, np.array([-3.0, 0.2, 4.0])),
    ("xlogy", lambda y: special.xlogy(np.array([0.5, 2.0, 1.0]), y), np.array([0.3, 2.0, 5.0])),
    ("logsumexp_b", lambda a: special.logsumexp(a, b=np.array([1.0, 2.0, 0.5])),
     np.array([0.3, -1.0, 2.0])),
    ("norm.logpdf", lambda x: norm.logpdf(x, 0.5, 1.7), np.array([-2.0, 0.1, 3.0])),
    ("norm.cdf", lambda x: norm.cdf(x, 0.5, 1.7), np.array([-2.0, 0.1, 3.0])),
    ("norm.ppf", lambda q: norm.ppf(q, 0.5, 1.7), np.array([0.15, 0.5, 0.8])),
])
def test_derivatives_by_finite_differences(name, f, x):
    check_grads(f, (x,), order=2)


def test_exact_derivative_rules():
    # erfinv' = sqrt(pi)/2 exp(erfinv^2); gammaln' = digamma; ndtri' = 1 / pdf(ndtri).
    y = np.array([-0.5, 0.1, 0.9])
    e = np.asarray(special.erfinv(y))
    np.testing.assert_allclose(jax.vmap(jax.grad(special.erfinv))(y),
                               math.sqrt(math.pi) / 2 * np.exp(e * e), rtol=1e-14)
    np.testing.assert_allclose(jax.grad(special.gammaln)(3.0), 1.5 - np.euler_gamma, rtol=1e-14)
    p = np.array([0.2, 0.7])
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(special.ndtri)))(p),
                               1 / v_pdf(v_ppf(p)), rtol=1e-13)
    # xlogy's rules are JAX's: x' log(y) + y' x / y (so 0/0 = NaN at x = y = 0, as JAX).
    np.testing.assert_allclose(jax.grad(special.xlogy, argnums=(0, 1))(2.0, 3.0),
                               (np.log(3.0), 2 / 3), rtol=1e-15)


def test_errors_name_the_function():
    with pytest.raises(ShapeError) as e:
        norm.cdf(np.zeros(3), np.zeros(2))
    assert "norm.cdf" in str(e.value) and "(3,)" in str(e.value) and "(2,)" in str(e.value)
    assert "test_scipy.py" in str(e.value)
    with pytest.raises(AxisError) as e:
        special.logsumexp(np.zeros((2, 3)), axis=2)
    assert "logsumexp" in str(e.value) and "test_scipy.py" in str(e.value)
    with pytest.raises(ShapeError) as e:
        special.logsumexp(np.zeros(3), b=np.ones(4))
    assert "logsumexp" in str(e.value) and "test_scipy.py" in str(e.value)
    with pytest.raises(ShapeError) as e:
        special.xlogy(np.zeros(3), jnp.ones((2, 2)))
    assert "xlogy" in str(e.value)
