"""Tensor-core dots: bfloat16 and float16 operands, float32 accumulation, `mma.sync` (sm_80+).

A dot_general whose operands are both bfloat16 or both float16 (result bfloat16, float16 or
float32) becomes, on sm_80 and newer, a tiled kernel issuing
`mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32` through LLVM's NVVM
intrinsics (`llvm.nvvm.mma.m16n8k16.row.col.bf16` / `.f32.f32`); older targets keep the
widening tiled kernel of `cuda.kernels.emit_dot`.

Tiling: a block of 4 warps (2 x 2) computes a 64x64 tile of one batch's output, a warp a 32x32
part of it: 2 x 4 fragments of 16x8, each accumulated in 4 float32 registers per thread. The
k axis goes in steps of 16: the block stages A's 64x16 and B's 16x64 slices in shared memory
(zeros outside the matrices, so ragged edges need no masking in the MMA), A row-major and B
column-major, each row padded to `KPAD` halves so that a warp's fragment loads hit 32
different banks. The result is rounded once from float32 to the output type.

Fragment layout (PTX ISA, "Matrix fragments for mma.m16n8k16" with .bf16/.f16), for lane
`l`, g = l // 4, t = l % 4; each A and B register holds two neighbouring k positions, the
lower k in the low half:
- A (16x16, row): a0 = A[g][2t:2t+2], a1 = A[g+8][2t:2t+2], a2 = A[g][2t+8:2t+10],
  a3 = A[g+8][2t+8:2t+10];
- B (16x8, col): b0 = B[2t:2t+2][g], b1 = B[2t+8:2t+10][g];
- C and D (16x8, float32): c0, c1 = C[g][2t], C[g][2t+1]; c2, c3 = C[g+8][2t], C[g+8][2t+1].
`fragment_rows_cols` spells these out for the tests' model of the instruction.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ..llvm.emitter import BF16, F16, F32, I16, I32, i64, round_bf16, to_memory
from ..llvm.loops import entry_alloca
from ..plan.kernel_shapes import gemm_layout
from .blocks import DeviceKernel, barrier, grid_loop, shared_array, shared_slot, sreg, \
    strided_loop

MIN_ARCH = 80               # mma.sync with bf16 operands: sm_80 (PTX ISA 7.0)
WARPS_M, WARPS_N = 2, 2     # warps of a block along the output's rows and columns
FRAG_M, FRAG_N, FRAG_K = 16, 8, 16
MI, NI = 2, 4               # fragments per warp along rows and columns
BM, BN = WARPS_M * MI * FRAG_M, WARPS_N * NI * FRAG_N   # the block's output tile: 64 x 64
THREADS = 32 * WARPS_M * WARPS_N
KPAD = FRAG_K + 8           # halves per staged row: 12 words, so g*12 + t spans 32 banks
_HALVES = (np.dtype(BF16), np.dtype(np.float16))
_OUTPUTS = _HALVES + (np.dtype(np.float32),)


def mma_ok(instr, arch: int) -> bool:
    """Does this dot_general run on tensor cores on `arch`: both operands bfloat16 or both
    float16, a float result of 16 or 32 bits, nothing empty?"""
    if arch < MIN_ARCH or instr.opcode != "dot_general":
        return False
    lhs, rhs = instr.operands
    dt = lhs.shape.dtype
    if dt not in _HALVES or rhs.shape.dtype != dt or instr.shape.dtype not in _OUTPUTS:
        return False
    batch, m, n, k, _, _ = gemm_layout(instr)
    return 0 < min(batch, m, n, k) and batch * m * n < 2 ** 62


def fragment_rows_cols(lane: int):
    """(A positions, B positions, C positions) of `lane`'s fragment elements, in register
    order, two halves per A/B register (low half first): lists of (row, col)."""
    g, t = lane // 4, lane % 4
    a = [(g, 2 * t), (g, 2 * t + 1), (g + 8, 2 * t), (g + 8, 2 * t + 1),
         (g, 2 * t + 8), (g, 2 * t + 9), (g + 8, 2 * t + 8), (g + 8, 2 * t + 9)]
    b = [(2 * t, g), (2 * t + 1, g), (2 * t + 8, g), (2 * t + 9, g)]
    c = [(g, 2 * t), (g, 2 * t + 1), (g + 8, 2 * t), (g + 8, 2 * t + 1)]
    return a, b, c


def _intrinsic(module, dt):
    f4 = [F32] * 4
    ret = ll.LiteralStructType(f4)
    if dt == np.dtype(BF16):
        name, part = "llvm.nvvm.mma.m16n8k16.row.col.bf16", I32
    else:
        name, part = "llvm.nvvm.mma.m16n8k16.row.col.f32.f32", ll.VectorType(F16, 2)
    fn = module.globals.get(name)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(ret, [part] * 6 + f4), name)
    return fn, part


def emit_mma_dot(module, name, instr, builder_type=ll.IRBuilder, aligned=True):
    """The kernel (`cuda.kernels` signature: lhs, rhs, out, lo, hi over the output tiles)."""
    from .kernels import declare
    lhs, rhs = instr.operands
    in_dt, out_dt = lhs.shape.dtype, instr.shape.dtype
    fn = declare(module, name, [lhs.shape, rhs.shape], instr.shape, aligned)
    b = builder_type(fn.append_basic_block("entry"))
    pa, pb, pc, lo, hi = fn.args
    batch, m, n, k, ta, tb = gemm_layout(instr)
    tiles_m, tiles_n = -(-m // BM), -(-n // BN)
    mma, part = _intrinsic(module, in_dt)
    a_s = shared_array(module, f"{name}.a", I16, BM * KPAD)
    b_s = shared_array(module, f"{name}.b", I16, BN * KPAD)
    i16p = ll.PointerType(I16)
    pa16, pb16 = b.bitcast(pa, i16p), b.bitcast(pb, i16p)
    tid = sreg(b, "tid.x")
    lane, warp = b.and_(tid, i64(31)), b.lshr(tid, i64(5))
    g, t = b.lshr(lane, i64(2)), b.and_(lane, i64(3))
    wm, wn = b.and_(warp, i64(WARPS_M - 1)), b.udiv(warp, i64(WARPS_M))
    acc = [[[entry_alloca(b, F32, name=f"acc{mi}{ni}{c}") for c in range(4)]
            for ni in range(NI)] for mi in range(MI)]
    zero16 = ll.Constant(I16, 0)

    def tile(u):
        bi = b.udiv(u, i64(tiles_m * tiles_n))
        rest = b.urem(u, i64(tiles_m * tiles_n))
        i0 = b.mul(b.udiv(rest, i64(tiles_n)), i64(BM))
        j0 = b.mul(b.urem(rest, i64(tiles_n)), i64(BN))
        for s in (s for row in acc for col in row for s in col):
            b.store(ll.Constant(F32, 0.0), s)

        def stage(ptr, size_rows, rows_first, off_of, kk0):
            # 16 k positions of `size_rows` rows (A's rows or B's columns): consecutive
            # threads take consecutive memory addresses (k-minor or row-minor per layout).
            vals = []
            for r in range(size_rows * FRAG_K // THREADS):
                e = b.add(tid, i64(r * THREADS))
                if rows_first:   # k is the operand's minor axis in memory
                    row, kk = b.lshr(e, i64(4)), b.and_(e, i64(FRAG_K - 1))
                else:
                    row, kk = b.urem(e, i64(size_rows)), b.udiv(e, i64(size_rows))
                vals.append((row, kk) + off_of(row, b.add(kk0, kk)))
            loaded = []
            for row, kk, off, ok in vals:
                p = b.gep(ptr, [b.select(ok, off, i64(0))], inbounds=True)
                loaded.append((row, kk, b.select(ok, b.load(p, align=2), zero16)))
            return loaded

        def a_off(row, kg):
            i = b.add(i0, row)
            ok = b.and_(b.icmp_signed("<", i, i64(m)), b.icmp_signed("<", kg, i64(k)))
            inner = b.add(b.mul(kg, i64(m)), i) if ta else b.add(b.mul(i, i64(k)), kg)
            return b.add(b.mul(bi, i64(m * k)), inner), ok

        def b_off(col, kg):
            j = b.add(j0, col)
            ok = b.and_(b.icmp_signed("<", j, i64(n)), b.icmp_signed("<", kg, i64(k)))
            inner = b.add(b.mul(j, i64(k)), kg) if tb else b.add(b.mul(kg, i64(n)), j)
            return b.add(b.mul(bi, i64(k * n)), inner), ok

        def k_step(kt):
            k0 = b.mul(kt, i64(FRAG_K))
            got_a = stage(pa16, BM, not ta, a_off, k0)
            got_b = stage(pb16, BN, tb, b_off, k0)
            barrier(b)   # every warp is done with the previous slices
            for arr, got in ((a_s, got_a), (b_s, got_b)):
                for row, kk, v in got:
                    b.store(v, shared_slot(b, arr, b.add(b.mul(row, i64(KPAD)), kk), I16))
            barrier(b)

            def word(arr, row, col):   # the two halves at (row, col), (row, col + 1)
                return b.bitcast(b.load(shared_slot(b, arr, b.add(
                    b.mul(row, i64(KPAD)), col), I32), align=4), part)

            t2 = b.mul(t, i64(2))
            a_frag = []
            for mi in range(MI):
                r0 = b.add(b.add(b.mul(wm, i64(MI * FRAG_M)), i64(mi * FRAG_M)), g)
                r8 = b.add(r0, i64(8))
                a_frag.append([word(a_s, r0, t2), word(a_s, r8, t2),
                               word(a_s, r0, b.add(t2, i64(8))),
                               word(a_s, r8, b.add(t2, i64(8)))])
            for ni in range(NI):
                c0 = b.add(b.add(b.mul(wn, i64(NI * FRAG_N)), i64(ni * FRAG_N)), g)
                b_frag = [word(b_s, c0, t2), word(b_s, c0, b.add(t2, i64(8)))]
                for mi in range(MI):
                    slots = acc[mi][ni]
                    d = b.call(mma, a_frag[mi] + b_frag + [b.load(s) for s in slots])
                    for c, s in enumerate(slots):
                        b.store(b.extract_value(d, c), s)

        strided_loop(b, i64(0), i64(-(-k // FRAG_K)), i64(1), k_step, name="k")
        # Each thread writes its own accumulators: rows g and g + 8, columns 2t and 2t + 1.
        for mi in range(MI):
            for ni in range(NI):
                for c in range(4):
                    row = b.add(i0, b.add(b.mul(wm, i64(MI * FRAG_M)),
                                          b.add(g, i64(mi * FRAG_M + 8 * (c >> 1)))))
                    col = b.add(j0, b.add(b.mul(wn, i64(NI * FRAG_N)),
                                          b.add(b.mul(t, i64(2)), i64(ni * FRAG_N + (c & 1)))))
                    ok = b.and_(b.icmp_signed("<", row, i64(m)), b.icmp_signed("<", col, i64(n)))
                    with b.if_then(ok):
                        v = b.load(acc[mi][ni][c])
                        if out_dt == np.dtype(BF16):
                            v = round_bf16(b, v)   # accumulated in float32, rounded once
                        elif out_dt == np.dtype(np.float16):
                            v = b.fptrunc(v, F16)
                        off = b.add(b.mul(bi, i64(m * n)), b.add(b.mul(row, i64(n)), col))
                        b.store(to_memory(b, v, out_dt), b.gep(pc, [off], inbounds=True),
                                align=out_dt.itemsize)

    grid_loop(b, lo, hi, tile, per_block=True, name="tile")
    b.ret_void()
    kernel = DeviceKernel(name, batch * tiles_m * tiles_n, True)
    kernel.block = THREADS
    return kernel

