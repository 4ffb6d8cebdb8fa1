"""Dtypes of `jitcore.numpy`: scalar types, abstract type classes, promotion queries, constants.

`jnp.float32` is a small class, as in JAX: calling it converts (`jnp.float32(3)` is a 0-d
float32 Array), and its `dtype` attribute lets NumPy read it as a dtype, so
`np.dtype(jnp.float32)`, `x.astype(jnp.float32)` and `x.dtype == jnp.float32` all work.
The abstract classes (`floating`, `integer`, ...) are NumPy's, so `issubdtype` answers as
NumPy does. Promotion follows JAX's lattice with weak Python scalars (`ops.dtypes`).
"""
from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

from ops import dtypes as _dt
from ops.errors import DtypeError

from ._promotion import asarray

__all__ = [
    "bfloat16", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool_", "bool", "float_", "int_", "uint",
    "complex64", "complex128", "complex_",
    "generic", "number", "inexact", "floating", "integer", "signedinteger", "unsignedinteger",
    "complexfloating",
    "dtype", "finfo", "iinfo", "result_type", "promote_types", "issubdtype", "can_cast",
    "isdtype",
    "pi", "e", "inf", "nan", "newaxis", "euler_gamma",
]


class _ScalarMeta(type):
    """The type of `jnp.float32` and friends: equal to and hashed like NumPy's scalar type."""

    def __call__(cls, x):
        return asarray(x, dtype=cls.dtype)

    def __eq__(cls, other):
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other):
        return not cls == other

    def __hash__(cls):
        return hash(cls.dtype.type)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls.dtype.type)

    def __repr__(cls):
        return f"<class 'jitcore.numpy.{cls.__name__}'>"


def _scalar_type(name, np_type):
    return _ScalarMeta(name, (object,), {
        "dtype": np.dtype(np_type), "__module__": "jitcore.numpy",
        "__doc__": f"The {np.dtype(np_type)} scalar type: `jnp.{name}(x)` converts `x` to an "
                   f"Array of dtype {np.dtype(np_type)}."})


float16 = _scalar_type("float16", np.float16)
bfloat16 = _scalar_type("bfloat16", _dt.bfloat16)
float32 = _scalar_type("float32", np.float32)
float64 = _scalar_type("float64", np.float64)
int8 = _scalar_type("int8", np.int8)
int16 = _scalar_type("int16", np.int16)
int32 = _scalar_type("int32", np.int32)
int64 = _scalar_type("int64", np.int64)
uint8 = _scalar_type("uint8", np.uint8)
uint16 = _scalar_type("uint16", np.uint16)
uint32 = _scalar_type("uint32", np.uint32)
uint64 = _scalar_type("uint64", np.uint64)
complex64 = _scalar_type("complex64", np.complex64)
complex128 = _scalar_type("complex128", np.complex128)
bool_ = _scalar_type("bool_", np.bool_)
bool = bool_  # noqa: A001  (jnp.bool, as in JAX and the array API)
# Defaults with 64-bit enabled.
float_ = float64
complex_ = complex128
int_ = int64
uint = uint64

generic = np.generic
number = np.number
inexact = np.inexact
floating = np.floating
integer = np.integer
signedinteger = np.signedinteger
unsignedinteger = np.unsignedinteger
complexfloating = np.complexfloating

dtype = np.dtype

pi = np.pi
e = np.e
inf = np.inf
nan = np.nan
newaxis = None
euler_gamma = np.euler_gamma

# Python's number types are weak in JAX's lattice when used as dtype specifiers too
# (`jnp.result_type(jnp.float32, float)` is float32); bool is not.
_WEAK_PY_TYPES = {builtins.int: _dt.default_int, builtins.float: _dt.default_float,
                  builtins.complex: _dt.default_complex}


def _np_dtype(x, what="dtype") -> np.dtype:
    """The np.dtype of a dtype-like (our scalar types included) or of an array's dtype."""
    if isinstance(x, np.dtype):
        return x
    if isinstance(x, type):
        return np.dtype(x)
    if isinstance(x, str):
        return np.dtype(x)
    d = getattr(x, "dtype", None)  # arrays, tracers, NumPy scalars
    if isinstance(d, np.dtype):
        return d
    if type(x) in (builtins.bool, builtins.int, builtins.float, builtins.complex):
        return _dt.python_scalar_dtype(x)[0]
    try:
        return np.dtype(x)
    except TypeError:
        raise TypeError(f"{what}: {x!r:.80} is not a dtype or an array") from None


