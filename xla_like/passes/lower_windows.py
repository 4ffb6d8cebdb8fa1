"""Windowed reductions (reduce_window_sum/max/min) as strided slices, for the compiled backends.

After this pass no instruction's primitive carries a `window_combine` (`ops/windows.py`):
each windowed reduction is rewritten, in every computation, into operations the kernel
emitter computes inside one fused loop:

- a window of up to `MAX_SLICES` elements: one strided slice of the operand per window
  element, joined by the primitive's combining op (add/max/min) in row-major window order
  (the order of the NumPy reference, so float sums round the same). A slice reaching into
  the padding is padded back with the reduction's identity; without base dilation that pad
  applies to each slice alone, so the operand is read straight from memory by one kernel, each
  element about window-size times, from cache;
- a larger window: one axis at a time (sums, maxima and minima of boxes are separable). Along
  one axis, a window covering the whole padded axis becomes a plain reduction over it; a
  window of up to `MAX_SLICES` elements, slices as above; a longer one, windows of doubling
  length (w_2m[i] = w_m[i] + w_m[i + m]) then a few of them joined: O(log window) slices.

Control-flow bodies are rewritten too. Computations without a windowed reduction are left
as they are. Time is linear in the program's length (times the slices each window makes).
"""
from __future__ import annotations

import math

import numpy as np

from ops import core
from ops import windows as win
from ops.core import PRIMITIVES, get_aval
from ops.shape import broadcast_in_dim, pad, slice as slice_

from .. import ir
from .rebuild import Copier, rebuild

MAX_SLICES = 64


def rewrites(op: str) -> bool:
    """Is `op` a windowed reduction this pass lowers?"""
    prim = PRIMITIVES.get(op)
    return prim is not None and getattr(prim, "window_combine", None) is not None


def lower_windows(module: ir.Module) -> ir.Module:
    """Rewrite every windowed reduction of `module` (see the module docstring)."""
    for comp in list(module.computations.values()):
        if any(rewrites(i.opcode) for i in comp.instructions):
            _lower(module, comp)
    return module


def lower_window(x, combine: str, params: dict):
    """`x` reduced over windows by `combine` ("add", "max", "min"), with static slices and
    elementwise ops only (on whatever trace is current)."""
    a = get_aval(x)
    p = win.canonical_params("reduce_window", a.shape, a.str_short(), **params)
    if math.prod(p["window_dimensions"]) <= MAX_SLICES:
        return _direct(x, combine, p)
    for d in range(a.ndim):
        if not _trivial_axis(p, d):
            x = _one_axis(x, combine, _only_axis(p, d), d)
    return x


# --- the walk: copy every instruction, rewriting the windowed reductions ----------------------

class _Lowerer(Copier):
    def apply(self, instr, values):
        if rewrites(instr.opcode) and not instr.called:
            prim = PRIMITIVES[instr.opcode]
            return lower_window(values[0], prim.window_combine, instr.attrs)
        return self.copy(instr, values)


def _lower(module, comp):
    rebuild(module, comp, _Lowerer)


# --- the rewrite ---------------------------------------------------------------------------

def _trivial_axis(p, d) -> bool:
    return (p["window_dimensions"][d] == 1 and p["window_strides"][d] == 1
            and p["padding"][d] == (0, 0) and p["base_dilation"][d] == 1)


def _only_axis(p, d) -> dict:
    """The parameters of the window along axis `d` alone (a window of 1 elsewhere)."""
    nd = len(p["window_dimensions"])
    return {k: tuple(v[i] if i == d else ((0, 0) if k == "padding" else 1) for i in range(nd))
            for k, v in p.items()}


def _combine_all(parts, combine, out_aval, fill):
    out = None
    for part in parts:
        out = part if out is None else win.COMBINE[combine](out, part)
    if out is None:     # every window element lies in the padding
        return broadcast_in_dim(fill, shape=out_aval.shape, broadcast_dimensions=())
    return out


