"""Derivatives of the decompositions at complex inputs, in JAX's convention.

JVP: against central differences along a random complex direction. VJP: the transpose
identity Re<ct, J t> == Re<J^T ct, t> with the bilinear <x, y> = sum(x * y) (no conjugation:
JAX's VJP is the transpose, so for a real-valued function grad = df/dRe - i df/dIm). grad of
real-valued functions of complex matrices: against differences on the real and imaginary part
of every element.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from ops import decompositions as D

RNG = np.random.default_rng(23)
EPS = 1e-6


def _c(*shape):
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


def _herm(x):
    return (x + jnp.conj(jnp.swapaxes(x, -1, -2))) / 2


def _hpd(n):
    a = _c(n, n)
    return a @ np.conj(a.T) + n * np.eye(n)


def _random_like(o):
    o = np.asarray(o)
    return _c(*o.shape) if o.dtype.kind == "c" else RNG.normal(size=o.shape)


def check(f, *args, argnum=0, skip=(), tol=1e-6):
    """f returns a tuple of arrays; its derivative in argument `argnum` against differences,
    and its VJP against its JVP by the transpose identity."""
    a = args[argnum]
    da = _c(*a.shape) if np.iscomplexobj(a) else RNG.normal(size=a.shape)

    def g(x):
        return f(*args[:argnum], x, *args[argnum + 1:])
    _, t = jitcore.jvp(g, (a,), (da,))
    plus, minus = g(a + EPS * da), g(a - EPS * da)
    for i, (ti, p, m) in enumerate(zip(t, plus, minus)):
        if i in skip:
            continue
        fd = (np.asarray(p) - np.asarray(m)) / (2 * EPS)
        scale = max(1.0, np.abs(fd).max())
        np.testing.assert_allclose(np.asarray(ti), fd, rtol=tol, atol=tol * scale,
                                   err_msg=f"output {i}")
    outs, pullback = jitcore.vjp(g, a)
    cts = tuple(np.zeros(np.shape(o), np.asarray(o).dtype) if i in skip else _random_like(o)
                for i, o in enumerate(outs))
    (ga,) = pullback(cts)
    lhs = sum(np.sum(c * np.asarray(ti)) for i, (c, ti) in enumerate(zip(cts, t))
              if i not in skip)
    rhs = np.sum(np.asarray(ga) * da)
    np.testing.assert_allclose(np.real(rhs), np.real(lhs), rtol=1e-9, atol=1e-10)


def test_cholesky():
    check(lambda x: (D.cholesky(_herm(x)),), _hpd(4))
    check(lambda x: (D.cholesky(_herm(x), lower=False),), np.stack([_hpd(3), _hpd(3)]))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_lu(shape):
    check(lambda x: D.lu(x), _c(*shape), skip=(1, 2))


@pytest.mark.parametrize("kw", [
    {"left_side": True, "lower": True},
    {"left_side": True, "lower": False, "transpose_a": True, "conjugate_a": True},
    {"left_side": False, "lower": True, "conjugate_a": True},
    {"left_side": False, "lower": False, "transpose_a": True, "unit_diagonal": True},
])
def test_triangular_solve(kw):
    a = _c(4, 4) + 4 * np.eye(4)
    b = _c(4, 2) if kw["left_side"] else _c(2, 4)
    check(lambda x, y: (D.triangular_solve(x, y, **kw),), a, b, argnum=0)
    check(lambda x, y: (D.triangular_solve(x, y, **kw),), a, b, argnum=1)


def test_qr():
    check(lambda x: D.qr(x, full_matrices=False), _c(5, 3))
    check(lambda x: D.qr(x), _c(2, 4, 4))


def test_eigh():
    """Eigenvalues, and functions that do not depend on the eigenvectors' phases: a matrix
    function v diag(w^2) v^H and the moduli |v_ij|^2."""
    def f(x):
        v, w = D.eigh(_herm(x))
        vh = jnp.conj(jnp.swapaxes(v, -1, -2))
        return w, jnp.matmul(v * (w ** 2)[..., None, :], vh), jnp.real(v * jnp.conj(v))
    check(f, _hpd(4))
    check(f, np.stack([_hpd(3), _c(3, 3)]))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd(shape):
    """Singular values, u s vh (the identity), and the polar factor u vh (phase-free)."""
    def f(x):
        s, u, vh = D.svd(x, full_matrices=False)
        return s, jnp.matmul(u * s[..., None, :], vh), jnp.matmul(u, vh)
    check(f, _c(*shape))
    check(lambda x: D.svd(x, compute_uv=False), _c(*shape))


def _grad_fd(f, a):
    """df/dRe - i df/dIm, element by element, by central differences (JAX's grad)."""
    g = np.zeros(a.shape, complex)
    for idx in np.ndindex(a.shape):
        for unit, sign in ((1.0, 1.0), (1j, -1.0)):
            d = np.zeros(a.shape, complex)
            d[idx] = unit * EPS
            diff = (float(f(a + d)) - float(f(a - d))) / (2 * EPS)
            g[idx] += diff if sign > 0 else -1j * diff
    return g


def test_grad_of_real_functions():
    a, b = _c(3, 3) + 2 * np.eye(3), _c(3, 2)

    def logabsdet(x):
        return jnp.real(jnp.linalg.slogdet(x)[1])

    def solve_norm(x, y=b):
        return jnp.linalg.norm(jnp.linalg.solve(x, y))

    for f in (logabsdet, solve_norm):
        g = np.asarray(jitcore.grad(f)(a))
        np.testing.assert_allclose(g, _grad_fd(f, a), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(np.asarray(jitcore.jit(jitcore.grad(f))(a)), g, rtol=1e-12,
                                   atol=1e-12)
    gb = np.asarray(jitcore.grad(lambda y: solve_norm(a, y))(b))
    np.testing.assert_allclose(gb, _grad_fd(lambda y: solve_norm(a, y), b), rtol=1e-6,
                               atol=1e-7)
    # Closed form: d log|det a| = Re tr(a^-1 da) = Re sum(a^-T * da), so grad = a^-T.
    np.testing.assert_allclose(np.asarray(jitcore.grad(logabsdet)(a)), np.linalg.inv(a).T,
                               rtol=1e-10)
