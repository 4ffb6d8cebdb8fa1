"""Tuning records in the persistent cache: the schedules a device's autotuner chose for one
program on one device (`cpu.autotune`, `cuda.autotune`), stored as a cache entry's metadata
with no code. A record that does not parse, or names another device, is refused and removed
like any bad cache file (`disk_cache.reject`), and the program is tuned again."""
from __future__ import annotations

import threading

from . import disk_cache


class Store:
    """One tuner's choices by (program key, device): held in memory, and kept as records in
    the persistent cache (when it is on) so a search runs once per machine. Thread-safe."""

    def __init__(self, tag, backend, from_dict):
        self.tag, self.backend, self.from_dict = tag, backend, from_dict
        self._lock = threading.Lock()
        self._memory = {}            # (program key, device) -> {name: schedule}
        disk_cache.ON_CLEAR.append(self.clear)

    def clear(self):
        """Forget the choices held in memory (the persistent cache's records stay)."""
        with self._lock:
            self._memory.clear()

    def disk_key(self, pkey, device):
        return disk_cache.key(f"{self.tag}\n{pkey}", self.backend, {"device": device})

    def load(self, pkey, device):
        """{name: schedule} chosen before for this program on this device, or None."""
        with self._lock:
            hit = self._memory.get((pkey, device))
        if hit is not None or not disk_cache.enabled():
            return hit
        choice = load(self.disk_key(pkey, device), device, self.from_dict)
        if choice is not None:
            with self._lock:
                self._memory[(pkey, device)] = choice
        return choice

    def save(self, pkey, device, choice):
        with self._lock:
            self._memory[(pkey, device)] = dict(choice)
        if disk_cache.enabled():
            store(self.disk_key(pkey, device), self.backend, device, choice)


def load(disk_key, device, from_dict):
    """{name: schedule} stored under `disk_key` for `device` (`from_dict` makes one schedule
    from its stored dict), or None when there is none or it is refused."""
    entry = disk_cache.load(disk_key)
    if entry is None:
        return None
    try:
        raw = entry.meta.get("schedules")
        if entry.meta.get("device") != device or not isinstance(raw, dict) or \
                not all(isinstance(n, str) for n in raw):
            raise ValueError("not a tuning record for this device")
        return {n: from_dict(d) for n, d in raw.items()}
    except (ValueError, TypeError) as e:
        disk_cache.reject(entry.path, f"tuning record refused: {e}")
        return None


def store(disk_key, backend, device, choice):
    """Save `choice` ({name: schedule with `to_dict()`}) under `disk_key`."""
    disk_cache.store(disk_key, {"backend": backend, "device": device,
                                "schedules": {n: s.to_dict() for n, s in choice.items()}},
                     b"", "")
