"""What the layer above may ask of the backends at run time, beside `get_backend(name).compile`:
the GPUs, copies between host and device memory, device buffers, and the compiled-code caches.

`jitcore/` talks to the backends through this module and `xla_like.backends` only, never
through a backend's own modules, so a backend can change how it keeps devices and memory
without jitcore noticing. Nothing here imports a GPU runtime until a GPU is asked about.
"""
from __future__ import annotations

import numpy as np


class DeviceBuffer:
    """An array in a device's memory: the data of a device-resident jitcore Array.

    A backend's buffers subclass this and provide `shape`, `dtype`, `ordinal` (the number of
    the GPU holding it), `to_host()` (a new host array of its values) and `synchronize()`
    (wait for the work queued on it)."""

    __slots__ = ()


def is_device_buffer(x) -> bool:
    return isinstance(x, DeviceBuffer)


# --- GPUs -------------------------------------------------------------------------------------

def gpu_unavailable_reason() -> str | None:
    """None when a GPU can run CUDA executables, else why not (pycuda or the driver missing,
    no device)."""
    from .cuda import runtime as cuda_runtime
    return cuda_runtime.probe()


def gpu_ordinals() -> list[int]:
    """The numbers of the usable GPUs (none without a usable driver)."""
    from .cuda import runtime as cuda_runtime
    if cuda_runtime.probe() is not None:
        return []
    return [d.ordinal for d in cuda_runtime.devices()]


def gpu_name(ordinal: int) -> str:
    """The name the driver gives GPU `ordinal` (e.g. "NVIDIA H100 80GB HBM3")."""
    from .cuda import runtime as cuda_runtime
    return cuda_runtime.devices()[ordinal].name


def to_gpu(host: np.ndarray, ordinal: int) -> DeviceBuffer:
    """A copy of the host array `host` in the memory of GPU `ordinal`."""
    from .cuda import runtime as cuda_runtime
    return cuda_runtime.upload(cuda_runtime.devices()[ordinal], host)


# --- host memory and compiled code --------------------------------------------------------

def held_by_output_pool(array: np.ndarray) -> bool:
    """Whether the CPU backend's output pool keeps `array` for reuse (it then holds one
    reference to it, which a caller counting references must allow for)."""
    from . import memory
    return memory.holds(array)


def set_producer_version(version: str) -> None:
    """The version of the code driving the backends: part of every persistent cache key."""
    from . import disk_cache
    disk_cache.configure(version)


def clear_compiled_code() -> None:
    """Forget the backends' machine code: in memory and in the persistent cache's files."""
    from . import disk_cache
    disk_cache.clear(memory=True)


def code_transfer():
    """The module that hands compiled code to other processes in the persistent cache's
    format, and counts what compiles did (`cache_transfer`; `jitcore.distributed` uses it)."""
    from . import cache_transfer
    return cache_transfer


# --- analysis of compiled programs and of the host ------------------------------------------

def cost_analysis(executable) -> dict:
    """Flops, transcendental calls and bytes moved by a compiled program, per step and in all,
    in XLA's keys (`plan.analysis.program_cost`)."""
    from .plan import analysis
    return analysis.program_cost(getattr(executable, "plan", None), executable.module)


def memory_analysis(executable):
    """Argument, output, aliased, temporary and peak bytes of a compiled program after buffer
    assignment (`plan.analysis.MemoryStats`)."""
    from .plan import analysis
    # The native code the program runs (shared with programs that render the same code).
    code = getattr(getattr(executable, "_engine", None), "nbytes", 0)
    return analysis.program_memory(getattr(executable, "plan", None), executable.module,
                                   code_bytes=code)


def environment_rows() -> list[tuple[str, str]]:
    """(label, text) rows on what the backends run on: LLVM and the host CPU's features,
    OpenBLAS and its kernel family, threads, the compilation cache, the GPU."""
    from . import environment
    return environment.rows()


def cpu_model() -> str:
    """The CPU's marketing name, for reports and for keys of what was measured on it."""
    from .environment import cpu_model as name
    return name()
