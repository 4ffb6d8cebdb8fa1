"""Rendering a CPU plan as one LLVM module: each kernel a function, each run of native steps a
*segment* function `seg(i8** buffers, i8** externs, i64 tid, i64 nthreads, i64* counter)`
calling its kernels on thread `tid`'s share of each range, with a barrier between kernels when
several threads run it. Dots call BLAS (`externs`) for float32/float64, else a loop kernel;
linear algebra ("library" steps) calls LAPACK (`cpu.lapack`); sorts and cumulative scans
("sort"/"scan" steps) are phases of kernels (`llvm.sort`, `llvm.scan`), threads sharing each
phase's units with a barrier between phases."""
from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir as ll

from ..llvm.emitter import I8, I64, i64, reduces, storage_type
from ..llvm.kernels import emit_dot, emit_fusion
from ..llvm.scatter import emit_scatter, split_pays
from ..llvm.phases import emit_phases
from ..plan.kernel_shapes import iteration_shape
from ..plan.planner import Plan
from . import bf16_dot, claims, fft, lapack
from .barriers import plan_barriers
from .gemm_update import fold as fold_updates
from .control import Emitter, LoopThreads, emit_control, emit_copy, nested_steps, private_slots
from .array_fields import STRIDES_OFFSET
from .executable import DATA_OFFSET
from .gemm import blas_ok as _blas_ok, call_blas as _call_blas
from .gemm import can_share_blocks, gemm_flops
from .schedule import PARALLEL_MIN_WORK, apply_kernel, lookup as _schedule_of
from .clock import read_counter
from .pool import threads as _threads
from .target import math_provider


_I8P = ll.PointerType(I8)


_I8PP = ll.PointerType(_I8P)


_SEG_TYPE = ll.FunctionType(ll.VoidType(), [_I8PP, _I8PP, I64, I64, ll.PointerType(I64)])

# A part of a long segment (`_runs`): the segment's arguments, then its barrier count and its
# table of thread-private slots.
_PART_TYPE = ll.FunctionType(ll.VoidType(), list(_SEG_TYPE.args) +
                             [ll.PointerType(I64), _I8PP])

# Top-level steps per part of a long segment: a segment of more is cut into functions of at
# most this many (`seg{j}.p{c}`), each a compile unit of its own (`cpu.units`). LLVM's time
# on one function grows faster than its length (a 2,560-step chain's one segment function
# took 8.7 s, a 640-step one 2.5 s); functions of this size make it linear in the number of
# steps. A segment of at most this many steps stays one function.
PART_STEPS = 64


def _barrier(b, counter, target, nthreads):
    """All threads reach this point before any continues: a call of the module's one barrier
    function (`_barrier_fn`). Written out at each of a segment's many barriers, its dozen
    blocks made most of a large program's segment code, and LLVM's time on it. Segments
    call it through their `sync`, which counts the barriers each thread has passed at run
    time (a loop passes its own a run-time number of times): a constant `target` is only
    right in a segment without loops."""
    b.call(_barrier_fn(b.module), [counter, nthreads, i64(target)])


_BARRIER = "jc.barrier"


