"""Reductions and scans of `jitcore.numpy`: sum, prod, max, min, mean, var, std, argmax, argmin,
any, all, cumsum, cumprod, ptp, count_nonzero and average (the NaN-ignoring variants are in
`_nan_reductions.py`, quantiles and medians, which sort, in `_quantiles.py`).

NumPy signatures (axis None/int/tuple, keepdims, dtype, initial, where) with JAX-x64's dtype
rules: sum/prod of bools and of integers narrower than 64 bits accumulate in int64 (uint64 for
unsigned); mean/var/std of integers give float64; max/min keep the dtype; argmax/argmin give
int64. Composite functions decompose into reduction and elementwise primitives here.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops import elementwise as el
from ops import reduction as red
from ops import shape as sh
from ops.indexing import gather
from ops.errors import DtypeError, ShapeError
from ops.rules import canonical_axes, canonical_axis

from ..custom_derivatives import custom_jvp
from ._promotion import aval_of, asarray, check_arraylike, broadcast_to, convert, size_value
from ops.dims import Dim

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "mean", "var", "std", "argmax",
    "argmin", "any", "all", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "ptp",
    "count_nonzero", "average",
]

# --- helpers shared with _quantiles, _sorting and _linalg -----------------------------------


def reduction_axes(op, axis, shape):
    """`axis` (None, an int or a sequence of ints) as a tuple of distinct axes in [0, ndim)."""
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return canonical_axes(op, axis, ndim, shape)
    return (canonical_axis(op, axis, ndim, shape),)


def restore_axes(x, axes, in_shape):
    """The result of reducing `axes` of an array of `in_shape`, with those axes kept as size 1."""
    shape = tuple(1 if i in axes else d for i, d in enumerate(in_shape))
    return sh.reshape(x, new_sizes=shape)


def full(shape, value, dtype, weak_type=False):
    return broadcast_to(convert(value, np.dtype(dtype), weak_type), tuple(shape))


def flatten(x):
    return sh.reshape(x, new_sizes=(aval_of(x).size,))


def to_bool(x):
    av = aval_of(x)
    return x if av.dtype.kind == "b" else el.ne(x, full(av.shape, 0, av.dtype, av.weak_type))


def no_out(op, out):
    """Arrays are immutable, so NumPy's `out=` cannot be honoured (JAX refuses it too)."""
    if out is not None:
        raise NotImplementedError(f"{op}: the 'out' argument is not supported (jitcore arrays "
                                  "are immutable); use the returned array")


def take_along_last(x, idx):
    """`x[..., idx]` for integer `idx` of shape Q + x.shape[:-1]: result of shape Q + x.shape[:-1].

    One gather over every axis: the leading coordinates are iotas, the last is `idx` (clamped
    into range, as JAX's gathers are).
    """
    xa, ia = aval_of(x), aval_of(idx)
    lead = xa.ndim - 1
    q = ia.ndim - lead
    shape = ia.shape
    coords = [el.iota(dtype=dtypes.int64, shape=shape + (1,), dimension=q + d)
              for d in range(lead)]
    coords.append(sh.reshape(convert(idx, dtypes.int64), new_sizes=shape + (1,)))
    indices = sh.concatenate(*coords, dimension=len(shape)) if len(coords) > 1 else coords[0]
    return gather(x, indices, axes=tuple(range(xa.ndim)), mode="clip", fill_value=None)


def _where_mask(op, where, shape):
    w = to_bool(asarray(where))
    ws = aval_of(w).shape
    if len(ws) > len(shape) or builtins.any(a not in (1, b) for a, b in zip(ws[::-1], shape[::-1])):
        raise ShapeError(f"{op}: where= of shape {ws} does not broadcast to the array's shape "
                         f"{tuple(shape)}")
    return broadcast_to(w, shape)


