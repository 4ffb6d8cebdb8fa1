"""`jitcore.random`: JAX's counter-based random numbers (threefry-2x32), with JAX's API and bits.

    key = jitcore.random.PRNGKey(0)          # uint32[2]
    k1, k2 = jitcore.random.split(key)
    x = jitcore.random.normal(k1, (3, 4))

A key is a plain uint32[2] array: JAX's raw ("legacy") key. `key(seed)` returns the same thing,
since jitcore has no separate typed-key dtype; `key_data`/`wrap_key_data` check and pass keys
through. Keys are ordinary arrays, so they can be jit arguments, vmapped over (a batch of keys
from `split(key, n)`), and stored in pytrees.

Everything is written with jitcore's own uint32 ops, so samplers run eagerly, under jit and under
vmap. The algorithms follow JAX with `jax_threefry_partitionable=True` (its default): keys and
bits come from hashing a 64-bit iota (split in two 32-bit words) with the key, and the samplers
turn bits into values as JAX does (uniform: random mantissa bits; normal: sqrt(2) erfinv(u) with
Giles' polynomial; gumbel, categorical, choice, permutation as in JAX), so the values match
JAX's bit for bit, up to rounding differences in transcendental functions.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops.core import Tracer
from ops.errors import DtypeError, ShapeError

from . import eager, lax
from . import numpy as jnp
from .array import Array
from .numpy._promotion import aval_of, asarray, broadcast_shapes, convert, result_dtype
from .numpy._shape import axis_of, static_int, static_shape
from .scipy import special as _special
from ._threefry import fold_in_data, iota_2x32, key_halves, seed_words, threefry2x32

__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "clone", "split", "fold_in", "bits",
           "uniform", "normal", "truncated_normal", "randint", "bernoulli", "categorical",
           "choice", "permutation", "gumbel", "exponential", "multivariate_normal",
           "threefry2x32",
           *"""gamma loggamma beta dirichlet laplace logistic t cauchy chisquare f pareto weibull_min
           rademacher orthogonal ball triangular maxwell double_sided_maxwell generalized_normal
           rayleigh wald lognormal poisson binomial multinomial geometric""".split()]

_U32 = np.dtype(np.uint32)


# --- keys -----------------------------------------------------------------------------------

def _check_key(name, key):
    """`key` as a uint32[2] array (or tracer), or an error naming `name`."""
    if not isinstance(key, (Array, Tracer)):
        if not isinstance(key, (np.ndarray, np.generic)):
            raise DtypeError(f"{name}: the key must be a uint32[2] array from PRNGKey, key or "
                             f"split, got {type(key).__name__} {key!r:.60}")
        key = asarray(key)
    a = aval_of(key)
    if a.dtype != _U32:
        raise DtypeError(f"{name}: the key must be a uint32[2] array, got {a.str_short()}",
                         hint="create keys with jitcore.random.PRNGKey(seed) or key(seed)")
    if a.shape != (2,):
        hint = ("map over a batch of keys with jitcore.vmap" if a.ndim > 1 and a.shape[-1] == 2
                else "create keys with jitcore.random.PRNGKey(seed) or key(seed)")
        raise ShapeError(f"{name}: expects a single key of shape (2,), got a key array "
                         f"{a.str_short()}", hint=hint)
    return key


def PRNGKey(seed):
    """A key from an integer seed: the seed's 64 bits as two uint32 words (high, low)."""
    return _seed_key("PRNGKey", seed)


def key(seed):
    """Same as `PRNGKey`: jitcore's keys are always raw uint32[2] arrays (no typed keys)."""
    return _seed_key("key", seed)


def _seed_key(name, seed):
    if isinstance(seed, bool) or isinstance(seed, (float, complex)):
        raise DtypeError(f"{name}: the seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        if not -2 ** 63 <= seed < 2 ** 64:
            raise OverflowError(f"{name}: seed {seed} does not fit in 64 bits")
        seed %= 2 ** 64
        return Array(np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=_U32))
    seed = asarray(seed)
    a = aval_of(seed)
    if a.shape:
        raise ShapeError(f"{name}: the seed must be a scalar, got {a.str_short()}",
                         hint="map over seeds with jitcore.vmap")
    if a.dtype.kind not in "iu":
        raise DtypeError(f"{name}: the seed must be an integer, got {a.str_short()}")
    return jnp.stack(seed_words(seed))


