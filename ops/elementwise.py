"""Elementwise primitives: unary math, binary arithmetic and bitwise ops, comparisons,
select, clamp, convert_element_type and iota; the complex parts are in `complex_elementwise`
(and importable from here).

Binary primitives take operands of one shape and one dtype (XLA's rule); promotion and
broadcasting happen in `jitcore.numpy` before binding.
"""
from __future__ import annotations

import keyword
import math

import numpy as np

from . import dtypes
from .autodiff import (defbatch_elementwise, defjvp, defnondiff, defvjp, full_like,
                       is_float, move_batch_to_front, zeros_like_aval)
from .core import MathRoutine, Primitive, ShapedArray, get_aval
from .errors import DtypeError, ShapeError
from . import elementwise_math as _refs   # references for math NumPy lacks
# The erf_inv coefficients, shared with the compiled backends' body.
from .elementwise_math import ERF_INV64_A, ERF_INV64_B, ERF_INV64_C  # noqa: F401
from .rules import (as_function, check_kinds, defbroadcasting, defelementwise, defvectorized,
                    quiet, routine, same_shapes_and_dtypes, all_weak)

F, I, U, B, C = "f", "i", "u", "b", "c"
FC = F + C               # inexact: floats and complex numbers
NUM = F + I + U          # real numbers
NUMC = NUM + C           # numbers, complex included
INT = I + U              # integers
BITS = I + U + B         # integers and booleans

# --- how the transform rules are declared ---------------------------------------------------
# Rules call this module's plain functions (mul, cos, select, ...), which the loop at the end
# of the file creates; a rule looks them up when it runs, long after the module has loaded.
# Builtins named like primitives (abs, max, min, pow, round) are shadowed the same way, which
# is what the rules want.


def _diag(prim, *rules):
    """A differentiable elementwise primitive, one rule per operand (None: no derivative).

    `rule(g, ans, *operands, **params)` maps a tangent elementwise and linearly (g * f'(x), or a
    select of g): such a map is its own transpose, so the same rule gives the JVP (g a tangent)
    and the VJP (g a cotangent). Integer results get no tangent and integer operands no
    cotangent (`defjvp`/`defvjp` see to it).
    """
    defjvp(prim, *rules)
    defvjp(prim, *rules)
    defbatch_elementwise(prim)
    return prim


def _zero_derivative(prim):
    # Piecewise constant (floor, sign, ...): differentiable with a zero derivative, as in JAX.
    return _diag(prim, None)


def _nondiff(prim):
    defnondiff(prim)
    defbatch_elementwise(prim)
    return prim


def _c(x, value):
    return full_like(x, value)


def _intrinsic(name):
    # An LLVM intrinsic computes it for floats (llvm.floor): no math library call.
    return MathRoutine(name, intrinsic="llvm." + name)


# The shape and reduction modules are imported when a rule runs, not at the top: their own
# rules import this module.

def _broadcast(x, shape, dims):
    from .shape import broadcast_in_dim
    return broadcast_in_dim(x, shape=shape, broadcast_dimensions=dims)


def _sum_all(x):
    from .reduction import reduce_sum
    return reduce_sum(x, axes=tuple(range(get_aval(x).ndim)))

# --- unary ---------------------------------------------------------------------------------


def _round_away(x):
    # Half away from zero (lax.round's default), exact for every float, unlike floor(x + 0.5).
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def _round(x, rounding_method=0):
    return _round_away(x) if rounding_method == 0 else np.round(x)


def _sign(x):
    # XLA keeps the zero's sign (sign(-0.0) is -0.0); np.sign gives +0.0. A complex sign is
    # z / |z| (NumPy 2's definition, and XLA's).
    if x.dtype.kind == "c":
        a = np.abs(x)
        return np.where(a == 0, 0, x / np.where(a == 0, 1, a)).astype(x.dtype)
    return np.where(x == 0, x, np.sign(x)) if dtypes.kind(x.dtype) == "f" else np.sign(x)


