"""`vjp_module` / `vjp_computation`: reverse mode as a pass over a traced Module.

The module `vjp_module` makes takes `(primals..., output cotangents...)` and returns
`(outputs..., cotangents of the wrt inputs...)`. It must verify, and on the interpreter satisfy
the adjoint identity <J v, w> = <v, J^T w> for random v and w, J v being the original module's
central differences in float64 (independent of every VJP rule). Inputs not in `wrt` or not
reached get zero cotangents (None from `vjp_computation`); control flow and custom derivative
calls go through their own rules.
"""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax
from xla_like.passes.vjp import vjp_computation, vjp_module
from xla_like.verifier import verify_module
from tests.helpers import opcodes, rand, round_through, run_on_interpreter

EPS = 1e-6


def traced(f, *args):
    return jax.make_hlo(f)(*args)


def jv(module, args, v):
    """J v by central differences of `module` (None in `v`: that input held fixed)."""
    def at(s):
        return run_on_interpreter(module, [a if t is None else a + s * t
                                           for a, t in zip(args, v)])
    plus, minus = at(EPS), at(-EPS)
    return [(p - m) / (2 * EPS) if p.dtype.kind == "f" else None for p, m in zip(plus, minus)]


def inner(xs, ys):
    return sum(float(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64)))
               for x, y in zip(xs, ys) if x is not None and y is not None)


def check_vjp_module(f, args, wrt=None, seed=0):
    """`vjp_module` of `f`'s trace: its outputs are the trace's, and <J v, w> = <v, J^T w>
    for seeded random v (on the wrt inputs) and w (on the float outputs; zero on the others).
    Returns the vjp module and its cotangents."""
    module = traced(f, *args)
    vm = vjp_module(module, wrt)
    verify_module(vm)
    if wrt is None:
        wrt = [np.asarray(a).dtype.kind == "f" for a in args]
    want = run_on_interpreter(module, args)
    rng = np.random.default_rng(seed)
    w = [rng.standard_normal(o.shape) if o.dtype.kind == "f" else np.zeros_like(o)
         for o in want]
    v = [rng.standard_normal(np.shape(a)) if k else None for a, k in zip(args, wrt)]
    assert len(vm.entry.parameters) == len(args) + len(want)
    got = run_on_interpreter(vm, list(args) + w)
    assert len(got) == len(want) + sum(map(bool, wrt))
    for g, o in zip(got, want):
        assert g.shape == o.shape and g.dtype == o.dtype
        np.testing.assert_array_equal(g, o)
    cts = got[len(want):]
    for c, a in zip(cts, [a for a, k in zip(args, wrt) if k]):
        assert c.shape == np.shape(a) and c.dtype == np.asarray(a).dtype
    lhs = inner(jv(module, args, v), w)
    rhs = inner([t for t in v if t is not None], cts)
    np.testing.assert_allclose(rhs, lhs, rtol=1e-7, atol=1e-7)
    return vm, cts


def test_adjoint_identity_through_tuple_outputs():
    def f(x, w):
        h = jnp.tanh(x @ w) * jnp.exp(-x[:, :1] ** 2)
        return h.sum(axis=0), (jnp.max(h, axis=1), jnp.cumsum(h, axis=1) / (1 + x[:, 1:3] ** 2))
    check_vjp_module(f, (rand((3, 4), seed=1), rand((4, 2), seed=2)))


def test_shape_ops_and_a_value_used_several_times():
    # x reaches the output along several paths: their cotangents add up.
    def f(x):
        y = jnp.concatenate([x, x[::-1] * 2], axis=0).reshape(4, 3)
        return (jnp.sort(jnp.sin(y) * y.T.sum(), axis=1), jnp.transpose(y) @ y,
                x[jnp.array([0, 2, 2])])
    check_vjp_module(f, (rand((6,), seed=3),))


def test_integer_inputs_and_outputs():
    def f(x, k):
        return x * k, k * 2, jnp.argmax(x), jnp.sum(x ** 2)
    vm, cts = check_vjp_module(f, (rand((5,), seed=4), np.int32(3)))
    # Output cotangents for integer outputs are parameters too; only x gets a cotangent.
    assert [str(p.shape.dtype) for p in vm.entry.parameters] == \
        ["float64", "int32", "float64", "int32", "int64", "float64"]
    assert len(cts) == 1


