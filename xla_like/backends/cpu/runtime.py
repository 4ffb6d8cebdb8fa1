"""Runtime routines that generated code may call but this process does not provide.

LLVM lowers a few operations to calls into compiler-rt / libgcc, which Python does not load:
half-precision conversions on CPUs without F16C (`__extendhfsf2`, `__truncsfhf2`) and f64 -> f16
everywhere (`__truncdfhf2`). MCJIT aborts the whole process on a symbol it cannot resolve. The
emitter avoids these where it can (`llvm.emitter.fp_cast`); the definitions here, written with
integer operations only and compiled once per process, cover what code generation still
introduces. `check_symbols` turns any other unresolvable call into a Python exception before
MCJIT sees it.
"""
from __future__ import annotations

import ctypes
import threading

from llvmlite import binding as llvm
from llvmlite import ir as ll

I16, I32, I64 = ll.IntType(16), ll.IntType(32), ll.IntType(64)
F16, F32, F64 = ll.HalfType(), ll.FloatType(), ll.DoubleType()

_lock = threading.Lock()
_engine = None      # keeps the routines' machine code alive
_process = ctypes.CDLL(None)


def _c(t, v):
    return ll.Constant(t, v)


def _extend_h_to_f(b, h):
    """float(h): exact. Normal numbers re-bias the exponent; subnormals are m * 2**-24."""
    x = b.zext(b.bitcast(h, I16), I32)
    sign = b.shl(b.and_(x, _c(I32, 0x8000)), _c(I32, 16))
    e = b.and_(b.lshr(x, _c(I32, 10)), _c(I32, 0x1F))
    m = b.and_(x, _c(I32, 0x3FF))
    m23 = b.shl(m, _c(I32, 13))
    normal = b.or_(sign, b.or_(b.shl(b.add(e, _c(I32, 112)), _c(I32, 23)), m23))
    special = b.or_(sign, b.or_(_c(I32, 0x7F800000), m23))
    tiny = b.fmul(b.uitofp(m, F32), _c(F32, 2.0 ** -24))
    tiny = b.or_(b.bitcast(tiny, I32), sign)
    bits = b.select(b.icmp_unsigned("==", e, _c(I32, 31)), special,
                    b.select(b.icmp_unsigned("==", e, _c(I32, 0)), tiny, normal))
    return b.bitcast(bits, F32)


def _trunc_f_to_h(b, f):
    """half(f), round to nearest even (F. Giesen's float_to_half_fast3_rtne)."""
    u = b.bitcast(f, I32)
    sign = b.and_(u, _c(I32, 0x80000000))
    a = b.xor(u, sign)
    big = b.select(b.icmp_unsigned(">", a, _c(I32, 255 << 23)), _c(I32, 0x7E00),
                   _c(I32, 0x7C00))
    # Below the smallest normal half: adding 0.5 makes the FPU round the mantissa for us.
    magic = _c(I32, 126 << 23)
    den = b.sub(b.bitcast(b.fadd(b.bitcast(a, F32), b.bitcast(magic, F32)), I32), magic)
    odd = b.and_(b.lshr(a, _c(I32, 13)), _c(I32, 1))
    norm = b.add(b.add(a, _c(I32, ((15 - 127) << 23) + 0xFFF)), odd)
    norm = b.lshr(norm, _c(I32, 13))
    o = b.select(b.icmp_unsigned(">=", a, _c(I32, 143 << 23)), big,
                 b.select(b.icmp_unsigned("<", a, _c(I32, 113 << 23)), den, norm))
    o = b.or_(o, b.lshr(sign, _c(I32, 16)))
    return b.bitcast(b.trunc(o, I16), F16)


def _round_to_odd_f32(b, d):
    r = b.fptrunc(d, F32)
    back = b.fpext(r, F64)
    inexact = b.fcmp_ordered("!=", back, d)
    bits = b.bitcast(r, I32)
    mag_back = b.and_(b.bitcast(back, I64), _c(I64, 0x7FFFFFFFFFFFFFFF))
    mag_d = b.and_(b.bitcast(d, I64), _c(I64, 0x7FFFFFFFFFFFFFFF))
    away = b.icmp_unsigned(">", mag_back, mag_d)
    toward_zero = b.select(away, b.sub(bits, _c(I32, 1)), bits)
    return b.bitcast(b.select(inexact, b.or_(toward_zero, _c(I32, 1)), bits), F32)


ROUTINES = {
    "__extendhfsf2": (F32, F16, _extend_h_to_f),
    "__truncsfhf2": (F16, F32, _trunc_f_to_h),
    "__truncdfhf2": (F16, F64, lambda b, d: _trunc_f_to_h(b, _round_to_odd_f32(b, d))),
}


def routines_module() -> ll.Module:
    mod = ll.Module(name="jitcore_runtime")
    mod.triple = llvm.get_process_triple()
    for name, (ret, arg, body) in ROUTINES.items():
        fn = ll.Function(mod, ll.FunctionType(ret, [arg]), name)
        b = ll.IRBuilder(fn.append_basic_block())
        b.ret(body(b, fn.args[0]))
    return mod


def install(target_machine):
    """Compile the routines once and make them visible to every later MCJIT engine."""
    global _engine
    with _lock:
        if _engine is not None:
            return
        mod = llvm.parse_assembly(str(routines_module()))
        mod.verify()
        engine = llvm.create_mcjit_compiler(mod, target_machine)
        engine.finalize_object()
        for name in ROUTINES:
            llvm.add_symbol(name, engine.get_function_address(name))
        _engine = engine


def resolvable(name: str) -> bool:
    if llvm.address_of_symbol(name):
        return True
    try:
        getattr(_process, name)
        return True
    except AttributeError:
        return False


def check_symbols(mod: llvm.ModuleRef):
    """Raise (instead of letting MCJIT abort) if `mod` calls a function nobody defines."""
    missing = [f.name for f in mod.functions
               if f.is_declaration and not f.name.startswith("llvm.") and not resolvable(f.name)]
    if missing:
        raise RuntimeError(f"cpu backend: generated code calls {', '.join(missing)}, which this "
                           f"process does not provide")
