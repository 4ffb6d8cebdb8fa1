"""Array creation in `jitcore.numpy`: array/asarray, zeros/ones/full/empty (and `_like`),
arange, linspace, logspace, eye, identity, tri, meshgrid and indices.

Defaults are JAX's with 64-bit enabled: float64 and int64. Shapes and sizes are static. Under
`jit`, results are built in the IR from a scalar constant and `broadcast_in_dim`, or from
`iota`, so `jnp.zeros((1000, 1000))` or `jnp.arange(10**6)` never embed a large constant.

JAX's `device=` and NumPy's `copy=` are accepted and have nothing to do: there is one device,
and arrays are immutable, so sharing data is always safe.
"""
from __future__ import annotations

import math

import numpy as np

from ops.dtypes import kind as _kind
from ops.dims import Dim

from ops import core, dtypes
from ops import elementwise as el
from ops import shape as sh
from ops.core import Tracer
from ops.errors import AxisError, ConcretizationTypeError, DtypeError, ShapeError

from ..array import Array
from . import _promotion
from ._promotion import aval_of, convert, result_dtype
from ._shape import ravel, reshape_to, stack, static_axis, static_int, static_shape

__all__ = ["array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "logspace", "eye", "identity",
           "tri", "meshgrid", "indices"]


def _dtype_arg(op, dtype):
    return None if dtype is None else dtypes.canonicalize(dtype, f"{op}: dtype")


def _scalar(value, dtype, weak=False):
    return Array._wrap(np.array(value).astype(dtype), weak)


def _fill(shape, value):
    """A 0-d `value` broadcast to `shape`: one scalar constant and a broadcast in the IR."""
    if shape == ():
        return value
    return sh.broadcast_in_dim(value, shape=shape, broadcast_dimensions=())


def _inexact(d):
    return dtypes.to_inexact(d)


# --- array, asarray ------------------------------------------------------------------------

_PYTHON_KINDS = {bool: (dtypes.bool_, False), int: (dtypes.default_int, True),
                 float: (dtypes.default_float, True)}


def _leaf_kind(x):
    """(dtype, weak_type) of one leaf of a nested sequence."""
    kind = _PYTHON_KINDS.get(type(x))
    if kind is not None:
        return kind
    if isinstance(x, (np.ndarray, np.generic)):
        return dtypes.canonicalize(x.dtype, "array"), False
    av = core.get_aval(x)
    return av.dtype, av.weak_type


def _leaf_kinds(obj, kinds: set) -> bool:
    """Collect the (dtype, weak) kinds of the leaves into `kinds`; True if a leaf is traced."""
    types = set(map(type, obj))
    if types <= _PYTHON_KINDS.keys():  # the common case, a row of Python numbers: no loop
        kinds.update(_PYTHON_KINDS[t] for t in types)
        return False
    traced = False
    for e in obj:
        if isinstance(e, (list, tuple)):
            traced |= _leaf_kinds(e, kinds)
        else:
            traced |= isinstance(e, Tracer)
            kinds.add(_leaf_kind(e))
    return traced


def _stack_nested(obj, dtype):
    if isinstance(obj, (list, tuple)):
        if not obj:
            return zeros((0,), dtype)
        return stack([_stack_nested(e, dtype) for e in obj])
    return convert(obj, dtype)


def _from_nested(obj, dtype):
    """A nested list/tuple: its dtype by JAX's lattice over the leaves (so eager and traced
    leaves agree), never weak; stacked in the IR when a leaf is traced."""
    kinds = set()
    traced = _leaf_kinds(obj, kinds)
    natural = dtypes.promote(kinds)[0] if kinds else dtypes.default_float
    if traced:
        out = _stack_nested(obj, natural)
        return out if dtype in (None, natural) else convert(out, dtype)
    try:
        arr = np.asarray(obj, dtype=natural)  # Arrays inside convert through __array__
    except ValueError as e:
        if "inhomogeneous" in str(e):
            raise ShapeError(f"array: the nested sequence is ragged (its rows have different "
                             f"lengths): {e}") from None
        raise
    if dtype is not None and dtype != natural:
        # The primitive's own conversion (float -> int saturates, NaN -> 0), as traced leaves
        # get, computed now so no conversion reaches the IR.
        arr = np.asarray(el.convert_element_type_p.impl(arr, new_dtype=dtype))
    return Array._wrap(arr, False)