neg_p = _diag(defvectorized("neg", np.negative, NUMC, cheap=True), lambda g, ans, x: neg(g))
# JAX's convention: d|x|/dx is 1 at x = 0 (and -0.0), not sign(0) = 0.
abs_p = defvectorized("abs", np.abs, NUMC, cheap=True, math=_intrinsic("fabs"))


def _abs_rule(x):
    check_kinds("abs", x, NUMC)
    # |z| of a complex number is real: complex64 -> float32, as NumPy and JAX.
    return ShapedArray(x.shape, dtypes.real_dtype(x.dtype), x.weak_type)


def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    ans = abs(x)
    if t is None or not is_float(ans):
        return ans, None
    if not dtypes.is_complex(get_aval(x).dtype):
        return ans, select(ge(x, _c(x, 0)), t, neg(t))
    # d|z| = Re(conj(z) dz) / |z|, and 0 at z == 0 (JAX's choice there).
    return ans, real(mul(_unit(x, ans), t))


def _abs_vjp(ct, ans, x):
    if not dtypes.is_complex(get_aval(x).dtype):
        return select(ge(x, _c(x, 0)), ct, neg(ct))
    # The transpose of t -> Re(u t) is c -> c * u (JAX's pairing Re(a b), no conjugation).
    return mul(complex(ct, zeros_like_aval(get_aval(ct))), _unit(x, ans))


def _unit(x, ans):
    """conj(z) / |z|, and 0 where z == 0."""
    zero = eq(ans, _c(ans, 0))
    safe = select(zero, _c(ans, 1), ans)
    u = div(conj(x), complex(safe, zeros_like_aval(get_aval(ans))))
    return select(zero, zeros_like_aval(get_aval(x)), u)


abs_p.abstract_eval = _abs_rule
abs_p.jvp = _abs_jvp
defvjp(abs_p, _abs_vjp)
defbatch_elementwise(abs_p)
sign_p = _zero_derivative(defvectorized("sign", _sign, NUMC, cheap=True))
floor_p = _zero_derivative(defvectorized("floor", np.floor, F, cheap=True,
                                         math=_intrinsic("floor")))
ceil_p = _zero_derivative(defvectorized("ceil", np.ceil, F, cheap=True, math=_intrinsic("ceil")))
round_p = _zero_derivative(defvectorized("round", _round, F, params=("rounding_method",)))
exp_p = _diag(defvectorized("exp", np.exp, FC, math="exp"), lambda g, ans, x: mul(g, ans))
exp2_p = _diag(defvectorized("exp2", np.exp2, FC, math="exp2"),
               lambda g, ans, x: mul(_c(x, np.log(2)), mul(g, ans)))
expm1_p = _diag(defvectorized("expm1", np.expm1, FC, math="expm1"),
                lambda g, ans, x: mul(g, add(ans, _c(ans, 1))))
log_p = _diag(defvectorized("log", np.log, FC, math="log"), lambda g, ans, x: div(g, x))
log1p_p = _diag(defvectorized("log1p", np.log1p, FC, math="log1p"),
                lambda g, ans, x: div(g, add(x, _c(x, 1))))
# At 0: g * 0.5 / 0 = inf, as JAX.
sqrt_p = _diag(defvectorized("sqrt", np.sqrt, FC, math=_intrinsic("sqrt")),
               lambda g, ans, x: mul(g, div(_c(x, 0.5), ans)))
rsqrt_p = _diag(defvectorized("rsqrt", lambda x: 1 / np.sqrt(x), FC),
                lambda g, ans, x: mul(g, mul(_c(x, -0.5), div(ans, x))))
cbrt_p = _diag(defvectorized("cbrt", np.cbrt, F, math="cbrt"),
               lambda g, ans, x: mul(g, mul(_c(x, 1 / 3), integer_pow(ans, y=-2))))