def key_data(keys):
    """The uint32 data of `keys` (...,2): the keys themselves, since keys are raw arrays."""
    keys = asarray(keys)
    a = aval_of(keys)
    if a.dtype != _U32 or not a.shape or a.shape[-1] != 2:
        raise DtypeError(f"key_data: keys must be a uint32 array of shape (..., 2), "
                         f"got {a.str_short()}")
    return keys


def wrap_key_data(key_bits_array, *, impl=None):
    """Keys from their uint32 data (shape (..., 2)); only 'threefry2x32' is implemented."""
    if impl not in (None, "threefry2x32"):
        raise ValueError(f"wrap_key_data: only impl='threefry2x32' is available, got {impl!r}")
    return key_data(key_bits_array)


def clone(key):
    return key


def split(key, num=2):
    """`num` new keys (an int, or a shape: the result has shape `num + (2,)`)."""
    key = _check_key("split", key)
    shape = static_shape("split", num)
    return eager.call(_split, math.prod(shape), key, shape, static_argnums=(1,))


def _split(key, shape):
    hi, lo = iota_2x32(shape)
    k1, k2 = key_halves(key)
    b1, b2 = threefry2x32(k1, k2, hi, lo)
    return jnp.stack([b1, b2], axis=len(shape))


def _split2(key):
    keys = split(key)
    return keys[0], keys[1]


def fold_in(key, data):
    """A new key from `key` and a 32-bit integer `data` (e.g. a step number)."""
    key = _check_key("fold_in", key)
    if isinstance(data, int) and not isinstance(data, bool):
        data = Array(np.array(data % 2 ** 32, dtype=_U32))
    data = asarray(data)
    a = aval_of(data)
    if a.shape:
        raise ShapeError(f"fold_in: data must be a scalar, got {a.str_short()}",
                         hint="map over data with jitcore.vmap")
    if a.dtype.kind not in "iub":
        raise DtypeError(f"fold_in: data must be an integer, got {a.str_short()}")
    return fold_in_data(key, lax.convert_element_type(data, _U32))


def _random_bits(key, bit_width, shape):
    """Bits as JAX's partitionable threefry: hash each element's 64-bit index with the key.
    Called eagerly for many elements, the ~180 operations run as one compiled kernel per
    (bit width, shape), as JAX jits its samplers (`eager.call`)."""
    return eager.call(_random_bits_body, math.prod(shape), key, bit_width, shape,
                      static_argnums=(1, 2))


def _random_bits_body(key, bit_width, shape):
    hi, lo = iota_2x32(shape)
    k1, k2 = key_halves(key)
    b1, b2 = threefry2x32(k1, k2, hi, lo)
    if bit_width == 64:
        u64 = np.dtype(np.uint64)
        return jnp.left_shift(lax.convert_element_type(b1, u64), 32) | \
            lax.convert_element_type(b2, u64)
    out = b1 ^ b2
    if bit_width == 32:
        return out
    return lax.convert_element_type(out, np.dtype(f"uint{bit_width}"))


def bits(key, shape=(), dtype=None):
    """Uniform random bits as unsigned integers (default uint64, as JAX with x64)."""
    key = _check_key("bits", key)
    shape = static_shape("bits", shape)
    dtype = np.dtype(np.uint64) if dtype is None else dtypes.canonicalize(dtype, "bits: dtype")
    if dtype.kind != "u":
        raise DtypeError(f"bits: dtype must be an unsigned integer type, got {dtype}")
    return _random_bits(key, dtype.itemsize * 8, shape)


# --- argument checks ------------------------------------------------------------------------

def _float_dtype(name, dtype):
    d = dtypes.default_float if dtype is None else dtypes.canonicalize(dtype, f"{name}: dtype")
    if _kind(d) != "f":
        raise DtypeError(f"{name}: dtype must be a floating-point type, got {d}",
                         hint="use e.g. jnp.float32 or jnp.float64")
    return d


def _check_shapes(name, shape, **params):
    """Parameter shapes must broadcast to `shape` (the result's), as JAX requires."""
    shapes = {k: aval_of(v).shape for k, v in params.items()}
    try:
        out = broadcast_shapes(name, shape, *shapes.values())
    except ShapeError:
        out = None
    if out != tuple(shape):
        desc = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ShapeError(f"{name}: parameter shapes ({desc}) must broadcast to the requested "
                         f"shape {tuple(shape)}",
                         hint="a parameter's trailing dimensions must equal the shape's or be 1")


