"""Facts about a fused kernel or a dot that the planner and every code generator share: which
loop layout a fusion takes (one flat loop, or rows) and the GEMM shape of a dot_general. Pure
IR analysis: no LLVM here."""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ... import ir


def flat_ok(comp) -> bool:
    """Can every instruction be computed at one linear position (same-size or scalar inputs)?"""
    n = comp.root.shape.size
    for instr in comp.instructions:
        op = instr.opcode
        if op == ir.PARAMETER or op == ir.CONSTANT:
            if instr.shape.size not in (1, n):
                return False
            continue
        prim = PRIMITIVES.get(op)
        if prim is None or prim.reduction is not None or prim.positional:
            return False   # iota needs the index along its dimension, not the linear one
        if prim.linear_order:
            # A same-size broadcast only adds size-1 axes: element order is unchanged.
            if op == "broadcast_in_dim" and instr.operands[0].shape.size not in (1, n):
                return False
            continue
        if not prim.elementwise:
            return False
        if instr.shape.size != n:
            return False
    return True


def outer_rank(comp):
    """How many leading output dims index rows (None for plain loop kernels)."""
    if is_reduction(comp.root):
        return len(comp.root.shape.dims)
    ranks = {len(i.shape.dims) for i in comp.instructions
             if is_reduction(i) and i is not comp.root}
    return min(ranks) if ranks else None


def iteration_shape(comp) -> tuple:
    """The index space a fused kernel loops over: its output's, or a reduction root's input's
    (the fusion pass groups instructions by the same rule)."""
    root = comp.root
    return root.operands[0].shape.dims if is_reduction(root) else root.shape.dims


def is_reduction(instr) -> bool:
    """A reduction to a smaller shape (argmax included, cumulative scans not)."""
    prim = PRIMITIVES.get(instr.opcode)
    return prim is not None and prim.reduces


def gemm_layout(instr):
    """(batch, M, N, K, lhs_transposed, rhs_transposed) of a canonicalized dot_general."""
    (lc, rc), (lb, rb) = instr.attrs["dimension_numbers"]
    lhs, rhs = instr.operands
    ld, rd = lhs.shape.dims, rhs.shape.dims
    lf = [d for d in range(len(ld)) if d not in lc and d not in lb]
    rf = [d for d in range(len(rd)) if d not in rc and d not in rb]
    size = lambda dims, sel: int(np.prod([dims[d] for d in sel], dtype=np.int64))  # noqa: E731
    batch = size(ld, lb)
    m, k, n = size(ld, lf), size(ld, lc), size(rd, rf)
    ta = bool(lc) and bool(lf) and min(lc) < min(lf)
    tb = bool(rc) and bool(rf) and min(rf) < min(rc)
    return batch, m, n, k, ta, tb
