"""`jitcore.profiler`: traces of compiles and kernels that Perfetto (ui.perfetto.dev) and
chrome://tracing open, with JAX's names and signatures.

    with jitcore.profiler.trace("/tmp/trace"):          # or "/tmp/run.json.gz"
        for step in range(3):
            with jitcore.profiler.StepTraceAnnotation("train", step_num=step):
                params = update(params, batch)

A trace holds, on the thread that did it, each compile stage (tracing, every pass of every
pipeline, rendering LLVM IR, LLVM's optimization and code generation, disk cache hits and
misses), each jitted call, and inside it every kernel that ran, on each CPU thread that ran a
share of it (the calling thread and the pool's `jitcore-cpu-k` workers), with its fused ops,
shapes, elements, bytes, FLOPs, time and the GB/s and GFLOP/s it achieved.

While a trace runs, programs run their *timed build*: the same plan and kernels, compiled
once more (its own key in the code caches) with two reads of the cycle counter around each
step (`xla_like/backends/cpu/timed_executable.py`): ~40 cycles per kernel and thread. A
program's first call under a trace compiles that build; it shows in the trace. With no trace,
a cached call checks one flag (`xla_like.profile_hooks.on`).

Files: a path ending in `.json` or `.json.gz` is written as given; any other path is a folder,
written as JAX's TensorBoard plugin lays it out: `<log_dir>/plugins/profile/<run>/<host>
.trace.json.gz` (and `perfetto_trace.json.gz` beside it with `create_perfetto_trace`).
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import socket
import sys
import threading
import time

from xla_like import profile_hooks

from . import profiler_debug

__all__ = ["trace", "start_trace", "stop_trace", "TraceAnnotation", "StepTraceAnnotation",
           "annotate_function"]

_state_lock = threading.Lock()
_active = None      # the running _Recorder


class _Recorder:
    """The sink of `profile_hooks` while a trace runs: events as tuples, turned into the Chrome
    trace format when the trace stops. Appends from many threads take `lock`."""

    def __init__(self, target, create_perfetto_link, create_perfetto_trace):
        self.target = target
        self.create_perfetto_link = create_perfetto_link
        self.create_perfetto_trace = create_perfetto_trace
        self.lock = threading.Lock()
        self.spans = []      # (name, cat, t0_ns, t1_ns, native tid, args)
        self.instants = []   # (name, cat, t_ns, native tid, args)
        # (program name, records() -> its KernelRecords, t0_ns, t1_ns, native tid of the caller)
        self.calls = []
        self.thread_names = {}

    def _thread(self) -> int:
        """This thread's native id, its name noted (the caller holds `lock`)."""
        tid = threading.get_native_id()
        if tid not in self.thread_names:
            self.thread_names[tid] = threading.current_thread().name
        return tid

    def span(self, name, cat, t0, t1, args):
        with self.lock:
            self.spans.append((name, cat, t0, t1, self._thread(), args))

    def instant(self, name, cat, t, args):
        with self.lock:
            self.instants.append((name, cat, t, self._thread(), args))

    def kernels(self, name, records, t0, t1):
        with self.lock:
            self.calls.append((name, records, t0, t1, self._thread()))

    # -- the Chrome trace event format -------------------------------------------------------

    def events(self) -> list:
        pid = os.getpid()
        workers = _worker_threads()
        out = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                "args": {"name": f"jitcore ({socket.gethostname()})"}}]
        names = dict(self.thread_names)
        tracks = {}
        for name, cat, t0, t1, tid, args in self.spans:
            out.append(_complete(name, cat, t0, t1, pid, tid, args))
        for name, cat, t, tid, args in self.instants:
            out.append({"ph": "i", "s": "t", "name": name, "cat": cat, "ts": t / 1e3,
                        "pid": pid, "tid": tid, "args": _plain(args)})
        for n, (prog, records, t0, t1, caller) in enumerate(self.calls):
            groups = profiler_debug.by_kernel(records())
            out.append(_complete(f"call {prog}", "call", t0, t1, pid, caller,
                                 {"program": prog, "call": n, "kernels": len(groups)}))
            for kernel, runs in groups:
                span = max(r.t1 for r in runs) - min(r.t0 for r in runs)
                summary = profiler_debug.kernel_figures(kernel, profiler_debug.kernel_ns(runs))
                summary.update(threads=len(runs), call=n, program=prog,
                               span_us=round(span / 1e3, 3))
                for r in runs:
                    if r.track is not None:     # a device stream: a track of its own
                        tid = tracks.setdefault(r.track, 2_000_000 + len(tracks))
                        names[tid] = r.track
                    else:
                        tid = caller if r.tid == 0 else workers.get(r.tid, 1_000_000 + r.tid)
                    if r.tid != 0 and tid not in names:
                        names[tid] = f"jitcore-cpu-{r.tid}"
                    args = dict(summary, thread_us=round((r.t1 - r.t0) / 1e3, 3))
                    out.append(_complete(kernel.name, "kernel", r.t0, r.t1, pid, tid, args))
        for tid, name in names.items():
            out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                        "args": {"name": name}})
        return out

    def write(self) -> str:
        path, extra = _paths(self.target, self.create_perfetto_trace)
        data = json.dumps({"traceEvents": self.events(), "displayTimeUnit": "ns",
                           "otherData": {"producer": "jitcore"}}).encode()
        for p in [path] + extra:
            os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
            if p.endswith(".gz"):
                with gzip.open(p, "wb") as fh:
                    fh.write(data)
            else:
                with open(p, "wb") as fh:
                    fh.write(data)
        if self.create_perfetto_link:
            # JAX serves the file to ui.perfetto.dev; this one says where it is.
            print(f"jitcore.profiler: trace written to {extra[0] if extra else path}; open it "
                  "at https://ui.perfetto.dev (Open trace file)", file=sys.stderr)
        return path


