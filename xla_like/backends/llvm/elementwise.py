"""LLVM IR for each elementwise primitive, on one element (values already loaded).

The primitives with `lowering == "element"` come here. Math functions and comparisons follow
from the primitive's traits (`math`: an LLVM intrinsic, or the backend's math provider called by
the routine's name; `comparison`: the relation); arithmetic and the special forms are written
out below. Float16 and bfloat16 arithmetic runs in float32 and rounds back after every op, as
NumPy's float16 ufuncs, ml_dtypes' bfloat16 ufuncs and XLA's CPU code do (a chain of bf16 ops
rounds after each, not once at the end). A bfloat16 value lives in a float32 register already
(`emitter.value_type`), so its ops are float32 ops followed by `round_bf16`, except where the
result is a bfloat16 number already (`half.exact_result`: neg, max, a product by 2, ...); float16
widens with `fpext` and narrows with `fptrunc`, which F16C hosts do a vector at a time.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops import dtypes as _dt
from ops.core import MATH_ROUTINES, PRIMITIVES

from . import half
from .emitter import (BF16, F16, F32, F64, I1, fp_cast, fp_to_int_sat, int_to_fp, intrinsic,
                      round_bf16, storage_type, to_memory, to_register, value_type)


def _intrinsic(b, name, v):
    return b.call(intrinsic(b.module, name, v.type, [v.type], [v.type]), [v])


def _widen(b, v):
    return b.fpext(v, F32) if v.type == F16 else v


def _narrow(b, v, t):
    return b.fptrunc(v, F16) if t == F16 and v.type != F16 else v


def emit(em, instr, args):
    b = em.b
    op = instr.opcode
    dt_in = instr.operands[0].shape.dtype if instr.operands else instr.shape.dtype
    out_dt = instr.shape.dtype
    kind = _dt.kind(dt_in)
    if kind == "f" and op not in _SPECIAL:
        t = args[0].type
        wide = [_widen(b, a) if a.type == F16 else a for a in args]
        r = _float_op(em, op, instr, wide)
        if r.type == I1 or _dt.kind(out_dt) != "f":
            return r
        if out_dt == BF16:
            if half.exact_result(op, wide):
                return half.mark_exact(r)   # a bfloat16 number already: nothing to round
            # Hardware arithmetic passes a bfloat16 operand's NaN through (low bits zero);
            # a math body's result is checked.
            math = PRIMITIVES[op].math
            hardware = math is None or MATH_ROUTINES[math].intrinsic is not None
            return round_bf16(b, r, nan_checked=not (hardware and em.nan_passes_through))
        return _narrow(b, r, t)
    handler = _SPECIAL.get(op)
    if handler is not None:
        return handler(em, instr, args)
    return _int_op(em, op, instr, args, dt_in)


# --- floats ----------------------------------------------------------------------------------

def _ties_to_second(fn, dtype) -> bool:
    """Which operand NumPy's maximum/minimum returns for equal operands (+0.0 vs -0.0): it
    differs by dtype (its SIMD loops return the second, its float16 loop the first)."""
    zero, neg_zero = np.zeros(32, dtype), np.full(32, -0.0, dtype)
    return bool(np.signbit(fn(zero, neg_zero))[0])


_TIES_TO_SECOND = {(name, np.dtype(dt)): _ties_to_second(fn, dt)
                   for name, fn in (("max", np.maximum), ("min", np.minimum))
                   for dt in (_dt.bfloat16, np.float16, np.float32, np.float64)}

def _float_op(em, op, instr, a):
    b = em.b
    x = a[0]
    t = x.type
    zero, one = ll.Constant(t, 0.0), ll.Constant(t, 1.0)
    dt = instr.operands[0].shape.dtype if instr.operands else instr.shape.dtype
    # A float16 result of several NumPy ufuncs is rounded to float16 after each of them;
    # bfloat16 computes the whole op in float32 and rounds once (`ops.rules`, as XLA does).
    half = dt == np.float16
    step = (lambda v: b.fpext(b.fptrunc(v, F16), F32)) if half else (lambda v: v)
    prim = PRIMITIVES[op]
    if prim.comparison is not None:
        # NumPy: NaN compares false, except `!=`, which is true (unordered-or-not-equal).
        if prim.comparison == "!=":
            return b.fcmp_unordered("!=", x, a[1])
        return b.fcmp_ordered(prim.comparison, x, a[1])
    if op == "add":
        return b.fadd(x, a[1])
    if op == "sub":
        return b.fsub(x, a[1])
    if op == "mul":
        return b.fmul(x, a[1])
    if op == "div":
        return b.fdiv(x, a[1])
    if op == "rem":
        return b.frem(x, a[1])
    if op == "neg":
        return b.fneg(x)
    routine = MATH_ROUTINES[prim.math] if prim.math is not None else None
    if routine is not None and routine.intrinsic is not None:
        return _intrinsic(b, routine.intrinsic, x)
    if op == "sign":
        pos = b.select(b.fcmp_ordered(">", x, zero), one, x)   # keeps 0, -0 and NaN
        return b.select(b.fcmp_ordered("<", x, zero), ll.Constant(t, -1.0), pos)
    if op == "round":
        name = "llvm.round" if instr.attrs.get("rounding_method", 0) == 0 else "llvm.roundeven"
        return _intrinsic(b, name, x)
    if op == "rsqrt":
        return b.fdiv(one, step(_intrinsic(b, "llvm.sqrt", x)))
    if op == "is_finite":
        return b.fcmp_ordered("<", _intrinsic(b, "llvm.fabs", x), ll.Constant(t, float("inf")))
    if op in ("max", "min"):
        # NumPy's maximum/minimum: NaN wins; on ties, the operand NumPy returns.
        y = a[1]
        strict = _TIES_TO_SECOND[(op, dt)]
        cmp = b.fcmp_ordered((">" if op == "max" else "<") + ("" if strict else "="), x, y)
        take_x = b.or_(cmp, b.fcmp_unordered("uno", x, x))
        return b.select(take_x, x, y)
    if op == "logistic" and dt == BF16:
        # XLA's expansion, each op rounded: 1 / (1 + exp(-x)) (the division rounds in `emit`).
        e = round_bf16(b, b.call(em.math("exp", t), [b.fneg(x)]))
        return b.fdiv(one, round_bf16(b, b.fadd(one, e)))
    if op == "logistic" and half:
        # The reference's formula, one float16 rounding per ufunc: e = exp(-|x|), then
        # 1 / (1 + e) or e / (1 + e).
        e = step(b.call(em.math("exp", t), [b.fneg(_intrinsic(b, "llvm.fabs", x))]))
        d = step(b.fadd(one, e))
        return b.select(b.fcmp_ordered(">=", x, zero), b.fdiv(one, d), b.fdiv(e, d))
    if routine is not None:
        if routine.in_float64 and t != F64:
            # The reference computes in float64 whatever the input, and rounds once.
            r = b.call(em.math(routine.name, F64), [b.fpext(x, F64)])
            return round_bf16(b, r) if dt == BF16 else fp_cast(b, r, t)
        return b.call(em.math(routine.name, t), a[:routine.args])
    if op == "integer_pow":
        # bfloat16: every product rounded, as JAX lowers integer_pow to a chain of multiplies.
        return _integer_pow(b, x, instr.attrs["y"], one,
                            (lambda v: round_bf16(b, v)) if dt == BF16 else None)
    raise NotImplementedError(f"no LLVM lowering for floating-point {op}")


def _integer_pow(b, x, y, one, rounded=None):
    """x ** y by repeated squaring, unrolled at compile time (y is static); `rounded`, when
    given, rounds every product and the reciprocal."""
    fmul = b.fmul if rounded is None else (lambda p, q: rounded(b.fmul(p, q)))
    mul = fmul if isinstance(x.type, (ll.HalfType, ll.FloatType, ll.DoubleType)) else b.mul
    n = abs(int(y))
    acc, base = None, x
    while n:
        if n & 1:
            acc = base if acc is None else mul(acc, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if acc is None:
        acc = one
    if y < 0:
        acc = b.fdiv(one, acc)
    return acc


# --- integers and booleans -------------------------------------------------------------------

def _int_op(em, op, instr, a, dt):
    b = em.b
    x = a[0]
    t = x.type
    signed = dt.kind == "i"
    zero = ll.Constant(t, 0)
    relation = PRIMITIVES[op].comparison
    if relation is not None:
        if dt.kind == "b" or not signed:
            return b.icmp_unsigned(relation, x, a[1])
        return b.icmp_signed(relation, x, a[1])
    if op == "add":
        return b.or_(x, a[1]) if t == I1 else b.add(x, a[1])
    if op == "sub":
        return b.sub(x, a[1])
    if op == "mul":
        return b.and_(x, a[1]) if t == I1 else b.mul(x, a[1])
    if op in ("div", "rem"):
        return _int_divrem(b, op, x, a[1], signed)
    if op in ("max", "min"):
        if t == I1:
            return b.or_(x, a[1]) if op == "max" else b.and_(x, a[1])
        cmp = (b.icmp_signed if signed else b.icmp_unsigned)(">=" if op == "max" else "<=",
                                                              x, a[1])
        return b.select(cmp, x, a[1])
    if op == "and":
        return b.and_(x, a[1])
    if op == "or":
        return b.or_(x, a[1])
    if op == "xor":
        return b.xor(x, a[1])
    if op == "not":
        return b.not_(x)
    if op == "neg":
        return b.neg(x)
    if op == "abs":
        return b.select(b.icmp_signed("<", x, zero), b.neg(x), x) if signed else x
    if op == "sign":
        if not signed:
            return b.zext(b.icmp_unsigned("!=", x, zero), t)
        pos = b.zext(b.icmp_signed(">", x, zero), t)
        return b.select(b.icmp_signed("<", x, zero), ll.Constant(t, -1), pos)
    if op in ("shift_left", "shift_right_logical", "shift_right_arithmetic"):
        return _shift(b, op, x, a[1], t, signed)
    if op == "integer_pow":
        return _integer_pow(b, x, instr.attrs["y"], ll.Constant(t, 1))
    if op == "pow":
        return _int_pow_loop(b, x, a[1], t, signed)
    raise NotImplementedError(f"no LLVM lowering for integer {op}")


def _int_divrem(b, op, x, y, signed):
    """C semantics without traps: x/0 = 0 and x%0 = 0, and MIN/-1 wraps to MIN (rem 0)."""
    t = x.type
    zero, one = ll.Constant(t, 0), ll.Constant(t, 1)
    is_zero = b.icmp_unsigned("==", y, zero)
    safe_y = b.select(is_zero, one, y)
    if signed:
        minus_one = b.icmp_signed("==", safe_y, ll.Constant(t, -1))
        safe_y = b.select(minus_one, one, safe_y)
        q = b.sdiv(x, safe_y) if op == "div" else b.srem(x, safe_y)
        if op == "div":
            q = b.select(minus_one, b.neg(x), q)
        else:
            q = b.select(minus_one, zero, q)
    else:
        q = b.udiv(x, safe_y) if op == "div" else b.urem(x, safe_y)
    return b.select(is_zero, zero, q)


def _shift(b, op, x, s, t, signed):
    bits = ll.Constant(t, t.width)
    over = b.icmp_unsigned(">=", s, bits)  # also catches negative shift counts
    safe = b.select(over, ll.Constant(t, 0), s)
    if op == "shift_left":
        return b.select(over, ll.Constant(t, 0), b.shl(x, safe))
    if op == "shift_right_logical":
        return b.select(over, ll.Constant(t, 0), b.lshr(x, safe))
    # An over-wide arithmetic shift shifts by width - 1 (the sign fill): for unsigned
    # types that leaves the top bit, as the reference's right_shift does.
    by = b.select(over, ll.Constant(t, t.width - 1), s)
    return b.ashr(x, by) if signed else b.lshr(x, by)


def _int_pow_loop(b, x, y, t, signed):
    """Integer x ** y with wrap-around; negative exponents give 0 unless |x| == 1."""
    fn_name = f"jc.ipow.{'s' if signed else 'u'}{t.width}"
    module = b.module
    fn = module.globals.get(fn_name)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(t, [t, t]), fn_name)
        fn.linkage = "internal"
        base, exp = fn.args
        entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
        fb = ll.IRBuilder(entry)
        one, zero = ll.Constant(t, 1), ll.Constant(t, 0)
        neg = fb.icmp_signed("<", exp, zero) if signed else ll.Constant(I1, 0)
        e0 = fb.select(neg, zero, exp)
        fb.branch(loop)
        lb = ll.IRBuilder(loop)
        acc = lb.phi(t)
        bb = lb.phi(t)
        e = lb.phi(t)
        odd = lb.icmp_unsigned("!=", lb.and_(e, one), zero)
        acc2 = lb.select(odd, lb.mul(acc, bb), acc)
        bb2 = lb.mul(bb, bb)
        e2 = lb.lshr(e, one)
        acc.add_incoming(one, entry)
        bb.add_incoming(base, entry)
        e.add_incoming(e0, entry)
        acc.add_incoming(acc2, loop)
        bb.add_incoming(bb2, loop)
        e.add_incoming(e2, loop)
        lb.cbranch(lb.icmp_unsigned("!=", e2, zero), loop, done)
        db = ll.IRBuilder(done)
        res = db.phi(t)
        res.add_incoming(acc2, loop)
        if signed:
            is_one = db.icmp_signed("==", base, one)
            is_m1 = db.icmp_signed("==", base, ll.Constant(t, -1))
            even = db.icmp_unsigned("==", db.and_(exp, one), zero)
            neg_res = db.select(is_one, one, db.select(is_m1, db.select(even, one,
                                                                        ll.Constant(t, -1)),
                                                       zero))
            db.ret(db.select(neg, neg_res, res))
        else:
            db.ret(res)
    return b.call(fn, [x, y])


# --- ops that are neither plain float nor plain int ------------------------------------------

def _select(em, instr, a):
    return em.b.select(a[0], a[1], a[2])


def _clamp(em, instr, a):
    lo, x, hi = a
    dt = instr.shape.dtype
    if _dt.kind(dt) == "f":
        b = em.b
        wide = [_widen(b, v) for v in (lo, x, hi)]
        m = _float_op(em, "max", instr, [wide[1], wide[0]])
        m = _float_op(em, "min", instr, [m, wide[2]])
        return _narrow(b, m, x.type)
    m = _int_op(em, "max", instr, [x, lo], dt)
    return _int_op(em, "min", instr, [m, hi], dt)


def _convert(em, instr, a):
    dst = instr.shape.dtype
    return convert_value(em.b, a[0], instr.operands[0].shape.dtype, dst, value_type(dst))


def convert_value(b, x, src, dst, t):
    """`x` (a `src` value) as `dst`, held in LLVM type `t` (which may be wider than `dst`'s own,
    as for float16 accumulators): NumPy's conversion rules, float->int saturating."""
    if src == BF16 or dst == BF16:
        return _convert_bf16(b, x, src, dst, t)
    if x.type == t and src.kind == dst.kind:
        return x
    if dst.kind == "b":
        if src.kind == "f":
            return b.fcmp_unordered("!=", x, ll.Constant(x.type, 0.0))
        return b.icmp_unsigned("!=", x, ll.Constant(x.type, 0)) if x.type != I1 else x
    if src.kind == "b":
        return int_to_fp(b, x, t, signed=False) if dst.kind == "f" else b.zext(x, t)
    if src.kind == "f" and dst.kind == "f":
        return fp_cast(b, x, t)
    if src.kind == "f":
        return fp_to_int_sat(b, x, t, signed=dst.kind == "i")
    if dst.kind == "f":
        return int_to_fp(b, x, t, signed=src.kind == "i")
    if t.width == x.type.width:
        return x
    if t.width < x.type.width:
        return b.trunc(x, t)
    return b.sext(x, t) if src.kind == "i" else b.zext(x, t)


