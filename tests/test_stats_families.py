"""jitcore.scipy.stats distribution families against scipy.stats in float64: values over grids
of points (inside and outside the support) and parameters, gradients against finite differences
of SciPy's functions, vmap over parameters against a Python loop, jit against eager."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore.scipy import special
from jitcore.scipy import stats as js
from tests.helpers import fd_grad

ss = pytest.importorskip("scipy.stats")

X = np.array([-3.0, -0.5, 0.0, 0.2, 0.5, 1.0, 1.5, 2.0, 4.0, 10.0])
Q = np.array([0.01, 0.3, 0.5, 0.9, 0.999])
Q_EDGE = np.array([0.0, 0.01, 0.3, 0.5, 0.9, 1.0, -0.1, 1.1])
K = np.array([-1.0, 0, 1, 2, 3, 5, 7, 10])

HAS_GAMMAINC = hasattr(special, "gammainc") and hasattr(special, "gammaincc")
HAS_BETAINC = hasattr(special, "betainc")
NEEDS = {("gamma", f): HAS_GAMMAINC for f in ("cdf", "logcdf", "sf", "logsf")}
NEEDS.update({("chi2", f): HAS_GAMMAINC for f in ("cdf", "logcdf", "sf", "logsf")})
NEEDS.update({("beta", f): HAS_BETAINC for f in ("cdf", "logcdf", "sf", "logsf")})
NEEDS.update({("poisson", "cdf"): HAS_GAMMAINC, ("gennorm", "cdf"): HAS_GAMMAINC})

# family: (functions of x, points, parameter tuples, quantile functions, quantile points)
CASES = {
    "uniform": (["logpdf", "pdf", "cdf"], X, [(), (0.0, 1.0), (-1.0, 3.0)], ["ppf"], Q_EDGE),
    "expon": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X, [(), (0.5, 2.0)], ["ppf"],
              Q_EDGE),
    "cauchy": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X, [(), (0.5, 2.0)],
               ["ppf", "isf"], Q),
    "logistic": (["logpdf", "pdf", "cdf", "sf"], X, [(), (0.5, 2.0)], ["ppf", "isf"], Q),
    "laplace": (["logpdf", "pdf", "cdf"], X, [(), (0.5, 2.0)], [], None),
    "gamma": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X,
              [(0.5,), (2.0,), (3.5, 0.5, 2.0)], [], None),
    "chi2": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X,
             [(1.0,), (3.0,), (5.0, 0.5, 2.0)], [], None),
    "beta": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X / 4,
             [(0.5, 0.7), (2.0, 3.0), (2.5, 1.5, -0.5, 2.0)], [], None),
    "t": (["logpdf", "pdf"], X, [(1.0,), (4.5,), (3.0, 0.5, 2.0)], [], None),
    "pareto": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X,
               [(1.0,), (2.5, 0.5, 1.5)], ["ppf"], Q_EDGE),
    "truncnorm": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], X,
                  [(-1.0, 2.0), (0.5, 3.0), (-5.0, -2.0), (3.0, 6.0, 1.0, 1.0),
                   (-40.0, -30.0, 0.0, 0.1)], [], None),
    "vonmises": (["logpdf", "pdf"], X, [(0.5,), (3.0,), (8.0,), (20.0,), (200.0,)], [], None),
    "gennorm": (["logpdf", "pdf", "cdf"], X, [(1.0,), (2.0,), (0.7,)], [], None),
    "bernoulli": (["logpmf", "pmf", "cdf"], K, [(0.3,), (0.0,), (1.0,)], ["ppf"],
                  np.array([0.01, 0.3, 0.7, 0.71, 0.999, -0.1, 1.1])),
    "binom": (["logpmf", "pmf"], K, [(5.0, 0.3), (10.0, 0.7), (3.0, 0.0), (4.0, 1.0)], [], None),
    "poisson": (["logpmf", "pmf", "cdf"], np.append(K, 2.5), [(0.5,), (4.0,), (3.0, 1.0)], [],
                None),
    "geom": (["logpmf", "pmf"], K, [(0.3,), (0.9,), (0.2, 2.0)], [], None),
    "nbinom": (["logpmf", "pmf"], K, [(3.0, 0.4), (2.5, 0.7), (2.0, 0.5, 1.0)], [], None),
    "betabinom": (["logpmf", "pmf"], K, [(5.0, 2.0, 3.0), (10.0, 0.5, 0.7), (6.0, 1.0, 2.0, 2.0)],
                  [], None),
}


def _grid_cases():
    for fam, (fns, xs, params, qfns, qs) in CASES.items():
        for fn in fns + qfns:
            for pr in params:
                if fam == "bernoulli" and fn in ("cdf", "ppf") and len(pr) > 1:
                    continue
                yield pytest.param(fam, fn, xs if fn in fns else qs, pr, id=f"{fam}.{fn}{pr}")


def _skip_if_missing(fam, fn):
    if not NEEDS.get((fam, fn), True):
        pytest.skip(f"{fam}.{fn} needs the incomplete gamma/beta functions")


def _scipy(fam, fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return getattr(getattr(ss, fam), fn)(*args)


@pytest.mark.parametrize("fam,fn,xs,params", list(_grid_cases()))
def test_matches_scipy(fam, fn, xs, params):
    _skip_if_missing(fam, fn)
    got = getattr(getattr(js, fam), fn)(xs, *params)
    want = _scipy(fam, fn, xs, *params)
    assert got.dtype == np.float64 and got.shape == xs.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("fam,fn,x,params", [
    ("beta", "logpdf", np.array([0.3, 0.5]), (-1.0, 2.0)),
    ("beta", "logpdf", np.array([0.3, 0.5]), (2.0, 0.0)),
    ("vonmises", "logpdf", np.array([0.3, 2.0]), (-1.0,)),
    ("truncnorm", "logpdf", np.array([0.3, 2.0]), (2.0, 1.0)),
    ("truncnorm", "logcdf", np.array([0.3, 2.0]), (1.0, 1.0)),
    ("betabinom", "logpmf", np.array([1.0, 2.0]), (3.0, -1.0, 2.0)),
    ("betabinom", "logpmf", np.array([1.0, 2.0]), (-3.0, 1.0, 2.0)),
    ("bernoulli", "cdf", np.array([0.0, 1.0]), (1.5,)),
    ("uniform", "ppf", np.array([np.nan, -0.5]), ()),
])
def test_invalid_parameters_give_nan(fam, fn, x, params):
    got = np.asarray(getattr(getattr(js, fam), fn)(x, *params))
    want = _scipy(fam, fn, x, *params)
    assert np.isnan(want).all()
    assert np.isnan(got).all()


def test_vonmises_zero_concentration_is_nan():
    # JAX's convention (SciPy instead returns the uniform density for kappa = 0).
    assert np.isnan(np.asarray(js.vonmises.logpdf(np.array([0.3, 2.0]), 0.0))).all()


def test_noninteger_counts_follow_jax():
    # JAX (unlike SciPy) evaluates binom/geom/nbinom at non-integer k by the gamma-function
    # formula; poisson (rounding check) and betabinom (floor) treat them as SciPy does.
    k = 2.5
    want_binom = (math.lgamma(6) - math.lgamma(3.5) - math.lgamma(3.5)
                  + k * np.log(0.3) + (5 - k) * np.log(0.7))
    np.testing.assert_allclose(np.asarray(js.binom.logpmf(k, 5.0, 0.3)), want_binom, rtol=1e-12)
    assert np.asarray(js.poisson.logpmf(k, 2.0)) == -np.inf
    np.testing.assert_allclose(np.asarray(js.betabinom.logpmf(k, 5.0, 2.0, 3.0)),
                               ss.betabinom.logpmf(2, 5, 2.0, 3.0), rtol=1e-12)


def test_poisson_entropy():
    mu = np.array([0.0, 0.5, 3.0, 9.9, 10.0, 40.0, 99.0, 150.0, 1000.0])
    got = np.asarray(js.poisson.entropy(mu))
    # As in JAX: sums truncated at k < mu + 20 (below 10) or mu + 10 sqrt(mu) + 20 (below 100),
    # which drop a tail of up to ~1e-6 just below 10, and an asymptotic series from 100 on.
    np.testing.assert_allclose(got, ss.poisson.entropy(mu), rtol=2e-6)
    np.testing.assert_allclose(got[[0, 1, 2, 4, 5, 6]], ss.poisson.entropy(mu[[0, 1, 2, 4, 5, 6]]),
                               rtol=1e-10)
    assert js.poisson.entropy(mu.reshape(3, 3)).shape == (3, 3)


# --- multivariate families --------------------------------------------------------------------

def test_dirichlet():
    alpha = np.array([1.5, 2.0, 3.0])
    x = np.array([[0.2, 0.5, 0.1], [0.3, 0.1, 0.6], [0.5, 0.4, 0.4]])  # columns are points
    got = np.asarray(js.dirichlet.logpdf(x, alpha))
    want = [ss.dirichlet.logpdf(x[:, i], alpha) for i in range(2)]
    np.testing.assert_allclose(got[:2], want, rtol=1e-12)
    assert got[2] == -np.inf  # does not sum to one
    # K - 1 entries: the last is implied.
    np.testing.assert_allclose(np.asarray(js.dirichlet.logpdf(x[:2, 0], alpha)), want[0],
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(js.dirichlet.pdf(x[:, 0], alpha)),
                               ss.dirichlet.pdf(x[:, 0], alpha), rtol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        js.dirichlet.logpdf(x, alpha[None])
    with pytest.raises(ValueError, match="x.shape"):
        js.dirichlet.logpdf(np.ones(5) / 5, alpha)


def test_multivariate_normal():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    mean = rng.normal(size=3)
    x = rng.normal(size=(4, 3))
    got = np.asarray(js.multivariate_normal.logpdf(x, mean, cov))
    np.testing.assert_allclose(got, ss.multivariate_normal.logpdf(x, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(js.multivariate_normal.pdf(x, mean, cov)),
                               ss.multivariate_normal.pdf(x, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(js.multivariate_normal.logpdf(x, mean, 2.5)),
                               ss.multivariate_normal.logpdf(x, mean, 2.5 * np.eye(3)),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(js.multivariate_normal.logpdf(x[:, 0], 0.3, 2.5)),
                               ss.norm.logpdf(x[:, 0], 0.3, np.sqrt(2.5)), rtol=1e-12)
    with pytest.raises(ValueError, match="incompatible shapes"):
        js.multivariate_normal.logpdf(x, mean, np.eye(2))
    with pytest.raises(NotImplementedError):
        js.multivariate_normal.logpdf(x, mean, cov, allow_singular=True)


def test_multinomial():
    p = np.array([0.2, 0.3, 0.5])
    x = np.array([1, 2, 3])
    np.testing.assert_allclose(np.asarray(js.multinomial.logpmf(x, 6, p)),
                               ss.multinomial.logpmf(x, 6, p), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(js.multinomial.pmf(x, 6, p)),
                               ss.multinomial.pmf(x, 6, p), rtol=1e-12)
    assert np.asarray(js.multinomial.logpmf(x, 7, p)) == -np.inf
    with pytest.raises(ValueError, match="integer"):
        js.multinomial.logpmf(x.astype(float), 6, p)


# --- transforms -------------------------------------------------------------------------------

GRAD_CASES = [
    # (family, function, point x, parameters): d/dx and d/dparam of sum(logpdf)
    ("gamma", "logpdf", np.array([0.3, 1.7, 4.0]), (2.5, 0.1, 1.3)),
    ("beta", "logpdf", np.array([0.2, 0.45, 0.8]), (2.5, 1.5)),
    ("t", "logpdf", np.array([-1.0, 0.3, 2.0]), (3.5, 0.2, 1.5)),
    ("chi2", "logpdf", np.array([0.5, 2.0, 5.0]), (3.0,)),
    ("vonmises", "logpdf", np.array([-1.0, 0.3, 2.0]), (2.5,)),
    ("vonmises", "logpdf", np.array([-1.0, 0.3, 2.0]), (12.0,)),
    ("truncnorm", "logpdf", np.array([-0.5, 0.3, 1.5]), (-1.0, 2.0, 0.1, 1.2)),
    ("truncnorm", "logcdf", np.array([-0.5, 0.3, 1.5]), (-1.0, 2.0)),
    ("cauchy", "logpdf", np.array([-1.0, 0.3, 2.0]), (0.5, 2.0)),
    ("logistic", "logpdf", np.array([-1.0, 0.3, 2.0]), (0.5, 2.0)),
    ("laplace", "cdf", np.array([-1.0, 0.3, 2.0]), (0.5, 2.0)),
    ("pareto", "logpdf", np.array([2.0, 3.0, 5.0]), (2.5, 0.5, 1.2)),
    ("gennorm", "logpdf", np.array([-1.0, 0.3, 2.0]), (1.5,)),
    ("poisson", "logpmf", np.array([0.0, 2.0, 5.0]), (3.5,)),
    ("nbinom", "logpmf", np.array([0.0, 2.0, 5.0]), (2.5, 0.4)),
    ("binom", "logpmf", np.array([0.0, 2.0, 5.0]), (7.0, 0.4)),
    ("geom", "logpmf", np.array([1.0, 2.0, 5.0]), (0.35,)),
    ("betabinom", "logpmf", np.array([0.0, 2.0, 5.0]), (7.0, 1.5, 2.5)),
]


@pytest.mark.parametrize("fam,fn,x,params", GRAD_CASES,
                         ids=[f"{c[0]}.{c[1]}{c[3]}" for c in GRAD_CASES])
def test_gradients_against_scipy_finite_differences(fam, fn, x, params):
    discrete = fn.endswith("pmf")
    f = getattr(getattr(js, fam), fn)
    args = (x,) + tuple(np.float64(p) for p in params)
    # SciPy's binom/betabinom are NaN at non-integer n, so d/dn has no SciPy reference here
    # (binom's d/dn is checked against the gamma-function formula below).
    skip = {1} if fam in ("binom", "betabinom") else set()
    argnums = tuple(i for i in range(1 if discrete else 0, len(args)) if i not in skip)
    grads = jax.grad(lambda *a: jnp.sum(f(*a)), argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        def ref(v, i=i):
            a = list(args)
            a[i] = v
            return np.sum(_scipy(fam, fn, *a))
        np.testing.assert_allclose(np.asarray(g), fd_grad(ref, args[i], eps=1e-6),
                                   rtol=1e-6, atol=1e-7, err_msg=f"d/d arg {i}")


def test_binom_gradient_in_n():
    k = np.array([0.0, 2.0, 5.0])

    def ref(n):
        return sum(math.lgamma(n + 1) - math.lgamma(v + 1) - math.lgamma(n - v + 1)
                   + v * math.log(0.4) + (n - v) * math.log(0.6) for v in k)
    g = jax.grad(lambda n: jnp.sum(js.binom.logpmf(k, n, 0.4)))(np.float64(7.0))
    np.testing.assert_allclose(np.asarray(g), fd_grad(ref, 7.0), rtol=1e-6)


def test_gradient_multivariate_normal():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    x = np.array([[0.2, 0.3], [0.5, -1.0]])
    mean = np.array([0.1, 0.2])
    g = jax.grad(lambda m: jnp.sum(js.multivariate_normal.logpdf(x, m, cov)))(mean)
    ref = fd_grad(lambda m: np.sum(ss.multivariate_normal.logpdf(x, m, cov)), mean)
    np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-7)
    # Closed form: sum_i cov^{-1} (x_i - mean).
    np.testing.assert_allclose(np.asarray(g), np.linalg.solve(cov, (x - mean).sum(0)),
                               rtol=1e-12)


def test_gradient_outside_support_is_finite():
    # The discarded branch of a where must not leak NaN into the gradient.
    cases = [(lambda a: js.gamma.logpdf(-1.0, a), 2.0), (lambda b: js.pareto.logpdf(0.5, b), 2.0),
             (lambda d: js.chi2.logpdf(-1.0, d), 3.0),
             (lambda s: js.laplace.cdf(800.0, 0.0, s), 1.0),
             (lambda s: js.laplace.cdf(-800.0, 0.0, s), 1.0),
             (lambda k: js.vonmises.logpdf(0.5, k), 30.0)]
    for f, v in cases:
        assert np.isfinite(np.asarray(jax.grad(f)(np.float64(v))))


@pytest.mark.parametrize("fam,fn,x,pgrid", [
    ("gamma", "logpdf", np.array([0.3, 1.7, 4.0]), [np.array([0.5, 1.0, 2.5, 7.0])]),
    ("binom", "logpmf", np.array([0.0, 2.0, 5.0]), [np.array([5.0, 6.0, 9.0]),
                                                   np.array([0.1, 0.5, 0.9])]),
    ("vonmises", "logpdf", np.array([-1.0, 0.3]), [np.array([0.5, 4.0, 30.0])]),
    ("truncnorm", "cdf", np.array([-0.5, 0.3, 1.5]), [np.array([-2.0, -1.0, 0.0]),
                                                      np.array([1.0, 2.0, 0.5])]),
    ("beta", "logpdf", np.array([0.2, 0.7]), [np.array([0.5, 2.0]), np.array([1.5, 3.0])]),
])
def test_vmap_over_parameters_matches_loop(fam, fn, x, pgrid):
    f = getattr(getattr(js, fam), fn)
    got = np.asarray(jax.vmap(lambda *p: f(x, *p))(*pgrid))
    loop = np.stack([np.asarray(f(x, *(p[i] for p in pgrid))) for i in range(len(pgrid[0]))])
    np.testing.assert_allclose(got, loop, rtol=1e-13)
    np.testing.assert_allclose(got, np.stack([_scipy(fam, fn, x, *(p[i] for p in pgrid))
                                              for i in range(len(pgrid[0]))]), rtol=1e-10)


def test_vmap_dirichlet_over_alpha():
    alphas = np.array([[1.5, 2.0, 3.0], [0.5, 0.7, 4.0]])
    x = np.array([0.2, 0.3, 0.5])
    got = np.asarray(jax.vmap(lambda a: js.dirichlet.logpdf(x, a))(alphas))
    np.testing.assert_allclose(got, [ss.dirichlet.logpdf(x, a) for a in alphas], rtol=1e-12)


@pytest.mark.parametrize("fam,fn,x,params", [
    ("expon", "logsf", X, (0.5, 2.0)), ("truncnorm", "logsf", X, (-1.0, 2.0)),
    ("betabinom", "pmf", K, (5.0, 2.0, 3.0)), ("uniform", "cdf", X, (-1.0, 3.0)),
    ("vonmises", "pdf", X, (3.0,)), ("pareto", "ppf", Q_EDGE, (2.5,)),
    ("bernoulli", "ppf", Q_EDGE[1:], (0.3,)),
])
def test_jit_matches_scipy(fam, fn, x, params):
    f = getattr(getattr(js, fam), fn)
    got = np.asarray(jax.jit(f)(x, *params))
    np.testing.assert_allclose(got, _scipy(fam, fn, x, *params), rtol=1e-10, atol=1e-300)


def test_dtypes_follow_inputs():
    x32 = np.array([0.5, 1.5], np.float32)
    assert js.gamma.logpdf(x32, 2.0).dtype == np.float32
    assert js.cauchy.cdf(x32).dtype == np.float32
    assert js.binom.logpmf(np.array([1, 2]), 3, 0.5).dtype == np.float64  # ints -> float
    assert js.t.logpdf(1, 2).shape == ()
