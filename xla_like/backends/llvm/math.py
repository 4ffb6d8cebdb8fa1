"""Transcendental functions as plain LLVM arithmetic, so that loops calling them vectorize.

A scalar libm call (`call float @expf(float)`) stops the loop and SLP vectorizers. Each function
here is instead emitted as an `internal alwaysinline` LLVM function `jc.<name>.<f32|f64>` whose
body is straight-line code (no branches): fadd/fmul/fdiv, fcmp + select, bitcasts, integer shifts,
fpext/fptrunc and intrinsics with vector forms (llvm.fma, llvm.fmuladd, llvm.fabs, llvm.floor,
llvm.rint, llvm.sqrt, llvm.copysign). After inlining the vectorizer sees only vectorizable
instructions. No fast-math flags: NaN and inf follow the IEEE rules, special cases are patched
with selects, and results match NumPy's at NaN, +-inf, +-0 (sign included), overflow, underflow
(subnormal results are rounded once) and domain errors.

    math_function(module, name, ty) -> ir.Function   # defined once per module, then reused
    SUPPORTED                                         # every name math_function accepts
    LIBM_FLOAT64                                      # float64 names that call libm
    is_vectorizable(name, ty)                         # False exactly for those

Algorithms: range reduction (Cody-Waite, with double-double steps where cancellation needs them)
and a polynomial on the reduced interval. Coefficients are minimax fits made for this module
with a Remez exchange in 60-digit arithmetic (mpmath); each table notes its interval and error.

float32: exp, exp2, expm1, log, log2, log1p, tanh, logistic and erf compute in float32; sin and
cos reduce in float64 and evaluate float32 kernels; every other name evaluates its float64
algorithm on the widened argument and rounds once. All vectorize; all measure <= 1 ULP against
the float64 result rounded to float32, except tanh (<= 2 ULP: one expm1 and one division, for
speed) and erf (<= 1.5 ULP against the exact value: float32 polynomials at twice the width).
float64: everything is vectorized except pow, which calls libm's `pow` (resolved in-process by
MCJIT, since Python has libm loaded; a CUDA backend must map it to libdevice's __nv_pow). erf is
Cephes' rational approximations (XLA's float64 erf). All measure <= 2 ULP against a long double
reference (erf: against the C library's), except erf_inv: Giles' float64 polynomials, the
reference's starting point without its Newton step on erf, <= 4 ULP.

Range limit: sin/cos/tan reduce with pi/2 in three doubles (~160 bits); accurate for
|x| < 2**53 (~9e15) in both dtypes. Beyond that there is no Payne-Hanek reduction: sin and cos
return some value in [-1, 1] and tan some finite value, not the true result.
"""
from __future__ import annotations

from llvmlite import ir

from ops.elementwise import ERF_INV64_A, ERF_INV64_B, ERF_INV64_C

from .math_core import F32 as _F32, F64 as _F64, INF as _INF, LN2 as _LN2, NAN as _NAN
from .math_core import Emitter as _Emitter, widen as _widen
from .math_core import exp as _exp, exp2 as _exp2, exp_scaled as _exp_scaled
from .math_core import expm1 as _expm1, expm1_core as _expm1_core
from .math_core import log as _log, log1p as _log1p, log1p_core as _log1p_core, log2 as _log2
from .math_core import logistic as _logistic, tanh as _tanh

__all__ = ["SUPPORTED", "LIBM_FLOAT64", "math_function", "is_vectorizable"]

_UNARY = ("exp", "exp2", "expm1", "log", "log1p", "log2", "tanh", "logistic", "sin", "cos",
          "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "cbrt",
          "erf_inv")
_BINARY = ("atan2", "pow")  # atan2(y, x) as numpy.arctan2; pow(x, y) as numpy.power
SUPPORTED = frozenset(_UNARY + _BINARY)
# float64 names that call the C library (so a loop using them stays scalar).
LIBM_FLOAT64 = frozenset({"pow"})

_h = float.fromhex

