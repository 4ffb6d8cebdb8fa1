"""Autotuning: per program, the schedules (`cpu.schedule`) that run it fastest on this machine.

`tune(executable, args, donated)` (the CPU backend's `tune_schedules`, which `jit` calls on
a program's first call under the `autotune` setting or `jit(..., autotune=True)`):

1. The choice is looked up by (program, device): the program's key (`program_key`: its
   optimized IR, every constant, shapes, threads, code generator; so a shape bucket is its own
   program) and the device (`device_id`: CPU name, features, pool threads). In memory first,
   then in the persistent cache's folder (`disk_cache`: a checked file per choice; a file that
   does not decode, or whose schedules are not sane, is ignored and removed).
2. On a miss, one search (one at a time per process: a search times real runs, which another
   search on the same cores would disturb). Starting from the default schedules, it tries one
   change at a time (`candidates`): first GEMM prologues and epilogues off (the program planned
   again; if that wins, the rest is tried on the new plan); per segment, the thread thresholds
   (run on the pool or on one thread), the thread count, the alignment of each thread's share
   (elements, rows), small dots as loop kernels instead of BLAS calls; per kernel, the
   preferred vector width, the vectorizer's interleave (unroll) count and a column
   reduction's row block, each only where it changes the kernel's code.
   Each candidate is rendered (one that renders the same LLVM text as one tried already is
   skipped), compiled (compile units are cached by their text, so only the changed kernel and
   the segment driver compile again), checked to compute the same results as the default
   (bit for bit, unless a change tried or kept may reorder a sum, `schedule.reorders`: then
   within 64 units of rounding of the output's largest value),
   and timed on the call's own arguments (donated ones copied per call): a warm-up call,
   then alternating samples of the incumbent and the candidate. A candidate replaces the
   incumbent only if it is faster by `MARGIN` in both the minimum and the median of the
   samples, twice in a row, and the final winner twice more against the default, so on a
   noisy machine the default stays. The search stops at the `autotune_budget_s` setting (the
   final comparison comes on top). A progress line shows while it runs (`progress`).
3. The chosen schedules are stored (an empty choice too: the default won, search no more),
   and the program is compiled with them (the machine code is cached under a key that includes
   the schedules).
"""
from __future__ import annotations

import hashlib
import math
import re
import statistics
import threading
import time

import ml_dtypes
import numpy as np
from llvmlite import binding as llvm

from ... import progress
from ...settings import override, settings
from .. import disk_cache, tuning_records
from . import schedule as sched_mod
from .schedule import NEVER, PLAN, Schedule

MARGIN = 0.05          # a candidate must be this much faster (twice) to replace the incumbent
SAMPLE_S = 4e-3        # a timing sample runs the program at least this long
_KERNEL = re.compile(r"^seg\d+\.k\d+$")
_FORMAT = 1

_lock = threading.Lock()          # guards `stats`
_search_lock = threading.Lock()   # one search at a time (see the module docstring)
# Counts (and `search_s`, seconds spent searching) for tests and benchmarks.
stats = {"searches": 0, "reused": 0, "candidates": 0, "rejected": 0, "search_s": 0.0}


def _count(what, n=1):
    with _lock:
        stats[what] += n


# Choices by (program key, device), in memory and in the persistent cache.
_store = tuning_records.Store(f"autotune {_FORMAT}", "cpu-autotune", Schedule.from_dict)
clear_memory = _store.clear
load_choice = _store.load
save_choice = _store.save
_disk_key = _store.disk_key


def device_id() -> str:
    """What besides the program decides its best schedules: the CPU, its features, and the
    threads the pool runs."""
    from .pool import threads
    return f"{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}|" \
           f"threads={threads()}"


# --- building a program with schedules ---------------------------------------------------------

def plan_of(base, donated, choice):
    """The plan `choice` renders: `base`'s, or `base`'s program planned again where the
    choice's plan fields differ (`schedule.PLAN`); kept on `base`, one per distinct choice."""
    fields = choice.get(PLAN)
    if fields is None or fields.gemm_fusion == 1:
        return base.plan
    from . import _blas
    from .gemm import blas_ok
    from .lapack import LapackPlan
    with _lock:
        plans = base.__dict__.setdefault("_tuning_plans", {})
        plan = plans.get(fields)
    if plan is None:
        info = _blas()
        plan = LapackPlan(base.optimized, frozenset(donated),
                          blas=blas_ok if info is not None else None, threads=base.plan.threads,
                          lapack=info[3] if info else None, names=info[1] if info else (),
                          gemm_fusion=False)
        plan.strided_inputs = {}    # bucketed programs are not tuned
        with _lock:
            plan = plans.setdefault(fields, plan)
    return plan


