"""What `jit` shows of its work: the IR after chosen passes (the `print_after` setting), numbered
dump files per compile (`dump`), a line per compile (`debug`), a log record per compile with
the reason it missed the cache (`log_compiles`, JAX's `jax_log_compiles`), and why each call
missed the cache (`explain_cache_misses`). Nothing here runs on a cached call.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading

from xla_like import pipeline

from . import config
from .cache_key import aval_from_sig

# JAX logs compiles at WARNING so that they show without any logging set-up (Python's
# last-resort handler prints WARNING and above to stderr).
logger = logging.getLogger("jitcore")
# Why the compile this thread is about to run missed the cache: (function name, reason), set
# by `miss`/`bucket_miss` and read by `compiled`, which the same thread runs next.
_pending = threading.local()


@contextlib.contextmanager
def log_compiles(enable: bool = True):
    """Log each compile inside the block (this thread only), as `jax.log_compiles()` does."""
    with config.override(log_compiles=int(bool(enable))):
        yield


class PassLog:
    """Sees the IR as traced, then each pass of a compile (the trace-time or bucketed
    pipeline, then the backend's; `xla_like.pipeline`): prints the IR after the passes named
    in the `print_after` setting, and keeps every pass's IR text for `JITCORE_DUMP`."""

    def __init__(self, fn_name, dump, print_after):
        self.fn_name = fn_name
        self.dump = dump
        self.print_after = print_after
        self.passes = []     # (pass name, IR text) in order, when dumping
        self.count = 0

    @staticmethod
    @contextlib.contextmanager
    def start(fn_name, log=None):
        """Observe the passes run inside the block (continuing `log` if given); yields the
        log, or None when neither dumping nor printing is on."""
        if log is None:
            dump = bool(config.settings.dump)
            print_after = pass_names(config.settings.print_after)
            if not dump and not print_after:
                yield None
                return
            log = PassLog(fn_name, dump, print_after)
        with pipeline.observe(log):
            yield log

    def fork(self):
        """A copy to continue (one lowering compiled twice logs its trace passes twice)."""
        new = PassLog(self.fn_name, self.dump, self.print_after)
        new.passes, new.count = list(self.passes), self.count
        return new

    def __call__(self, name, module):
        if name != "traced":
            self.count += 1
        text = None
        if self.dump:
            text = module.as_text()
            self.passes.append((name, text))
        if name in self.print_after or "all" in self.print_after:
            what = "as traced" if name == "traced" else f"after pass {self.count} ({name})"
            print(f"// {self.fn_name}: IR {what}")
            print(text or module.as_text(), end="", flush=True)


def pass_names(setting):
    """The `print_after` setting (a comma-separated string or a list) as a set of names."""
    if not setting:
        return frozenset()
    if isinstance(setting, str):
        setting = setting.split(",")
    return frozenset(n.strip() for n in setting if n.strip())


_dump_numbers = itertools.count(1)   # next() is atomic: concurrent compiles get distinct ones


def dump(folder, name, log, executable):
    """Numbered files per compile: the IR as traced (before any pass), after every pass of both
    pipelines (the trace's, then the backend's) in order, the IR the backend runs, its LLVM IR
    and assembly:
    `0003.f.00.traced.hlo`, `0003.f.01.dce.hlo`, ..., `0003.f.NN.optimized.hlo`,
    `0003.f.NN.llvm.ll`, `0003.f.NN.asm.s` (NN counting on)."""
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, f"{next(_dump_numbers):04d}.{name}")
    texts = [(f"{pass_name}.hlo", text) for pass_name, text in (log.passes if log else ())]
    for kind, suffix in (("hlo", "optimized.hlo"), ("llvm", "llvm.ll"), ("asm", "asm.s")):
        try:
            texts.append((suffix, executable.as_text(kind)))
        except ValueError:
            pass  # the interpreter has no LLVM text
    for k, (suffix, text) in enumerate(texts):
        with open(f"{stem}.{k:02d}.{suffix}", "w") as fh:
            fh.write(text)