# -- constants (hex so the exact double is visible) ----------------------------------------------
_PIO2 = (_h("0x1.921fb54442d18p+0"), _h("0x1.1a62633145c07p-54"), _h("-0x1.f1976b7ed8fbcp-110"))
_PI_HI, _PI_LO = _h("0x1.921fb54442d18p+1"), _h("0x1.1a62633145c07p-53")
_PIO4_HI, _PIO4_LO = _h("0x1.921fb54442d18p-1"), _h("0x1.1a62633145c07p-55")
_TWO_OVER_PI = (_h("0x1.45f306dc9c883p-1"), _h("-0x1.6b01ec5417056p-55"))
_ATAN_HALF = (_h("0x1.dac670561bb4fp-2"), _h("0x1.a2b7f222f65e2p-56"))
_ATAN_3HALF = (_h("0x1.f730bd281f69bp-1"), _h("0x1.007887af0cbbdp-56"))
_CBRT2, _CBRT4 = _h("0x1.428a2f98d728bp+0"), _h("0x1.965fea53d6e3dp+0")
_TRIG_MAX = 2.0 ** 53

# -- polynomial coefficients, lowest degree first ------------------------------------------------
# sin(r) = r + r^3 S(r^2) on |r| <= pi/4 (+0.1%); relative error 2^-57.2.
_SIN_S = [-0.16666666666666666, 0.00833333333333333, -0.00019841269841261225,
          2.7557319216112882e-06, -2.505210514501671e-08, 1.605837064011872e-10,
          -7.577958635934964e-13]
# cos(r) = 1 - r^2/2 + r^4 C(r^2) on |r| <= pi/4 (+0.1%); absolute error 2^-60.
_COS_C = [0.041666666666666664, -0.0013888888888887382, 2.4801587298744435e-05,
          -2.75573172606282e-07, 2.0876143942505783e-09, -1.138246418842121e-11]
# float32 kernels on |r| <= pi/4 (+1%): sin relative error 2^-28.1, cos absolute 2^-30.
_SIN_S32 = [-0.1666666716337204, 0.008333330042660236, -0.00019839256128761917,
            2.716592007345753e-06]
_COS_C32 = [0.0416666641831398, -0.0013888280373066664, 2.4542972823837772e-05]
# atan(t) = t + t^3 P(t^2) on |t| <= 7/16; relative error 2^-57.0.
_ATAN_P = [-0.3333333333333333, 0.1999999999999988, -0.1428571428563711, 0.11111111098799507,
           -0.09090908288769671, 0.07692280546359735, -0.06666124091426628, 0.05875480762719787,
           -0.052060004111475586, 0.04446413320366079, -0.0320517831697119,
           0.013705370964889952]
# asin(s) = s + s z R(z), z = s^2 <= 1/4; relative error 2^-57.9.
_ASIN_R = [0.16666666666666666, 0.07500000000000011, 0.04464285714276158, 0.030381944464226117,
           0.022372157499816307, 0.01735282858804388, 0.013963345341792622, 0.011573838725341491,
           0.009547496581364548, 0.009795473493128225, 0.0010844597004691348, 0.02460052156802142,
           -0.026639306073019127, 0.034333827274149596]
# float32 erf, evaluated in float32 (lowest degree first; every coefficient a float32):
# erf(x) = x (c0 + z P(z)), z = x^2, on |x| < 1, c0 = _ERF32_C0 + _ERF32_C0_LO; relative
# error 2^-29.6. erfc(x) = R(x - _ERF32_MID) on 1 <= x < 3.92 (above, erf rounds to +-1 in
# float32); absolute error 2^-27.2, a quarter of erf's ULP there (no exp: half the work of
# exp(-x^2) times a relative fit). Fitted (weighted least squares on Chebyshev nodes) for
# this use: they are not accurate enough for float64.
_ERF32_C0, _ERF32_C0_LO = 1.1283791065216064, 5.9205088831504327e-08
_ERF32_P = [-0.3761262595653534, 0.1128358542919159, -0.026853810995817184,
            0.005188327748328447, -0.0008010192541405559, 7.85385855124332e-05]
_ERF32_MID = 2.4600000381469727
_ERF32_R = [0.0005033534835092723, -0.0026562397833913565, 0.006534520536661148,
            -0.009832412004470825, 0.00991416722536087, -0.006799711380153894,
            0.0029372263234108686, -0.0004590617027133703, -0.0003559846372809261,
            0.00029940472450107336, -7.576050120405853e-05, -2.4626340746181086e-05,
            1.7306885638390668e-05, -1.0639957537250666e-07, -1.0908158856182126e-06]
