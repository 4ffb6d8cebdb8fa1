"""Value and error cases for the elementwise primitives (ops/elementwise.py).

Every reference is written independently of the primitive's `impl`: float math in float64 then
rounded to the tested dtype, integer math on Python ints wrapped to the dtype's width, rounding
with `decimal`, erf with `math.erf`, erf_inv by bisection on `math.erf`, bit reinterpretation
with `struct`.
"""
from __future__ import annotations

import decimal
import math
import operator
import struct
from typing import Callable, NamedTuple

import numpy as np

from ops.errors import DtypeError, ShapeError
from tests.helpers import erfinv_reference

F64, F32, F16 = np.dtype("float64"), np.dtype("float32"), np.dtype("float16")
BOOL = np.dtype("bool")
SINTS = tuple(np.dtype(t) for t in ("int8", "int32", "int64"))
UINTS = tuple(np.dtype(t) for t in ("uint8", "uint32", "uint64"))
INTS = SINTS + UINTS
FLOATS = (F64, F32)
# Largest relative error accepted against the float64 reference, rounded to the dtype.
RTOL = {F64: 1e-13, F32: 3e-6, F16: 2e-3}


class Case(NamedTuple):
    """Bind `prim(*args, **params)`; the result must equal `ref(*args)` (dtype, shape, values).

    Float results must be within `rtol`/`atol` (0 means bit-exact up to NaN payloads), and zeros
    must carry the reference's sign unless `signed_zero` is False.
    """
    prim: str
    args: tuple
    params: dict
    ref: Callable
    rtol: float = 0.0
    atol: float = 0.0
    label: str = ""
    signed_zero: bool = True


class Bad(NamedTuple):
    """Binding `prim(*args, **params)` must raise `exc` naming the op (and `needle`, if given)."""
    prim: str
    args: tuple
    params: dict
    exc: type
    needle: str = ""


def wrap(v: int, dtype) -> int:
    """A Python int reduced to `dtype`'s two's-complement range."""
    dtype = np.dtype(dtype)
    bits = dtype.itemsize * 8
    v %= 1 << bits
    if dtype.kind == "i" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def pymap(fn, out_dtype, *arrays):
    """`fn` on Python scalars, element by element; int results wrapped into `out_dtype`."""
    out_dtype = np.dtype(out_dtype)
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    flat = [np.broadcast_to(a, shape).ravel().tolist() for a in arrays]
    vals = [fn(*v) for v in zip(*flat)]
    if out_dtype.kind in "iu":
        vals = [wrap(int(v), out_dtype) for v in vals]
    return np.array(vals, dtype=out_dtype).reshape(shape)


def in_f64(fn, out_dtype=None):
    """A reference computed in float64 and rounded once to the operands' (or `out_dtype`) dtype."""
    def ref(*args):
        with np.errstate(all="ignore"):
            r = np.asarray(fn(*(np.asarray(a).astype(F64) for a in args)))
        return r.astype(out_dtype or np.asarray(args[0]).dtype)
    return ref


def int_values(dtype, seed=0):
    info = np.iinfo(dtype)
    base = [0, 1, 2, 3, 7, info.max, info.max - 1]
    base += [-1, -2, -7, info.min, info.min + 1] if dtype.kind == "i" else [1 << (info.bits - 1)]
    rng = np.random.default_rng(seed)
    base += rng.integers(info.min, info.max, size=4, dtype=dtype, endpoint=True).tolist()
    return np.array(base, dtype)


FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 3.7, -3.7, 1e-30, -1e-30, 1e-40,
               1e-310, 1e30, -1e30, np.inf, -np.inf, np.nan]


def float_values(dtype, seed=0):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):  # float16 turns the huge edges into inf, as intended
        return np.array(FLOAT_EDGES + rng.normal(scale=3.0, size=6).tolist(), dtype)


def grid(values):
    """Every ordered pair of `values`, as two flat arrays."""
    a, b = np.meshgrid(values, values, indexing="ij")
    return a.ravel(), b.ravel()


# --- unary ---------------------------------------------------------------------------------

_DEC_CTX = decimal.Context(prec=400)


