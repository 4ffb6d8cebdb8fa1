"""Autotuning of CUDA kernels: per program and GPU, the schedules (`cuda.schedule`) that run it
fastest, timed with CUDA events on the device.

`tune(executable, args, donated)` (the CUDA backend's `tune_schedules`, which `jit` calls on a
program's first call under the `autotune` setting or `jit(..., autotune=True)`):

1. The choice is looked up by (program, device): the program's key (its optimized IR with every
   constant, donated parameters, target architecture: a shape bucket is its own program) and
   the device (`device_id`: GPU name and compute capability). In memory first, then in the
   persistent cache's folder (`disk_cache`: a checked record per choice; one that does not
   decode or holds schedules out of range is ignored and removed).
2. On a miss, one search (one at a time per process). From the default schedules it tries one
   change at a time, kernels with the largest ranges first: the block size (`BLOCKS`), a flat
   kernel's elements per thread (`PER_THREAD`), a long reduction in one pass or two. Each
   candidate is compiled (PTX is cached by its LLVM text), loaded on the device, checked to
   compute what the default does (within rounding: a block tree of another size sums in
   another order) and timed on the call's own arguments, resident on the device (donated
   ones uploaded for each call): alternating samples of the incumbent and the candidate, each
   `calls` runs between two CUDA events on the device's stream (`runtime.StreamTimer`). A
   candidate replaces the incumbent if faster by `MARGIN` in both the minimum and the median
   of the samples, twice in a row, and the final winner once more against the default. The
   search stops at the `autotune_budget_s` setting.
3. The choice is stored (an empty one too: the default won, search no more) and the program is
   compiled with it.
"""
from __future__ import annotations

import hashlib
import os
import statistics
import threading
import time

import ml_dtypes
import numpy as np

from ... import ir, progress
from ...printer import instruction_to_text
from ...settings import settings
from .. import disk_cache, tuning_records
from . import schedule as sched_mod
from .schedule import Schedule

MARGIN = 0.05          # a candidate must be this much faster (twice) to replace the incumbent
SAMPLE_MS = 2.0        # one sample runs the program at least this long on the device
SAMPLES = 5            # alternating samples per comparison
BLOCKS = (64, 128, 512)
PER_THREAD = (1, 2, 4, 8)
MIN_ELEMENTS = 1 << 14   # programs whose kernels all cover fewer units are launch-bound: untuned
_FORMAT = 1

_lock = threading.Lock()          # guards `stats`
_search_lock = threading.Lock()   # one search at a time: timings of two would disturb each other
stats = {"searches": 0, "reused": 0, "candidates": 0, "rejected": 0}


def _count(what, n=1):
    with _lock:
        stats[what] += n


# Choices by (program key, device), in memory and in the persistent cache.
_store = tuning_records.Store(f"cuda-autotune {_FORMAT}", "cuda-autotune", Schedule.from_dict)
clear_memory = _store.clear
load_choice = _store.load
save_choice = _store.save
_disk_key = _store.disk_key


def device_id(device) -> str:
    major, minor = device.compute_capability
    return f"{device.name}|sm_{major}{minor}"


def program_key(executable) -> str:
    """What decides the kernels: the optimized module (where the user wrote each instruction
    left out; every constant's bytes, which its text elides when large), the donated
    parameters, the target architecture and the code generator's files (sizes and times)."""
    h = hashlib.sha256(f"sm_{executable.arch}|{sorted(executable.donated)}|{_stamp()}\n"
                       .encode())
    for comp in executable.optimized.computations.values():
        h.update(f"{comp.name} root %{comp.root.id}\n".encode())
        for instr in comp.instructions:
            text = instruction_to_text(instr)
            if instr.location:
                text = text[:-len(str(instr.location)) - 4]
            h.update(text.encode() + b"\n")
            if instr.opcode == ir.CONSTANT:
                v = np.ascontiguousarray(instr.attrs["value"])
                h.update(f"{v.dtype.str}:{v.shape}".encode() + v.tobytes())
    return h.hexdigest()


_stamp_text = None


def _stamp():
    global _stamp_text
    if _stamp_text is None:
        here = os.path.dirname(os.path.abspath(__file__))
        files = [os.path.join(d, n) for d in (here, os.path.join(here, "..", "llvm"))
                 for n in sorted(os.listdir(d)) if n.endswith(".py")]
        _stamp_text = hashlib.sha256(repr([(os.path.basename(f), os.stat(f).st_size,
                                            os.stat(f).st_mtime_ns) for f in files])
                                     .encode()).hexdigest()[:16]
    return _stamp_text


# --- the search ---------------------------------------------------------------------------------

def _device_of(args):
    for a in args:
        buf = getattr(a, "_buf", None)
        if buf is not None:
            return buf.device
    from . import runtime
    return runtime.devices()[0]


def _work(plan, step) -> int:
    """Elements of the largest buffer a kernel step reads or writes."""
    return max(plan.buffers[b].shape.size for b in list(step.inputs) + list(step.outputs))


