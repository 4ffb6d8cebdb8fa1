"""Common subexpression elimination."""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from .. import ir


def _key_value(v):
    """A hashable stand-in for an attribute value (constants' arrays by dtype, shape, bytes)."""
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, tuple):
        return tuple(_key_value(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    return v


def cse(module: ir.Module) -> ir.Module:
    """Instructions with the same opcode, operands, attributes and callees compute the same
    value: later copies are replaced by the first. Parameters and instructions with side
    effects (host callbacks) are never merged."""
    for comp in module.computations.values():
        seen = {}
        replace = {}
        kept = []
        for instr in comp.instructions:
            instr.operands = [replace.get(o.id, o) for o in instr.operands]
            prim = PRIMITIVES.get(instr.opcode)
            if instr.opcode == ir.PARAMETER or (prim is not None and prim.has_side_effects):
                kept.append(instr)
                continue
            key = (instr.opcode, tuple(o.id for o in instr.operands),
                   tuple(sorted((k, _key_value(v)) for k, v in instr.attrs.items())),
                   tuple(id(c) for c in instr.called), str(instr.shape))
            first = seen.get(key)
            if first is None:
                seen[key] = instr
                kept.append(instr)
            else:
                replace[instr.id] = first
        comp.instructions = kept
        if comp.root.id in replace:
            comp.root = replace[comp.root.id]
    return module
