"""`jvp_module` / `jvp_computation`: forward mode as a pass over a traced Module.

The module `jvp_module` makes takes `(primals..., tangents of the inputs that have one...)` and
returns `(outputs..., output tangents...)`. It must verify; on the interpreter (the definition
of every primitive) its outputs are the original module's, and its tangents the original
module's central differences in float64. A tangent of None (`jvp_computation`) is a symbolic
zero; control flow and custom_jvp calls go through their own rules.
"""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax
from xla_like.passes.jvp import jvp_computation, jvp_module
from xla_like.verifier import verify_module
from tests.helpers import opcodes, rand, round_through, run_on_interpreter

EPS = 1e-6
TOL = 1e-7      # central differences in float64 at EPS: errors of about EPS**2 and 1e-16/EPS


def traced(f, *args):
    return jax.make_hlo(f)(*args)


def finite_differences(module, args, tangents):
    """d/ds of `module`'s outputs at `args + s * tangents` (None: that input held fixed);
    integer outputs do not vary."""
    def at(s):
        return run_on_interpreter(module, [a if t is None else a + s * t
                                           for a, t in zip(args, tangents)])
    plus, minus = at(EPS), at(-EPS)
    return [(p - m) / (2 * EPS) if p.dtype.kind == "f" else np.zeros_like(p)
            for p, m in zip(plus, minus)]


def assert_close(got, want, tol=TOL):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def check_jvp_module(f, args, with_tangent=None, seed=0):
    """`jvp_module` of `f`'s trace against the trace's values and central differences; the
    tangents are seeded random (zero for inputs without one). Returns the jvp module."""
    module = traced(f, *args)
    jm = jvp_module(module, with_tangent)
    verify_module(jm)
    if with_tangent is None:
        with_tangent = [np.asarray(a).dtype.kind == "f" for a in args]
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(a)) if w else None
                for a, w in zip(args, with_tangent)]
    assert len(jm.entry.parameters) == len(args) + sum(map(bool, with_tangent))
    got = run_on_interpreter(jm, list(args) + [t for t in tangents if t is not None])
    want = run_on_interpreter(module, args)
    assert len(got) == 2 * len(want)
    assert_close(got[:len(want)], want, tol=0)
    assert_close(got[len(want):], finite_differences(module, args, tangents))
    return jm


def test_tangents_match_finite_differences_through_tuple_outputs():
    def f(x, w):
        h = jnp.tanh(x @ w) * jnp.exp(-x[:, :1] ** 2)
        return h.sum(axis=0), (jnp.max(h, axis=1), jnp.cumsum(h, axis=1) / (1 + x[:, 1:3] ** 2))
    check_jvp_module(f, (rand((3, 4), seed=1), rand((4, 2), seed=2)))


def test_shape_ops_and_a_value_used_several_times():
    def f(x):
        y = jnp.concatenate([x, x[::-1] * 2], axis=0).reshape(4, 3)
        return jnp.sort(jnp.sin(y) * y.T.sum(), axis=1), jnp.transpose(y) @ y
    check_jvp_module(f, (rand((6,), seed=3),))


def test_integer_inputs_get_no_tangent_and_integer_outputs_a_zero_one():
    def f(x, k):
        return x * k, k * 2, jnp.argmax(x)
    jm = check_jvp_module(f, (rand((5,), seed=4), np.int32(3)))
    params = jm.entry.parameters
    assert [str(p.shape.dtype) for p in params] == ["float64", "int32", "float64"]
    out = run_on_interpreter(jm, [rand((5,), seed=4), np.int32(3), np.ones(5)])
    for t in out[4:]:
        assert t.dtype.kind == "i" and not t.any()


def test_inputs_left_out_of_with_tangent_are_held_fixed():
    def f(x, y):
        return jnp.sin(x) * y, jnp.cos(x), y ** 3
    args = (rand((4,), seed=5), rand((4,), seed=6))
    jm = check_jvp_module(f, args, with_tangent=[False, True])
    # Outputs that depend on x alone get materialized zero tangents.
    out = run_on_interpreter(jm, list(args) + [np.ones(4)])
    assert out[4].dtype == np.float64 and not out[4].any()


def test_nothing_is_differentiated_where_no_tangent_flows():
    # log's JVP is t / x: no division may appear for the input without a tangent.
    module = traced(lambda x, y: (jnp.exp(x), jnp.log(y)), rand((3,), seed=7),
                    np.abs(rand((3,), seed=8)) + 1)
    jm = jvp_module(module, [True, False])
    verify_module(jm)
    assert "div" not in opcodes(jm.entry), jm.as_text()


def test_jvp_computation_keeps_symbolic_zeros():
    def f(x, y, k):
        return jnp.sin(x) * 2, jnp.cos(y) + x.sum(), y * k, k + 1
    x, y, k = rand((3,), seed=9), rand((3,), seed=10), np.int32(2)
    module = traced(f, x, y, k)
    t = rand((3,), seed=11)
    # With no trace active the rules compute with NumPy.
    outs, touts = jvp_computation(module, module.entry, [x, y, k], [None, t, None])
    assert touts[0] is None and touts[3] is None
    want = finite_differences(module, [x, y, k], [None, t, None])
    assert_close([np.asarray(touts[i]) for i in (1, 2)], [want[1], want[2]])
    assert_close([np.asarray(o) for o in outs], run_on_interpreter(module, [x, y, k]), tol=0)
    _, touts = jvp_computation(module, module.entry, [x, y, k], [None, None, None])
    assert touts == [None] * 4


@pytest.mark.parametrize("k", [2, -1])
def test_control_flow_inside(k):
    def f(x, y, k):
        s = lax.cond(k > 0, lambda a: jnp.sin(a) * y, lambda a: a * a - y, x)
        c, ys = lax.scan(lambda c, xi: (c * xi + 1.0, jnp.tanh(c) * xi), 0.5, x)
        n, v = lax.while_loop(lambda s: s[0] < k, lambda s: (s[0] + 1, jnp.sin(s[1]) * 1.5),
                              (0, y))
        return s.sum() + c, ys, v
    jm = check_jvp_module(f, (rand((4,), seed=12), rand((4,), seed=13), np.int32(k)))
    assert {"cond", "scan", "while"} <= set(opcodes(traced(
        f, rand((4,)), rand((4,)), np.int32(k)).entry))
    assert jm.entry.parameters[2].shape.dtype == np.int32



def test_custom_jvp_rule_is_used_not_the_function():
    x = np.array([0.3, 1.7, -2.2, 4.5])
    module = traced(lambda x: round_through(x) * x, x)
    assert "custom_jvp_call" in opcodes(module.entry)
    jm = jvp_module(module)
    verify_module(jm)
    t = rand((4,), seed=14)
    value, tangent = run_on_interpreter(jm, [x, t])
    np.testing.assert_array_equal(value, np.round(x) * x)
    # The rule's tangent (t), not round's (0): t * x + round(x) * t.
    np.testing.assert_allclose(tangent, t * x + np.round(x) * t, rtol=1e-15)


def test_custom_jvp_call_without_tangent_keeps_the_symbolic_zero():
    x = np.array([0.3, 1.7])
    module = traced(lambda x, y: (round_through(x) * x, y * 2), x, x)
    _, touts = jvp_computation(module, module.entry, [x, x], [None, np.ones(2)])
    assert touts[0] is None
