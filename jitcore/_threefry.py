"""The threefry-2x32 block cipher and the key arithmetic of `jitcore.random`.

Threefry-2x32 with 20 rounds, from Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as
easy as 1, 2, 3" (SC'11): two 32-bit words are mixed by rounds of add / rotate-left / xor, with
the rotation constants 13, 15, 26, 6 and 17, 29, 16, 24 taken four rounds at a time, and the
key (with a third word k0 ^ k1 ^ 0x1BD11BDA) injected every four rounds together with the
injection count. Written with jitcore.numpy's uint32 ops (which wrap mod 2**32), so it runs
eagerly, under jit and under vmap.
"""
from __future__ import annotations

import math

import numpy as np

from ops import core

from . import lax
from . import numpy as jnp
from .numpy._promotion import aval_of

_U32 = np.dtype(np.uint32)
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotate_left(v, r):
    return jnp.left_shift(v, r) | jnp.right_shift(v, 32 - r)


def threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32-20 of the counter words (x1, x2) under the key (k1, k2): uint32 arrays
    that broadcast together. Returns the two output words.

    Called eagerly on a few words (deriving keys: split, fold_in, where the same small shapes
    recur), the ~180 operations run as one compiled kernel, cached per shape, instead of ~180
    eager operations (5 ms). Large one-off shapes (the bits of a parameter's initial values) run
    eagerly: each new shape would pay a compile (~0.3 s). Under a trace they are traced in
    place."""
    if not core.is_tracing() and max(aval_of(v).size for v in (k1, k2, x1, x2)) <= 16:
        global _compiled
        if _compiled is None:
            from .jit import jit
            _compiled = jit(_threefry2x32)
        return _compiled(k1, k2, x1, x2)
    return _threefry2x32(k1, k2, x1, x2)


_compiled = None


def _threefry2x32(k1, k2, x1, x2):
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = _rotate_left(x2, r) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + (i + 1)
    return x1, x2


def key_halves(key):
    """The two uint32 words of a uint32[2] key, as scalars."""
    return (jnp.reshape(lax.slice(key, (0,), (1,)), ()),
            jnp.reshape(lax.slice(key, (1,), (2,)), ()))


def iota_2x32(shape):
    """The row-major index of every element of `shape` as a 64-bit count, split into its high
    and low uint32 words (JAX's iota_2x32_shape)."""
    shape = tuple(shape)
    size = math.prod(shape)
    if size < 2 ** 32:
        lo = jnp.reshape(lax.iota(_U32, size), shape)
        return jnp.zeros(shape, _U32), lo
    count = jnp.reshape(lax.iota(np.uint64, size), shape)
    return (lax.convert_element_type(jnp.right_shift(count, 32), _U32),
            lax.convert_element_type(count, _U32))


def seed_words(seed):
    """(high, low) uint32 words of an integer seed array; seeds of 32 bits or fewer have a
    zero high word, as JAX's (a logical shift by 32 of a 32-bit value is 0)."""
    d = aval_of(seed).dtype
    low = lax.convert_element_type(seed, _U32)
    if d.itemsize < 8:
        return jnp.zeros((), _U32), low
    as_u64 = lax.convert_element_type(seed, np.uint64)  # keeps the bits of a negative seed
    return lax.convert_element_type(jnp.right_shift(as_u64, 32), _U32), low


def fold_in_data(key, data):
    """JAX's threefry_fold_in: the key hashed with the counter (0, data), data a uint32 scalar."""
    k1, k2 = key_halves(key)
    y1, y2 = threefry2x32(k1, k2, jnp.zeros((), _U32), data)
    return jnp.stack([y1, y2])
