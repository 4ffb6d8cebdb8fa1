"""Discrete distributions of `jitcore.random` (re-exported there): poisson, binomial,
multinomial and geometric, with JAX's names, signatures and algorithms (and so its samples).

Poisson uses Knuth's product of uniforms for lam < 10 and Hormann's transformed rejection
(PTRS) above; binomial uses the geometric-waiting-time inversion for n * min(p, 1-p) <= 10 and
BTRS rejection above (as TensorFlow and JAX). Both run as one `lax.while_loop` over the whole
array that stops when every element is done, so they work under jit and vmap.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ops import dtypes
from ops.errors import DtypeError, ShapeError

from . import lax
from . import numpy as jnp
from .numpy._promotion import aval_of, asarray, broadcast_shapes, convert, result_dtype
from .numpy._shape import static_shape
from .scipy import special as _special
from .random import _check_key, _check_shapes, _split2, split, uniform

__all__ = ["poisson", "binomial", "multinomial", "geometric"]

_F32 = np.dtype(np.float32)


def _int_dtype(name, dtype):
    d = dtypes.default_int if dtype is None else dtypes.canonicalize(dtype, f"{name}: dtype")
    if d.kind not in "iu":
        raise DtypeError(f"{name}: dtype must be an integer type, got {d}")
    return d


def _inexact(x):
    x = asarray(x)
    d = aval_of(x).dtype
    return x if d.kind == "f" else convert(x, dtypes.default_float)


def _iters(dtype):
    """JAX's loop bound (the dtype's largest value), capped to the int32 loop counter."""
    big = np.iinfo(dtype).max if dtype.kind in "iu" else ml_dtypes.finfo(dtype).max
    return int(min(big, np.iinfo(np.int32).max))


# --- poisson --------------------------------------------------------------------------------

def _poisson_knuth(key, lam, shape, dtype, max_iters):
    def body(carry):
        i, k, rng, log_prod = carry
        rng, sub = _split2(rng)
        k = lax.select(log_prod > -lam, k + 1, k)
        return i + 1, k, rng, log_prod + jnp.log(uniform(sub, shape, _F32))

    def cond(carry):
        return jnp.any(carry[3] > -lam) & (carry[0] < max_iters)

    init = (jnp.int32(0), jnp.zeros(shape, dtype), key, jnp.zeros(shape, _F32))
    k = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(k - 1, dtype)


def _poisson_rejection(key, lam, shape, dtype, max_iters):
    log_lam = jnp.log(lam)
    b = 0.931 + 2.53 * jnp.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split(rng, 3)
        u = uniform(keys[1], shape, _F32) - 0.5
        v = uniform(keys[2], shape, _F32)
        us = 0.5 - jnp.abs(u)
        k = jnp.floor((2 * a / us + b) * u + lam + 0.43)
        s = jnp.log(v * inv_alpha / (a / (us * us) + b))
        t = -lam + k * log_lam - _special.gammaln(k + 1)
        accept1 = (us >= 0.07) & (v <= v_r)
        reject = (k < 0) | ((us < 0.013) & (v > us))
        accept = accept1 | (~reject & (s <= t))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, keys[0]

    def cond(carry):
        return jnp.any(~carry[2]) & (carry[0] < max_iters)

    init = (jnp.int32(0), jnp.full(shape, -1.0, _F32), jnp.zeros(shape, bool), key)
    return lax.convert_element_type(lax.while_loop(cond, body, init)[1], dtype)


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) counts (default integer dtype; lam is used in float32, as in JAX)."""
    key = _check_key("poisson", key)
    dtype = _int_dtype("poisson", dtype)
    lam = asarray(lam)
    shape = aval_of(lam).shape if shape is None else static_shape("poisson", shape)
    _check_shapes("poisson", shape, lam=lam)
    lam = lax.convert_element_type(jnp.broadcast_to(lam, shape), _F32)
    use_knuth = jnp.isnan(lam) | (lam < 10)
    lam_knuth = lax.select(use_knuth, lam, jnp.zeros_like(lam))
    lam_rejection = lax.select(use_knuth, jnp.full_like(lam, 1e5), lam)
    max_iters = _iters(dtype)
    result = lax.select(use_knuth,
                        _poisson_knuth(key, lam_knuth, shape, dtype, max_iters),
                        _poisson_rejection(key, lam_rejection, shape, dtype, max_iters))
    return lax.select(lam == 0, jnp.zeros_like(result), result)