def _accumulating_dtype(av, dtype):
    """sum/prod's result dtype (JAX x64): small ints and bools widen to 64 bits."""
    if dtype is not None:
        return dtypes.canonicalize(dtype, "dtype argument"), False
    d = av.dtype
    if d.kind == "b":
        return dtypes.int64, False
    if d.kind in "iu" and d.itemsize < 8:
        return (dtypes.uint64 if d.kind == "u" else dtypes.int64), False
    return d, av.weak_type


def _identity(kind_op, dtype):
    if kind_op in ("sum", "any"):
        return 0
    if kind_op in ("prod", "all"):
        return 1
    if _kind(dtype) == "f":
        return -np.inf if kind_op == "max" else np.inf
    if dtype.kind == "b":
        return kind_op == "min"
    info = np.iinfo(dtype)
    return info.min if kind_op == "max" else info.max


_PRIMS = {"sum": red.reduce_sum, "prod": red.reduce_prod, "max": red.reduce_max,
          "min": red.reduce_min, "any": red.reduce_or, "all": red.reduce_and}
_COMBINE = {"sum": el.add, "prod": el.mul, "max": el.max, "min": el.min, "any": el.or_,
            "all": el.and_}


def _arraylike(op, a):
    return asarray(check_arraylike(op, a))


def _reduce(op, kind_op, x, axis, keepdims, initial=None, where=None):
    """Reduce `x` (already of the result dtype) with `kind_op`'s primitive, NumPy-style."""
    av = aval_of(x)
    axes = reduction_axes(op, axis, av.shape)
    out_shape = tuple(d for i, d in enumerate(av.shape) if i not in axes)
    has_identity = kind_op not in ("max", "min")
    if where is not None:
        if not has_identity and initial is None:
            raise ValueError(f"{op}: reduction operation {kind_op} has no identity, so where= "
                             "needs initial= as well")
        ident = _identity(kind_op, av.dtype)
        x = el.select(_where_mask(op, where, av.shape), x,
                      full(av.shape, ident, av.dtype, av.weak_type))
    empty = builtins.any(av.shape[a] == 0 for a in axes)
    if empty and not has_identity:
        if initial is None:
            raise ShapeError(
                f"{op}: zero-size array to reduction operation {kind_op} which has no identity "
                f"(reducing axes {axes} of {av.str_short()})",
                hint="pass initial= to give empty reductions a value")
        out = full(out_shape, initial, av.dtype, av.weak_type)
    else:
        out = _PRIMS[kind_op](x, axes=axes)
        if initial is not None:
            out = _COMBINE[kind_op](out, full(out_shape, initial, av.dtype, av.weak_type))
    return restore_axes(out, axes, av.shape) if keepdims else out


# --- sum, prod, max, min, any, all ---------------------------------------------------------


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
        promote_integers=True):
    """Sum of elements over `axis`; bools and small ints accumulate in (u)int64."""
    no_out("sum", out)
    a = _arraylike("sum", a)
    av = aval_of(a)
    d, weak = _accumulating_dtype(av, dtype) if promote_integers or dtype is not None else \
        (av.dtype, av.weak_type)
    return _reduce("sum", "sum", convert(a, d, weak), axis, keepdims, initial, where)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
         promote_integers=True):
    """Product of elements over `axis`; bools and small ints accumulate in (u)int64."""
    no_out("prod", out)
    a = _arraylike("prod", a)
    av = aval_of(a)
    d, weak = _accumulating_dtype(av, dtype) if promote_integers or dtype is not None else \
        (av.dtype, av.weak_type)
    return _reduce("prod", "prod", convert(a, d, weak), axis, keepdims, initial, where)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum over `axis` (NaN propagates); empty reductions need `initial`."""
    no_out("max", out)
    return _reduce("max", "max", _arraylike("max", a), axis, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum over `axis` (NaN propagates); empty reductions need `initial`."""
    no_out("min", out)
    return _reduce("min", "min", _arraylike("min", a), axis, keepdims, initial, where)


