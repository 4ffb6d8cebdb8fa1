"""The decomposition-based half of `jitcore.numpy.linalg`: solve, inv, det, slogdet, cholesky,
qr, eigh, eigvalsh, eig, eigvals, svd, svdvals, lstsq, pinv, matrix_rank, matrix_power, cond,
tensorsolve, tensorinv, multi_dot, with JAX's signatures, dtypes and result types.

Everything is written from the decomposition primitives (through `jitcore.lax.linalg`): solve,
inv, det and slogdet factor with `lu` and finish with two `triangular_solve`s, as JAX does, so a
singular matrix gives inf/NaN rather than an error.
"""
from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

from ops import dtypes
from ops.errors import ShapeError

from .. import lax_linalg as lax_linalg
from ..custom_derivatives import custom_jvp
from ._promotion import asarray, aval_of, convert, result_dtype


def _jnp():
    from .. import numpy as jnp
    return jnp


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class EigResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


def inexact_dtype(dt):
    """The inexact type an integer or bool input computes in (`dtypes.to_inexact`, the rule
    of every inexact jnp function: int32 -> float32, int64 -> float64, as JAX)."""
    return dtypes.to_inexact(dt)


def inexact(*xs):
    """Promote to a common inexact dtype (`inexact_dtype` of the integers), as JAX does."""
    xs = [asarray(x) for x in xs]
    dt = inexact_dtype(result_dtype(*xs)[0])
    out = [x if aval_of(x).dtype == dt else convert(x, dt) for x in xs]
    return out[0] if len(out) == 1 else out


def _square(op, a):
    av = aval_of(a)
    if av.ndim < 2 or av.shape[-1] != av.shape[-2]:
        raise ShapeError(f"{op}: the argument must be a square matrix or a stack of them "
                         f"(..., n, n), got {av.str_short()}")


def _H(x):
    jnp = _jnp()
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def permutation_matrix(perm, dtype):
    """P with P @ b = b[perm] (rows)."""
    jnp = _jnp()
    m = aval_of(perm).shape[-1]
    return (perm[..., :, None] == jnp.arange(m, dtype=aval_of(perm).dtype)).astype(dtype)


def lu_solve_factored(lu, perm, b, trans=0):
    """Solve op(A) x = b from P A = L U (`lu` packed, `perm` P's row order); b is (..., n, k).
    trans: 0 solves A x = b, 1 A^T x = b, 2 A^H x = b."""
    jnp = _jnp()
    ts = lax_linalg.triangular_solve
    if trans == 0:
        # P b as a gather of b's rows: a matmul by the permutation matrix would cost a GEMM
        # (and a BLAS call per matrix of a batch).
        pb = jnp.take_along_axis(b, jnp.broadcast_to(perm[..., None], aval_of(b).shape),
                                 axis=-2)
        y = ts(lu, pb, left_side=True, lower=True, unit_diagonal=True)
        return ts(lu, y, left_side=True, lower=False)
    p = permutation_matrix(perm, aval_of(lu).dtype)
    conj = trans == 2
    # A^T = U^T L^T P: x = P^T L^-T U^-T b.
    y = ts(lu, b, left_side=True, lower=False, transpose_a=True, conjugate_a=conj)
    y = ts(lu, y, left_side=True, lower=True, transpose_a=True, conjugate_a=conj,
           unit_diagonal=True)
    return jnp.matmul(jnp.swapaxes(p, -1, -2), y)


def _broadcast_batch(a, b, b_core):
    """a (..., n, n) and b (..., *b_core) broadcast to one batch shape."""
    jnp = _jnp()
    sa, sb = aval_of(a).shape, aval_of(b).shape
    batch = np.broadcast_shapes(sa[:-2], sb[:len(sb) - b_core])
    return (jnp.broadcast_to(a, batch + sa[-2:]),
            jnp.broadcast_to(b, batch + sb[len(sb) - b_core:]))


def solve(a, b):
    """Solve a @ x = b; b is (..., n) only when 1-d, else (..., n, k) (JAX's rule)."""
    a, b = inexact(a, b)
    _square("solve", a)
    bv = aval_of(b)
    n = aval_of(a).shape[-1]
    vector = bv.ndim == 1
    if vector:
        b = b[:, None]
    if aval_of(b).shape[-2] != n:
        raise ShapeError(f"solve: a {aval_of(a).str_short()} and b {bv.str_short()} do not match: "
                         "b needs shape (..., n) (1-d) or (..., n, k)",
                         hint="for a batch of vectors use solve(a, b[..., None])[..., 0]")
    a, b = _broadcast_batch(a, b, 2)
    lu, _, perm = lax_linalg.lu(a)
    x = lu_solve_factored(lu, perm, b)
    return x[..., 0] if vector else x


