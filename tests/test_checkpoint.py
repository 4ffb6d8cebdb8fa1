"""checkpoint / remat: same values and derivatives as the plain function for every policy,
and the backward rule recomputes exactly what the policy does not save."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore.ad_checkpoint import checkpoint, checkpoint_name, checkpoint_policies as cp
from ops import core
from xla_like.builder import build

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((4, 4)) * 0.5


def f(x, w):
    h = checkpoint_name(jnp.tanh(x @ w), "h")
    return jnp.sin(h @ w).sum()


def f_numpy(x, w):
    return np.sin(np.tanh(x @ w) @ w).sum()


def fd_grad(fn, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (fn(x + d) - fn(x - d)) / (2 * eps)
    return g


POLICIES = {
    "default": None,
    "nothing": cp.nothing_saveable,
    "everything": cp.everything_saveable,
    "dots": cp.dots_saveable,
    "checkpoint_dots": cp.checkpoint_dots,
    "dots_no_batch": cp.dots_with_no_batch_dims_saveable,
    "names_h": cp.save_only_these_names("h"),
    "names_but_h": cp.save_any_names_but_these("h"),
}


@pytest.mark.parametrize("pol", list(POLICIES))
@pytest.mark.parametrize("use_jit", [False, True])
def test_values_and_grads(pol, use_jit):
    fc = checkpoint(f, policy=POLICIES[pol])
    wrap = jax.jit if use_jit else (lambda g: g)
    np.testing.assert_allclose(wrap(fc)(X, W), f_numpy(X, W), rtol=1e-12)
    gx, gw = wrap(jax.grad(fc, argnums=(0, 1)))(X, W)
    np.testing.assert_allclose(gx, fd_grad(lambda x: f_numpy(x, W), X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, fd_grad(lambda w: f_numpy(X, w), W), rtol=1e-6, atol=1e-8)


def test_closed_over_values_get_gradients():
    gw = jax.grad(lambda w: checkpoint(lambda x: f(x, w))(X))(W)
    np.testing.assert_allclose(gw, fd_grad(lambda w: f_numpy(X, w), W), rtol=1e-6, atol=1e-8)


def test_vmap_and_second_order():
    g = lambda x: jnp.sin(jnp.tanh(x) * x)       # noqa: E731
    gn = lambda x: np.sin(np.tanh(x) * x)        # noqa: E731
    xs = RNG.standard_normal(5)
    d1 = np.array([fd_grad(gn, np.array(v)) for v in xs])
    np.testing.assert_allclose(jax.vmap(jax.grad(checkpoint(g)))(xs), d1, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(checkpoint(g))))(xs), d1, rtol=1e-6)
    dgn = lambda x: fd_grad(gn, x, 1e-5)         # noqa: E731
    for v in xs[:2]:
        d2 = fd_grad(dgn, np.array(v), 1e-4)
        np.testing.assert_allclose(jax.grad(jax.grad(checkpoint(g)))(v), d2, rtol=1e-4)


def test_static_argnums_and_pytrees():
    h = checkpoint(lambda p, n: (jnp.sin(p["a"]) ** n, p["b"] * 2.0), static_argnums=(1,))
    ga = jax.grad(lambda a: h({"a": a, "b": a}, 3)[0])(0.3)
    np.testing.assert_allclose(ga, 3 * np.sin(.3) ** 2 * np.cos(.3), rtol=1e-12)
    assert jax.remat is jax.checkpoint


def _rules(policy):
    """The custom_vjp_call of `checkpoint(f, policy)` traced at (X, W): its forward and
    backward rule computations."""
    avals = [core.get_aval(X), core.get_aval(W)]
    module, comp, _, _ = build("t", lambda x, w: [checkpoint(f, policy=policy)(x, w)], avals)
    call, = [i for i in comp.instructions if i.opcode == "custom_vjp_call"]
    return call.called[1], call.called[2]


def _count(comp, op):
    """Instructions `op` that the computation's outputs depend on (dead ones are dropped by
    the trace-time pipeline)."""
    live, todo = set(), [comp.root]
    while todo:
        i = todo.pop()
        if i.id not in live:
            live.add(i.id)
            todo.extend(i.operands)
    return sum(i.opcode == op and i.id in live for i in comp.instructions)


@pytest.mark.parametrize("pol,tanh,dots,saved", [
    ("nothing", 1, 6, 0),        # both forward dots and tanh replayed, 4 backward dots
    ("everything", 0, 4, None),  # nothing of the forward replayed
    ("dots", 1, 4, 2),           # tanh recomputed from the saved first dot
    ("names_h", 0, 5, 1),        # h saved: only the second dot is replayed
])
def test_backward_recomputes_what_is_not_saved(pol, tanh, dots, saved):
    fwd, bwd = _rules(POLICIES[pol])
    assert _count(bwd, "tanh") == tanh
    assert _count(bwd, "dot_general") == dots
    n_res = len(fwd.root.operands) - 1          # outputs: f's one value, then residuals
    if saved is not None:
        assert n_res == 2 + saved                # the inputs, then the saved values


def test_offload_policies_refused():
    with pytest.raises(NotImplementedError, match="offload"):
        cp.save_and_offload_only_these_names(names_which_can_be_saved=[])


def test_optimization_barrier_keeps_values_and_blocks_cse():
    from jitcore import lax as jlax
    x = np.arange(4.0)
    f = jax.jit(lambda v: jnp.sin(v) + jnp.sin(jlax.optimization_barrier(v)))
    np.testing.assert_allclose(np.asarray(f(x)), 2 * np.sin(x))
    text = f.lower(x).compile().as_text("hlo")
    assert text.count("sin(") == 2          # not merged into one sine
    g = jax.grad(lambda v: jnp.sum(jlax.optimization_barrier({"a": v})["a"] ** 2))(x)
    np.testing.assert_allclose(np.asarray(g), 2 * x)
