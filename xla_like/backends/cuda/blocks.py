"""Blocks and threads for the CUDA kernels: thread indexing, grid-stride loops, shared memory,
warp shuffles and block-level reduction trees.

A block reduces a row (or a chunk of one) as a tree: threads accumulate a block-strided share,
warps combine with butterfly shuffles, then warp results meet in shared memory and every warp
reduces them again, so every thread holds the result without another barrier. `DeviceEmitter`
is the CPU backend's element emitter with that block reduction for the reduction it is told
to compute block-wide.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.dtypes import kind as _kind

from ..llvm.kernels import delinearize
from ..llvm.emitter import (BF16, F16, F32, F64, I32, I64, ElementEmitter, const, i64, round_bf16,
                            value_type)
from ..llvm.loops import close_loop, counted_loop, entry_alloca, open_loop
from ..llvm.reduce import combine_values, initial_value, operand_index

BLOCK = 256                 # threads per block of every kernel (a multiple of the warp)
WARP = 32
INVALID = (1 << 63) - 1     # argmax state of a thread that has seen no element yet


class DeviceKernel:
    """An emitted kernel: its name, the size of its range, and whether a unit of the range is
    one block's work (rows, tiles) or one thread's (elements)."""

    def __init__(self, name, extent, per_block, per_thread=1):
        self.name = name
        self.extent = extent
        self.per_block = per_block
        self.per_thread = per_thread   # elements each thread takes at once (flat kernels)
        self.block = BLOCK
        self.second = None        # a two-pass reduction's combining kernel (see cuda.kernels)
        self.scratch_bytes = 0    # ... and the memory its partial results take
        self.tunable = ()         # the `cuda.schedule` fields that apply to it (autotuning)

    def names(self):
        return [self.name] + ([self.second.name] if self.second is not None else [])

    def grid(self, max_blocks):
        """Blocks to launch (0: nothing to do); the grid-stride loops cover any shortfall."""
        if self.extent == 0:
            return 0
        if self.per_block:
            units = self.extent
        else:
            threads = -(-self.extent // self.per_thread)
            units = -(-threads // self.block)
        return max(1, min(units, max_blocks))


# --- thread indexing and loops -------------------------------------------------------------

def sreg(b, name):
    fname = f"llvm.nvvm.read.ptx.sreg.{name}"
    fn = b.module.globals.get(fname)
    if fn is None:
        fn = ll.Function(b.module, ll.FunctionType(I32, []), fname)
    return b.zext(b.call(fn, []), I64)


def barrier(b):
    fn = b.module.globals.get("llvm.nvvm.barrier0")
    if fn is None:
        fn = ll.Function(b.module, ll.FunctionType(ll.VoidType(), []), "llvm.nvvm.barrier0")
    b.call(fn, [])


def strided_loop(b, start, end, step, body, name="i"):
    """`for (i = start; i < end; i += step) body(i)`; leaves the builder after the loop."""
    counted_loop(b, start, end, body, name=name, step=step)


def grid_loop(b, lo, hi, body, per_block, name="u"):
    """Units [lo, hi) of a kernel's range over the whole grid: one per block or per thread."""
    if per_block:
        strided_loop(b, b.add(lo, sreg(b, "ctaid.x")), hi, sreg(b, "nctaid.x"), body, name)
        return
    ntid = sreg(b, "ntid.x")
    first = b.add(b.mul(sreg(b, "ctaid.x"), ntid), sreg(b, "tid.x"))
    strided_loop(b, b.add(lo, first), hi, b.mul(sreg(b, "nctaid.x"), ntid), body, name)


def shared_array(module, name, t, n):
    gv = ll.GlobalVariable(module, ll.ArrayType(t, n), name, addrspace=3)
    gv.initializer = ll.Constant(ll.ArrayType(t, n), ll.Undefined)
    gv.linkage = "internal"
    gv.align = 16
    return gv


def shared_slot(b, array, index, t):
    p = b.gep(array, [ll.Constant(I32, 0), index], inbounds=True)
    return p if array.type.pointee.element == t else \
        b.bitcast(p, ll.PointerType(t, addrspace=3))


# --- warp shuffles and block trees -------------------------------------------------------------

