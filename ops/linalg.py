"""dot_general: a contraction with batch dimensions, the one matrix primitive.

`dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))`, as in XLA.
The output's dimensions are: batch dims, then lhs free dims, then rhs free dims. Negative
dimension numbers count from the end.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .autodiff import add_any, is_float, shift_axes
from .core import Primitive, ShapedArray, get_aval
from .elementwise import convert_element_type
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, check_kinds
from .shape import transpose

dot_general_p = Primitive("dot_general", "linalg")


def _free_dims(ndim, *used):
    taken = set(d for u in used for d in u)
    return tuple(d for d in range(ndim) if d not in taken)


def _dot_general_rule(lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    lc, rc = canonical_axes("dot_general", lc, lhs.ndim, lhs.shape), \
        canonical_axes("dot_general", rc, rhs.ndim, rhs.shape)
    lb, rb = canonical_axes("dot_general", lb, lhs.ndim, lhs.shape), \
        canonical_axes("dot_general", rb, rhs.ndim, rhs.shape)
    if lhs.dtype != rhs.dtype:
        raise DtypeError(f"dot_general: operands must share a dtype, got {lhs.str_short()} and "
                         f"{rhs.str_short()}")
    check_kinds("dot_general", lhs, "fiubc")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise ShapeError(f"dot_general: contracting {lc} / {rc} and batch {lb} / {rb} dimensions "
                         f"must pair up for {lhs.str_short()} and {rhs.str_short()}")
    for a, b in zip(lc, rc):
        if lhs.shape[a] != rhs.shape[b]:
            raise ShapeError(
                f"dot_general: contraction mismatch: lhs {lhs.str_short()} dimension {a} has size "
                f"{lhs.shape[a]} but rhs {rhs.str_short()} dimension {b} has size {rhs.shape[b]}")
    for a, b in zip(lb, rb):
        if lhs.shape[a] != rhs.shape[b]:
            raise ShapeError(
                f"dot_general: batch mismatch: lhs {lhs.str_short()} dimension {a} has size "
                f"{lhs.shape[a]} but rhs {rhs.str_short()} dimension {b} has size {rhs.shape[b]}")
    out_dtype = lhs.dtype if preferred_element_type is None else \
        dtypes.canonicalize(preferred_element_type, "dot_general")
    shape = (tuple(lhs.shape[d] for d in lb) + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    return ShapedArray(shape, out_dtype, lhs.weak_type and rhs.weak_type)


def _dot_general_impl(lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    (lc, rc), (lb, rb) = _canonical_dims(lhs.ndim, rhs.ndim, dimension_numbers)
    lf, rf = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    out_dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    # Move to (batch, free, contract) / (batch, contract, free) and use one batched matmul.
    bshape = tuple(lhs.shape[d] for d in lb)
    lfs = tuple(lhs.shape[d] for d in lf)
    rfs = tuple(rhs.shape[d] for d in rf)
    k = int(np.prod([lhs.shape[d] for d in lc], dtype=np.int64))
    # bfloat16 and float16 products accumulate in float32, as XLA's do.
    acc = np.dtype(np.float32) if dtypes.is_half(out_dtype) else \
        out_dtype if out_dtype.kind in "fc" else (np.dtype(np.int64) if out_dtype.kind != "u"
                                                   else np.dtype(np.uint64))
    if lhs.dtype.kind == "b":
        acc = np.dtype(np.int64)
    a = np.transpose(lhs, lb + lf + lc).reshape(bshape + (int(np.prod(lfs, dtype=np.int64)), k))
    b = np.transpose(rhs, rb + rc + rf).reshape(bshape + (k, int(np.prod(rfs, dtype=np.int64))))
    out = np.matmul(a.astype(acc, copy=False), b.astype(acc, copy=False))
    out = out.reshape(bshape + lfs + rfs)
    if out_dtype.kind == "b":
        return out != 0
    return out.astype(out_dtype, copy=False)


dot_general_p.abstract_eval = _dot_general_rule
dot_general_p.impl = _dot_general_impl
dot_general_p.lowering = "library"     # GEMM (BLAS, cuBLAS); a loop kernel where none fits
dot_general_p.library = "gemm"
dot_general = as_function(dot_general_p)


# --- rules ---------------------------------------------------------------------------------


def _canonical_dims(lhs_ndim, rhs_ndim, dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs_axes = [canonical_axes("dot_general", d, lhs_ndim) for d in (lc, lb)]
    rhs_axes = [canonical_axes("dot_general", d, rhs_ndim) for d in (rc, rb)]
    return (lhs_axes[0], rhs_axes[0]), (lhs_axes[1], rhs_axes[1])


def _dot_general_jvp(primals, tangents, *, dimension_numbers, **params):
    (lhs, rhs), (tl, tr) = primals, tangents
    ans = dot_general(lhs, rhs, dimension_numbers=dimension_numbers, **params)
    if not is_float(ans):
        return ans, None
    out = None
    if tl is not None:
        out = dot_general(tl, rhs, dimension_numbers=dimension_numbers, **params)
    if tr is not None:
        out = add_any(out, dot_general(lhs, tr, dimension_numbers=dimension_numbers, **params))
    return ans, out


def _as_dtype(x, dtype):
    if get_aval(x).dtype == dtype:
        return x
    return convert_element_type(x, new_dtype=np.dtype(dtype), weak_type=False)


def _dot_transpose_lhs(ct, x, y, dimension_numbers, swap_ans=False):
    """The cotangent of `x` in `dot_general(x, y)` (or of `y` in `dot_general(y, x)` when
    `swap_ans`): contract `ct` with `y` over `y`'s free dims, batch over the batch dims, then
    put the result's dims (batch, x's free, x's contracting in `y`'s order) back in `x`'s order.
    """
    (xc, yc), (xb, yb) = dimension_numbers
    xa, ya = get_aval(x), get_aval(y)
    x_kept = _free_dims(xa.ndim, xc, xb)
    y_kept = _free_dims(ya.ndim, yc, yb)
    nb = len(xb)
    start = nb if swap_ans else nb + len(x_kept)
    ans_y = tuple(range(start, start + len(y_kept)))
    dims = ((ans_y, y_kept), (tuple(range(nb)), yb))
    # ct may be wider than the operands (preferred_element_type): contract in ct's dtype.
    ct_dtype = get_aval(ct).dtype
    out = dot_general(ct, _as_dtype(y, ct_dtype), dimension_numbers=dims)
    x_contract_by_y = tuple(xc[i] for i in np.argsort(yc, kind="stable"))
    perm = tuple(int(i) for i in np.argsort(xb + x_kept + x_contract_by_y, kind="stable"))
    if perm != tuple(range(len(perm))):
        out = transpose(out, permutation=perm)
    return _as_dtype(out, xa.dtype)


def _dot_general_vjp(ct, ans, primals, *, dimension_numbers, **params):
    lhs, rhs = primals
    if ct is None or not is_float(ct):
        return None, None
    (lc, rc), (lb, rb) = _canonical_dims(get_aval(lhs).ndim, get_aval(rhs).ndim,
                                         dimension_numbers)
    ct_lhs = _dot_transpose_lhs(ct, lhs, rhs, ((lc, rc), (lb, rb))) if is_float(lhs) else None
    ct_rhs = (_dot_transpose_lhs(ct, rhs, lhs, ((rc, lc), (rb, lb)), swap_ans=True)
              if is_float(rhs) else None)
    return ct_lhs, ct_rhs


def _dot_general_batch(args, batched, size, *, dimension_numbers, **params):
    """Both batched: one more batch dimension, which the output puts first. One batched: its
    batch axis is a free dimension of that operand; move it from where the output puts it."""
    (lhs, rhs), (bl, br) = args, batched
    if not (bl or br):
        return dot_general(lhs, rhs, dimension_numbers=dimension_numbers, **params), False
    ln, rn = get_aval(lhs).ndim - bl, get_aval(rhs).ndim - br
    (lc, rc), (lb, rb) = _canonical_dims(ln, rn, dimension_numbers)
    if bl and br:
        dims = ((shift_axes(lc), shift_axes(rc)), ((0,) + shift_axes(lb), (0,) + shift_axes(rb)))
        return dot_general(lhs, rhs, dimension_numbers=dims, **params), True
    if bl:
        dims = ((shift_axes(lc), rc), (shift_axes(lb), rb))
        where = len(lb)  # first of lhs's free dims
    else:
        dims = ((lc, shift_axes(rc)), (lb, shift_axes(rb)))
        where = len(lb) + ln - len(lc) - len(lb)  # first of rhs's free dims
    out = dot_general(lhs, rhs, dimension_numbers=dims, **params)
    if where:
        nd = get_aval(out).ndim
        out = transpose(out, permutation=(where,) + tuple(d for d in range(nd) if d != where))
    return out, True


dot_general_p.jvp = _dot_general_jvp
dot_general_p.vjp = _dot_general_vjp
dot_general_p.batch = _dot_general_batch
