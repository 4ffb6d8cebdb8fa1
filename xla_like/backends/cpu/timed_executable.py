"""The profiler's build of a CPU program: the same plan and buffers, rendered with two reads of
the cycle counter around each top-level step of each segment (`render(timed=True)`), on every
thread that runs a share of it. Each call gets a table of int64 `[slot, thread, start/end]`
(the pointer table's entry past the buffers'), and after the call its stamps become
`profile_hooks.KernelRecord`s on the perf_counter time line, handed to `profile_hooks.kernels`.

What the stamps cost: two `rdtsc` and two stores per step and thread (~40 cycles), and the
steps' own code is the same machine code as the plain build's (kernels are separate
functions, unchanged). Host steps (NumPy fallbacks) between segments are not timed; a loop
or branch is timed as one step.
"""
from __future__ import annotations

import ctypes
import functools
import threading
import time

import numpy as np

from ... import profile_hooks
from ..plan.cost import describe_step
from . import clock
from .executable import Executable


class TimedExecutable(Executable):
    _extra_slots = 1    # the event table

    def __init__(self, *args):
        super().__init__(*args)
        steps = [s for kind, seg in self._order if kind == "native" for s in seg.steps]
        self.step_infos = [describe_step(s) for s in steps]
        self._width = max(self.plan.threads, 1)
        self._shape = (max(len(self.step_infos), 1), self._width, 2)
        self._table = ctypes.c_int64 * int(np.prod(self._shape))
        self._slot = len(self.plan.buffers)
        self._local = threading.local()
        self.name = self.module.name
        clock.ns_per_cycle()     # measured once, before any call is timed

    def _workspace(self):
        ws = super()._workspace()
        # A fresh zeroed table per call (a ctypes array: its address costs ~0.1 us, a NumPy
        # array's ~4 us), kept by the call until its records are made.
        events = self._table()
        ws.ptrs[self._slot] = ctypes.addressof(events)
        self._local.events = events    # this thread's call (the workspace is its own)
        return ws

    def __call__(self, args):
        read = clock.cycles
        c0, t0 = read(), time.perf_counter_ns()
        out = super().__call__(args)
        t1 = time.perf_counter_ns()
        events, self._local.events = self._local.events, None
        # The stamps become records when asked for (a trace converts them when it stops):
        # the call pays for no Python loop over its kernels.
        profile_hooks.kernels(self.name, functools.partial(self.records, events, c0, t0),
                              t0, t1)
        return out

    def records(self, events, c0, t0) -> list:
        """`KernelRecord`s of one call's event table; `(c0, t0)`: both clocks read together
        before the call."""
        ratio = clock.ns_per_cycle()
        events = np.ctypeslib.as_array(events).reshape(self._shape)
        out = []
        infos = self.step_infos
        slots, tids = np.nonzero((events[:, :, 0] != 0) & (events[:, :, 1] != 0))
        for slot, tid in zip(slots.tolist(), tids.tolist()):
            start, end = events[slot, tid].tolist()
            out.append(profile_hooks.KernelRecord(
                infos[slot], tid, t0 + int((start - c0) * ratio), t0 + int((end - c0) * ratio)))
        out.sort(key=lambda r: (r.t0, r.tid))
        return out
