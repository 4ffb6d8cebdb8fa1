"""The type-promotion lattice against JAX's published table (64-bit mode).

`TABLE` below is JAX's type promotion table ("Type promotion semantics",
https://jax.readthedocs.io/en/latest/type_promotion.html), restricted to the dtypes jitcore supports (the bf16 and complex
rows/columns dropped), with `jax_enable_x64` on. `i*` and `f*` are weak Python int and float.
A weak result materializes as the default dtype of its kind (int64, float64) with weak_type set;
a strong pair can give a weak result too (`u8 + i8 -> f*`, i.e. weak float64), as in JAX.
The table is the independent reference: nothing here derives it from jitcore's lattice code.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp

TABLE = """
     b1 u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 i* f*
b1   b1 u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 i* f*
u1   u1 u1 u2 u4 u8 i2 i2 i4 i8 f2 f4 f8 u1 f*
u2   u2 u2 u2 u4 u8 i4 i4 i4 i8 f2 f4 f8 u2 f*
u4   u4 u4 u4 u4 u8 i8 i8 i8 i8 f2 f4 f8 u4 f*
u8   u8 u8 u8 u8 u8 f* f* f* f* f2 f4 f8 u8 f*
i1   i1 i2 i4 i8 f* i1 i2 i4 i8 f2 f4 f8 i1 f*
i2   i2 i2 i4 i8 f* i2 i2 i4 i8 f2 f4 f8 i2 f*
i4   i4 i4 i4 i8 f* i4 i4 i4 i8 f2 f4 f8 i4 f*
i8   i8 i8 i8 i8 f* i8 i8 i8 i8 f2 f4 f8 i8 f*
f2   f2 f2 f2 f2 f2 f2 f2 f2 f2 f2 f4 f8 f2 f2
f4   f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f8 f4 f4
f8   f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8
i*   i* u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8 i* f*
f*   f* f* f* f* f* f* f* f* f* f2 f4 f8 f* f*
"""

CODES = {"b1": "bool", "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
         "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64", "f2": "float16",
         "f4": "float32", "f8": "float64", "i*": "int64", "f*": "float64"}
WEAK = {"i*", "f*"}


def _parse(table):
    lines = table.strip().splitlines()
    cols = lines[0].split()
    out = {}
    for line in lines[1:]:
        row, *entries = line.split()
        assert len(entries) == len(cols)
        out.update({(row, c): e for c, e in zip(cols, entries)})
    return cols, out


COLS, EXPECTED = _parse(TABLE)
PAIRS = [(a, b) for a in COLS for b in COLS]


def test_table_is_symmetric():
    for a, b in PAIRS:
        assert EXPECTED[a, b] == EXPECTED[b, a]


def value(code, shape=(2,)):
    """An operand of category `code`: a NumPy array, or a Python scalar for weak types."""
    if code == "i*":
        return 1
    if code == "f*":
        return 1.0
    return np.ones(shape, CODES[code])


def dtype_spec(code):
    """`code` as a dtype specifier: np.dtype, jnp scalar type, or Python int/float (weak)."""
    if code == "i*":
        return int
    if code == "f*":
        return float
    return np.dtype(CODES[code])


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_result_type_and_add_follow_the_table(a, b):
    want = EXPECTED[a, b]
    want_dtype, want_weak = np.dtype(CODES[want]), want in WEAK
    assert jnp.result_type(value(a), value(b)) == want_dtype
    assert jnp.result_type(dtype_spec(a), dtype_spec(b)) == want_dtype
    assert jnp.result_type(value(a), value(b), return_weak_type_flag=True) == \
        (want_dtype, want_weak)
    for how, out in (("eager", jnp.add(value(a), value(b))),
                     ("jit", jitcore.jit(jnp.add)(value(a), value(b))),
                     ("operator", jnp.asarray(value(a)) + value(b))):
        assert out.dtype == want_dtype, (how, a, b, out.dtype)
        assert out.weak_type == want_weak, (how, a, b, out.weak_type)
        assert out.shape == np.broadcast_shapes(np.shape(value(a)), np.shape(value(b)))


@pytest.mark.parametrize("a,b", [(a, b) for a in COLS for b in COLS
                                 if a not in WEAK and b not in WEAK])
def test_promote_types_of_strong_pairs(a, b):
    want = EXPECTED[a, b]
    assert jnp.promote_types(CODES[a], CODES[b]) == np.dtype(CODES[want])
    assert jnp.promote_types(getattr(jnp, CODES[a] if a != "b1" else "bool_"),
                             np.dtype(CODES[b])) == np.dtype(CODES[want])


def test_three_way_promotion_is_the_join():
    # The lattice join is associative, so chaining table lookups gives the n-ary result.
    for a, b, c in [("u4", "i4", "f2"), ("b1", "i*", "u1"), ("i1", "u1", "f*"),
                    ("u8", "i8", "f4"), ("i*", "f*", "i4"), ("u2", "i1", "i*")]:
        ab = EXPECTED[a, b]
        want = EXPECTED[ab, c]
        got = jnp.result_type(value(a), value(b), value(c))
        assert got == np.dtype(CODES[want]), (a, b, c, got)


def test_cases_called_out_in_the_docs():
    i32, u32 = np.ones(2, np.int32), np.ones(2, np.uint32)
    assert (jnp.asarray(u32) + i32).dtype == np.int64
    assert (jnp.asarray(np.ones(2, np.int64)) + np.ones(2, np.uint64)).dtype == np.float64
    assert (jnp.asarray(np.ones(2, np.float16)) + np.ones(2, np.int64)).dtype == np.float16
    b = jnp.add(True, 1)
    assert b.dtype == np.int64 and b.weak_type
    i8 = jnp.asarray(np.array([1, 2, 100], np.int8))
    assert jnp.result_type(i8, 1000) == np.int8
    assert (i8 + 1000).dtype == np.int8
    # The weak int wraps into int8 (XLA's convert of JAX's int64 constant); NumPy's own
    # int8 addition then wraps too.
    np.testing.assert_array_equal(np.asarray(i8 + 1000),
                                  np.asarray(i8) + np.array(1000).astype(np.int8))
    assert (jnp.asarray(i32) + 2.5).dtype == np.float64
    assert (jnp.asarray(np.ones(2, np.float32)) * 2.0).dtype == np.float32
    assert (jnp.asarray(i32) + 1).dtype == np.int32
    assert jnp.result_type(np.float32, 2.0) == np.float32
    assert jnp.result_type(jnp.float32, float) == np.float32
    assert jnp.result_type(int, float) == np.float64


def test_result_type_accepts_every_kind_of_argument():
    assert jnp.result_type(jnp.int8, "int16") == np.int16
    assert jnp.result_type(np.int8, np.dtype("uint8")) == np.int16
    assert jnp.result_type(jnp.asarray(np.ones(2, np.float16)), np.float32(1)) == np.float32
    assert jnp.result_type(np.int32(1), 2.0) == np.float64
    assert jnp.result_type(True, False) == np.bool_
    assert jnp.result_type(bool, 1) == np.int64
    seen = []
    jitcore.jit(lambda x: seen.append(jnp.result_type(x, 1.0)) or x)(np.ones(2, np.float16))
    assert seen == [np.float16]
    with pytest.raises(ValueError):
        jnp.result_type()
    # Complex numbers join the lattice above the floats, as in JAX.
    assert jnp.result_type(np.complex64) == np.complex64
    assert jnp.result_type(np.float32, 1j) == np.complex64
    assert jnp.result_type(np.float64, np.complex64) == np.complex128
    assert jnp.result_type(np.int32, 1j) == np.complex128
    assert jnp.result_type(np.float16, complex) == np.complex64
    with pytest.raises(TypeError):
        jnp.result_type(np.dtype("V8"))
