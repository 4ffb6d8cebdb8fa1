"""Dead code elimination, through loops too.

Besides dropping instructions no output depends on, `dce` prunes what a `scan` computes for
nobody: a y no one reads, a carry whose final value no one reads and that no other live output
needs (its update is then dead in the body), and the xs and consts the body no longer reads.
Reverse mode relies on it: a backward scan's ys that are the cotangents of inputs nobody
differentiates, and the residuals a forward scan saves that the backward scan does not read,
disappear with the work that computed them.
"""
from __future__ import annotations

from ops.core import PRIMITIVES

from .. import ir


def dce(module: ir.Module) -> ir.Module:
    """Drop instructions that no output (of any computation) depends on; parameters stay, and
    so do instructions with side effects (host callbacks) and what they read. Scans lose the
    outputs and inputs nobody needs (repeated until nothing changes: pruning a caller's scan
    frees its body's inner loops, pruning a body's parameters frees the caller's operands)."""
    for comp in module.computations.values():
        dce_computation(comp)
    while _prune_loops(module):
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


def _prune_loops(module) -> bool:
    uses = module.call_counts()
    changed = False
    for comp in list(module.computations.values()):
        readers = {}   # loop id -> the instructions reading it (one pass over comp)
        for instr in comp.instructions:
            for o in instr.operands:
                if o.opcode == "scan":
                    readers.setdefault(o.id, []).append(instr)
        for instr in comp.instructions:
            if instr.opcode == "scan" and uses.get(instr.called[0].name) == 1:
                changed |= _prune_scan(comp, instr, readers.get(instr.id, []))
    return changed


def _outputs(comp):
    root = comp.root
    return list(root.operands) if root.opcode == ir.TUPLE else [root]


def _prune_scan(comp, loop, gtes) -> bool:
    """Remove `loop`'s unused outputs and inputs in place (`gtes`: its readers in `comp`);
    True when something went."""
    body = loop.called[0]
    n, m = loop.attrs["num_carry"], loop.attrs["num_xs"]
    outs = _outputs(body)
    if any(i.opcode != ir.GET_TUPLE_ELEMENT for i in gtes) or comp.root is loop \
            or not isinstance(loop.shape, tuple):
        return False   # read whole: keep every output
    live = {i.attrs["index"] for i in gtes}
    by_id = {i.id: i for i in body.instructions}
    carry_param = {p.id: p.attrs["index"] for p in body.parameters if p.attrs["index"] < n}
    effects = [i for i in body.instructions if _has_side_effects(i)]
    while True:   # a live output's dependencies keep the carries they read live
        seen, todo = set(), [outs[k] for k in live] + effects
        while todo:
            i = todo.pop()
            if i.id not in seen:
                seen.add(i.id)
                todo.extend(i.operands)
        more = {carry_param[k] for k in seen if k in carry_param} - live
        if not more:
            break
        live |= more
    keep_out = [k in live for k in range(len(outs))]
    reach = {k for k in seen if k in by_id}
    params = sorted(body.parameters, key=lambda p: p.attrs["index"])
    keep_in = [keep_out[p.attrs["index"]] if p.attrs["index"] < n else p.id in reach
               for p in params]
    if all(keep_out) and all(keep_in):
        return False
    # The body: kept outputs, kept parameters renumbered.
    new_outs = [o for o, k in zip(outs, keep_out) if k]
    if len(new_outs) == 1:
        body.root = new_outs[0]
    else:
        body.root = ir.Instruction(body.root.id, ir.TUPLE, new_outs,
                                   tuple(o.shape for o in new_outs))
        body.instructions = [i for i in body.instructions if i.opcode != ir.TUPLE
                             or i.id != body.root.id] + [body.root]
    kept_params = [p for p, k in zip(params, keep_in) if k]
    for j, p in enumerate(kept_params):
        p.attrs["index"] = j
    dropped = {p.id for p, k in zip(params, keep_in) if not k}
    body.parameters = kept_params
    body.instructions = [i for i in body.instructions if i.id not in dropped]
    dce_computation(body)
    # The loop: kept operands and outputs; its readers' indices follow.
    loop.operands = [o for o, k in zip(loop.operands, keep_in) if k]
    loop.attrs["num_carry"] = sum(keep_in[:n])
    loop.attrs["num_xs"] = sum(keep_in[n:n + m])
    loop.shape = tuple(s for s, k in zip(loop.shape, keep_out) if k)
    new_index = {old: new for new, old in enumerate(k for k in range(len(outs)) if keep_out[k])}
    for g in gtes:
        g.attrs["index"] = new_index[g.attrs["index"]]
    return True
