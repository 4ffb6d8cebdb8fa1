"""jitcore.scipy.special's gamma/beta/zeta/Bessel/entropy functions and the incomplete gamma
and beta functions (also as jitcore.lax.igamma/igammac/betainc) against SciPy in float64,
with JAX's edge-case conventions, derivatives by finite differences, vmap against a loop, jit."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore as jax
from jitcore import lax
from jitcore.scipy import special

sc = pytest.importorskip("scipy.special")

NAN, INF = np.nan, np.inf
A_GRID = np.array([1e-3, 0.1, 0.5, 1.0, 2.5, 10.0, 55.5, 300.0, 5e3])
X_GRID = np.array([1e-4, 0.05, 0.5, 1.0, 2.0, 9.0, 60.0, 290.0, 320.0, 5.1e3])


def close(got, want, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


def fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


# --- incomplete gamma -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_grid(name):
    a, x = np.meshgrid(A_GRID, X_GRID)
    want = getattr(sc, name)(a, x)
    got = getattr(special, name)(a, x)
    assert got.dtype == np.float64 and got.shape == a.shape
    # Cephes' iterations in float64: within 1e-11 relative (the largest a, x near 5e3 lose
    # most: the prefactor's exp(a log x - x - lgamma(a)) has an absolute error ~ a * eps).
    close(got, want, rtol=1e-11, atol=1e-300)


def test_incomplete_gamma_edges():
    a = np.array([0.5, 0.0, -1.0, 1.0, INF, 2.0, NAN, 0.0, 3.0])
    x = np.array([-1.0, 1.0, 1.0, 0.0, 1.0, INF, 1.0, 0.0, NAN])
    # JAX's conventions: a == 0 < x gives P = 1; a < 0, x < 0, a = inf and (0, 0) are NaN.
    close(special.gammainc(a, x), [NAN, 1, NAN, 0, NAN, 1, NAN, NAN, NAN], rtol=0)
    close(special.gammaincc(a, x), [NAN, 0, NAN, 1, NAN, 0, NAN, NAN, NAN], rtol=0)
    # Deep tails: the prefactor underflows to exactly 0 / 1.
    close(special.gammainc(1.0, 1e4), 1.0, rtol=0)
    close(special.gammaincc(1e3, 1.0), 1.0, rtol=0)


def test_incomplete_gamma_dtypes_and_lax_names():
    assert special.gammainc(2, 3).dtype == np.float64
    f32 = special.gammainc(np.float32(2.0), np.float32(3.0))
    assert f32.dtype == np.float32
    close(f32, sc.gammainc(2.0, 3.0), rtol=1e-7)
    close(lax.igamma(2.0, 3.0), sc.gammainc(2.0, 3.0), rtol=1e-14)
    close(lax.igammac(2.0, 3.0), sc.gammaincc(2.0, 3.0), rtol=1e-14)


@pytest.mark.parametrize("a,x", [(2.0, 3.0), (0.5, 0.2), (30.0, 25.0), (5.0, 12.0),
                                 (0.2, 4.0)])
def test_incomplete_gamma_grads(a, x):
    ga, gx = jax.grad(special.gammainc, argnums=(0, 1))(a, x)
    close(ga, fd(lambda t: sc.gammainc(t, x), a), rtol=1e-7)
    close(gx, fd(lambda t: sc.gammainc(a, t), x), rtol=1e-7)
    close(lax.igamma_grad_a(a, x), ga, rtol=1e-14)
    qa, qx = jax.grad(special.gammaincc, argnums=(0, 1))(a, x)
    close(qa, -np.asarray(ga), rtol=1e-12)
    close(qx, -np.asarray(gx), rtol=1e-12)
    # random_gamma_grad: the implicit derivative dx/da at fixed P(a, x).
    close(lax.random_gamma_grad(a, x), -np.asarray(ga) / np.asarray(gx), rtol=1e-12)


def test_incomplete_gamma_vmap_jit():
    a, x = A_GRID, X_GRID[:len(A_GRID)]
    loop = np.array([float(special.gammainc(ai, xi)) for ai, xi in zip(a, x)])
    close(jax.vmap(special.gammainc)(a, x), loop, rtol=1e-15)
    close(jax.jit(special.gammainc)(a, x), loop, rtol=1e-15)
    close(jax.jit(jax.vmap(jax.grad(special.gammainc)))(a[:4], x[:4]),
          [float(jax.grad(special.gammainc)(ai, xi)) for ai, xi in zip(a[:4], x[:4])],
          rtol=1e-13)


# --- incomplete beta and betaln -------------------------------------------------------------

def test_betainc_grid():
    ab = np.array([0.05, 0.5, 1.0, 2.0, 7.5, 40.0, 400.0])
    a, b, x = np.meshgrid(ab, ab, np.array([1e-6, 0.01, 0.2, 0.5, 0.77, 0.99, 1 - 1e-9]))
    got = special.betainc(a, b, x)
    close(got, sc.betainc(a, b, x), rtol=1e-11, atol=1e-300)
    close(lax.betainc(2.0, 3.0, 0.3), sc.betainc(2.0, 3.0, 0.3), rtol=1e-14)


def test_betainc_edges():
    a = np.array([0.0, 1.0, 2.0, 2.0, 2.0, -1.0, 2.0, 0.0, NAN])
    b = np.array([1.0, 0.0, 2.0, 2.0, 2.0, 1.0, 3.0, 0.0, 1.0])
    x = np.array([0.5, 0.5, 0.0, 1.0, 1.5, 0.5, -0.5, 0.5, 0.5])
    close(special.betainc(a, b, x), [1, 0, 0, 1, NAN, NAN, NAN, NAN, NAN], rtol=0)


@pytest.mark.parametrize("a,b,x", [(2.0, 3.0, 0.3), (0.5, 5.0, 0.9), (30.0, 20.0, 0.55),
                                   (1.5, 0.7, 0.01)])
def test_betainc_grads(a, b, x):
    # JAX only differentiates in x; here a and b have derivatives too (checked the same way).
    ga, gb, gx = jax.grad(special.betainc, argnums=(0, 1, 2))(a, b, x)
    # (finite differences of values near 1 carry ~eps/h = 2e-10 absolute noise)
    close(ga, fd(lambda t: sc.betainc(t, b, x), a), rtol=1e-6, atol=5e-10)
    close(gb, fd(lambda t: sc.betainc(a, t, x), b), rtol=1e-6, atol=5e-10)
    close(gx, fd(lambda t: sc.betainc(a, b, t), x), rtol=1e-6, atol=5e-10)


def test_betaln():
    a, b = np.meshgrid(np.array([0.01, 0.5, 1.0, 3.5, 9.99, 10.0, 150.0]),
                       np.array([0.02, 1.0, 2.5, 11.0, 40.0]))
    close(special.betaln(a, b), sc.betaln(a, b), rtol=1e-13, atol=1e-14)
    # Large a: SciPy's own betaln is off by ~1e-9 there, so the reference is exact:
    # B(a, n) = (n-1)! / (a (a+1) ... (a+n-1)) for integer n.
    for a0 in (1e3, 1e6, 1e10, 1e14):
        for n in (1, 3, 11):
            want = math.lgamma(n) - sum(math.log(a0 + k) for k in range(n))
            close(special.betaln(a0, float(n)), want, rtol=1e-14, atol=1e-14)
            close(special.betaln(float(n), a0), want, rtol=1e-14, atol=1e-14)
    # ... and B(a, b) / B(a + 1, b) = (a + b) / a for non-integer b.
    a0, b0 = 1e6, 0.02
    close(np.asarray(special.betaln(a0, b0)) - np.asarray(special.betaln(a0 + 1, b0)),
          math.log1p(b0 / a0), rtol=1e-6)
    # Negative arguments give log|B|; poles give inf (JAX's conventions).
    close(special.betaln(np.array([-1.5, -0.5, 0.0, -1.0]), 2.0),
          [np.log(4 / 3), np.log(4.0), INF, INF], rtol=1e-14)
    g = jax.grad(special.betaln, argnums=(0, 1))(2.5, 4.0)
    close(g[0], sc.digamma(2.5) - sc.digamma(6.5), rtol=1e-13)
    close(g[1], sc.digamma(4.0) - sc.digamma(6.5), rtol=1e-13)


# --- gamma family, beta, combinatorics ------------------------------------------------------

def test_gamma_gammasgn_beta():
    x = np.array([0.1, 0.5, 1.0, 4.5, 20.0, 100.5, 171.0, -0.5, -1.5, -2.5, -10.3])
    # exp(gammaln(x)) carries gammaln's absolute error ~ |gammaln| eps into the ratio.
    close(special.gamma(x), sc.gamma(x), rtol=2e-13)
    close(special.gamma(np.array([0.0, -0.0, -1.0, 172.0])), [INF, -INF, NAN, INF], rtol=0)
    s = special.gammasgn(np.array([0.0, -0.0, -1.0, -0.5, -1.5, 2.0, NAN, -INF, INF]))
    close(s, [1, -1, NAN, -1, 1, 1, NAN, NAN, 1], rtol=0)
    assert special.gammasgn(np.float32(1)).dtype == np.float32
    a, b = np.meshgrid(np.array([0.3, 1.0, 2.5, 40.0, -0.5]), np.array([0.7, 3.0, 12.0]))
    close(special.beta(a, b), sc.beta(a, b), rtol=1e-13)
    close(special.beta(np.array([0.0, -1.0]), 2.0), [INF, NAN], rtol=0)
    close(jax.grad(special.gamma)(3.5), fd(sc.gamma, 3.5), rtol=1e-8)


def test_loggamma_multigammaln_factorial():
    close(special.loggamma(np.array([0.5, 2.0, 30.0, -0.5, 0.0])),
          [sc.gammaln(0.5), 0.0, sc.gammaln(30.0), NAN, NAN], rtol=1e-14, atol=1e-15)
    a = np.array([2.0, 3.7, 50.0])
    close(special.multigammaln(a, 3), [sc.multigammaln(v, 3) for v in a], rtol=1e-13)
    with pytest.raises(TypeError, match="multigammaln"):
        special.multigammaln(2.0, 1.5)
    n = np.array([-1.0, 0.0, 3.0, 2.5, 20.0, 170.0])
    # exp(gammaln(n + 1)) (JAX's formula): relative error ~ |gammaln| eps, 1.6e-13 at 170.
    close(special.factorial(n), sc.factorial(n, exact=False), rtol=3e-13)
    with pytest.raises(NotImplementedError):
        special.factorial(3, exact=True)


def test_comb_and_bernoulli():
    N = np.array([5.0, 5.0, 3.0, -1.0, 5.5, 60.0, 1e4])
    k = np.array([2.0, 7.0, -1.0, 1.0, 2.0, 30.0, 3.0])
    close(special.comb(N, k), sc.comb(N, k), rtol=1e-12)
    close(special.comb(5, 2, repetition=True), sc.comb(5, 2, repetition=True), rtol=1e-13)
    # The tabulated values (SciPy's own are off by up to 2e-12).
    want = [1, -1 / 2, 1 / 6, 0, -1 / 30, 0, 1 / 42, 0, -1 / 30, 0, 5 / 66, 0, -691 / 2730]
    close(special.bernoulli(12), want, rtol=1e-15)
    with pytest.raises(ValueError, match="bernoulli"):
        special.bernoulli(-1)


# --- zeta, polygamma ------------------------------------------------------------------------

def test_zeta_and_polygamma():
    x = np.array([2.0, 3.0, 1.5, 4.0, 10.0, 30.0, 2.0, 1.01, 3.0, 60.0])
    q = np.array([1.0, 0.5, 2.0, 1e-3, 3.0, 1.0, -7.5, 1.0, 100.0, 0.9])
    close(special.zeta(x, q), sc.zeta(x, q), rtol=1e-13)
    got = special.zeta(np.array([1.0, 0.5, 2.0, 3.0, 2.5, INF, 2.0]),
                       np.array([1.0, 1.0, 0.0, -1.0, -1.5, 1.0, INF]))
    close(got, [INF, NAN, INF, NAN, NAN, NAN, NAN], rtol=0)   # JAX's values
    with pytest.raises(NotImplementedError):
        special.zeta(2.0)
    gx, gq = jax.grad(special.zeta, argnums=(0, 1))(3.0, 2.0)
    close(gx, fd(lambda t: sc.zeta(t, 2.0), 3.0), rtol=1e-8)
    close(gq, -3.0 * sc.zeta(4.0, 2.0), rtol=1e-12)
    n = np.array([0, 1, 2, 3, 1, 4])
    xs = np.array([0.5, -0.5, 0.25, 10.0, 1e3, 2.0])
    close(special.polygamma(n, xs), sc.polygamma(n, xs), rtol=1e-12)
    with pytest.raises(ValueError, match="integer"):
        special.polygamma(1.0, 2.0)


# --- Bessel I0, I1 --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["i0", "i0e", "i1", "i1e"])
def test_bessel(name):
    x = np.concatenate([np.linspace(-50, 50, 101), [1e-5, 29.99, 30.01, 100.0, 700.0]])
    f = getattr(special, name)
    close(f(x), getattr(sc, name)(x), rtol=1e-14)
    close(jax.jit(f)(x), getattr(sc, name)(x), rtol=1e-14)
    assert f(np.arange(3)).dtype == np.float64 and f(np.float32(1)).dtype == np.float32
    for x0 in (0.0, -2.0, 7.0, 40.0):
        # (at 0, e^-|x| makes the central difference O(h) off: atol 1e-6 there)
        close(jax.grad(f)(x0), fd(getattr(sc, name), x0), rtol=1e-8,
              atol=1e-6 if x0 == 0 else 1e-9)
    close(jax.vmap(f)(x[:5]), [float(f(v)) for v in x[:5]], rtol=1e-15)


def test_bessel_edges():
    close(special.i0(np.array([800.0, -INF])), [INF, NAN], rtol=0)
    close(special.i1e(np.array([INF, NAN])), [0.0, NAN], rtol=0)
    close(special.i0e(np.array([INF, -INF])), [0.0, 0.0], rtol=0)


# --- entropy terms, erfcx -------------------------------------------------------------------

def test_entropy_terms():
    p = np.array([0.0, 0.0, -1.0, 1.0, 1.0, 2.0, 0.0, 0.3])
    q = np.array([0.0, 1.0, 1.0, 0.0, -1.0, 3.0, -1.0, 1e-5])
    close(special.kl_div(p, q), sc.kl_div(p, q), rtol=1e-14)
    close(special.rel_entr(p, q), sc.rel_entr(p, q), rtol=1e-14)
    x = np.array([0.0, -1.0, 0.5, INF, 3.0, 1e-300])
    close(special.entr(x), sc.entr(x), rtol=1e-14)
    close(jax.grad(special.rel_entr, argnums=(0, 1))(2.0, 3.0),
          [np.log(2 / 3) + 1, -2 / 3], rtol=1e-14)
    close(jax.grad(special.entr)(0.5), -np.log(0.5) - 1, rtol=1e-14)


def test_erfcx():
    x = np.concatenate([np.linspace(-20, 50, 141), [3.99, 4.0, 4.01, 1e3, 1e10, 1e300]])
    close(special.erfcx(x), sc.erfcx(x), rtol=1e-14)
    close(special.erfcx(np.array([-30.0])), [INF], rtol=0)
    for x0 in (-1.0, 0.5, 5.0):
        close(jax.grad(special.erfcx)(x0), fd(sc.erfcx, x0), rtol=1e-8)


# --- spherical harmonics --------------------------------------------------------------------

def test_sph_harm_y():
    n = np.array([2, 3, 3, 1, 0, 5, 7, 7, 4])
    m = np.array([1, -2, 0, 2, 0, 5, -3, 6, -4])
    theta = np.array([0.3, 1.0, 2.0, 0.5, 1.0, 2.2, 0.1, 3.0, 1.3])
    phi = np.array([0.7, 0.1, 3.0, 1.0, 2.0, -1.0, 0.4, 5.0, 0.9])
    want = sc.sph_harm_y(n, m, theta, phi)
    got = special.sph_harm_y(n, m, theta, phi)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13, atol=1e-15)
    jitted = jax.jit(lambda *a: special.sph_harm_y(*a, n_max=7))(n, m, theta, phi)
    np.testing.assert_allclose(np.asarray(jitted), want, rtol=1e-13, atol=1e-15)
    with pytest.raises(NotImplementedError, match="diff_n"):
        special.sph_harm_y(n, m, theta, phi, diff_n=1)
