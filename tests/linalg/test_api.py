"""`jnp.linalg`, `jitcore.scipy.linalg` and `jitcore.lax.linalg` against NumPy float64 and
closed forms (no SciPy: references are NumPy calls, identities and series)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
import jitcore.scipy.linalg as jsl

RNG = np.random.default_rng(5)
A = RNG.normal(size=(3, 4, 4))
B = RNG.normal(size=(3, 4, 2))
SPD = A @ np.swapaxes(A, -1, -2) + 4 * np.eye(4)


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("jit", [False, True])
def test_numpy_linalg_matches_numpy(jit):
    w = jitcore.jit if jit else (lambda f: f)
    close(w(jnp.linalg.solve)(A, B), np.linalg.solve(A, B))
    close(w(jnp.linalg.solve)(A[0], B[0, :, 0]), np.linalg.solve(A[0], B[0, :, 0]))
    close(w(jnp.linalg.inv)(A), np.linalg.inv(A))
    close(w(jnp.linalg.det)(A), np.linalg.det(A))
    sign, logdet = w(jnp.linalg.slogdet)(A)
    close(sign, np.linalg.slogdet(A)[0])
    close(logdet, np.linalg.slogdet(A)[1])
    close(w(jnp.linalg.cholesky)(SPD), np.linalg.cholesky(SPD))
    close(w(lambda x: jnp.linalg.cholesky(x, upper=True))(SPD),
          np.swapaxes(np.linalg.cholesky(SPD), -1, -2))
    close(w(jnp.linalg.eigvalsh)(SPD), np.linalg.eigvalsh(SPD))
    close(w(jnp.linalg.svdvals)(A), np.linalg.svd(A, compute_uv=False))
    close(np.sort_complex(np.asarray(w(jnp.linalg.eigvals)(A[0]))),
          np.sort_complex(np.linalg.eigvals(A[0])))
    close(w(jnp.linalg.pinv)(A[0, :, :3]), np.linalg.pinv(A[0, :, :3]))
    close(w(lambda x: jnp.linalg.matrix_power(x, -3))(A[0]), np.linalg.matrix_power(A[0], -3))
    close(w(lambda x: jnp.linalg.matrix_power(x, 5))(A[0]), np.linalg.matrix_power(A[0], 5))
    for p in (None, 2, -2, 1, "fro", np.inf):
        close(w(lambda x: jnp.linalg.cond(x, p))(A[0]), np.linalg.cond(A[0], p))
    for o in (2, -2, "nuc"):
        close(w(lambda x: jnp.linalg.norm(x, o, axis=(0, 2)))(A), np.linalg.norm(A, o, axis=(0, 2)))


def test_factorizations_reconstruct():
    q, r = jnp.linalg.qr(A[0, :, :3])
    close(np.asarray(q) @ np.asarray(r), A[0, :, :3])
    assert np.shape(jnp.linalg.qr(A[0, :, :3], mode="complete").Q) == (4, 4)
    assert np.shape(jnp.linalg.qr(A[0, :, :3], mode="r")) == (3, 3)
    w, v = jnp.linalg.eigh(SPD)
    close(SPD @ np.asarray(v), np.asarray(v) * np.asarray(w)[..., None, :])
    u, s, vh = jnp.linalg.svd(A)
    close((np.asarray(u) * np.asarray(s)[..., None, :]) @ np.asarray(vh), A)
    h = SPD[0] - 10 * np.eye(4)        # indefinite: hermitian=True takes |w|
    u, s, vh = jnp.linalg.svd(h, hermitian=True)
    close(s, np.linalg.svd(h, compute_uv=False))
    close((np.asarray(u) * np.asarray(s)) @ np.asarray(vh), h)
    w, v = jnp.linalg.eig(A[0])
    close(A[0] @ np.asarray(v), np.asarray(v) * np.asarray(w))


def test_lstsq_rank_tensor_and_multi_dot():
    a, b = A[0, :, :3], B[0]
    for got, want in zip(jnp.linalg.lstsq(a, b), np.linalg.lstsq(a, b, rcond=None)):
        close(got, want)
    low = np.outer(np.arange(1.0, 5.0), np.arange(1.0, 4.0))
    assert int(jnp.linalg.matrix_rank(low)) == 1 == np.linalg.matrix_rank(low)
    t = RNG.normal(size=(6, 2, 3))
    close(jnp.linalg.tensorinv(t, 1), np.linalg.tensorinv(t, 1))
    ta, tb = RNG.normal(size=(2, 3, 6)), RNG.normal(size=(2, 3))
    close(jnp.linalg.tensorsolve(ta, tb), np.linalg.tensorsolve(ta, tb))
    ms = [RNG.normal(size=3), RNG.normal(size=(3, 5)), RNG.normal(size=(5, 2)), RNG.normal(size=2)]
    close(jnp.linalg.multi_dot(ms), np.linalg.multi_dot(ms))


def test_derivatives_of_det_inv_solve():
    a = A[0]
    close(jitcore.grad(jnp.linalg.det)(a), np.linalg.det(a) * np.linalg.inv(a).T)
    close(jitcore.grad(lambda x: jnp.linalg.slogdet(x)[1])(a), np.linalg.inv(a).T)
    ct = RNG.normal(size=(4, 4))
    ai = np.linalg.inv(a)
    close(jitcore.grad(lambda x: jnp.sum(jnp.linalg.inv(x) * ct))(a), -(ai.T @ ct @ ai.T))
    x = np.linalg.solve(a, B[0])
    close(jitcore.grad(lambda y: jnp.sum(jnp.linalg.solve(y, B[0])))(a),
          -np.linalg.solve(a.T, np.ones((4, 2))) @ x.T)
    g = jitcore.vmap(jitcore.grad(jnp.linalg.det))(A)
    close(g, np.linalg.det(A)[:, None, None] * np.swapaxes(np.linalg.inv(A), -1, -2))
    # pinv's derivative (Golub-Pereyra) against central differences.
    m, d = A[0, :, :3], RNG.normal(size=(4, 3))
    _, t = jitcore.jvp(jnp.linalg.pinv, (m,), (d,))
    fd = (np.linalg.pinv(m + 1e-6 * d) - np.linalg.pinv(m - 1e-6 * d)) / 2e-6
    close(t, fd, 1e-6)


def test_singular_empty_and_small():
    sing = np.ones((3, 3))
    assert not np.isfinite(np.asarray(jnp.linalg.inv(sing))).all()
    assert float(jnp.linalg.det(sing)) == 0.0
    sign, logdet = jnp.linalg.slogdet(sing)
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    # Not positive definite: NaN in the lower triangle, zeros above (JAX's values).
    bad = np.asarray(jnp.linalg.cholesky(-np.eye(2)))
    assert np.isnan(bad[np.tril_indices(2)]).all() and bad[0, 1] == 0.0
    bad_jit = np.asarray(jitcore.jit(jnp.linalg.cholesky)(-np.eye(2)))
    np.testing.assert_array_equal(bad_jit, bad)
    assert np.shape(jnp.linalg.inv(np.zeros((0, 0)))) == (0, 0)
    assert float(jnp.linalg.det(np.zeros((0, 0)))) == 1.0
    close(jnp.linalg.inv(np.array([[4.0]])), [[0.25]])
    close(jnp.linalg.det(np.arange(4).reshape(2, 2)), -2.0)      # integers become float64
    assert jnp.linalg.det(np.eye(2, dtype=np.float32)).dtype == np.float32
    close(jnp.linalg.solve(A[0].T, B[0]), np.linalg.solve(A[0].T, B[0]))   # non-contiguous


def test_scipy_linalg():
    a, b, spd = A[0], B[0], SPD[0]
    low = np.tril(a) + 4 * np.eye(4)
    close(np.tril(low) @ np.asarray(jsl.solve_triangular(low, b, lower=True)), b)
    close(np.tril(low).T @ np.asarray(jsl.solve_triangular(low, b, trans="T", lower=True)), b)
    for lower in (False, True):
        c = jsl.cho_factor(spd, lower=lower)
        close(spd @ np.asarray(jsl.cho_solve(c, b)), b)
    p, l, u = (np.asarray(o) for o in jsl.lu(a))
    close(p @ l @ u, a)
    f = jsl.lu_factor(a)
    close(a @ np.asarray(jsl.lu_solve(f, b)), b)
    close(a.T @ np.asarray(jsl.lu_solve(f, b, trans=1)), b)
    q, r = jsl.qr(a)
    close(np.asarray(q) @ np.asarray(r), a)
    u, s, vh = jsl.svd(a)
    close(s, np.linalg.svd(a, compute_uv=False))
    close(jsl.eigh(spd, eigvals_only=True), np.linalg.eigvalsh(spd))
    close(jsl.inv(a), np.linalg.inv(a))
    close(jsl.det(a), np.linalg.det(a))
    close(jsl.solve(spd, b, assume_a="pos"), np.linalg.solve(spd, b))
    close(jsl.block_diag(np.ones((2, 2)), np.arange(3.0), 5.0),
          [[1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 2, 0], [0, 0, 0, 0, 0, 5]])
    # sqrtm: its square is the matrix, also with negative eigenvalues (complex result).
    for m in (spd, a):
        r = np.asarray(jsl.sqrtm(m))
        assert r.dtype == np.complex128
        close(r @ r, m, 1e-8)


def test_expm():
    # Against the eigendecomposition of a symmetric matrix and a Taylor series, with squarings.
    s = SPD[0] / 4
    w, v = np.linalg.eigh(s)
    close(jsl.expm(s), (v * np.exp(w)) @ v.T, 1e-9)
    a = A[0] * 0.3
    taylor = sum(np.linalg.matrix_power(a, k) / math.factorial(k) for k in range(40))
    close(jsl.expm(a), taylor, 1e-12)
    close(jitcore.vmap(jsl.expm)(A * 0.3), np.stack([
        sum(np.linalg.matrix_power(m, k) / math.factorial(k) for k in range(40)) for m in A * 0.3]),
        1e-12)
    # d/dt expm(t a) at t = 1 is a expm(a).
    _, t = jitcore.jvp(jsl.expm, (a,), (a,))
    close(t, a @ taylor, 1e-10)


def test_lax_linalg_orders():
    lx = jitcore.lax.linalg
    u, s, vh = lx.svd(A[0])
    close((np.asarray(u) * np.asarray(s)) @ np.asarray(vh), A[0])
    v, w = lx.eigh(SPD[0])
    close(w, np.linalg.eigvalsh(SPD[0]))
    lu, piv, perm = lx.lu(A[0])
    assert np.asarray(piv).dtype == np.int32 and np.asarray(perm).dtype == np.int32
    w, vl, vr = lx.eig(A[0])
    close(A[0] @ np.asarray(vr), np.asarray(vr) * np.asarray(w))
    close(lx.cholesky(SPD[0]), np.linalg.cholesky(SPD[0]))
    x = lx.triangular_solve(SPD[0], B[0].T, left_side=False, lower=True)
    close(np.asarray(x) @ np.tril(SPD[0]), B[0].T)
