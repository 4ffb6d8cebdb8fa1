"""PTX for the CUDA backend: one module per program, rendered with llvmlite for
nvptx64-nvidia-cuda. No GPU, driver or pycuda is needed to make it.

- Target: `sm_XX` from `JITCORE_CUDA_ARCH` (`sm_86`, `86` or `8.6`; default sm_80, the oldest
  accepted is sm_75, as CUDA 13's ptxas), with the PTX ISA that introduced that architecture, so
  the oldest driver able to run the GPU can load the PTX.
- Math: the names the CPU emitter asks its math provider for (`exp`, `tanh`, `pow`, ...) map to
  libdevice (`__nv_expf`, `__nv_tanh`, ...), which is linked into the module from the CUDA
  toolkit (`$CUDA_HOME/nvvm/libdevice/libdevice.10.bc`) and internalized, so only what a kernel
  calls stays. Float remainder is libdevice's exact `fmod` too (LLVM's NVPTX lowering of `frem`
  rounds the quotient).
- bfloat16/float16: on sm_80+ a bfloat16 result rounds with the hardware's conversion
  (`cvt.rn.bf16.f32`: LLVM's `fptrunc` to `bfloat`), elsewhere with the integer rounding of
  the CPU emitter; float16 narrows with `cvt.rn.f16.f32`. Dots of two bfloat16 or two float16
  operands run on tensor cores on sm_80+ (`cuda.mma`), else widened (`cuda.kernels.emit_dot`).
- Compile: LLVM O3 for the target machine, then its assembly printer; PTX is cached by the hash
  of the LLVM text and the architecture.
"""
from __future__ import annotations

import collections
import glob
import hashlib
import os
import re
import shutil
import threading

from llvmlite import binding as llvm
from llvmlite import ir as ll

from ops.core import MATH_ROUTINES

from ...settings import settings
from ..llvm import native as llvm_native
from .kernels import FMOD, emit_dot, emit_fusion, emit_scatter
from .mma import emit_mma_dot, mma_ok
from ..llvm.emitter import F32, F64, logistic_function
from ..llvm.half import BFLOAT

TRIPLE = "nvptx64-nvidia-cuda"
DEFAULT_ARCH = 80
MIN_ARCH = 75
# The PTX ISA version that introduced each architecture (PTX ISA release notes).
PTX_ISA = {75: 63, 80: 70, 86: 71, 87: 74, 89: 78, 90: 78, 100: 86, 101: 86, 103: 88,
            110: 90, 120: 87, 121: 88}


class CudaArchError(ValueError):
    pass


def cuda_arch(arch=None) -> int:
    """The compute capability to compile for, as an int (80 for sm_80): `arch` (same forms as
    the setting), else the `cuda_arch` setting (`JITCORE_CUDA_ARCH`), else sm_80."""
    raw = arch if arch is not None else settings.cuda_arch
    if raw in ("", None):
        return DEFAULT_ARCH
    text = str(raw).strip().lower()
    m = re.fullmatch(r"(?:sm_|compute_)?(\d+)(?:\.(\d))?", text)
    if m is None:
        raise CudaArchError(f"JITCORE_CUDA_ARCH={raw!r} is not a compute capability; "
                            "use e.g. sm_80, 80 or 8.0")
    value = int(m.group(1)) * 10 + int(m.group(2)) if m.group(2) else int(m.group(1))
    if value < MIN_ARCH:
        raise CudaArchError(f"compute capability sm_{value} is older than sm_{MIN_ARCH}, the "
                            "oldest the CUDA backend (and CUDA 13's ptxas) supports")
    return value


def ptx_isa(arch: int) -> int:
    """The PTX ISA for `arch` (newer unknown architectures get the newest one known)."""
    known = [a for a in sorted(PTX_ISA) if a <= arch]
    if arch in PTX_ISA:
        return PTX_ISA[arch]
    return max(PTX_ISA[a] for a in known)


_lock = threading.Lock()
_initialized = False


def target_machine(arch: int):
    global _initialized
    if not _initialized:
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
        _initialized = True
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu=f"sm_{arch}", features=f"+ptx{ptx_isa(arch)}",
                                        opt=3)


def new_module(name: str, arch: int) -> ll.Module:
    mod = ll.Module(name=name)
    mod.triple = TRIPLE
    with _lock:
        mod.data_layout = str(target_machine(arch).target_data)
    return mod


# --- libdevice --------------------------------------------------------------------------------

# The routines come from the primitives (`Primitive.math`, `ops.core.MATH_ROUTINES`), and
# FMOD, this backend's own: the exact float remainder `DeviceBuilder.frem` calls.


def libdevice_path():
    """libdevice.10.bc of the CUDA toolkit (None if there is none): `$CUDA_HOME`, `$CUDA_PATH`,
    the toolkit of the `ptxas` on PATH, the usual install folders, pip's nvidia-cuda-nvcc."""
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    ptxas = shutil.which("ptxas")
    if ptxas:
        roots.append(os.path.dirname(os.path.dirname(os.path.realpath(ptxas))))
    roots += ["/usr/local/cuda"] + sorted(glob.glob("/usr/local/cuda-*"), reverse=True) + \
        ["/opt/cuda", "/usr/lib/cuda"]
    try:
        import nvidia.cuda_nvcc as pip_nvcc   # the toolkit's compiler from pip
        roots += list(pip_nvcc.__path__)
    except ImportError:
        pass
    for root in roots:
        if root:
            path = os.path.join(root, "nvvm", "libdevice", "libdevice.10.bc")
            if os.path.isfile(path):
                return path
    return None


