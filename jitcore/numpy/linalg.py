"""`jitcore.numpy.linalg`: norms (`norm`, `vector_norm`, `matrix_norm`), and the products that
NumPy also lists here (matmul, outer, tensordot, vecdot, cross, trace, diagonal).

Norms follow NumPy's definitions and are written with reductions and elementwise primitives;
the matrix norms ord=2, -2 and 'nuc' take the singular values. The factorizations and what is
built on them (solve, inv, det, eigh, svd, lstsq, ...) live in `_linalg_decomp.py`.
"""
from __future__ import annotations

import numpy as np

from ops.errors import ShapeError

from . import _ufuncs as uf
from . import _linalg
from ._linalg import cross, matmul, outer, tensordot, vecdot
from ._linalg_decomp import (EighResult, EigResult, QRResult, SlogdetResult, SVDResult,
                             cholesky, cond, det, eig, eigh, eigvals, eigvalsh, inv, lstsq,
                             matrix_power, matrix_rank, multi_dot, pinv, qr, slogdet, solve, svd,
                             svdvals, tensorinv, tensorsolve, inexact_dtype)
from ._promotion import aval_of, asarray, convert
from ._reductions import (max as _max, min as _min, reduction_axes, restore_axes,
                          sum as _sum)

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "outer", "tensordot", "vecdot",
           "cross", "trace", "diagonal", "matrix_transpose", "solve", "inv", "det", "slogdet",
           "cholesky", "qr",
           "eigh", "eigvalsh", "eig", "eigvals", "svd", "svdvals", "lstsq", "pinv",
           "matrix_rank", "matrix_power", "cond", "tensorsolve", "tensorinv", "multi_dot",
           "EighResult", "EigResult", "QRResult", "SlogdetResult", "SVDResult"]


def _inexact(x):
    """JAX's norms return strong types, also of a weak (Python scalar) input."""
    x = asarray(x)
    av = aval_of(x)
    dt = inexact_dtype(av.dtype)
    return x if dt == av.dtype and not av.weak_type else convert(x, dt, False)


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
        from ._shape import moveaxis
        s = svdvals(moveaxis(x, (r, c), (-2, -1)))
        out = (_max(s, axis=-1) if ord == 2 else _min(s, axis=-1) if ord == -2
               else _sum(s, axis=-1))
    elif ord is None or ord == "fro":
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


def matrix_transpose(x, /):
    """The Array API's matrix transpose: swaps the last two axes."""
    from ._shape import swapaxes
    x = asarray(x)
    if aval_of(x).ndim < 2:
        raise ShapeError(f"matrix_transpose: needs at least 2 dimensions, got "
                         f"{aval_of(x).str_short()}")
    return swapaxes(x, -1, -2)


def diagonal(x, /, *, offset=0):
    """The Array API's diagonal: over the last two axes, appended as the last axis."""
    return _linalg.diagonal(x, offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """The Array API's trace: sums the diagonals of the last two axes."""
    return _linalg.trace(x, offset, -2, -1, dtype=dtype)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
