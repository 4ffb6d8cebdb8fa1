"""Rendering a CPU plan as one LLVM module: each kernel a function, each run of native steps a
*segment* function `seg(i8** buffers, i8** externs, i64 tid, i64 nthreads, i64* counter)`
calling its kernels on thread `tid`'s share of each range, with a barrier between kernels when
several threads run it. Dots call BLAS (`externs`) for float32/float64, else a loop kernel;
linear algebra ("library" steps) calls LAPACK (`cpu.lapack`)."""
from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir as ll

from ..llvm.emitter import I8, I64, i64, storage_type
from ..llvm.kernels import emit_dot, emit_fusion
from ..llvm.scatter import emit_scatter
from ..plan.kernel_shapes import iteration_shape
from ..plan.planner import Plan
from . import fft, lapack
from .control import Emitter, emit_control, emit_copy
from .executable import DATA_OFFSET
from .gemm import blas_ok as _blas_ok, call_blas as _call_blas
from .gemm import can_share_blocks, worth_threads
from .pool import threads as _threads
from .target import math_provider


_I8P = ll.PointerType(I8)


_I8PP = ll.PointerType(_I8P)


_SEG_TYPE = ll.FunctionType(ll.VoidType(), [_I8PP, _I8PP, I64, I64, ll.PointerType(I64)])


PARALLEL_MIN_WORK = 1 << 17   # elements; below this, one thread (a hand-off costs ~20 us)


def _barrier(b, counter, target, nthreads):
    """All threads reach this point before any continues: a call of the module's one barrier
    function (`_barrier_fn`). Written out at each of a segment's many barriers, its dozen
    blocks made most of a large program's segment code, and LLVM's time on it."""
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
    spin = fn.append_basic_block("spin")
    pause = fn.append_basic_block("pause")
    sleep = fn.append_basic_block("sleep")
    sleep_call = fn.append_basic_block("sleep_call")
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
    b.cbranch(b.icmp_signed("==", b.add(old, i64(1)), goal), wake, spin)
    b.position_at_end(wake)    # the last arrival wakes the sleepers, if any slept this call
    slept = b.load_atomic(slot(3), "seq_cst", 8)
    b.cbranch(b.and_(b.icmp_signed("!=", slept, i64(0)), b.icmp_signed("!=", sys_fn, i64(0))),
              wake_call, done)
    b.position_at_end(wake_call)
    b.call(call_sys, [nr, counter, i64(_FUTEX_WAKE), i64(0x7FFFFFFF)])
    b.branch(done)
    b.position_at_end(spin)
    tries = b.phi(I64)
    tries.add_incoming(i64(0), wait)
    cur = b.load_atomic(counter, "seq_cst", 8)
    b.cbranch(b.icmp_signed("<", cur, goal), pause, done)
    b.position_at_end(pause)
    if "x86" in mod.triple:
        b.call(mod.declare_intrinsic("llvm.x86.sse2.pause", fnty=ll.FunctionType(
            ll.VoidType(), [])), [])
    more = b.add(tries, i64(1))
    tries.add_incoming(more, pause)
    b.cbranch(b.or_(b.icmp_signed("<", more, i64(_SPINS)), b.icmp_signed("==", sys_fn, i64(0))),
              spin, sleep)
    b.position_at_end(sleep)
    b.atomic_rmw("xchg", slot(3), i64(1), "seq_cst")
    cur = b.load_atomic(counter, "seq_cst", 8)   # after the flag: see `pool.barrier_block`
    b.cbranch(b.icmp_signed("<", cur, goal), sleep_call, done)
    b.position_at_end(sleep_call)
    # Sleeps while the counter's low 32 bits still hold `cur` (returns at once otherwise).
    b.call(call_sys, [nr, counter, i64(_FUTEX_WAIT), b.and_(cur, i64(0xFFFFFFFF)),
                      ll.Constant(ll.PointerType(I8), None)])
    b.branch(sleep)
    b.position_at_end(done)
    b.ret(i64(0))
    return fn


_SPINS = 1000                       # pause instructions (~40-150 cycles each) before sleeping
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129   # FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE


class Segment:
    """A run of native steps in one function. `parallel`: worth splitting across threads (else
    it always runs on one, and is compiled for exactly that)."""

    def __init__(self, name, steps, parallel):
        self.name = name
        self.steps = steps
        self.parallel = parallel
        self.one_thread_blas = False   # run with BLAS on its calling threads (GEMM epilogues)
        self.fn = None


def render(plan: Plan, blas_sig):
    """The LLVM module for `plan`: kernels and segment functions. Returns (module, segments,
    python steps interleaved): a list of ("native", Segment) / ("python", Step)."""
    mod = ll.Module(name=plan.module.name)
    mod.triple = llvm.get_process_triple()
    math = math_provider(mod)
    out = []
    for j, (kind, item) in enumerate(_segments(plan)):
        if kind == "python":
            out.append(("python", item))
            continue
        seg = _render_segment(mod, plan, item, f"seg{j}", math, blas_sig)
        out.append(("native", seg))
    return mod, out


