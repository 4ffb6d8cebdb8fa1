"""The CPU backend: fused kernels compiled to native code with LLVM (llvmlite).

compile(module, donated):
1. `plan.planner.cpu_pipeline`: inline custom-derivative calls, CSE, layout, fusion, DCE (on a
   copy; the list is `plan.planner.CPU_PIPELINE`).
2. `plan.planner.Plan`: buffers (parameters, constants, outputs, workspace temporaries placed by
   buffer assignment) and steps (kernels, dots, NumPy fallbacks); GEMM epilogues, and outputs
   that take the memory of `donated` parameters.
3. Render: one LLVM module; each kernel a function; each run of native steps a *segment*
   function `seg(i8** buffers, i8** externs, i64 tid, i64 nthreads, i64* counter)` calling its
   kernels on thread `tid`'s share of each kernel's range, with a barrier between kernels when
   several threads run it (segments too small for threads call each kernel on its whole
   range, with constant bounds). Dots call BLAS (`externs`) for float32/float64, else a loop
   kernel; linear algebra calls LAPACK from the same library (`cpu.lapack`: one call per
   matrix of a batch in a native loop, small real matrices inline).
4. Compile: LLVM O3 (loop and SLP vectorization) for the host CPU name and features. Small
   programs are one module (at O1); others are cut into compile units, one per distinct kernel
   call plus the segments (`cpu.units`), compiled on all cores and cached one by one in memory
   and on disk, so a kernel two programs share is compiled once (`cpu.compile_units`). The
   object code is linked into an MCJIT engine of the program's own, freed when no executable
   runs it (`llvm.native`). Machine code is shared by programs that render
   the same LLVM text (an in-memory cache bounded in bytes), and kept on disk for other
   processes (`disk_cache`). Runtime routines LLVM may call but Python does not load
   come from `cpu.runtime`.
5. Load: ctypes entry points; a call fills the buffer pointer table and calls each segment
   once (on one thread, or on several when the work is large enough to pay for the hand-off
   and no other call holds the worker pool). Calls from several Python threads each get their
   own workspace (`_Workspace`), and keep their arrays alive until their last share is done.
"""
from __future__ import annotations

import ctypes
import hashlib
import os

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir as ll

from ... import ir
from ...printer import instruction_to_text
from ...settings import settings
from ... import profile_hooks
from .. import disk_cache
from ..code_cache import CodeCache
from ..llvm import native as llvm_native
from ..plan.planner import cpu_pipeline
from . import claims, compile_units, lapack, runtime as cpu_runtime, object_check, schedule
from . import bf16_dot
from .executable import Executable, _SEG_CFUNC
from .gemm import blas_ok as _blas_ok
from .prefix_inputs import prefix_inputs, strided_inputs
from .pool import threads as _threads
from .render import PARALLEL_MIN_WORK, Segment, _segments, _work, render  # noqa: F401
from .target import QUICK_MARK, SMALL_WORK, _codegen_machine, optimize, target_machine


def _small(plan) -> bool:
    return all(s.kind in ("kernel", "dot", "python", "scatter") for s in plan.steps) and \
        sum(_work(plan, s) for s in plan.steps) < SMALL_WORK


def _blas():
    """(int type, {name: extern slot}, extern addresses, the `blas.Blas`) of the host BLAS, or
    None. The table holds GEMM and the LAPACK routines `cpu.lapack` calls (those this build
    has)."""
    try:
        from . import blas
        if not blas.available():
            return None
        lib = blas.load()
        int_t = ll.IntType(lib.int_bits)
        names = ["sgemm", "dgemm"]
        addresses = [lib.address(n) for n in names]
        for name in lapack.EXTERNS:
            try:
                addresses.append(lib.lapack_address(name))
            except KeyError:
                continue
            names.append(name)
        table = (ctypes.c_void_p * len(names))(*addresses)
        return int_t, {n: k for k, n in enumerate(names)}, table, lib
    except Exception:
        return None


