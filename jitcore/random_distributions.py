"""Continuous distributions of `jitcore.random` (re-exported there), with JAX's names,
signatures and algorithms.

Transforms of uniform/normal/exponential values use JAX's key splitting and formulas, so with
the same key they give JAX's samples (up to rounding in transcendental functions). The gamma
family follows JAX too: one key per element (`split(key, a.size)`) and Marsaglia-Tsang rejection
with `lax.while_loop`, vectorized with `vmap` instead of JAX's sequential `lax.map` (the values
are the same: each element only sees its own key). Its derivative with respect to `a` is the
implicit reparameterization d sample / d a = -(dF/da)(a, x) / pdf(a, x), F the gamma CDF.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ops import dtypes
from ops.errors import ShapeError

from . import lax
from . import numpy as jnp
from .batching import vmap
from .custom_derivatives import custom_jvp
from .numpy._promotion import aval_of, asarray, broadcast_shapes, convert
from .numpy._shape import static_int, static_shape
from .scipy import special as _special
from .random import (_check_key, _check_shapes, _float_dtype, _shape_or_params, _split2,
                     _uniform, bernoulli, exponential, normal, split, uniform)

__all__ = ["gamma", "loggamma", "beta", "dirichlet", "laplace", "logistic", "t", "cauchy",
           "chisquare", "f", "pareto", "weibull_min", "rademacher", "orthogonal", "ball",
           "triangular", "maxwell", "double_sided_maxwell", "generalized_normal", "rayleigh",
           "wald", "lognormal"]


def _params(name, dtype, shape, **params):
    """Parameters converted to `dtype`, the result shape (theirs broadcast when `shape` is
    None) after checking they broadcast to it, and the parameters broadcast to it."""
    vals = [convert(asarray(v), dtype) for v in params.values()]
    shape = _shape_or_params(name, shape, *vals)
    _check_shapes(name, shape, **dict(zip(params, vals)))
    return shape, [jnp.broadcast_to(v, shape) for v in vals]


# --- simple transforms ----------------------------------------------------------------------

def laplace(key, shape=(), dtype=None):
    """Standard Laplace values sign(u) log1p(-|u|), u uniform in (-1, 1)."""
    key = _check_key("laplace", key)
    dtype = _float_dtype("laplace", dtype)
    lo = -1.0 + float(ml_dtypes.finfo(dtype).epsneg)
    u = _uniform("laplace", key, static_shape("laplace", shape), dtype, lo, 1.0)
    return jnp.sign(u) * jnp.log1p(-jnp.abs(u))


def logistic(key, shape=(), dtype=None):
    """Standard logistic values log(u) - log1p(-u)."""
    key = _check_key("logistic", key)
    dtype = _float_dtype("logistic", dtype)
    x = _uniform("logistic", key, static_shape("logistic", shape), dtype,
                 float(ml_dtypes.finfo(dtype).tiny), 1.0)
    return jnp.log(x) - jnp.log1p(-x)


def cauchy(key, shape=(), dtype=None):
    """Standard Cauchy values tan(pi (u - 1/2))."""
    key = _check_key("cauchy", key)
    dtype = _float_dtype("cauchy", dtype)
    u = _uniform("cauchy", key, static_shape("cauchy", shape), dtype,
                 float(ml_dtypes.finfo(dtype).eps), 1.0)
    return jnp.tan(np.pi * (u - 0.5))


def pareto(key, b, shape=None, dtype=None):
    """Pareto values with shape parameter b (scale 1): exp(e / b), e exponential."""
    key = _check_key("pareto", key)
    dtype = _float_dtype("pareto", dtype)
    shape, (b,) = _params("pareto", dtype, shape, b=b)
    return jnp.exp(exponential(key, shape, dtype) / b)


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull values scale * (-log1p(-u)) ** (1 / concentration) (shape defaults to ())."""
    key = _check_key("weibull_min", key)
    dtype = _float_dtype("weibull_min", dtype)
    shape = static_shape("weibull_min", shape)
    u = uniform(key, shape, dtype)
    scale, concentration = convert(asarray(scale), dtype), convert(asarray(concentration), dtype)
    return jnp.power(-jnp.log1p(-u), 1.0 / concentration) * scale


def rayleigh(key, scale, shape=None, dtype=None):
    """Rayleigh values scale * sqrt(-2 log u)."""
    key = _check_key("rayleigh", key)
    dtype = _float_dtype("rayleigh", dtype)
    shape, (scale,) = _params("rayleigh", dtype, shape, scale=scale)
    u = uniform(key, shape, dtype)
    return scale * jnp.sqrt(jnp.log(u) * -2.0)