_libdevice_bytes = None


def _libdevice():
    global _libdevice_bytes
    if _libdevice_bytes is None:
        path = libdevice_path()
        if path is None:
            raise RuntimeError(
                "the CUDA backend needs libdevice (nvvm/libdevice/libdevice.10.bc of the CUDA "
                "toolkit) for math functions; set CUDA_HOME to the toolkit's folder")
        with open(path, "rb") as fh:
            _libdevice_bytes = fh.read()
    return _libdevice_bytes


def math_provider(module: ll.Module):
    """(name, llvm type) -> the libdevice function computing it (float32 or float64)."""
    def get(name, ty):
        routine = FMOD if name == FMOD.name else MATH_ROUTINES[name]
        if routine.from_exp:
            return logistic_function(module, ty, get("exp", ty))
        if routine.libdevice is None:
            raise NotImplementedError(f"libdevice has no {name}")
        fname = "__nv_" + routine.libdevice + ("f" if ty == F32 else "")
        fn = module.globals.get(fname)
        if fn is None:
            fn = ll.Function(module, ll.FunctionType(ty, [ty] * routine.args), fname)
        return fn
    return get


class DeviceBuilder(ll.IRBuilder):
    """The element emitter's builder: float remainder calls libdevice's exact fmod.
    `native_round_bf16` (see `llvm.emitter.round_bf16`): set on `device_builder(arch)`'s
    class for sm_80+."""

    native_round_bf16 = None

    def frem(self, lhs, rhs, name="", flags=()):
        if lhs.type not in (F32, F64):
            return super().frem(lhs, rhs, name=name, flags=flags)
        return self.call(math_provider(self.module)(FMOD.name, lhs.type), [lhs, rhs],
                         name=name)


class _NativeBF16Builder(DeviceBuilder):
    def native_round_bf16(self, x):
        """The float32 `x` rounded to bfloat16 by `cvt.rn.bf16.f32` (ties to even, subnormals
        kept, NaN stays NaN), as a float32."""
        return self.fpext(self.fptrunc(x, BFLOAT), F32)


def device_builder(arch: int):
    """The builder class of kernels for `arch`."""
    return _NativeBF16Builder if arch >= 80 else DeviceBuilder


# --- rendering and compiling ------------------------------------------------------------------

def kernel_name(step_index: int, comp_name: str) -> str:
    return f"k{step_index}_" + re.sub(r"[^A-Za-z0-9_]", "_", comp_name)[:48]


def render(plan, arch: int):
    """The LLVM module of `plan`'s kernels, control-flow bodies' included. Returns (module,
    {id(step): (step, DeviceKernel)}); steps without a kernel run on the host. Kernels inside
    a scan body may get unaligned pointers (`x_t`, `y_t`): they assume none."""
    mod = new_module(plan.module.name, arch)
    math = math_provider(mod)
    kernels = {}
    builder = device_builder(arch)

    def visit(steps, aligned):
        for step in steps:
            s = len(kernels)
            if step.kind == "kernel":
                comp = step.instr.called[0]
                kernels[id(step)] = (step, emit_fusion(
                    mod, kernel_name(s, comp.name), comp, math, builder_type=builder,
                    aligned=aligned, in_place=step.in_place))
            elif step.kind == "dot" and mma_ok(step.instr, arch):
                kernels[id(step)] = (step, emit_mma_dot(mod, kernel_name(s, "mma_dot"),
                                                        step.instr, builder_type=builder,
                                                        aligned=aligned))
            elif step.kind == "dot":
                kernels[id(step)] = (step, emit_dot(mod, kernel_name(s, "dot"), step.instr,
                                                    builder_type=builder, aligned=aligned))
            elif step.kind == "scatter":
                kernels[id(step)] = (step, emit_scatter(mod, kernel_name(s, step.instr.opcode),
                                                        step.instr, aligned=aligned,
                                                        builder_type=builder))
            elif step.kind == "control":
                inner = aligned and step.instr.opcode != "scan"
                for sub in step.subs:
                    visit(sub.steps, inner)

    visit(plan.steps, True)
    return mod, kernels


_MAX_CACHED = 256
_ptx_cache: collections.OrderedDict = collections.OrderedDict()


def compile_ptx(text: str, arch: int, kernels):
    """(PTX, optimized LLVM text) of the LLVM module `text`, whose entry points are the
    functions named in `kernels`."""
    key = hashlib.sha256(f"sm_{arch}\n{text}".encode()).digest()
    with _lock:
        hit = _ptx_cache.get(key)
        if hit is not None:
            _ptx_cache.move_to_end(key)
            return hit
        tm = target_machine(arch)
        mod = llvm.parse_assembly(text)
        mod.verify()
        if "__nv_" in text:
            mod.link_in(llvm.parse_bitcode(_libdevice()))
        keep = set(kernels)
        for fn in mod.functions:
            if not fn.is_declaration and fn.name not in keep:
                fn.linkage = llvm.Linkage.internal
        for gv in mod.global_variables:
            if not gv.is_declaration:
                gv.linkage = llvm.Linkage.internal
        llvm_native.run_pipeline(mod, tm, 3, loop_unrolling=True)   # frees its pass manager
        opt_text = str(mod)
        entry = (tm.emit_assembly(mod), opt_text)
        _ptx_cache[key] = entry
        if len(_ptx_cache) > _MAX_CACHED:
            _ptx_cache.popitem(last=False)
        return entry
