"""`jitcore.nn.initializers`: weight initializers with `jax.nn.initializers`' API.

Each factory returns `init(key, shape, dtype=float64) -> Array`; the fan-based ones follow JAX's
`variance_scaling` (fans from `in_axis`/`out_axis`/`batch_axis`, the rest of the shape being the
receptive field), including its truncated-normal correction.
"""
from __future__ import annotations

import math

from ops import dtypes

from .. import numpy as jnp
from .. import random
from ..numpy._shape import static_shape

__all__ = ["zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal"]

# The standard deviation of a standard normal truncated to (-2, 2): dividing by it gives the
# truncated samples the requested variance.
_TRUNCATED_STDDEV = .87962566103423978


def _dtype(dtype):
    return dtypes.default_float if dtype is None else dtypes.canonicalize(dtype, "init: dtype")


def zeros(key, shape, dtype=None):
    return jnp.zeros(static_shape("zeros", shape), _dtype(dtype))


def ones(key, shape, dtype=None):
    return jnp.ones(static_shape("ones", shape), _dtype(dtype))


def constant(value, dtype=None):
    def init(key, shape, dtype=dtype):
        return jnp.full(static_shape("constant", shape), value, dtype=_dtype(dtype))
    return init


def uniform(scale=1e-2, dtype=None):
    """Uniform in [0, scale)."""
    def init(key, shape, dtype=dtype):
        d = _dtype(dtype)
        return random.uniform(key, shape, d) * jnp.array(scale, d)
    return init


def normal(stddev=1e-2, dtype=None):
    def init(key, shape, dtype=dtype):
        d = _dtype(dtype)
        return random.normal(key, shape, d) * jnp.array(stddev, d)
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """stddev times a standard normal truncated to (lower, upper) (not rescaled)."""
    def init(key, shape, dtype=dtype):
        d = _dtype(dtype)
        return random.truncated_normal(key, lower, upper, shape, d) * jnp.array(stddev, d)
    return init


def _axis_size(shape, axis):
    if isinstance(axis, int):
        return shape[axis]
    return math.prod(shape[i] for i in axis)


def _compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"variance_scaling: cannot compute fans of a {len(shape)}-d weight "
                         f"shape {shape} with the default in_axis; give in_axis explicitly")
    in_size = _axis_size(shape, in_axis)
    out_size = _axis_size(shape, out_axis)
    batch_size = _axis_size(shape, batch_axis)
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """Samples with variance scale / n, n the fan given by `mode` ('fan_in', 'fan_out',
    'fan_avg', 'fan_geo_avg'), from `distribution` ('truncated_normal', 'normal',
    'uniform')."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"variance_scaling: invalid mode {mode!r}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"variance_scaling: invalid distribution {distribution!r}")

    def init(key, shape, dtype=dtype):
        shape = static_shape("variance_scaling", shape)
        d = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = jnp.array(scale / denominator, dtype=d)
        if distribution == "truncated_normal":
            stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STDDEV, d)
            return random.truncated_normal(key, -2, 2, shape, d) * stddev
        if distribution == "normal":
            return random.normal(key, shape, d) * jnp.sqrt(variance)
        return random.uniform(key, shape, d, -1) * jnp.sqrt(3 * variance)
    return init


def _fan_factory(scale, mode, distribution, name):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis=in_axis, out_axis=out_axis,
                                batch_axis=batch_axis, dtype=dtype)
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"variance_scaling({scale}, {mode!r}, {distribution!r}): returns "
                       "init(key, shape, dtype).")
    return factory


glorot_uniform = xavier_uniform = _fan_factory(1.0, "fan_avg", "uniform", "glorot_uniform")
glorot_normal = xavier_normal = _fan_factory(1.0, "fan_avg", "truncated_normal", "glorot_normal")
lecun_uniform = _fan_factory(1.0, "fan_in", "uniform", "lecun_uniform")
lecun_normal = _fan_factory(1.0, "fan_in", "truncated_normal", "lecun_normal")
he_uniform = kaiming_uniform = _fan_factory(2.0, "fan_in", "uniform", "he_uniform")
he_normal = kaiming_normal = _fan_factory(2.0, "fan_in", "truncated_normal", "he_normal")