def amax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Same as `max`."""
    no_out("amax", out)
    return _reduce("amax", "max", _arraylike("amax", a), axis, keepdims, initial, where)


def amin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Same as `min`."""
    no_out("amin", out)
    return _reduce("amin", "min", _arraylike("amin", a), axis, keepdims, initial, where)


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    """Whether every element over `axis` is nonzero (bool result)."""
    no_out("all", out)
    return _reduce("all", "all", to_bool(_arraylike("all", a)), axis, keepdims, None, where)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    """Whether some element over `axis` is nonzero (bool result)."""
    no_out("any", out)
    return _reduce("any", "any", to_bool(_arraylike("any", a)), axis, keepdims, None, where)


# --- mean, var, std ------------------------------------------------------------------------


def _inexact_dtypes(op, av, dtype):
    """(result dtype, computation dtype, weak): ints become float (`dtypes.to_inexact`);
    float16 and bfloat16 compute in f32."""
    if dtype is None:
        d = dtypes.to_inexact(av.dtype, av.weak_type)
        weak = av.weak_type
    else:
        d, weak = dtypes.canonicalize(dtype, f"{op} dtype argument"), False
    return d, (dtypes.float32 if dtypes.is_half(d) else d), weak


def _count(op, av, axes, where, dtype, weak, keepdims, ddof=0):
    """How many elements each reduction covers, less `ddof`: a constant, or a sum of `where`."""
    out_shape = tuple(1 if i in axes else s for i, s in enumerate(av.shape)) if keepdims else \
        tuple(s for i, s in enumerate(av.shape) if i not in axes)
    if where is None:
        n = math.prod(av.shape[a] for a in axes) - ddof
        if type(n) is Dim:   # a bucketed size: its true value arrives at run time
            return broadcast_to(convert(size_value(n), dtype, weak), out_shape)
        return full(out_shape, n, dtype, weak)
    w = convert(_where_mask(op, where, av.shape), dtype, weak)
    n = _reduce(op, "sum", w, axes, keepdims)
    return el.sub(n, full(out_shape, ddof, dtype, weak)) if ddof else n


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over `axis`; integer inputs give float64."""
    no_out("mean", out)
    a = _arraylike("mean", a)
    av = aval_of(a)
    d, comp, weak = _inexact_dtypes("mean", av, dtype)
    axes = reduction_axes("mean", axis, av.shape)
    total = _reduce("mean", "sum", convert(a, comp, weak), axes, keepdims, None, where)
    n = _count("mean", av, axes, where, comp, weak, keepdims)
    return convert(el.div(total, n), d, weak)


_mean_fn = mean   # `var`'s `mean=` keyword shadows the function inside it


def _given_mean(op, m, av, comp, weak):
    """A caller's precomputed mean: a scalar, or keepdims-shaped (as NumPy and JAX require)."""
    m = convert(asarray(m), comp, weak)
    mv = aval_of(m)
    if mv.ndim not in (0, av.ndim) or builtins.any(d not in (1, s) for d, s in
                                         zip(mv.shape, av.shape) if mv.ndim):
        raise ShapeError(f"{op}: mean of shape {mv.shape} does not broadcast against the "
                         f"input of shape {av.shape}",
                         hint="compute it with keepdims=True")
    return m


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    """Variance over `axis`, divided by N - ddof (`correction` is the Array API name);
    `mean` is a precomputed mean (shape as with keepdims=True, or a scalar)."""
    no_out("var", out)
    if correction is not None:
        if ddof != 0:
            raise ValueError("var: give ddof or correction, not both")
        ddof = correction
    a = _arraylike("var", a)
    av = aval_of(a)
    d, comp, weak = _inexact_dtypes("var", av, dtype)
    axes = reduction_axes("var", axis, av.shape)
    x = convert(a, comp, weak)
    if where is None and mean is None and isinstance(ddof, (int, float, np.number)) and \
            _one_pass(av, axes, comp):
        return convert(_var_one_pass(x, axes, bool(keepdims), ddof), d, weak)
    m = _mean_fn(x, axes, keepdims=True, where=where) if mean is None else \
        _given_mean("var", mean, av, comp, weak)
    centered = el.sub(x, broadcast_to(m, av.shape))
    if where is not None:
        # As in nanvar: excluded positions must not reach the derivative as 0 * inf/NaN.
        centered = el.select(_where_mask("var", where, av.shape), centered,
                             full(av.shape, 0, comp, weak))
    if aval_of(centered).dtype.kind == "c":
        # |x - mean|^2: the variance of complex numbers is real (NumPy's and JAX's).
        re, im = el.real(centered), el.imag(centered)
        sq = el.add(el.mul(re, re), el.mul(im, im))
        comp = d = dtypes.real_dtype(comp) if dtype is None else d
    else:
        sq = el.mul(centered, centered)
    total = _reduce("var", "sum", sq, axes, keepdims, None, where)
    n = _count("var", av, axes, where, comp, weak, keepdims, ddof)
    return convert(el.div(total, n), d, weak)


