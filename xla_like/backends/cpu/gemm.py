"""GEMM from the CPU backend's native segments: cblas_?gemm calls, GEMM prologues and epilogues.

jitcore's copy of OpenBLAS runs on one thread (`cpu.blas`): the threads of a segment (the
worker pool, `cpu.pool`, governed by the `num_threads` setting) share each large GEMM out
among themselves, each piece a one-thread call. A product of at least `SHARE_MIN_FLOPS` in a
segment that runs on several threads (one of `THREADS_MIN_FLOPS` makes it do so) is cut into
`pieces` (whole products of a batch, else blocks of rows, else of columns) and thread `tid`
takes a contiguous run of them; a smaller one runs whole on thread 0. OpenBLAS's own threads
would spin waiting for each other and for work (most of their cycles when the machine has
other load), thread every small product of a batch separately, and ignore `num_threads`.

A dot with an epilogue (see `plan.planner.Epilogue`) calls it
once per row block instead, into a block-sized scratch buffer, and runs the epilogue kernel on
that block right after, while the block is still in cache. The segment's threads share the
blocks, each calling a one-thread GEMM (`one_thread_blas` around the segment): a multi-thread
GEMM per block would start and join BLAS's threads once per block, and leave them spinning
while the epilogue runs, which costs more than the memory pass it saves (and far more when
the machine has other work). A dot with a prologue (`plan.planner.Prologue`) runs the kernel
making its left operand on each row block first, into a block-sized scratch buffer the GEMM
then reads from cache (a convolution's im2col patches never go to memory whole).
"""
from __future__ import annotations

import contextlib

from llvmlite import ir as ll

from ..llvm.kernels import emit_fusion
from ..plan.kernel_shapes import gemm_layout
from ..llvm.emitter import I64, i64
from ..llvm.loops import counted_loop
from . import gemm_update, small_gemm


def blas_ok(instr):
    """Can BLAS compute this dot (float32/float64, one dtype throughout)?"""
    lhs, rhs = instr.operands
    dt = instr.shape.dtype
    return dt.kind == "f" and dt.itemsize in (4, 8) and lhs.shape.dtype == dt and \
        rhs.shape.dtype == dt


