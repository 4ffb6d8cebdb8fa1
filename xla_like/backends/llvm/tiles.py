"""Tiled loop nests for kernels that transpose: the last two output axes in square tiles.

A loop nest walks its output in row-major order. Where the kernel reads a transpose of a large
array, consecutive output elements read input elements a whole row apart: each input cache
line brought in serves one element and is gone before the next output row could use the rest
of it. `x.T + 1` of a 4096 x 4096 float32 ran at a tenth of a plain copy's speed.

Walked in square tiles, a tile's input lines could serve all of its rows, but rows a
power of two apart fall in the same L1 set: 32 input lines and 32 output lines 16 KiB apart
do not fit a 12-way set, and the tiles alone gained less than 2x. So where the transposed
value is a parameter, each tile first copies its block of the parameter row by row
(contiguous reads) into a stack buffer of 16 KiB at most, and the transpose's elements read
the buffer (`TileReads`): the strided reads then hit a block in L1. Direct reads of the same
parameter (`x.T + x`) read it where it is, contiguous in the tile's rows.

Tiled are the last two output axes, when a transpose computes the kernel's whole index space
(its shape is the output's) and reads the input's contiguous axis along the second-to-last
output axis. The buffer is for swaps of the last two axes (`x.T`, `swapaxes(x, -1, -2)`) of
a parameter; other such transposes are tiled without it, and the rest keep the nest.
"""
from __future__ import annotations

from llvmlite import ir as ll

from ... import ir
from .emitter import i64, storage_type, to_register
from .loops import counted_loop, entry_alloca

# Elements per tile side: 64 where a buffered tile takes 16 KiB or less (4-byte elements and
# smaller), else 32. On the measuring Zen 4, 4096^2 float32 `x.T + 1` took 29, 12 and 11.5 ms
# with 16, 32 and 64; 1024^2, 0.57, 0.60 and 0.49 ms.
TILE = 32
WIDE_TILE = 64
# Smaller operands stay in L2 row by row already: a 256^2 float32 `x.T + 1` took the same
# time either way, and tiles cost compile time (2-4% more on the transformer block's grad with
# its 256^2 float32 transposes tiled).
MIN_BYTES = 1 << 20


class TilePlan:
    """How a loop nest is tiled: `transpose`, the transpose of a parameter whose elements the
    tiles read from a buffer (None: the tiles read the operand where it is); `side`, elements
    per tile side."""

    def __init__(self, transpose, side):
        self.transpose = transpose
        self.side = side

    @property
    def param(self):
        """The parameter number copied into the tile buffer, or None."""
        return None if self.transpose is None else self.transpose.operands[0].attrs["index"]


def plan_tiles(comp, dims, limits):
    """The TilePlan of a loop-nest kernel of `comp` writing `dims`, or None (no transposing
    read worth tiling, or run-time bounds: a bucketed kernel's extents are arguments)."""
    r = len(dims)
    if r < 2 or limits or dims[-1] < TILE or dims[-2] < TILE:
        return None
    side = WIDE_TILE if comp.root.shape.dtype.itemsize <= 4 else TILE
    swap = list(range(r - 2)) + [r - 1, r - 2]
    for instr in comp.instructions:
        if instr.opcode != "transpose" or tuple(instr.shape.dims) != tuple(dims):
            continue
        x = instr.operands[0]
        if x.shape.size * x.shape.dtype.itemsize < MIN_BYTES:
            continue
        perm = list(instr.attrs["permutation"])
        if perm == swap and x.opcode == ir.PARAMETER and x.shape.dtype.kind != "c":
            if x.shape.dtype.itemsize > 4:
                side = TILE
            return TilePlan(instr, side)
        if perm[-2] == r - 1 and perm[-1] != r - 1:
            return TilePlan(None, side)
    return None


class TileReads:
    """The buffered transpose's elements while a tile's elements are computed: the kernel's
    `_WindowEmitter._op_transpose` reads the transposes in `active` here. (Other reads of the
    same parameter, `x.T + x`, still read it where it is.)"""

    def __init__(self):
        self.active = {}     # id(transpose) -> (tile pointer, side, first row, first column)

    def load(self, b, transpose, index):
        """Element `index` of `transpose` (out[.., i, j] = x[.., j, i]) from the buffer, which
        holds x[.., j0:, i0:] row by row."""
        ptr, side, j0, i0 = self.active[id(transpose)]
        off = b.add(b.mul(b.sub(index[-1], j0), i64(side)), b.sub(index[-2], i0))
        dtype = transpose.shape.dtype
        v = b.load(b.gep(ptr, [off], inbounds=True), align=dtype.itemsize)
        return to_register(b, v, dtype)


def emit_tiled(b, em, plan, inputs, lead, lo, hi, n, element):
    """`element(lead + [i, j])` for i in [lo, hi), j in [0, n), in square tiles of
    `plan.side` (ragged at the ends), rows then columns within each; with `plan.param`, each
    tile first copies the parameter's block it reads into a stack buffer that its elements
    read instead."""
    t = i64(plan.side)
    src = inputs[plan.param] if plan.param is not None else None
    tile = None
    if src is not None:
        elem = storage_type(src.shape.dtype)
        tile = entry_alloca(b, ll.ArrayType(elem, plan.side ** 2), name="tile")
        tile = b.bitcast(tile, elem.as_pointer())

    def least(x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    def rows_of_tiles(i0):
        i1 = least(b.add(i0, t), hi)

        def one_tile(j0):
            j1 = least(b.add(j0, t), n)
            if src is not None:
                # The parameter's block x[lead, j0:j1, i0:i1] (what out[lead, i, j] reads at
                # x[lead, j, i]), row by row: contiguous reads, 16 KiB of L1 at most.
                def copy(j):
                    row = b.mul(b.sub(j, j0), t)

                    def one(i):
                        at = em.linear(src, lead + [j, i])
                        v = b.load(b.gep(src.ptr, [at], inbounds=True),
                                   align=src.shape.dtype.itemsize)
                        b.store(v, b.gep(tile, [b.add(row, b.sub(i, i0))], inbounds=True))
                    counted_loop(b, i0, i1, one, name="ci")
                counted_loop(b, j0, j1, copy, name="cj")
                em.tile_reads.active[id(plan.transpose)] = (tile, plan.side, j0, i0)
            counted_loop(b, i0, i1, lambda i: counted_loop(
                b, j0, j1, lambda j: element(lead + [i, j]), name="tj"), name="ti")
            em.tile_reads.active.clear()
        counted_loop(b, i64(0), n, one_tile, name="bj", step=t)
    counted_loop(b, lo, hi, rows_of_tiles, name="bi", step=t)
