"""Value and error cases for the decomposition primitives (`ops/decompositions.py`,
`ops/spectral.py`).

References are Python loops over scalars (Cholesky-Banachiewicz, Doolittle with partial
pivoting, substitution), or inputs whose factorization is known exactly: an upper-triangular
matrix is its own R (Householder reflectors of a zero column are the identity, so Q = I), a
diagonal matrix's eigenvectors and singular vectors are permutation matrices, a triangular
matrix's eigenvalues are its diagonal and it is its own Schur form (Z = I).
"""
from __future__ import annotations

import numpy as np

from ops.errors import DtypeError, ShapeError
from tests.ops.primitive_cases_elementwise import F32, F64, Bad, Case

I32 = np.dtype("int32")
RNG = np.random.default_rng(11)


def _spd(n, dtype):
    a = RNG.normal(size=(n, n))
    return (a @ a.T + n * np.eye(n)).astype(dtype)


def _cholesky_ref(a, lower=True):
    n = a.shape[0]
    h = [[float(a[max(i, j), min(i, j)]) if lower else float(a[min(i, j), max(i, j)])
          for j in range(n)] for i in range(n)]
    l = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = h[i][j] - sum(l[i][k] * l[j][k] for k in range(j))
            l[i][j] = s ** 0.5 if i == j else s / l[j][j]
    out = np.array(l, a.dtype)
    return out if lower else out.T


def _lu_ref(a):
    m, n = a.shape
    w = [[float(v) for v in row] for row in a]
    perm = list(range(m))
    piv = []
    for j in range(min(m, n)):
        p = max(range(j, m), key=lambda r: (abs(w[r][j]), -r))
        piv.append(p)
        w[j], w[p] = w[p], w[j]
        perm[j], perm[p] = perm[p], perm[j]
        for r in range(j + 1, m):
            if w[j][j] != 0:
                w[r][j] /= w[j][j]
                for c in range(j + 1, n):
                    w[r][c] -= w[r][j] * w[j][c]
    return np.array(w, a.dtype), np.array(piv, I32), np.array(perm, I32)


def _tri_solve_ref(a, b, left_side=False, lower=False, transpose_a=False, unit_diagonal=False,
                   conjugate_a=False):
    n = a.shape[0]
    m = [[(float(a[i, j]) if (i >= j if lower else i <= j) else 0.0) for j in range(n)]
         for i in range(n)]
    if unit_diagonal:
        for i in range(n):
            m[i][i] = 1.0
    if transpose_a:
        m = [list(r) for r in zip(*m)]
    rhs = b if left_side else b.T
    if not left_side:       # x @ M = b  <=>  M^T x^T = b^T
        m = [list(r) for r in zip(*m)]
    low = all(m[i][j] == 0 for i in range(n) for j in range(i + 1, n))
    x = [[0.0] * rhs.shape[1] for _ in range(n)]
    for c in range(rhs.shape[1]):
        for i in (range(n) if low else range(n - 1, -1, -1)):
            done = range(i) if low else range(i + 1, n)
            x[i][c] = (float(rhs[i, c]) - sum(m[i][k] * x[k][c] for k in done)) / m[i][i]
    out = np.array(x, b.dtype)
    return out if left_side else out.T


