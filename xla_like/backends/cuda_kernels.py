"""Kernels for the CUDA backend: each fusion (and each dot) becomes one `ptx_kernel` function.

A kernel has the CPU kernels' signature, `void k(T0* in0, ..., To* out, i64 lo, i64 hi)`, and
computes the units [lo, hi) of its range with a grid-stride loop, so any grid covers it. The
element computation is the CPU backend's (`ElementEmitter`); only the loop layout differs:
- loop: one thread per output element. Flat kernels (every operand read at the output's own
  position) light in math take 16 bytes of neighbouring elements per thread
  (`vector_width`), so their loads and stores become 16-byte vector accesses.
- row / reduction over trailing axes: one block per output row. Each row reduction is a block
  tree: threads accumulate a block-strided share of the row, warps combine with butterfly
  shuffles, then warp results meet in shared memory and every warp reduces them again (so every
  thread holds the row's value without another barrier). The row's elements are then written
  block-strided (softmax, layer norm: one read of the row from memory per reduction).
- reductions over leading axes, and rows shorter than BLOCK_ROW_MIN: one thread per output
  row, accumulating sequentially as the CPU does (for leading axes, neighbouring threads read
  neighbouring addresses).
- dot: 16x16 output tiles per block, operand tiles staged in shared memory.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from .. import ir
from ..passes.fusion import REDUCE
from .cpu_kernels import _delinearize, _store, flat_ok, gemm_layout, outer_rank
from .llvm_elementwise import convert_value
from .llvm_emitter import (F16, F32, F64, I32, I64, Buffer, ElementEmitter, const,
                           entry_alloca, i64, storage_type, value_type)
from .llvm_reduce import _combine, _init, _operand_index

BLOCK = 256                 # threads per block of every kernel (a multiple of the warp)
WARP = 32
TILE = 16                   # dot output tile edge; BLOCK == TILE * TILE
BLOCK_ROW_MIN = 64          # shorter trailing reductions run one row per thread
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
    fn = b.function
    pre = b.block
    header = fn.append_basic_block(f"{name}.header")
    inner = fn.append_basic_block(f"{name}.body")
    exit_ = fn.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    i = b.phi(I64, name=name)
    i.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", i, end), inner, exit_)
    b.position_at_end(inner)
    body(i)
    i.add_incoming(b.add(i, step, name=f"{name}.next"), b.block)
    b.branch(header)
    b.position_at_end(exit_)


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
        if dtype.kind == "f":
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


class DeviceEmitter(ElementEmitter):
    """The CPU element emitter, with the reduction named by `block_for` computed by the whole
    block (its result is uniform over the block); any other reduction stays a per-thread
    loop, which is always correct in divergent code."""

    def __init__(self, *args, smem=None, **kw):
        super().__init__(*args, **kw)
        self.smem = smem
        self.block_for = None

    def reduction(self, instr, out_index):
        if instr.id != self.block_for:
            return super().reduction(instr, out_index)
        self.block_for = None
        return self._block_reduction(instr, out_index, self._reduced_axes(instr))

    _op_reduce_sum = _op_reduce_prod = _op_reduce_max = _op_reduce_min = \
        _op_reduce_and = _op_reduce_or = _op_argmax = _op_argmin = reduction

    def _block_reduction(self, instr, out_index, axes):
        b = self.b
        x = instr.operands[0]
        rank = len(x.shape.dims)
        extents = [x.shape.dims[a] for a in axes]
        total = int(np.prod(extents, dtype=np.int64))
        dtype = x.shape.dtype
        t = value_type(dtype)
        op = instr.opcode
        if op in ("argmax", "argmin"):
            combine = _arg_combine(b, dtype, op == "argmax")
            init = [ll.Constant(t, 0), i64(INVALID)]
        else:
            acc_t = F32 if t == F16 else t
            c = const(dtype, _init(op, dtype))
            init = [b.fpext(c, F32) if t == F16 else c]
            combine = lambda a, v: [_combine(b, op, a[0], v[0], dtype)]  # noqa: E731
        slots = [entry_alloca(b, v.type, name=f"{op}.acc") for v in init]
        for s, v in zip(slots, init):
            b.store(v, s)

        def body(j):
            self.push_scope()
            red = _delinearize(b, j, extents) if len(extents) > 1 else [j]
            v = self.value(x, _operand_index(out_index, axes, red, rank))
            if op in ("argmax", "argmin"):
                new = [v, j]
            else:
                new = [b.fpext(v, F32) if t == F16 else v]
            cur = [b.load(s) for s in slots]
            for s, v in zip(slots, combine(cur, new)):
                b.store(v, s)
            self.pop_scope()

        strided_loop(b, sreg(b, "tid.x"), i64(total), sreg(b, "ntid.x"), body, name="r")
        res = block_reduce(b, [b.load(s) for s in slots], init, combine, self.smem)
        if op in ("argmax", "argmin"):
            idx = b.select(b.icmp_signed("==", res[1], i64(INVALID)), i64(0), res[1])
            out_t = value_type(instr.shape.dtype)
            return b.trunc(idx, out_t) if out_t.width < 64 else idx
        return b.fptrunc(res[0], F16) if t == F16 else res[0]


# --- fusions ---------------------------------------------------------------------------------

def declare(module, name, in_shapes, out_shape):
    args = [ll.PointerType(storage_type(s.dtype)) for s in in_shapes]
    args.append(ll.PointerType(storage_type(out_shape.dtype)))
    fn = ll.Function(module, ll.FunctionType(ll.VoidType(), args + [I64, I64]), name)
    fn.calling_convention = "ptx_kernel"
    for a in fn.args[:-2]:
        a.add_attribute("noalias")
        a.attributes.align = 16   # device allocations and workspace offsets are aligned
    i32 = ll.IntType(32)
    module.add_named_metadata("nvvm.annotations",
                              [fn, ll.MetaDataString(module, "maxntidx"), ll.Constant(i32, BLOCK)])
    return fn


def _trailing(instr):
    rank = len(instr.operands[0].shape.dims)
    axes = (instr.attrs["axis"],) if "axis" in instr.attrs else tuple(instr.attrs["axes"])
    axes = sorted(a % rank for a in axes)
    return bool(axes) and axes == list(range(rank - len(axes), rank))


# Math functions a flat kernel may call per element and still take several elements per
# thread: unrolled heavier bodies spill (sin/cos/tan keep a local array for huge arguments),
# and they are bound by arithmetic, not memory, anyway.
VECTOR_MAX_MATH = 2
_HEAVY_MATH = {"sin", "cos", "tan"}


def vector_width(comp):
    """Elements per thread of a flat kernel: 16 bytes of its widest full-size buffer (1 for
    kernels heavy in math)."""
    from .llvm_elementwise import FLOAT_UNARY_MATH
    calls = [i.opcode for i in comp.instructions if i.shape.dtype.kind == "f" and
             (i.opcode in FLOAT_UNARY_MATH or i.opcode in ("pow", "atan2", "rem"))]
    if len(calls) > VECTOR_MAX_MATH or _HEAVY_MATH.intersection(calls):
        return 1
    n = comp.root.shape.size
    widest = max([comp.root.shape.dtype.itemsize] +
                 [p.shape.dtype.itemsize for p in comp.parameters if p.shape.size == n])
    return max(1, 16 // widest)


def emit_fusion(module, name, comp: ir.Computation, math, builder_type=ll.IRBuilder):
    in_shapes = [p.shape for p in comp.parameters]
    out_shape = comp.root.shape
    fn = declare(module, name, in_shapes, out_shape)
    b = builder_type(fn.append_basic_block("entry"))
    inputs = [Buffer(a, s) for a, s in zip(fn.args, in_shapes)]
    out = Buffer(fn.args[len(in_shapes)], out_shape)
    lo, hi = fn.args[-2], fn.args[-1]
    dims = out_shape.dims
    k = outer_rank(comp)
    if out_shape.size == 0:
        b.ret_void()
        return DeviceKernel(name, 0, False)
    if k is None and flat_ok(comp):
        return _flat(b, fn, name, comp, inputs, out, math, lo, hi)
    if k is None:
        em = DeviceEmitter(b, inputs, math)

        def element(u):
            em.push_scope()
            idx = _delinearize(b, u, dims) if dims else []
            _store(b, out, idx, em.value(comp.root, idx))
            em.pop_scope()
        grid_loop(b, lo, hi, element, per_block=False)
        b.ret_void()
        return DeviceKernel(name, out_shape.size, False)
    return _rows(b, name, comp, inputs, out, math, lo, hi, k)


def _flat(b, fn, name, comp, inputs, out, math, lo, hi):
    """Units of VEC elements: thread u computes elements [u*VEC, u*VEC + VEC) (unrolled, so
    the aligned neighbouring accesses merge into vector loads and stores); the elements of
    [lo, hi) outside whole units run one per thread."""
    n = out.size
    vec = vector_width(comp)
    em = DeviceEmitter(b, inputs, math, flat_size=n)

    def element(i):
        em.push_scope()
        _store(b, out, [i], em.value(comp.root, [i]), flat=True)
        em.pop_scope()

    if vec == 1:
        grid_loop(b, lo, hi, element, per_block=False)
        b.ret_void()
        return DeviceKernel(name, n, False)

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
            _store(b, out, [p], v, flat=True)
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
    return DeviceKernel(name, n, False, per_thread=vec)


def _rows(b, name, comp, inputs, out, math, lo, hi, k):
    dims = out.shape.dims
    outer, inner_dims = dims[:k], dims[k:]
    n_rows = int(np.prod(outer, dtype=np.int64)) if outer else 1
    n_inner = int(np.prod(inner_dims, dtype=np.int64)) if inner_dims else 1
    reduces = [i for i in comp.instructions
               if i.opcode in REDUCE and i.shape.dims == tuple(outer)]
    row_reduces = [i for i in reduces if i is not comp.root]
    length = min(i.operands[0].shape.size // max(n_rows, 1) for i in reduces)
    per_block = all(_trailing(i) for i in reduces) and length >= BLOCK_ROW_MIN
    smem = shared_array(b.module, f"{name}.smem", I64, 2 * WARP) if per_block else None
    em = DeviceEmitter(b, inputs, math, smem=smem)
    if per_block:
        start, step = sreg(b, "tid.x"), sreg(b, "ntid.x")
    else:
        start, step = i64(0), i64(1)

    def row(r):
        em.push_scope()
        idx = _delinearize(b, r, outer) if outer else []
        for red in row_reduces:
            em.block_for = red.id if per_block else None
            em.value(red, idx)
            em.block_for = None
        if comp.root.opcode in REDUCE:
            em.block_for = comp.root.id if per_block else None
            v = em.value(comp.root, idx)
            em.block_for = None
            if per_block:
                with b.if_then(b.icmp_unsigned("==", sreg(b, "tid.x"), i64(0))):
                    _store(b, out, idx, v)
            else:
                _store(b, out, idx, v)
        else:
            def element(j):
                em.push_scope()
                ix = _delinearize(b, j, inner_dims) if inner_dims else []
                _store(b, out, idx + ix, em.value(comp.root, idx + ix))
                em.pop_scope()
            strided_loop(b, start, i64(n_inner), step, element, name="c")
        em.pop_scope()

    grid_loop(b, lo, hi, row, per_block=per_block, name="row")
    b.ret_void()
    return DeviceKernel(name, n_rows, per_block)


# --- dot_general: shared-memory tiles --------------------------------------------------------

def emit_dot(module, name, instr, builder_type=ll.IRBuilder):
    """out[b, i, j] = sum_k lhs[b, i, k] * rhs[b, k, j]: a block per 16x16 output tile, looping
    over k in steps of 16 with both operand tiles in shared memory (converted to the
    accumulator type: float32 for float16, as NumPy's matmul accumulates)."""
    lhs, rhs = instr.operands
    out_shape = instr.shape
    fn = declare(module, name, [lhs.shape, rhs.shape], out_shape)
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
    zero = ll.Constant(t_acc, 0.0 if out_dt.kind == "f" else 0)
    a_tile = shared_array(module, f"{name}.a", t_acc, TILE * TILE)
    b_tile = shared_array(module, f"{name}.b", t_acc, TILE * TILE)
    tid = sreg(b, "tid.x")
    tx, ty = b.and_(tid, i64(TILE - 1)), b.lshr(tid, i64(4))
    acc = entry_alloca(b, t_acc, name="acc")

    def load(ptr, off, ok, dt):
        # Outside the matrix: element 0 (the loop runs only when both operands have one),
        # replaced by zero.
        off = b.select(ok, off, i64(0))
        v = b.load(b.gep(ptr, [off], inbounds=True), align=dt.itemsize)
        if dt.kind == "b":
            v = b.icmp_unsigned("!=", v, ll.Constant(storage_type(dt), 0))
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
            if out_dt.kind == "b":
                v = b.zext(v, storage_type(out_dt))
            elif storage_type(out_dt) == F16:
                v = b.fptrunc(v, F16)
            off = b.add(b.mul(bi, i64(m * n)), b.add(b.mul(i, i64(n)), j))
            b.store(v, b.gep(pc, [off], inbounds=True), align=out_dt.itemsize)

    grid_loop(b, lo, hi, tile, per_block=True, name="tile")
    b.ret_void()
    return DeviceKernel(name, n_tiles, True)


def _madd(b, s, x, y, dt):
    if dt.kind == "f":
        # Contracted to fused multiply-adds (one rounding per step, as BLAS does).
        return b.fadd(s, b.fmul(x, y, flags=("contract",)), flags=("contract",))
    if dt.kind == "b":
        return b.or_(s, b.and_(x, y))
    return b.add(s, b.mul(x, y))