def inv(a):
    """The inverse (inf/NaN entries for a singular matrix)."""
    a = inexact(a)
    _square("inv", a)
    jnp = _jnp()
    av = aval_of(a)
    eye = jnp.broadcast_to(jnp.eye(av.shape[-1], dtype=av.dtype), av.shape)
    return solve(a, eye)


def _lu_diag_and_parity(a):
    jnp = _jnp()
    lu, pivots, _ = lax_linalg.lu(a)
    diag = jnp.diagonal(lu, axis1=-2, axis2=-1)
    k = aval_of(pivots).shape[-1]
    swaps = jnp.sum(pivots != jnp.arange(k, dtype=aval_of(pivots).dtype), axis=-1)
    parity = jnp.where(swaps % 2 == 1, -1, 1).astype(aval_of(a).dtype)
    return diag, parity


def _det_2x2(a):
    return a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]


def _det_3x3(a):
    return (a[..., 0, 0] * a[..., 1, 1] * a[..., 2, 2] + a[..., 0, 1] * a[..., 1, 2] * a[..., 2, 0]
            + a[..., 0, 2] * a[..., 1, 0] * a[..., 2, 1] - a[..., 0, 2] * a[..., 1, 1] * a[..., 2, 0]
            - a[..., 0, 0] * a[..., 1, 2] * a[..., 2, 1] - a[..., 0, 1] * a[..., 1, 0] * a[..., 2, 2])


def _cofactor_solve(a, b):
    """(det(a), adj(a) @ b), finite for singular `a` too (JAX's construction): with P a = L U,
    det(a) a^-1 b = det(a) U^-1 L^-1 P b; replacing U's last pivot by 1 / (the product of the
    others) leaves the last row of that exact (x_n times the partial determinant) and the
    other rows are scaled by det(a), which is 0 at rank n - 1. At lower rank adj(a) = 0:
    matrices whose modified U is still singular give zeros."""
    jnp = _jnp()
    av = aval_of(a)
    n = av.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    lu, pivots, perm = lax_linalg.lu(a)
    dt = av.dtype
    diag = jnp.diagonal(lu, axis1=-2, axis2=-1)
    k = aval_of(pivots).shape[-1]
    swaps = jnp.sum(pivots != jnp.arange(k, dtype=aval_of(pivots).dtype), axis=-1)
    sign = (1 - 2 * (swaps % 2)).astype(dt)
    partial = jnp.cumprod(diag, axis=-1) * sign[..., None]
    corner = (jnp.arange(n)[:, None] == n - 1) & (jnp.arange(n)[None, :] == n - 1)
    lu = jnp.where(corner, (1 / partial[..., -2])[..., None, None], lu)
    ones = jnp.ones(av.shape[:-1] + (1,), dt)
    d = lax_linalg.triangular_solve(lu, ones, left_side=True, lower=False)
    low_rank = jnp.any(~jnp.isfinite(d), axis=(-2, -1))[..., None, None]
    x = jnp.where(low_rank, jnp.zeros_like(b), b)
    x = jnp.matmul(permutation_matrix(perm, dt), x)
    x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    x = jnp.concatenate([x[..., :-1, :] * partial[..., -1, None, None], x[..., -1:, :]],
                        axis=-2)
    x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=False)
    return partial[..., -1], jnp.where(low_rank, jnp.zeros_like(x), x)


def _det_lu_fun(a):
    sign, logdet = slogdet(a)
    return sign * _jnp().exp(logdet).astype(aval_of(sign).dtype)


_det_lu = custom_jvp(_det_lu_fun)


def _det_lu_jvp(primals, tangents):
    # d det(a) = tr(adj(a) da): finite at singular matrices, where det(a) a^-1 is not.
    (x,), (g,) = primals, tangents
    y, z = _cofactor_solve(x, g)
    return y, _jnp().trace(z, axis1=-1, axis2=-2)


_det_lu.defjvp(_det_lu_jvp)


