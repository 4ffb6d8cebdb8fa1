"""Evaluating a computation by replaying it: each instruction is `bind`-ed again.

Replay is how a transformed program runs: with no trace active, binds compute with NumPy;
inside another trace (a `jit`, an outer `grad`, a pass building a new Module), they emit
instructions there, so transforms inline into whatever encloses them. The transform
interpreters in `passes/` (jvp, vjp, batching) walk computations the same way, with a rule
per primitive instead of a plain bind.

Instructions that call sub-computations (custom derivative rules; later control flow) are
"call-like": their behaviour under each interpreter is in `CALL_RULES`, keyed by opcode.
"""
from __future__ import annotations

from ops import core
from ops.core import PRIMITIVES

from . import ir

# opcode -> object with `eval(module, instr, args)` and the transform rules
# `jvp(module, instr, primals, tangents)`, `vjp(module, instr, primals, ans, cts)`,
# `batch(module, instr, args, batched, size)`; registered by the module defining the opcode.
CALL_RULES: dict = {}


def output_instrs(comp: ir.Computation) -> list:
    """The instructions whose values are `comp`'s outputs: the root tuple's elements, or the
    root itself (the builder's convention)."""
    root = comp.root
    return list(root.operands) if root.opcode == ir.TUPLE else [root]


def results(comp: ir.Computation, env) -> list:
    """The outputs of `comp`, given the value of every instruction id in `env`."""
    return [env[o.id] for o in output_instrs(comp)]


def eval_computation(module: ir.Module, comp: ir.Computation, args) -> list:
    """Replay `comp` on `args` (one per parameter) with `bind`; returns the list of outputs."""
    return results(comp, replay(module, comp, args))


def replay(module: ir.Module, comp: ir.Computation, args) -> dict:
    """Replay `comp` on `args` with `bind`; returns every instruction's value by id."""
    env = {}
    for p in comp.parameters:
        env[p.id] = args[p.attrs["index"]]
    for instr in comp.instructions:
        op = instr.opcode
        if op == ir.PARAMETER:
            continue
        if op == ir.CONSTANT:
            env[instr.id] = instr.attrs["value"]
        elif op == ir.TUPLE:
            env[instr.id] = tuple(env[o.id] for o in instr.operands)
        elif op == ir.GET_TUPLE_ELEMENT:
            env[instr.id] = env[instr.operands[0].id][instr.attrs["index"]]
        elif instr.called:
            outs = CALL_RULES[op].eval(module, instr, [env[o.id] for o in instr.operands])
            env[instr.id] = tuple(outs) if isinstance(instr.shape, tuple) else outs[0]
        else:
            env[instr.id] = core.bind(PRIMITIVES[op], *[env[o.id] for o in instr.operands],
                                      **instr.attrs)
    return env


def rebuild(module: ir.Module) -> ir.Module:
    """A new Module computing the same as `module`, re-emitted through the builder (so its
    simplifications apply and instructions no output needs are dropped)."""
    from .builder import build
    entry = module.entry
    avals = [core.ShapedArray(p.shape.dims, p.shape.dtype) for p in entry.parameters]
    names = [p.attrs.get("name", "") for p in entry.parameters]
    new = ir.Module(module.name)
    _, comp, _, _ = build(module.name, lambda *xs: eval_computation(module, entry, list(xs)),
                          avals, new, names=names)
    new.set_entry(comp)
    from .passes.dce import dce
    return dce(new)