def compiled(fn_name, module, backend, seconds, trace_seconds, log, executable):
    """After a compile: the dump files and the `debug` lines it asks for."""
    if config.settings.dump:
        dump(config.settings.dump, fn_name, log, executable)
    reason = _take_reason(fn_name)
    if config.settings.log_compiles:
        sig = ", ".join(p.shape.__str__() for p in module.entry.parameters)
        logger.warning("jitcore: compiled %s(%s) for %s in %.1f ms (trace %.1f ms): %s",
                       fn_name, sig, backend, seconds * 1e3, trace_seconds * 1e3,
                       reason or "ahead of time (lower().compile())")
    if config.settings.debug:
        sig = ", ".join(p.shape.__str__() for p in module.entry.parameters)
        print(f"jitcore: compiled {fn_name}({sig}) for {backend} in {seconds * 1e3:.1f} ms "
              f"(trace {trace_seconds * 1e3:.1f} ms)")
        if config.settings.debug >= 2:
            print(executable.as_text("hlo"))
        if config.settings.debug >= 4:
            from .profiler_debug import print_kernel_code
            print_kernel_code(executable)


# --- explaining cache misses ---------------------------------------------------------------
# Each prints only under the `explain_cache_misses` setting; `leaf_names()` (the readable
# names of the flat argument leaves) is called only then, as it re-flattens the arguments.

def miss(fn_name, key, keys, leaf_names):
    """A call with `key` missed; `keys`: those of the specializations compiled before."""
    explain, log = config.settings.explain_cache_misses, config.settings.log_compiles
    if explain or log:
        why = _why(key, keys, leaf_names)
        if log:
            _pending.reason = (fn_name, why)
        if explain:
            print(f"jitcore: compiling {fn_name}: {why}")


def _take_reason(fn_name):
    """The reason `miss` noted for this thread's compile of `fn_name`, or None (a compile from
    `lower().compile()`, which misses nothing)."""
    noted = getattr(_pending, "reason", None)
    _pending.reason = None
    return noted[1] if noted is not None and noted[0] == fn_name else None


def _why(key, keys, leaf_names):
    """What differs from the closest earlier specialization (argument structure, static
    arguments, or which array leaves changed type)."""
    exact = [k for k in keys if not k.bucketed]
    if not exact:
        return "first call" if len(exact) == len(keys) else "first call with exact shapes"
    same_tree = [k for k in exact if k.treedef == key.treedef]
    if not same_tree:
        return (f"the arguments' structure changed: {key.treedef} (before: "
                f"{exact[0].treedef})")
    names = leaf_names()

    def diffs(k):
        out = []
        if k.statics != key.statics:
            out.append(f"static arguments {_statics_text(key.statics)} (before: "
                       f"{_statics_text(k.statics)})")
        for name, new, old in zip(names, key.sigs, k.sigs):
            if new != old:
                out.append(f"{name or 'an argument'} is {aval_from_sig(new).str_short()}"
                           f" (before: {aval_from_sig(old).str_short()})")
        now, before = (key.backend, key.donated), (k.backend, k.donated)
        if now != before:
            out.append(f"backend/donation {now} (before: {before})")
        return out
    best = min((diffs(k) for k in reversed(same_tree)), key=len)   # ties: the latest
    return "; ".join(best) if best else "a new specialization"


def bucket_miss(fn_name, sym_names, symbols):
    explain, log = config.settings.explain_cache_misses, config.settings.log_compiles
    if explain or log:
        what = ", ".join(f"{nm} = {n}: bucket {lo}..{hi}"
                         for nm, (j, a, n, lo, hi) in zip(sym_names, symbols))
        if log:
            _pending.reason = (fn_name, f"a new bucket: {what}")
        if explain:
            print(f"jitcore: compiling {fn_name} for a bucket: {what}")


def bucket_fell_back(fn_name, sym_names, reason):
    if config.settings.explain_cache_misses:
        print(f"jitcore: {fn_name}: bucket {', '.join(sym_names)} falls back to "
              f"exact shapes: {reason}")


def axes_made_dynamic(fn_name, made, leaf_name):
    """`made`: [(leaf, axis, sizes seen)] that just became dynamic."""
    if config.settings.explain_cache_misses:
        for j, ax, sizes in made:
            print(f"jitcore: {fn_name}: axis {ax} of {leaf_name(j)} "
                  f"is dynamic from now on (sizes {', '.join(map(str, sizes))} seen); "
                  "later calls share bucketed specializations")


def _statics_text(statics):
    return "none" if not statics else ", ".join(f"{k}={v!r}" for k, v in statics)


def describe_key(key):
    """A key's arguments as abstract values, for errors."""
    parts = [str(aval_from_sig(s).str_short()) for s in key.sigs]
    return f"({', '.join(parts)})" + (f" static={key.statics}" if key.statics else "")
