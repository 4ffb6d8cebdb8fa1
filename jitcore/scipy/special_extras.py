"""More of `jax.scipy.special`: the gamma family, beta, zeta and polygamma, modified Bessel
functions of order 0 and 1, entropy terms and combinatorics, written with jitcore.numpy ops
(re-exported by `jitcore.scipy.special`). The incomplete gamma and beta functions live in
`special_incomplete.py`."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..numpy._promotion import aval_of
from .special import _inexact, _horner, digamma, gammaln
from .special_incomplete import betainc, betaln, gammainc, gammaincc, _prep

__all__ = ["gammainc", "gammaincc", "betainc", "betaln", "gamma", "gammasgn", "beta",
           "loggamma", "multigammaln", "factorial", "comb", "bernoulli", "zeta", "polygamma",
           "i0", "i0e", "i1", "i1e", "kl_div", "rel_entr", "entr", "erfcx", "sph_harm_y"]


# --- gamma and beta -------------------------------------------------------------------------

def gammasgn(x):
    """The sign of the gamma function: 1 above 0, alternating between the negative integers
    (NaN at them and at -inf), and the sign of zero at +-0."""
    x = _inexact("gammasgn", x)
    fl = jnp.floor(x)
    neg = jnp.where(jnp.remainder(fl, 2.0) == 0, 1.0, -1.0)
    out = jnp.where(x > 0, 1.0, jnp.where(x == 0, jnp.copysign(1.0, x), neg))
    bad = ((x < 0) & (x == fl)) | jnp.isnan(x) | (x == -np.inf)
    return jnp.where(bad, np.nan, out).astype(aval_of(x).dtype)


def gamma(x):
    """The gamma function, as gammasgn(x) * exp(gammaln(x)) (JAX's formula)."""
    x = _inexact("gamma", x)
    return gammasgn(x) * jnp.exp(gammaln(x))


def beta(a, b):
    """The beta function Gamma(a) Gamma(b) / Gamma(a + b)."""
    a, b = _prep("beta", a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * jnp.exp(betaln(a, b))


def loggamma(x):
    """log Gamma(x) for real x: gammaln above 0, NaN at and below 0 (JAX's real loggamma)."""
    x = _inexact("loggamma", x)
    return jnp.where(x > 0, gammaln(jnp.where(x > 0, x, 1.0)), np.nan)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension `d` (a Python int)."""
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise TypeError(f"multigammaln: d must be an integer, got {d!r}")
    a = _inexact("multigammaln", a)
    d = int(d)
    out = jnp.zeros_like(a) + (d * (d - 1) / 4.0) * math.log(math.pi)
    for j in range(d):
        out = out + gammaln(a - j / 2.0)
    return out


def factorial(n, exact=False):
    """n! as Gamma(n + 1) (0 for negative n); `exact=True` is not supported (as in JAX)."""
    if exact:
        raise NotImplementedError("factorial with exact=True")
    n = _inexact("factorial", n)
    return jnp.where(n < 0, 0.0, jnp.exp(gammaln(jnp.where(n < 0, 0.0, n) + 1.0)))


def comb(N, k, *, repetition=False):
    """The number of combinations of N things taken k at a time, Gamma(N+1) /
    (Gamma(k+1) Gamma(N-k+1)) for real N, k (0 where k < 0, k > N or N < 0). JAX's
    signature: there is no `exact`."""
    N, k = _prep("comb", N, k)
    if repetition:
        N = N + k - 1.0
    ok = (k >= 0) & (N >= 0) & (k <= N)
    sn = jnp.where(ok, N, 1.0)
    sk = jnp.where(ok, k, 0.0)
    # 1 / ((N + 1) B(N - k + 1, k + 1)): betaln keeps the digits when N is large.
    val = jnp.exp(-jnp.log1p(sn) - betaln(sn - sk + 1.0, sk + 1.0))
    return jnp.where(ok, val, 0.0)


def _bernoulli_numbers(n):
    """B_0 ... B_n (B_1 = -1/2), exactly, from the recurrence sum_k C(m+1, k) B_k = 0."""
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return b


def bernoulli(n):
    """The Bernoulli numbers B_0 ... B_n (`n` a Python int), with B_1 = -1/2."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"bernoulli: n must be a non-negative integer, got {n!r}")
    return jnp.asarray(np.array([float(v) for v in _bernoulli_numbers(int(n))]))


# --- Hurwitz zeta and polygamma -------------------------------------------------------------

# Euler-Maclaurin: zeta(x, q) = sum_{k<N} (q+k)^-x + a^(1-x)/(x-1) + a^-x/2
#   + sum_j B_2j/(2j)! x(x+1)...(x+2j-2) a^(-x-2j+1),  a = q + N.
_ZETA_N = 20
_ZETA_B = [float(b / math.factorial(2 * j))
           for j, b in enumerate(_bernoulli_numbers(24)[::2]) if j > 0]


def _zeta_impl(x, q):
    s = jnp.zeros_like(x)
    for k in range(_ZETA_N):
        s = s + jnp.power(q + float(k), -x)
    a = q + float(_ZETA_N)
    s = s + jnp.power(a, 1.0 - x) / (x - 1.0) + 0.5 * jnp.power(a, -x)
    fac = x * jnp.power(a, -x - 1.0)     # x(x+1)...(x+2j-2) a^(-x-2j+1)
    ia2 = 1.0 / (a * a)
    for j, c in enumerate(_ZETA_B):
        s = s + c * fac
        fac = fac * (x + (2 * j + 1)) * (x + (2 * j + 2)) * ia2
    return s


def zeta(x, q=None):
    """The Hurwitz zeta function sum_k (q + k)^-x (`q` is required, as in JAX).
    Differentiable in both arguments."""
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q != None to "
                                  "compute the Hurwitz Zeta function.")
    x, q = _prep("zeta", x, q)
    x_int = x == jnp.floor(x)
    q_int = q == jnp.floor(q)
    x_even = x_int & (jnp.remainder(x, 2.0) == 0)
    nan_ = (x < 1) | jnp.isinf(x) | jnp.isinf(q) | ((q < 0) & ~x_int) | ((q <= 0) & q_int & ~x_even)
    inf_ = (x == 1) | ((q <= 0) & q_int & x_even)
    ok = ~nan_ & ~inf_
    val = _zeta_impl(jnp.where(ok, x, 2.0), jnp.where(ok, q, 1.0))
    return jnp.where(inf_, np.inf, jnp.where(nan_, np.nan, val))


def polygamma(n, x):
    """The n-th derivative of digamma: (-1)^(n+1) n! zeta(n+1, x) for n >= 1 (`n` must have
    an integer dtype, as in JAX)."""
    nd = aval_of(n).dtype if hasattr(n, "dtype") or not isinstance(n, (int, float)) \
        else np.dtype(type(n))
    if not np.issubdtype(nd, np.integer):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype {nd}.")
    n, x = _prep("polygamma", n, x)
    n0 = n == 0
    sn = jnp.where(n0, 1.0, n)
    sign = jnp.where(jnp.remainder(sn, 2.0) == 0, -1.0, 1.0)
    higher = sign * jnp.exp(gammaln(sn + 1.0)) * zeta(sn + 1.0, x)
    return jnp.where(n0, digamma(x), higher)


# --- modified Bessel functions of orders 0 and 1 --------------------------------------------
# A power series in t = x^2/4 up to |x| = 30 (positive terms: no cancellation), the
# asymptotic series e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k above (its terms fall below
# 1e-20 before they diverge there).

_BESSEL_SPLIT = 30.0
_SERIES_TERMS = 50
_ASYM_TERMS = 30


def _series_coeffs(nu):
    # t^k / (k! (k + nu)!), highest power first for Horner.
    return [1.0 / (math.factorial(k) * math.factorial(k + nu))
            for k in range(_SERIES_TERMS - 1, -1, -1)]


def _asym_coeffs(nu):
    c, out = 1.0, [1.0]
    for k in range(1, _ASYM_TERMS):
        c *= -(4.0 * nu * nu - (2 * k - 1) ** 2) / (k * 8.0)
        out.append(c)
    return out[::-1]


_I_SERIES = {0: _series_coeffs(0), 1: _series_coeffs(1)}
_I_ASYM = {0: _asym_coeffs(0), 1: _asym_coeffs(1)}


def _bessel_i(nu, x, scaled):
    """I_nu(x) (or e^-|x| I_nu(x) when `scaled`) for nu in {0, 1}."""
    ax = jnp.abs(x)
    small = ax <= _BESSEL_SPLIT
    xs = jnp.where(small, ax, 1.0)
    series = _horner(_I_SERIES[nu], 0.25 * xs * xs)
    if nu == 1:
        series = series * (0.5 * xs)
    if scaled:
        series = series * jnp.exp(-xs)
    xl = jnp.where(small, 2.0 * _BESSEL_SPLIT, ax)
    asym = _horner(_I_ASYM[nu], 1.0 / xl) / jnp.sqrt(2.0 * math.pi * xl)
    if not scaled:
        asym = asym * jnp.exp(xl)
    out = jnp.where(small, series, asym)
    return jnp.where(x < 0, -out, out) if nu == 1 else out


@custom_jvp
def _i0(x):
    return _bessel_i(0, x, False)


@custom_jvp
def _i0e(x):
    return _bessel_i(0, x, True)


@custom_jvp
def _i1(x):
    return _bessel_i(1, x, False)


@custom_jvp
def _i1e(x):
    return _bessel_i(1, x, True)


def _safe_recip(x):
    return 1.0 / jnp.where(x == 0, 1.0, x)


# I0' = I1, I1' = I0 - I1/x (1/2 at 0); the scaled ones add -sign(x) times themselves.
_i0.defjvps(lambda g, ans, x: g * _i1(x))
_i0e.defjvps(lambda g, ans, x: g * (_i1e(x) - jnp.sign(x) * ans))
_i1.defjvps(lambda g, ans, x: g * jnp.where(x == 0, 0.5, _i0(x) - ans * _safe_recip(x)))
_i1e.defjvps(lambda g, ans, x: g * jnp.where(
    x == 0, 0.5, _i0e(x) - ans * (jnp.sign(x) + _safe_recip(x))))


def i0(x):
    """The modified Bessel function of the first kind of order 0."""
    return _i0(_inexact("i0", x))


def i0e(x):
    """exp(-|x|) i0(x)."""
    return _i0e(_inexact("i0e", x))


def i1(x):
    """The modified Bessel function of the first kind of order 1."""
    return _i1(_inexact("i1", x))


def i1e(x):
    """exp(-|x|) i1(x)."""
    return _i1e(_inexact("i1e", x))


# --- entropy terms --------------------------------------------------------------------------

def kl_div(p, q):
    """p log(p/q) - p + q elementwise (q where p == 0 <= q; inf where p or q is negative, or
    q == 0 < p)."""
    p, q = _prep("kl_div", p, q)
    both = (p > 0) & (q > 0)
    sp, sq = jnp.where(both, p, 1.0), jnp.where(both, q, 1.0)
    val = sp * jnp.log(sp / sq) - sp + sq
    return jnp.where(both, val, jnp.where((p == 0) & (q >= 0), q, np.inf))


def rel_entr(p, q):
    """p log(p/q) elementwise (0 where p == 0 <= q; inf otherwise outside p, q > 0)."""
    p, q = _prep("rel_entr", p, q)
    both = (p > 0) & (q > 0)
    sp, sq = jnp.where(both, p, 1.0), jnp.where(both, q, 1.0)
    val = sp * jnp.log(sp / sq)
    return jnp.where(both, val, jnp.where((p == 0) & (q >= 0), 0.0, np.inf))


def entr(x):
    """-x log x elementwise (0 at 0, -inf below 0)."""
    x = _inexact("entr", x)
    pos = x > 0
    sx = jnp.where(pos, x, 1.0)
    return jnp.where(pos, -sx * jnp.log(sx), jnp.where(x == 0, -0.0,
                     jnp.where(jnp.isnan(x), x, -np.inf)))


# --- erfcx ----------------------------------------------------------------------------------

_ERFCX_SPLIT = 4.0
_ERFCX_CF_TERMS = 60


def _erfcx_impl(x):
    from .special import erfc
    ax = jnp.abs(x)
    small = ax < _ERFCX_SPLIT
    xs = jnp.where(small, ax, 0.0)
    near = jnp.exp(xs * xs) * erfc(xs)
    # Laplace's continued fraction sqrt(pi) erfcx(x) = 1/(x + (1/2)/(x + 1/(x + (3/2)/...))),
    # evaluated from the tail: fast for x >= 4.
    xl = jnp.where(small, _ERFCX_SPLIT, ax)
    r = xl
    for k in range(_ERFCX_CF_TERMS, 0, -1):
        r = xl + (0.5 * k) / r
    far = 1.0 / (math.sqrt(math.pi) * r)
    pos = jnp.where(small, near, far)
    # erfcx(-x) = 2 exp(x^2) - erfcx(x).
    return jnp.where(x < 0, 2.0 * jnp.exp(x * x) - pos, pos)


@custom_jvp
def _erfcx(x):
    return _erfcx_impl(x)


_erfcx.defjvps(lambda g, ans, x: g * (2.0 * x * ans - 2.0 / math.sqrt(math.pi)))


def erfcx(x):
    """The scaled complementary error function exp(x^2) erfc(x), accurate for large x."""
    return _erfcx(_inexact("erfcx", x))


# --- spherical harmonics --------------------------------------------------------------------

def sph_harm_y(n, m, theta, phi, diff_n=0, n_max=None):
    """The spherical harmonic Y_n^m(theta, phi) (theta polar, phi azimuthal; SciPy's
    `sph_harm_y` with the Condon-Shortley phase; 0 where |m| > n). `n_max` bounds `n` and is
    required when `n` is traced; `diff_n` must be 0 (as in JAX)."""
    if diff_n:
        raise NotImplementedError("The 'diff_n' argument to jax.scipy.special.sph_harm_y is "
                                  "not supported.")
    if n_max is None:
        try:
            n_max = int(np.max(np.asarray(n)))
        except Exception as e:
            raise TypeError("sph_harm_y: n is traced; pass n_max, a bound on n") from e
    n_max = int(n_max)
    theta, phi = _prep("sph_harm_y", theta, phi)
    shape = np.broadcast_shapes(aval_of(theta).shape, np.shape(n) if not hasattr(n, "aval")
                                else aval_of(n).shape, aval_of(jnp.asarray(m)).shape)
    theta, phi = jnp.broadcast_to(theta, shape), jnp.broadcast_to(phi, shape)
    nf = jnp.broadcast_to(jnp.asarray(n), shape).astype(aval_of(theta).dtype)
    mf = jnp.broadcast_to(jnp.asarray(m), shape).astype(aval_of(theta).dtype)
    am = jnp.abs(mf)
    x, sx = jnp.cos(theta), jnp.sin(theta)
    # Fully normalized P_l^|m|(cos theta): P_m^m = (-1)^m sqrt((2m+1)!!/(2m)!! / 4pi) sin^m,
    # then P_l = a_l (x P_{l-1} - P_{l-2} / a_{l-1}), a_l = sqrt((4l^2 - 1) / (l^2 - m^2)).
    pmm = jnp.full_like(x, 1.0 / math.sqrt(4 * math.pi))
    for k in range(1, n_max + 1):
        pmm = jnp.where(k <= am, pmm * (-math.sqrt((2 * k + 1) / (2 * k))) * sx, pmm)
    out = jnp.where(nf == am, pmm, 0.0)
    prev2, prev1 = jnp.zeros_like(x), pmm
    a_prev = jnp.ones_like(x)
    for l in range(1, n_max + 1):
        active = l > am
        lf = float(l)
        a_l = jnp.sqrt((4 * lf * lf - 1) / jnp.where(active, lf * lf - am * am, 1.0))
        p_l = a_l * (x * prev1 - prev2 / a_prev)
        prev2, prev1 = (jnp.where(active, prev1, prev2), jnp.where(active, p_l, prev1))
        a_prev = jnp.where(active, a_l, a_prev)
        out = jnp.where(active & (nf == l), p_l, out)
    # Y_n^-m = (-1)^m conj(Y_n^m): for m < 0 the phase e^{i m phi} and a sign (-1)^|m|.
    sign = jnp.where((mf < 0) & (jnp.remainder(am, 2.0) == 1), -1.0, 1.0)
    out = jnp.where(am > nf, 0.0, out * sign)
    return out * jnp.cos(mf * phi) + 1j * (out * jnp.sin(mf * phi))