_ERF32_ONE = 3.92
# Cephes (ndtr.c) float64 erf/erfc, lowest degree first: erf(x) = x T(x^2)/U(x^2) on |x| <= 1;
# erfc(x) = exp(-x^2) P(x)/Q(x) on 1 <= x <= 8 (erf uses it up to 6, where it rounds to 1).
_ERF_T64 = [5.55923013010394962768E4, 7.00332514112805075473E3, 2.23200534594684319226E3,
            9.00260197203842689217E1, 9.60497373987051638749E0]
_ERF_U64 = [4.92673942608635921086E4, 2.26290000613890934246E4, 4.59432382970980127987E3,
            5.21357949780152679795E2, 3.35617141647503099647E1, 1.0]
_ERFC_P64 = [5.57535335369399327526E2, 1.02755188689515710272E3, 9.34528527171957607540E2,
             5.26445194995477358631E2, 1.96520832956077098242E2, 4.86371970985681366614E1,
             7.46321056442269912687E0, 5.64189564831068821977E-1, 2.46196981473530512524E-10]
_ERFC_Q64 = [5.57535340817727675546E2, 1.65666309194161350182E3, 2.24633760818710981792E3,
             1.82390916687909736289E3, 9.75708501743205489753E2, 3.54937778887819891062E2,
             8.67072140885989742329E1, 1.32281951154744992508E1, 1.0]
# cbrt(m) on 1 <= m <= 2, relative error 2^-13.7 (starting point for Halley + Newton steps).
_CBRT_P = [0.5528233582275681, 0.5871144225792896, -0.16296976367245197, 0.023104984721718222]


# -- trigonometric -------------------------------------------------------------------------------
def _trig_quadrant(D, x):
    """(xs, k): xs is x with inf/NaN replaced by 0 (the caller patches those), k the integer
    nearest to xs 2/pi, from the product in double-double: rounding x*(2/pi) alone can miss it
    by ~|x| 2^-53, which would put large arguments outside the kernels' range."""
    xs = D.sel(D.lt(D.fabs(x), _INF), x, 0.0)
    ph = D.mul(xs, _TWO_OVER_PI[0])
    pl = D.mad(xs, _TWO_OVER_PI[1], D.fma(xs, _TWO_OVER_PI[0], D.neg(ph)))
    k = D.rint(ph)
    delta = D.add(D.sub(ph, k), pl)
    k = D.add(k, D.sub(D.sel(D.gt(delta, 0.5), 1.0, 0.0), D.sel(D.lt(delta, -0.5), 1.0, 0.0)))
    return xs, k


def _quadrant_bits(D, k):
    return D.to_int(D.sub(k, D.mul(D.floor(D.mul(k, 0.25)), 4.0)))


def _trig_reduce(D, x):
    """x -> (rh, rl, q): x = (q + 4n) pi/2 + rh + rl, |rh| <~ pi/4, in double-double."""
    xs, k = _trig_quadrant(D, x)
    t1 = D.fma(D.neg(k), _PIO2[0], xs)  # exact: a multiple of 2^-52 below 2 in magnitude
    ph = D.mul(k, _PIO2[1])
    pl = D.fma(k, _PIO2[1], D.neg(ph))
    rh = D.sub(t1, ph)
    bb = D.sub(rh, t1)  # two-sum error of t1 - ph
    e1 = D.add(D.sub(t1, D.sub(rh, bb)), D.sub(D.neg(ph), bb))
    rl = D.fma(D.neg(k), _PIO2[2], D.sub(e1, pl))
    r = D.add(rh, rl)
    rl = D.sub(rl, D.sub(r, rh))
    huge = D.gt(D.fabs(xs), _TRIG_MAX)  # no accurate reduction: keep the result bounded
    r = D.sel(huge, D.clamp(r, -_PIO4_HI, _PIO4_HI), r)
    rl = D.sel(huge, 0.0, rl)
    return r, rl, _quadrant_bits(D, k)


