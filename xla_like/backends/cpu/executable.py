"""The CPU executable: ctypes entry points per segment, a workspace per calling thread, the
worker pool for large segments, and the steps that run on the host (NumPy fallbacks,
control flow through the interpreter)."""
from __future__ import annotations

import contextlib
import ctypes
import re
import threading

import numpy as np
from llvmlite import binding as llvm

from ops.core import PRIMITIVES

from ... import profile_hooks
from .. import memory
from ..plan.planner import Plan
from .gemm import one_thread_blas, threaded_blas
from .pool import barrier_block, pool as _pool, reset_barrier, threads as _threads
from .target import _llvm_lock, target_machine


def _find_data_offset():
    """Where a NumPy array object keeps its data pointer (right after the object header in
    every release build), so native code can read it from `id(array)`: asking NumPy for the
    address costs ~1 us per array, a quarter of a whole cached call. None if it is elsewhere
    (then the pointers are looked up in Python)."""
    probe = np.arange(3.0)
    for off in (16,):
        if ctypes.c_void_p.from_address(id(probe) + off).value == probe.ctypes.data:
            return off
    return None


DATA_OFFSET = _find_data_offset()


_SEG_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                              ctypes.c_int64, ctypes.c_void_p)


class _Workspace:
    """Per-call state: the temporaries' memory, the pointer table, the barrier counter. A call
    holds one (`lock`) from filling the table until its last segment is done; calls from
    other threads meanwhile take another, or make their own."""

    def __init__(self, plan: Plan, extra_slots=0):
        self.memory = np.empty(max(plan.workspace_bytes, 64) + 64, np.uint8)
        base = self.memory.ctypes.data
        shift = (-base) % 64
        self.arrays = [None] * len(plan.buffers)
        # (`extra_slots`: table entries past the buffers', the timed build's event table)
        self.ptrs = (ctypes.c_void_p * max(len(plan.buffers) + extra_slots, 1))()
        for bi in plan.buffers:
            if bi.kind == "temp":
                start = shift + bi.offset
                arr = self.memory[start:start + bi.nbytes].view(bi.shape.dtype)
                if bi.block_bytes is None:   # an epilogue's block: native code only
                    arr = arr.reshape(bi.shape.dims)
                self.arrays[bi.id] = arr
                self.ptrs[bi.id] = base + start
            elif bi.kind == "const":
                self.arrays[bi.id] = bi.value
                self.ptrs[bi.id] = bi.value.ctypes.data
        self.counter = barrier_block()
        self.counter_ptr = ctypes.addressof(self.counter)
        self.lock = threading.Lock()


