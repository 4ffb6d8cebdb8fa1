"""Running CUDA executables with pycuda: the only module that imports it (lazily, so importing
this file never fails; using a device without pycuda or a driver raises CudaUnavailableError).

- A `Device` per GPU: its primary context (pushed around each call, so any thread may call),
  one stream, and a caching allocator (free lists by size class: steady-state calls allocate
  nothing from the driver).
- `load(executable)` loads the PTX into the context, uploads the constants once and returns a
  `Program`. A call uploads the arguments, launches each kernel step on the stream, runs host
  steps (control flow, sort, scatter, ...) with NumPy between copies of their operands to the
  host and results back, downloads the outputs and releases the call's memory to the cache.
"""
from __future__ import annotations

import threading

import numpy as np

from ops.core import PRIMITIVES

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
    with _init_lock:
        if _devices is None:
            drv = driver()
            _devices = [Device(drv, k) for k in range(drv.Device.count())]
    return _devices


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
        self.lock = threading.Lock()

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
            blocks = [b for bs in self.free.values() for b in bs]
            self.free = {}
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

    def active(self):
        return _Active(self)

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
    return Program(executable, device or devices()[0])


class Program:
    def __init__(self, executable, device):
        self.exe = executable
        self.device = device
        drv = device.drv
        plan = executable.plan
        major, minor = device.compute_capability
        if major * 10 + minor < executable.arch:
            raise CudaUnavailableError(
                f"{executable.module.name} was compiled for sm_{executable.arch} but "
                f"{device.name} is sm_{major}{minor}; set JITCORE_CUDA_ARCH=sm_{major}{minor}")
        self.max_blocks = max(1, device.sm_count * BLOCKS_PER_SM)
        with device.active():
            self.module = drv.module_from_buffer(executable.ptx.encode())
            self.launches = {}
            for s, kernel in executable.kernels.items():
                fn = self.module.get_function(kernel.name)
                step = plan.steps[s]
                fn.prepare("P" * (len(step.inputs) + 1) + "qq")
                self.launches[s] = (fn, kernel)
            self.constants = {}   # buffer id -> (size class, device block), kept for good
            for b in plan.buffers:
                if b.kind == "const":
                    host = np.ascontiguousarray(b.value, dtype=b.shape.dtype)
                    size, block = device.allocator.alloc(host.nbytes)
                    if host.nbytes:
                        drv.memcpy_htod(block, host)
                    self.constants[b.id] = (size, block)

    def __del__(self):
        try:
            for size, block in self.constants.values():
                self.device.allocator.release(size, block)
        except Exception:
            pass

    def __call__(self, args):
        dev = self.device
        drv, stream, alloc = dev.drv, dev.stream, dev.allocator
        plan = self.exe.plan
        ptrs = [0] * len(plan.buffers)
        host = {}          # buffer id -> a host copy (arguments, constants, host results)
        taken = []         # (size class, block) of this call
        with dev.active():
            try:
                for b in plan.buffers:
                    if b.kind == "const":
                        ptrs[b.id] = int(self.constants[b.id][1])
                        host[b.id] = b.value
                    elif b.kind == "param":
                        a = np.ascontiguousarray(args[b.index], dtype=b.shape.dtype)
                        taken.append(alloc.alloc(a.nbytes))
                        ptrs[b.id] = int(taken[-1][1])
                        if a.nbytes:
                            drv.memcpy_htod_async(ptrs[b.id], a, stream)
                        host[b.id] = a
                    elif b.kind == "output":
                        taken.append(alloc.alloc(b.nbytes))
                        ptrs[b.id] = int(taken[-1][1])
                if plan.workspace_bytes:
                    taken.append(alloc.alloc(plan.workspace_bytes))
                    base = int(taken[-1][1])
                    for b in plan.buffers:
                        if b.kind == "temp":
                            ptrs[b.id] = base + b.offset
                for s, step in enumerate(plan.steps):
                    launch = self.launches.get(s)
                    if launch is not None:
                        self._launch(launch, step, ptrs)
                    else:
                        self._host_step(step, ptrs, host)
                results = []
                for bid in plan.outputs:
                    b = plan.buffers[bid]
                    r = np.empty(b.shape.dims, b.shape.dtype)
                    if r.nbytes:
                        drv.memcpy_dtoh_async(r, ptrs[bid], stream)
                    results.append(r)
                stream.synchronize()
            finally:
                for size, block in taken:
                    alloc.release(size, block)
        return results

    def _launch(self, launch, step, ptrs):
        fn, kernel = launch
        grid = kernel.grid(self.max_blocks)
        if grid == 0:
            return
        args = [ptrs[i] for i in step.inputs] + [ptrs[step.outputs[0]], 0, kernel.extent]
        fn.prepared_async_call((grid, 1), (kernel.block, 1, 1), self.device.stream, *args)

    def _host_step(self, step, ptrs, host):
        """Run `step` with NumPy: operands come to the host, results go back."""
        drv, stream = self.device.drv, self.device.stream
        plan = self.exe.plan
        operands = []
        for bid in step.inputs:
            a = host.get(bid)
            if a is None:
                b = plan.buffers[bid]
                a = np.empty(b.shape.dims, b.shape.dtype)
                if a.nbytes:
                    drv.memcpy_dtoh_async(a, ptrs[bid], stream)
            operands.append(a)
        stream.synchronize()
        instr = step.instr
        with np.errstate(all="ignore"):
            if instr.called:
                res = _host_runner(step)(*operands)
            else:
                res = PRIMITIVES[instr.opcode].impl(*operands, **instr.attrs)
        res = res if isinstance(res, tuple) else (res,)
        for bid, r in zip(step.outputs, res):
            b = plan.buffers[bid]
            r = np.ascontiguousarray(np.asarray(r), dtype=b.shape.dtype).reshape(b.shape.dims)
            host[bid] = r
            if r.nbytes:
                drv.memcpy_htod_async(ptrs[bid], r, stream)


def _host_runner(step):
    """Control flow runs its bodies with the interpreter."""
    run = getattr(step, "runner", None)
    if run is None:
        from ..control_flow import interp_runner
        from .interp import compile_computation
        run = step.runner = interp_runner(step.instr, compile_computation)
    return run