def _trig_reduce_f32(D, x):
    """For float32 x (widened): (r, q) with r in double, accurate to far below float32's ULP."""
    xs, k = _trig_quadrant(D, x)
    r = D.fma(D.neg(k), _PIO2[0], xs)  # exact, as above
    r = D.fma(D.neg(k), _PIO2[1], r)
    r = D.fma(D.neg(k), _PIO2[2], r)
    r = D.sel(D.gt(D.fabs(xs), _TRIG_MAX), D.clamp(r, -_PIO4_HI, _PIO4_HI), r)
    return r, _quadrant_bits(D, k)


def _sin_kernel(D, x, y):
    """sin(x + y) for |x| <= pi/4, |y| tiny."""
    z = D.mul(x, x)
    v = D.mul(z, x)
    r = D.poly(z, _SIN_S[1:])
    inner = D.sub(D.mul(z, D.sub(D.mul(y, 0.5), D.mul(v, r))), y)
    return D.sub(x, D.sub(inner, D.mul(v, _SIN_S[0])))


def _cos_kernel(D, x, y):
    """cos(x + y) for |x| <= pi/4, |y| tiny; 1 - z/2 is compensated."""
    z = D.mul(x, x)
    r = D.mul(z, D.poly(z, _COS_C))
    hz = D.mul(z, 0.5)
    w = D.sub(1.0, hz)
    return D.add(w, D.add(D.sub(D.sub(1.0, w), hz), D.sub(D.mul(z, r), D.mul(x, y))))


def _trig(E, x, which):
    D = _Emitter(E.b, _F64)
    xd = x if E.bits64 else _widen(E, x)
    if E.bits64 or which == "tan":
        r, rl, q = _trig_reduce(D, xd)
        s, c = _sin_kernel(D, r, rl), _cos_kernel(D, r, rl)
        K = D
    else:  # reduce in float64, evaluate the kernels in float32 (twice the lanes)
        rd, q = _trig_reduce_f32(D, xd)
        r = E.b.fptrunc(rd, _F32)
        rl = E.b.fptrunc(D.sub(rd, E.b.fpext(r, _F64)), _F32)  # r + rl = rd to 48 bits
        z = E.mul(r, r)
        s = E.add(r, E.mad(E.mul(r, z), E.poly(z, _SIN_S32), rl))
        hz = E.mul(z, 0.5)
        w = E.sub(1.0, hz)  # 1 - z/2 compensated: (1 - w) - hz is exact
        tail = E.mad(E.mul(z, z), E.poly(z, _COS_C32), E.neg(E.mul(r, rl)))
        c = E.add(w, E.add(E.sub(E.sub(1.0, w), hz), tail))
        K = E
    odd = E.b.icmp_signed("!=", E.b.and_(q, D.i(1)), D.i(0))
    if which == "tan":
        res = K.sel(odd, K.neg(K.div(c, s)), K.div(s, c))
    else:
        if which == "sin":
            val, flip = K.sel(odd, c, s), q
        else:
            val, flip = K.sel(odd, s, c), E.b.add(q, D.i(1))
        negate = E.b.icmp_signed("!=", E.b.and_(flip, D.i(2)), D.i(0))
        res = K.sel(negate, K.neg(val), val)
    if K is D and not E.bits64:
        res = E.b.fptrunc(res, _F32)
    if which != "cos":
        res = E.sel(E.eq(x, 0.0), x, res)  # keeps the sign of zero
    return E.sel(E.not_finite(x), E.sub(x, x), res)


def _sin(E, x):
    return _trig(E, x, "sin")


def _cos(E, x):
    return _trig(E, x, "cos")


def _tan(E, x):
    return _trig(E, x, "tan")