class Executable:
    backend = "cpu"
    # Makes the profiler's timed build of this program (`cpu.compile` sets it; None on the
    # timed build itself); `_extra_slots`: pointer table entries past the buffers'.
    _timed_build = None
    _extra_slots = 0

    def __init__(self, module, optimized, plan, order, engine, llvm_text, externs):
        self.module = module
        self.optimized = optimized
        self.plan = plan
        self._order = order
        # The segments' entry points are bare addresses: this keeps their code mapped (the
        # `llvm.native.NativeCode`, freed with the last executable and cache that hold it).
        self._engine = engine
        self._llvm_text = llvm_text
        self._asm_text = None
        self._externs = externs
        self._workspaces = [_Workspace(plan, self._extra_slots)]
        self._param_slots = [(b.id, b.index, b.shape.dtype) for b in plan.buffers
                             if b.kind == "param"]
        # (buffer, dims, dtype, from the pool, donated parameter buffer whose memory it takes)
        self._out_slots = [(b.id, b.shape.dims, b.shape.dtype, b.nbytes >= memory.POOLED_BYTES,
                            b.alias) for b in plan.buffers if b.kind == "output"]
        self._all_fresh = len(set(plan.outputs)) == len(plan.outputs) and all(
            plan.buffers[bid].kind == "output" for bid in plan.outputs)
        self._threads = plan.threads   # epilogue scratch has one block per thread
        for kind, seg in order:
            if kind == "native":
                # LAPACK routines cannot be shared out over the pool like a GEMM: OpenBLAS
                # gets the `num_threads` threads for the segments that call them.
                seg.lapack = any(s.kind == "library" and s.instr.opcode != "fft"
                                 for s in seg.steps)
        self._single = len(order) == 1 and order[0][0] == "native" and not order[0][1].lapack

    def as_text(self, kind: str = "hlo") -> str:
        if kind == "hlo":
            return self.optimized.as_text()
        if kind == "llvm":
            return self._llvm_text
        if kind == "asm":
            if self._asm_text is None:
                # Made on request only: printing assembly costs as much as compiling.
                # A large program is several compile units, each its own LLVM module.
                with _llvm_lock:
                    self._asm_text = "\n".join(
                        target_machine().emit_assembly(llvm.parse_assembly(text))
                        for text in _llvm_modules(self._llvm_text))
            return self._asm_text
        raise ValueError(f"the cpu backend has no {kind!r} text; use 'hlo', 'llvm' or 'asm'")

    def _workspace(self):
        for ws in self._workspaces:
            if ws.lock.acquire(blocking=False):
                return ws
        ws = _Workspace(self.plan, self._extra_slots)   # a concurrent call: its own temporaries
        ws.lock.acquire()
        self._workspaces.append(ws)
        return ws

    def __call__(self, args):
        if profile_hooks.on and self._timed_build is not None:
            timed = _timed_twin(self)     # while profiling: the build timing each kernel
            if timed is not None:
                return timed(args)
        plan = self.plan
        if len(args) != plan.n_params:
            raise TypeError(f"{self.module.name} expects {plan.n_params} arguments, "
                            f"got {len(args)}")
        ws = self._workspace()
        arrays, ptrs = ws.arrays, ws.ptrs
        try:
            for bid, index, dtype in self._param_slots:
                a = args[index]
                if a.dtype is not dtype or not a.flags.c_contiguous:
                    a = np.ascontiguousarray(a, dtype=dtype)
                arrays[bid] = a
                ptrs[bid] = id(a) if DATA_OFFSET is not None else a.ctypes.data
            for bid, dims, dtype, pooled, alias in self._out_slots:
                if alias is not None:
                    o = arrays[alias]
                else:
                    o = memory.empty(dims, dtype) if pooled else np.empty(dims, dtype)
                arrays[bid] = o
                ptrs[bid] = id(o) if DATA_OFFSET is not None else o.ctypes.data
            if self._single:
                seg = self._order[0][1]
                if not seg.parallel:
                    seg.cfunc(ptrs, self._externs, 0, 1, ws.counter_ptr)
                else:
                    self._run_segment(seg, ws)
            else:
                for kind, item in self._order:
                    if kind == "native":
                        self._run_segment(item, ws)
                    else:
                        _run_python(item, arrays)
            results = [arrays[bid] for bid in plan.outputs]
        finally:
            # The table holds the addresses of these arrays: it keeps them alive until every
            # segment, on every thread, is done with them, and no longer (the output pool
            # reuses an output once nothing else refers to it).
            for bid, _, _ in self._param_slots:
                arrays[bid] = None
            for bid, _, _, _, _ in self._out_slots:
                arrays[bid] = None
            ws.lock.release()
        return results if self._all_fresh else _own(results, plan)

    def _run_segment(self, seg, ws):
        # The plan's threads, or fewer when the caller's `num_threads` is lower now: the
        # native code takes any thread count up to the plan's.
        n = min(self._threads, _threads()) if seg.parallel else 1
        if n == 1:
            if seg.lapack and _threads() > 1:
                with threaded_blas(_threads()):
                    seg.cfunc(ws.ptrs, self._externs, 0, 1, ws.counter_ptr)
                return
            seg.cfunc(ws.ptrs, self._externs, 0, 1, ws.counter_ptr)
            return
        with one_thread_blas() if seg.one_thread_blas else contextlib.nullcontext():
            pool = _pool(n)
            reset_barrier(ws.counter)
            if not pool.try_run(seg.cfunc, ws.ptrs, self._externs, n, ws.counter_ptr,
                                getattr(seg, "claims", 0), self):
                # Another call has the workers: this one runs all shares itself (the native
                # code takes any thread count up to the plan's; with one, it skips barriers).
                seg.cfunc(ws.ptrs, self._externs, 0, 1, ws.counter_ptr)


_twin_lock = threading.Lock()


def _timed_twin(executable):
    """The timed build of `executable` when this call should be timed (a profiler trace, or
    the `debug` setting at 3 or more), else None; built once, on first use."""
    if not profile_hooks.timing_wanted():
        return None
    twin = executable.__dict__.get("_timed")
    if twin is None:
        with _twin_lock:
            twin = executable.__dict__.get("_timed")
            if twin is None:
                twin = executable._timed = executable._timed_build()
    return twin


def _own(results, plan):
    """Outputs that are parameters or constants, or the same buffer twice, are copied."""
    seen = set()
    out = []
    for bid, r in zip(plan.outputs, results):
        b = plan.buffers[bid]
        if b.kind != "output" or bid in seen:
            r = np.array(r)
        seen.add(bid)
        out.append(r)
    return out


def _run_python(step, arrays):
    instr = step.instr
    with np.errstate(all="ignore"):
        if instr.called:
            res = _control_flow_runner(step)(*[arrays[i] for i in step.inputs])
        else:
            res = PRIMITIVES[instr.opcode].impl(*[arrays[i] for i in step.inputs],
                                                **instr.attrs)
    res = res if isinstance(res, tuple) else (res,)
    for bid, r in zip(step.outputs, res):
        np.copyto(arrays[bid], np.asarray(r), casting="unsafe")


def _control_flow_runner(step):
    """Control flow the native code does not cover runs its bodies with the interpreter."""
    run = getattr(step, "runner", None)
    if run is None:
        from ...control_flow import interp_runner
        from ..interp import compile_computation
        run = step.runner = interp_runner(step.instr, compile_computation)
    return run


def _llvm_modules(text: str) -> list:
    """The LLVM modules in `text`: one, or the compile units joined one after another (each
    begins with its `; ModuleID` line)."""
    starts = [m.start() for m in re.finditer(r"^; ModuleID", text, re.M)]
    if len(starts) <= 1:
        return [text]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
