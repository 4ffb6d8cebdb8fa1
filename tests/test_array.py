"""jitcore.Array and traced values behave like NumPy arrays (operators, methods, properties)."""
import operator

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp

RNG = np.random.default_rng(0)

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
          operator.eq, operator.ne]
INT_BINARY = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


def run_both(fn, *args):
    """fn on jitcore values eagerly and under jit; both must agree with NumPy."""
    eager = fn(*[jnp.asarray(a) for a in args])
    jitted = jc.jit(fn)(*args)
    return eager, jitted


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_operators_and_reflected(op, dtype):
    x = RNG.uniform(0.5, 2.0, (3, 4)).astype(dtype)
    y = RNG.uniform(0.5, 2.0, (4,)).astype(dtype)
    want = op(x, y)
    for got in run_both(op, x, y):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    # Reflected: NumPy/Python value on the left, jitcore value on the right.
    got = op(x, jnp.asarray(y))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    got = op(2.0, jnp.asarray(y))
    np.testing.assert_allclose(np.asarray(got), op(dtype(2.0), y), rtol=1e-6)
    assert got.dtype == np.dtype(dtype) or want.dtype == np.bool_


@pytest.mark.parametrize("op", INT_BINARY, ids=lambda o: o.__name__)
def test_integer_operators(op):
    x = RNG.integers(0, 100, (5,)).astype(np.int32)
    y = RNG.integers(0, 5, (5,)).astype(np.int32)
    for got in run_both(op, x, y):
        np.testing.assert_array_equal(np.asarray(got), op(x, y))
        assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(op(jnp.asarray(x), 3)), op(x, np.int32(3)))
    np.testing.assert_array_equal(np.asarray(op(7, jnp.asarray(y))), op(np.int32(7), y))


@pytest.mark.parametrize("op", [operator.neg, operator.pos, abs], ids=lambda o: o.__name__)
def test_unary_operators(op):
    x = RNG.normal(size=(3, 2))
    for got in run_both(op, x):
        np.testing.assert_allclose(np.asarray(got), op(x))


def test_invert():
    x = np.array([0, 1, -5], np.int16)
    b = np.array([True, False])
    for got in run_both(operator.invert, x):
        np.testing.assert_array_equal(np.asarray(got), ~x)
    for got in run_both(operator.invert, b):
        np.testing.assert_array_equal(np.asarray(got), ~b)


def test_matmul_operator():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    for got in run_both(operator.matmul, a, b):
        np.testing.assert_allclose(np.asarray(got), a @ b)


def test_weak_scalars_keep_array_dtype():
    x = jnp.asarray(np.ones(3, np.float32))
    assert (x * 2.0).dtype == np.float32
    assert (2 * x).dtype == np.float32
    i = jnp.asarray(np.ones(3, np.int32))
    assert (i + 1).dtype == np.int32
    assert (i * 1.5).dtype == np.float64  # JAX x64: int32 with a weak float gives float64
    w = jnp.add(2.0, 3.0)
    assert w.weak_type and w.dtype == np.float64
    assert (x * w).dtype == np.float32


def test_properties_eager_and_traced():
    x = np.zeros((2, 3, 4), np.float32)
    seen = {}

    def f(v):
        seen["props"] = (v.shape, v.dtype, v.ndim, v.size, v.T.shape, len(v))
        return v
    f(jnp.asarray(x))
    eager = seen["props"]
    jc.jit(f)(x)
    assert seen["props"] == eager == ((2, 3, 4), np.float32, 3, 24, (4, 3, 2), 2)


