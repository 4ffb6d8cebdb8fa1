"""Shares claimed at run time: a threaded segment whose threads take over each other's work.

A threaded segment (`cpu.render`) is cut by its barriers (`cpu.barriers`) into *stretches*;
between two barriers, share `v` of `nthreads` (a contiguous chunk of each kernel, a run of
each shared GEMM's pieces, exactly what thread `v` computes with static shares) touches no
memory another share touches. So a stretch's shares may run in any order, on any thread, as
long as each runs its steps in order. Instead of thread `tid` running share `tid`, every
thread running the segment claims shares of the current stretch (a compare-and-swap on one
word: its own share `tid` first, which keeps the rows it wrote in its own cache, then any
other left), runs each it gets, counts it done, and at the barrier waits only for the shares
in flight. A thread the OS keeps off its core
(a loaded machine) then costs the others at most the share it holds, not every barrier; a
worker that starts late finds the stretches behind it done and joins at the current one; one
that never starts leaves all the work to the calling thread, which never waits for it
(`pool.ThreadPool.try_run`). Results are bit-identical to static shares: the same chunks,
the same order inside each.

The call's block (`pool.barrier_block`): slot 0 counts the call's shares done (stretch s is
over at (s + 1) * nthreads), slot 4 is the claim word (the stretch's number + 1 in the high
half, a bit per claimed share in the low half: at most `MAX_THREADS` threads), slots 1-3 the
futex call as the barriers use it (`render._barrier_fn`). Run on one thread
(`nthreads == 1`) the segment takes share 0 of every stretch without touching the block.
Segments with loops or branches keep static shares: their barriers sit inside loop bodies,
and each thread keeps its own loop state (`cpu.control`).
"""
from __future__ import annotations

from llvmlite import ir as ll

from ..llvm.emitter import I8, I64, i64

# Claim shares where a segment can (False: static shares everywhere, as before; benchmarks and
# tests compare the two).
ENABLED = True
_CLAIMED = 4
MAX_THREADS = 32
# Shares a thread where a segment holds only kernels, plain BLAS products and copies (no
# per-thread scratch): with more shares than threads, a thread whose partner is off its core
# takes more of the stretch before waiting for the share in flight; GEMM pieces and kernel
# chunks are then cut for SPLIT * threads (bit-identical: a GEMM's row blocks do not change
# its sums). Measured on 2 busy cores (benchmarks/results/threads_busy-2026-12-07.md), 2 was
# slower than 1 (more, smaller GEMM calls, each packing B again), so 1 it is.
SPLIT = 1
_CLAIM = "jc.claim_share"
_ARRIVE, _WAIT = "jc.share_done", "jc.wait_shares"
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129   # FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE
_SPINS = 1000                        # pause instructions (~40-150 cycles each) before sleeping


def usable(steps, threads=0) -> bool:
    """Can a segment of `steps` run on up to `threads` threads claim its shares (no loop or
    branch: barriers only between top-level steps or a sort's phases; a stretch's claims are
    bits of one word)?"""
    return ENABLED and threads <= MAX_THREADS and \
        not any(s is not None and s.kind == "control" for s in steps)


def split(steps, library, threads) -> int:
    """Shares a thread for a segment of `steps` claiming its shares on up to `threads`
    threads: `SPLIT` where nothing in it keeps per-thread scratch (a GEMM's prologue or
    epilogue blocks, a bfloat16 kernel's packing, a sort's phases), else 1."""
    if SPLIT <= 1 or threads * SPLIT > MAX_THREADS:
        return 1
    for step, lib in zip(steps, library):
        if step is None or step.kind in ("kernel", "copy"):
            continue
        if step.kind == "dot" and (not lib or step.epilogue is None and step.prologue is None):
            continue
        return 1
    return SPLIT


