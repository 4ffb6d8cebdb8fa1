"""`jitcore.numpy.linalg`: norms (`norm`, `vector_norm`, `matrix_norm`), and the products that
NumPy also lists here (matmul, outer, tensordot, vecdot, cross, trace, diagonal).

Norms follow NumPy's definitions and are written with reductions and elementwise primitives.
Matrix norms that need singular values (ord=2, -2, 'nuc') are not available yet: there is no
SVD primitive, and they raise an error that says so.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops.errors import ShapeError

from . import _ufuncs as uf
from . import _linalg
from ._linalg import cross, matmul, outer, tensordot, vecdot
from ._promotion import aval_of, asarray, convert
from ._reductions import (max as _max, min as _min, reduction_axes, restore_axes,
                          sum as _sum)

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "outer", "tensordot", "vecdot",
           "cross", "trace", "diagonal"]


def _inexact(x):
    x = asarray(x)
    av = aval_of(x)
    return x if av.dtype.kind == "f" else convert(x, dtypes.default_float, av.weak_type)


def _vector_norm(x, ord, axes, keepdims):
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    ax = uf.abs(x)
    if ord is None or ord == 2:
        return uf.sqrt(_sum(uf.multiply(ax, ax), axis=axes, keepdims=keepdims))
    if ord == np.inf:
        return _max(ax, axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return _min(ax, axis=axes, keepdims=keepdims)
    if ord == 0:
        d = aval_of(x).dtype
        return _sum(convert(uf.not_equal(x, 0), d), axis=axes, keepdims=keepdims)
    if ord == 1:
        return _sum(ax, axis=axes, keepdims=keepdims)
    p = float(ord)
    return uf.power(_sum(uf.power(ax, p), axis=axes, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    shape = aval_of(x).shape
    if ord in (2, -2, "nuc"):
        raise NotImplementedError(
            f"norm: the matrix norm ord={ord!r} needs singular values, which jitcore does not "
            f"compute yet (there is no SVD), for {aval_of(x).str_short()} over axes {axes}; "
            "ord=None/'fro', 1, -1, inf and -inf are supported")
    if ord is None or ord == "fro":
        out = uf.sqrt(_sum(uf.multiply(uf.abs(x), uf.abs(x)), axis=axes))
    elif ord in (1, -1):
        # Column sums (over rows), then the extreme over columns.
        col = _sum(uf.abs(x), axis=r)
        out = (_max if ord == 1 else _min)(col, axis=c - 1 if c > r else c)
    elif ord in (np.inf, -np.inf):
        row = _sum(uf.abs(x), axis=c)
        out = (_max if ord == np.inf else _min)(row, axis=r - 1 if r > c else r)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    return restore_axes(out, axes, shape) if keepdims else out


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, with NumPy's choice of which from `ord` and `axis`."""
    x = _inexact(x)
    xa = aval_of(x)
    if axis is None:
        if ord is None:
            axes = tuple(range(xa.ndim))
            return _vector_norm(x, None, axes, keepdims)
        if xa.ndim == 1:
            return _vector_norm(x, ord, (0,), keepdims)
        if xa.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        raise ShapeError(f"norm: improper number of dimensions to norm: {xa.str_short()} with "
                         f"ord={ord!r} needs axis=", hint="pass axis=int or a pair of axes")
    axes = reduction_axes("norm", axis, xa.shape)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ShapeError(f"norm: axis must name 1 or 2 axes, got {axis!r} for {xa.str_short()}")


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The Array API's vector norm: over all elements when axis is None."""
    x = _inexact(x)
    axes = reduction_axes("vector_norm", axis, aval_of(x).shape)
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """The Array API's matrix norm over the last two axes."""
    x = _inexact(x)
    nd = aval_of(x).ndim
    if nd < 2:
        raise ShapeError(f"matrix_norm: needs at least 2 dimensions, got {aval_of(x).str_short()}")
    return _matrix_norm(x, ord, (nd - 2, nd - 1), keepdims)


def diagonal(x, /, *, offset=0):
    """The Array API's diagonal: over the last two axes, appended as the last axis."""
    return _linalg.diagonal(x, offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """The Array API's trace: sums the diagonals of the last two axes."""
    return _linalg.trace(x, offset, -2, -1, dtype=dtype)
