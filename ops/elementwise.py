"""Elementwise primitives: unary math, binary arithmetic and bitwise ops, comparisons,
select, clamp, convert_element_type and iota.

Binary primitives take operands of one shape and one dtype (XLA's rule); promotion and
broadcasting happen in `jitcore.numpy` before binding.
"""
from __future__ import annotations

import keyword
import math

import numpy as np

from . import dtypes
from .core import Primitive, ShapedArray
from .errors import DtypeError, ShapeError
from .rules import (as_function, check_kinds, defbroadcasting, defvectorized, quiet,
                    same_shapes_and_dtypes, all_weak)

F, I, U, B = "f", "i", "u", "b"
NUM = F + I + U          # numbers
INT = I + U              # integers
BITS = I + U + B         # integers and booleans

# --- unary ---------------------------------------------------------------------------------


def _round_away(x):
    # Half away from zero (lax.round's default), exact for every float, unlike floor(x + 0.5).
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def _round(x, rounding_method=0):
    return _round_away(x) if rounding_method == 0 else np.round(x)


def _logistic(x):
    # Stable on both tails: never exponentiates a large positive number.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return _erf_scalar(x.astype(np.float64)).astype(np.float64).astype(x.dtype)


def _sign(x):
    # XLA keeps the zero's sign (sign(-0.0) is -0.0); np.sign gives +0.0.
    return np.where(x == 0, x, np.sign(x)) if x.dtype.kind == "f" else np.sign(x)


neg_p = defvectorized("neg", np.negative, NUM)
abs_p = defvectorized("abs", np.abs, NUM)
sign_p = defvectorized("sign", _sign, NUM)
floor_p = defvectorized("floor", np.floor, F)
ceil_p = defvectorized("ceil", np.ceil, F)
round_p = defvectorized("round", _round, F, params=("rounding_method",))
exp_p = defvectorized("exp", np.exp, F)
exp2_p = defvectorized("exp2", np.exp2, F)
expm1_p = defvectorized("expm1", np.expm1, F)
log_p = defvectorized("log", np.log, F)
log1p_p = defvectorized("log1p", np.log1p, F)
sqrt_p = defvectorized("sqrt", np.sqrt, F)
rsqrt_p = defvectorized("rsqrt", lambda x: 1 / np.sqrt(x), F)
cbrt_p = defvectorized("cbrt", np.cbrt, F)
sin_p = defvectorized("sin", np.sin, F)
cos_p = defvectorized("cos", np.cos, F)
tan_p = defvectorized("tan", np.tan, F)
asin_p = defvectorized("asin", np.arcsin, F)
acos_p = defvectorized("acos", np.arccos, F)
atan_p = defvectorized("atan", np.arctan, F)
sinh_p = defvectorized("sinh", np.sinh, F)
cosh_p = defvectorized("cosh", np.cosh, F)
tanh_p = defvectorized("tanh", np.tanh, F)
asinh_p = defvectorized("asinh", np.arcsinh, F)
acosh_p = defvectorized("acosh", np.arccosh, F)
atanh_p = defvectorized("atanh", np.arctanh, F)
logistic_p = defvectorized("logistic", _logistic, F)
erf_p = defvectorized("erf", _erf, F)
is_finite_p = defvectorized("is_finite", np.isfinite, F, out_dtype=dtypes.bool_)
not_p = defvectorized("not", np.invert, BITS)

# --- binary --------------------------------------------------------------------------------


def _int_div(a, b):
    # C semantics (truncate toward zero); x / 0 gives 0 rather than trapping.
    safe_b = np.where(b == 0, 1, b)
    q = np.floor_divide(a, safe_b)
    if a.dtype.kind == "i":
        q = np.where((q < 0) & (q * safe_b != a), q + 1, q)
    return np.where(b == 0, 0, q).astype(a.dtype)


def _div(a, b):
    return np.true_divide(a, b) if a.dtype.kind == "f" else _int_div(a, b)


def _rem(a, b):
    if a.dtype.kind == "f":
        return np.fmod(a, b)
    safe_b = np.where(b == 0, 1, b)
    return np.where(b == 0, 0, np.fmod(a, safe_b)).astype(a.dtype)


