"""xla_like.backends.llvm.math: accuracy against NumPy (float64 reference rounded to the type),
special values, and that a loop over every float32 function vectorizes.

The harness builds `void kernel_<name>(T* in..., T* out, i64 n)` loops with llvmlite, optimizes
them at O3 for the host CPU with the new pass manager, JIT-compiles them with MCJIT and calls them
through ctypes, the way the CPU backend does.
"""
from __future__ import annotations

import ctypes
import functools
import math
import re

import numpy as np
import pytest

llvm = pytest.importorskip("llvmlite.binding")
from llvmlite import ir  # noqa: E402

from tests.helpers import erfinv_reference  # noqa: E402
from xla_like.backends.llvm import math as lm  # noqa: E402

_TY = {np.float32: ir.FloatType(), np.float64: ir.DoubleType()}
_NAMES = sorted(lm.SUPPORTED)
_BINARY = ("atan2", "pow")


# -- harness --------------------------------------------------------------------------------------
def _target_machine():
    """A new target machine each time: MCJIT takes ownership of (and frees) the one it gets."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(), opt=3)


def _emit_kernel(module, name, ty):
    nin = 2 if name in _BINARY else 1
    ptr, i64 = ir.PointerType(), ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr] * (nin + 1) + [i64]),
                     name=f"kernel_{name}")
    for a in fn.args[:-1]:
        a.add_attribute("noalias")
    n = fn.args[-1]
    entry, body, done = (fn.append_basic_block(s) for s in ("entry", "body", "done"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, ir.Constant(i64, 0)), body, done)
    b.position_at_end(body)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), entry)
    args = [b.load(b.gep(p, [i], inbounds=True, source_etype=ty), typ=ty) for p in fn.args[:nin]]
    out = b.call(lm.math_function(module, name, ty), args)
    b.store(out, b.gep(fn.args[nin], [i], inbounds=True, source_etype=ty))
    nxt = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(nxt, body)
    b.cbranch(b.icmp_signed("<", nxt, n), body, done)
    b.position_at_end(done)
    b.ret_void()


class _Compiled:
    """All kernels for one dtype: one module, optimized once, JIT-compiled once."""

    def __init__(self, dtype):
        tm = _target_machine()
        module = ir.Module(name=f"llvm_math_{np.dtype(dtype).name}")
        module.triple = tm.triple
        module.data_layout = str(tm.target_data)
        for name in _NAMES:
            _emit_kernel(module, name, _TY[dtype])
        mod = llvm.parse_assembly(str(module))
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        self.optimized = {name: str(mod.get_function(f"kernel_{name}")) for name in _NAMES}
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        self.engine.finalize_object()
        self.dtype = dtype
        self.fns = {}
        for name in _NAMES:
            nin = 2 if name in _BINARY else 1
            proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * (nin + 1)), ctypes.c_int64)
            self.fns[name] = proto(self.engine.get_function_address(f"kernel_{name}"))

    def __call__(self, name, *xs):
        xs = [np.ascontiguousarray(x, dtype=self.dtype) for x in np.broadcast_arrays(*xs)]
        out = np.empty_like(xs[0])
        self.fns[name](*(x.ctypes.data for x in xs), out.ctypes.data, out.size)
        return out


@functools.cache
def _compiled(dtype):
    return _Compiled(dtype)


# -- references and inputs ------------------------------------------------------------------------
def _logistic_ref(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_erf_ref = np.frompyfunc(math.erf, 1, 1)

_REF = {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "tanh": np.tanh, "logistic": _logistic_ref, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
    "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh,
    "atanh": np.arctanh, "erf": lambda x: _erf_ref(x).astype(np.float64), "cbrt": np.cbrt,
    "pow": np.power, "erf_inv": erfinv_reference,
}


_LONG = np.longdouble if np.finfo(np.longdouble).nmant > 52 else np.float64


def reference(name, dtype, *xs):
    """NumPy's result for the dtype-valued inputs, computed in float64 (float32 inputs) or in
    long double where the platform has one (float64 inputs), rounded to dtype."""
    wide = np.float64 if dtype == np.float32 or name in ("erf", "erf_inv") else _LONG
    with np.errstate(all="ignore"):
        return _REF[name](*(np.asarray(x, dtype).astype(wide) for x in xs)).astype(dtype)


def ulp_distance(a, b):
    """Units in the last place between same-dtype arrays; NaN vs NaN is 0, NaN vs number huge."""
    a, b = np.asarray(a), np.asarray(b)
    ity = np.int32 if a.dtype == np.float32 else np.int64
    ia, ib = a.view(ity).astype(np.int64), b.view(ity).astype(np.int64)
    mask = np.int64(np.iinfo(ity).max)
    oa = np.where(ia < 0, -(ia & mask), ia)  # monotonic integer image of the floats
    ob = np.where(ib < 0, -(ib & mask), ib)
    same = (oa >= 0) == (ob >= 0)
    cap = np.int64(2**61)  # opposite signs: far apart anyway, and no int64 overflow
    d = np.where(same, np.abs(oa - ob), np.minimum(np.abs(oa), cap) + np.minimum(np.abs(ob), cap))
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return np.where(nan_a & nan_b, 0, np.where(nan_a | nan_b, 2**62, d)).astype(np.float64)


def _logspace(rng, lo, hi, n):
    """n magnitudes log-uniform in [10**lo, 10**hi]."""
    return 10.0 ** rng.uniform(lo, hi, n)


def _signed(rng, mag):
    return np.concatenate([mag, -mag])


def _random_bits(rng, dtype, n):
    """n floats with uniformly random bit patterns: every exponent, subnormals, inf, NaNs."""
    ity = np.uint32 if dtype == np.float32 else np.uint64
    return rng.integers(0, np.iinfo(ity).max, n, dtype=ity, endpoint=True).view(dtype)


def _cat(dtype, parts):
    """Concatenate in dtype (casting the random bit patterns would change signaling NaNs)."""
    return np.concatenate([np.asarray(p).astype(dtype) for p in parts])


def inputs(name, dtype, rng, n=50000):
    """Dense sweeps and random samples over the domain that matters for `name`, plus random bit
    patterns (tuple of arrays, one per operand)."""
    f32 = dtype == np.float32
    fi = np.finfo(dtype)
    tiny = np.log10(float(fi.smallest_subnormal))
    big = np.log10(float(fi.max))
    wide = _signed(rng, _logspace(rng, tiny, big, n))
    lin = lambda a, b: np.linspace(a, b, n)  # noqa: E731
    if name in ("exp", "expm1", "logistic", "sinh", "cosh", "tanh"):
        lim = 110.0 if f32 else 750.0
        xs = [lin(-lim, lim), lin(-2, 2), _signed(rng, _logspace(rng, tiny, 3, n))]
        if name == "tanh":
            xs.append(lin(-1, 1))
    elif name == "exp2":
        lim = 160.0 if f32 else 1100.0
        xs = [lin(-lim, lim), lin(-1, 1), _signed(rng, _logspace(rng, tiny, 3, n))]
    elif name in ("log", "log2"):
        xs = [_logspace(rng, tiny, big, n), lin(0.5, 2), lin(1e-3, 100)]
    elif name == "log1p":
        xs = [_logspace(rng, tiny, big, n), -_logspace(rng, tiny, 0, n), lin(-0.999, 3)]
    elif name in ("sin", "cos", "tan"):
        xs = [lin(-10, 10), _signed(rng, _logspace(rng, tiny, 4, n)), lin(-1e4, 1e4)]
    elif name in ("asin", "acos", "atanh"):
        xs = [lin(-1, 1), _signed(rng, _logspace(rng, tiny, 0, n)), 1 - _logspace(rng, -8, 0, n)]
    elif name == "acosh":
        xs = [1 + _logspace(rng, -8 if f32 else -16, 1, n), _logspace(rng, 0, big, n)]
    elif name == "erf":
        xs = [lin(-5, 5), _signed(rng, _logspace(rng, tiny, 1, n))]
    elif name == "erf_inv":  # the bisection reference is slow: fewer points
        m = n // 10
        xs = [np.linspace(-1, 1, m), _signed(rng, _logspace(rng, tiny, 0, m)),
              _signed(rng, 1 - _logspace(rng, -16 if not f32 else -8, -0.3, m))]
    elif name in ("atan", "asinh", "cbrt"):
        xs = [wide, lin(-5, 5)]
    elif name == "atan2":
        y = [wide, lin(-3, 3), _random_bits(rng, dtype, n)]
        x = [rng.permutation(wide), rng.permutation(lin(-3, 3)), _random_bits(rng, dtype, n)]
        return _cat(dtype, y), _cat(dtype, x)
    elif name == "pow":
        x = [_logspace(rng, -3, 3, n), rng.uniform(0, 4, n), -rng.integers(1, 20, n),
             _random_bits(rng, dtype, n)]
        y = [rng.uniform(-12, 12, n), rng.uniform(-30, 30, n), rng.integers(-12, 12, n),
             _random_bits(rng, dtype, n)]
        return _cat(dtype, x), _cat(dtype, y)
    else:
        raise AssertionError(name)
    bits = _random_bits(rng, dtype, n)
    if name in ("sin", "cos", "tan"):
        bits = bits[~(np.abs(bits) > 2.0 ** 53)]  # see test_trig_large_arguments
    return (_cat(dtype, xs + [bits]),)


# -- tests ----------------------------------------------------------------------------------------
# Max ULP error allowed: float32 against the float64 result rounded to float32 (the requirement is
# <= 2 for exp/log/tanh/logistic and <= 4 elsewhere; all measure <= 1 except float32 tanh, <= 2), float64 against the long
# double result (requirement <= 4; all measure <= 2).
_TOL = {np.float32: 2, np.float64: 3}
# erf_inv in float64: Giles' polynomials (measured <= 4 against mpmath), against a reference
# that is itself within 1 ULP.
_TOL_NAME = {("erf_inv", np.float64): 5}
_DTYPES = (np.float32, np.float64)
_IDS = {np.float32: "f32", np.float64: "f64"}


def _check_ulp(name, dtype, xs, tol):
    with np.errstate(all="ignore"):
        got = _compiled(dtype)(name, *xs)
    ref = reference(name, dtype, *xs)
    d = ulp_distance(got, ref)
    i = int(np.argmax(d))
    assert d[i] <= tol, (f"{name} {np.dtype(dtype).name}: {d[i]:.0f} ULP at "
                         f"{[x[i] for x in xs]}: got {got[i]!r}, NumPy {ref[i]!r}")
    return got, ref


@pytest.mark.parametrize("dtype", _DTYPES, ids=_IDS.get)
@pytest.mark.parametrize("name", _NAMES)
def test_accuracy(name, dtype):
    rng = np.random.default_rng(sum(map(ord, name)))
    _check_ulp(name, dtype, inputs(name, dtype, rng), _TOL_NAME.get((name, dtype), _TOL[dtype]))


@pytest.mark.parametrize("dtype", _DTYPES, ids=_IDS.get)
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_large_arguments(name, dtype):
    rng = np.random.default_rng(7)
    # accurate up to 2**53 (float32: over its whole useful range) ...
    x = _signed(rng, _logspace(rng, 4, math.log10(2.0 ** 53), 20000)).astype(dtype)
    _check_ulp(name, dtype, (x,), _TOL[dtype])
    # ... beyond that no Payne-Hanek reduction: bounded, not accurate
    x = _signed(rng, _logspace(rng, 16, math.log10(float(np.finfo(dtype).max)), 2000)).astype(dtype)
    got = _compiled(dtype)(name, x)
    assert np.all(np.isfinite(got))
    if name != "tan":
        assert np.all(np.abs(got) <= 1)


def _special_values(dtype):
    fi = np.finfo(dtype)
    return np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0,
                     -3.0, 0.75, -0.75, 1.5, 10.0, 100.0, -100.0, 1000.0, -1000.0, 1e-30,
                     fi.smallest_subnormal, -fi.smallest_subnormal, fi.tiny, -fi.tiny, fi.eps,
                     1 + fi.eps, 1 - fi.epsneg, -1 - fi.eps, fi.max, -fi.max], dtype=dtype)


@pytest.mark.parametrize("dtype", _DTYPES, ids=_IDS.get)
@pytest.mark.parametrize("name", _NAMES)
def test_special_values(name, dtype):
    """NaN, +-inf, +-0 (with the sign NumPy gives), +-1, subnormals, overflow and domain errors;
    for atan2 and pow every pair of them (pow(nan, 0) = 1, pow(-8, 1/3) = nan, 0**-1 = inf...)."""
    sp = _special_values(dtype)
    if name in ("sin", "cos", "tan"):
        sp = sp[~(np.abs(sp) > 2.0 ** 53)]  # see test_trig_large_arguments
    xs = tuple(np.array(v, dtype) for v in zip(*((a, b) for a in sp for b in sp))) \
        if name in _BINARY else (sp,)
    got, ref = _check_ulp(name, dtype, xs, _TOL[dtype])
    zero = (got == 0) & (ref == 0)
    bad = zero & (np.signbit(got) != np.signbit(ref))
    assert not bad.any(), f"{name}: sign of zero differs at {[x[bad] for x in xs]}"


def _vector_widths(ir_text):
    return {int(n) for n in re.findall(r"<(\d+) x (?:float|double)>", ir_text)}


def _called(ir_text):
    return set(re.findall(r"call [^@\n]*@([\w.$]+)\(", ir_text))


@pytest.mark.parametrize("dtype", _DTYPES, ids=_IDS.get)
@pytest.mark.parametrize("name", _NAMES)
def test_loop_vectorizes(name, dtype):
    text = _compiled(dtype).optimized[name]
    callees = _called(text)
    if lm.is_vectorizable(name, _TY[dtype]):
        assert max(_vector_widths(text), default=0) >= 4, f"{name} did not vectorize:\n{text}"
        assert all(c.startswith("llvm.") for c in callees), callees
    else:
        assert dtype == np.float64 and name in lm.LIBM_FLOAT64
        assert callees - {n for n in callees if n.startswith("llvm.")} == {name}


def test_api():
    assert {"exp", "exp2", "expm1", "log", "log1p", "log2", "tanh", "logistic", "sin", "cos",
            "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh",
            "erf", "cbrt", "pow", "erf_inv"} == set(lm.SUPPORTED)
    module = ir.Module()
    f = lm.math_function(module, "exp", ir.FloatType())
    assert f.name == "jc.exp.f32" and f.linkage == "internal"
    assert "alwaysinline" in f.attributes
    assert lm.math_function(module, "exp", ir.FloatType()) is f
    g = lm.math_function(module, "pow", ir.DoubleType())
    assert g.name == "jc.pow.f64" and len(g.args) == 2 and g.return_value.type == ir.DoubleType()
    assert all(lm.is_vectorizable(n, ir.FloatType()) for n in lm.SUPPORTED)
    assert {n for n in lm.SUPPORTED if not lm.is_vectorizable(n, ir.DoubleType())} == {"pow"}
    assert not lm.is_vectorizable("gamma", ir.FloatType())
    with pytest.raises(ValueError, match="unknown function 'gamma'"):
        lm.math_function(module, "gamma", ir.FloatType())
    with pytest.raises(TypeError, match="half"):
        lm.math_function(module, "exp", ir.HalfType())
    llvm.parse_assembly(str(module)).verify()
