"""Devices and where arrays live: `devices()`, `device_put`, and the plumbing that lets `jit`
pass GPU-resident Arrays to the backends.

`cpu:0` always exists; `cuda:N` exist when a GPU can run the CUDA backend (asking imports the
CUDA runtime, and pycuda, only then). An Array on a GPU holds a device buffer (see
`jitcore.array`); `jit(f, backend="cuda")` takes such Arrays without a copy and returns its
results as such Arrays. Any other backend gets their values copied to the host. Everything
about GPUs and their memory comes through the backends' runtime interface,
`xla_like.backends.runtime`.
"""
from __future__ import annotations

import numpy as np

from ops.core import Tracer
from xla_like.backends import runtime

from .array import Array


class Device:
    """A device an Array can live on: `platform` ("cpu" or "cuda") and `id`."""

    __slots__ = ("platform", "id")

    def __init__(self, platform: str, id: int):
        self.platform = platform
        self.id = id

    @property
    def device_kind(self):
        if self.platform == "cpu":
            return "cpu"
        return runtime.gpu_name(self.id)

    def __repr__(self):
        return f"{self.platform}:{self.id}"

    def __eq__(self, other):
        return isinstance(other, Device) and (self.platform, self.id) == (other.platform,
                                                                           other.id)

    def __hash__(self):
        return hash((self.platform, self.id))


CPU = Device("cpu", 0)
_cuda = {}


def _cuda_device(ordinal: int) -> Device:
    d = _cuda.get(ordinal)
    if d is None:
        d = _cuda[ordinal] = Device("cuda", ordinal)
    return d


def devices(backend: str | None = None) -> list:
    """Every device: `cpu:0`, then `cuda:0`, `cuda:1`, ... when a GPU is usable (`backend`:
    "cpu" or "cuda" for those alone)."""
    out = [] if backend in ("cuda", "gpu") else [CPU]
    if backend in (None, "cuda", "gpu"):
        out += [_cuda_device(k) for k in runtime.gpu_ordinals()]
    elif backend != "cpu":
        raise ValueError(f"devices: unknown backend {backend!r}; use 'cpu' or 'cuda'")
    return out


def device_of(buf) -> Device:
    """The Device of an Array's device buffer (None: the host)."""
    return CPU if buf is None else _cuda_device(buf.ordinal)


def _resolve(device) -> Device:
    if device is None:
        from . import config
        return _resolve("cuda") if config.settings.backend == "cuda" else CPU
    if isinstance(device, Device):
        return device
    if isinstance(device, str):
        name, _, num = device.strip().lower().partition(":")
        if name in ("cpu", "cuda", "gpu") and (num == "" or num.isdigit()):
            k = int(num or 0)
            if name == "cpu":
                if k == 0:
                    return CPU
            else:
                gpus = devices("cuda")
                if k < len(gpus):
                    return gpus[k]
                why = runtime.gpu_unavailable_reason()
                raise ValueError(f"device_put: there is no device {device!r}" +
                                 (f" ({why})" if why else f"; this machine has {len(gpus)} "
                                  "GPU(s)"))
    raise ValueError(f"device_put: {device!r} is not a device; use one of jitcore.devices() "
                     "or a name such as 'cpu' or 'cuda:0'")


def device_put(x, device=None):
    """`x` (an array, a Python number or a pytree of them) on `device` (a Device from
    `devices()`, or "cpu", "cuda", "cuda:1"; default: the default backend's first device).
    Arrays already there come back as they are."""
    from . import tree_util
    target = _resolve(device)
    return tree_util.tree_map(lambda leaf: _put(leaf, target), x)


def _put(x, target: Device):
    if isinstance(x, Tracer):
        return x
    if type(x) is not Array and not isinstance(x, Array):
        from .numpy._promotion import asarray
        x = asarray(x)
    if x.device == target and not x.is_deleted():
        return x
    weak = x.weak_type
    host = np.asarray(x)    # a GPU array comes to the host first (no peer copies)
    if target.platform == "cpu":
        return Array._wrap(host, weak)
    return Array._wrap(runtime.to_gpu(host, target.id), weak)


# --- jit's side: device Arrays as arguments -------------------------------------------------

class DeviceSig(tuple):
    """An argument signature (shape, dtype, weak type) of an Array on a GPU: never equal to a
    host argument's, so a function's host calls and device calls have separate cache entries
    (a backend that cannot read device memory is handed host copies only in the latter)."""

    __slots__ = ()

    def __new__(cls, shape, dtype, weak):
        return tuple.__new__(cls, (shape, dtype, weak))

    def __eq__(self, other):
        return type(other) is DeviceSig and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("device",) + tuple(self))


def device_leaf(x):
    """jit's signature and value of an Array without a host array: (DeviceSig, the Array)."""
    buf = x._meta()     # raises when the Array was deleted
    return DeviceSig(buf.shape, buf.dtype, x.weak_type), x


def host_inputs(executable, sigs):
    """`executable`, or, when some argument signature in `sigs` is a device Array's and the
    backend reads host memory only, a wrapper handing it host copies."""
    if getattr(executable, "device_inputs", False) or \
            not any(type(s) is DeviceSig for s in sigs):
        return executable
    return _HostInputs(executable)


class _HostInputs:
    def __init__(self, executable):
        self._executable = executable

    def __call__(self, args):
        return self._executable([np.asarray(a) if isinstance(a, Array) else a for a in args])

    def __getattr__(self, name):
        return getattr(self._executable, name)


def exclusive_on_device(vals, j):
    """May a jitted call take the device memory of `vals[j]` (a donated device Array)? Each
    device buffer belongs to one Array; it must not be passed twice."""
    v = vals[j]
    return getattr(v, "_buf", None) is not None and sum(a is v for a in vals) == 1
