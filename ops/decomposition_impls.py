"""NumPy references of the matrix decompositions (`ops/decompositions.py` defines the primitives).

Every function takes arrays whose trailing two axes are the matrix and whose leading axes are
batch axes, and returns LAPACK's results in LAPACK's conventions (the native path calls LAPACK
with the same parameters). A failed factorization gives NaNs for that matrix only, and a
singular triangular solve gives inf/NaN, never an exception, as XLA does.
"""
from __future__ import annotations

import numpy as np


def hermitian_from(a, lower):
    """The Hermitian matrix whose lower (or upper) triangle is `a`'s; LAPACK reads only that
    triangle and only the real part of the diagonal."""
    a = np.asarray(a)
    n = a.shape[-1]
    tri = np.tril(a, -1) if lower else np.triu(a, 1)
    diag = np.real(np.diagonal(a, axis1=-2, axis2=-1))
    return tri + np.conj(np.swapaxes(tri, -1, -2)) + diag[..., None] * np.eye(n, dtype=a.dtype)


def cholesky(a, *, lower=True):
    h = hermitian_from(a, lower)
    if h.size == 0:
        return np.zeros(a.shape, a.dtype)
    flat = h.reshape((-1,) + h.shape[-2:])
    out = np.empty_like(flat)
    for i, m in enumerate(flat):
        try:
            out[i] = np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            # Not positive definite: NaN in the factor's triangle, zeros above it (JAX's).
            out[i] = np.where(np.tri(m.shape[-1], dtype=bool), np.nan, 0)
    out = out.reshape(a.shape)
    return out if lower else np.conj(np.swapaxes(out, -1, -2))


def lu(a):
    """Partial pivoting by columns, LAPACK getrf's choices: the first largest |a_ik| pivots,
    a zero column is skipped (its multipliers stay zero). Pivots are 0-based."""
    a = np.array(a, copy=True)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    flat = a.reshape((int(np.prod(batch, dtype=np.int64)), m, n))
    b = flat.shape[0]
    rows = np.arange(b)
    pivots = np.zeros((b, k), np.int32)
    perm = np.broadcast_to(np.arange(m, dtype=np.int32), (b, m)).copy()
    with np.errstate(all="ignore"):
        for j in range(k):
            mag = np.abs(np.real(flat[:, j:, j])) + np.abs(np.imag(flat[:, j:, j]))
            p = j + np.argmax(mag, axis=1)
            pivots[:, j] = p
            top = flat[rows, j, :].copy()
            flat[rows, j, :] = flat[rows, p, :]
            flat[rows, p, :] = top
            t = perm[rows, j].copy()
            perm[rows, j] = perm[rows, p]
            perm[rows, p] = t
            d = flat[:, j, j]
            nz = d != 0
            col = np.where(nz[:, None], flat[:, j + 1:, j] / np.where(nz, d, 1)[:, None],
                           flat[:, j + 1:, j])
            flat[:, j + 1:, j] = col
            flat[:, j + 1:, j + 1:] -= col[:, :, None] * flat[:, j, None, j + 1:]
    return (flat.reshape(a.shape), pivots.reshape(batch + (k,)), perm.reshape(batch + (m,)))


def _substitute(m, b, lower, unit):
    """Solve m @ x = b for triangular `m` (its other triangle is ignored), row by row."""
    n = m.shape[-1]
    x = np.zeros(np.broadcast_shapes(b.shape), np.result_type(m, b))
    order = range(n) if lower else range(n - 1, -1, -1)
    with np.errstate(all="ignore"):
        for i in order:
            done = slice(0, i) if lower else slice(i + 1, n)
            r = b[..., i, :] - np.einsum("...j,...jk->...k", m[..., i, done], x[..., done, :])
            x[..., i, :] = r if unit else r / m[..., i, i, None]
    return x


def triangular_solve(a, b, *, left_side=False, lower=False, transpose_a=False,
                     conjugate_a=False, unit_diagonal=False):
    """op(a) @ x = b (left side) or x @ op(a) = b, op(a) = a, a^T, conj(a) or a^H."""
    m = a
    is_lower = lower
    if transpose_a:
        m = np.swapaxes(m, -1, -2)
        is_lower = not is_lower
    if conjugate_a:
        m = np.conj(m)
    if left_side:
        return _substitute(m, b, is_lower, unit_diagonal)
    # x @ M = b  <=>  M^T @ x^T = b^T
    xt = _substitute(np.swapaxes(m, -1, -2), np.swapaxes(b, -1, -2), not is_lower, unit_diagonal)
    return np.swapaxes(xt, -1, -2)


