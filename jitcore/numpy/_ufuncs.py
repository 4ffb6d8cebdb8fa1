"""Elementwise `jitcore.numpy` functions (NumPy's ufuncs), written with primitives.

Each promotes its operands (JAX's lattice, weak Python scalars), broadcasts them, and binds
primitives. Composite ones (`logaddexp`, `hypot`, `mod`, `floor_divide`...) decompose here
so only primitives reach the IR.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops import elementwise as el
from ops.errors import ConcretizationTypeError, DtypeError

from ._promotion import (aval_of, asarray, broadcast_shapes, broadcast_to, check_kind, convert,
                         is_scalar, promote_args, promote_to_inexact, result_dtype)

__all__ = [
    "abs", "absolute", "sign", "sqrt", "square", "cbrt", "reciprocal", "exp", "exp2", "expm1",
    "log", "log1p", "log2", "log10", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "floor", "ceil", "round",
    "around", "rint", "trunc", "fix", "hypot", "logaddexp", "logaddexp2", "fmod", "mod",
    "remainder", "divmod", "copysign", "power", "pow", "float_power", "maximum", "minimum",
    "fmax", "fmin", "clip", "where", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "signbit", "logical_and", "logical_or", "logical_not", "logical_xor", "equal", "not_equal",
    "less", "less_equal", "greater", "greater_equal", "allclose", "isclose", "array_equal",
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "negative",
    "positive", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert",
    "invert", "left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift",
    "deg2rad", "rad2deg", "degrees", "radians", "heaviside", "sinc",
]


def _unary_inexact(name, prim_fn):
    def f(x, /):
        (x,) = promote_to_inexact(name, x)
        return prim_fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{name}` (NumPy semantics; integers are promoted to float64)."
    return f


def _binary(name, prim_fn):
    def f(x1, x2, /):
        return prim_fn(*promote_args(name, x1, x2))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{name}` with NumPy broadcasting and JAX's type promotion."
    return f


def _binary_inexact(name, prim_fn):
    def f(x1, x2, /):
        return prim_fn(*promote_to_inexact(name, x1, x2))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{name}`; integer operands are promoted to float64."
    return f


sqrt = _unary_inexact("sqrt", el.sqrt)
cbrt = _unary_inexact("cbrt", el.cbrt)
exp = _unary_inexact("exp", el.exp)
exp2 = _unary_inexact("exp2", el.exp2)
expm1 = _unary_inexact("expm1", el.expm1)
log = _unary_inexact("log", el.log)
log1p = _unary_inexact("log1p", el.log1p)
sin = _unary_inexact("sin", el.sin)
cos = _unary_inexact("cos", el.cos)
tan = _unary_inexact("tan", el.tan)
arcsin = _unary_inexact("arcsin", el.asin)
arccos = _unary_inexact("arccos", el.acos)
arctan = _unary_inexact("arctan", el.atan)
sinh = _unary_inexact("sinh", el.sinh)
cosh = _unary_inexact("cosh", el.cosh)
tanh = _unary_inexact("tanh", el.tanh)
arcsinh = _unary_inexact("arcsinh", el.asinh)
arccosh = _unary_inexact("arccosh", el.acosh)
arctanh = _unary_inexact("arctanh", el.atanh)
arctan2 = _binary_inexact("arctan2", el.atan2)

add = _binary("add", el.add)
multiply = _binary("multiply", el.mul)
maximum = _binary("maximum", el.max)
minimum = _binary("minimum", el.min)
equal = _binary("equal", el.eq)
not_equal = _binary("not_equal", el.ne)
less = _binary("less", el.lt)
less_equal = _binary("less_equal", el.le)
greater = _binary("greater", el.gt)
greater_equal = _binary("greater_equal", el.ge)


def subtract(x1, x2, /):
    x1, x2 = promote_args("subtract", x1, x2)
    if aval_of(x1).dtype.kind == "b":
        raise DtypeError("subtract: numpy boolean subtract is not supported, got "
                         f"{aval_of(x1).str_short()}", hint="use logical_xor instead")
    return el.sub(x1, x2)


def divide(x1, x2, /):
    """True division: integers are promoted to float64 first."""
    return el.div(*promote_to_inexact("divide", x1, x2))


true_divide = divide


def negative(x, /):
    x = asarray(x)
    if aval_of(x).dtype.kind == "b":
        raise DtypeError(f"negative: the numpy boolean negative is not supported, got "
                         f"{aval_of(x).str_short()}", hint="use logical_not instead")
    return el.neg(x)


def positive(x, /):
    return asarray(x)


def abs(x, /):
    x = asarray(x)
    k = aval_of(x).dtype.kind
    return x if k in "bu" else el.abs(x)


absolute = abs


def sign(x, /):
    x = asarray(x)
    return x if aval_of(x).dtype.kind == "b" else el.sign(x)


def square(x, /):
    return el.integer_pow(asarray(x), y=2)


def reciprocal(x, /):
    (x,) = promote_to_inexact("reciprocal", x)
    return el.div(_const_like(x, 1), x)


def _const_like(x, value):
    a = aval_of(x)
    return broadcast_to(convert(value, a.dtype, a.weak_type), a.shape)


def log2(x, /):
    (x,) = promote_to_inexact("log2", x)
    return el.div(el.log(x), el.log(_const_like(x, 2)))


def log10(x, /):
    (x,) = promote_to_inexact("log10", x)
    return el.div(el.log(x), el.log(_const_like(x, 10)))


def _int_passthrough(name, prim_fn):
    # JAX returns integer (and bool) inputs unchanged for floor/ceil/trunc/rint.
    def f(x, /):
        x = asarray(x)
        return x if aval_of(x).dtype.kind in "iub" else prim_fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{name}`; integers are returned unchanged."
    return f


floor = _int_passthrough("floor", el.floor)
ceil = _int_passthrough("ceil", el.ceil)


def rint(x, /):
    """Round half to even. Integers and bools become float64, as JAX's rint converts them."""
    x = asarray(x)
    if aval_of(x).dtype.kind in "iub":
        return convert(x, dtypes.default_float)
    return el.round(x, rounding_method=1)