# Over leading axes (the last one kept) each output reads a column of the input, and the
# input is read once a pass: the two passes of mean-then-deviations took 1.6x a single read of
# a 4096 x 4096 float32 array. Such a variance, of a large float32 (or narrower) array, sums
# d = x - c and d * d in one reduction instead (c: the first element along the reduced axes,
# a shift that keeps the two sums of the same size as the deviations), in float64, so that
# s2 - s1 * s1 / n loses nothing a float32 result keeps. Elsewhere the two passes stay:
# rows reduced in cache, float64 data (float64 sums of float64 data would cancel), `where`.
_ONE_PASS_MIN = 1 << 20    # elements


def _one_pass(av, axes, comp) -> bool:
    return np.dtype(comp).kind == "f" and np.dtype(comp).itemsize <= 4 and \
        av.ndim - 1 not in axes and builtins.all(type(s) is int for s in av.shape) and \
        builtins.all(av.shape[a] > 0 for a in axes) and math.prod(av.shape) >= _ONE_PASS_MIN


def _one_pass_moments(x, axes, ddof):
    """(variance, mean) of `x` over `axes` with kept axes, in float64, from one reduction of
    (d, d * d) pairs."""
    av = aval_of(x)
    nd, f64 = av.ndim, np.dtype(np.float64)
    first = sh.slice(x, start_indices=(0,) * nd,
                     limit_indices=tuple(1 if i in axes else s for i, s in enumerate(av.shape)))
    dev = convert(el.sub(x, broadcast_to(first, av.shape)), f64, False)
    pair = sh.concatenate(*(sh.reshape(v, new_sizes=av.shape + (1,))
                            for v in (dev, el.mul(dev, dev))), dimension=nd)
    sums = _reduce("var", "sum", pair, axes, True)
    shape = aval_of(first).shape

    def part(j):
        piece = sh.slice(sums, start_indices=(0,) * nd + (j,), limit_indices=shape + (j + 1,))
        return sh.reshape(piece, new_sizes=shape)

    s1, s2 = part(0), part(1)
    n = full(shape, math.prod(av.shape[a] for a in axes), f64)
    m2 = el.sub(s2, el.div(el.mul(s1, s1), n))
    # Rounding can leave a constant column's m2 a hair below zero.
    m2 = el.max(m2, full(shape, 0, f64))
    var = el.div(m2, el.sub(n, full(shape, ddof, f64)))
    return var, el.add(convert(first, f64, False), el.div(s1, n))


def _drop_axes(v, av, axes, keepdims):
    if keepdims:
        return v
    return sh.reshape(v, new_sizes=tuple(s for i, s in enumerate(av.shape) if i not in axes))


def _var_one_pass_fun(x, axes, keepdims, ddof):
    av = aval_of(x)
    var, _ = _one_pass_moments(x, axes, ddof)
    return _drop_axes(convert(var, av.dtype, av.weak_type), av, axes, keepdims)


