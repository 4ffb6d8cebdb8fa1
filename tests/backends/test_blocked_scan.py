"""The native cumulative scans (`llvm.scan`): rows, rows cut into chunks scanned by several
threads, and column blocks streamed down another axis, against float64 (and exact integer)
prefix sums, products, maxima and minima computed by NumPy."""
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

RNG = np.random.default_rng(8)


def _scan_step(f, x):
    return [s for s in plan_of(f, x).steps if s.kind == "scan"][0]


@pytest.mark.parametrize("threads", [1, 2])
def test_float32_million_error_bound(threads):
    x = RNG.uniform(0, 1, size=1_000_000).astype(np.float32)
    want = np.cumsum(x.astype(np.float64))
    with config.override(num_threads=threads):
        f = jc.jit(lambda v: jnp.cumsum(v))   # a fresh cache for this thread count
        assert (_scan_step(f, x).layout.chunks > 1) == (threads > 1)
        got = np.asarray(f(x))
    assert got.dtype == np.float32
    # JAX's tree-shaped scan: ~3e-7; a float32 running sum (np.cumsum): ~1e-5.
    assert np.max(np.abs(got - want) / want) <= 3e-7


@pytest.mark.parametrize("shape,axis", [((1_000_000,), 0), ((3, 300_000), 1),
                                        ((300_000, 3), 0)])
@pytest.mark.parametrize("threads", [1, 2])
def test_float64_sums_stay_near_one_rounding(shape, axis, threads):
    x = RNG.uniform(0, 1, size=shape)
    with config.override(num_threads=threads):
        got = np.asarray(jc.jit(lambda v: jnp.cumsum(v, axis=axis))(x))
    lines = np.moveaxis(x, axis, -1).reshape(-1, shape[axis])
    out = np.moveaxis(got, axis, -1).reshape(-1, shape[axis])
    for r in range(min(len(lines), 2)):
        for i in (255, 256, 70_001, shape[axis] - 1):
            exact = math.fsum(lines[r, :i + 1])
            assert abs(out[r, i] - exact) / exact <= 5e-15


def _reference(name, x, axis, reverse):
    src = np.flip(x, axis) if reverse else x
    if x.dtype.kind == "f":
        w = src.astype(np.float64)
        if name == "cummax":
            want = np.maximum.accumulate(w, axis=axis)
        elif name == "cummin":
            want = np.minimum.accumulate(w, axis=axis)
        else:
            want = (np.add if name == "cumsum" else np.multiply).accumulate(w, axis=axis)
        want = want.astype(x.dtype)
    else:
        ufunc = {"cumsum": np.add, "cumprod": np.multiply, "cummax": np.maximum,
                 "cummin": np.minimum}[name]
        want = ufunc.accumulate(src.astype(np.int64 if x.dtype.kind == "i" else np.uint64),
                                axis=axis).astype(x.dtype)       # wraps as the dtype does
    return np.flip(want, axis) if reverse else want


LAYOUTS = [((37,), 0, False), ((6, 700), 1, True), ((700, 6), 0, False), ((3, 520, 4), 1, True),
           ((2, 3, 600), 1, False)]
NAMES = ["cumsum", "cumprod", "cummax", "cummin"]
DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.int16]
# Every op and dtype on two of the layouts, each layout seen by every op and dtype family.
CASES = [(name, dt) + LAYOUTS[(3 * i + j + k) % len(LAYOUTS)]
         for i, name in enumerate(NAMES) for j, dt in enumerate(DTYPES) for k in (0, 2)]


@pytest.mark.parametrize("name,dtype,shape,axis,reverse", CASES)
def test_matches_numpy(name, dtype, shape, axis, reverse):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = RNG.uniform(0.9, 1.1, size=shape).astype(dt)
        if name in ("cummax", "cummin") and x.size > 20:
            x.flat[17] = np.nan           # propagates from where it appears on
    else:
        x = RNG.integers(0 if dt.kind == "u" else -9, 9, size=shape).astype(dt)
    f = jc.jit(lambda v: getattr(jc.lax, name)(v, axis=axis, reverse=reverse))
    assert _scan_step(f, x) is not None
    got = np.asarray(f(x))
    want = _reference(name, x, axis, reverse)
    assert got.dtype == dt
    if dt.kind == "f":
        np.testing.assert_allclose(got, want, rtol=2e-3 if dt == np.float16 else 1e-6)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_long_columns_chunked(threads):
    x = RNG.normal(size=(200_000, 5)).astype(np.float32)
    with config.override(num_threads=threads):
        f = jc.jit(lambda v: jnp.cumsum(v, axis=0))
        assert (_scan_step(f, x).layout.chunks > 1) == (threads > 1)
        got = np.asarray(f(x))
        m = np.asarray(jc.jit(lambda v: jc.lax.cummax(v, axis=0, reverse=True))(x))
    want = np.cumsum(x.astype(np.float64), axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(m, np.flip(np.maximum.accumulate(x[::-1], axis=0), 0))


def test_vmap_and_grad():
    x = RNG.normal(size=(4, 50))
    got = np.asarray(jc.jit(jc.vmap(lambda v: jnp.cumsum(v) * v))(x))
    np.testing.assert_allclose(got, np.stack([np.cumsum(r) * r for r in x]), rtol=1e-12)
    w = RNG.normal(size=50)

    def f(v):
        return jnp.sum(jnp.cumsum(v) ** 2 * w)
    g = np.asarray(jc.jit(jc.grad(f))(x[0]))
    eps = 1e-6
    fd = np.array([(float(f(x[0] + eps * e)) - float(f(x[0] - eps * e))) / (2 * eps)
                   for e in np.eye(50)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
