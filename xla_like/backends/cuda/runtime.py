"""The CUDA runtime with pycuda: the only module that imports it (lazily, so importing this
file never fails; using a device without pycuda or a driver raises CudaUnavailableError).

- A `Device` per GPU: its primary context (pushed around each use, so any thread may call),
  one stream, a caching allocator (free lists by size class: steady-state calls allocate
  nothing from the driver) and, when `libcublas` loads, a cuBLAS handle on that stream.
- `DeviceBuffer`: device memory holding one array, the data of a GPU-resident jitcore Array;
  its memory goes back to the allocator when the last reference to it goes. Everything runs
  on the device's one stream, so memory freed while kernels still use it is only reused by
  work queued after them.
- `load(executable, device)` makes the executable's `cuda.program.Program` on a device.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

import numpy as np

from ...settings import settings
from .. import runtime

BLOCKS_PER_SM = 32     # grid cap: grid-stride loops cover the rest
_MIN_BYTES = 256


class CudaUnavailableError(RuntimeError):
    """No usable GPU: pycuda is missing, the driver is missing, or there is no device."""


_driver = None
_devices = None
_unavailable = None    # why there is no driver (asked once per process)
_init_lock = threading.Lock()


def driver():
    """`pycuda.driver`, initialized; CudaUnavailableError says why it cannot be had."""
    global _unavailable
    if _driver is not None:
        return _driver
    if _unavailable is not None:
        raise CudaUnavailableError(_unavailable)
    try:
        return _init_driver()
    except CudaUnavailableError as e:
        _unavailable = str(e)
        raise


def _init_driver():
    global _driver
    try:
        import pycuda.driver as drv
    except ModuleNotFoundError as e:
        raise CudaUnavailableError(
            f"the CUDA backend needs pycuda ({e}); install it with pip install "
            "'jitcore[cuda]'") from None
    except ImportError as e:
        raise CudaUnavailableError(
            f"pycuda is installed but cannot load the NVIDIA driver ({e}); this machine has "
            "no usable CUDA driver") from None
    try:
        drv.init()
        count = drv.Device.count()
    except Exception as e:   # pycuda raises its own error types from the driver
        raise CudaUnavailableError(f"the CUDA driver failed to initialize: {e}") from None
    if count == 0:
        raise CudaUnavailableError("the CUDA driver reports no GPU on this machine")
    _driver = drv
    return drv


def devices():
    """Every GPU, as `Device` objects (made on first use)."""
    global _devices
    found = _devices
    if found is None:
        with _init_lock:
            if _devices is None:
                drv = driver()
                _devices = [Device(drv, k) for k in range(drv.Device.count())]
            found = _devices
    return found


def probe():
    """None when a GPU can run CUDA executables, else the reason it cannot (a test's skip
    message)."""
    try:
        devices()
    except CudaUnavailableError as e:
        return str(e)
    return None


def device_arch():
    """The first GPU's compute capability as an int (86 for 8.6), or None without one."""
    if probe() is not None:
        return None
    major, minor = devices()[0].compute_capability
    return major * 10 + minor