def call_blas(b, mod, step, ptr, externs, tid, blas_sig, math, name, nthreads=None,
              rows=None, sizes=None, ld_of=None, cut=None):
    """C[b] = A[b] @ B[b] through cblas_?gemm: in a segment on several threads (`nthreads`
    given) and of at least `SHARE_MIN_FLOPS`, in pieces shared by the threads; else one call
    per batch element, on thread 0; with
    an epilogue, one call per row block, each followed by the epilogue kernel on its block,
    the blocks shared by the `nthreads` threads running the segment. `rows`: a runtime count
    of the output rows anything reads (a bucketed program's true size), for a 2-d product.
    `sizes`: run-time (M, N, K), each None where static: a bucketed program's true sizes
    (rows and columns anything reads; past K both operands hold zeros or are never read).
    `ld_of(buffer)`: the run-time row stride (elements) of an operand that is the caller's
    array (`prefix_inputs.strided_inputs`: a plain product of one 2-d result), else None: the
    capacity's."""
    instr = step.instr
    batch, m, n, k, ta, tb, a_bid, b_bid = gemm_update.layout(step)
    update = getattr(step, "update", None)
    dt = instr.shape.dtype
    int_t, idx = blas_sig
    m_rt, n_rt, k_rt = sizes or (None, None, None)
    if rows is not None and m_rt is None and batch == 1 and len(instr.shape.dims) == 2:
        m_rt = rows
    narrow = (lambda v: v) if int_t.width == 64 else (lambda v: b.trunc(v, int_t))  # noqa: E731
    n_arg = ll.Constant(int_t, n) if n_rt is None else narrow(n_rt)
    k_arg = ll.Constant(int_t, k) if k_rt is None else narrow(k_rt)
    fty = ll.DoubleType() if dt.itemsize == 8 else ll.FloatType()
    pty = ll.PointerType(fty)
    gemm_ty = ll.FunctionType(ll.VoidType(), [int_t, int_t, int_t, int_t, int_t, int_t, fty,
                                              pty, int_t, pty, int_t, fty, pty, int_t])
    slot = idx["dgemm" if dt.itemsize == 8 else "sgemm"]
    c = lambda v: ll.Constant(int_t, v)  # noqa: E731
    lda = m if ta else k
    ldb = k if tb else n
    lda_rt, ldb_rt = (None, None) if ld_of is None else (ld_of(a_bid), ld_of(b_bid))
    if lda_rt is not None or ldb_rt is not None:
        assert batch == 1 and step.epilogue is None and step.prologue is None, \
            "an operand with its own strides in a product of several results"

    def at_least(ld, count, static):
        """BLAS asks ld >= max(1, the row length it reads) even where a single row makes it
        unused (a size-1 axis may have any stride in a contiguous array)."""
        least = i64(max(static, 1)) if count is None else \
            b.select(b.icmp_signed("<", count, i64(1)), i64(1), count)
        return b.select(b.icmp_signed("<", ld, least), least, ld)
    # The row length of each operand as the dot has it (`update` may swap the two).
    _, m0, n0, k0, ta0, tb0 = gemm_layout(instr)
    rows_of = {step.inputs[1]: (k_rt, k0) if tb0 else (n_rt, n0),
               step.inputs[0]: (m_rt, m0) if ta0 else (k_rt, k0)}
    if lda_rt is not None:
        lda_rt = at_least(lda_rt, *rows_of[a_bid])
    if ldb_rt is not None:
        ldb_rt = at_least(ldb_rt, *rows_of[b_bid])
    if step.epilogue is not None or step.prologue is not None:
        gemm = b.bitcast(b.load(b.gep(externs, [i64(slot)])), ll.PointerType(gemm_ty))
        b_ptr = ptr(step.inputs[1])

        def call(rows, a_rows, c_out):
            b.call(gemm, [c(101), c(112 if ta else 111), c(112 if tb else 111), rows, n_arg,
                          k_arg, ll.Constant(fty, 1.0), a_rows, c(lda), b_ptr,
                          c(ldb), ll.Constant(fty, 0.0), c_out, c(n)])
        gemm_blocks(b, mod, step, call, (m, n, k, ta), int_t, ptr, math, name, tid,
                    i64(1) if nthreads is None else nthreads, m_rt, k_rt)
        return
    # With an `Update`: C = alpha * product + C, C first holding the addend (`gemm_update`).
    alpha = ll.Constant(fty, 1.0 if update is None else update.alpha)
    beta = ll.Constant(fty, 0.0 if update is None else 1.0)
    addend = None if update is None else ptr(step.inputs[2])
    if nthreads is not None and worth_sharing(instr):
        gemm = b.bitcast(b.load(b.gep(externs, [i64(slot)])), ll.PointerType(gemm_ty))
        _shared_gemm(b, gemm, (batch, m, n, k, ta, tb), int_t, fty, ptr(a_bid),
                     ptr(b_bid), ptr(step.outputs[0]), tid, nthreads, m_rt, n_rt,
                     k_arg, addend, alpha, lda_rt, ldb_rt, cut)
        return
    only0 = b.icmp_signed("==", tid, i64(0))
    if small_gemm.fits(step, (m_rt, n_rt, k_rt), lda_rt is not None or ldb_rt is not None):
        with b.if_then(only0):    # a small product: register tiles, no packing
            small_gemm.emit_call(b, mod, step, ptr(a_bid), ptr(b_bid), ptr(step.outputs[0]))
        return
    with b.if_then(only0):
        raw = b.load(b.gep(externs, [i64(slot)]))
        gemm = b.bitcast(raw, ll.PointerType(gemm_ty))
        a_ptr, b_ptr = ptr(a_bid), ptr(b_bid)
        c_ptr = ptr(step.outputs[0])
        m_rows = c(m) if m_rt is None else narrow(m_rt)
        if addend is not None:   # (one product: `gemm_update` takes no batches)
            _copy_block(b, mod, c_ptr, addend, i64(m), i64(n), n, dt.itemsize)
        for bi in range(batch) if batch <= 64 else []:
            b.call(gemm, [c(101), c(112 if ta else 111), c(112 if tb else 111), m_rows, n_arg,
                          k_arg,
                          alpha, b.gep(a_ptr, [i64(bi * m * k)]),
                          c(lda) if lda_rt is None else narrow(lda_rt),
                          b.gep(b_ptr, [i64(bi * k * n)]),
                          c(ldb) if ldb_rt is None else narrow(ldb_rt), beta,
                          b.gep(c_ptr, [i64(bi * m * n)]), c(n)])
        if batch > 64:
            def one(bi):
                b.call(gemm, [c(101), c(112 if ta else 111), c(112 if tb else 111), m_rows,
                              n_arg, k_arg, ll.Constant(fty, 1.0), b.gep(a_ptr, [b.mul(bi, i64(m * k))]),
                              c(lda), b.gep(b_ptr, [b.mul(bi, i64(k * n))]), c(ldb),
                              ll.Constant(fty, 0.0), b.gep(c_ptr, [b.mul(bi, i64(m * n))]),
                              c(n)])
            counted_loop(b, i64(0), i64(batch), one, name="batch")


