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


def _gte(t, *, index):
    return t[index]


def _prepare(comp: ir.Computation):
    """Turn a computation into (n_params, steps, output slots); each step is (fn, in_slots, out)."""
    slot = {}
    for i, p in enumerate(comp.parameters):
        slot[p.id] = p.attrs["index"]
    consts = []  # (slot, value): constants are stored once, in the frame template
    const_value = {}
    steps = []
    n = len(comp.parameters)
    for instr in comp.instructions:
        if instr.opcode == ir.PARAMETER:
            continue
        slot[instr.id] = n
        if instr.opcode == ir.CONSTANT:
            consts.append((n, instr.attrs["value"]))
            const_value[n] = instr.attrs["value"]
        elif instr.opcode == ir.TUPLE:
            steps.append((lambda *xs: xs, [slot[o.id] for o in instr.operands], n))
        elif instr.opcode == ir.GET_TUPLE_ELEMENT:
            steps.append((functools.partial(_gte, index=instr.attrs["index"]),
                          [slot[instr.operands[0].id]], n))
        elif instr.called and instr.opcode in ("cond", "while", "scan"):
            from ..control_flow import interp_runner
            steps.append((interp_runner(instr, compile_computation),
                          [slot[o.id] for o in instr.operands], n))
        elif instr.called:
            # Call-like (custom derivative rules): run the function itself, compiled too.
            from ..custom_calls import primal_operands
            sub = compile_computation(instr.called[0])
            ins = [slot[o.id] for o in instr.operands][primal_operands(instr)]
            if isinstance(instr.shape, tuple):
                steps.append((lambda *xs, sub=sub: tuple(sub(list(xs))), ins, n))
            else:   # a fusion (the CPU backend's fallback runs fused bodies here)
                steps.append((lambda *xs, sub=sub: sub(list(xs))[0], ins, n))
        else:
            prim = PRIMITIVES[instr.opcode]
            # The whole run is under one np.errstate, so use the impl without its own.
            impl = getattr(prim.impl, "__wrapped__", prim.impl)
            fn = functools.partial(impl, **instr.attrs) if instr.attrs else impl
            ins = [slot[o.id] for o in instr.operands]
            if ins and all(i in const_value for i in ins):
                # Constant subexpression (a broadcast scalar, say): evaluate it once, now.
                with np.errstate(all="ignore"):
                    value = np.asarray(fn(*[const_value[i] for i in ins]))
                const_value[n] = value
                consts.append((n, value))
            else:
                steps.append((fn, ins, n))
        n += 1
    root = comp.root
    outs = [slot[o.id] for o in root.operands] if root.opcode == ir.TUPLE else [slot[root.id]]
    return len(comp.parameters), n, consts, steps, outs


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
