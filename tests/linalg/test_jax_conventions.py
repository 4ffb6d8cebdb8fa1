"""Conventions where jnp.linalg follows JAX rather than NumPy: det's derivative at singular
matrices (the cofactor matrix), slogdet's derivative rule, lstsq's rank of a zero matrix, the
strong result type of norms, pinv(hermitian=True)'s derivative, eig's vector normalization.

References: cofactor matrices from NumPy determinants of minors, central differences, NumPy's
lstsq; no JAX at test time.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp

RNG = np.random.default_rng(31)


def _cofactors(a):
    """C[i, j] = (-1)^(i+j) det(a without row i and column j): d det(a) / d a[i, j]."""
    n = a.shape[0]
    c = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return c


def _singular(n, rank, complex_=False):
    a = RNG.normal(size=(n, rank)) @ RNG.normal(size=(rank, n))
    if complex_:
        a = a + 1j * (RNG.normal(size=(n, rank)) @ RNG.normal(size=(rank, n)))
        a = a[:, :rank] @ RNG.normal(size=(rank, n))    # keep the rank
    return a


@pytest.mark.parametrize("n", [2, 3, 5])
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(n):
    a = _singular(n, n - 1)
    g = np.asarray(jitcore.grad(jnp.linalg.det)(a))
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, _cofactors(a), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.asarray(jitcore.jit(jitcore.grad(jnp.linalg.det))(a)), g,
                               rtol=1e-12, atol=1e-12)
    # Rank n - 2: every cofactor vanishes.
    np.testing.assert_allclose(np.asarray(jitcore.grad(jnp.linalg.det)(_singular(n, n - 2))),
                               0, atol=1e-10)
    # The JVP is tr(adj(a) da).
    da = RNG.normal(size=(n, n))
    _, t = jitcore.jvp(jnp.linalg.det, (a,), (da,))
    np.testing.assert_allclose(float(t), np.sum(_cofactors(a) * da), rtol=1e-8, atol=1e-10)


def test_det_gradient_complex_and_batched():
    a = _singular(5, 4, complex_=True)
    # JAX's convention (grad g with Re sum(g * da) = d Re det): the cofactor matrix itself.
    g = np.asarray(jitcore.grad(lambda x: jnp.real(jnp.linalg.det(x)))(a))
    np.testing.assert_allclose(g, _cofactors(a), rtol=1e-7, atol=1e-9)
    stack = np.stack([RNG.normal(size=(4, 4)), _singular(4, 3), _singular(4, 2)])
    got = np.asarray(jitcore.vmap(jitcore.grad(jnp.linalg.det))(stack))
    np.testing.assert_allclose(got, np.stack([_cofactors(m) for m in stack]), rtol=1e-8,
                               atol=1e-10)


def test_slogdet_derivatives():
    a = RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))
    da = RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))
    (sign, logdet), (dsign, dlog) = jitcore.jvp(jnp.linalg.slogdet, (a,), (da,))
    eps = 1e-6
    sp, lp = np.linalg.slogdet(a + eps * da)
    sm, lm = np.linalg.slogdet(a - eps * da)
    np.testing.assert_allclose(complex(dsign), (sp - sm) / (2 * eps), rtol=1e-6)
    np.testing.assert_allclose(float(dlog), (lp - lm) / (2 * eps), rtol=1e-6)
    r = RNG.normal(size=(4, 4))
    (_, _), (dsign, dlog) = jitcore.jvp(jnp.linalg.slogdet, (r,), (da.real,))
    assert float(dsign) == 0.0
    np.testing.assert_allclose(float(dlog), np.trace(np.linalg.solve(r, da.real)), rtol=1e-10)


def test_lstsq_of_a_zero_matrix_has_rank_zero():
    b = np.arange(1.0, 4.0)
    x, resid, rank, s = jnp.linalg.lstsq(np.zeros((3, 2)), b)
    want = np.linalg.lstsq(np.zeros((3, 2)), b, rcond=None)
    np.testing.assert_array_equal(np.asarray(x), want[0])
    np.testing.assert_allclose(np.asarray(resid), [np.sum(b * b)])
    assert int(rank) == want[2] == 0
    np.testing.assert_array_equal(np.asarray(s), 0)


def test_norms_return_strong_types():
    for f in (jnp.linalg.norm, jnp.linalg.vector_norm):
        out = f(2.0)
        assert out.dtype == np.float64 and not out.aval.weak_type, f
    assert not jnp.linalg.norm(jnp.asarray(3.0)).aval.weak_type


def test_matrix_transpose():
    x = RNG.normal(size=(2, 3, 4))
    np.testing.assert_array_equal(np.asarray(jnp.linalg.matrix_transpose(x)),
                                  np.swapaxes(x, -1, -2))
    with pytest.raises(Exception, match="matrix_transpose"):
        jnp.linalg.matrix_transpose(np.ones(3))


def test_pinv_hermitian_derivative_reads_the_hermitian_part():
    h = RNG.normal(size=(4, 4))
    h = h + h.T
    d = RNG.normal(size=(4, 4))                   # not symmetric
    _, t = jitcore.jvp(lambda x: jnp.linalg.pinv(x, hermitian=True), (h,), (d,))
    eps = 1e-6
    sym = (d + d.T) / 2
    fd = (np.linalg.pinv(h + eps * sym) - np.linalg.pinv(h - eps * sym)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(t), fd, rtol=1e-6, atol=1e-7)


def test_eig_vectors_follow_lapack_normalization():
    """geev's convention for both sets: unit 2-norm, the largest component real."""
    a = RNG.normal(size=(5, 5))
    w, vl, vr = (np.asarray(o) for o in jitcore.lax.linalg.eig(a))
    for v in (vl, vr):
        np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1, rtol=1e-12)
        big = v[np.argmax(np.abs(v), axis=0), np.arange(5)]
        np.testing.assert_allclose(big.imag, 0, atol=1e-12)
    np.testing.assert_allclose(a @ vr, vr * w, atol=1e-12)
    np.testing.assert_allclose(np.conj(vl.T) @ a, w[:, None] * np.conj(vl.T), atol=1e-12)
    # Right vectors are LAPACK's own (NumPy calls geev too), so they agree with NumPy's.
    wn, vn = np.linalg.eig(a)
    np.testing.assert_allclose(w, wn, rtol=1e-12)
    np.testing.assert_allclose(vr, vn, rtol=1e-10, atol=1e-12)
