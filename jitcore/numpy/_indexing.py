"""NumPy indexing of arrays and traced values, and the `.at[...]` functional updates.

An index is first parsed into one entry per position: "none" (a new axis), "slice", "int" (a
static int, already wrapped into range), "dyn" (a traced integer scalar), "adv" (an integer
array), or "bool" (a boolean scalar: a new axis indexed by `[0]` or `[]`). Boolean masks are
expanded eagerly into their `nonzero` arrays, and the Ellipsis into full slices.

Basic indexing (no arrays) is `slice` + `rev` (negative steps) + `dynamic_slice` (traced ints)
+ `reshape`; it never gathers. Advanced indexing applies the basic part first, then one `gather`
over the array-indexed axes, then moves the broadcast index dimensions where NumPy puts them.
Functional updates index an iota of positions the same way and scatter into those positions.
"""
from __future__ import annotations

import operator

import math
import numpy as np

from ops.dims import Dim, Poly, SizeDependentError

from ops import dtypes
from ops import elementwise as el
from ops import indexing as ix
from ops import reduction as red
from ops import shape as sh
from ops.core import Tracer
from ops.errors import (ConcretizationTypeError, DtypeError, IndexOutOfRangeError,
                        NonConcreteBooleanIndexError, ShapeError)
from ops.rules import canonical_axis

from ..array import Array
from ._promotion import asarray, aval_of, broadcast_shapes, broadcast_to, convert

__all__ = ["take", "take_along_axis", "put_along_axis", "nonzero", "flatnonzero", "argwhere"]

_I64 = dtypes.int64

# --- small helpers -------------------------------------------------------------------------


def _prod(shape) -> int:
    return math.prod(shape)   # keeps a symbolic size (ops.dims) symbolic


def _full(value, dtype, shape, weak_type=False):
    """A constant `value` broadcast to `shape` (broadcast_in_dim of a scalar: no big constant)."""
    scalar = Array._wrap(np.array(value, dtype=dtype), weak_type)
    if not shape:
        return scalar
    return sh.broadcast_in_dim(scalar, shape=tuple(shape), broadcast_dimensions=())


def _scalar_like(x, value):
    a = aval_of(x)
    return _full(value, a.dtype, a.shape)


def _wrapped_index(i, n: int):
    """Integer index array `i` as int64 with negative entries wrapped by `n` (NumPy's rule)."""
    if not isinstance(i, Tracer):
        arr = np.asarray(i)
        if arr.dtype == np.uint64:
            arr = np.minimum(arr, np.uint64(n))
        arr = arr.astype(np.int64)
        return Array._wrap(np.where(arr < 0, arr + n, arr))
    a = i.aval
    if a.dtype == dtypes.uint64:
        # Cap before converting, so an index past int64's range stays out of range.
        i = el.min(i, _scalar_like(i, n))
    if a.dtype != _I64:
        i = el.convert_element_type(i, new_dtype=_I64)
    if a.dtype.kind == "u":
        return i
    return el.select(el.lt(i, _scalar_like(i, 0)), el.add(i, _scalar_like(i, n)), i)


def _stack_last(arrays, shape):
    """Arrays of `shape` stacked along a new last axis: shape + (len(arrays),)."""
    cols = [sh.reshape(a, new_sizes=tuple(shape) + (1,)) for a in arrays]
    return cols[0] if len(cols) == 1 else sh.concatenate(*cols, dimension=len(shape))


def _check_index_dtype(op, a):
    if a.dtype.kind not in "iu":
        raise DtypeError(f"{op}: indices must be integers, got {a.str_short()}",
                         hint="convert them with .astype(int)")


def _boolean_index_error(op, aval):
    return NonConcreteBooleanIndexError(
        f"{op}: boolean indexing needs a concrete mask, but got a traced {aval.str_short()} "
        "inside a jitted function (the result's shape would depend on the mask's values)",
        hint="keep the shape with jnp.where(mask, x, 0), or use jnp.nonzero(mask, size=N) / "
             "jnp.where(mask, size=N) with a static size N")


def _gather_mode(mode):
    """None (JAX's default: out-of-range indices clamp, static or traced), 'clip' or 'fill'."""
    if mode is None:
        return None
    mode = str(getattr(mode, "name", mode)).lower()
    if mode in ("clip", "promise_in_bounds"):
        return "clip"
    if mode in ("fill", "drop", "fill_or_drop"):
        return "fill"
    raise ValueError(f"indexing mode must be 'clip', 'fill', 'drop' or 'promise_in_bounds', "
                     f"got {mode!r}")


