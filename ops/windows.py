"""Windowed reductions: XLA's ReduceWindow with add, max or min (JAX's `reduce_window_sum`,
`reduce_window_max`, `reduce_window_min`): pooling.

Every primitive takes one operand and static parameters, one entry per operand axis:

- `window_dimensions`: the window's size (>= 1);
- `window_strides`: how far consecutive windows start apart (>= 1);
- `padding`: (low, high) pairs added around the (dilated) operand, filled with the
  reduction's identity; negative values crop;
- `base_dilation`: the operand is spread out with `base_dilation - 1` identity holes between
  its elements (a transposed strided window);
- `window_dilation`: the window reads every `window_dilation`-th element (atrous pooling).

Output element i along an axis reduces the padded, dilated operand at positions
`i * stride + k * window_dilation` for k in range(window); an axis whose windows do not fit
has size 0 (JAX's shape rule). Every such reduction is also the combination, by add/max/min,
of `prod(window_dimensions)` strided slices of the padded operand (`window_slices`): the
derivatives are written that way, and compiled backends lower the primitives that way
(`lowering="rewritten"`, the `lower_windows` pass, which reads `window_combine`: the name of
the elementwise primitive joining two window elements).

Derivatives follow JAX/XLA: the sum's transpose is a pad and a `reduce_window_sum` of the
cotangent; max and min send each output's cotangent to the first element of its window (in
row-major window order) that equals the result, as XLA's select_and_scatter does; a window
lying entirely in the padding sends it nowhere.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from . import dtypes
from .autodiff import deflinear, full_like, is_float, zeros_like_aval
from .core import Primitive, ShapedArray, bind, get_aval
from .elementwise import add, and_, eq, max as max_, min as min_, not_, or_, select
from .errors import ShapeError
from .reduction import reduce_max, reduce_min, reduce_sum
from .rules import as_function, check_kinds
from .shape import _pad_impl, pad, reshape, slice as slice_

PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")
COMBINE = {"add": add, "max": max_, "min": min_}
REDUCE = {"add": reduce_sum, "max": reduce_max, "min": reduce_min}
_UFUNC = {"add": np.add, "max": np.maximum, "min": np.minimum}


def identity(combine: str, dtype):
    """The value that never changes a window's result: padding and dilation holes hold it."""
    dtype = np.dtype(dtype)
    if combine == "add":
        return np.array(0, dtype)
    if dtype.kind == "f" or dtype == dtypes.bfloat16:
        return np.array(-np.inf if combine == "max" else np.inf, dtype)
    if dtype.kind == "b":
        return np.array(combine == "min", dtype)
    info = np.iinfo(dtype)
    return np.array(info.min if combine == "max" else info.max, dtype)


def _ints(op, what, values, ndim, shape_text, low=1):
    try:
        out = tuple(int(v) for v in values)
    except TypeError:
        raise ShapeError(f"{op}: {what} must be a sequence of ints, got {values!r:.60}") from None
    if len(out) != ndim:
        raise ShapeError(f"{op}: {what} {out} needs one entry per dimension of {shape_text}")
    if any(v < low for v in out):
        raise ShapeError(f"{op}: {what} {out} must be >= {low} for {shape_text}")
    return out


def canonical_params(op, shape, dtype_text, window_dimensions, window_strides, padding,
                     base_dilation=None, window_dilation=None) -> dict:
    """The parameters as tuples of ints, checked against an operand of `shape`; missing
    dilations are 1."""
    nd = len(shape)
    text = dtype_text
    wd = _ints(op, "window_dimensions", window_dimensions, nd, text)
    ws = _ints(op, "window_strides", window_strides, nd, text)
    bd = _ints(op, "base_dilation", base_dilation or (1,) * nd, nd, text)
    wdil = _ints(op, "window_dilation", window_dilation or (1,) * nd, nd, text)
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: padding must be a sequence of (low, high) pairs, got "
                         f"{padding!r:.60} for {text}") from None
    if len(pads) != nd:
        raise ShapeError(f"{op}: padding {pads} needs one (low, high) pair per dimension of "
                         f"{text}")
    return dict(window_dimensions=wd, window_strides=ws, padding=pads, base_dilation=bd,
                window_dilation=wdil)


def _trivial(p, d) -> bool:
    return (p["window_dimensions"][d] == 1 and p["window_strides"][d] == 1
            and p["padding"][d] == (0, 0) and p["base_dilation"][d] == 1)


def padded_size(n, p, d):
    """The extent of axis `d` after base dilation and padding."""
    lo, hi = p["padding"][d]
    return (0 if n == 0 else (n - 1) * p["base_dilation"][d] + 1) + lo + hi