# Products below this many flops (2*M*N*K over the batch) run whole on one thread of a
# segment that runs on several: the barrier after a shared product costs a few us, the time
# one core takes for ~0.5 Mflop (OpenBLAS reaches ~100 Gflop/s a core from ~1 Mflop on).
SHARE_MIN_FLOPS = 1 << 20
# A product of this many flops makes its segment run on several threads by itself: waking
# the workers costs 20-70 us (measured on 2 cores, benchmarks/threads.py), and one core takes
# ~80 us for 8 Mflop, so below this sharing only pays where kernels already share the call.
THREADS_MIN_FLOPS = 1 << 23
# Rows (or columns) of one piece are a multiple of this: OpenBLAS's kernels work on 4-16 rows
# at a time, and pieces that split its micro-tiles waste part of each.
_PIECE_ALIGN = 16


def gemm_flops(instr) -> int:
    batch, m, n, k, _, _ = gemm_layout(instr)
    return 2 * batch * m * n * k


def worth_sharing(instr) -> bool:
    """Is this dot large enough to share among a segment's threads (`SHARE_MIN_FLOPS`)?"""
    return gemm_flops(instr) >= SHARE_MIN_FLOPS


def worth_threads(instr) -> bool:
    """Is this dot alone worth running its segment on several threads (`THREADS_MIN_FLOPS`)?"""
    return gemm_flops(instr) >= THREADS_MIN_FLOPS


