"""Emitting the CPU backend's native loops and branches (`while`, `scan`, `cond` steps) as LLVM:
the plan of each (sub-plans, slots, regions, ping-pong carries) is made by `plan.control`.

Loops in a segment that runs on several threads (`LoopThreads`) run SPMD: every thread runs
the loop control itself (counter, ping-pong parity and slot pointers in thread-private stack
slots, the predicate or branch index read by each), the large steps of a body are shared
out as in straight-line segments (a kernel's range, a GEMM's pieces), and runs of small steps
go to thread 0 alone. Barriers keep every thread on the same path:
- inside a step list (cond, body, branch), where `cpu.barriers` finds that two threads could
  touch the same bytes since the last barrier (one writing): a GEMM's rows and the kernel
  applied to those rows need none between them. Slots count as memory of their own: within
  one iteration two slots never point at bytes one of them writes;
- a step list ends with a barrier, so its results are visible to the next iteration and to
  the predicate's readers, and nobody writes the predicate again (the next iteration's
  cond) before every thread has read it;
- a loop ends with a barrier (after thread 0 copies the carry out), after which nobody reads
  its predicate, so the steps after it may reuse that memory; a branch ends with its list's.
All threads pass the same barriers in the same order (they read the same predicates and
indices), so the barrier targets are counted per thread at run time (`sync`).
"""
from __future__ import annotations

from llvmlite import ir as ll

from ..llvm.emitter import I8, I64, i64
from ..llvm.loops import entry_alloca

_I8P = ll.PointerType(I8)

# Inside a loop body run by several threads, a kernel of at least this many elements is
# shared out (else thread 0 runs it): the barrier it needs costs ~1-3 us when both threads
# run, about what one core takes for 4-16k elements. A neighbouring shared step needs the
# barrier anyway, so this only decides who computes.
LOOP_SHARE_MIN_WORK = 1 << 13


# --- emission -------------------------------------------------------------------------------------

class Emitter:
    """What control-flow emission needs from the segment renderer: `ptr(bid)` (a typed pointer
    to a buffer), `slot(bid)` (the table entry's address) and `steps(list)` (emit steps in
    order, single-threaded). In a segment on several threads, `threads` (a `LoopThreads`)
    says which steps are shared, `one(step, shared)` emits one step (shared among the threads,
    or whole), `sync()` a barrier; `spmd` is set while every thread runs the code emitted."""

    def __init__(self, b, mod, ptr, slot, steps, threads=None, one=None, sync=None, tid=None):
        self.b, self.mod, self.ptr, self.slot, self.steps = b, mod, ptr, slot, steps
        self.threads, self.one, self.sync, self.tid = threads, one, sync, tid
        self.spmd = threads is not None

    def raw(self, bid):
        return self.b.bitcast(self.ptr(bid), _I8P)

    def point(self, slot_bid, p):
        self.b.store(self.b.bitcast(p, _I8P), self.slot(slot_bid))

    def memcpy(self, dst, src, nbytes):
        if nbytes == 0:
            return
        fn = self.mod.globals.get("memcpy")
        if fn is None:
            fn = ll.Function(self.mod, ll.FunctionType(_I8P, [_I8P, _I8P, I64]), "memcpy")
        self.b.call(fn, [dst, src, i64(nbytes)])