def det(a):
    """The determinant as JAX computes it: the cofactor expansion for 2x2 and 3x3 matrices,
    otherwise sign * exp(log|det|) from the LU factorization, differentiated through the
    adjugate (so the gradient at a singular matrix is its finite cofactor matrix)."""
    a = inexact(a)
    _square("det", a)
    n = aval_of(a).shape[-1]
    if n == 2:
        return _det_2x2(a)
    if n == 3:
        return _det_3x3(a)
    return _det_lu(a)


def _slogdet_fun(a):
    jnp = _jnp()
    diag, parity = _lu_diag_and_parity(a)
    mag = jnp.abs(diag)
    zero = jnp.any(diag == 0, axis=-1)
    logdet = jnp.sum(jnp.log(mag), axis=-1)
    if aval_of(a).dtype.kind == "c":
        unit = diag / jnp.where(mag == 0, 1, mag).astype(aval_of(a).dtype)
        sign = parity * jnp.prod(unit, axis=-1)
    else:
        sign = parity * jnp.prod(jnp.sign(diag), axis=-1)
    sign = jnp.where(zero, 0, sign).astype(aval_of(a).dtype)
    logdet = jnp.where(zero, -jnp.inf, logdet)
    return sign, logdet


_slogdet = custom_jvp(_slogdet_fun)


def _slogdet_jvp(primals, tangents):
    # JAX's rule: d log|det a| = Re tr(a^-1 da); the sign moves only for complex matrices
    # (by i Im tr(a^-1 da)), its derivative is zero for real ones.
    (x,), (g,) = primals, tangents
    jnp = _jnp()
    sign, logdet = _slogdet(x)
    t = jnp.trace(solve(x, g), axis1=-1, axis2=-2)
    if aval_of(x).dtype.kind == "c":
        return (sign, logdet), ((t - jnp.real(t).astype(aval_of(t).dtype)) * sign, jnp.real(t))
    return (sign, logdet), (jnp.zeros_like(sign), t)


_slogdet.defjvp(_slogdet_jvp)


def slogdet(a, *, method=None):
    """(sign, log|det|); sign 0 and log|det| -inf for a singular matrix."""
    if method not in (None, "lu"):
        raise ValueError(f"slogdet: unknown method {method!r}; jitcore supports 'lu'")
    a = inexact(a)
    _square("slogdet", a)
    return SlogdetResult(*_slogdet(a))


def cholesky(a, *, upper=False, symmetrize_input=True):
    a = inexact(a)
    _square("cholesky", a)
    l = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(l) if upper else l


def qr(a, mode="reduced"):
    a = inexact(a)
    if aval_of(a).ndim < 2:
        raise ShapeError(f"qr: needs a matrix, got {aval_of(a).str_short()}")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: unsupported mode {mode!r}; use 'reduced', 'complete' or 'r'")
    q, r = lax_linalg.qr(a, full_matrices=(mode == "complete"))
    return r if mode == "r" else QRResult(q, r)


def eigh(a, UPLO=None, symmetrize_input=True):
    a = inexact(a)
    _square("eigh", a)
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = lax_linalg.eigh(a, lower=UPLO in (None, "L"), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a):
    a = inexact(a)
    _square("eig", a)
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    a = inexact(a)
    _square("eigvals", a)
    return lax_linalg.eig(a, compute_left_eigenvectors=False,
                          compute_right_eigenvectors=False)[0]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False, subset_by_index=None):
    a = inexact(a)
    if aval_of(a).ndim < 2:
        raise ShapeError(f"svd: needs a matrix, got {aval_of(a).str_short()}")
    if subset_by_index is not None:
        raise NotImplementedError("svd: subset_by_index is not supported")
    jnp = _jnp()
    if hermitian:
        # From eigh, as JAX: singular values |w| in descending order.
        w, v = eigh(a)
        s = jnp.abs(w)
        if not compute_uv:
            return -jnp.sort(-s, axis=-1)
        order = jnp.argsort(-s, axis=-1)
        s = jnp.take_along_axis(s, order, axis=-1)
        sign = jnp.sign(jnp.take_along_axis(w, order, axis=-1))
        u = jnp.take_along_axis(v, jnp.broadcast_to(order[..., None, :], aval_of(v).shape), axis=-1)
        vh = _H(u * sign[..., None, :].astype(aval_of(u).dtype))
        return SVDResult(u, s, vh)
    out = lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return SVDResult(*out) if compute_uv else out


def svdvals(x, /):
    return svd(x, compute_uv=False)


