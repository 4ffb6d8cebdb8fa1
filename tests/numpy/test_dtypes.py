"""The dtype API of `jitcore.numpy`: scalar types, abstract types, dtype queries, constants.

Expected answers come from NumPy's own functions (np.issubdtype, np.can_cast, np.isdtype,
np.finfo/np.iinfo) applied to the corresponding NumPy types.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp

NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
         "uint32", "uint64", "bool_"]
ABSTRACT = ["generic", "number", "inexact", "floating", "integer", "signedinteger",
            "unsignedinteger"]


@pytest.mark.parametrize("name", NAMES)
def test_scalar_type_is_a_dtype_for_numpy(name):
    t, np_t = getattr(jnp, name), getattr(np, name)
    assert t.dtype == np.dtype(np_t)
    assert np.dtype(t) == np.dtype(np_t)
    assert jnp.dtype(t) == np.dtype(np_t)
    assert t == np_t and np.dtype(np_t) == t
    assert hash(t) == hash(np_t) and {np_t: 1}[t] == 1
    assert isinstance(np_t(1), t)
    assert name in repr(t)


@pytest.mark.parametrize("name", NAMES)
def test_calling_a_scalar_type_converts(name):
    t, np_t = getattr(jnp, name), getattr(np, name)
    for v in (3, 1.0, True, [1, 0, 2]):
        out = t(v)
        want = np.asarray(v).astype(np_t)
        assert isinstance(out, jitcore.Array)
        assert out.dtype == np.dtype(np_t) and not out.weak_type
        np.testing.assert_array_equal(np.asarray(out), want)
    x = np.arange(4.0) - 1.5
    traced = jitcore.jit(lambda v: t(v))(x)
    assert traced.dtype == np.dtype(np_t)
    np.testing.assert_array_equal(np.asarray(traced), np.asarray(t(x)))
    assert t(jnp.asarray(x)).dtype == np.dtype(np_t)


@pytest.mark.parametrize("name", NAMES)
def test_scalar_types_as_dtype_arguments(name):
    t, np_t = getattr(jnp, name), getattr(np, name)
    x = jnp.asarray(np.array([0.0, 1.0, 2.0]))
    assert x.astype(t).dtype == np.dtype(np_t)
    assert jnp.asarray([1, 0, 2], dtype=t).dtype == np.dtype(np_t)
    assert x.astype(t).dtype == t
    assert jitcore.jit(lambda v: v.astype(t))(x).dtype == np.dtype(np_t)


def test_aliases_and_defaults():
    assert jnp.bool is jnp.bool_ and jnp.bool_.dtype == np.dtype(bool)
    assert jnp.float_ is jnp.float64 and jnp.int_ is jnp.int64
    assert jnp.dtype is np.dtype
    assert jnp.bool(1).dtype == np.bool_


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("abstract", ABSTRACT)
def test_issubdtype_matches_numpy(name, abstract):
    want = np.issubdtype(getattr(np, name), getattr(np, abstract))
    t = getattr(jnp, name)
    x = jnp.asarray(np.zeros(2, getattr(np, name)))
    assert getattr(jnp, abstract) is getattr(np, abstract)
    for arg in (t, np.dtype(getattr(np, name)), x.dtype, name):
        assert jnp.issubdtype(arg, getattr(jnp, abstract)) == want, (arg, abstract)


@pytest.mark.parametrize("a", NAMES)
def test_issubdtype_between_concrete_types(a):
    for b in NAMES:
        want = np.issubdtype(getattr(np, a), getattr(np, b))
        assert jnp.issubdtype(getattr(jnp, a), getattr(jnp, b)) == want
        assert np.issubdtype(np.dtype(getattr(jnp, a)), getattr(jnp, b)) == want


@pytest.mark.parametrize("a", NAMES)
def test_can_cast_matches_numpy(a):
    for b in NAMES:
        for casting in ("no", "equiv", "safe", "same_kind", "unsafe"):
            want = np.can_cast(getattr(np, a), getattr(np, b), casting)
            assert jnp.can_cast(getattr(jnp, a), getattr(jnp, b), casting) == want
            assert jnp.can_cast(np.dtype(getattr(np, a)), b, casting=casting) == want
    x = jnp.asarray(np.zeros(2, getattr(np, a)))
    assert jnp.can_cast(x, jnp.float64) == np.can_cast(getattr(np, a), np.float64)


@pytest.mark.parametrize("name", NAMES)
def test_isdtype_matches_numpy(name):
    d = np.dtype(getattr(np, name))
    for kind in ("bool", "signed integer", "unsigned integer", "integral", "real floating",
                 "numeric", ("bool", "real floating"), np.dtype(np.float32), jnp.int8):
        np_kind = np.dtype(kind) if kind is jnp.int8 else kind
        assert jnp.isdtype(getattr(jnp, name), kind) == np.isdtype(d, np_kind), kind


def test_finfo_and_iinfo():
    for name in ("float16", "float32", "float64"):
        want = np.finfo(getattr(np, name))
        for arg in (getattr(jnp, name), np.dtype(name), jnp.asarray(np.zeros(1, name)),
                    jnp.asarray(np.zeros(1, name)).dtype):
            got = jnp.finfo(arg)
            assert (got.eps, got.max, got.min, got.tiny, got.bits) == \
                (want.eps, want.max, want.min, want.tiny, want.bits)
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        want = np.iinfo(getattr(np, name))
        for arg in (getattr(jnp, name), name, jnp.asarray(np.zeros(1, name))):
            got = jnp.iinfo(arg)
            assert (got.min, got.max, got.bits) == (want.min, want.max, want.bits)
    with pytest.raises(ValueError):
        jnp.iinfo(jnp.float32)


def test_result_type_and_promote_types_return_numpy_dtypes():
    r = jnp.result_type(jnp.float32, 2.0)
    assert isinstance(r, np.dtype) and r == np.float32
    p = jnp.promote_types(jnp.int8, jnp.uint8)
    assert isinstance(p, np.dtype) and p == np.int16
    assert jnp.promote_types(int, jnp.float16) == np.float16
    assert jnp.result_type(jnp.asarray(np.ones(2, np.uint8)), 3) == np.uint8


def test_constants():
    assert (jnp.pi, jnp.e, jnp.inf, jnp.euler_gamma) == (np.pi, np.e, np.inf, np.euler_gamma)
    assert np.isnan(jnp.nan)
    assert jnp.newaxis is None and np.newaxis is None
