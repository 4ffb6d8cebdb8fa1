"""`jitcore.lax.linalg`: JAX's `lax.linalg` over the decomposition primitives
(`ops/decompositions.py`, `ops/spectral.py`), with JAX's signatures and result orders."""
from __future__ import annotations

from ops import decompositions as _d

from .numpy._promotion import asarray, aval_of

__all__ = ["cholesky", "triangular_solve", "qr", "eigh", "svd", "lu", "eig", "schur"]


def _H(x):
    from . import numpy as jnp
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def symmetrize(x):
    """(x + x^H) / 2: the Hermitian part, what the symmetric decompositions assume."""
    x = asarray(x)
    return (x + _H(x)) / 2


def cholesky(x, *, symmetrize_input: bool = True):
    """The lower Cholesky factor L (x = L L^H); NaN for a matrix that is not positive definite."""
    x = asarray(x)
    if symmetrize_input:
        x = symmetrize(x)
    return _d.cholesky(x, lower=True)


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solve op(a) @ x = b (left_side) or x @ op(a) = b for triangular `a`."""
    a, b = asarray(a), asarray(b)
    if aval_of(b).ndim == aval_of(a).ndim - 1:
        # A vector b is one column (left side) or one row (right side), as in JAX.
        from . import numpy as jnp
        axis = -1 if left_side else -2
        out = _d.triangular_solve(a, jnp.expand_dims(b, axis), left_side=left_side, lower=lower,
                                  transpose_a=transpose_a, conjugate_a=conjugate_a,
                                  unit_diagonal=unit_diagonal)
        return jnp.squeeze(out, axis)
    return _d.triangular_solve(a, b, left_side=left_side, lower=lower, transpose_a=transpose_a,
                               conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """(q, r) with x = q @ r."""
    if pivoting:
        raise NotImplementedError("lax.linalg.qr: pivoting=True is not supported")
    return tuple(_d.qr(asarray(x), full_matrices=full_matrices))


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index=None, implementation=None):
    """(v, w): eigenvectors (columns) and ascending real eigenvalues of a Hermitian matrix."""
    if subset_by_index is not None:
        raise NotImplementedError("lax.linalg.eigh: subset_by_index is not supported")
    x = asarray(x)
    if symmetrize_input:
        x = symmetrize(x)
    return tuple(_d.eigh(x, lower=lower, sort_eigenvalues=sort_eigenvalues))


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
    """(u, s, vh) when compute_uv, else s (descending)."""
    if subset_by_index is not None:
        raise NotImplementedError("lax.linalg.svd: subset_by_index is not supported")
    out = _d.svd(asarray(x), full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return out[0]
    s, u, vh = out
    return u, s, vh


def lu(x):
    """(lu, pivots, permutation): P x = L U with L unit lower and U upper packed in `lu`."""
    return tuple(_d.lu(asarray(x)))


def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None):
    """[w, vl, vr] (each vector set only when asked), complex."""
    return list(_d.eig(asarray(x), compute_left_eigenvectors=compute_left_eigenvectors,
                       compute_right_eigenvectors=compute_right_eigenvectors))


def schur(x, *, compute_schur_vectors: bool = True, sort_eig_vals: bool = False,
          select_callable=None):
    """[t, z] (or [t]): the complex Schur form, x = z t z^H with t upper triangular. Complex
    for real x too (JAX returns LAPACK's real quasi-triangular form there). sort_eig_vals and
    select_callable are accepted and unused, as JAX documents them."""
    return list(_d.schur(asarray(x), compute_schur_vectors=compute_schur_vectors))