sin_p = _diag(defvectorized("sin", np.sin, FC, math=routine("sin", bounded_range=True)),
              lambda g, ans, x: mul(g, cos(x)))
cos_p = _diag(defvectorized("cos", np.cos, FC, math=routine("cos", bounded_range=True)),
              lambda g, ans, x: neg(mul(g, sin(x))))
tan_p = _diag(defvectorized("tan", np.tan, FC, math=routine("tan", bounded_range=True)),
              lambda g, ans, x: mul(g, add(_c(x, 1), mul(ans, ans))))
asin_p = _diag(defvectorized("asin", np.arcsin, F, math="asin"),
               lambda g, ans, x: mul(g, rsqrt(sub(_c(x, 1), mul(x, x)))))
acos_p = _diag(defvectorized("acos", np.arccos, F, math="acos"),
               lambda g, ans, x: neg(mul(g, rsqrt(sub(_c(x, 1), mul(x, x))))))
atan_p = _diag(defvectorized("atan", np.arctan, F, math="atan"),
               lambda g, ans, x: div(g, add(_c(x, 1), mul(x, x))))
sinh_p = _diag(defvectorized("sinh", np.sinh, FC, math="sinh"),
               lambda g, ans, x: mul(g, cosh(x)))
cosh_p = _diag(defvectorized("cosh", np.cosh, FC, math="cosh"),
               lambda g, ans, x: mul(g, sinh(x)))
tanh_p = _diag(defvectorized("tanh", np.tanh, FC, math="tanh"),
               lambda g, ans, x: mul(add(g, mul(g, ans)), sub(_c(x, 1), ans)))
asinh_p = _diag(defvectorized("asinh", np.arcsinh, F, math="asinh"),
                lambda g, ans, x: mul(g, rsqrt(add(mul(x, x), _c(x, 1)))))
acosh_p = _diag(defvectorized("acosh", np.arccosh, F, math="acosh"),
                lambda g, ans, x: mul(g, rsqrt(mul(sub(x, _c(x, 1)), add(x, _c(x, 1))))))
atanh_p = _diag(defvectorized("atanh", np.arctanh, F, math="atanh"),
                lambda g, ans, x: div(div(g, sub(_c(x, 1), x)), add(_c(x, 1), x)))
# Neither the C library nor libdevice has logistic: their exp composes it.
logistic_p = _diag(defvectorized("logistic", _refs.logistic, F,
                                 math=MathRoutine("logistic", from_exp=True)),
                   lambda g, ans, x: mul(g, mul(ans, sub(_c(ans, 1), ans))))
erf_p = _diag(defvectorized("erf", _refs.erf, F, math="erf"),
              lambda g, ans, x: mul(_c(x, 2 / np.sqrt(np.pi)), mul(g, exp(neg(mul(x, x))))))
# d/dx erf_inv(x) = sqrt(pi)/2 exp(erf_inv(x)^2).
# C has no erfinv (our body serves even with vectorized math off); libdevice has.
erf_inv_p = _diag(defvectorized("erf_inv", _refs.erf_inv, F,
                                math=routine("erf_inv", libm=None, libdevice="erfinv")),
                  lambda g, ans, x: mul(_c(x, math.sqrt(math.pi) / 2), mul(g, exp(mul(ans, ans)))))
is_finite_p = _nondiff(defvectorized("is_finite", np.isfinite, FC, out_dtype=dtypes.bool_))
not_p = _nondiff(defvectorized("not", np.invert, BITS, cheap=True))

# --- binary --------------------------------------------------------------------------------


def _int_div(a, b):
    # C semantics (truncate toward zero); x / 0 gives 0 rather than trapping.
    safe_b = np.where(b == 0, 1, b)
    q = np.floor_divide(a, safe_b)
    if a.dtype.kind == "i":
        q = np.where((q < 0) & (q * safe_b != a), q + 1, q)
    return np.where(b == 0, 0, q).astype(a.dtype)


