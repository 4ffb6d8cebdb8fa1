"""Matrix decompositions: cholesky, lu, triangular_solve, qr (the spectral ones, eigh, svd, eig
and schur, are in `ops/spectral.py` and re-exported here, so `ops.decompositions` names every
LAPACK primitive).

The trailing two axes of every operand are the matrix; leading axes are batch axes (so the
batching rule only moves the batch axis to the front). Dtypes: float32/64, complex64/128.
Each runs as a LAPACK call (`lowering="library"`, `library="lapack"`); a backend without a
native call runs the NumPy reference (`ops/decomposition_impls.py`) as a host step. Results and
their order are JAX's `lax.linalg` ones.

Derivatives follow JAX: the JVPs are JAX's (Murray 2016 for cholesky, de Hoog et al. for lu),
and each VJP is the transpose of its linear JVP written out step by step (no conjugation,
JAX's convention for complex values). The small matrix helpers below are shared with
`ops/spectral.py`.
"""
from __future__ import annotations

import numpy as np

from . import decomposition_impls as _impls
from . import elementwise as el
from .autodiff import is_float, move_batch_to_front
from .core import Primitive, ShapedArray, get_aval
from .errors import DtypeError, ShapeError
from .linalg import dot_general
from .rules import as_function, quiet
from .shape import broadcast_in_dim, reshape, slice as slice_, transpose

_KINDS = "fc"


def _real_dtype(dtype):
    return np.zeros(1, dtype).real.dtype


def _check_matrix(op, a, square=False):
    if a.dtype.kind not in _KINDS:
        raise DtypeError(f"{op} requires a float32, float64, complex64 or complex128 operand, "
                         f"got {a.str_short()}", hint="convert it first with .astype(float)")
    if a.ndim < 2:
        raise ShapeError(f"{op}: the operand must have at least 2 dimensions (a matrix), "
                         f"got {a.str_short()}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{op}: the operand must be square in its last two dimensions, "
                         f"got {a.str_short()}")


def _prim(name, rule, impl, multiple_results=False):
    p = Primitive(name, "decompositions", multiple_results=multiple_results)
    p.abstract_eval = rule
    p.impl = quiet(impl)
    p.lowering = "library"
    p.library = "lapack"
    return p


# --- small matrix helpers, written with primitives (they build IR under a trace) ----------

def _nd(x):
    return get_aval(x).ndim


def _T(x):
    n = _nd(x)
    return transpose(x, permutation=tuple(range(n - 2)) + (n - 1, n - 2))


def _is_complex(x):
    return get_aval(x).dtype.kind == "c"


def _conj(x):
    return el.conj(x) if _is_complex(x) else x


def _H(x):
    return _conj(_T(x))


def _real(x):
    return el.real(x) if _is_complex(x) else x


def _mm(a, b):
    """Batched matrix product over equal leading axes."""
    n = _nd(a)
    batch = tuple(range(n - 2))
    return dot_general(a, b, dimension_numbers=(((n - 1,), (n - 2,)), (batch, batch)))


def _const_like(x, array):
    """A NumPy constant for the trailing axes of `x`, broadcast along `x`'s leading axes."""
    a = get_aval(x)
    c = np.asarray(array)
    if c.dtype.kind != "b":
        c = c.astype(a.dtype)
    lead = a.shape[:a.ndim - c.ndim]
    return broadcast_in_dim(c, shape=lead + c.shape,
                            broadcast_dimensions=tuple(range(len(lead), a.ndim)))


def _zeros(x):
    return _const_like(x, np.zeros((), get_aval(x).dtype))


def _mask(x, keep):
    """`x` where the boolean matrix `keep` holds, zero elsewhere (select: no inf*0 NaNs)."""
    return el.select(_const_like(x, keep), x, _zeros(x))


def _tril(x, k=0):
    m, n = get_aval(x).shape[-2:]
    return _mask(x, np.tri(m, n, k, dtype=bool))


def _triu(x, k=0):
    m, n = get_aval(x).shape[-2:]
    return _mask(x, ~np.tri(m, n, k - 1, dtype=bool))


def _diagonal(x):
    """The main diagonal of the trailing matrix, as the last axis."""
    a = get_aval(x)
    m, n = a.shape[-2:]
    k = min(m, n)
    flat = reshape(x, new_sizes=a.shape[:-2] + (m * n,))
    if k == 0:
        return reshape(flat, new_sizes=a.shape[:-2] + (0,))
    lead = a.ndim - 2
    return slice_(flat, start_indices=(0,) * (lead + 1),
                  limit_indices=a.shape[:-2] + ((k - 1) * (n + 1) + 1,),
                  strides=(1,) * lead + (n + 1,))


