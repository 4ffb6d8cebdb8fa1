"""Inlining of call-like instructions whose rules only matter to transforms."""
from __future__ import annotations

from ops.core import PRIMITIVES

from .. import ir


def inlinable(op: str) -> bool:
    """A call that evaluates its first sub-computation (`Primitive.inlinable`); once
    transforms are done, only that matters."""
    prim = PRIMITIVES.get(op)
    return prim is not None and prim.inlinable


def inline_calls(module: ir.Module) -> ir.Module:
    """Replace custom_jvp_call/custom_vjp_call by the body of the function they call, so
    compiled backends see only primitives. Sub-computations left unused are dropped."""
    for comp in list(module.computations.values()):
        _inline_in(module, comp)
    _drop_unreachable(module)
    return module


def _inline_in(module, comp):
    """Inline every call of `comp` in one walk: a call's body is walked next, so calls inside
    it are inlined too, and its results replace the get_tuple_elements reading the call."""
    repl = {}       # id of a get_tuple_element of an inlined call -> the value it reads
    results = {}    # id of an inlined call -> its body's outputs
    out = []
    todo = list(reversed(comp.instructions))   # a stack: the next instruction is last
    while todo:
        instr = todo.pop()
        instr.operands = [repl.get(o.id, o) for o in instr.operands]
        if instr.opcode == ir.GET_TUPLE_ELEMENT and instr.operands[0].id in results:
            value = results[instr.operands[0].id][instr.attrs["index"]]
            repl[instr.id] = repl.get(value.id, value)
        elif inlinable(instr.opcode) and instr.called:
            body, results[instr.id] = _inline(module, instr)
            todo.extend(reversed(body))
        else:
            out.append(instr)
    comp.instructions = out
    comp.root = repl.get(comp.root.id, comp.root)


def _inline(module, call):
    """Copies of the callee's instructions reading the call's arguments, and the copies of
    its outputs."""
    callee = call.called[0]
    # The function's operands: its primals, then the values it closed over.
    n = call.attrs["num_primals"] + call.attrs["num_fun_consts"]
    args = call.operands[:n]
    mapping = {}
    out = []
    for p in callee.parameters:
        mapping[p.id] = args[p.attrs["index"]]
    for instr in callee.instructions:
        if instr.opcode == ir.PARAMETER:
            continue
        new = ir.Instruction(module.fresh_id(), instr.opcode,
                             [mapping[o.id] for o in instr.operands], instr.shape,
                             dict(instr.attrs), instr.called, instr.location)
        mapping[instr.id] = new
        out.append(new)
    outputs = ([mapping[o.id] for o in callee.root.operands]
               if callee.root.opcode == ir.TUPLE else [mapping[callee.root.id]])
    return out, outputs


def _drop_unreachable(module):
    reach = set()
    todo = [module.entry]
    while todo:
        c = todo.pop()
        if c.name in reach:
            continue
        reach.add(c.name)
        for i in c.instructions:
            todo.extend(i.called)
    for name in list(module.computations):
        if name not in reach:
            del module.computations[name]
