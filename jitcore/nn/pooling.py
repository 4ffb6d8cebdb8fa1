"""Pooling as flax.linen writes it: `pool`, `max_pool`, `min_pool`, `avg_pool`.

Inputs are laid out (batch..., window dims..., features): the window slides over the axes
between the leading batch axes and the trailing feature axis (NHWC for images); an input with
no batch axis, (window dims..., features), is pooled as a batch of one. `padding` is "VALID",
"SAME" or one (low, high) pair per window axis. Every function is `lax.reduce_window`, so
max/min/sum pooling run as the windowed-reduction primitives, with their derivatives.
"""
from __future__ import annotations

import math

from .. import lax
from .. import numpy as jnp
from ..numpy._promotion import aval_of

__all__ = ["pool", "max_pool", "min_pool", "avg_pool"]


def pool(inputs, init, reduce_fn, window_shape, strides=None, padding="VALID"):
    """flax.linen's `pool`: `lax.reduce_window` of `reduce_fn` over the window axes."""
    window_shape = tuple(int(w) for w in window_shape)
    k = len(window_shape)
    strides = tuple(int(s) for s in strides) if strides is not None else (1,) * k
    if len(strides) != k:
        raise ValueError(f"pool: strides {strides} must have one entry per window axis "
                         f"{window_shape}")
    ndim = aval_of(inputs).ndim
    num_batch = ndim - (k + 1)
    single = num_batch == 0
    if num_batch < 0:
        raise ValueError(f"pool: an input of shape {aval_of(inputs).shape} has no feature "
                         f"axis after the window axes of {window_shape}")
    if single:
        inputs, num_batch = jnp.expand_dims(inputs, 0), 1
    dims = (1,) * num_batch + window_shape + (1,)
    steps = (1,) * num_batch + strides + (1,)
    if not isinstance(padding, str):
        padding = tuple(tuple(int(v) for v in p) for p in padding)
        if len(padding) != k or any(len(p) != 2 for p in padding):
            raise ValueError(f"pool: padding {padding} must be one (low, high) pair per "
                             f"window axis {window_shape}")
        padding = ((0, 0),) * num_batch + padding + ((0, 0),)
    y = lax.reduce_window(inputs, init, reduce_fn, dims, steps, padding)
    return jnp.squeeze(y, axis=0) if single else y


def max_pool(inputs, window_shape, strides=None, padding="VALID"):
    """The maximum over each window (padding never wins)."""
    return pool(inputs, -jnp.inf, lax.max, window_shape, strides, padding)


def min_pool(inputs, window_shape, strides=None, padding="VALID"):
    """The minimum over each window (padding never wins)."""
    return pool(inputs, jnp.inf, lax.min, window_shape, strides, padding)


def avg_pool(inputs, window_shape, strides=None, padding="VALID", count_include_pad=True):
    """The mean over each window: divided by the window's size, or with
    `count_include_pad=False` by the number of input elements it covers."""
    y = pool(inputs, 0.0, lax.add, window_shape, strides, padding)
    if count_include_pad:
        return y / math.prod(window_shape)
    shape = aval_of(inputs).shape
    div_shape = shape[:-1] + (1,)
    if len(div_shape) - 2 == len(window_shape):
        div_shape = (1,) + div_shape[1:]
    counts = pool(jnp.ones(div_shape, aval_of(y).dtype), 0.0, lax.add, window_shape, strides,
                  padding)
    return y / counts

