"""conv_general_dilated: the one convolution primitive (XLA's ConvGeneralDilated).

`conv_general_dilated(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
dimension_numbers, feature_group_count, batch_group_count, preferred_element_type)`:

- `dimension_numbers = (lhs_spec, rhs_spec, out_spec)`, three tuples of ints: which axis of
  the input is (batch, feature, spatial...), of the kernel (out feature, in feature,
  spatial...), of the output (batch, feature, spatial...). A plain tuple, so the IR prints it.
- `padding`: one explicit `(lo, hi)` pair per spatial axis, applied after `lhs_dilation`'s
  interior zeros; negative entries crop. 'SAME'/'VALID' are resolved by `jitcore.lax`.
- `feature_group_count` G splits the input features into G groups, each convolved with its
  own O / G kernels; `batch_group_count` B splits the batch into B groups instead (the kernel
  gradient of a grouped convolution). Groups are the major part of the split axis, as in XLA.
  At most one of them exceeds 1.
- float16 operands accumulate in float32; integers in 64 bits.

Compiled backends never see the primitive: the `lower_conv` pass (xla_like/passes/
lower_conv.py) rewrites it into pad, slices, one `dot_general` (GEMM) and a transpose
(`lowering="rewritten"`). Its derivatives are convolutions (JAX's rules, derived below).
"""
from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .autodiff import add_any, is_float
from .core import Primitive, ShapedArray, get_aval
from .errors import DtypeError, ShapeError
from .rules import as_function, check_kinds
from .shape import _pad_impl, reshape, rev, transpose

conv_general_dilated_p = Primitive("conv_general_dilated", "conv")
_OP = "conv_general_dilated"


def _ints(what, v, n, minimum):
    try:
        t = tuple(v)
    except TypeError:
        t = None
    if t is None or len(t) != n or not all(isinstance(i, (int, np.integer)) and i >= minimum
                                           for i in t):
        raise ShapeError(f"{_OP}: {what} must be {n} int(s) >= {minimum} (one per spatial "
                         f"dimension), got {v!r}")
    return tuple(int(i) for i in t)


def _check_specs(lhs, rhs, dimension_numbers):
    try:
        specs = tuple(tuple(int(d) for d in s) for s in dimension_numbers)
    except TypeError:
        specs = ()
    if len(specs) != 3:
        raise ShapeError(f"{_OP}: dimension_numbers must be three tuples of ints (lhs, rhs, "
                         f"out), got {dimension_numbers!r}")
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise ShapeError(f"{_OP}: lhs {lhs.str_short()} and rhs {rhs.str_short()} must have "
                         "the same rank, at least 2")
    for name, s in zip(("lhs", "rhs", "out"), specs):
        if sorted(s) != list(range(lhs.ndim)):
            raise ShapeError(f"{_OP}: dimension_numbers' {name} spec {s} is not a permutation "
                             f"of the {lhs.ndim} axes of {lhs.str_short()}")
    return specs


def _dilated(n, d):
    return 0 if n == 0 else (n - 1) * d + 1


