"""Shape manipulation in `jitcore.numpy`: reshaping, axis moves, flips and rolls, broadcasting,
`atleast_*d` and the `shape`/`ndim`/`size` functions. Joining, splitting, tiling and repeating
(`_joining.py`) and `pad` (`_padding.py`) are re-exported from here.

Every size, axis and shape argument is static (a Python int or a concrete array); the data may
be an Array or a traced value, and only shape primitives reach the IR.
"""
from __future__ import annotations

import operator

import numpy as np

from ops import dtypes
from ops import shape as sh
from ops.core import Tracer
from ops.dims import Dim
from ops.errors import (AxisError, ConcretizationTypeError, DtypeError, InvalidArgumentError,
                        ShapeError)
from ops.rules import canonical_axes, canonical_axis

from . import _promotion
from ._promotion import aval_of, asarray

__all__ = [
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "flip", "fliplr", "flipud", "roll", "rot90", "broadcast_to", "broadcast_shapes",
    "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "shape", "ndim", "size",
]

_STATIC_HINT = ("pass a Python int (or a tuple of them); if it comes from an argument of a "
                "jitted function, mark that argument static with static_argnums/static_argnames")


# --- static arguments ----------------------------------------------------------------------

def static_int(op: str, what: str, v) -> int:
    """`v` as a Python int, or a clear error (a ConcretizationTypeError for traced values)."""
    if isinstance(v, Tracer):
        raise ConcretizationTypeError(
            f"{op}: {what} must be static, but got a traced value {v.aval.str_short()}",
            hint=_STATIC_HINT)
    if type(v) is Dim:
        return v          # a bucketed trace's symbolic size (ops.dims) stays symbolic
    try:
        return operator.index(v)
    except TypeError:
        raise InvalidArgumentError(f"{op}: {what} must be an int, got {v!r:.60} "
                                   f"({type(v).__name__})") from None


def static_ints(op: str, what: str, v) -> tuple:
    """An int or a sequence of ints (lists, tuples, concrete 1-d arrays) as a tuple of ints."""
    if isinstance(v, Tracer):
        raise ConcretizationTypeError(
            f"{op}: {what} must be static, but got a traced value {v.aval.str_short()}",
            hint=_STATIC_HINT)
    if type(v) is Dim:
        return (v,)
    try:
        return (operator.index(v),)
    except TypeError:
        pass
    if isinstance(v, (str, bytes)):
        items = None
    else:
        try:
            items = list(v)
        except TypeError:
            items = None
    if items is None:
        raise InvalidArgumentError(f"{op}: {what} must be an int or a sequence of ints, "
                                   f"got {v!r:.60} ({type(v).__name__})")
    return tuple(static_int(op, what, d) for d in items)


def static_axis(op: str, v, what: str = "axis") -> int:
    """An axis argument as a Python int (see `static_int`); a bool is refused, as NumPy's
    reductions refuse it: a flag where an axis belongs is a mistake, not axis 0 or 1."""
    _refuse_bool(op, what, v)
    return static_int(op, what, v)


def static_axes(op: str, v, what: str = "axis") -> tuple:
    """An axis or a sequence of axes as a tuple of ints (see `static_axis`)."""
    for a in v if isinstance(v, (tuple, list)) else (v,):
        _refuse_bool(op, what, a)
    return static_ints(op, what, v)


def _refuse_bool(op, what, v):
    if isinstance(v, (bool, np.bool_)):
        raise InvalidArgumentError(f"{op}: {what} must be an int, got {v!r} (bool)")


# NumPy's limit on an array's size in bytes (and on each dimension).
_MAX_BYTES = np.iinfo(np.intp).max


def static_shape(op: str, shape, dtype=None) -> tuple:
    """A shape argument (an int or a sequence of ints >= 0) as a tuple of ints, small enough
    for an array (of `dtype`, when given) to exist."""
    dims = static_ints(op, "shape", shape)
    if any(d < 0 for d in dims):
        raise ShapeError(f"{op}: negative dimensions are not allowed, got shape {dims}")
    sizes = tuple(int(d) for d in dims)
    count = 1
    for d in sizes:
        count *= d
    itemsize = 1 if dtype is None else np.dtype(dtype).itemsize
    if max(sizes, default=0) > _MAX_BYTES:
        why = f"dimension {max(sizes)} is more than the largest an array can have ({_MAX_BYTES})"
    elif count * itemsize > _MAX_BYTES:
        why = f"{count} elements" + (f" of {itemsize} bytes" if dtype is not None else "") + \
            f" are more than the {_MAX_BYTES} bytes an array can address"
    else:
        return dims
    raise ShapeError(f"{op}: shape {sizes} is too large: {why}",
                     hint="check the shape for a wrong size or an overflowed product")


