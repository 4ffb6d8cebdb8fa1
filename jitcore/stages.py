"""Ahead-of-time stages of a jitted function: `f.lower(*args)` is a `Lowered` (the traced
program of one specialization), its `.compile()` a `Compiled` (callable with arguments of
that signature only). Neither enters the jitted function's cache.
"""
from __future__ import annotations

from .cache_key import as_key
from .devices import host_inputs
from .jit_observe import describe_key


class Lowered:
    """The traced, not yet compiled, program of one specialization."""

    def __init__(self, jitted, module, out_tree, out_avals, key, pass_log=None):
        self._jitted = jitted
        self.module = module
        self.out_tree = out_tree
        self.out_avals = out_avals
        self._key = key
        self._pass_log = pass_log   # the trace's passes, when dumping or printing them

    def as_text(self, print_large_constants: bool = False) -> str:
        return self.module.as_text(print_large_constants=print_large_constants)

    def compile(self) -> "Compiled":
        # Compiled without donation: a later call's donated arrays may not be exclusively
        # its own, which only the cached call path checks.
        log = self._pass_log.fork() if self._pass_log is not None else None
        entry = self._jitted._compile(self.module, self.out_tree, self.out_avals, log=log)
        entry.executable = host_inputs(entry.executable, self._key.sigs)
        return Compiled(self, entry)

    def __str__(self):
        return self.as_text()


class Compiled:
    """A compiled specialization: call it with arguments of the lowered signature."""

    def __init__(self, lowered, entry):
        self.lowered = lowered
        self._entry = entry

    def as_text(self, kind: str = "hlo") -> str:
        return self._entry.executable.as_text(kind)

    def __call__(self, *args, **kwargs):
        jitted = self.lowered._jitted
        key, vals = jitted._key_and_values(args, kwargs)
        key = as_key(key)
        if key.without_donation() != self.lowered._key.without_donation():
            raise TypeError(
                f"{jitted._name}: this compiled specialization was lowered for arguments "
                f"{describe_key(self.lowered._key)} but was called with {describe_key(key)}")
        return jitted._run(self._entry, vals, args)