def trunc(x, /):
    x = asarray(x)
    if aval_of(x).dtype.kind in "iub":
        return x
    return el.select(el.lt(x, _const_like(x, 0)), el.ceil(x), el.floor(x))


fix = trunc


def round(a, decimals=0, out=None):
    """Round half to even (NumPy's rule), optionally to `decimals` places."""
    a = asarray(a)
    av = aval_of(a)
    if av.dtype.kind in "iub":
        if decimals >= 0:
            return a
        factor = _const_like(a, 10 ** (-decimals))
        return el.mul(floor_divide(el.add(a, el.div(factor, _const_like(a, 2))), factor), factor)
    if decimals == 0:
        return el.round(a, rounding_method=1)
    factor = _const_like(a, 10.0 ** decimals)
    return el.div(el.round(el.mul(a, factor), rounding_method=1), factor)


around = round


def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow or underflow in the intermediate squares."""
    x1, x2 = promote_to_inexact("hypot", x1, x2)
    a, b = el.abs(x1), el.abs(x2)
    big, small = el.max(a, b), el.min(a, b)
    zero = _const_like(big, 0)
    safe = el.select(el.eq(big, zero), _const_like(big, 1), big)
    ratio = el.div(small, safe)
    r = el.mul(big, el.sqrt(el.add(_const_like(big, 1), el.mul(ratio, ratio))))
    r = el.select(el.eq(big, zero), zero, r)
    inf = _const_like(big, np.inf)
    # An infinite leg wins even over a NaN one (max(inf, nan) would be nan).
    return el.select(el.or_(el.eq(a, inf), el.eq(b, inf)), inf, r)


def logaddexp(x1, x2, /):
    """log(exp(x1) + exp(x2)), stable for large inputs."""
    x1, x2 = promote_to_inexact("logaddexp", x1, x2)
    amax = el.max(x1, x2)
    delta = el.sub(x1, x2)
    # min - max rather than -|x1 - x2|: the same value, and at a tie the derivative splits
    # 0.5/0.5 as JAX's (|.| has derivative 1 at 0, which would cancel max's half).
    out = el.add(amax, el.log1p(el.exp(el.sub(el.min(x1, x2), amax))))
    return el.select(el.ne(delta, delta), el.add(x1, x2), out)  # NaN or inf - inf


def logaddexp2(x1, x2, /):
    x1, x2 = promote_to_inexact("logaddexp2", x1, x2)
    ln2 = _const_like(x1, np.log(2))
    return el.div(logaddexp(el.mul(x1, ln2), el.mul(x2, ln2)), ln2)


def fmod(x1, x2, /):
    """C's fmod: the remainder has the sign of x1."""
    return el.rem(*promote_args("fmod", x1, x2))


