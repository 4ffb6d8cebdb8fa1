"""What the backends run on: LLVM, the host CPU and its features, OpenBLAS and its kernel
family, the threads, the compilation cache, and the GPU when there is one, as a list of
(label, text) rows (`jitcore.print_environment_info` prints them).

Each row is asked for on its own: a part that cannot be asked (no BLAS library, no pycuda)
says why instead of failing the rest.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's marketing name (Linux's /proc/cpuinfo), else what Python's platform says."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _llvm_rows():
    import llvmlite
    from llvmlite import binding as llvm
    features = llvm.get_host_cpu_features().flatten().split(",")
    on = [f[1:] for f in features if f.startswith("+")]
    return [("llvmlite", f"{llvmlite.__version__} (LLVM "
                         f"{'.'.join(map(str, llvm.llvm_version_info))})"),
            ("target", f"{llvm.get_process_triple()}, CPU {llvm.get_host_cpu_name()}"),
            ("CPU features", " ".join(sorted(on)))]


def _blas_rows():
    from .cpu import blas
    if not blas.available():
        return [("BLAS", "none found (dots run jitcore's own loops)")]
    c = blas.load().config()
    kernels = c.get("corename") or c.get("coretype") or "unknown"
    why = f" ({c['reason']})" if c.get("reason") else ""
    return [("BLAS", f"{c.get('package')} {c.get('version') or ''}".strip()
                     + f", {c.get('int_bits')}-bit integers, kernels {kernels}{why}"),
            ("BLAS config", c.get("config") or "not reported"),
            ("BLAS library", c.get("path") or "")]


def _thread_rows():
    from .cpu import compile_units, pool
    return [("threads", f"{pool.threads()} for kernels and GEMMs (num_threads setting), "
                        f"{compile_units.workers()} compiling, {_cores()} cores usable")]


def _cache_rows():
    from . import disk_cache
    folder = disk_cache.configured_dir()
    if not disk_cache.enabled():
        return [("cache", f"{folder} (off: the cache setting is 0)")]
    files = size = 0
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.is_file(follow_symlinks=False):
                    files += 1
                    size += e.stat(follow_symlinks=False).st_size
    except OSError:
        return [("cache", f"{folder} (not created yet)")]
    return [("cache", f"{folder}: {files} files, {size / 2**20:.1f} MiB")]


def _gpu_rows():
    from . import runtime
    pycuda = _version("pycuda")
    reason = runtime.gpu_unavailable_reason()
    if reason is not None:
        return [("GPU", f"none usable: {reason}")]
    rows = [("pycuda", pycuda or "unknown")]
    try:
        import pycuda.driver as drv
        v = drv.get_driver_version()
        rows.append(("CUDA driver", f"{v // 1000}.{v % 1000 // 10}"))
    except Exception as e:   # a driver that answers devices but not its version
        rows.append(("CUDA driver", f"unknown ({e})"))
    for k in runtime.gpu_ordinals():
        rows.append((f"GPU {k}", runtime.gpu_name(k)))
    return rows


def rows() -> list[tuple[str, str]]:
    """(label, text) rows describing the backends' environment."""
    out = [("CPU", f"{cpu_model()} ({platform.machine()})")]
    for part in (_llvm_rows, _blas_rows, _thread_rows, _cache_rows, _gpu_rows):
        try:
            out.extend(part())
        except Exception as e:   # one part failing says so and leaves the others
            out.append((part.__name__.strip("_").replace("_rows", ""),
                        f"unavailable: {type(e).__name__}: {e}"))
    return out
