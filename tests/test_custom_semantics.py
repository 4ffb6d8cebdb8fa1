"""When custom_jvp / custom_vjp functions and their rules run, as in JAX: rules only when a
derivative is taken, the function itself not at all under reverse mode of a custom_vjp, and
with concrete values (Python `if` on them) outside `jit`. Calls are counted with side effects;
values are checked against closed forms and finite differences."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import tree_util


def fd(fn, x, eps=1e-6):
    return (fn(x + eps) - fn(x - eps)) / (2 * eps)


def counted_jvp_fn():
    """sin(x) whose rule claims 10*cos(x): a wrong derivative, so results show the rule ran."""
    calls = {"f": 0, "rule": 0}

    @jax.custom_jvp
    def f(x):
        calls["f"] += 1
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        calls["rule"] += 1
        return jnp.sin(primals[0]), 10.0 * jnp.cos(primals[0]) * tangents[0]
    return f, calls


def counted_vjp_fn():
    """sin(x) whose backward rule gives 3*cos(x)*g."""
    calls = {"f": 0, "fwd": 0, "bwd": 0}

    @jax.custom_vjp
    def f(x):
        calls["f"] += 1
        return jnp.sin(x)

    def fwd(x):
        calls["fwd"] += 1
        return jnp.sin(x), jnp.cos(x)

    def bwd(res, g):
        calls["bwd"] += 1
        return (3.0 * res * g,)
    f.defvjp(fwd, bwd)
    return f, calls


# --- 1. Python control flow on values outside jit ----------------------------------------------

@jax.custom_jvp
def branchy(x):
    if x > 0:
        return x * x
    return -x


@branchy.defjvp
def branchy_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    if x > 0:
        return branchy(x), 2.0 * x * t
    return branchy(x), -t


@pytest.mark.parametrize("x,value,slope", [(3.0, 9.0, 6.0), (-2.0, 2.0, -1.0)])
def test_python_if_in_custom_jvp_eager(x, value, slope):
    assert float(branchy(x)) == value
    assert float(jax.grad(branchy)(x)) == pytest.approx(slope, rel=1e-12)
    out, tan = jax.jvp(branchy, (x,), (1.0,))
    assert float(out) == value and float(tan) == pytest.approx(slope, rel=1e-12)
    # value_and_grad through a larger eager computation
    v, g = jax.value_and_grad(lambda y: jnp.sin(branchy(y)))(x)
    assert float(v) == pytest.approx(np.sin(value), rel=1e-12)
    assert float(g) == pytest.approx(np.cos(value) * slope, rel=1e-12)


def test_python_if_in_custom_vjp_rules_eager():
    @jax.custom_vjp
    def f(x):
        return jnp.abs(x)

    def fwd(x):
        return (x if x > 0 else -x), x

    def bwd(x, g):
        return ((g if x > 0 else -g) * 2.0,)
    f.defvjp(fwd, bwd)
    assert float(jax.grad(f)(1.5)) == 2.0
    assert float(jax.grad(f)(-1.5)) == -2.0


# --- 2. custom_jvp: jit and vmap trace the function only ----------------------------------------

def test_custom_jvp_jit_traces_function_not_rule():
    f, calls = counted_jvp_fn()
    out = jax.jit(f)(0.7)
    assert float(out) == pytest.approx(np.sin(0.7), rel=1e-12)
    assert calls == {"f": 1, "rule": 0}


def test_custom_jvp_rule_traced_once_under_jit_grad():
    f, calls = counted_jvp_fn()
    g = jax.jit(jax.grad(f))(0.7)
    assert float(g) == pytest.approx(10 * np.cos(0.7), rel=1e-12)
    assert calls["rule"] == 1 and calls["f"] == 0


def test_custom_jvp_vmap_traces_function_not_rule():
    f, calls = counted_jvp_fn()
    xs = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(np.asarray(jax.vmap(f)(xs)), np.sin(xs), rtol=1e-12)
    assert calls == {"f": 1, "rule": 0}
    # the rule of the batched call is the user's rule, batched when differentiated
    g = jax.grad(lambda v: jax.vmap(f)(v).sum())(xs)
    np.testing.assert_allclose(np.asarray(g), 10 * np.cos(xs), rtol=1e-12)
    jv = jax.jvp(jax.vmap(f), (xs,), (np.arange(4.0),))[1]
    np.testing.assert_allclose(np.asarray(jv), 10 * np.cos(xs) * np.arange(4.0), rtol=1e-12)


def test_custom_jvp_grad_of_jit_and_vmap_of_grad():
    f, _ = counted_jvp_fn()
    xs = np.linspace(-1, 1, 3)
    assert float(jax.grad(jax.jit(f))(0.3)) == pytest.approx(10 * np.cos(0.3), rel=1e-12)
    loop = [float(jax.grad(f)(x)) for x in xs]
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(f))(xs)), loop, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(jax.grad(f)))(xs)), loop, rtol=1e-12)


def test_custom_jvp_second_order_uses_rule():
    f, _ = counted_jvp_fn()
    # d/dx of the rule's 10*cos(x) is -10*sin(x)
    assert float(jax.grad(jax.grad(f))(0.4)) == pytest.approx(-10 * np.sin(0.4), rel=1e-10)
    assert float(jax.jit(jax.hessian(f))(0.4)) == pytest.approx(-10 * np.sin(0.4), rel=1e-10)


# --- 3. custom_vjp: differentiation runs fwd and bwd, never f -----------------------------------

@pytest.mark.parametrize("transform", ["grad", "jit_grad", "grad_jit"])
def test_custom_vjp_grad_runs_fwd_and_bwd_only(transform):
    f, calls = counted_vjp_fn()
    g = {"grad": jax.grad(f), "jit_grad": jax.jit(jax.grad(f)),
         "grad_jit": jax.grad(jax.jit(f))}[transform]
    assert float(g(0.7)) == pytest.approx(3 * np.cos(0.7), rel=1e-12)
    assert calls["fwd"] == 1 and calls["bwd"] == 1
    if transform != "grad_jit":          # there jit traced f before grad saw it
        assert calls["f"] == 0


def test_custom_vjp_jit_runs_function_only():
    f, calls = counted_vjp_fn()
    assert float(jax.jit(f)(0.7)) == pytest.approx(np.sin(0.7), rel=1e-12)
    assert calls == {"f": 1, "fwd": 0, "bwd": 0}
    f2, calls2 = counted_vjp_fn()
    np.testing.assert_allclose(np.asarray(jax.vmap(f2)(np.arange(3.0))), np.sin(np.arange(3.0)))
    assert calls2 == {"f": 1, "fwd": 0, "bwd": 0}


def test_custom_vjp_under_vmap_and_grad():
    f, _ = counted_vjp_fn()
    xs, y = np.linspace(-1, 1, 3), 2.0
    loss = lambda v, w: jax.vmap(lambda a: f(a) * w)(v).sum()       # noqa: E731
    gx, gy = jax.jit(jax.grad(loss, argnums=(0, 1)))(xs, y)
    np.testing.assert_allclose(np.asarray(gx), 3 * np.cos(xs) * y, rtol=1e-12)
    assert float(gy) == pytest.approx(np.sin(xs).sum(), rel=1e-12)
    # an unbatched input of a batched call: its cotangent is summed over the batch
    h, _ = counted_vjp_fn()
    gw = jax.grad(lambda w: jax.vmap(lambda a: h(a + w))(xs).sum())(0.5)
    assert float(gw) == pytest.approx((3 * np.cos(xs + 0.5)).sum(), rel=1e-12)
    loop = [float(jax.grad(h)(x)) for x in xs]
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(h))(xs)), loop, rtol=1e-12)


def test_custom_vjp_vjp_function_reusable_and_forward_mode_refused():
    f, calls = counted_vjp_fn()
    out, pull = jax.vjp(f, 0.7)
    assert float(out) == pytest.approx(np.sin(0.7), rel=1e-12)
    assert float(pull(2.0)[0]) == pytest.approx(6 * np.cos(0.7), rel=1e-12)
    assert float(pull(1.0)[0]) == pytest.approx(3 * np.cos(0.7), rel=1e-12)
    assert calls["f"] == 0
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(f, (0.7,), (1.0,))


# --- 4. what the definers return ----------------------------------------------------------------

def test_definers_return_what_jax_returns():
    f = jax.custom_jvp(lambda x: x)
    rule = lambda p, t: (p[0], t[0])                      # noqa: E731
    assert f.defjvp(rule) is rule
    assert f.defjvps(lambda t, ans, x: t) is None
    g = jax.custom_vjp(lambda x: x)
    assert g.defvjp(lambda x: (x, None), lambda r, c: (c,)) is None

    class Box:
        def __init__(self, v):
            self.v = v
    assert tree_util.register_pytree_node(Box, lambda b: ((b.v,), None),
                                          lambda _, c: Box(*c)) is None
    assert tree_util.tree_leaves(Box(3)) == [3]


# --- 5. checkpoint: forward mode and keyword arguments ------------------------------------------

def test_checkpoint_forward_mode():
    f = jax.checkpoint(lambda x: jnp.sin(x) * x)
    exact = lambda x: np.cos(x) * x + np.sin(x)                # noqa: E731
    out, tan = jax.jvp(f, (0.8,), (2.0,))
    assert float(out) == pytest.approx(np.sin(0.8) * 0.8, rel=1e-12)
    assert float(tan) == pytest.approx(2 * exact(0.8), rel=1e-12)
    assert float(jax.jacfwd(f)(0.8)) == pytest.approx(exact(0.8), rel=1e-12)
    assert float(jax.jit(jax.jacfwd(f))(0.8)) == pytest.approx(exact(0.8), rel=1e-12)
    assert float(jax.hessian(f)(0.8)) == pytest.approx(fd(exact, 0.8), rel=1e-7)
    xs = np.linspace(0, 1, 3)
    jv = jax.vmap(lambda x: jax.jvp(f, (x,), (1.0,))[1])(xs)
    np.testing.assert_allclose(np.asarray(jv), exact(xs), rtol=1e-12)


def test_checkpoint_keyword_arguments():
    f = jax.checkpoint(lambda x, *, scale, n: jnp.sin(x) ** n * scale, static_argnums=())
    assert float(f(0.5, scale=2.0, n=2)) == pytest.approx(2 * np.sin(0.5) ** 2, rel=1e-12)
    ref = lambda x: 2 * np.sin(x) ** 2                         # noqa: E731
    g = jax.grad(lambda x, s: f(x, scale=s, n=2), argnums=(0, 1))(0.5, 2.0)
    assert float(g[0]) == pytest.approx(fd(ref, 0.5), rel=1e-7)
    assert float(g[1]) == pytest.approx(np.sin(0.5) ** 2, rel=1e-12)
    assert float(jax.jit(jax.grad(lambda x: f(x, scale=2.0, n=2)))(0.5)) \
        == pytest.approx(fd(ref, 0.5), rel=1e-7)


def test_custom_rules_under_symbolic_sizes():
    # A bucketed trace has symbolic sizes: the rules are traced without concrete values, and
    # the gradient equals the exact-shape one at every size, with no fallback.
    @jax.custom_vjp
    def g(x):
        return jnp.sin(x)

    g.defvjp(lambda x: (jnp.sin(x), jnp.cos(x)), lambda c, t: (c * t,))

    def loss(x):
        w = jnp.arange(x.shape[0])[:, None]
        return (jax.nn.softmax(x, axis=0) * w).sum() + (g(x) * w).sum()

    f = jax.jit(jax.grad(loss), dynamic_axes={0: 0})
    for n in (3, 5, 9, 17):
        x = np.random.default_rng(n).standard_normal((n, 3))
        s = np.exp(x - x.max(0)) / np.exp(x - x.max(0)).sum(0)
        w = np.arange(n)[:, None]
        want = s * (w - (s * w).sum(0)) + np.cos(x) * w     # softmax's VJP, plus g's
        np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-12, atol=1e-12)
    assert f.cache_info().exact_fallbacks == 0
