"""Software prefetch for row gathers (`table[ids]`, an embedding lookup) on the CPU.

A gathered row's first line misses the caches (random rows of a large table), which the
hardware prefetchers cannot foresee. Before the copy loop of output row i, the kernel asks for
the first lines of the table row that output row i + `AHEAD` reads (`kernels.emit_fusion`
calls `row_prefetcher`); inside the copy loop a prefetch would keep LLVM from vectorizing it.
Measured (Zen 4, 4096 rows of a 50000 x 256 float32 table, one thread): 177-181 -> 156-159 µs
warm, 786 -> 646 µs with the caches and TLB cold; 4 rows ahead did as well, 16 or 32 worse.
"""
from __future__ import annotations

from llvmlite import ir as ll

from ... import ir
from .emitter import I8, I32, i64

# One gathered row copies in ~50 ns, a miss costs ~100-150 ns: 8 rows ahead is in time.
AHEAD = 8
MIN_TABLE = 1 << 20      # bytes: smaller tables stay in the caches
LINES = 16               # lines of a row asked for; the streamer takes the rest


def row_prefetcher(em, comp, out_dims):
    """For a kernel writing `out_dims` by a loop nest, emitting with `em`: a function
    `f(idx)` to call before the innermost loop at outer index `idx`, prefetching the table
    rows that row gathers of `comp` (`table[ids]` of a large table parameter, with
    `out_dims` rows) read `AHEAD` rows on; None where there are none."""
    if not em.prefetches or len(out_dims) != 2:
        return None
    # (A table read with its caller's run-time row stride, in a bucketed program, is left
    # alone: the lines to ask for are counted from a static row length.)
    gathers = [g for g in comp.instructions if _gathers_rows(g, out_dims) and
               isinstance(em.inputs[g.operands[0].attrs["index"]].strides[0], int)]
    if not gathers:
        return None

    def prefetch(idx):
        em.push_scope()
        for g in gathers:
            em.run(_prefetch_row(em, g, idx[0]))
        em.pop_scope()
    return prefetch


def _gathers_rows(instr, out_dims) -> bool:
    if instr.opcode != "gather" or tuple(instr.shape.dims) != tuple(out_dims):
        return False
    x, idx = instr.operands
    if x.opcode != ir.PARAMETER or [a % len(x.shape.dims) for a in instr.attrs["axes"]] != [0] \
            or len(idx.shape.dims) != 2 or idx.shape.dims[1] != 1:
        return False
    nbytes = x.shape.size * x.shape.dtype.itemsize
    return (tuple(instr.shape.dims[1:]) == tuple(x.shape.dims[1:]) and
            nbytes // max(x.shape.dims[0], 1) >= 64 and
            nbytes >= MIN_TABLE and idx.shape.dims[0] > 2 * AHEAD)


def _prefetch_row(em, instr, row):
    """Prefetch the first lines of the table row that output row `row + AHEAD`
    (the last row, near the end) reads: the id as the gather takes it (negative ids wrap
    once; then clamped, a hint must still point into the table)."""
    x, idx = instr.operands
    n = idx.shape.dims[0]
    ahead = em._clamp_i64(em.b.add(row, i64(AHEAD)), 0, n - 1)
    v = em._as_i64((yield idx, [ahead, i64(0)]), idx.shape.dtype)
    rows = x.shape.dims[0]
    if idx.shape.dtype.kind != "u":
        v = em.b.select(em.b.icmp_signed("<", v, i64(0)), em.b.add(v, i64(rows)), v)
    v = em._clamp_i64(v, 0, rows - 1)
    buf = em.inputs[x.attrs["index"]]
    start = em.b.gep(buf.ptr, [em.b.mul(v, i64(buf.strides[0]))], inbounds=True)
    start = em.b.bitcast(start, I8.as_pointer())
    row_bytes = buf.strides[0] * x.shape.dtype.itemsize
    for line in range(min(LINES, -(-row_bytes // 64))):
        _cpu_prefetch(em.b, em.b.gep(start, [i64(64 * line)], inbounds=True))


def _cpu_prefetch(b: ll.IRBuilder, ptr):
    """`llvm.prefetch` of `ptr` for reading, kept in every cache level (a hint: never faults)."""
    i8p = I8.as_pointer()
    fn = b.module.globals.get("llvm.prefetch.p0")
    if fn is None:
        fn = ll.Function(b.module, ll.FunctionType(ll.VoidType(), [i8p, I32, I32, I32]),
                         "llvm.prefetch.p0")
    b.call(fn, [b.bitcast(ptr, i8p), ll.Constant(I32, 0), ll.Constant(I32, 3),
                ll.Constant(I32, 1)])