def _var_one_pass_jvp(axes, keepdims, ddof, primals, tangents):
    # The derivative as the two-pass variance has it, sum(2 (x - mean) t) / (n - ddof), with
    # the mean from the same sums: the gradient is one more pass over x, not the derivative
    # of the pair reduction (which took 1.6x the two-pass gradient's time).
    (x,), (t,) = primals, tangents
    av = aval_of(x)
    var, m = _one_pass_moments(x, axes, ddof)
    dev = el.sub(x, broadcast_to(convert(m, av.dtype, av.weak_type), av.shape))
    shape = aval_of(m).shape
    scale = el.div(full(shape, 2, av.dtype, av.weak_type),
                   full(shape, math.prod(av.shape[a] for a in axes) - ddof, av.dtype,
                        av.weak_type))
    dvar = el.mul(_reduce("var", "sum", el.mul(dev, t), axes, True), scale)
    drop = lambda v: _drop_axes(v, av, axes, keepdims)  # noqa: E731
    return drop(convert(var, av.dtype, av.weak_type)), drop(dvar)


_var_one_pass = custom_jvp(_var_one_pass_fun, nondiff_argnums=(1, 2, 3))
_var_one_pass.defjvp(_var_one_pass_jvp)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    """Standard deviation: the square root of `var`."""
    no_out("std", out)
    v = var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean,
            correction=correction)
    av = aval_of(v)
    if dtypes.is_half(av.dtype):
        return convert(el.sqrt(convert(v, dtypes.float32)), av.dtype, av.weak_type)
    return el.sqrt(v)


# --- argmax, argmin ------------------------------------------------------------------------


def _argreduce(op, prim, a, axis, keepdims):
    a = asarray(a)
    av = aval_of(a)
    if axis is None:
        if av.size == 0:
            raise ShapeError(f"{op}: attempt to get {op} of an empty sequence "
                             f"({av.str_short()})")
        out = prim(flatten(a), axis=0, index_dtype=dtypes.int64)
        return sh.reshape(out, new_sizes=(1,) * av.ndim) if keepdims else out
    ax = canonical_axis(op, axis, av.ndim, av.shape)
    if av.shape[ax] == 0:
        raise ShapeError(f"{op}: attempt to get {op} of an empty sequence (axis {ax} of "
                         f"{av.str_short()} has size 0)")
    out = prim(a, axis=ax, index_dtype=dtypes.int64)
    return restore_axes(out, (ax,), av.shape) if keepdims else out


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum over `axis` (flattened when None); the first NaN wins."""
    no_out("argmax", out)
    return _argreduce("argmax", red.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum over `axis` (flattened when None); the first NaN wins."""
    no_out("argmin", out)
    return _argreduce("argmin", red.argmin, a, axis, keepdims)


# --- cumulative ----------------------------------------------------------------------------


def _cumulative(op, prim, a, axis, dtype, reverse=False):
    a = asarray(a)
    av = aval_of(a)
    if axis is None:
        a = flatten(a)
        av = aval_of(a)
        axis = 0
    ax = canonical_axis(op, axis, av.ndim, av.shape)
    # JAX keeps integer widths for scans (unlike sum); only bools widen, to int64.
    d = dtypes.canonicalize(dtype, f"{op} dtype argument") if dtype is not None else av.dtype
    acc = dtypes.int64 if d.kind == "b" else d
    x = convert(a, acc, av.weak_type and dtype is None)
    out = prim(x, axis=ax, reverse=reverse)
    return to_bool(out) if dtype is not None and d.kind == "b" else out


