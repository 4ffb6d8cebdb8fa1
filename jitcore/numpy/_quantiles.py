"""Order statistics by sorting: quantile, percentile, median and their NaN-ignoring variants.

JAX's algorithm: sort along the reduced axes (flattened into one), find each quantile's
position `q * (n - 1)` between two neighbours, read both, and interpolate in q's dtype
(`low * (1 - w) + high * w`) before converting back to the data's dtype. The reads are one-hot
selections (`take_along_last`), so traced `q` values work under jit too. method='inverted_cdf'
(the only one taking `weights`) instead picks the first sorted value whose cumulative weight
reaches q times the total. Re-exported by `_sorting.py`.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops import elementwise as el
from ops import reduction as red
from ops import shape as sh
from ops import sorting as srt
from ops.errors import ConcretizationTypeError, ShapeError

from . import _ufuncs as uf
from ..array import Array
from ._promotion import aval_of, asarray, convert, result_dtype
from ._reductions import full, no_out, reduction_axes, take_along_last

__all__ = ["quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian"]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


def _inexact(x):
    x = asarray(x)
    av = aval_of(x)
    if _kind(av.dtype) == "f":
        return x
    return convert(x, dtypes.to_inexact(av.dtype, av.weak_type), av.weak_type)


def _to_last_axis(op, a, axis):
    """`a` with the reduced axes moved last and merged: (array, kept shape, keepdims shape)."""
    av = aval_of(a)
    axes = reduction_axes(op, axis, av.shape)
    kept = tuple(i for i in range(av.ndim) if i not in axes)
    n = int(np.prod([av.shape[i] for i in axes], dtype=np.int64))
    kept_shape = tuple(av.shape[i] for i in kept)
    x = sh.transpose(a, permutation=kept + axes) if kept + axes != tuple(range(av.ndim)) else a
    x = sh.reshape(x, new_sizes=kept_shape + (n,))
    keep_shape = tuple(1 if i in axes else d for i, d in enumerate(av.shape))
    return x, kept_shape, keep_shape


def _weights(op, a, weights, axis, method):
    """`a` and `weights` promoted together, the weights broadcast to a's shape: JAX takes
    either a's shape or the shape of the reduced axes (in `axis` order)."""
    if method != "inverted_cdf":
        raise NotImplementedError(f"{op}: method {method!r} doesn't support weights; only "
                                  "method='inverted_cdf' does")
    w = asarray(weights)
    if aval_of(w).dtype.kind == "c":
        raise ValueError(f"{op}: weights cannot be complex, got {aval_of(w).dtype}")
    a = _inexact(asarray(a))
    dtype, weak = result_dtype(a, w)
    dtype = dtypes.to_inexact(dtype, weak)
    a, w = convert(a, dtype, weak), convert(w, dtype, weak)
    av, wv = aval_of(a), aval_of(w)
    if wv.shape == av.shape:
        return a, w
    if axis is None:
        raise ShapeError(f"{op}: weights of shape {wv.shape} must match a's shape {av.shape} "
                         "when axis is None")
    axes = reduction_axes(op, axis, av.shape)
    if wv.shape != tuple(av.shape[i] for i in axes):
        raise ShapeError(f"{op}: weights of shape {wv.shape} must match a's shape {av.shape} "
                         f"or the reduced axes {tuple(av.shape[i] for i in axes)}")
    order = tuple(int(i) for i in np.argsort(axes))
    if order != tuple(range(len(axes))):
        w = sh.transpose(w, permutation=order)
    return a, sh.broadcast_in_dim(w, shape=av.shape, broadcast_dimensions=tuple(sorted(axes)))


