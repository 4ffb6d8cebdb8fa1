"""The spectral decompositions: eigh, svd, eig and schur (the shared helpers and the other
LAPACK primitives are in `ops/decompositions.py`; the NumPy references in
`ops/decomposition_impls.py`).

Derivatives follow JAX: the standard eigh/svd formulas with 1/(w_j - w_i) off the diagonal (so
degenerate eigenvalues give inf/NaN as in JAX), eigenvalues only for eig, none for schur; each
VJP is the transpose of its linear JVP written out step by step (no conjugation, JAX's
convention for complex values).
"""
from __future__ import annotations

import numpy as np

from . import decomposition_impls as _impls
from . import elementwise as el
from .autodiff import is_float
from .core import ShapedArray, get_aval
from .decompositions import (_as_dtype, _check_matrix, _conj, _const_like,
                             _diag_matrix, _diagonal, _H, _is_complex, _mm,
                             _permutation_matrix, _prim, _real, _real_dtype, _scale_cols,
                             _scale_rows, _T, _zeros, lu, set_rules, triangular_solve)
from .rules import as_function
from .shape import broadcast_in_dim


# --- eigh -----------------------------------------------------------------------------------

def _eigh_rule(a, *, lower=True, sort_eigenvalues=True):
    _check_matrix("eigh", a, square=True)
    return (ShapedArray(a.shape, a.dtype), ShapedArray(a.shape[:-1], _real_dtype(a.dtype)))


eigh_p = _prim("eigh", _eigh_rule, _impls.eigh, multiple_results=True)
eigh = as_function(eigh_p)


