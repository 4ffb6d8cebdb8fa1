"""custom_jvp / custom_vjp: JAX's API; they compose with jit, vmap and both AD modes."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from tests.helpers import check_grads


@jc.custom_jvp
def log1pexp(x):
    return jnp.log(1.0 + jnp.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    # The stable derivative: exp would overflow at large x in the naive chain rule.
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_custom_jvp_used_by_both_modes():
    x = np.array([-3.0, 0.5, 2.0])
    want = sigmoid(x)
    np.testing.assert_allclose(jc.jvp(log1pexp, (x,), (np.ones(3),))[1], want, rtol=1e-12)
    np.testing.assert_allclose(jc.grad(lambda v: jnp.sum(log1pexp(v)))(x), want, rtol=1e-12)
    # The rule (not the naive chain rule) is used: finite at a large input.
    assert float(jc.grad(log1pexp)(800.0)) == 1.0


def test_custom_jvp_with_jit_vmap_and_higher_order():
    x = np.linspace(-2, 2, 5)
    f = jc.jit(jc.vmap(jc.grad(log1pexp)))
    np.testing.assert_allclose(f(x), sigmoid(x), rtol=1e-12)
    second = jc.vmap(jc.grad(jc.grad(log1pexp)))(x)
    np.testing.assert_allclose(second, sigmoid(x) * (1 - sigmoid(x)), rtol=1e-10)
    check_grads(lambda v: log1pexp(v) * v, (x,), order=2)
    text = jc.make_hlo(log1pexp)(x).as_text()
    assert "custom_jvp_call" in text and "calls=" in text


def test_defjvps_and_nondiff_argnums():
    @jc.custom_jvp
    def f(x, y):
        return jnp.sin(x) * y

    f.defjvps(lambda t, ans, x, y: jnp.cos(x) * y * t, lambda t, ans, x, y: jnp.sin(x) * t)
    gx, gy = jc.grad(f, argnums=(0, 1))(0.3, 2.0)
    assert abs(float(gx) - np.cos(0.3) * 2.0) < 1e-12
    assert abs(float(gy) - np.sin(0.3)) < 1e-12

    from functools import partial

    @partial(jc.custom_jvp, nondiff_argnums=(0,))
    def app(n, x):
        return x ** n

    @app.defjvp
    def app_jvp(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return app(n, x), n * x ** (n - 1) * t
    assert float(jc.grad(lambda x: app(3, x))(2.0)) == 12.0


@jc.custom_vjp
def clip_gradient(x):
    return x


def clip_fwd(x):
    return x, None


def clip_bwd(res, g):
    return (jnp.clip(g, -1.0, 1.0),)


clip_gradient.defvjp(clip_fwd, clip_bwd)


def test_custom_vjp_reverse_mode_jit_and_vmap():
    f = lambda x: jnp.sum(clip_gradient(x) * 5.0)  # noqa: E731
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(jc.grad(f)(x), [1.0, 1.0])
    np.testing.assert_allclose(jc.jit(jc.grad(f))(x), [1.0, 1.0])
    per = jc.vmap(jc.grad(lambda v: clip_gradient(v) * -3.0))(x)
    np.testing.assert_allclose(per, [-1.0, -1.0])
    np.testing.assert_allclose(clip_gradient(x), x)


def test_custom_vjp_with_residuals():
    @jc.custom_vjp
    def f(x, y):
        return jnp.sin(x) * y

    def fwd(x, y):
        return f(x, y), (jnp.cos(x), jnp.sin(x), y)

    def bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    f.defvjp(fwd, bwd)
    gx, gy = jc.grad(lambda a, b: jnp.sum(f(a, b)), argnums=(0, 1))(np.array([0.2, 0.4]),
                                                                   np.array([3.0, 4.0]))
    np.testing.assert_allclose(gx, np.cos([0.2, 0.4]) * [3.0, 4.0])
    np.testing.assert_allclose(gy, np.sin([0.2, 0.4]))


def test_custom_vjp_refuses_forward_mode_like_jax():
    with pytest.raises(TypeError, match="forward-mode"):
        jc.jvp(clip_gradient, (1.0,), (1.0,))


def test_custom_functions_run_plainly_outside_transforms():
    calls = []

    @jc.custom_jvp
    def f(x):
        calls.append(1)
        return x * 2

    f.defjvp(lambda p, t: (f(p[0]), t[0] * 2))
    assert float(f(3.0)) == 6.0
    assert float(jc.jit(f)(3.0)) == 6.0
    assert float(jc.grad(f)(3.0)) == 2.0