def _inverted_cdf(xs, ws, q, full_shape, kept_shape, squash_nans):
    """The first sorted value whose cumulative weight reaches q * total weight (NumPy's and
    JAX's rule); negative or NaN weights make the slice NaN."""
    from ._reductions import cumsum
    qa = aval_of(q)
    k = len(kept_shape)
    nan_data = el.ne(xs, xs)
    bad = uf.logical_or(uf.less(ws, 0), el.ne(ws, ws))
    clean = el.select(uf.logical_or(bad, nan_data), full(aval_of(ws).shape, 0, aval_of(ws).dtype),
                      ws)
    cum = cumsum(clean, axis=k)
    total = _last_entry(cum)
    target = uf.multiply(sh.broadcast_in_dim(q, shape=full_shape,
                                             broadcast_dimensions=tuple(range(qa.ndim))),
                         convert(total, qa.dtype))
    cum_b = sh.broadcast_in_dim(cum, shape=full_shape + aval_of(cum).shape[-1:],
                                broadcast_dimensions=tuple(range(qa.ndim, len(full_shape) + 1)))
    below = uf.less(cum_b, sh.reshape(target, new_sizes=full_shape + (1,)))
    idx = red.reduce_sum(convert(below, dtypes.int64), axes=(len(full_shape),))
    if squash_nans:
        valid = red.reduce_sum(convert(el.eq(xs, xs), dtypes.int64), axes=(k,))
    else:
        valid = full(kept_shape, aval_of(xs).shape[-1], dtypes.int64)
    limit = sh.broadcast_in_dim(uf.subtract(valid, 1), shape=full_shape,
                                broadcast_dimensions=tuple(range(qa.ndim, len(full_shape))))
    idx = uf.maximum(0, uf.minimum(idx, limit))
    result = take_along_last(xs, idx)
    force = red.reduce_or(bad, axes=(k,))
    if squash_nans:
        force = uf.logical_or(force, uf.equal(valid, 0))
    else:
        force = uf.logical_or(force, red.reduce_or(nan_data, axes=(k,)))
    force = sh.broadcast_in_dim(force, shape=full_shape,
                                broadcast_dimensions=tuple(range(qa.ndim, len(full_shape))))
    return el.select(force, full(full_shape, np.nan, aval_of(xs).dtype), result)


def _last_entry(x):
    """The last entry along the last axis, that axis dropped."""
    s = aval_of(x).shape
    start = (0,) * (len(s) - 1) + (s[-1] - 1,)
    return sh.reshape(sh.slice(x, start_indices=start, limit_indices=s), new_sizes=s[:-1])


