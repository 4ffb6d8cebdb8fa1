"""Program inspection and tooling: make_jaxpr, eval_shape, ShapeDtypeStruct, block_until_ready,
disable_jit, ensure_compile_time_eval, named_scope/named_call, config.update, Array.devices and
sharding, jitcore.typing, jitcore.test_util.check_grads."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config, lax
from jitcore.errors import InvalidArgumentError
from jitcore.test_util import check_grads
from jitcore.typing import ArrayLike


# --- make_jaxpr ---------------------------------------------------------------------------

def _f(x, y):
    return jnp.sin(x) * y + 1.0, x.sum()


def test_make_jaxpr_equations_and_avals():
    closed = jc.make_jaxpr(_f)(np.ones(3), 2.0)
    names = [e.primitive.name for e in closed.jaxpr.eqns]
    assert names[0] == "sin" and "mul" in names and "add" in names and names[-1] == "reduce_sum"
    assert closed.eqns is closed.jaxpr.eqns
    # Arguments: the array, then the Python float (weak, as in JAX).
    (a, b) = closed.in_avals
    assert (a.shape, a.dtype, a.weak_type) == ((3,), np.float64, False)
    assert (b.shape, b.dtype, b.weak_type) == ((), np.float64, True)
    assert [(o.shape, o.dtype) for o in closed.out_avals] == [((3,), np.float64), ((), np.float64)]
    assert closed.consts == []
    # The dataflow: sin reads the first input; the outputs are the add's and the sum's results.
    sin = closed.jaxpr.eqns[0]
    assert sin.invars == [closed.jaxpr.invars[0]] and len(sin.outvars) == 1
    by_name = {e.primitive.name: e for e in closed.jaxpr.eqns}
    assert closed.jaxpr.outvars == [by_name["add"].outvars[0], by_name["reduce_sum"].outvars[0]]
    assert by_name["reduce_sum"].params["axes"] == (0,)


def test_make_jaxpr_text_is_the_ir():
    closed = jc.make_jaxpr(_f)(np.ones(3), 2.0)
    text = str(closed)
    assert text == jc.make_hlo(_f)(np.ones(3), 2.0).as_text()
    assert "sin(%0)" in text and "reduce_sum" in text


def test_make_jaxpr_array_constants_are_consts():
    table = np.arange(4.0) ** 2

    closed = jc.make_jaxpr(lambda x: x * table)(np.ones(4))
    assert len(closed.consts) == 1 == len(closed.jaxpr.constvars)
    np.testing.assert_array_equal(np.asarray(closed.consts[0]), table)
    mul = closed.jaxpr.eqns[-1]
    assert mul.primitive.name == "mul" and closed.jaxpr.constvars[0] in mul.invars


def test_make_jaxpr_static_argnums_and_return_shape():
    closed = jc.make_jaxpr(lambda x, n: jnp.tile(x, n), static_argnums=1)(np.ones(2), 3)
    assert [a.shape for a in closed.in_avals] == [(2,)]
    assert [a.shape for a in closed.out_avals] == [(6,)]
    closed, shapes = jc.make_jaxpr(lambda d: {"s": d["a"].sum(), "a": d["a"]},
                                   return_shape=True)({"a": np.ones((2, 3), np.float32)})
    assert shapes == {"s": jc.ShapeDtypeStruct((), np.float32),
                      "a": jc.ShapeDtypeStruct((2, 3), np.float32)}


def test_make_jaxpr_subcomputations_and_multiple_results():
    def f(x):
        y = lax.cond(x[0] > 0, lambda v: v + 1.0, lambda v: v * 2.0, x)
        return y, jnp.linalg.eigh(jnp.outer(x, x))[0]

    closed = jc.make_jaxpr(f)(jc.ShapeDtypeStruct((3,), np.float64))
    cond = [e for e in closed.eqns if e.primitive.name == "cond"][0]
    branches = cond.params["jaxprs"]
    assert len(branches) == 2
    assert sorted(e.primitive.name for b in branches for e in b.eqns
                  if e.primitive.name in ("add", "mul")) == ["add", "mul"]
    assert all(b.in_avals[0].shape == (3,) for b in branches)
    assert [a.shape for a in closed.out_avals] == [(3,), (3,)]
    # A multi-result primitive: one outvar per result, the unread one dropped.
    multi = [e for e in closed.eqns if len(e.outvars) > 1]
    assert multi and all(len(e.outvars) == 2 for e in multi)
    assert closed.jaxpr.outvars[1] in multi[0].outvars


# --- eval_shape and ShapeDtypeStruct ------------------------------------------------------

def test_eval_shape_matches_numpy():
    def f(a, b):
        return {"m": a @ b, "s": jnp.sum(a, axis=0)}

    a = np.ones((4, 5), np.float32)
    b = np.ones((5, 2), np.float32)
    out = jc.eval_shape(f, jc.ShapeDtypeStruct(a.shape, a.dtype), b)
    want = {"m": a @ b, "s": np.sum(a, axis=0)}
    for k in want:
        assert out[k].shape == want[k].shape and out[k].dtype == want[k].dtype


def test_eval_shape_weak_types_and_repr():
    out = jc.eval_shape(lambda x: x * 2, 1.0)
    assert (out.shape, out.dtype, out.weak_type) == ((), np.float64, True)
    assert repr(out) == "ShapeDtypeStruct(shape=(), dtype=float64, weak_type=True)"
    assert repr(jc.ShapeDtypeStruct((2,), jnp.float32)) == \
        "ShapeDtypeStruct(shape=(2,), dtype=float32)"
    out = jc.eval_shape(lambda x: x, np.float32(1))
    assert (out.dtype, out.weak_type) == (np.float32, False)


def test_lower_accepts_shape_dtype_structs():
    f = jc.jit(lambda x, y: x * y)
    lowered = f.lower(jc.ShapeDtypeStruct((2,), jnp.float32), 2.0)
    assert "f32[2] parameter(0)" in lowered.as_text()
    x = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(np.asarray(lowered.compile()(x, 3.0)), x * np.float32(3))
    with pytest.raises(InvalidArgumentError, match="ShapeDtypeStruct"):
        f(jc.ShapeDtypeStruct((2,), jnp.float32), 1.0)


def test_block_until_ready_returns_its_argument():
    a = jnp.ones(3)
    tree = {"a": a, "b": [a * 2, 1.0]}
    assert jc.block_until_ready(tree) is tree
    assert a.block_until_ready() is a


# --- contexts ------------------------------------------------------------------------------

def test_disable_jit_runs_eagerly():
    seen = []

    @jc.jit
    def f(x):
        seen.append(type(x))
        return x * 2

    x = np.arange(3.0)
    with jc.disable_jit():
        np.testing.assert_array_equal(np.asarray(f(x)), x * 2)
    assert seen == [np.ndarray]    # the function saw the value itself, not a tracer
    f(x)
    assert len(seen) == 2 and seen[1] is not np.ndarray
    config.update("jax_disable_jit", True)
    try:
        f(x + 1)
        assert seen[-1] is np.ndarray
    finally:
        config.update("jax_disable_jit", False)
    with jc.disable_jit(False):
        f(x)
    assert f.cache_info().compiles == 1


def test_ensure_compile_time_eval_inside_jit():
    def f(x):
        with jc.ensure_compile_time_eval():
            c = jnp.sin(2.0) * jnp.arange(3.0)
            # Concrete: Python may branch on it, which a traced value forbids.
            y = x + c if float(c[1]) > 0 else x - c
        return y

    x = np.array([0.5, 1.0, -1.0])
    want = x + np.sin(2.0) * np.arange(3.0)
    np.testing.assert_allclose(np.asarray(jc.jit(f)(x)), want, rtol=1e-15)
    names = [e.primitive.name for e in jc.make_jaxpr(f)(x).eqns]
    assert "sin" not in names and names == ["add"]
    with jc.ensure_compile_time_eval():      # outside a trace: nothing changes
        np.testing.assert_allclose(np.asarray(jnp.sin(2.0)), np.sin(2.0))


def test_named_scope_and_named_call_in_locations():
    def f(x):
        with jc.named_scope("outer"):
            y = jnp.sin(x)
            with jc.named_scope("inner"):
                z = y * 2.0
        return jc.named_call(jnp.cos, name="my_cos")(z) + 1.0

    closed = jc.make_jaxpr(f)(np.ones(3))
    loc = {e.primitive.name: e.location for e in closed.eqns}
    assert loc["sin"].startswith("[outer] test_tooling.py:")
    assert loc["mul"].startswith("[outer/inner] ")
    assert loc["cos"].startswith("[my_cos] ")
    assert not loc["add"].startswith("[")
    assert "# [outer/inner] test_tooling.py" in str(closed)
    np.testing.assert_allclose(np.asarray(jc.jit(f)(np.ones(3))), np.cos(np.sin(1.0) * 2) + 1)


# --- config.update -------------------------------------------------------------------------

def test_config_update_x64_and_unknown_options():
    config.update("jax_enable_x64", True)
    with pytest.raises(ValueError, match="64-bit"):
        config.update("jax_enable_x64", False)
    with pytest.raises(AttributeError, match="jax_platform_name"):
        config.update("jax_platform_name", "cpu")


def test_config_debug_nans():
    f = jc.jit(lambda x: jnp.log(x))
    assert np.isnan(np.asarray(f(np.array([-1.0])))[0])
    config.update("jax_debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="nan"):
            f(np.array([-1.0]))
        np.testing.assert_array_equal(np.asarray(f(np.array([1.0]))), [0.0])
    finally:
        config.update("jax_debug_nans", False)
    assert np.isnan(np.asarray(f(np.array([-1.0])))[0])


def test_config_log_compiles(caplog):
    config.update("jax_log_compiles", True)
    try:
        jc.jit(lambda x: x + 1)(np.ones(2))
    finally:
        config.update("jax_log_compiles", False)
    jc.jit(lambda x: x + 2)(np.ones(2))
    assert caplog.text.count("jitcore: compiled") == 1


# --- Array devices, sharding, typing -------------------------------------------------------

def test_array_devices_and_sharding():
    a = jnp.ones(3)
    cpu = jc.devices("cpu")[0]
    assert a.devices() == {cpu}
    assert a.sharding.device_set == {cpu}
    assert a.sharding == jc.jit(lambda v: v + 1)(a).sharding


def test_typing_names():
    assert isinstance(jnp.ones(2), ArrayLike) and isinstance(np.ones(2), ArrayLike)
    assert isinstance(1.5, ArrayLike) and not isinstance("1.5", ArrayLike)
    from jitcore.typing import DTypeLike  # noqa: F401


# --- test_util.check_grads -----------------------------------------------------------------

def test_check_grads_accepts_correct_derivatives():
    check_grads(lambda x, y: jnp.sin(x) * y ** 2, (np.array([0.3, 0.7]), np.array(1.5)),
                order=2)
    check_grads(lambda x: jnp.exp(x).sum(), (np.array([0.1, -0.2]),), order=1, modes=("rev",),
                atol=1e-6, rtol=1e-6, eps=1e-5)


def test_check_grads_catches_wrong_rules():
    @jc.custom_jvp
    def bad_jvp(x):
        return jnp.sin(x)
    bad_jvp.defjvp(lambda p, t: (jnp.sin(p[0]), 2.0 * jnp.cos(p[0]) * t[0]))
    with pytest.raises(AssertionError):
        check_grads(bad_jvp, (np.array([0.3]),), order=1, modes=("fwd",))

    @jc.custom_vjp
    def bad_vjp(x):
        return jnp.sin(x)
    bad_vjp.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (g * jnp.sin(x),))
    with pytest.raises(AssertionError):
        check_grads(bad_vjp, (np.array([0.3]),), order=1, modes=("rev",))