def _atan_pos(D, a):
    """atan(a) for a >= 0 (inf allowed, NaN propagates): reduce around 0, 1/2, 1, 3/2, inf."""
    r1, r2, r3, r4 = (D.ge(a, c) for c in (7 / 16, 11 / 16, 19 / 16, 39 / 16))
    num = D.sel(r4, -1.0, D.sel(r3, D.sub(a, 1.5), D.sel(r2, D.sub(a, 1.0),
                D.sel(r1, D.sub(D.mul(a, 2.0), 1.0), a))))
    den = D.sel(r4, a, D.sel(r3, D.mad(a, 1.5, 1.0), D.sel(r2, D.add(a, 1.0),
                D.sel(r1, D.add(a, 2.0), 1.0))))
    hi = D.sel(r4, _PIO2[0], D.sel(r3, _ATAN_3HALF[0], D.sel(r2, _PIO4_HI,
               D.sel(r1, _ATAN_HALF[0], 0.0))))
    lo = D.sel(r4, _PIO2[1], D.sel(r3, _ATAN_3HALF[1], D.sel(r2, _PIO4_LO,
               D.sel(r1, _ATAN_HALF[1], 0.0))))
    t = D.div(num, den)
    z = D.mul(t, t)
    p = D.mul(D.mul(t, z), D.poly(z, _ATAN_P))
    return D.add(hi, D.add(t, D.add(p, lo)))


def _via_f64(fn):
    """Run a float64 algorithm for a float32 function: widen, compute, round once."""
    def emit(E, *args):
        if E.bits64:
            return fn(E, *args)
        D = _Emitter(E.b, _F64)
        return E.b.fptrunc(fn(D, *(_widen(E, a) for a in args)), _F32)
    return emit


@_via_f64
def _atan(D, x):
    return D.copysign(_atan_pos(D, D.fabs(x)), x)


@_via_f64
def _atan2(D, y, x):
    ax, ay = D.fabs(x), D.fabs(y)
    th = _atan_pos(D, D.div(ay, ax))
    both_zero = D.and_(D.eq(ax, 0.0), D.eq(ay, 0.0))
    both_inf = D.and_(D.eq(ax, _INF), D.eq(ay, _INF))
    th = D.sel(both_zero, 0.0, D.sel(both_inf, _PIO4_HI, th))
    th = D.sel(D.signbit(x), D.add(D.sub(_PI_HI, th), _PI_LO), th)
    return D.copysign(th, y)


def _asin_parts(D, a):
    """For 0 <= a <= 1: (small, q, w) with asin(a) = q if small else pi/2 - 2 w."""
    small = D.le(a, 0.5)
    z = D.sel(small, D.mul(a, a), D.mul(D.sub(1.0, a), 0.5))
    s = D.sel(small, a, D.sqrt(z))
    zr = D.mul(D.mul(s, z), D.poly(z, _ASIN_R))
    # sqrt(z) = s + c to second order; s = 0 only when z = 0
    c = D.div(D.fma(D.neg(s), s, z), D.mul(s, 2.0))
    c = D.sel(D.eq(s, 0.0), 0.0, c)
    q = D.add(s, zr)  # asin(a) for small a
    w = D.add(s, D.add(c, zr))  # asin(sqrt(z)) otherwise
    return small, q, w, s, c, zr


@_via_f64
def _asin(D, x):
    a = D.fabs(x)
    small, q, w, s, c, zr = _asin_parts(D, a)
    # pi/2 - 2w with the large parts combined exactly (two-sum)
    s2 = D.mul(s, 2.0)
    hi = D.sub(_PIO2[0], s2)
    err = D.sub(D.sub(_PIO2[0], hi), s2)
    big = D.add(hi, D.sub(D.add(err, _PIO2[1]), D.mul(D.add(c, zr), 2.0)))
    res = D.copysign(D.sel(small, q, big), x)
    return D.sel(D.gt(a, 1.0), _NAN, res)


@_via_f64
def _acos(D, x):
    a = D.fabs(x)
    small, q, w, s, c, zr = _asin_parts(D, a)
    mid = D.sub(_PIO2[0], D.sub(D.copysign(q, x), _PIO2[1]))
    pos = D.mul(w, 2.0)
    negv = D.sub(_PI_HI, D.sub(D.mul(w, 2.0), _PI_LO))
    res = D.sel(small, mid, D.sel(D.lt(x, 0.0), negv, pos))
    return D.sel(D.gt(a, 1.0), _NAN, res)