class LoopThreads:
    """Which loop-body steps a segment's threads share (module docstring). `is_blas(step)`:
    a dot the segment runs through BLAS; `work(step)`: elements a kernel touches; `min_work`:
    the per-iteration work of shared kernels that makes a loop worth all threads.
    `barriers(steps, library)`: `cpu.barriers.plan_barriers` for a list of steps, (barrier
    before step k?, ids of kernels thread 0 runs alone), or None: a barrier between every
    two steps where one is shared. `min_flops`: the product that makes a loop worth all
    threads (default `gemm.THREADS_MIN_FLOPS`, as for a straight-line segment)."""

    def __init__(self, plan, is_blas, work, min_work, barriers=None, min_flops=None):
        from .gemm import THREADS_MIN_FLOPS
        self.plan, self.is_blas, self.work, self.min_work = plan, is_blas, work, min_work
        self.barriers = barriers
        self.min_flops = THREADS_MIN_FLOPS if min_flops is None else min_flops
        self._worth = {}

    def plan_list(self, steps):
        """(barrier before step k?, is step k shared?) for a cond, body or branch."""
        if self.barriers is None:
            shared = [self.shared(s) for s in steps]
            need = [k > 0 and (shared[k] or shared[k - 1]) for k in range(len(steps))]
            return need, shared
        need, alone = self.barriers([_Modelled(self.plan, s) for s in steps],
                                    [self.is_blas(s) for s in steps])
        # A kernel is shared unless the barrier plan gives it to thread 0 (which it models);
        # a loop, a product, a copy run as `shared` says (the plan models them as touching
        # all they name on every thread: a superset).
        shared = [id(s) not in alone if s.kind == "kernel" and
                  not isinstance(s.instr.shape, tuple) else self.shared(s) for s in steps]
        return need, shared

    def shared(self, step) -> bool:
        """Do all threads run this step of a loop body (else thread 0 alone)?"""
        from .gemm import worth_sharing
        if step.kind == "control":
            return self.worth(step)
        if step.kind == "dot" and self.is_blas(step):
            return worth_sharing(step.instr)
        if step.kind in ("kernel", "dot", "scatter"):
            return self.work(step) >= LOOP_SHARE_MIN_WORK
        return False

    def worth(self, step) -> bool:
        """Is this loop or branch worth running on all threads: one iteration holds a GEMM
        that would make a straight-line segment run on threads (`min_flops`), or
        kernels of `min_work` elements (nested loops' included)? Each shared step costs a
        barrier per iteration. The tanh RNN of `benchmarks/workloads.py` row 4 (a 4.2 Mflop
        product per step) ran slower on two threads than on one on this 2-core machine
        (best of 5-7 rounds 14.7-27 ms vs 13.3-13.6 ms; OpenBLAS packs the right operand in
        each thread's piece), so it stays on one. A product the register-tiled kernel
        takes whole (`_whole_small`) does not make a loop worth threads either."""
        from .gemm import gemm_flops
        stack = [(step, False)]
        while stack:   # post-order over the nested control steps, without recursion
            s, ready = stack.pop()
            if id(s) in self._worth:
                continue
            inner = [t for sub in s.subs for t in sub.steps if t.kind == "control"]
            if not ready:
                stack.append((s, True))
                stack.extend((t, False) for t in inner)
                continue
            work, gemm = 0, any(self._worth[id(t)] for t in inner)
            for sub in s.subs:
                for t in sub.steps:
                    if t.kind == "dot" and self.is_blas(t):
                        gemm = gemm or (gemm_flops(t.instr) >= self.min_flops and
                                        not _whole_small(t))
                    elif t.kind in ("kernel", "dot", "scatter") and \
                            self.work(t) >= LOOP_SHARE_MIN_WORK:
                        work += self.work(t)
            self._worth[id(s)] = gemm or work >= self.min_work
        return self._worth[id(step)]


def _whole_small(step) -> bool:
    """Does dot `step` fit `small_gemm` whole (static sizes, at most `small_gemm.MAX_M` rows)?
    Such a product runs faster on one thread than shared in a loop body: the tanh RNN of
    100 steps, batch 128, hidden 512 (a 67 Mflop product a step), interleaved rounds on the
    2-core Zen 4 with other load (2026-12-07): one thread 79-88 ms by median, two threads
    (pieces by BLAS or by this kernel, rows or columns) 92-97 ms; each step's barriers wait
    for the slower thread, and each thread's piece reads all of the weight (or all of h)
    from memory into its own core's cache, where one thread keeps it in its L2 across
    steps."""
    from . import small_gemm
    try:
        return small_gemm.fits(step)
    except (AttributeError, ValueError):
        return False


class _Modelled:
    """A step as `cpu.barriers` models it: copies get the instruction-like face it reads."""

    def __new__(cls, plan, step):
        if step.kind != "copy":
            return step
        self = object.__new__(cls)
        self.kind, self.inputs, self.outputs = "copy", step.inputs, step.outputs
        self.epilogue = self.prologue = self.region = None
        self.instr = _CopyInstr(plan.buffers[step.outputs[0]].shape)
        return self

    def reads(self):
        return self.inputs

    def writes(self):
        return self.outputs


