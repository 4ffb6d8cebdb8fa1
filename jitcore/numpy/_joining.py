"""Joining and splitting arrays in `jitcore.numpy`: concatenate, the stack family, split,
array_split, tile and repeat. Sizes and indices are static; the data may be traced.
"""
from __future__ import annotations

import builtins

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops import indexing as ix
from ops import reduction as red
from ops import shape as sh
from ops.core import Tracer
from ops.errors import AxisError, ConcretizationTypeError, DtypeError, ShapeError
from ops.rules import canonical_axis

from ..array import Array
from ._promotion import aval_of, asarray, convert, result_dtype
from ._shape import (atleast_1d, atleast_2d, atleast_3d, axis_of, moveaxis, ravel, reshape_to,
                     slice_axis, static_axis, static_int, static_ints)

__all__ = ["concatenate", "stack", "vstack", "hstack", "dstack", "column_stack", "split",
           "array_split", "tile", "repeat"]


def _is_array(x) -> bool:
    return isinstance(x, (Tracer, Array, np.ndarray))


def _shapes_text(avals) -> str:
    return ", ".join(a.str_short() for a in avals)


def _same_dtype(arrays, dtype):
    """The arrays converted to `dtype`, or to their promoted dtype (weak if all are weak)."""
    if dtype is None:
        d, weak = result_dtype(*arrays)
    else:
        d, weak = dtypes.canonicalize(dtype, "dtype"), False
    return [convert(a, d, weak) for a in arrays]


def _rows(op, x) -> list:
    """An array as the list of its rows: NumPy's view of an array passed as a sequence."""
    av = aval_of(x)
    if av.ndim == 0:
        raise ShapeError(f"{op}: expected a sequence of arrays, got a 0-d array "
                         f"{av.str_short()}")
    return [reshape_to(slice_axis(x, i, i + 1, 0), av.shape[1:]) for i in range(av.shape[0])]


# --- concatenate and stack -----------------------------------------------------------------

def _concatenate_array(x, axis, dtype):
    # An array is the sequence of its rows: concatenating them merges axis 0 into `axis`.
    if dtype is not None:
        x = convert(x, dtypes.canonicalize(dtype, "concatenate"))
    av = aval_of(x)
    if axis is None:
        return ravel(x)
    if av.ndim < 2:
        raise ShapeError(f"concatenate: zero-dimensional arrays cannot be concatenated (the "
                         f"rows of {av.str_short()})")
    rest = av.shape[1:]
    k = canonical_axis("concatenate", static_axis("concatenate", axis), len(rest), rest)
    new_shape = rest[:k] + (av.shape[0] * rest[k],) + rest[k + 1:]
    return reshape_to(moveaxis(x, 0, k), new_shape)


def concatenate(arrays, axis=0, dtype=None):
    """The arrays joined along an existing `axis` (flattened first when None), promoted to one
    dtype."""
    if _is_array(arrays):
        return _concatenate_array(arrays, axis, dtype)
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    avals = [aval_of(a) for a in arrays]
    if any(a.ndim == 0 for a in avals):
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated, got "
                         + _shapes_text(avals),
                         hint="make them 1-d with jnp.atleast_1d, or use jnp.stack")
    first = avals[0]
    ax = axis_of("concatenate", axis, first)
    for a in avals[1:]:
        if a.ndim != first.ndim:
            raise ShapeError("concatenate: all the input arrays must have the same number of "
                             "dimensions, got " + _shapes_text(avals))
        if any(x != y for i, (x, y) in enumerate(zip(a.shape, first.shape)) if i != ax):
            raise ShapeError(f"concatenate: the input shapes must match except along axis "
                             f"{ax}, got " + _shapes_text(avals))
    arrays = _same_dtype(arrays, dtype)
    if len(arrays) == 1:
        return arrays[0]
    return sh.concatenate(*arrays, dimension=ax)


def stack(arrays, axis=0, out=None, dtype=None):
    """The arrays (all of one shape) joined along a new `axis`."""
    if out is not None:
        raise ValueError("stack: out= is not supported (jitcore arrays are immutable); use the "
                         "returned array")
    if _is_array(arrays):
        x = asarray(arrays)
        if dtype is not None:
            x = convert(x, dtypes.canonicalize(dtype, "stack"))
        av = aval_of(x)
        if av.ndim == 0:
            raise ShapeError(f"stack: expected a sequence of arrays, got a 0-d array "
                             f"{av.str_short()}")
        return moveaxis(x, 0, axis_of("stack", axis, av))
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    avals = [aval_of(a) for a in arrays]
    first = avals[0]
    if any(a.shape != first.shape for a in avals[1:]):
        raise ShapeError("stack: all input arrays must have the same shape, got "
                         + _shapes_text(avals))
    out_nd = first.ndim + 1
    ax = static_axis("stack", axis)
    if not -out_nd <= ax < out_nd:
        raise AxisError(f"stack: axis {ax} is out of bounds for stacking arrays of shape "
                        f"{first.shape} (the result has {out_nd} dimensions)")
    ax %= out_nd
    new_shape = first.shape[:ax] + (1,) + first.shape[ax:]
    arrays = [reshape_to(a, new_shape) for a in _same_dtype(arrays, dtype)]
    if len(arrays) == 1:
        return arrays[0]
    return sh.concatenate(*arrays, dimension=ax)


