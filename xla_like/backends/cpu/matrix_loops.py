"""LLVM loops over row-major matrices, for the CPU backend's linear-algebra steps (`cpu.lapack`):
layout changes around LAPACK calls (transposes, triangles, NaN fill, finiteness checks), and
the small-matrix path, an LU with partial pivoting and a triangular solve emitted inline.

A batch of tiny matrices (4x4 solves) costs about a microsecond per LAPACK call (argument
checks, dispatch, OpenBLAS's thread decision), several times NumPy's whole per-matrix cost; the
inline code is unrolled when it is emitted, the matrix held in registers, so a 4x4 LU is about a
hundred branch-free instructions. It makes LAPACK's choices: the first largest |a_ik| pivots,
a zero pivot column is skipped, the column is scaled by the pivot's reciprocal (the small path
is for real dtypes only).

Complex elements are pairs of reals: pointers here are to the real type, and an element index
`e` addresses the reals `2e` and `2e + 1`.
"""
from __future__ import annotations

from llvmlite import ir as ll

from ..llvm.emitter import F32, F64, I1, I32, i64, intrinsic
from ..llvm.loops import counted_loop, entry_alloca

SMALL_N = 8   # matrices up to this size (both dims) take the inline path


def real_type(dtype):
    return F32 if dtype.itemsize == 4 or (dtype.kind == "c" and dtype.itemsize == 8) else F64


def load(b, p, e, cx):
    if not cx:
        return [b.load(b.gep(p, [e]))]
    k = b.mul(e, i64(2))
    return [b.load(b.gep(p, [k])), b.load(b.gep(p, [b.add(k, i64(1))]))]


def store(b, p, e, vals, cx):
    if not cx:
        b.store(vals[0], b.gep(p, [e]))
        return
    k = b.mul(e, i64(2))
    b.store(vals[0], b.gep(p, [k]))
    b.store(vals[1], b.gep(p, [b.add(k, i64(1))]))


def _conj(b, vals, on):
    return [vals[0], b.fneg(vals[1])] if on and len(vals) == 2 else vals


def _at(b, i, stride, j):
    return b.add(b.mul(i, i64(stride)), j)


def transpose(b, src, dst, rows, cols, cx, conj=False):
    """dst (cols x rows) = src (rows x cols) transposed (conjugated if `conj`): the column-major
    copy of a row-major matrix, or back."""
    def row(i):
        def col(j):
            store(b, dst, _at(b, j, rows, i), _conj(b, load(b, src, _at(b, i, cols, j), cx), conj),
                  cx)
        counted_loop(b, i64(0), i64(cols), col, name="tc")
    counted_loop(b, i64(0), i64(rows), row, name="tr")


def transpose_in_place(b, p, n, cx, conj=False):
    """The n x n matrix at `p` becomes its transpose (conjugate transpose if `conj`)."""
    def row(i):
        if conj and cx:
            store(b, p, _at(b, i, n, i), _conj(b, load(b, p, _at(b, i, n, i), cx), True), cx)

        def col(j):
            x, y = _at(b, i, n, j), _at(b, j, n, i)
            vx, vy = load(b, p, x, cx), load(b, p, y, cx)
            store(b, p, x, _conj(b, vy, conj), cx)
            store(b, p, y, _conj(b, vx, conj), cx)
        counted_loop(b, b.add(i, i64(1)), i64(n), col, name="ipc")
    counted_loop(b, i64(0), i64(n), row, name="ipr")


def fill(b, p, count, value, rt, cx):
    """`count` elements at `p` set to `value` (both parts, for complex)."""
    reals = count * (2 if cx else 1)
    counted_loop(b, i64(0), i64(reals),
                 lambda e: b.store(ll.Constant(rt, value), b.gep(p, [e])), name="fill")


def zero_triangle(b, p, rows, cols, upper, rt, cx):
    """Zero the strictly upper (`upper`) or strictly lower triangle of a rows x cols matrix."""
    zero = [ll.Constant(rt, 0.0)] * (2 if cx else 1)

    def row(i):
        lo, hi = (b.add(i, i64(1)), i64(cols)) if upper else (i64(0), _min(b, i, i64(cols)))
        counted_loop(b, lo, hi, lambda j: store(b, p, _at(b, i, cols, j), zero, cx), name="zc")
    counted_loop(b, i64(0), i64(rows), row, name="zr")


def all_finite(b, p, count, cx):
    """i1: no element of the `count` at `p` is inf or NaN (x - x is 0 exactly for finite x)."""
    flag = entry_alloca(b, I1, "finite")
    b.store(ll.Constant(I1, 1), flag)

    def one(e):
        x = b.load(b.gep(p, [e]))
        ok = b.fcmp_ordered("==", b.fsub(x, x), ll.Constant(x.type, 0.0))
        b.store(b.and_(b.load(flag), ok), flag)
    counted_loop(b, i64(0), i64(count * (2 if cx else 1)), one, name="finite")
    return b.load(flag)


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