def _convert_bf16(b, x, src, dst, t):
    """Conversions to or from bfloat16 (held in float32 registers). Into bfloat16: through
    float64 (exact for every float and for integers up to 2**53), then one rounding."""
    if dst == BF16:
        if src == BF16:
            return x
        if src.kind == "b" or src.kind in "iu":
            wide = int_to_fp(b, x, F64, signed=src.kind == "i")
        else:
            wide = x
        r = round_bf16(b, wide)
        return r if t == F32 else fp_cast(b, r, t)   # a wider accumulator holds it exactly
    # From bfloat16: a float32 value, converted as float32 would be.
    return convert_value(b, x, np.dtype(np.float32), dst, t)


def _bitcast(em, instr, a):
    src, dst = instr.operands[0].shape.dtype, instr.shape.dtype
    if BF16 in (src, dst):
        # The bits of a bfloat16 are its storage (i16), not its float32 register.
        v = to_memory(em.b, a[0], src) if src == BF16 else em.b.bitcast(a[0], storage_type(src))
        v = em.b.bitcast(v, storage_type(dst))
        return to_register(em.b, v, dst)
    return em.b.bitcast(a[0], value_type(instr.shape.dtype))


def _real(em, instr, args):
    return em.b.extract_value(args[0], 0)


def _imag(em, instr, args):
    return em.b.extract_value(args[0], 1)


def _complex(em, instr, args):
    # The one complex value a kernel computes: a pair assembled for storing (split_complex).
    pair = ll.Constant(storage_type(instr.shape.dtype), ll.Undefined)
    pair = em.b.insert_value(pair, args[0], 0)
    return em.b.insert_value(pair, args[1], 1)


_SPECIAL = {"select": _select, "clamp": _clamp, "convert_element_type": _convert,
            "bitcast_convert_type": _bitcast, "real": _real, "imag": _imag,
            "complex": _complex}
