"""`lax.gather` and the `lax.scatter*` family with XLA's dimension numbers
(`GatherDimensionNumbers`, `ScatterDimensionNumbers`, batching dims included) and
`GatherScatterMode`, as JAX's.

jitcore's own gather/scatter primitives (`ops/indexing.py`) index some operand axes at one
position each and take the other axes whole. XLA's general form is rewritten onto them at
trace time: for every element of the result (gather) or of the updates (scatter), the full
operand position is built with iotas (window start + offset along each operand axis), and
the primitive indexes every operand axis at once. Out-of-bounds windows follow the mode: "clip"
and "promise_in_bounds" clamp the window start, "fill"/"drop" fill the whole window with
`fill_value` (gather) or skip the whole update window (scatter).

The old jitcore call forms, `gather(operand, indices, axes)` and `scatter(operand, indices,
updates, axes)`, are recognized by their arguments and keep working.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from ops import dtypes
from ops import indexing as _ix
from ops.errors import ShapeError

from .numpy._promotion import aval_of, convert

__all__ = ["GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode", "gather",
           "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
           "scatter_apply"]


class GatherDimensionNumbers(NamedTuple):
    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


class GatherScatterMode(enum.Enum):
    CLIP = 0
    FILL_OR_DROP = 1
    PROMISE_IN_BOUNDS = 2
    ONE_HOT = 3

    @staticmethod
    def from_any(s):
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        if s == "one_hot":
            return GatherScatterMode.ONE_HOT
        raise ValueError(f"Unknown gather mode {s!r}")


def _lax():
    from . import lax
    return lax


def _ints(xs):
    return tuple(int(x) for x in xs)


def _start_columns(op, start_indices, index_map, obd, ibd, window_sizes, clip, what):
    """Per operand axis: the window start of each index row (shape = the indices' batch
    shape, int64) and the rows whose whole window is in bounds (None if all are)."""
    lax = _lax()
    s = aval_of(start_indices)
    bshape = s.shape[:-1]
    idx = lax.convert_element_type(start_indices, dtypes.int64)
    starts, valid = [], None
    for d in range(op.ndim):
        hi = op.shape[d] - window_sizes[d]
        if hi < 0:
            raise ShapeError(f"{what}: the window size {window_sizes[d]} of operand axis {d} "
                             f"exceeds its size in {op.str_short()}")
        if d in index_map:
            k = index_map.index(d)
            col = lax.reshape(lax.slice_in_dim(idx, k, k + 1, axis=s.ndim - 1), bshape)
            if clip:
                col = lax.clamp(convert(0, dtypes.int64), col, convert(hi, dtypes.int64))
            else:
                ok = lax.bitwise_and(lax.ge(col, lax.full(bshape, 0, dtypes.int64)),
                                     lax.le(col, lax.full(bshape, hi, dtypes.int64)))
                valid = ok if valid is None else lax.bitwise_and(valid, ok)
        elif d in obd:
            col = lax.broadcasted_iota(dtypes.int64, bshape, ibd[obd.index(d)])
        else:
            col = lax.full(bshape, 0, dtypes.int64)
        starts.append(col)
    return starts, valid


def _positions(starts, shape, batch_pos, window_of):
    """`shape + (ndim,)` operand positions: start (from the batch axes `batch_pos`) plus,
    on window axes, the offset given by axis `window_of[d]` of `shape`."""
    lax = _lax()
    cols = []
    for d, st in enumerate(starts):
        c = lax.broadcast_in_dim(st, shape, tuple(batch_pos))
        if window_of.get(d) is not None:
            c = lax.add(c, lax.broadcasted_iota(dtypes.int64, shape, window_of[d]))
        cols.append(lax.reshape(c, tuple(shape) + (1,)))
    return lax.concatenate(cols, len(shape))


def _check_batching(what, op, s, obd, ibd, nb):
    if len(obd) != len(ibd):
        raise ShapeError(f"{what}: operand_batching_dims {obd} and the indices' batching dims "
                         f"{ibd} must have the same length")
    for a, b in zip(obd, ibd):
        if not (0 <= a < op.ndim and 0 <= b < nb) or op.shape[a] != s.shape[b]:
            raise ShapeError(f"{what}: batching dims {obd} of operand {op.str_short()} and "
                             f"{ibd} of indices {s.str_short()} must be in range and equal "
                             "in size")


def xla_gather(operand, start_indices, dimension_numbers, slice_sizes, *, mode=None,
               fill_value=None):
    lax = _lax()
    dn = dimension_numbers
    offset_dims, collapsed, index_map = (_ints(dn.offset_dims), _ints(dn.collapsed_slice_dims),
                                         _ints(dn.start_index_map))
    obd, ibd = _ints(dn.operand_batching_dims), _ints(dn.start_indices_batching_dims)
    slice_sizes = _ints(slice_sizes)
    op, s = aval_of(operand), aval_of(start_indices)
    # JAX's lax.gather clamps when no mode is given.
    mode = GatherScatterMode.CLIP if mode is None else GatherScatterMode.from_any(mode)
    what = f"gather(operand {op.str_short()}, start_indices {s.str_short()})"
    if s.dtype.kind not in "iu":
        raise ShapeError(f"{what}: start_indices must be integers")
    if s.ndim < 1 or s.shape[-1] != len(index_map):
        raise ShapeError(f"{what}: the last axis of start_indices must have size "
                         f"len(start_index_map) = {len(index_map)}")
    if len(slice_sizes) != op.ndim:
        raise ShapeError(f"{what}: slice_sizes {slice_sizes} must have one entry per operand axis")
    for d in collapsed + obd:
        if slice_sizes[d] != 1:
            raise ShapeError(f"{what}: collapsed and batching axes must have slice size 1, "
                             f"axis {d} has {slice_sizes[d]}")
    nb = s.ndim - 1
    _check_batching(what, op, s, obd, ibd, nb)
    window_dims = [d for d in range(op.ndim) if d not in collapsed and d not in obd]
    if len(offset_dims) != len(window_dims) or list(offset_dims) != sorted(set(offset_dims)):
        raise ShapeError(f"{what}: offset_dims {offset_dims} must be sorted, one per operand "
                         f"axis that is neither collapsed nor batching ({window_dims})")
    out_rank = nb + len(offset_dims)
    batch_pos = [p for p in range(out_rank) if p not in offset_dims]
    out_shape = [0] * out_rank
    for p, n in zip(batch_pos, s.shape[:-1]):
        out_shape[p] = n
    for p, d in zip(offset_dims, window_dims):
        out_shape[p] = slice_sizes[d]
    clip = mode != GatherScatterMode.FILL_OR_DROP
    starts, valid = _start_columns(op, start_indices, index_map, obd, ibd, slice_sizes, clip,
                                   what)
    if valid is not None:  # gather the clamped window, then fill the rows that were out
        hi = [op.shape[d] - slice_sizes[d] for d in range(op.ndim)]
        starts = [lax.clamp(convert(0, dtypes.int64), st, convert(h, dtypes.int64))
                  for st, h in zip(starts, hi)]
    window_of = {d: p for p, d in zip(offset_dims, window_dims)}
    pos = _positions(starts, tuple(out_shape), batch_pos, window_of)
    out = _ix.gather(operand, pos, axes=tuple(range(op.ndim)), mode="clip", fill_value=None)
    if valid is not None:
        fill = _ix.default_fill_value(op.dtype) if fill_value is None else fill_value
        mask = lax.broadcast_in_dim(valid, tuple(out_shape), tuple(batch_pos))
        out = lax.select(mask, out, lax.full(tuple(out_shape), fill, op.dtype))
    return out


def _xla_scatter(prim, operand, scatter_indices, updates, dn, mode, op_name):
    lax = _lax()
    uwd, iwd = _ints(dn.update_window_dims), _ints(dn.inserted_window_dims)
    index_map = _ints(dn.scatter_dims_to_operand_dims)
    obd, ibd = _ints(dn.operand_batching_dims), _ints(dn.scatter_indices_batching_dims)
    op, s = aval_of(operand), aval_of(scatter_indices)
    mode = GatherScatterMode.from_any(mode)
    if not hasattr(updates, "shape") or np.ndim(updates) == 0 and not hasattr(updates, "aval"):
        updates = convert(updates, op.dtype)
    u = aval_of(updates)
    what = (f"{op_name}(operand {op.str_short()}, scatter_indices {s.str_short()}, "
            f"updates {u.str_short()})")
    if s.ndim < 1 or s.shape[-1] != len(index_map):
        raise ShapeError(f"{what}: the last axis of scatter_indices must have size "
                         f"len(scatter_dims_to_operand_dims) = {len(index_map)}")
    nb = s.ndim - 1
    _check_batching(what, op, s, obd, ibd, nb)
    window_dims = [d for d in range(op.ndim) if d not in iwd and d not in obd]
    scatter_pos = [p for p in range(u.ndim) if p not in uwd]
    if (len(uwd) != len(window_dims) or len(scatter_pos) != nb
            or tuple(u.shape[p] for p in scatter_pos) != s.shape[:-1]):
        raise ShapeError(f"{what}: updates must have the indices' batch shape {s.shape[:-1]} "
                         f"on its non-window axes and one window axis (update_window_dims "
                         f"{uwd}) per operand axis not inserted nor batching {window_dims}")
    sizes = [1] * op.ndim
    for p, d in zip(uwd, window_dims):
        sizes[d] = u.shape[p]
    clip = mode in (GatherScatterMode.CLIP, GatherScatterMode.PROMISE_IN_BOUNDS)
    starts, valid = _start_columns(op, scatter_indices, index_map, obd, ibd, sizes, clip, what)
    if valid is not None and op.ndim:  # a dropped window gets an out-of-range position
        starts[0] = lax.select(valid, starts[0], lax.full(s.shape[:-1], op.shape[0],
                                                          dtypes.int64))
    pos = _positions(starts, u.shape, scatter_pos, {d: p for p, d in zip(uwd, window_dims)})
    n = int(np.prod(u.shape, dtype=np.int64))
    return prim(operand, lax.reshape(pos, (n, op.ndim)), lax.reshape(updates, (n,)),
                axes=tuple(range(op.ndim)))


# --- the public entry points: JAX's signatures, old jitcore forms recognized ----------------

def gather(operand, start_indices, dimension_numbers=None, slice_sizes=None, *,
           indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None,
           axes=None):
    """XLA's gather, `gather(operand, start_indices, GatherDimensionNumbers(...), slice_sizes,
    *, mode, fill_value)`; also jitcore's `gather(operand, indices, axes, *, mode, fill_value)`
    (`indices[b]` picks one position on each of `axes`, the other axes whole)."""
    if isinstance(dimension_numbers, GatherDimensionNumbers) or slice_sizes is not None:
        if not isinstance(dimension_numbers, GatherDimensionNumbers):
            dimension_numbers = GatherDimensionNumbers(*dimension_numbers)
        return xla_gather(operand, start_indices, dimension_numbers, slice_sizes, mode=mode,
                          fill_value=fill_value)
    axes = dimension_numbers if axes is None else axes
    if axes is None:
        raise TypeError("gather: pass dimension_numbers and slice_sizes (or jitcore's axes)")
    mode = "clip" if mode is None else mode
    mode = mode.name.lower() if isinstance(mode, GatherScatterMode) else mode
    return _lax()._gather_by_axes(operand, start_indices, axes, mode=mode,
                                  fill_value=fill_value)


def _scatter_entry(kind):
    prim = getattr(_ix, kind)

    def f(operand, scatter_indices, updates, dimension_numbers=None, *,
          indices_are_sorted=False, unique_indices=False, mode=None, axes=None):
        if isinstance(dimension_numbers, ScatterDimensionNumbers):
            return _xla_scatter(prim, operand, scatter_indices, updates, dimension_numbers,
                                mode, kind)
        axes = dimension_numbers if axes is None else axes
        return _lax()._scatter(prim)(operand, scatter_indices, updates, axes)
    f.__name__ = f.__qualname__ = kind
    f.__doc__ = (f"XLA's {kind}: `{kind}(operand, scatter_indices, updates, "
                 "ScatterDimensionNumbers(...), *, mode)`; also jitcore's "
                 f"`{kind}(operand, indices, updates, axes)`.")
    return f


scatter = _scatter_entry("scatter")
scatter_add = _scatter_entry("scatter_add")
scatter_mul = _scatter_entry("scatter_mul")
scatter_min = _scatter_entry("scatter_min")
scatter_max = _scatter_entry("scatter_max")


def scatter_apply(operand, scatter_indices, func, dimension_numbers, *, update_shape=(),
                  indices_are_sorted=False, unique_indices=False, mode=None):
    """`func` applied (once) to every operand element some update window covers."""
    lax = _lax()
    op = aval_of(operand)
    touched = _xla_scatter(_ix.scatter, lax.full(op.shape, False, np.bool_), scatter_indices,
                           lax.full(tuple(update_shape), True, np.bool_), dimension_numbers,
                           mode, "scatter_apply")
    return lax.select(touched, func(operand), operand)