def cumsum(a, axis=None, dtype=None, out=None):
    """Running sum along `axis` (over the flattened array when None)."""
    no_out("cumsum", out)
    return _cumulative("cumsum", red.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Running product along `axis` (over the flattened array when None)."""
    no_out("cumprod", out)
    return _cumulative("cumprod", red.cumprod, a, axis, dtype)


def _cumulative_with_initial(op, prim, ident, x, axis, dtype, include_initial):
    x = asarray(x)
    av = aval_of(x)
    if axis is None:
        if av.ndim > 1:
            raise ShapeError(f"{op}: axis must be given for a {av.ndim}-d array "
                             f"({av.str_short()})")
        axis = 0
    out = _cumulative(op, prim, x, axis, dtype)
    if include_initial:
        oa = aval_of(out)
        ax = canonical_axis(op, axis, oa.ndim, oa.shape)
        cfg = tuple((1 if i == ax else 0, 0, 0) for i in range(oa.ndim))
        out = sh.pad(out, convert(ident, oa.dtype), padding_config=cfg)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """The Array API's cumsum: `axis` is required past 1-d; optionally starts with 0.
    Narrow integers accumulate as `sum` does, in int64 (uint64 for unsigned), as JAX."""
    if dtype is None:
        d = aval_of(asarray(x)).dtype
        if d.kind in "iu" and d.itemsize < 8:
            dtype = dtypes.uint64 if d.kind == "u" else dtypes.int64
    return _cumulative_with_initial("cumulative_sum", red.cumsum, 0, x, axis, dtype,
                                    include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """The Array API's cumprod: `axis` is required past 1-d; optionally starts with 1."""
    return _cumulative_with_initial("cumulative_prod", red.cumprod, 1, x, axis, dtype,
                                    include_initial)


# --- ptp, count_nonzero, average -----------------------------------------------------------


def ptp(a, axis=None, out=None, keepdims=False):
    """Range (maximum - minimum) over `axis`."""
    no_out("ptp", out)
    a = _arraylike("ptp", a)
    av = aval_of(a)
    if av.dtype.kind == "b":
        raise DtypeError(f"ptp: boolean subtract is not supported ({av.str_short()})",
                         hint="convert to an integer dtype first")
    hi = _reduce("ptp", "max", a, axis, keepdims)
    lo = _reduce("ptp", "min", a, axis, keepdims)
    return el.sub(hi, lo)


def count_nonzero(a, axis=None, keepdims=False):
    """How many elements over `axis` are nonzero (int64)."""
    a = _arraylike("count_nonzero", a)
    return _reduce("count_nonzero", "sum", convert(to_bool(a), dtypes.int64), axis, keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean over `axis`; with `returned`, also the sum of the weights."""
    a = _arraylike("average", a)
    av = aval_of(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        oa = aval_of(avg)
        axes = reduction_axes("average", axis, av.shape)
        n = int(np.prod([av.shape[i] for i in axes], dtype=np.int64))
        return avg, full(oa.shape, n, oa.dtype, oa.weak_type)
    w = asarray(weights)
    wa = aval_of(w)
    d = dtypes.promote([(av.dtype, av.weak_type), (wa.dtype, wa.weak_type)])
    dt, weak = dtypes.to_inexact(*d), d[1]
    a, w = convert(a, dt, weak), convert(w, dt, weak)
    if wa.shape != av.shape:
        if axis is None:
            raise ShapeError(f"average: weights {wa.str_short()} differ in shape from a "
                             f"{av.str_short()}, so axis must be given")
        if wa.ndim != 1:
            raise ShapeError(f"average: 1-d weights expected when shapes differ, got weights "
                             f"{wa.str_short()} for a {av.str_short()}")
        ax = canonical_axis("average", axis, av.ndim, av.shape)
        if wa.shape[0] != av.shape[ax]:
            raise ShapeError(f"average: weights {wa.str_short()} must have the length of axis "
                             f"{ax} of a {av.str_short()}")
        w = sh.broadcast_in_dim(w, shape=av.shape, broadcast_dimensions=(ax,))
    scl = _reduce("average", "sum", w, axis, keepdims)
    avg = el.div(_reduce("average", "sum", el.mul(a, w), axis, keepdims), scl)
    if returned:
        return avg, scl
    return avg
