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

Bucketed programs are left alone: their leading sizes are capacities whose true extent the
planner bounds per kernel, which a reshape of that axis would hide.
"""
from __future__ import annotations

from ops import dtypes
from ops.reduction import reduce_max_p, reduce_min_p, reduce_sum_p
from ops.core import bind
from ops.dims import Dim
from ops.shape import reshape

from .. import ir
from .rebuild import Copier, rebuild_where

MIN_BYTES = 8 << 20
_PRIMS = {"reduce_sum": reduce_sum_p, "reduce_max": reduce_max_p, "reduce_min": reduce_min_p}


def _splits(instr) -> bool:
    if instr.opcode not in _PRIMS:
        return False
    x = instr.operands[0]
    dims = x.shape.dims
    if len(dims) < 2 or any(type(d) is Dim for d in dims):
        return False
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
        prim = _PRIMS[instr.opcode]
        halves = reshape(x, new_sizes=(2, dims[0] // 2) + tuple(dims[1:]))
        return bind(prim, bind(prim, halves, axes=(1,)), axes=(0,))