def lstsq(a, b, rcond=None, *, numpy_resid=False):
    """Least squares through the SVD (JAX's algorithm: residuals always computed)."""
    a, b = inexact(a, b)
    jnp = _jnp()
    av, bv = aval_of(a), aval_of(b)
    if av.ndim != 2:
        raise ShapeError(f"lstsq: a must be 2-d, got {av.str_short()}")
    if bv.ndim not in (1, 2) or bv.shape[0] != av.shape[0]:
        raise ShapeError(f"lstsq: b {bv.str_short()} must be 1-d or 2-d with a's "
                         f"{av.shape[0]} rows")
    vector = bv.ndim == 1
    if vector:
        b = b[:, None]
    m, n = av.shape
    dt = av.dtype
    real = np.zeros(1, dt).real.dtype
    if av.size == 0:
        s = jnp.zeros((0,), real)
        rank = jnp.asarray(0)
        x = jnp.zeros((n,) + aval_of(b).shape[1:], dt)
    else:
        eps = float(np.finfo(real).eps)
        rc = eps * max(m, n) if rcond is None else jnp.where(rcond < 0, eps, rcond)
        u, s, vt = svd(a, full_matrices=False)
        # s > 0 too: a zero matrix has rank 0 (s >= rcond * s[0] alone holds for 0 >= 0).
        mask = (s > 0) & (s >= jnp.asarray(rc, dtype=real) * s[0])
        rank = jnp.sum(mask)
        safe = jnp.where(mask, s, 1).astype(dt)
        s_inv = jnp.where(mask, 1 / safe, 0).astype(dt)[:, None]
        x = jnp.matmul(_H(vt), s_inv * jnp.matmul(_H(u), b))
    if numpy_resid and (int(rank) < n or m <= n):
        resid = jnp.zeros((0,), real)
    else:
        from .linalg import norm
        resid = norm(b - jnp.matmul(a, x), axis=0) ** 2
    if vector:
        x = x[:, 0]
    return x, resid, rank, s


def _pinv_value(a, rtol, hermitian):
    jnp = _jnp()
    av = aval_of(a)
    m, n = av.shape[-2:]
    if m == 0 or n == 0:
        return jnp.zeros(av.shape[:-2] + (n, m), av.dtype)
    real = np.zeros(1, av.dtype).real.dtype
    if rtol is None:
        rtol = 10.0 * max(m, n) * float(np.finfo(real).eps)
    u, s, vh = svd(jnp.conj(a), full_matrices=False, hermitian=hermitian)
    rtol = jnp.asarray(rtol, dtype=real)
    cutoff = rtol[..., None] * s[..., 0:1] if aval_of(rtol).ndim else rtol * s[..., 0:1]
    s = jnp.where(s > cutoff, s, jnp.inf).astype(av.dtype)
    return jnp.matmul(jnp.swapaxes(vh, -1, -2), jnp.swapaxes(u, -1, -2) / s[..., :, None])


def _pinv_fun(a, rtol, hermitian):
    return _pinv_value(a, rtol, hermitian)


_pinv = custom_jvp(_pinv_fun, nondiff_argnums=(1, 2))


def _pinv_jvp(rtol, hermitian, primals, tangents):
    # Golub & Pereyra (1973): the derivative of the pseudo-inverse, as JAX writes it.
    (a,), (da,) = primals, tangents
    jnp = _jnp()
    p = _pinv(a, rtol, hermitian)
    if hermitian:
        # svd(hermitian=True) reads the Hermitian part, so the tangent is read that way too.
        a, da = (a + _H(a)) / 2, (da + _H(da)) / 2
    mm = jnp.matmul
    m, n = aval_of(a).shape[-2:]
    if m >= n:
        s = mm(mm(p, _H(p)), _H(da))
        t = mm(mm(_H(da), _H(p)), p)
        dp = -mm(mm(p, da), p) + s - mm(mm(s, a), p) + t - mm(mm(p, a), t)
    else:
        t = mm(p, mm(_H(p), _H(da)))
        s = mm(_H(da), mm(_H(p), p))
        dp = -mm(p, mm(da, p)) + t - mm(p, mm(a, t)) + s - mm(p, mm(a, s))
    return p, dp


_pinv.defjvp(_pinv_jvp)


def pinv(a, rtol=None, hermitian=False, *, rcond=None):
    """The Moore-Penrose pseudo-inverse; singular values <= rtol * largest are dropped."""
    a = inexact(a)
    if aval_of(a).ndim < 2:
        raise ShapeError(f"pinv: needs a matrix, got {aval_of(a).str_short()}")
    if rcond is not None:
        rtol = rcond
    return _pinv(a, rtol, bool(hermitian)) if isinstance(rtol, (type(None), float, int)) \
        else _pinv_value(a, rtol, hermitian)