def _check_not_bool(name, x):
    if aval_of(x).dtype.kind == "b":
        raise DtypeError(f"{name}: not supported for bool operands, got {aval_of(x).str_short()}")


def remainder(x1, x2, /):
    """Python's %: the remainder has the sign of x2 (floor semantics, as NumPy)."""
    x1, x2 = promote_args("remainder", x1, x2)
    _check_not_bool("remainder", x1)
    r = el.rem(x1, x2)
    zero = _const_like(r, 0)
    fix_ = el.and_(el.ne(r, zero), el.ne(el.lt(r, zero), el.lt(x2, zero)))
    return el.select(fix_, el.add(r, x2), r)


mod = remainder


def floor_divide(x1, x2, /):
    """Python's //: floor of the quotient (NumPy semantics for ints and floats)."""
    x1, x2 = promote_args("floor_divide", x1, x2)
    av = aval_of(x1)
    if av.dtype.kind == "b":
        raise DtypeError(f"floor_divide: not supported for bool operands, got {av.str_short()}")
    zero = _const_like(x1, 0)
    if av.dtype.kind in "iu":
        q = el.div(x1, x2)
        if av.dtype.kind == "u":
            return q
        r = el.rem(x1, x2)
        fix_ = el.and_(el.ne(r, zero), el.ne(el.lt(x1, zero), el.lt(x2, zero)))
        return el.select(fix_, el.sub(q, _const_like(q, 1)), q)
    return _float_divmod(x1, x2)[0]


def _float_divmod(x1, x2):
    # NumPy's float floor-division: exact quotient of (x1 - fmod) by x2, corrected by one.
    mod_ = el.rem(x1, x2)
    div_ = el.div(el.sub(x1, mod_), x2)
    zero = _const_like(x1, 0)
    ind = el.and_(el.ne(mod_, zero), el.ne(el.lt(x2, zero), el.lt(mod_, zero)))
    mod_ = el.select(ind, el.add(mod_, x2), mod_)
    div_ = el.select(ind, el.sub(div_, _const_like(div_, 1)), div_)
    div_ = el.round(div_, rounding_method=1)
    # Division by zero: NumPy gives x1 / 0 (inf or nan) for the quotient.
    div_ = el.select(el.eq(x2, zero), el.div(x1, x2), div_)
    return div_, mod_


def divmod(x1, x2, /):
    return floor_divide(x1, x2), remainder(x1, x2)


def copysign(x1, x2, /):
    x1, x2 = promote_to_inexact("copysign", x1, x2)
    mag = el.abs(x1)
    return el.select(signbit(x2), el.neg(mag), mag)


