"""`jit(f, autotune=True)` and the `autotune` setting (`JITCORE_AUTOTUNE=1`): the first call of
each compiled program times a few kernel schedules on that call's own arguments and keeps the
fastest, on a backend that tunes (`tune_schedules` of the backend module: the CPU's and
CUDA's). The choice is stored per program and machine by the backend, so a later process only
looks it up.

A tuned program computes what the default one does: bit for bit, except where a reduction's
order may change (sums and products agree within rounding). Bucketed programs (dynamic axes)
are not tuned: their first call's sizes stand for a whole bucket.
"""
from __future__ import annotations

import threading

from xla_like import backends

from . import config


def wanted(option) -> bool:
    """`jit`'s `autotune` option (None: the `autotune` setting at compile time)."""
    return bool(config.settings.autotune) if option is None else bool(option)


def defer(entry, key, backend_name, host_inputs):
    """Make `entry`'s first call tune its executable (when its backend tunes). `host_inputs`
    wraps the tuned executable as `jit` wraps every executable (`devices.host_inputs`)."""
    tune = getattr(backends.get_backend(backend_name), "tune_schedules", None)
    if tune is not None:
        entry.executable = _FirstCall(entry, entry.executable, key, tune, host_inputs)


class _FirstCall:
    """The executable until its first call, which tunes it on that call's arguments and puts
    the tuned one in the cache entry (later calls go there directly). Concurrent first calls
    tune once: the others wait for it."""

    def __init__(self, entry, executable, key, tune, host_inputs):
        self._entry = entry
        self._executable = executable
        self._key = key
        self._tune = tune
        self._host_inputs = host_inputs
        self._lock = threading.Lock()
        self._tuned = None

    def __call__(self, args):
        with self._lock:
            if self._tuned is None:
                tuned = self._tune(self._executable, list(args), self._key.donated)
                self._tuned = self._host_inputs(tuned, self._key.sigs)
                self._entry.executable = self._tuned
        return self._tuned(args)

    def __getattr__(self, name):
        return getattr(self._executable, name)