def array(object, dtype=None, copy=True, order="K", ndmin=0):
    """An array from an array, a scalar (weakly typed, as in JAX) or a nested sequence (which
    may hold traced values)."""
    if order not in (None, "K", "A", "C"):
        raise ValueError(f"array: order={order!r} is not supported; jitcore arrays are "
                         "row-major (order='C')")
    d = _dtype_arg("array", dtype)
    if isinstance(object, (list, tuple)):
        x = _from_nested(object, d)
    elif isinstance(object, Array) and not isinstance(object, Tracer) and copy and \
            d in (None, object.dtype):
        # Immutable data can be shared; a new handle keeps deleting (donation) separate.
        x = Array._wrap(np.asarray(object), object.weak_type)
    else:
        x = _promotion.asarray(object, d)
    if not ndmin:
        return x
    ndmin = static_int("array", "ndmin", ndmin)
    s = aval_of(x).shape
    return reshape_to(x, (1,) * (ndmin - len(s)) + s) if ndmin > len(s) else x


def asarray(a, dtype=None, order=None, *, copy=None):
    """`a` as an array; an array of the requested dtype is returned as is."""
    return array(a, dtype, copy=bool(copy), order=order)


# --- filled arrays -------------------------------------------------------------------------

def zeros(shape, dtype=None, *, device=None):
    d = _dtype_arg("zeros", dtype) or dtypes.default_float
    return _fill(static_shape("zeros", shape, d), _scalar(0, d))


def ones(shape, dtype=None, *, device=None):
    d = _dtype_arg("ones", dtype) or dtypes.default_float
    return _fill(static_shape("ones", shape, d), _scalar(1, d))


def empty(shape, dtype=None, *, device=None):
    """Zeros: jitcore never hands out uninitialized memory."""
    d = _dtype_arg("empty", dtype) or dtypes.default_float
    return _fill(static_shape("empty", shape, d), _scalar(0, d))


def _filled(op, shape, fill_value, dtype, weak):
    """`fill_value` (a scalar, an array or a traced value) broadcast to `shape`, as `dtype`
    (its own when None); `weak` decides the weak type of a scalar fill."""
    fv = aval_of(fill_value)
    if fv.ndim == 0:
        return _fill(shape, convert(fill_value, dtype or fv.dtype, weak))
    value = _promotion.asarray(fill_value, dtype)
    fits = fv.ndim <= len(shape) and all(
        d in (1, n) for d, n in zip(fv.shape[::-1], shape[::-1]))
    if not fits:
        raise ShapeError(f"{op}: fill_value {aval_of(value).str_short()} cannot be broadcast "
                         f"to shape {shape}")
    return _promotion.broadcast_to(value, shape)


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of `shape` filled with `fill_value` (broadcast when it is an array); its dtype
    by default, weakly typed for a Python scalar, as in JAX."""
    d = _dtype_arg("full", dtype)
    fv = aval_of(fill_value)
    return _filled("full", static_shape("full", shape, d or fv.dtype), fill_value, d,
                   d is None and fv.weak_type)


def _like(op, a, fill_value, dtype, shape):
    # As in JAX, the result is weakly typed when `a` is and no dtype is given.
    av = aval_of(a)
    d = _dtype_arg(op, dtype)
    out_shape = av.shape if shape is None else static_shape(op, shape, d or av.dtype)
    return _filled(op, out_shape, fill_value, d or av.dtype, d is None and av.weak_type)


def zeros_like(a, dtype=None, shape=None, *, device=None):
    return _like("zeros_like", a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
    return _like("ones_like", a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None, *, device=None):
    """Zeros like `a`: jitcore never hands out uninitialized memory."""
    return _like("empty_like", a, 0, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    return _like("full_like", a, fill_value, dtype, shape)


# --- ranges --------------------------------------------------------------------------------

_ARANGE_HINT = ("the length of the result must be known when tracing: mark the argument "
                "static with static_argnums/static_argnames, or build the range from a static "
                "length with lax.iota(dtype, n) * step + start")


def _bound(name, v):
    if isinstance(v, Tracer):
        raise ConcretizationTypeError(
            f"arange: {name} must be a static number, got a traced value {v.aval.str_short()}",
            hint=_ARANGE_HINT)
    if isinstance(v, (Array, np.ndarray)):
        if v.ndim:
            raise TypeError(f"arange: {name} must be a scalar, got an array of shape {v.shape}")
        return np.asarray(v)[()]
    core.get_aval(v)  # a clear TypeError for non-numbers
    return v


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """NumPy's `arange` with JAX-x64 dtypes (int64 for ints, float64 for floats); the bounds
    must be static. Under jit: an iota, scaled and offset, with NumPy's exact values."""
    # arange(n) names its only bound `stop`, as NumPy's documentation does.
    names = ("start", "stop", "step") if stop is not None else ("stop", "", "step")
    given = [(n, v) for n, v in zip(names, (start, stop, step)) if v is not None]
    bounds = {n: _bound(n, v) for n, v in given}
    d = _dtype_arg("arange", dtype)
    if d is None:
        d = dtypes.promote({_leaf_kind(v) for v in bounds.values()})[0]
    if d.kind == "b":
        raise DtypeError("arange: dtype bool is not supported", hint="use a numeric dtype")
    start, stop, step = bounds.get("start", 0), bounds["stop"], bounds.get("step", 1)
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if (type(start) is Dim or type(stop) is Dim) and type(step) is int and step == 1:
        # A bucketed trace's symbolic size (ops.dims): the length stays symbolic.
        return _affine_range(max(0, stop - start), np.array(start).astype(d),
                             np.array(start + 1).astype(d), d)
    with np.errstate(all="ignore"):
        span = (stop - start) / step
        if not math.isfinite(float(span)):
            raise ValueError(f"arange: cannot compute the length of a range from {start} to "
                             f"{stop} by {step}")
        n = max(0, math.ceil(float(span)))
        # NumPy writes start and start + step, then fills start + i * (second - start).
        first = np.array(start).astype(d)
        second = np.array(start + step).astype(d)
    return _affine_range(n, first, second, d)


