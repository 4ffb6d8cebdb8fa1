"""bfloat16 x bfloat16 -> float32 GEMM on AVX-512 BF16 (`vdpbf16ps`), emitted with LLVM.

`vdpbf16ps acc, a, b` adds to each of 16 float32 lanes the products of one *pair* of
bfloat16s from `a` and the pair in the same lane of `b`: acc[j] += a[2j] b[2j] + a[2j+1]
b[2j+1]. A GEMM uses it with the contracted axis cut into pairs: the right operand packed so
that lane j of a vector holds (B[2p, j], B[2p+1, j]), the left operand's pair (A[i, 2p],
A[i, 2p+1]) broadcast to every lane (one 32-bit word, which LLVM folds into the instruction as
an embedded broadcast). The micro-kernel keeps an `MR` x `NR` tile of C in `MR * NR / 16`
zmm accumulators (14 x 32: 28 of the 32 registers, the rest holding B), which hides the
instruction's latency behind independent accumulators.

Blocking is Goto's: for each `NC` columns and `KC` contracted positions, B's block is packed
into pair-interleaved panels of `NR` columns (`KC * NC * 2` bytes, in L2); for each `MC` rows,
A's block into panels of `MR` rows (in L1/L2); then every (MR, NR) tile of the block runs the
micro-kernel over the block's pairs, adding to C (written, not added, for the first block of
the contraction). Packing pads with zeros: a row or column past the end of A or B, and the
second half of the last pair when the contracted size is odd, so the micro-kernel never
branches; tiles at the right or bottom edge go through a stack tile and copy their valid part.
Transposed operands change only the packing loops.

Numerics: `vdpbf16ps` multiplies exactly and sums each pair and the accumulator in float32
with round-to-nearest-even, but it treats subnormal bfloat16 inputs as zero and flushes
subnormal results to zero (it ignores MXCSR: always denormals-are-zero, flush-to-zero). The
pair sum is also rounded once where the widened product rounds twice. The sum's order
differs from sgemm's. Results therefore differ from a float32 GEMM by float32 rounding (far
below bfloat16's own precision), and by subnormal flushing, which only products below
~1e-38 see.

The kernel is `void k(i16* A, i16* B, float* C, i8* scratch, i64 lo, i64 hi)`: rows [lo, hi) of
the `batch * M` rows of the result (a thread's share), with `scratch_bytes(instr)` bytes of
scratch for this call alone (each thread its own).
"""
from __future__ import annotations

from llvmlite import ir as ll

from ..plan.kernel_shapes import gemm_layout
from .emitter import F32, I8, I16, I32, I64, i64
from .loops import counted_loop, entry_alloca
from .half import BFLOAT

# Micro-tile: MR rows by NR = 16 * NV columns.
MR, NV = 14, 2
NR = 16 * NV
# Cache blocks: KC contracted positions (even), MC rows (a multiple of MR), NC columns (a
# multiple of NR). See `scratch_bytes` for what they cost.
KC, MC, NC = 256, 112, 1024

INTRINSIC = "llvm.x86.avx512bf16.dpbf16ps.512"


V16I32 = ll.VectorType(I32, 16)
V16F = ll.VectorType(F32, 16)
V32BF = ll.VectorType(BFLOAT, 32)
_I32P = ll.PointerType(I32)
_I16P = ll.PointerType(I16)
_F32P = ll.PointerType(F32)