# -- hyperbolic and inverse hyperbolic (float64 arithmetic) ---------------------------------------
@_via_f64
def _sinh(D, x):
    a = D.fabs(x)
    t = _expm1_core(D, D.clamp(a, 0.0, 1.0))
    small = D.mul(D.sub(D.mul(t, 2.0), D.div(D.mul(t, t), D.add(t, 1.0))), 0.5)
    h = _exp_scaled(D, a, -1)  # e^a / 2, finite up to the true overflow threshold
    res = D.copysign(D.sel(D.lt(a, 1.0), small, D.sub(h, D.div(0.25, h))), x)
    res = D.sel(D.eq(x, 0.0), x, res)
    return D.sel(D.isnan(x), x, res)


@_via_f64
def _cosh(D, x):
    h = _exp_scaled(D, D.fabs(x), -1)
    return D.sel(D.isnan(x), x, D.add(h, D.div(0.25, h)))


def _log1p_plus(D, arg, add_ln2):
    """log1p(arg) (+ ln2 where add_ln2) for arg >= 0 or inf."""
    _, res = _log1p_core(D, arg)
    res = D.sel(D.eq(arg, _INF), _INF, res)
    return D.sel(add_ln2, D.add(res, _LN2), res)


@_via_f64
def _asinh(D, x):
    a = D.fabs(x)
    big = D.gt(a, 2.0 ** 28)
    a2 = D.mul(a, a)
    sq = D.sqrt(D.add(a2, 1.0))
    small_arg = D.add(a, D.div(a2, D.add(sq, 1.0)))  # log1p form: no cancellation near 0
    mid_arg = D.sub(D.add(D.mul(a, 2.0), D.div(1.0, D.add(sq, a))), 1.0)
    arg = D.sel(D.le(a, 2.0), small_arg, D.sel(big, D.sub(a, 1.0), mid_arg))
    res = D.copysign(_log1p_plus(D, arg, big), x)
    res = D.sel(D.eq(x, 0.0), x, res)
    return D.sel(D.isnan(x), x, res)


@_via_f64
def _acosh(D, x):
    big = D.gt(x, 2.0 ** 28)
    t = D.sub(x, 1.0)
    small_arg = D.add(t, D.sqrt(D.mad(t, t, D.mul(t, 2.0))))
    mid_arg = D.sub(D.sub(D.mul(x, 2.0), D.div(1.0, D.add(x, D.sqrt(D.mad(x, x, -1.0))))), 1.0)
    arg = D.sel(D.le(x, 2.0), small_arg, D.sel(big, t, mid_arg))
    res = _log1p_plus(D, arg, big)
    res = D.sel(D.lt(x, 1.0), _NAN, res)
    return D.sel(D.isnan(x), x, res)


@_via_f64
def _atanh(D, x):
    a = D.fabs(x)
    t = D.add(a, a)
    one_minus = D.sub(1.0, a)
    arg = D.sel(D.lt(a, 0.5), D.add(t, D.div(D.mul(t, a), one_minus)), D.div(t, one_minus))
    _, lp = _log1p_core(D, arg)
    res = D.mul(lp, 0.5)
    res = D.sel(D.eq(a, 1.0), _INF, res)
    res = D.copysign(res, x)
    res = D.sel(D.eq(x, 0.0), x, res)
    res = D.sel(D.gt(a, 1.0), _NAN, res)
    return D.sel(D.isnan(x), x, res)


# -- erf, cbrt, pow -------------------------------------------------------------------------------
def _libm(E, cname, *args):
    module = E.b.module
    fn = module.globals.get(cname)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(E.ty, [E.ty] * len(args)), name=cname)
    return E.b.call(fn, list(args))


def _erf64(D, x):
    """Cephes' erf: x T(x^2)/U(x^2) below 1, else 1 - erfc with erfc = exp(-x^2) P(|x|)/Q(|x|)
    (the tables XLA's float64 erf uses). exp(-x^2) takes x^2 as an exact sum hi + lo (fma), so
    its argument carries no rounding error; above 6 erf rounds to +-1."""
    a = D.fabs(x)
    z = D.mul(a, a)
    small = D.mul(a, D.div(D.poly(z, _ERF_T64), D.poly(z, _ERF_U64)))
    lo = D.fma(a, a, D.neg(z))
    e = D.mul(_exp_scaled(D, D.neg(D.sel(D.lt(a, 6.0), z, 36.0))), D.sub(1.0, lo))
    erfc = D.mul(e, D.div(D.poly(a, _ERFC_P64), D.poly(a, _ERFC_Q64)))
    res = D.sel(D.lt(a, 1.0), small, D.sel(D.lt(a, 6.0), D.sub(1.0, erfc), 1.0))
    res = D.copysign(res, x)  # keeps erf(-0) = -0
    return D.sel(D.isnan(x), x, res)