def _build(base, donated, choice):
    """`base` (an Executable) compiled again with the schedules `choice`."""
    from . import _machine_code, _timed
    from .executable import Executable, _SEG_CFUNC
    blas_sig = _blas_sig()
    plan = plan_of(base, donated, choice)
    with sched_mod.using(choice):
        code, opt_text, addresses, order = _machine_code(plan, blas_sig, donated)
    for kind, seg in order:
        if kind == "native":
            seg.cfunc = _SEG_CFUNC(addresses[seg.name])
    ex = Executable(base.module, base.optimized, plan, order, code, opt_text, base._externs)
    ex.prefix_inputs = getattr(base, "prefix_inputs", {})
    ex.strided_inputs = getattr(base, "strided_inputs", {})

    def timed():
        with sched_mod.using(choice):
            return _timed(base.module, base.optimized, plan, blas_sig, base._externs, donated)
    ex._timed_build = timed
    ex.schedules = dict(choice)
    return ex


def _blas_sig():
    from . import _blas
    info = _blas()
    return (info[0], info[1]) if info else None


def _render(plan, choice):
    from .render import render
    with sched_mod.using(choice):
        mod, _ = render(plan, _blas_sig())
    return mod


def _rendered_hash(plan, choice):
    return hashlib.sha256(str(_render(plan, choice)).encode()).hexdigest()


# --- the search ---------------------------------------------------------------------------------

def tune(executable, args, donated=frozenset()):
    """`executable` with its best schedules for `args` (see the module docstring); the
    executable itself when the default schedules are best or nothing is worth tuning."""
    from . import _small, program_key
    plan = executable.plan
    if _small(plan) or not any(k == "native" for k, _ in executable._order):
        return executable     # its run time is the call's overhead either way
    donated = frozenset(donated)
    pkey = program_key(plan, _blas_sig(), donated)
    device = device_id()
    choice = load_choice(pkey, device)
    if choice is None:
        with _search_lock:
            choice = load_choice(pkey, device)   # another thread's search may have ended
            if choice is None:
                t0 = time.perf_counter()
                choice = _search(executable, args, donated)
                _count("search_s", time.perf_counter() - t0)
                save_choice(pkey, device, choice)
    else:
        _count("reused")
    if not choice:
        return executable
    return _build(executable, donated, choice)


# Kernel fields tried on each kernel whose code they change, after the vector widths.
KERNEL_CHANGES = [("unroll", u) for u in (1, 2, 4)] + \
    [("row_block", r) for r in (32, 1024, NEVER)]
# Dots a loop kernel may compute instead of BLAS: at most this many flops per matrix (a loop
# runs at a fraction of BLAS's speed; it wins only where each call's overhead dominates).
LOOP_DOT_MAX_FLOPS = 1 << 16


