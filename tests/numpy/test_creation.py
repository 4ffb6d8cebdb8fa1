"""Array creation in jitcore.numpy against NumPy: values, shapes, dtypes (JAX-x64 defaults) and
weak types, eagerly and under jit, the IR it builds (no large constants), and the error paths."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from ops import dtypes
from ops.errors import AxisError, ConcretizationTypeError, DtypeError, ShapeError
from tests.helpers import assert_same, raises

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_]


def check(f, want, *args, weak=None):
    """`f(*args)` eagerly and under jit (static values closed over in `f`) equals `want`."""
    assert_same(f(*args), want, weak)
    assert_same(jax.jit(f)(*args), want, weak)


def constants(module):
    return [i for c in module.computations.values() for i in c.instructions
            if i.opcode == "constant"]


def assert_no_large_constant(module):
    assert "{...}" not in module.as_text()
    sizes = [np.asarray(i.attrs["value"]).size for i in constants(module)]
    assert all(s <= 1 for s in sizes), sizes


# --- array, asarray ------------------------------------------------------------------------

@pytest.mark.parametrize("obj", [[1, 2, 3], [1.0, 2], [True, False], [[1, 2], [3, 4]], (1, 2.5),
                                 [], [[]], [True, 2], [[1.5], [2.5]], ((0, 1), [2, 3])])
def test_array_from_python_lists(obj):
    want = np.array(obj)
    assert_same(jnp.array(obj), want, weak=False)
    assert_same(jnp.asarray(obj), want, weak=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_dtype_and_ndmin(dtype):
    obj = [[1, 0, 3], [4, 5, 0]]
    want = np.array(obj, dtype=dtype)
    assert_same(jnp.array(obj, dtype=dtype), want, weak=False)
    assert_same(jnp.array(np.array(obj), dtype=dtype), want)
    assert_same(jnp.array(want, ndmin=4), np.array(want, ndmin=4))
    assert_same(jnp.array(jnp.asarray(want), ndmin=1), want)
    assert_same(jnp.asarray(jnp.ones(3), dtype=dtype), np.ones(3, dtype))


def test_array_scalars_are_weak_like_jax():
    assert_same(jnp.array(2.0), np.array(2.0), weak=True)
    assert_same(jnp.array(3), np.array(3), weak=True)
    assert_same(jnp.array(True), np.array(True), weak=False)
    assert_same(jnp.array(2.0, dtype=np.float32), np.array(2.0, np.float32), weak=False)
    assert_same(jnp.array(np.float32(2)), np.array(2, np.float32), weak=False)


def test_array_leaves_promote_with_jax_lattice():
    # JAX's lattice over the leaves: a float32 leaf with Python floats stays float32, and a
    # traced leaf gives the same dtype as a concrete one.
    x32 = np.float32(1.5)
    want = np.array([1.5, 2.0, 3.0], np.float32)
    assert_same(jnp.array([jnp.asarray(x32), 2.0, 3]), want, weak=False)
    assert_same(jnp.array([x32, 2.0, 3]), want)
    check(lambda a: jnp.array([a, 2.0, 3]), want, x32, weak=False)
    i32 = np.array([1, 2], np.int32)
    assert_same(jnp.array([i32, [3, 4]]), np.array([[1, 2], [3, 4]], np.int32))


def test_array_with_traced_leaves_stacks_them():
    x, y = np.float64(2.0), np.arange(3.0)
    check(lambda a: jnp.array([[a, 1.0], [2.0, a]]), np.array([[2.0, 1.0], [2.0, 2.0]]), x)
    check(lambda b: jnp.array([b, b * 2, [7, 8, 9]]), np.array([y, y * 2, [7, 8, 9]]), y)
    check(lambda b: jnp.array((b[0], b[2]), dtype=np.int32), np.array([0, 2], np.int32), y)
    check(lambda b: jnp.asarray([b]), np.array([y]), y)
    module = jax.make_hlo(lambda a: jnp.array([a, a, 1.0]))(x)
    assert {i.opcode for i in module.entry.instructions} >= {"concatenate"}


def test_array_dtype_conversion_is_the_same_eagerly_and_traced():
    # Floats to ints convert as the primitive does (saturating, NaN -> 0), with or without
    # traced leaves.
    leaves = [1.7, -2.5, float("nan"), 1e30, -1e30]
    info = np.iinfo(np.int32)
    x = np.array(leaves)
    want = np.where(np.isnan(x), 0, np.clip(np.trunc(x), info.min, info.max)).astype(np.int32)
    assert_same(jnp.array(leaves, dtype=np.int32), want)
    check(lambda a: jnp.array([a, *leaves[1:]], dtype=np.int32), want, 1.7)


def test_asarray_returns_its_argument():
    x = jnp.ones(3)
    assert jnp.asarray(x) is x
    assert jnp.asarray(x, dtype=np.float64) is x
    y = jnp.array(x)
    assert y is not x and y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y), np.ones(3))


def test_array_errors():
    with raises(ShapeError, "array", "ragged"):
        jnp.array([[1, 2], [3]])
    with raises(ShapeError, "stack", "f64[2]", "f64[1]"):
        jax.jit(lambda a: jnp.array([[a, a], [a]]))(1.0)
    with raises(DtypeError, "float128"):
        jnp.array(np.ones(2, np.longdouble))
    with pytest.raises(ValueError, match="order='F'"):
        jnp.array([1, 2], order="F")


# --- zeros, ones, empty, full --------------------------------------------------------------

SHAPES = [(), 0, 3, (2, 3), [4, 1, 2], (0, 5), np.int64(2), (np.int32(2), 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_zeros_ones_empty_default_float64(shape):
    for jf, nf in [(jnp.zeros, np.zeros), (jnp.ones, np.ones), (jnp.empty, np.zeros)]:
        check(lambda: jf(shape), nf(shape), weak=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_ones_full_dtypes(dtype):
    for jf, nf in [(jnp.zeros, np.zeros), (jnp.ones, np.ones)]:
        check(lambda: jf((2, 3), dtype), nf((2, 3), dtype), weak=False)
    check(lambda: jnp.full((3, 2), 7, dtype), np.full((3, 2), 7, dtype), weak=False)
    check(lambda: jnp.full(4, True, dtype=dtype), np.full(4, True, dtype=dtype))


@pytest.mark.parametrize("fill,want_dtype,weak", [(1, np.int64, True), (2.5, np.float64, True),
                                                   (True, np.bool_, False),
                                                   (np.float32(2), np.float32, False),
                                                   (np.array(3, np.int8), np.int8, False)])
def test_full_dtype_follows_fill_value(fill, want_dtype, weak):
    check(lambda: jnp.full((2, 2), fill), np.full((2, 2), fill, dtype=want_dtype), weak=weak)


def test_full_with_array_and_traced_fill():
    row = np.array([1.0, 2.0, 3.0], np.float32)
    check(lambda: jnp.full((2, 3), row), np.full((2, 3), row))
    check(lambda: jnp.full((2, 3), [1, 2, 3], dtype=np.float64),
          np.full((2, 3), [1, 2, 3], dtype=np.float64))
    check(lambda v: jnp.full((2, 3), v), np.full((2, 3), row), row)
    check(lambda v: jnp.full((4,), v, dtype=np.int32), np.full(4, 2, np.int32), np.float32(2.7))
    check(lambda v: jnp.full((2, 2), v), np.full((2, 2), 5.0), 5.0, weak=True)


def test_creation_errors():
    with raises(ShapeError, "zeros", "negative", "(2, -1)"):
        jnp.zeros((2, -1))
    with raises(ShapeError, "full", "f32[3]", "(2, 2)"):
        jnp.full((2, 2), np.ones(3, np.float32))
    with raises(ConcretizationTypeError, "zeros", "static"):
        jax.jit(lambda n: jnp.zeros((n, 2)))(3)
    with raises(ConcretizationTypeError, "ones", "static"):
        jax.jit(lambda n: jnp.ones(n))(3)
    with pytest.raises(TypeError, match="ones: shape must be an int"):
        jnp.ones((2.5,))
    with raises(DtypeError, "zeros", "float128"):
        jnp.zeros(3, np.longdouble)
    z = jnp.zeros(3, np.complex64)              # complex numbers are supported
    assert z.dtype == np.complex64 and not np.any(np.asarray(z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_like_functions(dtype):
    x = np.ones((2, 3), dtype)
    for jf, nf in [(jnp.zeros_like, np.zeros_like), (jnp.ones_like, np.ones_like),
                   (jnp.empty_like, np.zeros_like)]:
        check(jf, nf(x), x, weak=False)
        check(lambda a: jf(a, dtype=np.float32), nf(x, dtype=np.float32), x)
        check(lambda a: jf(a, shape=(4,)), nf(x, shape=(4,)), x)
        check(lambda a: jf(a, np.int16, (0, 2)), nf(x, np.int16, shape=(0, 2)), x)
    check(lambda a: jnp.full_like(a, 3), np.full_like(x, 3), x, weak=False)
    check(lambda a: jnp.full_like(a, 2.0, dtype=np.float64, shape=3),
          np.full_like(x, 2.0, dtype=np.float64, shape=3), x)
    check(lambda a: jnp.full_like(a, [1, 0, 1]), np.full_like(x, [1, 0, 1]), x)
    check(lambda a, v: jnp.full_like(a, v), np.full_like(x, 1.0), x, np.float32(1.0))


def test_like_functions_weak_types():
    assert jnp.zeros_like(2.0).weak_type and jnp.zeros_like(2.0).dtype == np.float64
    assert jnp.ones_like(jnp.asarray(3)).weak_type
    assert not jnp.zeros_like(2.0, dtype=np.float64).weak_type
    assert_same(jnp.full_like([1, 2], 0.5), np.full_like([1, 2], 0.5))


# --- arange --------------------------------------------------------------------------------

ARANGE_CASES = [(5,), (0,), (-3,), (2, 9), (9, 2), (2, 9, 3), (10, 0, -3), (5.5,), (0.5, 4),
                (0, 1, 0.1), (1, 0, -0.1), (-2.5, 7.3, 0.7), (0.1, 1000.3, 1000.2),
                (1e-3, 2e-3, 1e-4), (3, 4.5), (np.float32(0.1), 2, np.float32(0.3)),
                (np.int32(2), 10), (np.uint8(3), 20, 4), (7, np.int8(-3), -2)]


@pytest.mark.parametrize("args", ARANGE_CASES)
def test_arange_matches_numpy_exactly(args):
    # The dtype is JAX's (Python numbers are weak: np.int32(2) with 10 stays int32, where
    # NumPy gives int64); the values are NumPy's in that dtype.
    want_dtype = dtypes.promote([(np.asarray(a).dtype, type(a) in (int, float)) for a in args])[0]
    check(lambda: jnp.arange(*args), np.arange(*args, dtype=want_dtype), weak=False)
    if all(type(a) in (int, float) for a in args):
        assert want_dtype == np.arange(*args).dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int8, np.uint8,
                                   np.uint64, np.float64])
@pytest.mark.parametrize("args", [(10,), (1, 11, 2), (0.5, 6, 1.5), (20, 3, -3), (0, 3, 0.3)])
def test_arange_dtypes(dtype, args):
    if np.dtype(dtype).kind == "u" and args[-1] < 0:
        args = (args[1], args[0], -args[2])
    check(lambda: jnp.arange(*args, dtype=dtype), np.arange(*args, dtype=dtype))


def test_arange_is_iota_under_jit():
    for args in [(10**6,), (3, 10**6, 7), (0.0, 1.0, 1e-6), (5, 0, -1)]:
        module = jax.make_hlo(lambda: jnp.arange(*args))()
        assert_no_large_constant(module)
        assert "iota" in {i.opcode for i in module.entry.instructions}


def test_arange_errors():
    with raises(ConcretizationTypeError, "arange", "stop", "static_argnums", "iota"):
        jax.jit(lambda n: jnp.arange(n))(5)
    with raises(ConcretizationTypeError, "arange", "start"):
        jax.jit(lambda s: jnp.arange(s, 10))(np.float64(2))
    f = jax.jit(lambda n: jnp.arange(n), static_argnums=0)
    assert_same(f(4), np.arange(4))
    assert_same(jnp.arange(jnp.asarray(3), 9), np.arange(3, 9))
    with pytest.raises(ValueError, match="arange: step"):
        jnp.arange(0, 5, 0)
    with raises(DtypeError, "arange", "bool"):
        jnp.arange(2, dtype=bool)
    with pytest.raises(TypeError, match="arange: stop must be a scalar"):
        jnp.arange(0, jnp.ones(2))


# --- linspace, logspace --------------------------------------------------------------------

def assert_close(got, want, rtol=1e-12):
    assert isinstance(got, jax.Array)
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64),
                               rtol=rtol, atol=rtol)


@pytest.mark.parametrize("num", [0, 1, 2, 5, 50])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace(num, endpoint):
    for start, stop in [(0, 1), (-2.5, 7), (3, -3), (1, 1)]:
        want = np.linspace(start, stop, num, endpoint)
        assert_close(jnp.linspace(start, stop, num, endpoint), want)
        assert_close(jax.jit(lambda a, b: jnp.linspace(a, b, num, endpoint))(start, stop), want)
        got, step = jnp.linspace(start, stop, num, endpoint, retstep=True)
        want, want_step = np.linspace(start, stop, num, endpoint, retstep=True)
        assert_close(got, want)
        np.testing.assert_allclose(np.asarray(step), want_step, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.int32])
def test_linspace_dtypes(dtype):
    want = np.linspace(-3, 11, 9, dtype=dtype)
    rtol = 1e-12 if np.dtype(dtype).kind != "f" else float(np.finfo(dtype).eps) * 4
    assert_close(jnp.linspace(-3, 11, 9, dtype=dtype), want, rtol)
    x32 = np.float32(2)
    assert jnp.linspace(x32, 4.0, 3).dtype == np.float32


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_linspace_array_bounds(axis):
    start = np.array([0.0, 1.0, -2.0])
    stop = np.array([[1.0], [5.0]])
    want = np.linspace(start, stop, 4, axis=axis)
    assert_close(jnp.linspace(start, stop, 4, axis=axis), want)
    f = jax.jit(lambda a, b: jnp.linspace(a, b, 4, axis=axis))
    assert_close(f(start, stop), want)
    got, step = jnp.linspace(start, stop, 4, axis=axis, retstep=True)
    np.testing.assert_allclose(np.asarray(step), np.linspace(start, stop, 4, retstep=True)[1])


def test_linspace_errors():
    with pytest.raises(ValueError, match="non-negative"):
        jnp.linspace(0, 1, -1)
    with raises(ConcretizationTypeError, "linspace", "num"):
        jax.jit(lambda n: jnp.linspace(0, 1, n))(5)
    with raises(AxisError, "linspace", "axis 2"):
        jnp.linspace(np.zeros(3), 1, 4, axis=2)


def test_logspace():
    for args, kw in [((0, 3), {}), ((1, 2, 5), {"base": 2.0}), ((-1, 1, 4, False), {}),
                     ((0, 2, 3), {"dtype": np.float32}), ((0, 3, 4), {"dtype": np.int64})]:
        want = np.logspace(*args, **kw)
        assert_close(jnp.logspace(*args, **kw), want, 1e-6)
        assert_close(jax.jit(lambda: jnp.logspace(*args, **kw))(), want, 1e-6)


# --- eye, identity, tri --------------------------------------------------------------------

@pytest.mark.parametrize("N,M,k", [(3, None, 0), (3, 5, 1), (4, 2, -1), (3, 3, 5), (3, 3, -4),
                                   (0, 3, 0), (1, None, 0), (2, 0, 0)])
def test_eye_and_tri(N, M, k):
    check(lambda: jnp.eye(N, M, k), np.eye(N, M, k), weak=False)
    # JAX's tri defaults to float32 even with 64-bit enabled (eye to float64).
    check(lambda: jnp.tri(N, M, k), np.tri(N, M, k, np.float32), weak=False)
    for dtype in (np.int32, np.bool_, np.float32):
        check(lambda: jnp.eye(N, M, k, dtype), np.eye(N, M, k, dtype))
        check(lambda: jnp.tri(N, M, k, dtype), np.tri(N, M, k, dtype))


def test_identity():
    check(lambda: jnp.identity(4), np.identity(4))
    check(lambda: jnp.identity(3, np.uint8), np.identity(3, np.uint8))


def test_eye_is_a_comparison_of_iotas():
    module = jax.make_hlo(lambda: jnp.eye(1000, k=2))()
    assert_no_large_constant(module)
    ops = [i.opcode for i in module.entry.instructions]
    assert ops.count("iota") == 2 and "eq" in ops


def test_eye_errors():
    with raises(ShapeError, "eye", "negative"):
        jnp.eye(-1)
    with raises(ConcretizationTypeError, "eye", "N"):
        jax.jit(lambda n: jnp.eye(n))(3)


# --- meshgrid, indices ---------------------------------------------------------------------

@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    x, y, z = np.arange(3.0), np.arange(4, dtype=np.int32), np.array([[1.5, 2.5]])
    for args in [(), (x,), (x, y), (x, y, z)]:
        want = list(np.meshgrid(*args, indexing=indexing, sparse=sparse))
        assert_same(jnp.meshgrid(*args, indexing=indexing, sparse=sparse), want)
        f = jax.jit(lambda *a: jnp.meshgrid(*a, indexing=indexing, sparse=sparse))
        assert_same(f(*args), want)
    with pytest.raises(ValueError, match="'xy' or 'ij'"):
        jnp.meshgrid(x, indexing="yx")


@pytest.mark.parametrize("dims", [(), (3,), (2, 3), (2, 0, 4)])
def test_indices(dims):
    check(lambda: jnp.indices(dims), np.indices(dims))
    for dtype in (np.float32, np.int8, np.bool_):
        check(lambda: jnp.indices(dims, dtype=dtype), np.indices(dims).astype(dtype))
    check(lambda: jnp.indices(dims, sparse=True), np.indices(dims, sparse=True))


# --- the IR of creation under jit ----------------------------------------------------------

def test_zeros_under_jit_is_a_broadcast_scalar():
    module = jax.make_hlo(lambda: jnp.zeros((1000, 1000)))()
    assert_no_large_constant(module)
    assert [i.opcode for i in module.entry.instructions] == ["constant", "broadcast_in_dim"]


def test_creation_inside_a_jitted_computation():
    def f(x):
        n = x.shape[0]
        return jnp.ones((n, n)) * x + jnp.eye(n, dtype=x.dtype) + jnp.zeros_like(x) \
            + jnp.full_like(x, 2) + jnp.arange(n)
    x = np.arange(4.0, dtype=np.float32)
    want = np.ones((4, 4)) * x + np.eye(4) + 2 + np.arange(4)
    out = jax.jit(f)(x)
    assert out.dtype == np.float64  # arange is int64, ones float64: strong dtypes promote
    np.testing.assert_array_equal(np.asarray(out), want)
    assert_no_large_constant(jax.make_hlo(f)(np.zeros(500, np.float32)))
