"""Collectives under `vmap(f, axis_name=...)`: psum, pmean, pmax, pmin, all_gather,
psum_scatter, axis_index, axis_size, against NumPy over the mapped axis; nesting, tuples of
names, unbatched operands, jit, control flow, and derivatives (JAX's convention: psum's
transpose is psum, so `grad` of a psum inside vmap scales by the axis size)."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jax
from jitcore import lax
from ops.collectives import UnboundAxisNameError

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 3))


def _both(f, *args):
    """f eagerly and under jit, as NumPy arrays."""
    return [np.asarray(f(*args)), np.asarray(jax.jit(f)(*args))]


@pytest.mark.parametrize("name,ref", [
    ("psum", lambda x: np.sum(x, 0)), ("pmean", lambda x: np.mean(x, 0)),
    ("pmax", lambda x: np.max(x, 0)), ("pmin", lambda x: np.min(x, 0))])
def test_reductions_over_the_mapped_axis(name, ref):
    f = jax.vmap(lambda v: getattr(lax, name)(v, "i"), axis_name="i")
    for got in _both(f, X):
        np.testing.assert_allclose(got, np.broadcast_to(ref(X), X.shape), rtol=1e-12)


def test_psum_of_int_and_pytree():
    xi = np.arange(12, dtype=np.int32).reshape(4, 3)
    out = jax.vmap(lambda d: lax.psum(d, "i"), axis_name="i")({"a": xi, "b": X})
    assert np.asarray(out["a"]).dtype == np.int32
    np.testing.assert_array_equal(out["a"], np.broadcast_to(xi.sum(0), xi.shape))
    np.testing.assert_allclose(out["b"], np.broadcast_to(X.sum(0), X.shape), rtol=1e-12)


def test_axis_index_and_size():
    f = jax.vmap(lambda v: v * lax.axis_index("i") + lax.axis_size("i"), axis_name="i")
    want = X * np.arange(4)[:, None] + 4
    for got in _both(f, X):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    idx = jax.vmap(lambda v: lax.axis_index("i"), axis_name="i")(X)
    assert np.asarray(idx).dtype == np.int32
    np.testing.assert_array_equal(idx, [0, 1, 2, 3])


def test_unbatched_operands():
    """A value that does not depend on the mapped inputs is the same on every member."""
    f = jax.vmap(lambda v: (lax.psum(2.0, "i"), lax.pmax(np.float64(5.0), "i"),
                            lax.all_gather(np.arange(2.0), "i")), axis_name="i")
    s, m, g = f(X)
    np.testing.assert_array_equal(s, np.full(4, 8.0))
    np.testing.assert_array_equal(m, np.full(4, 5.0))
    np.testing.assert_array_equal(g, np.broadcast_to(np.arange(2.0), (4, 4, 2)))


@pytest.mark.parametrize("axis,tiled", [(0, False), (1, False), (-1, False), (0, True),
                                        (1, True)])
def test_all_gather(axis, tiled):
    x = RNG.normal(size=(3, 2, 5))
    f = jax.vmap(lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled), axis_name="i")
    members = [x[k] for k in range(3)]
    want = np.concatenate(members, axis) if tiled else np.stack(members, axis)
    for got in _both(f, x):
        assert got.shape == (3,) + want.shape
        for k in range(3):
            np.testing.assert_array_equal(got[k], want)


@pytest.mark.parametrize("dim,tiled", [(0, False), (1, False), (0, True), (1, True)])
def test_psum_scatter(dim, tiled):
    n = 3
    shape = [2, 6] if tiled else [2, n]
    shape[dim], shape[1 - dim] = (6 if tiled else n), 2
    x = RNG.normal(size=(n,) + tuple(shape))
    total = x.sum(0)
    f = jax.vmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=dim, tiled=tiled),
                 axis_name="i")
    for got in _both(f, x):
        for k in range(n):
            if tiled:
                want = np.take(total, range(2 * k, 2 * k + 2), axis=dim)
            else:
                want = np.take(total, k, axis=dim)
            np.testing.assert_allclose(got[k], want, rtol=1e-12)


def test_nested_names_and_tuples():
    x = RNG.normal(size=(2, 3, 4))

    def inner(v):
        return (lax.psum(v, "i"), lax.psum(v, "j"), lax.psum(v, ("i", "j")),
                lax.axis_index("i") * 10 + lax.axis_index("j"), lax.all_gather(v, "i"))
    f = jax.vmap(jax.vmap(inner, axis_name="j"), axis_name="i")
    si, sj, sij, idx, g = (np.asarray(o) for o in f(x))
    np.testing.assert_allclose(si, np.broadcast_to(x.sum(0), x.shape), rtol=1e-12)
    np.testing.assert_allclose(sj, np.broadcast_to(x.sum(1, keepdims=True), x.shape), rtol=1e-12)
    np.testing.assert_allclose(sij, np.broadcast_to(x.sum((0, 1)), x.shape), rtol=1e-12)
    np.testing.assert_array_equal(idx, np.arange(2)[:, None] * 10 + np.arange(3))
    for a in range(2):
        for b in range(3):
            np.testing.assert_array_equal(g[a, b], x[:, b])


def test_unnamed_inner_vmap_passes_the_outer_name_through():
    x = RNG.normal(size=(2, 3, 4))
    f = jax.vmap(jax.vmap(lambda v: lax.pmax(v, "i")), axis_name="i")
    np.testing.assert_allclose(f(x), np.broadcast_to(x.max(0), x.shape))


def test_in_axes_and_jit_inside():
    f = jax.vmap(jax.jit(lambda v: v / lax.psum(v, "i")), in_axes=1, out_axes=1,
                 axis_name="i")
    np.testing.assert_allclose(f(X), X / X.sum(1, keepdims=True), rtol=1e-12)


def test_inside_a_loop():
    def body(k, c):
        return c + lax.psum(c, "i")
    f = jax.vmap(lambda v: lax.fori_loop(0, 2, body, v), axis_name="i")
    c = X.copy()
    for _ in range(2):
        c = c + c.sum(0)
    np.testing.assert_allclose(f(X), c, rtol=1e-12)


def test_unbound_names():
    with pytest.raises(UnboundAxisNameError, match="unbound axis name: i"):
        lax.psum(X, "i")
    with pytest.raises(NameError, match="unbound axis name: j"):
        jax.jit(lambda v: lax.axis_index("j"))(X)
    with pytest.raises(NameError, match="unbound axis name: j"):
        jax.vmap(lambda v: lax.all_gather(v, "j"), axis_name="i")(X)
    with pytest.raises(NameError, match="unbound axis name: k"):
        jax.vmap(lambda v: lax.psum(v, ("i", "k")), axis_name="i")(X)


def test_grad_inside_vmap_follows_jax():
    x = np.array([0.5, -1.0, 2.0])
    n = len(x)
    # psum transposes to psum: every member's cotangent 1 becomes n.
    g = jax.vmap(jax.grad(lambda v: lax.psum(v ** 2, "i")), axis_name="i")(x)
    np.testing.assert_allclose(g, n * 2 * x, rtol=1e-12)
    g = jax.vmap(jax.grad(lambda v: lax.pmean(jnp_sin(v), "i")), axis_name="i")(x)
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-12)
    # all_gather transposes to psum_scatter: member k gets the sum of every member's
    # cotangent for its own slot.
    g = jax.vmap(jax.grad(lambda v: (lax.all_gather(v, "i") ** 2).sum()), axis_name="i")(x)
    np.testing.assert_allclose(g, n * 2 * x, rtol=1e-12)
    g = jax.jit(jax.vmap(jax.grad(lambda v: (lax.all_gather(v, "i") * np.arange(3.0)).sum()),
                         axis_name="i"))(x)
    np.testing.assert_allclose(g, n * np.arange(3.0), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="pmax"):
        jax.vmap(jax.grad(lambda v: lax.pmax(v, "i")), axis_name="i")(x)


def jnp_sin(v):
    from jitcore import numpy as jnp
    return jnp.sin(v)


def test_jvp_inside_vmap_is_the_true_derivative():
    x, t = RNG.normal(size=4), RNG.normal(size=4)
    f = jax.vmap(lambda a, b: jax.jvp(lambda y: lax.psum(y ** 2, "i"), (a,), (b,))[1],
                 axis_name="i")
    np.testing.assert_allclose(f(x, t), np.full(4, np.sum(2 * x * t)), rtol=1e-12)
    # ... and the JVP of the vmapped function agrees with finite differences.
    h = 1e-6
    vf = jax.vmap(lambda y: lax.psum(jnp_sin(y), "i") * y, axis_name="i")
    _, tan = jax.jvp(vf, (x,), (t,))
    fd = (np.asarray(vf(x + h * t)) - np.asarray(vf(x - h * t))) / (2 * h)
    np.testing.assert_allclose(tan, fd, rtol=1e-6, atol=1e-8)


def test_grad_of_vmapped_collective_matches_finite_differences():
    x = RNG.normal(size=(3, 2))
    w = RNG.normal(size=(3, 2))
    f = jax.vmap(lambda v: v - lax.pmean(v, "i"), axis_name="i")

    def loss(v):
        return (f(v) ** 2 * w).sum()
    g = np.asarray(jax.grad(loss)(x))
    h, fd = 1e-6, np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd[idx] = (float(loss(x + e)) - float(loss(x - e))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_spmd_axis_name_is_accepted():
    f = jax.vmap(lambda v: lax.psum(v, "i"), axis_name="i", spmd_axis_name="data")
    np.testing.assert_allclose(f(X), np.broadcast_to(X.sum(0), X.shape), rtol=1e-12)
