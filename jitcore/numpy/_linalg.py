"""Products in `jitcore.numpy`: matmul, dot, vdot, vecdot, inner, outer, tensordot, kron,
cross, and the diagonal family (trace, diag, diagonal, tril, triu); `einsum` is written in
`_einsum.py` and exported from here.

Every contraction is one `dot_general` (with batch dimensions where NumPy broadcasts); operands
are promoted with JAX's rules first, since the primitive wants one dtype. Diagonals are strided
slices of the flattened matrix dimensions, and triangles are iota comparisons with `select`, so
no gather or scatter is needed.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops import linalg as la
from ops import shape as sh
from ops.errors import ShapeError
from ops.rules import canonical_axes, canonical_axis

from . import _ufuncs as uf
from ._einsum import einsum, promote, take_diagonal
from ._promotion import aval_of, asarray, broadcast_shapes, broadcast_to, convert
from ._reductions import full, no_out, sum as _sum

__all__ = ["matmul", "dot", "vdot", "vecdot", "inner", "outer", "tensordot", "einsum", "kron",
           "cross", "trace", "diag", "diagonal", "tril", "triu"]


def _dot_general(lhs, rhs, contract, batch, preferred_element_type):
    pet = None if preferred_element_type is None else \
        dtypes.canonicalize(preferred_element_type, "preferred_element_type")
    return la.dot_general(lhs, rhs, dimension_numbers=(contract, batch),
                          preferred_element_type=pet)


def _drop_axis(x, axis):
    shape = list(aval_of(x).shape)
    del shape[axis]
    return sh.reshape(x, new_sizes=tuple(shape))


def _scalar_product(op, a, b, preferred_element_type):
    out = uf.multiply(a, b)
    if preferred_element_type is not None:
        out = convert(out, dtypes.canonicalize(preferred_element_type, op))
    return out


def matmul(a, b, /, *, precision=None, preferred_element_type=None):
    """Matrix product with NumPy's rules: 1-d operands are promoted to matrices and back, and
    leading (batch) dimensions broadcast."""
    a, b = promote("matmul", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if aa.ndim == 0 or ba.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-d, got {aa.str_short()} @ "
                         f"{ba.str_short()}", hint="use * (multiply) for scalars")
    a_vec, b_vec = aa.ndim == 1, ba.ndim == 1
    if a_vec:
        a = sh.reshape(a, new_sizes=(1,) + aa.shape)
    if b_vec:
        b = sh.reshape(b, new_sizes=ba.shape + (1,))
    sa, sb = aval_of(a).shape, aval_of(b).shape
    if sa[-1] != sb[-2]:
        which = "only" if b_vec else "second-to-last"
        raise ShapeError(
            f"matmul: contraction mismatch: {aa.str_short()} @ {ba.str_short()} (shapes "
            f"{aa.shape} @ {ba.shape}): the last axis of the first operand has size {sa[-1]} "
            f"but the {which} axis of the second has size {sb[-2]}",
            hint="transpose one operand (x.T / jnp.swapaxes) so the inner sizes match")
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
    nb = len(batch)
    pet = preferred_element_type
    if len(sb) == 2:
        out = _dot_general(a, b, ((len(sa) - 1,), (0,)), ((), ()), pet)
    elif len(sa) == 2:
        out = _dot_general(a, b, ((1,), (len(sb) - 2,)), ((), ()), pet)
        # (n, batch..., m) -> (batch..., n, m)
        perm = tuple(range(1, nb + 1)) + (0, nb + 1)
        out = sh.transpose(out, permutation=perm)
    else:
        a = broadcast_to(a, batch + sa[-2:])
        b = broadcast_to(b, batch + sb[-2:])
        out = _dot_general(a, b, ((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb))), pet)
    if b_vec:
        out = _drop_axis(out, -1 % aval_of(out).ndim)
    if a_vec:
        out = _drop_axis(out, aval_of(out).ndim - (1 if b_vec else 2))
    return out


def dot(a, b, *, precision=None, preferred_element_type=None):
    """NumPy's dot: scalars multiply; otherwise contract the last axis of `a` with the only axis
    of a 1-d `b` or the second-to-last axis of `b`."""
    a, b = promote("dot", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if aa.ndim == 0 or ba.ndim == 0:
        return _scalar_product("dot", a, b, preferred_element_type)
    ib = 0 if ba.ndim == 1 else ba.ndim - 2
    if aa.shape[-1] != ba.shape[ib]:
        raise ShapeError(f"dot: shapes {aa.shape} and {ba.shape} not aligned: {aa.shape[-1]} "
                         f"(dim {aa.ndim - 1}) != {ba.shape[ib]} (dim {ib}) for "
                         f"{aa.str_short()} . {ba.str_short()}")
    return _dot_general(a, b, ((aa.ndim - 1,), (ib,)), ((), ()), preferred_element_type)


def vdot(a, b, /, *, precision=None, preferred_element_type=None):
    """Dot product of the flattened operands (a 0-d result)."""
    a, b = promote("vdot", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if aa.size != ba.size:
        raise ShapeError(f"vdot: operands must have the same number of elements, got "
                         f"{aa.str_short()} and {ba.str_short()}")
    a = sh.reshape(a, new_sizes=(aa.size,))
    b = sh.reshape(b, new_sizes=(ba.size,))
    if aa.dtype.kind == "c":
        a = el.conj(a)   # NumPy's vdot conjugates its first operand
    return _dot_general(a, b, ((0,), (0,)), ((), ()), preferred_element_type)


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    """Dot products of vectors along `axis`, broadcasting the other dimensions."""
    x1, x2 = promote("vecdot", x1, x2)
    a1, a2 = aval_of(x1), aval_of(x2)
    ax1 = canonical_axis("vecdot", axis, a1.ndim, a1.shape)
    ax2 = canonical_axis("vecdot", axis, a2.ndim, a2.shape)
    if a1.shape[ax1] != a2.shape[ax2]:
        raise ShapeError(f"vecdot: axis {axis} has size {a1.shape[ax1]} in {a1.str_short()} but "
                         f"{a2.shape[ax2]} in {a2.str_short()}")
    prod = uf.multiply(_to_last(x1, ax1), _to_last(x2, ax2))
    out = _sum(prod, axis=-1, promote_integers=False)
    if preferred_element_type is not None:
        out = convert(out, dtypes.canonicalize(preferred_element_type, "vecdot"))
    return out


def _to_last(x, axis):
    nd = aval_of(x).ndim
    if axis == nd - 1:
        return x
    return sh.transpose(x, permutation=tuple(i for i in range(nd) if i != axis) + (axis,))


def inner(a, b, /, *, precision=None, preferred_element_type=None):
    """Sum product over the last axes of `a` and `b` (scalars multiply)."""
    a, b = promote("inner", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if aa.ndim == 0 or ba.ndim == 0:
        return _scalar_product("inner", a, b, preferred_element_type)
    if aa.shape[-1] != ba.shape[-1]:
        raise ShapeError(f"inner: the last axes of {aa.str_short()} and {ba.str_short()} differ "
                         f"in size ({aa.shape[-1]} vs {ba.shape[-1]})")
    return _dot_general(a, b, ((aa.ndim - 1,), (ba.ndim - 1,)), ((), ()), preferred_element_type)


def outer(a, b, out=None):
    """Outer product of the flattened operands: shape (a.size, b.size)."""
    no_out("outer", out)
    a, b = promote("outer", a, b)
    aa, ba = aval_of(a), aval_of(b)
    shape = (aa.size, ba.size)
    a = sh.broadcast_in_dim(sh.reshape(a, new_sizes=(aa.size,)), shape=shape,
                            broadcast_dimensions=(0,))
    b = sh.broadcast_in_dim(sh.reshape(b, new_sizes=(ba.size,)), shape=shape,
                            broadcast_dimensions=(1,))
    return el.mul(a, b)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """Contract `axes` of `a` with `axes` of `b`: an int N (last N of a with first N of b) or a
    pair of axis sequences."""
    a, b = promote("tensordot", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > aa.ndim or n > ba.ndim:
            raise ShapeError(f"tensordot: axes={n} must be in [0, min(ndim)] for "
                             f"{aa.str_short()} and {ba.str_short()}")
        ca, cb = tuple(range(aa.ndim - n, aa.ndim)), tuple(range(n))
    else:
        try:
            xa, xb = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair of axis sequences, got "
                            f"{axes!r}") from None
        xa = (xa,) if isinstance(xa, (int, np.integer)) else tuple(xa)
        xb = (xb,) if isinstance(xb, (int, np.integer)) else tuple(xb)
        if len(xa) != len(xb):
            raise ShapeError(f"tensordot: axes {xa} and {xb} must have the same length")
        ca = canonical_axes("tensordot", xa, aa.ndim, aa.shape)
        cb = canonical_axes("tensordot", xb, ba.ndim, ba.shape)
    for i, j in zip(ca, cb):
        if aa.shape[i] != ba.shape[j]:
            raise ShapeError(f"tensordot: shape mismatch: axis {i} of {aa.str_short()} has size "
                             f"{aa.shape[i]} but axis {j} of {ba.str_short()} has size "
                             f"{ba.shape[j]}")
    return _dot_general(a, b, (ca, cb), ((), ()), preferred_element_type)


def kron(a, b):
    """Kronecker product: blocks of `b` scaled by each element of `a`."""
    a, b = promote("kron", a, b)
    aa, ba = aval_of(a), aval_of(b)
    nd = max(aa.ndim, ba.ndim)
    sa = (1,) * (nd - aa.ndim) + aa.shape
    sb = (1,) * (nd - ba.ndim) + ba.shape
    shape = tuple(d for pair in zip(sa, sb) for d in pair)
    a = sh.broadcast_in_dim(sh.reshape(a, new_sizes=sa), shape=shape,
                            broadcast_dimensions=tuple(range(0, 2 * nd, 2)))
    b = sh.broadcast_in_dim(sh.reshape(b, new_sizes=sb), shape=shape,
                            broadcast_dimensions=tuple(range(1, 2 * nd, 2)))
    return sh.reshape(el.mul(a, b), new_sizes=tuple(x * y for x, y in zip(sa, sb)))


def _component(x, i):
    xa = aval_of(x)
    lead = (0,) * (xa.ndim - 1)
    part = sh.slice(x, start_indices=lead + (i,), limit_indices=xa.shape[:-1] + (i + 1,))
    return sh.reshape(part, new_sizes=xa.shape[:-1])


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (or 2-vectors, NumPy's z-component convention) along the given
    axes, broadcasting the others."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote("cross", a, b)
    aa, ba = aval_of(a), aval_of(b)
    if aa.ndim == 0 or ba.ndim == 0:
        raise ShapeError(f"cross: operands must be at least 1-d, got {aa.str_short()} and "
                         f"{ba.str_short()}")
    a = _to_last(a, canonical_axis("cross", axisa, aa.ndim, aa.shape))
    b = _to_last(b, canonical_axis("cross", axisb, ba.ndim, ba.shape))
    da, db = aval_of(a).shape[-1], aval_of(b).shape[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ShapeError(f"cross: incompatible dimensions for cross product (dimension must be "
                         f"2 or 3), got {da} and {db} for {aa.str_short()} and {ba.str_short()}")
    a0, a1 = _component(a, 0), _component(a, 1)
    b0, b1 = _component(b, 0), _component(b, 1)
    mul, sub = uf.multiply, uf.subtract
    c2 = sub(mul(a0, b1), mul(a1, b0))
    if da == 2 and db == 2:
        return c2
    if da == 3 and db == 3:
        a2, b2 = _component(a, 2), _component(b, 2)
        c0, c1 = sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2))
    elif da == 2:
        b2 = _component(b, 2)
        c0, c1 = mul(a1, b2), uf.negative(mul(a0, b2))
    else:
        a2 = _component(a, 2)
        c0, c1 = uf.negative(mul(a2, b1)), mul(a2, b0)
    shape = broadcast_shapes("cross", aval_of(c0).shape, aval_of(c1).shape, aval_of(c2).shape)
    comps = [sh.reshape(broadcast_to(c, shape), new_sizes=shape + (1,)) for c in (c0, c1, c2)]
    out = sh.concatenate(*comps, dimension=len(shape))
    nd = len(shape) + 1
    ax = canonical_axis("cross", axisc, nd, shape + (3,))
    if ax != nd - 1:
        perm = list(range(nd - 1))
        perm.insert(ax, nd - 1)
        out = sh.transpose(out, permutation=tuple(perm))
    return out


# --- diagonals and triangles ---------------------------------------------------------------


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The `offset` diagonal over (axis1, axis2), appended as the last axis (NumPy's layout)."""
    a = asarray(a)
    av = aval_of(a)
    if av.ndim < 2:
        raise ShapeError(f"diagonal: the array must be at least 2-d, got {av.str_short()}")
    ax1, ax2 = canonical_axis("diagonal", axis1, av.ndim, av.shape), \
        canonical_axis("diagonal", axis2, av.ndim, av.shape)
    if ax1 == ax2:
        raise ShapeError(f"diagonal: axis1 and axis2 cannot be the same ({axis1}, {axis2}) for "
                         f"{av.str_short()}")
    return take_diagonal(a, ax1, ax2, int(offset))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal (small ints and bools sum in int64, like `sum`)."""
    no_out("trace", out)
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """A 1-d `v` on the k-th diagonal of a square matrix, or the k-th diagonal of a 2-d `v`."""
    v = asarray(v)
    va = aval_of(v)
    k = int(k)
    if va.ndim == 2:
        return take_diagonal(v, 0, 1, k)
    if va.ndim != 1:
        raise ShapeError(f"diag: input must be 1-d or 2-d, got {va.str_short()}")
    n = va.shape[0]
    m = n + abs(k)
    padded = sh.pad(v, convert(0, va.dtype, va.weak_type), padding_config=((0, abs(k), 0),))
    # Row i holds v[i] where column - row == k (k >= 0); column j holds v[j] when k < 0.
    spread = sh.broadcast_in_dim(padded, shape=(m, m), broadcast_dimensions=(0 if k >= 0 else 1,))
    rows = el.iota(dtype=dtypes.int64, shape=(m, m), dimension=0)
    cols = el.iota(dtype=dtypes.int64, shape=(m, m), dimension=1)
    on = el.eq(el.sub(cols, rows), full((m, m), k, dtypes.int64))
    return el.select(on, spread, full((m, m), 0, va.dtype, va.weak_type))


def _triangle(op, m, k, lower):
    m = asarray(m)
    ma = aval_of(m)
    if ma.ndim == 0:
        raise ShapeError(f"{op}: the array must be at least 1-d, got {ma.str_short()}")
    if ma.ndim == 1:
        m = broadcast_to(m, (ma.shape[0],) * 2)
        ma = aval_of(m)
    shape = ma.shape
    nd = len(shape)
    rows = el.iota(dtype=dtypes.int64, shape=shape, dimension=nd - 2)
    cols = el.iota(dtype=dtypes.int64, shape=shape, dimension=nd - 1)
    diff = el.sub(cols, rows)
    kk = full(shape, int(k), dtypes.int64)
    keep = el.le(diff, kk) if lower else el.ge(diff, kk)
    return el.select(keep, m, full(shape, 0, ma.dtype, ma.weak_type))


def tril(m, k=0):
    """`m` with the elements above the k-th diagonal (of the last two axes) set to zero."""
    return _triangle("tril", m, k, True)


def triu(m, k=0):
    """`m` with the elements below the k-th diagonal (of the last two axes) set to zero."""
    return _triangle("triu", m, k, False)