METHODS = [
    ("sum", (), {}), ("sum", (0,), {}), ("mean", (), {"axis": 1}), ("max", (), {"axis": -1}),
    ("min", (), {}), ("prod", (), {"axis": 0}), ("argmax", (), {"axis": 1}),
    ("argmin", (), {}), ("transpose", (), {}), ("transpose", (1, 0), {}), ("ravel", (), {}),
    ("flatten", (), {}), ("clip", (-0.5, 0.5), {}), ("cumsum", (), {"axis": 1}),
    ("any", (), {}), ("all", (), {"axis": 0}), ("var", (), {"axis": 0}), ("std", (), {}),
    ("round", (), {}), ("reshape", (3, 2), {}), ("reshape", ((6,),), {}),
    ("astype", (np.float32,), {}), ("squeeze", (), {}), ("cumprod", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", METHODS, ids=lambda v: str(v))
def test_methods_match_numpy(name, args, kwargs):
    x = RNG.normal(size=(2, 3))
    want = getattr(x, name)(*args, **kwargs)
    for got in run_both(lambda v: getattr(v, name)(*args, **kwargs), x):
        assert got.shape == np.shape(want)
        if name not in ("argmax", "argmin"):
            assert got.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_dot_method():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3,))
    for got in run_both(lambda u, v: u.dot(v), a, b):
        np.testing.assert_allclose(np.asarray(got), a.dot(b))


def test_array_is_immutable_and_converts_without_copy():
    x = jnp.asarray(np.arange(4.0))
    v = np.asarray(x)
    assert np.shares_memory(v, np.asarray(x))
    with pytest.raises(ValueError):
        v[0] = 1.0
    with pytest.raises(TypeError, match="at\\[idx\\]"):
        x[0] = 1.0


def test_array_prints_like_numpy():
    x = jnp.asarray(np.array([1.0, 2.5], np.float32))
    assert str(x) == str(np.array([1.0, 2.5], np.float32))
    assert repr(x) == "Array([1. , 2.5], dtype=float32)"
    assert "weak_type=True" in repr(jnp.add(1.0, 1.0))
    assert f"{jnp.asarray(np.float64(1.5)):.2f}" == "1.50"


def test_concrete_conversions_work_on_arrays():
    x = jnp.asarray(np.array(3.0))
    assert float(x) == 3.0 and int(x) == 3 and bool(x)
    assert list(range(10))[jnp.asarray(np.int64(2))] == 2
    assert [float(r) for r in jnp.asarray(np.arange(3.0))] == [0.0, 1.0, 2.0]
    assert jnp.asarray(np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]


def test_eager_functions_return_arrays():
    out = jnp.sin(np.arange(3.0))
    assert isinstance(out, jc.Array)
    np.testing.assert_allclose(out, np.sin(np.arange(3.0)))
    assert isinstance(jnp.add(1, 2), jc.Array)
    assert isinstance(jnp.asarray([1, 2]), jc.Array)


def test_tracer_is_unhashable_and_iterates():
    def f(x):
        with pytest.raises(TypeError):
            hash(x)
        return sum(r for r in x)
    np.testing.assert_allclose(jc.jit(f)(np.ones((3, 2))), 3 * np.ones(2))


def test_traced_values_are_arrays_for_isinstance():
    seen = []

    def f(x):
        seen.append(isinstance(x, jc.Array) and isinstance(x, jnp.ndarray))
        return x
    jc.jit(f)(np.ones(2))
    f(jnp.asarray(np.ones(2)))
    assert seen == [True, True]
    assert not isinstance(np.ones(2), jc.Array)


def test_methods_jax_code_uses_on_arrays_and_traced_values():
    x = np.arange(6.0).reshape(2, 3)
    a = jnp.asarray(x)
    assert a.itemsize == 8 and a.nbytes == 48
    np.testing.assert_array_equal(np.asarray(a.ptp(axis=1)), np.ptp(x, axis=1))
    np.testing.assert_array_equal(np.asarray(jnp.arange(4.0).searchsorted(1.5)),
                                  np.searchsorted(np.arange(4.0), 1.5))
    got = jc.jit(lambda v: v.copy() * v.itemsize + v.nbytes + jnp.array(v))(x)
    np.testing.assert_array_equal(np.asarray(got), x * 8 + 48 + x)
