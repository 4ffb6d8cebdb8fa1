"""The CUDA backend: fused kernels compiled to PTX with LLVM (llvmlite), run with pycuda.

compile(module, donated):
1. `cpu_plan.cpu_pipeline`: the CPU backend's passes (inlining, CSE, layout, fusion, DCE).
2. `DevicePlan` (`cpu_plan.Plan`): buffers and steps; control flow (while/scan/cond) and the
   instructions no kernel expresses (sort, scatter, cumulative scans) are host steps.
3. Render and compile (`cuda_codegen`, `cuda_kernels`): one PTX module, a kernel per fusion and
   per dot. This needs no GPU, driver or pycuda: `as_text("ptx")` works anywhere.
4. Load on first call (`cuda_runtime`, which alone imports pycuda): the module into the device's
   primary context, then each call uploads the arguments, launches the kernels in order on the
   device's stream (host steps copy their operands to the host and their results back) and
   downloads the outputs.

Not yet: donation (outputs always get fresh device memory), results that stay on the device,
native loops.
"""
from __future__ import annotations

import os

from .. import ir
from .cpu_control import CONTROL
from .cpu_plan import Plan, Step, cpu_pipeline
from .cuda_codegen import PTX_ISA, MIN_ARCH, compile_ptx, cuda_arch, render


class DevicePlan(Plan):
    """The CPU plan with control flow as host steps (its bodies run in the interpreter)."""

    def _make_step(self, instr, ins, outs, nested=False):
        if instr.opcode in CONTROL:
            return Step("python", instr, ins, outs)
        return super()._make_step(instr, ins, outs, nested)


class Executable:
    backend = "cuda"

    def __init__(self, module, optimized, plan, kernels, ptx, llvm_text, arch):
        self.module = module
        self.optimized = optimized
        self.plan = plan
        self.kernels = kernels      # step index -> cuda_kernels.DeviceKernel
        self.ptx = ptx
        self.arch = arch
        self._llvm_text = llvm_text
        self._program = None

    def as_text(self, kind: str = "hlo") -> str:
        if kind == "hlo":
            return self.optimized.as_text()
        if kind == "llvm":
            return self._llvm_text
        if kind in ("ptx", "asm"):
            return self.ptx
        raise ValueError(f"the cuda backend has no {kind!r} text; use 'hlo', 'llvm' or 'ptx'")

    def __call__(self, args):
        if len(args) != self.plan.n_params:
            raise TypeError(f"{self.module.name} expects {self.plan.n_params} arguments, "
                            f"got {len(args)}")
        if self._program is None:
            from . import cuda_runtime   # imports pycuda; raises CudaUnavailableError without
            self._program = cuda_runtime.load(self)
        return self._program(args)


def target_arch(arch=None) -> int:
    """`arch`, else `JITCORE_CUDA_ARCH`, else the first GPU's compute capability (the newest
    architecture LLVM knows at most), else sm_80."""
    if arch is None and not os.environ.get("JITCORE_CUDA_ARCH"):
        from . import cuda_runtime
        found = cuda_runtime.device_arch()
        if found is not None and found >= MIN_ARCH:
            return max(a for a in PTX_ISA if a <= found)
    return cuda_arch(arch)


def compile(module: ir.Module, donated=frozenset(), arch=None) -> Executable:
    """`arch`: see `target_arch`. `donated` is accepted for the common interface; outputs do
    not take parameters' memory yet."""
    sm = target_arch(arch)
    optimized = cpu_pipeline(module)
    plan = DevicePlan(optimized)
    llmod, kernels = render(plan, sm)
    ptx, llvm_text = compile_ptx(str(llmod), sm, [k.name for k in kernels.values()])
    return Executable(module, optimized, plan, kernels, ptx, llvm_text, sm)
