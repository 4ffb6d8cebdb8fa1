"""The CPU backend: fused kernels compiled to native code with LLVM (llvmlite).

compile(module, donated):
1. `cpu_plan.cpu_pipeline`: inline custom-derivative calls, CSE, layout, fusion, DCE (on a
   copy; the list is `cpu_plan.CPU_PIPELINE`).
2. `cpu_plan.Plan`: buffers (parameters, constants, outputs, workspace temporaries placed by
   buffer assignment) and steps (kernels, dots, NumPy fallbacks); GEMM epilogues, and outputs
   that take the memory of `donated` parameters.
3. Render: one LLVM module; each kernel a function; each run of native steps a *segment*
   function `seg(i8** buffers, i8** externs, i64 tid, i64 nthreads, i64* counter)` calling its
   kernels on thread `tid`'s share of each kernel's range, with a barrier between kernels when
   several threads run it (segments too small for threads call each kernel on its whole
   range, with constant bounds). Dots call BLAS (`externs`) for float32/float64, else a loop
   kernel.
4. Compile: LLVM O3 (loop and SLP vectorization) for the host CPU name and features, by one
   target machine; the object code is linked into an MCJIT engine of the program's own, freed
   when no executable runs it (`llvm_native`). Machine code is shared by programs that render
   the same LLVM text (an in-memory cache bounded in bytes), and kept on disk for other
   processes (`disk_cache`). Runtime routines LLVM may call but Python does not load
   come from `cpu_runtime`.
5. Load: ctypes entry points; a call fills the buffer pointer table and calls each segment
   once (on one thread, or on several when the work is large enough to pay for the hand-off
   and no other call holds the worker pool). Calls from several Python threads each get their
   own workspace (`_Workspace`), and keep their arrays alive until their last share is done.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import threading

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir as ll

from ops.core import MATH_ROUTINES, PRIMITIVES

from .. import ir
from ..printer import instruction_to_text
from ..settings import settings
from . import cpu_runtime, disk_cache, llvm_native, memory, object_check
from .cpu_control import Emitter, emit_control, emit_copy
from .cpu_scatter import emit_scatter
from ..passes.fusion import iteration_shape
from .cpu_gemm import blas_ok as _blas_ok, call_blas as _call_blas
from .cpu_gemm import can_share_blocks, one_thread_blas
from .cpu_kernels import emit_dot, emit_fusion
from .code_cache import CodeCache
from .cpu_plan import Plan, cpu_pipeline
from .cpu_pool import pool as _pool, threads as _threads
from .llvm_emitter import I8, I64, i64, logistic_function, storage_type

_I8P = ll.PointerType(I8)
_I8PP = ll.PointerType(_I8P)
_SEG_TYPE = ll.FunctionType(ll.VoidType(), [_I8PP, _I8PP, I64, I64, ll.PointerType(I64)])
PARALLEL_MIN_WORK = 1 << 17   # elements; below this, one thread (a hand-off costs ~20 us)


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


# --- LLVM set-up ------------------------------------------------------------------------------

_llvm_lock = llvm_native.LLVM_LOCK   # LLVM's global state is not thread-safe
_initialized = False


class _Host:
    """The host CPU's name and features, asked of LLVM once (~1 ms each time)."""

    def __getitem__(self, k):
        if not hasattr(self, "_v"):
            self._v = (llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())
        return self._v[k]


_HOST = _Host()


def target_machine():
    """A target machine for the host CPU's name and features. A new one each time: MCJIT
    takes ownership of the one it is given."""
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=_HOST[0], features=_HOST[1], opt=3, reloc="default", codemodel="jitdefault")


_codegen = None


def _codegen_machine():
    """The target machine that optimizes and emits every program (under `_llvm_lock`). One
    for the process: it builds its subtarget tables (~0.7 MB) once, where a machine per
    program built them at each compile, and an engine generating code kept them as long as
    the program lived (`llvm_native`)."""
    global _codegen
    if _codegen is None:
        _codegen = target_machine()
    return _codegen


