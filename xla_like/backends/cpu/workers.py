"""The pool's workers in native code: a worker never takes Python's GIL.

A worker written in Python takes the GIL to return from its queue and to call the segment
(ctypes): a few microseconds, but on a loaded machine the OS may deschedule it while it holds
the GIL, and the calling thread, back in Python, then waits for a whole time slice. With
claimed shares (`cpu.claims`) a late worker does so while the calling thread runs Python
between segments, where it matters most. So each worker thread enters `jc_worker(box)` once
(ctypes releases the GIL) and never comes back: it sleeps on a futex until the calling thread
posts a task in its mailbox (`jc_post`, from Python through ctypes), runs it, and marks it
done; `jc_wait_done` waits for that (static shares need every worker to finish).

A mailbox, int64s: [0] tasks posted, [1] tasks done (the futex words), [2..7] and [12..17]
two task slots (task t in slot t % 2: segment function, pointer table, externs, tid,
nthreads, barrier block), [8] libc's `syscall` (0: spin, no futex), [9] SYS_futex, [10] "the
poster may sleep on [1]" and [11] "the worker may sleep on [0]" flags (set before the
sleeper's last look at the word, so either it sees the change or the one changing it sees
the flag and wakes it). The worker runs its tasks in order; a task is posted only while at
most one is unfinished ([0] - [1] <= 1), so its slot is not the one the worker may be
reading: a worker still finishing a late task of an earlier call gets the next one too.
Linux only (futex); elsewhere the pool keeps Python workers.
"""
from __future__ import annotations

import ctypes
import threading

from llvmlite import binding as llvm
from llvmlite import ir as ll

I64 = ll.IntType(64)
_PTR = ll.PointerType(I64)
_SEG = ll.FunctionType(ll.VoidType(), [_PTR, _PTR, I64, I64, _PTR])
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129   # FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE
BOX = 18

_lock = threading.Lock()
_routines = None     # (engine keeping the code alive, worker, post, wait_done)


def _i(v):
    return ll.Constant(I64, v)


def _futex(b, box, word, op, value):
    fnty = ll.PointerType(ll.FunctionType(I64, [I64], var_arg=True))
    call = b.inttoptr(b.load(b.gep(box, [_i(8)])), fnty)
    args = [b.load(b.gep(box, [_i(9)])), b.gep(box, [_i(word)]), _i(op), value]
    if op == _FUTEX_WAIT:
        args.append(ll.Constant(ll.PointerType(ll.IntType(8)), None))
    b.call(call, args)


def _sleep_until_changed(b, fn, box, word, flag, seen, name):
    """Block until box[word] != seen (sleeping on the futex); returns the new value."""
    check = fn.append_basic_block(f"{name}.check")
    sleep = fn.append_basic_block(f"{name}.sleep")
    out = fn.append_basic_block(f"{name}.out")
    b.branch(check)
    b.position_at_end(check)
    b.atomic_rmw("xchg", b.gep(box, [_i(flag)]), _i(1), "seq_cst")
    cur = b.load_atomic(b.gep(box, [_i(word)]), "seq_cst", 8)
    b.cbranch(b.icmp_signed("==", cur, seen), sleep, out)
    b.position_at_end(sleep)
    _futex(b, box, word, _FUTEX_WAIT, b.and_(seen, _i(0xFFFFFFFF)))
    b.branch(check)
    b.position_at_end(out)
    return cur


