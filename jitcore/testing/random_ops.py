"""The operations random programs are built from, written with `jitcore.numpy` and `lax`.

An `Op` is an elementwise function with the kinds of operands it accepts ("f" float, "i"
integer, "b" bool) and how exactly two correct backends agree on it (`approx`):

- None: bit for bit. IEEE arithmetic, sqrt, division, comparisons, conversions, integer ops and
  data movement are correctly rounded or exact, so any difference is a bug.
- "rel": within a few units in the last place of each result (exp, log, pow, ...).
- "unit": within a few units in the last place of 1 (bounded functions like sin, tanh, erf,
  whose results near a root are small but whose error is not).
- "abs_in": within the rounding of a sum of the operands' magnitudes (sums, means, matrix
  products, which a backend may reassociate); measured by running the op on the absolute
  values. Where that sum overflows, an order of the terms could too: unstable.
- "prod": products of many factors, within a unit in the last place per factor. Where the
  product of the factors above 1 overflows, or that of the nonzero ones below 1 underflows,
  a partial product could in some order: unstable.

`smooth` marks ops that `grad` programs use: differentiable almost everywhere, defined for
every real input (so a finite-difference check sees no NaN), with derivatives of moderate size
and few jumps (not floor: on a large, fast-moving argument its steps are finer than any
difference quotient, which then sees a slope where the derivative is 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np

from .. import lax
from .. import numpy as jnp
from .. import nn


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable
    kinds: str
    approx: str | None = None
    smooth: bool = False


def _trig(fn):
    # The backend's argument reduction is accurate below 2**53 only (documented in llvm_math):
    # larger arguments become infinities, whose sine and cosine are NaN on both sides.
    def trig(a):
        return fn(jnp.where(jnp.abs(a) < 2.0 ** 40, a, a * jnp.inf))
    return trig


# IEEE 754 leaves the sign of a NaN result unspecified (x86 makes -NaN, a math library +NaN):
# the sign-reading ops see NaNs as positive.
def _signbit(a):
    return jnp.signbit(a) & ~jnp.isnan(a)


def _copysign(a, b):
    return jnp.copysign(a, jnp.where(jnp.isnan(b), 1, b))


def _same_dtype(fn):
    # lax functions take operands of one dtype; jnp promotion happens only in jnp functions.
    return lambda a, b: fn(a, b.astype(a.dtype))


UNARY = [
    Op("sin", _trig(jnp.sin), "f", "unit", True),
    Op("cos", _trig(jnp.cos), "f", "unit", True),
    Op("tan", _trig(jnp.tan), "f", "rel"),
    Op("tanh", jnp.tanh, "f", "unit", True),
    Op("exp", jnp.exp, "f", "rel"),
    Op("exp_tanh", lambda a: jnp.exp(jnp.tanh(a) * 3), "f", "rel", True),
    Op("exp2", jnp.exp2, "f", "rel"),
    Op("expm1", jnp.expm1, "f", "rel"),
    Op("log", jnp.log, "f", "rel"),
    Op("log1p", jnp.log1p, "f", "rel"),
    Op("log1p_abs", lambda a: jnp.log1p(jnp.abs(a)), "f", "rel", True),
    Op("sqrt", jnp.sqrt, "f"),
    Op("sqrt_1p_sq", lambda a: jnp.sqrt(1 + a * a), "f", None, True),
    Op("rsqrt", lax.rsqrt, "f"),
    Op("cbrt", jnp.cbrt, "f", "rel"),
    Op("arcsin", jnp.arcsin, "f", "unit"),
    Op("arccos", jnp.arccos, "f", "unit"),
    Op("arctan", jnp.arctan, "f", "unit", True),
    Op("sinh", jnp.sinh, "f", "rel"),
    Op("cosh", jnp.cosh, "f", "rel"),
    Op("arcsinh", jnp.arcsinh, "f", "rel", True),
    Op("arccosh", jnp.arccosh, "f", "rel"),
    Op("arctanh", jnp.arctanh, "f", "rel"),
    Op("logistic", lax.logistic, "f", "unit", True),
    Op("erf", lax.erf, "f", "unit", True),
    Op("square", lambda a: a * a, "fi", None, True),
    Op("cube", lambda a: a ** 3, "fi", "rel", True),
    Op("reciprocal", lambda a: 1 / a, "f"),
    Op("abs", jnp.abs, "fi", None, True),
    Op("negative", jnp.negative, "fi", None, True),
    Op("floor", jnp.floor, "f"),
    Op("ceil", jnp.ceil, "f"),
    Op("round_away", lax.round, "f"),
    Op("round_even", jnp.round, "f"),
    Op("trunc", jnp.trunc, "f"),
    Op("sign", jnp.sign, "fi", None, True),
    Op("isfinite", jnp.isfinite, "f"),
    Op("isnan", jnp.isnan, "f"),
    Op("signbit", _signbit, "f"),
    Op("floordiv3", lambda a: a // 3, "i"),
    Op("mod5", lambda a: a % 5, "i"),
    Op("shr2", lambda a: a >> 2, "i"),
    Op("shl3", lambda a: a << 3, "i"),
    Op("invert", jnp.invert, "ib"),
    Op("clip", lambda a: jnp.clip(a, -7, 9), "fi", None, True),
    Op("logical_not", jnp.logical_not, "b"),
]

BINARY = [
    Op("add", jnp.add, "fib", None, True),
    Op("subtract", jnp.subtract, "fi", None, True),
    Op("multiply", jnp.multiply, "fib", None, True),
    Op("divide", jnp.divide, "f"),
    Op("div_safe", lambda a, b: a / (1 + jnp.abs(b)), "f", None, True),
    Op("maximum", jnp.maximum, "fib", None, True),
    Op("minimum", jnp.minimum, "fib", None, True),
    Op("fmax", jnp.fmax, "f"),
    Op("fmin", jnp.fmin, "f"),
    Op("power", jnp.power, "fi", "rel"),
    Op("arctan2", jnp.arctan2, "f", "unit"),
    Op("fmod", jnp.fmod, "fi"),
    Op("remainder", jnp.remainder, "fi"),
    Op("floor_divide", jnp.floor_divide, "fi"),
    Op("copysign", _copysign, "f"),
    Op("logaddexp", jnp.logaddexp, "f", "rel", True),
    Op("div_trunc", _same_dtype(lax.div), "i"),
    Op("rem_trunc", _same_dtype(lax.rem), "i"),
    Op("bitwise_and", jnp.bitwise_and, "ib"),
    Op("bitwise_or", jnp.bitwise_or, "ib"),
    Op("bitwise_xor", jnp.bitwise_xor, "ib"),
    Op("left_shift", jnp.left_shift, "i"),
    Op("right_shift", jnp.right_shift, "i"),
    Op("shift_right_logical", _same_dtype(lax.shift_right_logical), "i"),
    Op("logical_and", jnp.logical_and, "b"),
    Op("logical_xor", jnp.logical_xor, "b"),
]

COMPARE = [jnp.less, jnp.less_equal, jnp.greater, jnp.greater_equal, jnp.equal, jnp.not_equal]

# Reductions by operand kind: (name, function of (x, axis, keepdims), approx).
REDUCE = {
    "f": [("sum", jnp.sum, "abs_in"), ("max", jnp.max, None), ("min", jnp.min, None),
          ("mean", jnp.mean, "abs_in"), ("prod", jnp.prod, "prod"),
          ("logsumexp", lambda x, axis, keepdims: nn.logsumexp(x, axis=axis,
                                                               keepdims=keepdims), "rel"),
          ("any", jnp.any, None), ("all", jnp.all, None)],
    "i": [("sum", jnp.sum, None), ("max", jnp.max, None), ("min", jnp.min, None),
          ("prod", jnp.prod, None), ("any", jnp.any, None)],
    "b": [("any", jnp.any, None), ("all", jnp.all, None), ("sum", jnp.sum, None)],
}
SMOOTH_REDUCE = ("sum", "max", "min", "mean", "logsumexp")

CUMULATIVE = {"cumsum": ("abs_in", True), "cumprod": ("prod", False), "cummax": (None, True),
              "cummin": (None, False)}

CASTS = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint32", "bool"]


def kind(dtype) -> str:
    k = np.dtype(dtype).kind
    return "i" if k == "u" else k


def edge_values(dtype) -> np.ndarray:
    """Values where implementations most often part ways."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        info = ml_dtypes.finfo(dtype)   # NumPy's finfo knows no bfloat16
        tiny = float(info.smallest_subnormal)
        return np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, tiny, -tiny, tiny * 3,
                         float(info.smallest_normal), -float(info.smallest_normal) / 2, 1.0,
                         -1.0, 0.5, -2.5], dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        vals = [info.min, info.max, info.min + 1, info.max - 1, 0, 1, 2, info.max // 2 + 1]
        if dtype.kind == "i":
            vals += [-1, -2, -3]
        return np.array(vals, dtype)
    return np.array([True, False])