def _round_ref(mode):
    def one(v):
        if not math.isfinite(v):
            return v
        r = float(decimal.Decimal(v).quantize(decimal.Decimal(1), rounding=mode,
                                              context=_DEC_CTX))
        return math.copysign(r, v) if r == 0 else r
    return lambda x: pymap(one, x.dtype, x.astype(F64))


def _math_or_nan(fn):
    def one(*v):
        try:
            return fn(*v)
        except (ValueError, OverflowError):
            return math.nan
    return one


UNARY_FLOAT = {
    "neg": lambda x: -x,
    "abs": np.fabs,
    "sign": lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, x)),
    "floor": np.floor,
    "ceil": np.ceil,
    "exp": np.exp,
    "exp2": lambda x: np.power(2.0, x),
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "cbrt": np.cbrt,
    "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "erf": lambda x: pymap(math.erf, F64, x),
    "erf_inv": erfinv_reference,
}
# erf_inv's domain is [-1, 1]: most of FLOAT_EDGES lie outside it (NaN there).
ERF_INV_VALUES = [0.3, -0.3, 0.75, -0.999, 0.9999999, 1 - 2.0 ** -24, -(1 - 2.0 ** -53), 1e-20]

UNARY_INT = {  # on Python ints; wrapped to the dtype
    "neg": operator.neg,
    "abs": abs,
    "sign": lambda v: (v > 0) - (v < 0),
    "not": operator.invert,
}

ROUND_VALUES = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.4, -0.0, 0.0, 3.7,
                -3.7, 2.0 ** 52 + 1, 2.0 ** 52 - 0.5, 1e30, np.inf, -np.inf, np.nan]


def unary_cases():
    cases = []
    for name, fn in UNARY_FLOAT.items():
        for dt in FLOATS:
            x = float_values(dt)
            if name == "logistic":
                x = np.concatenate([x, np.array([-1000.0, 1000.0, -700.0, 40.0], dt)])
            if name == "erf_inv":
                x = np.concatenate([x, np.array(ERF_INV_VALUES, dt)])
            cases.append(Case(name, (x,), {}, in_f64(fn), RTOL[dt], label=str(dt)))
    for dt in FLOATS:
        x = np.array(ROUND_VALUES, dt)
        cases.append(Case("round", (x,), {"rounding_method": 0},
                          _round_ref(decimal.ROUND_HALF_UP), label=f"away-{dt}"))
        cases.append(Case("round", (x,), {"rounding_method": 1},
                          _round_ref(decimal.ROUND_HALF_EVEN), label=f"even-{dt}"))
        x = float_values(dt)
        cases.append(Case("is_finite", (x,), {},
                          lambda x: pymap(math.isfinite, BOOL, x.astype(F64)), label=str(dt)))
    for name, fn in UNARY_INT.items():
        for dt in INTS:
            cases.append(Case(name, (int_values(dt),), {},
                              lambda x, fn=fn: pymap(fn, x.dtype, x), label=str(dt)))
    b = np.array([True, False, True])
    cases.append(Case("not", (b,), {}, lambda x: pymap(operator.not_, BOOL, x), label="bool"))
    # 0-d and size-0 operands keep their shapes.
    for shape in [(), (0,), (2, 0, 3)]:
        x = np.full(shape, -1.25, F32)
        cases.append(Case("neg", (x,), {}, in_f64(np.negative), label=f"shape{shape}"))
        cases.append(Case("exp", (x,), {}, in_f64(np.exp), RTOL[F32], label=f"shape{shape}"))
    return cases


# --- binary --------------------------------------------------------------------------------

BINARY_FLOAT = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "rem": lambda a, b: pymap(_math_or_nan(math.fmod), F64, a, b),
    "pow": np.power,
    "max": lambda a, b: np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a >= b, a, b)),
    "min": lambda a, b: np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a <= b, a, b)),
    "atan2": lambda a, b: pymap(math.atan2, F64, a, b),
}
# Correctly rounded in float64, then rounded to float32: the same as float32's own rounding
# (double rounding is innocuous for +,-,*,/ at 53 >= 2*24+2 bits), so these are exact.
EXACT_IN_F32 = {"add", "sub", "mul", "div", "rem", "max", "min"}

COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
               "gt": operator.gt, "ge": operator.ge}


def _trunc_div(a, b):
    if b == 0:
        return 0  # documented: x / 0 is 0 for integers
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _trunc_rem(a, b):
    return 0 if b == 0 else a - b * _trunc_div(a, b)


BINARY_INT = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "div": _trunc_div, "rem": _trunc_rem, "max": max, "min": min,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
}

BINARY_BOOL = {
    "add": operator.or_, "mul": operator.and_, "max": operator.or_, "min": operator.and_,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
}


def _int_pow(dtype):
    bits = dtype.itemsize * 8

    def one(a, n):
        if n >= 0:
            return pow(a, n, 1 << bits)
        return 1 if a == 1 else (1 - 2 * (n % 2) if a == -1 else 0)
    return one


def _shift_refs(dtype):
    bits = dtype.itemsize * 8
    mask = (1 << bits) - 1
    return {
        "shift_left": lambda a, s: (a << s) if 0 <= s < bits else 0,
        "shift_right_arithmetic": lambda a, s: a >> (s if 0 <= s < bits else bits - 1),
        "shift_right_logical": lambda a, s: ((a & mask) >> s) if 0 <= s < bits else 0,
    }


def binary_cases():
    cases = []
    edges = [0.0, -0.0, 1.0, -1.0, 2.5, -3.7, 1e30, -1e-30, np.inf, -np.inf, np.nan]
    for dt in FLOATS:
        a, b = (v.astype(dt) for v in grid(edges))
        rng = np.random.default_rng(1)
        a = np.concatenate([a, rng.normal(size=8).astype(dt)])
        b = np.concatenate([b, rng.normal(size=8).astype(dt)])
        for name, fn in BINARY_FLOAT.items():
            exact = name in EXACT_IN_F32
            cases.append(Case(name, (a, b), {}, in_f64(fn), 0.0 if exact else RTOL[dt],
                              label=str(dt), signed_zero=name not in ("max", "min")))
        for name, fn in COMPARISONS.items():
            cases.append(Case(name, (a, b), {}, lambda x, y, fn=fn: pymap(fn, BOOL, x, y),
                              label=str(dt)))
    for dt in INTS:
        a, b = grid(int_values(dt))
        for name, fn in BINARY_INT.items():
            cases.append(Case(name, (a, b), {}, lambda x, y, fn=fn: pymap(fn, x.dtype, x, y),
                              label=str(dt)))
        for name, fn in COMPARISONS.items():
            cases.append(Case(name, (a, b), {}, lambda x, y, fn=fn: pymap(fn, BOOL, x, y),
                              label=str(dt)))
        info = np.iinfo(dt)
        exps = [0, 1, 2, 3, 7, 63, 64, info.max] + ([-1, -2, -3] if dt.kind == "i" else [])
        pairs = [(x, n) for x in int_values(dt).tolist() for n in exps if not (x == 0 and n < 0)]
        base, ex = (np.array(v, dt) for v in zip(*pairs))
        cases.append(Case("pow", (base, ex), {},
                          lambda x, y: pymap(_int_pow(x.dtype), x.dtype, x, y), label=str(dt)))
        shifts = [0, 1, 3, info.bits - 1, info.bits, info.bits + 5, info.max]
        shifts += [-1, info.min] if dt.kind == "i" else []
        pairs = [(x, s) for x in int_values(dt).tolist() for s in shifts]
        val, sh = (np.array(v, dt) for v in zip(*pairs))
        for name, fn in _shift_refs(dt).items():
            if name == "shift_right_arithmetic" and dt.kind == "u":
                continue
            cases.append(Case(name, (val, sh), {},
                              lambda x, y, fn=fn: pymap(fn, x.dtype, x, y), label=str(dt)))
    a, b = grid(np.array([False, True]))
    for name, fn in {**BINARY_BOOL, **COMPARISONS}.items():
        cases.append(Case(name, (a, b), {}, lambda x, y, fn=fn: pymap(fn, BOOL, x, y),
                          label="bool"))
    for shape in [(), (0,), (3, 0)]:
        x = np.full(shape, 1.5, F64)
        cases.append(Case("add", (x, x), {}, in_f64(np.add), label=f"shape{shape}"))
        cases.append(Case("lt", (x, x), {}, in_f64(np.less, BOOL), label=f"shape{shape}"))
    return cases