def _diag_matrix(d):
    """Square matrices with the vector `d` (last axis) on the main diagonal."""
    a = get_aval(d)
    k = a.shape[-1]
    rows = broadcast_in_dim(d, shape=a.shape + (k,),
                            broadcast_dimensions=tuple(range(a.ndim - 1)) + (a.ndim,))
    return _mask(rows, np.eye(k, dtype=bool))


def _scale_cols(x, v):
    """x[..., i, j] * v[..., j]."""
    a = get_aval(x)
    return el.mul(x, broadcast_in_dim(v, shape=a.shape, broadcast_dimensions=tuple(
        range(a.ndim - 2)) + (a.ndim - 1,)))


def _scale_rows(x, v):
    """x[..., i, j] * v[..., i]."""
    a = get_aval(x)
    return el.mul(x, broadcast_in_dim(v, shape=a.shape, broadcast_dimensions=tuple(
        range(a.ndim - 1))))


def _as_dtype(x, dtype):
    if get_aval(x).dtype == dtype:
        return x
    return el.convert_element_type(x, new_dtype=np.dtype(dtype), weak_type=False)


def _eye_like(x, n):
    return _const_like(x, np.eye(n))


def _permutation_matrix(perm, dtype):
    """P with P[i, j] = (perm[i] == j), so P @ a gathers a's rows in `perm`'s order."""
    pa = get_aval(perm)
    m = pa.shape[-1]
    shape = pa.shape + (m,)
    rows = broadcast_in_dim(perm, shape=shape, broadcast_dimensions=tuple(range(pa.ndim)))
    cols = el.iota(dtype=pa.dtype, shape=shape, dimension=pa.ndim)
    return el.convert_element_type(el.eq(rows, cols), new_dtype=np.dtype(dtype),
                                   weak_type=False)


def _batch_all(prim):
    """Every operand gets the batch axis in front (the primitives are batched natively)."""
    def batch(args, batched, size, **params):
        if not any(batched):
            out = prim.bind(*args, **params)
            return out, ((False,) * len(out) if prim.multiple_results else False)
        args = [move_batch_to_front(x, b, size) for x, b in zip(args, batched)]
        out = prim.bind(*args, **params)
        return out, ((True,) * len(out) if prim.multiple_results else True)
    prim.batch = batch


# --- cholesky -------------------------------------------------------------------------------

def _cholesky_rule(a, *, lower=True):
    _check_matrix("cholesky", a, square=True)
    return ShapedArray(a.shape, a.dtype)


cholesky_p = _prim("cholesky", _cholesky_rule, _impls.cholesky)
cholesky = as_function(cholesky_p)


def _phi(x):
    """The lower triangle with the diagonal halved (Murray 2016's Phi); self-adjoint."""
    n = get_aval(x).shape[-1]
    return el.mul(_tril(x), _const_like(x, np.where(np.eye(n, dtype=bool), 0.5, 1.0)))


def _cholesky_jvp(primals, tangents, *, lower=True):
    (a,), (da,) = primals, tangents
    if not lower:
        l, dl = _cholesky_jvp((_H(a),), (None if da is None else _H(da),), lower=True)
        return _H(l), (None if dl is None else _H(dl))
    l = cholesky(a, lower=True)
    if da is None:
        return l, None
    # dL = L Phi(L^-1 dA L^-H), the tangent read as a whole (as JAX does).
    tmp = triangular_solve(l, da, left_side=False, lower=True, transpose_a=True,
                           conjugate_a=True)
    s = triangular_solve(l, tmp, left_side=True, lower=True)
    return l, _mm(l, _phi(s))


def _cholesky_vjp(ct, ans, primals, *, lower=True):
    (a,) = primals
    if ct is None or not is_float(a):
        return (None,)
    if not lower:
        (c,) = _cholesky_vjp(_H(ct), _H(ans), (_H(a),), lower=True)
        return (_H(c),)
    l = ans
    # Transposes of: tmp = dA L^-H; s = L^-1 tmp; dL = L Phi(s).
    ct_s = _phi(_mm(_T(l), ct))
    ct_tmp = triangular_solve(l, ct_s, left_side=True, lower=True, transpose_a=True)
    ct_a = triangular_solve(l, ct_tmp, left_side=False, lower=True, transpose_a=False,
                            conjugate_a=True)
    return (ct_a,)


# --- lu -------------------------------------------------------------------------------------

def _lu_rule(a):
    _check_matrix("lu", a)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    return (ShapedArray(a.shape, a.dtype), ShapedArray(batch + (min(m, n),), np.int32),
            ShapedArray(batch + (m,), np.int32))


lu_p = _prim("lu", _lu_rule, _impls.lu, multiple_results=True)
lu = as_function(lu_p)