def _shape_or_params(name, shape, *params):
    if shape is None:
        return broadcast_shapes(name, *[aval_of(p).shape for p in params])
    return static_shape(name, shape)


def _leading(x, n, axis):
    """The first `n` entries of `x` along `axis`."""
    return x[(slice(None),) * axis + (slice(0, n),)]


# --- continuous samplers --------------------------------------------------------------------

def _uniform(name, key, shape, dtype, minval, maxval):
    minval = convert(asarray(minval), dtype)
    maxval = convert(asarray(maxval), dtype)
    _check_shapes(name, shape, minval=minval, maxval=maxval)
    finfo = ml_dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    rng_bits = nbits if nmant >= 8 else 8
    uint = np.dtype(f"uint{nbits}")
    b = _random_bits(key, rng_bits, shape)
    if rng_bits != nbits:
        b = lax.convert_element_type(b, uint)
    # Random mantissa under the exponent of 1.0: a float uniform in [1, 2), minus 1.
    one_bits = int(np.array(1.0, dtype).view(uint))
    floats = lax.bitcast_convert_type(jnp.right_shift(b, rng_bits - nmant) | one_bits, dtype)
    floats = floats - 1.0
    return jnp.maximum(minval, floats * (maxval - minval) + minval)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform values in [minval, maxval) (default float64)."""
    key = _check_key("uniform", key)
    shape = static_shape("uniform", shape)
    return eager.call(_uniform, math.prod(shape), "uniform", key, shape,
                      _float_dtype("uniform", dtype), minval, maxval, static_argnums=(0, 2, 3))


def _sqrt2_erfinv(u):
    return math.sqrt(2.0) * _special._in_f32(_special._erfinv_impl, u)


def normal(key, shape=(), dtype=None):
    """Standard normal values: sqrt(2) * erfinv(u) with u uniform in (-1, 1)."""
    key = _check_key("normal", key)
    shape = static_shape("normal", shape)
    dtype = _float_dtype("normal", dtype)
    # Eagerly on many elements: bits, uniform and erfinv as one compiled program per shape.
    return eager.call(_normal, math.prod(shape), key, shape, dtype, static_argnums=(1, 2))


def _normal(key, shape, dtype):
    lo = float(np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype)))
    return _sqrt2_erfinv(_uniform("normal", key, shape, dtype, lo, 1.0))


def _nextafter(x, upward):
    """The next representable float after `x` toward +inf (`upward`) or -inf."""
    d = aval_of(x).dtype
    idt = np.dtype(f"int{d.itemsize * 8}")
    as_int = lax.bitcast_convert_type(x, idt)
    # On the signed view, a positive float's successor is +1 and a negative float's is -1.
    away_from_zero = (x > 0) if upward else (x < 0)
    stepped = lax.bitcast_convert_type(as_int + jnp.where(away_from_zero, 1, -1), d)
    tiny = float(ml_dtypes.finfo(d).smallest_subnormal)
    out = jnp.where(x == 0, tiny if upward else -tiny, stepped)
    limit = np.inf if upward else -np.inf
    return jnp.where(jnp.isnan(x) | (x == limit), x, out)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal values conditioned on lower < x < upper (the open interval)."""
    key = _check_key("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    lower = convert(asarray(lower), dtype)
    upper = convert(asarray(upper), dtype)
    shape = _shape_or_params("truncated_normal", shape, lower, upper)
    _check_shapes("truncated_normal", shape, lower=lower, upper=upper)
    s2 = math.sqrt(2.0)
    a = _special.erf(lower / s2)
    b = _special.erf(upper / s2)
    out = _sqrt2_erfinv(_uniform("truncated_normal", key, shape, dtype, a, b))
    # Rounding (or u == a exactly) could land on a bound: clamp into the open interval.
    lo = _nextafter(lax.stop_gradient(lower), True)
    hi = _nextafter(lax.stop_gradient(upper), False)
    return jnp.minimum(jnp.maximum(out, lo), hi)


def exponential(key, shape=(), dtype=None):
    """Exponential values with rate 1: -log(1 - u)."""
    key = _check_key("exponential", key)
    u = _uniform("exponential", key, static_shape("exponential", shape),
                 _float_dtype("exponential", dtype), 0.0, 1.0)
    return -jnp.log1p(-u)


def _gumbel(name, key, shape, dtype, mode):
    finfo = ml_dtypes.finfo(dtype)
    if mode == "low":
        u = _uniform(name, key, shape, dtype, float(finfo.tiny), 1.0)
        return -jnp.log(-jnp.log(u))
    both = _uniform(name, key, (2,) + tuple(shape), dtype, 0.0, 1.0)
    high, low = both[0], both[1]
    x = jnp.where(high >= 0.5, high, high + 2.0 ** -finfo.nmant * low + float(finfo.tiny))
    return -jnp.log(-jnp.log1p(-x))


def _gumbel_mode(name, mode):
    mode = "low" if mode is None else mode
    if mode not in ("low", "high"):
        raise ValueError(f"{name}: mode must be 'low' or 'high', got {mode!r}")
    return mode


def gumbel(key, shape=(), dtype=None, mode=None):
    """Standard Gumbel values -log(-log(u)); mode='high' uses twice the bits for the tail."""
    key = _check_key("gumbel", key)
    return _gumbel("gumbel", key, static_shape("gumbel", shape),
                   _float_dtype("gumbel", dtype), _gumbel_mode("gumbel", mode))


def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Booleans that are True with probability p (p must be floating point)."""
    key = _check_key("bernoulli", key)
    if mode not in ("low", "high"):
        raise ValueError(f"bernoulli: mode must be 'low' or 'high', got {mode!r}")
    p = asarray(p)
    dtype = aval_of(p).dtype
    if _kind(dtype) != "f":
        raise DtypeError(f"bernoulli: the probability p must be floating point, got "
                         f"{aval_of(p).str_short()}", hint="pass p as a float, e.g. 0.5")
    p = convert(p, dtype)
    shape = _shape_or_params("bernoulli", shape, p)
    _check_shapes("bernoulli", shape, p=p)
    if mode == "high":
        both = _uniform("bernoulli", key, (2,) + tuple(shape), dtype, 0.0, 1.0)
        u1, u2 = both[0], both[1] * 2.0 ** -ml_dtypes.finfo(dtype).nmant
        return u2 < p - u1
    return _uniform("bernoulli", key, shape, dtype, 0.0, 1.0) < p


# --- integers -------------------------------------------------------------------------------

def _convert_and_clip(val, dtype):
    """`val` (integer) as `dtype`, saturating at the range both types can hold."""
    vd = aval_of(val).dtype
    lo = max(np.iinfo(dtype).min, np.iinfo(vd).min)
    hi = min(np.iinfo(dtype).max, np.iinfo(vd).max)
    clipped = jnp.minimum(jnp.maximum(val, asarray(np.array(lo, vd))), asarray(np.array(hi, vd)))
    return lax.convert_element_type(clipped, dtype)


def _int_arg(x):
    x = asarray(x)
    return x if aval_of(x).dtype.kind in "iu" else lax.convert_element_type(x, np.int64)


def _randint(key, minval, maxval, shape, dtype):
    nbits = dtype.itemsize * 8
    # maxval may exceed the dtype (randint(k, s, 0, 256, uint8)): then the span is one larger.
    max_out_of_range = maxval > _convert_and_clip(
        asarray(np.array(np.iinfo(dtype).max, dtype)), aval_of(maxval).dtype)
    minval = _convert_and_clip(minval, dtype)
    maxval = _convert_and_clip(maxval, dtype)
    k1, k2 = _split2(key)
    higher, lower = _random_bits(k1, nbits, shape), _random_bits(k2, nbits, shape)
    unsigned = np.dtype(f"uint{nbits}")
    span = lax.convert_element_type(maxval - minval, unsigned)
    span = jnp.where(maxval <= minval, asarray(np.array(1, unsigned)), span)
    span = jnp.where(max_out_of_range & (maxval > minval), span + 1, span)
    # (2 * nbits random bits) mod span, as ((hi mod span) * 2**nbits + lo) mod span, with
    # 2**nbits mod span squared from 2**(nbits/2) to stay in range (wrapping as JAX does).
    multiplier = jnp.fmod(asarray(np.array(2 ** (nbits // 2), unsigned)), span)
    multiplier = jnp.fmod(multiplier * multiplier, span)
    offset = jnp.fmod(jnp.fmod(higher, span) * multiplier + jnp.fmod(lower, span), span)
    return minval + lax.convert_element_type(offset, dtype)


def randint(key, shape, minval, maxval, dtype=None):
    """Integers uniform in [minval, maxval) (default int64); slightly biased when the range is
    not a power of two, as in JAX (2 * nbits random bits per value keep the bias tiny)."""
    key = _check_key("randint", key)
    shape = static_shape("randint", shape)
    dtype = dtypes.default_int if dtype is None else dtypes.canonicalize(dtype, "randint: dtype")
    if dtype.kind not in "iu":
        raise DtypeError(f"randint: dtype must be an integer type, got {dtype}")
    minval, maxval = _int_arg(minval), _int_arg(maxval)
    _check_shapes("randint", shape, minval=minval, maxval=maxval)
    info = np.iinfo(dtype)
    if info.bits < 32:
        # Narrow types sample in 32 bits (less bias), then convert.
        i32 = np.dtype(np.int32)
        lo = jnp.clip(lax.convert_element_type(minval, i32), int(info.min), int(info.max))
        hi = jnp.clip(lax.convert_element_type(maxval, i32), int(info.min), int(info.max) + 1)
        return lax.convert_element_type(_randint(key, lo, hi, shape, i32), dtype)
    return _randint(key, minval, maxval, shape, dtype)


# --- permutations and choices ---------------------------------------------------------------

def _shuffle(key, x, axis):
    """Sort by fresh random 32-bit keys, enough rounds that ties are unlikely (JAX's rule:
    ceil(3 ln n / ln(2**32 - 1)) rounds)."""
    size = aval_of(x).size
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        key, subkey = _split2(key)
        sort_keys = _random_bits(subkey, 32, aval_of(x).shape)
        _, x = lax.sort((sort_keys, x), dimension=axis, num_keys=1)
    return x


def permutation(key, x, axis=0, independent=False):
    """A random permutation of range(x) (an int), or of `x` along `axis`; `independent`
    shuffles each slice along `axis` separately."""
    key = _check_key("permutation", key)
    if aval_of(x).ndim == 0:
        if aval_of(x).dtype.kind not in "iu":
            raise DtypeError("permutation: x must be an integer or an array with at least one "
                             f"dimension, got {aval_of(x).str_short()}")
        n = static_int("permutation", "x", x)
        return _shuffle(key, jnp.arange(n), 0)
    x = asarray(x)
    a = aval_of(x)
    axis = axis_of("permutation", axis, a)
    if independent or a.ndim == 1:
        return _shuffle(key, x, axis)
    ind = _shuffle(key, jnp.arange(a.shape[axis]), 0)
    return jnp.take(x, ind, axis=axis)


def _top_k_indices(x, k):
    """Indices of the k largest entries along the last axis, largest first (ties: lowest
    index first, as lax.top_k)."""
    a = aval_of(x)
    idx = lax.broadcasted_iota(np.int64, a.shape, a.ndim - 1)
    _, order = lax.sort((-x, idx), dimension=a.ndim - 1, num_keys=1)
    return order[..., :k]


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Samples from `a` (an array, or range(a) for an int) along `axis`, with or without
    replacement, uniformly or with probabilities `p`."""
    key = _check_key("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"choice: shape must be a sequence, got {shape!r}")
    shape = static_shape("choice", shape)
    arr = asarray(a)
    av = aval_of(arr)
    if av.ndim == 0:
        n_inputs = static_int("choice", "a", a)
    else:
        axis = axis_of("choice", axis, av)
        n_inputs = av.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return jnp.zeros(shape, dtype=av.dtype)
    if n_inputs <= 0:
        raise ValueError("choice: a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"choice: cannot take a larger sample (size {n_draws}) than the "
                         f"population (size {n_inputs}) when replace=False")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if av.ndim == 0 else jnp.take(arr, ind, axis=axis)
        else:
            perm = permutation(key, n_inputs if av.ndim == 0 else arr, axis)
            result = _leading(perm, n_draws, 0 if av.ndim == 0 else axis)
    else:
        d, _ = result_dtype(p)
        p_arr = convert(asarray(p), d if _kind(d) == "f" else dtypes.default_float)
        if aval_of(p_arr).shape != (n_inputs,):
            raise ShapeError(f"choice: p must be None or a 1-d vector with the size of "
                             f"a.shape[axis] ({n_inputs}), got {aval_of(p_arr).str_short()}")
        if replace:
            p_cuml = jnp.cumsum(p_arr)
            r = p_cuml[-1] * (1.0 - uniform(key, shape, dtype=aval_of(p_cuml).dtype))
            ind = lax.convert_element_type(jnp.searchsorted(p_cuml, r), np.int64)
        else:
            g = _gumbel("choice", key, (n_inputs,), aval_of(p_arr).dtype,
                        _gumbel_mode("choice", mode)) + jnp.log(p_arr)
            ind = _top_k_indices(g, n_draws)
        result = ind if av.ndim == 0 else jnp.take(arr, ind, axis=axis)
    out_shape = shape if av.ndim == 0 else av.shape[:axis] + shape + av.shape[axis + 1:]
    return jnp.reshape(result, out_shape)


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Category indices drawn from softmax(logits) along `axis` (the Gumbel-max trick; without
    replacement, the Gumbel top-k trick)."""
    key = _check_key("categorical", key)
    logits = asarray(logits)
    la = aval_of(logits)
    if _kind(la.dtype) != "f":
        raise DtypeError(f"categorical: logits must be floating point, got {la.str_short()}")
    axis = axis_of("categorical", axis, la)
    batch_shape = la.shape[:axis] + la.shape[axis + 1:]
    if shape is None:
        shape = batch_shape
    else:
        shape = static_shape("categorical", shape)
        if broadcast_shapes("categorical", shape, batch_shape) != shape:
            raise ShapeError(f"categorical: shape {shape} must end with (or broadcast from) "
                             f"the logits' batch shape {batch_shape}")
    mode = _gumbel_mode("categorical", mode)
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis, la.shape[axis])
        g = _gumbel("categorical", key, prefix + tuple(logits_shape), la.dtype, mode)
        expanded = jnp.reshape(logits, (1,) * len(prefix) + la.shape)
        return jnp.argmax(g + expanded, axis=axis + len(prefix))
    k = math.prod(prefix)
    if k > la.shape[axis]:
        raise ValueError(f"categorical: the number of samples without replacement ({k}) "
                         f"cannot exceed the number of categories ({la.shape[axis]})")
    perturbed = logits + _gumbel("categorical", key, la.shape, la.dtype, mode)
    ind = _top_k_indices(jnp.moveaxis(perturbed, axis, -1), k)  # batch_shape + (k,)
    # int32, as the indices of JAX's lax.top_k.
    return lax.convert_element_type(jnp.reshape(jnp.moveaxis(ind, -1, 0), shape), np.int32)


# --- multivariate normal --------------------------------------------------------------------

def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Samples mean + F z with F F^T = cov and z standard normal; the result has shape
    `shape + mean.shape[-1:]`. F is JAX's: the Cholesky factor (method='cholesky'), or
    V sqrt(w) from `eigh` / U sqrt(s) from `svd`, which also serve singular covariances."""
    key = _check_key("multivariate_normal", key)
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError("multivariate_normal: method must be one of 'svd', 'eigh', "
                         f"'cholesky', got {method!r}")
    d, _ = result_dtype(mean, cov)
    d = d if _kind(d) == "f" else dtypes.default_float
    mean, cov = convert(asarray(mean), d), convert(asarray(cov), d)
    dtype = d if dtype is None else _float_dtype("multivariate_normal", dtype)
    ma, ca = aval_of(mean), aval_of(cov)
    if ma.ndim < 1 or ca.ndim < 2:
        raise ShapeError(f"multivariate_normal: needs mean.ndim >= 1 and cov.ndim >= 2, got "
                         f"mean {ma.str_short()} and cov {ca.str_short()}")
    n = ma.shape[-1]
    if ca.shape[-2:] != (n, n):
        raise ShapeError(f"multivariate_normal: cov must have shape (..., {n}, {n}) to match "
                         f"mean {ma.str_short()}, got {ca.str_short()}")
    batch = broadcast_shapes("multivariate_normal", ma.shape[:-1], ca.shape[:-2])
    if shape is None:
        shape = batch
    else:
        shape = static_shape("multivariate_normal", shape)
        if broadcast_shapes("multivariate_normal", shape, batch) != shape:
            raise ShapeError(f"multivariate_normal: shape {shape} must broadcast with the "
                             f"batch shapes of mean {ma.shape[:-1]} and cov {ca.shape[:-2]}")
    if method == "svd":
        u, sv, _ = jnp.linalg.svd(cov)
        factor = u * jnp.sqrt(sv[..., None, :])
    elif method == "eigh":
        w, v = jnp.linalg.eigh(cov)
        factor = v * jnp.sqrt(w[..., None, :])
    else:
        factor = jnp.linalg.cholesky(cov)
    z = normal(key, shape + (n,), dtype)
    return mean + jnp.matmul(factor, z[..., None])[..., 0]


from .random_distributions import *  # noqa: E402,F401,F403  (gamma, poisson, ...)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
