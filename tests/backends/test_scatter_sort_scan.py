"""Row scatters (`x.at[i].add(u)` as whole-row updates, threaded over the destination's
leading axis), sorts (native radix sorts, and the host sort kept for middle-length rows:
NumPy's SIMD sort plus the stable-order fix-ups, packed-key argsort) and the blocked cumulative
scans, each against an independent reference: Python
loops in float64 for the scatters, NumPy's stable sorts, float64 prefix sums and products."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from ops import indexing as ix
from tests.covering import pairwise
from tests.helpers import plan_of

RNG = np.random.default_rng(11)


# --- scatter -------------------------------------------------------------------------------

def _loop_update(x, idx, u, kind):
    """The reference: rows in order, in float64 (ints exactly), out-of-range rows dropped."""
    out = x.astype(np.float64) if x.dtype.kind == "f" else x.astype(np.int64)
    n = x.shape[0]
    for r, i in enumerate(np.asarray(idx).reshape(-1)):
        i = int(i) + n if i < 0 else int(i)
        if not 0 <= i < n:
            continue
        v = u.reshape((-1,) + x.shape[1:])[r]
        if kind == "set":
            out[i] = v
        elif kind == "add":
            out[i] = out[i] + v
        elif kind == "mul":
            out[i] = out[i] * v
        elif kind == "min":     # NaN propagates either way, as NumPy's minimum
            out[i] = np.minimum(out[i], v)
        else:
            out[i] = np.maximum(out[i], v)
    return out


def _update(kind):
    return {"set": lambda x, i, u: x.at[i].set(u), "add": lambda x, i, u: x.at[i].add(u),
            "mul": lambda x, i, u: x.at[i].multiply(u), "min": lambda x, i, u: x.at[i].min(u),
            "max": lambda x, i, u: x.at[i].max(u)}[kind]


# Every pair of (threads, kind, dtype, shape) at least once, not all 150 combinations.
@pytest.mark.parametrize("threads,kind,dtype,shape_nidx", pairwise(
    [1, 2], ["set", "add", "mul", "min", "max"], [np.float32, np.float64, np.int32],
    [((1000, 131), 3001), ((7, 5), 40), ((1, 3), 5), ((13, 1), 0), ((9, 3, 5), 17)]))
def test_row_scatter(threads, kind, dtype, shape_nidx):
    shape, nidx = shape_nidx
    n = shape[0]
    x = (RNG.normal(size=shape) * 4).astype(dtype)
    # Collisions (few distinct rows), negative rows and out-of-range rows both ways.
    idx = RNG.integers(-n - 3, n + 3, size=nidx)
    u = (RNG.normal(size=(nidx,) + shape[1:]) * 4).astype(dtype)
    if kind == "mul":
        u = (u % 3 + 1).astype(dtype) if dtype == np.int32 else (1 + u / 40).astype(dtype)
    if dtype != np.int32 and x.size > 2 and kind in ("min", "max", "add"):
        x.flat[1] = np.nan
        u.flat[:1] = np.nan
    f = jc.jit(_update(kind))
    with config.override(num_threads=threads):
        got = np.asarray(f(x, idx, u))
    assert got.dtype == x.dtype and got.shape == x.shape
    want = _loop_update(x, idx, u, kind)
    if kind == "set":
        # The last of duplicate rows wins (NumPy's assignment).
        want = x.copy()
        for r, i in enumerate(idx):
            if -n <= i < n:
                want[i] = u[r]
    tol = dict(rtol=3e-6, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


def test_row_scatter_is_one_window_per_row():
    # `x.at[i].add(u)` scatters whole rows: indices (rows, 1), not one position per element.
    x, i, u = np.zeros((100, 64), np.float32), np.arange(50) % 7, np.ones((50, 64), np.float32)
    f = jc.jit(lambda x, i, u: x.at[i].add(u))
    step = [s for s in plan_of(f, x, i, u).steps if s.kind == "scatter"][0]
    assert step.instr.operands[1].shape.dims == (50, 1)
    np.testing.assert_array_equal(np.asarray(f(x, i, u)).sum(1),
                                  np.bincount(i, minlength=100) * 64.0)


def test_row_scatter_two_index_arrays_and_partial_slice():
    x = RNG.normal(size=(6, 5, 4))
    i, j = np.array([0, 5, 5, -1, 9]), np.array([1, 4, 4, 0, 0])
    u = RNG.normal(size=(5, 4))
    got = np.asarray(jc.jit(lambda x, u: x.at[i, j].add(u))(x, u))
    want = x.copy()
    for r in range(5):
        if i[r] < 6:
            want[i[r], j[r]] += u[r]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # A partial slice after the indices takes the general (per-element) path.
    got = np.asarray(jc.jit(lambda x: x.at[np.array([1, 1]), 1:3].add(1.0))(x))
    want = x.copy()
    want[1, 1:3] += 2
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("threads", [1, 2])
def test_scatter_window_leading_axis(threads):
    # Axis 0 in the window: each thread takes a range of it from every row.
    x = RNG.normal(size=(300, 40, 3)).astype(np.float32)
    idx = RNG.integers(-2, 42, size=(500, 1))
    u = RNG.normal(size=(500, 300, 3)).astype(np.float32)
    f = jc.jit(lambda x, i, u: ix.scatter_add(x, i, u, axes=(1,)))
    with config.override(num_threads=threads):
        got = np.asarray(f(x, idx, u))
    want = x.astype(np.float64)
    for r, (i,) in enumerate(idx):
        if 0 <= i < 40:
            want[:, i] += u[r]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


# --- sort ----------------------------------------------------------------------------------

def _keys(dtype, shape):
    if dtype == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return RNG.integers(max(info.min, -5), min(info.max, 5), size=shape).astype(dtype)
    x = RNG.integers(-3, 3, size=shape).astype(dtype)     # many ties
    flat = x.reshape(-1)
    if flat.size >= 8:
        flat[::7] = np.nan
        flat[1::5] = -0.0
        flat[2::5] = 0.0
        flat[3::11] = -np.nan
    return x


DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.int8,
          np.uint32, np.bool_]
SHAPES = [((1001,), -1), ((37, 129), 1), ((37, 129), 0), ((4, 0, 3), 1), ((5, 1), 1),
          ((3, 200, 150), 1)]


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype.kind == "f":
        # NaN payloads aside, every value (and the sign of each zero) in its place.
        na, nb_ = np.isnan(a), np.isnan(b)
        np.testing.assert_array_equal(na, nb_)
        np.testing.assert_array_equal(np.where(na, 0, a), np.where(nb_, 0, b))
        np.testing.assert_array_equal(np.signbit(np.where(na, 0, a)),
                                      np.signbit(np.where(nb_, 0, b)))
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_sort_and_argsort(dtype, shape, axis):
    x = _keys(dtype, shape)
    _same_bits(np.asarray(jc.jit(lambda v: jnp.sort(v, axis=axis))(x)),
               np.sort(x, axis=axis, kind="stable"))
    got = np.asarray(jc.jit(lambda v: jnp.argsort(v, axis=axis))(x))
    np.testing.assert_array_equal(got, np.argsort(x, axis=axis, kind="stable"))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float64])
def test_sort_key_val_and_lexsort(dtype):
    k = _keys(dtype, (50, 301))
    v = RNG.normal(size=(50, 301))
    gk, gv = jc.jit(lambda a, b: jc.lax.sort_key_val(a, b, dimension=1))(k, v)
    perm = np.argsort(k, axis=1, kind="stable")
    _same_bits(np.asarray(gk), np.take_along_axis(k, perm, 1))
    np.testing.assert_array_equal(np.asarray(gv), np.take_along_axis(v, perm, 1))
    k2 = RNG.integers(0, 3, size=(50, 301))
    got = np.asarray(jc.jit(lambda a, b: jnp.lexsort((a, b), axis=1))(k2, k))
    np.testing.assert_array_equal(got, np.lexsort((k2, k), axis=1))


# --- cumulative scans ----------------------------------------------------------------------

def test_cumsum_float32_million_error():
    x = RNG.uniform(0, 1, size=1_000_000).astype(np.float32)
    want = np.cumsum(x.astype(np.float64))
    got = np.asarray(jc.jit(jnp.cumsum)(x))
    assert got.dtype == np.float32
    assert np.max(np.abs(got - want) / want) <= 1e-6


def test_cumsum_float64_blocked_error():
    # Sequential float64 sums of a million positives drift to ~1e-14; blocked ones stay near
    # one rounding. The reference is exact (math.fsum) at a few positions.
    import math
    x = RNG.uniform(0, 1, size=1_000_000)
    got = np.asarray(jc.jit(jnp.cumsum)(x))
    for i in (255, 256, 70_001, 500_000, 999_999):
        exact = math.fsum(x[:i + 1])
        assert abs(got[i] - exact) / exact <= 5e-15


# Every pair of (scan, dtype, layout, direction) at least once, not all 192 combinations.
@pytest.mark.parametrize("name,dtype,shape_axis,reverse", pairwise(
    ["cumsum", "cumprod", "cummax", "cummin"], [np.float32, np.float64, np.int32, np.int8],
    [((1000,), 0), ((7, 777), 1), ((777, 7), 0), ((3, 0, 4), 1), ((5, 1), 1), ((4, 70000), 1)],
    [False, True]))
def test_cumulative(name, dtype, shape_axis, reverse):
    shape, axis = shape_axis
    if np.dtype(dtype).kind == "f":
        x = RNG.uniform(0.5, 1.5, size=shape).astype(dtype)
        if x.size > 10:
            x.flat[5] = np.nan
    else:
        x = RNG.integers(-100, 100, size=shape).astype(dtype)   # int8 sums wrap
    lax_fn = getattr(jc.lax, name)
    got = np.asarray(jc.jit(lambda v: lax_fn(v, axis=axis, reverse=reverse))(x))
    ref = {"cumsum": np.add, "cumprod": np.multiply, "cummax": np.fmax,
           "cummin": np.fmin}[name]
    src = np.flip(x, axis) if reverse else x
    if np.dtype(dtype).kind == "f":
        want = ref.accumulate(src.astype(np.float64), axis=axis)
        if name in ("cummax", "cummin"):   # NaN propagates from where it appears on
            want = np.where(np.isnan(np.add.accumulate(src, axis=axis)), np.nan, want)
    else:
        want = ref.accumulate(src.astype(np.int64), axis=axis)
        want = want.astype(dtype)                                  # wrap as the int dtype
    want = np.flip(want, axis) if reverse else want
    assert got.dtype == x.dtype and got.shape == x.shape
    if np.dtype(dtype).kind == "f":
        # Long products leave the float range: compare where the result is a normal number.
        off = (np.abs(want) > 1e30) | (np.abs(want) < 1e-30)
        tol = 2e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.where(off, 0, got), np.where(off, 0, want), rtol=tol)
    else:
        np.testing.assert_array_equal(got, want)