def candidates(plan, order, threads, features):
    """((name, field, value) changes, [(field, value)] to try on each kernel): first the plan
    (GEMM prologues and epilogues off), then the segments, largest first: thread thresholds,
    thread count and share alignment, small dots as loops; then each kernel's vector widths,
    interleave counts and column-reduction row blocks (`KERNEL_CHANGES`)."""
    from .control import nested_steps
    from .gemm import blas_ok, gemm_flops, gemm_layout
    from .render import _sized, _work
    out = []
    if any(s.epilogue is not None or s.prologue is not None for s in plan.steps):
        out.append((PLAN, "gemm_fusion", 0))
    segs = [(sum(_work(plan, s) for s in seg.steps), seg.name, seg)
            for kind, seg in order if kind == "native"]
    segs.sort(key=lambda t: -t[0])
    for work, name, seg in segs:
        if threads > 1 and work >= 1 << 12:
            out.append((name, "parallel_min_work", NEVER))   # one thread
            out.append((name, "parallel_min_work", 1))       # on the pool
            out.append((name, "gemm_threads_min_flops", 1 << 20))
            out += [(name, "chunk_align", a) for a in (1024, 16384)]
            out += [(name, "row_align", a) for a in (8, 64)]
            if threads >= 4:
                out.append((name, "threads", threads // 2))
        # Small products (one BLAS call per matrix of a batch) as one loop kernel: a threshold
        # just above each such dot's flops, the smallest first.
        small = sorted({gemm_flops(s.instr) for s in nested_steps(seg.steps)
                        if s.kind == "dot" and blas_ok(s.instr) and s.epilogue is None and
                        s.prologue is None and not _sized(s.instr) and
                        gemm_flops(s.instr) // gemm_layout(s.instr)[0] <= LOOP_DOT_MAX_FLOPS})
        out += [(name, "blas_min_flops", f + 1) for f in small[:3]]
    widths = [128, 256] + ([512] if "+avx512f" in features else [])
    return out, [("vector_width", w) for w in widths] + list(KERNEL_CHANGES)


def _kernels(plan, choice, rank):
    """{kernel name: its LLVM text} of `plan` rendered with `choice`, the kernels of the
    largest segments (`rank`) first."""
    mod = _render(plan, choice)
    kernels = {f.name: str(f) for f in mod.functions if _KERNEL.match(f.name) and f.blocks}
    return dict(sorted(kernels.items(), key=lambda kv: (
        rank.get(kv[0].split(".")[0], len(rank)), kv[0])))


def _applies(field, text):
    """Can kernel `field` change this kernel's code (`text`)? The interleave count only
    where it has loops, the row block only in a float column reduction (its `rb` blocks)."""
    if field == "unroll":
        return ".header" in text
    if field == "row_block":
        return "rb.header" in text
    return True


def _search(base, args, donated):
    from .pool import threads
    _count("searches")
    budget = float(settings.autotune_budget_s)
    t_end = time.perf_counter() + budget
    timer = _Timer(args, donated)
    reference = timer.outputs(base)
    features = llvm.get_host_cpu_features().flatten()
    changes, kernel_changes = candidates(base.plan, base._order, threads(), features)
    plan_changes = [c for c in changes if c[0] == PLAN]
    state = {"best": {}, "incumbent": base, "reordering": set(), "plan": base.plan}
    seen = {_rendered_hash(base.plan, {})}

    def attempt(name, field, value, text=""):
        """Try one change on top of the best so far; keep it if clearly faster."""
        best = state["best"]
        trial = dict(best)
        trial[name] = best.get(name, sched_mod.DEFAULT).with_(**{field: value})
        plan = plan_of(base, donated, trial)
        if field != "vector_width":   # the attribute always shows in the kernel's text
            h = _rendered_hash(plan, trial)
            if h in seen:
                return
            seen.add(h)
        _count("candidates")
        reordering = state["reordering"] | (
            {(name, field)} if sched_mod.reorders(field, text) else set())
        with override(progress="0"):   # this search's line, not each compile's
            cand = _build(base, donated, trial)
        # Bit for bit, unless this change or one kept before may reorder a sum.
        if not _same_results(reference, timer.outputs(cand), exact=not reordering):
            _count("rejected")
            return
        if timer.faster(cand, state["incumbent"], t_end) and \
                timer.faster(cand, state["incumbent"], t_end):
            state.update(best=trial, incumbent=cand, reordering=reordering, plan=plan)

    def segment_and_kernel_changes():
        plan = state["plan"]
        if plan is base.plan:
            segs = [c for c in changes if c[0] != PLAN]
        else:   # planned again: its own segments and kernels
            segs, _ = candidates(plan, state["incumbent"]._order, threads(), features)
            segs = [c for c in segs if c[0] != PLAN]
        rank: dict = {}
        for name, _, _ in segs:
            rank.setdefault(name, len(rank))
        kernels = _kernels(plan, state["best"], rank)
        per_kernel = [(k, f, v, text) for k, text in kernels.items()
                      for f, v in kernel_changes if _applies(f, text)]
        return [c + ("",) for c in segs] + per_kernel

    rest = segment_and_kernel_changes()
    with progress.report("autotune", total=len(plan_changes) + len(rest)) as bar:
        for name, field, value in plan_changes:
            bar.advance()
            if time.perf_counter() > t_end:
                break
            attempt(name, field, value)
        if state["plan"] is not base.plan:
            rest = segment_and_kernel_changes()
            if hasattr(bar, "total"):
                bar.total = len(plan_changes) + len(rest)
        for name, field, value, text in rest:
            bar.advance()
            if time.perf_counter() > t_end:
                break
            attempt(name, field, value, text)
    best = state["best"]
    # The winner against the default once more, twice, after the search: a burst of other
    # load during one comparison should not decide for good, and a tuned program should
    # never be slower than the default one.
    if best and not (timer.faster(state["incumbent"], base) and
                     timer.faster(state["incumbent"], base)):
        best = {}
    return {n: s for n, s in best.items() if s != sched_mod.DEFAULT}


def _same_results(ref, got, exact=True):
    """Every output equal to the default schedules' (NaN where it has NaN): bit for bit when
    `exact`, else within rounding for floats (a change that may reorder a sum, `reorders`)."""
    if len(ref) != len(got):
        return False
    for a, b in zip(ref, got):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if exact:
            if not _bits_equal(a, b):
                return False
            continue
        if a.dtype.kind in "fc" or a.dtype.kind == "V":
            try:
                eps = float(ml_dtypes.finfo(a.dtype).eps)
            except (TypeError, ValueError):   # a float type NumPy does not describe (bfloat16)
                eps = 2.0 ** -7
            a, b = a.astype(np.float64 if a.dtype.kind != "c" else np.complex128), \
                b.astype(np.float64 if b.dtype.kind != "c" else np.complex128)
            scale = np.abs(a[np.isfinite(a)]).max(initial=0)   # (a NaN is no scale)
            if not np.allclose(a, b, rtol=64 * eps, atol=64 * eps * scale, equal_nan=True):
                return False
        elif not np.array_equal(a, b):
            return False
    return True


def _bits_equal(a, b):
    """The same bits everywhere (-0.0 is not 0.0), except that a NaN may be any NaN (its
    payload is not a result)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if a.tobytes() == b.tobytes():
        return True
    if a.dtype.kind not in "fcV":
        return False
    try:
        nan = np.isnan(a) & np.isnan(b)
    except TypeError:
        return False
    a, b = a.copy(), b.copy()
    a[nan] = 0
    b[nan] = 0
    return a.tobytes() == b.tobytes()


class _Timer:
    """Runs programs on one call's arguments: donated ones copied for each run (the program
    writes its outputs into them)."""

    def __init__(self, args, donated):
        self.args = [np.asarray(a) for a in args]
        self.donated = donated
        self.calls = None     # per sample, set from the first program timed
        self.samples = 7

    def _args(self):
        if not self.donated:
            return self.args
        return [a.copy() if j in self.donated else a for j, a in enumerate(self.args)]

    def outputs(self, ex):
        """The outputs of one call (which also warms `ex` up: pages of its workspace, code)."""
        return [np.array(o, copy=True) for o in ex(self._args())]

    def _sample(self, ex):
        total = 0.0
        for _ in range(self.calls):
            a = self._args()
            t0 = time.perf_counter()
            ex(a)
            total += time.perf_counter() - t0
        return total / self.calls

    def faster(self, cand, incumbent, deadline=None) -> bool:
        """Is `cand` faster than `incumbent` by `MARGIN`, in the minimum and the median of
        alternating samples (a burst of other load on the machine moves one of them).
        False once past `deadline` (the search's budget)."""
        if self.calls is None:
            t = self._sample_once(incumbent)
            self.calls = max(1, math.ceil(SAMPLE_S / max(t, 1e-7)))
            self.samples = 7 if t < 0.02 else 3 if t < 0.2 else 1
        a, b = [], []
        for _ in range(self.samples):
            if deadline is not None and time.perf_counter() > deadline:
                return False
            a.append(self._sample(incumbent))
            b.append(self._sample(cand))
        return min(b) < min(a) * (1 - MARGIN) and \
            statistics.median(b) < statistics.median(a) * (1 - MARGIN)

    def _sample_once(self, ex):
        a = self._args()
        t0 = time.perf_counter()
        ex(a)
        return time.perf_counter() - t0