class CachingAllocator:
    """Device memory by size class: a released block goes to its class's free list and is
    handed out again; all free blocks go back to the driver when an allocation fails."""

    def __init__(self, drv):
        self.drv = drv
        self.free = {}
        # Reentrant: a DeviceBuffer collected while this thread holds the lock releases here.
        self.lock = threading.RLock()

    @staticmethod
    def size_class(nbytes):
        n = max(int(nbytes), _MIN_BYTES)
        if n <= 1 << 20:
            return 1 << (n - 1).bit_length()
        return -(-n // (1 << 20)) << 20      # whole MiB above 1 MiB

    def alloc(self, nbytes):
        size = self.size_class(nbytes)
        with self.lock:
            blocks = self.free.get(size)
            if blocks:
                return size, blocks.pop()
        try:
            return size, self.drv.mem_alloc(size)
        except self.drv.Error:
            self.empty()
            return size, self.drv.mem_alloc(size)

    def release(self, size, block):
        with self.lock:
            self.free.setdefault(size, []).append(block)

    def empty(self):
        with self.lock:
            lists, self.free = list(self.free.values()), {}
            blocks = [b for bs in lists for b in bs]
        for b in blocks:
            b.free()


class Device:
    def __init__(self, drv, ordinal):
        self.drv = drv
        self.ordinal = ordinal
        self.handle = drv.Device(ordinal)
        self.name = self.handle.name()
        self.compute_capability = self.handle.compute_capability()
        self.sm_count = self.handle.get_attribute(drv.device_attribute.MULTIPROCESSOR_COUNT)
        self.context = self.handle.retain_primary_context()
        self.lock = threading.RLock()
        with self.active():
            self.stream = drv.Stream()
        self.allocator = CachingAllocator(drv)
        self._cublas = None     # False once libcublas failed to load or to start
        self.cublas_error = None

    def active(self):
        return _Active(self)

    def cublas(self):
        """This device's `Cublas` (None without libcublas)."""
        if self._cublas is None:
            lib = load_cublas()
            self._cublas = False
            if lib is not None:
                with self.active():
                    try:
                        self._cublas = Cublas(lib, self.stream.handle)
                    except RuntimeError as e:   # dots fall back to the tiled kernel
                        self.cublas_error = str(e)
        return self._cublas or None

    def __repr__(self):
        return f"CudaDevice(id={self.ordinal}, {self.name})"


class _Active:
    """The device's context is current on this thread (and the device is ours) inside."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        self.device.lock.acquire()
        self.device.context.push()
        return self.device

    def __exit__(self, *exc):
        try:
            self.device.drv.Context.pop()
        finally:
            self.device.lock.release()


def load(executable, device=None):
    from .program import Program
    return Program(executable, device or devices()[0])


class DeviceBuffer(runtime.DeviceBuffer):
    """One array in device memory (`block`, a `size_class` block of the device's allocator)."""

    __slots__ = ("device", "size_class", "block", "ptr", "shape", "dtype")

    def __init__(self, device, size_class, block, shape, dtype):
        self.device = device
        self.size_class = size_class
        self.block = block
        self.ptr = int(block)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ordinal(self):
        return self.device.ordinal

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def to_host(self) -> np.ndarray:
        if self.block is None:
            raise RuntimeError("this device array's memory was donated to a jitted call")
        out = np.empty(self.shape, self.dtype)
        if out.nbytes:
            dev = self.device
            with dev.active():
                dev.drv.memcpy_dtoh_async(out, self.ptr, dev.stream)
                dev.stream.synchronize()
        return out

    def synchronize(self):
        with self.device.active():
            self.device.stream.synchronize()

    def take(self):
        """Hand this buffer's memory over (an output took a donated argument's memory)."""
        block, self.block, self.ptr = self.block, None, 0
        return self.size_class, block

    def __del__(self):
        block = self.block
        if block is not None:
            self.block = None
            self.device.allocator.release(self.size_class, block)

    def __repr__(self):
        return f"DeviceBuffer({self.dtype}{list(self.shape)} on {self.device!r})"


def upload(device, host) -> DeviceBuffer:
    """A copy of the host array `host` on `device`."""
    host = np.asarray(host, order="C")   # 0-d stays 0-d
    with device.active():
        size, block = device.allocator.alloc(host.nbytes)
        if host.nbytes:
            device.drv.memcpy_htod_async(int(block), host, device.stream)
            # The copy reads `host` after this returns only for page-locked memory; NumPy's
            # is pageable (staged before the call returns), so `host` may go right away.
    return DeviceBuffer(device, size, block, host.shape, host.dtype)


# --- cuBLAS -------------------------------------------------------------------------------

_CUBLAS_NAMES = ("libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11")
_OP_N, _OP_T = 0, 1


def load_cublas():
    """libcublas through ctypes, with its functions' argument types set (None without it;
    the `cuda_cublas` setting, `JITCORE_CUDA_CUBLAS=0`, turns it off)."""
    if not settings.cuda_cublas:
        return None
    names = list(_CUBLAS_NAMES)
    found = ctypes.util.find_library("cublas")
    if found:
        names.insert(0, found)
    try:
        import nvidia.cublas as pip_cublas   # the toolkit's library from pip
        for root in pip_cublas.__path__:
            names += [os.path.join(root, "lib", n) for n in _CUBLAS_NAMES]
    except ImportError:
        pass   # optional: the system's libcublas names above are tried either way
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            _declare_cublas(lib)
        except (OSError, AttributeError):   # not there, or too old for strided batches
            continue
        return lib
    return None


def _declare_cublas(lib):
    p, i, q = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
    lib.cublasCreate_v2.argtypes = [ctypes.POINTER(p)]
    lib.cublasSetStream_v2.argtypes = [p, p]
    for prefix, t in (("S", ctypes.c_float), ("D", ctypes.c_double)):
        tp = ctypes.POINTER(t)
        getattr(lib, f"cublas{prefix}gemm_v2").argtypes = [
            p, i, i, i, i, i, tp, p, i, p, i, tp, p, i]
        getattr(lib, f"cublas{prefix}gemmStridedBatched").argtypes = [
            p, i, i, i, i, i, tp, p, i, q, p, i, q, tp, p, i, q, i]


class Cublas:
    """A cuBLAS handle issuing on one stream."""

    def __init__(self, lib, stream_handle):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        self._check("cublasCreate_v2", lib.cublasCreate_v2(ctypes.pointer(self.handle)))
        self._check("cublasSetStream_v2",
                    lib.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream_handle or 0)))

    @staticmethod
    def _check(name, status):
        if status != 0:
            raise RuntimeError(f"{name} failed with cuBLAS status {status}")

    def gemm(self, dtype, layout, a, b, c):
        """c[q] = op(a[q]) @ op(b[q]) for each of `batch` row-major matrices, `layout` being
        `llvm.kernels.gemm_layout`'s (batch, m, n, k, a transposed, b transposed).

        cuBLAS is column-major: a row-major matrix is its transpose there, so it computes
        c^T (n x m) = op(b)^T op(a)^T, with b's memory as its first operand."""
        batch, m, n, k, ta, tb = layout
        t = ctypes.c_float if np.dtype(dtype) == np.float32 else ctypes.c_double
        prefix = "S" if t is ctypes.c_float else "D"
        one, zero = ctypes.pointer(t(1.0)), ctypes.pointer(t(0.0))
        op_b, ld_b = (_OP_T, k) if tb else (_OP_N, n)
        op_a, ld_a = (_OP_T, m) if ta else (_OP_N, k)
        if batch == 1:
            name = f"cublas{prefix}gemm_v2"
            status = getattr(self.lib, name)(self.handle, op_b, op_a, n, m, k, one, b, ld_b,
                                             a, ld_a, zero, c, n)
        else:
            name = f"cublas{prefix}gemmStridedBatched"
            status = getattr(self.lib, name)(self.handle, op_b, op_a, n, m, k, one,
                                             b, ld_b, k * n, a, ld_a, m * k, zero,
                                             c, n, m * n, batch)
        self._check(name, status)