class _CopyInstr:
    opcode = "copy"
    operands = ()

    def __init__(self, shape):
        self.shape = shape


def nested_steps(steps):
    """Every step of `steps` and of their loops' and branches' sub-plans, at any depth."""
    stack = list(reversed(steps))
    while stack:
        s = stack.pop()
        yield s
        if s.kind == "control":
            for sub in reversed(s.subs):
                stack.extend(reversed(sub.steps))


def private_slots(plan, steps) -> list:
    """The slots the control steps among `steps` point: a segment on several threads keeps
    them in thread-private stack slots (each thread runs the loop control itself)."""
    found = set()
    for s in nested_steps(steps):
        bids = list(s.inputs) + list(s.outputs)
        if s.kind == "control":
            for sub in s.subs:
                bids += list(sub.params) + list(sub.results)
        found.update(bid for bid in bids if bid is not None and
                     plan.buffers[bid].kind == "slot")
    return sorted(found)


def _serial(em, emit):
    """`emit()` on thread 0 alone (the others go on to the next barrier)."""
    b = em.b
    with b.if_then(b.icmp_signed("==", em.tid, i64(0))):
        em.spmd = False
        try:
            emit()
        finally:
            em.spmd = True


def _run(em, plan, steps):
    """A cond, body or branch: in order on this thread, or SPMD (module docstring)."""
    if not em.spmd:
        em.steps(steps)
        return
    need, shared = em.threads.plan_list(steps)
    run = []           # thread 0's steps, not emitted yet

    def flush():
        if run:
            todo = list(run)
            _serial(em, lambda: [em.one(s, False) for s in todo])
            run.clear()
    for k, step in enumerate(steps):
        if need[k]:
            flush()
            em.sync()
        if shared[k]:
            flush()
            em.one(step, True)
        else:
            run.append(step)
    flush()
    # Always a barrier at the end: the results are read by the next iteration, and nobody
    # may write the predicate (or the branch index) again before all threads have read it.
    em.sync()


def emit_copy(em: Emitter, plan, step):
    nbytes = plan.buffers[step.outputs[0]].nbytes
    em.memcpy(em.raw(step.outputs[0]), em.raw(step.inputs[0]), nbytes)


def emit_control(em: Emitter, plan, step):
    emit = {"while": _emit_while, "scan": _emit_scan, "cond": _emit_cond}[step.instr.opcode]
    if em.spmd and not em.threads.worth(step):
        _serial(em, lambda: emit(em, plan, step))   # a small loop: thread 0 runs it whole
        return
    emit(em, plan, step)


def _nbytes(plan, bid):
    return plan.buffers[bid].nbytes


def _start_carries(em, plan, step, n):
    """A = the results; copy the initial carry into them. Returns (A pointers, B pointers)."""
    a = [em.raw(bid) for bid in step.outputs[:n]]
    bb = [em.raw(bid) for bid in step.scratch_carries]
    copies = [k for k in range(n) if step.inputs[k] != step.outputs[k]]

    def copy():
        for k in copies:
            em.memcpy(a[k], em.raw(step.inputs[k]), _nbytes(plan, step.outputs[k]))
    if em.spmd and copies:
        _serial(em, copy)
        em.sync()
    else:
        copy()
    return a, bb


def _finish_carries(em, plan, step, odd, a, bb):
    """After an odd number of iterations the carry is in B: copy it to A. Run by all threads,
    thread 0 copies, and a barrier ends the loop."""
    b = em.b
    if em.spmd:
        odd = b.and_(odd, b.icmp_signed("==", em.tid, i64(0)))
    with b.if_then(odd):
        for k in range(len(a)):
            em.memcpy(a[k], bb[k], _nbytes(plan, step.outputs[k]))
    if em.spmd:
        em.sync()


