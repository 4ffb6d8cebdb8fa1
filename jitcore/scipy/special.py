"""`jitcore.scipy.special`: special functions with JAX's API, written with jitcore.numpy ops.

Functions that XLA computes with a polynomial or rational approximation are computed here with
the same approximation (erfinv: Giles' polynomials, erfc: Cephes, gammaln/digamma: Lanczos), so
they run eagerly, under jit and vmap; their derivatives are the exact ones (custom_jvp), as JAX's.
"""
from __future__ import annotations

import math

import numpy as np

from ops import dtypes
from ops import elementwise as el

from .. import lax
from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..numpy._promotion import aval_of, promote_to_inexact
from ..numpy._reductions import reduction_axes

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "gammaln", "digamma", "logsumexp",
           "ndtr", "ndtri", "log_ndtr", "xlogy", "xlog1py", "softmax", "log_softmax"]


def _inexact(name, x):
    (x,) = promote_to_inexact(name, x)
    return x


def _horner(coeffs, w):
    p = jnp.full_like(w, coeffs[0])
    for c in coeffs[1:]:
        p = p * w + c
    return p


def _in_f32(fn, x):
    """`fn` evaluated in float32 for float16 and bfloat16 inputs (XLA's upcast), else in the
    input's dtype."""
    d = aval_of(x).dtype
    if d == np.float16 or d == dtypes.bfloat16:
        return lax.convert_element_type(fn(lax.convert_element_type(x, np.float32)), d)
    return fn(x)


# --- erf, erfc ------------------------------------------------------------------------------

def erf(x):
    """The error function."""
    return el.erf(_inexact("erf", x))


# Cephes' rational approximations of erfc for |x| >= 1 (the ones XLA's f64 erfc uses):
# exp(-x^2) P(x)/Q(x) below 8, exp(-x^2) R(x)/S(x) above.
_ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_ERFC_Q = (1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2)
_ERFC_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_ERFC_S = (1.0, 2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)
_MAXLOG = 7.09782712893383996843E2


def _erfc64(x):
    ax = jnp.abs(x)
    z = -x * x
    ratio = jnp.where(ax < 8.0, _horner(_ERFC_P, ax) / _horner(_ERFC_Q, ax),
                      _horner(_ERFC_R, ax) / _horner(_ERFC_S, ax))
    y = jnp.where(z < -_MAXLOG, 0.0, jnp.exp(z) * ratio)
    tail = jnp.where(x < 0, 2.0 - y, y)
    # Below 1, 1 - erf(x) loses nothing: the result is at least erfc(1) ~ 0.16.
    return jnp.where(ax < 1.0, 1.0 - el.erf(x), tail)


# Cephes' float32 erf/erfc (the ones XLA's float32 erfc uses, so float32 results are JAX's):
# erf(x) = x T(x^2) below 1; erfc(x) = exp(-x^2)/x P(1/x^2) on [1, 2), exp(-x^2)/x R(1/x^2) above.
_ERF32_T = (7.853861353153693E-5, -8.010193625184903E-4, 5.188327685732524E-3,
            -2.685381193529856E-2, 1.128358514861418E-1, -3.761262582423300E-1,
            1.128379165726710E+0)
_ERFC32_P = (2.326819970068386E-2, -1.387039388740657E-1, 3.687424674597105E-1,
             -5.824733027278666E-1, 6.210004621745983E-1, -4.944515323274145E-1,
             3.404879937665872E-1, -2.741127028184656E-1, 5.638259427386472E-1)
_ERFC32_R = (-1.047766399936249E+1, 1.297719955372516E+1, -7.495518717768503E+0,
             2.921019019210786E+0, -1.015265279202700E+0, 4.218463358204948E-1,
             -2.820767439740514E-1, 5.641895067754075E-1)
_MAXLOG32 = 88.72283905206835


def _erfc32(x):
    """float32 throughout: no widening, so the fused loop runs on float32 lanes."""
    ax = jnp.abs(x)
    z = -x * x
    q = 1.0 / ax
    w = q * q
    p = jnp.where(ax < 2.0, _horner(_ERFC32_P, w), _horner(_ERFC32_R, w))
    y = jnp.where(z < -_MAXLOG32, 0.0, jnp.exp(z) * q * p)
    tail = jnp.where(x < 0, 2.0 - y, y)
    return jnp.where(ax < 1.0, 1.0 - x * _horner(_ERF32_T, x * x), tail)


@custom_jvp
def _erfc(x):
    d = aval_of(x).dtype
    if d == np.float64:
        return _erfc64(x)
    # float16 computes in float32 and rounds once, as XLA upcasts it.
    return _in_f32(_erfc32, x)


