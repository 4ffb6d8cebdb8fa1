"""The CPU backend's LLVM target: the host machine (name and features asked of LLVM once), the
optimization recipe, and where each math routine comes from (vectorizable bodies of
`llvm.math`, or the C library)."""
from __future__ import annotations

from llvmlite import binding as llvm
from llvmlite import ir as ll

from ops.core import MATH_ROUTINES

from ...settings import settings
from ..llvm import native as llvm_native
from ..llvm.emitter import logistic_function


_llvm_lock = llvm_native.LLVM_LOCK   # LLVM's global state is not thread-safe


_initialized = False


class _Host:
    """The host CPU's name and features, asked of LLVM once (~1 ms each time)."""

    def __getitem__(self, k):
        if not hasattr(self, "_v"):
            self._v = (llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())
        return self._v[k]


_HOST = _Host()


def target_machine():
    """A target machine for the host CPU's name and features. A new one each time: MCJIT
    takes ownership of the one it is given."""
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=_HOST[0], features=_HOST[1], opt=3, reloc="default", codemodel="jitdefault")


_codegen = None


def _codegen_machine():
    """The target machine that optimizes and emits every program (under `_llvm_lock`). One
    for the process: it builds its subtarget tables (~0.7 MB) once, where a machine per
    program built them at each compile, and an engine generating code kept them as long as
    the program lived (`llvm.native`)."""
    global _codegen
    if _codegen is None:
        _codegen = target_machine()
    return _codegen


# Programs touching fewer elements than this (and without loops) are optimized at LLVM's O1:
# their run time is call overhead either way, and O3 costs ~30% more compile time.
SMALL_WORK = 1 << 16


QUICK_MARK = "\n; jitcore: small program, optimized at O1\n"


def optimize(mod: llvm.ModuleRef, tm, speed_level=3, unlocked=False):
    llvm_native.run_pipeline(mod, tm, speed_level, unlocked, loop_interleaving=True,
                             loop_unrolling=True,
                             loop_vectorization=True, slp_vectorization=True)


def math_provider(module: ll.Module):
    """(name, llvm type) -> the function computing it (vectorizable bodies where available).

    The `no_vector_math` setting (`JITCORE_NO_VECTOR_MATH=1`) uses the C math library for
    everything: a reference to tell an accuracy problem of the vectorized bodies from one
    elsewhere."""
    llvm_math = None
    if not settings.no_vector_math:
        try:
            from ..llvm import math as llvm_math
        except ImportError:
            llvm_math = None

    def get(name, ty):
        routine = MATH_ROUTINES[name]
        # A bounded-range body (sin/cos/tan: exact only for |x| < 2**53) gives way to the C
        # library, exact for every argument as NumPy is, but not vectorized.
        if llvm_math is not None and name in llvm_math.SUPPORTED and not routine.bounded_range:
            return llvm_math.math_function(module, name, ty)
        return _libm(module, routine, ty)
    return get


def _libm(module, routine, ty):
    """A call to the C math library (scalar: blocks vectorization, used only as a fallback)."""
    f32 = isinstance(ty, ll.FloatType)
    if routine.from_exp:
        return logistic_function(module, ty, _libm(module, MATH_ROUTINES["exp"], ty))
    if routine.libm is None:
        # The C library lacks it: ours serves even when the vectorized bodies are turned off.
        from ..llvm import math as ours
        return ours.math_function(module, routine.name, ty)
    cname = routine.libm + ("f" if f32 else "")
    fn = module.globals.get(cname)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(ty, [ty] * routine.args), cname)
    return fn