# Programs touching fewer elements than this (and without loops) are optimized at LLVM's O1:
# their run time is call overhead either way, and O3 costs ~30% more compile time.
SMALL_WORK = 1 << 16
QUICK_MARK = "\n; jitcore: small program, optimized at O1\n"


def _small(plan) -> bool:
    return all(s.kind in ("kernel", "dot", "python", "scatter") for s in plan.steps) and \
        sum(_work(plan, s) for s in plan.steps) < SMALL_WORK


def optimize(mod: llvm.ModuleRef, tm, speed_level=3):
    llvm_native.run_pipeline(mod, tm, speed_level, loop_interleaving=True, loop_unrolling=True,
                             loop_vectorization=True, slp_vectorization=True)


def math_provider(module: ll.Module):
    """(name, llvm type) -> the function computing it (vectorizable bodies where available).

    The `no_vector_math` setting (`JITCORE_NO_VECTOR_MATH=1`) uses the C math library for
    everything: a reference to tell an accuracy problem of the vectorized bodies from one
    elsewhere."""
    llvm_math = None
    if not settings.no_vector_math:
        try:
            from . import llvm_math
        except ImportError:
            llvm_math = None

    def get(name, ty):
        routine = MATH_ROUTINES[name]
        # A bounded-range body (sin/cos/tan: exact only for |x| < 2**53) gives way to the C
        # library, exact for every argument as NumPy is, but not vectorized.
        if llvm_math is not None and name in llvm_math.SUPPORTED and not routine.bounded_range:
            return llvm_math.math_function(module, name, ty)
        return _libm(module, routine, ty)
    return get


# The C functions the fallback may call, by routine name (`object_check` allows them).
_LIBM = {r.name: r.libm for r in MATH_ROUTINES.values() if r.libm is not None}


def _libm(module, routine, ty):
    """A call to the C math library (scalar: blocks vectorization, used only as a fallback)."""
    f32 = isinstance(ty, ll.FloatType)
    if routine.from_exp:
        return logistic_function(module, ty, _libm(module, MATH_ROUTINES["exp"], ty))
    if routine.libm is None:
        # The C library lacks it: ours serves even when the vectorized bodies are turned off.
        from . import llvm_math as ours
        return ours.math_function(module, routine.name, ty)
    cname = routine.libm + ("f" if f32 else "")
    fn = module.globals.get(cname)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(ty, [ty] * routine.args), cname)
    return fn


# --- rendering ----------------------------------------------------------------------------------

