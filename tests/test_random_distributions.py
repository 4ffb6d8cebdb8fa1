"""jitcore.random distributions: JAX's samples where JAX's algorithm is a fixed transform (and
for the rejection samplers too, since their key use follows JAX's), distribution checks against
SciPy (moments, Kolmogorov-Smirnov / chi-square), shapes and dtypes, jit and vmap, and the
gamma sampler's derivative with respect to `a` against finite differences of SciPy's
inverse incomplete gamma function."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special as sps
from scipy import stats

import jitcore as jax
import jitcore.numpy as jnp
from ops.errors import ShapeError

random = jax.random
N = 20000


def key(i):
    return random.PRNGKey(i)


# Values printed by JAX 0.10.2 (x64 on) for the same calls.
JAX_SAMPLES = [
    (lambda: random.laplace(key(0), (3,)), [0.178033694709, 0.83796277999, -2.668487078856]),
    (lambda: random.logistic(key(1), (3,)), [-2.010064602465, -0.185495081884, 0.275948058395]),
    (lambda: random.cauchy(key(2), (3,)), [-0.243331819717, -1.987380353854, 0.573984083769]),
    (lambda: random.pareto(key(3), np.array([1.5, 2., 3.])),
     [3.807337311041, 1.352344997212, 1.095091801574]),
    (lambda: random.weibull_min(key(4), 2., 1.5, (3,)),
     [0.630292931507, 1.128621438621, 1.913072896803]),
    (lambda: random.rayleigh(key(5), 2., (3,)), [1.908233147006, 4.942976190745, 1.19350999202]),
    (lambda: random.lognormal(key(6), 0.5, (3,)),
     [1.020278026136, 1.622642472499, 0.566520950999]),
    (lambda: random.maxwell(key(7), (3,)), [2.110334287439, 2.89028983836, 1.31916610264]),
    (lambda: random.rademacher(key(8), (5,)), [-1, -1, -1, 1, 1]),
    (lambda: random.double_sided_maxwell(key(9), 1., 2., (3,)),
     [3.949041296305, -2.389215721158, -2.198466205753]),
    (lambda: random.triangular(key(10), 0., 1., 3., (3,)),
     [0.517842125217, 0.895005148797, 2.269368176463]),
    (lambda: random.wald(key(11), 1.5, (3,)), [0.119195577637, 1.341554811572, 2.157330996422]),
    (lambda: random.orthogonal(key(12), 3),
     [[-0.330377035404, 0.108498660511, -0.937592158214],
      [-0.454957905892, -0.888656142836, 0.057476635824],
      [-0.826960892875, 0.44555392543, 0.342953905342]]),
    (lambda: random.orthogonal(key(12), 2, m=3),
     [[-0.178602440462, -0.456184431803, -0.871778029341],
      [0.244734632876, -0.878774956686, 0.409706645018]]),
    (lambda: random.gamma(key(13), np.array([0.5, 1., 3.])),
     [0.03444759608, 4.595484741458, 1.839368306812]),
    (lambda: random.loggamma(key(14), np.array([0.5, 1., 3.])),
     [0.666441091466, -2.161800885631, 0.50585717668]),
    (lambda: random.beta(key(15), 2., 3., (3,)), [0.16640208358, 0.739010495826, 0.806725106076]),
    (lambda: random.dirichlet(key(16), np.array([1., 2., 3.])),
     [0.369247597565, 0.128923147151, 0.501829255284]),
    (lambda: random.t(key(17), 5., (3,)), [0.687458968375, -0.027446934734, -0.356240600571]),
    (lambda: random.chisquare(key(18), 4., (3,)), [6.805062699028, 3.576509555231, 1.861656998243]),
    (lambda: random.f(key(19), 3., 5., (3,)), [3.273983466234, 0.091792696245, 16.01574367377]),
    (lambda: random.generalized_normal(key(20), 1.5, (3,)),
     [-1.47630394632, -0.31420649283, 0.253406510372]),
    (lambda: random.ball(key(21), 3), [-0.302103010101, -0.686368465835, 0.119439552412]),
    (lambda: random.poisson(key(22), np.array([0.5, 3., 20., 100.])), [1, 2, 31, 107]),
    (lambda: random.binomial(key(23), np.array([5., 50., 100.]), np.array([0.3, 0.5, 0.8])),
     [2., 26., 82.]),
    (lambda: random.multinomial(key(24), 10., np.array([0.2, 0.3, 0.5])), [3., 3., 4.]),
    (lambda: random.geometric(key(25), 0.3, (5,)), [3, 2, 2, 6, 1]),
    (lambda: random.double_sided_maxwell(key(9), np.zeros(2), 1.),
     [[1.474520648153, -1.694607860579], [-1.599233102876, -0.851471000557]]),
]


@pytest.mark.parametrize("i", range(len(JAX_SAMPLES)))
def test_jax_documented_samples(i):
    fn, expected = JAX_SAMPLES[i]
    out = np.asarray(fn())
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-10, atol=1e-11)


def test_gamma_float32_matches_jax():
    out = random.gamma(key(13), np.float32(2.), (3,), np.float32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), [1.5411412, 0.57435256, 0.5275527], rtol=1e-6)


# --- distributions ----------------------------------------------------------------------------

def _ks(samples, dist):
    samples = np.asarray(samples, np.float64).ravel()
    assert np.all(np.isfinite(samples))
    assert stats.kstest(samples, dist.cdf).pvalue > 1e-4


@pytest.mark.parametrize("a", [0.05, 0.7, 1.0, 3.5, 40.0])
def test_gamma_distribution(a):
    x = np.asarray(random.gamma(key(1), a, (N,)))
    _ks(x, stats.gamma(a))
    assert abs(x.mean() - a) < 5 * np.sqrt(a / N)


@pytest.mark.parametrize("a", [0.01, 0.3, 2.0])
def test_loggamma_distribution(a):
    lx = np.asarray(random.loggamma(key(2), a, (N,)))
    # log of a Gamma(a) value: P(log X <= y) = P(X <= e^y).
    _ks(lx, type("LogGamma", (), {"cdf": staticmethod(lambda y: sps.gammainc(a, np.exp(y)))}))


@pytest.mark.parametrize("name,fn,dist", [
    ("beta", lambda k: random.beta(k, 0.5, 2.5, (N,)), stats.beta(0.5, 2.5)),
    ("t", lambda k: random.t(k, 3.0, (N,)), stats.t(3.0)),
    ("chisquare", lambda k: random.chisquare(k, 0.8, (N,)), stats.chi2(0.8)),
    ("f", lambda k: random.f(k, 4.0, 7.0, (N,)), stats.f(4.0, 7.0)),
    ("gennorm", lambda k: random.generalized_normal(k, 1.5, (N,)), stats.gennorm(1.5)),
    ("wald", lambda k: random.wald(k, 2.0, (N,)), stats.invgauss(2.0)),
    ("triangular", lambda k: random.triangular(k, -1., 0.5, 2., (N,)),
     stats.triang(0.5, loc=-1., scale=3.)),
    ("laplace", lambda k: random.laplace(k, (N,)), stats.laplace()),
    ("weibull", lambda k: random.weibull_min(k, 2., 1.5, (N,)), stats.weibull_min(1.5, scale=2.)),
    ("maxwell", lambda k: random.maxwell(k, (N,)), stats.maxwell()),
])
def test_continuous_distributions(name, fn, dist):
    _ks(fn(key(3)), dist)


def test_dirichlet_distribution():
    alpha = np.array([0.3, 1.0, 2.5])
    x = np.asarray(random.dirichlet(key(4), alpha, (N,)))
    assert x.shape == (N, 3)
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-12)
    for i in range(3):  # each marginal is Beta(alpha_i, sum - alpha_i)
        _ks(x[:, i], stats.beta(alpha[i], alpha.sum() - alpha[i]))


def test_ball_is_uniform_in_the_ball():
    x = np.asarray(random.ball(key(5), 3, p=2, shape=(N,)))
    r = np.linalg.norm(x, axis=-1)
    assert r.max() <= 1.0
    _ks(r, stats.beta(3, 1))  # radius of a uniform point in the unit 3-ball: P(r<=s) = s^3


def test_orthogonal_is_orthogonal():
    q = np.asarray(random.orthogonal(key(6), 4, shape=(2,)))
    assert q.shape == (2, 4, 4)
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(4), q.shape),
                               atol=1e-12)


def _chisquare_discrete(samples, pmf, support):
    samples = np.asarray(samples).ravel()
    obs = np.array([(samples == k).sum() for k in support], dtype=np.float64)
    exp = pmf(np.asarray(support)) * samples.size
    # Lump the tails outside `support` into one cell.
    obs = np.append(obs, samples.size - obs.sum())
    exp = np.append(exp, samples.size - exp.sum())
    keep = exp > 5
    assert stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue > 1e-4


@pytest.mark.parametrize("lam", [0.7, 4.0, 15.0, 300.0])
def test_poisson_distribution(lam):
    x = random.poisson(key(7), lam, (N,))
    assert x.dtype == np.int64
    x = np.asarray(x)
    lo, hi = int(max(0, lam - 5 * np.sqrt(lam))), int(lam + 5 * np.sqrt(lam) + 5)
    _chisquare_discrete(x, stats.poisson(lam).pmf, range(lo, hi))
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / N)


@pytest.mark.parametrize("n,p", [(5, 0.3), (40, 0.1), (100, 0.5), (1000, 0.93)])
def test_binomial_distribution(n, p):
    x = np.asarray(random.binomial(key(8), n, p, (N,)))
    assert x.dtype == np.float64 and np.all(x == np.floor(x)) and x.min() >= 0 and x.max() <= n
    _chisquare_discrete(x, stats.binom(n, p).pmf, range(n + 1))


def test_binomial_special_values():
    out = np.asarray(random.binomial(key(9), np.array([-1., np.inf, 7., 7., 0.]),
                                     np.array([0.5, 0.5, np.nan, 1.0, 0.5])))
    assert np.isnan(out[0]) and out[1] == np.inf and np.isnan(out[2])
    assert out[3] == 7.0 and out[4] == 0.0


def test_multinomial_distribution():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    x = np.asarray(random.multinomial(key(10), 20., p, shape=(N, 4)))
    assert x.shape == (N, 4)
    np.testing.assert_array_equal(x.sum(-1), 20.0)
    np.testing.assert_allclose(x.mean(0), 20 * p, atol=5 * np.sqrt(20 * 0.25 / N))
    cov = np.cov(x.T)
    np.testing.assert_allclose(cov, 20 * (np.diag(p) - np.outer(p, p)), atol=0.15)


def test_geometric_distribution():
    x = random.geometric(key(11), 0.25, (N,))
    assert x.dtype == np.int64
    _chisquare_discrete(np.asarray(x), stats.geom(0.25).pmf, range(1, 30))


def test_rademacher_and_pareto_and_rayleigh_distributions():
    r = np.asarray(random.rademacher(key(12), (N,)))
    assert set(np.unique(r)) == {-1, 1} and abs(r.mean()) < 5 / np.sqrt(N)
    _ks(random.pareto(key(13), 2.5, (N,)), stats.pareto(2.5))
    _ks(random.rayleigh(key(14), 1.7, (N,)), stats.rayleigh(scale=1.7))
    _ks(random.lognormal(key(15), 0.6, (N,)), stats.lognorm(0.6))
    _ks(random.logistic(key(16), (N,)), stats.logistic())
    _ks(random.cauchy(key(17), (N,)), stats.cauchy())


# --- shapes, dtypes, broadcasting -----------------------------------------------------------

def _out(f):
    """The shape and dtype `f(key)` returns, by tracing alone (`eval_shape`; the values are
    tested by the distribution tests above)."""
    return jax.eval_shape(f, key(0))


def test_shapes_and_dtypes():
    a = np.array([[0.5], [2.0]])
    assert _out(lambda k: random.gamma(k, a)).shape == (2, 1)
    assert _out(lambda k: random.gamma(k, a, (3, 2, 4))).shape == (3, 2, 4)
    assert _out(lambda k: random.beta(k, np.ones(3), 2.0)).shape == (3,)
    assert _out(lambda k: random.dirichlet(k, np.ones((2, 5)), (4, 2))).shape == (4, 2, 5)
    assert _out(lambda k: random.poisson(k, np.array([1., 20.]), (3, 2))).shape == (3, 2)
    assert _out(lambda k: random.binomial(k, np.array([3., 30.]), 0.4)).shape == (2,)
    assert _out(lambda k: random.multinomial(k, np.array([5., 7.]), np.ones(3) / 3,
                                             shape=(2, 3))).shape == (2, 3)
    assert _out(lambda k: random.maxwell(k, (2, 3))).shape == (2, 3)
    assert _out(lambda k: random.ball(k, 4, shape=(5,))).shape == (5, 4)
    assert _out(lambda k: random.double_sided_maxwell(k, np.zeros(3), 1., (2,))).shape == (2, 3)
    for fn in (lambda k, d: random.gamma(k, 2.0, (3,), d),
               lambda k, d: random.t(k, 4.0, (3,), d),
               lambda k, d: random.laplace(k, (3,), d),
               lambda k, d: random.wald(k, 1.0, (3,), d),
               lambda k, d: random.binomial(k, 10, 0.5, (3,), d)):
        assert _out(lambda k: fn(k, np.float32)).dtype == np.float32
        assert _out(lambda k: fn(k, None)).dtype == np.float64
    assert _out(lambda k: random.poisson(k, 3.0, (3,), np.int32)).dtype == np.int32
    assert _out(lambda k: random.rademacher(k, (3,), np.float32)).dtype == np.float32
    assert _out(lambda k: random.geometric(k, 0.5, (3,), np.int32)).dtype == np.int32


def test_broadcast_errors():
    with pytest.raises(ShapeError, match="gamma"):
        random.gamma(key(0), np.ones(3), (2,))
    with pytest.raises(ShapeError, match="beta"):
        random.beta(key(0), np.ones(3), np.ones(2))
    with pytest.raises(ShapeError, match="dirichlet"):
        random.dirichlet(key(0), 1.0)
    with pytest.raises(ShapeError, match="poisson"):
        random.poisson(key(0), np.ones(4), (3,))


def test_broadcast_parameters_match_elementwise_calls():
    # A broadcast parameter gives the same values as the broadcast array passed directly.
    a = random.gamma(key(3), np.array([0.5, 2.0]), (3, 2))
    b = random.gamma(key(3), np.array([[0.5, 2.0]] * 3))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- jit, vmap, grad ------------------------------------------------------------------------

def test_jit_matches_eager():
    fn = jax.jit(lambda k, a, lam: (random.gamma(k, a, (4,)), random.poisson(k, lam, (4,)),
                                    random.binomial(k, 30., 0.4, (4,))))
    for got, want in zip(fn(key(1), 1.5, 12.0),
                         (random.gamma(key(1), 1.5, (4,)), random.poisson(key(1), 12.0, (4,)),
                          random.binomial(key(1), 30., 0.4, (4,)))):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_vmap_over_keys_equals_loop():
    keys = random.split(key(2), 3)
    fns = [lambda k: random.gamma(k, 0.8, (2,)), lambda k: random.poisson(k, 25.0, (2,)),
           lambda k: random.binomial(k, 50., 0.3, (2,)), lambda k: random.beta(k, 2., 3., (2,)),
           lambda k: random.geometric(k, 0.2, (2,))]
    for fn in fns:
        batched = np.asarray(jax.vmap(fn)(keys))
        loop = np.stack([np.asarray(fn(keys[i])) for i in range(3)])
        np.testing.assert_array_equal(batched, loop)


def test_vmap_over_a_equals_loop():
    a = np.array([0.2, 1.0, 7.0])
    batched = np.asarray(jax.vmap(lambda al: random.gamma(key(4), al, (2,)))(a))
    loop = np.stack([np.asarray(random.gamma(key(4), al, (2,))) for al in a])
    np.testing.assert_array_equal(batched, loop)


def _fd_quantile_grad(a, x, h=1e-6):
    """d x / d a at the fixed quantile u = P(a, x), by central differences of SciPy's inverse."""
    u = sps.gammainc(a, x)
    return (sps.gammaincinv(a + h, u) - sps.gammaincinv(a - h, u)) / (2 * h)