def _gap_inverse(w, dtype):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (inf where eigenvalues repeat)."""
    a = get_aval(w)
    n = a.shape[-1]
    shape = a.shape + (n,)
    wj = broadcast_in_dim(w, shape=shape, broadcast_dimensions=tuple(range(a.ndim - 1)) + (a.ndim,))
    wi = broadcast_in_dim(w, shape=shape, broadcast_dimensions=tuple(range(a.ndim)))
    eye = _const_like(wj, np.eye(n))
    f = el.sub(el.div(_const_like(wj, np.ones((n, n))), el.add(eye, el.sub(wj, wi))), eye)
    return _as_dtype(f, dtype)


def _eigh_jvp(primals, tangents, **params):
    (a,), (da,) = primals, tangents
    v, w = eigh(a, **params)
    if da is None:
        return (v, w), (None, None)
    dt = get_aval(a).dtype
    c = _mm(_mm(_H(v), da), v)
    dv = _mm(v, el.mul(_gap_inverse(w, dt), c))
    dw = _real(_diagonal(c))
    return (v, w), (dv, dw)


def _eigh_vjp(cts, ans, primals, **params):
    (a,) = primals
    gv, gw = cts
    if (gv is None and gw is None) or not is_float(a):
        return (None,)
    v, w = ans
    dt = get_aval(a).dtype
    ct_c = None
    if gv is not None:
        ct_c = el.mul(_gap_inverse(w, dt), _mm(_T(v), gv))
    if gw is not None:
        dw = _diag_matrix(_as_dtype(gw, dt))
        ct_c = dw if ct_c is None else el.add(ct_c, dw)
    return (_mm(_mm(_conj(v), ct_c), _T(v)),)


# --- svd ------------------------------------------------------------------------------------

def _svd_rule(a, *, full_matrices=True, compute_uv=True):
    _check_matrix("svd", a)
    m, n = a.shape[-2:]
    k = min(m, n)
    s = ShapedArray(a.shape[:-2] + (k,), _real_dtype(a.dtype))
    if not compute_uv:
        return (s,)
    um, vn = (m, n) if full_matrices else (k, k)
    return (s, ShapedArray(a.shape[:-2] + (m, um), a.dtype),
            ShapedArray(a.shape[:-2] + (vn, n), a.dtype))


svd_p = _prim("svd", _svd_rule, _impls.svd, multiple_results=True)
svd = as_function(svd_p)


def _svd_check_diff(a, full_matrices, compute_uv):
    m, n = get_aval(a).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"svd: the derivative of u and vh is not implemented for full_matrices=True and a "
            f"non-square {get_aval(a).str_short()}; use full_matrices=False")


def _svd_parts(s, dtype):
    """(F, s as dtype, 1/s with 0 for s == 0, 1/s): F[i, j] = 1/((s_j + s_i)(s_j - s_i))
    off the diagonal, 0 on it."""
    a = get_aval(s)
    k = a.shape[-1]
    shape = a.shape + (k,)
    sj = broadcast_in_dim(s, shape=shape, broadcast_dimensions=tuple(range(a.ndim - 1)) + (a.ndim,))
    si = broadcast_in_dim(s, shape=shape, broadcast_dimensions=tuple(range(a.ndim)))
    eye = _const_like(sj, np.eye(k))
    diffs = el.mul(el.add(sj, si), el.sub(sj, si))
    f = el.sub(el.div(_const_like(sj, np.ones((k, k))), el.add(diffs, eye)), eye)
    zero = el.eq(s, _zeros(s))
    one = _const_like(s, np.ones(()))
    s_inv0 = el.select(zero, _zeros(s), el.div(one, el.select(zero, one, s)))
    return (_as_dtype(f, dtype), _as_dtype(s, dtype), _as_dtype(s_inv0, dtype),
            _as_dtype(el.div(one, s), dtype))


def _half(x):
    return el.mul(x, _const_like(x, np.full((), 0.5)))


def _svd_jvp(primals, tangents, *, full_matrices=True, compute_uv=True):
    (a,), (da,) = primals, tangents
    m, n = get_aval(a).shape[-2:]
    if da is None:
        out = svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
        return out, (None,) * len(out)
    _svd_check_diff(a, full_matrices, compute_uv)
    dt = get_aval(a).dtype
    s, u, vt = svd(a, full_matrices=False, compute_uv=True)
    v = _H(vt)
    ds_mat = _mm(_mm(_H(u), da), v)
    ds = _real(_diagonal(ds_mat))
    if not compute_uv:
        return (s,), (ds,)
    f, sc, s_inv0, s_inv = _svd_parts(s, dt)
    dss, sds = _scale_cols(ds_mat, sc), _scale_rows(ds_mat, sc)
    x1 = el.add(el.mul(f, el.add(dss, _H(dss))),
                _half(el.mul(el.sub(ds_mat, _H(ds_mat)), _diag_matrix(s_inv0))))
    du = _mm(u, x1)
    dv = _mm(v, el.mul(f, el.add(sds, _H(sds))))
    if m > n:
        dav = _mm(da, v)
        du = el.add(du, _scale_cols(el.sub(dav, _mm(u, _mm(_H(u), dav))), s_inv))
    if n > m:
        dahu = _mm(_H(da), u)
        dv = el.add(dv, _scale_cols(el.sub(dahu, _mm(v, _mm(vt, dahu))), s_inv))
    return (s, u, vt), (ds, du, _H(dv))


def _svd_vjp(cts, ans, primals, *, full_matrices=True, compute_uv=True):
    (a,) = primals
    if cts is None or all(c is None for c in cts) or not is_float(a):
        return (None,)
    _svd_check_diff(a, full_matrices, compute_uv)
    m, n = get_aval(a).shape[-2:]
    dt = get_aval(a).dtype
    gs, gu, gvt = (tuple(cts) + (None, None))[:3]
    s, u, vt = ans if compute_uv else svd(a, full_matrices=False, compute_uv=True)
    v = _H(vt)
    f, sc, s_inv0, s_inv = _svd_parts(s, dt)
    ct_ds = _zeros(_mm(_H(u), u)) if gs is None else _diag_matrix(_as_dtype(gs, dt))
    if gu is not None:
        ct_x1 = _mm(_T(u), gu)
        y1 = el.mul(f, ct_x1)
        ct_ds = el.add(ct_ds, _scale_cols(el.add(y1, _H(y1)), sc))
        z = _half(el.mul(ct_x1, _diag_matrix(s_inv0)))
        ct_ds = el.add(ct_ds, el.sub(z, _H(z)))
    gv = None if gvt is None else _H(gvt)
    if gv is not None:
        y2 = el.mul(f, _mm(_T(v), gv))
        ct_ds = el.add(ct_ds, _scale_rows(el.add(y2, _H(y2)), sc))
    ct_a = _mm(_mm(_conj(u), ct_ds), _T(v))
    if m > n and gu is not None:
        w = _scale_cols(gu, s_inv)
        w = el.sub(w, _mm(_conj(u), _mm(_T(u), w)))
        ct_a = el.add(ct_a, _mm(w, _T(v)))
    if n > m and gv is not None:
        w = _scale_cols(gv, s_inv)
        w = el.sub(w, _mm(_conj(v), _mm(_T(v), w)))
        ct_a = el.add(ct_a, _mm(_conj(u), _H(w)))
    return (ct_a,)


# --- eig ------------------------------------------------------------------------------------

def _eig_rule(a, *, compute_left_eigenvectors=False, compute_right_eigenvectors=True):
    _check_matrix("eig", a, square=True)
    c = np.result_type(a.dtype, np.complex64)
    vecs = int(bool(compute_left_eigenvectors)) + int(bool(compute_right_eigenvectors))
    return (ShapedArray(a.shape[:-1], c),) + (ShapedArray(a.shape, c),) * vecs


eig_p = _prim("eig", _eig_rule, _impls.eig, multiple_results=True)
eig = as_function(eig_p)


def _solve(a, b):
    """a^-1 b for square `a`, through lu and two triangular solves."""
    packed, _, perm = lu(a)
    x = _mm(_permutation_matrix(perm, get_aval(a).dtype), b)
    y = triangular_solve(packed, x, left_side=True, lower=True, unit_diagonal=True)
    return triangular_solve(packed, y, left_side=True, lower=False)


def _eig_check_diff(params):
    if params.get("compute_left_eigenvectors") or params.get("compute_right_eigenvectors", True):
        raise NotImplementedError(
            "eig: only the eigenvalues are differentiable (derivatives of eigenvectors are not "
            "implemented, as in JAX); use eigvals, or eig with compute_left_eigenvectors=False "
            "and compute_right_eigenvectors=False")


def _eig_jvp(primals, tangents, **params):
    (a,), (da,) = primals, tangents
    out = eig(a, **params)
    if da is None:
        return out, (None,) * len(out)
    _eig_check_diff(params)
    w, v = eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=True)
    dac = _as_dtype(da, get_aval(v).dtype)
    return out, (_diagonal(_solve(v, _mm(dac, v))),)


def _eig_vjp(cts, ans, primals, **params):
    (a,) = primals
    if cts is None or cts[0] is None or not is_float(a):
        return (None,)
    _eig_check_diff(params)
    _, v = eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=True)
    ct = _solve(_T(v), _mm(_diag_matrix(cts[0]), _T(v)))
    return (ct if _is_complex(a) else el.real(ct),)



# --- schur ----------------------------------------------------------------------------------

def _schur_rule(a, *, compute_schur_vectors=True):
    _check_matrix("schur", a, square=True)
    c = ShapedArray(a.shape, np.result_type(a.dtype, np.complex64))
    return (c, c) if compute_schur_vectors else (c,)


schur_p = _prim("schur", _schur_rule, _impls.schur, multiple_results=True)
schur = as_function(schur_p)


def _schur_no_derivative(*_, **__):
    # JAX has no derivative for schur either: t and z are not differentiable functions of a
    # where eigenvalues repeat, and z's column phases are arbitrary.
    raise NotImplementedError(
        "schur: differentiation is not implemented (as in JAX); differentiate a function "
        "built from eig/eigh, or wrap the computation in a custom_jvp")


set_rules((eigh_p, _eigh_jvp, _eigh_vjp), (svd_p, _svd_jvp, _svd_vjp),
          (eig_p, _eig_jvp, _eig_vjp), (schur_p, _schur_no_derivative, _schur_no_derivative))