def signbit(x, /):
    x = asarray(x)
    av = aval_of(x)
    if av.dtype.kind == "u" or av.dtype.kind == "b":
        return broadcast_to(convert(False, dtypes.bool_), av.shape)
    if av.dtype.kind == "i":
        return el.lt(x, _const_like(x, 0))
    as_int = el.bitcast_convert_type(x, new_dtype=np.dtype(f"i{av.dtype.itemsize}"))
    return el.lt(as_int, _const_like(as_int, 0))


def power(x1, x2, /):
    """x1 ** x2. A Python-int exponent becomes integer_pow (exact repeated multiplication)."""
    if type(x2) is int and not is_scalar(x1):
        x1 = asarray(x1)
        if _kind(aval_of(x1).dtype) in "fiu" and (x2 >= 0 or _kind(aval_of(x1).dtype) == "f"):
            return el.integer_pow(x1, y=x2)
    x1, x2 = promote_args("power", x1, x2)
    _check_not_bool("power", x1)
    return el.pow(x1, x2)


pow = power


def float_power(x1, x2, /):
    """JAX's float_power: pow after promotion to inexact (float32 stays float32)."""
    return el.pow(*promote_to_inexact("float_power", x1, x2))


def fmax(x1, x2, /):
    """Maximum that ignores NaN (returns the other operand)."""
    x1, x2 = promote_args("fmax", x1, x2)
    return el.select(el.ne(x2, x2), x1, el.select(el.ne(x1, x1), x2, el.max(x1, x2)))


def fmin(x1, x2, /):
    x1, x2 = promote_args("fmin", x1, x2)
    return el.select(el.ne(x2, x2), x1, el.select(el.ne(x1, x1), x2, el.min(x1, x2)))


def clip(arr=None, /, min=None, max=None, *, a=None, a_min=None, a_max=None):
    """Limit values to [min, max] (either bound may be None). NumPy's a_min/a_max also work."""
    x = arr if arr is not None else a
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    x = asarray(x)
    if lo is not None:
        x = maximum(x, lo)
    if hi is not None:
        x = minimum(x, hi)
    return x


def _to_bool(x):
    x = asarray(x)
    av = aval_of(x)
    return x if av.dtype.kind == "b" else el.ne(x, _const_like(x, 0))


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """Elements of x where condition, else of y; with one argument, `nonzero(condition)`."""
    if x is None and y is None:
        from ._indexing import nonzero
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    c = _to_bool(condition)
    x, y = promote_args("where", x, y)
    shape = broadcast_shapes("where", aval_of(c).shape, aval_of(x).shape)
    return el.select(broadcast_to(c, shape), broadcast_to(x, shape), broadcast_to(y, shape))


def isnan(x, /):
    x = asarray(x)
    if aval_of(x).dtype.kind == "c":
        return el.or_(isnan(el.real(x)), isnan(el.imag(x)))
    if _kind(aval_of(x).dtype) != "f":
        return broadcast_to(convert(False, dtypes.bool_), aval_of(x).shape)
    return el.ne(x, x)


def isinf(x, /):
    x = asarray(x)
    if aval_of(x).dtype.kind == "c":
        return el.or_(isinf(el.real(x)), isinf(el.imag(x)))
    if _kind(aval_of(x).dtype) != "f":
        return broadcast_to(convert(False, dtypes.bool_), aval_of(x).shape)
    return el.eq(el.abs(x), _const_like(x, np.inf))


def isposinf(x, /):
    x = asarray(x)
    if _kind(aval_of(x).dtype) != "f":
        return broadcast_to(convert(False, dtypes.bool_), aval_of(x).shape)
    return el.eq(x, _const_like(x, np.inf))


def isneginf(x, /):
    x = asarray(x)
    if _kind(aval_of(x).dtype) != "f":
        return broadcast_to(convert(False, dtypes.bool_), aval_of(x).shape)
    return el.eq(x, _const_like(x, -np.inf))


def isfinite(x, /):
    x = asarray(x)
    if _kind(aval_of(x).dtype) not in "fc":
        return broadcast_to(convert(True, dtypes.bool_), aval_of(x).shape)
    return el.is_finite(x)