def compile(module: ir.Module, donated=frozenset()) -> Executable:
    """`donated`: parameter numbers whose arrays the caller gives up (see `plan.planner`): outputs
    may be written into them."""
    # bfloat16 dots this host runs natively keep their operands (`cpu.bf16_dot`).
    optimized = cpu_pipeline(module, keep_half_dots=bf16_dot.keeper())
    blas_info = _blas()
    plan = lapack.LapackPlan(optimized, frozenset(donated),
                             blas=_blas_ok if blas_info is not None else None,
                             threads=_threads(), lapack=blas_info[3] if blas_info else None,
                             names=blas_info[1] if blas_info else ())
    blas_sig = (blas_info[0], blas_info[1]) if blas_info else None
    externs = blas_info[2] if blas_info else (ctypes.c_void_p * 1)()
    # Bucketed programs: the parameters kernels read with run-time strides (`render`).
    plan.strided_inputs, strided = strided_inputs(plan, blas_sig is not None) \
        if module.num_sizes else ({}, {})
    code, opt_text, addresses, order = _machine_code(plan, blas_sig, donated)
    for kind, seg in order:
        if kind == "native":
            seg.cfunc = _SEG_CFUNC(addresses[seg.name])
    executable = Executable(module, optimized, plan, order, code, opt_text, externs)
    executable.strided_inputs = strided
    executable._timed_build = lambda: _timed(module, optimized, plan, blas_sig, externs,
                                             donated)
    # Bucketed programs: the inputs a call may pass without their padded rows.
    executable.prefix_inputs = prefix_inputs(plan, blas_sig is not None) \
        if module.num_sizes else {}
    return executable


def tune_schedules(executable, args, donated=frozenset()):
    """`executable` recompiled with the schedules fastest on `args` (its flat inputs), from
    the tuning store or by timing candidates (`cpu.autotune`)."""
    from .autotune import tune
    return tune(executable, args, donated)


def _timed(module, optimized, plan, blas_sig, externs, donated):
    """The profiler's build of a compiled program: the same plan, each step between two reads
    of the cycle counter (`render(timed=True)`); its own key in the code caches."""
    from .timed_executable import TimedExecutable
    with profile_hooks.stage(f"compile timed build {module.name}"):
        code, opt_text, addresses, order = _machine_code(plan, blas_sig, donated, timed=True)
    for kind, seg in order:
        if kind == "native":
            seg.cfunc = _SEG_CFUNC(addresses[seg.name])
    return TimedExecutable(module, optimized, plan, order, code, opt_text, externs)


def program_key(plan, blas_sig, donated, timed=False) -> str:
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
            if getattr(instr.shape, "valid_dims", None):
                h.update(f"dims {instr.shape.valid_dims}\n".encode())
            if instr.opcode == ir.CONSTANT:
                v = np.asarray(instr.attrs["value"])
                h.update(f"{v.dtype.str}:{v.shape}".encode())
                h.update(np.ascontiguousarray(v).tobytes())
    h.update(repr((sorted(donated), blas_sig is not None and (
        repr(blas_sig[0]), sorted(blas_sig[1].items())),
                   plan.threads, _small(plan), _source_stamp(), getattr(plan, "layouts", None),
                   getattr(plan, "views", None),
                   bool(settings.no_vector_math), timed, claims.ENABLED, claims.SPLIT)).encode())
    h.update(schedule.key_text().encode())   # tuned schedules (`cpu.autotune`); "" if none
    return h.hexdigest()


_stamp = None


def _source_stamp():
    """Sizes and modification times of the code generator's files: `xla_like` (IR, passes,
    backends) and `ops` (the primitives' traits the code generators read); read once per
    process."""
    global _stamp
    if _stamp is None:
        xla_like = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        parts = []
        for top in (xla_like, os.path.join(os.path.dirname(xla_like), "ops")):
            for folder, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".py"):
                        st = os.stat(os.path.join(folder, name))
                        parts.append((os.path.relpath(folder, top), name, st.st_size,
                                      st.st_mtime_ns))
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