def matrix_rank(M, rtol=None, *, hermitian=False, tol=None):
    M = inexact(M)
    jnp = _jnp()
    mv = aval_of(M)
    if tol is not None:
        rtol = tol
    if mv.ndim < 2:
        return jnp.any(M != 0).astype(np.int32)
    s = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    real = aval_of(s).dtype
    if rtol is None:
        rtol = jnp.max(s, axis=-1) * (max(mv.shape[-2:]) * float(np.finfo(real).eps))
    rtol = jnp.expand_dims(jnp.asarray(rtol), -1)
    return jnp.sum(s > rtol, axis=-1)


def matrix_power(a, n):
    """a @ a @ ... (n times) by repeated squaring; n < 0 inverts first, n == 0 is I."""
    a = asarray(a)
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}") from None
    jnp = _jnp()
    av = aval_of(a)
    if n == 0:
        return jnp.broadcast_to(jnp.eye(av.shape[-1], dtype=av.dtype), av.shape)
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    z = a
    while n:
        if n & 1:
            result = z if result is None else jnp.matmul(result, z)
        n >>= 1
        if n:
            z = jnp.matmul(z, z)
    return result


def cond(x, p=None):
    x = inexact(x)
    jnp = _jnp()
    if aval_of(x).ndim < 2:
        raise ShapeError(f"cond: needs a matrix, got {aval_of(x).str_short()}")
    if p is None or p == 2:
        s = svdvals(x)
        return s[..., 0] / s[..., -1]
    if p == -2:
        s = svdvals(x)
        r = s[..., -1] / s[..., 0]
    else:
        _square("cond", x)
        from .linalg import norm
        r = norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))
    # A NaN from a singular matrix (not from a NaN input) means infinitely ill-conditioned.
    return jnp.where(jnp.isnan(r) & ~jnp.any(jnp.isnan(x), axis=(-2, -1)), jnp.inf, r)


def tensorinv(a, ind=2):
    a = asarray(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    shape = aval_of(a).shape
    head, tail = shape[:ind], shape[ind:]
    rows, cols = math.prod(head), math.prod(tail)
    if rows != cols:
        raise ShapeError(f"tensorinv: the product of the first {ind} dimensions {head} must "
                         f"equal that of the rest {tail}")
    return inv(a.reshape(rows, cols)).reshape(*tail, *head)


def tensorsolve(a, b, axes=None):
    jnp = _jnp()
    a, b = asarray(a), asarray(b)
    if axes is not None:
        a = jnp.moveaxis(a, axes, len(axes) * (aval_of(a).ndim - 1,))
    sa, sb = aval_of(a).shape, aval_of(b).shape
    out_shape = sa[len(sb):]
    if sa[:len(sb)] != sb:
        raise ShapeError(f"tensorsolve: b's shape {sb} must match the leading dimensions of "
                         f"a's {sa}")
    size = math.prod(sb)
    if size != math.prod(out_shape):
        raise ShapeError(f"tensorsolve: a {sa} must be square once reshaped: "
                         f"{size} x {math.prod(out_shape)}")
    return solve(a.reshape(size, size), b.reshape(size)).reshape(out_shape)


def multi_dot(arrays, *, precision=None):
    """The chained product, multiplied in the cheapest order (matrix-chain dynamic program);
    a 1-d first (last) array is a row (column) vector, as in NumPy."""
    jnp = _jnp()
    arrs = [asarray(x) for x in arrays]
    if len(arrs) < 2:
        raise ValueError(f"multi_dot: expecting at least 2 arrays, got {len(arrs)}")
    first_vec, last_vec = aval_of(arrs[0]).ndim == 1, aval_of(arrs[-1]).ndim == 1
    if first_vec:
        arrs[0] = arrs[0][None, :]
    if last_vec:
        arrs[-1] = arrs[-1][:, None]
    dims = [aval_of(arrs[0]).shape[0]] + [aval_of(x).shape[1] for x in arrs]
    k = len(arrs)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s

    def product(i, j):
        if i == j:
            return arrs[i]
        s = split[i][j]
        return jnp.matmul(product(i, s), product(s + 1, j))
    out = product(0, k - 1)
    if first_vec:
        out = out[0]
    if last_vec:
        out = out[..., 0]
    return out