def _direct(x, combine, p):
    """One strided slice per window element, joined in row-major window order."""
    a = get_aval(x)
    fill = win.identity(combine, a.dtype)
    out_shape = win.output_shape(a.shape, p)
    out_aval = core.ShapedArray(out_shape, a.dtype)
    if any(b != 1 for b in p["base_dilation"]) or 0 in out_shape:
        return _combine_all(win.window_slices(x, fill, **p), combine, out_aval, fill)
    parts = []
    for offsets in np.ndindex(*p["window_dimensions"]):
        part = _window_part(x, a.shape, fill, p, offsets, out_shape)
        if part is not None:
            parts.append(part)
    return _combine_all(parts, combine, out_aval, fill)


def _window_part(x, shape, fill, p, offsets, out_shape):
    """The window element at `offsets` of every output position: a strided slice of `x`,
    padded with `fill` where it falls in the padding; None if it lies wholly in the padding
    (the identity changes nothing)."""
    starts, limits, strides, config = [], [], [], []
    for d, k in enumerate(offsets):
        n, m, st = shape[d], out_shape[d], p["window_strides"][d]
        lo = p["padding"][d][0]
        s = k * p["window_dilation"][d] - lo      # operand position of output 0's element
        first = max(0, -(-(-s) // st))            # first output whose element is inside
        last = min(m - 1, (n - 1 - s) // st)      # last one
        if first > last:
            return None
        q = s + first * st
        starts.append(q)
        limits.append(q + (last - first) * st + 1)
        strides.append(st)
        config.append((first, m - 1 - last, 0))
    part = slice_(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                  strides=tuple(strides))
    if any(c != (0, 0, 0) for c in config):
        part = pad(part, fill, padding_config=tuple(config))
    return part


def _axis_slice(v, d, start, count, stride=1):
    a = get_aval(v)
    starts = [0] * a.ndim
    limits = list(a.shape)
    strides = [1] * a.ndim
    starts[d] = start
    limits[d] = start + (count - 1) * stride + 1 if count else start
    strides[d] = stride
    return slice_(v, start_indices=tuple(starts), limit_indices=tuple(limits),
                  strides=tuple(strides))


def _one_axis(x, combine, p, d):
    """The window along axis `d` alone (`p` is trivial elsewhere)."""
    a = get_aval(x)
    w, wdil = p["window_dimensions"][d], p["window_dilation"][d]
    if w <= MAX_SLICES:
        return _direct(x, combine, p)
    fill = win.identity(combine, a.dtype)
    out = win.output_shape(a.shape, p)[d]
    st = p["window_strides"][d]
    cfg = win.pad_config(p)
    xp = pad(x, fill, padding_config=cfg) if any(c != (0, 0, 0) for c in cfg) else x
    size = get_aval(xp).shape[d]
    extent = (w - 1) * wdil + 1
    if out == 0:
        return _axis_slice(xp, d, 0, 0)
    if out == 1 and wdil == 1:
        # The one window spans [0, extent) of the padded axis: a plain reduction.
        if extent < size:
            xp = _axis_slice(xp, d, 0, extent)
        return win.reduce_along(xp, combine, (d,))
    # Windows of length 1, 2, 4, ... at every stride-1 position of the padded axis.
    levels = {1: xp}
    m = 1
    while 2 * m <= w:
        prev = levels[m]
        count = size - (2 * m - 1) * wdil
        levels[2 * m] = win.COMBINE[combine](_axis_slice(prev, d, 0, count),
                                             _axis_slice(prev, d, m * wdil, count))
        m *= 2
    if combine == "add":
        # Disjoint pieces: the binary digits of w, each a window of 2^j at its offset.
        pieces, offset = [], 0
        for j in reversed(range(w.bit_length())):
            if w >> j & 1:
                pieces.append((1 << j, offset))
                offset += 1 << j
    else:
        # max/min are idempotent: two overlapping windows of m cover w.
        pieces = [(m, 0), (m, w - m)] if m < w else [(m, 0)]
    parts = [_axis_slice(levels[length], d, off * wdil, out, st) for length, off in pieces]
    return _combine_all(parts, combine, None, fill)