def _machine_code(plan, blas_sig, donated, timed=False):
    """(native code, optimized LLVM text, {function name: address}, segments) for `plan`:
    from memory, else from the disk cache (neither renders LLVM text nor runs LLVM), else
    rendered and compiled, and then saved to the disk cache. Small programs are one module;
    others are cut into compile units (`cpu.compile_units`), each cached on its own."""
    key = program_key(plan, blas_sig, donated, timed)
    groups = _segments(plan)
    names = [f"seg{j}" for j, (kind, _) in enumerate(groups) if kind == "native"]
    with llvm_native.locked():
        hit = _machine_cache.get(key)
        if hit is None:
            disk_key = disk_cache.key(key, "cpu", _target_id()) if disk_cache.enabled() \
                else None
            hit = _load_object(disk_key, names) if disk_key else None
            if profile_hooks.on and disk_key:
                profile_hooks.instant(f"disk cache {'hit' if hit else 'miss'}", "compile",
                                      program=plan.module.name)
            if hit is None:
                with profile_hooks.stage("render LLVM IR", program=plan.module.name):
                    llmod, order = render(plan, blas_sig, timed)
                flags = {seg.name: (seg.parallel, seg.one_thread_blas, seg.claims)
                         for kind, seg in order if kind == "native"}
                if _small(plan):
                    hit = _compile_object(str(llmod) + QUICK_MARK, names, disk_key, flags)
                else:
                    hit = compile_units.compile_split(str(llmod), names, flags)
            _machine_cache.put(key, hit, hit[0].nbytes + len(hit[1]))
    code, opt_text, addresses, flags = hit
    order = []
    for j, (kind, item) in enumerate(groups):
        if kind == "python":
            order.append(("python", item))
            continue
        seg = Segment(f"seg{j}", item, flags[f"seg{j}"][0])
        seg.one_thread_blas = flags[f"seg{j}"][1]
        seg.claims = int(next(iter(flags[f"seg{j}"][2:3]), 0))   # shares a thread, `cpu.claims`
        order.append(("native", seg))
    return code, opt_text, addresses, order


def _compile_object(text, names, disk_key, flags):
    """(native code, optimized LLVM text, {name: address}, `flags`) of the LLVM module `text`,
    stored in the disk cache under `disk_key` (unless None). Caller holds `_llvm_lock`."""
    tm = _codegen_machine()
    cpu_runtime.install(target_machine())
    with llvm_native.parsed(text) as mod:
        mod.verify()
        with profile_hooks.stage("LLVM optimize", level=1 if text.endswith(QUICK_MARK) else 3):
            optimize(mod, tm, 1 if text.endswith(QUICK_MARK) else 3)
        cpu_runtime.check_symbols(mod)
        opt_text = str(mod)
        imports = sorted(f.name for f in mod.functions
                         if f.is_declaration and not f.name.startswith("llvm."))
        with profile_hooks.stage("LLVM code generation"):
            obj = tm.emit_object(mod)
        code = llvm_native.link_emitted(mod, obj, names, target_machine())
    if disk_key:
        disk_cache.store(disk_key, {
            "backend": "cpu", "names": list(names), "imports": imports,
            "runtime": [n for n in cpu_runtime.ROUTINES if n.encode() in obj],
            "target": _target_id(), "llvm_text_bytes": len(text),
            "segments": {n: list(f) for n, f in flags.items()}}, obj, opt_text)
    return code, opt_text, code.addresses, flags


def _segment_flags_ok(f):
    """A segment's flags as stored: [parallel, one_thread_blas, claims] (two bools and the
    shares a thread claims, `cpu.claims`; 0 for static shares)."""
    return isinstance(f, list) and len(f) == 3 and all(type(v) is bool for v in f[:2]) and \
        type(f[2]) is int and 0 <= f[2] <= 64


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
            sorted(segs) != sorted(names) or not all(_segment_flags_ok(f) for f in segs.values()):
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