def _div(a, b):
    return np.true_divide(a, b) if dtypes.kind(a.dtype) in "fc" else _int_div(a, b)


def _rem(a, b):
    if dtypes.kind(a.dtype) == "f":
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
    return np.power(a, b) if dtypes.kind(a.dtype) in "fc" else _int_pow(a, b)


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


def _rem_rhs(g, ans, x, y):
    # d fmod(x, y)/dy = -trunc(x / y), the quotient rounded toward zero.
    q = div(x, y)
    return mul(neg(g), mul(sign(q), floor(abs(q))))


def _pow_lhs(g, ans, x, y):
    # y * x**(y-1), with x**(y-1) taken as x**0 where y == 0, so the derivative there is 0
    # even at x == 0 (not 0 * inf).
    return mul(g, mul(y, pow(x, select(eq(y, _c(y, 0)), _c(y, 1), sub(y, _c(y, 1))))))


def _pow_rhs(g, ans, x, y):
    # log(x) * x**y, with log(1) standing in at x == 0: 0 there rather than -inf * 0 = nan.
    return mul(g, mul(log(select(eq(x, _c(x, 0)), _c(x, 1), x)), ans))


def _balanced_eq(x, ans, y):
    # 1 where x chose the result, 0 elsewhere, and 1/2 at ties: as JAX, ties split equally.
    return div(select(eq(x, ans), _c(ans, 1), _c(ans, 0)),
               select(eq(y, ans), _c(ans, 2), _c(ans, 1)))


def _atan2_lhs(g, ans, x, y):
    return mul(g, div(y, add(mul(x, x), mul(y, y))))


def _atan2_rhs(g, ans, x, y):
    return mul(g, div(neg(x), add(mul(x, x), mul(y, y))))


add_p = _diag(defbroadcasting("add", np.add, NUMC + B, cheap=True),
              lambda g, ans, x, y: g, lambda g, ans, x, y: g)
sub_p = _diag(defbroadcasting("sub", np.subtract, NUMC, cheap=True),
              lambda g, ans, x, y: g, lambda g, ans, x, y: neg(g))
mul_p = _diag(defbroadcasting("mul", np.multiply, NUMC + B, cheap=True),
              lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(x, g))
div_p = _diag(defbroadcasting("div", _div, NUMC), lambda g, ans, x, y: div(g, y),
              lambda g, ans, x, y: mul(mul(neg(g), x), integer_pow(y, y=-2)))
rem_p = _diag(defbroadcasting("rem", _rem, NUM), lambda g, ans, x, y: g, _rem_rhs)
pow_p = _diag(defbroadcasting("pow", _pow, NUMC, math="pow"), _pow_lhs, _pow_rhs)
max_p = _diag(defbroadcasting("max", np.maximum, NUMC + B, cheap=True),
              lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
              lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))
min_p = _diag(defbroadcasting("min", np.minimum, NUMC + B, cheap=True),
              lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
              lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))
atan2_p = _diag(defbroadcasting("atan2", np.arctan2, F, math="atan2"), _atan2_lhs, _atan2_rhs)
and_p = _nondiff(defbroadcasting("and", np.bitwise_and, BITS, cheap=True))
or_p = _nondiff(defbroadcasting("or", np.bitwise_or, BITS, cheap=True))
xor_p = _nondiff(defbroadcasting("xor", np.bitwise_xor, BITS, cheap=True))
# Shifts are cheap: a shift and a select for over-wide counts. Fusion recomputes them where
# used, so a hash of many rounds (threefry's rotations) stays one kernel.
shift_left_p = _nondiff(defbroadcasting("shift_left", _shift_left, INT, cheap=True))
shift_right_arithmetic_p = _nondiff(defbroadcasting("shift_right_arithmetic",
                                                    _shift_right_arithmetic, INT, cheap=True))
