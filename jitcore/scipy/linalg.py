"""`jitcore.scipy.linalg`: JAX's `jax.scipy.linalg` over the decomposition primitives.

expm is JAX's: Pade approximant of degree 13 after scaling by 2^-s so that the 1-norm is at
most 5.37 (Higham 2005), then s squarings (NaN when s exceeds max_squarings). sqrtm is JAX's
(Bjorck & Hammarling 1983): the complex Schur form T, the upper-triangular square root U of T
(U^2 = T, from its diagonal outwards), then Z U Z^H; complex like JAX's, and it needs no
eigenvectors, so defective matrices (Jordan blocks) are fine.
"""
from __future__ import annotations

from ops.errors import ShapeError

from .. import lax_linalg
from ..numpy import _linalg_decomp as _dec
from ..numpy._promotion import aval_of

__all__ = ["solve_triangular", "cho_factor", "cho_solve", "lu", "lu_factor", "lu_solve", "qr",
           "svd", "eigh", "expm", "block_diag", "inv", "det", "solve", "sqrtm", "schur"]


def _jnp():
    from .. import numpy as jnp
    return jnp


def _trans_flags(trans):
    if trans in (0, "N"):
        return False, False
    if trans in (1, "T"):
        return True, False
    if trans in (2, "C"):
        return True, True
    raise ValueError(f"solve_triangular: invalid trans {trans!r}; use 0/'N', 1/'T' or 2/'C'")


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     debug=None, check_finite=True):
    a, b = _dec.inexact(a, b)
    transpose_a, conjugate_a = _trans_flags(trans)
    return lax_linalg.triangular_solve(a, b, left_side=True, lower=lower,
                                       transpose_a=transpose_a, conjugate_a=conjugate_a,
                                       unit_diagonal=unit_diagonal)