def _affine_range(n, first, second, d):
    if _kind(d) == "f":
        cd = dtypes.float32 if dtypes.is_half(d) else d  # NumPy fills float16 in float32
        f = first.astype(cd)
        delta = second.astype(cd) - f
    else:
        cd = dtypes.uint64 if d == dtypes.uint64 else dtypes.int64
        f = first.astype(cd)
        with np.errstate(all="ignore"):
            delta = second.astype(cd) - f  # wraps like NumPy's integer fill
    x = el.iota(dtype=cd, shape=(n,), dimension=0)
    if delta != 1:
        x = el.mul(x, _fill((n,), _scalar(delta, cd)))
    if not (f == 0 and (_kind(d) != "f" or delta > 0)):
        x = el.add(x, _fill((n,), _scalar(f, cd)))
    if cd != d:
        x = el.convert_element_type(x, new_dtype=d)
    if _kind(d) == "f" and n >= 2:
        with np.errstate(all="ignore"):
            computed = (f + delta).astype(d)
        if computed != second and not (np.isnan(computed) and np.isnan(second)):
            # Element 1 is `start + step` itself in NumPy, which can differ in the last bit.
            is_one = el.eq(el.iota(dtype=dtypes.int64, shape=(n,), dimension=0),
                           _fill((n,), _scalar(1, dtypes.int64)))
            x = el.select(is_one, _fill((n,), _scalar(second, d)), x)
    return x