shift_right_logical_p = _nondiff(defbroadcasting("shift_right_logical", _shift_right_logical,
                                                 INT, cheap=True))

def _comparison(name, impl, symbol):
    # Complex numbers compare lexicographically (real part, then imaginary), as NumPy and JAX.
    return _nondiff(defbroadcasting(name, impl, NUMC + B, out_dtype=dtypes.bool_, cheap=True,
                                    comparison=symbol))


eq_p = _comparison("eq", np.equal, "==")
ne_p = _comparison("ne", np.not_equal, "!=")
lt_p = _comparison("lt", np.less, "<")
le_p = _comparison("le", np.less_equal, "<=")
gt_p = _comparison("gt", np.greater, ">")
ge_p = _comparison("ge", np.greater_equal, ">=")

# --- integer_pow: x ** n for a static int n (what `x ** 2` becomes) -------------------------

integer_pow_p = Primitive("integer_pow", "elementwise")


def _integer_pow_rule(x, *, y):
    check_kinds("integer_pow", x, NUMC)
    if not isinstance(y, int):
        raise TypeError(f"integer_pow: exponent must be a Python int, got {y!r}")
    if y < 0 and dtypes.kind(x.dtype) not in "fc":
        raise DtypeError(f"integer_pow: negative exponent {y} needs a floating-point base, "
                         f"got {x.str_short()}")
    return x


def _integer_pow_impl(x, *, y):
    if x.dtype == dtypes.bfloat16:
        return _square_and_multiply(x, y)
    if dtypes.kind(x.dtype) in "fc":
        return np.power(x, x.dtype.type(y))
    return _int_pow(x, np.full(x.shape, y, np.int64))


def _square_and_multiply(x, y):
    """x ** y as JAX lowers it for bfloat16: repeated squaring, each product (and the
    reciprocal of a negative power) rounded to bfloat16."""
    n, acc = abs(y), None
    while n:
        if n & 1:
            acc = x if acc is None else acc * x
        n >>= 1
        if n:
            x = x * x
    one = np.ones_like(x)
    acc = one if acc is None else acc
    return one / acc if y < 0 else acc


integer_pow_p.abstract_eval = _integer_pow_rule
integer_pow_p.impl = quiet(_integer_pow_impl)
defelementwise(integer_pow_p)
_diag(integer_pow_p, lambda g, ans, x, *, y:
      None if y == 0 else mul(g, mul(_c(x, y), integer_pow(x, y=y - 1))))

# --- select (clamp is in ops/clamp.py) ----------------------------------------------------------------------

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
defelementwise(select_p, cheap=True)


def _select_jvp(primals, tangents):
    pred, on_true, on_false = primals
    ans = select(pred, on_true, on_false)
    _, t_true, t_false = tangents
    if not is_float(ans) or (t_true is None and t_false is None):
        return ans, None
    # One select of both tangents, a zero standing in for a missing one.
    zero = zeros_like_aval(get_aval(ans))
    return ans, select(pred, zero if t_true is None else t_true,
                       zero if t_false is None else t_false)


# The cotangent goes to the chosen branch only: the other gets exact zeros, so a NaN or inf
# in the branch not taken never reaches the gradient (as long as its own derivative is finite).
select_p.jvp = _select_jvp
defvjp(select_p, None,
       lambda ct, ans, pred, t, f: select(pred, ct, zeros_like_aval(get_aval(t))),
       lambda ct, ans, pred, t, f: select(pred, zeros_like_aval(get_aval(f)), ct))
defbatch_elementwise(select_p)

# --- convert_element_type ------------------------------------------------------------------

convert_element_type_p = Primitive("convert_element_type", "elementwise")


def _convert_rule(x, *, new_dtype, weak_type=False):
    return ShapedArray(x.shape, dtypes.canonicalize(new_dtype, "convert_element_type"), weak_type)