class Stretches:
    """Emits a segment's stretches as claim loops. `share` is the share the code being emitted
    computes (an i64 value); `boundary()` ends a stretch at a barrier and opens the next;
    `close()` ends the last."""

    def __init__(self, b, counter, nthreads, first=0, thread=None, split=1):
        # `first`: the stretch it opens (a long segment's parts go on with its numbering);
        # `thread`: the running thread's number (its own shares, claimed first: `split`
        # shares from `thread * split`); `nthreads`: the shares (`split` a thread)
        self.b, self.counter, self.nthreads = b, counter, nthreads
        t = i64(0) if thread is None else thread
        self.own = b.shl(i64((1 << split) - 1), b.mul(t, i64(split)))
        self.index = first
        self.claimed = b.icmp_signed(">", nthreads, i64(1))
        self.share = None
        self._open()

    def _slot(self, j):
        return self.b.gep(self.counter, [i64(j)])

    def _open(self):
        b = self.b
        fn = b.function
        s = self.index
        header = fn.append_basic_block(f"claim{s}")
        body = fn.append_basic_block(f"share{s}")
        self._exit = fn.append_basic_block(f"claim{s}.done")
        self._header = header
        pre = b.block
        self._goal = b.mul(self.nthreads, i64(s + 1))
        b.cbranch(self.claimed, header, body)
        b.position_at_end(header)
        mine = b.call(_claim_fn(b.module), [self.counter, i64(s + 1), self.nthreads,
                                            self.own])
        b.cbranch(b.icmp_signed("<", mine, i64(0)), self._exit, body)
        b.position_at_end(body)
        share = b.phi(I64, name=f"share{s}")
        share.add_incoming(i64(0), pre)
        share.add_incoming(mine, header)
        self.share = share

    def close(self):
        """End the current stretch: count the share done and claim another; once none is
        left, wait for those in flight."""
        b = self.b
        fn = b.function
        arrive = fn.append_basic_block(f"claim{self.index}.arrive")
        after = fn.append_basic_block(f"claim{self.index}.after")
        b.cbranch(self.claimed, arrive, after)
        b.position_at_end(arrive)
        b.call(_arrive_fn(b.module), [self.counter, self._goal])
        b.branch(self._header)
        b.position_at_end(self._exit)
        b.call(_wait_fn(b.module), [self.counter, self._goal])
        b.branch(after)
        b.position_at_end(after)
        self.index += 1

    def boundary(self):
        """A barrier: end this stretch, open the next; returns the new share."""
        self.close()
        self._open()
        return self.share


def _claim_fn(mod):
    """`jc.claim_share(block, tag, nthreads, own)`: a share of stretch `tag - 1` nobody has
    claimed, this thread's own (bits of `own`) first, or -1. The block's claim word holds
    the stretch's tag (high half) and a bit per claimed share (low half); a word of an
    earlier stretch counts as none claimed, one of a later stretch as all (a late thread
    catching up). Threads taking their own shares of each stretch keep the rows they wrote
    in their own caches."""
    fn, b = _declare(mod, _CLAIM, 2)
    if b is None:
        return fn
    counter, tag, n, own = fn.args
    loop = fn.append_basic_block("loop")
    attempt = fn.append_basic_block("try")
    none = fn.append_basic_block("none")
    slot = b.gep(counter, [i64(_CLAIMED)])
    low = i64(0xFFFFFFFF)
    full = b.sub(b.shl(i64(1), n), i64(1))
    own = b.and_(own, full)
    b.branch(loop)
    b.position_at_end(loop)
    word = b.load_atomic(slot, "seq_cst", 8)
    seen = b.lshr(word, i64(32))
    mask = b.select(b.icmp_unsigned("==", seen, tag), b.and_(word, low), i64(0))
    gone = b.or_(b.icmp_unsigned(">", seen, tag), b.icmp_unsigned("==", mask, full))
    b.cbranch(gone, none, attempt)
    b.position_at_end(attempt)
    cttz = mod.declare_intrinsic("llvm.cttz", [I64],
                                 ll.FunctionType(I64, [I64, ll.IntType(1)]))
    no = ll.Constant(ll.IntType(1), 0)
    free = b.xor(mask, i64(-1))
    own_free = b.and_(free, own)
    mine = b.call(cttz, [b.select(b.icmp_unsigned("!=", own_free, i64(0)), own_free, free), no])
    new = b.or_(b.or_(b.shl(tag, i64(32)), mask), b.shl(i64(1), mine))
    pair = b.cmpxchg(slot, word, new, "seq_cst", "seq_cst")
    took = fn.append_basic_block("took")
    b.cbranch(b.extract_value(pair, 1), took, loop)
    b.position_at_end(took)
    b.ret(mine)
    b.position_at_end(none)
    b.ret(i64(-1))
    return fn