def _sequence(op, tup) -> list:
    if _is_array(tup):
        return _rows(op, asarray(tup))
    tup = list(tup)
    if not tup:
        raise ValueError(f"{op}: need at least one array to concatenate")
    return tup


def vstack(tup, *, dtype=None):
    """Arrays joined along the first axis, after making each at least 2-d."""
    return concatenate([atleast_2d(a) for a in _sequence("vstack", tup)], 0, dtype)


def hstack(tup, *, dtype=None):
    """Arrays joined along the second axis (the first for 1-d arrays)."""
    arrays = [atleast_1d(a) for a in _sequence("hstack", tup)]
    return concatenate(arrays, 0 if aval_of(arrays[0]).ndim == 1 else 1, dtype)


def dstack(tup, *, dtype=None):
    """Arrays joined along the third axis, after making each at least 3-d."""
    return concatenate([atleast_3d(a) for a in _sequence("dstack", tup)], 2, dtype)


def column_stack(tup):
    """1-d arrays as the columns of a 2-d array (2-d arrays are joined along axis 1)."""
    cols = []
    for a in _sequence("column_stack", tup):
        a = asarray(a)
        s = aval_of(a).shape
        cols.append(reshape_to(a, (s[0] if s else 1, 1)) if len(s) < 2 else a)
    return concatenate(cols, 1)


# --- split ---------------------------------------------------------------------------------

def _split(op, ary, indices_or_sections, axis, equal):
    ary = asarray(ary)
    av = aval_of(ary)
    ax = axis_of(op, axis, av)
    n = av.shape[ax]
    ios = indices_or_sections
    if isinstance(ios, Tracer):
        raise ConcretizationTypeError(
            f"{op}: indices_or_sections must be static, got a traced value "
            f"{ios.aval.str_short()}",
            hint="pass a Python int or list, or mark the argument static with static_argnums")
    if np.ndim(ios) == 0:
        sections = static_int(op, "the number of sections", ios)
        if sections <= 0:
            raise ValueError(f"{op}: the number of sections must be larger than 0, got "
                             f"{sections}")
        if equal and n % sections:
            raise ShapeError(f"split: array split does not result in an equal division: axis "
                             f"{ax} of size {n} (shape {av.shape}) into {sections} sections",
                             hint="use jnp.array_split for unequal sections, or pass the "
                                  "indices to split at")
        each, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + each + (i < extra))
    else:
        bounds = [0, *static_ints(op, "indices", ios), n]
    parts = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        s, e, _ = builtins.slice(start, stop).indices(n)
        parts.append(slice_axis(ary, s, builtins.max(s, e), ax))
    return parts


def split(ary, indices_or_sections, axis=0):
    """A list of sub-arrays: `indices_or_sections` equal parts (it must divide the axis), or
    the pieces between the given indices."""
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary, indices_or_sections, axis=0):
    """Like `split`, but a number of sections need not divide the axis (the first parts get one
    extra element)."""
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


# --- tile and repeat -----------------------------------------------------------------------

def tile(A, reps):
    """`A` repeated `reps` times along each axis (the shorter of the two is padded with 1s on
    the left)."""
    A = asarray(A)
    av = aval_of(A)
    reps = static_ints("tile", "reps", reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: repetitions must be >= 0, got reps={reps} for an array of "
                         f"shape {av.shape}")
    d = builtins.max(len(reps), av.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - av.ndim) + av.shape
    x = reshape_to(A, shape)
    if all(r == 1 for r in reps):
        return x
    # Broadcast into (r0, n0, r1, n1, ...) (leaving out r == 1), then merge each pair.
    big, dims = [], []
    for r, n in zip(reps, shape):
        if r != 1:
            big.append(r)
        dims.append(len(big))
        big.append(n)
    x = sh.broadcast_in_dim(x, shape=tuple(big), broadcast_dimensions=tuple(dims))
    return reshape_to(x, [r * n for r, n in zip(reps, shape)])