def _lu_factors(packed, m, n):
    """L (m x m, unit lower, padded with the identity) and U (n x n, padded likewise)."""
    k = min(m, n)
    lead = _nd(packed) - 2
    shape = get_aval(packed).shape
    lk = slice_(packed, start_indices=(0,) * (lead + 2), limit_indices=shape[:-1] + (k,))
    l = _tril(lk, -1)
    if m > k:
        l = _pad_cols(l, m - k)
    l = el.add(l, _eye_like(l, m))
    uk = slice_(packed, start_indices=(0,) * (lead + 2), limit_indices=shape[:-2] + (k, n))
    u = _triu(uk)
    if n > k:
        u = _pad_rows(u, n - k)
        u = el.add(u, _const_like(u, np.diag(np.r_[np.zeros(k), np.ones(n - k)])))
    return l, u


def _pad_cols(x, extra):
    from .shape import pad
    nd = _nd(x)
    cfg = ((0, 0, 0),) * (nd - 1) + ((0, extra, 0),)
    return pad(x, np.zeros((), get_aval(x).dtype), padding_config=cfg)


def _pad_rows(x, extra):
    from .shape import pad
    nd = _nd(x)
    cfg = ((0, 0, 0),) * (nd - 2) + ((0, extra, 0), (0, 0, 0))
    return pad(x, np.zeros((), get_aval(x).dtype), padding_config=cfg)


def _lu_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    packed, pivots, perm = lu(a)
    if da is None:
        return (packed, pivots, perm), (None, None, None)
    m, n = get_aval(a).shape[-2:]
    l, u = _lu_factors(packed, m, n)
    x = _mm(_permutation_matrix(perm, get_aval(a).dtype), da)
    la = triangular_solve(l, x, left_side=True, lower=True, unit_diagonal=True)
    lau = triangular_solve(u, la, left_side=False, lower=False)
    dlu = el.add(_mm(l, _tril(lau, -1)), _mm(_triu(lau), u))
    return (packed, pivots, perm), (dlu, None, None)


def _lu_vjp(cts, ans, primals):
    (a,) = primals
    ct = cts[0]
    if ct is None or not is_float(a):
        return (None,)
    packed, _, perm = ans
    m, n = get_aval(a).shape[-2:]
    l, u = _lu_factors(packed, m, n)
    ct_lau = el.add(_tril(_mm(_T(l), ct), -1), _triu(_mm(ct, _T(u))))
    ct_la = triangular_solve(u, ct_lau, left_side=False, lower=False, transpose_a=True)
    ct_x = triangular_solve(l, ct_la, left_side=True, lower=True, transpose_a=True,
                            unit_diagonal=True)
    return (_mm(_T(_permutation_matrix(perm, get_aval(a).dtype)), ct_x),)


# --- triangular_solve -----------------------------------------------------------------------

def _triangular_solve_rule(a, b, *, left_side=False, lower=False, transpose_a=False,
                           conjugate_a=False, unit_diagonal=False):
    _check_matrix("triangular_solve", a, square=True)
    _check_matrix("triangular_solve", b)
    if a.dtype != b.dtype:
        raise DtypeError(f"triangular_solve: a and b must share a dtype, got {a.str_short()} "
                         f"and {b.str_short()}")
    if a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        raise ShapeError(f"triangular_solve: a {a.str_short()} and b {b.str_short()} must have "
                         "equal batch dimensions")
    k = b.shape[-2] if left_side else b.shape[-1]
    if a.shape[-1] != k:
        side = "rows" if left_side else "columns"
        raise ShapeError(f"triangular_solve: a {a.str_short()} does not match b's {side}: "
                         f"{b.str_short()} (left_side={left_side})")
    return ShapedArray(b.shape, b.dtype)


triangular_solve_p = _prim("triangular_solve", _triangular_solve_rule, _impls.triangular_solve)
triangular_solve = as_function(triangular_solve_p)


def _tri_operand(a, lower, unit_diagonal, transpose_a, conjugate_a):
    """op(a) as the solve reads it: the chosen triangle, unit diagonal if asked."""
    n = get_aval(a).shape[-1]
    keep = np.tri(n, n, -1 if unit_diagonal else 0, dtype=bool)
    m = _mask(a, keep if lower else keep.T)
    if unit_diagonal:
        m = el.add(m, _eye_like(m, n))
    if transpose_a:
        m = _T(m)
    return _conj(m) if conjugate_a else m


