"""Which sorts and cumulative scans a backend runs natively, and how they are laid out.

Both primitives say `lowering="host"` (their NumPy reference); a plan with `native_sorts`
makes them "sort" and "scan" steps instead, run as a short list of *phases*: kernels over a
range of units that threads share, with a barrier between phases (`llvm.sort`, `llvm.scan`).
This module is the IR side: which instructions qualify, the geometry of the rows each one
works on, how its units are cut, and the bytes of its workspace region (`Step.region`). No
LLVM here.

Rows: the operand is seen as (outer, n, inner) around the sorted/scanned axis; a row is one
(outer, inner) pair, its elements `inner` apart.
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ... import ir

# A sort splits one row into chunks (sorted together by a parallel radix sort) when the plan
# has several threads, there are fewer rows than threads to share, and each chunk holds at
# least this many elements.
SORT_CHUNK = 1 << 16
# A scan splits rows into chunks (each thread scans its chunks after the chunk totals are
# scanned) past this many elements per chunk.
SCAN_CHUNK = 1 << 15
# Scans of a column block: columns per unit (their running sums live on the stack), at most;
# fewer (down to SCAN_MIN_COLUMNS, whole vectors) when that gives each thread two units.
SCAN_COLUMNS = 512
SCAN_MIN_COLUMNS = 64
MAX_CHUNKS = 64
# Rows of at most this many elements are sorted by insertion (stable), not by radix passes
# whose 256-entry tables would cost more than the row.
INSERTION_MAX = 12
# A one-operand sort of rows longer than INSERTION_MAX and shorter than this stays a host step
# outside loop bodies: there NumPy's SIMD sorts beat the radix passes (one thread, float32:
# (10000, 64) 2.8 ms vs 11.0, (1000, 512) 1.5 vs 2.9; (500, 1000) 3.5 vs 2.6, and argsorts
# 5-10x faster natively at every length).
HOST_BELOW = 768
# A sort or scan of fewer elements than this outside a loop body stays a host step: NumPy does
# it in microseconds, and the native kernel would cost 0.1-0.3 s of compile time.
NATIVE_MIN_ELEMENTS = 4096
_ALIGN = 64


def _round(nbytes):
    return -(-int(nbytes) // _ALIGN) * _ALIGN


class Rows:
    """(outer, n, inner) of `shape` around `axis`; `rows` = outer * inner."""

    def __init__(self, shape: ir.Shape, axis: int):
        dims = shape.dims
        self.outer = int(np.prod(dims[:axis], dtype=np.int64))
        self.n = int(dims[axis])
        self.inner = int(np.prod(dims[axis + 1:], dtype=np.int64))
        self.rows = self.outer * self.inner
        self.size = self.rows * self.n

    def key(self):
        return (self.outer, self.n, self.inner)


# --- sort ------------------------------------------------------------------------------------

def _sortable(dt: np.dtype) -> bool:
    return dt.kind in "fiub" and dt.itemsize in (1, 2, 4, 8) and \
        not (dt.kind == "f" and dt.itemsize == 1)


class SortLayout:
    """How one sort runs. `mode`: "values" (one operand: its keys are sorted alone and turned
    back into values) or "perm" (the keys carry their positions; every operand is gathered
    by them). `kbytes`: bytes of a key (the widest key operand's). `chunks`: 1 (each unit
    sorts whole rows: `slots` units, each with its own scratch, taking a share of the rows)
    or more (each row cut into that many chunks, one unit each, sorted by a parallel radix
    sort; `rows` units for the last phase)."""

    def __init__(self, instr, threads):
        ops = instr.operands
        self.axis = instr.attrs["dimension"] % len(ops[0].shape.dims)
        self.geo = Rows(ops[0].shape, self.axis)
        self.num_keys = int(instr.attrs.get("num_keys", 1))
        self.dtypes = [o.shape.dtype for o in ops]
        self.mode = "values" if len(ops) == 1 else "perm"
        self.kbytes = max(dt.itemsize for dt in self.dtypes[:self.num_keys])
        n, rows = self.geo.n, self.geo.rows
        chunks = 1
        if threads > 1 and rows < 2 * threads and n >= 2 * SORT_CHUNK:
            chunks = min(MAX_CHUNKS, threads * max(1, n // (threads * SORT_CHUNK)))
        self.chunks = chunks
        self.slots = 1 if chunks > 1 else max(1, min(rows, threads))
        self.insertion = chunks == 1 and n <= INSERTION_MAX
        passes = self.kbytes       # one 8-bit digit per key byte
        self.passes = passes
        parts = []                 # (name, bytes) of one slot's (chunks 1) or one row's scratch
        parts += [("keyA", n * self.kbytes), ("keyB", n * self.kbytes)]
        if self.mode == "perm":
            parts += [("idxA", n * 4), ("idxB", n * 4)]
        if chunks > 1:
            k = self.num_keys
            parts += [("thist", k * chunks * passes * 256 * 4), ("phist", chunks * 256 * 4),
                      ("uni", k * chunks * passes * 4), ("counts", chunks * 4 * 8)]
        self.offsets, off = {}, 0
        for name, nbytes in parts:
            self.offsets[name] = off
            off += _round(max(nbytes, 1))
        self.unit_bytes = off      # per slot (chunks 1) or per row (chunks > 1)
        units = self.slots if chunks == 1 else rows
        self.bytes = max(off * units, 1)

    def describe(self):
        return ("sort", self.geo.key(), self.mode, self.num_keys, self.chunks, self.slots,
                self.insertion, tuple(str(d) for d in self.dtypes))


def sort_supported(instr) -> bool:
    ops = instr.operands
    if not ops or any(isinstance(o.shape, tuple) for o in ops):
        return False
    if not all(_sortable(o.shape.dtype) for o in ops):
        return False
    dims = ops[0].shape.dims
    n = dims[instr.attrs["dimension"] % len(dims)] if dims else 0
    return len(dims) > 0 and 0 < n < (1 << 31) and ops[0].shape.size > 0


# --- cumulative scans ------------------------------------------------------------------------

_SCAN_OPS = {"zero": "add", "one": "mul", "lowest": "max", "highest": "min"}


class ScanLayout:
    """How one cumulative scan runs. `op`: add | mul | max | min; `reverse`. Rows along the
    last axis (`inner` 1): `chunks` per row (1: units are rows); columns (`inner` > 1): units
    are (outer, column block, chunk) triples, `width` columns each. With chunks > 1 a
    first phase writes each chunk's total (`totals`, in the accumulation type) and the second
    scans each chunk from the combined totals before it."""

    def __init__(self, instr, threads):
        prim = PRIMITIVES[instr.opcode]
        self.op = _SCAN_OPS[prim.reduction]
        self.reverse = bool(instr.attrs.get("reverse", False))
        shape = instr.operands[0].shape
        self.axis = instr.attrs["axis"] % len(shape.dims)
        self.geo = Rows(shape, self.axis)
        self.dtype = shape.dtype
        g = self.geo
        width = 1
        if g.inner > 1:
            share = -(-g.inner // max(1, -(-2 * threads // g.outer)))   # columns per unit
            share = -(-share // SCAN_MIN_COLUMNS) * SCAN_MIN_COLUMNS
            width = min(g.inner, SCAN_COLUMNS, share)
        self.width = width
        self.col_blocks = -(-g.inner // width)
        lanes = g.outer * self.col_blocks if g.inner > 1 else g.rows
        chunks = 1
        if threads > 1 and lanes < 2 * threads and g.n >= 2 * SCAN_CHUNK:
            chunks = min(MAX_CHUNKS, threads * max(1, g.n // (threads * SCAN_CHUNK)))
        self.chunks = chunks
        self.units = lanes * chunks
        # Totals: per (lane, chunk), `width` values of 8 bytes (the accumulation type).
        self.bytes = max(lanes * chunks * width * 8, 1) if chunks > 1 else 1

    def describe(self):
        return ("scan", self.op, self.reverse, self.geo.key(), self.chunks, self.width,
                str(self.dtype))


def scan_supported(instr) -> bool:
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None or not prim.cumulative or prim.reduction not in _SCAN_OPS:
        return False
    x = instr.operands[0].shape if instr.operands else None
    if x is None or isinstance(x, tuple) or not x.dims or x.size == 0:
        return False
    dt = x.dtype
    return dt.kind in "fiu" and dt.itemsize in (1, 2, 4, 8) and dt == instr.shape.dtype


# False: that family stays a host step (benchmarks compare).
SORTS = True
SCANS = True


def native_step(plan, step_cls, instr, ins, outs, nested):
    """The "sort"/"scan" step running `instr` natively, or None (it stays a host step)."""
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None or prim.lowering != "host":
        return None
    if not nested and not any(isinstance(o.shape, tuple) for o in instr.operands) and \
            instr.operands and instr.operands[0].shape.size < NATIVE_MIN_ELEMENTS:
        return None
    if SORTS and prim.family == "sorting" and "dimension" in instr.attrs and \
            sort_supported(instr):
        kind, layout = "sort", SortLayout(instr, plan.threads)
        if not nested and layout.mode == "values" and \
                INSERTION_MAX < layout.geo.n < HOST_BELOW:
            return None
    elif SCANS and prim.cumulative and scan_supported(instr):
        kind, layout = "scan", ScanLayout(instr, plan.threads)
    else:
        return None
    step = step_cls(kind, instr, ins, outs)
    step.layout = layout
    if hasattr(plan, "layouts"):       # (the program key holds them: `cpu.program_key`)
        plan.layouts.append(layout.describe())
    step.region = plan._new("subtemp" if nested else "temp",
                            ir.Shape(np.dtype(np.uint8), (layout.bytes,)))
    step.place = lambda base: None     # its own offset is all it needs
    return step
