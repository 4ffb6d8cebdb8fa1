"""Dtypes: the supported set, their IR names, and JAX's type-promotion lattice (64-bit enabled).

Python scalars are *weak*: a weak int or float takes the dtype of the array it meets
(`f32_array * 2.0` stays float32, `i32_array + 1` stays int32). Promotion between two
concrete dtypes follows JAX's lattice, not NumPy's value-based rules, so `u32 + i32 -> i64`
and `i64 + u64 -> f64`, and `f16 + i64 -> f16`. bfloat16 (`ml_dtypes.bfloat16`, the type JAX
uses) and float16 are siblings: `bf16 + f16 -> f32`, `bf16 + i32 -> bf16`, `bf16 * 2.0 -> bf16`.
ml_dtypes gives bfloat16 NumPy kind "V"; `kind(d)` says "f" for it, and the predicates below
use it, so a rule asking `is_float` treats it as the float it is.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from .errors import DtypeError

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
bfloat16 = np.dtype(ml_dtypes.bfloat16)
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

SUPPORTED = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
             bfloat16, float16, float32, float64, complex64, complex128)

# HLO-style short names used by the IR printer and parser.
IR_NAME = {
    bool_: "pred", int8: "s8", int16: "s16", int32: "s32", int64: "s64",
    uint8: "u8", uint16: "u16", uint32: "u32", uint64: "u64",
    bfloat16: "bf16", float16: "f16", float32: "f32", float64: "f64",
    complex64: "c64", complex128: "c128",
}
FROM_IR_NAME = {v: k for k, v in IR_NAME.items()}

default_int = int64
default_float = float64
default_complex = complex128

# The real dtype of each complex one (its parts), and the complex dtype holding a real one.
REAL_OF = {complex64: float32, complex128: float64}
COMPLEX_OF = {bfloat16: complex64, float16: complex64, float32: complex64, float64: complex128}


def canonicalize(dtype, what="value") -> np.dtype:
    """The np.dtype for `dtype` (a type, a string or an np.dtype); a clear error if unsupported."""
    try:
        d = np.dtype(dtype)
    except TypeError as e:
        raise DtypeError(f"{what}: {dtype!r} is not a dtype") from e
    if d not in IR_NAME:
        raise DtypeError(
            f"{what}: dtype {d} is not supported; jitcore supports "
            + ", ".join(str(t) for t in SUPPORTED))
    return d


def kind(d) -> str:
    """NumPy's kind letter, except "f" for bfloat16 (which ml_dtypes registers as "V")."""
    d = np.dtype(d)
    return "f" if d == bfloat16 else d.kind


def is_float(d) -> bool:
    return kind(d) == "f"


def is_half(d) -> bool:
    """The 16-bit floats, stored narrow and computed in float32 (rounded after every op)."""
    d = np.dtype(d)
    return d == float16 or d == bfloat16


def is_complex(d) -> bool:
    return np.dtype(d).kind == "c"


def is_inexact(d) -> bool:
    """Float or complex: the dtypes that have derivatives."""
    return kind(d) in "fc"


def real_dtype(d) -> np.dtype:
    """The dtype of the real (and imaginary) part of `d`; `d` itself when it is not complex."""
    d = np.dtype(d)
    return REAL_OF.get(d, d)


def to_inexact(d, weak: bool = False) -> np.dtype:
    """The dtype an inexact function (sqrt, mean, solve, fft...) computes an integer or bool
    input in, as JAX 0.10 with 64-bit enabled does: 64-bit integers and weak (Python) ints
    become float64, narrower integers and bools float32; floats and complex stay."""
    d = np.dtype(d)
    if kind(d) in "fc":
        return d
    return float64 if weak or d.itemsize == 8 else float32


def is_int(d) -> bool:
    return np.dtype(d).kind in "iu"


# --- the promotion lattice -----------------------------------------------------------------
# Nodes are dtypes plus the three weak categories "i*" (Python int), "f*" (Python float) and
# "c*" (Python complex), as in JAX: f32 * 1j -> c64, f64 + 1j -> c128, 1.0 + 1j -> weak c128.
_I, _F, _C = "i*", "f*", "c*"
_EDGES = {
    bool_: [_I],
    _I: [uint8, int8],
    uint8: [int16, uint16], uint16: [int32, uint32], uint32: [int64, uint64], uint64: [_F],
    int8: [int16], int16: [int32], int32: [int64], int64: [_F],
    _F: [float16, bfloat16, _C],
    float16: [float32], bfloat16: [float32], float32: [float64, complex64], float64: [complex128],
    _C: [complex64], complex64: [complex128], complex128: [],
}


def _upper_set(node):
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(_EDGES[n])
    return frozenset(seen)


_UPPER = {n: _upper_set(n) for n in _EDGES}


def _join(a, b):
    common = _UPPER[a] & _UPPER[b]
    for n in common:
        if _UPPER[n] == common:
            return n
    raise AssertionError(f"lattice has no join for {a}, {b}")  # the lattice is complete


_JOIN = {(a, b): _join(a, b) for a in _EDGES for b in _EDGES}


def _node(dtype, weak):
    if weak:
        k = kind(dtype)
        if k in "iu":
            return _I
        if k == "f":
            return _F
        if k == "c":
            return _C
    return dtype


def promote(dtypes_and_weak):
    """Join a sequence of (dtype, weak_type) pairs: returns (dtype, weak_type) of the result."""
    items = list(dtypes_and_weak)
    node = _node(*items[0])
    for d, w in items[1:]:
        node = _JOIN[node, _node(d, w)]
    if node in (_I, _F, _C):
        # All inputs were weak (or bool): keep a shared weak dtype, else the default one.
        kinds, default = {_I: ("iu", default_int), _F: ("f", default_float),
                          _C: ("c", default_complex)}[node]
        weak_dtypes = {d for d, w in items if w and kind(d) in kinds}
        if len(weak_dtypes) == 1:
            return weak_dtypes.pop(), True
        return default, True
    return node, False


def promote_types(a, b) -> np.dtype:
    """NumPy-style `promote_types` under jitcore's lattice (both inputs strong)."""
    return promote([(canonicalize(a), False), (canonicalize(b), False)])[0]


def python_scalar_dtype(x):
    """(dtype, weak) of a Python scalar, or None if `x` is not one."""
    t = type(x)
    if t is bool:
        return bool_, False
    if t is int:
        return default_int, True
    if t is float:
        return default_float, True
    if t is complex:
        return default_complex, True
    if isinstance(x, int) and not isinstance(x, np.generic):   # a symbolic size (ops.dims)
        return default_int, True
    return None