def _barrier(b, counter, target, nthreads):
    """All threads reach this point before any continues (skipped when running alone)."""
    fn = b.function
    wait = fn.append_basic_block("barrier.wait")
    done = fn.append_basic_block("barrier.done")
    spin = fn.append_basic_block("barrier.spin")
    b.cbranch(b.icmp_signed(">", nthreads, i64(1)), wait, done)
    b.position_at_end(wait)
    b.atomic_rmw("add", counter, i64(1), "seq_cst")
    b.branch(spin)
    b.position_at_end(spin)
    cur = b.load_atomic(counter, "seq_cst", 8)
    b.cbranch(b.icmp_signed("<", cur, b.mul(nthreads, i64(target))), spin, done)
    b.position_at_end(done)


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
    epilogues = [s for s in steps if s.epilogue is not None]
    work += sum(plan.buffers[s.epilogue.step.outputs[0]].shape.size for s in epilogues)
    # Library calls run on one thread (BLAS has its own); small segments are not worth the
    # hand-off. Those run whole kernels with constant bounds, which lets LLVM see every trip
    # count (small loops are unrolled, not vectorized: less code, faster to compile). Loops
    # and branches run on one thread too. GEMM epilogues share their blocks between threads,
    # each calling a one-thread GEMM (`cpu_gemm`).
    shared = bool(epilogues) and can_share_blocks()
    parallel = work >= PARALLEL_MIN_WORK and _threads() > 1 and not any(
        lib and not (shared and s.epilogue is not None) for s, lib in zip(steps, library)) \
        and not any(s.kind == "control" for s in steps)
    barriers = 0
    count = [0]

    def ptr(bid):
        info = plan.buffers[bid]
        p = b.load(b.gep(bufs, [i64(bid)]))
        if DATA_OFFSET is not None and info.kind in ("param", "output"):
            # The table holds the array object; its data pointer is a field of it.
            field = b.gep(p, [i64(DATA_OFFSET)])
            p = b.load(b.bitcast(field, _I8PP))
        return b.bitcast(p, ll.PointerType(storage_type(info.shape.dtype)))

    def emit_steps(body_steps):
        """Steps of a loop body or branch: in order, on this thread."""
        for step in body_steps:
            emit_step(step, blas_sig is not None and step.kind == "dot" and
                      _blas_ok(step.instr), False)

    control = Emitter(b, mod, ptr, lambda bid: b.gep(bufs, [i64(bid)]), emit_steps)
    params = {info.index: info.id for info in plan.buffers if info.kind == "param"}

    def valid_rows(shape):
        """The true row count of a value whose padded rows need no computing (a bucketed
        program's `Shape.valid_rows`), read from its size parameter; else None."""
        hint = getattr(shape, "valid_rows", None)
        if hint is None or hint[0] not in params or not shape.dims:
            return None
        p, coeff, const = hint
        v = b.load(ptr(params[p]))
        v = b.add(b.mul(v, i64(coeff)), i64(const))
        v = b.select(b.icmp_signed("<", v, i64(0)), i64(0), v)
        cap = i64(shape.dims[0])
        return b.select(b.icmp_signed(">", v, cap), cap, v)

    def emit_step(step, lib, parallel):
        k = count[0]
        count[0] += 1
        if step.kind == "control":
            emit_control(control, plan, step)
            return
        if step.kind == "copy":
            emit_copy(control, plan, step)
            return
        if lib:
            _call_blas(b, mod, step, ptr, externs, tid, blas_sig, math, f"{name}.k{k}",
                       nthreads if parallel else None, rows=valid_rows(step.instr.shape))
            return
        if step.kind == "dot":
            kernel = emit_dot(mod, f"{name}.k{k}", step.instr)
        elif step.kind == "scatter":
            kernel = emit_scatter(mod, f"{name}.k{k}", step.instr)
        else:
            kernel = emit_fusion(mod, f"{name}.k{k}", step.instr.called[0], math,
                                 in_place=step.in_place)
        args = [ptr(i) for i in step.inputs] + [ptr(step.outputs[0])]
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
    seg.one_thread_blas = parallel and bool(epilogues)
    return seg


def _work(plan, step):
    """Elements a step touches: a reduction kernel's input, else its output."""
    if step.kind == "kernel":
        return int(np.prod(iteration_shape(step.instr.called[0].root), dtype=np.int64))
    return plan.buffers[step.outputs[0]].shape.size if step.kind == "dot" else 0


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


# --- the executable ------------------------------------------------------------------------------

_SEG_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                              ctypes.c_int64, ctypes.c_void_p)


class _Workspace:
    """Per-call state: the temporaries' memory, the pointer table, the barrier counter. A call
    holds one (`lock`) from filling the table until its last segment is done; calls from
    other threads meanwhile take another, or make their own."""

    def __init__(self, plan: Plan):
        self.memory = np.empty(max(plan.workspace_bytes, 64) + 64, np.uint8)
        base = self.memory.ctypes.data
        shift = (-base) % 64
        self.arrays = [None] * len(plan.buffers)
        self.ptrs = (ctypes.c_void_p * max(len(plan.buffers), 1))()
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
        self.counter = ctypes.c_int64(0)
        self.counter_ptr = ctypes.addressof(self.counter)
        self.lock = threading.Lock()