def axis_of(op: str, axis, av) -> int:
    return canonical_axis(op, static_axis(op, axis), av.ndim, av.shape)


def axes_of(op: str, axis, av) -> tuple:
    """None (every axis), an int or a sequence of ints, canonical and free of repeats."""
    if axis is None:
        return tuple(range(av.ndim))
    return canonical_axes(op, static_axes(op, axis), av.ndim, av.shape)


def check_order(op: str, order):
    """'C' or 'F' (column-major: read and written with the first index fastest); JAX rejects
    'A' and 'K' with NotImplementedError."""
    if order in ("A", "K"):
        raise NotImplementedError(f"{op}: order={order!r} is not implemented; use 'C' or 'F'")
    if order not in ("C", "F", None):
        raise ValueError(f"{op}: order must be 'C' or 'F', got {order!r}")


def slice_axis(x, start: int, stop: int, axis: int):
    """x[..., start:stop, ...] along `axis` (static, in-bounds start <= stop)."""
    av = aval_of(x)
    if start == 0 and stop == av.shape[axis]:
        return x
    starts, limits = [0] * av.ndim, list(av.shape)
    starts[axis], limits[axis] = start, stop
    return sh.slice(x, start_indices=tuple(starts), limit_indices=tuple(limits))


def permute(x, perm):
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(len(perm))):
        return x
    return sh.transpose(x, permutation=perm)


def reshape_to(x, new_shape):
    new_shape = tuple(d if type(d) is Dim else int(d) for d in new_shape)   # Dim: ops.dims
    if aval_of(x).shape == new_shape:
        return x
    return sh.reshape(x, new_sizes=new_shape)


# --- reshaping -----------------------------------------------------------------------------

