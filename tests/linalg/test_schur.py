"""The schur primitive and what is built on it (`jitcore.scipy.linalg.schur`, `sqrtm`,
`lax.linalg.schur`): reconstruction z t z^H == a with t upper triangular and z unitary,
eigenvalues against SciPy's complex Schur form, batching against a Python loop, and sqrtm
against SciPy and closed forms (Jordan blocks, whose square roots are known exactly)."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
import jitcore.scipy.linalg as jsl
from ops import decompositions as D

sl = pytest.importorskip("scipy.linalg")
RNG = np.random.default_rng(17)


def _matrices(n):
    """Random real and complex matrices, and the hard cases of shifted QR: a symmetric one, a
    permutation (eigenvalues on the unit circle, no shift separates them), rotation blocks
    (pure imaginary pairs) and a Jordan block (defective)."""
    a = RNG.normal(size=(n, n))
    yield "real", a
    yield "complex", a + 1j * RNG.normal(size=(n, n))
    yield "symmetric", a + a.T
    yield "permutation", np.eye(n)[RNG.permutation(n)]
    if n % 2 == 0:
        yield "rotations", np.kron(np.eye(n // 2), [[0.0, 1.0], [-1.0, 0.0]])
    yield "jordan", 3 * np.eye(n) + np.eye(n, k=1)


def _check_schur(a, t, z, tol):
    t, z = np.asarray(t), np.asarray(z)
    n = a.shape[-1]
    assert t.dtype.kind == "c" and z.dtype.kind == "c"
    assert (np.tril(t, -1) == 0).all(), "t is not upper triangular"
    np.testing.assert_allclose(np.conj(z.T) @ z, np.eye(n), atol=tol)
    scale = max(np.linalg.norm(a), 1.0)
    assert np.linalg.norm(z @ t @ np.conj(z.T) - a) <= tol * scale


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_schur_reconstructs_and_matches_scipy(n):
    for kind, a in _matrices(n):
        t, z = D.schur(a)
        _check_schur(a, t, z, 1e-13)
        ts, zs = sl.schur(a, output="complex")
        # The diagonals are the eigenvalues: equal as multisets (the order may differ).
        got, want = np.diag(np.asarray(t)), np.diag(ts)
        tol = 1e-6 if kind == "jordan" else 1e-10   # defective: eigenvalues move by eps^(1/n)
        assert max(np.abs(want - g).min() for g in got) <= tol * max(1, np.abs(want).max()), kind


def test_schur_dtypes_batching_and_jit():
    a = RNG.normal(size=(2, 3, 4, 4))
    t, z = D.schur(a.astype(np.float32))
    assert np.asarray(t).dtype == np.complex64 and np.asarray(z).dtype == np.complex64
    for i in range(2):
        for j in range(3):
            _check_schur(a[i, j], t[i, j], z[i, j], 2e-5)
    c = a[0] + 1j * a[1]
    loop = [np.stack([np.asarray(o) for o in D.schur(m)]) for m in c]
    for f in (jitcore.vmap(lambda m: jnp.stack(D.schur(m))),
              jitcore.jit(jitcore.vmap(lambda m: jnp.stack(D.schur(m))))):
        np.testing.assert_allclose(np.asarray(f(c)), np.stack(loop), rtol=1e-12, atol=1e-12)
    (t_only,) = D.schur(c[0], compute_schur_vectors=False)
    np.testing.assert_allclose(np.asarray(t_only), loop[0][0], rtol=1e-14, atol=1e-14)
    bad = np.array([[1.0, np.nan], [0.0, 2.0]])
    assert np.isnan(np.asarray(D.schur(bad)[0])).all()
    assert np.shape(D.schur(np.zeros((0, 0)))[0]) == (0, 0)


def test_schur_has_no_derivative():
    a = RNG.normal(size=(3, 3)) + 0j
    with pytest.raises(NotImplementedError, match="schur"):
        jitcore.jvp(lambda x: D.schur(x)[0], (a,), (a,))
    with pytest.raises(NotImplementedError, match="schur"):
        jitcore.grad(lambda x: jnp.real(jnp.sum(D.schur(x)[0])))(a)


def test_schur_wrappers():
    a = RNG.normal(size=(4, 4))
    out = jitcore.lax.linalg.schur(a + 0j)
    assert isinstance(out, list) and len(out) == 2
    _check_schur(a, *out, 1e-13)
    assert len(jitcore.lax.linalg.schur(a, compute_schur_vectors=False)) == 1
    _check_schur(a, *jsl.schur(a, output="complex"), 1e-13)
    _check_schur(a + 2j, *jsl.schur(a + 2j), 1e-13)      # complex input: 'real' is complex
    t, _ = jsl.schur(np.arange(4).reshape(2, 2), output="complex")   # integers -> complex128
    assert np.asarray(t).dtype == np.complex128
    with pytest.raises(NotImplementedError, match="output='real'"):
        jsl.schur(a)
    with pytest.raises(ValueError, match="output"):
        jsl.schur(a, output="quasi")


def _jordan(lam, n):
    return lam * np.eye(n) + np.eye(n, k=1)


def _sqrt_jordan(lam, n):
    """sqrt(lam I + N) = sum_k binom(1/2, k) lam^(1/2 - k) N^k (N nilpotent: a finite sum)."""
    out = np.zeros((n, n), complex)
    coef, nk = 1.0, np.eye(n)
    for k in range(n):
        out += coef * np.sqrt(complex(lam)) ** (1 - 2 * k) * nk
        coef *= (0.5 - k) / (k + 1)
        nk = nk @ np.eye(n, k=1)
    return out


def test_sqrtm_against_scipy_and_closed_forms():
    for a in (RNG.normal(size=(5, 5)), RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4)),
              -np.eye(3) + 0.1 * RNG.normal(size=(3, 3))):
        r = np.asarray(jsl.sqrtm(a))
        assert r.dtype == np.complex128
        np.testing.assert_allclose(r, sl.sqrtm(a.astype(complex)), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(r @ r, a, atol=1e-12 * np.linalg.norm(a))
    # Defective matrices: the eigendecomposition has no basis of eigenvectors, Schur does not
    # need one. Triangular Jordan blocks are exact; rotated ones within rounding.
    for lam, n in ((4.0, 2), (2.0, 4), (-1.0, 3)):
        j = _jordan(lam, n)
        np.testing.assert_allclose(np.asarray(jsl.sqrtm(j)), _sqrt_jordan(lam, n), rtol=1e-14,
                                   atol=1e-15)
        if lam < 0:
            # Rotated, the eigenvalues split across sqrt's branch cut: no principal root.
            continue
        q, _ = np.linalg.qr(RNG.normal(size=(n, n)))
        r = np.asarray(jsl.sqrtm(q @ j @ q.T))
        np.testing.assert_allclose(r, q @ _sqrt_jordan(lam, n) @ q.T, atol=1e-6)
        np.testing.assert_allclose(r @ r, q @ j @ q.T, atol=1e-12)
    # Repeated zero eigenvalues: an exactly zero numerator gives 0, not 0/0 (as in JAX).
    np.testing.assert_array_equal(np.asarray(jsl.sqrtm(np.zeros((3, 3)))), 0)
    np.testing.assert_allclose(np.asarray(jsl.sqrtm(np.diag([0.0, 0.0, 4.0]))),
                               np.diag([0, 0, 2.0]), atol=1e-15)
    assert np.asarray(jsl.sqrtm(np.eye(2, dtype=np.float32))).dtype == np.complex64


def test_sqrtm_under_jit_and_vmap():
    a = RNG.normal(size=(3, 4, 4)) + 4 * np.eye(4)
    want = np.stack([sl.sqrtm(m.astype(complex)) for m in a])
    np.testing.assert_allclose(np.asarray(jitcore.jit(jsl.sqrtm)(a[0])), want[0], rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(np.asarray(jitcore.vmap(jsl.sqrtm)(a)), want, rtol=1e-10,
                               atol=1e-10)
    with pytest.raises(NotImplementedError, match="blocksize"):
        jsl.sqrtm(a[0], blocksize=2)
