"""`jax.ops` segment reductions: `segment_sum`, `segment_prod`, `segment_max`, `segment_min`.

`out[s] = reduce(data[i] for i where segment_ids[i] == s)`, built on scatter updates. Ids
outside `[0, num_segments)` (negative ones included) are dropped, and empty segments hold the
reduction's identity (0, 1, -inf / the dtype's minimum, +inf / the maximum), as in JAX.
`num_segments` must be static under `jit`; eagerly it defaults to `max(segment_ids) + 1`.
"""
from __future__ import annotations

import sys

import numpy as np

from ops import core
from ops.errors import ConcretizationTypeError

from . import numpy as jnp
from .numpy._promotion import asarray, aval_of

__all__ = ["segment_sum", "segment_prod", "segment_max", "segment_min"]


def _identity(kind, dtype):
    if kind == "add":
        return 0
    if kind == "multiply":
        return 1
    big = kind == "min"
    if dtype == np.bool_:
        return big
    if np.issubdtype(dtype, np.floating):
        return np.inf if big else -np.inf
    info = np.iinfo(dtype)
    return info.max if big else info.min


def _segment(op, kind, data, segment_ids, num_segments, bucket_size, mode):
    # `bucket_size` only splits the work in JAX; one scatter over all rows gives the same values.
    data, ids = asarray(data), asarray(segment_ids)
    if not np.issubdtype(aval_of(ids).dtype, np.integer):
        raise TypeError(f"{op}: segment_ids must be integers, got {aval_of(ids).dtype}")
    if aval_of(ids).ndim != 1 or aval_of(data).ndim < 1 or \
            aval_of(data).shape[0] != aval_of(ids).shape[0]:
        raise ValueError(f"{op}: segment_ids must be 1-D with one id per row of data, got "
                         f"data {aval_of(data).shape} and segment_ids {aval_of(ids).shape}")
    if num_segments is None:
        if isinstance(ids, core.Tracer):
            raise ConcretizationTypeError(
                f"{op}: num_segments is needed when segment_ids is traced",
                hint="pass num_segments= (a static int) under jit")
        v = np.asarray(ids)
        num_segments = int(v.max()) + 1 if v.size else 0
    num_segments = int(num_segments)
    dt = aval_of(data).dtype
    out = jnp.full((num_segments,) + tuple(aval_of(data).shape[1:]), _identity(kind, dt), dt)
    # Negative ids would wrap around; send them past the end so `drop` discards them.
    ids = jnp.where(ids < 0, num_segments, ids)
    upd = out.at[ids]
    fn = {"add": upd.add, "multiply": upd.multiply, "max": upd.max, "min": upd.min}[kind]
    return fn(data, mode="drop" if mode is None else mode)


def segment_sum(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
    return _segment("segment_sum", "add", data, segment_ids, num_segments, bucket_size, mode)


def segment_prod(data, segment_ids, num_segments=None, indices_are_sorted=False,
                 unique_indices=False, bucket_size=None, mode=None):
    return _segment("segment_prod", "multiply", data, segment_ids, num_segments, bucket_size,
                    mode)


def segment_max(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
    return _segment("segment_max", "max", data, segment_ids, num_segments, bucket_size, mode)


def segment_min(data, segment_ids, num_segments=None, indices_are_sorted=False,
                unique_indices=False, bucket_size=None, mode=None):
    return _segment("segment_min", "min", data, segment_ids, num_segments, bucket_size, mode)


# `jitcore.ops` is this module (the package attribute is set in jitcore/__init__.py); registering
# the dotted name too makes `import jitcore.ops` and `from jitcore.ops import segment_sum` work.
sys.modules.setdefault(__package__ + ".ops", sys.modules[__name__])
