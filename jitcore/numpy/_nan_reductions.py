"""The NaN-ignoring reductions of `jitcore.numpy`: nansum, nanprod, nanmean, nanvar, nanstd,
nanmax, nanmin, nanargmax, nanargmin, nancumsum and nancumprod.

Each replaces NaNs by the reduction's identity (or masks them out of a count) and calls the
plain reduction of `_reductions.py`; all-NaN slices give NaN (max, min) or -1 (argmax, argmin)
as JAX does.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops import elementwise as el
from ops import reduction as red
from ops import shape as sh

from ._promotion import aval_of, asarray, broadcast_to, convert
from ._reductions import (_argreduce, _arraylike, _given_mean, _inexact_dtypes, _reduce,
                          _where_mask, cumprod, cumsum, flatten, full, no_out, prod,
                          reduction_axes, sum)

__all__ = [
    "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanargmax",
    "nanargmin", "nancumsum", "nancumprod",
]


def _nan_to(x, value):
    """`x` with NaNs replaced by `value` (integers and bools have none)."""
    av = aval_of(x)
    if _kind(av.dtype) not in "fc":
        return x
    return el.select(el.ne(x, x), full(av.shape, value, av.dtype, av.weak_type), x)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum treating NaNs as zero."""
    no_out("nansum", out)
    return sum(_nan_to(_arraylike("nansum", a), 0), axis, dtype, None, keepdims, initial, where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product treating NaNs as one."""
    no_out("nanprod", out)
    return prod(_nan_to(_arraylike("nanprod", a), 1), axis, dtype, None, keepdims, initial, where)


def _not_nan(a):
    av = aval_of(a)
    if _kind(av.dtype) != "f":
        return full(av.shape, True, dtypes.bool_)
    return el.eq(a, a)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Mean of the non-NaN elements (NaN where there are none)."""
    no_out("nanmean", out)
    a = _arraylike("nanmean", a)
    av = aval_of(a)
    d, comp, weak = _inexact_dtypes("nanmean", av, dtype)
    ok = _not_nan(a)
    if where is not None:
        ok = el.and_(ok, _where_mask("nanmean", where, av.shape))
    x = convert(a, comp, weak)
    total = _reduce("nanmean", "sum", x, axis, keepdims, None, ok)
    n = _reduce("nanmean", "sum", convert(ok, comp, weak), axis, keepdims)
    return convert(el.div(total, n), d, weak)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           mean=None, correction=None):
    """Variance of the non-NaN elements."""
    no_out("nanvar", out)
    if correction is not None:
        ddof = correction
    a = _arraylike("nanvar", a)
    av = aval_of(a)
    d, comp, weak = _inexact_dtypes("nanvar", av, dtype)
    axes = reduction_axes("nanvar", axis, av.shape)
    ok = _not_nan(a)
    if where is not None:
        ok = el.and_(ok, _where_mask("nanvar", where, av.shape))
    x = convert(a, comp, weak)
    m = nanmean(x, axes, keepdims=True, where=ok) if mean is None else \
        _given_mean("nanvar", mean, av, comp, weak)
    # Zero the excluded (NaN) positions before squaring: masking only the sum would leave
    # 0 * NaN in the derivative, which poisons every element's gradient.
    centered = el.select(ok, el.sub(x, broadcast_to(m, av.shape)), full(av.shape, 0, comp, weak))
    total = _reduce("nanvar", "sum", el.mul(centered, centered), axes, keepdims, None, ok)
    n = _reduce("nanvar", "sum", convert(ok, comp, weak), axes, keepdims)
    n = el.sub(n, full(aval_of(n).shape, ddof, comp, weak))
    return convert(el.div(total, n), d, weak)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           mean=None, correction=None):
    """Standard deviation of the non-NaN elements."""
    no_out("nanstd", out)
    return el.sqrt(nanvar(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean,
                          correction=correction))


def _nan_extreme(op, kind_op, a, axis, keepdims, initial, where):
    a = asarray(a)
    av = aval_of(a)
    if _kind(av.dtype) != "f":
        return _reduce(op, kind_op, a, axis, keepdims, initial, where)
    fill = -np.inf if kind_op == "max" else np.inf
    out = _reduce(op, kind_op, _nan_to(a, fill), axis, keepdims, initial, where)
    # All-NaN slices give NaN, as in NumPy (which also warns) and JAX.
    all_nan = _reduce(op, "all", el.ne(a, a), axis, keepdims)
    oa = aval_of(out)
    return el.select(all_nan, full(oa.shape, np.nan, oa.dtype, oa.weak_type), out)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum ignoring NaNs (NaN for all-NaN slices)."""
    no_out("nanmax", out)
    return _nan_extreme("nanmax", "max", a, axis, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum ignoring NaNs (NaN for all-NaN slices)."""
    no_out("nanmin", out)
    return _nan_extreme("nanmin", "min", a, axis, keepdims, initial, where)


def _nan_argreduce(op, prim, fill, a, axis, keepdims):
    a = asarray(a)
    av = aval_of(a)
    if _kind(av.dtype) != "f":
        return _argreduce(op, prim, a, axis, keepdims)
    out = _argreduce(op, prim, _nan_to(a, fill), axis, keepdims)
    # JAX's answer for an all-NaN slice is -1 (NumPy raises, which a traced value cannot).
    nan = el.ne(a, a)
    all_nan = _reduce(op, "all", flatten(nan) if axis is None else nan,
                      None if axis is None else axis, keepdims)
    if axis is None and keepdims:
        all_nan = sh.reshape(all_nan, new_sizes=(1,) * av.ndim)
    oa = aval_of(out)
    return el.select(all_nan, full(oa.shape, -1, oa.dtype), out)


def nanargmax(a, axis=None, out=None, keepdims=False):
    """argmax ignoring NaNs (-1 for all-NaN slices, as in JAX)."""
    no_out("nanargmax", out)
    return _nan_argreduce("nanargmax", red.argmax, -np.inf, a, axis, keepdims)


def nanargmin(a, axis=None, out=None, keepdims=False):
    """argmin ignoring NaNs (-1 for all-NaN slices, as in JAX)."""
    no_out("nanargmin", out)
    return _nan_argreduce("nanargmin", red.argmin, np.inf, a, axis, keepdims)


def nancumsum(a, axis=None, dtype=None, out=None):
    """Running sum treating NaNs as zero."""
    no_out("nancumsum", out)
    return cumsum(_nan_to(_arraylike("nancumsum", a), 0), axis, dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    """Running product treating NaNs as one."""
    no_out("nancumprod", out)
    return cumprod(_nan_to(_arraylike("nancumprod", a), 1), axis, dtype)
