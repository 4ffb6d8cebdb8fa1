"""LLVM resources that outlive one compile: the lock over LLVM's global state, engines holding
loaded machine code (and when they are freed), and a pass pipeline runner that frees what it
builds.

Memory, per program (measured with llvmlite 0.50 / LLVM 20 on x86-64):
- An MCJIT engine that generates code from IR keeps its target machine, whose subtarget tables
  (~0.7 MB) are built at the first code generation. So programs are optimized and emitted by
  one long-lived target machine, and each is loaded from its object code into an engine of its
  own that never generates code: ~50 KB plus the code (`ENGINE_BYTES` counts 64 KiB).
- An engine is disposed when nothing runs its code any more (see `NativeCode`).
- Constants and types that optimization creates belong to the module's LLVM context: each
  program is parsed into a context of its own (`parsed`), freed after compiling (~3 KB a
  program stayed in LLVM's global context for the life of the process).
- llvmlite's `ModulePassManager` never frees itself (its `_dispose` resolves to the base
  class's no-op): ~30 KB per pipeline unless `run_pipeline` frees it. Each `PassBuilder` still
  leaks its `PassInstrumentationCallbacks` (~1.4 KB, allocated in llvmlite's C++ and never
  deleted), which nothing here can reach: what remains per compile.
"""
from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
import weakref

from llvmlite import binding as llvm
from llvmlite.binding import ffi

# LLVM's global context, its symbol table and target set-up are not thread-safe: parsing,
# optimizing, emitting, loading and disposing all happen under this lock.
LLVM_LOCK = threading.Lock()

# What `NativeCode` charges a cache for one engine besides its object code: the engine, its
# target machine (MC layer only), the empty module it was created with, and the pages its
# sections are mapped into.
ENGINE_BYTES = 64 << 10

_retired: list = []    # engines nothing refers to, waiting for the lock to be disposed
_live = [0]            # engines created and not yet disposed (under LLVM_LOCK)


def live_engines() -> int:
    """Engines of `NativeCode` objects not disposed yet (for tests and benchmarks)."""
    with LLVM_LOCK:
        _dispose_retired()
        return _live[0]


@contextlib.contextmanager
def locked():
    """Hold `LLVM_LOCK`; on leaving, dispose the engines retired meanwhile (a retirement that
    finds the lock taken leaves its engine to the holder)."""
    with LLVM_LOCK:
        try:
            yield
        finally:
            _dispose_retired()
    if _retired:
        _try_dispose()


def _dispose_retired():
    while _retired:
        _retired.pop().close()
        _live[0] -= 1


def _try_dispose():
    if LLVM_LOCK.acquire(blocking=False):
        try:
            _dispose_retired()
        finally:
            LLVM_LOCK.release()


def _retire(engine):
    """Called when the `NativeCode` owning `engine` is gone, on whichever thread dropped it
    last, maybe one holding `LLVM_LOCK` (hence no waiting for it here)."""
    if sys.is_finalizing():
        return   # the process is ending: nothing to give back
    _retired.append(engine)
    _try_dispose()


class NativeCode:
    """Object code linked into an MCJIT engine of its own: `addresses` of its entry points,
    `nbytes` it holds (object code plus `ENGINE_BYTES`). Make one with `link_emitted` or
    `link_object`, under `LLVM_LOCK`.

    The code stays mapped while this object lives. Whatever calls into it holds it (an
    executable's ctypes entry points are bare addresses); caches may hold it too. When the last
    holder lets go, the engine is disposed, freeing the code.
    """

    __slots__ = ("addresses", "nbytes", "__weakref__")

    def __init__(self, engine, addresses, obj_bytes):
        """Takes over `engine`, linked and finalized."""
        self.addresses = addresses
        self.nbytes = obj_bytes + ENGINE_BYTES
        weakref.finalize(self, _retire, engine).atexit = False