def value_cases():
    cases = []
    for dt, tol in ((F64, 1e-12), (F32, 2e-5)):
        spd = _spd(4, dt)
        cases += [
            Case("cholesky", (spd,), {}, _cholesky_ref, rtol=tol, atol=tol, label=f"{dt}"),
            Case("cholesky", (spd,), {"lower": False}, lambda a: _cholesky_ref(a, False),
                 rtol=tol, atol=tol, label=f"upper-{dt}"),
        ]
        for shape in ((4, 4), (5, 3), (3, 5)):
            a = RNG.normal(size=shape).astype(dt)
            cases.append(Case("lu", (a,), {}, _lu_ref, rtol=tol, atol=tol,
                              label=f"{shape[0]}x{shape[1]}-{dt}"))
        a = (RNG.normal(size=(4, 4)) + 4 * np.eye(4)).astype(dt)
        b = RNG.normal(size=(4, 3)).astype(dt)
        for kw in ({"left_side": True, "lower": True},
                   {"left_side": True, "lower": False, "transpose_a": True},
                   {"left_side": False, "lower": True, "unit_diagonal": True}):
            bb = b if kw["left_side"] else b.T
            cases.append(Case("triangular_solve", (a, bb), kw,
                              lambda a, b, kw=kw: _tri_solve_ref(a, b, **kw), rtol=tol, atol=tol,
                              label="-".join(k for k in kw if kw[k]) + f"-{dt}"))
        up = np.triu(RNG.normal(size=(4, 3))).astype(dt)
        cases += [
            Case("qr", (up,), {}, lambda a: (np.eye(4, dtype=a.dtype), a), label=f"full-{dt}",
                 signed_zero=False),
            Case("qr", (up,), {"full_matrices": False},
                 lambda a: (np.eye(4, 3, dtype=a.dtype), a[:3]), label=f"reduced-{dt}",
                 signed_zero=False),
            Case("eigh", (np.diag([3.0, 1.0, 2.0]).astype(dt),), {},
                 lambda a: (np.eye(3, dtype=a.dtype)[:, [1, 2, 0]],
                            np.array([1, 2, 3], a.dtype)), label=f"diag-{dt}",
                 signed_zero=False),
            Case("svd", (np.diag([1.0, 3.0, 2.0]).astype(dt),), {},
                 lambda a: (np.array([3, 2, 1], a.dtype), np.eye(3, dtype=a.dtype)[:, [1, 2, 0]],
                            np.eye(3, dtype=a.dtype)[[1, 2, 0]]), label=f"diag-{dt}",
                 signed_zero=False),
            Case("svd", (np.diag([1.0, 3.0, 2.0]).astype(dt),), {"compute_uv": False},
                 lambda a: (np.array([3, 2, 1], a.dtype),), label=f"values-{dt}"),
            Case("eig", (np.triu(np.arange(1.0, 10.0).reshape(3, 3)).astype(dt),),
                 {"compute_right_eigenvectors": False},
                 lambda a: (np.array([1, 5, 9], np.result_type(a.dtype, np.complex64)),),
                 label=f"triangular-{dt}"),
        ]
        cdt = np.result_type(dt, np.complex64)
        tri = np.triu(RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))).astype(cdt)
        cases += [
            Case("schur", (np.triu(np.arange(1.0, 10.0).reshape(3, 3)).astype(dt),), {},
                 lambda a: (a.astype(np.result_type(a.dtype, np.complex64)),
                            np.eye(3, dtype=np.result_type(a.dtype, np.complex64))),
                 label=f"triangular-{dt}", signed_zero=False),
            Case("schur", (tri,), {"compute_schur_vectors": False}, lambda a: (a,),
                 label=f"complex-triangular-{cdt}", signed_zero=False),
        ]
    return cases


def _z(shape, dtype=F32):
    return np.zeros(shape, dtype)


ERROR_CASES = [
    Bad("cholesky", (_z((3, 3), I32),), {}, DtypeError, "s32[3,3]"),
    Bad("cholesky", (_z((3, 4)),), {}, ShapeError, "f32[3,4]"),
    Bad("lu", (_z((3,)),), {}, ShapeError, "f32[3]"),
    Bad("lu", (_z((2, 2), I32),), {}, DtypeError, "s32[2,2]"),
    Bad("triangular_solve", (_z((3, 3)), _z((4, 2))), {"left_side": True}, ShapeError,
        "f32[4,2]"),
    Bad("triangular_solve", (_z((3, 3)), _z((3, 2), F64)), {"left_side": True}, DtypeError,
        "f64[3,2]"),
    Bad("qr", (_z((3, 3), I32),), {}, DtypeError, "s32[3,3]"),
    Bad("eigh", (_z((2, 3)),), {}, ShapeError, "f32[2,3]"),
    Bad("svd", (_z((4,)),), {}, ShapeError, "f32[4]"),
    Bad("svd", (_z((2, 2), I32),), {}, DtypeError, "s32[2,2]"),
    Bad("eig", (_z((2, 3)),), {}, ShapeError, "f32[2,3]"),
    Bad("schur", (_z((2, 3)),), {}, ShapeError, "f32[2,3]"),
    Bad("schur", (_z((2, 2), I32),), {}, DtypeError, "s32[2,2]"),
]
VALUE_CASES = value_cases()
