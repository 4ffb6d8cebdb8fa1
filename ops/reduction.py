"""Reductions (sum, prod, max, min, and, or, argmax, argmin over static axes) and cumulative
scans (cumsum, cumprod, cummax, cummin along one axis, optionally reversed).

Reductions keep the operand's dtype (the `jitcore.numpy` layer upcasts first where NumPy does,
e.g. summing bools or small ints); argmax/argmin return `index_dtype`.

Derivatives follow JAX's: products are exact where elements are zero, max/min ties share the
derivative equally, and cumprod/cummax/cummin differentiate through JAX's prefix-scan tree.
"""
from __future__ import annotations

import math
import numpy as np

from . import dtypes
from .autodiff import deflinear, defnondiff, full_like, is_float, shift_axes
from .cumulative import accumulate
from .core import Primitive, ShapedArray, bind, get_aval
from .elementwise import (add, convert_element_type, div, eq, max as max_, min as min_, mul,
                          select)
from .errors import ShapeError
from .rules import as_function, canonical_axes, canonical_axis, check_kinds, quiet
from .shape import broadcast_in_dim, concatenate, pad, reshape, rev, slice as slice_, transpose

NUM = "fiu"


def _reduce_shape(x, axes):
    return tuple(s for i, s in enumerate(x.shape) if i not in axes)


def _defreduce(name, impl, kinds, identity):
    p = Primitive(name, "reduction")
    p.reduction = identity
    p.lowering = "kernel"

    def rule(x, *, axes):
        check_kinds(name, x, kinds)
        axes = canonical_axes(name, axes, x.ndim, x.shape)
        if name in ("reduce_max", "reduce_min"):
            for a in axes:
                if x.shape[a] == 0:
                    raise ShapeError(f"{name}: cannot reduce a zero-size dimension {a} of "
                                     f"{x.str_short()} (no identity)",
                                     hint="pass `initial=` to the jitcore.numpy function")
        return ShapedArray(_reduce_shape(x, axes), x.dtype, x.weak_type)

    p.abstract_eval = rule
    p.impl = quiet(lambda x, *, axes: np.asarray(impl(x, axis=tuple(axes))).astype(x.dtype))
    return p


def _acc(x):
    """The dtype a sum or product accumulates in: float32 for bfloat16 (ml_dtypes' own sum
    would round after every addition; XLA accumulates in float32 and rounds once)."""
    return np.float32 if x.dtype == dtypes.bfloat16 else x.dtype


reduce_sum_p = _defreduce("reduce_sum", lambda x, axis: np.sum(x, axis=axis, dtype=_acc(x)),
                          NUM + "bc", "zero")
reduce_sum_p.complex_parts = "parts"
reduce_prod_p = _defreduce("reduce_prod", lambda x, axis: np.prod(x, axis=axis, dtype=_acc(x)),
                           NUM + "bc", "one")
reduce_max_p = _defreduce("reduce_max", np.max, NUM + "b", "lowest")
reduce_min_p = _defreduce("reduce_min", np.min, NUM + "b", "highest")
reduce_and_p = _defreduce("reduce_and", np.all, "b", "one")
reduce_or_p = _defreduce("reduce_or", np.any, "b", "zero")

# Rules. Axes in params may be negative; rules canonicalize them against the operand.


def _axes_of(x, axes, name):
    a = get_aval(x)
    return a, canonical_axes(name, axes, a.ndim, a.shape)


def _kept(ndim, axes):
    return tuple(d for d in range(ndim) if d not in axes)


def _unreduce(v, aval, axes):
    """`v` (a reduction's result) broadcast back over the reduced axes of `aval`."""
    return broadcast_in_dim(v, shape=aval.shape, broadcast_dimensions=_kept(aval.ndim, axes))


def _transpose(x, perm):
    perm = tuple(int(p) for p in perm)
    return x if perm == tuple(range(len(perm))) else transpose(x, permutation=perm)


def _reshape(x, shape):
    return x if get_aval(x).shape == tuple(shape) else reshape(x, new_sizes=tuple(shape))


def _defbatch_reduce(prim):
    """The batch axis is never reduced: shift the reduced axes past it."""
    def batch(args, batched, size, *, axes):
        (x,), (b,) = args, batched
        if not b:
            return bind(prim, x, axes=axes), False
        a = get_aval(x)
        axes = canonical_axes(prim.name, axes, a.ndim - 1, a.shape[1:])
        return bind(prim, x, axes=shift_axes(axes)), True
    prim.batch = batch