# --- the others ----------------------------------------------------------------------------

def _saturating(dtype):
    info = np.iinfo(dtype)

    def one(v):
        if math.isnan(v):
            return 0
        if math.isinf(v):
            return info.max if v > 0 else info.min
        return min(max(math.trunc(v), info.min), info.max)
    return lambda x: pymap(one, dtype, x.astype(F64))


_STRUCT = {F32: "f", F64: "d", F16: "e", np.dtype("int32"): "i", np.dtype("int64"): "q",
           np.dtype("int16"): "h", np.dtype("uint64"): "Q", np.dtype("uint8"): "B",
           np.dtype("int8"): "b", np.dtype("uint32"): "I"}


def _bitcast_ref(new):
    src_new = _STRUCT[np.dtype(new)]

    def ref(x):
        src = _STRUCT[x.dtype]
        return pymap(lambda v: struct.unpack("<" + src_new, struct.pack("<" + src, v))[0],
                     new, x)
    return ref


def other_cases():
    cases = []
    rng = np.random.default_rng(2)
    for dt in (F32, np.dtype("int64"), BOOL):
        pred = rng.random((3, 4)) < 0.5
        t = rng.normal(size=(3, 4)).astype(dt)
        f = rng.normal(size=(3, 4)).astype(dt)
        cases.append(Case("select", (pred, t, f), {},
                          lambda p, t, f: pymap(lambda c, a, b: a if c else b, t.dtype, p, t, f),
                          label=str(dt)))
    cases.append(Case("select", (np.bool_(False), np.float64(1.0), np.float64(-0.0)), {},
                      lambda p, t, f: np.array(f if not p else t), label="0-d"))
    for dt in FLOATS:
        x = float_values(dt)
        lo, hi = np.array(-1.0, dt), np.array(2.0, dt)
        clamp1 = lambda lo, v, hi: v if math.isnan(v) else min(max(v, lo), hi)  # noqa: E731
        cases.append(Case("clamp", (lo, x, hi), {},
                          lambda lo, x, hi: pymap(clamp1, x.dtype, lo, x, hi), label=str(dt),
                          signed_zero=False))
        los = np.linspace(-3, 0, x.size).astype(dt)
        cases.append(Case("clamp", (los, x, hi), {},
                          lambda lo, x, hi: pymap(clamp1, x.dtype, lo, x, hi),
                          label=f"array-bound-{dt}", signed_zero=False))
    xi = int_values(np.dtype("int32"))
    cases.append(Case("clamp", (np.int32(-5), xi, np.int32(9)), {},
                      lambda lo, x, hi: pymap(lambda v: min(max(v, -5), 9), x.dtype, x),
                      label="int32"))
    # convert_element_type: float -> int saturates and maps NaN to 0; int -> int wraps.
    edges = np.array(FLOAT_EDGES + [2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 255.9, 256.0, -128.5,
                                    2.0 ** 31, 1e19], F64)
    for src in FLOATS:
        for new in INTS:
            cases.append(Case("convert_element_type", (edges.astype(src),),
                              {"new_dtype": new}, _saturating(new), label=f"{src}->{new}"))
        cases.append(Case("convert_element_type", (edges.astype(src),), {"new_dtype": BOOL},
                          lambda x: pymap(lambda v: v != 0, BOOL, x.astype(F64)),
                          label=f"{src}->bool"))
    cases.append(Case("convert_element_type", (edges,), {"new_dtype": F32},
                      lambda x: pymap(lambda v: struct.unpack("f", struct.pack("f", v))[0],
                                      F32, x), label="f64->f32"))
    for src in INTS:
        x = int_values(src)
        for new in (np.dtype("int8"), np.dtype("uint16"), np.dtype("int64"), np.dtype("uint64")):
            cases.append(Case("convert_element_type", (x,), {"new_dtype": new},
                              lambda x, new=new: pymap(int, new, x), label=f"{src}->{new}"))
        cases.append(Case("convert_element_type", (x,), {"new_dtype": F64},
                          lambda x: pymap(float, F64, x), label=f"{src}->f64"))
    cases.append(Case("convert_element_type", (np.array([True, False]),), {"new_dtype": F32},
                      lambda x: pymap(float, F32, x), label="bool->f32"))
    for src, new in [(F32, np.dtype("int32")), (np.dtype("int32"), F32), (F64, np.dtype("uint64")),
                     (np.dtype("uint8"), np.dtype("int8")), (F16, np.dtype("int16"))]:
        x = float_values(src) if src.kind == "f" else int_values(src)
        if src.kind == "f":
            x = x[~np.isnan(x)]  # NaN payloads are not portable through struct
        cases.append(Case("bitcast_convert_type", (x,), {"new_dtype": new}, _bitcast_ref(new),
                          label=f"{src}->{new}"))
    for dt, shape, dim in [(np.dtype("int32"), (2, 3, 4), 0), (np.dtype("int64"), (2, 3, 4), 2),
                           (F32, (5,), 0), (np.dtype("uint8"), (3, 2), 1), (F64, (0, 3), 1)]:
        cases.append(Case("iota", (), {"dtype": dt, "shape": shape, "dimension": dim},
                          lambda dt=dt, shape=shape, dim=dim: np.indices(shape)[dim].astype(dt),
                          label=f"{dt}{shape}d{dim}"))
    for dt in FLOATS:
        x = float_values(dt)
        for y in (0, 1, 2, 3, 5, -1, -2):
            cases.append(Case("integer_pow", (x,), {"y": y},
                              in_f64(lambda v, y=y: np.power(v, float(y))), RTOL[dt],
                              label=f"{dt}^{y}"))
    for dt in INTS:
        for y in (0, 2, 3, 13):
            cases.append(Case("integer_pow", (int_values(dt),), {"y": y},
                              lambda x, y=y: pymap(lambda v: pow(v, y), x.dtype, x),
                              label=f"{dt}^{y}"))
    cases += complex_part_cases()
    return cases


