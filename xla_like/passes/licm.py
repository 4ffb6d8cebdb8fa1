"""Loop-invariant code motion: compute once, before a loop, what its body recomputes each step.

For each `while` / `scan` instruction, a body instruction is invariant when all its operands are
invariant: constants, the parameters holding the loop's closed-over values (`consts`), and
other invariant instructions. Invariant work that costs something (anything but the cheap
data movement a kernel recomputes for free: broadcasts, iotas, reshapes) moves to the
enclosing computation, just before the loop; its results enter the loop as new consts, so
every sub-computation of the loop gets a new parameter for each (the cond of a `while`
ignores them). Moving pure instructions out is safe even when the loop runs zero times.
Bodies that several instructions call are left alone.
"""
from __future__ import annotations

from ops.core import PRIMITIVES

from .. import ir
from .dce import dce_computation

LOOPS = {"while": lambda i: i.attrs["num_carry"],
         "scan": lambda i: i.attrs["num_carry"] + i.attrs["num_xs"]}


def free(op: str) -> bool:
    """Costs a kernel nothing to recompute: it reads its operand in the same linear order
    (broadcasts, reshapes) or is computed from its position (iota)."""
    prim = PRIMITIVES.get(op)
    return prim is not None and (prim.linear_order or prim.positional)


def _side_effects(op: str) -> bool:
    """Runs for its effect (a host callback printing): once per step, never hoisted."""
    prim = PRIMITIVES.get(op)
    return prim is not None and prim.has_side_effects


def licm(module: ir.Module) -> ir.Module:
    uses = module.call_counts()
    # Inner loops first (callees come before callers), so invariants climb several levels.
    for comp in list(module.computations.values()):
        new_instrs = []
        for instr in comp.instructions:
            if instr.opcode in LOOPS and all(uses.get(c.name) == 1 for c in instr.called):
                new_instrs.extend(_hoist(module, instr))
            new_instrs.append(instr)
        comp.instructions = new_instrs
    return module


def _body(instr):
    return instr.called[-1]   # while: (cond, body); scan: (body,)


def _hoist(module, loop):
    """Move the body's invariant work out; returns the instructions to place before `loop`."""
    body = _body(loop)
    first_const = LOOPS[loop.opcode](loop)
    invariant = set()
    for instr in body.instructions:
        op = instr.opcode
        if op == ir.PARAMETER:
            if instr.attrs["index"] >= first_const:
                invariant.add(instr.id)
        elif op == ir.CONSTANT:
            invariant.add(instr.id)
        elif (op not in ir.STRUCTURAL or op == ir.GET_TUPLE_ELEMENT) and not instr.called \
                and instr.operands and all(o.id in invariant for o in instr.operands) \
                and not _side_effects(op):
            invariant.add(instr.id)
    outputs = body.root.operands if body.root.opcode == ir.TUPLE else [body.root]
    out_ids = {o.id for o in outputs}
    def stays(i):   # recomputed in the body each step
        return i.id not in invariant or free(i.opcode)
    used_by_variant = set()
    for instr in body.instructions:
        if stays(instr):
            used_by_variant.update(o.id for o in instr.operands)
    # Values the loop needs from outside: invariant, worth computing once, used by what stays.
    # A multi-result op (sort) is never one: a loop const is one array, so its elements are.
    frontier = [i for i in body.instructions
                if i.id in invariant and i.opcode not in (ir.PARAMETER, ir.CONSTANT)
                and not free(i.opcode) and not isinstance(i.shape, tuple)
                and (i.id in used_by_variant or i.id in out_ids)]
    if not frontier:
        return []
    needed = set()
    todo = list(frontier)
    while todo:
        i = todo.pop()
        if i.id in needed:
            continue
        needed.add(i.id)
        todo.extend(o for o in i.operands if o.opcode != ir.PARAMETER)
    # Re-emit the needed instructions before the loop, reading the loop's operands.
    mapping = {p.id: loop.operands[p.attrs["index"]] for p in body.parameters
               if p.attrs["index"] >= first_const}
    hoisted = []
    for instr in body.instructions:
        if instr.id in needed:
            copy = ir.Instruction(module.fresh_id(), instr.opcode,
                                  [mapping[o.id] for o in instr.operands], instr.shape,
                                  dict(instr.attrs), instr.called, instr.location)
            mapping[instr.id] = copy
            hoisted.append(copy)
    # Each frontier value becomes a new const of the loop: an operand, and a parameter of
    # every sub-computation (replacing the body's own copy). New parameters are numbered
    # last and placed first, so every use comes after them.
    for f in frontier:
        loop.operands.append(mapping[f.id])
    for comp in loop.called:
        params = [ir.Instruction(module.fresh_id(), ir.PARAMETER, [], f.shape,
                                 {"index": len(comp.parameters) + k}, (), "")
                  for k, f in enumerate(frontier)]
        comp.instructions[:0] = params
        comp.parameters.extend(params)
        if comp is body:
            _replace_uses(body, {f.id: p for f, p in zip(frontier, params)})
    dce_computation(body)
    return hoisted


def _replace_uses(comp, new_for):
    """Read `new_for[id]` wherever `comp` reads the instruction `id` (one walk for all)."""
    for instr in comp.instructions:
        instr.operands = [new_for.get(o.id, o) for o in instr.operands]
    comp.root = new_for.get(comp.root.id, comp.root)
