"""The CUDA backend: fused kernels compiled to PTX with LLVM (llvmlite), run with pycuda.

compile(module, donated):
1. `device_pipeline`: the CPU backend's passes (inlining, CSE, layout, fusion, DCE); on sm_80+
   bfloat16/float16 dots stay 16-bit (no `widen_half_dots`): they run on tensor cores
   (`cuda.mma`).
2. `DevicePlan` (`plan.planner.Plan`): buffers and steps; control flow (while/scan/cond) gets the
   CPU backend's sub-plans (`plan.control`), driven from the host; outputs may take donated
   parameters' memory as on the CPU; scatters are one-thread kernels (`cuda.kernels`); the
   instructions no kernel expresses (sort, cumulative scans) are host steps, and so is linear
   algebra (the LAPACK primitives of `ops.decompositions`: `DevicePlan` has no
   `native_library`): their operands are copied to the host, the NumPy reference runs there,
   and the results are copied back between kernels.
3. Render and compile (`cuda.codegen`, `cuda.kernels`, `cuda_reduce`): one PTX module, a
   kernel per fusion and per dot (two for a long reduction), sub-plans' included. This needs
   no GPU, driver or pycuda: `as_text("ptx")` works anywhere.
4. Load on first call on a device (`cuda.runtime`, which alone imports pycuda, and
   `cuda.program`): the module into the device's primary context. A call runs on the device
   holding its first GPU-resident argument (else the first GPU) and returns DeviceBuffers:
   results stay on the device until read.
"""
from __future__ import annotations

import collections
import threading

from ... import ir
from ...pipeline import PIPELINES, run_pipeline
from ...settings import settings
from ..plan.control import CONTROL, make_control
from ..plan.planner import Plan, Step
from . import mma
from . import schedule as sched_mod
from .codegen import PTX_ISA, MIN_ARCH, compile_ptx, cuda_arch, render


class DevicePlan(Plan):
    """The CPU plan (no BLAS epilogues); control flow is always a control step, whatever its
    bodies hold (their host steps run between kernels like any other)."""

    def __init__(self, module, donated=frozenset()):
        super().__init__(module, donated, blas=None)

    native_scatter = True    # one-thread scatter kernels (`cuda.kernels.emit_scatter`)

    def _make_step(self, instr, ins, outs, nested=False):
        if instr.opcode in CONTROL:
            step = make_control(self, Step("control", instr, ins, outs), nested)
            step.kind = "control"
            return step
        return super()._make_step(instr, ins, outs, nested)


class Executable:
    backend = "cuda"
    device_inputs = True    # takes GPU-resident Arrays as they are (see jitcore.devices)

    def __init__(self, module, optimized, plan, kernels, ptx, llvm_text, arch,
                 schedules=None):
        self.module = module
        self.schedules = dict(schedules or {})   # {kernel name: cuda.schedule.Schedule}
        self.donated = frozenset()   # set by `compile`: parameters outputs may take
        self.optimized = optimized
        self.plan = plan
        self.kernels = kernels      # id(step) -> (step, cuda.kernels.DeviceKernel)
        self.ptx = ptx
        self.arch = arch
        self._llvm_text = llvm_text
        self._programs = {}         # cuda.runtime.Device -> cuda.program.Program
        self._lock = threading.Lock()

    def as_text(self, kind: str = "hlo") -> str:
        if kind == "hlo":
            return self.optimized.as_text()
        if kind == "llvm":
            return self._llvm_text
        if kind in ("ptx", "asm"):
            return self.ptx
        raise ValueError(f"the cuda backend has no {kind!r} text; use 'hlo', 'llvm' or 'ptx'")

    def __call__(self, args):
        """Runs on the device of the first argument that lives on a GPU (else the first GPU);
        returns `cuda.runtime.DeviceBuffer`s."""
        if len(args) != self.plan.n_params:
            raise TypeError(f"{self.module.name} expects {self.plan.n_params} arguments, "
                            f"got {len(args)}")
        device = None
        for a in args:
            buf = getattr(a, "_buf", None)
            if buf is not None:
                device = buf.device
                break
        return self.program(device)(args)

    def program(self, device=None):
        """The executable loaded on `device` (a `cuda.runtime.Device`; default: the first)."""
        if device is None:
            from . import runtime as cuda_runtime  # imports pycuda; raises CudaUnavailableError without
            device = cuda_runtime.devices()[0]
        prog = self._programs.get(device)
        if prog is None:
            from . import runtime as cuda_runtime
            with self._lock:
                prog = self._programs.get(device)
                if prog is None:
                    prog = self._programs[device] = cuda_runtime.load(self, device)
        return prog


def target_arch(arch=None) -> int:
    """`arch`, else the `cuda_arch` setting (`JITCORE_CUDA_ARCH`), else the first GPU's compute
    capability (the newest architecture LLVM knows at most), else sm_80."""
    if arch is None and not settings.cuda_arch:
        from . import runtime as cuda_runtime
        found = cuda_runtime.device_arch()
        if found is not None and found >= MIN_ARCH:
            return max(a for a in PTX_ISA if a <= found)
    return cuda_arch(arch)


# A function's calls with host arguments and with device arguments are separate jit cache
# entries (see jitcore.devices.DeviceSig): they share one executable, loaded once.
_MAX_MEMO = 64
_memo: collections.OrderedDict = collections.OrderedDict()
_memo_lock = threading.Lock()


def device_pipeline(module: ir.Module, arch: int) -> ir.Module:
    """The kernel pipeline on a copy of `module`, for `arch`: without `widen_half_dots` where
    tensor cores take 16-bit dots as they are."""
    steps = PIPELINES["kernel"]
    if arch >= mma.MIN_ARCH:
        steps = [(n, p) for n, p in steps if n != "widen_half_dots"]
    return run_pipeline(ir.clone_module(module), steps)[0]


def compile(module: ir.Module, donated=frozenset(), arch=None, schedules=None) -> Executable:
    """`arch`: see `target_arch`. `donated`: parameter numbers whose memory outputs may take
    (as on the CPU: `plan.planner.reads_at_output_position`). `schedules`: {kernel name:
    `cuda.schedule.Schedule`} (autotuning's choice; default: none)."""
    sm = target_arch(arch)
    schedules = dict(schedules or {})
    key = (module.as_text(print_large_constants=True), frozenset(donated), sm,
           tuple(sorted(schedules.items())))
    with _memo_lock:
        hit = _memo.get(key)
        if hit is not None:
            _memo.move_to_end(key)
            return hit
    optimized = device_pipeline(module, sm)
    plan = DevicePlan(optimized, frozenset(donated))
    with sched_mod.using(schedules):
        llmod, kernels = render(plan, sm)
    names = [n for _, k in kernels.values() for n in k.names()]
    ptx, llvm_text = compile_ptx(str(llmod), sm, names)
    exe = Executable(module, optimized, plan, kernels, ptx, llvm_text, sm, schedules)
    exe.donated = frozenset(donated)
    with _memo_lock:
        _memo[key] = exe
        if len(_memo) > _MAX_MEMO:
            _memo.popitem(last=False)
    return exe


def tune_schedules(executable, args, donated=frozenset()):
    """`jit(..., autotune=True)`'s first call: `executable` with the kernel schedules that run
    it fastest on the call's device (`cuda.autotune`)."""
    from .autotune import tune
    return tune(executable, args, donated)
