"""Sorting and searching in `jitcore.numpy`: sort, argsort, lexsort, partition, argpartition,
searchsorted and unique, all on the one `sort` primitive (NumPy's order: NaNs last, stable).

Quantiles and medians (which sort too) are written in `_quantiles.py` and exported from here.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ops.dtypes import kind as _kind
from ops import core, dtypes
from ops import elementwise as el
from ops import reduction as red
from ops import shape as sh
from ops import sorting as srt
from ops.errors import ConcretizationTypeError, ShapeError
from ops.rules import canonical_axis

from ..array import Array
from ._promotion import aval_of, asarray, convert, result_dtype
from ._quantiles import (median, nanmedian, nanpercentile, nanquantile,  # noqa: F401
                         percentile, quantile)
from ._reductions import flatten, full, take_along_last
from ._shape import static_axis

__all__ = [
    "sort", "argsort", "lexsort", "partition", "argpartition", "searchsorted", "unique",
    "unique_values", "unique_counts", "unique_inverse", "unique_all",
    "quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian",
]


def _operand_and_axis(op, a, axis):
    a = asarray(a)
    if axis is None:
        a = flatten(a)
        axis = 0
    av = aval_of(a)
    return a, canonical_axis(op, axis, av.ndim, av.shape)


def _no_order(op, order):
    if order is not None:
        raise TypeError(f"{op}: the 'order' argument (structured arrays) is not supported")


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Sorted copy along `axis` (flattened when None); NaNs last, or first when descending."""
    _no_order("sort", order)
    a, ax = _operand_and_axis("sort", a, axis)
    (out,) = srt.sort(a, dimension=ax, is_stable=bool(stable), num_keys=1)
    return sh.rev(out, dimensions=(ax,)) if descending else out


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Indices (int64) that sort `a` along `axis`; ties keep their order, also when descending."""
    _no_order("argsort", order)
    a, ax = _operand_and_axis("argsort", a, axis)
    av = aval_of(a)
    iota = el.iota(dtype=dtypes.int64, shape=av.shape, dimension=ax)
    if descending:
        # Sorting the reversed array and reversing back keeps ties in their original order.
        a = sh.rev(a, dimensions=(ax,))
        iota = sh.rev(iota, dimensions=(ax,))
    _, idx = srt.sort(a, iota, dimension=ax, is_stable=True, num_keys=1)
    return sh.rev(idx, dimensions=(ax,)) if descending else idx


def lexsort(keys, axis=-1):
    """Indices that sort by several keys; the last key is the primary one (NumPy's rule)."""
    if isinstance(keys, (tuple, list)):
        ks = [asarray(k) for k in keys]
    else:
        k = asarray(keys)
        ka = aval_of(k)
        if ka.ndim == 0:
            raise ShapeError(f"lexsort: keys must be a sequence or an array of keys, got "
                             f"{ka.str_short()}")
        ks = [sh.reshape(sh.slice(k, start_indices=(i,) + (0,) * (ka.ndim - 1),
                                  limit_indices=(i + 1,) + ka.shape[1:]),
                         new_sizes=ka.shape[1:]) for i in range(ka.shape[0])]
    if not ks:
        raise TypeError("lexsort: need a sequence of keys with len > 0")
    avals = [aval_of(k) for k in ks]
    if any(x.shape != avals[0].shape for x in avals):
        raise ShapeError("lexsort: all keys need to be the same shape, got "
                         + ", ".join(x.str_short() for x in avals))
    ax = canonical_axis("lexsort", axis, avals[0].ndim, avals[0].shape)
    iota = el.iota(dtype=dtypes.int64, shape=avals[0].shape, dimension=ax)
    out = srt.sort(*ks[::-1], iota, dimension=ax, is_stable=True, num_keys=len(ks))
    return out[-1]


# --- partition -----------------------------------------------------------------------------
# JAX's results, which NumPy leaves unspecified beyond the kth element: the kth+1 smallest in
# ascending order, then the rest in descending order (values) or in index order (indices).


def _kth(op, kth, n, av):
    try:
        k = int(kth)
    except TypeError:
        raise TypeError(f"{op}: kth must be a static int, got {kth!r}") from None
    if not -n <= k < n:
        raise ShapeError(f"{op}: kth {k} is out of bounds for an axis of size {n} "
                         f"({av.str_short()})")
    return k % n


def _split_last(x, k):
    xa = aval_of(x)
    n = xa.shape[-1]
    lead = (0,) * (xa.ndim - 1)
    head = sh.slice(x, start_indices=lead + (0,), limit_indices=xa.shape[:-1] + (k,))
    tail = sh.slice(x, start_indices=lead + (k,), limit_indices=xa.shape[:-1] + (n,))
    return head, tail


def _last_axis(a, ax):
    nd = aval_of(a).ndim
    if ax == nd - 1:
        return a, None
    perm = tuple(i for i in range(nd) if i != ax) + (ax,)
    return sh.transpose(a, permutation=perm), tuple(int(p) for p in np.argsort(perm))


def partition(a, kth, axis=-1):
    """`a` with the kth-smallest element in place along `axis`, smaller ones before it."""
    a, ax = _operand_and_axis("partition", a, axis)
    av = aval_of(a)
    k = _kth("partition", kth, av.shape[ax], av)
    x, inverse = _last_axis(a, ax)
    (s,) = srt.sort(x, dimension=aval_of(x).ndim - 1, is_stable=True, num_keys=1)
    head, tail = _split_last(s, k + 1)
    out = sh.concatenate(head, sh.rev(tail, dimensions=(aval_of(s).ndim - 1,)),
                         dimension=aval_of(s).ndim - 1)
    return out if inverse is None else sh.transpose(out, permutation=inverse)


def argpartition(a, kth, axis=-1):
    """Indices that would partition `a` (see `partition`), as int32 (JAX's, from top_k)."""
    a, ax = _operand_and_axis("argpartition", a, axis)
    av = aval_of(a)
    k = _kth("argpartition", kth, av.shape[ax], av)
    x, inverse = _last_axis(a, ax)
    last = aval_of(x).ndim - 1
    perm = argsort(x, axis=last)
    head, tail = _split_last(perm, k + 1)
    (tail,) = srt.sort(tail, dimension=last, is_stable=True, num_keys=1)
    out = el.convert_element_type(sh.concatenate(head, tail, dimension=last),
                                  new_dtype=dtypes.int32)
    return out if inverse is None else sh.transpose(out, permutation=inverse)


# --- searchsorted --------------------------------------------------------------------------


def _lt_nan_last(x, y):
    """x < y in sorting order: NaN is greater than every number."""
    lt = el.lt(x, y)
    if _kind(aval_of(x).dtype) != "f":
        return lt
    return el.or_(lt, el.and_(el.ne(y, y), el.eq(x, x)))


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Insertion indices of `v` into the sorted 1-d `a` (JAX returns int32 here).

    Every query is compared with every element (`method` is accepted and ignored), so it
    works under jit and agrees with NumPy on NaNs, which sort last.
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a, v = asarray(a), asarray(v)
    aa, va = aval_of(a), aval_of(v)
    if aa.ndim != 1:
        raise ShapeError(f"searchsorted: a should be 1-dimensional, got {aa.str_short()}")
    d, weak = result_dtype(a, v)
    a, v = convert(a, d, weak), convert(v, d, weak)
    if sorter is not None:
        a = take_along_last(a, asarray(sorter))
    n = aa.shape[0]
    out_dtype = dtypes.int32 if n <= np.iinfo(np.int32).max else dtypes.int64
    if n == 0:
        return full(va.shape, 0, out_dtype)
    shape = va.shape + (n,)
    ab = sh.broadcast_in_dim(a, shape=shape, broadcast_dimensions=(va.ndim,))
    vb = sh.broadcast_in_dim(v, shape=shape, broadcast_dimensions=tuple(range(va.ndim)))
    # left: how many elements are < v; right: how many are <= v, i.e. not > v.
    before = _lt_nan_last(ab, vb) if side == "left" else el.not_(_lt_nan_last(vb, ab))
    return red.reduce_sum(convert(before, out_dtype), axes=(va.ndim,))


# --- unique --------------------------------------------------------------------------------

_UNIQUE_HINT = "pass size= (a static int) to get a fixed-size result that works under jit"


def _is_concrete(x):
    return not isinstance(x, core.Tracer)


def _unique_concrete(ar, return_index, return_inverse, return_counts, axis, equal_nan):
    x = np.asarray(ar)
    res = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis,
                    equal_nan=equal_nan)
    vals, index, inverse, counts = res
    out = [Array(vals.astype(x.dtype))]
    if return_index:
        out.append(Array(index.astype(np.int64)))
    if return_inverse:
        out.append(Array(inverse.astype(np.int64)))
    if return_counts:
        out.append(Array(counts.astype(np.int64)))
    return out