def _cholesky(a, lower):
    from ops import decompositions as _d
    a = _dec.inexact(a)
    _dec._square("cholesky", a)
    return _d.cholesky(a, lower=lower)    # reads only that triangle, as LAPACK


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    return _cholesky(a, lower)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    return _cholesky(a, lower), lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    c, b = _dec.inexact(c, b)
    ts = lax_linalg.triangular_solve
    b = ts(c, b, left_side=True, lower=lower, transpose_a=not lower, conjugate_a=not lower)
    return ts(c, b, left_side=True, lower=lower, transpose_a=lower, conjugate_a=lower)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p @ l @ u, or (p @ l, u) when permute_l."""
    jnp = _jnp()
    a = _dec.inexact(a)
    packed, _, perm = lax_linalg.lu(a)
    dt = aval_of(a).dtype
    m, n = aval_of(a).shape[-2:]
    k = min(m, n)
    p = jnp.swapaxes(_dec.permutation_matrix(perm, dt), -1, -2)
    l = jnp.tril(packed[..., :, :k], -1) + jnp.eye(m, k, dtype=dt)
    u = jnp.triu(packed[..., :k, :])
    return (jnp.matmul(p, l), u) if permute_l else (p, l, u)


def lu_factor(a, overwrite_a=False, check_finite=True):
    a = _dec.inexact(a)
    packed, pivots, _ = lax_linalg.lu(a)
    return packed, pivots


def _pivots_to_permutation(pivots, m):
    """Apply the row swaps i <-> pivots[i] in order to 0..m-1."""
    jnp = _jnp()
    pv = aval_of(pivots)
    perm = jnp.broadcast_to(jnp.arange(m, dtype=pv.dtype), pv.shape[:-1] + (m,))
    pos = jnp.arange(m, dtype=pv.dtype)
    for i in range(pv.shape[-1]):
        j = pivots[..., i:i + 1]
        at_i = perm[..., i:i + 1]
        at_j = jnp.take_along_axis(perm, j, axis=-1)
        perm = jnp.where(pos == i, at_j, jnp.where(pos == j, at_i, perm))
    return perm


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    packed, pivots = lu_and_piv
    packed, b = _dec.inexact(packed, b)
    m = aval_of(packed).shape[-2]
    perm = _pivots_to_permutation(_jnp().asarray(pivots), m)
    vector = aval_of(b).ndim == 1
    if vector:
        b = b[:, None]
    _, conj = _trans_flags(trans)
    x = _dec.lu_solve_factored(packed, perm, b, trans=0 if trans in (0, "N") else
                               (2 if conj else 1))
    return x[..., 0] if vector else x


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    if pivoting:
        raise NotImplementedError("qr: pivoting=True is not supported")
    if mode not in ("full", "r", "economic"):
        raise ValueError(f"qr: unsupported mode {mode!r}; use 'full', 'r' or 'economic'")
    q, r = lax_linalg.qr(_dec.inexact(a), full_matrices=(mode in ("full", "r")))
    return (r,) if mode == "r" else (q, r)


def svd(a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True,
        lapack_driver="gesdd"):
    return lax_linalg.svd(_dec.inexact(a), full_matrices=full_matrices, compute_uv=compute_uv)


def eigh(a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False,
         turbo=True, eigvals=None, type=1, check_finite=True):
    if b is not None:
        raise NotImplementedError("eigh: the generalized problem (b=...) is not supported")
    if eigvals is not None:
        raise NotImplementedError("eigh: eigvals=... (a subset) is not supported")
    v, w = lax_linalg.eigh(_dec.inexact(a), lower=lower)
    return w if eigvals_only else (w, v)


def inv(a, overwrite_a=False, check_finite=True):
    return _dec.inv(a)


def det(a, overwrite_a=False, check_finite=True):
    return _dec.det(a)


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, debug=False,
          check_finite=True, assume_a="gen"):
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: unknown assume_a {assume_a!r}")
    if assume_a != "pos":
        return _dec.solve(a, b)
    a, b = _dec.inexact(a, b)
    vector = aval_of(b).ndim == aval_of(a).ndim - 1
    c = cho_solve(cho_factor(a, lower=lower), b[..., None] if vector else b)
    return c[..., 0] if vector else c


_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)


def expm(A, *, upper_triangular=False, max_squarings=16):
    jnp = _jnp()
    A = _dec.inexact(A)
    av = aval_of(A)
    if av.ndim < 2 or av.shape[-1] != av.shape[-2]:
        raise ShapeError(f"expm: expected a square matrix (..., n, n), got {av.str_short()}")
    dt = av.dtype
    n = av.shape[-1]
    norm1 = jnp.max(jnp.sum(jnp.abs(A), axis=-2), axis=-1)
    squarings = jnp.maximum(0, jnp.floor(jnp.log2(norm1 / 5.371920351148152)))
    A = A / (2.0 ** squarings).astype(dt)[..., None, None]
    b = _PADE13
    eye = jnp.broadcast_to(jnp.eye(n, dtype=dt), av.shape)
    mm = jnp.matmul
    A2 = mm(A, A)
    A4 = mm(A2, A2)
    A6 = mm(A4, A2)
    U = mm(A, mm(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
           + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
    V = mm(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * eye
    P, Q = U + V, V - U
    R = solve_triangular(Q, P) if upper_triangular else _dec.solve(Q, P)
    for i in range(max_squarings):
        R = jnp.where((i < squarings)[..., None, None], mm(R, R), R)
    return jnp.where((squarings > max_squarings)[..., None, None], jnp.nan, R)


def block_diag(*arrs):
    jnp = _jnp()
    if not arrs:
        return jnp.zeros((1, 0))
    mats = [jnp.atleast_2d(jnp.asarray(a)) for a in arrs]
    for a, m in zip(arrs, mats):
        if aval_of(m).ndim != 2:
            raise ShapeError(f"block_diag: arguments must have 2 or fewer dimensions, got "
                             f"{aval_of(m).str_short()}")
    dt = jnp.result_type(*mats)
    cols = sum(aval_of(m).shape[1] for m in mats)
    rows = []
    left = 0
    for m in mats:
        r, c = aval_of(m).shape
        rows.append(jnp.pad(m.astype(dt), ((0, 0), (left, cols - left - c))))
        left += c
    return jnp.concatenate(rows, axis=0)


def schur(a, output="real"):
    """(T, Z) with a = Z T Z^H, T upper triangular (the complex Schur form)."""
    if output not in ("real", "complex"):
        raise ValueError(f"schur: expected output to be 'real' or 'complex', got {output!r}")
    a = _dec.inexact(a)
    _dec._square("schur", a)
    if output == "real" and aval_of(a).dtype.kind != "c":
        # The real Schur form (2x2 blocks for complex pairs) would need LAPACK's real gees.
        raise NotImplementedError(
            f"schur: output='real' (the quasi-triangular real Schur form) is not implemented "
            f"for the real matrix {aval_of(a).str_short()}; use output='complex'")
    return lax_linalg.schur(a)


def _sqrtm_triu(t):
    """The upper-triangular U with U @ U = t, one superdiagonal at a time: U[i, j] (j = i + k)
    = (t[i, j] - sum_{i<m<j} U[i, m] U[m, j]) / (U[i, i] + U[j, j]), and the sum reads only
    diagonals below k, so each diagonal is one vectorized step. As in JAX, an entry whose
    numerator is exactly zero is zero (so 0/0 for repeated zero eigenvalues gives 0)."""
    jnp = _jnp()
    n = aval_of(t).shape[-1]
    d = jnp.sqrt(jnp.diagonal(t, 0, -2, -1))
    rows = jnp.arange(n)[:, None]
    cols = jnp.arange(n)[None, :]
    u = jnp.where(rows == cols, d[..., None, :], jnp.zeros_like(t))
    for k in range(1, n):
        # sum_m U[i, m] U[m, i + k]: rows i of U against columns i + k, for i < n - k.
        s = jnp.sum(u[..., :n - k, :] * jnp.swapaxes(u, -1, -2)[..., k:, :], axis=-1)
        tk = jnp.diagonal(t, k, -2, -1)
        den = d[..., :n - k] + d[..., k:]
        v = jnp.where(tk == s, jnp.zeros_like(s), (tk - s) / den)
        v = jnp.concatenate([v, jnp.zeros_like(d[..., :k])], axis=-1)
        u = jnp.where(cols - rows == k, v[..., :, None], u)
    return u


def sqrtm(A, blocksize=1):
    """The principal square root (complex), through the complex Schur form."""
    jnp = _jnp()
    A = _dec.inexact(A)
    av = aval_of(A)
    if av.ndim != 2 or av.shape[0] != av.shape[1]:
        raise ShapeError(f"sqrtm: expected a square 2-d matrix, got {av.str_short()}")
    if blocksize > 1:
        raise NotImplementedError("sqrtm: blocksize > 1 is not supported")
    t, z = schur(A, output="complex")
    return jnp.matmul(jnp.matmul(z, _sqrtm_triu(t)), jnp.conj(jnp.swapaxes(z, -1, -2)))

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