def _reduce_sum_transpose(ct, x, *, axes):
    if ct is None or not is_float(x):
        return (None,)
    a, axes = _axes_of(x, axes, "reduce_sum")
    return (_unreduce(ct, a, axes),)


deflinear(reduce_sum_p, _reduce_sum_transpose)


def _products_of_others(x, axes):
    """For each element, the product of the other elements of its reduction group.

    Built from exclusive cumulative products from both ends, so it is exact where elements
    are zero (dividing the product by the element is not).
    """
    a = get_aval(x)
    kept = _kept(a.ndim, axes)
    perm = kept + axes
    kept_shape = tuple(a.shape[d] for d in kept)
    n = math.prod(a.shape[d] for d in axes)
    last = len(kept_shape)
    y = _reshape(_transpose(x, perm), kept_shape + (n,))
    one = np.array(1, a.dtype)

    def shifted(v, lo, hi):
        return pad(v, one, padding_config=((0, 0, 0),) * last + ((lo, hi, 0),))

    before = shifted(cumprod(y, axis=last), 1, -1)
    after = shifted(cumprod(y, axis=last, reverse=True), -1, 1)
    others = _reshape(mul(before, after), tuple(a.shape[d] for d in perm))
    return _transpose(others, np.argsort(perm))


def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    ans = reduce_prod(x, axes=axes)
    if t is None or not is_float(ans):
        return ans, None
    _, axes_c = _axes_of(x, axes, "reduce_prod")
    return ans, reduce_sum(mul(t, _products_of_others(x, axes_c)), axes=axes_c)


def _reduce_prod_vjp(ct, ans, primals, *, axes):
    (x,) = primals
    if ct is None or not is_float(x):
        return (None,)
    a, axes = _axes_of(x, axes, "reduce_prod")
    return (mul(_unreduce(ct, a, axes), _products_of_others(x, axes)),)


reduce_prod_p.jvp = _reduce_prod_jvp
reduce_prod_p.vjp = _reduce_prod_vjp


def _chosen_locations(x, ans, axes):
    """JAX's rule for max/min: (1.0 where x equals the result, how many do per group).

    Ties share the derivative equally. A NaN result equals nothing, so its count is 0 and its
    derivative NaN, as in JAX.
    """
    a = get_aval(x)
    loc = convert_element_type(eq(x, _unreduce(ans, a, axes)), new_dtype=a.dtype,
                               weak_type=False)
    return loc, reduce_sum(loc, axes=axes)


def _defchooser_rules(prim):
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = bind(prim, x, axes=axes)
        if t is None or not is_float(ans):
            return ans, None
        _, axes_c = _axes_of(x, axes, prim.name)
        loc, counts = _chosen_locations(x, ans, axes_c)
        return ans, div(reduce_sum(mul(t, loc), axes=axes_c), counts)

    def vjp(ct, ans, primals, *, axes):
        (x,) = primals
        if ct is None or not is_float(x):
            return (None,)
        a, axes_c = _axes_of(x, axes, prim.name)
        if ans is None:
            ans = bind(prim, x, axes=axes)
        loc, counts = _chosen_locations(x, ans, axes_c)
        return (mul(_unreduce(div(ct, counts), a, axes_c), loc),)

    prim.jvp, prim.vjp = jvp, vjp


_defchooser_rules(reduce_max_p)
_defchooser_rules(reduce_min_p)
defnondiff(reduce_and_p)
defnondiff(reduce_or_p)
for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p):
    _defbatch_reduce(_p)


def _defargreduce(name, impl, identity):
    p = Primitive(name, "reduction")
    p.reduction = identity     # what the value at a position that never wins holds
    p.arg_reduction = True
    p.lowering = "kernel"

    def rule(x, *, axis, index_dtype):
        check_kinds(name, x, NUM + "b")
        axis = canonical_axis(name, axis, x.ndim, x.shape)
        if x.shape[axis] == 0:
            raise ShapeError(f"{name}: attempt to get {name} of an empty dimension {axis} of "
                             f"{x.str_short()}")
        index_dtype = dtypes.canonicalize(index_dtype, name)
        return ShapedArray(_reduce_shape(x, (axis,)), index_dtype, False)

    def run(x, *, axis, index_dtype):
        # NaN wins, as in NumPy and JAX: the first NaN's index is the result.
        return impl(x, axis=axis).astype(index_dtype)

    p.abstract_eval = rule
    p.impl = quiet(run)
    return p


argmax_p = _defargreduce("argmax", np.argmax, "lowest")
argmin_p = _defargreduce("argmin", np.argmin, "highest")