def _complete(name, cat, t0, t1, pid, tid, args):
    return {"ph": "X", "name": name, "cat": cat, "ts": t0 / 1e3,
            "dur": max(t1 - t0, 0) / 1e3, "pid": pid, "tid": tid, "args": _plain(args)}


def _plain(args: dict) -> dict:
    """Arguments as JSON takes them (numbers, strings, lists)."""
    out = {}
    for k, v in args.items():
        out[k] = v if isinstance(v, (int, float, str, bool, list)) or v is None else str(v)
    return out


def _worker_threads() -> dict:
    """{share number: native thread id} of the CPU pool's workers (`jitcore-cpu-k`)."""
    out = {}
    for t in threading.enumerate():
        if t.name.startswith("jitcore-cpu-") and t.native_id is not None:
            try:
                out[int(t.name.rsplit("-", 1)[1])] = t.native_id
            except ValueError:
                pass
    return out


def _paths(target, perfetto_copy):
    """(the trace file, other copies) for `target`: a file name, or a log folder."""
    target = os.fspath(target)
    if target.endswith((".json", ".json.gz")):
        return target, []
    run = time.strftime("%Y_%m_%d_%H_%M_%S")
    folder = os.path.join(target, "plugins", "profile", run)
    host = socket.gethostname()
    main = os.path.join(folder, f"{host}.trace.json.gz")
    return main, [os.path.join(folder, "perfetto_trace.json.gz")] if perfetto_copy else []


# -- JAX's interface ---------------------------------------------------------------------------

def start_trace(log_dir, create_perfetto_link: bool = False,
                create_perfetto_trace: bool = False, profiler_options=None) -> None:
    """Start recording (see the module docstring for what and where). One trace at a time:
    starting a second raises RuntimeError, as JAX does."""
    global _active
    with _state_lock:
        if _active is not None:
            raise RuntimeError("Profile has already been started. Only one profile may be run "
                               "at a time.")
        _active = _Recorder(log_dir, create_perfetto_link, create_perfetto_trace)
        profile_hooks.install(_active)


def stop_trace() -> None:
    """Stop recording and write the trace file. Nothing is recorded after it returns."""
    global _active
    with _state_lock:
        if _active is None:
            raise RuntimeError("No profile started")
        recorder, _active = _active, None
        profile_hooks.uninstall()
    recorder.write()


@contextlib.contextmanager
def trace(log_dir, create_perfetto_link: bool = False, create_perfetto_trace: bool = False,
          profiler_options=None):
    """`start_trace` on entering the block, `stop_trace` on leaving it."""
    start_trace(log_dir, create_perfetto_link, create_perfetto_trace, profiler_options)
    try:
        yield
    finally:
        stop_trace()


class TraceAnnotation:
    """A span named `name` on this thread in the trace (with `kwargs` as its arguments),
    around a `with` block; nothing when no trace runs."""

    def __init__(self, name: str, **kwargs):
        self.name = name
        self.kwargs = kwargs
        self._t0 = None

    def __enter__(self):
        self._t0 = time.perf_counter_ns() if profile_hooks.tracing() else None
        return self

    def __exit__(self, *exc):
        if self._t0 is not None:
            profile_hooks.span(self.name, "annotation", self._t0, time.perf_counter_ns(),
                               **self.kwargs)
        return False


class StepTraceAnnotation(TraceAnnotation):
    """A training step's span: `StepTraceAnnotation("train", step_num=k)`."""

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)


def annotate_function(func=None, name: str | None = None, **decorator_kwargs):
    """Decorator: each call of `func` is a `TraceAnnotation` named `name` (default: the
    function's qualified name)."""
    if func is None:
        return functools.partial(annotate_function, name=name, **decorator_kwargs)
    label = name or getattr(func, "__qualname__", getattr(func, "__name__", "function"))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with TraceAnnotation(label, **decorator_kwargs):
            return func(*args, **kwargs)
    return wrapper
