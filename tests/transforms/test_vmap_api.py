"""vmap's API: in_axes/out_axes as ints, None or pytree prefixes; nesting; clear errors."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp

RNG = np.random.default_rng(1)


def loop(f, *args, in_axes):
    """Reference: a Python loop over the mapped axis, results stacked on axis 0."""
    n = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = []
    for i in range(n):
        ex = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)]
        outs.append(np.asarray(f(*ex)))
    return np.stack(outs)


def test_matrix_vector_batch():
    w = RNG.normal(size=(3, 4))
    xs = RNG.normal(size=(5, 4))
    f = lambda w, x: jnp.tanh(w @ x)  # noqa: E731
    got = jc.vmap(f, in_axes=(None, 0))(w, xs)
    np.testing.assert_allclose(got, loop(f, w, xs, in_axes=(None, 0)), rtol=1e-12)


@pytest.mark.parametrize("ax", [0, 1, 2, -1])
def test_in_axis_positions(ax):
    x = RNG.normal(size=(2, 3, 4))
    f = lambda v: jnp.sum(v ** 2, axis=0) + v[-1]  # noqa: E731
    got = jc.vmap(f, in_axes=ax)(x)
    np.testing.assert_allclose(got, loop(f, x, in_axes=(ax % 3,)), rtol=1e-12)


@pytest.mark.parametrize("out_ax", [0, 1, -1])
def test_out_axes(out_ax):
    x = RNG.normal(size=(4, 3))
    got = jc.vmap(lambda v: v * 2, out_axes=out_ax)(x)
    np.testing.assert_allclose(got, np.moveaxis(x * 2, 0, out_ax))


def test_pytree_in_axes_prefix_and_dict_args():
    params = {"w": RNG.normal(size=(3,)), "b": 0.5}
    batch = {"x": RNG.normal(size=(6, 3)), "scale": RNG.normal(size=6)}

    def f(p, d):
        return jnp.dot(p["w"], d["x"]) * d["scale"] + p["b"]
    got = jc.vmap(f, in_axes=(None, {"x": 0, "scale": 0}))(params, batch)
    want = batch["x"] @ params["w"] * batch["scale"] + 0.5
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got2 = jc.vmap(f, in_axes=(None, 0))(params, batch)
    np.testing.assert_allclose(got2, want, rtol=1e-12)


def test_unbatched_outputs_are_broadcast_and_out_axes_none():
    x = RNG.normal(size=(3, 2))
    c = np.ones(2)
    a, b = jc.vmap(lambda v: (v + 1, c * 2), in_axes=0)(x)
    assert b.shape == (3, 2)
    got = jc.vmap(lambda v: (v + 1, c * 2), out_axes=(0, None))(x)
    assert got[1].shape == (2,)
    with pytest.raises(ValueError, match="out_axes cannot be None"):
        jc.vmap(lambda v: v, out_axes=None)(x)


def test_nested_vmap_is_an_outer_product():
    a, b = RNG.normal(size=3), RNG.normal(size=4)
    got = jc.vmap(jc.vmap(lambda u, v: u * v, in_axes=(None, 0)), in_axes=(0, None))(a, b)
    np.testing.assert_allclose(got, np.outer(a, b))


def test_batch_size_mismatch_error_names_the_sizes():
    with pytest.raises(ValueError) as e:
        jc.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    msg = str(e.value)
    assert "size 3" in msg and "size 4" in msg and "test_vmap_api.py" in msg


def test_axis_size_and_no_mapped_argument():
    got = jc.vmap(lambda: jnp.ones(2), in_axes=(), axis_size=3)()
    assert got.shape == (3, 2)
    with pytest.raises(ValueError, match="axis_size"):
        jc.vmap(lambda x: x, in_axes=None)(np.ones(2))


def test_in_axes_length_mismatch():
    with pytest.raises(ValueError, match="in_axes has 1 entries"):
        jc.vmap(lambda a, b: a + b, in_axes=(0,))(np.ones(2), np.ones(2))


def test_vmap_of_python_control_flow_on_values_is_a_concretization_error():
    with pytest.raises(jc.errors.ConcretizationTypeError):
        jc.vmap(lambda x: x if x > 0 else -x)(np.ones(3))
