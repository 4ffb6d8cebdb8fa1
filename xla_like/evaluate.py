"""Walking a computation, and evaluating it by replaying it: each instruction is `bind`-ed again.

`walk` is the one loop over a computation's instructions. It handles the structural ones
(parameters, constants, tuples and their elements) and hands every primitive application to
the `Walker` it is given, which decides what a "value" is: a number or tracer when replaying,
a (primal, tangent) pair in forward mode, a (value, batched) pair when batching, a slot number
in the interpreter backend, a buffer id in the planner. Call-like primitives (control flow,
custom derivative rules, fusions) are primitives like any other; their rules need the
sub-computations, which only the IR holds, so `xla_like` registers them on the primitive as
`prim.call_rules` (an object with `eval`, `jvp`, `vjp` and `batch`; see `control_flow_rules.py`
and `custom_calls.py`).

Replay is how a transformed program runs: with no trace active, binds compute with NumPy;
inside another trace (a `jit`, an outer `grad`, a pass building a new Module), they emit
instructions there, so transforms inline into whatever encloses them.
"""
from __future__ import annotations

from ops import core
from ops.core import PRIMITIVES

from . import ir


class Walker:
    """What `walk` does at each instruction; subclasses override `apply` and, when their values
    are not plain ones, the structural cases."""

    def constant(self, instr):
        return instr.attrs["value"]

    def tuple(self, instr, values):
        return tuple(values)

    def element(self, instr, value):
        return value[instr.attrs["index"]]

    def apply(self, instr, values):
        raise NotImplementedError


def walk(comp: ir.Computation, args, walker: Walker) -> dict:
    """Every instruction's value by id, `args[k]` being parameter k's: one pass in program
    order (time linear in the computation's length, no recursion)."""
    env = {}
    for p in comp.parameters:
        env[p.id] = args[p.attrs["index"]]
    for instr in comp.instructions:
        op = instr.opcode
        if op == ir.PARAMETER:
            continue
        if op == ir.CONSTANT:
            env[instr.id] = walker.constant(instr)
            continue
        values = [env[o.id] for o in instr.operands]
        if op == ir.TUPLE:
            env[instr.id] = walker.tuple(instr, values)
        elif op == ir.GET_TUPLE_ELEMENT:
            env[instr.id] = walker.element(instr, values[0])
        else:
            env[instr.id] = walker.apply(instr, values)
    return env


def call_rules(instr):
    """The rules of a call-like instruction's primitive (registered by `xla_like`)."""
    rules = getattr(PRIMITIVES[instr.opcode], "call_rules", None)
    if rules is None:
        raise NotImplementedError(f"call-like primitive {instr.opcode} has no call rules")
    return rules


def pack(instr, outs):
    """A call-like rule's list of outputs as the instruction's value (a tuple when it has a
    tuple shape)."""
    return tuple(outs) if isinstance(instr.shape, tuple) else outs[0]


def output_instrs(comp: ir.Computation) -> list:
    """The instructions whose values are `comp`'s outputs: the root tuple's elements, or the
    root itself (the builder's convention)."""
    root = comp.root
    return list(root.operands) if root.opcode == ir.TUPLE else [root]


def results(comp: ir.Computation, env) -> list:
    """The outputs of `comp`, given the value of every instruction id in `env`."""
    return [env[o.id] for o in output_instrs(comp)]


class _Replay(Walker):
    def __init__(self, module):
        self.module = module

    def apply(self, instr, values):
        if instr.called:
            return pack(instr, call_rules(instr).eval(self.module, instr, values))
        return core.bind(PRIMITIVES[instr.opcode], *values, **instr.attrs)


def eval_computation(module: ir.Module, comp: ir.Computation, args) -> list:
    """Replay `comp` on `args` (one per parameter) with `bind`; returns the list of outputs."""
    return results(comp, replay(module, comp, args))


def replay(module: ir.Module, comp: ir.Computation, args) -> dict:
    """Replay `comp` on `args` with `bind`; returns every instruction's value by id."""
    return walk(comp, args, _Replay(module))


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