def _quantile(op, a, q, axis, method, keepdims, squash_nans, weights=None):
    if method not in _METHODS:
        raise ValueError(f"{op}: method must be one of {', '.join(_METHODS)}, got {method!r}")
    if weights is not None:
        a, weights = _weights(op, a, weights, axis, method)
    a = _inexact(a)
    av = aval_of(a)
    q = _inexact(q)
    qa = aval_of(q)
    x, kept_shape, keep_shape = _to_last_axis(op, a, axis)
    n = aval_of(x).shape[-1]
    out_shape = qa.shape + (keep_shape if keepdims else kept_shape)
    if n == 0:
        return full(out_shape, np.nan, av.dtype, av.weak_type)
    full_shape = qa.shape + kept_shape
    if method == "inverted_cdf":
        if squash_nans:   # NaNs of either sign must sort last
            x = el.select(el.ne(x, x), full(aval_of(x).shape, np.nan, av.dtype), x)
        w = full(aval_of(x).shape, 1, av.dtype) if weights is None else \
            _to_last_axis(op, weights, axis)[0]
        xs, ws = srt.sort(x, w, dimension=aval_of(x).ndim - 1, is_stable=True, num_keys=1)
        result = convert(_inverted_cdf(xs, ws, q, full_shape, kept_shape, squash_nans),
                         av.dtype, av.weak_type)
        return sh.reshape(result, new_sizes=out_shape) if keepdims else result
    (xs,) = srt.sort(x, dimension=aval_of(x).ndim - 1, is_stable=True, num_keys=1)
    qb = sh.broadcast_in_dim(q, shape=full_shape, broadcast_dimensions=tuple(range(qa.ndim)))
    if squash_nans:
        # NaNs sort last, so the first `counts` entries of each row are the numbers.
        counts = convert(red.reduce_sum(convert(el.eq(xs, xs), dtypes.int64),
                                        axes=(len(kept_shape),)), qa.dtype)
        counts = sh.broadcast_in_dim(counts, shape=full_shape,
                                     broadcast_dimensions=tuple(range(qa.ndim, len(full_shape))))
        last = uf.subtract(counts, 1)
        pos = uf.multiply(qb, last)
    else:
        last = n - 1
        pos = uf.multiply(qb, float(last))
    low, high = uf.floor(pos), uf.ceil(pos)
    hw = uf.subtract(pos, low)
    lw = uf.subtract(1, hw)
    low = convert(uf.maximum(0, uf.minimum(low, last)), dtypes.int64)
    high = convert(uf.maximum(0, uf.minimum(high, last)), dtypes.int64)
    lo_v, hi_v = take_along_last(xs, low), take_along_last(xs, high)
    if method == "linear":
        result = uf.add(uf.multiply(convert(lo_v, qa.dtype), lw),
                        uf.multiply(convert(hi_v, qa.dtype), hw))
    elif method == "lower":
        result = lo_v
    elif method == "higher":
        result = hi_v
    elif method == "nearest":
        result = uf.where(uf.less_equal(hw, 0.5), lo_v, hi_v)
    else:
        result = uf.multiply(uf.add(lo_v, hi_v), 0.5)
    result = convert(result, av.dtype, av.weak_type)
    if not squash_nans:
        any_nan = red.reduce_or(el.ne(x, x), axes=(len(kept_shape),))
        any_nan = sh.broadcast_in_dim(any_nan, shape=full_shape,
                                      broadcast_dimensions=tuple(range(qa.ndim, len(full_shape))))
        result = el.select(any_nan, full(full_shape, np.nan, av.dtype, av.weak_type), result)
    return sh.reshape(result, new_sizes=out_shape) if keepdims else result


def _check_q(op, q, hi):
    """Concrete q outside [0, hi] is an error, as in NumPy (traced q cannot be checked)."""
    if isinstance(q, (int, float, list, tuple, np.ndarray, np.generic, Array)):
        try:
            v = np.asarray(q, dtype=np.float64)
        except ConcretizationTypeError:  # a list holding traced values
            return
        if v.ndim and v.size == 0:
            return
        if np.any(v < 0) or np.any(v > hi):
            raise ShapeError(f"{op}: q must be in the range [0, {hi}], got {v.tolist()}")


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    """q-th quantiles (q in [0, 1]) over `axis`; NaN where a slice holds a NaN."""
    no_out("quantile", out)
    _check_q("quantile", q, 1)
    return _quantile("quantile", a, q, axis, interpolation or method, keepdims, False, weights)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    """quantile ignoring NaNs (NaN only for all-NaN slices)."""
    no_out("nanquantile", out)
    _check_q("nanquantile", q, 1)
    return _quantile("nanquantile", a, q, axis, interpolation or method, keepdims, True, weights)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    """q-th percentiles (q in [0, 100]) over `axis`."""
    no_out("percentile", out)
    _check_q("percentile", q, 100)
    q = uf.true_divide(_inexact(q), 100.0)
    return _quantile("percentile", a, q, axis, interpolation or method, keepdims, False, weights)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, weights=None, interpolation=None):
    """percentile ignoring NaNs."""
    no_out("nanpercentile", out)
    _check_q("nanpercentile", q, 100)
    q = uf.true_divide(_inexact(q), 100.0)
    return _quantile("nanpercentile", a, q, axis, interpolation or method, keepdims, True, weights)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median over `axis`: the mean of the two middle values for even lengths."""
    no_out("median", out)
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims, False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median ignoring NaNs."""
    no_out("nanmedian", out)
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, True)