def conv_output_spatial(in_sp, k_sp, strides, padding, lhs_dilation, rhs_dilation):
    """The output's spatial sizes (0 where the kernel does not fit)."""
    out = []
    for n, k, s, (lo, hi), ld, rd in zip(in_sp, k_sp, strides, padding, lhs_dilation,
                                         rhs_dilation):
        span = _dilated(n, ld) + lo + hi - _dilated(k, rd)
        out.append(max(0, span // s + 1) if span >= 0 else 0)
    return tuple(out)


def _conv_rule(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count=1, batch_group_count=1,
               preferred_element_type=None):
    lspec, rspec, ospec = _check_specs(lhs, rhs, dimension_numbers)
    k = lhs.ndim - 2
    strides = _ints("window_strides", window_strides, k, 1)
    ld = _ints("lhs_dilation", lhs_dilation, k, 1)
    rd = _ints("rhs_dilation", rhs_dilation, k, 1)
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        pads = ()
    if len(pads) != k:
        raise ShapeError(f"{_OP}: padding must be {k} (low, high) pairs, got {padding!r}",
                         hint="jitcore.lax.conv_general_dilated also takes 'SAME' and 'VALID'")
    if lhs.dtype != rhs.dtype:
        raise DtypeError(f"{_OP}: lhs and rhs must share a dtype, got {lhs.str_short()} and "
                         f"{rhs.str_short()}")
    check_kinds(_OP, lhs, "fciu")
    g, b = int(feature_group_count), int(batch_group_count)
    if g < 1 or b < 1 or (g > 1 and b > 1):
        raise ShapeError(f"{_OP}: feature_group_count {feature_group_count} and "
                         f"batch_group_count {batch_group_count} must be >= 1, at most one "
                         "of them > 1")
    n, c = lhs.shape[lspec[0]], lhs.shape[lspec[1]]
    o, i = rhs.shape[rspec[0]], rhs.shape[rspec[1]]
    shapes = f"lhs {lhs.str_short()}, rhs {rhs.str_short()}"
    if c % g or c // g != i:
        raise ShapeError(f"{_OP}: {shapes}: input features {c} must equal the kernel's in "
                         f"features {i} times feature_group_count {g}")
    if o % g or o % b:
        raise ShapeError(f"{_OP}: {shapes}: the kernel's out features {o} must be a multiple "
                         f"of feature_group_count {g} and batch_group_count {b}")
    if n % b:
        raise ShapeError(f"{_OP}: {shapes}: batch {n} must be a multiple of batch_group_count "
                         f"{b}")
    sp = conv_output_spatial([lhs.shape[d] for d in lspec[2:]],
                             [rhs.shape[d] for d in rspec[2:]], strides, pads, ld, rd)
    shape = [0] * lhs.ndim
    for axis, size in zip(ospec, (n // b, o) + sp):
        shape[axis] = size
    out_dtype = lhs.dtype if preferred_element_type is None else \
        dtypes.canonicalize(preferred_element_type, _OP)
    return ShapedArray(shape, out_dtype, lhs.weak_type and rhs.weak_type)


def _accumulator(out_dtype):
    if dtypes.kind(out_dtype) in "fc":
        return np.dtype(np.float32) if out_dtype.itemsize < 4 and dtypes.kind(out_dtype) == "f" \
            else out_dtype
    return np.dtype(np.uint64 if out_dtype.kind == "u" else np.int64)


def _conv_impl(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count=1, batch_group_count=1,
               preferred_element_type=None):
    out_aval = _conv_rule(ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype),
                          window_strides=window_strides, padding=padding,
                          lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                          dimension_numbers=dimension_numbers,
                          feature_group_count=feature_group_count,
                          batch_group_count=batch_group_count,
                          preferred_element_type=preferred_element_type)
    lspec, rspec, ospec = (tuple(s) for s in dimension_numbers)
    acc = _accumulator(out_aval.dtype)
    x = np.transpose(lhs, lspec).astype(acc)                    # (N, C, S...)
    w = np.transpose(rhs, rspec).astype(acc)                    # (O, I, K...)
    n, c = x.shape[:2]
    o = w.shape[0]
    groups = max(feature_group_count, batch_group_count)
    # Interior zeros for lhs_dilation, then the edges (negative ones crop).
    config = ((0, 0, 0), (0, 0, 0)) + tuple((lo, hi, d - 1) for (lo, hi), d
                                            in zip(padding, lhs_dilation))
    x = _pad_impl(x, np.array(0, acc), padding_config=config)
    # Groups lead: x (grp, n', c', S...), w (grp, o', c', K...).
    if batch_group_count > 1:
        x = x.reshape((groups, n // groups, c) + x.shape[2:])
    else:
        x = np.moveaxis(x.reshape((n, groups, c // groups) + x.shape[2:]), 1, 0)
    w = w.reshape((groups, o // groups) + w.shape[1:])
    out_sp = tuple(out_aval.shape[d] for d in ospec[2:])
    ksize = w.shape[3:]
    res = np.zeros(x.shape[:2] + (w.shape[1],) + out_sp, acc)   # (grp, n', o', P...)
    if res.size and w.shape[2] and math.prod(ksize):
        if math.prod(ksize) <= math.prod(out_sp):
            # One matmul per kernel tap over every output position.
            for tap in np.ndindex(*ksize):
                window = tuple(slice(t * d, t * d + s * (p - 1) + 1, s) for t, d, s, p in
                               zip(tap, rhs_dilation, window_strides, out_sp))
                xs = x[(slice(None),) * 3 + window]             # (grp, n', c', P...)
                xs = xs.reshape(xs.shape[:3] + (-1,))
                wt = w[(slice(None),) * 3 + tap][:, None]        # (grp, 1, o', c')
                res += np.matmul(wt, xs).reshape(res.shape)
        else:
            # One matmul per output position over every tap (small outputs, large kernels:
            # the kernel gradient).
            wf = w.reshape(w.shape[:2] + (-1,))                  # (grp, o', c' * taps)
            for pos in np.ndindex(*out_sp):
                window = tuple(slice(p * s, p * s + d * (t - 1) + 1, d) for p, s, d, t in
                               zip(pos, window_strides, rhs_dilation, ksize))
                xs = x[(slice(None),) * 3 + window]
                xs = xs.reshape(xs.shape[:2] + (-1,))           # (grp, n', c' * taps)
                res[(slice(None),) * 3 + pos] = np.matmul(xs, np.swapaxes(wf, 1, 2))
    # (grp, n', o', P...) -> (n', grp * o', P...): groups are the major part of the features.
    res = np.moveaxis(res, 0, 1).reshape((res.shape[1], o) + out_sp)
    return np.transpose(res, np.argsort(ospec)).astype(out_aval.dtype)


conv_general_dilated_p.abstract_eval = _conv_rule
conv_general_dilated_p.impl = _conv_impl
conv_general_dilated_p.lowering = "rewritten"   # by xla_like/passes/lower_conv.py
conv_general_dilated = as_function(conv_general_dilated_p)


# --- axis regrouping (groups are the major part of a split axis) ---------------------------

def split_axis(x, axis, n):
    """Axis `axis` of size n * m becomes the two axes (n, m)."""
    shape = get_aval(x).shape
    return reshape(x, new_sizes=shape[:axis] + (n, shape[axis] // n) + shape[axis + 1:])


def merge_axis(x, src, dst):
    """Axis `src` becomes the major part of axis `dst` (`dst` counted without `src`)."""
    shape = get_aval(x).shape
    rest = [d for d in range(len(shape)) if d != src]
    perm = tuple(rest[:dst] + [src] + rest[dst:])
    if perm != tuple(range(len(shape))):
        x = transpose(x, permutation=perm)
    sizes = [shape[d] for d in rest]
    sizes[dst] *= shape[src]
    return reshape(x, new_sizes=tuple(sizes))


def _spec_swap(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


# --- rules ---------------------------------------------------------------------------------

def _as_dtype(x, dtype):
    from .elementwise import convert_element_type
    if get_aval(x).dtype == dtype:
        return x
    return convert_element_type(x, new_dtype=np.dtype(dtype), weak_type=False)


def _conv_jvp(primals, tangents, **params):
    (lhs, rhs), (tl, tr) = primals, tangents
    ans = conv_general_dilated(lhs, rhs, **params)
    if not is_float(ans):
        return ans, None
    out = None
    if tl is not None:
        out = conv_general_dilated(tl, rhs, **params)
    if tr is not None:
        out = add_any(out, conv_general_dilated(lhs, tr, **params))
    return ans, out


def _sizes(aval, spec):
    return [aval.shape[d] for d in spec[2:]]


def _transpose_lhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, **_):
    """d lhs: the cotangent convolved with the spatially flipped kernel, in and out features
    swapped; the forward strides become the input dilation (zeros between cotangent rows)."""
    lspec, rspec, ospec = dimension_numbers
    la, ca = get_aval(lhs), get_aval(ct)
    groups = feature_group_count
    w = _as_dtype(rhs, ca.dtype)
    if feature_group_count > 1 or batch_group_count > 1:
        # The kernel's out-feature groups move into its in-feature axis, which becomes the
        # transposed convolution's out feature.
        groups = max(feature_group_count, batch_group_count)
        w = merge_axis(split_axis(w, rspec[0], groups), rspec[0], rspec[1])
    wa = get_aval(w)
    pads = []
    for n, k, o, s, (lo, _), ld, rd in zip(_sizes(la, lspec), _sizes(wa, rspec),
                                           _sizes(ca, ospec), window_strides, padding,
                                           lhs_dilation, rhs_dilation):
        before = _dilated(k, rd) - lo - 1
        after = _dilated(n, ld) + _dilated(k, rd) - 1 - _dilated(o, s) - before
        pads.append((before, after))
    out = conv_general_dilated(
        ct, rev(w, dimensions=tuple(rspec[2:])), window_strides=tuple(lhs_dilation),
        padding=tuple(pads), lhs_dilation=tuple(window_strides),
        rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=(tuple(ospec), _spec_swap(rspec), tuple(lspec)),
        feature_group_count=groups, batch_group_count=1)
    if batch_group_count > 1:
        out = merge_axis(split_axis(out, lspec[1], batch_group_count), lspec[1], lspec[0])
    return _as_dtype(out, la.dtype)


def _transpose_rhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, **_):
    """d rhs: the input convolved with the cotangent, batch and feature roles swapped (the
    sum over the batch becomes the contraction); feature groups become batch groups and
    batch groups feature groups."""
    lspec, rspec, ospec = dimension_numbers
    la, ra, ca = get_aval(lhs), get_aval(rhs), get_aval(ct)
    pads = []
    for n, k, o, s, (lo, _), ld, rd in zip(_sizes(la, lspec), _sizes(ra, rspec),
                                           _sizes(ca, ospec), window_strides, padding,
                                           lhs_dilation, rhs_dilation):
        hi = (_dilated(o, s) - _dilated(n, ld)) + (_dilated(k, rd) - lo - 1)
        pads.append((lo, hi))
    out = conv_general_dilated(
        _as_dtype(lhs, ca.dtype), ct, window_strides=tuple(rhs_dilation),
        padding=tuple(pads), lhs_dilation=tuple(lhs_dilation),
        rhs_dilation=tuple(window_strides),
        dimension_numbers=(_spec_swap(lspec), _spec_swap(ospec), _spec_swap(rspec)),
        feature_group_count=batch_group_count, batch_group_count=feature_group_count)
    return _as_dtype(out, ra.dtype)


def _conv_vjp(ct, ans, primals, **params):
    lhs, rhs = primals
    if ct is None or not is_float(ct):
        return None, None
    params = dict(params, dimension_numbers=tuple(tuple(s) for s in
                                                  params["dimension_numbers"]))
    empty = get_aval(ct).size == 0
    ct_lhs = _transpose_lhs(ct, lhs, rhs, **params) if is_float(lhs) else None
    # An empty cotangent would make a kernel of spatial size 0: the gradient is zero.
    if not is_float(rhs):
        ct_rhs = None
    elif empty:
        from .autodiff import zeros_like_aval
        ct_rhs = zeros_like_aval(get_aval(rhs))
    else:
        ct_rhs = _transpose_rhs(ct, lhs, rhs, **params)
    return ct_lhs, ct_rhs


def _conv_batch(args, batched, size, **params):
    """vmap: the mapped axis (leading) folds into the batch (lhs mapped), the out features
    (rhs mapped) or, both mapped, into one more feature (or batch) group per example; it is
    then split out of the output's matching axis and moved to the front."""
    (lhs, rhs), (bl, br) = args, batched
    if not (bl or br):
        return conv_general_dilated(lhs, rhs, **params), False
    lspec, rspec, ospec = (tuple(s) for s in params["dimension_numbers"])
    g, b = params["feature_group_count"], params["batch_group_count"]
    p = dict(params)
    if bl and br:
        if b > 1:
            lhs = merge_axis(lhs, 0, lspec[0])
            p["batch_group_count"] = b * size
        else:
            lhs = merge_axis(lhs, 0, lspec[1])
            p["feature_group_count"] = g * size
        rhs = merge_axis(rhs, 0, rspec[0])
        out, axis, inner = conv_general_dilated(lhs, rhs, **p), ospec[1], 1
    elif bl:
        # Batch groups stay the major part of the batch, (groups, mapped, n'); the output's
        # batch is (mapped, n').
        lhs = _fold(lhs, lspec[0], b)
        out, axis, inner = conv_general_dilated(lhs, rhs, **p), ospec[0], 1
    else:
        grp = max(g, b)
        rhs = _fold(rhs, rspec[0], grp)
        out, axis, inner = conv_general_dilated(lhs, rhs, **p), ospec[1], grp
    return _unfold(out, axis, inner, size), True


def _fold(x, axis, groups):
    """A leading mapped axis of `x` folded into axis `axis` (of the unmapped array) of size
    groups * m, which becomes (groups, mapped, m)."""
    x = split_axis(x, axis + 1, groups)
    return merge_axis(merge_axis(x, 0, axis + 1), axis, axis)


def _unfold(y, axis, groups, size):
    """The inverse of `_fold` on an output: axis `axis`, (groups, mapped, m), gives up the
    mapped axis, which moves to the front."""
    y = split_axis(split_axis(y, axis, groups), axis + 1, size)
    nd = get_aval(y).ndim
    y = transpose(y, permutation=(axis + 1,) + tuple(d for d in range(nd) if d != axis + 1))
    shape = get_aval(y).shape
    a = axis + 1                       # groups' position once the mapped axis leads
    return reshape(y, new_sizes=shape[:a] + (shape[a] * shape[a + 1],) + shape[a + 2:])


def _conv_complex(lhs, rhs, **params):
    """Complex convolution from four real ones: (a + ib)(c + id)."""
    from .elementwise import add, sub
    (a, b), (c, d) = lhs, rhs
    pet = params.get("preferred_element_type")
    if pet is not None:
        params = dict(params, preferred_element_type=dtypes.real_dtype(np.dtype(pet)))

    def conv(x, y):
        return conv_general_dilated(x, y, **params)
    return sub(conv(a, c), conv(b, d)), add(conv(a, d), conv(b, c))


conv_general_dilated_p.jvp = _conv_jvp
conv_general_dilated_p.vjp = _conv_vjp
conv_general_dilated_p.batch = _conv_batch
conv_general_dilated_p.complex_parts = _conv_complex