def blocks(instr):
    """(kc, mc, nc): the cache blocks of `instr`'s GEMM, no larger than the product needs."""
    _, m, n, k, _, _ = gemm_layout(instr)
    kc = min(KC, k + (k & 1))
    mc = min(MC, -(-m // MR) * MR)
    nc = min(NC, -(-n // NR) * NR)
    return max(kc, 2), max(mc, MR), max(nc, NR)


def scratch_bytes(instr) -> int:
    """Bytes of scratch one call of the kernel needs: the packed blocks of A and of B, each
    starting at a multiple of 64 bytes."""
    kc, mc, nc = blocks(instr)
    a = kc // 2 * mc * 4
    return -(-a // 64) * 64 + kc // 2 * nc * 4


def emit_bf16_gemm(module, name, instr):
    """The kernel for `instr` (a canonicalized bfloat16 dot with a float32 result, see
    `plan.kernel_shapes.gemm_layout`); returns `llvm.kernels.Kernel` (rows as its range)."""
    from .kernels import Kernel
    batch, m, n, k, ta, tb = gemm_layout(instr)
    kc_max, mc_max, nc_max = blocks(instr)
    fnty = ll.FunctionType(ll.VoidType(), [_I16P, _I16P, _F32P, ll.PointerType(I8), I64, I64])
    fn = ll.Function(module, fnty, name)
    for a in fn.args[:4]:
        a.add_attribute("noalias")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    # 512-bit vectors stay whole whatever width the target prefers (clang sets the same for
    # code using 512-bit intrinsics); llvmlite takes a string attribute as its text.
    set.add(fn.attributes, '"min-legal-vector-width"="512"')
    pa, pb, pc, scratch, lo, hi = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    a_pack = b.bitcast(scratch, _I32P)
    a_bytes = -(-(kc_max // 2 * mc_max * 4) // 64) * 64
    b_pack = b.bitcast(b.gep(scratch, [i64(a_bytes)]), _I32P)
    micro = _micro_kernel(module, f"{name}.tile", n)
    tile = entry_alloca(b, ll.ArrayType(F32, MR * NR), name="edge")
    tile = b.bitcast(tile, _F32P)

    if k == 0 or m == 0 or n == 0:
        if k == 0 and n:   # an empty contraction: zeros
            def zero(r):
                counted_loop(b, i64(0), i64(n), lambda j: b.store(
                    ll.Constant(F32, 0.0), b.gep(pc, [b.add(b.mul(r, i64(n)), j)])), name="zj")
            counted_loop(b, lo, hi, zero, name="zr")
        b.ret_void()
        return Kernel(fn, batch * m, True, False)

    def per_batch(bi):
        base = b.mul(bi, i64(m))
        i0 = _max(b, b.sub(lo, base), i64(0))
        i1 = _min(b, b.sub(hi, base), i64(m))
        a_at = b.gep(pa, [b.mul(bi, i64(m * k))])
        b_at = b.gep(pb, [b.mul(bi, i64(k * n))])
        c_at = b.gep(pc, [b.mul(bi, i64(m * n))])

        def col_block(jc):
            nc = _min(b, i64(nc_max), b.sub(i64(n), jc))

            def depth_block(pc0):
                kc = _min(b, i64(kc_max), b.sub(i64(k), pc0))
                pairs = b.lshr(b.add(kc, i64(1)), i64(1))
                _pack_b(b, b_pack, b_at, pc0, kc, jc, nc, n, k, tb)
                first = b.icmp_signed("==", pc0, i64(0))

                def row_block(ic):
                    mc = _min(b, i64(mc_max), b.sub(i1, ic))
                    _pack_a(b, a_pack, a_at, pc0, kc, ic, mc, m, k, ta)

                    def col_panel(jr):
                        nr = _min(b, i64(NR), b.sub(nc, jr))
                        bp = b.gep(b_pack, [b.mul(b.udiv(jr, i64(NR)), b.mul(pairs, i64(NR)))])

                        def row_panel(ir):
                            mr = _min(b, i64(MR), b.sub(mc, ir))
                            ap = b.gep(a_pack, [b.mul(b.udiv(ir, i64(MR)),
                                                      b.mul(pairs, i64(MR)))])
                            cp = b.gep(c_at, [b.add(b.mul(b.add(ic, ir), i64(n)),
                                                    b.add(jc, jr))])
                            b.call(micro, [ap, bp, cp, tile, pairs, mr, nr, b.zext(first, I64)])
                        counted_loop(b, i64(0), mc, row_panel, name="ir", step=i64(MR))
                    counted_loop(b, i64(0), nc, col_panel, name="jr", step=i64(NR))
                counted_loop(b, i0, i1, row_block, name="ic", step=i64(mc_max))
            counted_loop(b, i64(0), i64(k), depth_block, name="pc", step=i64(kc_max))
        with b.if_then(b.icmp_signed("<", i0, i1)):
            counted_loop(b, i64(0), i64(n), col_block, name="jc", step=i64(nc_max))

    first_b = b.sdiv(lo, i64(m))
    last_b = b.sdiv(b.add(hi, i64(m - 1)), i64(m))
    counted_loop(b, first_b, last_b, per_batch, name="batch")
    b.ret_void()
    return Kernel(fn, batch * m, True, False)


def _pair(b, lo16, hi16):
    """The 32-bit word holding bfloat16 `lo16` in its low half and `hi16` in its high half
    (the order `vdpbf16ps` pairs them in)."""
    return b.or_(b.zext(lo16, I32), b.shl(b.zext(hi16, I32), ll.Constant(I32, 16)))


def _load16(b, p, off):
    return b.load(b.gep(p, [off], inbounds=True), align=2)


def _edge_row(b, o, width, pair_at, name):
    """One row of NR pairs at `o` in a B panel: `pair_at(j)` for the columns j < `width`, zero
    past them (a last panel narrower than NR)."""
    def col(j):
        with b.if_else(b.icmp_signed("<", j, width)) as (yes, no):
            with yes:
                b.store(pair_at(j), b.gep(o, [j]))
            with no:
                b.store(ll.Constant(I32, 0), b.gep(o, [j]))
    counted_loop(b, i64(0), i64(NR), col, name=name)


def _pack_b(b, dst, src, pc0, kc, jc, nc, n, k, tb):
    """dst[panel][p][j] = (B[pc0 + 2p, jc + panel*NR + j], B[pc0 + 2p + 1, ...]) for the kc x nc
    block, zero past nc columns (in the last panel) and past kc."""
    full = b.lshr(kc, i64(1))         # pairs with both halves inside the block
    pairs = b.lshr(b.add(kc, i64(1)), i64(1))
    panels = b.udiv(b.add(nc, i64(NR - 1)), i64(NR))
    zero16 = ll.Constant(I16, 0)

    def panel(q):
        out = b.gep(dst, [b.mul(q, b.mul(pairs, i64(NR)))])
        j0 = b.add(jc, b.mul(q, i64(NR)))
        width = _min(b, i64(NR), b.sub(b.add(jc, nc), j0))

        def elem(kk, j):
            """B[pc0 + kk, j0 + j] (kk, j in the block)."""
            row, col = b.add(pc0, kk), b.add(j0, j)
            off = b.add(b.mul(col, i64(k)), row) if tb else b.add(b.mul(row, i64(n)), col)
            return _load16(b, src, off)

        whole = b.icmp_signed("==", width, i64(NR))
        with b.if_else(whole) as (then, otherwise):
            with then:    # all NR columns: constant trip counts, which LLVM vectorizes
                def pair_row(p):
                    o = b.gep(out, [b.mul(p, i64(NR))])
                    counted_loop(b, i64(0), i64(NR), lambda j: b.store(
                        _pair(b, elem(b.shl(p, i64(1)), j),
                              elem(b.add(b.shl(p, i64(1)), i64(1)), j)),
                        b.gep(o, [j])), name="bj")
                counted_loop(b, i64(0), full, pair_row, name="bp")
            with otherwise:
                def pair_row_edge(p):
                    _edge_row(b, b.gep(out, [b.mul(p, i64(NR))]), width, lambda j: _pair(
                        b, elem(b.shl(p, i64(1)), j), elem(b.add(b.shl(p, i64(1)), i64(1)), j)),
                        name="bje")
                counted_loop(b, i64(0), full, pair_row_edge, name="bpe")
        with b.if_then(b.icmp_signed("<", full, pairs)):   # odd kc: the last pair's second is 0
            _edge_row(b, b.gep(out, [b.mul(full, i64(NR))]), width,
                      lambda j: _pair(b, elem(b.shl(full, i64(1)), j), zero16), name="bjo")
    counted_loop(b, i64(0), panels, panel, name="bq")


def _pack_a(b, dst, src, pc0, kc, ic, mc, m, k, ta):
    """dst[panel][p][i] = (A[ic + panel*MR + i, pc0 + 2p], A[..., pc0 + 2p + 1]) for the mc x kc
    block, zero past mc rows (in the last panel) and past kc."""
    full = b.lshr(kc, i64(1))
    pairs = b.lshr(b.add(kc, i64(1)), i64(1))
    panels = b.udiv(b.add(mc, i64(MR - 1)), i64(MR))
    zero16 = ll.Constant(I16, 0)

    def panel(q):
        out = b.gep(dst, [b.mul(q, b.mul(pairs, i64(MR)))])
        i0 = b.add(ic, b.mul(q, i64(MR)))
        height = _min(b, i64(MR), b.sub(b.add(ic, mc), i0))

        def elem(i, kk):
            row, col = b.add(i0, i), b.add(pc0, kk)
            off = b.add(b.mul(col, i64(m)), row) if ta else b.add(b.mul(row, i64(k)), col)
            return _load16(b, src, off)

        def row(i):
            inside = b.icmp_signed("<", i, height)
            with b.if_else(inside) as (yes, no):
                with yes:
                    counted_loop(b, i64(0), full, lambda p: b.store(
                        _pair(b, elem(i, b.shl(p, i64(1))), elem(i, b.add(b.shl(p, i64(1)),
                                                                            i64(1)))),
                        b.gep(out, [b.add(b.mul(p, i64(MR)), i)])), name="ap")
                    with b.if_then(b.icmp_signed("<", full, pairs)):
                        b.store(_pair(b, elem(i, b.shl(full, i64(1))), zero16),
                                b.gep(out, [b.add(b.mul(full, i64(MR)), i)]))
                with no:
                    counted_loop(b, i64(0), pairs, lambda p: b.store(
                        ll.Constant(I32, 0), b.gep(out, [b.add(b.mul(p, i64(MR)), i)])),
                        name="az")
        counted_loop(b, i64(0), i64(MR), row, name="ai")
    counted_loop(b, i64(0), panels, panel, name="aq")


def _micro_kernel(module, name, ldc):
    """`void tile(i32* ap, i32* bp, float* c, float* edge, i64 pairs, i64 mr, i64 nr, i64 first)`:
    C[i, j] (+)= sum_p ap[p][i] . bp[p][j] for i < mr, j < nr, C with row stride `ldc`;
    `first`: write instead of add. A full tile goes straight to C, an edge tile through
    `edge` (MR x NR floats)."""
    fnty = ll.FunctionType(ll.VoidType(), [_I32P, _I32P, _F32P, _F32P, I64, I64, I64, I64])
    fn = ll.Function(module, fnty, name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    set.add(fn.attributes, '"min-legal-vector-width"="512"')
    for a in fn.args[:4]:
        a.add_attribute("noalias")
    ap, bp, c, edge, pairs, mr, nr, first = fn.args
    dp = module.globals.get(INTRINSIC) or ll.Function(
        module, ll.FunctionType(V16F, [V16F, V32BF, V32BF]), INTRINSIC)
    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ll.IRBuilder(entry)
    zero = ll.Constant(V16F, None)
    b.cbranch(b.icmp_signed(">", pairs, i64(0)), loop, done)
    b.position_at_end(loop)
    p = b.phi(I64, name="p")
    p.add_incoming(i64(0), entry)
    accs = []
    for r in range(MR * NV):
        phi = b.phi(V16F, name=f"acc{r}")
        phi.add_incoming(zero, entry)
        accs.append(phi)
    bvp = b.bitcast(b.gep(bp, [b.mul(p, i64(NR))]), ll.PointerType(V16I32))
    bv = [b.bitcast(b.load(b.gep(bvp, [i64(v)]), align=4), V32BF) for v in range(NV)]
    arow = b.gep(ap, [b.mul(p, i64(MR))])
    undef = ll.Constant(V16I32, None)
    splat_mask = ll.Constant(V16I32, [0] * 16)
    new = []
    for i in range(MR):
        word = b.load(b.gep(arow, [i64(i)]), align=4)
        vec = b.shuffle_vector(b.insert_element(undef, word, i64(0)), undef, splat_mask)
        av = b.bitcast(vec, V32BF)
        for v in range(NV):
            new.append(b.call(dp, [accs[i * NV + v], av, bv[v]]))
    nxt = b.add(p, i64(1))
    for phi, val in zip(accs, new):
        phi.add_incoming(val, loop)
    p.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, pairs), loop, done)
    b.position_at_end(done)
    results = []
    for r in range(MR * NV):
        phi = b.phi(V16F, name=f"sum{r}")
        phi.add_incoming(zero, entry)
        phi.add_incoming(new[r], loop)
        results.append(phi)
    full = b.and_(b.icmp_signed("==", mr, i64(MR)), b.icmp_signed("==", nr, i64(NR)))
    add = b.icmp_signed("==", first, i64(0))
    vp = ll.PointerType(V16F)
    with b.if_else(full) as (whole, part):
        with whole:
            with b.if_else(add) as (yes, no):
                with yes:
                    for r, val in enumerate(results):
                        at = b.bitcast(b.gep(c, [i64(r // NV * ldc + 16 * (r % NV))]), vp)
                        b.store(b.fadd(b.load(at, align=4), val), at, align=4)
                with no:
                    for r, val in enumerate(results):
                        at = b.bitcast(b.gep(c, [i64(r // NV * ldc + 16 * (r % NV))]), vp)
                        b.store(val, at, align=4)
        with part:
            for i in range(MR):
                for v in range(NV):
                    b.store(results[i * NV + v],
                            b.bitcast(b.gep(edge, [i64(i * NR + 16 * v)]), vp), align=4)

            def row(i):
                def col(j):
                    at = b.gep(c, [b.add(b.mul(i, i64(ldc)), j)])
                    val = b.load(b.gep(edge, [b.add(b.mul(i, i64(NR)), j)]))
                    with b.if_else(add) as (yes, no):
                        with yes:
                            b.store(b.fadd(b.load(at), val), at)
                        with no:
                            b.store(val, at)
                counted_loop(b, i64(0), nr, col, name="ej")
            counted_loop(b, i64(0), mr, row, name="ei")
    b.ret_void()
    return fn


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _max(b, x, y):
    return b.select(b.icmp_signed(">", x, y), x, y)