def _barrier_fn(mod):
    """`i64 jc.barrier(i64* counter, i64 nthreads, i64 target)`, defined once per module;
    skipped when running alone.

    `counter` points at the call's barrier block (`cpu.pool.barrier_block`): arrivals, the
    address of libc's `syscall` (0: none), SYS_futex, and a flag set once a thread sleeps. A
    thread that finds the others not there spins a short while (the usual wait on an idle
    machine is microseconds), then sleeps on a futex until the last arrival wakes it: on a
    loaded machine the thread it waits for may not run for a whole time slice, which spinning
    would burn. It returns an i64 (0), not void: `units.cut` takes the noinline void functions
    segments call for kernels, and this one belongs in the driver."""
    try:
        return mod.get_global(_BARRIER)
    except KeyError:
        pass
    fn = ll.Function(mod, ll.FunctionType(I64, [ll.PointerType(I64), I64, I64]), _BARRIER)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    counter, nthreads, target = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    wait = fn.append_basic_block("wait")
    wake = fn.append_basic_block("wake")
    wake_call = fn.append_basic_block("wake_call")
    short = fn.append_basic_block("short")
    done = fn.append_basic_block("done")
    slot = lambda j: b.gep(counter, [i64(j)])  # noqa: E731
    goal = b.mul(nthreads, target)
    b.cbranch(b.icmp_signed(">", nthreads, i64(1)), wait, done)
    b.position_at_end(wait)
    old = b.atomic_rmw("add", counter, i64(1), "seq_cst")
    sys_fn = b.load(slot(1))
    sys_ty = ll.FunctionType(I64, [I64], var_arg=True)
    call_sys = b.inttoptr(sys_fn, ll.PointerType(sys_ty))
    nr = b.load(slot(2))
    b.cbranch(b.icmp_signed("==", b.add(old, i64(1)), goal), wake, short)
    b.position_at_end(wake)    # the last arrival wakes the sleepers, if any slept this call
    slept = b.load_atomic(slot(3), "seq_cst", 8)
    b.cbranch(b.and_(b.icmp_signed("!=", slept, i64(0)), b.icmp_signed("!=", sys_fn, i64(0))),
              wake_call, done)
    b.position_at_end(wake_call)
    b.call(call_sys, [nr, counter, i64(_FUTEX_WAKE), i64(0x7FFFFFFF)])
    b.branch(done)
    b.position_at_end(short)
    claims.emit_wait(b, counter, goal, sys_fn, call_sys, nr, done)
    b.position_at_end(done)
    b.ret(i64(0))
    return fn


_FUTEX_WAKE = 129                   # FUTEX_WAKE_PRIVATE (the waits: `claims.emit_wait`)


class Segment:
    """A run of native steps in one function. `parallel`: worth splitting across threads (else
    it always runs on one, and is compiled for exactly that)."""

    def __init__(self, name, steps, parallel):
        self.name = name
        self.steps = steps
        self.parallel = parallel
        self.one_thread_blas = False   # run with BLAS on its calling threads (GEMM epilogues)
        self.claims = False            # threads claim its shares (`cpu.claims`)
        self.fn = None


def render(plan: Plan, blas_sig, timed=False):
    """The LLVM module for `plan`: kernels and segment functions. Returns (module, segments,
    python steps interleaved): a list of ("native", Segment) / ("python", Step).

    `timed`: the profiler's build. Each native step of a segment (in order over all segments:
    its *slot*) stores the cycle counter before and after it runs on each thread, in the
    int64 table `[slot, thread, start/end]` whose address is the pointer table's entry
    `len(plan.buffers)` (`cpu.executable.TimedExecutable` provides one per call)."""
    mod = ll.Module(name=plan.module.name)
    mod.triple = llvm.get_process_triple()
    math = math_provider(mod)
    out = []
    slot = 0
    for j, (kind, item) in enumerate(_segments(plan)):
        if kind == "python":
            out.append(("python", item))
            continue
        seg = _render_segment(mod, plan, item, f"seg{j}", math, blas_sig,
                              slot if timed else None)
        slot += len(item)
        out.append(("native", seg))
    return mod, out