def _shfl(b, v, lane_mask):
    """Lane `lane ^ lane_mask`'s `v` (any scalar type: split or widened to 32-bit pieces)."""
    t = v.type
    mask, clamp = ll.Constant(I32, -1), ll.Constant(I32, WARP - 1)
    off = ll.Constant(I32, lane_mask)

    def call(x, suffix, xt):
        name = f"llvm.nvvm.shfl.sync.bfly.{suffix}"
        fn = b.module.globals.get(name) or ll.Function(
            b.module, ll.FunctionType(xt, [I32, xt, I32, I32]), name)
        return b.call(fn, [mask, x, off, clamp])

    if t == F32:
        return call(v, "f32", F32)
    if t == F64:
        return b.bitcast(_shfl(b, b.bitcast(v, I64), lane_mask), F64)
    if t == F16:
        return b.bitcast(_shfl(b, b.bitcast(v, ll.IntType(16)), lane_mask), F16)
    if t.width == 32:
        return call(v, "i32", I32)
    if t.width < 32:
        return b.trunc(call(b.zext(v, I32), "i32", I32), t)
    lo_ = call(b.trunc(v, I32), "i32", I32)
    hi_ = call(b.trunc(b.lshr(v, ll.Constant(I64, 32)), I32), "i32", I32)
    return b.or_(b.shl(b.zext(hi_, I64), ll.Constant(I64, 32)), b.zext(lo_, I64))


def warp_reduce(b, state, combine):
    """Butterfly over the warp: every lane ends with the combination of all 32 states (the
    same bits in every lane, as `combine` is commutative)."""
    for k in (16, 8, 4, 2, 1):
        state = combine(state, [_shfl(b, v, k) for v in state])
    return state


def block_reduce(b, state, init, combine, smem):
    """Every thread's `state` (a list of scalars) combined over the block; every thread gets
    the result. `smem`: shared [len(state) * 32 x i64] scratch."""
    state = warp_reduce(b, state, combine)
    tid = sreg(b, "tid.x")
    lane = b.and_(tid, i64(WARP - 1))
    warp = b.lshr(tid, i64(5))
    barrier(b)   # the previous reduction's readers are done with the scratch
    with b.if_then(b.icmp_unsigned("==", lane, i64(0))):
        for k, v in enumerate(state):
            b.store(v, shared_slot(b, smem, b.add(warp, i64(k * WARP)), v.type))
    barrier(b)
    have = b.icmp_unsigned("<", lane, b.lshr(sreg(b, "ntid.x"), i64(5)))
    mine = [b.select(have, b.load(shared_slot(b, smem, b.add(lane, i64(k * WARP)), v.type)),
                     init[k]) for k, v in enumerate(state)]
    return warp_reduce(b, mine, combine)


def _arg_combine(b, dtype, is_max):
    """argmax/argmin state (value, index): the extreme wins, the first NaN beats everything,
    ties go to the lower index; a state with index INVALID has seen nothing."""
    def combine(a, c):
        (av, ai), (cv, ci) = a, c
        a_first = b.icmp_signed("<", ai, ci)
        if _kind(dtype) == "f":
            a_better = b.fcmp_ordered(">" if is_max else "<", av, cv)
            c_better = b.fcmp_ordered(">" if is_max else "<", cv, av)
            a_nan = b.fcmp_unordered("uno", av, av)
            c_nan = b.fcmp_unordered("uno", cv, cv)
            by_value = b.or_(a_better, b.and_(b.not_(c_better), a_first))
            wins = b.select(a_nan, b.or_(b.not_(c_nan), a_first),
                            b.and_(b.not_(c_nan), by_value))
        else:
            if dtype.kind == "b":
                a_better = b.and_(av, b.not_(cv)) if is_max else b.and_(cv, b.not_(av))
                c_better = b.and_(cv, b.not_(av)) if is_max else b.and_(av, b.not_(cv))
            else:
                cmp = b.icmp_signed if dtype.kind == "i" else b.icmp_unsigned
                a_better = cmp(">" if is_max else "<", av, cv)
                c_better = cmp(">" if is_max else "<", cv, av)
            wins = b.or_(a_better, b.and_(b.not_(c_better), a_first))
        a_valid = b.icmp_signed("!=", ai, i64(INVALID))
        c_valid = b.icmp_signed("!=", ci, i64(INVALID))
        wins = b.and_(a_valid, b.or_(b.not_(c_valid), wins))
        return [b.select(wins, av, cv), b.select(wins, ai, ci)]
    return combine