def _dtype_and_weak(x, op):
    """(dtype, weak) of one `result_type` argument: a value or a dtype specifier."""
    if isinstance(x, type):
        if any(x is t for t in _WEAK_PY_TYPES):
            return _WEAK_PY_TYPES[x], True
        return _dt.canonicalize(x, op), False
    if type(x) in (builtins.bool, builtins.int, builtins.float, builtins.complex):
        return _dt.python_scalar_dtype(x)
    aval = getattr(x, "aval", None)
    if aval is not None and hasattr(aval, "weak_type"):
        return aval.dtype, aval.weak_type
    if isinstance(x, (np.ndarray, np.generic)):
        return _dt.canonicalize(x.dtype, op), False
    if isinstance(x, (list, tuple)):
        a = asarray(x)
        return a.dtype, False
    return _dt.canonicalize(x, op), False


def result_type(*args, return_weak_type_flag=False):
    """The dtype JAX gives an operation on `args` (arrays, scalars or dtypes).

    Python scalars and the types `int` / `float` are weak: `result_type(np.float32, 2.0)` is
    float32. Returns an np.dtype (with the weak flag too when `return_weak_type_flag`).
    """
    if not args:
        raise ValueError("result_type: at least one array or dtype is required")
    d, weak = _dt.promote([_dtype_and_weak(a, "result_type") for a in args])
    return (d, weak) if return_weak_type_flag else d


def promote_types(a, b):
    """The dtype two dtypes promote to under JAX's lattice (Python `int`/`float` are weak)."""
    return _dt.promote([_dtype_and_weak(a, "promote_types"),
                        _dtype_and_weak(b, "promote_types")])[0]


def issubdtype(arg1, arg2) -> builtins.bool:
    """NumPy's `issubdtype`, accepting jitcore's scalar types: `issubdtype(x.dtype, floating)`."""
    def as_np(t):
        if isinstance(t, _ScalarMeta):
            return t.dtype.type
        if isinstance(t, type) and issubclass(t, np.generic):
            return t
        return _np_dtype(t, "issubdtype").type
    a, b = as_np(arg1), as_np(arg2)
    if a is _dt.bfloat16.type and b in (np.floating, np.inexact, np.number, np.generic):
        return True   # JAX places bfloat16 under `floating`; NumPy knows it as a void type
    return builtins.bool(np.issubdtype(a, b))


def can_cast(from_, to, casting="safe") -> builtins.bool:
    """NumPy's `can_cast` between dtypes (or arrays' dtypes), accepting jitcore's types."""
    return builtins.bool(np.can_cast(_np_dtype(from_, "can_cast"), _np_dtype(to, "can_cast"),
                                     casting))


def isdtype(dtype, kind) -> builtins.bool:
    """The array API's `isdtype`: is `dtype` of `kind` ('real floating', 'integral', a dtype...)."""
    def as_kind(k):
        if isinstance(k, tuple):
            return tuple(as_kind(i) for i in k)
        return k if isinstance(k, str) else _np_dtype(k, "isdtype")
    d = _np_dtype(dtype, "isdtype")
    if d == _dt.bfloat16:   # NumPy's isdtype rejects dtypes it does not know
        kinds = kind if isinstance(kind, tuple) else (kind,)
        return any(k in ("real floating", "numeric") or
                   (not isinstance(k, str) and _np_dtype(k, "isdtype") == d) for k in kinds)
    return builtins.bool(np.isdtype(d, as_kind(kind)))


def finfo(dtype):
    """NumPy's `finfo` for a float dtype, jitcore scalar type, or an array (its dtype)."""
    return ml_dtypes.finfo(  # knows bfloat16, and NumPy's floats
        _np_dtype(dtype, "finfo"))


def iinfo(dtype):
    """NumPy's `iinfo` for an integer dtype, jitcore scalar type, or an array (its dtype)."""
    return np.iinfo(_np_dtype(dtype, "iinfo"))