def _render_segment(mod, plan, steps, name, math, blas_sig, first_slot=None):
    fn = ll.Function(mod, _SEG_TYPE, name)
    bufs, externs, tid, nthreads, counter = fn.args
    thread = tid     # the running thread (with claimed shares `tid` becomes the share's)
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    events = None
    if first_slot is not None:
        events = b.bitcast(b.load(b.gep(bufs, [i64(len(plan.buffers))])), ll.PointerType(I64))

    def stamp(k, end, value=None):
        """Timed builds: this thread's start (end=0) or end (1) of top-level step k."""
        if events is not None:
            at = (first_slot + k) * max(plan.threads, 1) * 2 + end
            at = b.add(i64(at), b.mul(thread, i64(2)))   # the thread, not its share
            b.store(read_counter(b) if value is None else value, b.gep(events, [at]))
    # Thresholds and shares: the segment's schedule (`cpu.schedule`; default: the heuristic).
    sched = _schedule_of(name)

    def is_blas(s):
        """A dot through BLAS: a float one, unless the schedule makes a small one a loop."""
        return blas_sig is not None and s.kind == "dot" and _blas_ok(s.instr) and (
            gemm_flops(s.instr) >= sched.blas_min_flops or s.epilogue is not None or
            s.prologue is not None or _sized(s.instr))
    library = [is_blas(s) for s in steps]
    # Products added to another array: one GEMM with beta = 1, the kernel gone (None).
    run = fold_updates(plan, steps, library)
    work = sum(_work(plan, s) for s, lib in zip(steps, library) if not lib)
    epilogues = [s for s in steps if s.epilogue is not None or s.prologue is not None]
    work += sum(plan.buffers[s.epilogue.step.outputs[0]].shape.size for s in epilogues
                if s.epilogue is not None)
    work += sum(_work(plan, s.prologue.step) for s in epilogues if s.prologue is not None)
    # Small segments are not worth the hand-off. Those run whole kernels with constant
    # bounds, which lets LLVM see every trip count (small loops are unrolled, not
    # vectorized: less code, faster to compile).
    # GEMM prologues and epilogues share their blocks between threads, each calling a
    # one-thread GEMM (`cpu.gemm`); so are plain BLAS dots, cut into pieces. A segment with
    # plain BLAS dots goes to threads only for a product large enough (the schedule's
    # `gemm_threads_min_flops`): its many small kernels would each end at a barrier. LAPACK
    # steps run on one thread (OpenBLAS may use `num_threads` threads for them,
    # `cpu.executable`).
    shared = can_share_blocks()
    plain = [s for s, lib in zip(steps, library)
             if lib and s.epilogue is None and s.prologue is None]
    # A loop or branch runs SPMD when its body is worth the threads (`cpu.control`), else on
    # thread 0; a segment calling LAPACK or FFT anywhere, loop bodies included, stays on one.
    share = (sched.chunk_align, sched.row_align, sched.threads)   # as `cpu.barriers` cuts
    loops = LoopThreads(plan, is_blas, lambda s: _work(plan, s), sched.parallel_min_work,
                        lambda body, lib: plan_barriers(plan, body, lib, _threads(), share),
                        sched.gemm_threads_min_flops)
    controls = [s for s in steps if s.kind == "control"]
    parallel = _threads() > 1 and not any(s.kind == "library" for s in nested_steps(steps)) and \
        (any(loops.worth(s) for s in controls) or
         (work >= sched.parallel_min_work and not any(library)) or (shared and (
             (work >= sched.parallel_min_work and not plain) or
             any(gemm_flops(s.instr) >= sched.gemm_threads_min_flops for s in plain))))
    # Segment-wide barrier targets, counted per thread at run time: loops pass barriers a
    # run-time number of times (`cpu.control`).
    passed = b.alloca(I64, name="barriers")
    b.store(i64(0), passed)

    def sync():
        nonlocal tid
        if stretches is not None:     # the next stretch's shares, claimed (`cpu.claims`)
            tid = control.tid = stretches.boundary()
            return
        n = b.add(b.load(passed), i64(1))
        b.store(n, passed)
        b.call(_barrier_fn(mod), [counter, nthreads, n])
    # Each thread runs the loop control itself: the slots it points, its own.
    private = {bid: b.alloca(_I8P, name=f"slot{bid}") for bid in private_slots(plan, steps)} \
        if parallel else {}
    for bid, at in private.items():
        b.store(b.load(b.gep(bufs, [i64(bid)])), at)
    barriers = 0
    # Barriers only where threads could race, small kernels on thread 0 (`cpu.barriers`).
    # Claimed shares (`cpu.claims`): `per_thread` a thread, GEMMs and kernels cut for them.
    per_thread = claims.split(run, library, plan.threads) \
        if parallel and claims.usable(steps, plan.threads) else 1
    need, alone = plan_barriers(plan, run, library, _threads() * per_thread, share,
                                per_thread) \
        if parallel else ([], set())
    count = [0]

    def raw(bid):
        info = plan.buffers[bid]
        p = b.load(private[bid] if bid in private else b.gep(bufs, [i64(bid)]))
        if DATA_OFFSET is not None and info.kind in ("param", "output"):
            # The table holds the array object; its data pointer is a field of it.
            field = b.gep(p, [i64(DATA_OFFSET)])
            p = b.load(b.bitcast(field, _I8PP))
        return p

    def ptr(bid):
        return b.bitcast(raw(bid), ll.PointerType(storage_type(plan.buffers[bid].shape.dtype)))

    def array_strides(bid, r):
        """The first `r` strides, in elements, of parameter `bid`'s array (the table holds
        the array object; its strides pointer is a field of it, `cpu.array_fields`)."""
        p = b.load(private[bid] if bid in private else b.gep(bufs, [i64(bid)]))
        field = b.bitcast(b.gep(p, [i64(STRIDES_OFFSET)]), ll.PointerType(ll.PointerType(I64)))
        at = b.load(field)
        shift = i64(plan.buffers[bid].shape.dtype.itemsize.bit_length() - 1)
        return [b.ashr(b.load(b.gep(at, [i64(a)])), shift) for a in range(r)]

    def emit_steps(body_steps):
        """Steps of a loop body or branch: in order, on this thread."""
        for step in body_steps:
            emit_step(step, is_blas(step), False)

    control = Emitter(b, mod, ptr,
                      lambda bid: private[bid] if bid in private else b.gep(bufs, [i64(bid)]),
                      emit_steps, loops if parallel else None,
                      lambda step, shared: emit_step(step, is_blas(step), shared), sync, tid)
    dot_bounded = _dot_bounded(plan) if blas_sig is not None else set()
    params = {info.index: info.id for info in plan.buffers if info.kind == "param"}

    def true_size(hint, cap):
        """coefficient * size parameter + constant, within [0, cap]; None without a hint."""
        if hint is None or hint[0] not in params:
            return None
        p, coeff, const = hint[:3]
        v = b.load(ptr(params[p]))
        v = b.add(b.mul(v, i64(coeff)), i64(const))
        v = b.select(b.icmp_signed("<", v, i64(0)), i64(0), v)
        return b.select(b.icmp_signed(">", v, i64(cap)), i64(cap), v)

    def valid_rows(shape):
        """The true row count of a value whose padded rows need no computing (a bucketed
        program's `Shape.valid_rows`), read from its size parameter; else None."""
        hint = getattr(shape, "valid_rows", None)
        if not shape.dims:
            return None
        return true_size(hint, shape.dims[0])

    def axis_size(shape, axis, dot_read=True):
        """The true extent of `axis` of a bucketed program's value (`Shape.valid_dims`), or
        None. `dot_read`: accept an extent whose padding a dot would read unless it stops
        there too (`_dot_bounded`)."""
        hints = getattr(shape, "valid_dims", None)
        if not hints or axis >= len(hints) or hints[axis] is None or \
                (hints[axis][3] and not dot_read):
            return None
        return true_size(hints[axis], shape.dims[axis])

    def gemm_sizes(instr):
        """Run-time (M, N, K) of a bucketed dot (None where static): the output's true rows
        and columns, and the true size of the contracted axis (zeros past it)."""
        (lc, rc), (lb, _) = instr.attrs["dimension_numbers"]
        lhs, rhs = instr.operands
        rank, nb = len(instr.shape.dims), len(lb)
        free_l = len(lhs.shape.dims) - len(lc) - nb
        m = axis_size(instr.shape, nb) if free_l == 1 else None
        n = axis_size(instr.shape, rank - 1) if rank - nb - free_l == 1 else None
        k = None
        if len(lc) == 1:
            k = axis_size(lhs.shape, lc[0])
            if k is None:
                k = axis_size(rhs.shape, rc[0])
        return m, n, k

    def emit_step(step, lib, parallel):
        nonlocal barriers
        k = count[0]
        count[0] += 1
        if step.kind == "control":
            emit_control(control, plan, step)
            return
        if step.kind == "copy":
            emit_copy(control, plan, step)
            return
        if step.kind == "library" and step.instr.opcode == "fft":   # `cpu.fft`, this thread
            fft.emit(b, step, raw)
            return
        if step.kind in ("sort", "scan"):   # `llvm.sort`, `llvm.scan`: phases, each shared
            for j, phase in enumerate(emit_phases(mod, f"{name}.k{k}", step)):
                if j and parallel:
                    barriers += 1
                    sync()
                # (read after the barrier: with claimed shares each phase is a stretch of
                # its own, whose code the values of the last one do not dominate)
                args = [raw(i) for i in step.inputs + step.outputs + [step.region]]
                units = i64(phase.units)
                if parallel:
                    chunk = b.sdiv(b.add(units, b.sub(nthreads, i64(1))), nthreads)
                    lo = _min(b, b.mul(tid, chunk), units)
                    b.call(phase.fn, args + [lo, _min(b, b.add(lo, chunk), units)])
                else:
                    b.call(phase.fn, args + [i64(0), units])
            return
        if step.kind == "library":   # LAPACK (`cpu.lapack`), on this thread: it has its own
            lapack.emit(b, step, raw, externs, blas_sig[1], blas_sig[0])
            return
        if lib:
            # An operand passed as the caller's array: its row stride is the GEMM's leading
            # dimension (`cpu.prefix_inputs.strided_inputs`).
            strided = getattr(plan, "strided_inputs", None) or {}
            _call_blas(b, mod, step, ptr, externs, tid, blas_sig, math, f"{name}.k{k}",
                       nthreads if parallel else None, sizes=gemm_sizes(step.instr),
                       cut=_threads() * per_thread if parallel else None,
                       ld_of=lambda bid: array_strides(bid, 1)[0] if bid in strided else None)
            return
        if bf16_dot.native(step):   # AVX-512 BF16 GEMM, rows shared (`cpu.bf16_dot`)
            bf16_dot.emit(b, mod, step, ptr, raw, tid, nthreads if parallel else None,
                          f"{name}.k{k}")
            return
        if step.kind == "dot":
            kernel = emit_dot(mod, f"{name}.k{k}", step.instr)
        elif step.kind == "scatter":
            kernel = emit_scatter(mod, f"{name}.k{k}", step.instr)
        else:
            # Axes past the first stop at their true size (a bucketed program); those whose
            # padding a dot contracts only where every reader is a GEMM stopping there too.
            shape = step.instr.shape
            sizes = [] if step.kind != "kernel" or isinstance(shape, tuple) else [
                (a, axis_size(shape, a, step.outputs[0] in dot_bounded))
                for a in range(1, len(shape.dims))]
            sizes = [(a, v) for a, v in sizes if v is not None]
            # Parameters read from the caller's array of its true length: their leading
            # strides, read from the array at run time (`cpu.prefix_inputs.strided_inputs`).
            runtime = {j: plan.strided_inputs[bid] for j, bid in enumerate(step.inputs)
                       if bid in plan.strided_inputs} \
                if step.kind == "kernel" and getattr(plan, "strided_inputs", None) else {}
            kernel = emit_fusion(mod, f"{name}.k{k}", step.instr.called[0], math,
                                 in_place=step.in_place, bounds=tuple(a for a, _ in sizes),
                                 strides=runtime)
            extra = [v for _, v in sizes]
            for j, r in sorted(runtime.items()):
                extra += array_strides(step.inputs[j], r)
        # Only a reduction's inner loops gain from LLVM's unroller (`schedule.loop_hints`).
        apply_kernel(kernel.fn, f"{name}.k{k}",
                     unroll=step.kind != "kernel" or reduces(step.instr.called[0]))
        args = [ptr(i) for i in step.inputs] + [ptr(step.outputs[0])]
        if step.kind == "kernel":
            args += extra
        n = i64(kernel.extent)
        rows = valid_rows(step.instr.shape)
        if rows is None and step.kind == "kernel" and not isinstance(shape, tuple):
            # Leading rows whose padding only a GEMM stopping at the true size would read
            # (the zeros a contracted operand is masked with): not computed either, so the
            # kernel reads no padded row of its operands (`cpu.prefix_inputs`).
            rows = axis_size(shape, 0, step.outputs[0] in dot_bounded)
        per_row = None
        if rows is not None and kernel.extent and kernel.extent % step.instr.shape.dims[0] == 0:
            # A bucketed program: the padded rows of this value are never read (ir.Shape).
            per_row = kernel.extent // step.instr.shape.dims[0]
            n = b.mul(rows, i64(per_row))
        if not parallel:
            b.call(kernel.fn, args + [i64(0), n])
        elif kernel.splittable and id(step) not in alone:
            # Thread tid's share: a contiguous chunk, a multiple of `chunk_align` elements
            # when flat, else of `row_align` units; threads past the schedule's `threads`
            # get none.
            share = nthreads if not sched.threads else _min(b, nthreads, i64(sched.threads))
            chunk = b.sdiv(b.add(n, b.sub(share, i64(1))), share)
            if kernel.flat and per_row is not None:
                # Whole rows of the run-time count, as a row kernel shares them: the threads
                # then take the same rows in both, which spares the barrier between them
                # (`cpu.barriers`).
                chunk = b.mul(b.sdiv(b.add(rows, b.sub(share, i64(1))), share), i64(per_row))
            elif kernel.flat or sched.row_align > 1:
                align = sched.chunk_align if kernel.flat else sched.row_align
                chunk = b.mul(b.sdiv(b.add(chunk, i64(align - 1)), i64(align)), i64(align))
            lo = _min(b, b.mul(tid, chunk), n)
            hi = _min(b, b.add(lo, chunk), n)
            b.call(kernel.fn, args + [lo, hi])
        else:
            only0 = b.icmp_signed("==", tid, i64(0))
            with b.if_then(only0):
                b.call(kernel.fn, args + [i64(0), n])
            if events is not None:    # the other threads did not run it: no start
                with b.if_then(b.not_(only0)):
                    stamp(count[1], 0, i64(0))

    count.append(0)    # the top-level step being emitted (`stamp`)
    runs = _runs(len(run))
    split = len(runs) > 1
    if split:
        # A long segment: one function per run of steps (`PART_STEPS`), called in order by
        # the segment, which passes its barrier count and thread-private slots by pointer.
        # The closures above read `b`, `bufs`, `tid`... when called: rebinding them below
        # points them at the part being emitted.
        drv = b
        table = drv.bitcast(drv.alloca(ll.ArrayType(_I8P, max(len(private), 1)),
                                       name="slots"), _I8PP)
        for j, at in enumerate(private.values()):
            drv.store(drv.load(at), drv.gep(table, [i64(j)]))
        seg_args = list(fn.args) + [passed, table]
        slot_of = {bid: j for j, bid in enumerate(private)}
    stretches = None
    for c, (lo, hi) in enumerate(runs):
        if split:
            part = ll.Function(mod, _PART_TYPE, f"{name}.p{c}")
            part.linkage = "internal"
            part.attributes.add("noinline")
            drv.call(part, seg_args)
            bufs, externs, tid, nthreads, counter, passed, slots = part.args
            thread = tid
            b = control.b = ll.IRBuilder(part.append_basic_block("entry"))
            control.tid = tid
            private = {bid: b.gep(slots, [i64(j)]) for bid, j in slot_of.items()}
            if events is not None:
                events = b.bitcast(b.load(b.gep(bufs, [i64(len(plan.buffers))])),
                                   ll.PointerType(I64))
        # Threads claim the shares of each barrier-free stretch (`cpu.claims`): the code below
        # computes share `tid` of it, whichever thread runs it. A part ends its last stretch
        # (the next part's first stretch begins after a barrier).
        if parallel and claims.usable(steps, plan.threads):
            stretches = claims.Stretches(b, counter, nthreads,
                                         first=0 if stretches is None else stretches.index,
                                         thread=tid, split=per_thread)
            tid = control.tid = stretches.share
        for k in range(lo, hi):
            step, lib = run[k], library[k]
            if k and parallel and need[k] and not (k == lo and stretches is not None):
                barriers += 1
                sync()
            count[1] = k
            if step is not None:
                stamp(k, 0)
                emit_step(step, lib, parallel)
                stamp(k, 1)
        if stretches is not None:
            stretches.close()
        b.ret_void()
    if split:
        drv.ret_void()
    seg = Segment(name, steps, parallel)
    seg.claims = per_thread if stretches is not None else 0   # shares a thread, `cpu.claims`
    seg.one_thread_blas = parallel and any(is_blas(s) for s in nested_steps(steps))
    return seg