def _triangular_solve_jvp(primals, tangents, **params):
    (a, b), (da, db) = primals, tangents
    x = triangular_solve(a, b, **params)
    if da is None and db is None:
        return x, None
    rhs = db
    if da is not None:
        dm = _tri_operand(da, params.get("lower", False), False, params.get("transpose_a", False),
                          params.get("conjugate_a", False))
        if params.get("unit_diagonal", False):
            dm = _mask(dm, ~np.eye(get_aval(a).shape[-1], dtype=bool))
        dmx = _mm(dm, x) if params.get("left_side", False) else _mm(x, dm)
        rhs = el.neg(dmx) if rhs is None else el.sub(rhs, dmx)
    return x, triangular_solve(a, rhs, **params)


def _triangular_solve_vjp(ct, ans, primals, *, left_side=False, lower=False, transpose_a=False,
                          conjugate_a=False, unit_diagonal=False):
    a, b = primals
    if ct is None:
        return None, None
    ct_b = triangular_solve(a, ct, left_side=left_side, lower=lower,
                            transpose_a=not transpose_a, conjugate_a=conjugate_a,
                            unit_diagonal=unit_diagonal)
    ct_a = None
    if is_float(a):
        ct_m = el.neg(_mm(ct_b, _T(ans)) if left_side else _mm(_T(ans), ct_b))
        if transpose_a:
            ct_m = _T(ct_m)
        if conjugate_a:
            ct_m = _conj(ct_m)
        n = get_aval(a).shape[-1]
        keep = np.tri(n, n, -1 if unit_diagonal else 0, dtype=bool)
        ct_a = _mask(ct_m, keep if lower else keep.T)
    return ct_a, ct_b


# --- qr -------------------------------------------------------------------------------------

def _qr_rule(a, *, full_matrices=True):
    _check_matrix("qr", a)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    return (ShapedArray(a.shape[:-2] + (m, k), a.dtype),
            ShapedArray(a.shape[:-2] + (k, n), a.dtype))


qr_p = _prim("qr", _qr_rule, _impls.qr, multiple_results=True)
qr = as_function(qr_p)


def _qr_check_diff(a, full_matrices):
    m, n = get_aval(a).shape[-2:]
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            f"qr: the derivative is implemented for m >= n with full_matrices=False (or square "
            f"matrices), got {get_aval(a).str_short()} with full_matrices={full_matrices}")


def _qr_jvp(primals, tangents, *, full_matrices=True):
    (a,), (da,) = primals, tangents
    q, r = qr(a, full_matrices=full_matrices)
    if da is None:
        return (q, r), (None, None)
    _qr_check_diff(a, full_matrices)
    k = triangular_solve(r, da, left_side=False, lower=False)
    c = _mm(_H(q), k)
    low = _tril(c, -1)
    do = el.sub(low, _H(low))
    if _is_complex(c):
        do = el.add(do, _diag_matrix(el.sub(_diagonal(c), _as_dtype(_real(_diagonal(c)),
                                                                     get_aval(c).dtype))))
    dq = el.add(_mm(q, el.sub(do, c)), k)
    dr = _mm(el.sub(c, do), r)
    return (q, r), (dq, dr)


def _qr_vjp(cts, ans, primals, *, full_matrices=True):
    (a,) = primals
    gq, gr = cts
    if (gq is None and gr is None) or not is_float(a):
        return (None,)
    _qr_check_diff(a, full_matrices)
    q, r = ans
    e = None
    if gq is not None:
        e = _mm(_T(q), gq)
    if gr is not None:
        rt = _mm(gr, _T(r))
        e = el.neg(rt) if e is None else el.sub(e, rt)
    ct_c = el.add(el.neg(e), _tril(el.sub(e, _H(e)), -1))
    if _is_complex(e):
        de = _diagonal(e)
        ct_c = el.add(ct_c, _diag_matrix(el.sub(de, _as_dtype(_real(de), get_aval(de).dtype))))
    ct_k = _mm(_conj(q), ct_c)
    if gq is not None:
        ct_k = el.add(ct_k, gq)
    return (triangular_solve(r, ct_k, left_side=False, lower=False, transpose_a=True),)


def set_rules(*rules):
    """Give each (primitive, jvp, vjp) its rules and the batching of matrix primitives."""
    for p, jvp, vjp in rules:
        p.jvp, p.vjp = jvp, vjp
        _batch_all(p)


set_rules((cholesky_p, _cholesky_jvp, _cholesky_vjp), (lu_p, _lu_jvp, _lu_vjp),
          (triangular_solve_p, _triangular_solve_jvp, _triangular_solve_vjp),
          (qr_p, _qr_jvp, _qr_vjp))

# The spectral family needs the helpers and primitives above, so it is imported last.
from .spectral import (eig, eig_p, eigh, eigh_p, schur, schur_p, svd, svd_p)  # noqa: E402,F401
