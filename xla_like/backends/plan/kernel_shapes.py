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


# A column reduction (`llvm.reduce.emit_column_reduction`) keeps the partial results of a unit
# of its range in stack arrays of at most this many bytes (L2 holds them), so that a unit reads
# whole rows where they fit: on a Zen 4, a 4096x4096 float32 column sum took 2.7-3.1 ms reading
# whole 16 KiB rows, 10-17 ms reading 2-8 KiB pieces of them (the power-of-two row stride
# defeats the prefetchers and maps every piece to the same cache sets).
COLUMN_BLOCK_BYTES = 1 << 16


class ColumnLayout:
    """How a reduction over leading (non-minor) axes streams its operand by rows.

    The operand's kept axes before `block_axis` index `outer` (one value per unit of the
    range); `block_axis` is cut into blocks of `t` positions; the kept axes after it
    (`inner` elements in all) are whole. A unit of the range is (outer position, block): its
    `t * inner` results stay in a stack array while every reduced position's row of them is
    read, contiguous in memory. `extent` = outer size * blocks."""

    def __init__(self, reduced, block_axis, outer, t, inner, blocks):
        self.reduced, self.block_axis, self.outer = reduced, block_axis, outer
        self.t, self.inner, self.blocks = t, inner, blocks
        self.width = t * inner
        self.extent = int(np.prod([d for d in outer], dtype=np.int64)) * blocks


def reduced_axes(instr) -> tuple:
    rank = len(instr.operands[0].shape.dims)
    if "axis" in instr.attrs:
        return (instr.attrs["axis"] % rank,)
    return tuple(sorted({a % rank for a in instr.attrs["axes"]}))


def column_layout(comp):
    """The `ColumnLayout` of a fusion whose root (its only reduction) keeps the operand's last
    axis, else None: such a reduction reads its operand with a stride when computed one result
    at a time, and streams it by rows in this layout."""
    root = comp.root
    if not is_reduction(root) or root.shape.size == 0:
        return None
    if any(is_reduction(i) for i in comp.instructions if i is not root):
        return None
    dims = root.operands[0].shape.dims
    axes = reduced_axes(root)
    n = len(dims)
    if n < 2 or not axes or n - 1 in axes:
        return None
    itemsize = max(root.operands[0].shape.dtype.itemsize, 4)
    if PRIMITIVES[root.opcode].arg_reduction:
        itemsize += 8           # the index of the best value beside it
    most = max(16, COLUMN_BLOCK_BYTES // itemsize)
    first_kept = max(axes) + 1          # the kept axes from here on are contiguous
    k = n - 1
    inner = 1
    while k > first_kept and inner * dims[k] <= most:
        inner *= dims[k]
        k -= 1
    # Dims k+1.. fit in a block (inner <= most); blocks cut dim k.
    t = max(1, min(dims[k], most // inner))
    outer = [dims[d] for d in range(k) if d not in axes]
    blocks = -(-dims[k] // t)
    return ColumnLayout(axes, k, outer, t, inner, blocks)