def pieces(batch, m, n, threads):
    """How a product of `batch` m x n results is cut for up to `threads` threads: (axis, per
    product, size) where axis is "batch" (whole products), "rows" or "cols", `per` the pieces
    of one product and `size` the rows or columns of each (the last may be short)."""
    if batch >= threads:
        return "batch", 1, max(m, 1)
    want = -(-threads // batch)           # pieces per product so every thread has one
    if m >= want * _PIECE_ALIGN or m >= n:
        size = -(-(-(-m // want)) // _PIECE_ALIGN) * _PIECE_ALIGN
        return "rows", -(-m // size), size
    size = -(-(-(-n // want)) // _PIECE_ALIGN) * _PIECE_ALIGN
    return "cols", -(-n // size), size


def _shared_gemm(b, gemm, layout, int_t, fty, a_ptr, b_ptr, c_ptr, tid, nthreads, m_rows,
                 n_cols=None, k_arg=None, addend=None, alpha=None, lda_rt=None, ldb_rt=None,
                 cut=None):
    """C[bi] = A[bi] @ B[bi], cut into `pieces`, thread `tid` computing a contiguous run of
    them with one-thread GEMMs. `m_rows`, `n_cols`: run-time row and column counts (bucketed
    programs) or None; `k_arg`: the contracted size as BLAS takes it; `lda_rt`, `ldb_rt`:
    run-time row strides of A and B (else the capacity's). `addend`: C = alpha *
    A @ B + addend instead, each piece of C first copied from the addend by the thread whose
    GEMM then adds the product to it (beta = 1)."""
    from . import pool
    batch, m, n, k, ta, tb = layout
    fty_bytes = 8 if isinstance(fty, ll.DoubleType) else 4
    # `cut`: the shares the pieces are for (claimed shares, `cpu.claims`, may be several a
    # thread); by default the threads.
    axis, per, size = pieces(batch, m, n, cut or pool.threads())
    # Static pieces of a plain product go to the register-tiled kernel (`small_gemm`) where
    # each piece fits it: one definition per piece shape (whole pieces and the last one).
    # A run-time K (a bucketed program contracting a dynamic axis) and A's run-time row
    # stride are arguments of the kernel (`small_gemm.call`'s `k_lda`); B's size is checked
    # at the capacity's K.
    small, k_lda = None, None
    if m_rows is None and n_cols is None and addend is None and ldb_rt is None and \
            not ta and not tb:
        if lda_rt is not None or not (k_arg is None or isinstance(k_arg, ll.Constant)):
            k_val = i64(k) if k_arg is None or isinstance(k_arg, ll.Constant) else k_arg
            if k_val.type != I64:
                k_val = b.sext(k_val, I64)
            k_lda = (k_val, i64(k) if lda_rt is None else lda_rt)
        axis, per, size = _small_pieces(batch, m, n, k, fty_bytes, axis, per, size)
        if axis == "rows":
            shapes = [(size, n, k), (m - (per - 1) * size, n, k)]
        elif axis == "cols":
            shapes = [(m, size, k), (m, n - (per - 1) * size, k)]
        else:
            shapes = [(m, n, k)] * 2
        if all(small_gemm.shape_fits(*s, fty_bytes) for s in shapes):
            small = shapes
    total = i64(batch * per)
    share = b.sdiv(b.add(total, b.sub(nthreads, i64(1))), nthreads)
    first = _min(b, b.mul(tid, share), total)
    last = _min(b, b.add(first, share), total)
    c = lambda v: ll.Constant(int_t, v)  # noqa: E731
    narrow = (lambda v: v) if int_t.width == 64 else (lambda v: b.trunc(v, int_t))  # noqa: E731
    lda, ldb = (m if ta else k), (k if tb else n)
    flags = [c(101), c(112 if ta else 111), c(112 if tb else 111)]
    step = i64(size)
    true = m_rows if axis == "rows" else n_cols if axis == "cols" else None
    if true is not None:
        # Pieces of the true extent (aligned), not of the capacity: else the first thread
        # would take most of a bucketed product.
        step = b.sdiv(b.add(true, i64(per - 1)), i64(per))
        step = b.mul(b.sdiv(b.add(step, i64(_PIECE_ALIGN - 1)), i64(_PIECE_ALIGN)),
                     i64(_PIECE_ALIGN))
        step = b.select(b.icmp_signed("<", step, i64(_PIECE_ALIGN)), i64(_PIECE_ALIGN), step)

    def piece(p):
        bi = b.sdiv(p, i64(per))
        lo = b.mul(b.srem(p, i64(per)), step)
        a_at = b.gep(a_ptr, [b.mul(bi, i64(m * k))])
        b_at = b.gep(b_ptr, [b.mul(bi, i64(k * n))])
        c_at = b.gep(c_ptr, [b.mul(bi, i64(m * n))])
        rows = i64(m) if m_rows is None else m_rows
        cols = i64(n) if n_cols is None else n_cols
        if axis == "rows":
            hi = _min(b, b.add(lo, step), rows)
            lo = _min(b, lo, hi)
            a_at = b.gep(a_at, [lo if ta else b.mul(lo, i64(k) if lda_rt is None else lda_rt)])
            c_at = b.gep(c_at, [b.mul(lo, i64(n))])
            rows = b.sub(hi, lo)
        elif axis == "cols":
            hi = _min(b, b.add(lo, step), cols)
            lo = _min(b, lo, hi)
            b_at = b.gep(b_at, [b.mul(lo, i64(k) if ldb_rt is None else ldb_rt) if tb else lo])
            c_at = b.gep(c_at, [lo])
            cols = b.sub(hi, lo)
        nonempty = b.and_(b.icmp_signed(">", rows, i64(0)), b.icmp_signed(">", cols, i64(0)))
        if small is not None:
            _small_piece(b, small, a_at, b_at, c_at, rows if axis == "rows" else cols,
                         (k, n, n), fty_bytes, k_lda)
            return
        with b.if_then(nonempty):
            if addend is not None:
                offset = b.ptrtoint(c_at, I64)
                offset = b.sdiv(b.sub(offset, b.ptrtoint(c_ptr, I64)), i64(fty_bytes))
                _copy_block(b, b.module, c_at, b.gep(addend, [offset]), rows, cols, n,
                            fty_bytes)
            b.call(gemm, flags + [narrow(rows), narrow(cols), c(k) if k_arg is None else k_arg,
                                  ll.Constant(fty, 1.0) if alpha is None else alpha,
                                  a_at, c(max(lda, 1)) if lda_rt is None else narrow(lda_rt),
                                  b_at, c(max(ldb, 1)) if ldb_rt is None else narrow(ldb_rt),
                                  ll.Constant(fty, 0.0 if addend is None else 1.0), c_at,
                                  c(max(n, 1))])
    counted_loop(b, first, last, piece, name="piece")


# How pieces of products the register-tiled kernel takes are cut: "pieces" as for BLAS, or
# "cols" (each thread reads all of A and its columns of B, so the part of B a core keeps in
# its L2 across a loop's steps is 1 / threads of it).
SMALL_SPLIT = "pieces"


def _small_pieces(batch, m, n, k, itemsize, axis, per, size):
    """(axis, per, size) of the pieces of a product for the register-tiled kernel."""
    if SMALL_SPLIT != "cols" or axis != "rows" or batch != 1:
        return axis, per, size
    want = per
    lanes = small_gemm.vector_bytes() // itemsize
    csize = -(-(-(-n // want)) // max(_PIECE_ALIGN, lanes)) * max(_PIECE_ALIGN, lanes)
    return "cols", -(-n // csize), csize


def _small_piece(b, shapes, a_at, b_at, c_at, extent, strides, itemsize, k_lda=None):
    """One piece through `small_gemm`: `shapes` (whole piece, last piece); `extent`: this
    piece's rows or columns (whichever the pieces cut), telling the two apart; `k_lda`:
    run-time (K, lda), or None."""
    (full, last) = shapes
    mod = b.module
    if full == last:
        small_gemm.call(b, mod, full, itemsize, a_at, b_at, c_at, strides, k_lda)
        return
    cut = 0 if full[0] != last[0] else 1
    with b.if_else(b.icmp_signed("==", extent, i64(full[cut]))) as (whole, tail):
        with whole:
            small_gemm.call(b, mod, full, itemsize, a_at, b_at, c_at, strides, k_lda)
        with tail:
            nonempty = b.icmp_signed(">", extent, i64(0))
            with b.if_then(nonempty):
                small_gemm.call(b, mod, last, itemsize, a_at, b_at, c_at, strides, k_lda)


def gemm_blocks(b, mod, step, gemm, mnkt, int_t, ptr, math, name, tid, nthreads, m_rt=None,
                k_rt=None):
    """For each block of rows: the prologue kernel writes the block of the left operand to
    this thread's scratch block; GEMM of the block (into the epilogue's scratch block, or the
    result); the epilogue kernel on the same rows, reading the block from scratch (still in
    cache). Thread `tid` takes a contiguous share of the blocks and its own scratch blocks.
    `m_rt`: a run-time count of the rows anything reads (blocks past it are skipped); `k_rt`:
    the run-time contracted size, where the prologue need not compute past it."""
    pro, ep = step.prologue, step.epilogue
    m, n, k, ta = mnkt
    rows = (pro or ep).rows
    if pro is not None:
        # A row kernel making an (M, K) left operand stops each row at the true K, which the
        # GEMM stops at too (a flat kernel's range is in elements: it computes them all).
        cut = k_rt is not None and not ta and pro.unit_elems != 1 and \
            len(pro.step.instr.shape.dims) == 2
        pk = emit_fusion(mod, f"{name}.prologue", pro.step.instr.called[0], math,
                         out_window=pro.unit_elems, bounds=(1,) if cut else ())
        a_block = b.gep(ptr(step.inputs[0]), [b.mul(tid, i64(rows * k))])
        pro_args = [ptr(i) for i in pro.step.inputs] + [a_block] + ([k_rt] if cut else [])
    else:
        a_ptr = ptr(step.inputs[0])
    if ep is not None:
        ks = ep.step
        kernel = emit_fusion(mod, f"{name}.epilogue", ks.instr.called[0], math,
                             in_place=ks.in_place, window=(ep.window, ep.unit_elems))
        scratch = b.gep(ptr(step.outputs[0]), [b.mul(tid, i64(rows * n))])
        args = [scratch if j == ep.window else ptr(i) for j, i in enumerate(ks.inputs)] + \
            [ptr(ks.outputs[0])]
    else:
        c_ptr = ptr(step.outputs[0])
    blocks = i64(-(-m // rows))
    if m_rt is not None:
        blocks = b.sdiv(b.add(m_rt, i64(rows - 1)), i64(rows))
    share = b.sdiv(b.add(blocks, b.sub(nthreads, i64(1))), nthreads)
    first = _min(b, b.mul(tid, share), blocks)
    last = _min(b, b.add(first, share), blocks)

    def units(r0, r1, unit_elems, width):
        """The kernel range [lo, hi) covering rows [r0, r1) of a (rows x width) matrix."""
        if unit_elems == 1:   # flat kernel: the range is in elements
            return b.mul(r0, i64(width)), b.mul(r1, i64(width))
        unit_rows = unit_elems // width
        return b.udiv(r0, i64(unit_rows)), b.udiv(r1, i64(unit_rows))

    def block(bi):
        r0 = b.mul(bi, i64(rows))
        r1 = _min(b, b.add(r0, i64(rows)), i64(m))
        count = b.sub(r1, r0)
        if pro is not None:
            b.call(pk.fn, pro_args + list(units(r0, r1, pro.unit_elems, k)))
            a_rows = a_block
        else:
            a_rows = b.gep(a_ptr, [r0 if ta else b.mul(r0, i64(k))])
        c_out = scratch if ep is not None else b.gep(c_ptr, [b.mul(r0, i64(n))])
        gemm(count if int_t.width == 64 else b.trunc(count, int_t), a_rows, c_out)
        if ep is not None:
            b.call(kernel.fn, args + list(units(r0, r1, ep.unit_elems, n)))
    counted_loop(b, first, last, block, name="block")


def _copy_block(b, mod, dst, src, rows, cols, ld, itemsize):
    """Copy a rows x cols block of a row-major matrix with `ld` elements a row from `src` to
    `dst` (both pointing at the block's first element): one memcpy when whole rows."""
    i8p = ll.PointerType(ll.IntType(8))
    fn = mod.globals.get("memcpy")
    if fn is None:
        fn = ll.Function(mod, ll.FunctionType(i8p, [i8p, i8p, I64]), "memcpy")
    whole = b.icmp_signed("==", cols, i64(ld))
    with b.if_else(whole) as (then, otherwise):
        with then:
            b.call(fn, [b.bitcast(dst, i8p), b.bitcast(src, i8p),
                        b.mul(b.mul(rows, cols), i64(itemsize))])
        with otherwise:
            def row(r):
                at = b.mul(r, i64(ld))
                b.call(fn, [b.bitcast(b.gep(dst, [at]), i8p), b.bitcast(b.gep(src, [at]), i8p),
                            b.mul(cols, i64(itemsize))])
            counted_loop(b, i64(0), rows, row, name="copyrow")


def can_share_blocks() -> bool:
    """Can segments run one-thread GEMMs on several threads (`one_thread_blas` works)?"""
    from . import blas
    try:
        return blas.load().controls_threads
    except blas.BlasUnavailableError:
        return False


def one_thread_blas():
    """A block in which BLAS runs each call on its calling thread (`blas.Blas.one_thread`)."""
    from . import blas
    return blas.load().one_thread()


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def threaded_blas(n):
    """A block in which BLAS (LAPACK) may use `n` threads (`blas.Blas.threaded`)."""
    from . import blas
    try:
        lib = blas.load()
    except blas.BlasUnavailableError:
        return contextlib.nullcontext()
    return lib.threaded(n) if lib.controls_threads else contextlib.nullcontext()
