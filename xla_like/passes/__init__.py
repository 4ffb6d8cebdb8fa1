"""Passes: plain functions `Module -> Module`, one per file, each saying what it guarantees.

- `simplify`: local algebraic simplification and scalar constant folding (also applied by the
  builder as IR is emitted), then dead code removal.
- `dce`: drop instructions no output depends on.
- `layout`: fold transposes and reshapes into their consumers (dots, reductions, each other).
- `fusion.fuse`: group instructions into kernels.
- `jvp.jvp_module`, `vjp.vjp_module`, `batching.batch_module`: the transforms, as passes.

A pipeline is a list of `(name, pass)`. `PIPELINE` lists what runs on every traced program
before it is compiled (and printed by `make_hlo` / `lower().as_text()`); backends run their own
list afterwards (the CPU backend's is `backends.cpu_plan.CPU_PIPELINE`). `run_pipeline` runs a
list and reports the module after each pass to an observer: the one it is given, and those
installed by `observe(...)` around the call (how `JITCORE_DUMP` and `JITCORE_PRINT_AFTER` see
the passes of both pipelines of one compile). A pass that fails raises a `CompilerError` naming
it (`run_pass`), so a compiler bug is never mistaken for a problem of the user's program.
"""
from __future__ import annotations

import contextlib
import threading
import time

from ops.dims import SizeDependentError
from ops.errors import CompilerError

from .dce import dce

PIPELINE = [
    ("dce", dce),
]

_local = threading.local()


@contextlib.contextmanager
def observe(after_pass):
    """Inside the block, every pipeline this thread runs calls `after_pass(name, module)` after
    each of its passes (observers nest; the innermost is called last)."""
    stack = getattr(_local, "observers", None)
    if stack is None:
        stack = _local.observers = []
    stack.append(after_pass)
    try:
        yield after_pass
    finally:
        stack.remove(after_pass)


def report(name, module):
    """Show the observers a module that no pass produced (tracing reports "traced")."""
    for obs in list(getattr(_local, "observers", None) or ()):
        obs(name, module)


def run_pass(name, fn, module):
    """`fn(module)`. A pass that fails has a bug (the program was traced, so the user's code
    has run): its error is re-raised as a CompilerError naming the pass and the module, the
    original as its cause. SizeDependentError is the one error a pass raises on purpose
    (masking: this bucket's program needs exact shapes); it passes through, noted with the
    pass's name."""
    try:
        return fn(module)
    except (SizeDependentError, CompilerError) as e:
        e.add_note(f"(raised in pass {name!r} on module {module.name})")
        raise
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise CompilerError(
            f"pass {name!r} failed on {module.name}: {type(e).__name__}: {first}", name,
            hint="this is a bug in jitcore's compiler, not in your program; the pass's own "
                 "error and traceback are shown above as the cause") from e


def run_pipeline(module, pipeline=None, after_pass=None):
    """Run each pass in order (`run_pass`: a pass's error names the pass). After each pass,
    `after_pass(name, module)` and the observers installed by `observe` see the module (they
    must not change it). Returns the module and the seconds each pass took."""
    observers = list(getattr(_local, "observers", None) or ())
    if after_pass is not None:
        observers.insert(0, after_pass)
    timings = []
    for name, fn in (PIPELINE if pipeline is None else pipeline):
        t0 = time.perf_counter()
        module = run_pass(name, fn, module)
        timings.append((name, time.perf_counter() - t0))
        for obs in observers:
            obs(name, module)
    return module, timings