# --- binomial -------------------------------------------------------------------------------

_STIRLING_TAIL = [0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287]


def _stirling_approx_tail(k):
    """log(k!) minus its Stirling approximation: tabulated for k <= 9, else a series."""
    d = aval_of(k).dtype
    table = jnp.asarray(np.array(_STIRLING_TAIL, d))
    use_table = k <= 9
    k = jnp.clip(k, 0.0, 9.0)
    kp1sq = (k + 1) * (k + 1)
    approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)
    idx = lax.convert_element_type(jnp.floor(k), np.int32)
    return lax.select(use_table, jnp.take(table, idx), approx)


def _binomial_inversion(key, count, prob, shape, max_iters):
    log1mp = jnp.log1p(-prob)
    d = aval_of(prob).dtype

    def body(carry):
        i, num_geom, geom_sum, rng = carry
        keys = split(rng)
        num_geom = lax.select(geom_sum <= count, num_geom + 1, num_geom)
        geom = jnp.ceil(jnp.log(uniform(keys[0], shape, d)) / log1mp)
        return i + 1, num_geom, geom_sum + geom, keys[1]

    def cond(carry):
        return jnp.any(carry[2] <= count) & (carry[0] < max_iters)

    init = (jnp.int32(0), jnp.zeros(shape, d), jnp.zeros(shape, d), key)
    return lax.while_loop(cond, body, init)[1] - 1


