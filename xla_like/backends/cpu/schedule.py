"""Schedules: the choices the CPU renderer makes per segment and per kernel that change how fast
a program runs but not what it computes.

Each field's default is the fixed heuristic the renderer always used, so a program rendered with
no schedules (the usual case) is the program it always was. The autotuner (`cpu.autotune`) picks
other values per segment and kernel by timing them, and renders the program inside `using`:

    with schedule.using({"seg0": Schedule(parallel_min_work=1 << 15), "seg0.k2": ...}):
        render(plan, ...)

Plan fields (read under the name `plan`, before rendering: the tuner plans the program again):
- `gemm_fusion`: 1: GEMM prologues and epilogues (`plan.planner`: the kernel before or after a
  BLAS dot runs on each row block of it, while the block is in cache); 0: none, each such
  kernel a step of its own over the whole array.
Segment fields (read under the segment's name, `seg{j}`):
- `parallel_min_work`: elements its kernels touch from which the segment runs on the worker pool
  (below, one thread: handing work to the pool costs ~20 us);
- `gemm_threads_min_flops`: flops of one plain BLAS dot from which the segment runs on the pool;
- `threads`: at most this many threads share each splittable kernel's range (0: every pool
  thread); the others skip the kernel and only meet its barriers (shared GEMMs and the
  phases of sorts and scans still use every thread);
- `chunk_align`: a flat kernel's share per thread is a multiple of this many elements;
- `row_align`: a row kernel's share per thread (rows, or a column reduction's column blocks)
  is a multiple of this many;
- `blas_min_flops`: a float dot of fewer flops (batch included) is a loop kernel
  (`llvm.kernels.emit_dot`) instead of BLAS calls: a batch of small products costs one BLAS
  call per matrix, each far more than its few multiply-adds (0: every float dot calls BLAS;
  dots with a prologue or epilogue always do).
Kernel fields (read under the kernel's name, `seg{j}.k{k}`):
- `vector_width`: the bits LLVM's vectorizers prefer for the kernel's loops (the function
  attribute `prefer-vector-width`); 0: the target's own preference;
- `unroll`: how many vector iterations the loop vectorizer interleaves (its unroll count,
  `llvm.loop.interleave.count` on each loop): independent work in flight for a chain of
  transcendental functions, and as many partial accumulators for a sum; 0: LLVM's choice;
- `row_block`: rows a column reduction (`llvm.reduce.emit_column_reduction`) adds into a
  block of partial results before adding the block into the running one; 0: `ROW_BLOCK`
  (128), `NEVER`: one pass, every row into the running results.

Which results stay bit-identical: the thread fields split each kernel's *output* range, and each
output element is computed by one thread in the same order, so every kernel gives the same bits.
A reduction's sum or product may reassociate (`llvm.reduce`: its instructions carry the
`reassoc` flag), so its order depends on `vector_width` and `unroll` (partial accumulators),
and a column reduction's on `row_block`; a dot as a loop adds its products in another order
than BLAS does. Those results agree within rounding, not bit for bit: `reorders` says which
changes may do that, and the tuner checks every other change bit for bit. A plain BLAS dot
that goes to threads or not is split into pieces or not (`cpu.gemm`), and a GEMM with an
epilogue is called per row block; OpenBLAS computes each element in the same order either way
on this backend (the tuner checks it), but that is the library's promise, not ours.

The active schedules are a context variable: each thread (and asyncio task) renders with its
own, so concurrent compiles never see another's choices.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

from ..llvm import reduce as _reduce
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
    unroll: int = 0
    row_block: int = 0
    row_align: int = 1
    blas_min_flops: int = 0
    gemm_fusion: int = 1

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
        if d.get("chunk_align", CHUNK_ALIGN) < 1 or d.get("row_align", 1) < 1 or \
                d.get("vector_width", 0) not in (0, 128, 256, 512) or \
                d.get("unroll", 0) > 64 or d.get("gemm_fusion", 1) > 1:
            raise ValueError("chunk_align, row_align, vector_width, unroll or gemm_fusion "
                             "out of range")
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
PLAN = "plan"     # the name plan fields are read under
REORDERING = ("vector_width", "unroll", "row_block")   # kernel fields that may (`reorders`)

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


def reorders(field: str, kernel_text: str = "") -> bool:
    """May changing `field` change the order in which floats are combined (results equal
    within rounding, not bit for bit)? A dot as a loop instead of BLAS does; a kernel field
    does where the kernel (`kernel_text`, its LLVM function) has instructions that may
    reassociate; the thread and plan fields never do."""
    if field == "blas_min_flops":
        return True
    return field in REORDERING and " reassoc " in kernel_text


def apply_kernel(fn, name: str, unroll: bool = True):
    """Kernel function `fn`'s schedule (`name`'s): its preferred vector width and its loops'
    interleave count. `unroll=False` keeps LLVM's loop unroller off its loops (see
    `loop_hints`)."""
    prefer_vector_width(fn, name)
    count = lookup(name).unroll
    if count or not unroll:
        loop_hints(fn, count, unroll)


def loop_hints(fn, count: int = 0, unroll: bool = True):
    """Loop metadata on each back edge of `fn` (the unconditional branch
    `llvm.loops.close_loop` ends a body with, to a `.header` block):
    `llvm.loop.interleave.count` = `count` (when set) asks the loop vectorizer to interleave
    each loop `count` times (only innermost loops are vectorized; LLVM ignores it on the
    others); `unroll=False` adds `llvm.loop.unroll.disable`. An elementwise or copy kernel
    gains nothing from unrolling once vectorized and interleaved, while full unrolling of its
    short constant loops cost up to 4x the compile time of the kernel (a head transpose
    (B, S, H, D) -> (B, H, S, D): 32 inlined 512-byte copies, 56 ms against 13 ms)."""
    from llvmlite import ir as ll
    mod = fn.module
    hints = []
    if count:
        hints.append(mod.add_metadata([ll.MetaDataString(mod, "llvm.loop.interleave.count"),
                                       ll.Constant(ll.IntType(32), count)]))
    if not unroll:
        hints.append(mod.add_metadata([ll.MetaDataString(mod, "llvm.loop.unroll.disable")]))
    if not hints:
        return
    position = {id(block): k for k, block in enumerate(fn.blocks)}
    for k, block in enumerate(fn.blocks):
        term = block.terminator
        # A back edge: to a header made before this block (the branch into a loop comes from
        # a block made before its header).
        if isinstance(term, ll.Branch) and not isinstance(term, ll.ConditionalBranch) and \
                term.operands and term.operands[0].name.endswith(".header") and \
                position.get(id(term.operands[0]), k) < k:
            # A loop ID names itself first (LLVM's rule): a fresh node per loop, its first
            # operand set to itself once it exists.
            loop_id = mod.add_metadata([ll.MetaDataString(mod, f"{fn.name}.{block.name}")])
            loop_id.operands = (loop_id, *hints)
            term.set_metadata("llvm.loop", loop_id)


def _tuned_row_block(fn) -> int:
    """The column-reduction row block tuned for kernel function `fn` (0: the default)."""
    return lookup(fn.name).row_block


_reduce.row_block_of = _tuned_row_block