def _module():
    mod = ll.Module(name="jitcore_workers")
    mod.triple = llvm.get_process_triple()

    # void jc_worker(i64* box): run posted tasks until one has no function.
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [_PTR]), "jc_worker")
    box, = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    loop = fn.append_basic_block("loop")
    entry = b.block
    b.branch(loop)
    b.position_at_end(loop)
    seen = b.phi(I64)
    seen.add_incoming(_i(0), entry)   # (a task may be posted before the thread gets here)
    _sleep_until_changed(b, fn, box, 0, 11, seen, "idle")
    cur = b.add(seen, _i(1))           # the next task, in order
    at = b.mul(b.and_(cur, _i(1)), _i(10))   # its slot: fields at 2 + at
    run = fn.append_basic_block("run")
    stop = fn.append_basic_block("stop")
    seg = b.load(b.gep(box, [b.add(at, _i(2))]))
    b.cbranch(b.icmp_signed("==", seg, _i(0)), stop, run)
    b.position_at_end(run)
    field = lambda j: b.load(b.gep(box, [b.add(at, _i(j))]))  # noqa: E731
    b.call(b.inttoptr(seg, ll.PointerType(_SEG)),
           [b.inttoptr(field(3), _PTR), b.inttoptr(field(4), _PTR), field(5), field(6),
            b.inttoptr(field(7), _PTR)])
    b.store_atomic(cur, b.gep(box, [_i(1)]), "seq_cst", 8)
    waiting = b.load_atomic(b.gep(box, [_i(10)]), "seq_cst", 8)
    wake = fn.append_basic_block("wake")
    b.cbranch(b.icmp_signed("!=", waiting, _i(0)), wake, loop)
    seen.add_incoming(cur, b.block)
    b.position_at_end(wake)
    _futex(b, box, 1, _FUTEX_WAKE, _i(0x7FFFFFFF))
    b.branch(loop)
    seen.add_incoming(cur, wake)
    b.position_at_end(stop)
    b.ret_void()

    # void jc_post(i64* box, fn, ptrs, externs, tid, nthreads, counter): box[0] += 1.
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [_PTR] + [I64] * 6), "jc_post")
    box, *vals = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    posted = b.load_atomic(b.gep(box, [_i(0)]), "seq_cst", 8)
    at = b.mul(b.and_(b.add(posted, _i(1)), _i(1)), _i(10))
    for j, v in enumerate(vals):
        b.store(v, b.gep(box, [b.add(at, _i(2 + j))]))
    b.atomic_rmw("add", b.gep(box, [_i(0)]), _i(1), "seq_cst")
    sleeping = b.load_atomic(b.gep(box, [_i(11)]), "seq_cst", 8)
    wake = fn.append_basic_block("wake")
    done = fn.append_basic_block("done")
    b.cbranch(b.icmp_signed("!=", sleeping, _i(0)), wake, done)
    b.position_at_end(wake)
    _futex(b, box, 0, _FUTEX_WAKE, _i(1))
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()

    # void jc_wait_done(i64* box, i64 seq): until the worker has done task `seq`.
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [_PTR, I64]), "jc_wait_done")
    box, seq = fn.args
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    loop = fn.append_basic_block("loop")
    wait = fn.append_basic_block("wait")
    out = fn.append_basic_block("out")
    b.branch(loop)
    b.position_at_end(loop)
    cur = b.load_atomic(b.gep(box, [_i(1)]), "seq_cst", 8)
    b.cbranch(b.icmp_signed(">=", cur, seq), out, wait)
    b.position_at_end(wait)
    _sleep_until_changed(b, fn, box, 1, 10, cur, "busy")
    b.branch(loop)
    b.position_at_end(out)
    b.ret_void()
    return mod


def routines():
    """(jc_worker, jc_post, jc_wait_done) as ctypes functions (each call releases the GIL),
    compiled once per process."""
    global _routines
    with _lock:
        if _routines is None:
            from .target import target_machine
            mod = llvm.parse_assembly(str(_module()))
            mod.verify()
            engine = llvm.create_mcjit_compiler(mod, target_machine())
            engine.finalize_object()
            addr = engine.get_function_address
            p, v = ctypes.c_void_p, ctypes.c_int64
            _routines = (engine,
                         ctypes.CFUNCTYPE(None, p)(addr("jc_worker")),
                         ctypes.CFUNCTYPE(None, p, v, v, v, v, v, v)(addr("jc_post")),
                         ctypes.CFUNCTYPE(None, p, v)(addr("jc_wait_done")))
        return _routines[1:]