def _infer_shape(av, dims) -> tuple:
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if any(d < -1 for d in dims) or len(unknown) > 1:
        raise ShapeError(f"reshape: invalid shape {dims}: sizes must be >= 0, with at most one "
                         "-1 for an unknown size")
    known = 1
    for d in dims:
        if d != -1:
            known *= d
    if unknown:
        if known == 0 or av.size % known:
            raise ShapeError(f"reshape: cannot reshape {av.str_short()} (shape {av.shape}, "
                             f"{av.size} elements) into shape {dims}")
        dims = dims[:unknown[0]] + (av.size // known,) + dims[unknown[0] + 1:]
    elif known != av.size:
        raise ShapeError(f"reshape: cannot reshape {av.str_short()} (shape {av.shape}, "
                         f"{av.size} elements) into shape {dims} ({known} elements)")
    return dims


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """`a` with a new shape holding the same elements in row-major order; one size may be -1."""
    if shape is None:
        if newshape is None:
            raise TypeError("reshape: missing the `shape` argument")
        shape = newshape
    check_order("reshape", order)
    a = asarray(a)
    av = aval_of(a)
    new_shape = _infer_shape(av, static_ints("reshape", "shape", shape))
    if order == "F":
        # Column-major: reversing the axes on both sides turns it into a row-major reshape.
        flipped = reshape_to(permute(a, reversed(range(av.ndim))), new_shape[::-1])
        return permute(flipped, reversed(range(len(new_shape))))
    return reshape_to(a, new_shape)


def ravel(a, order="C"):
    check_order("ravel", order)
    a = asarray(a)
    return reshape(a, (aval_of(a).size,), order)


def transpose(a, axes=None):
    a = asarray(a)
    av = aval_of(a)
    if axes is None:
        return permute(a, reversed(range(av.ndim)))
    axes = static_axes("transpose", axes, "axes")
    if len(axes) != av.ndim:
        raise AxisError(f"transpose: axes {axes} don't match an array of shape {av.shape} "
                        f"(need a permutation of its {av.ndim} axes)")
    return permute(a, canonical_axes("transpose", axes, av.ndim, av.shape))


def swapaxes(a, axis1, axis2):
    a = asarray(a)
    av = aval_of(a)
    i, j = axis_of("swapaxes", axis1, av), axis_of("swapaxes", axis2, av)
    perm = list(range(av.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return permute(a, perm)


def moveaxis(a, source, destination):
    a = asarray(a)
    av = aval_of(a)
    src = static_axes("moveaxis", source, "source")
    dst = static_axes("moveaxis", destination, "destination")
    if len(src) != len(dst):
        raise AxisError(f"moveaxis: source {src} and destination {dst} must have the same "
                        "number of elements")
    src = canonical_axes("moveaxis", src, av.ndim, av.shape)
    dst = canonical_axes("moveaxis", dst, av.ndim, av.shape)
    order = [n for n in range(av.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(a, order)


def expand_dims(a, axis):
    """`a` with size-1 axes inserted at `axis` (positions in the result; may be negative)."""
    a = asarray(a)
    av = aval_of(a)
    axes = static_axes("expand_dims", axis)
    out_nd = av.ndim + len(axes)
    for ax in axes:
        if not -out_nd <= ax < out_nd:
            raise AxisError(f"expand_dims: axis {ax} is out of bounds for inserting "
                            f"{len(axes)} axis(es) into an array of shape {av.shape} "
                            f"(the result has {out_nd} dimensions)")
    axes = canonical_axes("expand_dims", axes, out_nd)
    new_shape = list(av.shape)
    for ax in sorted(axes):
        new_shape.insert(ax, 1)
    return reshape_to(a, new_shape)


def squeeze(a, axis=None):
    """`a` without size-1 axes (all of them, or those named by `axis`, which must be size 1)."""
    a = asarray(a)
    av = aval_of(a)
    if axis is None:
        dims = tuple(i for i, d in enumerate(av.shape) if d == 1)
    else:
        dims = axes_of("squeeze", axis, av)
        for d in dims:
            if av.shape[d] != 1:
                raise ShapeError(f"squeeze: cannot squeeze axis {d} of an array of shape "
                                 f"{av.shape}: its size is {av.shape[d]}, not 1")
    if not dims:
        return a
    return sh.squeeze(a, dimensions=dims)


# --- flips, rolls, rotations ---------------------------------------------------------------

def flip(m, axis=None):
    m = asarray(m)
    dims = axes_of("flip", axis, aval_of(m))
    return sh.rev(m, dimensions=dims) if dims else m


def fliplr(m):
    m = asarray(m)
    av = aval_of(m)
    if av.ndim < 2:
        raise ShapeError(f"fliplr: the input must be at least 2-d, got shape {av.shape}")
    return sh.rev(m, dimensions=(1,))


def flipud(m):
    m = asarray(m)
    av = aval_of(m)
    if av.ndim < 1:
        raise ShapeError(f"flipud: the input must be at least 1-d, got shape {av.shape}")
    return sh.rev(m, dimensions=(0,))


def _roll_static(x, shift: int, axis: int):
    n = aval_of(x).shape[axis]
    s = shift % n if n else 0
    if s == 0:
        return x
    return sh.concatenate(slice_axis(x, n - s, n, axis), slice_axis(x, 0, n - s, axis),
                          dimension=axis)


def _roll_traced(x, shift, axis: int):
    # The window of length n starting at (-shift mod n) in [x, x] is the rolled array.
    from ._ufuncs import remainder
    av = aval_of(x)
    n = av.shape[axis]
    if n == 0:
        return x
    shift = _promotion.convert(shift, dtypes.int64)
    start = remainder(-shift, n)
    doubled = sh.concatenate(x, x, dimension=axis)
    zero = _promotion.convert(0, dtypes.int64)
    starts = [zero] * av.ndim
    starts[axis] = start
    return sh.dynamic_slice(doubled, *starts, slice_sizes=av.shape)


def roll(a, shift, axis=None):
    """Elements shifted along `axis` (the flattened array when None), wrapping around.

    `shift` may be traced (a dynamic slice of the doubled array) when it is a single value."""
    a = asarray(a)
    av = aval_of(a)
    if axis is None:
        return reshape_to(roll(ravel(a), shift, 0), av.shape)
    axes = static_axes("roll", axis)
    if isinstance(shift, Tracer):
        sv = aval_of(shift)
        if sv.dtype.kind not in "iu":
            raise DtypeError(f"roll: shift must be an integer, got {sv.str_short()}")
        if sv.ndim != 0 or len(axes) != 1:
            raise ConcretizationTypeError(
                f"roll: a traced shift {sv.str_short()} must be a scalar with a single axis",
                hint=_STATIC_HINT)
        return _roll_traced(a, shift, axis_of("roll", axes[0], av))
    shifts = static_ints("roll", "shift", shift)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ShapeError(f"roll: shift {shifts} and axis {axes} must have the same length "
                         "(or one of them a single value)")
    total = {}
    for s, ax in zip(shifts, axes):
        ax = canonical_axis("roll", ax, av.ndim, av.shape)
        total[ax] = total.get(ax, 0) + s
    for ax, s in total.items():
        a = _roll_static(a, s, ax)
    return a


def rot90(m, k=1, axes=(0, 1)):
    """`m` rotated by 90 degrees `k` times in the plane of `axes` (from the first towards the
    second)."""
    m = asarray(m)
    av = aval_of(m)
    axes = static_axes("rot90", axes, "axes")
    k = static_int("rot90", "k", k)
    if len(axes) != 2:
        raise AxisError(f"rot90: axes must name two axes, got {axes}")
    a0, a1 = canonical_axes("rot90", axes, av.ndim, av.shape)
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return sh.rev(m, dimensions=(a0, a1))
    perm = list(range(av.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return permute(sh.rev(m, dimensions=(a1,)), perm)
    return sh.rev(permute(m, perm), dimensions=(a1,))


# --- broadcasting --------------------------------------------------------------------------

def broadcast_shapes(*shapes) -> tuple:
    """The shape that arrays of `shapes` broadcast to (NumPy's rule), as a tuple."""
    return _promotion.broadcast_shapes(
        "broadcast_shapes", *[static_shape("broadcast_shapes", s) for s in shapes])


def broadcast_to(array, shape):
    return _promotion.broadcast_to(asarray(array), static_shape("broadcast_to", shape))


def broadcast_arrays(*args):
    """The arguments broadcast to their common shape (each keeps its dtype), as a list."""
    arrays = [asarray(a) for a in args]
    target = _promotion.broadcast_shapes("broadcast_arrays",
                                         *[aval_of(a).shape for a in arrays])
    return [_promotion.broadcast_to(a, target) for a in arrays]


def _atleast(arys, make):
    out = [make(asarray(a)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys):
    return _atleast(arys, lambda x: reshape_to(x, (1,)) if aval_of(x).ndim == 0 else x)


def atleast_2d(*arys):
    def make(x):
        s = aval_of(x).shape
        return reshape_to(x, (1,) * (2 - len(s)) + s) if len(s) < 2 else x
    return _atleast(arys, make)


def atleast_3d(*arys):
    def make(x):
        s = aval_of(x).shape
        if len(s) == 0:
            return reshape_to(x, (1, 1, 1))
        if len(s) == 1:
            return reshape_to(x, (1, s[0], 1))
        if len(s) == 2:
            return reshape_to(x, s + (1,))
        return x
    return _atleast(arys, make)


# --- shape queries (functions, like NumPy's) -----------------------------------------------

def shape(a) -> tuple:
    return aval_of(a).shape


def ndim(a) -> int:
    return aval_of(a).ndim


def size(a, axis=None) -> int:
    av = aval_of(a)
    if axis is None:
        return av.size
    n = 1
    for ax in axes_of("size", axis, av):
        n *= av.shape[ax]
    return n


# Joining, splitting, tiling, repeating and padding live in their own modules (they use the
# helpers above); `jitcore.numpy` gets them through this module's `__all__`.
from ._joining import *  # noqa: E402,F401,F403
from ._joining import __all__ as _joining_all  # noqa: E402
from ._padding import pad  # noqa: E402,F401

__all__ += _joining_all + ["pad"]
