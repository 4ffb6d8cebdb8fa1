"""The clock timed programs read: the CPU's cycle counter (`llvm.readcyclecounter`, one
`rdtsc` on x86-64, ~20 cycles), which a kernel's timing stamps read without a call.

Converting cycles to the profiler's nanoseconds (`time.perf_counter_ns`) needs the counter's
rate: measured once per process (`ns_per_cycle`, ~20 ms against perf_counter), on CPUs whose
counter runs at a constant rate (every x86-64 of the last decade: "constant_tsc"). Each timed
call reads both clocks before it runs, so its stamps are placed on perf_counter's time line
from that pair: the rate's error grows with the length of one call only.
"""
from __future__ import annotations

import ctypes
import threading
import time

from llvmlite import binding as llvm
from llvmlite import ir as ll

from ..llvm import native as llvm_native
from .target import target_machine

_lock = threading.Lock()
_engine = None
_cycles = None
_ns_per_cycle = None


def read_counter(b: ll.IRBuilder):
    """Emit a read of the cycle counter (an i64) at `b`."""
    fn = b.module.declare_intrinsic("llvm.readcyclecounter",
                                    fnty=ll.FunctionType(ll.IntType(64), []))
    return b.call(fn, [])


def cycles() -> int:
    """The cycle counter now (a native function compiled once per process)."""
    return _function()()


def _function():
    global _engine, _cycles
    if _cycles is not None:
        return _cycles
    with _lock:
        if _cycles is None:
            mod = ll.Module(name="jitcore_clock")
            mod.triple = llvm.get_process_triple()
            fn = ll.Function(mod, ll.FunctionType(ll.IntType(64), []), "jitcore_cycles")
            b = ll.IRBuilder(fn.append_basic_block())
            b.ret(read_counter(b))
            with llvm_native.locked():
                parsed = llvm.parse_assembly(str(mod))
                parsed.verify()
                engine = llvm.create_mcjit_compiler(parsed, target_machine())
                engine.finalize_object()
                address = engine.get_function_address("jitcore_cycles")
            _engine = engine    # keeps the code mapped for the life of the process
            _cycles = ctypes.CFUNCTYPE(ctypes.c_int64)(address)
    return _cycles


def _pair(read):
    """(cycles, ns) read together: of a few tries, the one whose two perf_counter reads
    around the counter's are closest (a thread descheduled between them would skew it)."""
    best = None
    for _ in range(20):
        a = time.perf_counter_ns()
        c = read()
        b = time.perf_counter_ns()
        if best is None or b - a < best[0]:
            best = (b - a, c, (a + b) // 2)
    return best[1], best[2]


def ns_per_cycle() -> float:
    """Nanoseconds per count of the cycle counter, measured once (~20 ms)."""
    global _ns_per_cycle
    if _ns_per_cycle is None:
        read = _function()
        c0, t0 = _pair(read)
        while time.perf_counter_ns() - t0 < 20_000_000:
            pass
        c1, t1 = _pair(read)
        _ns_per_cycle = (t1 - t0) / max(c1 - c0, 1)
    return _ns_per_cycle