def complex_part_cases():
    """real, imag, conj, complex: references element by element with Python's complex."""
    cases = []
    for cdt, fdt in ((np.dtype(np.complex64), F32), (np.dtype(np.complex128), F64)):
        re, im = float_values(fdt, seed=1), float_values(fdt, seed=2)[::-1].copy()
        z = np.empty(re.shape, cdt)
        z.real, z.imag = re, im
        cases += [
            Case("real", (z,), {}, lambda z, f=fdt: pymap(lambda v: v.real, f, z),
                 label=str(cdt)),
            Case("imag", (z,), {}, lambda z, f=fdt: pymap(lambda v: v.imag, f, z),
                 label=str(cdt)),
            Case("conj", (z,), {}, lambda z, c=cdt: pymap(lambda v: v.conjugate(), c, z),
                 label=str(cdt)),
            Case("complex", (re, im), {},
                 lambda a, b, c=cdt: pymap(lambda x, y: complex(x, y), c, a, b),
                 label=str(fdt)),
        ]
    return cases


VALUE_CASES = unary_cases() + binary_cases() + other_cases()


# --- errors --------------------------------------------------------------------------------

def _z(shape, dtype):
    return np.zeros(shape, dtype)


def error_cases():
    i32, f32, f64, b = np.dtype("int32"), F32, F64, BOOL
    f16 = np.dtype("float16")
    bad = []
    for name in UNARY_FLOAT:
        if name not in ("neg", "abs", "sign"):
            bad.append(Bad(name, (_z((3,), i32),), {}, DtypeError, "s32[3]"))
    for name in ("neg", "abs", "sign"):
        bad.append(Bad(name, (_z((3,), b),), {}, DtypeError, "pred[3]"))
    bad += [Bad("round", (_z((2,), i32),), {"rounding_method": 0}, DtypeError, "s32[2]"),
            Bad("is_finite", (_z((2,), i32),), {}, DtypeError, "s32[2]"),
            Bad("not", (_z((2,), f32),), {}, DtypeError, "f32[2]")]
    for name in list(BINARY_FLOAT) + list(COMPARISONS) + ["and", "or", "xor", "shift_left",
                                                          "shift_right_arithmetic",
                                                          "shift_right_logical"]:
        dt = f32 if name in BINARY_FLOAT or name in COMPARISONS else i32
        bad.append(Bad(name, (_z((3,), dt), _z((4,), dt)), {}, ShapeError, "[4]"))
        other = f64 if dt == f32 else np.dtype("int64")
        bad.append(Bad(name, (_z((3,), dt), _z((3,), other)), {}, DtypeError, "[3]"))
    for name in ("sub", "div", "rem", "pow"):
        bad.append(Bad(name, (_z((2,), b), _z((2,), b)), {}, DtypeError, "pred[2]"))
    for name in ("atan2",):
        bad.append(Bad(name, (_z((2,), i32), _z((2,), i32)), {}, DtypeError, "s32[2]"))
    for name in ("and", "or", "xor"):
        bad.append(Bad(name, (_z((2,), f32), _z((2,), f32)), {}, DtypeError, "f32[2]"))
    for name in ("shift_left", "shift_right_arithmetic", "shift_right_logical"):
        bad.append(Bad(name, (_z((2,), b), _z((2,), b)), {}, DtypeError, "pred[2]"))
        bad.append(Bad(name, (_z((2,), f32), _z((2,), f32)), {}, DtypeError, "f32[2]"))
    bad += [
        Bad("integer_pow", (_z((2,), b),), {"y": 2}, DtypeError, "pred[2]"),
        Bad("integer_pow", (_z((2,), i32),), {"y": -1}, DtypeError, "s32[2]"),
        Bad("select", (_z((2,), f32), _z((2,), f32), _z((2,), f32)), {}, DtypeError, "f32[2]"),
        Bad("select", (_z((3,), b), _z((2,), f32), _z((2,), f32)), {}, ShapeError, "pred[3]"),
        Bad("select", (_z((2,), b), _z((2,), f32), _z((2,), f64)), {}, DtypeError, "f64[2]"),
        Bad("clamp", (_z((), f64), _z((3,), f32), _z((), f32)), {}, DtypeError, "f64[]"),
        Bad("clamp", (_z((2,), f32), _z((3,), f32), _z((), f32)), {}, ShapeError, "f32[2]"),
        Bad("clamp", (_z((), b), _z((3,), b), _z((), b)), {}, DtypeError, "pred[3]"),
        Bad("convert_element_type", (_z((2,), f32),), {"new_dtype": np.dtype(np.longdouble)},
            DtypeError, "float128"),
        Bad("real", (_z((2,), f32),), {}, DtypeError, "f32[2]"),
        Bad("imag", (_z((2,), i32),), {}, DtypeError, "s32[2]"),
        Bad("conj", (_z((2,), f64),), {}, DtypeError, "f64[2]"),
        Bad("complex", (_z((2,), f32), _z((2,), f64)), {}, DtypeError, "f64[2]"),
        Bad("complex", (_z((2,), f16), _z((2,), f16)), {}, DtypeError, "f16[2]"),
        Bad("complex", (_z((2,), f32), _z((3,), f32)), {}, ShapeError, "f32[3]"),
        Bad("bitcast_convert_type", (_z((2,), f32),), {"new_dtype": np.dtype("int64")},
            DtypeError, "f32[2]"),
        Bad("bitcast_convert_type", (_z((2,), b),), {"new_dtype": np.dtype("int8")},
            DtypeError, "pred[2]"),
        Bad("iota", (), {"dtype": i32, "shape": (2, 3), "dimension": 2}, ShapeError, "(2, 3)"),
        Bad("iota", (), {"dtype": b, "shape": (2,), "dimension": 0}, DtypeError, "bool"),
    ]
    return bad


ERROR_CASES = error_cases()
