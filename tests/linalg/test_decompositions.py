"""The decomposition primitives: reconstruction identities against float64 NumPy, batching
against a Python loop, jit against eager, derivatives against finite differences (JVP) and the
JVP/VJP pairing <ct, J t> = <J^T ct, t>, and the edge cases (singular, non-PD, empty, 1x1)."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
from ops import decompositions as D

RNG = np.random.default_rng(3)


def _fd_check(f, a, skip=(), eps=1e-6, tol=1e-6):
    """JVP against central differences, and VJP paired with the JVP."""
    da = RNG.normal(size=a.shape)
    _, t = jitcore.jvp(f, (a,), (da,))
    plus, minus = f(a + eps * da), f(a - eps * da)
    for i, (ti, p, m) in enumerate(zip(t, plus, minus)):
        if i not in skip:
            fd = (np.asarray(p) - np.asarray(m)) / (2 * eps)
            np.testing.assert_allclose(np.asarray(ti), fd, rtol=tol, atol=tol)
    outs, pullback = jitcore.vjp(f, a)
    cts = tuple(np.zeros(np.shape(o)) if i in skip else RNG.normal(size=np.shape(o))
                for i, o in enumerate(outs))
    (ga,) = pullback(cts)
    lhs = sum(np.sum(c * np.asarray(ti)) for i, (c, ti) in enumerate(zip(cts, t))
              if i not in skip)
    # A real input pairs with the real part (JAX: the transpose of real -> complex is real).
    np.testing.assert_allclose(np.sum(np.asarray(ga) * da), np.real(lhs), rtol=1e-9, atol=1e-12)


def _sym(x):
    return (x + jitcore.numpy.swapaxes(x, -1, -2)) / 2


def _spd(*shape):
    """Symmetric positive definite matrices: shape is (batch..., n)."""
    a = RNG.normal(size=shape + shape[-1:])
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_reconstructions_batched(dtype, tol):
    a = RNG.normal(size=(2, 5, 3)).astype(dtype)
    q, r = (np.asarray(o, np.float64) for o in D.qr(a, full_matrices=True))
    np.testing.assert_allclose(q @ r, a, atol=tol)
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(5), q.shape),
                               atol=tol)
    s, u, vh = (np.asarray(o, np.float64) for o in D.svd(a, full_matrices=False))
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=tol)
    np.testing.assert_allclose(s, np.linalg.svd(a.astype(np.float64), compute_uv=False),
                               atol=tol)
    h = _spd(2, 4).astype(dtype)
    v, w = (np.asarray(o, np.float64) for o in D.eigh(h))
    np.testing.assert_allclose(h @ v, v * w[..., None, :], atol=tol * 10)
    l = np.asarray(D.cholesky(h), np.float64)
    np.testing.assert_allclose(l @ np.swapaxes(l, -1, -2), h, rtol=tol, atol=tol * 10)
    lu, piv, perm = D.lu(a)
    lu = np.asarray(lu, np.float64)
    low = np.tril(lu[..., :, :3], -1) + np.eye(5, 3)
    np.testing.assert_allclose(np.take_along_axis(a, np.asarray(perm)[..., None], axis=-2),
                               low @ np.triu(lu[..., :3, :]), atol=tol)
    w, vl, vr = (np.asarray(o) for o in D.eig(h[0], compute_left_eigenvectors=True))
    np.testing.assert_allclose(h[0] @ vr, vr * w, atol=tol * 10)
    np.testing.assert_allclose(np.conj(vl.T) @ h[0], w[:, None] * np.conj(vl.T), atol=tol * 10)


def test_vmap_and_jit_match_a_loop():
    a = _spd(3, 4)
    b = RNG.normal(size=(3, 4, 2))
    for f in (lambda x: D.cholesky(x), lambda x: D.eigh(x)[1], lambda x: D.svd(x)[0],
              lambda x: D.lu(x)[0], lambda x: D.qr(x)[1],
              lambda x: D.triangular_solve(x, b[0], left_side=True, lower=True)):
        want = np.stack([np.asarray(f(m)) for m in a])
        np.testing.assert_allclose(np.asarray(jitcore.vmap(f)(a)), want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(jitcore.jit(jitcore.vmap(f))(a)), want,
                                   rtol=1e-12, atol=1e-12)
    # Only b batched: the unbatched a is broadcast.
    g = jitcore.vmap(lambda y: D.triangular_solve(a[0], y, left_side=True, lower=True))
    want = np.stack([np.asarray(D.triangular_solve(a[0], y, left_side=True, lower=True))
                     for y in b])
    np.testing.assert_allclose(np.asarray(g(b)), want, rtol=1e-12)


def test_derivatives():
    n = 4
    _fd_check(lambda x: (D.cholesky(_sym(x)),), _spd(n))
    _fd_check(lambda x: (D.cholesky(_sym(x), lower=False),), _spd(2, n))
    for shape in ((4, 4), (5, 3), (3, 5)):
        _fd_check(lambda x: D.lu(x), RNG.normal(size=shape), skip=(1, 2))
        _fd_check(lambda x: D.svd(x, full_matrices=False), RNG.normal(size=shape))
        _fd_check(lambda x: D.svd(x, compute_uv=False), RNG.normal(size=shape))
    a = RNG.normal(size=(n, n)) + n * np.eye(n)
    b = RNG.normal(size=(n, 2))
    for kw in ({"left_side": True, "lower": True}, {"left_side": False, "transpose_a": True},
               {"left_side": True, "unit_diagonal": True, "transpose_a": True}):
        bb = b if kw["left_side"] else b.T
        _fd_check(lambda y: (D.triangular_solve(y, bb, **kw),), a)
        _fd_check(lambda y: (D.triangular_solve(a, y, **kw),), bb)
    _fd_check(lambda x: D.qr(x, full_matrices=False), RNG.normal(size=(2, 5, 3)))
    _fd_check(lambda x: D.qr(x), RNG.normal(size=(4, 4)))
    _fd_check(lambda x: D.eigh(_sym(x)), _spd(2, n))
    _fd_check(lambda x: D.eig(x, compute_right_eigenvectors=False), a)


def test_derivatives_under_jit_and_vmap():
    a = _spd(3, 3)

    def loss(x):
        v, w = D.eigh(_sym(x))
        return jitcore.numpy.sum(w ** 2) + jitcore.numpy.sum(D.cholesky(_sym(x)))
    g = jitcore.vmap(jitcore.grad(loss))
    want = np.stack([np.asarray(jitcore.grad(loss)(m)) for m in a])
    np.testing.assert_allclose(np.asarray(jitcore.jit(g)(a)), want, rtol=1e-10, atol=1e-12)


def test_unsupported_derivatives_say_so():
    with pytest.raises(NotImplementedError, match="qr"):
        jitcore.jvp(lambda x: D.qr(x), (np.ones((3, 2)),), (np.ones((3, 2)),))
    with pytest.raises(NotImplementedError, match="eig"):
        jitcore.jvp(lambda x: D.eig(x), (np.eye(2),), (np.eye(2),))


def test_edge_cases():
    bad = np.array([[[1.0, 2.0], [2.0, 1.0]], [[2.0, 0.0], [0.0, 3.0]]])
    l = np.asarray(D.cholesky(bad))
    assert np.isnan(l[0][np.tril_indices(2)]).all() and l[0][0, 1] == 0   # JAX's values
    np.testing.assert_allclose(l[1], np.diag(np.sqrt([2.0, 3.0])))
    # Singular triangular solve: inf/NaN, no exception.
    x = np.asarray(D.triangular_solve(np.zeros((2, 2)), np.ones((2, 1)), left_side=True,
                                      lower=True))
    assert not np.isfinite(x).any()
    # A zero column is skipped by the pivoting.
    lu, piv, perm = (np.asarray(o) for o in D.lu(np.zeros((3, 3))))
    assert (lu == 0).all() and list(piv) == [0, 1, 2] and list(perm) == [0, 1, 2]
    for f in (D.cholesky, D.lu, D.qr, D.eigh, D.svd, D.eig):
        out = f(np.zeros((0, 0)))
        for o in (out if isinstance(out, tuple) else (out,)):
            assert 0 in np.shape(o)
    s, u, vh = D.svd(np.zeros((3, 0)))
    assert np.shape(s) == (0,) and np.shape(u) == (3, 3) and np.shape(vh) == (0, 0)
    one = np.array([[4.0]])
    assert float(np.asarray(D.cholesky(one))[0, 0]) == 2.0
    assert np.asarray(D.svd(-one)[0])[0] == 4.0
    # A transposed (non-contiguous) operand reads the same matrix.
    a = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(np.asarray(D.qr(a.T)[1]), np.asarray(D.qr(a.T.copy())[1]))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_values(dtype):
    tol = 1e-10 if dtype == np.complex128 else 1e-4
    a = (RNG.normal(size=(2, 4, 3)) + 1j * RNG.normal(size=(2, 4, 3))).astype(dtype)
    q, r = (np.asarray(o) for o in D.qr(a, full_matrices=False))
    np.testing.assert_allclose(q @ r, a, atol=tol)
    s, u, vh = (np.asarray(o) for o in D.svd(a, full_matrices=False))
    assert s.dtype == np.zeros(1, dtype).real.dtype
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=tol)
    h = (a[0].T.conj() @ a[0] + 3 * np.eye(3)).astype(dtype)
    v, w = (np.asarray(o) for o in D.eigh(h))
    np.testing.assert_allclose(h @ v, v * w, atol=tol * 10)
    l = np.asarray(D.cholesky(h))
    np.testing.assert_allclose(l @ l.T.conj(), h, atol=tol * 10)
    b = a[0].T
    x = np.asarray(D.triangular_solve(h, b, left_side=True, lower=True, transpose_a=True,
                                      conjugate_a=True))
    np.testing.assert_allclose(np.tril(h).T.conj() @ x, b, atol=tol * 10)