def _axis_for_new(op, axis, nd):
    axis = static_axis(op, axis)
    if not -nd <= axis < nd:
        raise AxisError(f"{op}: axis {axis} is out of bounds for a result of {nd} dimensions")
    return axis % nd


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
             *, device=None):
    """`num` evenly spaced values from start to stop (array bounds give one range per element,
    along `axis`), computed as JAX does: start * (1 - t) + stop * t."""
    from ._ufuncs import add, floor, multiply, subtract, true_divide
    num = static_int("linspace", "num", num)
    if num < 0:
        raise ValueError(f"linspace: the number of samples must be non-negative, got {num}")
    start, stop = _promotion.asarray(start), _promotion.asarray(stop)
    d = _dtype_arg("linspace", dtype) or _inexact(result_dtype(start, stop)[0])
    cd = _inexact(d)
    start, stop = convert(start, cd), convert(stop, cd)
    bshape = _promotion.broadcast_shapes("linspace", aval_of(start).shape, aval_of(stop).shape)
    start = _promotion.broadcast_to(start, bshape)
    stop = _promotion.broadcast_to(stop, bshape)
    ax = _axis_for_new("linspace", axis, len(bshape) + 1)
    shape1 = bshape[:ax] + (1,) + bshape[ax:]
    if num > 1:
        div = num - 1 if endpoint else num
        delta = true_divide(subtract(stop, start), _scalar(div, cd))
        t = el.iota(dtype=cd, shape=tuple(div if i == ax else 1 for i in range(len(shape1))),
                    dimension=ax)
        t = true_divide(t, _scalar(div, cd))
        out = add(multiply(reshape_to(start, shape1), subtract(1, t)),
                  multiply(reshape_to(stop, shape1), t))
        if endpoint:
            out = sh.concatenate(out, reshape_to(stop, shape1), dimension=ax)
    elif num == 1:
        delta = _scalar(np.nan, cd) if endpoint else subtract(stop, start)
        out = reshape_to(start, shape1)
    else:
        delta = _scalar(np.nan, cd)
        out = zeros(bshape[:ax] + (0,) + bshape[ax:], cd)
    if _kind(d) != "f":
        out = floor(out)
    out = convert(out, d)
    return (out, delta) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """`base ** linspace(start, stop, ...)`."""
    from ._ufuncs import power
    start, stop = _promotion.asarray(start), _promotion.asarray(stop)
    d = _dtype_arg("logspace", dtype) or _inexact(result_dtype(start, stop)[0])
    cd = _inexact(d)
    lin = linspace(convert(start, cd), convert(stop, cd), num, endpoint=endpoint, axis=axis)
    return convert(power(base, lin), d)


# --- matrices and grids --------------------------------------------------------------------

def _diagonal_compare(op, N, M, k, compare):
    """compare(row + k, col) over an (N, M) grid of iotas: no constant matrix in the IR."""
    N = static_int(op, "N", N)
    M = N if M is None else static_int(op, "M", M)
    k = static_int(op, "k", k)
    if N < 0 or M < 0:
        raise ShapeError(f"{op}: negative dimensions are not allowed, got N={N}, M={M}")
    rows = el.iota(dtype=dtypes.int64, shape=(N, M), dimension=0)
    cols = el.iota(dtype=dtypes.int64, shape=(N, M), dimension=1)
    if k:
        rows = el.add(rows, _fill((N, M), _scalar(k, dtypes.int64)))
    return compare(rows, cols)


def eye(N, M=None, k=0, dtype=None, *, device=None):
    """Ones on the k-th diagonal of an N x M matrix, zeros elsewhere."""
    d = _dtype_arg("eye", dtype) or dtypes.default_float
    return convert(_diagonal_compare("eye", N, M, k, el.eq), d)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the k-th diagonal of an N x M matrix."""
    d = _dtype_arg("tri", dtype) or dtypes.float32   # JAX's default, even with 64-bit on
    return convert(_diagonal_compare("tri", N, M, k, el.ge), d)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors (a list, like JAX); `indexing` 'xy'
    (Cartesian: the first two axes swapped) or 'ij' (matrix)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(_promotion.asarray(x)) for x in xi]
    pos = list(range(len(xs)))
    if indexing == "xy" and len(xs) > 1:
        pos[0], pos[1] = 1, 0
    full_shape = [0] * len(xs)
    for x, p in zip(xs, pos):
        full_shape[p] = aval_of(x).shape[0]
    out = []
    for x, p in zip(xs, pos):
        if sparse:
            out.append(reshape_to(x, tuple(full_shape[p] if i == p else 1
                                           for i in range(len(xs)))))
        else:
            out.append(sh.broadcast_in_dim(x, shape=tuple(full_shape),
                                           broadcast_dimensions=(p,)))
    return out


def indices(dimensions, dtype=None, sparse=False):
    """The index grid of an array of shape `dimensions`: stacked (shape (len, *dimensions)), or
    one broadcastable array per axis when `sparse`."""
    dims = static_shape("indices", dimensions)
    d = _dtype_arg("indices", dtype) or dtypes.default_int

    def grid(shape, i):
        if d.kind == "b":  # iota is numeric; NumPy's bool grid is the int one cast
            return convert(el.iota(dtype=dtypes.int64, shape=shape, dimension=i), d)
        return el.iota(dtype=d, shape=shape, dimension=i)
    if sparse:
        return tuple(grid(tuple(n if j == i else 1 for j, n in enumerate(dims)), i)
                     for i in range(len(dims)))
    if not dims:
        return zeros((0,), d)
    return stack([grid(dims, i) for i in range(len(dims))])
