"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, rev, slice, dynamic_slice,
dynamic_update_slice, concatenate and pad. They move data; none computes a new value.
"""
from __future__ import annotations

import builtins

import numpy as np

from . import dtypes
from .core import Primitive, ShapedArray
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, canonical_axis


def _shape_prim(name, rule, impl):
    p = Primitive(name, "shape")
    p.abstract_eval = rule
    p.impl = impl
    return p


def _static_dims(op, what, dims):
    try:
        return tuple(int(d) for d in dims)
    except TypeError:
        raise TypeError(f"{op}: {what} must be a tuple of static ints, got {dims!r}",
                        ) from None


# --- broadcast_in_dim ----------------------------------------------------------------------

def _broadcast_in_dim_rule(x, *, shape, broadcast_dimensions):
    shape = _static_dims("broadcast_in_dim", "shape", shape)
    bdims = tuple(broadcast_dimensions)
    if len(bdims) != x.ndim:
        raise ShapeError(f"broadcast_in_dim: operand {x.str_short()} needs {x.ndim} broadcast "
                         f"dimensions, got {bdims}")
    if any(b < 0 or b >= len(shape) for b in bdims) or list(bdims) != sorted(set(bdims)):
        raise ShapeError(f"broadcast_in_dim: broadcast_dimensions {bdims} must be strictly "
                         f"increasing and within the output rank {len(shape)}")
    for d, b in zip(x.shape, bdims):
        if d != 1 and d != shape[b]:
            raise ShapeError(f"broadcast_in_dim: cannot broadcast {x.str_short()} to {shape} "
                             f"(operand dimension of size {d} maps to output size {shape[b]})")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for d, b in zip(x.shape, broadcast_dimensions):
        expanded[b] = d
    return np.broadcast_to(x.reshape(expanded), shape)


broadcast_in_dim_p = _shape_prim("broadcast_in_dim", _broadcast_in_dim_rule,
                                 _broadcast_in_dim_impl)

# --- reshape -------------------------------------------------------------------------------


def _reshape_rule(x, *, new_sizes):
    new_sizes = _static_dims("reshape", "new_sizes", new_sizes)
    if any(d < 0 for d in new_sizes) or int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape {x.str_short()} ({x.size} elements) "
                         f"into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = _shape_prim("reshape", _reshape_rule, lambda x, *, new_sizes: x.reshape(new_sizes))

# --- transpose -----------------------------------------------------------------------------


def _transpose_rule(x, *, permutation):
    perm = tuple(permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: permutation {perm} is not a permutation of the "
                         f"{x.ndim} axes of {x.str_short()}")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype, x.weak_type)


transpose_p = _shape_prim("transpose", _transpose_rule,
                          lambda x, *, permutation: np.transpose(x, permutation))

# --- squeeze -------------------------------------------------------------------------------


def _squeeze_rule(x, *, dimensions):
    dims = canonical_axes("squeeze", dimensions, x.ndim, x.shape)
    for d in dims:
        if x.shape[d] != 1:
            raise ShapeError(f"squeeze: dimension {d} of {x.str_short()} has size "
                             f"{x.shape[d]}, not 1")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype,
                       x.weak_type)


squeeze_p = _shape_prim("squeeze", _squeeze_rule,
                        lambda x, *, dimensions: np.squeeze(x, tuple(dimensions)))

# --- rev -----------------------------------------------------------------------------------


def _rev_rule(x, *, dimensions):
    canonical_axes("rev", dimensions, x.ndim, x.shape)
    return x


rev_p = _shape_prim("rev", _rev_rule, lambda x, *, dimensions: np.flip(x, tuple(dimensions)))

# --- slice ---------------------------------------------------------------------------------


def _slice_rule(x, *, start_indices, limit_indices, strides=None):
    start, limit = tuple(start_indices), tuple(limit_indices)
    strides = tuple(strides) if strides is not None else (1,) * x.ndim
    if not len(start) == len(limit) == len(strides) == x.ndim:
        raise ShapeError(f"slice: {x.str_short()} needs {x.ndim} start/limit/stride entries, "
                         f"got {start}, {limit}, {strides}")
    out = []
    for d, (s, l, st, n) in enumerate(zip(start, limit, strides, x.shape)):
        if not (0 <= s <= l <= n) or st < 1:
            raise ShapeError(f"slice: dimension {d} of {x.str_short()}: start {s}, limit {l}, "
                             f"stride {st} must satisfy 0 <= start <= limit <= {n}, stride >= 1")
        out.append(max(0, -(-(l - s) // st)))
    return ShapedArray(out, x.dtype, x.weak_type)


def _slice_impl(x, *, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * x.ndim
    return x[tuple(builtins.slice(s, l, st) for s, l, st in zip(start_indices, limit_indices, strides))]


slice_p = _shape_prim("slice", _slice_rule, _slice_impl)

# --- dynamic_slice / dynamic_update_slice --------------------------------------------------
# Start indices are scalar integer operands, clamped so the window stays in bounds (XLA's rule).


def _check_starts(op, x, starts):
    if len(starts) != x.ndim:
        raise ShapeError(f"{op}: {x.str_short()} needs {x.ndim} start indices, got {len(starts)}")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise DtypeError(f"{op}: start indices must be integer scalars, got {s.str_short()}")


def _clamped_starts(starts, shape, sizes):
    return tuple(int(min(max(int(s), 0), n - k)) for s, n, k in zip(starts, shape, sizes))


def _dynamic_slice_rule(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    sizes = _static_dims("dynamic_slice", "slice_sizes", slice_sizes)
    if len(sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(sizes, x.shape)):
        raise ShapeError(f"dynamic_slice: slice_sizes {sizes} do not fit {x.str_short()}")
    return ShapedArray(sizes, x.dtype, x.weak_type)


def _dynamic_slice_impl(x, *starts, slice_sizes):
    st = _clamped_starts(starts, x.shape, slice_sizes)
    return x[tuple(builtins.slice(s, s + k) for s, k in zip(st, slice_sizes))]


dynamic_slice_p = _shape_prim("dynamic_slice", _dynamic_slice_rule, _dynamic_slice_impl)


def _dynamic_update_slice_rule(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype:
        raise DtypeError(f"dynamic_update_slice: update {update.str_short()} must have the "
                         f"operand's dtype ({x.str_short()})")
    if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"dynamic_update_slice: update {update.str_short()} does not fit "
                         f"inside {x.str_short()}")
    return x


def _dynamic_update_slice_impl(x, update, *starts):
    st = _clamped_starts(starts, x.shape, update.shape)
    out = x.copy()
    out[tuple(builtins.slice(s, s + k) for s, k in zip(st, update.shape))] = update
    return out


dynamic_update_slice_p = _shape_prim("dynamic_update_slice", _dynamic_update_slice_rule,
                                     _dynamic_update_slice_impl)

# --- concatenate ---------------------------------------------------------------------------


def _concatenate_rule(*xs, dimension):
    if not xs:
        raise ShapeError("concatenate: needs at least one operand")
    first = xs[0]
    d = canonical_axis("concatenate", dimension, first.ndim, first.shape)
    for x in xs[1:]:
        if x.dtype != first.dtype:
            raise DtypeError("concatenate: operands must share a dtype, got "
                             + ", ".join(a.str_short() for a in xs))
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != d):
            raise ShapeError(f"concatenate: operands must match except along dimension {d}, "
                             "got " + ", ".join(a.str_short() for a in xs))
    shape = list(first.shape)
    shape[d] = sum(x.shape[d] for x in xs)
    return ShapedArray(shape, first.dtype, all(x.weak_type for x in xs))


concatenate_p = _shape_prim("concatenate", _concatenate_rule,
                            lambda *xs, dimension: np.concatenate(xs, axis=dimension))

# --- pad -----------------------------------------------------------------------------------
# padding_config: per dimension (low, high, interior); low/high may be negative (cropping).


def _pad_rule(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise DtypeError(f"pad: the padding value must be a scalar of the operand's dtype, got "
                         f"{padding_value.str_short()} for {x.str_short()}")
    cfg = tuple(tuple(int(v) for v in c) for c in padding_config)
    if len(cfg) != x.ndim or any(len(c) != 3 or c[2] < 0 for c in cfg):
        raise ShapeError(f"pad: padding_config {cfg} needs one (low, high, interior>=0) triple "
                         f"per dimension of {x.str_short()}")
    out = []
    for n, (lo, hi, interior) in zip(x.shape, cfg):
        size = lo + hi + n + max(n - 1, 0) * interior
        if size < 0:
            raise ShapeError(f"pad: padding_config {cfg} gives a negative size for {x.str_short()}")
        out.append(size)
    return ShapedArray(out, x.dtype, x.weak_type)


def _pad_impl(x, padding_value, *, padding_config):
    # Interior padding first (a strided write), then edges; negative edges crop.
    if x.ndim == 0:
        return x  # nothing to pad, and np.pad rejects 0-d arrays
    full = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config):
        full.append(n + max(n - 1, 0) * interior)
    buf = np.full(full, padding_value, dtype=x.dtype)
    buf[tuple(builtins.slice(None, None, i + 1) for (_, _, i) in padding_config)] = x
    pads = [(max(lo, 0), max(hi, 0)) for lo, hi, _ in padding_config]
    buf = np.pad(buf, pads, constant_values=padding_value)
    crop = tuple(builtins.slice(-min(lo, 0), buf.shape[d] + min(hi, 0))
                 for d, (lo, hi, _) in enumerate(padding_config))
    return buf[crop]


pad_p = _shape_prim("pad", _pad_rule, _pad_impl)

# `slice` below shadows the builtin in this module: impls above call `builtins.slice`.
for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2]] = as_function(_p)
del _name, _p
