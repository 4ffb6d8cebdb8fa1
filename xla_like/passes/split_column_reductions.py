"""Large reductions over the leading axis as two halves, so both halves stream at once.

The CPU computes a reduction over leading axes by streaming whole rows into partial results for a
block of columns (`llvm.reduce.emit_column_reduction`): one unit of work per block, and for a
4096 x 4096 float32 `x.sum(0)` one block of whole rows, so one thread. One core does not
reach the memory's bandwidth (19-21 GB/s of the machine's ~25 on the measuring Zen 4), and a
NaN-propagating max or an argmax is partly bound by its arithmetic. This pass rewrites

    reduce(x, axes={0})   ->   reduce(reduce(reshape(x, (2, n/2, ...)), axes={1}), axes={0})

for a float (32 or 64 bits) or integer `reduce_sum`/`reduce_max`/`reduce_min` of at least
`MIN_BYTES` with an even leading size: the inner reduction has two units (one per half of the
rows) that two threads run at once, the outer one adds or compares two rows. The reshape only
regroups the leading axis, so it is free for a parameter and an index map in a fused producer.

The halves are fixed by the shape, not by the thread count, so the result is the same on any
number of threads. A max or min is exact either way; a sum adds the two halves' partial sums
last, a different order from one pass over all rows (equal within float rounding, as any other
sum order; each half still sums in 128-row tiles).

An argmax or argmin splits the same way, with its first pass giving each half's best row; the
second reads the two candidates' values back (a gather of two elements per column, not another
pass over the rows) and keeps the second half's only where it is strictly better, or where it
is the first NaN: NumPy's answer, the first best row (`_pick_rows`).

Bucketed programs are left alone: their leading sizes are capacities whose true extent the
planner bounds per kernel, which a reshape of that axis would hide.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops.core import PRIMITIVES, ShapedArray, bind
from ops.dims import Dim
from ops.elementwise import add, and_, eq, gt, iota, lt, mul, ne, or_, select
from ops.indexing import gather
from ops.reduction import reduce_max_p, reduce_min_p, reduce_sum_p
from ops.shape import broadcast_in_dim, concatenate, reshape, slice as slice_

from .. import ir
from .rebuild import Copier, rebuild_where

MIN_BYTES = 8 << 20
_PRIMS = {"reduce_sum": reduce_sum_p, "reduce_max": reduce_max_p, "reduce_min": reduce_min_p}


def _arg_reduction(instr):
    """(primitive, comparison by which a later candidate wins) of an arg reduction, from its
    traits: the identity a never-winning position holds is the lowest value for an argmax
    (larger wins), the highest for an argmin; else None."""
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None or not prim.arg_reduction:
        return None
    return prim, gt if prim.reduction == "lowest" else lt


def _splits(instr) -> bool:
    arg = _arg_reduction(instr)
    if instr.opcode not in _PRIMS and arg is None:
        return False
    x = instr.operands[0]
    dims = x.shape.dims
    if len(dims) < 2 or any(type(d) is Dim for d in dims):
        return False
    if arg is not None:
        axes = [instr.attrs["axis"] % len(dims)]
    else:
        axes = sorted({a % len(dims) for a in instr.attrs["axes"]})
    n = dims[0]
    # (Not 16-bit floats: their sums accumulate in float32 and round once, which two halves
    # rounded each would not.)
    return (axes == [0] and n % 2 == 0 and n >= 512 and dtypes.kind(x.shape.dtype) in "fiu"
            and not dtypes.is_half(x.shape.dtype)
            and x.shape.size * x.shape.dtype.itemsize >= MIN_BYTES)


def split_column_reductions(module: ir.Module) -> ir.Module:
    """Rewrite each large leading-axis reduction of `module` (see the module docstring)."""
    if module.num_sizes:
        return module
    return rebuild_where(module, _splits, _Splitter)


class _Splitter(Copier):
    def apply(self, instr, values):
        if not _splits(instr):
            return self.copy(instr, values)
        (x,) = values
        dims = instr.operands[0].shape.dims
        if _arg_reduction(instr) is not None:
            return self._split_arg(instr, x, dims)
        prim = _PRIMS[instr.opcode]
        halves = reshape(x, new_sizes=(2, dims[0] // 2) + tuple(dims[1:]))
        return bind(prim, bind(prim, halves, axes=(1,)), axes=(0,))

    def _split_arg(self, instr, x, dims):
        prim, better = _arg_reduction(instr)
        it = instr.attrs["index_dtype"]
        n, half = dims[0], dims[0] // 2
        m = int(np.prod(dims[1:]))
        flat = reshape(x, new_sizes=(n, m))
        # Each half's best row, then its row in x: `half` added to the second half's.
        best = bind(prim, reshape(flat, new_sizes=(2, half, m)), axis=1, index_dtype=it)
        offset = mul(iota(dtype=it, shape=(2, m), dimension=0), self._full(half, it, (2, m)))
        rows = add(best, offset)
        cols = iota(dtype=it, shape=(2, m), dimension=1)
        at = concatenate(reshape(rows, new_sizes=(2, m, 1)), reshape(cols, new_sizes=(2, m, 1)),
                         dimension=2)
        vals = gather(flat, at, axes=(0, 1), mode="promise_in_bounds")
        first, second = (_row(vals, h, m) for h in (0, 1))
        out = _pick_rows(first, second, _row(rows, 0, m), _row(rows, 1, m), better,
                         dtypes.kind(instr.operands[0].shape.dtype) == "f")
        return reshape(out, new_sizes=tuple(dims[1:]))

    def _full(self, value, dtype, shape):
        c = self.wrap(self.trace.constant(np.array(value, dtype), ShapedArray((), dtype)))
        return broadcast_in_dim(c, shape=shape, broadcast_dimensions=())


def _row(v, h, m):
    """Row h of a (2, m) value, as (m,)."""
    return reshape(slice_(v, start_indices=(h, 0), limit_indices=(h + 1, m)), new_sizes=(m,))


def _pick_rows(v0, v1, r0, r1, better, floats):
    """The first half's row r0 unless the second half's value v1 is strictly better, or is
    NaN where v0 is not (the first NaN wins, as in NumPy): ties keep the earlier row."""
    second = better(v1, v0)
    if floats:
        second = or_(second, and_(ne(v1, v1), eq(v0, v0)))
    return select(second, r1, r0)