def _repeat_each(x, r: int, axis: int):
    """Every element along `axis` repeated `r` times: broadcast a new axis after it, merge."""
    s = aval_of(x).shape
    if r == 1:
        return x
    big = s[:axis + 1] + (r,) + s[axis + 1:]
    dims = tuple(i if i <= axis else i + 1 for i in range(len(s)))
    x = sh.broadcast_in_dim(x, shape=big, broadcast_dimensions=dims)
    return reshape_to(x, s[:axis] + (s[axis] * r,) + s[axis + 1:])


def _repeat_counts(x, counts, axis: int):
    # One slice per run of equal counts keeps the IR small for the usual patterns.
    pieces = []
    i, n = 0, len(counts)
    while i < n:
        j = i
        while j < n and counts[j] == counts[i]:
            j += 1
        if counts[i] > 0:
            pieces.append(_repeat_each(slice_axis(x, i, j, axis), counts[i], axis))
        i = j
    if not pieces:
        return slice_axis(x, 0, 0, axis)
    return pieces[0] if len(pieces) == 1 else sh.concatenate(*pieces, dimension=axis)


def _jax_counts(reps, total: int, n: int) -> list:
    """Per-element counts of JAX's `repeat` with `total_repeat_length`: the output is cut at
    `total`, or padded with copies of the last element reached."""
    reps = np.asarray(reps, np.int64)
    starts = np.concatenate([[0], np.cumsum(reps)[:-1]])
    marks = np.zeros(total, np.int64)
    np.add.at(marks, starts[starts < total], 1)
    gather = np.cumsum(marks) - 1
    return np.bincount(gather, minlength=n).tolist()


def _repeat_traced(x, repeats, axis: int, total: int):
    # JAX's algorithm: mark where each element's block starts (marks past `total` are
    # dropped), a running count of the marks is the source index of each output position.
    from ._ufuncs import subtract
    av = aval_of(x)
    n = av.shape[axis]
    rv = aval_of(repeats)
    if rv.dtype.kind not in "iu":
        raise DtypeError(f"repeat: repeats must be integers, got {rv.str_short()}")
    reps = ravel(convert(repeats, dtypes.int64))
    if aval_of(reps).shape not in ((1,), (n,)):
        raise ShapeError(f"repeat: repeats {rv.str_short()} do not match axis {axis} of size "
                         f"{n} (shape {av.shape})")
    if n == 0 or total == 0:
        return slice_axis(x, 0, 0, axis) if total == 0 else x
    reps = sh.broadcast_in_dim(reps, shape=(n,), broadcast_dimensions=(0,))
    starts = el.sub(red.cumsum(reps, axis=0), reps)
    zeros = sh.broadcast_in_dim(convert(0, dtypes.int64), shape=(total,), broadcast_dimensions=())
    ones = sh.broadcast_in_dim(convert(1, dtypes.int64), shape=(n,), broadcast_dimensions=())
    marks = ix.scatter_add(zeros, reshape_to(starts, (n, 1)), ones, axes=(0,))
    source = subtract(red.cumsum(marks, axis=0), 1)
    picked = ix.gather(x, reshape_to(source, (total, 1)), axes=(axis,), mode="clip")
    return moveaxis(picked, 0, axis)


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Each element repeated (`repeats` an int, or one count per element along `axis`); the
    flattened array when `axis` is None. Traced repeats need a static `total_repeat_length`."""
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    elif aval_of(a).ndim == 0:
        a = ravel(a)  # NumPy repeats a 0-d array along axis 0 (or -1) as if it were 1-d
    av = aval_of(a)
    ax = axis_of("repeat", axis, av)
    n = av.shape[ax]
    total = None
    if total_repeat_length is not None:
        total = static_int("repeat", "total_repeat_length", total_repeat_length)
        if total < 0:
            raise ShapeError(f"repeat: total_repeat_length must be >= 0, got {total}")
    if isinstance(repeats, Tracer):
        if total is None:
            raise ConcretizationTypeError(
                f"repeat: the number of repeats must be static, got a traced value "
                f"{repeats.aval.str_short()}",
                hint="pass static repeats (an int or a list), or give a static "
                     "total_repeat_length=")
        return _repeat_traced(a, repeats, ax, total)
    reps = static_ints("repeat", "repeats", repeats)
    if any(r < 0 for r in reps):
        raise ShapeError(f"repeat: repeats must be >= 0, got {reps}")
    if len(reps) == 1 and total is None:
        return _repeat_each(a, reps[0], ax)
    if len(reps) == 1:
        reps = reps * n
    if len(reps) != n:
        raise ShapeError(f"repeat: {len(reps)} repeats do not match axis {ax} of size {n} "
                         f"(shape {av.shape})")
    if total is not None:
        if n == 0:
            return a
        reps = _jax_counts(reps, total, n) if total else [0] * n
    return _repeat_counts(a, list(reps), ax)