def _emit_while(em, plan, step):
    b = em.b
    cond, body = step.subs
    n = step.instr.attrs["num_carry"]
    consts = step.inputs[n:]
    a, bb = _start_carries(em, plan, step, n)
    for sub in (cond, body):
        for j, bid in enumerate(consts):
            em.point(sub.params[n + j], em.raw(bid))
    entry = b.block
    header = b.append_basic_block("while.header")
    body_bb = b.append_basic_block("while.body")
    exit_bb = b.append_basic_block("while.exit")
    b.branch(header)
    b.position_at_end(header)
    odd = b.phi(ll.IntType(1), name="odd")
    odd.add_incoming(ll.Constant(ll.IntType(1), 0), entry)
    cur = [b.select(odd, bb[k], a[k]) for k in range(n)]
    nxt = [b.select(odd, a[k], bb[k]) for k in range(n)]
    for k in range(n):
        em.point(cond.params[k], cur[k])
    _run(em, plan, cond.steps)
    pred = b.load(em.ptr(cond.results[0]))
    b.cbranch(b.icmp_unsigned("!=", pred, ll.Constant(pred.type, 0)), body_bb, exit_bb)
    b.position_at_end(body_bb)
    for k in range(n):
        em.point(body.params[k], cur[k])
        em.point(body.results[k], nxt[k])
    _run(em, plan, body.steps)
    odd.add_incoming(b.not_(odd), b.block)
    b.branch(header)
    b.position_at_end(exit_bb)
    _finish_carries(em, plan, step, odd, a, bb)


def _emit_scan(em, plan, step):
    from ..llvm.loops import counted_loop
    b = em.b
    (body,) = step.subs
    at = step.instr.attrs
    n, m, length, reverse = at["num_carry"], at["num_xs"], at["length"], at["reverse"]
    xs, consts = step.inputs[n:n + m], step.inputs[n + m:]
    ys = step.outputs[n:]
    a, bb = _start_carries(em, plan, step, n)
    for j, bid in enumerate(consts):
        em.point(body.params[n + m + j], em.raw(bid))
    if length == 0:
        if em.spmd:
            em.sync()
        return
    # In the entry block: a scan nested in a loop would otherwise grow the stack each time.
    odd_slot = entry_alloca(b, ll.IntType(1), name="odd")
    b.store(ll.Constant(ll.IntType(1), 0), odd_slot)
    x_step = [_nbytes(plan, bid) // length for bid in xs]
    y_step = [_nbytes(plan, bid) // length for bid in ys]
    x_base = [em.raw(bid) for bid in xs]
    y_base = [em.raw(bid) for bid in ys]

    def one(t):
        idx = b.sub(i64(length - 1), t) if reverse else t
        odd = b.load(odd_slot)
        for k in range(n):
            em.point(body.params[k], b.select(odd, bb[k], a[k]))
            em.point(body.results[k], b.select(odd, a[k], bb[k]))
        for j in range(m):
            em.point(body.params[n + j], b.gep(x_base[j], [b.mul(idx, i64(x_step[j]))]))
        for j in range(len(ys)):
            em.point(body.results[n + j], b.gep(y_base[j], [b.mul(idx, i64(y_step[j]))]))
        _run(em, plan, body.steps)
        b.store(b.not_(odd), odd_slot)
    counted_loop(b, i64(0), i64(length), one, name="scan")
    _finish_carries(em, plan, step, b.load(odd_slot), a, bb)


def _emit_cond(em, plan, step):
    b = em.b
    branches = step.subs
    index = b.load(em.ptr(step.inputs[0]))
    index = b.sext(index, I64) if index.type.width < 64 else index
    last = i64(len(branches) - 1)
    index = b.select(b.icmp_signed("<", index, i64(0)), i64(0), index)
    index = b.select(b.icmp_signed(">", index, last), last, index)
    exit_bb = b.append_basic_block("cond.exit")
    blocks = [b.append_basic_block(f"cond.branch{k}") for k in range(len(branches))]
    sw = b.switch(index, blocks[-1])
    for k, blk in enumerate(blocks[:-1]):
        sw.add_case(i64(k), blk)
    for blk, sub in zip(blocks, branches):
        b.position_at_end(blk)
        for j, bid in enumerate(step.inputs[1:]):
            em.point(sub.params[j], em.raw(bid))
        for k, bid in enumerate(step.outputs):
            em.point(sub.results[k], em.raw(bid))
        _run(em, plan, sub.steps)
        b.branch(exit_bb)
    b.position_at_end(exit_bb)