class Executable:
    backend = "cpu"

    def __init__(self, module, optimized, plan, order, engine, llvm_text, externs):
        self.module = module
        self.optimized = optimized
        self.plan = plan
        self._order = order
        # The segments' entry points are bare addresses: this keeps their code mapped (the
        # `llvm_native.NativeCode`, freed with the last executable and cache that hold it).
        self._engine = engine
        self._llvm_text = llvm_text
        self._asm_text = None
        self._externs = externs
        self._workspaces = [_Workspace(plan)]
        self._param_slots = [(b.id, b.index, b.shape.dtype) for b in plan.buffers
                             if b.kind == "param"]
        # (buffer, dims, dtype, from the pool, donated parameter buffer whose memory it takes)
        self._out_slots = [(b.id, b.shape.dims, b.shape.dtype, b.nbytes >= memory.POOLED_BYTES,
                            b.alias) for b in plan.buffers if b.kind == "output"]
        self._all_fresh = len(set(plan.outputs)) == len(plan.outputs) and all(
            plan.buffers[bid].kind == "output" for bid in plan.outputs)
        self._threads = plan.threads   # epilogue scratch has one block per thread
        self._single = len(order) == 1 and order[0][0] == "native"

    def as_text(self, kind: str = "hlo") -> str:
        if kind == "hlo":
            return self.optimized.as_text()
        if kind == "llvm":
            return self._llvm_text
        if kind == "asm":
            if self._asm_text is None:
                # Made on request only: printing assembly costs as much as compiling.
                with _llvm_lock:
                    mod = llvm.parse_assembly(self._llvm_text)
                    self._asm_text = target_machine().emit_assembly(mod)
            return self._asm_text
        raise ValueError(f"the cpu backend has no {kind!r} text; use 'hlo', 'llvm' or 'asm'")

    def _workspace(self):
        for ws in self._workspaces:
            if ws.lock.acquire(blocking=False):
                return ws
        ws = _Workspace(self.plan)   # a concurrent call: its own temporaries
        ws.lock.acquire()
        self._workspaces.append(ws)
        return ws

    def __call__(self, args):
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
            seg.cfunc(ws.ptrs, self._externs, 0, 1, ws.counter_ptr)
            return
        with one_thread_blas() if seg.one_thread_blas else contextlib.nullcontext():
            pool = _pool(n)
            ws.counter.value = 0
            if not pool.try_run(seg.cfunc, ws.ptrs, self._externs, n, ws.counter_ptr):
                # Another call has the workers: this one runs all shares itself (the native
                # code takes any thread count up to the plan's; with one, it skips barriers).
                seg.cfunc(ws.ptrs, self._externs, 0, 1, ws.counter_ptr)


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
        from ..control_flow import interp_runner
        from .interp import compile_computation
        run = step.runner = interp_runner(step.instr, compile_computation)
    return run


# --- compile --------------------------------------------------------------------------------------

def _blas():
    """(int type, {name: extern slot}, extern addresses) of the host BLAS, or None."""
    try:
        from . import blas
        if not blas.available():
            return None
        lib = blas.load()
        int_t = ll.IntType(lib.int_bits)
        names = ["sgemm", "dgemm"]
        table = (ctypes.c_void_p * len(names))(*[lib.address(n) for n in names])
        return int_t, {n: k for k, n in enumerate(names)}, table
    except Exception:
        return None


def compile(module: ir.Module, donated=frozenset()) -> Executable:
    """`donated`: parameter numbers whose arrays the caller gives up (see `cpu_plan`): outputs
    may be written into them."""
    optimized = cpu_pipeline(module)
    blas_info = _blas()
    plan = Plan(optimized, frozenset(donated), blas=blas_info is not None, threads=_threads())
    blas_sig = (blas_info[0], blas_info[1]) if blas_info else None
    externs = blas_info[2] if blas_info else (ctypes.c_void_p * 1)()
    code, opt_text, addresses, order = _machine_code(plan, blas_sig, donated)
    for kind, seg in order:
        if kind == "native":
            seg.cfunc = _SEG_CFUNC(addresses[seg.name])
    return Executable(module, optimized, plan, order, code, opt_text, externs)


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


