"""`jitcore.numpy.pad`: constant, edge, reflect, symmetric and wrap padding with NumPy's
`pad_width` forms, written with the `pad`, `slice`, `rev` and `concatenate` primitives.
"""
from __future__ import annotations

import numpy as np

from ops import shape as sh
from ops.core import Tracer
from ops.errors import ConcretizationTypeError, ShapeError

from ..array import Array
from ._promotion import aval_of, asarray, broadcast_to, convert
from ._shape import reshape_to, slice_axis

__all__ = ["pad"]

_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "empty")
_KEYWORDS = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
             "symmetric": {"reflect_type"}}


def _pad_widths(pad_width, av) -> list:
    """NumPy's accepted forms (int, (n,), (before, after), one pair per axis) as per-axis
    (before, after) Python ints."""
    if isinstance(pad_width, Tracer):
        raise ConcretizationTypeError(
            f"pad: pad_width must be static, got a traced value {pad_width.aval.str_short()}",
            hint="pass Python ints, or mark the argument static with static_argnums")
    try:
        w = np.asarray(pad_width)
    except ConcretizationTypeError:
        raise ConcretizationTypeError(
            "pad: pad_width must be static, but it holds traced values",
            hint="pass Python ints, or mark the argument static with static_argnums") from None
    if w.size and w.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r:.60}")
    try:
        w = np.broadcast_to(w.astype(np.int64), (av.ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width of shape {w.shape} does not fit an array of shape "
                         f"{av.shape}; give an int, (before, after), or one (before, after) "
                         "pair per axis") from None
    if (w < 0).any():
        raise ShapeError(f"pad: pad_width must be >= 0, got {w.tolist()}")
    return [(int(lo), int(hi)) for lo, hi in w]


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
    forms), "edge", "reflect" and "symmetric" (`reflect_type` "even" or "odd"), "wrap", and
    "empty" (zeros here: the padding is unspecified in NumPy)."""
    x = asarray(array)
    av = aval_of(x)
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
        else:
            x = _pad_reflect(x, i, lo, hi, mode, reflect_type)
    return x