def output_shape(shape, p) -> tuple:
    """JAX's `reduce_window_shape_tuple`: 0 along an axis whose window does not fit."""
    out = []
    for d, n in enumerate(shape):
        if _trivial(p, d):
            out.append(n)      # keeps a bucketed trace's symbolic size
            continue
        extent = (p["window_dimensions"][d] - 1) * p["window_dilation"][d] + 1
        size = padded_size(n, p, d)
        out.append(0 if size < extent else (size - extent) // p["window_strides"][d] + 1)
    return tuple(out)


def pad_config(p) -> tuple:
    return tuple((lo, hi, b - 1) for (lo, hi), b in zip(p["padding"], p["base_dilation"]))


def _slices_of(shape, out_shape, p):
    """(start, limit, stride) per axis for each window element, in row-major window order."""
    ranges = [range(w) for w in p["window_dimensions"]]
    for offsets in itertools.product(*ranges):
        starts, limits = [], []
        for d, k in enumerate(offsets):
            s = k * p["window_dilation"][d]
            m = out_shape[d]
            if m == 0:
                s = 0
            starts.append(s)
            limits.append(s + (m - 1) * p["window_strides"][d] + 1 if m else s)
        yield tuple(starts), tuple(limits), tuple(p["window_strides"])


def window_slices(x, fill, **params):
    """The window elements of every output position: a list of `prod(window_dimensions)`
    arrays of the output's shape, the k-th holding each window's k-th element (row-major
    window order) of `x` padded and dilated with `fill`."""
    a = get_aval(x)
    out_shape = output_shape(a.shape, params)
    cfg = pad_config(params)
    xp = x if all(c == (0, 0, 0) for c in cfg) else pad(x, np.asarray(fill, a.dtype),
                                                         padding_config=cfg)
    return [slice_(xp, start_indices=s, limit_indices=l, strides=st)
            for s, l, st in _slices_of(a.shape, out_shape, params)]


def _defwindow(name, combine, kinds):
    p = Primitive(name, "windows")
    p.lowering = "rewritten"
    p.window_combine = combine
    p.kinds = kinds

    def rule(x, **params):
        check_kinds(name, x, kinds)
        params = canonical_params(name, x.shape, x.str_short(), **params)
        return ShapedArray(output_shape(x.shape, params), x.dtype, x.weak_type)

    def impl(x, **params):
        params = canonical_params(name, x.shape, str(x.shape), **params)
        out_shape = output_shape(x.shape, params)
        fill = identity(combine, x.dtype)
        xp = _pad_impl(x, fill, padding_config=pad_config(params)) if x.ndim else x
        out = np.full(out_shape, fill, x.dtype)
        ufunc = _UFUNC[combine]
        with np.errstate(all="ignore"):
            for s, l, st in _slices_of(x.shape, out_shape, params):
                ufunc(out, xp[tuple(slice(*t) for t in zip(s, l, st))], out=out)
        return out

    p.abstract_eval = rule
    p.impl = impl
    return p


reduce_window_sum_p = _defwindow("reduce_window_sum", "add", "fiuc")
reduce_window_sum_p.complex_parts = "parts"
reduce_window_max_p = _defwindow("reduce_window_max", "max", "fiub")
reduce_window_min_p = _defwindow("reduce_window_min", "min", "fiub")
reduce_window_sum = as_function(reduce_window_sum_p)
reduce_window_max = as_function(reduce_window_max_p)
reduce_window_min = as_function(reduce_window_min_p)


# --- sum: linear; its transpose is a pad and a reduce_window_sum of the cotangent (JAX's) ----

def _dilate(n, k):
    return 0 if n == 0 else 1 + k * (n - 1)


def _sum_transpose(ct, x, **params):
    if ct is None or not is_float(x):
        return (None,)
    xa, ca = get_aval(x), get_aval(ct)
    p = canonical_params("reduce_window_sum", xa.shape, xa.str_short(), **params)
    nd = xa.ndim
    if math.prod(ca.shape) == 0 or math.prod(xa.shape) == 0:
        return (zeros_like_aval(ShapedArray(xa.shape, xa.dtype)),)
    # Each operand element receives the cotangents of the windows covering it: a correlation
    # of the stride-dilated cotangent with the (symmetric) all-ones window, as for the input
    # gradient of a convolution (JAX's _conv_general_vjp_lhs_padding).
    cfg = []
    for d in range(nd):
        lhs = _dilate(xa.shape[d], p["base_dilation"][d])
        rhs = _dilate(p["window_dimensions"][d], p["window_dilation"][d])
        out = _dilate(ca.shape[d], p["window_strides"][d])
        before = rhs - p["padding"][d][0] - 1
        after = lhs + rhs - 1 - out - before
        cfg.append((before, after, p["window_strides"][d] - 1))
    padded = pad(ct, np.array(0, ca.dtype), padding_config=tuple(cfg))
    res = reduce_window_sum(padded, window_dimensions=p["window_dimensions"],
                            window_strides=p["base_dilation"], padding=((0, 0),) * nd,
                            base_dilation=(1,) * nd, window_dilation=p["window_dilation"])
    assert get_aval(res).shape == xa.shape, (get_aval(res).shape, xa.shape)
    return (res,)


deflinear(reduce_window_sum_p, _sum_transpose)


# --- max/min: the derivative goes to the first element of each window equal to the result ---

def _first_winners(x, ans, combine, p):
    """Per window element k, a bool array of the output's shape: is element k the first of its
    window equal to the result? (At most one k is true per position: XLA's select.)"""
    winners, taken = [], None
    for s in window_slices(x, identity(combine, get_aval(x).dtype), **p):
        hit = eq(s, ans)
        winners.append(hit if taken is None else and_(hit, not_(taken)))
        taken = hit if taken is None else or_(taken, hit)
    return winners


def _unpad(ct_padded, p, shape):
    """The transpose of padding/dilating an operand of `shape`: its elements' cotangents."""
    cfg = pad_config(p)
    if all(c == (0, 0, 0) for c in cfg):
        return ct_padded
    a = get_aval(ct_padded)
    inner = pad(ct_padded, np.array(0, a.dtype),
                padding_config=tuple((-lo, -hi, 0) for lo, hi, _ in cfg))
    return slice_(inner, start_indices=(0,) * len(shape), limit_indices=get_aval(inner).shape,
                  strides=tuple(b for b in p["base_dilation"]))


def _defchooser(prim):
    combine = prim.window_combine

    def params_of(x, params):
        a = get_aval(x)
        return canonical_params(prim.name, a.shape, a.str_short(), **params)

    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = bind(prim, x, **params)
        if t is None or not is_float(ans):
            return ans, None
        p = params_of(x, params)
        # The tangent of the first winner: selects from the last window element to the
        # first, so the first equal one is applied last.
        hits = [eq(s, ans) for s in window_slices(x, identity(combine, get_aval(x).dtype), **p)]
        ts = window_slices(t, np.zeros((), get_aval(t).dtype), **p)
        out = full_like(ans, 0)
        for hit, tk in zip(reversed(hits), reversed(ts)):
            out = select(hit, tk, out)
        return ans, out

    def vjp(ct, ans, primals, **params):
        (x,) = primals
        if ct is None or not is_float(x):
            return (None,)
        a = get_aval(x)
        p = params_of(x, params)
        if ans is None:
            ans = bind(prim, x, **params)
        zero, zeros = np.zeros((), a.dtype), full_like(ct, 0)
        padded_shape = tuple(padded_size(n, p, d) for d, n in enumerate(a.shape))
        total = None
        out_shape = get_aval(ans).shape
        for win, (s, l, st) in zip(_first_winners(x, ans, combine, p),
                                   _slices_of(a.shape, out_shape, p)):
            part = select(win, ct, zeros)
            # The transpose of the strided slice: back to its place in the padded operand.
            cfg = tuple((si, n - (si + (m - 1) * k + 1) if m else n - si, k - 1 if m else 0)
                        for si, n, m, k in zip(s, padded_shape, out_shape, st))
            placed = pad(part, zero, padding_config=cfg)
            total = placed if total is None else add(total, placed)
        return (_unpad(total, p, a.shape),)

    prim.jvp, prim.vjp = jvp, vjp


_defchooser(reduce_window_max_p)
_defchooser(reduce_window_min_p)


def _defbatch(prim):
    """The batch axis gets a window of 1: no stride, padding or dilation along it."""
    def batch(args, batched, size, **params):
        (x,), (b,) = args, batched
        if not b:
            return bind(prim, x, **params), False
        a = get_aval(x)
        p = canonical_params(prim.name, a.shape[1:], a.str_short(), **params)
        return bind(prim, x, window_dimensions=(1,) + p["window_dimensions"],
                    window_strides=(1,) + p["window_strides"],
                    padding=((0, 0),) + p["padding"], base_dilation=(1,) + p["base_dilation"],
                    window_dilation=(1,) + p["window_dilation"]), True
    prim.batch = batch


for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p):
    _defbatch(_p)
del _p


def reduce_along(x, combine: str, axes):
    """The plain reduction (reduce_sum/max/min) of `x` over `axes` by `combine`, keeping
    each reduced axis with size 1 (how a window spanning a whole axis lowers)."""
    a = get_aval(x)
    out = REDUCE[combine](x, axes=tuple(axes))
    shape = tuple(1 if d in axes else n for d, n in enumerate(a.shape))
    return reshape(out, new_sizes=shape)
