"""`jitcore.numpy.pad`: constant, edge, reflect, symmetric, wrap, linear_ramp and statistic
(maximum, minimum, mean, median) padding with NumPy's `pad_width` forms, written with the
`pad`, `slice`, `rev`, `broadcast_in_dim` and `concatenate` primitives.
"""
from __future__ import annotations

import builtins

import numpy as np

from ops.dtypes import kind as _kind
from ops import shape as sh
from ops.core import Tracer
from ops.errors import ConcretizationTypeError, ShapeError

from ..array import Array
from ._promotion import aval_of, asarray, broadcast_to, convert
from ._shape import reshape_to, slice_axis

__all__ = ["pad"]

_STATS = ("maximum", "minimum", "mean", "median")
_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "empty", "linear_ramp") + _STATS
_KEYWORDS = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
             "symmetric": {"reflect_type"}, "linear_ramp": {"end_values"},
             **{m: {"stat_length"} for m in _STATS}}


def _static_pairs(name, value, av, integer=True) -> list:
    """NumPy's accepted forms (scalar, (n,), (before, after), one pair per axis) as per-axis
    (before, after) Python numbers."""
    if isinstance(value, Tracer):
        raise ConcretizationTypeError(
            f"pad: {name} must be static, got a traced value {value.aval.str_short()}",
            hint="pass Python numbers, or mark the argument static with static_argnums")
    try:
        w = np.asarray(value)
    except ConcretizationTypeError:
        raise ConcretizationTypeError(
            f"pad: {name} must be static, but it holds traced values",
            hint="pass Python numbers, or mark the argument static with static_argnums") from None
    if integer and w.size and w.dtype.kind not in "iu":
        raise TypeError(f"pad: {name} must be integers, got {value!r:.60}")
    try:
        w = np.broadcast_to(w.astype(np.int64 if integer else w.dtype), (av.ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: {name} of shape {w.shape} does not fit an array of shape "
                         f"{av.shape}; give a scalar, (before, after), or one (before, after) "
                         "pair per axis") from None
    if integer and (w < 0).any():
        raise ShapeError(f"pad: {name} must be >= 0, got {w.tolist()}")
    return [(lo.item(), hi.item()) for lo, hi in w]


def _pad_widths(pad_width, av) -> list:
    return _static_pairs("pad_width", pad_width, av)


def _scalar(x, i, j):
    return reshape_to(sh.slice(x, start_indices=(i, j), limit_indices=(i + 1, j + 1)), ())


def _pad_constant(x, widths, constant_values):
    av = aval_of(x)
    if not any(lo or hi for lo, hi in widths):
        return x
    cv = asarray(constant_values)
    if aval_of(cv).ndim == 0:
        value = convert(cv, av.dtype, av.weak_type)
        return sh.pad(x, value, padding_config=tuple((lo, hi, 0) for lo, hi in widths))
    # One value per side of each axis: axes are padded in order, so later axes own the
    # corners, as in NumPy.
    nd = av.ndim
    if isinstance(cv, Tracer):
        cv = convert(broadcast_to(cv, (nd, 2)), av.dtype, av.weak_type)
        values = [[_scalar(cv, i, j) for j in range(2)] for i in range(nd)]
    else:
        try:
            table = np.broadcast_to(np.asarray(cv), (nd, 2))
        except ValueError:
            raise ShapeError(f"pad: constant_values of shape {aval_of(cv).shape} do not fit "
                             f"an array of shape {av.shape}") from None
        values = [[Array._wrap(np.array(v).astype(av.dtype), av.weak_type) for v in row]
                  for row in table]
    for i, (lo, hi) in enumerate(widths):
        for j, (before, after) in enumerate(((lo, 0), (0, hi))):
            if before or after:
                cfg = tuple((before, after, 0) if d == i else (0, 0, 0) for d in range(nd))
                x = sh.pad(x, values[i][j], padding_config=cfg)
    return x


def _join(parts, axis):
    parts = [p for p in parts if aval_of(p).shape[axis]]
    return parts[0] if len(parts) == 1 else sh.concatenate(*parts, dimension=axis)


def _pad_edge(x, i, lo, hi):
    s = aval_of(x).shape
    n = s[i]

    def grow(edge, k):
        return sh.broadcast_in_dim(edge, shape=s[:i] + (k,) + s[i + 1:],
                                   broadcast_dimensions=tuple(range(len(s))))
    parts = [x]
    if lo:
        parts.insert(0, grow(slice_axis(x, 0, 1, i), lo))
    if hi:
        parts.append(grow(slice_axis(x, n - 1, n, i), hi))
    return _join(parts, i)


def _grow(x, i, k):
    """`x` (size 1 along axis i) repeated k times along axis i."""
    s = aval_of(x).shape
    return sh.broadcast_in_dim(x, shape=s[:i] + (k,) + s[i + 1:],
                               broadcast_dimensions=tuple(range(len(s))))


def _pad_stat(x, i, lo, hi, mode, lengths):
    """Pads filled with a statistic of the first / last `lengths` entries along axis i (all of
    them when None); integer results are rounded half to even, as in NumPy and JAX."""
    from . import _quantiles, _reductions, _ufuncs
    func = {"maximum": _reductions.amax, "minimum": _reductions.amin,
            "mean": _reductions.mean, "median": _quantiles.median}[mode]
    av = aval_of(x)
    n = av.shape[i]

    def stat(start, stop):
        v = func(slice_axis(x, start, stop, i), axis=i, keepdims=True)
        if _kind(av.dtype) in "iu" and _kind(aval_of(v).dtype) == "f":
            v = _ufuncs.round(v)
        return convert(v, av.dtype, av.weak_type)
    if lengths is None:
        before = after = stat(0, n)
    else:
        k_lo, k_hi = builtins.min(lengths[0], n), builtins.min(lengths[1], n)
        before, after = stat(0, k_lo), stat(n - k_hi, n)
    parts = [x]
    if lo:
        parts.insert(0, _grow(before, i, lo))
    if hi:
        parts.append(_grow(after, i, hi))
    return _join(parts, i)


def _pad_ramp(x, i, lo, hi, ends):
    """Straight lines from `ends` (static) to the edge values, excluding the edge itself;
    integer arrays take the floor, as NumPy's and JAX's `linspace`."""
    from . import _ufuncs as uf
    av = aval_of(x)
    n = av.shape[i]
    comp = av.dtype if _kind(av.dtype) in "fc" else np.dtype(np.float64)

    def ramp(edge, end, k, reverse):
        t = np.arange(k, dtype=np.float64) / k
        t = (t[::-1] if reverse else t).reshape((1,) * i + (k,) + (1,) * (av.ndim - i - 1))
        e = convert(edge, comp)
        v = uf.add(end, uf.multiply(uf.subtract(e, end), t.astype(comp)))
        if av.dtype.kind in "iub":
            v = uf.floor(v)
        return convert(v, av.dtype, av.weak_type)
    parts = [x]
    if lo:
        parts.insert(0, ramp(slice_axis(x, 0, 1, i), ends[0], lo, False))
    if hi:
        parts.append(ramp(slice_axis(x, n - 1, n, i), ends[1], hi, True))
    return _join(parts, i)


def _pad_callable(x, widths, func, kwargs):
    """NumPy's function mode, in JAX's form: zero-pad, then for each axis in turn replace every
    1-D line along it by `func(line, (before, after), axis, kwargs)`, which returns the new
    line (mapped with vmap over the other axes)."""
    from ..batching import vmap
    from ._shape import moveaxis
    x = _pad_constant(x, widths, 0)
    av = aval_of(x)
    for i, w in enumerate(widths):
        lines = moveaxis(x, i, -1)
        lead = aval_of(lines).shape[:-1]
        flat = reshape_to(lines, (int(np.prod(lead, dtype=np.int64)), av.shape[i]))
        out = vmap(lambda v, w=w, i=i: asarray(func(v, w, i, kwargs)))(flat)
        if aval_of(out).shape != aval_of(flat).shape:
            raise ShapeError(f"pad: the mode function must return a line of shape "
                             f"({av.shape[i]},) for axis {i}, got "
                             f"{aval_of(out).shape[1:]}")
        x = moveaxis(reshape_to(convert(out, av.dtype, av.weak_type), lead + (av.shape[i],)),
                     -1, i)
    return x


def _pad_wrap(x, i, lo, hi):
    n = aval_of(x).shape[i]
    lo_reps, lo_rem = divmod(lo, n)
    hi_reps, hi_rem = divmod(hi, n)
    parts = [slice_axis(x, n - lo_rem, n, i)] if lo_rem else []
    parts += [x] * (lo_reps + hi_reps + 1)
    if hi_rem:
        parts.append(slice_axis(x, 0, hi_rem, i))
    return _join(parts, i)


def _pad_reflect(x, i, lo, hi, mode, reflect_type):
    # Chunk by chunk, each mirrored from the array padded so far: NumPy's rule for widths
    # larger than the axis.
    from ._ufuncs import multiply, subtract
    size = aval_of(x).shape[i]
    offset = 1 if (mode == "reflect" and size > 1) else 0

    def side(x, width, before):
        n = aval_of(x).shape[i]
        edge = slice_axis(x, 0, 1, i) if before else slice_axis(x, n - 1, n, i)
        while width > 0:
            n = aval_of(x).shape[i]
            k = min(width, size - offset)
            width -= k
            if before:
                start, stop = offset, offset + k
            else:
                stop = n if (mode == "symmetric" or size == 1) else n - 1
                start = n - k - offset
            piece = sh.rev(slice_axis(x, start, stop, i), dimensions=(i,))
            if reflect_type == "odd":
                piece = subtract(multiply(2, edge), piece)
                if size > 1:
                    m = aval_of(piece).shape[i]
                    edge = slice_axis(piece, 0, 1, i) if before else slice_axis(piece, m - 1,
                                                                                   m, i)
            x = _join([piece, x] if before else [x, piece], i)
        return x

    return side(side(x, lo, True), hi, False)


def pad(array, pad_width, mode="constant", **kwargs):
    """`array` padded by `pad_width` (an int, (before, after), or one pair per axis).

    Modes: "constant" (`constant_values`: a scalar, possibly traced, or NumPy's per-axis
    forms), "edge", "reflect" and "symmetric" (`reflect_type` "even" or "odd"), "wrap",
    "linear_ramp" (`end_values`, static), "maximum", "minimum", "mean" and "median"
    (`stat_length`: how many entries next to each side the statistic reads; all by default),
    "empty" (zeros here: the padding is unspecified in NumPy), or a function
    `f(line, (before, after), axis, kwargs)` returning each padded line (JAX's form)."""
    x = asarray(array)
    av = aval_of(x)
    if callable(mode):
        return _pad_callable(x, _pad_widths(pad_width, av), mode, kwargs)
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; supported modes are "
                         + ", ".join(repr(m) for m in _MODES))
    extra = set(kwargs) - _KEYWORDS.get(mode, set())
    if extra:
        raise ValueError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                         + ", ".join(sorted(extra)))
    widths = _pad_widths(pad_width, av)
    if mode in ("constant", "empty"):
        return _pad_constant(x, widths, kwargs.get("constant_values", 0))
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    lengths = [None] * av.ndim
    if kwargs.get("stat_length") is not None:
        lengths = _static_pairs("stat_length", kwargs["stat_length"], av)
        if any(0 in pair for pair in lengths):
            raise ValueError(f"pad: stat_length of 0 yields no value for padding, got "
                             f"{lengths}")
    ends = _static_pairs("end_values", kwargs.get("end_values", 0), av, integer=False)
    for i, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        if av.shape[i] == 0:
            raise ShapeError(f"pad: cannot extend the empty axis {i} of an array of shape "
                             f"{av.shape} with mode {mode!r}",
                             hint="only mode='constant' can pad an empty axis")
        if mode == "edge":
            x = _pad_edge(x, i, lo, hi)
        elif mode == "wrap":
            x = _pad_wrap(x, i, lo, hi)
        elif mode == "linear_ramp":
            x = _pad_ramp(x, i, lo, hi, ends[i])
        elif mode in _STATS:
            x = _pad_stat(x, i, lo, hi, mode, lengths[i])
        else:
            x = _pad_reflect(x, i, lo, hi, mode, reflect_type)
    return x
