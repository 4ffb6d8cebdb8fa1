"""`jitcore.Array`: the immutable array every jitcore computation returns.

On the CPU it wraps a read-only NumPy array, so `np.asarray(x)` is free (no copy). The
operators and methods it shares with traced values come from `array_methods`.

An Array on a GPU (a result of `jit(f, backend="cuda")`, or `device_put`) holds a device buffer
(`xla_like.backends.runtime.DeviceBuffer`) in `_buf` and no host array (`_value` is None) until something reads its values: the first
read copies them to the host and keeps that copy. Shape and dtype come from the buffer.
"""
from __future__ import annotations

import numpy as np

from ops import core, dtypes
from ops.core import ShapedArray
from xla_like.backends.runtime import DeviceBuffer


class _ArrayMeta(type):
    # As in JAX, traced values are Arrays too: `isinstance(x, jitcore.Array)` holds inside jit.
    def __instancecheck__(cls, obj):
        return type.__instancecheck__(cls, obj) or isinstance(obj, core.Tracer)


class Array(metaclass=_ArrayMeta):
    # `_buf` is set only on device Arrays (see the module docstring).
    __slots__ = ("_value", "weak_type", "_buf", "_aval", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, value, weak_type: bool = False):
        value = np.asarray(value)
        if value.flags.writeable:
            # Own the data: a view of the caller's writable array could change under us.
            value = value.copy()
            value.flags.writeable = False
        self._value = value
        self.weak_type = weak_type

    @classmethod
    def _wrap(cls, value: np.ndarray, weak_type: bool = False):
        """Wrap a result we own (no checks, no copy): the hot path of every call."""
        self = object.__new__(cls)
        try:
            if value.flags.writeable:
                value.flags.writeable = False
        except AttributeError:
            # Checked here, off the host path, which this keeps at one attribute read.
            if not isinstance(value, DeviceBuffer):
                raise
            self._buf, value = value, None   # its values come to the host when read
        self._value = value
        self.weak_type = weak_type
        return self

    # -- what it is ----------------------------------------------------------------------------

    @property
    def aval(self) -> ShapedArray:
        # Made once: an Array never changes, and an eager `x + y` asks for it a dozen times
        # (promotion, broadcasting, the primitive's rules).
        try:
            return self._aval
        except AttributeError:   # the first ask: the slot is unset until now
            v = self._value
            v = self._meta() if v is None else v
            a = self._aval = ShapedArray(v.shape, v.dtype, self.weak_type)
            return a

    @property
    def shape(self):
        v = self._value
        return (self._meta() if v is None else v).shape

    @property
    def dtype(self):
        v = self._value
        return (self._meta() if v is None else v).dtype

    @property
    def ndim(self):
        v = self._value
        return (self._meta() if v is None else v).ndim

    @property
    def size(self):
        v = self._value
        return (self._meta() if v is None else v).size

    @property
    def nbytes(self):
        v = self._value
        return (self._meta() if v is None else v).nbytes

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def device(self):
        from .devices import device_of
        return device_of(getattr(self, "_buf", None))

    def devices(self) -> set:
        """The devices holding this array: a set of one."""
        return {self.device}

    @property
    def sharding(self):
        from .sharding import SingleDeviceSharding
        return SingleDeviceSharding(self.device)

    def _check_alive(self):
        """The host array (copied from the device on first use)."""
        v = self._value
        if v is None:
            v = self._meta().to_host()
            v.flags.writeable = False
            self._value = v
        return v

    def _meta(self):
        """The device buffer of an Array without a host copy (shape, dtype, ...)."""
        buf = getattr(self, "_buf", None)
        if buf is None:
            raise RuntimeError("Array has been deleted (it was donated to a jitted call with "
                               "donate_argnums)")
        return buf

    def delete(self):
        self._value = None
        self._buf = None

    def is_deleted(self):
        return self._value is None and getattr(self, "_buf", None) is None

    # -- conversions: concrete, so they work --------------------------------------------------

    def __array__(self, dtype=None, copy=None):
        v = self._check_alive()
        if copy:
            v = v.copy()
        return v if dtype is None else v.astype(dtype, copy=bool(copy))

    def __bool__(self):
        return bool(self._check_alive())

    def __int__(self):
        return int(self._check_alive())

    def __float__(self):
        return float(self._check_alive())

    def __complex__(self):
        return complex(self._check_alive())

    def __index__(self):
        v = self._check_alive()
        if v.dtype.kind not in "iub" or v.ndim:
            raise TypeError(f"only integer scalar arrays can be converted to an index, got "
                            f"{self.aval.str_short()}")
        return int(v)

    def item(self, *args):
        return self._check_alive().item(*args)

    def tolist(self):
        return self._check_alive().tolist()

    def __len__(self):
        v = self._check_alive()
        if v.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(v)

    def __iter__(self):
        v = self._check_alive()
        if v.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (Array._wrap(r, False) if isinstance(r, np.ndarray)
                else Array._wrap(np.asarray(r), False) for r in v)

    __hash__ = None

    def block_until_ready(self):
        buf = getattr(self, "_buf", None)
        if buf is not None:
            buf.synchronize()
        return self

    def copy(self):
        return Array(self._check_alive().copy(), self.weak_type)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (Array, (np.array(self._check_alive()), self.weak_type))

    # -- printing like NumPy -----------------------------------------------------------------

    def __repr__(self):
        if self.is_deleted():
            return "Array(<deleted>)"
        v = self._check_alive()
        body = np.array2string(v, separator=", ", prefix="Array(")
        extra = f", dtype={v.dtype}"
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}{extra}{weak})"

    def __str__(self):
        return str(self._check_alive())

    def __format__(self, spec):
        v = self._check_alive()
        return format(v.item(), spec) if v.ndim == 0 else format(str(v), spec)