def _sized(instr):
    """Does a bucketed program's dot have run-time sizes (only its BLAS call reads them)?"""
    return any(getattr(s, "valid_rows", None) or getattr(s, "valid_dims", None)
               for s in [instr.shape] + [o.shape for o in instr.operands]
               if not isinstance(s, tuple))


def _dot_bounded(plan):
    """Buffers only BLAS dots read (no output, no other step): a GEMM stops at the true size of
    a contracted axis (`gemm_sizes`), so the kernel making such a buffer may too."""
    readers: dict = {}
    params = {info.index for info in plan.buffers if info.kind == "param"}
    outputs = {info.id for info in plan.buffers if info.kind == "output"}

    def note(step, ok):
        for bid in step.inputs:
            readers[bid] = readers.get(bid, True) and ok
    for step in plan.steps:
        note(step, step.kind == "dot" and _blas_ok(step.instr) and _k_hinted(step.instr, params))
        for extra in (step.epilogue, step.prologue):
            if extra is not None:
                note(extra.step, False)
    return {bid for bid, ok in readers.items() if ok and bid not in outputs}


def _k_hinted(instr, params):
    """Does this dot know the true size of its one contracted axis (`gemm_sizes`)?"""
    (lc, rc), _ = instr.attrs["dimension_numbers"]
    if len(lc) != 1:
        return False
    for x, a in zip(instr.operands, (lc[0], rc[0])):
        hints = getattr(x.shape, "valid_dims", None)
        if hints and a < len(hints) and hints[a] is not None and hints[a][0] in params:
            return True
    return False


