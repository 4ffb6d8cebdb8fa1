"""Compiling a program as separate units (`cpu.units`): each distinct unit once, in parallel,
reused across programs (memory) and processes (disk cache), then linked into the program's own
engine.

Measured on the transformer block's jit(grad) (37 kernels): one O3 module spent ~3.2 s in
optimization and ~2.7 s in code generation; both grow faster than the module. Cut into units,
each is small, identical kernels are compiled once, and units compile on all cores: llvmlite
takes one lock around every call into LLVM, so the optimization and emission of a unit go
around it (`llvm.native._raw`), each unit in an LLVM context and with a target machine of its
own, which LLVM supports on several threads.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading

from ... import progress
from ... import profile_hooks
from .. import disk_cache
from ..code_cache import CodeCache
from ..llvm import native as llvm_native
from . import object_check, runtime as cpu_runtime, units
from .target import optimize, target_machine

# Optimization levels (a marker line in each unit's text, so in its key). Kernels and the
# driver (segments: argument set-up, barriers, BLAS calls, GEMM prologue/epilogue loops) at
# LLVM's O2: on the transformer block's jit(grad) O3 cost ~40% more optimization and code
# generation (its higher unroll thresholds make larger loops to emit) for no measurable run time
# (workloads rows 1-4 equal within noise), while O1 on the driver ran the gradient 1.9x slower.
LEVEL = 2
DRIVER_LEVEL = 2
MARK = f"; jitcore: compile unit, O{LEVEL}"

# What each compile did (tests and benchmarks): units compiled, found in memory, on disk.
stats = {"compiled": 0, "memory": 0, "disk": 0}

# Object code by unit key: what any program calling the unit links.
_objects = CodeCache(disk_cache.memory_cap)
disk_cache.ON_CLEAR.append(_objects.clear)

_pool = None
_pool_lock = threading.Lock()
_local = threading.local()


def workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(workers(),
                                                          thread_name_prefix="jitcore-llvm")
        return _pool


def _machine():
    """This thread's target machine (one may not optimize or emit on two threads at once)."""
    tm = getattr(_local, "tm", None)
    if tm is None:
        tm = _local.tm = target_machine()
    return tm


def compile_unit(text: str, level=LEVEL):
    """(object code, optimized text, imported names) of one unit's LLVM text; may run on any
    thread."""
    with llvm_native.parsed(text) as mod:
        mod.verify()
        tm = _machine()
        with profile_hooks.stage("LLVM optimize", level=level, unit=_unit_name(text)):
            optimize(mod, tm, level, unlocked=True)
        opt_text = str(mod)
        imports = sorted(f.name for f in mod.functions
                         if f.is_declaration and not f.name.startswith("llvm."))
        with profile_hooks.stage("LLVM code generation", unit=_unit_name(text)):
            obj = llvm_native.emit_object_unlocked(tm, mod)
    return obj, opt_text, imports


def _unit_name(text):
    """The profiler's name of a unit: its first defined function."""
    at = text.find("define ")
    end = text.find("(", at)
    return text[at:end].rsplit("@", 1)[-1].strip('"') if at >= 0 and end > at else "unit"


def _compile(u):
    return compile_unit(u.text, getattr(u, "level", LEVEL))


def compile_split(text: str, names, flags):
    """(native code, optimized text, {name: address}, `flags`) of the module `text`, cut into
    units. The caller holds `LLVM_LOCK` (the workers take only llvmlite's own lock)."""
    from . import _target_id
    # The driver and the parts of long segments (`units`) at `DRIVER_LEVEL`, kernels at `LEVEL`.
    driver, kernel_units = units.cut(text, MARK, f"; jitcore: driver, O{DRIVER_LEVEL}")
    driver.level = DRIVER_LEVEL
    for u in kernel_units:
        if getattr(u, "part", False):
            u.level = DRIVER_LEVEL
    entries = {u.name for u in kernel_units}
    found, todo = {}, []
    for u in [driver] + kernel_units:
        hit = _objects.get(u.key)
        if hit is not None:
            stats["memory"] += 1
        elif disk_cache.enabled():
            hit = _load(disk_cache.key(u.text, "cpu", _target_id()),
                        list(names) if u.name is None else [u.name], entries)
            if profile_hooks.on:
                profile_hooks.instant(f"disk cache {'hit' if hit else 'miss'}", "compile",
                                      unit=u.name or "driver")
            if hit is not None:
                stats["disk"] += 1
                _objects.put(u.key, hit, len(hit[0]) + len(hit[1]))
        if hit is None:
            todo.append(u)
        else:
            found[u.key] = hit
    cpu_runtime.install(target_machine())
    with progress.report("compiling machine code (LLVM)", len(todo)) as bar:
        def one(u):
            out = _compile(u)
            bar.advance()
            return out
        results = longest_first(one, todo, len(todo) > 1 and workers() > 1)
    for u, (obj, opt_text, imports) in zip(todo, results):
        stats["compiled"] += 1
        missing = [n for n in imports if n not in entries and not cpu_runtime.resolvable(n)]
        if missing:
            raise RuntimeError(f"cpu backend: generated code calls {', '.join(missing)}, "
                               "which this process does not provide")
        found[u.key] = (obj, opt_text)
        _objects.put(u.key, found[u.key], len(obj) + len(opt_text))
        if disk_cache.enabled():
            disk_cache.store(disk_cache.key(u.text, "cpu", _target_id()), {
                "backend": "cpu", "names": list(names) if u.name is None else [u.name],
                "imports": imports,
                "runtime": [n for n in cpu_runtime.ROUTINES if n.encode() in obj],
                "target": _target_id(), "llvm_text_bytes": len(u.text)}, obj, opt_text)
    objs = [found[u.key][0] for u in [driver] + kernel_units]
    if any(n.encode() in o for o in objs for n in cpu_runtime.ROUTINES):
        cpu_runtime.install(target_machine())
    code = llvm_native.link_objects(objs, names, target_machine())
    opt_text = "\n".join(found[u.key][1] for u in [driver] + kernel_units)
    return code, opt_text, code.addresses, flags


def longest_first(fn, todo, parallel):
    """[fn(u) for u in todo], started longest text first (on the pool when `parallel`): on
    two cores a big unit started last would run alone at the end."""
    order = sorted(range(len(todo)), key=lambda i: -len(todo[i].text))
    if parallel:
        done = list(_executor().map(fn, [todo[i] for i in order]))
    else:
        done = [fn(todo[i]) for i in order]
    results = [None] * len(todo)
    for i, r in zip(order, done):
        results[i] = r
    return results


def _load(disk_key, names, entries):
    """(object code, optimized text) of a unit from the disk cache, or None; the object is
    checked as a program's is (`object_check`), calls of other units allowed."""
    cached = disk_cache.load(disk_key)
    if cached is None:
        return None
    if cached.meta.get("names") != names:
        disk_cache.reject(cached.path, "metadata does not match the compile unit")
        return None
    try:
        imports = object_check.check_object(cached.obj, names,
                                            object_check.cpu_imports() | entries)
    except object_check.BadObject as e:
        disk_cache.reject(cached.path, f"object code refused: {e}")
        return None
    if any(n.encode() in cached.obj for n in cpu_runtime.ROUTINES):
        cpu_runtime.install(target_machine())
    missing = [n for n in imports if n not in entries and not cpu_runtime.resolvable(n)]
    if missing:
        disk_cache.reject(cached.path, f"calls {', '.join(missing)}, not in this process")
        return None
    return bytes(cached.obj), cached.text