def _btrs(key, count, prob, shape, max_iters):
    d = aval_of(prob).dtype
    stddev = jnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = jnp.floor((count + 1) * prob)

    def body(carry):
        i, k_out, accepted, rng = carry
        keys = split(rng, 3)
        u = uniform(keys[1], shape, d) - 0.5
        v = uniform(keys[2], shape, d)
        us = 0.5 - jnp.abs(u)
        accept1 = (us >= 0.07) & (v <= v_r)
        k = jnp.floor((2 * a / us + b) * u + c)
        reject = (k < 0) | (k > count)
        v = jnp.log(v * alpha / (a / (us * us) + b))
        ub = ((m + 0.5) * jnp.log((m + 1) / (r * (count - m + 1)))
              + (count + 1) * jnp.log((count - m + 1) / (count - k + 1))
              + (k + 0.5) * jnp.log(r * (count - k + 1) / (k + 1))
              + _stirling_approx_tail(m) + _stirling_approx_tail(count - m)
              - _stirling_approx_tail(k) - _stirling_approx_tail(count - k))
        accept = accept1 | (~reject & (v <= ub))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, keys[0]

    def cond(carry):
        return jnp.any(~carry[2]) & (carry[0] < max_iters)

    init = (jnp.int32(0), jnp.full(shape, -1.0, d), jnp.zeros(shape, bool), key)
    return lax.while_loop(cond, body, init)[1]


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial(n, p) counts as floats (default float dtype, as JAX). NaN for NaN or negative
    n or p outside [0, 1) handled as JAX: nan p or n < 0 give NaN, n = inf gives inf."""
    key = _check_key("binomial", key)
    dtype = dtypes.default_float if dtype is None else dtypes.canonicalize(
        dtype, "binomial: dtype")
    if dtype.kind != "f":
        raise DtypeError(f"binomial: dtype must be a floating-point type, got {dtype}")
    n, p = asarray(n), _inexact(p)
    if shape is None:
        shape = broadcast_shapes("binomial", aval_of(n).shape, aval_of(p).shape)
    else:
        shape = static_shape("binomial", shape)
        _check_shapes("binomial", shape, n=n, p=p)
    pd = aval_of(p).dtype
    count = jnp.broadcast_to(convert(n, pd), shape)
    prob = jnp.broadcast_to(p, shape)
    p_lt_half = prob < 0.5
    q = lax.select(p_lt_half, prob, 1.0 - prob)
    count_nan_or_neg = jnp.isnan(count) | (count < 0.0)
    count_inf = jnp.isinf(count)
    q_is_nan = jnp.isnan(q)
    q_l_0 = q < 0.0
    q = lax.select(q_is_nan | q_l_0, jnp.full_like(q, 0.01), q)
    use_inversion = count_nan_or_neg | (count * q <= 10.0)
    count = jnp.floor(count)
    count_inv = lax.select(use_inversion, count, jnp.zeros_like(count))
    count_btrs = lax.select(use_inversion, jnp.full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, jnp.full_like(q, 0.5), q)
    max_iters = _iters(dtype)
    samples = lax.select(use_inversion,
                         _binomial_inversion(key, count_inv, q, shape, max_iters),
                         _btrs(key, count_btrs, q_btrs, shape, max_iters))
    samples = lax.convert_element_type(samples, dtype)
    invalid = q_l_0 | q_is_nan | count_nan_or_neg
    samples = lax.select(invalid, jnp.full_like(samples, np.nan), samples)
    samples = lax.select(count_inf & ~invalid, jnp.full_like(samples, np.inf), samples)
    return lax.select(p_lt_half | count_nan_or_neg | q_is_nan | count_inf, samples,
                      lax.convert_element_type(count, dtype) - samples)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Counts of n draws over the categories of p's last axis (as floats, default float
    dtype): one binomial per category on what is left (stick breaking), as JAX."""
    key = _check_key("multinomial", key)
    d, _ = result_dtype(n, p)
    d = d if d.kind == "f" else dtypes.default_float
    n, p = convert(asarray(n), d), convert(asarray(p), d)
    dtype = dtypes.default_float if dtype is None else dtypes.canonicalize(
        dtype, "multinomial: dtype")
    shape = aval_of(p).shape if shape is None else static_shape("multinomial", shape)
    if not shape:
        raise ShapeError("multinomial: p (or shape) needs a last axis of categories, got ()")
    n = jnp.broadcast_to(n, shape[:-1])
    p = jnp.moveaxis(jnp.broadcast_to(p, shape), -1, 0)
    remaining = jnp.flip(jnp.cumsum(jnp.flip(p, 0), axis=0), 0)
    ratios = p / jnp.where(remaining == 0, 1.0, remaining)
    keys = split(key, shape[-1])

    def step(remainder, ratio_key):
        ratio, k = ratio_key
        count = binomial(k, remainder, jnp.clip(ratio, 0.0, 1.0), dtype=d)
        return remainder - count, count

    _, counts = lax.scan(step, n, (ratios, keys), unroll=unroll)
    return lax.convert_element_type(jnp.moveaxis(counts, 0, -1), dtype)


# --- geometric ------------------------------------------------------------------------------

def geometric(key, p, shape=None, dtype=None):
    """Number of Bernoulli(p) trials up to the first success (>= 1; default integer dtype)."""
    key = _check_key("geometric", key)
    dtype = _int_dtype("geometric", dtype)
    p = _inexact(p)
    shape = aval_of(p).shape if shape is None else static_shape("geometric", shape)
    _check_shapes("geometric", shape, p=p)
    u = uniform(key, shape, aval_of(p).dtype)
    # u == 0 maps to 1 (not log 0 = -inf), as JAX.
    u = jnp.where(u == 0, 1.0, u)
    g = jnp.floor(jnp.log(u) / jnp.broadcast_to(jnp.log1p(-p), shape)) + 1
    return lax.convert_element_type(g, dtype)