def lognormal(key, sigma=np.float32(1), shape=None, dtype=None):
    """Log-normal values exp(sigma * z), z standard normal."""
    key = _check_key("lognormal", key)
    dtype = _float_dtype("lognormal", dtype)
    sigma = convert(asarray(sigma), dtype)
    shape = _shape_or_params("lognormal", shape, sigma)
    _check_shapes("lognormal", shape, sigma=sigma)
    return jnp.exp(normal(key, shape, dtype) * sigma)


def maxwell(key, shape=(), dtype=None):
    """Maxwell values: the norm of three standard normals."""
    key = _check_key("maxwell", key)
    dtype = _float_dtype("maxwell", dtype)
    shape = static_shape("maxwell", shape)
    return jnp.linalg.norm(normal(key, shape + (3,), dtype), axis=-1)


def rademacher(key, shape=(), dtype=None):
    """-1 or +1 with equal probability (default integer dtype)."""
    key = _check_key("rademacher", key)
    shape = static_shape("rademacher", shape)
    dtype = dtypes.default_int if dtype is None else dtypes.canonicalize(
        dtype, "rademacher: dtype")
    b = lax.convert_element_type(bernoulli(key, 0.5, shape), dtype)
    return lax.convert_element_type(2 * b - 1, dtype)


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Random sign times a Maxwell value, times scale, plus loc. As in JAX, the result has shape
    `shape + broadcast(loc, scale)` (and the parameters' shape when `shape` is empty)."""
    key = _check_key("double_sided_maxwell", key)
    dtype = _float_dtype("double_sided_maxwell", dtype)
    shape = static_shape("double_sided_maxwell", shape)
    loc, scale = convert(asarray(loc), dtype), convert(asarray(scale), dtype)
    params = broadcast_shapes("double_sided_maxwell", aval_of(loc).shape, aval_of(scale).shape)
    shape = (shape or params) + params
    k_maxwell, k_sign = _split2(key)
    m = maxwell(k_maxwell, shape, dtype)
    sign = rademacher(k_sign, shape, dtype)
    return sign * m * scale + loc


def triangular(key, left, mode, right, shape=None, dtype=None):
    """Triangular values on [left, right] with peak at mode (inverse CDF)."""
    key = _check_key("triangular", key)
    dtype = _float_dtype("triangular", dtype)
    shape, (left, mode, right) = _params("triangular", dtype, shape, left=left, mode=mode,
                                         right=right)
    fc = (mode - left) / (right - left)
    u = uniform(key, shape, dtype)
    out1 = left + jnp.sqrt(u * (right - left) * (mode - left))
    out2 = right - jnp.sqrt((1 - u) * (right - left) * (right - mode))
    return lax.select(u < fc, out1, out2)


def wald(key, mean, shape=None, dtype=None):
    """Wald (inverse Gaussian, shape 1) values by Michael, Schucany and Haas' transform."""
    key = _check_key("wald", key)
    dtype = _float_dtype("wald", dtype)
    shape, (mean,) = _params("wald", dtype, shape, mean=mean)
    k1, k2 = _split2(key)
    v = normal(k1, shape, dtype)
    z = uniform(k2, shape, dtype)
    y = v * v
    mean_sq = mean * mean
    sqrt_term = jnp.sqrt(4 * mean * y + mean_sq * (y * y))
    x = mean + mean_sq * y / 2 - mean / 2 * sqrt_term
    return lax.select(z <= mean / (mean + x), x, mean_sq / x)


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """A random (n, m) matrix with orthonormal columns or rows (Haar measure for square ones):
    the sign-corrected Q of the QR of a normal matrix."""
    key = _check_key("orthogonal", key)
    dtype = _float_dtype("orthogonal", dtype)
    shape = static_shape("orthogonal", shape)
    n = static_int("orthogonal", "n", n)
    m = n if m is None else static_int("orthogonal", "m", m)
    z = normal(key, shape + (max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r, axis1=-2, axis2=-1)
    x = q * jnp.expand_dims(jnp.sign(d), -2)
    return jnp.swapaxes(x, -1, -2) if n < m else x


# --- gamma family ---------------------------------------------------------------------------

def _gamma_one(key, alpha, log_space):
    """One Marsaglia-Tsang gamma(alpha) sample (JAX's _gamma_one, key use included)."""
    dtype = aval_of(alpha).dtype
    zero, one = convert(asarray(0.0), dtype), convert(asarray(1.0), dtype)
    boost_mask = alpha >= 1.0
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, alpha + 1.0)
    d = alpha - 1.0 / 3.0
    c = (1.0 / 3.0) / jnp.sqrt(d)

    def cond_fn(state):
        _, x, v, u = state
        return (u >= 1.0 - 0.0331 * (x * x)) & \
            (jnp.log(u) >= x * 0.5 + d * (1.0 - v + jnp.log(v)))

    def next_xv(state):
        k, _, _ = state
        k, sub = _split2(k)
        x = normal(sub, (), dtype)
        return k, x, 1.0 + x * c

    def body_fn(state):
        keys = split(state[0], 3)
        _, x, v = lax.while_loop(lambda s: s[2] <= 0.0, next_xv, (keys[1], zero, -one))
        u = uniform(keys[2], (), dtype)
        return keys[0], x * x, v * v * v, u

    k, sub = _split2(key)
    _, _, v, _ = lax.while_loop(cond_fn, body_fn, (k, zero, one, one + one))
    if log_space:
        log_samples = -exponential(sub, (), dtype)
        log_boost = lax.select(boost_mask | (log_samples == 0), zero, log_samples / alpha_orig)
        return jnp.log(d) + jnp.log(v) + log_boost
    samples = 1.0 - uniform(sub, (), dtype)
    boost = lax.select(boost_mask, one, jnp.power(samples, 1.0 / alpha_orig))
    return d * v * boost


def _random_gamma_grad(a, x):
    """d x / d a at fixed quantile: -(dP/da)(a, x) / pdf(a, x), P the regularized lower
    incomplete gamma function. From the series P = sum_n x^(a+n) e^-x / Gamma(a+n+1):
    (dP/da) / pdf = sum_n r_n (log x - digamma(a+n+1)), r_n = x^(n+1) Gamma(a)/Gamma(a+n+1),
    summed until the terms stop mattering (about x + 10 sqrt(x) terms at most). Summed in
    float64 whatever the sample's dtype: for large a the terms cancel by several digits."""
    out_dtype = aval_of(a).dtype
    f64 = np.dtype(np.float64)
    a, x = lax.convert_element_type(a, f64), lax.convert_element_type(x, f64)
    eps = float(ml_dtypes.finfo(f64).eps)
    log_x = jnp.log(x)
    psi = _special.digamma(a)

    def cond(state):
        n, r, _, total, _ = state
        # Terms grow while a + n < x; afterwards they fall geometrically.
        small = jnp.abs(r) <= eps * jnp.abs(total)
        return jnp.any(((a + n < x) | ~small) & (r > 0) & (n < 100000.0))

    def body(state):
        n, r, psi_n, total, _ = state
        psi_n = psi_n + 1.0 / (a + n)            # digamma(a + n + 1)
        r = r * x / (a + n)
        new_total = total + r * (log_x - psi_n)
        return n + 1.0, r, psi_n, new_total, total

    zero = jnp.zeros_like(a)
    start = (zero, jnp.ones_like(a), psi, zero, zero)
    _, _, _, total, _ = lax.while_loop(cond, body, start)
    return lax.convert_element_type(jnp.where(x > 0, -total, 0.0), out_dtype)


@custom_jvp
def _reparam(a, sample):
    return sample


_reparam.defjvps(lambda g, ans, a, sample: g * _random_gamma_grad(a, ans),
                 lambda g, ans, a, sample: g)


@custom_jvp
def _reparam_log(a, log_sample):
    return log_sample


def _log_grad(a, log_sample):
    dtype = aval_of(log_sample).dtype
    s = jnp.exp(log_sample)
    s = jnp.where(s == 0, float(ml_dtypes.finfo(dtype).tiny), s)
    return _random_gamma_grad(a, s) / s


_reparam_log.defjvps(lambda g, ans, a, s: g * _log_grad(a, ans), lambda g, ans, a, s: g)


def _gamma(name, key, a, shape, dtype, log_space):
    key = _check_key(name, key)
    dtype = _float_dtype(name, dtype)
    a = convert(asarray(a), dtype)
    if shape is None:
        shape = aval_of(a).shape
    else:
        shape = static_shape(name, shape)
        _check_shapes(name, shape, a=a)
    a = jnp.broadcast_to(a, shape)
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return jnp.zeros(shape, dtype)
    keys = split(key, size)
    flat_a = lax.stop_gradient(jnp.reshape(a, (size,)))
    samples = vmap(lambda k, al: _gamma_one(k, al, log_space))(keys, flat_a)
    samples = jnp.reshape(samples, shape)
    return (_reparam_log if log_space else _reparam)(a, samples)


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a, 1) values (Marsaglia-Tsang), differentiable with respect to `a`."""
    return _gamma("gamma", key, a, shape, dtype, False)


def loggamma(key, a, shape=None, dtype=None):
    """log of Gamma(a, 1) values, computed in log space (accurate for small a)."""
    return _gamma("loggamma", key, a, shape, dtype, True)


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) values as G_a / (G_a + G_b), from log-gamma samples."""
    key = _check_key("beta", key)
    dtype = _float_dtype("beta", dtype)
    shape, (a, b) = _params("beta", dtype, shape, a=a, b=b)
    key_a, key_b = _split2(key)
    log_ga = loggamma(key_a, a, shape, dtype)
    log_gb = loggamma(key_b, b, shape, dtype)
    log_max = jnp.maximum(log_ga, log_gb)
    ga, gb = jnp.exp(log_ga - log_max), jnp.exp(log_gb - log_max)
    return ga / (ga + gb)


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) values (over alpha's last axis): softmax of log-gamma samples."""
    key = _check_key("dirichlet", key)
    dtype = _float_dtype("dirichlet", dtype)
    alpha = convert(asarray(alpha), dtype)
    a_shape = aval_of(alpha).shape
    if not a_shape:
        raise ShapeError("dirichlet: alpha must have at least one dimension, got a scalar")
    if shape is None:
        shape = a_shape[:-1]
    else:
        shape = static_shape("dirichlet", shape)
        _check_shapes("dirichlet", shape, alpha=jnp.zeros(a_shape[:-1], dtype))
    log_g = loggamma(key, alpha, shape + a_shape[-1:], dtype)
    log_g = log_g - lax.stop_gradient(jnp.max(log_g, axis=-1, keepdims=True))
    e = jnp.exp(log_g)
    return e / jnp.sum(e, axis=-1, keepdims=True)


def t(key, df, shape=None, dtype=None):
    """Student's t values z sqrt(df / (2 g)), g ~ Gamma(df / 2)."""
    key = _check_key("t", key)
    dtype = _float_dtype("t", dtype)
    shape, (df,) = _params("t", dtype, shape, df=df)
    key_n, key_g = _split2(key)
    n = normal(key_n, shape, dtype)
    half_df = df / 2.0
    g = gamma(key_g, half_df, shape, dtype)
    return n * jnp.sqrt(half_df / g)


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square values 2 exp(loggamma(df / 2))."""
    key = _check_key("chisquare", key)
    dtype = _float_dtype("chisquare", dtype)
    shape, (df,) = _params("chisquare", dtype, shape, df=df)
    return jnp.exp(loggamma(key, df / 2.0, shape, dtype)) * 2.0


def f(key, dfnum, dfden, shape=None, dtype=None):
    """F values (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
    key = _check_key("f", key)
    dtype = _float_dtype("f", dtype)
    shape, (dfnum, dfden) = _params("f", dtype, shape, dfnum=dfnum, dfden=dfden)
    key_dfd, key_dfn = _split2(key)
    num = chisquare(key_dfn, dfnum, shape, dtype) / dfnum
    den = chisquare(key_dfd, dfden, shape, dtype) / dfden
    return num / den


def generalized_normal(key, p, shape=(), dtype=None):
    """Generalized normal values (density proportional to exp(-|x|^p)):
    random sign * Gamma(1/p) ** (1/p)."""
    key = _check_key("generalized_normal", key)
    dtype = _float_dtype("generalized_normal", dtype)
    shape = static_shape("generalized_normal", shape)
    p = convert(asarray(p), dtype)
    keys = split(key)
    g = gamma(keys[0], 1.0 / p, shape, dtype)
    r = rademacher(keys[1], shape, dtype)
    return r * g ** (1.0 / p)


def ball(key, d, p=2, shape=(), dtype=None):
    """Points uniform in the unit p-norm ball of dimension d (shape `shape + (d,)`)."""
    key = _check_key("ball", key)
    dtype = _float_dtype("ball", dtype)
    shape = static_shape("ball", shape)
    d = static_int("ball", "d", d)
    k1, k2 = _split2(key)
    g = generalized_normal(k1, p, shape + (d,), dtype)
    e = exponential(k2, shape, dtype)
    return g / ((jnp.sum(jnp.abs(g) ** p, axis=-1) + e) ** (1.0 / p))[..., None]


# The discrete samplers live in their own file; `jitcore.random` re-exports both through here.
from .random_discrete import *  # noqa: E402,F401,F403
from .random_discrete import __all__ as _discrete_all  # noqa: E402

__all__ += _discrete_all
