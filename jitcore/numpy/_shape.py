"""Shape manipulation in `jitcore.numpy`: reshape, transpose, stacking, splitting, tiling..."""
from __future__ import annotations

from ops import shape as sh
from ops.rules import canonical_axes

from ._promotion import aval_of, asarray, promote_args

__all__ = ["reshape", "transpose", "swapaxes", "expand_dims", "stack", "ravel"]


def reshape(a, shape=None, order="C", *, newshape=None):
    a = asarray(a)
    shape = newshape if shape is None else shape
    if isinstance(shape, int):
        shape = (shape,)
    av = aval_of(a)
    shape = list(shape)
    if shape.count(-1) == 1:
        known = 1
        for d in shape:
            if d != -1:
                known *= d
        shape[shape.index(-1)] = av.size // known if known else 0
    return sh.reshape(a, new_sizes=tuple(shape))


def ravel(a, order="C"):
    return reshape(a, (-1,))


def transpose(a, axes=None):
    a = asarray(a)
    nd = aval_of(a).ndim
    axes = tuple(reversed(range(nd))) if axes is None else canonical_axes("transpose", axes, nd)
    return sh.transpose(a, permutation=axes)


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    nd = aval_of(a).ndim
    perm = list(range(nd))
    i, j = canonical_axes("swapaxes", (axis1, axis2), nd) if axis1 % nd != axis2 % nd else \
        (axis1 % nd, axis2 % nd)
    perm[i], perm[j] = perm[j], perm[i]
    return sh.transpose(a, permutation=tuple(perm))


def expand_dims(a, axis):
    a = asarray(a)
    av = aval_of(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_nd = av.ndim + len(axes)
    axes = canonical_axes("expand_dims", axes, out_nd)
    shape = list(av.shape)
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return sh.reshape(a, new_sizes=tuple(shape))


def stack(arrays, axis=0):
    arrays = promote_args("stack", *arrays)
    return sh.concatenate(*[expand_dims(a, axis) for a in arrays], dimension=axis % (aval_of(arrays[0]).ndim + 1))
