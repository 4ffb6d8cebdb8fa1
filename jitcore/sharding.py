"""Where an Array's data lives, in JAX's terms: every jitcore Array is on one device, so its
`sharding` is a `SingleDeviceSharding`."""
from __future__ import annotations


class SingleDeviceSharding:
    """All of an array on one device (`device_set` holds it)."""

    __slots__ = ("_device", "memory_kind")

    def __init__(self, device, *, memory_kind=None):
        self._device = device
        self.memory_kind = memory_kind

    @property
    def device_set(self) -> set:
        return {self._device}

    @property
    def num_devices(self) -> int:
        return 1

    @property
    def is_fully_addressable(self) -> bool:
        return True

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and self._device == other._device

    def __hash__(self):
        return hash(("SingleDeviceSharding", self._device))

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r})"