def qr(a, *, full_matrices=True):
    m, n = a.shape[-2:]
    k = min(m, n)
    qcols = m if full_matrices else k
    if a.size == 0:
        q = np.broadcast_to(np.eye(m, qcols, dtype=a.dtype), a.shape[:-2] + (m, qcols))
        return q.copy(), np.zeros(a.shape[:-2] + (qcols, n), a.dtype)
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return q, r


def eigh(a, *, lower=True, sort_eigenvalues=True):
    real = np.zeros(1, a.dtype).real.dtype
    if a.size == 0:
        return np.zeros(a.shape, a.dtype), np.zeros(a.shape[:-1], real)
    w, v = np.linalg.eigh(hermitian_from(a, lower), UPLO="L")
    if not np.all(np.isfinite(a)):
        # LAPACK's answer for a matrix with NaN/inf is unspecified; XLA's is NaN.
        bad = ~np.isfinite(a).all(axis=(-2, -1))
        w = np.where(bad[..., None], np.nan, w)
        v = np.where(bad[..., None, None], np.nan, v)
    return v, w


def svd(a, *, full_matrices=True, compute_uv=True):
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    real = np.zeros(1, a.dtype).real.dtype
    if a.size == 0:
        s = np.zeros(batch + (k,), real)
        if not compute_uv:
            return (s,)
        u = np.broadcast_to(np.eye(m, m if full_matrices else k, dtype=a.dtype),
                            batch + (m, m if full_matrices else k)).copy()
        vh = np.broadcast_to(np.eye(n if full_matrices else k, n, dtype=a.dtype),
                             batch + (n if full_matrices else k, n)).copy()
        return s, u, vh
    bad = ~np.isfinite(a).all(axis=(-2, -1))
    clean = np.where(bad[..., None, None], 0, a)
    if not compute_uv:
        s = np.linalg.svd(clean, compute_uv=False)
        return (np.where(bad[..., None], np.nan, s),)
    u, s, vh = np.linalg.svd(clean, full_matrices=full_matrices)
    return (np.where(bad[..., None], np.nan, s), np.where(bad[..., None, None], np.nan, u),
            np.where(bad[..., None, None], np.nan, vh))


def _normalize_columns(v):
    """LAPACK geev's normalization: unit Euclidean norm, the largest component real."""
    v = v / np.linalg.norm(v, axis=-2, keepdims=True)
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    big = np.take_along_axis(v, idx, axis=-2)
    return v * (np.conj(big) / np.abs(big))


def eig(a, *, compute_left_eigenvectors=False, compute_right_eigenvectors=True):
    cdt = np.result_type(a.dtype, np.complex64)
    n = a.shape[-1]
    batch = a.shape[:-2]
    if a.size == 0:
        w = np.zeros(batch + (n,), cdt)
        vl = vr = np.zeros(a.shape, cdt)
    else:
        bad = ~np.isfinite(a).all(axis=(-2, -1))
        w, vr = np.linalg.eig(np.where(bad[..., None, None], 0, a))
        w, vr = w.astype(cdt), vr.astype(cdt)
        # Left eigenvectors are the rows of inv(vr), conjugated: vl^H a = w vl^H.
        vl = _normalize_columns(np.conj(np.swapaxes(np.linalg.inv(vr), -1, -2))) \
            if compute_left_eigenvectors else None
        w = np.where(bad[..., None], np.nan, w)
        vr = np.where(bad[..., None, None], np.nan, vr)
        if vl is not None:
            vl = np.where(bad[..., None, None], np.nan, vl)
    out = [w]
    if compute_left_eigenvectors:
        out.append(vl)
    if compute_right_eigenvectors:
        out.append(vr)
    return tuple(out)


def _givens(a, b):
    """(c, s): c real, s complex, with [[c, s], [-conj(s), c]] @ [a, b] = [r, 0], unitary."""
    if b == 0:
        return 1.0, 0.0
    if a == 0:
        return 0.0, np.conj(b) / abs(b)
    norm = np.hypot(abs(a), abs(b))
    return abs(a) / norm, (a / abs(a)) * np.conj(b) / norm


def _rotate(h, z, k, c, s, rows_from, cols_to):
    """h <- G h G^H on rows/columns k, k+1 (G as `_givens` makes it), z <- z G^H. Rows are
    touched from column `rows_from` on, columns down to row `cols_to`: the rest is zero."""
    top, bot = h[k, rows_from:].copy(), h[k + 1, rows_from:]
    h[k, rows_from:] = c * top + s * bot
    h[k + 1, rows_from:] = -np.conj(s) * top + c * bot
    for m in (h[:cols_to + 1], z):
        left, right = m[:, k].copy(), m[:, k + 1]
        m[:, k] = c * left + np.conj(s) * right
        m[:, k + 1] = -s * left + c * right


