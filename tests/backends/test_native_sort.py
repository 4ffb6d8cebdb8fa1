"""The native sort (`llvm.sort`: a stable radix sort on order-preserving keys), whole rows and
rows cut into chunks sorted by several threads, against independent references: NumPy's
stable sorts and Python's `sorted` with an explicit key (NaNs last, -0.0 equal to 0.0)."""
import math

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from tests.helpers import plan_of
from xla_like.backends.plan import sort_scan


@pytest.fixture(autouse=True)
def _native_at_every_size(monkeypatch):
    """Small sorts and scans outside loops stay host steps (`sort_scan.NATIVE_MIN_ELEMENTS`,
    compile time); these tests check the native kernels at every size."""
    monkeypatch.setattr(sort_scan, "NATIVE_MIN_ELEMENTS", 0)

RNG = np.random.default_rng(5)
LONG = (1 << 17) + 1001       # past two chunks of `plan.sort_scan.SORT_CHUNK`


def _data(dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return RNG.integers(0, 2, size=shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # Few distinct values (ties), and the extremes.
        x = RNG.integers(max(info.min, -40), min(info.max, 40), size=shape).astype(dt)
        if x.size > 4:
            x.flat[1], x.flat[3] = info.min, info.max
        return x
    x = np.round(RNG.normal(size=shape) * 4, 1).astype(dt)   # rounded: ties
    flat = x.reshape(-1)
    if flat.size > 12:
        flat[[0, 2, 4, 6, 8, 10]] = [np.nan, -0.0, np.inf, 0.0, -np.inf, -0.0]
        bits = flat.view(f"u{dt.itemsize}")
        # A negative NaN and one with a payload: ordered with the NaNs, kept bit for bit.
        bits[11] = bits[0] | (1 << (8 * dt.itemsize - 1))
        bits[12] = bits[0] | 1
    return x


def _ref_perm(row):
    """Stable sort positions of a 1-d row by an explicit key."""
    def key(i):
        v = row[i]
        if isinstance(v, (float, np.floating)) and math.isnan(v):
            return (1, 0.0)
        return (0, v + 0 if not isinstance(v, (bool, np.bool_)) else int(v))
    return sorted(range(len(row)), key=key)


def _bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def _steps(f, *args):
    return [s.kind for s in plan_of(f, *args).steps]


DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8, np.uint32, np.uint64,
          np.int16, np.float16]
# Short rows (insertion), rows NumPy's SIMD sort is faster on (host steps for one operand;
# argsorts native), long rows (radix passes), rows along a middle or leading axis.
LAYOUTS = [((9,), 0), ((13, 41), 1), ((3, 800), 1), ((900, 6), 0), ((3, 7, 5), 1)]
# Every dtype on two layouts; every layout sees floats, signed and unsigned integers.
CASES = [(dt,) + LAYOUTS[(i + k) % len(LAYOUTS)] for i, dt in enumerate(DTYPES) for k in (0, 3)]


@pytest.mark.parametrize("dtype,shape,axis", CASES)
def test_sort_matches_stable_reference(dtype, shape, axis):
    x = _data(dtype, shape)
    f = jc.jit(lambda v: jnp.sort(v, axis=axis))
    g = jc.jit(lambda v: jnp.argsort(v, axis=axis))
    n = shape[axis]
    native = n <= sort_scan.INSERTION_MAX or n >= sort_scan.HOST_BELOW
    assert ("sort" in _steps(f, x)) == native and "sort" in _steps(g, x)
    perm = np.apply_along_axis(_ref_perm, axis, x)
    np.testing.assert_array_equal(np.asarray(g(x)), perm)
    np.testing.assert_array_equal(_bits(f(x)), _bits(np.take_along_axis(x, perm, axis)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("threads", [1, 2])
def test_long_row_chunked(dtype, threads):
    x = _data(dtype, (LONG,))
    with config.override(num_threads=threads):
        # (fresh functions: jit wrappers of one function share a cache, whatever the threads)
        f, g = jc.jit(lambda v: jnp.sort(v)), jc.jit(lambda v: jnp.argsort(v))
        step = [s for s in plan_of(f, x).steps if s.kind == "sort"][0]
        assert (step.layout.chunks > 1) == (threads > 1)
        got, idx = np.asarray(f(x)), np.asarray(g(x))
    want = np.argsort(x, kind="stable")
    np.testing.assert_array_equal(idx, want)
    if np.dtype(dtype).kind == "f":
        # NaNs (negative, with payload) last in input order; -0.0/+0.0 in input order.
        np.testing.assert_array_equal(_bits(got), _bits(x[want]))
    else:
        np.testing.assert_array_equal(got, x[want])


def test_few_long_rows_with_ties_and_two_keys():
    k1 = RNG.integers(0, 3, size=(2, LONG)).astype(np.int32)
    k2 = RNG.normal(size=(2, LONG)).astype(np.float32)
    v = RNG.normal(size=(2, LONG))
    with config.override(num_threads=2):
        f = jc.jit(lambda a, b, c: jc.lax.sort((a, b, c), dimension=1, num_keys=2))
        ga, gb, gc = (np.asarray(r) for r in f(k1, k2, v))
    perm = np.lexsort((k2, k1), axis=1)      # primary key last
    np.testing.assert_array_equal(ga, np.take_along_axis(k1, perm, 1))
    np.testing.assert_array_equal(gb, np.take_along_axis(k2, perm, 1))
    np.testing.assert_array_equal(gc, np.take_along_axis(v, perm, 1))


def test_descending_keeps_ties_in_order():
    x = RNG.integers(0, 5, size=(6, 50)).astype(np.int64)
    got = np.asarray(jc.jit(lambda v: jnp.argsort(v, axis=1, descending=True))(x))
    want = np.array([sorted(range(50), key=lambda i, r=r: -r[i]) for r in x])
    np.testing.assert_array_equal(got, want)
    y = _data(np.float32, (200,))
    got = np.asarray(jc.jit(lambda v: jnp.sort(v, descending=True))(y))
    np.testing.assert_array_equal(_bits(got), _bits(y[_ref_perm(y)][::-1]))


def test_multiple_operands_keep_their_dtypes():
    k = _data(np.float64, (9, 60))
    a = RNG.integers(0, 1 << 30, size=(9, 60)).astype(np.int32)
    b = RNG.integers(0, 2, size=(9, 60)).astype(np.bool_)
    f = jc.jit(lambda k, a, b: jc.lax.sort((k, a, b), dimension=1))
    gk, ga, gb = (np.asarray(r) for r in f(k, a, b))
    perm = np.apply_along_axis(_ref_perm, 1, k)
    np.testing.assert_array_equal(_bits(gk), _bits(np.take_along_axis(k, perm, 1)))
    np.testing.assert_array_equal(ga, np.take_along_axis(a, perm, 1))
    np.testing.assert_array_equal(gb, np.take_along_axis(b, perm, 1))


def test_vmap_matches_loop():
    x = _data(np.float32, (7, 3, 31))
    got = np.asarray(jc.jit(jc.vmap(lambda v: jnp.sort(v, axis=0)))(x))
    want = np.stack([np.take_along_axis(r, np.apply_along_axis(_ref_perm, 0, r), 0)
                     for r in x])
    np.testing.assert_array_equal(_bits(got), _bits(want))


def test_grad_matches_finite_differences():
    x = RNG.normal(size=40)
    w = RNG.normal(size=40)

    def f(v):
        return jnp.sum(jnp.sort(v) * w + jnp.sort(v * v) ** 2)
    g = np.asarray(jc.jit(jc.grad(f))(x))
    eps = 1e-6
    fd = np.array([(float(f(x + eps * e)) - float(f(x - eps * e))) / (2 * eps)
                   for e in np.eye(40)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(5, 33), (300, 800)])
def test_sort_in_loop_body_is_native(threads, shape):
    # The large body is worth the threads: every thread runs the loop, sharing each phase.
    def f(x):
        return jc.lax.fori_loop(0, 4, lambda i, v: jnp.sort(v[::-1] * 2.0 - i), x)
    x = RNG.normal(size=shape).astype(np.float32)
    ref = x
    for i in range(4):
        ref = np.sort(ref[::-1] * np.float32(2.0) - np.float32(i), axis=-1)
    with config.override(num_threads=threads):
        jf = jc.jit(f)
        assert [s.kind for s in plan_of(jf, x).steps] == ["control"]
        np.testing.assert_array_equal(np.asarray(jf(x)), ref)


def test_host_steps_honour_num_threads():
    from ops import host_parallel
    with config.override(num_threads=1):
        assert host_parallel.threads_for(64, 1 << 20) == 1
    with config.override(num_threads=3):
        assert host_parallel.threads_for(64, 1 << 20) == 3
