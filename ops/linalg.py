"""dot_general: a contraction with batch dimensions, the one matrix primitive.

`dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))`, as in XLA.
The output's dimensions are: batch dims, then lhs free dims, then rhs free dims.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .core import Primitive, ShapedArray
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, check_kinds

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
    check_kinds("dot_general", lhs, "fiub")
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
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    out_dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    # Move to (batch, free, contract) / (batch, contract, free) and use one batched matmul.
    bshape = tuple(lhs.shape[d] for d in lb)
    lfs = tuple(lhs.shape[d] for d in lf)
    rfs = tuple(rhs.shape[d] for d in rf)
    k = int(np.prod([lhs.shape[d] for d in lc], dtype=np.int64))
    acc = out_dtype if out_dtype.kind == "f" else (np.dtype(np.int64) if out_dtype.kind != "u"
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
dot_general = as_function(dot_general_p)