def _erf(E, x):
    """float64: Cephes (`_erf64`). float32: in float32 throughout, so it vectorizes at the
    float32 width (XLA's float32 erf is also a float32 rational clamped at ~3.8, to ~5 ULP;
    this one measures <= 1.3 ULP against scipy's float64 erf): x (c0 + z P(z)) below 1,
    with c0 split in two so the leading term is one correctly rounded fma; 1 - erfc from 1
    to 3.92, erfc a polynomial (its absolute error is what 1 - erfc sees); then +-1."""
    if E.bits64:
        return _erf64(E, x)
    a = E.fabs(x)
    z = E.mul(a, a)
    tail = E.mul(a, E.add(E.mul(z, E.poly(z, _ERF32_P)), _ERF32_C0_LO))
    small = E.fma(a, _ERF32_C0, tail)
    big = E.sub(1.0, E.poly(E.sub(a, _ERF32_MID), _ERF32_R))
    res = E.sel(E.lt(a, 1.0), small, E.sel(E.lt(a, _ERF32_ONE), big, 1.0))
    return E.sel(E.isnan(x), x, E.copysign(res, x))   # keeps erf(-0) = -0


@_via_f64
def _cbrt(D, x):
    a = D.fabs(x)
    tiny = D.lt(a, D.min_normal)
    n = D.bits(D.sel(tiny, D.mul(a, 2.0 ** 54), a))
    e = D.b.sub(D.b.ashr(n, D.i(52)), D.i(1023))
    m = D.from_bits(D.b.or_(D.b.and_(n, D.i((1 << 52) - 1)), D.i(1023 << 52)))
    ep = D.b.add(e, D.i(3 * 400))  # nonnegative, so the division rounds down
    q3 = D.b.sdiv(ep, D.i(3))
    rem = D.b.sub(ep, D.b.mul(q3, D.i(3)))
    r1 = D.b.icmp_signed("==", rem, D.i(1))
    r2 = D.b.icmp_signed("==", rem, D.i(2))
    v = D.mul(m, D.sel(r1, 2.0, D.sel(r2, 4.0, 1.0)))  # cbrt(a) = cbrt(v) 2^(q3 - 400)
    y = D.mul(D.poly(m, _CBRT_P), D.sel(r1, _CBRT2, D.sel(r2, _CBRT4, 1.0)))
    y3 = D.mul(D.mul(y, y), y)
    y = D.mul(y, D.div(D.add(y3, D.mul(v, 2.0)), D.add(D.mul(y3, 2.0), v)))  # Halley
    y2 = D.mul(y, y)
    y3_err = D.fma(y2, y, D.neg(v))  # y^3 - v, small
    y = D.sub(y, D.div(y3_err, D.mul(y2, 3.0)))  # Newton, applied as a small correction
    k = D.b.sub(q3, D.i(400))
    k = D.b.sub(k, D.b.select(tiny, D.i(18), D.i(0)))
    res = D.copysign(D.mul(y, D.pow2i(k)), x)
    ok = D.and_(D.gt(a, 0.0), D.lt(a, _INF))
    return D.sel(ok, res, x)


def _pow(E, x, y):
    if E.bits64:
        return _libm(E, "pow", x, y)
    D = _Emitter(E.b, _F64)
    xd, yd = _widen(E, x), _widen(E, y)
    r = _exp2(D, D.mul(yd, _log2(D, D.fabs(xd))))  # float64 log2/exp2: far below float32 ULP
    yint = D.eq(D.floor(yd), yd)  # true for +-inf
    hy = D.mul(yd, 0.5)
    yodd = D.and_(yint, D.b.fcmp_ordered("!=", D.floor(hy), hy))
    res = D.sel(yodd, D.copysign(r, xd), r)
    neg_finite = D.and_(D.lt(xd, 0.0), D.gt(xd, -_INF))
    res = D.sel(D.and_(neg_finite, D.b.not_(yint)), _NAN, res)
    res = D.sel(D.and_(D.eq(xd, -1.0), D.eq(D.fabs(yd), _INF)), 1.0, res)
    res = D.sel(D.or_(D.eq(yd, 0.0), D.eq(xd, 1.0)), 1.0, res)
    return E.b.fptrunc(res, _F32)