def link_emitted(mod: llvm.ModuleRef, obj: bytes, names, tm) -> NativeCode:
    """The code of `mod`, whose object code `obj` another target machine emitted: MCJIT gets
    the module and, through its object cache, that object, so its own machine (`tm`, fresh)
    never generates code. The module's IR is freed once linked."""
    engine = _new_engine(mod, tm)
    with _disposed_on_error(engine):
        pending = [obj]
        engine.set_object_cache(getbuffer_func=lambda _mod: pending.pop() if pending else None)
        engine.finalize_object()
        if pending:
            raise RuntimeError("MCJIT did not take the object code it was given")
        addresses = _addresses(engine, names)
        engine.remove_module(mod)
        mod.close()
    return NativeCode(engine, addresses, len(obj))


def link_object(obj: bytes, names, tm) -> NativeCode:
    """Object code from elsewhere (the disk cache), linked into a new engine with machine `tm`
    (fresh)."""
    engine = _new_engine(llvm.parse_assembly(""), tm)
    with _disposed_on_error(engine):
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        addresses = _addresses(engine, names)
    return NativeCode(engine, addresses, len(obj))


def link_objects(objs, names, tm) -> NativeCode:
    """Several objects (a program's compile units) linked into one new engine with machine
    `tm` (fresh): calls between them resolve there."""
    engine = _new_engine(llvm.parse_assembly(""), tm)
    with _disposed_on_error(engine):
        for obj in objs:
            engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        addresses = _addresses(engine, names)
    return NativeCode(engine, addresses, sum(len(o) for o in objs))


def _addresses(engine, names):
    return {n: engine.get_function_address(n) for n in names}


def _new_engine(mod, tm):
    engine = llvm.create_mcjit_compiler(mod, tm)
    _live[0] += 1
    return engine


@contextlib.contextmanager
def _disposed_on_error(engine):
    """Dispose `engine` at once if the block fails (the caller holds the lock; the module's
    context may be freed right after)."""
    try:
        yield
    except BaseException:
        engine.close()
        _live[0] -= 1
        raise


@contextlib.contextmanager
def parsed(text: str):
    """The module of LLVM assembly `text`, in an LLVM context of its own; on leaving, the
    module and the context are freed (an engine given the module must have let go of it:
    `link_emitted` does)."""
    ctx = llvm.create_context()
    mod = None
    try:
        mod = llvm.parse_assembly(text, context=ctx)
        yield mod
    finally:
        if mod is not None:
            mod.close()
        ctx.close()


def run_pipeline(mod: llvm.ModuleRef, tm, speed_level: int, unlocked=False, **tuning):
    """Run LLVM's default module pipeline at `speed_level` on `mod`, with the pipeline tuning
    options `tuning` (e.g. `loop_vectorization=True`), freeing the pass manager afterwards.
    `unlocked`: see `_raw`."""
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    for name, value in tuning.items():
        setattr(pto, name, value)
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    try:
        if unlocked:
            _raw("LLVMPY_RunNewModulePassManager")(pm, mod, pb)
        else:
            pm.run(mod, pb)
    finally:
        _close_pass_manager(pm)


def _raw(name):
    """llvmlite's C entry point `name` without llvmlite's lock around it (which every call of
    its `ffi.lib` takes, so that two threads never run LLVM at once). Only for work on a module
    in an LLVM context of its own with a target machine of its own, which LLVM supports from
    several threads at once: optimizing and emitting a compile unit. ctypes releases the GIL
    for the call."""
    fn = getattr(ffi.lib, name)
    return getattr(fn, "_cfn", fn)


def emit_object_unlocked(tm, mod) -> bytes:
    """`tm.emit_object(mod)` without llvmlite's lock (see `_raw`)."""
    with ffi.OutputString() as outerr:
        mb = _raw("LLVMPY_TargetMachineEmitToMemory")(tm, mod, 1, outerr)
        if not mb:
            raise RuntimeError(str(outerr))
    try:
        return ctypes.string_at(ffi.lib.LLVMPY_GetBufferStart(mb),
                                ffi.lib.LLVMPY_GetBufferSize(mb))
    finally:
        ffi.lib.LLVMPY_DisposeMemoryBuffer(mb)


def _close_pass_manager(pm):
    if type(pm)._dispose is ffi.ObjectRef._dispose:   # the no-op: this llvmlite leaks it
        ffi.lib.LLVMPY_DisposeNewModulePassManger(pm)
        pm.detach()
    else:
        pm.close()
