"""Schedules: the choices the CPU renderer makes per segment and per kernel that change how fast
a program runs but not what it computes.

Each field's default is the fixed heuristic the renderer always used, so a program rendered with
no schedules (the usual case) is the program it always was. The autotuner (`cpu.autotune`) picks
other values per segment and kernel by timing them, and renders the program inside `using`:

    with schedule.using({"seg0": Schedule(parallel_min_work=1 << 15), "seg0.k2": ...}):
        render(plan, ...)

Segment fields (read under the segment's name, `seg{j}`):
- `parallel_min_work`: elements its kernels touch from which the segment runs on the worker pool
  (below, one thread: handing work to the pool costs ~20 us);
- `gemm_threads_min_flops`: flops of one plain BLAS dot from which the segment runs on the pool;
- `threads`: at most this many threads share each splittable kernel's range (0: every pool
  thread); the others skip the kernel and only meet its barriers (shared GEMMs and the
  phases of sorts and scans still use every thread);
- `chunk_align`: a flat kernel's share per thread is a multiple of this many elements.
Kernel fields (read under the kernel's name, `seg{j}.k{k}`):
- `vector_width`: the bits LLVM's vectorizers prefer for the kernel's loops (the function
  attribute `prefer-vector-width`); 0: the target's own preference.

Which results stay bit-identical: the thread fields split each kernel's *output* range, and each
output element is computed by one thread in the same order, so every kernel gives the same bits.
A reduction's sum or product may reassociate (`llvm.reduce`), so its vectorized order depends on
`vector_width`: such results agree within rounding, not bit for bit. A plain BLAS dot that
goes to threads or not is split into pieces or not (`cpu.gemm`); OpenBLAS computes each element
in the same order either way on this backend, but that is the library's promise, not ours.

The active schedules are a context variable: each thread (and asyncio task) renders with its
own, so concurrent compiles never see another's choices.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

from .gemm import THREADS_MIN_FLOPS

# The renderer's heuristic (kept here, where the tuner can name it as a default).
PARALLEL_MIN_WORK = 1 << 17   # elements; below this, one thread (a hand-off costs ~20 us)
CHUNK_ALIGN = 64              # elements: whole cache lines of float32 per thread share


@dataclass(frozen=True)
class Schedule:
    parallel_min_work: int = PARALLEL_MIN_WORK
    gemm_threads_min_flops: int = THREADS_MIN_FLOPS
    threads: int = 0
    chunk_align: int = CHUNK_ALIGN
    vector_width: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> "Schedule":
        """The schedule a stored dict describes; ValueError for anything but known fields
        holding sane non-negative ints (a tuning file is data from disk)."""
        if not isinstance(d, dict):
            raise ValueError("a schedule is a dict")
        names = {f.name for f in fields(cls)}
        bad = [k for k in d if k not in names]
        if bad:
            raise ValueError(f"unknown schedule fields {bad}")
        for k, v in d.items():
            if type(v) is not int or v < 0 or v > 1 << 62:
                raise ValueError(f"schedule field {k} is {v!r}")
        if d.get("chunk_align", CHUNK_ALIGN) < 1 or \
                d.get("vector_width", 0) not in (0, 128, 256, 512):
            raise ValueError("chunk_align or vector_width out of range")
        return cls(**d)

    def changes(self) -> dict:
        """The fields that differ from the default (what a report prints)."""
        base = DEFAULT
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(base, f.name)}

    def with_(self, **kw) -> "Schedule":
        return replace(self, **kw)


DEFAULT = Schedule()
NEVER = 1 << 62   # a threshold no program reaches: "never on the pool"

_active: contextvars.ContextVar[dict] = contextvars.ContextVar("jitcore_schedules", default={})


@contextlib.contextmanager
def using(schedules: dict):
    """Render with `schedules` ({segment or kernel name: Schedule}) in this block, this thread."""
    token = _active.set(dict(schedules))
    try:
        yield
    finally:
        _active.reset(token)


def lookup(name: str) -> Schedule:
    """The schedule of segment or kernel `name` being rendered (the default when none set)."""
    return _active.get().get(name, DEFAULT)


def key_text() -> str:
    """What the active schedules add to a program's cache key: nothing when there are none
    (or only defaults), so untuned programs keep their keys."""
    chosen = {n: s.changes() for n, s in _active.get().items() if s != DEFAULT}
    if not chosen:
        return ""
    return "schedules " + hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()) \
        .hexdigest()


def prefer_vector_width(fn, name: str):
    """Set kernel function `fn`'s preferred vector width from kernel `name`'s schedule.
    llvmlite lists only enumerated attributes; a string attribute goes into the set as the
    text LLVM parses (`"prefer-vector-width"="256"`)."""
    width = lookup(name).vector_width
    if width:
        set.add(fn.attributes, f'"prefer-vector-width"="{width}"')