class Reducer:
    """How a block computes one reduction instruction: the per-thread state (a list of
    scalars: the accumulator, and the index for argmax/argmin), its identity `init`,
    `combine(state, state)`, the state of one element, and the result from a final state."""

    def __init__(self, b, instr):
        self.b = b
        self.instr = instr
        x = instr.operands[0]
        self.dtype = dtype = x.shape.dtype
        self.t = t = value_type(dtype)
        op = self.op = instr.opcode
        self.arg = op in ("argmax", "argmin")
        if self.arg:
            self.combine = _arg_combine(b, dtype, op == "argmax")
            self.init = [ll.Constant(t, 0), i64(INVALID)]
        else:
            # float16 accumulates in float32, as NumPy does.
            self.init = [const(np.dtype(np.float32) if t == F16 else dtype, initial_value(op, dtype))]
            self.combine = lambda a, v: [combine_values(b, op, a[0], v[0], dtype)]  # noqa: E731

    def element(self, v, j):
        if self.arg:
            return [v, j]
        return [self.b.fpext(v, F32) if self.t == F16 else v]

    def finish(self, state):
        b = self.b
        if self.arg:
            idx = b.select(b.icmp_signed("==", state[1], i64(INVALID)), i64(0), state[1])
            out_t = value_type(self.instr.shape.dtype)
            return b.trunc(idx, out_t) if out_t.width < 64 else idx
        if self.dtype == BF16:
            return round_bf16(b, state[0])   # accumulated in float32, rounded once
        return b.fptrunc(state[0], F16) if self.t == F16 else state[0]


class DeviceEmitter(ElementEmitter):
    """The CPU element emitter, with the reduction named by `block_for` computed by the whole
    block (its result is uniform over the block); any other reduction stays a per-thread
    loop, which is always correct in divergent code."""

    nan_passes_through = False    # PTX arithmetic returns the canonical NaN 0x7FFFFFFF
    prefetches = False            # a warp's loads coalesce; no row-ahead prefetch

    def __init__(self, *args, smem=None, **kw):
        super().__init__(*args, **kw)
        self.smem = smem
        self.block_for = None

    def reduction(self, instr, out_index):
        if instr.id != self.block_for:
            return (yield from super().reduction(instr, out_index))
        self.block_for = None
        axes = self._reduced_axes(instr)
        x = instr.operands[0]
        total = int(np.prod([x.shape.dims[a] for a in axes], dtype=np.int64))
        red = Reducer(self.b, instr)
        state = yield from self._block_state(red, out_index, axes, i64(0), i64(total))
        return red.finish(state)

    _op_reduce_sum = _op_reduce_prod = _op_reduce_max = _op_reduce_min = \
        _op_reduce_and = _op_reduce_or = _op_argmax = _op_argmin = reduction

    def block_state(self, red: Reducer, out_index, axes, start, end):
        """The state of `red`'s reduction at `out_index` over the linear positions [start,
        end) of its reduced axes, accumulated by the whole block; every thread gets it."""
        return self.run(self._block_state(red, out_index, axes, start, end))

    def _block_state(self, red, out_index, axes, start, end):
        # A handler-style generator (see ElementEmitter): it suspends inside the loop body
        # while the element it reduces is emitted.
        b = self.b
        x = red.instr.operands[0]
        rank = len(x.shape.dims)
        extents = [x.shape.dims[a] for a in axes]
        slots = [entry_alloca(b, v.type, name=f"{red.op}.acc") for v in red.init]
        for s, v in zip(slots, red.init):
            b.store(v, s)
        loop = open_loop(b, b.add(start, sreg(b, "tid.x")), end, name="r",
                         step=sreg(b, "ntid.x"))
        j = loop.i
        self.push_scope()
        pos = delinearize(b, j, extents) if len(extents) > 1 else [j]
        v = yield x, operand_index(out_index, axes, pos, rank)
        cur = [b.load(s) for s in slots]
        for s, v in zip(slots, red.combine(cur, red.element(v, j))):
            b.store(v, s)
        self.pop_scope()
        close_loop(b, loop)
        return block_reduce(b, [b.load(s) for s in slots], red.init, red.combine, self.smem)
