"""Direct references for windowed reductions: loops over output positions and window offsets
in float64 (or exact integers), written from XLA's definition, sharing no code with `ops`.

An output element starts at `init` and joins, in row-major window order, every window
position that lands on an operand element: positions in the padding or in a base-dilation
hole join nothing (XLA's rule; with the reduction's identity as `init` this is the same as
padding with it).
"""
from __future__ import annotations

import itertools

import numpy as np


def out_size(n, w, s, lo, hi, b, d):
    dilated = 0 if n == 0 else (n - 1) * b + 1
    padded = dilated + lo + hi
    extent = (w - 1) * d + 1
    return 0 if padded < extent else (padded - extent) // s + 1


def reduce_window_ref(x, init, fn, wd, ws, pads, bd=None, wdil=None, dtype=None):
    """`fn` folded over each window of `x` starting from `init` (see the module docstring)."""
    x = np.asarray(x)
    nd = x.ndim
    bd = bd or (1,) * nd
    wdil = wdil or (1,) * nd
    shape = [out_size(x.shape[a], wd[a], ws[a], pads[a][0], pads[a][1], bd[a], wdil[a])
             for a in range(nd)]
    out = np.empty(shape, dtype or x.dtype)
    for o in itertools.product(*[range(m) for m in shape]):
        acc = init
        for k in itertools.product(*[range(w) for w in wd]):
            idx = []
            for a in range(nd):
                pos = o[a] * ws[a] + k[a] * wdil[a] - pads[a][0]   # in the dilated operand
                if pos < 0 or pos % bd[a] or pos // bd[a] >= x.shape[a]:
                    break
                idx.append(pos // bd[a])
            else:
                acc = fn(acc, x[tuple(idx)])
        out[o] = acc
    return out


def identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return dtype.type(0)
    if dtype.kind == "f":
        return dtype.type(-np.inf if kind == "max" else np.inf)
    if dtype.kind == "b":
        return kind == "min"
    info = np.iinfo(dtype)
    return dtype.type(info.min if kind == "max" else info.max)


FN = {"sum": lambda a, b: a + b, "max": max, "min": min}


def primitive_ref(kind, wd, ws, pads, bd=None, wdil=None):
    """The reference for `reduce_window_<kind>` with these parameters: computed in float64
    (exact integers, bools as is), rounded once to the operand's dtype."""
    def ref(x):
        x = np.asarray(x)
        if x.dtype.kind == "f":
            wide = x.astype(np.float64)
            init = identity(kind, np.float64)
            return reduce_window_ref(wide, init, FN[kind], wd, ws, pads, bd, wdil).astype(x.dtype)
        if x.dtype.kind == "b":
            fn = {"max": lambda a, b: bool(a or b), "min": lambda a, b: bool(a and b)}[kind]
            return reduce_window_ref(x, identity(kind, x.dtype), fn, wd, ws, pads, bd, wdil)
        objs = x.astype(object)
        init = int(identity(kind, x.dtype))
        r = reduce_window_ref(objs, init, FN[kind], wd, ws, pads, bd, wdil, dtype=object)
        bits = x.dtype.itemsize * 8
        wrap = (lambda v: (v + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))) \
            if x.dtype.kind == "i" else (lambda v: v % (1 << bits))
        return np.vectorize(lambda v: wrap(int(v)), otypes=[x.dtype])(r) if r.size else \
            r.astype(x.dtype)
    return ref