def _defbatch_argreduce(prim):
    def batch(args, batched, size, *, axis, index_dtype):
        (x,), (b,) = args, batched
        if not b:
            return bind(prim, x, axis=axis, index_dtype=index_dtype), False
        a = get_aval(x)
        axis = canonical_axis(prim.name, axis, a.ndim - 1, a.shape[1:]) + 1
        return bind(prim, x, axis=axis, index_dtype=index_dtype), True
    prim.batch = batch


for _p in (argmax_p, argmin_p):
    defnondiff(_p)
    _defbatch_argreduce(_p)

# --- cumulative ----------------------------------------------------------------------------


def _defcumulative(name, ufunc, kinds, identity):
    p = Primitive(name, "reduction")
    p.reduction = identity
    p.cumulative = True
    p.lowering = "host"   # the CPU plan makes it a native "scan" step (`plan/sort_scan.py`)

    def rule(x, *, axis, reverse=False):
        check_kinds(name, x, kinds)
        canonical_axis(name, axis, x.ndim, x.shape)
        return x

    def run(x, *, axis, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        out = accumulate(ufunc, x, axis % x.ndim)
        return np.flip(out, axis) if reverse else out

    p.abstract_eval = rule
    p.impl = quiet(run)
    return p


cumsum_p = _defcumulative("cumsum", np.add, NUM + "c", "zero")
cumprod_p = _defcumulative("cumprod", np.multiply, NUM + "c", "one")
cummax_p = _defcumulative("cummax", np.maximum, NUM, "lowest")
cummin_p = _defcumulative("cummin", np.minimum, NUM, "highest")


def _defbatch_cumulative(prim):
    def batch(args, batched, size, *, axis, **params):
        (x,), (b,) = args, batched
        if not b:
            return bind(prim, x, axis=axis, **params), False
        a = get_aval(x)
        axis = canonical_axis(prim.name, axis, a.ndim - 1, a.shape[1:]) + 1
        return bind(prim, x, axis=axis, **params), True
    prim.batch = batch


def _cumsum_transpose(ct, x, *, axis, reverse=False):
    if ct is None or not is_float(x):
        return (None,)
    return (cumsum(ct, axis=axis, reverse=not reverse),)


deflinear(cumsum_p, _cumsum_transpose)

# cumprod, cummax and cummin differentiate through JAX's parallel prefix scan (its
# `associative_scan`, which JAX's rules for these primitives run under `jvp`): the same tree of
# pairwise combines, so products with zeros are exact and max/min ties split the way JAX's do.
# A combine of values (a, b) has a tangent wa*ta + wb*tb; `_scan_weights` records every
# combine's weights, level by level, and the tangent map and its transpose replay them.


def _in_axis(x, axis, start, limit, stride=1):
    a = get_aval(x)
    lo, hi, st = [0] * a.ndim, list(a.shape), [1] * a.ndim
    lo[axis], hi[axis], st[axis] = start, limit, stride
    return slice_(x, start_indices=tuple(lo), limit_indices=tuple(hi), strides=tuple(st))


def _pad_axis(x, axis, lo, hi, interior=0):
    a = get_aval(x)
    cfg = [(0, 0, 0)] * a.ndim
    cfg[axis] = (lo, hi, interior)
    return pad(x, np.array(0, a.dtype), padding_config=tuple(cfg))


def _interleave(even, odd, axis):
    """[e0, o0, e1, o1, ...]: `even` has as many elements along `axis` as `odd`, or one more."""
    ne, no = get_aval(even).shape[axis], get_aval(odd).shape[axis]
    return add(_pad_axis(even, axis, 0, 1 if ne == no else 0, 1),
               _pad_axis(odd, axis, 1, 0 if ne == no else 1, 1))


def _combine_weights(a, b, how):
    """(combined value, weight of a's tangent, weight of b's tangent) for one combine."""
    if how == "mul":
        return mul(a, b), b, a
    out = (max_ if how == "max" else min_)(a, b)

    def balanced(x, y):
        # JAX's max/min JVP: 1 where x won, 1/2 where both did, 0 where x lost (or NaN).
        one = full_like(out, 1)
        return div(select(eq(x, out), one, full_like(out, 0)),
                   select(eq(y, out), full_like(out, 2), one))
    return out, balanced(a, b), balanced(b, a)


def _scan_weights(x, axis, how, levels, top=True):
    """Appends each level's (wa, wb, wc, wd) to `levels`; returns the scan of `x` (except at
    the top, whose result the primitive itself gives). With 2 elements there is no second
    combine: wc, wd are None."""
    n = get_aval(x).shape[axis]
    if n < 2:
        return x
    reduced, wa, wb = _combine_weights(_in_axis(x, axis, 0, n - 1, 2),
                                       _in_axis(x, axis, 1, n, 2), how)
    level = [wa, wb, None, None]
    levels.append(level)
    odd = _scan_weights(reduced, axis, how, levels, top=False)
    even = _in_axis(x, axis, 0, 1)
    if n > 2:
        m = get_aval(odd).shape[axis]
        left = _in_axis(odd, axis, 0, m - 1) if n % 2 == 0 else odd
        combined, level[2], level[3] = _combine_weights(left, _in_axis(x, axis, 2, n, 2), how)
        even = concatenate(even, combined, dimension=axis)
    return None if top else _interleave(even, odd, axis)


def _scan_tangent(t, axis, levels, depth=0):
    n = get_aval(t).shape[axis]
    if n < 2:
        return t
    wa, wb, wc, wd = levels[depth]
    reduced = add(mul(_in_axis(t, axis, 0, n - 1, 2), wa), mul(_in_axis(t, axis, 1, n, 2), wb))
    odd = _scan_tangent(reduced, axis, levels, depth + 1)
    even = _in_axis(t, axis, 0, 1)
    if n > 2:
        m = get_aval(odd).shape[axis]
        left = _in_axis(odd, axis, 0, m - 1) if n % 2 == 0 else odd
        combined = add(mul(left, wc), mul(_in_axis(t, axis, 2, n, 2), wd))
        even = concatenate(even, combined, dimension=axis)
    return _interleave(even, odd, axis)


def _scan_tangent_transpose(ct, axis, levels, depth=0):
    """The transpose of `_scan_tangent`: the same steps in reverse order, each transposed
    (slices become zero-padding, interleaving becomes strided slices)."""
    n = get_aval(ct).shape[axis]
    if n < 2:
        return ct
    wa, wb, wc, wd = levels[depth]
    ct_even, ct_odd = _in_axis(ct, axis, 0, n, 2), _in_axis(ct, axis, 1, n, 2)
    ct_first = ct_even
    if n > 2:
        ct_first = _in_axis(ct_even, axis, 0, 1)
        ct_combined = _in_axis(ct_even, axis, 1, get_aval(ct_even).shape[axis])
        ct_left = mul(ct_combined, wc)
        if n % 2 == 0:
            ct_left = _pad_axis(ct_left, axis, 0, 1)
        ct_odd = add(ct_odd, ct_left)
        ct_first = concatenate(ct_first, mul(ct_combined, wd), dimension=axis)
    ct_reduced = _scan_tangent_transpose(ct_odd, axis, levels, depth + 1)
    ct_a = mul(ct_reduced, wa)
    if n % 2:
        ct_a = _pad_axis(ct_a, axis, 0, 1)
    return _interleave(add(ct_first, ct_a), mul(ct_reduced, wb), axis)


def _defscan_rules(prim, how):
    def weights(x, axis, reverse):
        a = get_aval(x)
        axis = canonical_axis(prim.name, axis, a.ndim, a.shape)
        levels = []
        _scan_weights(rev(x, dimensions=(axis,)) if reverse else x, axis, how, levels)
        return axis, levels

    def flip(v, axis, reverse):
        return rev(v, dimensions=(axis,)) if reverse else v

    def jvp(primals, tangents, *, axis, reverse=False):
        (x,), (t,) = primals, tangents
        ans = bind(prim, x, axis=axis, reverse=reverse)
        if t is None or not is_float(ans):
            return ans, None
        ax, levels = weights(x, axis, reverse)
        return ans, flip(_scan_tangent(flip(t, ax, reverse), ax, levels), ax, reverse)

    def vjp(ct, ans, primals, *, axis, reverse=False):
        (x,) = primals
        if ct is None or not is_float(x):
            return (None,)
        ax, levels = weights(x, axis, reverse)
        return (flip(_scan_tangent_transpose(flip(ct, ax, reverse), ax, levels), ax, reverse),)

    prim.jvp, prim.vjp = jvp, vjp


_defscan_rules(cumprod_p, "mul")
_defscan_rules(cummax_p, "max")
_defscan_rules(cummin_p, "min")
for _p in (cumsum_p, cumprod_p, cummax_p, cummin_p):
    _defbatch_cumulative(_p)

for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2]] = as_function(_p)
del _name, _p