def _unique_sized(ar, return_index, return_inverse, return_counts, equal_nan, size, fill_value):
    """unique of the flattened array padded to `size`, with primitives only (works under jit)."""
    x = flatten(asarray(ar))
    xa = aval_of(x)
    n = xa.shape[0]
    if n == 0:
        if size and fill_value is None:
            raise ShapeError("unique: a zero-size input with a nonzero size= needs fill_value=")
        out = [full((size,), 0 if fill_value is None else fill_value, xa.dtype)]
        if return_index:
            out.append(full((size,), 0, dtypes.int64))
        if return_inverse:
            out.append(full(aval_of(ar).shape, 0, dtypes.int64))
        if return_counts:
            out.append(full((size,), 0, dtypes.int64))
        return out
    iota = el.iota(dtype=dtypes.int64, shape=(n,), dimension=0)
    s, perm = srt.sort(x, iota, dimension=0, is_stable=True, num_keys=1)
    head = sh.slice(s, start_indices=(0,), limit_indices=(n - 1,))
    tail = sh.slice(s, start_indices=(1,), limit_indices=(n,))
    neq = el.ne(tail, head)
    if _kind(xa.dtype) == "f" and equal_nan:
        neq = el.and_(neq, el.not_(el.and_(el.ne(tail, tail), el.ne(head, head))))
    first = sh.concatenate(full((1,), True, dtypes.bool_), neq, dimension=0)
    slot = el.sub(red.cumsum(convert(first, dtypes.int64), axis=0), full((n,), 1, dtypes.int64))
    n_unique = red.reduce_sum(convert(first, dtypes.int64), axes=(0,))
    # j-th output takes the element that is a first occurrence and lands in slot j.
    j = el.iota(dtype=dtypes.int64, shape=(size, n), dimension=0)
    slot_b = sh.broadcast_in_dim(slot, shape=(size, n), broadcast_dimensions=(1,))
    first_b = sh.broadcast_in_dim(first, shape=(size, n), broadcast_dimensions=(1,))
    pick = el.and_(el.eq(slot_b, j), first_b)
    where_first = red.argmax(pick, axis=1, index_dtype=dtypes.int64)
    valid = el.lt(el.iota(dtype=dtypes.int64, shape=(size,), dimension=0),
                  sh.broadcast_in_dim(n_unique, shape=(size,), broadcast_dimensions=()))
    vals = take_along_last(s, where_first)
    smallest = sh.broadcast_in_dim(sh.slice(s, start_indices=(0,), limit_indices=(1,)),
                                   shape=(size,), broadcast_dimensions=(0,))
    fill = smallest if fill_value is None else full((size,), fill_value, xa.dtype)
    out = [el.select(valid, vals, fill)]
    if return_index:
        idx = take_along_last(perm, where_first)
        first_idx = sh.broadcast_in_dim(sh.slice(perm, start_indices=(0,), limit_indices=(1,)),
                                        shape=(size,), broadcast_dimensions=(0,))
        out.append(el.select(valid, idx, first_idx))
    if return_inverse:
        # Element perm[i] of the input has unique index slot[i]: invert the permutation.
        k = el.iota(dtype=dtypes.int64, shape=(n, n), dimension=0)
        perm_b = sh.broadcast_in_dim(perm, shape=(n, n), broadcast_dimensions=(1,))
        slot_bb = sh.broadcast_in_dim(slot, shape=(n, n), broadcast_dimensions=(1,))
        inv = red.reduce_sum(el.select(el.eq(perm_b, k), slot_bb, full((n, n), 0, dtypes.int64)),
                             axes=(1,))
        out.append(sh.reshape(inv, new_sizes=aval_of(ar).shape))
    if return_counts:
        same = el.eq(slot_b, j)
        counts = red.reduce_sum(convert(same, dtypes.int64), axes=(1,))
        out.append(el.select(valid, counts, full((size,), 0, dtypes.int64)))
    return out


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):
    """Sorted unique values (and optionally first indices, inverse, counts).

    The number of unique values depends on the data, so without `size=` this needs a concrete
    array (it raises a ConcretizationTypeError under jit). With `size=`, the result has that
    length, padded with `fill_value` (default: the smallest value), and works under jit.
    """
    ar = asarray(ar)
    if axis is not None:
        av = aval_of(ar)
        axis = canonical_axis("unique", static_axis("unique", axis), av.ndim, av.shape)
    if size is None or axis is not None:
        if not _is_concrete(ar):
            raise ConcretizationTypeError(
                f"unique: the number of unique values of a traced {aval_of(ar).str_short()} "
                "is not known while tracing" + ("" if axis is None else
                                                " (and size= supports only axis=None)"),
                hint=_UNIQUE_HINT)
        out = _unique_concrete(ar, return_index, return_inverse, return_counts, axis, equal_nan)
        if size is not None:
            out = [_resize_concrete(o, size, fill_value, i == 0, axis)
                   if i == 0 or (return_index and i == 1) or
                   (return_counts and i == len(out) - 1) else o for i, o in enumerate(out)]
    else:
        out = _unique_sized(ar, return_index, return_inverse, return_counts, equal_nan,
                            int(size), fill_value)
    return out[0] if len(out) == 1 else tuple(out)


