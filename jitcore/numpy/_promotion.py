"""Turning array-likes into operands: `asarray`, dtype promotion and NumPy broadcasting.

Every `jitcore.numpy` function goes through these before binding primitives, which want
operands of one dtype and one shape. Python scalars are weak: they take the dtype of the array
they meet, and they become constants directly (no conversion instruction in the IR).
"""
from __future__ import annotations

import numpy as np

from ops import core, dtypes
from ops import elementwise as el
from ops import shape as sh
from ops.core import ShapedArray, Tracer
from ops.dims import Dim
from ops.errors import DtypeError, ShapeError

from ..array import Array

ArrayLike = object  # documentation alias: Array | Tracer | np.ndarray | scalar | nested list


def is_scalar(x) -> bool:
    return type(x) in (bool, int, float, complex)


def aval_of(x) -> ShapedArray:
    if isinstance(x, (list, tuple)):
        return core.get_aval(asarray(x))
    return core.get_aval(x)


def _from_sequence(x, dtype):
    """A list/tuple: `jnp.array`'s conversion (JAX's dtype rule over all elements, traced or not)."""
    from ._creation import array  # creation builds on this module, so import late
    return array(x, dtype=dtype)


def asarray(x, dtype=None):
    """An Array or tracer for any array-like; converts to `dtype` when given."""
    if dtype is not None:
        dtype = dtypes.canonicalize(dtype, "asarray")
    if isinstance(x, (Tracer, Array)):
        if dtype is None or x.dtype == dtype:
            return x
        return el.convert_element_type(x, new_dtype=dtype)
    if type(x) is Dim:
        v = size_value(x)
        return v if dtype is None else el.convert_element_type(v, new_dtype=dtype)
    if is_scalar(x):
        d, weak = dtypes.python_scalar_dtype(x)
        if dtype is not None:
            d, weak = dtype, False
        return Array._wrap(np.array(x, dtype=d), weak)
    if isinstance(x, (np.ndarray, np.generic)):
        d = dtypes.canonicalize(x.dtype if dtype is None else dtype, "array argument")
        if d != x.dtype and x.dtype in dtypes.IR_NAME:
            # Convert as the primitive does under jit (float -> int saturates, NaN -> 0), not
            # with NumPy's C cast, so eager and jitted results agree.
            return el.convert_element_type(Array(np.asarray(x)), new_dtype=d)
        return Array(np.array(x, dtype=d))
    if isinstance(x, (list, tuple)):
        return _from_sequence(x, dtype)
    if hasattr(x, "__array__") and not isinstance(x, type):
        return asarray(np.asarray(x), dtype)
    raise TypeError(f"{type(x).__name__} is not a valid array: {x!r:.80}",)


def size_value(d: Dim):
    """The traced value of a symbolic size (a weak int64 scalar computed from the true sizes
    the bucketed executable receives), so `x.sum(0) / x.shape[0]` divides by the true size."""
    def const(c):
        return Array._wrap(np.array(c, dtypes.int64), True)

    total = None
    for mono, coeff in d.poly.terms.items():
        term = None
        for s in mono:
            t = d.table.symbols[s].tracer
            term = t if term is None else el.mul(term, t)
        term = const(coeff) if term is None else term if coeff == 1 else el.mul(term, const(coeff))
        total = term if total is None else el.add(total, term)
    return total


def result_dtype(*args):
    """(dtype, weak_type) that `args` promote to under JAX's lattice."""
    avals = [aval_of(a) for a in args]
    return dtypes.promote([(a.dtype, a.weak_type) for a in avals])


def convert(x, dtype, weak_type=False):
    """`x` as `dtype`: Python scalars and concrete arrays convert directly, tracers by an op."""
    if is_scalar(x):
        # A weak Python int wraps into a narrower dtype, as XLA's convert of JAX's int64
        # constant does (int8_array + 1000 is int8); np.array(1000, dtype=int8) would raise.
        with np.errstate(all="ignore"):
            return Array._wrap(np.asarray(x).astype(dtype), weak_type)
    if isinstance(x, (list, tuple)) or not hasattr(x, "aval") and not isinstance(
            x, (np.ndarray, np.generic)):
        x = asarray(x)
    a = core.get_aval(x)
    if a.dtype == dtype and a.weak_type == weak_type:
        return x if isinstance(x, (Tracer, Array)) else asarray(x)
    if a.dtype == dtype and not isinstance(x, Tracer):
        return Array._wrap(np.asarray(x), weak_type)
    return el.convert_element_type(x, new_dtype=dtype, weak_type=weak_type)


