"""Ahead-of-time stages of a jitted function: `f.lower(*args)` is a `Lowered` (the traced
program of one specialization), its `.compile()` a `Compiled` (callable with arguments of
that signature only). Neither enters the jitted function's cache.
"""
from __future__ import annotations

from xla_like.backends import runtime as backend_runtime

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

    def as_text(self, dialect: str | None = None, print_large_constants: bool = False) -> str:
        """The traced IR (`dialect` "hlo", the default), or its graph as Graphviz text:
        "dot" as traced, "dot-fused" after the kernel pipeline (kernels as clusters)."""
        if isinstance(dialect, bool):   # the former first argument
            dialect, print_large_constants = None, dialect
        if dialect in ("dot", "dot-fused"):
            from .viz import dot_text
            return dot_text(self.module, fused=dialect == "dot-fused")
        if dialect not in (None, "hlo"):
            raise ValueError(f"no {dialect!r} text of a lowered program; use 'hlo', 'dot' "
                             "or 'dot-fused'")
        return self.module.as_text(print_large_constants=print_large_constants)

    def as_html(self, profile=None, compile: bool = True) -> str:
        """One self-contained HTML page drawing the program at each compiler stage
        (`jitcore.viz`); `profile`: {kernel name: seconds} or a trace file, shading kernels
        by time; `compile=False` leaves out the kernels' LLVM."""
        from .viz import html
        return html(self, profile=profile, compile=compile)

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

    def cost_analysis(self) -> dict:
        """What the program computes and moves, as JAX's `cost_analysis()` returns it (a dict
        of floats): "flops" (a dot 2*M*N*K, elementwise arithmetic 1 per element, a
        reduction 1 per operand element), "transcendentals" (elements of exp, tanh, sqrt...),
        "bytes accessed" (each kernel, dot and call reads its operands and writes its result
        once), "bytes accessed{i}{}" (read from argument i), "bytes accessedout{}"; and,
        under "kernels", a list of the same three counts for each step of the program."""
        return backend_runtime.cost_analysis(self._entry.executable)

    def memory_analysis(self):
        """Bytes the program holds, as JAX's `memory_analysis()` returns them: arguments,
        outputs, outputs aliasing donated arguments, temporaries (the workspace after buffer
        assignment), generated code; plus `unshared_temp_size_in_bytes`,
        `constant_size_in_bytes` and `peak_memory_in_bytes`."""
        return backend_runtime.memory_analysis(self._entry.executable)

    def __call__(self, *args, **kwargs):
        jitted = self.lowered._jitted
        key, vals = jitted._key_and_values(args, kwargs)
        key = as_key(key)
        if key.without_donation() != self.lowered._key.without_donation():
            raise TypeError(
                f"{jitted._name}: this compiled specialization was lowered for arguments "
                f"{describe_key(self.lowered._key)} but was called with {describe_key(key)}")
        return jitted._run(self._entry, vals, args)
