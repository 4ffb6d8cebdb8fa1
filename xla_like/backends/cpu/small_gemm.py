"""Register-tiled native GEMM for small row-major products, in place of a cblas_?gemm call.

OpenBLAS packs both operands into its own layout on every call (and scales C by beta = 0
first): for a product as small as a recurrent step's (32 x 256 x 256, `h @ W`), those copies
cost about a sixth of the call, and the call reaches ~70 Gflop/s of the ~105 a Zen 4 core
does. Here a product C[M, N] = A[M, K] @ B[K, N] (row-major, no transposes, static sizes) is
one LLVM function specialized to its shape, reading both operands where they are. Thread CPU
time per call, Zen 4, best of 9 rounds (2026-12-07): 32x256x256 40.7 us here, 60.5 us
OpenBLAS; 128x512x512 630 vs 747 us; 64x1024x256 313 vs 449 us.

- C is cut into tiles of `MR` rows by `NV` vectors of columns; a tile's accumulators (MR * NV
  vector registers) live in registers for the whole K loop, each step loading NV vectors of
  B's row k (contiguous) and broadcasting MR elements of A's column k, then MR * NV fused
  multiply-adds; the tile is stored once, so C is never read and needs no zeroing;
- tiles go column panel by column panel (rows inner), so the panel of B a tile reads
  (K x NV vectors: 32 KiB for K = 256 and two 64-byte vectors) stays in L1 while the
  panel's row tiles reuse it, and all of B stays in L2 (`fits` asks that) across calls of
  a loop body;
- K is unrolled by `KU`; remainders of M (a shorter tile) and of N (panels of fewer vectors)
  are tiles of their own. N must be a multiple of the vector's lanes (no masked columns).

Every element of C is the sum over k in increasing order, one fused multiply-add per term:
equal to BLAS's result within float rounding, not bit for bit.

`fits` says which dots take this path (`gemm.call_blas` asks, for a dot run whole on one
thread; `gemm._shared_gemm` asks `shape_fits` for the pieces of a shared one); `call` calls
the module's one definition for a shape, dtype and row strides (a kernel unit of its own,
`cpu.units`), defining it first.
"""
from __future__ import annotations

from llvmlite import ir as ll

from ..llvm.emitter import I64, i64
from ..plan.kernel_shapes import gemm_layout

# Tiles: MR rows x NV vectors of accumulators. 8 x 2 (16 of AVX-512's 32 registers) was level
# with 4 x 4, 6 x 4, 8 x 3, 12 x 2 and 16 x 1 (40-42 us for 32 x 256 x 256 on a Zen 4), 2 x 8
# slower (52 us: 8 vector loads per 16 FMAs); with AVX2 (16 registers) 4 x 2 leaves room for
# B's vectors and A's broadcasts.
_TILES = {64: (8, 2), 32: (4, 2)}
KU = 4                       # K steps per loop trip
# Largest right operand kept whole in L2 across the row tiles (Zen 4: 1 MiB L2 per core).
MAX_B_BYTES = 1 << 20
# Products beyond this many rows go to BLAS: its packing pays off over enough row tiles, and
# the tiles here read B from L2 once per MR rows.
MAX_M = 128


def vector_bytes() -> int:
    """Bytes in the widest vector register of the host (64 with AVX-512 F, else 32)."""
    from .target import _HOST
    return 64 if "+avx512f" in _HOST[1] else 32


def fits(step, sizes=None, strided=False) -> bool:
    """Does this dot step take the native path: one product (no batch), neither operand
    transposed, static sizes (`sizes` all None, no operand read with its caller's strides:
    `strided`), no prologue, epilogue or beta = 1 update, float32/float64, N a multiple of the
    vector's lanes, M at most `MAX_M` and B within `MAX_B_BYTES`?"""
    instr = step.instr
    if step.epilogue is not None or step.prologue is not None or \
            getattr(step, "update", None) is not None or strided or \
            (sizes is not None and any(s is not None for s in sizes)):
        return False
    dt = instr.shape.dtype
    if dt.kind != "f" or dt.itemsize not in (4, 8) or \
            any(o.shape.dtype != dt for o in instr.operands):
        return False
    batch, m, n, k, ta, tb = gemm_layout(instr)
    return batch == 1 and not ta and not tb and shape_fits(m, n, k, dt.itemsize)


def shape_fits(m, n, k, itemsize) -> bool:
    """Does an (m, k) @ (k, n) product (or a piece of a larger one) of `itemsize`-byte floats
    take the native path: M at most `MAX_M`, N a multiple of the vector's lanes, B within
    `MAX_B_BYTES`?"""
    lanes = vector_bytes() // itemsize
    return 1 <= m <= MAX_M and k >= 1 and n >= lanes and n % lanes == 0 and \
        k * n * itemsize <= MAX_B_BYTES