@pytest.mark.parametrize("a", [0.3, 1.0, 2.5, 30.0])
def test_gamma_grad_wrt_a(a):
    k = key(5)
    x = np.asarray(random.gamma(k, a, (5,)))
    g = np.asarray(jax.grad(lambda al: random.gamma(k, al, (5,)).sum())(a))
    ref = sum(_fd_quantile_grad(a, xi) for xi in x)
    np.testing.assert_allclose(g, ref, rtol=1e-5)


def test_loggamma_grad_and_vmap_of_grad():
    k = key(6)
    a = np.array([0.2, 1.5, 4.0])
    per = jax.vmap(jax.grad(lambda al: random.loggamma(k, al)))(a)
    x = np.exp([np.asarray(random.loggamma(k, al)) for al in a])
    ref = [_fd_quantile_grad(al, xi) / xi for al, xi in zip(a, x)]
    np.testing.assert_allclose(np.asarray(per), ref, rtol=1e-5)


def test_beta_and_dirichlet_are_differentiable():
    # Beta's mean is a / (a + b): the gradient of a large-sample mean approaches b / (a+b)^2.
    g = jax.grad(lambda a: jnp.mean(random.beta(key(7), a, 2.0, (N,))))(3.0)
    assert abs(float(g) - 2.0 / 25.0) < 0.01


def test_gamma_grad_float32_large_a():
    k = key(8)
    a = np.array([0.05, 1e4], np.float32)
    g = np.asarray(jax.vmap(jax.grad(lambda al: random.gamma(k, al, dtype=np.float32)))(a))
    assert g.dtype == np.float32
    x = [float(random.gamma(k, al, dtype=np.float32)) for al in a]
    ref = [_fd_quantile_grad(float(al), xi, h=1e-6 * float(al)) for al, xi in zip(a, x)]
    np.testing.assert_allclose(g, ref, rtol=1e-4)
