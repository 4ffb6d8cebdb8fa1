"""bfloat16 in LLVM IR: its storage, its rounding, and which results need no rounding.

A bfloat16 is stored as an i16 (its 16 bits) and held in a float32 register whose low 16 bits
are zero (`emitter.storage_type` / `value_type`): loading is a shift, every op computes in
float32 and rounds its result to the nearest bfloat16 (`round_bf16`), as XLA's CPU code does,
and storing takes the upper half. Rounding is integer arithmetic on the float32 bits, which the
loop vectorizer turns into four AVX-512 instructions per 16 elements (a bit test, a blend of
two constants, an add, a mask).

Measured alternatives (Zen 4, `benchmarks/mixed_precision.py`), not used:
- AVX-512 BF16's `vcvtneps2bf16` at the store (LLVM's `fptrunc` to `bfloat`) treats subnormal
  inputs as zero; made exact (an `or` of the implicit bit under a mask and a masked
  subtraction afterwards) it runs no faster than the integer rounding, and it does not help
  the rounding between ops, which must give a float32 again;
- the shift-and-mask form (`bits + 0x7FFF + ((bits >> 16) & 1)`) costs five instructions and
  one more in the shift unit.

Rounding is skipped where it cannot change the value (`exact_result`, `is_exact`): the result
of neg, abs, sign, floor, ceil, round, max, min and rem of bfloat16 operands, a product by a
constant power of two of magnitude at least 1 (a quotient by one at most 1) and a sum with a
constant zero are bfloat16 numbers already; so is a value rounded before, or loaded (a
float32 widened from a bfloat16 and converted back is not rounded twice).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as ll

I16, I32 = ll.IntType(16), ll.IntType(32)
F32, F64 = ll.FloatType(), ll.DoubleType()

# Set on an LLVM value (an attribute of the Python object: per value, so no shared table and no
# lock) whose float32 is a bfloat16 number: rounding it again returns it.
_EXACT = "_jc_bf16_exact"


def _c(v):
    return ll.Constant(I32, v)


def mark_exact(v):
    """`v` (a float32 value holding a bfloat16 number), marked so `round_bf16` leaves it."""
    setattr(v, _EXACT, True)
    return v


def is_exact(v) -> bool:
    """Whether the float32 `v` is known to hold a bfloat16 number (marked, or a constant whose
    low 16 bits are zero)."""
    if getattr(v, _EXACT, False):
        return True
    if isinstance(v, ll.Constant) and v.type == F32 and isinstance(v.constant, float):
        return int(np.float32(v.constant).view(np.uint32)) & 0xFFFF == 0
    return False


def to_register(b: ll.IRBuilder, v):
    """A loaded bfloat16 (i16) as a float32: the upper half of its bits, exact."""
    return mark_exact(b.bitcast(b.shl(b.zext(v, I32), _c(16)), F32))


def to_memory(b: ll.IRBuilder, v):
    """A float32 holding a bfloat16 number as its 16 bits (the upper half)."""
    return b.trunc(b.lshr(b.bitcast(v, I32), _c(16)), I16)


def round_bf16(b: ll.IRBuilder, x, nan_checked=True):
    """The float32 (or float64, or float16) `x` rounded to the nearest bfloat16 (ties to even,
    subnormals kept), as a float32. NaN becomes the quiet NaN of its sign (ml_dtypes' and XLA's
    conversion); overflow gives inf. Integer arithmetic only, so loops over it vectorize.

    `nan_checked=False` leaves out the NaN test (3 more vector instructions): only for a NaN
    whose low 16 bits are zero (an operand's bfloat16 NaN passed through, or x86's and ARM's
    default NaN), which the rounding leaves a NaN of the same upper bits; any other payload
    could carry into the sign bit."""
    if is_exact(x):
        return x
    if x.type == F64:
        x = f64_to_f32_round_to_odd(b, x)   # 24 >= 2 * 8 + 2 bits: one correct rounding
    elif x.type != F32:
        x = b.fpext(x, F32)
    native = getattr(b, "native_round_bf16", None)   # a builder whose target converts itself
    if native is not None:
        return mark_exact(native(x))
    bits = b.bitcast(x, I32)
    # Round half to even: add 0x7FFF, or 0x8000 where the bit kept last is odd. A test and a
    # blend of two constants (2 instructions, no shift) rather than `(bits >> 16) & 1`.
    odd = b.icmp_unsigned("!=", b.and_(bits, _c(0x10000)), _c(0))
    up = b.add(bits, b.select(odd, _c(0x8000), _c(0x7FFF)))
    rounded = b.and_(up, _c(0xFFFF0000 - (1 << 32)))
    if nan_checked:
        nan = b.or_(b.and_(bits, _c(-(1 << 31))), _c(0x7FC00000))
        rounded = b.select(b.fcmp_unordered("uno", x, x), nan, rounded)
    return mark_exact(b.bitcast(rounded, F32))


def f64_to_f32_round_to_odd(b: ll.IRBuilder, x):
    """The float64 `x` as a float32, rounded to odd: a later rounding to a format of at most
    22 bits (float16, bfloat16) is then the correctly rounded one."""
    fabs = b.module.globals.get("llvm.fabs.f64")
    if fabs is None:
        fabs = ll.Function(b.module, ll.FunctionType(F64, [F64]), "llvm.fabs.f64")
    r = b.fptrunc(x, F32)
    back = b.fpext(r, F64)
    inexact = b.fcmp_ordered("!=", back, x)    # false for NaN and for exact results (inf too)
    away = b.fcmp_ordered(">", b.call(fabs, [back]), b.call(fabs, [x]))
    bits = b.bitcast(r, I32)
    toward_zero = b.select(away, b.sub(bits, _c(1)), bits)
    odd = b.or_(toward_zero, _c(1))
    return b.bitcast(b.select(inexact, odd, bits), F32)


# Ops whose float32 result on bfloat16 operands is a bfloat16 number (NaN included: they pass
# an operand's NaN through, or make the default NaN): rounding would not change it.
_EXACT_OPS = frozenset({"neg", "abs", "sign", "floor", "ceil", "round", "max", "min", "rem"})


def _power_of_two(v):
    """k where the constant `v` is +-2**k, else None."""
    if not isinstance(v, ll.Constant) or not isinstance(v.constant, float):
        return None
    c = float(v.constant)
    if c == 0 or not math.isfinite(c):
        return None
    m, e = math.frexp(abs(c))
    return e - 1 if m == 0.5 else None


def _is_zero(v):
    return isinstance(v, ll.Constant) and isinstance(v.constant, float) and v.constant == 0


def exact_result(op: str, args) -> bool:
    """Whether `op` on bfloat16 operands `args` (float32 values) gives a bfloat16 number, so
    its result needs no rounding. x * 2**k for k >= 0 is exact (it overflows to inf exactly
    where rounding would: bfloat16 and float32 share their exponent range), unlike k < 0,
    which can drop a subnormal's bits."""
    if op in _EXACT_OPS:
        return True
    if op == "mul":
        return any(k is not None and k >= 0 for k in map(_power_of_two, args))
    if op == "div":
        k = _power_of_two(args[1])
        return k is not None and k <= 0
    if op in ("add", "sub"):
        return _is_zero(args[0]) or _is_zero(args[1])   # x, or -x for 0 - x
    return False


class BFloatType(ll.Type):
    """LLVM's `bfloat` type, which llvmlite's IR builder lacks; only its name is needed (the
    CUDA backend's `cvt.rn.bf16.f32`, vectors of it as AVX512-BF16 intrinsic operands)."""

    def _to_string(self):
        return "bfloat"

    def __eq__(self, other):
        return isinstance(other, BFloatType)

    def __hash__(self):
        return hash("bfloat")


BFLOAT = BFloatType()