def _fill_scalar(fill_value, dtype):
    """A Python scalar of `dtype`'s kind, for the gather primitive's `fill_value` param."""
    if fill_value is None:
        return None
    if isinstance(fill_value, Tracer):
        raise ConcretizationTypeError("fill_value must be a static scalar, got a traced value "
                                      f"{fill_value.aval.str_short()}")
    with np.errstate(all="ignore"):
        return np.asarray(fill_value).astype(dtype).item()


# --- parsing an index ----------------------------------------------------------------------


def _slice_part(v, op):
    if v is None:
        return None
    if isinstance(v, Tracer):
        raise ConcretizationTypeError(
            f"{op}: slice bounds must be static, got a traced {v.aval.str_short()}",
            hint="use lax.dynamic_slice(x, start_indices, slice_sizes) for a window at a traced "
                 "position, or mark the argument static")
    if type(v) is Dim:
        return v
    try:
        return operator.index(v)
    except TypeError:
        raise DtypeError(f"{op}: slice bounds must be integers or None, got {v!r:.40}") from None


def _classify(i, op):
    """(kind, value) of one index element; 'mask' and 'ellipsis' are expanded by _parse."""
    if i is None:
        return "none", None
    if i is Ellipsis:
        return "ellipsis", None
    if isinstance(i, slice):
        return "slice", slice(_slice_part(i.start, op), _slice_part(i.stop, op),
                              _slice_part(i.step, op))
    if isinstance(i, (bool, np.bool_)):
        return "bool", bool(i)
    if isinstance(i, (int, np.integer)):
        return "int", int(i)
    if isinstance(i, (list, tuple)):
        if not i:
            return "adv", np.zeros((0,), np.int64)
        i = asarray(i)
    if isinstance(i, Tracer):
        a = i.aval
        if a.dtype.kind == "b":
            raise _boolean_index_error(op, a)
        _check_index_dtype(op, a)
        return ("dyn" if a.ndim == 0 else "adv"), i
    if isinstance(i, (Array, np.ndarray, np.generic)) or hasattr(i, "__array__"):
        arr = np.asarray(i)
        if arr.dtype.kind == "b":
            return ("bool", bool(arr)) if arr.ndim == 0 else ("mask", arr)
        if arr.dtype.kind not in "iu":
            raise DtypeError(f"{op}: index arrays must be integer or boolean, got {arr.dtype} "
                             f"with shape {arr.shape}", hint="convert with .astype(int)")
        return ("int", int(arr)) if arr.ndim == 0 else ("adv", arr)
    raise DtypeError(f"{op}: {type(i).__name__} {i!r:.40} is not a valid index; use ints, "
                     "slices, None, Ellipsis, or integer/boolean arrays")


def _consumed(kind, value) -> int:
    if kind == "mask":
        return value.ndim
    return 0 if kind in ("none", "ellipsis", "bool") else 1