_erfc.defjvps(lambda g, ans, x: g * (-2.0 / math.sqrt(math.pi)) * jnp.exp(-x * x))


def erfc(x):
    """The complementary error function 1 - erf(x), accurate where it is tiny (large x)."""
    return _erfc(_inexact("erfc", x))


# --- erfinv ---------------------------------------------------------------------------------
# `erfinv` is the `erf_inv` primitive (ops/elementwise.py). `random.normal` keeps XLA's exact
# arithmetic instead (`_erfinv_impl` below: Giles' polynomials as XLA evaluates them, float32
# coefficients for float32), so that its samples are JAX's bit for bit.

_ERFINV32_LO = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV32_HI = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv_poly(x, w):
    """erfinv(x) given w = -log(1 - x^2) (computed by the caller as accurately as it can)."""
    # sqrt(w) only feeds the branches for large w: elsewhere it takes a stand-in value, so
    # that derivatives of this function (the higher derivatives of erfinv and ndtri) never
    # meet sqrt'(0) = inf times a zero cotangent.
    if aval_of(x).dtype == np.float64:
        sw = jnp.sqrt(jnp.where(w < 6.25, 6.25, w))
        p = jnp.where(w < 6.25, _horner(el.ERF_INV64_A, w - 3.125),
                      jnp.where(w < 16.0, _horner(el.ERF_INV64_B, sw - 3.25),
                                _horner(el.ERF_INV64_C, sw - 5.0)))
    else:
        sw = jnp.sqrt(jnp.where(w < 5.0, 5.0, w))
        p = jnp.where(w < 5.0, _horner(_ERFINV32_LO, w - 2.5), _horner(_ERFINV32_HI, sw - 3.0))
    return p * x


def _erfinv_impl(x):
    out = _erfinv_poly(x, -jnp.log1p(-x * x))
    return jnp.where(jnp.abs(x) == 1.0, jnp.where(x > 0, np.inf, -np.inf), out)