def _resize_concrete(x, size, fill_value, is_values, axis):
    v = np.asarray(x)
    ax = 0 if axis is None or not is_values else axis % v.ndim
    n = v.shape[ax]
    if n >= size:
        return Array(np.take(v, np.arange(size), axis=ax))
    pad_shape = list(v.shape)
    pad_shape[ax] = size - n
    if is_values:
        fill = np.take(v, [0], axis=ax) if fill_value is None and n else \
            np.asarray(0 if fill_value is None else fill_value, v.dtype)
    else:
        fill = np.asarray(0, v.dtype)
    return Array(np.concatenate([v, np.broadcast_to(fill, pad_shape).astype(v.dtype)], axis=ax))


class UniqueAllResult(NamedTuple):
    values: object
    indices: object
    inverse_indices: object
    counts: object


class UniqueCountsResult(NamedTuple):
    values: object
    counts: object


class UniqueInverseResult(NamedTuple):
    values: object
    inverse_indices: object


def unique_values(x, /, *, size=None, fill_value=None):
    """The Array API's unique values (sorted)."""
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, /, *, size=None, fill_value=None):
    """(values, counts) of the unique values."""
    return UniqueCountsResult(*unique(x, return_counts=True, size=size, fill_value=fill_value))


def unique_inverse(x, /, *, size=None, fill_value=None):
    """(values, inverse_indices) of the unique values; `values[inverse]` rebuilds `x`."""
    return UniqueInverseResult(*unique(x, return_inverse=True, size=size,
                                       fill_value=fill_value))


def unique_all(x, /, *, size=None, fill_value=None):
    """(values, indices, inverse_indices, counts) of the unique values."""
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True,
                                   return_counts=True, size=size, fill_value=fill_value))
