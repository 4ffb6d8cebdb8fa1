"""Reductions (sum, prod, max, min, and, or, argmax, argmin over static axes) and cumulative
scans (cumsum, cumprod, cummax, cummin along one axis, optionally reversed).

Reductions keep the operand's dtype (the `jitcore.numpy` layer upcasts first where NumPy does,
e.g. summing bools or small ints); argmax/argmin return `index_dtype`.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .core import Primitive, ShapedArray
from .errors import ShapeError
from .rules import as_function, canonical_axes, canonical_axis, check_kinds, quiet

NUM = "fiu"


def _reduce_shape(x, axes):
    return tuple(s for i, s in enumerate(x.shape) if i not in axes)


def _defreduce(name, impl, kinds):
    p = Primitive(name, "reduction")

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


reduce_sum_p = _defreduce("reduce_sum", lambda x, axis: np.sum(x, axis=axis, dtype=x.dtype),
                          NUM + "b")
reduce_prod_p = _defreduce("reduce_prod", lambda x, axis: np.prod(x, axis=axis, dtype=x.dtype),
                           NUM + "b")
reduce_max_p = _defreduce("reduce_max", np.max, NUM + "b")
reduce_min_p = _defreduce("reduce_min", np.min, NUM + "b")
reduce_and_p = _defreduce("reduce_and", np.all, "b")
reduce_or_p = _defreduce("reduce_or", np.any, "b")


def _defargreduce(name, impl):
    p = Primitive(name, "reduction")

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


argmax_p = _defargreduce("argmax", np.argmax)
argmin_p = _defargreduce("argmin", np.argmin)

# --- cumulative ----------------------------------------------------------------------------


def _defcumulative(name, ufunc, kinds):
    p = Primitive(name, "reduction")

    def rule(x, *, axis, reverse=False):
        check_kinds(name, x, kinds)
        canonical_axis(name, axis, x.ndim, x.shape)
        return x

    def run(x, *, axis, reverse=False):
        if reverse:
            x = np.flip(x, axis)
        out = ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        return np.flip(out, axis) if reverse else out

    p.abstract_eval = rule
    p.impl = quiet(run)
    return p


cumsum_p = _defcumulative("cumsum", np.add, NUM)
cumprod_p = _defcumulative("cumprod", np.multiply, NUM)
cummax_p = _defcumulative("cummax", np.maximum, NUM)
cummin_p = _defcumulative("cummin", np.minimum, NUM)

for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2]] = as_function(_p)
del _name, _p