def cublas_ok(instr) -> bool:
    """Can cuBLAS compute this dot_general: float32 or float64 throughout, nothing empty,
    dimensions in cuBLAS's 32-bit ints?"""
    from ..plan.kernel_shapes import gemm_layout
    dt = instr.shape.dtype
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)) or \
            any(o.shape.dtype != dt for o in instr.operands):
        return False
    batch, m, n, k, _, _ = gemm_layout(instr)
    return 0 < min(batch, m, n, k) and max(batch, m, n, k) < 2 ** 31


class StreamTimer:
    """Device timestamps of one call's steps on a device's stream, by CUDA events (the
    profiler's per-kernel timing on GPUs: `profile_hooks.timing_wanted()`).

    An event is recorded on the stream when the call starts (`origin`, with the host's
    perf_counter_ns read beside it) and before and after each top-level step; `finish` waits
    for the last one and places each step at `origin + elapsed` on the host's time line, on
    the track "GPU <ordinal> stream 0". Timing a call synchronizes it with the host."""

    def __init__(self, drv, stream, ordinal):
        import time
        self.drv, self.stream = drv, stream
        self.track = f"GPU {ordinal} stream 0"
        self.origin = drv.Event()
        self.host_t0 = time.perf_counter_ns()
        self.origin.record(stream)
        self.marks = []     # (step, start event, end event)

    def start(self):
        ev = self.drv.Event()
        ev.record(self.stream)
        return ev

    def stop(self, step, start):
        end = self.drv.Event()
        end.record(self.stream)
        self.marks.append((step, start, end))

    def elapsed_ms(self) -> list:
        """Milliseconds between each timed start and stop, in order (the stream synchronized
        first): the autotuner's timing (`cuda.autotune`)."""
        if self.marks:
            self.marks[-1][2].synchronize()
        return [end.time_since(start) for _, start, end in self.marks]

    def records(self, infos) -> list:
        """`profile_hooks.KernelRecord`s of the steps timed (the stream synchronized first);
        `infos`: {id(step): StepInfo}, filled here on first sight of a step."""
        from ...profile_hooks import KernelRecord
        from ..plan.cost import describe_step
        if self.marks:
            self.marks[-1][2].synchronize()
        out = []
        for step, start, end in self.marks:
            info = infos.get(id(step))
            if info is None:
                info = infos[id(step)] = describe_step(step)
            t0 = self.host_t0 + int(start.time_since(self.origin) * 1e6)   # ms -> ns
            t1 = self.host_t0 + int(end.time_since(self.origin) * 1e6)
            out.append(KernelRecord(info, 0, t0, t1, self.track))
        return out

    def finish(self, name, infos):
        """Report the call to the profiler (`profile_hooks.kernels`)."""
        import time
        from ... import profile_hooks
        records = self.records(infos)
        t1 = max([r.t1 for r in records], default=self.host_t0)
        profile_hooks.kernels(name, lambda: records, self.host_t0,
                              max(t1, time.perf_counter_ns()))