def _render_segment(mod, plan, steps, name, math, blas_sig):
    fn = ll.Function(mod, _SEG_TYPE, name)
    bufs, externs, tid, nthreads, counter = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    library = [blas_sig is not None and s.kind == "dot" and _blas_ok(s.instr) for s in steps]
    work = sum(_work(plan, s) for s, lib in zip(steps, library) if not lib)
    epilogues = [s for s in steps if s.epilogue is not None or s.prologue is not None]
    work += sum(plan.buffers[s.epilogue.step.outputs[0]].shape.size for s in epilogues
                if s.epilogue is not None)
    work += sum(_work(plan, s.prologue.step) for s in epilogues if s.prologue is not None)
    # Small segments are not worth the hand-off. Those run whole kernels with constant
    # bounds, which lets LLVM see every trip count (small loops are unrolled, not
    # vectorized: less code, faster to compile). Loops and branches run on one thread too.
    # GEMM prologues and epilogues share their blocks between threads, each calling a
    # one-thread GEMM (`cpu.gemm`); so are plain BLAS dots, cut into pieces. A segment with
    # plain BLAS dots goes to threads only for a product large enough (`worth_threads`): its
    # many small kernels would each end at a barrier. LAPACK steps run on one thread (OpenBLAS
    # may use `num_threads` threads for them, `cpu.executable`).
    shared = can_share_blocks()
    plain = [s for s, lib in zip(steps, library)
             if lib and s.epilogue is None and s.prologue is None]
    parallel = _threads() > 1 and not any(s.kind in ("control", "library") for s in steps) \
        and ((work >= PARALLEL_MIN_WORK and not any(library)) or (shared and (
            (work >= PARALLEL_MIN_WORK and not plain) or
            any(worth_threads(s.instr) for s in plain))))
    barriers = 0
    count = [0]

    def raw(bid):
        info = plan.buffers[bid]
        p = b.load(b.gep(bufs, [i64(bid)]))
        if DATA_OFFSET is not None and info.kind in ("param", "output"):
            # The table holds the array object; its data pointer is a field of it.
            field = b.gep(p, [i64(DATA_OFFSET)])
            p = b.load(b.bitcast(field, _I8PP))
        return p

    def ptr(bid):
        return b.bitcast(raw(bid), ll.PointerType(storage_type(plan.buffers[bid].shape.dtype)))

    def emit_steps(body_steps):
        """Steps of a loop body or branch: in order, on this thread."""
        for step in body_steps:
            emit_step(step, blas_sig is not None and step.kind == "dot" and
                      _blas_ok(step.instr), False)

    control = Emitter(b, mod, ptr, lambda bid: b.gep(bufs, [i64(bid)]), emit_steps)
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
        if step.kind == "library":   # LAPACK (`cpu.lapack`), on this thread: it has its own
            lapack.emit(b, step, raw, externs, blas_sig[1], blas_sig[0])
            return
        if lib:
            _call_blas(b, mod, step, ptr, externs, tid, blas_sig, math, f"{name}.k{k}",
                       nthreads if parallel else None, sizes=gemm_sizes(step.instr))
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
            kernel = emit_fusion(mod, f"{name}.k{k}", step.instr.called[0], math,
                                 in_place=step.in_place, bounds=tuple(a for a, _ in sizes))
            extra = [v for _, v in sizes]
        args = [ptr(i) for i in step.inputs] + [ptr(step.outputs[0])]
        if step.kind == "kernel":
            args += extra
        n = i64(kernel.extent)
        rows = valid_rows(step.instr.shape)
        if rows is not None and kernel.extent and kernel.extent % step.instr.shape.dims[0] == 0:
            # A bucketed program: the padded rows of this value are never read (ir.Shape).
            n = b.mul(rows, i64(kernel.extent // step.instr.shape.dims[0]))
        if not parallel:
            b.call(kernel.fn, args + [i64(0), n])
        elif kernel.splittable:
            # Thread tid's share: a contiguous chunk, a multiple of 64 elements when flat.
            chunk = b.sdiv(b.add(n, b.sub(nthreads, i64(1))), nthreads)
            if kernel.flat:
                chunk = b.mul(b.sdiv(b.add(chunk, i64(63)), i64(64)), i64(64))
            lo = _min(b, b.mul(tid, chunk), n)
            hi = _min(b, b.add(lo, chunk), n)
            b.call(kernel.fn, args + [lo, hi])
        else:
            only0 = b.icmp_signed("==", tid, i64(0))
            with b.if_then(only0):
                b.call(kernel.fn, args + [i64(0), n])

    for k, (step, lib) in enumerate(zip(steps, library)):
        if k and parallel:
            barriers += 1
            _barrier(b, counter, barriers, nthreads)
        emit_step(step, lib, parallel)
    b.ret_void()
    seg = Segment(name, steps, parallel)
    seg.one_thread_blas = parallel and any(library)
    return seg


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
    if step.kind == "scatter":   # the copy of the operand and the updates' windows
        return step.instr.shape.size + step.instr.operands[2].shape.size
    return plan.buffers[step.outputs[0]].shape.size if step.kind == "dot" else 0


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
