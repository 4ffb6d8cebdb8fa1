"""More of `jax.lax`, built from the primitives: scans, top-k, slicing by one axis, `select_n`,
`full`, bit counting and `Precision`.

Everything here composes existing primitives, so derivatives, batching and lowering come from
theirs. Signatures, dtypes and conventions follow `jax.lax`.
"""
from __future__ import annotations

import builtins
import enum
import math

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops import elementwise as _el
from ops import shape as _sh
from ops.errors import DtypeError, InvalidArgumentError, ShapeError
from ops.rules import canonical_axis

from .numpy._promotion import aval_of, asarray, convert

__all__ = ["associative_scan", "top_k", "slice_in_dim", "index_in_dim", "dynamic_slice_in_dim",
           "dynamic_index_in_dim", "dynamic_update_slice_in_dim",
           "dynamic_update_index_in_dim", "select_n", "full", "full_like", "sort_key_val",
           "collapse", "population_count", "clz", "Precision", "lgamma", "digamma"]


def _lax():
    # jitcore.lax imports this module; its names are needed only at call time.
    from . import lax
    return lax


def _axis(op, axis, ndim):
    return canonical_axis(op, int(axis), ndim, None) if ndim else int(axis)


# --- slicing along one axis ------------------------------------------------------------------

def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """`lax.slice` along `axis` only; negative start/limit count from the end."""
    a = aval_of(operand)
    axis = _axis("slice_in_dim", axis, a.ndim)
    n = a.shape[axis]
    start = 0 if start_index is None else int(start_index)
    limit = n if limit_index is None else int(limit_index)
    start = start + n if start < 0 else start
    limit = limit + n if limit < 0 else limit
    starts, limits, strides = [0] * a.ndim, list(a.shape), [1] * a.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return _lax().slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """Element `index` (a Python int; negative counts from the end) along `axis`."""
    a = aval_of(operand)
    axis = _axis("index_in_dim", axis, a.ndim)
    index = int(index)
    if not -a.shape[axis] <= index < a.shape[axis]:
        raise IndexError(f"index_in_dim: index {index} is out of bounds for axis {axis} with "
                         f"size {a.shape[axis]}")
    index = index + a.shape[axis] if index < 0 else index
    out = slice_in_dim(operand, index, index + 1, 1, axis)
    return out if keepdims else _sh.squeeze(out, dimensions=(axis,))


def _wrapped_index(index, size, wrap=True):
    # JAX's dynamic slicing first adds the axis size to a negative index (then clamps).
    if not wrap:
        return convert(int(index), dtypes.default_int) if isinstance(
            index, (int, np.integer)) else asarray(index)
    if isinstance(index, (int, np.integer)):
        index = int(index)
        return convert(index + size if index < 0 else index, dtypes.default_int)
    index = asarray(index)
    zero = convert(0, aval_of(index).dtype)
    n = convert(size, aval_of(index).dtype)
    return _el.select(_el.lt(index, zero), _el.add(index, n), index)


