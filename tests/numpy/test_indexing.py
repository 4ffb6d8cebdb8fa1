"""NumPy indexing (`x[idx]`), `.at[idx]` updates, take/take_along_axis/nonzero, checked against
NumPy eagerly and under `jitcore.jit` (static indices, and index arrays passed as arguments)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitcore
import jitcore.numpy as jnp
from ops.errors import (ConcretizationTypeError, DtypeError, IndexOutOfRangeError,
                        ShapeError)

RNG = np.random.default_rng(0)
S3 = (4, 5, 6)


def _data(shape, dtype=np.float64):
    if np.dtype(dtype).kind == "b":
        return RNG.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(0, 100, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def _check(got, want):
    got_np = np.asarray(got)
    want = np.asarray(want)
    assert got_np.shape == want.shape, (got_np.shape, want.shape)
    assert got_np.dtype == want.dtype, (got_np.dtype, want.dtype)
    np.testing.assert_array_equal(got_np, want)


class _Leaf:
    def __init__(self, k):
        self.k = k


def _split(idx):
    """(template, leaves): the ints and integer arrays of `idx`, to pass as traced arguments."""
    items = idx if isinstance(idx, tuple) else (idx,)
    tmpl, leaves = [], []
    for it in items:
        is_int = isinstance(it, (int, np.integer)) and not isinstance(it, (bool, np.bool_))
        is_arr = isinstance(it, (list, np.ndarray)) and np.asarray(it).dtype.kind in "iu"
        if is_int or (is_arr and np.asarray(it).size):
            tmpl.append(_Leaf(len(leaves)))
            leaves.append(np.asarray(it))
        else:
            tmpl.append(it)
    return tmpl, leaves


def _fill(tmpl, leaves):
    return tuple(leaves[t.k] if isinstance(t, _Leaf) else t for t in tmpl)


# (shape, index) pairs; every index is valid NumPy.
BASIC = [
    (S3, 0), (S3, -1), (S3, 3), (S3, (1, 2)), (S3, (1, -2, 3)), (S3, (-4,)),
    (S3, slice(None)), (S3, slice(1, 3)), (S3, slice(None, None, 2)),
    (S3, slice(None, None, -1)), (S3, slice(3, 0, -2)), (S3, slice(-2, None)),
    (S3, slice(10, 20)), (S3, slice(3, 1)), (S3, slice(None, None, -3)),
    (S3, slice(-100, 100, 3)), (S3, (slice(1, -1), slice(None, None, -2), slice(4, 1, -1))),
    (S3, Ellipsis), (S3, (Ellipsis, 0)), (S3, (0, Ellipsis)), (S3, (Ellipsis, None)),
    (S3, (None, Ellipsis, None)), (S3, None), (S3, (slice(None), None, 1)),
    (S3, (1, None, slice(None, None, -1), None)), (S3, ()),
    (S3, (Ellipsis, slice(1, -1), slice(None, None, -2))), (S3, (0, 0, 0)),
    (S3, (slice(None), 2, slice(None, None, -1))), (S3, (np.int32(2), np.int64(-1))),
    ((), ()), ((), None), ((), Ellipsis), ((), (None, Ellipsis, None)),
    ((7,), slice(None, None, -1)), ((7,), slice(5, None, -2)), ((7,), 6),
    ((0, 3), slice(None)), ((0, 3), (slice(None), 1)), ((3, 0), (1, slice(None, None, -1))),
    ((0, 3), (None, slice(1, None))),
]

ADVANCED = [
    (S3, [0, 2, 3]), (S3, np.array([[0, 1], [3, 2]])), (S3, [-1, -4]), (S3, ([0, 1], [2, 3])),
    (S3, ([0, 1], slice(None), [2, 3])), (S3, (slice(None), [0, 1], [2, 3])),
    (S3, (slice(None), [[0], [1]], [2, 3])), (S3, (0, slice(None), [1, 2])),
    (S3, ([1, 2], 0)), (S3, (slice(None), 0, [1, 2])), (S3, (0, [1, 2], slice(None))),
    (S3, ([0, 1], None, [1, 2])), (S3, (Ellipsis, [0, 1])), (S3, ([0, 1], Ellipsis, [1, 2])),
    (S3, (slice(1, None), [0, 2], slice(None, None, -1))), (S3, np.array(2)),
    (S3, np.array([], np.int64)), (S3, ([[0, 1, 2]], slice(None, None, -1))),
    (S3, (None, [0, 1], None, slice(None), 0)), (S3, (slice(None), np.array([1, 0], np.uint8))),
    (S3, (np.array([3, -1], np.int32), slice(2, 4), np.array([[0], [-6]], np.int8))),
    (S3, ([1, 2], [0, 1], [5, 4])), (S3, ([1], 2, slice(None), )), (S3, (2, [[0], [1]], 3)),
    (S3, (slice(None), slice(None, None, -1), [[1, 2], [0, 0]])),
    (S3, True), (S3, False), (S3, (True, 0)), (S3, (slice(None), True)), (S3, ([0, 1], True)),
    (S3, (Ellipsis, False)), (S3, (0, None, True, slice(None), [1])),
    ((), True), ((), False), ((), (None, True)),
    ((7,), np.array([[6, 0], [1, 1]])), ((0, 3), (slice(None), [0, 2])),
    ((0, 3), ([], [])), ((2, 0), ([1, 0], slice(None))),
]


def _ids(cases):
    return [f"{shape}-{idx!r}"[:60] for shape, idx in cases]


@pytest.mark.parametrize("shape,idx", BASIC + ADVANCED, ids=_ids(BASIC + ADVANCED))
def test_getitem_eager_and_jit_static(shape, idx):
    x = _data(shape)
    want = x[idx]
    _check(jnp.asarray(x)[idx], want)
    _check(jitcore.jit(lambda a: a[idx])(x), want)


TRACEABLE = [(shape, idx) for shape, idx in BASIC + ADVANCED if _split(idx)[1]]


@pytest.mark.parametrize("shape,idx", TRACEABLE, ids=_ids(TRACEABLE))
def test_getitem_traced_indices(shape, idx):
    """The same expressions with every integer index passed in as a traced argument."""
    tmpl, leaves = _split(idx)
    x = _data(shape)
    f = jitcore.jit(lambda a, *ls: a[_fill(tmpl, ls)])
    _check(f(x, *leaves), x[_fill(tmpl, leaves)])


def test_basic_indexing_does_not_gather():
    for shape, idx in BASIC:
        text = str(jitcore.make_hlo(lambda a: a[idx])(_data(shape)))
        assert "gather" not in text and "dynamic_slice" not in text, (idx, text)
    x = _data(S3)
    text = str(jitcore.make_hlo(lambda a, i: a[i, ::-1])(x, 2))
    assert "dynamic_slice" in text and "rev" in text and "gather" not in text
    assert "gather" in str(jitcore.make_hlo(lambda a: a[[0, 1]])(x))


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint16, np.bool_, np.int64])
def test_getitem_keeps_dtype(dtype):
    x = _data((3, 4), dtype)
    for idx in [(1,), (slice(None, None, -1), 2), ([2, 0], slice(1, 3)), (x[:, 0] > 0,)]:
        _check(jnp.asarray(x)[idx], x[idx])
        if not isinstance(idx[0], np.ndarray):
            _check(jitcore.jit(lambda a: a[idx])(x), x[idx])


def test_weak_type_is_kept():
    w = jnp.asarray(2.0)
    assert w.weak_type and w[()].weak_type and w[None].weak_type
    v = jnp.asarray(np.arange(3.0))
    assert not v[1].weak_type


def test_boolean_masks_eager():
    x = _data(S3)
    for mask in [x > 0, x[:, :, 0] > 0, x[0, 0] > 0.5, np.zeros(4, bool)]:
        idx = mask if mask.shape[0] == 4 else (Ellipsis, mask) if mask.ndim == 1 else mask
        _check(jnp.asarray(x)[idx], x[idx])
    m = x[:, 0, 0] > 0
    for idx in [(m, slice(None), [1]), (slice(None), x[0, :, 0] > 0, 0), (m, Ellipsis, None)]:
        _check(jnp.asarray(x)[idx], x[idx])
    _check(jnp.asarray(x)[[True, False, True, True]], x[[True, False, True, True]])
    _check(jnp.asarray(x)[jnp.asarray(m)], x[m])
    # A concrete mask closed over by a jitted function is fine.
    _check(jitcore.jit(lambda a: a[m])(x), x[m])


def test_boolean_mask_traced_raises():
    x = _data((3, 4))
    with pytest.raises(ConcretizationTypeError) as e:
        jitcore.jit(lambda a, m: a[m])(x, x > 0)
    msg = str(e.value)
    assert "boolean" in msg and "jnp.where(mask, x, 0)" in msg and "size=" in msg
    assert "test_indexing.py" in msg
    with pytest.raises(ConcretizationTypeError):
        jitcore.jit(lambda a, m: a.at[m].set(0.0))(x, x > 0)


def test_boolean_mask_shape_mismatch():
    x = jnp.asarray(_data((3, 4)))
    with pytest.raises(IndexError) as e:
        x[np.array([True, False])]
    assert "(3, 4)" in str(e.value) and "test_indexing.py" in str(e.value)


@pytest.mark.parametrize("jit", [False, True])
def test_static_out_of_range_int_clamps(jit):
    # JAX clamps out-of-range static indices (eager and jitted) as it clamps traced ones.
    x = _data(S3)
    cases = [(4, np.take(x, 3, axis=0)), ((0, -6), x[0, 0]), ((Ellipsis, 6), x[..., 5]),
             (([0, 1], 7), x[[0, 1], 4]), (-11, x[0])]
    for idx, want in cases:
        f = (lambda a: a[idx])
        got = (jitcore.jit(f) if jit else f)(x if jit else jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(got), want)


def test_index_into_empty_axis_raises():
    with pytest.raises(IndexOutOfRangeError) as e:
        jnp.zeros((0, 3))[0]
    assert "size 0" in str(e.value) and isinstance(e.value, IndexError)


def test_too_many_indices_and_bad_index_types():
    x = jnp.asarray(_data((2, 3)))
    with pytest.raises(IndexError) as e:
        x[0, 0, 0]
    assert "(2, 3)" in str(e.value) and "test_indexing.py" in str(e.value)
    with pytest.raises(IndexError):
        x[..., 0, ...]
    with pytest.raises(IndexError):
        jnp.asarray(1.0)[0]
    with pytest.raises(DtypeError) as e:
        x[np.array([0.5])]
    assert "getitem" in str(e.value)
    with pytest.raises((DtypeError, TypeError)):
        x[1.0]
    with pytest.raises(ConcretizationTypeError) as e:
        jitcore.jit(lambda a, i: a[i:])(np.arange(4.0), 1)
    assert "dynamic_slice" in str(e.value)
    with pytest.raises(IndexError):
        jnp.asarray(np.zeros((0, 3)))[0]


def test_traced_out_of_range_clamps():
    x = _data((4, 3))
    i = np.array([5, -7, 2, -1, 100])
    got = jitcore.jit(lambda a, i: a[i])(x, i)
    want = np.take(x, np.where(i < 0, i + 4, i), axis=0, mode="clip")
    _check(got, want)
    for k in [10, -10, -1, 3]:
        _check(jitcore.jit(lambda a, k: a[k])(x, k),
               np.take(x, k + 4 if k < 0 else k, axis=0, mode="clip"))
        _check(jitcore.jit(lambda a, k: a[1:, k])(x, k),
               np.take(x[1:], k + 3 if k < 0 else k, axis=1, mode="clip"))


def test_get_fill_and_clip_modes():
    x = _data((4, 3))
    i = np.array([0, 4, -1, -5])
    r = jnp.asarray(x).at[i].get(mode="fill", fill_value=-2.0)
    want = np.where((i >= -4)[:, None] & (i < 4)[:, None], x[np.clip(np.where(i < 0, i + 4, i),
                                                                      0, 3)], -2.0)
    _check(r, want)
    r = jitcore.jit(lambda a, i: a.at[i, 1].get(mode="fill"))(x, i)
    assert np.isnan(np.asarray(r)[[1, 3]]).all()
    np.testing.assert_array_equal(np.asarray(r)[[0, 2]], x[[0, -1], 1])
    xi = _data((4,), np.int32)
    r = jnp.asarray(xi).at[7].get(mode="fill")
    assert r.dtype == np.int32 and int(r) == np.iinfo(np.int32).min
    assert int(jnp.asarray(xi.astype(np.uint8)).at[9].get(mode="fill")) == 255
    assert bool(jnp.asarray(xi > 50).at[9].get(mode="fill")) is True
    _check(jnp.asarray(x).at[9, -9].get(mode="clip"), x[3, 0])


# --- .at[...] updates --------------------------------------------------------------------

UPDATE_INDICES = [
    (1,), (slice(1, 3),), (slice(None), 2), (slice(None, None, 2),), (slice(None, None, -1), 0),
    (Ellipsis, 1), ([0, 2, 0, 0],), ([1, 1], slice(None), [0, 2]), (slice(None), [2, 2, 0]),
    (None, 1, 2), (np.array([[3, 3], [0, -1]]),), ((), ), (True,), (False,),
]


def _np_update(x, idx, v, kind):
    out = x.copy()
    ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
    if kind == "set":
        out[idx] = v
    else:
        ufunc[kind].at(out, idx, v)
    return out


@pytest.mark.parametrize("kind", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("idx", UPDATE_INDICES, ids=[repr(i)[:30] for i in UPDATE_INDICES])
def test_at_updates_match_numpy(kind, idx):
    x = _data((4, 3, 5))
    shape = x[idx].shape
    v = _data(shape[1:] if len(shape) > 1 else shape)  # broadcast over the first dim
    want = _np_update(x, idx, v, kind)
    _check(getattr(jnp.asarray(x).at[idx], kind)(v), want)
    _check(jitcore.jit(lambda a, b: getattr(a.at[idx], kind)(b))(x, v), want)
    tmpl, leaves = _split(idx)
    if leaves:
        f = jitcore.jit(lambda a, b, *ls: getattr(a.at[_fill(tmpl, ls)], kind)(b))
        _check(f(x, v, *leaves), want)


def test_at_mul_divide_power_apply():
    x = _data((5, 3)) + 3.0
    idx = [0, 4, 4]
    _check(jnp.asarray(x).at[idx].mul(2.0), _np_update(x, idx, 2.0, "multiply"))
    d = x.copy()
    np.divide.at(d, idx, 4.0)
    np.testing.assert_allclose(np.asarray(jnp.asarray(x).at[idx].divide(4.0)), d, rtol=1e-15)
    p = x.copy()
    p[1:3] = p[1:3] ** 2.0
    np.testing.assert_allclose(np.asarray(jnp.asarray(x).at[1:3].power(2.0)), p, rtol=1e-15)
    a = x.copy()
    a[[0, 2]] = np.sin(a[[0, 2]])
    got = jitcore.jit(lambda y: y.at[[0, 2, 2]].apply(jnp.sin))(x)
    np.testing.assert_allclose(np.asarray(got), a, rtol=1e-15)
    xi = np.arange(6, dtype=np.int32)
    r = jnp.asarray(xi).at[2].divide(4)
    assert r.dtype == np.float32      # JAX: int32 divides in float32, int64 in float64
    denom = np.ones(6)
    denom[2] = 4
    np.testing.assert_array_equal(np.asarray(r), xi / denom)
    expo = np.ones(6, np.int32)
    expo[1:] = 2
    _check(jnp.asarray(xi).at[1:].power(2), xi ** expo)


def test_at_converts_values_and_keeps_input():
    xi = np.arange(6, dtype=np.int32)
    a = jnp.asarray(xi)
    r = a.at[[1, 2]].set(np.array([2.7, -1.5]))
    _check(r, _np_update(xi, [1, 2], np.array([2.7, -1.5]).astype(np.int32), "set"))
    _check(a, xi)
    f32 = np.arange(4, dtype=np.float32)
    _check(jnp.asarray(f32).at[0].add(1.5), _np_update(f32, 0, np.float32(1.5), "add"))
    b = np.zeros((2, 3), bool)
    _check(jnp.asarray(b).at[1, [0, 2]].set(True), _np_update(b, (1, [0, 2]), True, "set"))
    # Extra leading size-1 dims of the values are dropped, as in NumPy.
    z = np.zeros((2, 3))
    _check(jnp.asarray(z).at[0].set(np.ones((1, 3))), _np_update(z, 0, np.ones((1, 3)), "set"))
    with pytest.raises(ShapeError) as e:
        jnp.asarray(np.zeros((2, 3))).at[0].set(np.ones(2))
    assert "(3,)" in str(e.value) and "test_indexing.py" in str(e.value)


def test_at_out_of_range_updates_are_dropped():
    x = _data((4, 3))
    xa = jnp.asarray(x)
    _check(xa.at[10].set(0.0), x)
    _check(xa.at[-5, 1].add(1.0), x)
    want = x.copy()
    want[0] += 1.0
    _check(xa.at[[0, 10, -10]].add(1.0), want)
    f = jitcore.jit(lambda a, i: a.at[i].add(1.0))
    _check(f(x, np.array([0, 4, -5])), want)
    _check(f(x, 9), x)
    _check(jitcore.jit(lambda a, i: a.at[i, 2].set(7.0))(x, -1), _np_update(x, (-1, 2), 7.0,
                                                                          "set"))
    clipped = x.copy()
    clipped[3] = 0.0
    _check(xa.at[10].set(0.0, mode="clip"), clipped)
    _check(jitcore.jit(lambda a, i: a.at[i].set(0.0, mode="clip"))(x, 10), clipped)


def test_at_on_scalars_and_empty():
    s = jnp.asarray(np.float32(3.0))
    _check(s.at[()].set(1.0), np.float32(1.0))
    _check(s.at[...].add(1.0), np.float32(4.0))
    _check(s.at[None].add(1.0), np.float32(4.0))
    e = np.zeros((0, 3))
    _check(jnp.asarray(e).at[:, 1].set(2.0), e)
    _check(jnp.asarray(e).at[[]].add(2.0), e)


# --- take, take_along_axis, nonzero -------------------------------------------------------

def test_take():
    x = _data((4, 5))
    idx = np.array([[0, 3], [-1, 2]])
    for axis in [None, 0, 1, -1]:
        _check(jnp.take(x, idx, axis=axis), np.take(x, idx, axis=axis))
        _check(jitcore.jit(lambda a, i: jnp.take(a, i, axis=axis))(x, idx),
               np.take(x, idx, axis=axis))
    oob = np.array([0, 7, -9, 4])
    r = np.asarray(jnp.take(x, oob, axis=1))
    assert np.isnan(r[:, [1, 2]]).all()
    np.testing.assert_array_equal(r[:, [0, 3]], x[:, [0, 4]])
    for mode in ["clip", "wrap"]:
        _check(jnp.take(x, oob, axis=1, mode=mode), np.take(x, oob, axis=1, mode=mode))
        _check(jitcore.jit(lambda a, i: jnp.take(a, i, axis=0, mode=mode))(x, oob),
               np.take(x, oob, axis=0, mode=mode))
    _check(jnp.take(x, 3), np.take(x, 3))
    _check(jnp.take(x, oob, axis=1, fill_value=0.5),
           np.where([True, False, False, True], x[:, [0, 0, 0, 4]], 0.5))
    xi = _data((4,), np.int16)
    assert int(jnp.take(xi, 9)) == np.iinfo(np.int16).min
    _check(jnp.asarray(x).take(idx, axis=0), np.take(x, idx, axis=0))
    with pytest.raises(IndexError):
        jnp.take(x, 70, mode="raise")
    with pytest.raises(DtypeError):
        jnp.take(x, np.array([0.5]))


def test_take_along_axis():
    x = _data((3, 4, 5))
    for axis in [0, 1, 2, -1]:
        idx = np.argsort(x, axis=axis)
        _check(jnp.take_along_axis(x, idx, axis), np.take_along_axis(x, idx, axis))
        _check(jitcore.jit(lambda a, i: jnp.take_along_axis(a, i, axis))(x, idx),
               np.take_along_axis(x, idx, axis))
    idx = RNG.integers(-4, 4, (3, 1, 2))
    bx = np.broadcast_to(x[:, :, :4], (3, 4, 4))
    _check(jnp.take_along_axis(x[:, :, :4], idx, axis=2),
           np.take_along_axis(bx, np.broadcast_to(idx, (3, 4, 2)), axis=2))
    _check(jnp.take_along_axis(x[:, 0], np.array([[1], [0], [4]]), axis=1),
           np.take_along_axis(x[:, 0], np.array([[1], [0], [4]]), axis=1))
    flat = np.array([0, -1, 7])
    _check(jnp.take_along_axis(x, flat, axis=None), np.take_along_axis(x, flat, axis=None))
    r = np.asarray(jnp.take_along_axis(x[0], np.array([[9], [0], [0], [0]]), axis=1))
    assert np.isnan(r[0, 0]) and r[1, 0] == x[0, 1, 0]
    with pytest.raises(ShapeError) as e:
        jnp.take_along_axis(x, np.array([0, 1]), axis=0)
    assert "take_along_axis" in str(e.value) and "test_indexing.py" in str(e.value)


def test_put_along_axis():
    x = _data((3, 4))
    idx = np.array([[0], [3], [-1]])
    want = x.copy()
    np.put_along_axis(want, idx, 9.0, axis=1)
    _check(jnp.put_along_axis(x, idx, 9.0, axis=1, inplace=False), want)
    _check(jitcore.jit(lambda a, i: jnp.put_along_axis(a, i, 9.0, 1, inplace=False))(x, idx),
           want)
    with pytest.raises(ValueError):
        jnp.put_along_axis(x, idx, 9.0, axis=1)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2), (0, 3)])
def test_nonzero_family(shape):
    x = (_data(shape) > 0.3) * _data(shape)
    for got, want in zip(jnp.nonzero(x), np.nonzero(x)):
        _check(got, want.astype(np.int64))
    for got, want in zip(jnp.where(x), np.nonzero(x)):
        _check(got, want.astype(np.int64))
    _check(jnp.flatnonzero(x), np.flatnonzero(x).astype(np.int64))
    _check(jnp.argwhere(x), np.argwhere(x).astype(np.int64))
    _check(jnp.asarray(x).nonzero()[0], np.nonzero(x)[0].astype(np.int64))
    count = np.count_nonzero(x)
    for size in [0, max(count - 2, 0), count, count + 3]:
        f = jitcore.jit(lambda a: jnp.nonzero(a, size=size, fill_value=-1))
        for got, want in zip(f(x), np.nonzero(x)):
            full = np.full(size, -1, np.int64)
            full[:min(size, count)] = want[:size]
            _check(got, full)
        g = jitcore.jit(lambda a: jnp.argwhere(a, size=size))
        rows = np.zeros((size, len(shape)), np.int64)
        rows[:min(size, count)] = np.argwhere(x)[:size]
        _check(g(x), rows)


def test_nonzero_errors_and_scalars():
    with pytest.raises(ConcretizationTypeError) as e:
        jitcore.jit(jnp.nonzero)(np.arange(3))
    assert "size=" in str(e.value) and "test_indexing.py" in str(e.value)
    with pytest.raises(ShapeError):
        jnp.nonzero(np.float64(1.0))
    _check(jnp.argwhere(np.float64(2.0)), np.argwhere(np.float64(2.0)).astype(np.int64))
    _check(jnp.argwhere(np.float64(0.0)), np.argwhere(np.float64(0.0)).astype(np.int64))
    m = np.array([[0, 1], [2, 0]])
    got = jnp.nonzero(m, size=3, fill_value=(7, 8))
    for g, want, fill in zip(got, np.nonzero(m), (7, 8)):
        _check(g, np.concatenate([want, [fill]]).astype(np.int64))


# --- property test: random basic indices against NumPy -----------------------------------

@st.composite
def _basic_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))

    def one(n):
        if n and draw(st.booleans()):
            return draw(st.integers(-n, n - 1))
        bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
        step = draw(st.one_of(st.none(), st.integers(-4, 4).filter(bool)))
        return slice(draw(bound), draw(bound), step)

    k = draw(st.integers(0, len(shape)))
    if draw(st.booleans()):
        # An Ellipsis between a head (leading dims) and a tail (trailing dims).
        i = draw(st.integers(0, k))
        parts = ([one(n) for n in shape[:i]] + [Ellipsis]
                 + [one(n) for n in shape[len(shape) - (k - i):]])
    else:
        parts = [one(n) for n in shape[:k]]
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return shape, tuple(parts)


@settings(max_examples=80, deadline=None)
@given(_basic_cases())
def test_random_basic_indices_match_numpy(case):
    shape, idx = case
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    _check(jnp.asarray(x)[idx], x[idx])
    _check(jitcore.jit(lambda a: a[idx])(x), x[idx])


# --- the primitives, through jitcore.lax --------------------------------------------------

def test_lax_gather_and_scatters():
    from jitcore import lax
    x = _data((3, 4, 5))
    idx = np.array([[0, 3], [2, 1], [2, 9], [-1, 0]])
    ok = (idx >= 0).all(1) & (idx < [3, 5]).all(1)
    got = lax.gather(x, idx, (0, 2), mode="clip")
    _check(got, x[np.clip(idx[:, 0], 0, 2), :, np.clip(idx[:, 1], 0, 4)])
    got = np.asarray(jitcore.jit(lambda a, i: lax.gather(a, i, (0, 2), mode="fill"))(x, idx))
    assert np.isnan(got[~ok]).all()
    np.testing.assert_array_equal(got[ok], x[idx[ok, 0], :, idx[ok, 1]])
    upd = _data((4, 4))
    for name, ufunc in [("scatter_add", np.add), ("scatter_mul", np.multiply),
                        ("scatter_min", np.minimum), ("scatter_max", np.maximum)]:
        want = x.copy()
        ufunc.at(want, (idx[ok, 0], slice(None), idx[ok, 1]), upd[ok])
        _check(getattr(lax, name)(x, idx, upd, (0, 2)), want)
        _check(jitcore.jit(lambda a, i, u: getattr(lax, name)(a, i, u, (0, 2)))(x, idx, upd),
               want)
    want = x.copy()
    want[idx[ok, 0], :, idx[ok, 1]] = 1.5
    _check(lax.scatter(x, idx, 1.5, (0, 2)), want)


def test_primitive_errors_name_op_and_shapes():
    from ops import indexing as ix
    x = _data((3, 4))
    with pytest.raises(DtypeError) as e:
        ix.gather(x, np.zeros((2, 1)), axes=(0,), mode="clip", fill_value=None)
    assert "gather" in str(e.value) and "f64[2,1]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        ix.gather(x, np.zeros((2, 2), np.int64), axes=(0,), mode="clip", fill_value=None)
    assert "gather" in str(e.value) and "s64[2,2]" in str(e.value)
    assert "test_indexing.py" in str(e.value)
    with pytest.raises(ShapeError) as e:
        ix.scatter_add(x, np.zeros((2, 1), np.int64), np.zeros((2, 3)), axes=(0,))
    assert "scatter_add" in str(e.value) and "(2, 4)" in str(e.value)
    with pytest.raises(DtypeError) as e:
        ix.scatter(x, np.zeros((2, 1), np.int64), np.zeros((2, 4), np.float32), axes=(0,))
    assert "scatter" in str(e.value) and "f32[2,4]" in str(e.value)
    with pytest.raises(ValueError):
        ix.gather(x, np.zeros((2, 1), np.int64), axes=(0,), mode="wrap", fill_value=None)