def broadcast_shapes(op: str, *shapes) -> tuple:
    """NumPy's broadcast of `shapes`, or a ShapeError naming `op` and the shapes."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        size = 1
        for s in shapes:
            j = i - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if size != 1 and d != size:
                raise ShapeError(
                    f"{op}: incompatible shapes for broadcasting: "
                    + ", ".join(str(tuple(s)) for s in shapes),
                    hint="shapes broadcast when trailing dimensions are equal or 1; "
                         "insert an axis with x[:, None] or reshape")
            size = d
        out.append(size)
    return tuple(out)


def broadcast_to(x, shape):
    """`x` broadcast to `shape` with NumPy's rule (trailing dimensions aligned)."""
    a = aval_of(x)
    shape = tuple(shape)
    if len(a.shape) == len(shape) and a.shape == shape:
        return x
    if len(a.shape) > len(shape):
        raise ShapeError(f"broadcast_to: cannot broadcast {a.str_short()} to shape {shape} "
                         "(the array has more dimensions)")
    if broadcast_shapes("broadcast_to", a.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast {a.str_short()} to shape {shape}")
    lead = len(shape) - len(a.shape)
    return sh.broadcast_in_dim(x, shape=shape, broadcast_dimensions=tuple(range(lead, len(shape))))


def check_arraylike(op: str, *args):
    """JAX's jnp functions take arrays and scalars, not lists or tuples (`jnp.sum([1, 2])` is
    a TypeError there: a list would be converted on every call); `jnp.asarray` converts."""
    for i, a in enumerate(args):
        if isinstance(a, (list, tuple)):
            raise TypeError(f"{op} requires ndarray or scalar arguments, got {type(a)} at "
                            f"position {i}.")
    return args[0] if len(args) == 1 else args


def _alike(args) -> bool:
    """Arrays or tracers of one shape, dtype and weak type (`x + y` of like arrays, `sin(x)`:
    the common case): promotion and broadcasting leave them as they are (JAX's lattice joins
    equal types to themselves)."""
    first = getattr(args[0], "aval", None) if args else None
    if type(first) is not ShapedArray:
        return False
    for a in args[1:]:
        if not isinstance(a, (Array, Tracer)):
            return False
        b = a.aval
        if b is first:
            continue
        # Sizes compared without `==` on a bucketed trace's symbolic sizes (a `Dim` asked
        # whether it equals 3 records that the program depends on its value).
        if type(b) is not ShapedArray or b.dtype != first.dtype or \
                b.weak_type != first.weak_type or len(b.shape) != len(first.shape) or \
                not all(d is e or (type(d) is int and type(e) is int and d == e)
                        for d, e in zip(b.shape, first.shape)):
            return False
    return True


def promote_args(op: str, *args, dtype=None):
    """Operands of one dtype (promoted, or `dtype`) and one broadcast shape, ready to bind."""
    check_arraylike(op, *args)
    if dtype is None:
        if _alike(args):
            return list(args)
        dtype, weak = result_dtype(*args)
    else:
        weak = False
    converted = [convert(a, dtype, weak) for a in args]
    shapes = [core.get_aval(c).shape for c in converted]
    shape = broadcast_shapes(op, *shapes)
    return [broadcast_to(c, shape) for c in converted]


def promote_to_inexact(op: str, *args):
    """Like promote_args, but integers and bools become the default float (NumPy's true divide,
    sqrt, exp... on ints)."""
    check_arraylike(op, *args)
    if _alike(args) and dtypes.kind(args[0].aval.dtype) in "fc":
        return list(args)
    dtype, weak = result_dtype(*args)
    dtype = dtypes.to_inexact(dtype, weak)   # int32 -> float32, int64 -> float64, as JAX
    converted = [convert(a, dtype, weak) for a in args]
    shape = broadcast_shapes(op, *[core.get_aval(c).shape for c in converted])
    return [broadcast_to(c, shape) for c in converted]


def check_kind(op: str, x, kinds: str, what: str):
    a = aval_of(x)
    if a.dtype.kind not in kinds:
        raise DtypeError(f"{op} requires {what}, got {a.str_short()}",
                         hint="convert first with .astype(...)")