def emit_call(b, mod, step, a_ptr, b_ptr, c_ptr):
    """Call the native GEMM of dot `step` with typed operand pointers."""
    _, m, n, k, _, _ = gemm_layout(step.instr)
    call(b, mod, (m, n, k), step.instr.shape.dtype.itemsize, a_ptr, b_ptr, c_ptr)


def call(b, mod, mnk, itemsize, a_ptr, b_ptr, c_ptr, strides=None, k_lda=None):
    """C = A @ B for row-major (m, k), (k, n), (m, n) operands with row strides `strides`
    (lda, ldb, ldc in elements; default k, n, n): a call of the module's one definition for
    that shape, dtype and strides (every dot of that kind calls it: one function to print,
    cut and compile, not one per dot). `k_lda`: (K, lda) as run-time i64 values instead (a
    bucketed program contracting a dynamic axis: the true K, A's caller's row stride); `k`
    and `strides[0]` are then ignored."""
    m, n, k = mnk
    lda, ldb, ldc = strides or (k, n, n)
    vbytes = vector_bytes()
    if k_lda is not None:
        name = f"jc.sgemm.f{itemsize * 8}.{m}x{n}xK.lda.{ldb}.{ldc}.v{vbytes}"
        fn = mod.globals.get(name) or define(mod, name, m, n, None, itemsize, vbytes,
                                             (None, ldb, ldc))
        b.call(fn, [a_ptr, b_ptr, c_ptr, *k_lda])
        return
    name = f"jc.sgemm.f{itemsize * 8}.{m}x{n}x{k}.{lda}.{ldb}.{ldc}.v{vbytes}"
    fn = mod.globals.get(name) or define(mod, name, m, n, k, itemsize, vbytes,
                                         (lda, ldb, ldc))
    b.call(fn, [a_ptr, b_ptr, c_ptr])


def define(mod, name, m, n, k, itemsize, vbytes, strides=None):
    """`void name(T* A, T* B, T* C)`: C = A @ B for row-major (m, k), (k, n), (m, n) with
    row strides `strides` (lda, ldb, ldc; default k, n, n). `k` None: K and lda are run-time
    arguments, `void name(T* A, T* B, T* C, i64 K, i64 lda)`."""
    fty = ll.DoubleType() if itemsize == 8 else ll.FloatType()
    lanes = vbytes // itemsize
    vty = ll.VectorType(fty, lanes)
    pty = ll.PointerType(fty)
    params = [pty, pty, pty] + ([I64, I64] if k is None else [])
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), params), name)
    fn.linkage = "internal"
    for attr in ("noinline", "nounwind"):
        fn.attributes.add(attr)
    bits = vbytes * 8
    set.add(fn.attributes, f'"prefer-vector-width"="{bits}"')
    set.add(fn.attributes, f'"min-legal-vector-width"="{bits}"')
    for arg in fn.args[:3]:
        arg.add_attribute("noalias")
    fma = mod.globals.get(f"llvm.fma.v{lanes}f{itemsize * 8}")
    if fma is None:
        fma = ll.Function(mod, ll.FunctionType(vty, [vty, vty, vty]),
                          f"llvm.fma.v{lanes}f{itemsize * 8}")
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    strides = strides or (k, n, n)
    if k is None:
        k, strides = fn.args[3], (fn.args[4],) + tuple(strides[1:])
    _Tiles(b, fn.args[:3], fma, vty, (m, n, k), itemsize, _TILES[vbytes], strides).emit()
    b.ret_void()
    return fn