def candidates(executable):
    """(kernel name, field, value) changes to try, kernels with the most work first (those
    under `MIN_ELEMENTS` are launch-bound: left alone)."""
    plan = executable.plan
    kernels = sorted(((_work(plan, s), k) for s, k in executable.kernels.values()
                      if k.tunable and k.extent),
                     key=lambda wk: (-wk[0], wk[1].name))
    out = []
    for work, k in kernels:
        if work < MIN_ELEMENTS:
            continue
        if "block" in k.tunable:
            out += [(k.name, "block", v) for v in BLOCKS if v != k.block]
        if "per_thread" in k.tunable:
            out += [(k.name, "per_thread", v) for v in PER_THREAD if v != k.per_thread]
        if "two_pass" in k.tunable:
            out.append((k.name, "two_pass", 0 if k.second is not None else 1))
    return out


def tune(executable, args, donated=frozenset()):
    """`executable` compiled with its best schedules on the device of `args` (see the module
    docstring); the executable itself when the defaults are best or nothing is worth tuning."""
    if not candidates(executable):
        return executable
    device = _device_of(args)
    pkey, dev = program_key(executable), device_id(device)
    choice = load_choice(pkey, dev)
    if choice is None:
        with _search_lock:
            choice = load_choice(pkey, dev)   # another thread's search may have ended
            if choice is None:
                choice = _search(executable, device, args, frozenset(donated))
                save_choice(pkey, dev, choice)
    else:
        _count("reused")
    if not choice:
        return executable
    return _build(executable, choice)


def _build(base, choice):
    from . import compile as cuda_compile
    return cuda_compile(base.module, base.donated, base.arch, schedules=choice)


def _search(base, device, args, donated):
    _count("searches")
    t_end = time.perf_counter() + float(settings.autotune_budget_s)
    timer = _Timer(device, args, donated)
    reference = timer.outputs(base)
    best, incumbent = {}, base
    todo = candidates(base)
    with progress.report("cuda autotune", total=len(todo)) as bar:
        for name, field, value in todo:
            bar.advance()
            if time.perf_counter() > t_end:
                break
            trial = dict(best)
            trial[name] = best.get(name, sched_mod.DEFAULT).with_(**{field: value})
            _count("candidates")
            cand = _build(base, trial)
            if not same_results(reference, timer.outputs(cand)):
                _count("rejected")
                continue
            if timer.faster(cand, incumbent, t_end) and timer.faster(cand, incumbent, t_end):
                best, incumbent = trial, cand
    if best and not timer.faster(incumbent, base):
        best = {}
    return {n: s for n, s in best.items() if s != sched_mod.DEFAULT}


def same_results(ref, got) -> bool:
    """Every output equal to the default's (NaN where it has NaN), floats within rounding."""
    if len(ref) != len(got):
        return False
    for a, b in zip(ref, got):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind == "f" or a.dtype == ml_dtypes.bfloat16:
            eps = float(ml_dtypes.finfo(a.dtype).eps)
            a, b = a.astype(np.float64), b.astype(np.float64)
            if not np.allclose(a, b, rtol=64 * eps, atol=64 * eps * np.abs(a).max(initial=0),
                               equal_nan=True):
                return False
        elif not np.array_equal(a, b):
            return False
    return True


class _Resident:
    """An argument already on the device (as a jitcore Array holds one)."""

    def __init__(self, buf):
        self._buf = buf


class _Timer:
    """Runs programs on one call's arguments on `device`: uploaded once, except donated ones
    (the program may take their memory), passed from the host for each call."""

    def __init__(self, device, args, donated):
        from .runtime import upload
        self.device = device
        self.args = []
        for j, a in enumerate(args):
            buf = getattr(a, "_buf", None)
            if j in donated:
                self.args.append(np.asarray(buf.to_host() if buf is not None else a))
            elif buf is not None and buf.device is device:
                self.args.append(a)
            else:
                self.args.append(_Resident(upload(device, np.asarray(
                    buf.to_host() if buf is not None else a))))
        self.calls = None

    def outputs(self, ex):
        """The outputs of one call, on the host (the call also loads and warms up `ex`)."""
        return [o.to_host() for o in ex.program(self.device)(self.args)]

    def _sample(self, prog) -> float:
        """Milliseconds per call of `prog`, between CUDA events around `calls` calls."""
        from .runtime import StreamTimer
        dev = self.device
        with dev.active():
            timer = StreamTimer(dev.drv, dev.stream, dev.ordinal)
            mark = timer.start()
            for _ in range(self.calls):
                prog(self.args)
            timer.stop(None, mark)
            return timer.elapsed_ms()[0] / self.calls

    def faster(self, cand, incumbent, deadline=None) -> bool:
        """Is `cand` faster than `incumbent` by `MARGIN`, in the minimum and the median of
        alternating samples? False once past `deadline`."""
        pc, pi = cand.program(self.device), incumbent.program(self.device)
        if self.calls is None:
            self.calls = 1
            t = self._sample(pi)
            self.calls = max(1, int(SAMPLE_MS / max(t, 1e-4)))
        a, b = [], []
        for _ in range(SAMPLES):
            if deadline is not None and time.perf_counter() > deadline:
                return False
            a.append(self._sample(pi))
            b.append(self._sample(pc))
        return min(b) < min(a) * (1 - MARGIN) and \
            statistics.median(b) < statistics.median(a) * (1 - MARGIN)