def _declare(mod, name, extra=0):
    if name in mod.globals:
        return mod.globals[name], None
    fn = ll.Function(mod, ll.FunctionType(I64, [ll.PointerType(I64)] + [I64] * (1 + extra)),
                     name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    return fn, ll.IRBuilder(fn.append_basic_block("entry"))


def _syscall(b, counter):
    sys_fn = b.load(b.gep(counter, [i64(1)]))
    fnty = ll.PointerType(ll.FunctionType(I64, [I64], var_arg=True))
    return sys_fn, b.inttoptr(sys_fn, fnty), b.load(b.gep(counter, [i64(2)]))


def _arrive_fn(mod):
    """`jc.share_done(block, goal)`: one more share done; the one reaching `goal` wakes the
    threads sleeping on it, if any slept (see `pool.barrier_block`)."""
    fn, b = _declare(mod, _ARRIVE)
    if b is None:
        return fn
    counter, goal = fn.args
    wake = fn.append_basic_block("wake")
    call = fn.append_basic_block("wake_call")
    done = fn.append_basic_block("done")
    old = b.atomic_rmw("add", counter, i64(1), "seq_cst")
    b.cbranch(b.icmp_signed("==", b.add(old, i64(1)), goal), wake, done)
    b.position_at_end(wake)
    sys_fn, call_sys, nr = _syscall(b, counter)
    slept = b.load_atomic(b.gep(counter, [i64(3)]), "seq_cst", 8)
    b.cbranch(b.and_(b.icmp_signed("!=", slept, i64(0)), b.icmp_signed("!=", sys_fn, i64(0))),
              call, done)
    b.position_at_end(call)
    b.call(call_sys, [nr, counter, i64(_FUTEX_WAKE), i64(0x7FFFFFFF)])
    b.branch(done)
    b.position_at_end(done)
    b.ret(i64(0))
    return fn


def emit_wait(b, counter, goal, sys_fn, call_sys, nr, done):
    """From `b`'s block: wait until the count at `counter` reaches `goal`, then go to block
    `done`. Spin `_SPINS` pauses first (the usual wait on an idle machine: microseconds), then
    raise the sleepers' flag (`counter[3]`) and sleep on the futex at `counter` while the count
    is short; where there is no futex (`sys_fn` 0) only spin. The barriers of a segment
    (`render`) and the waits for claimed shares share this."""
    fn = b.function
    mod = fn.module
    spin = fn.append_basic_block("spin")
    pause = fn.append_basic_block("pause")
    sleep = fn.append_basic_block("sleep")
    sleep_call = fn.append_basic_block("sleep_call")
    entry = b.block
    b.branch(spin)
    b.position_at_end(spin)
    tries = b.phi(I64)
    tries.add_incoming(i64(0), entry)
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
    b.atomic_rmw("xchg", b.gep(counter, [i64(3)]), i64(1), "seq_cst")
    cur = b.load_atomic(counter, "seq_cst", 8)   # after the flag: see `pool.barrier_block`
    b.cbranch(b.icmp_signed("<", cur, goal), sleep_call, done)
    b.position_at_end(sleep_call)
    # Sleeps while the count's low 32 bits still hold `cur` (returns at once otherwise).
    b.call(call_sys, [nr, counter, i64(_FUTEX_WAIT), b.and_(cur, i64(0xFFFFFFFF)),
                      ll.Constant(ll.PointerType(I8), None)])
    b.branch(sleep)


def _wait_fn(mod):
    """`jc.wait_shares(block, goal)`: return once `goal` shares are done; spin a short while
    (microseconds: the usual wait on an idle machine), then sleep on a futex, giving the
    core to whichever thread holds the last share."""
    fn, b = _declare(mod, _WAIT)
    if b is None:
        return fn
    counter, goal = fn.args
    done = fn.append_basic_block("done")
    sys_fn, call_sys, nr = _syscall(b, counter)
    emit_wait(b, counter, goal, sys_fn, call_sys, nr, done)
    b.position_at_end(done)
    b.ret(i64(0))
    return fn
