"""Linear algebra from the CPU backend's native segments: LAPACK (and CBLAS ?trsm) calls.

A `lowering="library", library="lapack"` primitive (`ops.decompositions`) becomes a "library"
step (`LapackPlan.native_library`); the segment calls the routine once per matrix of the batch,
in a native loop, through the `externs` table (addresses from `cpu.blas`, the same OpenBLAS that
runs GEMM). jitcore's arrays are row-major and LAPACK's column-major: the memory of a row-major
A is the column-major A^T, which most routines can use as it is:
- cholesky: potrf on A^T (upper <-> lower): the factor comes out in place, no transpose;
- eigh: syevd/heevd on A^T = conj(A) (Hermitian): one in-place transpose of the vectors;
- svd: gesdd on A^T = U' S V'^H gives u = V'^T and vh = U'^T, which are U' and VT' as stored;
- triangular_solve: CBLAS's row-major ?trsm, on the output in place;
- lu and qr need A itself: it is transposed into scratch and the results transposed back.
Scratch (the transposed copy, pivots, LAPACK's work arrays, sized by a workspace query with
lwork = -1 at compile time) is a region of the call's workspace (`Step.region`), so concurrent
calls of one executable never share it. Post-processing is native too: NaN for a matrix whose
factorization failed (non-positive-definite, no convergence), the unused triangle zeroed,
pivots made 0-based int32 and the permutation computed from them.
Small real matrices (`matrix_loops.SMALL_N`) skip LAPACK: `cpu.matrix_loops` emits an LU and
a substitution loop per matrix, which for a batch of 4x4 systems costs less than one call each.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import PRIMITIVES

from ... import ir
from ..llvm.emitter import I1, I8, I32, I64, i64
from ..llvm.loops import counted_loop, entry_alloca
from ..plan.planner import Plan
from . import bf16_dot, fft
from . import matrix_loops as loops
from .blas import WorkspaceQuery

_I8P = ll.PointerType(I8)
_ALIGN = 64

# CBLAS enums (cblas.h).
_ROW_MAJOR, _NO_TRANS, _TRANS, _CONJ_TRANS = 101, 111, 112, 113
_UPPER, _LOWER, _NON_UNIT, _UNIT, _LEFT, _RIGHT = 121, 122, 131, 132, 141, 142


def _prefix(dtype):
    return {"f4": "s", "f8": "d", "c8": "c", "c16": "z"}[f"{dtype.kind}{dtype.itemsize}"]


def _routines(p):
    """The routines of type prefix `p` (s, d, c, z) that native code calls."""
    cx = p in "cz"
    return [p + "getrf", p + "potrf", p + "geqrf", p + ("ungqr" if cx else "orgqr"),
            p + ("heevd" if cx else "syevd"), p + "gesdd", "cblas_" + p + "trsm"]


EXTERNS = [name for p in "sdcz" for name in _routines(p)]


def _is_lapack(instr):
    prim = PRIMITIVES.get(instr.opcode)
    return prim is not None and prim.lowering == "library" and prim.library == "lapack"


def _matrix_dtype(instr):
    return instr.operands[0].shape.dtype


def supported(instr, names) -> bool:
    """Does native code run `instr` (its routines are among `names`, its dtype is one LAPACK
    has, no matrix is empty: those go to the reference, which knows their conventions)?"""
    if not _is_lapack(instr) or instr.opcode not in _EMITTERS:
        return False
    dt = _matrix_dtype(instr)
    if dt.kind not in "fc" or dt.itemsize not in ((4, 8) if dt.kind == "f" else (8, 16)):
        return False
    if any(o.shape.dtype != dt for o in instr.operands):
        return False
    if not all(n in names for n in _routines(_prefix(dt))):
        return False
    for o in instr.operands:
        if len(o.shape.dims) < 2 or 0 in o.shape.dims[-2:]:
            return False
    if instr.opcode == "triangular_solve":
        a, b = instr.operands
        na, nb = _batch(a.shape), _batch(b.shape)
        if na != nb and na != 1:
            return False
    return True


def _batch(shape):
    return int(np.prod(shape.dims[:-2], dtype=np.int64))


# --- the plan: scratch per library step -------------------------------------------------------

class LapackPlan(Plan):
    """The CPU plan: LAPACK primitives run natively when `lapack` (a `cpu.blas.Blas`) is given
    and `names` holds their routines; each such step gets its scratch as a workspace region
    (`step.region`) and its layout (`step.lapack`, also in `layouts` for the program key)."""

    native_sorts = True   # sorts and cumulative scans as native steps (`llvm.sort`, `llvm.scan`)

    def __init__(self, module, donated=frozenset(), blas=None, threads=1, lapack=None,
                 names=(), gemm_fusion=True):
        self._lapack, self._names = lapack, frozenset(names)
        self.layouts = []
        super().__init__(module, donated, blas=blas, threads=threads, gemm_fusion=gemm_fusion)

    def native_library(self, instr):
        if fft.supported(instr):   # the native FFT (`cpu.fft`) needs no library
            return True
        return self._lapack is not None and supported(instr, self._names)

    def _make_step(self, instr, ins, outs, nested=False):
        step = super()._make_step(instr, ins, outs, nested)
        if step.kind == "dot":   # a bfloat16 dot run natively: its scratch (`cpu.bf16_dot`)
            bf16_dot.prepare(self, step, nested)
        elif step.kind == "library" and instr.opcode == "fft":
            temp = "subtemp" if nested else "temp"
            self.layouts.append(("fft", fft.prepare(
                self, step,
                lambda nbytes: self._new(temp, ir.Shape(np.dtype(np.uint8), (nbytes,))),
                lambda arr: self._new("const", ir.Shape(arr.dtype, arr.shape), value=arr))))
            step.place = lambda base: None
        elif step.kind == "library":
            layout = _LAYOUTS[instr.opcode](instr, self._lapack)
            step.lapack = layout
            self.layouts.append((instr.opcode, sorted(layout.items())))
            step.region = self._new("subtemp" if nested else "temp", ir.Shape(
                np.dtype(np.uint8), (max(layout["bytes"], 1),)))
            step.place = lambda base: None   # its own offset is all it needs
        return step


class _Layout(dict):
    """Byte offsets of the parts of a step's scratch (each 64-byte aligned), and sizes."""

    def __init__(self):
        super().__init__(bytes=0)

    def part(self, name, nbytes):
        self[name] = self["bytes"]
        self["bytes"] += -(-max(int(nbytes), 1) // _ALIGN) * _ALIGN


def _dims(instr):
    *_, m, n = instr.operands[0].shape.dims
    return m, n


def _layout_cholesky(instr, lib):
    return _Layout()


def _layout_triangular_solve(instr, lib):
    lay = _Layout()
    a = instr.operands[0].shape
    at = instr.attrs
    if a.dtype.kind == "c" and at.get("conjugate_a") and not at.get("transpose_a"):
        lay.part("conj", a.dims[-1] ** 2 * a.dtype.itemsize)   # conj(A): no CBLAS flag for it
    return lay


def _layout_lu(instr, lib):
    m, n = _dims(instr)
    dt = _matrix_dtype(instr)
    lay = _Layout()
    if not loops.small_lu(instr):
        lay.part("col", m * n * dt.itemsize)
    lay.part("ipiv", min(m, n) * lib.int_bits // 8)
    return lay


def _layout_qr(instr, lib):
    m, n = _dims(instr)
    k = min(m, n)
    qcols = m if instr.attrs.get("full_matrices", True) else k
    dt = _matrix_dtype(instr)
    p = _prefix(dt)
    q = WorkspaceQuery(lib, dt)
    lwork = max(q.work(p + "geqrf", q.i(m), q.i(n), q.a(), q.i(m), q.a(), q.w(), q.i(-1),
                       q.info()),
                q.work(p + ("ungqr" if dt.kind == "c" else "orgqr"), q.i(m), q.i(qcols), q.i(k),
                       q.a(), q.i(m), q.a(), q.w(), q.i(-1), q.info()))
    lay = _Layout()
    lay.part("col", m * max(n, qcols) * dt.itemsize)
    lay.part("tau", k * dt.itemsize)
    lay.part("work", lwork * dt.itemsize)
    lay["lwork"] = lwork
    return lay


def _layout_eigh(instr, lib):
    n, _ = _dims(instr)
    dt = _matrix_dtype(instr)
    p = _prefix(dt)
    q = WorkspaceQuery(lib, dt)
    if dt.kind == "c":
        q.call(p + "heevd", q.c("V"), q.c("U"), q.i(n), q.a(), q.i(n), q.r(), q.w(), q.i(-1),
               q.rw(), q.i(-1), q.iw(), q.i(-1), q.info(), 1, 1)
    else:
        q.call(p + "syevd", q.c("V"), q.c("U"), q.i(n), q.a(), q.i(n), q.r(), q.w(), q.i(-1),
               q.iw(), q.i(-1), q.info(), 1, 1)
    lay = _Layout()
    lay.part("work", q.lwork() * dt.itemsize)
    lay["lwork"] = q.lwork()
    lay.part("iwork", q.liwork() * lib.int_bits // 8)
    lay["liwork"] = q.liwork()
    if dt.kind == "c":
        lay.part("rwork", q.lrwork() * dt.itemsize // 2)
        lay["lrwork"] = q.lrwork()
    return lay


def _svd_jobz(instr):
    at = instr.attrs
    if not at.get("compute_uv", True):
        return "N"
    return "A" if at.get("full_matrices", True) else "S"


def _layout_svd(instr, lib):
    m, n = _dims(instr)
    k, big = min(m, n), max(m, n)
    dt = _matrix_dtype(instr)
    p = _prefix(dt)
    jobz = _svd_jobz(instr)
    q = WorkspaceQuery(lib, dt)
    ldvt = m if jobz == "A" else k if jobz == "S" else 1
    ldu = n if jobz != "N" else 1
    args = [q.c(jobz), q.i(n), q.i(m), q.a(), q.i(n), q.r(), q.a(), q.i(ldu), q.a(), q.i(ldvt),
            q.w(), q.i(-1)]
    args += ([q.rw()] if dt.kind == "c" else []) + [q.iw(), q.info(), 1]
    q.call(p + "gesdd", *args)
    lay = _Layout()
    lay.part("copy", m * n * dt.itemsize)
    lay.part("work", q.lwork() * dt.itemsize)
    lay["lwork"] = q.lwork()
    lay.part("iwork", 8 * k * lib.int_bits // 8)
    if dt.kind == "c":
        # zgesdd's documented minimum (LAPACK 3.7+), which its query does not report.
        lrwork = max(7 * k, 5 * k * k + 7 * k, 2 * big * k + 2 * k * k + k)
        lay.part("rwork", lrwork * dt.itemsize // 2)
    return lay


_LAYOUTS = {"cholesky": _layout_cholesky, "triangular_solve": _layout_triangular_solve,
            "lu": _layout_lu, "qr": _layout_qr, "eigh": _layout_eigh, "svd": _layout_svd}


# --- emission ----------------------------------------------------------------------------------

class _Context:
    """What a library step's code needs from the segment: the builder, `raw(bid)` (an i8*
    to a buffer), the externs table and its slots, and LAPACK's integer type."""

    def __init__(self, b, raw, externs, slots, int_t):
        self.b, self.raw, self.externs, self.slots, self.int_t = b, raw, externs, slots, int_t

    def typed(self, bid, t, offset=0):
        p = self.raw(bid)
        if offset:
            p = self.b.gep(p, [i64(offset)])
        return self.b.bitcast(p, ll.PointerType(t))

    def _ref(self, t, value, name):
        slot = entry_alloca(self.b, t, name)
        self.b.store(value, slot)
        return slot

    def int(self, v):
        return self._ref(self.int_t, ll.Constant(self.int_t, int(v)), "arg")

    def char(self, ch):
        return self._ref(I8, ll.Constant(I8, ord(ch)), "ch")

    def routine(self, name, arg_types):
        ty = ll.FunctionType(ll.VoidType(), arg_types)
        raw = self.b.load(self.b.gep(self.externs, [i64(self.slots[name])]))
        return self.b.bitcast(raw, ll.PointerType(ty))

    def lapack(self, name, args, nchars=0):
        """Call the Fortran routine `name` with pointer `args` (then INFO, then the hidden
        lengths of its `nchars` CHARACTER arguments); returns INFO."""
        info = entry_alloca(self.b, self.int_t, "info")
        self.b.store(ll.Constant(self.int_t, 0), info)
        args = [self.b.bitcast(a, _I8P) for a in args + [info]]
        fn = self.routine(name, [_I8P] * len(args) + [I64] * nchars)
        self.b.call(fn, args + [i64(1)] * nchars)
        return self.b.load(info)

    def memcpy(self, dst, src, nbytes):
        mod = self.b.module
        fn = mod.globals.get("memcpy")
        if fn is None:
            fn = ll.Function(mod, ll.FunctionType(_I8P, [_I8P, _I8P, I64]), "memcpy")
        if nbytes:
            self.b.call(fn, [self.b.bitcast(dst, _I8P), self.b.bitcast(src, _I8P), i64(nbytes)])

    def batch(self, count, body):
        """body(offset(elements) -> i64 scaled) for each of `count` matrices."""
        counted_loop(self.b, i64(0), i64(count),
                     lambda bi: body(lambda per: self.b.mul(bi, i64(per))), name="batch")

    def failed(self, info):
        return self.b.icmp_signed("!=", info, ll.Constant(self.int_t, 0))


def emit(b, step, raw, externs, slots, int_t):
    """The code of the library step `step` at the builder's position (see the module
    docstring)."""
    _EMITTERS[step.instr.opcode](_Context(b, raw, externs, slots, int_t), step)


class _Operand:
    """Element type facts of a step's matrices."""

    def __init__(self, instr):
        self.dtype = _matrix_dtype(instr)
        self.cx = self.dtype.kind == "c"
        self.rt = loops.real_type(self.dtype)
        self.p = _prefix(self.dtype)
        self.reals = 2 if self.cx else 1     # reals per element


def _emit_cholesky(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    n = instr.shape.dims[-1]
    lower = instr.attrs.get("lower", True)
    src, dst = c.typed(step.inputs[0], t.rt), c.typed(step.outputs[0], t.rt)
    per = n * n * t.reals

    def one(at):
        a, o = b.gep(src, [at(per)]), b.gep(dst, [at(per)])
        c.memcpy(o, a, n * n * t.dtype.itemsize)
        # potrf on the column-major A^T: its upper triangle is A's lower one (see top).
        info = c.lapack(t.p + "potrf", [c.char("U" if lower else "L"), c.int(n), o, c.int(n)], 1)
        with b.if_then(c.failed(info)):   # NaN in the factor's triangle, zeros above (JAX's)
            loops.fill(b, o, n * n, float("nan"), t.rt, t.cx)
        loops.zero_triangle(b, o, n, n, lower, t.rt, t.cx)
    c.batch(_batch(instr.shape), one)


def _emit_lu(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    m, n = _dims(instr)
    k = min(m, n)
    lay = step.lapack
    src = c.typed(step.inputs[0], t.rt)
    lu_out, piv_out, perm_out = (c.typed(step.outputs[0], t.rt),
                                 c.typed(step.outputs[1], I32), c.typed(step.outputs[2], I32))
    ipiv = c.typed(step.region, c.int_t, lay["ipiv"])
    inline = loops.small_lu(instr)
    col = None if inline else c.typed(step.region, t.rt, lay["col"])
    per = m * n * t.reals

    def one(at):
        a, o = b.gep(src, [at(per)]), b.gep(lu_out, [at(per)])
        piv, perm = b.gep(piv_out, [at(k)]), b.gep(perm_out, [at(m)])
        if inline:
            loops.lu_inline(b, a, o, m, n, piv, perm)
            return
        loops.transpose(b, a, col, m, n, t.cx)       # column-major A
        c.lapack(t.p + "getrf", [c.int(m), c.int(n), col, c.int(m), ipiv])
        loops.transpose(b, col, o, n, m, t.cx)

        def pivot(i):     # 1-based LAPACK integers -> 0-based int32
            v = b.load(b.gep(ipiv, [i]))
            v = b.trunc(v, I32) if c.int_t.width > 32 else v
            b.store(b.sub(v, ll.Constant(I32, 1)), b.gep(piv, [i]))
        counted_loop(b, i64(0), i64(k), pivot, name="piv")
        # The permutation: the identity with the pivots' row swaps applied in order.
        counted_loop(b, i64(0), i64(m), lambda i: b.store(b.trunc(i, I32), b.gep(perm, [i])),
                     name="perm0")

        def swap(i):
            p = b.sext(b.load(b.gep(piv, [i])), I64)
            x, y = b.gep(perm, [i]), b.gep(perm, [p])
            vx, vy = b.load(x), b.load(y)
            b.store(vy, x)
            b.store(vx, y)
        counted_loop(b, i64(0), i64(k), swap, name="perm")
    c.batch(_batch(instr.operands[0].shape), one)


def _emit_triangular_solve(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    at_ = instr.attrs
    left, lower = at_.get("left_side", False), at_.get("lower", False)
    trans, conj = at_.get("transpose_a", False), at_.get("conjugate_a", False) and t.cx
    unit = at_.get("unit_diagonal", False)
    ash, bsh = instr.operands[0].shape, instr.operands[1].shape
    k = ash.dims[-1]
    rows, cols = bsh.dims[-2:]
    a_src, b_src = c.typed(step.inputs[0], t.rt), c.typed(step.inputs[1], t.rt)
    out = c.typed(step.outputs[0], t.rt)
    a_per = k * k * t.reals if _batch(ash) == _batch(bsh) else 0
    b_per = rows * cols * t.reals
    inline = loops.small_triangular_solve(instr)
    int_t = c.int_t
    if not inline:
        alpha_t = ll.PointerType(I8) if t.cx else t.rt
        fn = c.routine("cblas_" + t.p + "trsm", [I32] * 5 + [int_t, int_t, alpha_t, _I8P, int_t,
                                                             _I8P, int_t])
        if t.cx:
            one_c = entry_alloca(b, ll.ArrayType(t.rt, 2), "alpha")
            b.store(ll.Constant(ll.ArrayType(t.rt, 2), [1.0, 0.0]), one_c)
            alpha = b.bitcast(one_c, _I8P)
        else:
            alpha = ll.Constant(t.rt, 1.0)
        scratch = c.typed(step.region, t.rt, step.lapack["conj"]) if conj and not trans else None

    def one(at):
        a, bb, o = b.gep(a_src, [at(a_per)]), b.gep(b_src, [at(b_per)]), b.gep(out, [at(b_per)])
        if inline:
            loops.triangular_solve_inline(b, a, bb, o, k, rows, cols, left, lower, trans, unit)
            return
        c.memcpy(o, bb, rows * cols * t.dtype.itemsize)
        uplo, op = lower, (_CONJ_TRANS if conj else _TRANS) if trans else _NO_TRANS
        if scratch is not None:
            # conj(A) has no CBLAS flag: it is (A^H)^T, with A^H copied and its triangle flipped.
            loops.transpose(b, a, scratch, k, k, True, conj=True)
            a, uplo, op = scratch, not lower, _TRANS
        i32 = lambda v: ll.Constant(I32, v)  # noqa: E731
        b.call(fn, [i32(_ROW_MAJOR), i32(_LEFT if left else _RIGHT), i32(_LOWER if uplo else _UPPER),
                    i32(op), i32(_UNIT if unit else _NON_UNIT), ll.Constant(int_t, rows),
                    ll.Constant(int_t, cols), alpha, b.bitcast(a, _I8P), ll.Constant(int_t, k),
                    b.bitcast(o, _I8P), ll.Constant(int_t, cols)])
    c.batch(_batch(bsh), one)


def _emit_qr(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    m, n = _dims(instr)
    k = min(m, n)
    full = instr.attrs.get("full_matrices", True)
    qcols = m if full else k
    lay = step.lapack
    src = c.typed(step.inputs[0], t.rt)
    q_out, r_out = c.typed(step.outputs[0], t.rt), c.typed(step.outputs[1], t.rt)
    col, tau, work = (c.typed(step.region, t.rt, lay[p]) for p in ("col", "tau", "work"))
    zero = [ll.Constant(t.rt, 0.0)] * t.reals

    def one(at):
        a = b.gep(src, [at(m * n * t.reals)])
        q, r = b.gep(q_out, [at(m * qcols * t.reals)]), b.gep(r_out, [at(qcols * n * t.reals)])
        loops.transpose(b, a, col, m, n, t.cx)
        c.lapack(t.p + "geqrf", [c.int(m), c.int(n), col, c.int(m), tau, work,
                                 c.int(lay["lwork"])])

        def r_row(i):      # R = the upper triangle of the factored column-major matrix
            def r_col(j):
                v = loops.load(b, col, b.add(b.mul(j, i64(m)), i), t.cx)
                upper = b.icmp_signed(">=", j, i)
                loops.store(b, r, b.add(b.mul(i, i64(n)), j),
                            [b.select(upper, x, z) for x, z in zip(v, zero)], t.cx)
            counted_loop(b, i64(0), i64(n), r_col, name="r.j")
        counted_loop(b, i64(0), i64(qcols), r_row, name="r.i")
        c.lapack(t.p + ("ungqr" if t.cx else "orgqr"), [c.int(m), c.int(qcols), c.int(k), col,
                                                       c.int(m), tau, work, c.int(lay["lwork"])])
        loops.transpose(b, col, q, qcols, m, t.cx)
    c.batch(_batch(instr.operands[0].shape), one)


def _emit_eigh(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    n, _ = _dims(instr)
    lay = step.lapack
    lower = instr.attrs.get("lower", True)
    src = c.typed(step.inputs[0], t.rt)
    v_out, w_out = c.typed(step.outputs[0], t.rt), c.typed(step.outputs[1], t.rt)
    work = c.typed(step.region, t.rt, lay["work"])
    iwork = c.typed(step.region, c.int_t, lay["iwork"])
    rwork = c.typed(step.region, t.rt, lay["rwork"]) if t.cx else None
    bad = entry_alloca(b, I1, "bad")

    def one(at):
        a, v, w = (b.gep(src, [at(n * n * t.reals)]), b.gep(v_out, [at(n * n * t.reals)]),
                   b.gep(w_out, [at(n)]))
        c.memcpy(v, a, n * n * t.dtype.itemsize)
        finite = loops.all_finite(b, a, n * n, t.cx)
        b.store(b.not_(finite), bad)
        with b.if_then(finite):
            # On A^T = conj(A) (upper <-> lower): its eigenvectors are conj(V), stored by
            # columns, i.e. the rows of the row-major result.
            args = [c.char("V"), c.char("U" if lower else "L"), c.int(n), v, c.int(n), w, work,
                    c.int(lay["lwork"])]
            if t.cx:
                args += [rwork, c.int(lay["lrwork"])]
            info = c.lapack(t.p + ("heevd" if t.cx else "syevd"),
                            args + [iwork, c.int(lay["liwork"])], 2)
            b.store(c.failed(info), bad)
        with b.if_else(b.load(bad)) as (failed, ok):
            with failed:
                loops.fill(b, v, n * n, float("nan"), t.rt, t.cx)
                loops.fill(b, w, n, float("nan"), t.rt, False)
            with ok:
                loops.transpose_in_place(b, v, n, t.cx, conj=True)
    c.batch(_batch(instr.operands[0].shape), one)


def _emit_svd(c, step):
    b, instr = c.b, step.instr
    t = _Operand(instr)
    m, n = _dims(instr)
    k = min(m, n)
    lay = step.lapack
    jobz = _svd_jobz(instr)
    ucols = m if jobz == "A" else k
    vrows = n if jobz == "A" else k
    src = c.typed(step.inputs[0], t.rt)
    s_out = c.typed(step.outputs[0], t.rt)
    u_out = c.typed(step.outputs[1], t.rt) if jobz != "N" else None
    vh_out = c.typed(step.outputs[2], t.rt) if jobz != "N" else None
    copy, work = c.typed(step.region, t.rt, lay["copy"]), c.typed(step.region, t.rt, lay["work"])
    iwork = c.typed(step.region, c.int_t, lay["iwork"])
    rwork = c.typed(step.region, t.rt, lay["rwork"]) if t.cx else None
    bad = entry_alloca(b, I1, "bad")

    def one(at):
        a, s = b.gep(src, [at(m * n * t.reals)]), b.gep(s_out, [at(k)])
        u = vh = work     # not referenced when jobz is N
        if jobz != "N":
            u = b.gep(u_out, [at(m * ucols * t.reals)])
            vh = b.gep(vh_out, [at(vrows * n * t.reals)])
        c.memcpy(copy, a, m * n * t.dtype.itemsize)
        finite = loops.all_finite(b, a, m * n, t.cx)
        b.store(b.not_(finite), bad)
        with b.if_then(finite):
            # gesdd of the column-major A^T = U' S V'^H: u = V'^T is VT' as stored, vh = U'^T
            # is U' as stored (see top).
            args = [c.char(jobz), c.int(n), c.int(m), copy, c.int(n), s,
                    vh, c.int(n if jobz != "N" else 1), u, c.int(ucols if jobz != "N" else 1),
                    work, c.int(lay["lwork"])] + ([rwork] if t.cx else []) + [iwork]
            b.store(c.failed(c.lapack(t.p + "gesdd", args, 1)), bad)
        with b.if_then(b.load(bad)):
            loops.fill(b, s, k, float("nan"), t.rt, False)
            if jobz != "N":
                loops.fill(b, u, m * ucols, float("nan"), t.rt, t.cx)
                loops.fill(b, vh, vrows * n, float("nan"), t.rt, t.cx)
    c.batch(_batch(instr.operands[0].shape), one)


_EMITTERS = {"cholesky": _emit_cholesky, "triangular_solve": _emit_triangular_solve,
             "lu": _emit_lu, "qr": _emit_qr, "eigh": _emit_eigh, "svd": _emit_svd}