def _int_pow(base, exp):
    # Exponentiation by squaring with wrap-around, and 0 for negative exponents (|base| > 1).
    out = np.ones_like(base)
    b = base.copy()
    # uint64 exponents stay unsigned: past 2**63 an int64 cast would make them negative.
    e = exp.copy() if exp.dtype == np.uint64 else exp.astype(np.int64)
    neg = e < 0
    e = np.where(neg, 0, e).astype(e.dtype)
    while np.any(e > 0):
        out = np.where(e & 1, out * b, out)
        b = b * b
        e = e >> 1
    if base.dtype.kind == "i":
        neg_result = np.where(base == 1, 1, np.where(base == -1, np.where(exp % 2 == 0, 1, -1), 0))
    else:
        neg_result = np.where(base == 1, 1, 0)
    # Both branches in the base's dtype: mixing int64 with uint64 would round through float64.
    return np.where(neg, neg_result.astype(base.dtype), out).astype(base.dtype)


def _pow(a, b):
    return np.power(a, b) if a.dtype.kind == "f" else _int_pow(a, b)


def _shift_left(a, s):
    bits = a.dtype.itemsize * 8
    ok = (s >= 0) & (s < bits)
    return np.where(ok, np.left_shift(a, np.where(ok, s, 0)), 0).astype(a.dtype)


def _shift_right_arithmetic(a, s):
    bits = a.dtype.itemsize * 8
    s = np.where((s < 0) | (s >= bits), bits - 1, s)  # over-wide shifts fill with the sign
    return np.right_shift(a, s).astype(a.dtype)


def _shift_right_logical(a, s):
    bits = a.dtype.itemsize * 8
    unsigned = np.dtype(f"u{a.dtype.itemsize}")
    ok = (s >= 0) & (s < bits)
    r = np.right_shift(a.view(unsigned), np.where(ok, s, 0).astype(unsigned))
    return np.where(ok, r, 0).astype(unsigned).view(a.dtype)


add_p = defbroadcasting("add", np.add, NUM + B)
sub_p = defbroadcasting("sub", np.subtract, NUM)
mul_p = defbroadcasting("mul", np.multiply, NUM + B)
div_p = defbroadcasting("div", _div, NUM)
rem_p = defbroadcasting("rem", _rem, NUM)
pow_p = defbroadcasting("pow", _pow, NUM)
max_p = defbroadcasting("max", np.maximum, NUM + B)
min_p = defbroadcasting("min", np.minimum, NUM + B)
atan2_p = defbroadcasting("atan2", np.arctan2, F)
and_p = defbroadcasting("and", np.bitwise_and, BITS)
or_p = defbroadcasting("or", np.bitwise_or, BITS)
xor_p = defbroadcasting("xor", np.bitwise_xor, BITS)
shift_left_p = defbroadcasting("shift_left", _shift_left, INT)
shift_right_arithmetic_p = defbroadcasting("shift_right_arithmetic", _shift_right_arithmetic, INT)
shift_right_logical_p = defbroadcasting("shift_right_logical", _shift_right_logical, INT)

eq_p = defbroadcasting("eq", np.equal, NUM + B, out_dtype=dtypes.bool_)
ne_p = defbroadcasting("ne", np.not_equal, NUM + B, out_dtype=dtypes.bool_)
lt_p = defbroadcasting("lt", np.less, NUM + B, out_dtype=dtypes.bool_)
le_p = defbroadcasting("le", np.less_equal, NUM + B, out_dtype=dtypes.bool_)
gt_p = defbroadcasting("gt", np.greater, NUM + B, out_dtype=dtypes.bool_)
ge_p = defbroadcasting("ge", np.greater_equal, NUM + B, out_dtype=dtypes.bool_)

# --- integer_pow: x ** n for a static int n (what `x ** 2` becomes) -------------------------

integer_pow_p = Primitive("integer_pow", "elementwise")


def _integer_pow_rule(x, *, y):
    check_kinds("integer_pow", x, NUM)
    if not isinstance(y, int):
        raise TypeError(f"integer_pow: exponent must be a Python int, got {y!r}")
    if y < 0 and x.dtype.kind != "f":
        raise DtypeError(f"integer_pow: negative exponent {y} needs a floating-point base, "
                         f"got {x.str_short()}")
    return x


def _integer_pow_impl(x, *, y):
    if x.dtype.kind == "f":
        return np.power(x, x.dtype.type(y))
    return _int_pow(x, np.full(x.shape, y, np.int64))


integer_pow_p.abstract_eval = _integer_pow_rule
integer_pow_p.impl = quiet(_integer_pow_impl)

# --- select and clamp ----------------------------------------------------------------------

select_p = Primitive("select", "elementwise")