def erfinv(x):
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside)."""
    return lax.erf_inv(_inexact("erfinv", x))


# --- gammaln, digamma (Lanczos, g = 7, n = 9: XLA's coefficients) ---------------------------

_LANCZOS_G = 7.0
_LANCZOS_BASE = 0.99999999999980993227684700473478
_LANCZOS = (676.520368121885098567009190444019, -1259.13921672240287047156078755283,
            771.3234287776530788486528258894, -176.61502916214059906584551354,
            12.507343278686904814458936853, -0.13857109526572011689554707,
            9.984369578019570859563e-6, 1.50563273514931155834e-7)


def _lanczos_terms(x):
    """(z, t, log t, A(z), A'(z)) for Lanczos' gamma(z + 1), with x < 0.5 reflected."""
    reflect = x < 0.5
    z = jnp.where(reflect, -x, x - 1.0)
    a = jnp.full_like(x, _LANCZOS_BASE)
    da = jnp.zeros_like(x)
    for i, c in enumerate(_LANCZOS):
        zi = z + (i + 1.0)
        a = a + c / zi
        da = da - c / (zi * zi)
    t = z + (_LANCZOS_G + 0.5)
    # log(t) as log(g + 1/2) + log1p(z / (g + 1/2)): exact in the constant part.
    log_t = math.log(_LANCZOS_G + 0.5) + jnp.log1p(z / (_LANCZOS_G + 0.5))
    return reflect, z, t, log_t, a, da


def _gammaln_impl(x):
    reflect, z, t, log_t, a, _ = _lanczos_terms(x)
    log_y = (0.5 * math.log(2 * math.pi)) + (z + 0.5 - t / log_t) * log_t + jnp.log(a)
    # Reflection lgamma(x) = log(pi) - lgamma(1 - x) - log|sin(pi x)|, with sin taken of the
    # fractional part folded into [0, 1/2] so that integers give exactly log(0) = -inf.
    ax = jnp.abs(x)
    frac = ax - jnp.floor(ax)
    frac = jnp.where(frac > 0.5, 1.0 - frac, frac)
    log_sin = jnp.log(jnp.sin(math.pi * frac))
    reflected = jnp.where(jnp.isfinite(log_sin), math.log(math.pi) - log_sin - log_y, -log_sin)
    out = jnp.where(reflect, reflected, log_y)
    return jnp.where(jnp.isinf(x), np.inf, out)


def _digamma_impl(x):
    reflect, z, t, log_t, a, da = _lanczos_terms(x)
    y = log_t + da / a - _LANCZOS_G / t
    r = x + jnp.abs(jnp.floor(x + 0.5))
    out = jnp.where(reflect, y - math.pi * jnp.cos(math.pi * r) / jnp.sin(math.pi * r), y)
    return jnp.where((x <= 0) & (x == jnp.floor(x)), np.nan, out)


def digamma(x):
    """The logarithmic derivative of the gamma function (NaN at 0 and the negative integers)."""
    return _in_f32(_digamma_impl, _inexact("digamma", x))


@custom_jvp
def _gammaln(x):
    return _in_f32(_gammaln_impl, x)


_gammaln.defjvps(lambda g, ans, x: g * digamma(x))


def gammaln(x):
    """log|Gamma(x)|."""
    return _gammaln(_inexact("gammaln", x))


# --- logistic functions ---------------------------------------------------------------------

def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x))."""
    return el.logistic(_inexact("expit", x))


@custom_jvp
def _logit(x):
    return jnp.log(x / (1.0 - x))


_logit.defjvps(lambda g, ans, x: g / (x * (1.0 - x)))


def logit(x):
    """log(x / (1 - x)), the inverse of expit."""
    return _logit(_inexact("logit", x))


@custom_jvp
def _xlogy(x, y):
    ok = x != 0
    # 0 where x == 0, except that a NaN y stays NaN (JAX's and SciPy's xlogy(0, nan)).
    zero = jnp.where(jnp.isnan(y), y, 0.0)
    return jnp.where(ok, jnp.where(ok, x, 1.0) * jnp.log(jnp.where(ok, y, 1.0)), zero)


_xlogy.defjvps(lambda g, ans, x, y: g * jnp.log(y), lambda g, ans, x, y: g * x / y)


def xlogy(x, y):
    """x * log(y), defined as 0 where x == 0 (whatever y is)."""
    return _xlogy(*promote_to_inexact("xlogy", x, y))


@custom_jvp
def _xlog1py(x, y):
    ok = x != 0
    zero = jnp.where(jnp.isnan(y), y, 0.0)   # as xlogy: NaN stays NaN
    return jnp.where(ok, jnp.where(ok, x, 1.0) * jnp.log1p(jnp.where(ok, y, 0.0)), zero)


_xlog1py.defjvps(lambda g, ans, x, y: g * jnp.log1p(y), lambda g, ans, x, y: g * x / (1.0 + y))


def xlog1py(x, y):
    """x * log1p(y), defined as 0 where x == 0."""
    return _xlog1py(*promote_to_inexact("xlog1py", x, y))


# --- the normal distribution function -------------------------------------------------------

def ndtr(x):
    """The standard normal CDF, from erf near 0 and erfc in the tails (no cancellation)."""
    x = _inexact("ndtr", x)
    w = x * (0.5 * math.sqrt(2.0))
    z = jnp.abs(w)
    tail = erfc(z)
    y = jnp.where(z < 0.5 * math.sqrt(2.0), 1.0 + erf(w), jnp.where(w > 0, 2.0 - tail, tail))
    return 0.5 * y


# Cephes' ndtri: a rational function of (p - 1/2)^2 in the middle, and of 1/z with
# z = sqrt(-2 log p) in the tails (p folded to the nearer tail first).
_NDTRI_P0 = (-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
             1.39312609387279679503E1, -1.23916583867381258016E0)
_NDTRI_Q0 = (1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
             -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
             1.59056225126211695515E1, -1.18331621121330003142E0)
_NDTRI_P1 = (4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
             4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
             -1.40256079171354495875E-1, -3.50424626827848203418E-2,
             -8.57456785154685413611E-4)
_NDTRI_Q1 = (1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
             1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
             -3.80806407691578277194E-2, -9.33259480895457427372E-4)
_NDTRI_P2 = (3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
             1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
             3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9)
_NDTRI_Q2 = (1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
             2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
             2.89247864745380683936E-6, 6.79019408009981274425E-9)


def _ndtri_impl(p):
    upper = p > 1.0 - math.exp(-2.0)
    q = jnp.where(upper, 1.0 - p, p)
    q = jnp.where(q == 0.0, 0.5, q)  # the endpoints are set below; keep log() finite
    w = q - 0.5
    ww = w * w
    middle = -math.sqrt(2 * math.pi) * (w + w * ww * (_horner(_NDTRI_P0, ww)
                                                      / _horner(_NDTRI_Q0, ww)))
    z = jnp.sqrt(-2.0 * jnp.log(q))
    iz = 1.0 / z
    first = z - jnp.log(z) / z
    tail = jnp.where(z >= 8.0, first - _horner(_NDTRI_P2, iz) / _horner(_NDTRI_Q2, iz) / z,
                     first - _horner(_NDTRI_P1, iz) / _horner(_NDTRI_Q1, iz) / z)
    x = jnp.where(q > math.exp(-2.0), middle, tail)
    x = jnp.where(upper, x, -x)
    return jnp.where(p == 0.0, -np.inf, jnp.where(p == 1.0, np.inf, x))


@custom_jvp
def _ndtri(p):
    return _in_f32(_ndtri_impl, p)


_ndtri.defjvps(lambda g, ans, p: g * math.sqrt(2 * math.pi) * jnp.exp(0.5 * ans * ans))


def ndtri(p):
    """The inverse of ndtr: the standard normal quantile function."""
    return _ndtri(_inexact("ndtri", p))


def _log_ndtr_lower(x, order=6):
    # Asymptotic series: log ndtr(x) = -x^2/2 - log(-x) - log(2 pi)/2
    #   + log(1 + sum_n (-1)^n (2n-1)!! / x^(2n)), for x far below 0.
    x2 = x * x
    series = jnp.ones_like(x)
    x2n = x2
    for n in range(1, order + 1):
        term = float(np.prod(np.arange(2 * n - 1, 0, -2))) / x2n
        series = series - term if n % 2 else series + term
        x2n = x2n * x2
    return -0.5 * x2 - jnp.log(-x) - 0.5 * math.log(2 * math.pi) + jnp.log(series)


def _log_ndtr64(x):
    # log(ndtr) is accurate while erfc is (down to about -37, where ndtr nears the smallest
    # normal double); below, the series with 6 terms is exact to ~1e-17. (JAX switches to a
    # 3-term series at -20, which is off by up to 4e-9 there.)
    # Above 0, log1p(-ndtr(-x)) keeps the digits that log(1 - tiny) would round away.
    lower = -37.0
    t = ndtr(-jnp.abs(jnp.maximum(x, lower)))  # ndtr(x) below 0, 1 - ndtr(x) above
    return jnp.where(x > 0, jnp.log1p(-t),
                     jnp.where(x > lower, jnp.log(t), _log_ndtr_lower(jnp.minimum(x, lower))))


@custom_jvp
def _log_ndtr(x):
    d = aval_of(x).dtype
    if d == np.float64:
        return _log_ndtr64(x)
    return lax.convert_element_type(_log_ndtr64(lax.convert_element_type(x, np.float64)), d)


_log_ndtr.defjvps(lambda g, ans, x:
                  g * jnp.exp(-0.5 * x * x - ans - 0.5 * math.log(2 * math.pi)))


def log_ndtr(x):
    """log(ndtr(x)), accurate far into the lower tail (an asymptotic series below -37)."""
    return _log_ndtr(_inexact("log_ndtr", x))


# --- logsumexp ------------------------------------------------------------------------------

def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) over `axis`, stable for large inputs; `return_sign=True` gives
    (log|sum|, sign) so that negative weights `b` are allowed."""
    if where is not None:
        a = jnp.where(where, a, 0)
    if b is not None:
        a, b = promote_to_inexact("logsumexp", a, b)
        a = jnp.where(b != 0, a, -np.inf)
    else:
        a = _inexact("logsumexp", a)
    axes = reduction_axes("logsumexp", axis, aval_of(a).shape)
    amax = jnp.max(a, axis=axes, keepdims=True, where=where, initial=-np.inf)
    # The shift is a constant for differentiation (the result does not depend on it), and
    # is 0 where every entry is -inf (or inf), so that exp(a - amax) is never NaN.
    amax = lax.stop_gradient(jnp.where(jnp.isfinite(amax), amax, 0.0))
    e = jnp.exp(a - amax)
    if b is not None:
        e = e * b
    total = jnp.sum(e, axis=axes, keepdims=True, where=where)
    sign = jnp.sign(total)
    out = jnp.log(jnp.abs(total)) + amax
    if not keepdims:
        out = jnp.squeeze(out, axis=axes)
        sign = jnp.squeeze(sign, axis=axes)
    if return_sign:
        return out, sign
    if b is not None:
        out = jnp.where(sign < 0, np.nan, out)
    return out


def softmax(x, axis=None):
    """`jax.scipy.special.softmax`: over every element unless `axis` says (JAX's default,
    unlike `jax.nn.softmax`'s last axis)."""
    from ..nn import softmax as _softmax
    return _softmax(x, axis=axis)


def log_softmax(x, axis=None):
    from ..nn import log_softmax as _log_softmax
    return _log_softmax(x, axis=axis)


from .special_extras import *  # noqa: E402,F401,F403  (gamma, beta, zeta, gammainc, ...)
from .special_extras import __all__ as _extras_all  # noqa: E402
__all__ += _extras_all

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