def program_key(plan, blas_sig, donated) -> str:
    """What decides the machine code of `plan`, without rendering it: the optimized module's
    text (every constant's bytes, which the text elides when large), the plan's inputs
    (donation, threads, BLAS), and the code generator itself (its source files' sizes and
    modification times, LLVM set-up, host; `disk_cache.key` adds versions)."""
    h = hashlib.sha256()
    module = plan.module
    for comp in module.computations.values():
        h.update(f"{comp.name} root %{comp.root.id}\n".encode())
        for instr in comp.instructions:
            text = instruction_to_text(instr)
            if instr.location:     # where the user wrote it does not change the code
                text = text[:-len(str(instr.location)) - 4]
            h.update(text.encode() + b"\n")
            if getattr(instr.shape, "valid_rows", None):
                h.update(f"rows {instr.shape.valid_rows}\n".encode())
            if instr.opcode == ir.CONSTANT:
                v = np.asarray(instr.attrs["value"])
                h.update(f"{v.dtype.str}:{v.shape}".encode())
                h.update(np.ascontiguousarray(v).tobytes())
    h.update(repr((sorted(donated), blas_sig is not None and (
        repr(blas_sig[0]), sorted(blas_sig[1].items())),
                   plan.threads, _small(plan), _source_stamp(),
                   bool(settings.no_vector_math))).encode())
    return h.hexdigest()


_stamp = None


def _source_stamp():
    """Sizes and modification times of the code generator's files: the backends and the
    passes and IR they build on (read once per process)."""
    global _stamp
    if _stamp is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts = []
        for sub in ("backends", "passes", ""):
            folder = os.path.join(root, sub)
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append((sub, name, st.st_size, st.st_mtime_ns))
        _stamp = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return _stamp


# Machine code by program (`program_key`): programs that render the same text (the same
# function jitted again, the same shapes traced by another wrapper) share one engine. Bounded
# in bytes (the `memory_cache_max_bytes` setting); an evicted program's code is freed when no
# executable runs it any more.
_machine_cache = CodeCache(disk_cache.memory_cap)
disk_cache.ON_CLEAR.append(_machine_cache.clear)
# What the key records of the code generation recipe (captured here, before anything wraps them).
_RECIPE = (target_machine, optimize)


def _machine_code(plan, blas_sig, donated):
    """(native code, optimized LLVM text, {function name: address}, segments) for `plan`:
    from memory, else from the disk cache (neither renders LLVM text nor runs LLVM), else
    rendered and compiled, and then saved to the disk cache."""
    key = program_key(plan, blas_sig, donated)
    groups = _segments(plan)
    names = [f"seg{j}" for j, (kind, _) in enumerate(groups) if kind == "native"]
    with llvm_native.locked():
        hit = _machine_cache.get(key)
        if hit is None:
            disk_key = disk_cache.key(key, "cpu", _target_id()) if disk_cache.enabled() \
                else None
            hit = _load_object(disk_key, names) if disk_key else None
            if hit is None:
                llmod, order = render(plan, blas_sig)
                text = str(llmod) + (QUICK_MARK if _small(plan) else "")
                flags = {seg.name: (seg.parallel, seg.one_thread_blas)
                         for kind, seg in order if kind == "native"}
                hit = _compile_object(text, names, disk_key, flags)
            _machine_cache.put(key, hit, hit[0].nbytes + len(hit[1]))
    code, opt_text, addresses, flags = hit
    order = []
    for j, (kind, item) in enumerate(groups):
        if kind == "python":
            order.append(("python", item))
            continue
        seg = Segment(f"seg{j}", item, flags[f"seg{j}"][0])
        seg.one_thread_blas = flags[f"seg{j}"][1]
        order.append(("native", seg))
    return code, opt_text, addresses, order


