"""Inlining of call-like instructions whose rules only matter to transforms."""
from __future__ import annotations

from .. import ir

# Calls that evaluate their first sub-computation; once transforms are done, only that matters.
INLINABLE = {"custom_jvp_call": "num_fun_consts", "custom_vjp_call": "num_fun_consts"}


def inline_calls(module: ir.Module) -> ir.Module:
    """Replace custom_jvp_call/custom_vjp_call by the body of the function they call, so
    compiled backends see only primitives. Sub-computations left unused are dropped."""
    changed = True
    while changed:
        changed = False
        for comp in list(module.computations.values()):
            new_instrs, dropped = [], set()
            for instr in comp.instructions:
                if instr.id in dropped:
                    continue
                if instr.opcode in INLINABLE and instr.called:
                    body, gtes = _inline(module, comp, instr)
                    new_instrs.extend(body)
                    dropped |= gtes
                    changed = True
                else:
                    new_instrs.append(instr)
            comp.instructions = new_instrs
    _drop_unreachable(module)
    return module


def _inline(module, comp, call):
    callee = call.called[0]
    n = call.attrs["num_primals"] + call.attrs[INLINABLE[call.opcode]]
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
    results = ([mapping[o.id] for o in callee.root.operands]
               if callee.root.opcode == ir.TUPLE else [mapping[callee.root.id]])
    return out, _rewire(comp, call, results)


def _rewire(comp, call, results):
    """The call's uses are get_tuple_element instructions: point their users at the results.
    Returns the ids of those get_tuple_elements, which are dropped."""
    repl = {i.id: results[i.attrs["index"]] for i in comp.instructions
            if i.opcode == ir.GET_TUPLE_ELEMENT and i.operands and i.operands[0] is call}
    for instr in comp.instructions:
        instr.operands = [repl.get(o.id, o) for o in instr.operands]
    if comp.root.id in repl:
        comp.root = repl[comp.root.id]
    return set(repl)


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
