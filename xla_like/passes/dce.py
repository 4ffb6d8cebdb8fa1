"""Dead code elimination."""
from __future__ import annotations

from ops.core import PRIMITIVES

from .. import ir


def dce(module: ir.Module) -> ir.Module:
    """Drop instructions that no output (of any computation) depends on; parameters stay, and
    so do instructions with side effects (host callbacks) and what they read."""
    for comp in module.computations.values():
        dce_computation(comp)
    return module


def dce_computation(comp: ir.Computation) -> None:
    """Drop `comp`'s instructions its root does not depend on (parameters stay)."""
    live = set()
    todo = [comp.root] + [i for i in comp.instructions if _has_side_effects(i)]
    while todo:
        i = todo.pop()
        if i.id in live:
            continue
        live.add(i.id)
        todo.extend(i.operands)
    comp.instructions = [i for i in comp.instructions
                         if i.id in live or i.opcode == ir.PARAMETER]


def _has_side_effects(instr) -> bool:
    prim = PRIMITIVES.get(instr.opcode)
    return prim is not None and prim.has_side_effects
