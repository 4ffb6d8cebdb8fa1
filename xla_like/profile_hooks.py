"""Where the compiler and the backends report to a profiler, without importing it.

`jitcore.profiler` (a floor above) installs a *sink*; code below reports compile stages
(`stage`, `span`, `instant`) and kernel timings (`kernels`) to it. With no sink and no timing
wanted, every report is one read of the module flag `on` and nothing else: a cached call's only
cost is the check of `on` in the executable's call (`cpu.executable.Executable.__call__`).

`on` is true while a sink is installed, or once per-kernel timing may be asked for by the
`debug` setting (3 and up: `watch_settings`); then `timing_wanted()` decides per call.
Timestamps are `time.perf_counter_ns()` (CLOCK_MONOTONIC on Linux), so native kernel times
converted from the cycle counter (`cpu.clock`) line up with the compile stages.
"""
from __future__ import annotations

import contextlib
import threading
import time

from .settings import WATCHERS, settings

# The one flag hot paths read (a plain module global: the cheapest check Python has).
on = False

_sink = None            # the installed profiler (`jitcore.profiler`), or None
_debug_seen = False     # a debug level >= 3 was set: per-call timing may be wanted
# Called as `fn(program name, records, call_t0, call_t1)` after every timed call while the
# debug setting is 3 or more (the table of `jitcore.profiler_debug`, which sets it).
on_kernels = None


def _refresh():
    global on
    on = _sink is not None or _debug_seen


def install(sink) -> None:
    """Make `sink` receive reports: `sink.span(name, cat, t0_ns, t1_ns, args)`,
    `sink.instant(name, cat, t_ns, args)`, `sink.kernels(name, records, call_t0, call_t1)`
    (`records()`: the call's `KernelRecord`s, to be made once the trace is done)."""
    global _sink
    _sink = sink
    _refresh()


def uninstall() -> None:
    global _sink
    _sink = None
    _refresh()


def tracing() -> bool:
    return _sink is not None


def _note_setting(name, value):
    global _debug_seen
    if name == "debug":
        try:
            level = int(value)
        except (TypeError, ValueError):
            return
        if level >= 3 and not _debug_seen:
            _debug_seen = True
            _refresh()


def watch_settings():
    """Turn `on` for good once any thread sets `debug` to 3 or more (the environment, an
    assignment, or an `override` block): calls then read the setting itself."""
    if _note_setting not in WATCHERS:
        WATCHERS.append(_note_setting)
    _note_setting("debug", settings.debug)


watch_settings()


def timing_wanted() -> bool:
    """Should this call run the timed build of its program? (Only asked when `on`.)"""
    if _untimed and threading.get_ident() in _untimed:
        return False
    return _sink is not None or settings.debug >= 3


_untimed: dict = {}     # thread ident -> depth of its `untimed` blocks (under _untimed_lock)
_untimed_lock = threading.Lock()


@contextlib.contextmanager
def untimed():
    """Calls in this block (this thread) run the plain build: measuring the machine's limits
    must not time itself."""
    me = threading.get_ident()
    with _untimed_lock:
        _untimed[me] = _untimed.get(me, 0) + 1
    try:
        yield
    finally:
        with _untimed_lock:
            _untimed[me] -= 1
            if not _untimed[me]:
                del _untimed[me]


def span(name, cat, t0_ns, t1_ns, **args):
    sink = _sink
    if sink is not None:
        sink.span(name, cat, t0_ns, t1_ns, args)


def instant(name, cat, **args):
    sink = _sink
    if sink is not None:
        sink.instant(name, cat, time.perf_counter_ns(), args)


@contextlib.contextmanager
def stage(name, cat="compile", **args):
    """A compile stage as one span on this thread (nothing when no profiler listens)."""
    if _sink is None:
        yield
        return
    t0 = time.perf_counter_ns()
    try:
        yield
    finally:
        span(name, cat, t0, time.perf_counter_ns(), **args)


def kernels(name, records, call_t0, call_t1):
    """A timed call of the program `name` ran from `call_t0` to `call_t1`: `records()` makes
    its list of `KernelRecord`s (when a sink or the debug table asks for it)."""
    sink = _sink
    if sink is not None:
        sink.kernels(name, records, call_t0, call_t1)
    report = on_kernels
    if report is not None and settings.debug >= 3:
        report(name, records(), call_t0, call_t1)


class KernelRecord:
    """One kernel's run on one thread: what it is (`info`, a `StepInfo` shared by all its
    runs), on which thread of the call (`tid`: 0 is the calling thread, k the pool's worker
    `jitcore-cpu-k`) or on which device stream (`track`, e.g. "GPU 0 stream 0"; None on the
    CPU), and when (`t0`, `t1`: perf_counter_ns)."""

    __slots__ = ("info", "tid", "t0", "t1", "track")

    def __init__(self, info, tid, t0, t1, track=None):
        self.info, self.tid, self.t0, self.t1, self.track = info, tid, t0, t1, track


def cache_folder() -> str:
    """The folder of the persistent compilation cache (where the machine's measured limits
    are kept too)."""
    from .backends import disk_cache
    return disk_cache.configured_dir()
