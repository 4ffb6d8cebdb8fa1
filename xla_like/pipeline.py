"""Every pipeline of the compiler, by name, and the runner that reports and checks each pass.

A pipeline is a list of `(name, pass)`, each pass a plain function `Module -> Module`:

- `"trace"`: every traced program of exact shapes, before it is printed (`make_hlo`,
  `lower().as_text()`) and compiled;
- `"bucketed"`: a bucketed trace (`jit(..., dynamic_axes=...)`) instead: masking makes its
  padding neutral and its shapes static (it reads the number of true-size parameters from
  `module.num_sizes`), then the trace pipeline;
- `"kernel"`: the CPU and CUDA backends, on a copy of the traced program, before planning.

`run_pipeline` runs one and shows the module after each pass to an observer: the one it is
given, and those installed by `observe(...)` around the call (how `JITCORE_DUMP` and
`JITCORE_PRINT_AFTER` see every pass of one compile). `report` shows the module as traced,
before any pass. A pass that fails raises a `CompilerError` naming it (`run_pass`), so a
compiler bug is never mistaken for a problem of the user's program.

Under the `checks` setting (`JITCORE_CHECKS=1`; the test suite turns it on) the verifier runs
on every traced program and after every pass, and a module that breaks an invariant raises a
`CompilerError` naming the pass that produced it; the trace-time pipeline's result is also
printed, parsed back and compared (`run_traced`).
"""
from __future__ import annotations

import contextlib
import threading
import time

from ops.dims import SizeDependentError
from ops.errors import CompilerError, IRParseError, IRVerificationError

from . import profile_hooks, verifier
from .ir_compare import assert_modules_equal
from .parser import parse_module
from .passes.cse import cse
from .passes.dce import dce
from .passes.fold_batched_dots import fold_batched_dots
from .passes.fusion import fuse
from .passes.inline import inline_calls
from .passes.layout import layout
from .passes.licm import licm
from .passes.loop_dot_layout import loop_dot_layout
from .passes.loop_sums import loop_sums
from .passes.split_column_reductions import split_column_reductions
from .passes.lower_conv import lower_conv
from .passes.lower_windows import lower_windows
from .passes.masking import mask_padding
from .passes.split_complex import split_complex
from .passes.widen_half_dots import widen_half_dots
from .printer import module_to_text
from .settings import settings

_TRACE = [("dce", dce)]

PIPELINES = {
    "trace": _TRACE,
    # Masking first: only the shapes as traced still say which extents are true sizes.
    "bucketed": [("masking", mask_padding)] + _TRACE,
    "kernel": [("inline_calls", inline_calls), ("split_complex", split_complex),
               ("lower_conv", lower_conv), ("lower_windows", lower_windows), ("dce", dce),
               ("cse", cse), ("licm", licm), ("loop_sums", loop_sums),
               ("widen_half_dots", widen_half_dots), ("fold_batched_dots", fold_batched_dots),
               ("layout", layout), ("loop_dot_layout", loop_dot_layout),
               ("split_column_reductions", split_column_reductions), ("fusion", fuse),
               ("dce", dce)],
}

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


def run_pipeline(module, pipeline="trace", after_pass=None):
    """Run each pass of `pipeline` (a name in PIPELINES, or a list of `(name, pass)`) in order
    (`run_pass`: a pass's error names the pass); under the `checks` setting, verify the module
    after each. Then `after_pass(name, module)` and the observers installed by `observe` see it
    (they must not change it). Returns the module and the seconds each pass took."""
    steps = PIPELINES[pipeline] if isinstance(pipeline, str) else pipeline
    observers = list(getattr(_local, "observers", None) or ())
    if after_pass is not None:
        observers.insert(0, after_pass)
    checks = settings.checks
    timings = []
    for name, fn in steps:
        t0 = time.perf_counter()
        module = run_pass(name, fn, module)
        t1 = time.perf_counter()
        timings.append((name, t1 - t0))
        if profile_hooks.on:
            profile_hooks.span(f"pass {name}", "compile", int(t0 * 1e9), int(t1 * 1e9),
                               pipeline=pipeline if isinstance(pipeline, str) else "")
        if checks:
            verify(module, name)
        for obs in observers:
            obs(name, module)
    return module, timings


def run_traced(module, pipeline="trace"):
    """A program tracing just finished: shown to the observers as "traced", then through
    `pipeline`. Returns the resulting module.

    Under the `checks` setting the traced module is verified (a failure names "traced": the
    builder made it), each pass's result too (`run_pipeline`), and the result's text is read
    back (`round_trip`). The round trip costs several verifications, so it runs once per
    traced program, on the module make_hlo prints and the backends compile, rather than after
    every pass; before masking, a bucketed trace has symbolic sizes, which its text cannot
    show."""
    report("traced", module)
    checks = settings.checks
    if checks:
        verify(module, "traced")
    module = run_pipeline(module, pipeline)[0]
    if checks:
        round_trip(module)
    return module


def check_traced(module):
    """Under the `checks` setting: verify a module tracing built and read its text back (the
    transforms' traces, which no pipeline runs on)."""
    if settings.checks:
        verify(module, "traced")
        round_trip(module)


def verify(module, after):
    """The verifier on `module`, produced by pass `after`: a broken invariant is a
    CompilerError naming that pass, the verifier's message (which prints the instruction)
    as its cause."""
    try:
        verifier.verify_module(module)
    except IRVerificationError as e:
        first = str(e).splitlines()[0]
        raise CompilerError(
            f"pass {after!r} left an invalid module {module.name}: {first}", after,
            hint="this is a bug in jitcore's compiler, not in your program; the verifier's "
                 "message is shown above as the cause") from e


def round_trip(module):
    """Print `module` in full, parse the text back, compare, print again: a miss is a
    CompilerError naming "print/parse" (the printer or the parser lost something)."""
    text = module_to_text(module, print_large_constants=True)
    try:
        parsed = parse_module(text)
        assert_modules_equal(module, parsed)
        if module_to_text(parsed, print_large_constants=True) != text:
            raise AssertionError("printing the parsed module gives different text")
    except (IRParseError, AssertionError) as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise CompilerError(
            f"the text of module {module.name} does not read back as the same module: "
            f"{first}", "print/parse",
            hint="this is a bug in jitcore's IR printer or parser; the mismatch is shown "
                 "above as the cause") from e
