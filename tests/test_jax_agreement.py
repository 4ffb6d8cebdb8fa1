"""Behaviour JAX code relies on: weak types through grad and vmap, grad's pass-through
arguments, jit wrappers sharing a cache, gather gradients, JAX's error classes, and missing
names. References are JAX's documented behaviour and NumPy."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import errors





def test_grad_keeps_the_inputs_weak_type():
    g = jax.grad(jnp.tanh)(2.0)
    assert g.weak_type and g.dtype == np.float64
    np.testing.assert_allclose(float(g), 1 - np.tanh(2.0) ** 2, rtol=1e-14)
    # A weak gradient does not promote float32 arrays (JAX: stays float32).
    assert (g * jnp.ones(2, jnp.float32)).dtype == np.float32
    strong = jax.grad(lambda x: x * x)(jnp.float32(2))
    assert strong.dtype == np.float32 and not strong.weak_type
    _, g2 = jax.value_and_grad(lambda x, y: x * y)(3.0, 4.0)
    assert g2.weak_type and float(g2) == 4.0


def test_grad_passes_non_array_arguments_through():
    np.testing.assert_allclose(float(jax.grad(lambda x, f: f(x))(1.0, jnp.sin)), np.cos(1.0))
    g = jax.grad(lambda x, f, name: f(x) * len(name))(2.0, lambda y: y * y, "abc")
    assert float(g) == 12.0
    jg = jax.jit(jax.grad(lambda x, f: f(x)), static_argnums=1)
    np.testing.assert_allclose(float(jg(1.0, jnp.cos)), -np.sin(1.0))
    # The differentiated argument itself must still be an array.
    with pytest.raises(TypeError):
        jax.grad(lambda f, x: f(x))(jnp.sin, 1.0)


def test_vmap_keeps_weak_types_of_python_scalars_and_shapes():
    out = jax.vmap(lambda x: 2.0)(jnp.ones(3))
    assert out.weak_type and out.shape == (3,)
    n = jax.vmap(lambda x: x.shape[0])(jnp.ones((3, 2)))
    assert n.weak_type and n.dtype == np.int64 and list(np.asarray(n)) == [2, 2, 2]
    y = jax.vmap(lambda x, s: s * 2, in_axes=(0, None))(jnp.ones(3), 2.0)
    assert y.weak_type
    assert (y * jnp.ones(3, jnp.float32)).dtype == np.float32
    strong = jax.vmap(lambda x: x + 1.0)(jnp.arange(3.0))
    assert not strong.weak_type
    assert jax.jit(jax.vmap(lambda x: 2.0))(jnp.ones(3)).weak_type


def test_jit_wrappers_of_one_function_share_a_cache():
    calls = []
    state = {"g": 10.0}

    def f(x):
        calls.append(1)
        return x + state["g"]

    assert float(jax.jit(f)(5.0)) == 15.0
    state["g"] = 0.0
    # JAX: a second jit(f) finds the first trace, so the global's new value is not seen.
    assert float(jax.jit(f)(5.0)) == 15.0
    assert len(calls) == 1
    # Other options are another cache.
    assert float(jax.jit(f, backend="interp")(5.0)) == 5.0
    assert len(calls) == 2
    jax.clear_cache()
    assert float(jax.jit(f)(5.0)) == 5.0


def test_gather_gradient_drops_out_of_bounds_indices():
    x = np.arange(3.0)
    idx = np.array([5, 1, -7, 2, 1])
    f = lambda x, i: (x[i] * jnp.arange(1.0, 6.0)).sum()
    # Reads clamp (after wrapping negatives once), as NumPy's clip of the wrapped index.
    wrapped = np.where(idx < 0, idx + 3, idx)
    np.testing.assert_allclose(float(f(jnp.asarray(x), idx)), (x[np.clip(wrapped, 0, 2)] * np.arange(1, 6)).sum())
    want = np.zeros(3)
    for k, i in enumerate(wrapped):   # only in-range rows get a gradient
        if 0 <= i < 3:
            want[i] += k + 1
    for g in (jax.grad(f), jax.jit(jax.grad(f))):
        np.testing.assert_array_equal(np.asarray(g(x, idx)), want)
    # vmap over index sets equals a loop.
    idxs = np.array([[5, 1, -7, 2, 1], [0, 0, 9, -1, 2]])
    got = jax.vmap(jax.grad(f), in_axes=(None, 0))(x, idxs)
    for row, gi in zip(idxs, np.asarray(got)):
        np.testing.assert_array_equal(gi, np.asarray(jax.grad(f)(x, row)))
    # Explicit clip mode adds out-of-range rows at the clamped position instead.
    gc = jax.grad(lambda x, i: x.at[i].get(mode="clip").sum())(x, np.array([5, 1]))
    np.testing.assert_array_equal(np.asarray(gc), [0, 1, 1])


def test_static_int_index_clamps_as_jax():
    a = jnp.arange(10)
    assert int(a[11]) == 9 and int(a[-11]) == 0
    assert int(jax.jit(lambda v: v[11])(a)) == 9


def test_errors_are_jax_exception_classes():
    with pytest.raises(errors.TracerBoolConversionError) as e:
        jax.jit(lambda x: 1 if x > 0 else 2)(1.0)
    assert isinstance(e.value, errors.ConcretizationTypeError)
    assert isinstance(e.value, errors.JAXTypeError)
    with pytest.raises(errors.NonConcreteBooleanIndexError) as e:
        jax.jit(lambda x: x[x > 0])(jnp.ones(3))
    assert isinstance(e.value, errors.JAXIndexError)
    with pytest.raises(errors.TracerArrayConversionError):
        jax.jit(lambda x: np.asarray(x))(jnp.ones(3))
    with pytest.raises(errors.TracerIntegerConversionError):
        jax.jit(lambda x: range(x))(3)
    assert issubclass(errors.KeyReuseError, TypeError)


@pytest.mark.parametrize("expr, close", [
    ("jnp.arrray", "'array'"), ("jax.gard", "'grad'"), ("jnp.linalg.nrom", "'norm'"),
    ("jax.nn.rellu", "'relu'"), ("jnp.fft.fftt", "'fft'"), ("jnp.Float32", "'float32'"),
])
def test_missing_names_say_what_is_close(expr, close):
    with pytest.raises(AttributeError) as e:
        eval(expr)
    assert close in str(e.value) and expr.split(".")[-1] in str(e.value)


def test_missing_dunder_is_a_plain_attribute_error():
    assert not hasattr(jnp, "__definitely_not_here__")
    assert hasattr(jnp, "sum")