def _work(plan, step):
    """Elements a step touches: a reduction kernel's input, else its output."""
    if step.kind == "kernel":
        return int(np.prod(iteration_shape(step.instr.called[0]), dtype=np.int64))
    if step.kind in ("sort", "scan"):   # a sort's passes count as several
        return step.instr.operands[0].shape.size * (4 if step.kind == "sort" else 1)
    if step.kind == "scatter":   # the copy of the operand and the updates' windows (none
        # where it runs on one thread: `llvm.scatter.split_pays`)
        return step.instr.shape.size + step.instr.operands[2].shape.size \
            if split_pays(step.instr) else 0
    return plan.buffers[step.outputs[0]].shape.size if step.kind == "dot" else 0


def _runs(n):
    """[(first, end)] of the parts of a segment of `n` top-level steps: one run if it has at
    most `PART_STEPS`, else runs of equal length (within one) of at most that many."""
    if n <= PART_STEPS:
        return [(0, n)]
    parts = -(-n // PART_STEPS)
    cuts = [n * c // parts for c in range(parts + 1)]
    return list(zip(cuts, cuts[1:]))


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _segments(plan):
    """The plan's steps grouped as render() groups them: [("native", [steps]) | ("python",
    step)], native groups named seg{j} by their position."""
    order, current = [], []
    for step in plan.steps:
        if step.kind == "python":
            if current:
                order.append(("native", current))
                current = []
            order.append(("python", step))
        else:
            current.append(step)
    if current:
        order.append(("native", current))
    return order