# --- the small-matrix path -------------------------------------------------------------------

def small_lu(instr) -> bool:
    """Does `lu` take the inline path (real, both dims <= SMALL_N)?"""
    *_, m, n = instr.operands[0].shape.dims
    return instr.operands[0].shape.dtype.kind == "f" and m <= SMALL_N and n <= SMALL_N


def small_triangular_solve(instr) -> bool:
    """Does `triangular_solve` take the inline path (real, a at most SMALL_N square, b's
    other dimension at most 4 * SMALL_N)?"""
    a, bb = instr.operands
    return a.shape.dtype.kind == "f" and a.shape.dims[-1] <= SMALL_N and \
        max(bb.shape.dims[-2:]) <= 4 * SMALL_N


def lu_inline(b, src, dst, m, n, piv, perm):
    """LU with partial pivoting of the m x n row-major matrix at `src` into `dst`, pivot rows
    (0-based i32) to `piv`, the row permutation to `perm`. Unrolled at emission: the matrix
    lives in registers and row swaps are selects, so there is no branch and the out-of-order
    core overlaps consecutive matrices of a batch."""
    rt = src.type.pointee
    fabs = intrinsic(b.module, "llvm.fabs", rt, [rt], [rt])
    i32 = lambda v: ll.Constant(I32, v)  # noqa: E731
    a = [[b.load(b.gep(src, [i64(i * n + j)])) for j in range(n)] for i in range(m)]
    rows = [i32(i) for i in range(m)]
    one, zero = ll.Constant(rt, 1.0), ll.Constant(rt, 0.0)
    for k in range(min(m, n)):
        p, best = i32(k), b.call(fabs, [a[k][k]])
        for i in range(k + 1, m):
            v = b.call(fabs, [a[i][k]])
            # "greater than" keeps the first of equal magnitudes (LAPACK's i?amax).
            more = b.fcmp_ordered(">", v, best)
            best, p = b.select(more, v, best), b.select(more, i32(i), p)
        b.store(p, b.gep(piv, [i64(k)]))
        is_row = {i: b.icmp_signed("==", p, i32(i)) for i in range(k + 1, m)}
        pivot_row, pivot_idx = list(a[k]), rows[k]
        for i in range(k + 1, m):
            pivot_row = [b.select(is_row[i], x, y) for x, y in zip(a[i], pivot_row)]
            pivot_idx = b.select(is_row[i], rows[i], pivot_idx)
            a[i] = [b.select(is_row[i], x, y) for x, y in zip(a[k], a[i])]
            rows[i] = b.select(is_row[i], rows[k], rows[i])
        a[k], rows[k] = pivot_row, pivot_idx
        # A zero pivot leaves its column as it is (multiplying by one); LAPACK scales by the
        # reciprocal, as here.
        d = a[k][k]
        r = b.select(b.fcmp_unordered("!=", d, zero), b.fdiv(one, d), one)
        for i in range(k + 1, m):
            a[i][k] = b.fmul(a[i][k], r)
            for j in range(k + 1, n):
                a[i][j] = b.fsub(a[i][j], b.fmul(a[i][k], a[k][j]))
    for i in range(m):
        b.store(rows[i], b.gep(perm, [i64(i)]))
        for j in range(n):
            b.store(a[i][j], b.gep(dst, [i64(i * n + j)]))


def triangular_solve_inline(b, a, rhs, x, k, rows, cols, left, lower, transpose_a, unit):
    """`x` (rows x cols, row-major) = op(a)^-1 rhs (left) or rhs op(a)^-1, for the k x k matrix `a` (real: conjugation is a no-op). Unrolled at emission,
    the values in registers."""
    # Both sides as one left-side solve T y = c: left, y = x and T = op(a); right, y = x^T and
    # T = op(a)^T. T reads a directly or transposed, and is lower-triangular accordingly.
    direct = left != transpose_a
    t_lower = lower if direct else not lower
    other = cols if left else rows
    at = (lambda i, j: i * k + j) if direct else (lambda i, j: j * k + i)
    xi = (lambda i, c: i * cols + c) if left else (lambda i, c: c * cols + i)
    t = {}

    def coef(i, j):
        if (i, j) not in t:
            t[i, j] = b.load(b.gep(a, [i64(at(i, j))]))
        return t[i, j]
    y = {}
    order = range(k) if t_lower else range(k - 1, -1, -1)
    for c in range(other):
        for i in order:
            v = b.load(b.gep(rhs, [i64(xi(i, c))]))
            for j in (range(i) if t_lower else range(i + 1, k)):
                v = b.fsub(v, b.fmul(coef(i, j), y[j, c]))
            if not unit:
                v = b.fdiv(v, coef(i, i))
            y[i, c] = v
    for (i, c), v in y.items():
        b.store(v, b.gep(x, [i64(xi(i, c))]))