def logical_and(x1, x2, /):
    return el.and_(*promote_args("logical_and", _to_bool(x1), _to_bool(x2)))


def logical_or(x1, x2, /):
    return el.or_(*promote_args("logical_or", _to_bool(x1), _to_bool(x2)))


def logical_xor(x1, x2, /):
    return el.xor(*promote_args("logical_xor", _to_bool(x1), _to_bool(x2)))


def logical_not(x, /):
    return el.not_(_to_bool(x))


def _bitwise(name, prim_name):
    def f(x1, x2, /):
        x1, x2 = promote_args(name, x1, x2)
        check_kind(name, x1, "iub", "integer or boolean operands")
        return getattr(el, prim_name)(x1, x2)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{name}` of integer or boolean arrays."
    return f


bitwise_and = _bitwise("bitwise_and", "and_")
bitwise_or = _bitwise("bitwise_or", "or_")
bitwise_xor = _bitwise("bitwise_xor", "xor")


def bitwise_not(x, /):
    x = asarray(x)
    check_kind("bitwise_not", x, "iub", "an integer or boolean operand")
    return el.not_(x)


invert = bitwise_invert = bitwise_not


def left_shift(x1, x2, /):
    x1, x2 = promote_args("left_shift", x1, x2)
    check_kind("left_shift", x1, "iu", "integer operands")
    return el.shift_left(x1, x2)


def right_shift(x1, x2, /):
    """Arithmetic shift for signed integers, logical for unsigned (NumPy's >>)."""
    x1, x2 = promote_args("right_shift", x1, x2)
    check_kind("right_shift", x1, "iu", "integer operands")
    if aval_of(x1).dtype.kind == "u":
        return el.shift_right_logical(x1, x2)
    return el.shift_right_arithmetic(x1, x2)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promote_to_inexact("isclose", a, b)
    close = el.le(el.abs(el.sub(a, b)),
                  el.add(_const_like(a, atol), el.mul(_const_like(a, rtol), el.abs(b))))
    # Infinities are close only to themselves (inf - inf is nan above).
    both_inf = el.and_(isinf(a), el.eq(a, b))
    # A finite value is never close to an infinity (|a - inf| <= rtol * inf holds above).
    close = el.or_(el.and_(close, el.and_(isfinite(a), isfinite(b))), both_inf)
    if equal_nan:
        close = el.or_(close, el.and_(isnan(a), isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    from ._reductions import all as all_
    return all_(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a1, a2, equal_nan=False):
    from ._reductions import all as all_
    s1, s2 = aval_of(a1).shape, aval_of(a2).shape
    if s1 != s2:
        return asarray(False)
    eq = equal(a1, a2)
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return all_(eq)


def deg2rad(x, /):
    (x,) = promote_to_inexact("deg2rad", x)
    return el.mul(x, _const_like(x, np.pi / 180))


def rad2deg(x, /):
    (x,) = promote_to_inexact("rad2deg", x)
    return el.mul(x, _const_like(x, 180 / np.pi))


radians, degrees = deg2rad, rad2deg


def heaviside(x1, x2, /):
    x1, x2 = promote_to_inexact("heaviside", x1, x2)
    zero = _const_like(x1, 0)
    # 0 below zero, 1 above, x2 at zero, and a NaN x1 (none of the three) stays NaN, as in
    # NumPy and JAX.
    return el.select(el.lt(x1, zero), zero,
                     el.select(el.gt(x1, zero), _const_like(x1, 1),
                               el.select(el.eq(x1, zero), x2, x1)))


def sinc(x, /):
    (x,) = promote_to_inexact("sinc", x)
    zero = _const_like(x, 0)
    is_zero = el.eq(x, zero)
    px = el.mul(_const_like(x, np.pi), el.select(is_zero, _const_like(x, 1), x))
    return el.select(is_zero, _const_like(x, 1), el.div(el.sin(px), px))