def _compile_object(text, names, disk_key, flags):
    """(native code, optimized LLVM text, {name: address}, `flags`) of the LLVM module `text`,
    stored in the disk cache under `disk_key` (unless None). Caller holds `_llvm_lock`."""
    tm = _codegen_machine()
    cpu_runtime.install(target_machine())
    with llvm_native.parsed(text) as mod:
        mod.verify()
        optimize(mod, tm, 1 if text.endswith(QUICK_MARK) else 3)
        cpu_runtime.check_symbols(mod)
        opt_text = str(mod)
        imports = sorted(f.name for f in mod.functions
                         if f.is_declaration and not f.name.startswith("llvm."))
        obj = tm.emit_object(mod)
        code = llvm_native.link_emitted(mod, obj, names, target_machine())
    if disk_key:
        disk_cache.store(disk_key, {
            "backend": "cpu", "names": list(names), "imports": imports,
            "runtime": [n for n in cpu_runtime.ROUTINES if n.encode() in obj],
            "target": _target_id(), "llvm_text_bytes": len(text),
            "segments": {n: list(f) for n, f in flags.items()}}, obj, opt_text)
    return code, opt_text, code.addresses, flags


def _load_object(disk_key, names):
    """Machine code from the disk cache, or None. Symbols the object calls must resolve here
    before MCJIT links it (it aborts the process on one that does not)."""
    cached = disk_cache.load(disk_key)
    if cached is None:
        return None
    meta, obj = cached.meta, cached.obj
    imports = meta.get("imports")
    segs = meta.get("segments")
    if meta.get("names") != list(names) or not isinstance(imports, list) or \
            not all(isinstance(n, str) for n in imports) or not isinstance(segs, dict) or \
            sorted(segs) != sorted(names) or not all(
                isinstance(f, list) and len(f) == 2 and all(type(v) is bool for v in f)
                for f in segs.values()):
        disk_cache.reject(cached.path, "metadata does not match the program")
        return None
    flags = {n: tuple(f) for n, f in segs.items()}
    try:   # LLVM's linker trusts its input; imports are read from the object, not the metadata
        imports = object_check.check_object(obj, names, object_check.cpu_imports())
    except object_check.BadObject as e:
        disk_cache.reject(cached.path, f"object code refused: {e}")
        return None
    if any(n.encode() in obj for n in cpu_runtime.ROUTINES):
        cpu_runtime.install(target_machine())
    missing = [n for n in imports if not cpu_runtime.resolvable(n)]
    if missing:
        disk_cache.reject(cached.path, f"calls {', '.join(missing)}, not in this process")
        return None
    code = llvm_native.link_object(obj, names, target_machine())
    if not all(code.addresses.values()):
        disk_cache.reject(cached.path, "an entry point is missing from the object code")
        return None
    return code, cached.text, code.addresses, flags


_target = None


def _target_id():
    """What besides the LLVM text decides the machine code: host CPU, LLVM and llvmlite
    versions, and the code of the optimization and target set-up (changed by development
    without a version bump)."""
    global _target
    if _target is None:
        import llvmlite
        recipe = hashlib.sha256()
        for fn in _RECIPE:
            code = fn.__code__
            recipe.update(code.co_code + repr((code.co_consts, code.co_names)).encode())
        _target = {"triple": llvm.get_process_triple(), "cpu": llvm.get_host_cpu_name(),
                   "features": llvm.get_host_cpu_features().flatten(),
                   "llvm": ".".join(map(str, llvm.llvm_version_info)),
                   "llvmlite": llvmlite.__version__, "recipe": recipe.hexdigest()[:16]}
    return _target
