"""The differentiation API: JAX's signatures and semantics, numbers from finite differences."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from tests.helpers import check_grads, fd_grad, numerical_jvp

RNG = np.random.default_rng(0)


def loss(params, x, y):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def make_params():
    return {"w1": RNG.normal(size=(3, 4)), "b1": RNG.normal(size=4),
            "w2": RNG.normal(size=(4, 2))}


def test_grad_follows_the_pytree_of_the_argument():
    params, x, y = make_params(), RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    g = jc.grad(loss)(params, x, y)
    assert set(g) == {"w1", "b1", "w2"}
    for k in params:
        assert g[k].shape == params[k].shape and g[k].dtype == np.float64

        def f_k(v, k=k):
            p = dict(params)
            p[k] = v
            return loss(p, x, y)
        np.testing.assert_allclose(g[k], fd_grad(f_k, params[k]), rtol=1e-6, atol=1e-8)


def test_argnums_tuple_and_value_and_grad():
    f = lambda a, b, c: jnp.sum(jnp.sin(a) * b) + c  # noqa: E731
    a, b = RNG.normal(size=3), RNG.normal(size=3)
    value, (ga, gb) = jc.value_and_grad(f, argnums=(0, 1))(a, b, 2.0)
    np.testing.assert_allclose(value, np.sum(np.sin(a) * b) + 2.0)
    np.testing.assert_allclose(ga, np.cos(a) * b)
    np.testing.assert_allclose(gb, np.sin(a))
    gc = jc.grad(f, argnums=-1)(a, b, 2.0)
    assert float(gc) == 1.0


def test_has_aux():
    def f(x):
        return jnp.sum(x ** 2), {"norm": jnp.sqrt(jnp.sum(x ** 2))}
    x = np.array([3.0, 4.0])
    g, aux = jc.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    np.testing.assert_allclose(aux["norm"], 5.0)
    (v, aux2), g2 = jc.value_and_grad(f, has_aux=True)(x)
    assert float(v) == 25.0 and float(aux2["norm"]) == 5.0
    np.testing.assert_allclose(g2, 2 * x)


def test_grad_errors():
    with pytest.raises(TypeError, match="scalar") as e:
        jc.grad(lambda x: x * 2)(np.ones(3))
    assert "f64[3]" in str(e.value)
    with pytest.raises(TypeError, match="real-valued") as e:
        jc.grad(lambda n: n * 2.0)(3)
    assert "s64[]" in str(e.value) and "argnums" in str(e.value)
    # An integer argument is fine when it is not differentiated.
    assert float(jc.grad(lambda x, n: x * n)(2.0, 3)) == 3.0
    with pytest.raises(TypeError, match="real scalar"):
        jc.grad(lambda x: (x > 0).sum())(np.ones(2))
    with pytest.raises(TypeError, match="out of range"):
        jc.grad(lambda x: x, argnums=2)(1.0)


def test_vjp_and_jvp_on_pytrees():
    def f(p):
        return {"a": jnp.sin(p[0]) * p[1], "b": jnp.exp(p[1]).sum()}
    p = (RNG.normal(size=3), RNG.normal(size=3))
    out, vjp_fn = jc.vjp(f, p)
    ct = {"a": RNG.normal(size=3), "b": 1.5}
    (ct_p,) = vjp_fn(ct)
    t = (RNG.normal(size=3), RNG.normal(size=3))
    out2, tout = jc.jvp(f, (p,), (t,))
    np.testing.assert_allclose(out["a"], out2["a"])
    # adjoint identity between the two modes
    lhs = sum(np.sum(np.asarray(c) * np.asarray(ti)) for c, ti in zip(ct_p, t))
    rhs = np.sum(ct["a"] * np.asarray(tout["a"])) + ct["b"] * float(tout["b"])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    num = numerical_jvp(f, (p,), (t,), 1e-5)
    np.testing.assert_allclose(np.asarray(tout["a"]), num[0], rtol=1e-8)


def test_jvp_checks_tangent_types():
    with pytest.raises(TypeError, match="equal shapes"):
        jc.jvp(jnp.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="tuples"):
        jc.jvp(jnp.sin, np.ones(3), np.ones(3))


def test_linearize():
    f = lambda x: jnp.sin(x) * x  # noqa: E731
    x = RNG.normal(size=4)
    out, f_jvp = jc.linearize(f, x)
    np.testing.assert_allclose(out, np.sin(x) * x)
    t = RNG.normal(size=4)
    np.testing.assert_allclose(f_jvp(t), (np.cos(x) * x + np.sin(x)) * t)


def test_jacobians_shapes_and_values():
    def f(x):
        return jnp.stack([x[0] * x[1], jnp.sin(x[2]), x.sum()])
    x = RNG.normal(size=3)
    jf, jr = jc.jacfwd(f)(x), jc.jacrev(f)(x)
    assert jf.shape == jr.shape == (3, 3)
    np.testing.assert_allclose(jf, jr, rtol=1e-12)
    want = np.array([[x[1], x[0], 0], [0, 0, np.cos(x[2])], [1, 1, 1]])
    np.testing.assert_allclose(jf, want, rtol=1e-12)
    assert jc.jacobian is jc.jacrev


def test_jacobian_of_matrix_function_has_out_then_in_shape():
    w = RNG.normal(size=(2, 3))
    f = lambda a: jnp.tanh(a @ w)  # noqa: E731
    a = RNG.normal(size=(4, 2))
    j = jc.jacrev(f)(a)
    assert j.shape == (4, 3, 4, 2)
    np.testing.assert_allclose(j, jc.jacfwd(f)(a), rtol=1e-10, atol=1e-12)


def test_jacobians_of_pytrees():
    def f(p, x):
        return {"y": p["w"] @ x, "s": jnp.sum(p["b"] * x)}
    p = {"w": RNG.normal(size=(2, 3)), "b": RNG.normal(size=3)}
    x = RNG.normal(size=3)
    for jac in (jc.jacfwd, jc.jacrev):
        j = jac(f)(p, x)
        assert j["y"]["w"].shape == (2, 2, 3) and j["y"]["b"].shape == (2, 3)
        assert j["s"]["w"].shape == (2, 3) and j["s"]["b"].shape == (3,)
        np.testing.assert_allclose(j["s"]["b"], x)
        jx = jac(f, argnums=(0, 1))(p, x)
        np.testing.assert_allclose(jx["y"][1], p["w"], rtol=1e-12)


def test_hessian_against_finite_differences():
    def f(x):
        return jnp.sum(jnp.sin(x) * x[::-1]) + jnp.prod(x)
    x = RNG.normal(size=3)
    h = np.asarray(jc.hessian(f)(x))
    g = lambda v: np.asarray(jc.grad(f)(v))  # noqa: E731
    eps = 1e-5
    num = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-14)


def test_higher_order_derivatives_of_tanh():
    x = 0.3
    t = np.tanh(x)
    d1 = 1 - t ** 2
    d2 = -2 * t * d1
    d3 = -2 * d1 ** 2 - 2 * t * d2
    assert abs(float(jc.grad(jnp.tanh)(x)) - d1) < 1e-12
    assert abs(float(jc.grad(jc.grad(jnp.tanh))(x)) - d2) < 1e-12
    assert abs(float(jc.grad(jc.grad(jc.grad(jnp.tanh)))(x)) - d3) < 1e-12


def test_hessian_vector_products_three_ways():
    def f(x):
        return jnp.sum(jnp.exp(x) * jnp.sin(x[::-1]))
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    fwd_over_rev = jc.jvp(jc.grad(f), (x,), (v,))[1]
    rev_over_fwd = jc.grad(lambda y: jc.jvp(f, (y,), (v,))[1])(x)
    rev_over_rev = jc.grad(lambda y: jnp.vdot(jc.grad(f)(y), v))(x)
    want = np.asarray(jc.hessian(f)(x)) @ v
    for got in (fwd_over_rev, rev_over_fwd, rev_over_rev):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_check_grads_utility_catches_a_wrong_rule():
    """The utility itself must fail on a wrong derivative (a custom_jvp with a bad rule)."""
    @jc.custom_jvp
    def f(x):
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 2.0 * t  # wrong: should be cos(x) * t

    with pytest.raises(AssertionError):
        check_grads(f, (np.array([0.3, 0.5]),), order=1, modes=("fwd",))
    with pytest.raises(AssertionError):
        check_grads(lambda x: jnp.sum(f(x) * x), (np.array([0.3]),), order=1, modes=("rev",))


def test_zero_gradient_is_an_array():
    # A function that ignores its input has gradient 0, returned as a jitcore Array (as JAX
    # returns a jax.Array), eagerly and under jit.
    import jitcore as jc
    import jitcore.numpy as jnp
    for g in (jc.grad(lambda x: jnp.float64(2.0)), jc.jit(jc.grad(lambda x: jnp.float64(2.0)))):
        out = g(1.5)
        assert isinstance(out, jc.Array)
        assert float(out) == 0.0