def _select_rule(pred, on_true, on_false):
    if pred.dtype != dtypes.bool_:
        raise DtypeError(f"select: the predicate must be bool, got {pred.str_short()}")
    same_shapes_and_dtypes("select", [on_true, on_false])
    if pred.shape != on_true.shape:
        raise ShapeError(f"select: predicate {pred.str_short()} and operands "
                         f"{on_true.str_short()} must have equal shapes")
    return ShapedArray(on_true.shape, on_true.dtype, all_weak([on_true, on_false]))


select_p.abstract_eval = _select_rule
select_p.impl = lambda pred, t, f: np.where(pred, t, f)

clamp_p = Primitive("clamp", "elementwise")


def _clamp_rule(lo, x, hi):
    check_kinds("clamp", x, NUM)
    for name, b in (("min", lo), ("max", hi)):
        if b.dtype != x.dtype:
            raise DtypeError(f"clamp: {name} {b.str_short()} must have the operand's dtype "
                             f"{x.str_short()}")
        if b.shape not in ((), x.shape):
            raise ShapeError(f"clamp: {name} {b.str_short()} must be a scalar or have the "
                             f"operand's shape {x.str_short()}")
    return x


clamp_p.abstract_eval = _clamp_rule
clamp_p.impl = lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi).astype(x.dtype)

# --- convert_element_type ------------------------------------------------------------------

convert_element_type_p = Primitive("convert_element_type", "elementwise")


def _convert_rule(x, *, new_dtype, weak_type=False):
    return ShapedArray(x.shape, dtypes.canonicalize(new_dtype, "convert_element_type"), weak_type)


def _convert_impl(x, *, new_dtype, weak_type=False):
    new_dtype = np.dtype(new_dtype)
    if new_dtype.kind == "b":
        return x != 0
    if x.dtype.kind == "f" and new_dtype.kind in "iu":
        # Saturating, NaN -> 0: XLA's float-to-int conversion, where C's would be undefined.
        info = np.iinfo(new_dtype)
        y = np.where(np.isnan(x), 0, x)
        lo_ok, hi_ok = y >= info.min, y < float(info.max) + 1.0
        y = np.trunc(np.clip(y, float(info.min), float(info.max)))
        out = y.astype(new_dtype)
        out = np.where(lo_ok, out, info.min)
        return np.where(hi_ok, out, info.max).astype(new_dtype)
    return x.astype(new_dtype)


convert_element_type_p.abstract_eval = _convert_rule
convert_element_type_p.impl = quiet(_convert_impl)

# --- bitcast_convert_type: reinterpret the bits (same item size) ----------------------------

bitcast_convert_type_p = Primitive("bitcast_convert_type", "elementwise")


def _bitcast_rule(x, *, new_dtype):
    new_dtype = dtypes.canonicalize(new_dtype, "bitcast_convert_type")
    if new_dtype.itemsize != x.dtype.itemsize or "b" in (new_dtype.kind, x.dtype.kind):
        raise DtypeError(f"bitcast_convert_type: cannot reinterpret {x.str_short()} as "
                         f"{new_dtype} (needs equal, non-bool item sizes)")
    return ShapedArray(x.shape, new_dtype, False)


bitcast_convert_type_p.abstract_eval = _bitcast_rule
bitcast_convert_type_p.impl = lambda x, *, new_dtype: np.ascontiguousarray(x).view(new_dtype)

# --- iota ----------------------------------------------------------------------------------

iota_p = Primitive("iota", "elementwise")


def _iota_rule(*, dtype, shape, dimension):
    dtype = dtypes.canonicalize(dtype, "iota")
    if dtype.kind not in NUM:
        raise DtypeError(f"iota: dtype must be numeric, got {dtype}")
    if not 0 <= dimension < len(shape):
        raise ShapeError(f"iota: dimension {dimension} out of range for shape {tuple(shape)}")
    return ShapedArray(shape, dtype, False)


def _iota_impl(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=dtype)
    r = r.reshape([shape[dimension] if i == dimension else 1 for i in range(len(shape))])
    return np.broadcast_to(r, shape).copy()


iota_p.abstract_eval = _iota_rule
iota_p.impl = _iota_impl

# --- plain functions that bind each primitive (used by rules and by jitcore.lax) ------------

# Keyword names get a trailing underscore: `and_`, `or_`, `not_`.
for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2] + ("_" if keyword.iskeyword(_name[:-2]) else "")] = as_function(_p)
del _name, _p
