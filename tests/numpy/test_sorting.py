"""Sorting and searching in `jitcore.numpy` (and `lax.sort`) against NumPy, eagerly and under
`jitcore.jit`: stability on ties, NaN and signed-zero ordering, descending sorts, lexsort,
searchsorted, partition, unique (concrete and with size=), and the error paths."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import lax
from ops.errors import AxisError, ConcretizationTypeError, ShapeError

F32, F64, I32, I64, U8, BOOL = (np.dtype(t) for t in ("float32", "float64", "int32", "int64",
                                                       "uint8", "bool"))


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 4, size=shape).astype(dtype)  # many ties
    x = rng.standard_normal(shape).astype(dtype)
    if x.size >= 6:
        flat = x.reshape(-1)
        flat[[1, 4]] = np.nan
        flat[2], flat[5] = -0.0, 0.0
        flat[3] = np.inf
    return x


def _same(got, want, where):
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, f"{where}: shape {g.shape}, expected {w.shape}"
    assert g.dtype == w.dtype, f"{where}: dtype {g.dtype}, expected {w.dtype}"
    np.testing.assert_array_equal(g, w, err_msg=where)
    if w.dtype.kind == "f":
        # -0.0 and 0.0 compare equal but keep their order: check the bits too.
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w), err_msg=f"{where} signbit")


def check(f, want, *args, where=""):
    _same(f(*args), want, f"{where} eager")
    _same(jitcore.jit(f)(*args), want, f"{where} jit")


def _np_sort(x, axis):
    if axis is None:
        return np.sort(x.reshape(-1), kind="stable")
    return np.take_along_axis(x, np.argsort(x, axis=axis, kind="stable"), axis=axis)


LAYOUTS = [((7,), -1), ((7,), 0), ((7,), None), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
           ((2, 3, 4), None), ((0,), -1), ((2, 0), 1), ((2, 0), 0)]
DTYPES = [F32, F64, I32, U8, BOOL]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sort_matches_numpy_stable_order(dtype):
    for shape, axis in LAYOUTS:
        x = _data(shape, dtype)
        want = _np_sort(x, axis)
        check(lambda v: jnp.sort(v, axis=axis), want, x, where=f"sort {x.dtype}{shape} {axis}")
        ax = 0 if axis is None else axis
        check(lambda v: jnp.sort(v, axis=axis, descending=True), np.flip(want, ax), x,
              where=f"sort descending {shape} {axis}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_argsort_is_stable_on_ties_and_puts_nans_last(dtype):
    for shape, axis in LAYOUTS:
        x = _data(shape, dtype, seed=1)
        flat = x.reshape(-1) if axis is None else x
        ax = 0 if axis is None else axis
        want = np.argsort(flat, axis=ax, kind="stable")
        check(lambda v: jnp.argsort(v, axis=axis), want, x, where=f"argsort {x.dtype}{shape}")
        # Descending and stable: ties keep their original order (JAX's rule), NaNs come first.
        n = flat.shape[ax] if flat.ndim else 1
        want_desc = np.flip(n - 1 - np.argsort(np.flip(flat, ax), axis=ax, kind="stable"), ax)
        check(lambda v: jnp.argsort(v, axis=axis, descending=True), want_desc, x,
              where=f"argsort descending {x.dtype}{shape}")


def test_nan_signed_zero_and_inf_ordering():
    x = np.array([np.nan, 1.0, -np.inf, 0.0, -0.0, np.inf, np.nan, -0.0, 2.0])
    check(jnp.argsort, np.argsort(x, kind="stable"), x, where="argsort specials")
    check(jnp.sort, np.take(x, np.argsort(x, kind="stable")), x, where="sort specials")


def test_sort_method_and_ir():
    x = _data((3, 5), F32)
    _same(jnp.asarray(x).sort(axis=0), _np_sort(x, 0), "x.sort")
    _same(jnp.asarray(x).argsort(), np.argsort(x, kind="stable"), "x.argsort")
    text = jitcore.make_hlo(lambda v: jnp.argsort(v, axis=0))(x).as_text()
    assert " sort(" in text and "is_stable=true" in text


def test_lexsort():
    a = _data((10,), I32, seed=2)
    b = _data((10,), F64, seed=3)
    c = _data((10,), BOOL, seed=4)
    check(lambda *k: jnp.lexsort(k), np.lexsort((a, b)), a, b, where="lexsort 2 keys")
    check(lambda *k: jnp.lexsort(k), np.lexsort((a, c, b)), a, c, b, where="lexsort 3 keys")
    keys = _data((2, 3, 5), I32, seed=5)
    check(jnp.lexsort, np.lexsort(keys), keys, where="lexsort array keys")
    check(lambda k: jnp.lexsort(k, axis=0), np.lexsort(keys, axis=0), keys,
          where="lexsort axis 0")


def test_lax_sort_structures():
    k = _data((6,), I32, seed=6)
    v = _data((6,), F64, seed=7)
    perm = np.argsort(k, kind="stable")
    check(lax.sort, np.sort(k), k, where="lax.sort one array")
    got = jitcore.jit(lambda a, b: lax.sort((a, b), num_keys=1))(k, v)
    assert isinstance(got, tuple) and len(got) == 2
    _same(got[0], k[perm], "lax.sort keys")
    _same(got[1], v[perm], "lax.sort values")
    got = lax.sort([k, v], num_keys=2)
    assert isinstance(got, list)
    perm2 = np.lexsort((v, k))
    _same(got[1], v[perm2], "lax.sort 2 keys")
    x2 = _data((3, 4), F32)
    check(lambda a: lax.sort(a, dimension=0), _np_sort(x2, 0), x2, where="lax.sort dim 0")


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(side):
    a = np.sort(_data((9,), F64, seed=8))  # NaNs at the end
    queries = [np.array([-np.inf, -1.0, 0.0, -0.0, np.nan, np.inf, 5.0]), np.float64(0.25),
               a.reshape(3, 3), np.zeros((0,))]
    for v in queries:
        # JAX returns int32 indices for arrays shorter than 2**31.
        want = np.searchsorted(a, v, side=side).astype(I32)
        check(lambda x, y: jnp.searchsorted(x, y, side=side), want, a, v,
              where=f"searchsorted {side} {np.shape(v)}")
    ints = np.array([1, 2, 2, 3, 4, 5, 5])
    q = np.array([0, 3, 8, 2, 5])
    check(lambda x, y: jnp.searchsorted(x, y, side=side),
          np.searchsorted(ints, q, side=side).astype(I32), ints, q, where="ints")
    check(lambda x, y: jnp.searchsorted(x, y, side=side),
          np.searchsorted(ints, q + 0.5, side=side).astype(I32), ints, q + 0.5,
          where="mixed dtypes")
    unsorted = np.array([4.0, 3.0, 5.0, 1.0, 2.0])
    sorter = np.argsort(unsorted)
    check(lambda x, y, s: jnp.searchsorted(x, y, side=side, sorter=s),
          np.searchsorted(unsorted, q, side=side, sorter=sorter).astype(I32),
          unsorted, q, sorter, where="sorter")
    check(lambda y: jnp.searchsorted(np.zeros((0,)), y, side=side),
          np.searchsorted(np.zeros((0,)), q, side=side).astype(I32), q, where="empty a")


@pytest.mark.parametrize("kth", [0, 2, -1])
def test_partition_and_argpartition(kth):
    for shape, axis in [((7,), -1), ((3, 6), 0), ((3, 6), 1), ((2, 3, 5), -1)]:
        x = _data(shape, I32, seed=9) * 10 + _data(shape, I32, seed=10)
        s = _np_sort(x, axis)
        n = shape[axis]
        k = kth % n
        # JAX's layout: the k+1 smallest ascending, then the rest descending.
        head = np.take(s, np.arange(k + 1), axis=axis)
        tail = np.flip(np.take(s, np.arange(k + 1, n), axis=axis), axis)
        want = np.concatenate([head, tail], axis=axis)
        check(lambda v: jnp.partition(v, kth, axis=axis), want, x, where=f"partition {shape}")
        np.testing.assert_array_equal(np.take(want, [k], axis=axis),
                                      np.take(np.partition(x, kth, axis=axis), [k], axis=axis))
        got = jnp.argpartition(x, kth, axis=axis)
        assert np.asarray(got).dtype == np.int32   # JAX: argpartition indices are int32
        picked = np.take_along_axis(x, np.asarray(got), axis=axis)
        np.testing.assert_array_equal(np.take(picked, [k], axis=axis),
                                      np.take(np.partition(x, kth, axis=axis), [k], axis=axis))
        perm = np.argsort(x, axis=axis, kind="stable")
        head_i = np.take(perm, np.arange(k + 1), axis=axis)
        tail_i = np.sort(np.take(perm, np.arange(k + 1, n), axis=axis), axis=axis)
        check(lambda v: jnp.argpartition(v, kth, axis=axis),
              np.concatenate([head_i, tail_i], axis=axis).astype(np.int32), x,
              where=f"argpartition {shape}")


def test_unique_concrete():
    x = np.array([[3.0, 1.0, np.nan], [1.0, 2.0, np.nan]])
    got = jnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w, name in zip(got, want, ("values", "index", "inverse", "counts")):
        _same(g, w.astype(F64) if name == "values" else w.astype(I64), f"unique {name}")
    _same(jnp.unique(_data((12,), I32)), np.unique(_data((12,), I32)), "unique ints")
    rows = np.array([[1, 2], [3, 4], [1, 2]])
    _same(jnp.unique(rows, axis=0), np.unique(rows, axis=0), "unique axis=0")
    vals, counts = jnp.unique_counts(_data((10,), I32))
    want = np.unique_counts(_data((10,), I32))
    _same(vals, want.values, "unique_counts values")
    _same(counts, want.counts.astype(I64), "unique_counts counts")


@pytest.mark.parametrize("size", [3, 6, 9])
def test_unique_with_size_works_under_jit(size):
    x = np.array([3.0, np.nan, 1.0, 2.0, 1.0, 3.0, np.nan, 7.0])
    vals, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                             return_counts=True)
    m = len(vals)

    def padded(a, fill):
        a = a[:size]
        return np.concatenate([a, np.full(size - len(a), fill, a.dtype)])

    want = (padded(vals, vals[0]), padded(index.astype(I64), index[0]), inverse.astype(I64),
            padded(counts.astype(I64), 0))
    f = lambda v: jnp.unique(v, return_index=True, return_inverse=True,  # noqa: E731
                             return_counts=True, size=size)
    for how, got in (("eager", f(x)), ("jit", jitcore.jit(f)(x))):
        for g, w, name in zip(got, want, ("values", "index", "inverse", "counts")):
            _same(g, w, f"unique size={size} {name} {how}")
    assert m == 5
    filled = jitcore.jit(lambda v: jnp.unique(v, size=size, fill_value=-1.0))(x)
    _same(filled, padded(vals, -1.0), "unique fill_value")


# --- errors ----------------------------------------------------------------------------------


def test_unique_without_size_needs_a_concrete_array():
    with pytest.raises(ConcretizationTypeError) as e:
        jitcore.jit(jnp.unique)(np.arange(4.0))
    msg = str(e.value)
    assert "unique" in msg and "size=" in msg and "test_sorting.py" in msg, msg


@pytest.mark.parametrize("name", ["sort", "argsort", "partition"])
def test_bad_axis(name):
    x = _data((3, 4), F64)
    f = getattr(jnp, name)
    args = (1,) if name == "partition" else ()
    for run in (lambda: f(x, *args, axis=2), lambda: jitcore.jit(lambda v: f(v, *args,
                                                                              axis=-3))(x)):
        with pytest.raises(AxisError) as e:
            run()
        msg = str(e.value)
        assert name in msg and "(3, 4)" in msg and "test_sorting.py" in msg, msg


def test_sort_of_0d_needs_axis_none():
    with pytest.raises(AxisError) as e:
        jnp.sort(np.float64(1.0))
    assert "sort" in str(e.value) and "test_sorting.py" in str(e.value)
    _same(jnp.sort(np.float64(1.0), axis=None), np.sort(np.float64(1.0), axis=None), "0-d")


def test_shape_errors():
    with pytest.raises(ShapeError) as e:
        jnp.lexsort((np.zeros(3), np.zeros(4)))
    assert "lexsort" in str(e.value) and "f64[4]" in str(e.value)
    assert "test_sorting.py" in str(e.value)
    with pytest.raises(ShapeError) as e:
        jnp.searchsorted(np.zeros((2, 2)), 1.0)
    assert "searchsorted" in str(e.value) and "f64[2,2]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        jnp.partition(np.zeros(3), 3)
    assert "partition" in str(e.value) and "test_sorting.py" in str(e.value)
    with pytest.raises(ShapeError) as e:
        lax.sort((np.zeros(3), np.zeros(4)))
    assert "sort" in str(e.value) and "test_sorting.py" in str(e.value)
    with pytest.raises(ValueError):
        jnp.searchsorted(np.zeros(3), 1.0, side="middle")
