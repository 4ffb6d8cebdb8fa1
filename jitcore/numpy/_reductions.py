"""Reductions and scans of `jitcore.numpy`: sum, mean, prod, max, min, argmax, argmin, var,
std, any, all, cumsum, cumprod (NumPy signatures: axis, keepdims, dtype where NumPy has them).
"""
from __future__ import annotations

from ops import dtypes
from ops import reduction as red
from ops.rules import canonical_axes

from ._promotion import aval_of, asarray, convert

__all__ = ["sum", "all"]


def _axes(op, axis, ndim, shape):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return canonical_axes(op, axis, ndim, shape)


def sum(a, axis=None, dtype=None, keepdims=False):
    a = asarray(a)
    av = aval_of(a)
    if dtype is None and av.dtype.kind in "biu" and av.dtype.itemsize < 8:
        dtype = dtypes.uint64 if av.dtype.kind == "u" else dtypes.int64
    if dtype is not None:
        a = convert(a, dtypes.canonicalize(dtype), av.weak_type)
    axes = _axes("sum", axis, av.ndim, av.shape)
    out = red.reduce_sum(a, axes=axes)
    if keepdims:
        from ._shape import expand_dims
        out = expand_dims(out, axes)
    return out


def all(a, axis=None, keepdims=False):
    a = asarray(a)
    av = aval_of(a)
    from ._ufuncs import not_equal
    b = a if av.dtype.kind == "b" else not_equal(a, 0)
    axes = _axes("all", axis, av.ndim, av.shape)
    out = red.reduce_and(b, axes=axes)
    if keepdims:
        from ._shape import expand_dims
        out = expand_dims(out, axes)
    return out