def _parse(aval, idx, mode, op="getitem"):
    """The entries of `idx` for an array `aval`: one per output position, covering every axis."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    raw = [_classify(i, op) for i in idx]
    used = sum(_consumed(k, v) for k, v in raw)
    n_ellipsis = sum(k == "ellipsis" for k, _ in raw)
    if n_ellipsis > 1:
        raise IndexOutOfRangeError(f"{op}: an index can only have a single ellipsis ('...')")
    if used > aval.ndim:
        raise IndexOutOfRangeError(
            f"{op}: too many indices for an array of shape {aval.shape}: the array is "
            f"{aval.ndim}-dimensional, but {used} were indexed")
    rest = [("slice", slice(None))] * (aval.ndim - used)
    if n_ellipsis:
        at = [k for k, _ in raw].index("ellipsis")
        raw = raw[:at] + rest + raw[at + 1:]
    else:
        raw = raw + rest
    out, d = [], 0
    for kind, v in raw:
        if kind == "mask":
            dims = aval.shape[d:d + v.ndim]
            if v.shape != dims:
                raise IndexOutOfRangeError(
                    f"{op}: boolean index of shape {v.shape} does not match the indexed "
                    f"dimensions {dims} (axes {d}..{d + v.ndim - 1}) of an array of shape "
                    f"{aval.shape}")
            out.extend(("adv", nz.astype(np.int64)) for nz in np.nonzero(v))
            d += v.ndim
            continue
        if kind in ("int", "dyn"):
            n = aval.shape[d]
            if kind == "int":
                i = v + n if v < 0 else v
                if 0 <= i < n:
                    out.append(("int", i))
                elif mode == "fill":
                    # Out of bounds either way; a uint64 past int64's range must not overflow.
                    out.append(("adv", np.array(min(v, n), np.int64)))
                elif mode in ("clip", None) and n > 0:
                    # JAX clamps a static out-of-range index as it clamps a traced one.
                    out.append(("int", min(max(i, 0), n - 1)))
                else:
                    raise IndexOutOfRangeError(
                        f"{op}: index {v} is out of bounds for axis {d} with size {n} "
                        f"(array shape {aval.shape})")
            elif mode == "fill":
                out.append(("adv", v))
            elif n == 0:
                raise IndexOutOfRangeError(f"{op}: cannot index axis {d} of size 0 (array "
                                           f"shape {aval.shape}) with a traced integer")
            else:
                out.append(("dyn", v))
        else:
            out.append((kind, v))
        d += _consumed(kind, v)
    return out


# --- basic and advanced indexing -----------------------------------------------------------


def _slice_window(s: slice, n: int):
    """(start, limit, stride, reversed, count) of a forward slice covering `s` on size n."""
    if type(n) is Dim:
        return _symbolic_window(s, n)
    start, stop, step = s.indices(n)
    count = len(range(start, stop, step))
    if count == 0:
        return 0, 0, 1, False, 0
    if count == 1:
        return start, start + 1, 1, False, 1
    if step > 0:
        return start, start + (count - 1) * step + 1, step, False, count
    return start + (count - 1) * step, start + 1, -step, True, count


def _symbolic_window(s: slice, n: Dim):
    """`_slice_window` on a symbolic size (ops.dims): bounds stay symbolic, and a question
    only the true size can answer (is 5 < n?) raises SizeDependentError."""
    if s.step not in (None, 1):
        raise SizeDependentError("a strided slice of the dynamic size " + n.text())

    def bound(v, default):
        if v is None:
            return default
        v = operator.index(v)
        if v < 0:
            return n + v if n + v >= 0 else 0
        return v if v <= n else n

    start, stop = bound(s.start, 0), bound(s.stop, n)
    count = stop - start if stop - start >= 0 else 0
    if count == 0:
        return 0, 0, 1, False, 0
    return start, start + count, 1, False, count


def _same(a, b):
    """Equal lists of sizes, symbolic sizes (ops.dims) compared as polynomials: whether a
    window is the whole array must not depend on where the true size lies in its bucket."""
    return len(a) == len(b) and all(
        Poly.of(u) == Poly.of(v) if type(u) is Dim or type(v) is Dim else u == v
        for u, v in zip(a, b))


def _basic(x, entries):
    """Entries of kinds none/slice/int/dyn, with slices, rev, dynamic_slice and reshape."""
    av = aval_of(x)
    lo, hi, strides, revs, dyn, out_shape = [], [], [], [], [], []
    d = 0
    for kind, v in entries:
        if kind == "none":
            out_shape.append(1)
            continue
        n = av.shape[d]
        if kind == "slice":
            a, b, s, r, count = _slice_window(v, n)
            out_shape.append(count)
            if r:
                revs.append(d)
        elif kind == "int":
            a, b, s = v, v + 1, 1
        else:
            a, b, s = 0, n, 1
            dyn.append((d, v))
        lo.append(a)
        hi.append(b)
        strides.append(s)
        d += 1
    y = x
    if not (_same(lo, [0] * av.ndim) and _same(hi, av.shape) and strides == [1] * av.ndim):
        y = sh.slice(y, start_indices=tuple(lo), limit_indices=tuple(hi),
                     strides=tuple(strides) if any(s != 1 for s in strides) else None)
    if revs:
        y = sh.rev(y, dimensions=tuple(revs))
    if dyn:
        sizes = list(aval_of(y).shape)
        zero = Array._wrap(np.array(0, _I64))
        starts = [zero] * av.ndim
        for dim, i in dyn:
            # Negative indices wrap; dynamic_slice then clamps the rest into range, as in JAX.
            starts[dim] = _wrapped_index(i, av.shape[dim])
            sizes[dim] = 1
        y = sh.dynamic_slice(y, *starts, slice_sizes=tuple(sizes))
    if aval_of(y).shape != tuple(out_shape):
        y = sh.reshape(y, new_sizes=tuple(out_shape))
    return y


def _advanced(x, entries, mode, fill_value, wrap=True):
    """Entries with at least one "adv" or "bool": the basic part, then one gather. With
    wrap=False the index arrays are int64 and final (negative ones are out of range)."""
    av = aval_of(x)
    if any(k in ("none", "bool") for k, _ in entries):
        # Make new axes real, so every entry indexes exactly one axis.
        shape, new, d = [], [], 0
        for kind, v in entries:
            if kind == "none":
                shape.append(1)
                new.append(("slice", slice(None)))
            elif kind == "bool":
                shape.append(1)
                new.append(("adv", np.zeros((int(v),), np.int64)))
            else:
                shape.append(av.shape[d])
                new.append((kind, v))
                d += 1
        x, entries = sh.reshape(x, new_sizes=tuple(shape)), new
    positions = [p for p, (k, _) in enumerate(entries) if k in ("int", "dyn", "adv")]
    # NumPy: advanced indices next to each other put the broadcast dims in their place;
    # separated ones (by a slice or None) put them first.
    first = positions[0] if positions == list(range(positions[0], positions[-1] + 1)) else 0
    y = _basic(x, [("slice", slice(None)) if k == "adv" else (k, v) for k, v in entries])
    kept = [(k, v) for k, v in entries if k in ("slice", "adv")]
    yshape = aval_of(y).shape
    axes = tuple(a for a, (k, _) in enumerate(kept) if k == "adv")
    arrays = [_wrapped_index(kept[a][1], yshape[a]) if wrap else kept[a][1] for a in axes]
    bshape = broadcast_shapes("getitem", *[aval_of(a).shape for a in arrays])
    rest = [yshape[a] for a, (k, _) in enumerate(kept) if k != "adv"]
    out_shape = tuple(rest[:first]) + bshape + tuple(rest[first:])
    yav = aval_of(y)
    if _prod(out_shape) == 0:
        return _full(0, yav.dtype, out_shape, yav.weak_type)
    if mode != "fill":
        for a in axes:
            if yshape[a] == 0:
                raise IndexOutOfRangeError(f"getitem: index is out of bounds for axis {a} with "
                                           f"size 0 (array shape {yshape})")
    indices = _stack_last([broadcast_to(a, bshape) for a in arrays], bshape)
    # The default (None) reads clamped and drops out-of-range rows from the gradient, as JAX.
    g = ix.gather(y, indices, axes=axes, mode=mode or "promise_in_bounds",
                  fill_value=_fill_scalar(fill_value, yav.dtype))
    if first:
        nb = len(bshape)
        perm = (tuple(nb + i for i in range(first)) + tuple(range(nb))
                + tuple(nb + i for i in range(first, len(rest))))
        g = sh.transpose(g, permutation=perm)
    return g


def _index(x, entries, mode=None, fill_value=None):
    if any(k in ("adv", "bool") for k, _ in entries):
        return _advanced(x, entries, mode, fill_value)
    return _basic(x, entries)


def getitem(x, idx, *, mode=None, fill_value=None):
    """`x[idx]` with NumPy's basic and advanced indexing; `mode` as in `x.at[idx].get`."""
    x = asarray(x)
    mode = _gather_mode(mode)
    return _index(x, _parse(aval_of(x), idx, mode), mode, fill_value)