@_via_f64
def _erf_inv(D, x):
    a = D.fabs(x)
    # w = -log(1 - a^2), with (1 - a) exact for a >= 1/2, where 1 - a^2 would cancel.
    w = D.neg(_log(D, D.mul(D.sub(1.0, a), D.add(1.0, a))))
    sw = D.sqrt(D.sel(D.lt(w, 6.25), 6.25, w))
    # Giles' tables are highest degree first; D.poly takes the lowest first.
    p = D.sel(D.lt(w, 6.25), D.poly(D.sub(w, 3.125), ERF_INV64_A[::-1]),
              D.sel(D.lt(w, 16.0), D.poly(D.sub(sw, 3.25), ERF_INV64_B[::-1]),
                    D.poly(D.sub(sw, 5.0), ERF_INV64_C[::-1])))
    y = D.sel(D.eq(a, 1.0), _INF, D.mul(p, a))
    y = D.sel(D.gt(a, 1.0), _NAN, y)
    return D.copysign(y, x)  # keeps -0.0; NaN stays NaN through the arithmetic


# -- public API -----------------------------------------------------------------------------------
_IMPLS = {
    "exp": _exp, "exp2": _exp2, "expm1": _expm1, "log": _log, "log1p": _log1p, "log2": _log2,
    "tanh": _tanh, "logistic": _logistic, "sin": _sin, "cos": _cos, "tan": _tan,
    "asin": _asin, "acos": _acos, "atan": _atan, "atan2": _atan2, "sinh": _sinh, "cosh": _cosh,
    "asinh": _asinh, "acosh": _acosh, "atanh": _atanh, "erf": _erf, "cbrt": _cbrt, "pow": _pow,
    "erf_inv": _erf_inv,
}
assert set(_IMPLS) == SUPPORTED


def _type_tag(ty) -> str:
    if isinstance(ty, ir.FloatType):
        return "f32"
    if isinstance(ty, ir.DoubleType):
        return "f64"
    if isinstance(ty, str) and ty in ("f32", "f64", "float32", "float64"):
        return "f" + ty[-2:]
    name = getattr(ty, "name", None)  # a numpy dtype
    if name in ("float32", "float64"):
        return "f" + name[-2:]
    raise TypeError(f"llvm_math: no math functions for type {ty}; only float and double")


def is_vectorizable(name: str, ty) -> bool:
    """Whether `math_function(module, name, ty)` is plain arithmetic (no libm call)."""
    if name not in SUPPORTED:
        return False
    return _type_tag(ty) == "f32" or name not in LIBM_FLOAT64


def math_function(module: ir.Module, name: str, ty: ir.Type) -> ir.Function:
    """The function `jc.<name>.<f32|f64>` in `module` (defined on first use): internal,
    alwaysinline, taking and returning `ty` (two arguments for atan2 and pow)."""
    if name not in SUPPORTED:
        raise ValueError(f"llvm_math: unknown function {name!r}; supported: "
                         f"{', '.join(sorted(SUPPORTED))}")
    tag = _type_tag(ty)
    if tag == "f32" and not isinstance(ty, ir.FloatType) or \
            tag == "f64" and not isinstance(ty, ir.DoubleType):
        raise TypeError(f"llvm_math: math_function wants an llvmlite float type, got {ty!r}")
    fname = f"jc.{name}.{tag}"
    existing = module.globals.get(fname)
    if existing is not None:
        return existing
    nargs = 2 if name in _BINARY else 1
    fn = ir.Function(module, ir.FunctionType(ty, [ty] * nargs), name=fname)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(_IMPLS[name](_Emitter(builder, ty), *fn.args))
    return fn
