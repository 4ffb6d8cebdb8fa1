"""`batch_module` / `batch_computation`: batching (vmap) as a pass over a traced Module.

The module `batch_module` makes takes the inputs with a leading batch axis where `batched[i]`
and returns every output batched along axis 0. It must verify, and on the interpreter give what
a Python loop over the examples gives, running the original module on each. Unbatched values
are computed once (`batch_computation` says which outputs are batched); control flow with a
batched predicate and custom_jvp calls go through their own rules.
"""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax
from xla_like.passes.batching import batch_computation, batch_module
from xla_like.passes.jvp import jvp_module
from xla_like.verifier import verify_module
from tests.helpers import opcodes, rand, round_through, run_on_interpreter


def traced(f, *args):
    return jax.make_hlo(f)(*args)


def loop(module, args, batched, size):
    """The original module on each example, its outputs stacked."""
    per = [run_on_interpreter(module, [a[i] if b else a for a, b in zip(args, batched)])
           for i in range(size)]
    return [np.stack(outs) for outs in zip(*per)]


def check_batch_module(f, example, batched, batch_args):
    """`batch_module` of `f` (traced at one `example`) on `batch_args` against the loop."""
    module = traced(f, *example)
    size = next(len(a) for a, b in zip(batch_args, batched) if b)
    bm = batch_module(module, batched, size)
    verify_module(bm)
    for p, a in zip(bm.entry.parameters, batch_args):
        assert p.shape.dims == np.shape(a) and p.shape.dtype == np.asarray(a).dtype
    got = run_on_interpreter(bm, batch_args)
    want = loop(module, batch_args, batched, size)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind == "f":
            # Batched dots and reductions may sum in another order.
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)
        else:
            np.testing.assert_array_equal(g, w)
    return bm


def test_batch_of_inputs_with_unbatched_weights():
    def f(x, w, b):
        h = jnp.tanh(x @ w + b)
        return h.sum(axis=0), (jnp.argmax(h, axis=1), jnp.cumsum(h, axis=0)), jnp.sort(x[:, 0])
    x, w, b = rand((3, 4), seed=1), rand((4, 2), seed=2), rand((2,), seed=3)
    check_batch_module(f, (x, w, b), [True, False, False], [rand((5, 3, 4), seed=4), w, b])
    check_batch_module(f, (x, w, b), [False, True, True],
                       [x, rand((2, 4, 2), seed=5), rand((2, 2), seed=6)])


def test_shape_ops_and_indexing():
    def f(x, i):
        y = jnp.concatenate([x, x[::-1] * 2], axis=0).reshape(4, 3)
        return y.T @ y, jnp.pad(y, 1), lax.dynamic_slice(x, (i,), (2,)), x[jnp.array([0, 5])]
    x = rand((6,), seed=7)
    check_batch_module(f, (x, np.int32(1)), [True, True],
                       [rand((3, 6), seed=8), np.array([0, 3, 9], np.int32)])


def test_outputs_that_ignore_the_batch_are_broadcast():
    def f(x, w):
        return x * w, jnp.sum(w ** 2), w.astype(np.int32)
    x, w = rand((3,), seed=9), rand((3,), seed=10)
    bm = check_batch_module(f, (x, w), [True, False], [rand((4, 3), seed=11), w])
    assert [o.shape.dims for o in bm.entry.root.operands] == [(4, 3), (4,), (4, 3)]


def test_batch_computation_computes_unbatched_values_once():
    def f(x, w):
        return x * w, jnp.sum(w ** 2), (x + 1).sum()
    x, w = rand((3,), seed=12), rand((3,), seed=13)
    module = traced(f, x, w)
    xs = rand((4, 3), seed=14)
    # With no trace active the rules compute with NumPy.
    outs, flags = batch_computation(module, module.entry, [xs, w], [True, False], 4)
    assert flags == [True, False, True]
    assert np.shape(outs[1]) == ()
    np.testing.assert_allclose(np.asarray(outs[1]), np.sum(w ** 2), rtol=1e-15)
    for g, want in zip([outs[0], outs[2]], [xs * w, (xs + 1).sum(axis=1)]):
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-15)
    _, flags = batch_computation(module, module.entry, [x, w], [False, False], 4)
    assert flags == [False, False, False]


@pytest.mark.parametrize("batched", [[True, True], [True, False], [False, True]])
def test_control_flow_inside(batched):
    def f(x, k):
        s = lax.cond(k > 0, lambda a: jnp.sin(a), lambda a: a * a, x)
        c, ys = lax.scan(lambda c, xi: (c * xi + 1.0, jnp.tanh(c)), 0.5, x)
        n, v = lax.while_loop(lambda s: s[0] < k, lambda s: (s[0] + 1, s[1] * 1.5), (0, x[0]))
        return s, c, ys, v, n
    x = rand((4,), seed=15)
    assert {"cond", "scan", "while"} <= set(opcodes(traced(f, x, np.int32(2)).entry))
    # Batched predicates and trip counts: each example takes its own branch and loop count.
    xs = rand((3, 4), seed=16) if batched[0] else x
    ks = np.array([-1, 2, 5], np.int32) if batched[1] else np.int32(3)
    check_batch_module(f, (x, np.int32(2)), batched, [xs, ks])



def test_custom_jvp_call_is_batched_with_its_rule():
    x = np.array([0.3, 1.7, -2.2, 4.5])
    module = traced(lambda x, y: round_through(x) * y, x, x)
    assert "custom_jvp_call" in opcodes(module.entry)
    xs = rand((3, 4), seed=17) * 3
    bm = check_batch_module(lambda x, y: round_through(x) * y, (x, x), [True, False], [xs, x])
    # The batched module still differentiates with the rule (d round = 1), not with round's
    # own derivative (0).
    assert "custom_jvp_call" in opcodes(bm.entry)
    jm = jvp_module(bm)
    verify_module(jm)
    t = rand((3, 4), seed=18)
    value, tangent = run_on_interpreter(jm, [xs, x, t, np.zeros(4)])
    np.testing.assert_array_equal(value, np.round(xs) * x)
    np.testing.assert_allclose(tangent, t * x, rtol=1e-15)


def test_batch_of_one():
    check_batch_module(lambda x: (jnp.exp(x) / jnp.exp(x).sum(), x.max()), (rand((5,)),),
                       [True], [rand((1, 5), seed=19)])
