"""The reference backend: runs a Module instruction by instruction with each primitive's NumPy
`impl`. It is the definition every other backend is tested against.

`compile` does the per-instruction work once (look up impls, bind params, number the slots),
so a call is one tight loop over prepared steps.
"""
from __future__ import annotations

import functools

import numpy as np

from ops.core import PRIMITIVES, independent_of

from .. import ir
from ..evaluate import Walker, call_rules, output_instrs, walk


class Executable:
    """A compiled Module: call it with the flat input arrays, get the flat output arrays."""

    backend = "interp"

    def __init__(self, module: ir.Module, run):
        self.module = module
        self._run = run

    def __call__(self, args):
        return self._run(args)

    def as_text(self, kind: str = "hlo") -> str:
        if kind == "hlo":
            return self.module.as_text()
        raise ValueError(f"the interp backend has no {kind!r} text; it runs the HLO directly")


class _Prepare(Walker):
    """Numbers the slots of a frame and lists the steps filling them: each value is a slot;
    a step is (fn, in_slots, out_slot). Constants (and subexpressions of constants only) are
    stored once, in the frame template."""

    def __init__(self, n_params):
        self.n = n_params
        self.consts = []        # (slot, value)
        self.const_value = {}
        self.steps = []

    def _slot(self):
        self.n += 1
        return self.n - 1

    def _const(self, value):
        slot = self._slot()
        self.consts.append((slot, value))
        self.const_value[slot] = value
        return slot

    def _step(self, fn, ins):
        slot = self._slot()
        self.steps.append((fn, ins, slot))
        return slot

    def constant(self, instr):
        return self._const(instr.attrs["value"])

    def tuple(self, instr, values):
        return self._step(lambda *xs: xs, values)

    def element(self, instr, value):
        return self._step(functools.partial(_gte, index=instr.attrs["index"]), [value])

    def apply(self, instr, values):
        if instr.called:
            # Control flow and call-like rules: bodies compiled by this backend too.
            return self._step(call_rules(instr).interp(instr, compile_computation), values)
        prim = PRIMITIVES[instr.opcode]
        # The whole run is under one np.errstate, so use the impl without its own.
        impl = getattr(prim.impl, "__wrapped__", prim.impl)
        fn = functools.partial(impl, **instr.attrs) if instr.attrs else impl
        if values and all(i in self.const_value for i in values) and not prim.has_side_effects:
            # Constant subexpression (a broadcast scalar, say): evaluate it once, now.
            with np.errstate(all="ignore"):
                return self._const(np.asarray(fn(*[self.const_value[i] for i in values])))
        return self._step(fn, values)


def _gte(t, *, index):
    return t[index]


def _prepare(comp: ir.Computation):
    """Turn a computation into (n_params, n_slots, constants, steps, output slots)."""
    n_params = len(comp.parameters)
    prep = _Prepare(n_params)
    env = walk(comp, range(n_params), prep)
    outs = [env[o.id] for o in output_instrs(comp)]
    return n_params, prep.n, prep.consts, prep.steps, outs


def compile(module: ir.Module, donated=frozenset()) -> Executable:
    """`donated` (parameter numbers the caller gives up) is accepted for the common backend
    interface; the interpreter never writes into its inputs."""
    return Executable(module, compile_computation(module.entry))


def compile_computation(comp: ir.Computation):
    """A function from the list of `comp`'s inputs to the list of its outputs."""
    n_params, n_slots, consts, steps, outs = _prepare(comp)
    template = [None] * n_slots
    for s, v in consts:
        template[s] = v

    def run(args):
        if len(args) != n_params:
            raise TypeError(f"{comp.name} expects {n_params} arguments, got {len(args)}")
        env = template.copy()
        env[:n_params] = args
        with np.errstate(all="ignore"):
            for fn, ins, out in steps:
                env[out] = fn(*[env[i] for i in ins])
        # Outputs are immutable Arrays: never hand back memory the caller can still write.
        return [independent_of(np.asarray(env[o]), args) for o in outs]

    return run
