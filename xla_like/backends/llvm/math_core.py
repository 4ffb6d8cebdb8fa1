"""The shared part of llvm_math: the IR emitter and the exp/log families, tanh and logistic
(which float32 evaluates natively), also used as building blocks by llvm_math's other functions.
See llvm_math's docstring for the conventions."""
from __future__ import annotations

import math

from llvmlite import ir

F32 = ir.FloatType()
F64 = ir.DoubleType()
INF = math.inf
NAN = math.nan

# -- constants (hex so the exact double is visible) ----------------------------------------------
_h = float.fromhex
_LOG2E = 1.4426950408889634
_LOG2E_LO = _h("0x1.777d0ffda0d24p-56")       # 1/ln2 - _LOG2E
LN2 = 0.6931471805599453
# ln2 = hi + lo with trailing zeros in hi, so k*hi is exact for the k the reductions produce
# (|k| < 2**11 for float64, < 2**9 for float32) even when fmuladd is not fused.
_LN2_HI = {64: _h("0x1.62e42feep-1"), 32: _h("0x1.62e4p-1")}
_LN2_LO = {64: _h("0x1.a39ef35793c76p-33"), 32: _h("0x1.7f7d1cp-20")}

# -- polynomial coefficients, lowest degree first (minimax, see llvm_math) -------------------------
# expm1(r) = r + r^2/2 + r^3 Q(r) on |r| <= ln2/2 (+5e-4); relative error 2^-59.1 / 2^-29.8.
_EXPM1_Q = {
    64: [0.16666666666666677, 0.041666666666666574, 0.008333333333322038, 0.0013888888888943247,
         0.00019841269885296147, 2.480158719738143e-05, 2.7557244895313996e-06,
         2.755738741404452e-07, 2.510883900180829e-08, 2.0878916282460276e-09],
    32: [0.1666666567325592, 0.041666481643915176, 0.008333420380949974, 0.0013933372683823109,
         0.0001982407848117873],
}
# log1p(f) = 2s + s R(z), s = f/(2+f), z = s^2 <= ((sqrt2-1)/(sqrt2+1))^2, R = z P(z);
# error of s R relative to 2s: 2^-56.3 / 2^-28.4.
_LOG_P = {
    64: [0.666666666666667, 0.3999999999983794, 0.28571428670297366, 0.2222220332196752,
         0.18183441613295404, 0.15314566141861358, 0.14811753678973802],
    32: [0.6666674017906189, 0.39977318048477173, 0.29926517605781555],
}
# -- the emitter ----------------------------------------------------------------------------------
class Emitter:
    """Builds straight-line IR for one float type; Python floats are accepted as constants."""

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type):
        self.b = builder
        self.ty = ty
        self.bits64 = isinstance(ty, ir.DoubleType)
        self.w = 64 if self.bits64 else 32
        self.ity = ir.IntType(self.w)
        self.mant = 52 if self.bits64 else 23
        self.bias = 1023 if self.bits64 else 127
        self.min_normal = 2.0 ** (1 - self.bias)

    # values
    def v(self, x):
        return ir.Constant(self.ty, float(x)) if isinstance(x, (int, float)) else x

    def i(self, n):
        return ir.Constant(self.ity, int(n))

    def add(self, a, b):
        return self.b.fadd(self.v(a), self.v(b))

    def sub(self, a, b):
        return self.b.fsub(self.v(a), self.v(b))

    def mul(self, a, b):
        return self.b.fmul(self.v(a), self.v(b))

    def div(self, a, b):
        return self.b.fdiv(self.v(a), self.v(b))

    def neg(self, a):
        return self.b.fneg(self.v(a))

    def _intr(self, name, *args):
        module = self.b.module
        full = f"llvm.{name}.{'f64' if self.bits64 else 'f32'}"
        fn = module.globals.get(full)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(self.ty, [self.ty] * len(args)), name=full)
        return self.b.call(fn, [self.v(a) for a in args])

    def mad(self, a, b, c):
        """a*b + c, fused where the target has FMA (callers never rely on the fusion)."""
        return self._intr("fmuladd", a, b, c)

    def fma(self, a, b, c):
        """a*b + c with one rounding (callers rely on it)."""
        return self._intr("fma", a, b, c)

    def fabs(self, a):
        return self._intr("fabs", a)

    def floor(self, a):
        return self._intr("floor", a)

    def rint(self, a):
        return self._intr("rint", a)

    def sqrt(self, a):
        return self._intr("sqrt", a)

    def copysign(self, mag, sgn):
        return self._intr("copysign", mag, sgn)

    def clamp(self, x, lo, hi):
        """x limited to [lo, hi], NaN (quiet or signaling) mapped to lo: keeps the integer
        conversions that follow defined."""
        x = self.sel(self.gt(x, lo), x, lo)
        return self.sel(self.lt(x, hi), x, hi)

    def poly(self, x, coeffs):
        acc = self.v(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.mad(acc, x, c)
        return acc

    # predicates (ordered: false when an operand is NaN)
    def cmp(self, op, a, b):
        return self.b.fcmp_ordered(op, self.v(a), self.v(b))

    def lt(self, a, b):
        return self.cmp("<", a, b)

    def le(self, a, b):
        return self.cmp("<=", a, b)

    def gt(self, a, b):
        return self.cmp(">", a, b)

    def ge(self, a, b):
        return self.cmp(">=", a, b)

    def eq(self, a, b):
        return self.cmp("==", a, b)

    def isnan(self, a):
        return self.b.fcmp_unordered("uno", a, a)

    def not_finite(self, a):
        """True for +-inf and NaN."""
        return self.b.fcmp_unordered(">=", self.fabs(a), self.v(INF))

    def signbit(self, a):
        return self.b.icmp_signed("<", self.bits(a), self.i(0))

    def and_(self, a, b):
        return self.b.and_(a, b)

    def or_(self, a, b):
        return self.b.or_(a, b)

    def sel(self, c, a, b):
        return self.b.select(c, self.v(a), self.v(b))

    # integer views
    def bits(self, a):
        return self.b.bitcast(a, self.ity)

    def from_bits(self, n):
        return self.b.bitcast(n, self.ty)

    def to_int(self, a):
        return self.b.fptosi(a, self.ity)

    def to_float(self, n):
        return self.b.sitofp(n, self.ty)

    def pow2i(self, k):
        """2**k for an integer k in the normal exponent range."""
        return self.from_bits(self.b.shl(self.b.add(k, self.i(self.bias)), self.i(self.mant)))

    def scale(self, p, k):
        """p * 2**k for |k| up to about twice the exponent range, rounding once (subnormals)."""
        k1 = self.b.ashr(k, self.i(1))
        k2 = self.b.sub(k, k1)
        return self.mul(self.mul(p, self.pow2i(k1)), self.pow2i(k2))


def widen(E, x):
    return E.b.fpext(x, F64)


# -- exp family -----------------------------------------------------------------------------------
def _exp_reduce(E, x, lo, hi):
    """x -> (k, r) with x = k ln2 + r, |r| <= ln2/2; x is clamped to [lo, hi] first."""
    xc = E.clamp(x, lo, hi)
    k = E.rint(E.mul(xc, _LOG2E))
    r = E.mad(k, -_LN2_HI[E.w], xc)
    r = E.mad(k, -_LN2_LO[E.w], r)
    return k, r


def _expm1_poly(E, r):
    q = E.poly(r, _EXPM1_Q[E.w])
    return E.mad(E.mul(r, r), E.mad(r, q, 0.5), r)


def _exp_range(E):
    # Beyond these exp is 0 / inf in the type; the clamp keeps k small enough for `scale`.
    return (-760.0, 720.0) if E.bits64 else (-110.0, 100.0)


def exp_scaled(E, x, shift=0):
    """exp(x) * 2**shift (shift in {0, -1}) without NaN handling."""
    k, r = _exp_reduce(E, x, *_exp_range(E))
    p = E.add(1.0, _expm1_poly(E, r))
    ki = E.to_int(k)
    if shift:
        ki = E.b.add(ki, E.i(shift))
    return E.scale(p, ki)


def exp(E, x):
    return E.sel(E.isnan(x), x, exp_scaled(E, x))


def exp2(E, x):
    lo, hi = (-1100.0, 1100.0) if E.bits64 else (-160.0, 160.0)
    xc = E.clamp(x, lo, hi)
    k = E.rint(xc)
    r = E.mul(E.sub(xc, k), LN2)  # |x - k| <= 1/2 exactly; the product's rounding is < 0.2 ULP
    p = E.add(1.0, _expm1_poly(E, r))
    return E.sel(E.isnan(x), x, E.scale(p, E.to_int(k)))


def expm1_core(E, x, clamped=False):
    """expm1(x) for non-NaN x (no signed-zero fix); `clamped`: the caller has already limited
    x to a range inside the clamp's (tanh), so the two selects are not emitted again."""
    if clamped:
        k = E.rint(E.mul(x, _LOG2E))
        r = E.mad(k, -_LN2_LO[E.w], E.mad(k, -_LN2_HI[E.w], x))
    else:
        lo, hi = (-40.0, 709.9) if E.bits64 else (-30.0, 89.0)
        k, r = _exp_reduce(E, x, lo, hi)
    em = _expm1_poly(E, r)
    # 2^k (1 + em) - 1 = 2 (s em + (s - 1/2)) with s = 2^(k-1): exact scalings, k=128 (f32) /
    # 1024 (f64) still has a normal s.
    s = E.pow2i(E.b.sub(E.to_int(k), E.i(1)))
    big = E.mul(2.0, E.mad(s, em, E.sub(s, 0.5)))
    return E.sel(E.eq(k, 0.0), em, big)


def expm1(E, x):
    res = E.sel(E.eq(x, 0.0), x, expm1_core(E, x))
    return E.sel(E.isnan(x), x, res)


# -- log family -----------------------------------------------------------------------------------
def _log_parts(E, u):
    """u > 0 finite -> (K, f, s, hfsq, R): u = 2^K (1+f), 1+f in [sqrt(1/2), sqrt(2)),
    log1p(f) = f - (hfsq - s (hfsq + R))."""
    sh = 54 if E.bits64 else 25
    tiny = E.lt(u, E.min_normal)
    us = E.sel(tiny, E.mul(u, 2.0 ** sh), u)
    n = E.bits(us)
    half_bits = 0x3FE6A09E667F3BCD if E.bits64 else 0x3F3504F3  # bits of sqrt(1/2)
    K = E.b.ashr(E.b.sub(n, E.i(half_bits)), E.i(E.mant))
    m = E.from_bits(E.b.sub(n, E.b.shl(K, E.i(E.mant))))
    Kf = E.sub(E.to_float(K), E.sel(tiny, float(sh), 0.0))
    f = E.sub(m, 1.0)
    s = E.div(f, E.add(f, 2.0))
    z = E.mul(s, s)
    R = E.mul(z, E.poly(z, _LOG_P[E.w]))
    hfsq = E.mul(E.mul(f, f), 0.5)
    return Kf, f, s, hfsq, R


def _log_specials(E, u, x, res):
    res = E.sel(E.eq(u, INF), INF, res)
    res = E.sel(E.eq(u, 0.0), -INF, res)
    res = E.sel(E.lt(u, 0.0), NAN, res)
    return E.sel(E.isnan(x), x, res)


def log(E, x):
    Kf, f, s, hfsq, R = _log_parts(E, x)
    t = E.mad(s, E.add(hfsq, R), E.mul(Kf, _LN2_LO[E.w]))
    res = E.mad(Kf, _LN2_HI[E.w], E.neg(E.sub(E.sub(hfsq, t), f)))
    return _log_specials(E, x, x, res)


def log2(E, x):
    Kf, f, s, hfsq, R = _log_parts(E, x)
    hi = E.sub(f, hfsq)  # log1p(f) = hi + lo; |hfsq| < |f| so the two-sum error is exact
    lo = E.add(E.sub(E.neg(hfsq), E.sub(hi, f)), E.mul(s, E.add(hfsq, R)))
    t = E.mad(lo, _LOG2E, E.mul(hi, _LOG2E_LO))
    res = E.add(Kf, E.mad(hi, _LOG2E, t))
    return _log_specials(E, x, x, res)


def log1p_core(E, x):
    """log1p(x) without special cases (u = 1 + x > 0 finite assumed)."""
    u = E.add(x, 1.0)
    Kf, f, s, hfsq, R = _log_parts(E, u)
    c = E.div(E.sub(x, E.sub(u, 1.0)), u)  # the rounding error of 1 + x, divided by u
    t = E.mad(s, E.add(hfsq, R), E.mad(Kf, _LN2_LO[E.w], c))
    return u, E.mad(Kf, _LN2_HI[E.w], E.neg(E.sub(E.sub(hfsq, t), f)))


def log1p(E, x):
    u, res = log1p_core(E, x)
    res = _log_specials(E, u, x, res)
    return E.sel(E.eq(x, 0.0), x, res)


# -- tanh, logistic -------------------------------------------------------------------------------
def tanh(E, x):
    # tanh|x| = expm1(2|x|) / (expm1(2|x|) + 2): one expm1 and one division. Exact at tiny x
    # (the quotient is 2x / 2); float32 measures <= 2 ULP (3 roundings of similar weight below
    # |x| = 0.6), where a polynomial below 0.625 plus 1 - 2/(e^2|x| + 1) above it measured 1
    # ULP but costs both branches on every element of a vectorized loop (~1/3 more work).
    # min(2|x|, 44) is in [0, 44] (NaN becomes 44; the result is patched below): inside
    # expm1's own clamp, which is therefore skipped.
    a2 = E.mul(E.fabs(x), 2.0)
    em = expm1_core(E, E.sel(E.lt(a2, 44.0), a2, 44.0), clamped=True)  # tanh(22) rounds to 1
    res = E.copysign(E.div(em, E.add(em, 2.0)), x)  # also keeps tanh(-0) = -0
    return E.sel(E.isnan(x), x, res)


def logistic(E, x):
    # e^-|x| = (p + lo) 2^k with p + lo more precise than the type: the quotient is then
    # rounded about once instead of inheriting exp's error.
    k, r = _exp_reduce(E, E.neg(E.fabs(x)), *_exp_range(E))
    em = _expm1_poly(E, r)
    p = E.add(1.0, em)
    ki = E.to_int(k)
    e, e_lo = E.scale(p, ki), E.scale(E.sub(em, E.sub(p, 1.0)), ki)
    d = E.add(e, 1.0)
    derr = E.add(E.add(E.sub(1.0, d), e), e_lo)  # 1 + e^-|x| = d + derr
    neg = E.lt(x, 0.0)
    q = E.div(E.sel(neg, e, 1.0), d)
    # (num + num_lo)/(d + derr) = q + (num_lo - q derr)/d to first order; 1/d is q or 1 - q
    inv_d = E.sel(neg, E.sub(1.0, q), q)
    res = E.mad(E.mad(E.neg(q), derr, E.sel(neg, e_lo, 0.0)), inv_d, q)
    return E.sel(E.isnan(x), x, res)