def _starts(op, operand, start_index, axis, wrap):
    a = aval_of(operand)
    axis = _axis(op, axis, a.ndim)
    idx = _wrapped_index(start_index, a.shape[axis], wrap)
    zero = convert(0, aval_of(idx).dtype)
    return axis, [idx if d == axis else zero for d in range(a.ndim)]


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *,
                         allow_negative_indices=True):
    """`lax.dynamic_slice` along `axis`: `slice_size` elements from the traced `start_index`
    (negative counts from the end; the start is clamped so the slice fits)."""
    axis, starts = _starts("dynamic_slice_in_dim", operand, start_index, axis,
                           allow_negative_indices)
    sizes = list(aval_of(operand).shape)
    sizes[axis] = int(slice_size)
    return _lax().dynamic_slice(operand, starts, sizes, allow_negative_indices=False)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *,
                         allow_negative_indices=True):
    """Element `index` (may be traced) along `axis`."""
    axis = _axis("dynamic_index_in_dim", axis, aval_of(operand).ndim)
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else _sh.squeeze(out, dimensions=(axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *,
                                allow_negative_indices=True):
    """`lax.dynamic_update_slice` with the start given along `axis` only."""
    axis, starts = _starts("dynamic_update_slice_in_dim", operand, start_index, axis,
                           allow_negative_indices)
    return _lax().dynamic_update_slice(operand, update, starts, allow_negative_indices=False)


def dynamic_update_index_in_dim(operand, update, index, axis, *,
                                allow_negative_indices=True):
    """Write `update` (with or without the length-1 `axis`) at position `index` of `axis`."""
    a = aval_of(operand)
    axis = _axis("dynamic_update_index_in_dim", axis, a.ndim)
    if aval_of(update).ndim == a.ndim - 1:
        update = _lax().expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


def collapse(operand, start_dimension, stop_dimension=None):
    """Merge dimensions [start_dimension, stop_dimension) into one."""
    shape = aval_of(operand).shape
    lo, hi, step = builtins.slice(start_dimension, stop_dimension).indices(len(shape))
    if step != 1 or hi < lo:
        raise ValueError(f"collapse: bad dimensions [{start_dimension}, {stop_dimension}) for "
                         f"shape {shape}")
    new = shape[:lo] + (math.prod(shape[lo:hi]),) + shape[hi:]
    return _sh.reshape(operand, new_sizes=tuple(new))


# --- constructors ----------------------------------------------------------------------------

def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of `shape` filled with the scalar `fill_value` (weakly typed when `dtype` is
    None and `fill_value` is a Python scalar, as in JAX)."""
    shape = tuple(int(d) for d in (shape if np.ndim(shape) else (shape,)))
    if np.ndim(fill_value) if not hasattr(fill_value, "aval") else aval_of(fill_value).ndim:
        raise ShapeError(f"full must be called with scalar fill_value, got fill_value.shape "
                         f"{np.shape(fill_value)}.")
    if dtype is None:
        a = aval_of(asarray(fill_value))
        d, weak = a.dtype, a.weak_type
    else:
        d, weak = dtypes.canonicalize(dtype, "full"), False
    v = convert(fill_value, d, weak)
    return _sh.broadcast_in_dim(v, shape=shape, broadcast_dimensions=())


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """`full` with the shape and dtype (and weak type) of `x` unless given."""
    a = aval_of(x)
    out = full(a.shape if shape is None else shape, fill_value,
               a.dtype if dtype is None else dtype)
    if dtype is None and a.weak_type:
        out = convert(out, a.dtype, True)
    return out


# --- selection and sorting -------------------------------------------------------------------

def select_n(which, *cases):
    """`cases[which]` elementwise. `which` is bool (exactly two cases: False picks cases[0])
    or an integer array, scalar or shaped like the cases; out-of-range picks are unspecified."""
    if not cases:
        raise InvalidArgumentError("select_n: need at least one case")
    which = asarray(which)
    w = aval_of(which)
    ref = aval_of(cases[0])
    for c in cases[1:]:
        ca = aval_of(c)
        if ca.shape != ref.shape or ca.dtype != ref.dtype:
            raise ShapeError(f"select_n: all cases must have the same shape and dtype, got "
                             f"{ref.str_short()} and {ca.str_short()}")
    if w.dtype == np.bool_:
        if len(cases) > 2:
            raise DtypeError(f"select_n: a bool `which` selects between 2 cases, got "
                             f"{len(cases)}")
    elif w.dtype.kind not in "iu":
        raise DtypeError(f"select_n: `which` must be bool or integer, got {w.str_short()}")
    if w.shape not in ((), ref.shape):
        raise ShapeError(f"select_n: `which` must be scalar or have the cases' shape "
                         f"{ref.shape}, got {w.shape}")
    if len(cases) == 1:
        return cases[0]
    if w.shape != ref.shape:
        which = _sh.broadcast_in_dim(which, shape=ref.shape, broadcast_dimensions=())
    if w.dtype == np.bool_:
        return _el.select(which, cases[1], cases[0])

    def pick(lo, hi):      # cases[lo:hi] chosen by `which`, a balanced tree of selects
        if hi - lo == 1:
            return cases[lo]
        mid = (lo + hi) // 2
        return _el.select(_lax().lt(which, mid), pick(lo, mid), pick(mid, hi))
    return pick(0, len(cases))


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """Sort `keys` along `dimension` and permute `values` the same way: (keys, values)."""
    k, v = _lax().sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
    return k, v


def top_k(operand, k, *, axis=-1):
    """The `k` largest entries along `axis`, in descending order, and their int32 indices;
    equal values come lowest index first and NaN counts as the largest, as in JAX."""
    lax = _lax()
    a = aval_of(operand)
    if a.ndim == 0:
        raise ShapeError("top_k: operand must have at least one dimension, got a scalar")
    axis = _axis("top_k", axis, a.ndim)
    k = int(k)
    if k < 0:
        raise ValueError(f"top_k: k argument must be nonnegative, got {k}")
    if k > a.shape[axis]:
        raise ValueError(f"top_k: k argument must be at most the size of axis {axis} "
                         f"({a.shape[axis]}), got {k}")
    idx = lax.broadcasted_iota(dtypes.int32, a.shape, axis)
    keys = [operand]
    if _kind(a.dtype) == "f":
        # XLA orders -0.0 below +0.0; comparison calls them equal, so a second key does it.
        from .numpy import signbit
        keys.append(lax.convert_element_type(lax.bitwise_not(signbit(operand)), dtypes.int32))
    # A stable ascending sort of the reversed operand, reversed back, is a descending sort
    # in which equal keys keep their original (lowest index first) order.
    out = lax.sort(tuple(_sh.rev(t, dimensions=(axis,)) for t in keys + [idx]),
                   dimension=axis, is_stable=True, num_keys=len(keys))
    vals, ids = (_sh.rev(t, dimensions=(axis,)) for t in (out[0], out[-1]))
    return slice_in_dim(vals, 0, k, 1, axis), slice_in_dim(ids, 0, k, 1, axis)


# --- associative scan ------------------------------------------------------------------------

def _interleave(a, b, axis):
    """a[0], b[0], a[1], b[1], ... along `axis` (len(a) == len(b) or len(b) + 1)."""
    lax = _lax()
    na, nb = aval_of(a).shape[axis], aval_of(b).shape[axis]
    nd = aval_of(a).ndim
    pa, pb = [(0, 0, 0)] * nd, [(0, 0, 0)] * nd
    pa[axis] = (0, 1 if na == nb else 0, 1)
    pb[axis] = (1, 0 if na == nb else 1, 1)
    op = lax.bitwise_or if aval_of(a).dtype == np.bool_ else lax.add
    return op(lax.pad(a, 0 if aval_of(a).dtype != np.bool_ else False, pa),
              lax.pad(b, 0 if aval_of(b).dtype != np.bool_ else False, pb))


def associative_scan(fn, elems, reverse=False, axis=0):
    """Inclusive scan of `elems` (a pytree of arrays sharing the size of `axis`) with the
    associative `fn(a, b)`, which must work elementwise on slices of the inputs. JAX's
    parallel-prefix algorithm: O(log n) rounds of `fn` on halved arrays."""
    from . import tree_util
    lax = _lax()
    leaves, tree = tree_util.tree_flatten(elems)
    if not leaves:
        raise ValueError("associative_scan: elems has no arrays")
    leaves = [asarray(x) for x in leaves]
    axis = _axis("associative_scan", axis, aval_of(leaves[0]).ndim)
    n = aval_of(leaves[0]).shape[axis]
    shapes = [aval_of(x).shape for x in leaves]
    if any(len(s) <= axis or s[axis] != n for s in shapes):
        raise ValueError(f"associative_scan: array inputs must share the size of axis {axis}; "
                         f"got shapes {shapes}")
    if reverse:
        leaves = [lax.rev(x, (axis,)) for x in leaves]

    def combine(a, b):
        c = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
        out = tree_util.tree_leaves(c)
        if len(out) != len(a):
            raise ValueError("associative_scan: fn must return the structure of its inputs")
        return out

    def scan(xs):
        m = aval_of(xs[0]).shape[axis]
        if m < 2:
            return xs
        # Combine neighbouring pairs, scan the half-length result (the odd positions' prefixes),
        # then fill in the even positions from it.
        reduced = combine([slice_in_dim(x, 0, m - 1, 2, axis) for x in xs],
                          [slice_in_dim(x, 1, None, 2, axis) for x in xs])
        odd = scan(reduced)
        if m % 2 == 0:
            even = combine([slice_in_dim(o, 0, -1, 1, axis) for o in odd],
                           [slice_in_dim(x, 2, None, 2, axis) for x in xs])
        else:
            even = combine(odd, [slice_in_dim(x, 2, None, 2, axis) for x in xs])
        even = [lax.concatenate([slice_in_dim(x, 0, 1, 1, axis), e], axis)
                for x, e in zip(xs, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan(leaves)
    if reverse:
        out = [lax.rev(x, (axis,)) for x in out]
    return tree_util.tree_unflatten(tree, out)


# --- bit counting ----------------------------------------------------------------------------

_UINT = {1: dtypes.uint8, 2: dtypes.uint16, 4: dtypes.uint32, 8: dtypes.uint64}


def _unsigned_view(op, x):
    x = asarray(x)
    d = aval_of(x).dtype
    if d.kind not in "iu":
        raise DtypeError(f"{op}: operand must be an integer array, got {aval_of(x).str_short()}")
    u = np.dtype(_UINT[d.itemsize])
    return x, d, (x if d == u else _el.bitcast_convert_type(x, new_dtype=u)), u


def _popcount_unsigned(u, d):
    # SWAR bit counting: 2-, 4-, 8-bit partial sums, then bytes added by one multiply.
    lax = _lax()
    bits = d.itemsize * 8
    mask = (1 << bits) - 1
    m1, m2, m4 = (0x5555555555555555 & mask, 0x3333333333333333 & mask,
                  0x0F0F0F0F0F0F0F0F & mask)
    sr = lax.shift_right_logical
    u = lax.sub(u, lax.bitwise_and(sr(u, 1), m1))
    u = lax.add(lax.bitwise_and(u, m2), lax.bitwise_and(sr(u, 2), m2))
    u = lax.bitwise_and(lax.add(u, sr(u, 4)), m4)
    if bits == 8:
        return u
    return sr(lax.mul(u, 0x0101010101010101 & mask), bits - 8)


def population_count(x):
    """The number of set bits of each element (same integer dtype)."""
    x, d, u, ud = _unsigned_view("population_count", x)
    out = _popcount_unsigned(u, ud)
    return out if d == ud else _el.bitcast_convert_type(out, new_dtype=d)


def clz(x):
    """The number of leading zero bits of each element (same integer dtype)."""
    x, d, u, ud = _unsigned_view("clz", x)
    bits = ud.itemsize * 8
    s = 1
    while s < bits:      # copy the highest set bit into every lower position
        u = _lax().bitwise_or(u, _lax().shift_right_logical(u, s))
        s *= 2
    out = _lax().sub(bits, _popcount_unsigned(u, ud))
    return out if d == ud else _el.bitcast_convert_type(out, new_dtype=d)


# --- precision and special functions ---------------------------------------------------------

class Precision(enum.Enum):
    """Matmul/convolution precision (JAX's `lax.Precision`). jitcore computes in the operands'
    dtype whatever is asked, so this is accepted and otherwise ignored."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        names = {"default": cls.DEFAULT, "fastest": cls.DEFAULT, "bfloat16": cls.DEFAULT,
                 "high": cls.HIGH, "bfloat16_3x": cls.HIGH, "tensorfloat32": cls.HIGH,
                 "highest": cls.HIGHEST, "float32": cls.HIGHEST}
        if isinstance(value, str) and value.lower() in names:
            return names[value.lower()]
        return None

    def __str__(self):
        return self.name


def lgamma(x):
    """log|Gamma(x)| elementwise (floating point input)."""
    from .scipy.special import gammaln
    return gammaln(x)


def digamma(x):
    """The logarithmic derivative of Gamma elementwise (floating point input)."""
    from .scipy.special import digamma as _digamma
    return _digamma(x)