def _convert_impl(x, *, new_dtype, weak_type=False):
    new_dtype = np.dtype(new_dtype)
    if new_dtype.kind == "b":
        return x != 0
    if x.dtype.kind == "c" and new_dtype.kind != "c":
        # Complex to real keeps the real part (XLA's conversion; NumPy's, without a warning).
        x = x.real
    if dtypes.kind(x.dtype) == "f" and new_dtype.kind in "iu":
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
defelementwise(convert_element_type_p, cheap=True)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False):
    ans = convert_element_type(primals[0], new_dtype=new_dtype, weak_type=weak_type)
    t = tangents[0]
    # To or from an integer or bool: no derivative (JAX's float0).
    if t is None or not is_float(ans):
        return ans, None
    return ans, convert_element_type(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_vjp(cts, ans, primals, *, new_dtype, weak_type=False):
    x = primals[0]
    if cts is None or not is_float(x) or dtypes.kind(new_dtype) not in "fc":
        return (None,)
    a = get_aval(x)
    return (convert_element_type(cts, new_dtype=a.dtype, weak_type=a.weak_type),)


convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.vjp = _convert_vjp
defbatch_elementwise(convert_element_type_p)

# --- bitcast_convert_type: reinterpret the bits (same item size) ----------------------------

bitcast_convert_type_p = Primitive("bitcast_convert_type", "elementwise")


def _bitcast_rule(x, *, new_dtype):
    new_dtype = dtypes.canonicalize(new_dtype, "bitcast_convert_type")
    if new_dtype.itemsize != x.dtype.itemsize or "b" in (new_dtype.kind, x.dtype.kind):
        raise DtypeError(f"bitcast_convert_type: cannot reinterpret {x.str_short()} as "
                         f"{new_dtype} (needs equal, non-bool item sizes)")
    return ShapedArray(x.shape, new_dtype, False)


bitcast_convert_type_p.abstract_eval = _bitcast_rule
# reshape: np.ascontiguousarray turns a 0-d array into a 1-d one.
bitcast_convert_type_p.impl = (
    lambda x, *, new_dtype: np.ascontiguousarray(x).view(new_dtype).reshape(x.shape))
defelementwise(bitcast_convert_type_p, cheap=True)
# As JAX: reinterpreted bits carry no derivative, even float to float.
_nondiff(bitcast_convert_type_p)

# --- iota ----------------------------------------------------------------------------------

iota_p = Primitive("iota", "elementwise")


def _iota_rule(*, dtype, shape, dimension):
    dtype = dtypes.canonicalize(dtype, "iota")
    if dtypes.kind(dtype) not in NUM:
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
# Not elementwise (no operands: its values are its positions); the kernel emitter computes it.
iota_p.positional = iota_p.keeps_positions = iota_p.cheap = True
iota_p.lowering = "kernel"
defnondiff(iota_p)
# No operands, so nothing is ever batched: the same iota serves every batch element.
iota_p.batch = lambda args, batched, size, **params: (iota(**params), False)

# The same op on the real and the imaginary part (see `Primitive.complex_parts`).
add_p.complex_parts = sub_p.complex_parts = neg_p.complex_parts = "parts"
select_p.complex_parts = "parts"

# --- plain functions that bind each primitive (used by rules and by jitcore.lax) ------------

# Keyword names get a trailing underscore: `and_`, `or_`, `not_`.
for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2] + ("_" if keyword.iskeyword(_name[:-2]) else "")] = as_function(_p)
del _name, _p

# The complex parts (`real`, `imag`, `conj`, `complex`) and `clamp` are defined beside this
# module and belong to its namespace too (abs's rules above call them). Imported last: their
# rules call this module's functions.
from .complex_elementwise import (complex, complex_p, conj, conj_p, imag,  # noqa: E402,F401
                                  imag_p, real, real_p)
from .clamp import clamp, clamp_p   # noqa: E402,F401