class _Tiles:
    """The loops of `define`: column panels, row tiles in each, the K loop in each tile."""

    def __init__(self, b, args, fma, vty, mnk, itemsize, tile, strides):
        self.b, (self.A, self.B, self.C), self.fma, self.vty = b, args, fma, vty
        self.lda, self.ldb, self.ldc = strides
        (self.m, self.n, self.k), self.lanes, self.align = mnk, vty.count, itemsize
        self.mr, self.nv = tile
        self.vp = ll.PointerType(vty)

    def emit(self):
        lanes, nv = self.lanes, self.nv
        full, rest = divmod(self.n // lanes, nv)     # panels of nv vectors, one of `rest`
        if full:
            self._loop(0, full * nv * lanes, nv * lanes, lambda j0: self._panel(j0, nv), "j")
        if rest:
            self._panel(i64(full * nv * lanes), rest)

    def _loop(self, lo, hi, step, body, name):
        """for (i = lo; i < hi; i += step) body(i), lo < hi static."""
        b = self.b
        pre = b.block
        head = b.append_basic_block(name)
        done = b.append_basic_block(name + ".done")
        b.branch(head)
        b.position_at_end(head)
        iv = b.phi(I64, name=name)
        iv.add_incoming(i64(lo), pre)
        body(iv)
        nxt = b.add(iv, i64(step))
        iv.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, i64(hi)), head, done)
        b.position_at_end(done)

    def _panel(self, j0, nv):
        full, rest = divmod(self.m, self.mr)
        if full:
            self._loop(0, full * self.mr, self.mr, lambda i0: self._tile(i0, j0, self.mr, nv),
                       "i")
        if rest:
            self._tile(i64(full * self.mr), j0, rest, nv)

    def _tile(self, i0, j0, mr, nv):
        """C[i0:i0+mr, j0:j0+nv*lanes] = A[i0:i0+mr, :] @ B[:, j0:j0+nv*lanes]."""
        b, K = self.b, self.k
        zero = ll.Constant(self.vty, None)
        acc = [[zero] * nv for _ in range(mr)]
        if isinstance(K, int):
            main = K - K % KU
            if main:
                acc = self._k_loop(acc, i0, j0, mr, nv, i64(0), i64(main), KU)
            for kr in range(main, K):
                self._step(acc, i0, j0, i64(kr), mr, nv)
        else:
            # A run-time K: KU steps a trip while KU fit, then one a trip (each loop may run
            # zero times: K may be below KU, or 0 when the true size is).
            main = b.sub(K, b.srem(K, i64(KU)))
            acc = self._k_loop(acc, i0, j0, mr, nv, i64(0), main, KU)
            acc = self._k_loop(acc, i0, j0, mr, nv, main, K, 1)
        for r in range(mr):
            row = b.mul(b.add(i0, i64(r)), i64(self.ldc))
            for c in range(nv):
                at = b.gep(self.C, [b.add(row, b.add(j0, i64(c * self.lanes)))])
                b.store(acc[r][c], b.bitcast(at, self.vp), align=self.align)

    def _k_loop(self, acc, i0, j0, mr, nv, lo, hi, unroll):
        """The accumulators after `for k in range(lo, hi, unroll)` of `unroll` steps each
        (static bounds: lo < hi; run-time ones: tested before the first trip)."""
        b = self.b
        pre = b.block
        head = b.append_basic_block("k")
        done = b.append_basic_block("k.done")
        static = isinstance(lo, ll.Constant) and isinstance(hi, ll.Constant)
        if static:
            b.branch(head)
        else:
            b.cbranch(b.icmp_signed("<", lo, hi), head, done)
        b.position_at_end(head)
        kk = b.phi(I64, name="k")
        kk.add_incoming(lo, pre)
        phis = [[b.phi(self.vty) for _ in range(nv)] for _ in range(mr)]
        for r in range(mr):
            for c in range(nv):
                phis[r][c].add_incoming(acc[r][c], pre)
        new = [list(row) for row in phis]
        for u in range(unroll):
            self._step(new, i0, j0, b.add(kk, i64(u)) if u else kk, mr, nv)
        nk = b.add(kk, i64(unroll))
        kk.add_incoming(nk, b.block)
        for r in range(mr):
            for c in range(nv):
                phis[r][c].add_incoming(new[r][c], b.block)
        body_end = b.block
        b.cbranch(b.icmp_signed("<", nk, hi), head, done)
        b.position_at_end(done)
        if static:
            return new
        # Past a loop that may not run: the accumulators from before it or from its trips.
        out = []
        for r in range(mr):
            row = []
            for c in range(nv):
                phi = b.phi(self.vty)
                phi.add_incoming(acc[r][c], pre)
                phi.add_incoming(new[r][c], body_end)
                row.append(phi)
            out.append(row)
        return out

    def _step(self, acc, i0, j0, k, mr, nv):
        """acc[r][c] += A[i0 + r, k] * B[k, j0 + c*lanes : ...] for every r, c."""
        b = self.b
        row = b.mul(k, i64(self.ldb))
        bv = []
        for c in range(nv):
            at = b.gep(self.B, [b.add(row, b.add(j0, i64(c * self.lanes)))])
            bv.append(b.load(b.bitcast(at, self.vp), align=self.align))
        splat = ll.Constant(ll.VectorType(ll.IntType(32), self.lanes), [0] * self.lanes)
        undef = ll.Constant(self.vty, ll.Undefined)
        for r in range(mr):
            lda = self.lda if isinstance(self.lda, ll.Value) else i64(self.lda)
            a = b.load(b.gep(self.A, [b.add(b.mul(b.add(i0, i64(r)), lda), k)]))
            av = b.shuffle_vector(b.insert_element(undef, a, ll.Constant(ll.IntType(32), 0)),
                                  undef, splat)
            for c in range(nv):
                acc[r][c] = b.call(self.fma, [av, bv[c], acc[r][c]])