def test_wrt_subset_and_unreached_inputs_get_zero_cotangents():
    def f(x, y, z):
        return jnp.sin(x) * y, jnp.cos(x), jnp.argmax(z)
    args = (rand((4,), seed=5), rand((4,), seed=6), rand((4,), seed=7))
    _, cts = check_vjp_module(f, args, wrt=[True, False, True])
    assert len(cts) == 2
    assert not cts[1].any()           # z reaches only an integer output
    check_vjp_module(f, args, wrt=[False, True, False])


def test_stop_gradient_blocks_the_cotangent():
    x, z = rand((4,), seed=18), rand((4,), seed=19)
    vm = vjp_module(traced(lambda x, z: x * lax.stop_gradient(z) + z.sum(), x, z))
    verify_module(vm)
    w = rand((4,), seed=20)
    _, ct_x, ct_z = run_on_interpreter(vm, [x, z, w])
    np.testing.assert_allclose(ct_x, w * z, rtol=1e-15)
    np.testing.assert_allclose(ct_z, np.full(4, w.sum()), rtol=1e-14)   # through the sum only


def test_vjp_computation_gives_none_where_nothing_flows():
    def f(x, y, z):
        return jnp.sin(x) * y, jnp.cos(y), z * 3
    x, y, z = (rand((3,), seed=s) for s in (8, 9, 10))
    module = traced(f, x, y, z)
    w0, w1 = rand((3,), seed=11), rand((3,), seed=12)
    # With no trace active the rules compute with NumPy. Output 1's cotangent is None: only
    # output 0 pulls back; z is not in wrt.
    outs, cts = vjp_computation(module, module.entry, [x, y, z], [True, True, False],
                                [w0, None, w1])
    assert cts[2] is None
    np.testing.assert_allclose(np.asarray(cts[0]), w0 * np.cos(x) * y, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(cts[1]), w0 * np.sin(x), rtol=1e-14)
    for o, want in zip(outs, run_on_interpreter(module, [x, y, z])):
        np.testing.assert_array_equal(np.asarray(o), want)
    # x in wrt but reached by no cotangent: None too.
    _, cts = vjp_computation(module, module.entry, [x, y, z], [True, True, True],
                             [None, rand((3,), seed=13), None])
    assert cts[0] is None and cts[2] is None and cts[1] is not None


@pytest.mark.parametrize("k", [2, -1])
def test_control_flow_inside(k):
    def f(x, y, k):
        s = lax.cond(k > 0, lambda a: jnp.sin(a) * y, lambda a: a * a - y, x)
        c, ys = lax.scan(lambda c, xi: (c * xi + 1.0, jnp.tanh(c) * xi), 0.5, x)
        return s.sum() + c, ys, lax.fori_loop(0, 3, lambda i, v: jnp.sin(v) * y, x)
    args = (rand((4,), seed=14), rand((4,), seed=15), np.int32(k))
    assert {"cond", "scan"} <= set(opcodes(traced(f, *args).entry))
    check_vjp_module(f, args)



@jax.custom_vjp
def scale_grad(x):
    """The identity, whose cotangent is scaled by 3."""
    return x


scale_grad.defvjp(lambda x: (x, None), lambda _, ct: (ct * 3,))


def test_custom_rules_are_transposed_not_the_function():
    x = np.array([0.3, 1.7, -2.2, 4.5])
    module = traced(lambda x: (round_through(x) * x, jnp.sin(scale_grad(x))), x)
    assert {"custom_jvp_call", "custom_vjp_call"} <= set(opcodes(module.entry))
    vm = vjp_module(module)
    verify_module(vm)
    w0, w1 = rand((4,), seed=16), rand((4,), seed=17)
    a, b, ct = run_on_interpreter(vm, [x, w0, w1])
    np.testing.assert_array_equal(a, np.round(x) * x)
    np.testing.assert_array_equal(b, np.sin(x))
    # The JVP rule's J is t -> t * x + round(x) * t, so J^T w = w * (x + round(x)); the
    # custom VJP triples the sine's cotangent.
    np.testing.assert_allclose(ct, w0 * (x + np.round(x)) + 3 * w1 * np.cos(x), rtol=1e-14)