def _hessenberg(h, z):
    """Householder reduction to upper Hessenberg form in place: h <- Q^H h Q, z <- z Q."""
    n = h.shape[0]
    for k in range(n - 2):
        x = h[k + 1:, k]
        norm = np.linalg.norm(x)
        if norm == 0 or np.linalg.norm(x[1:]) == 0:
            continue
        phase = x[0] / abs(x[0]) if x[0] != 0 else 1.0
        v = x.copy()
        v[0] += phase * norm          # x + phase |x| e1: no cancellation
        v /= np.linalg.norm(v)
        h[k + 1:, :] -= 2 * np.outer(v, np.conj(v) @ h[k + 1:, :])
        h[:, k + 1:] -= 2 * np.outer(h[:, k + 1:] @ v, np.conj(v))
        z[:, k + 1:] -= 2 * np.outer(z[:, k + 1:] @ v, np.conj(v))
        h[k + 2:, k] = 0


def _wilkinson_shift(h, hi):
    """The eigenvalue of the trailing 2x2 block of the active window nearer its last entry."""
    a, b, c, d = h[hi - 1, hi - 1], h[hi - 1, hi], h[hi, hi - 1], h[hi, hi]
    p = (a - d) / 2
    disc = np.sqrt(p * p + b * c)
    den = p + disc if abs(p + disc) >= abs(p - disc) else p - disc
    return d if den == 0 else d - b * c / den


def _schur_one(a):
    """Complex Schur form of one matrix: Hessenberg reduction, then single-shift implicit QR
    sweeps (Givens bulge chasing) with Wilkinson shifts and deflation of negligible
    subdiagonal entries; an exceptional shift every 10 sweeps without deflation breaks
    cycles. Returns (t, z, converged) with a = z t z^H."""
    n = a.shape[0]
    h = a.copy()
    z = np.eye(n, dtype=a.dtype)
    _hessenberg(h, z)
    eps = np.finfo(h.real.dtype).eps
    scale = np.linalg.norm(h, 1)
    hi, its, total = n - 1, 0, 0
    while hi > 0:
        lo = hi
        while lo > 0:
            sub = abs(h[lo, lo - 1])
            diag = abs(h[lo - 1, lo - 1]) + abs(h[lo, lo])
            if sub <= eps * (diag if diag != 0 else scale):
                h[lo, lo - 1] = 0
                break
            lo -= 1
        if lo == hi:
            hi -= 1
            its = 0
            continue
        its += 1
        total += 1
        if total > 30 * n:
            return h, z, False
        if its % 10 == 0:
            mu = h[hi, hi] + 0.75 * abs(h[hi, hi - 1].real) + 0.75j * abs(h[hi, hi - 1].imag)
        else:
            mu = _wilkinson_shift(h, hi)
        x, y = h[lo, lo] - mu, h[lo + 1, lo]
        for k in range(lo, hi):
            c, s = _givens(x, y)
            _rotate(h, z, k, c, s, lo if k == lo else k - 1, min(hi, k + 2))
            if k > lo:
                h[k + 1, k - 1] = 0   # the bulge just chased down, exactly zero
            if k < hi - 1:
                x, y = h[k + 1, k], h[k + 2, k]
    return np.triu(h), z, True


def schur(a, *, compute_schur_vectors=True):
    """Complex Schur form t (upper triangular) and unitary z with a = z t z^H; the outputs are
    complex for real input too. A matrix with NaN/inf (or one whose iteration does not
    converge) gives NaN, as XLA's LAPACK call does."""
    cdt = np.result_type(a.dtype, np.complex64)
    work = np.asarray(a, np.complex128)
    n = a.shape[-1]
    flat = work.reshape((int(np.prod(a.shape[:-2], dtype=np.int64)), n, n))
    ts = np.empty(flat.shape, np.complex128)
    zs = np.empty(flat.shape, np.complex128)
    for i, m in enumerate(flat):
        ok = bool(np.isfinite(m).all())
        if ok:
            ts[i], zs[i], ok = _schur_one(m)
        if not ok:
            ts[i] = zs[i] = np.nan
    t, z = ts.reshape(a.shape).astype(cdt), zs.reshape(a.shape).astype(cdt)
    return (t, z) if compute_schur_vectors else (t,)
