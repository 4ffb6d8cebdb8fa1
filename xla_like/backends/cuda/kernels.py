"""Kernels for the CUDA backend: each fusion (and each dot) becomes one `ptx_kernel` function.

A kernel has the CPU kernels' signature, `void k(T0* in0, ..., To* out, i64 lo, i64 hi)`, and
computes the units [lo, hi) of its range with a grid-stride loop, so any grid covers it. The
element computation is the CPU backend's (`ElementEmitter`); only the loop layout differs:
- loop: one thread per output element. Flat kernels (every operand read at the output's own
  position) light in math take 16 bytes of neighbouring elements per thread
  (`vector_width`), so their loads and stores become 16-byte vector accesses (when the
  pointers are known 16-byte aligned: not in scan bodies).
- row / reduction over trailing axes: one block per output row, each row reduction a block
  tree (`cuda.blocks`); the row's elements are then written block-strided (softmax, layer
  norm: one read of the row from memory per reduction).
- a reduction of few long rows: two kernels (`_two_pass`), a block per chunk of a row, then a
  block per row combining the chunks' partial results.
- reductions over leading axes, and rows shorter than BLOCK_ROW_MIN: one thread per output
  row, accumulating sequentially as the CPU does (for leading axes, neighbouring threads read
  neighbouring addresses).
- dot: 16x16 output tiles per block, operand tiles staged in shared memory (used where cuBLAS
  is not: see `cuda.runtime.cublas_ok`; 16-bit dots on sm_80+ run on tensor cores instead,
  `cuda.mma`).
Block sizes, a flat kernel's elements per thread and the two-pass choice follow the kernel's
schedule (`cuda.schedule`, set by autotuning), the defaults above without one.
- scatter: one block of one thread running the CPU backend's serial loop (`llvm.scatter`), so
  duplicates resolve in row order exactly as NumPy's (the last `set` wins, accumulation in
  row order).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import MATH_ROUTINES, PRIMITIVES, MathRoutine
from ops.dtypes import kind as _kind

from ... import ir
from ..llvm.kernels import delinearize, kernel_arguments, store_element
from ..plan.kernel_shapes import flat_ok, gemm_layout, is_reduction, outer_rank
from ..llvm.scatter import scatter_body
from . import schedule as sched_mod
from .blocks import (BLOCK, WARP, DeviceEmitter, DeviceKernel, Reducer, barrier,
                          block_reduce, grid_loop, shared_array, shared_slot, sreg,
                          strided_loop)
from ..llvm.elementwise import convert_value
from ..llvm.emitter import (BF16, F16, F32, I8, I64, Buffer, i64, round_bf16, storage_type,
                            to_memory, to_register, value_type)
from ..llvm.loops import entry_alloca

TILE = 16                   # dot output tile edge; BLOCK == TILE * TILE
BLOCK_ROW_MIN = 64          # shorter trailing reductions run one row per thread


# --- fusions ---------------------------------------------------------------------------------

def declare(module, name, in_shapes, out_shape, aligned=True):
    """`aligned`: every pointer is 16-byte aligned (device allocations and workspace offsets
    are; a scan's `x_t` and `y_t` slices need not be)."""
    args = [ll.PointerType(storage_type(s.dtype)) for s in in_shapes]
    args.append(ll.PointerType(storage_type(out_shape.dtype)))
    return _kernel_function(module, name, args, aligned)


def _kernel_function(module, name, pointer_types, aligned=True):
    fn = ll.Function(module, ll.FunctionType(ll.VoidType(), pointer_types + [I64, I64]), name)
    fn.calling_convention = "ptx_kernel"
    for a in fn.args[:-2]:
        a.add_attribute("noalias")
        if aligned:
            a.attributes.align = 16
    i32 = ll.IntType(32)
    threads = sched_mod.get(name).block or BLOCK
    module.add_named_metadata("nvvm.annotations",
                              [fn, ll.MetaDataString(module, "maxntidx"),
                               ll.Constant(i32, threads)])
    return fn


def _trailing(instr):
    rank = len(instr.operands[0].shape.dims)
    axes = (instr.attrs["axis"],) if "axis" in instr.attrs else tuple(instr.attrs["axes"])
    axes = sorted(a % rank for a in axes)
    return bool(axes) and axes == list(range(rank - len(axes), rank))


# libdevice's exact float remainder, which a float `rem` calls (`cuda.codegen.DeviceBuilder`).
FMOD = MathRoutine("fmod", 2, libdevice="fmod")
# Math functions a flat kernel may call per element and still take several elements per
# thread: unrolled heavier bodies spill (sin/cos/tan keep a local array for huge arguments),
# and they are bound by arithmetic, not memory, anyway.
VECTOR_MAX_MATH = 2


def _math_call(op):
    """The math routine a float `op` calls per element (libdevice's), or None: an intrinsic
    or plain arithmetic. A float remainder calls libdevice's fmod (`DeviceBuilder.frem`)."""
    prim = PRIMITIVES.get(op)
    if prim is None or prim.math is None:
        return FMOD if op == "rem" else None
    routine = MATH_ROUTINES[prim.math]
    return None if routine.intrinsic else routine


def vector_width(comp):
    """Elements per thread of a flat kernel: 16 bytes of its widest full-size buffer (1 for
    kernels heavy in math)."""
    calls = [r for r in (_math_call(i.opcode) for i in comp.instructions
                         if _kind(i.shape.dtype) == "f") if r is not None]
    # Range-reducing bodies (sin/cos/tan) keep a table for huge arguments: heavy.
    if len(calls) > VECTOR_MAX_MATH or any(r.bounded_range for r in calls):
        return 1
    n = comp.root.shape.size
    widest = max([comp.root.shape.dtype.itemsize] +
                 [p.shape.dtype.itemsize for p in comp.parameters if p.shape.size == n])
    return max(1, 16 // widest)


def emit_fusion(module, name, comp: ir.Computation, math, builder_type=ll.IRBuilder,
                aligned=True, in_place=None):
    """`aligned`: see `declare`. `in_place`: the parameter number read through the output
    pointer (the output took that parameter's memory), as on the CPU. The kernel's schedule
    (`cuda.schedule`, under `name`) sets its block size and loop choices."""
    kernel = _emit_fusion(module, name, comp, math, builder_type, aligned, in_place)
    block = sched_mod.get(name).block
    if block:
        kernel.block = block
    kernel.tunable = ("block",) + kernel.tunable
    return kernel


def _emit_fusion(module, name, comp, math, builder_type, aligned, in_place):
    in_shapes = [p.shape for p in comp.parameters]
    out_shape = comp.root.shape
    fn = declare(module, name, in_shapes, out_shape, aligned)
    b = builder_type(fn.append_basic_block("entry"))
    inputs, out, lo, hi = kernel_arguments(fn, b, in_shapes, out_shape, in_place)
    dims = out_shape.dims
    k = outer_rank(comp)
    if out_shape.size == 0:
        b.ret_void()
        return DeviceKernel(name, 0, False)
    if k is None and flat_ok(comp):
        return _flat(b, name, comp, inputs, out, math, lo, hi, aligned)
    if k is None:
        em = DeviceEmitter(b, inputs, math)

        def element(u):
            em.push_scope()
            idx = delinearize(b, u, dims) if dims else []
            store_element(b, out, idx, em.value(comp.root, idx))
            em.pop_scope()
        grid_loop(b, lo, hi, element, per_block=False)
        b.ret_void()
        return DeviceKernel(name, out_shape.size, False)
    return _rows(b, fn, name, comp, inputs, out, math, lo, hi, k, aligned)


def _flat(b, name, comp, inputs, out, math, lo, hi, aligned):
    """Units of VEC elements: thread u computes elements [u*VEC, u*VEC + VEC) (unrolled, so
    the aligned neighbouring accesses merge into vector loads and stores); the elements of
    [lo, hi) outside whole units run one per thread."""
    n = out.size
    vec = (sched_mod.get(name).per_thread or vector_width(comp)) if aligned else 1
    em = DeviceEmitter(b, inputs, math, flat_size=n)

    def element(i):
        em.push_scope()
        store_element(b, out, [i], em.value(comp.root, [i]), flat=True)
        em.pop_scope()

    if vec == 1:
        grid_loop(b, lo, hi, element, per_block=False)
        b.ret_void()
        kernel = DeviceKernel(name, n, False)
        kernel.tunable = ("per_thread",) if aligned else ()
        return kernel

    def unit(u):
        # All values first, then the stores: no store sits between two loads to merge.
        base = b.mul(u, i64(vec))
        pos = [b.add(base, i64(j)) if j else base for j in range(vec)]
        em.push_scope()
        for param in comp.parameters:
            if param.shape.size == n:
                for p in pos:   # loaded side by side (cached for the values below)
                    em.value(param, [p])
        vals = [em.value(comp.root, [p]) for p in pos]
        for p, v in zip(pos, vals):
            store_element(b, out, [p], v, flat=True)
        em.pop_scope()

    first = b.sdiv(b.add(lo, i64(vec - 1)), i64(vec))
    last = b.sdiv(hi, i64(vec))
    grid_loop(b, first, last, unit, per_block=False, name="v")
    head_end = b.select(b.icmp_signed("<", b.mul(first, i64(vec)), hi), b.mul(first, i64(vec)),
                        hi)
    grid_loop(b, lo, head_end, element, per_block=False, name="head")
    tail_start = b.select(b.icmp_signed(">", b.mul(last, i64(vec)), head_end),
                          b.mul(last, i64(vec)), head_end)
    grid_loop(b, tail_start, hi, element, per_block=False, name="tail")
    b.ret_void()
    kernel = DeviceKernel(name, n, False, per_thread=vec)
    kernel.tunable = ("per_thread",)
    return kernel


# A reduction of rows at least this long into at most this many results takes two passes
# (`_two_pass`): one block per row would leave most of the GPU idle.
TWO_PASS_MIN = 1 << 15
TWO_PASS_MAX_ROWS = 128
CHUNK_PER_THREAD = 16       # elements per thread of a chunk, at least
MAX_CHUNKS = 1024           # chunks per row, at most (the second pass's loop)


def _rows(b, fn, name, comp, inputs, out, math, lo, hi, k, aligned):
    dims = out.shape.dims
    outer, inner_dims = dims[:k], dims[k:]
    n_rows = int(np.prod(outer, dtype=np.int64)) if outer else 1
    n_inner = int(np.prod(inner_dims, dtype=np.int64)) if inner_dims else 1
    reduces = [i for i in comp.instructions
               if is_reduction(i) and i.shape.dims == tuple(outer)]
    row_reduces = [i for i in reduces if i is not comp.root]
    length = min(i.operands[0].shape.size // max(n_rows, 1) for i in reduces)
    per_block = all(_trailing(i) for i in reduces) and length >= BLOCK_ROW_MIN
    splittable = per_block and not row_reduces and is_reduction(comp.root)
    two = sched_mod.get(name).two_pass
    if two == -1:
        two = splittable and length >= TWO_PASS_MIN and n_rows <= TWO_PASS_MAX_ROWS
    if splittable and two:
        kernel = _two_pass(b, fn, name, comp, inputs, math, lo, hi, outer, length, aligned)
        kernel.tunable = ("two_pass",)
        return kernel
    smem = shared_array(b.module, f"{name}.smem", I64, 2 * WARP) if per_block else None
    em = DeviceEmitter(b, inputs, math, smem=smem)
    if per_block:
        start, step = sreg(b, "tid.x"), sreg(b, "ntid.x")
    else:
        start, step = i64(0), i64(1)

    def row(r):
        em.push_scope()
        idx = delinearize(b, r, outer) if outer else []
        for red in row_reduces:
            em.block_for = red.id if per_block else None
            em.value(red, idx)
            em.block_for = None
        if is_reduction(comp.root):
            em.block_for = comp.root.id if per_block else None
            v = em.value(comp.root, idx)
            em.block_for = None
            if per_block:
                with b.if_then(b.icmp_unsigned("==", sreg(b, "tid.x"), i64(0))):
                    store_element(b, out, idx, v)
            else:
                store_element(b, out, idx, v)
        else:
            def element(j):
                em.push_scope()
                ix = delinearize(b, j, inner_dims) if inner_dims else []
                store_element(b, out, idx + ix, em.value(comp.root, idx + ix))
                em.pop_scope()
            strided_loop(b, start, i64(n_inner), step, element, name="c")
        em.pop_scope()

    grid_loop(b, lo, hi, row, per_block=per_block, name="row")
    b.ret_void()
    kernel = DeviceKernel(name, n_rows, per_block)
    kernel.tunable = ("two_pass",) if splittable else ()
    return kernel


def _two_pass(b, fn, name, comp, inputs, math, lo, hi, outer, length, aligned):
    """A reduction (the root) of few long rows, in two kernels. The first's range is (row,
    chunk) pairs, a block each: the block reduces its chunk of the row and writes the state
    (accumulator, and index for argmax/argmin) to scratch memory, passed in the output's
    place. The second (`<name>_p2`, arguments (scratch, out, lo, hi)) is a block per row
    combining the row's chunk states. Scratch layout: the accumulators in 8-byte slots, then
    the indices (int64), one per unit of the first range."""
    root = comp.root
    n_rows = int(np.prod(outer, dtype=np.int64)) if outer else 1
    chunks = min(MAX_CHUNKS, max(2, -(-length // (BLOCK * CHUNK_PER_THREAD))))
    chunk = -(-length // chunks)
    units = n_rows * chunks
    module = b.module
    em = DeviceEmitter(b, inputs, math,
                       smem=shared_array(module, f"{name}.smem", I64, 2 * WARP))
    scratch = b.bitcast(fn.args[len(inputs)], ll.PointerType(I8))
    axes = em._reduced_axes(root)

    def unit(u):
        em.push_scope()
        r, c = b.udiv(u, i64(chunks)), b.urem(u, i64(chunks))
        idx = delinearize(b, r, outer) if outer else []
        start = b.mul(c, i64(chunk))
        end = b.add(start, i64(chunk))
        end = b.select(b.icmp_signed("<", end, i64(length)), end, i64(length))
        red = Reducer(b, root)
        state = em.block_state(red, idx, axes, start, end)
        with b.if_then(b.icmp_unsigned("==", sreg(b, "tid.x"), i64(0))):
            for ptr, v in zip(_state_slots(b, scratch, units, u, red), state):
                b.store(b.zext(v, I8) if _is_bool(v.type) else v, ptr)
        em.pop_scope()

    grid_loop(b, lo, hi, unit, per_block=True, name="part")
    b.ret_void()
    first = DeviceKernel(name, units, True)

    out_type = ll.PointerType(storage_type(root.shape.dtype))
    fn2 = _kernel_function(module, f"{name}_p2", [ll.PointerType(I8), out_type], aligned)
    b2 = type(b)(fn2.append_basic_block("entry"))
    scratch2, out = fn2.args[0], Buffer(fn2.args[1], root.shape)
    smem2 = shared_array(module, f"{name}_p2.smem", I64, 2 * WARP)
    red2 = Reducer(b2, root)

    def row(r):
        slots = [entry_alloca(b2, v.type, name="acc") for v in red2.init]
        for s, v in zip(slots, red2.init):
            b2.store(v, s)

        def part(c):
            u = b2.add(b2.mul(r, i64(chunks)), c)
            got = [b2.load(p) for p in _state_slots(b2, scratch2, units, u, red2)]
            got = [b2.trunc(v, s.type.pointee) if _is_bool(s.type.pointee) else v
                   for v, s in zip(got, slots)]
            cur = [b2.load(s) for s in slots]
            for s, v in zip(slots, red2.combine(cur, got)):
                b2.store(v, s)

        strided_loop(b2, sreg(b2, "tid.x"), i64(chunks), sreg(b2, "ntid.x"), part, name="c")
        state = block_reduce(b2, [b2.load(s) for s in slots], red2.init, red2.combine, smem2)
        v = red2.finish(state)
        with b2.if_then(b2.icmp_unsigned("==", sreg(b2, "tid.x"), i64(0))):
            store_element(b2, out, delinearize(b2, r, outer) if outer else [], v)

    grid_loop(b2, i64(0), fn2.args[-1], row, per_block=True, name="row")
    b2.ret_void()
    first.second = DeviceKernel(f"{name}_p2", n_rows, True)
    first.scratch_bytes = units * 16
    return first


def _is_bool(t):
    return isinstance(t, ll.IntType) and t.width == 1


def _state_slots(b, scratch, units, u, red):
    """Pointers to unit `u`'s state in a two-pass reduction's scratch memory."""
    ptrs = []
    for k, v in enumerate(red.init):
        t = I8 if _is_bool(v.type) else v.type
        p = b.gep(scratch, [b.add(i64(k * units * 8), b.mul(u, i64(8)))], inbounds=True)
        ptrs.append(b.bitcast(p, ll.PointerType(t)))
    return ptrs


# --- dot_general: shared-memory tiles --------------------------------------------------------

def emit_dot(module, name, instr, builder_type=ll.IRBuilder, aligned=True):
    """out[b, i, j] = sum_k lhs[b, i, k] * rhs[b, k, j]: a block per 16x16 output tile, looping
    over k in steps of 16 with both operand tiles in shared memory (converted to the
    accumulator type: float32 for float16, as NumPy's matmul accumulates)."""
    lhs, rhs = instr.operands
    out_shape = instr.shape
    fn = declare(module, name, [lhs.shape, rhs.shape], out_shape, aligned)
    b = builder_type(fn.append_basic_block("entry"))
    pa, pb, pc, lo, hi = fn.args
    batch, m, n, k, ta, tb = gemm_layout(instr)
    out_dt = out_shape.dtype
    t_acc = value_type(out_dt)
    t_acc = F32 if t_acc == F16 else t_acc
    tiles_m, tiles_n = -(-m // TILE), -(-n // TILE)
    n_tiles = batch * tiles_m * tiles_n
    if out_shape.size == 0:
        b.ret_void()
        return DeviceKernel(name, 0, True)
    zero = ll.Constant(t_acc, 0.0 if _kind(out_dt) == "f" else 0)
    a_tile = shared_array(module, f"{name}.a", t_acc, TILE * TILE)
    b_tile = shared_array(module, f"{name}.b", t_acc, TILE * TILE)
    tid = sreg(b, "tid.x")
    tx, ty = b.and_(tid, i64(TILE - 1)), b.lshr(tid, i64(4))
    acc = entry_alloca(b, t_acc, name="acc")

    def load(ptr, off, ok, dt):
        # Outside the matrix: element 0 (the loop runs only when both operands have one),
        # replaced by zero.
        off = b.select(ok, off, i64(0))
        v = to_register(b, b.load(b.gep(ptr, [off], inbounds=True), align=dt.itemsize), dt)
        return b.select(ok, convert_value(b, v, dt, out_dt, t_acc), zero)

    def tile(u):
        bi = b.udiv(u, i64(tiles_m * tiles_n))
        rest = b.urem(u, i64(tiles_m * tiles_n))
        i = b.add(b.mul(b.udiv(rest, i64(tiles_n)), i64(TILE)), ty)
        j = b.add(b.mul(b.urem(rest, i64(tiles_n)), i64(TILE)), tx)
        b.store(zero, acc)
        row_ok = b.icmp_signed("<", i, i64(m))
        col_ok = b.icmp_signed("<", j, i64(n))

        def k_step(kt):
            k0 = b.mul(kt, i64(TILE))
            ka, kb = b.add(k0, tx), b.add(k0, ty)   # this thread's column of A, row of B
            a_off = b.add(b.mul(bi, i64(m * k)), b.add(b.mul(ka, i64(m)), i) if ta else
                          b.add(b.mul(i, i64(k)), ka))
            b_off = b.add(b.mul(bi, i64(k * n)), b.add(b.mul(j, i64(k)), kb) if tb else
                          b.add(b.mul(kb, i64(n)), j))
            a_ok = b.and_(row_ok, b.icmp_signed("<", ka, i64(k)))
            b_ok = b.and_(col_ok, b.icmp_signed("<", kb, i64(k)))
            a_v = load(pa, a_off, a_ok, lhs.shape.dtype)
            b_v = load(pb, b_off, b_ok, rhs.shape.dtype)
            barrier(b)   # everyone is done with the previous tiles
            b.store(a_v, shared_slot(b, a_tile, tid, t_acc))
            b.store(b_v, shared_slot(b, b_tile, tid, t_acc))
            barrier(b)
            s = b.load(acc)
            for kk in range(TILE):
                x = b.load(shared_slot(b, a_tile, b.add(b.mul(ty, i64(TILE)), i64(kk)), t_acc))
                y = b.load(shared_slot(b, b_tile, b.add(i64(kk * TILE), tx), t_acc))
                s = _madd(b, s, x, y, out_dt)
            b.store(s, acc)
        strided_loop(b, i64(0), i64(-(-k // TILE)), i64(1), k_step, name="k")
        with b.if_then(b.and_(row_ok, col_ok)):
            v = b.load(acc)
            if storage_type(out_dt) == F16:
                v = b.fptrunc(v, F16)
            elif out_dt == BF16:
                v = round_bf16(b, v)   # accumulated in float32, rounded once
            v = to_memory(b, v, out_dt)
            off = b.add(b.mul(bi, i64(m * n)), b.add(b.mul(i, i64(n)), j))
            b.store(v, b.gep(pc, [off], inbounds=True), align=out_dt.itemsize)

    grid_loop(b, lo, hi, tile, per_block=True, name="tile")
    b.ret_void()
    return DeviceKernel(name, n_tiles, True)


def _madd(b, s, x, y, dt):
    if _kind(dt) == "f":
        # Contracted to fused multiply-adds (one rounding per step, as BLAS does).
        return b.fadd(s, b.fmul(x, y, flags=("contract",)), flags=("contract",))
    if dt.kind == "b":
        return b.or_(s, b.and_(x, y))
    return b.add(s, b.mul(x, y))



# --- scatter ---------------------------------------------------------------------------------

def emit_scatter(module, name, instr, aligned=True, builder_type=ll.IRBuilder):
    """`scatter*` as one thread's loop (launched as one block of one thread: `block` is 1).
    Thread 0 of block 0 alone runs it, whatever the launch: rows may collide."""
    operand, indices, updates = instr.operands
    fn = declare(module, name, [operand.shape, indices.shape, updates.shape], instr.shape,
                 aligned)
    b = builder_type(fn.append_basic_block("entry"))
    first = b.icmp_unsigned("==", b.or_(sreg(b, "tid.x"), sreg(b, "ctaid.x")), i64(0))
    with b.if_then(first):
        scatter_body(b, module, instr, *fn.args[:4], memcpy=_device_memcpy)
    b.ret_void()
    kernel = DeviceKernel(name, 1 if operand.shape.size else 0, True)
    kernel.block = 1
    return kernel


def _device_memcpy(b, module, dst, src, nbytes):
    """LLVM's memcpy intrinsic: NVPTX lowers it to a copy loop (there is no libc)."""
    if nbytes:
        i8p = ll.PointerType(I8)
        fn = module.declare_intrinsic("llvm.memcpy", [i8p, i8p, I64])
        b.call(fn, [b.bitcast(dst, i8p), b.bitcast(src, i8p), i64(nbytes),
                    ll.Constant(ll.IntType(1), 0)])