# --- functional updates: x.at[idx].set(v) and friends --------------------------------------

from ._index_update import IndexUpdateHelper, _IndexUpdateRef  # noqa: E402,F401

# --- take, take_along_axis, nonzero --------------------------------------------------------


def _take_mode(op, mode):
    mode = "fill" if mode is None else mode
    if mode not in ("fill", "clip", "wrap", "raise", "drop", "promise_in_bounds"):
        raise ValueError(f"{op}: mode must be 'fill', 'clip', 'wrap' or 'raise', got {mode!r}")
    return {"drop": "fill", "promise_in_bounds": "clip"}.get(mode, mode)


def _prepare_indices(op, idx, n, mode):
    """Indices made ready for a gather in `mode` ('fill' or 'clip' afterwards)."""
    a = aval_of(idx)
    if mode == "raise":
        if isinstance(idx, Tracer):
            raise ConcretizationTypeError(
                f"{op}: mode='raise' needs concrete indices, got a traced {a.str_short()}",
                hint="use mode='fill' or mode='clip' inside jit")
        arr = np.asarray(idx)
        bad = (arr < -n) | (arr >= n)
        if bad.any():
            raise IndexOutOfRangeError(f"{op}: index {arr[bad].flat[0]} is out of bounds for an "
                                       f"axis of size {n}")
        return _wrapped_index(arr, n), "clip"
    if mode == "wrap":
        if n == 0:
            raise IndexOutOfRangeError(f"{op}: cannot wrap indices into an axis of size 0")
        if not isinstance(idx, Tracer):
            return Array._wrap(np.mod(np.asarray(idx).astype(np.int64), n)), "clip"
        i = convert(idx, _I64)
        r = el.rem(i, _scalar_like(i, n))
        return el.select(el.lt(r, _scalar_like(r, 0)), el.add(r, _scalar_like(r, n)), r), "clip"
    if mode == "clip":
        # Clip mode does not wrap negatives (NumPy and JAX): they clamp to 0.
        if not isinstance(idx, Tracer):
            # np.asarray: on a 0-d index np.maximum returns a NumPy scalar, not an array.
            return Array._wrap(np.asarray(np.maximum(np.asarray(idx), 0), np.int64)), "clip"
        i = convert(idx, _I64)
        return el.max(i, _scalar_like(i, 0)), "clip"
    return _wrapped_index(idx, n), "fill"


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of `a` at `indices` along `axis` (flattened if None). JAX's default
    mode='fill' gives NaN (or the dtype's fill) for out-of-range indices; 'clip', 'wrap' and
    (for concrete indices) 'raise' are NumPy's."""
    if out is not None:
        raise ValueError("take: `out` is not supported (jitcore arrays are immutable)")
    a = asarray(a)
    if axis is None:
        a = sh.reshape(a, new_sizes=(aval_of(a).size,))
        axis = 0
    av = aval_of(a)
    axis = canonical_axis("take", axis, av.ndim, av.shape)
    idx = asarray(indices)
    _check_index_dtype("take", aval_of(idx))
    idx, gmode = _prepare_indices("take", idx, av.shape[axis], _take_mode("take", mode))
    entries = [("slice", slice(None))] * av.ndim
    entries[axis] = ("adv", idx)
    return _advanced(a, entries, gmode, fill_value, wrap=False)


def _along_axis(op, arr, indices, axis, mode):
    """(arr broadcast, full gather indices of shape out + (ndim,), gather mode)."""
    arr = asarray(arr)
    idx = asarray(indices)
    ia = aval_of(idx)
    _check_index_dtype(op, ia)
    if axis is None:
        if ia.ndim != 1:
            raise ShapeError(f"{op}: with axis=None the indices must be 1-d, got {ia.str_short()}")
        arr = sh.reshape(arr, new_sizes=(aval_of(arr).size,))
        axis = 0
    av = aval_of(arr)
    if ia.ndim != av.ndim:
        raise ShapeError(f"{op}: indices {ia.str_short()} must have the same number of "
                         f"dimensions as the array {av.str_short()}")
    axis = canonical_axis(op, axis, av.ndim, av.shape)
    n = av.shape[axis]
    a_shape, i_shape = list(av.shape), list(ia.shape)
    a_shape[axis] = i_shape[axis] = 1
    common = list(broadcast_shapes(op, a_shape, i_shape))
    out_shape = tuple(common[:axis] + [ia.shape[axis]] + common[axis + 1:])
    arr = broadcast_to(arr, tuple(common[:axis] + [n] + common[axis + 1:]))
    idx, gmode = _prepare_indices(op, broadcast_to(idx, out_shape), n, mode)
    cols = [idx if d == axis else el.iota(dtype=_I64, shape=out_shape, dimension=d)
            for d in range(av.ndim)]
    return arr, _stack_last(cols, out_shape), gmode


def take_along_axis(arr, indices, axis=-1, mode=None, fill_value=None):
    """`out[..., j, ...] = arr[..., indices[..., j, ...], ...]` along `axis` (JAX: mode 'fill'
    by default; the other dimensions broadcast)."""
    mode = _take_mode("take_along_axis", mode)
    arr, idx, gmode = _along_axis("take_along_axis", arr, indices, axis, mode)
    av = aval_of(arr)
    if av.ndim == 0 or _prod(aval_of(idx).shape[:-1]) == 0:
        return _full(0, av.dtype, aval_of(idx).shape[:-1], av.weak_type)
    return ix.gather(arr, idx, axes=tuple(range(av.ndim)), mode=gmode,
                     fill_value=_fill_scalar(fill_value, av.dtype))


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """`arr` with `values` written at `indices` along `axis`, as a new array (pass
    inplace=False, as in JAX). Out-of-range indices are dropped, or clamped with mode='clip'."""
    if inplace:
        raise ValueError("put_along_axis: jitcore arrays are immutable, so it cannot work in "
                         "place; pass inplace=False to get the updated array")
    arr = asarray(arr)
    av = aval_of(arr)
    clip = _gather_mode(mode) == "clip"
    target, idx, _ = _along_axis("put_along_axis", arr, indices, axis,
                                 "clip" if clip else "fill")
    tshape = aval_of(target).shape
    if axis is not None and tshape != av.shape:
        raise ShapeError(f"put_along_axis: indices {aval_of(indices).shape} broadcast the array "
                         f"{av.str_short()} to {tshape}; they may only be smaller")
    ishape = aval_of(idx).shape
    if clip and _prod(ishape):
        top = Array._wrap(np.array([max(n - 1, 0) for n in tshape], np.int64))
        idx = el.min(idx, sh.broadcast_in_dim(top, shape=ishape,
                                              broadcast_dimensions=(len(ishape) - 1,)))
    vals = broadcast_to(convert(values, av.dtype, av.weak_type), ishape[:-1])
    out = ix.scatter(target, idx, vals, axes=tuple(range(len(tshape))))
    return sh.reshape(out, new_sizes=av.shape) if axis is None else out


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one int64 array per dimension. Needs a concrete `a`
    unless `size` (a static length) is given; then missing entries are `fill_value` (0)."""
    a = asarray(a)
    av = aval_of(a)
    if av.ndim == 0:
        raise ShapeError(f"nonzero: not defined for a 0-d array ({av.str_short()})",
                         hint="use jnp.atleast_1d(a) first")
    if size is None:
        if isinstance(a, Tracer):
            raise ConcretizationTypeError(
                f"nonzero: the number of nonzero elements of a traced {av.str_short()} is not "
                "known while tracing, so the result shape is not static",
                hint="pass size=N (a static upper bound) and optionally fill_value=")
        return tuple(Array._wrap(i.astype(np.int64)) for i in np.nonzero(np.asarray(a)))
    size = operator.index(size)
    if size < 0:
        raise ValueError(f"nonzero: size must be >= 0, got {size}")
    fills = fill_value if isinstance(fill_value, (tuple, list)) else (fill_value,) * av.ndim
    if len(fills) != av.ndim:
        raise ValueError(f"nonzero: fill_value needs one entry per dimension ({av.ndim}), got "
                         f"{len(fills)}")
    mask = a if av.dtype.kind == "b" else el.ne(a, _scalar_like(a, 0))
    flat = sh.reshape(mask, new_sizes=(av.size,))
    counts = el.convert_element_type(flat, new_dtype=_I64)
    # The k-th nonzero element goes to slot k; slots past `size` are dropped by the scatter.
    slot = el.sub(red.cumsum(counts, axis=0), _full(1, _I64, (av.size,)))
    slot = el.select(flat, slot, _full(size, _I64, (av.size,)))
    positions = ix.scatter(_full(0, _I64, (size,)), sh.reshape(slot, new_sizes=(av.size, 1)),
                           el.iota(dtype=_I64, shape=(av.size,), dimension=0), axes=(0,))
    found = el.lt(el.iota(dtype=_I64, shape=(size,), dimension=0),
                  sh.broadcast_in_dim(red.reduce_sum(counts, axes=(0,)), shape=(size,),
                                      broadcast_dimensions=()))
    out, stride = [], av.size
    for d, n in enumerate(av.shape):
        stride //= max(n, 1)
        coord = el.rem(el.div(positions, _full(max(stride, 1), _I64, (size,))),
                       _full(max(n, 1), _I64, (size,)))
        fill = 0 if fills[d] is None else _fill_scalar(fills[d], _I64)
        out.append(el.select(found, coord, _full(fill, _I64, (size,))))
    return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements of `a` flattened."""
    a = asarray(a)
    return nonzero(sh.reshape(a, new_sizes=(aval_of(a).size,)), size=size,
                   fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements as rows: shape (count, a.ndim)."""
    a = asarray(a)
    nd = aval_of(a).ndim
    parts = nonzero(sh.reshape(a, new_sizes=(1,)) if nd == 0 else a, size=size,
                    fill_value=fill_value)
    k = aval_of(parts[0]).shape[0]
    rows = _stack_last(list(parts), (k,))
    if nd == 0:
        return sh.slice(rows, start_indices=(0, 0), limit_indices=(k, 0))
    return rows
