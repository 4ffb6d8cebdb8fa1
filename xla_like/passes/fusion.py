"""Fusion: group the entry computation's instructions into kernels (and likewise the bodies
and branches of control flow, which run as lists of kernels too).

Guarantees: afterwards each such computation holds parameters, array constants, `fusion`
instructions (each calling a computation of elementwise / data-movement / reduction
instructions that compiles to one loop kernel), `dot_general` (a library call; the layout
pass has laid its operands out for GEMM), and the instructions no kernel expresses (sort,
scatter, cumulative scans, control flow), which backends run as they are. A value is written
to memory only where:
- it is an output, or an operand of a library call or an unfusable instruction
  (`reason="output" | "operand of dot_general" | ...`);
- it is expensive to recompute and has consumers in different kernels ("shared");
- it is a reduction whose result feeds something other than its own row
  ("reduction result");
- the kernel reading it would otherwise emit too much code: more than MAX_COPIES copies of
  it ("code size"), or more than MAX_KERNEL_COST in all ("kernel size": a long chain becomes
  several kernels, so compile time stays linear in program length).
Cheap instructions (broadcasts, reshapes, transposes, slices, simple arithmetic) used by several
kernels are recomputed in each instead. A reduction over the trailing axes whose result is
broadcast back over the same rows joins its consumer ("row" kernels: softmax, layer norm), so
such patterns make one pass over memory per row.
"""
from __future__ import annotations

from ops.core import PRIMITIVES, OpcodesWhere

from .. import ir

# What each kind of instruction is, asked of its primitive's traits (see `ops.core.Primitive`).
# Reductions a kernel computes (over axes, or arg-reductions); cumulative scans are not.
REDUCE = OpcodesWhere(lambda p: p.reduces)
# Each output element is an operand element read at another position.
DATA_MOVEMENT = OpcodesWhere(lambda p: p.moves_data)
# About one instruction per element: recomputed in every kernel that reads it.
CHEAP = OpcodesWhere(lambda p: p.cheap)
# Control flow, whose called computations run as lists of kernels too.
CONTROL_FLOW = OpcodesWhere(lambda p: p.lowering == "control")


def is_elemental(op: str) -> bool:
    """Computable one output element at a time from its operands' elements (elementwise ops,
    data movement, and iota, computed from its own position)."""
    prim = PRIMITIVES.get(op)
    return prim is not None and (prim.elementwise or prim.moves_data or prim.positional)


def fusible(op: str) -> bool:
    return is_elemental(op) or op in REDUCE


def _trailing_reduce(instr) -> bool:
    """A reduction over the trailing axes of its operand (a row reduction)."""
    rank = len(instr.operands[0].shape.dims)
    axes = (instr.attrs["axis"],) if "axis" in instr.attrs else tuple(instr.attrs["axes"])
    return bool(axes) and sorted(a % rank for a in axes) == list(range(rank - len(axes), rank))


def iteration_shape(root) -> tuple:
    """The index space a kernel loops over: its output's, or a reduction root's input's."""
    return root.operands[0].shape.dims if root.opcode in REDUCE else root.shape.dims


class _Group:
    def __init__(self, root):
        self.root = root
        self.members = {root.id: root}
        # Members other kernels compute too (cheap values recomputed where used), and what
        # joined under them: an expensive producer of theirs would be recomputed everywhere.
        self.replicated = set()
        self.iter_shape = iteration_shape(root)
        self.outer_rank = len(root.shape.dims) if root.opcode in REDUCE else None
        # The positions each member is read at (see `_limit_copies`), and the code size.
        self.sites = {root.id: {0}}
        self.cost = _cost(root)


# A kernel holds at most this much code (in `_cost` units per copy, about one LLVM
# instruction per unit per element): LLVM's loop vectorizer takes time quadratic in the size
# of a loop body (one kernel of a 2,000-step elementwise chain took 14 s; 500 steps, 1 s), so
# a longer chain is cut into kernels of this size, linked through memory. The cut costs one
# store and one load per element per 256 units of arithmetic; bodies of up to about 256 units
# compile in time linear in their size (~0.5 ms per unit at O3).
MAX_KERNEL_COST = 256
# Transcendental and other library math is inlined (tens of LLVM instructions each).
MATH_COST = 8
# A value some kernel writes to memory is read from there by the others, unless it is cheap
# (a broadcast, a slice, an add: recomputed from its operands as before). Where a kernel was
# cut for its size, even a cheap value is read: recomputing it, and the chain of cheap work
# behind it, in each reader would repeat up to a whole kernel's work per reader.
CUTS = ("kernel size", "code size")


def _cost(instr) -> int:
    if instr.opcode in CHEAP or instr.opcode in DATA_MOVEMENT:
        return 1
    return MATH_COST if is_elemental(instr.opcode) else 2


def _users(comp):
    users = {i.id: [] for i in comp.instructions}
    for i in comp.instructions:
        for o in i.operands:
            users[o.id].append(i)
    return users


def _is_scalar_constant(instr):
    return instr.opcode == ir.CONSTANT and instr.attrs["value"].size == 1 and \
        not instr.shape.dims


def _can_join(p, group, users, outputs):
    """Can producer `p` move into `group` (no copy stays outside)?"""
    if p.id in outputs or not all(u.id in group.members for u in users[p.id]):
        return False
    if p.opcode in REDUCE:
        # A row reduction over the group's own rows; its result is used once per row.
        if PRIMITIVES[p.opcode].arg_reduction or not _trailing_reduce(p):
            return False
        if p.operands[0].shape.dims != group.iter_shape:
            return False
        # Its rows must be the kernel's rows (a reduction root over leading axes has others).
        if group.root.opcode in REDUCE and p.shape.dims != group.root.shape.dims:
            return False
        return group.outer_rank is None or len(p.shape.dims) == group.outer_rank
    return is_elemental(p.opcode)


def _same_index(m) -> bool:
    """Does `m` read its operands at the index of its own element?"""
    return (m.opcode not in DATA_MOVEMENT and m.opcode not in REDUCE) or (
        m.opcode == "reshape" and m.shape.dims == m.operands[0].shape.dims)


def _read_sites(p, sites, users):
    """The distinct positions the members in `sites` read `p` at (see `_limit_copies`)."""
    out = set()
    for u in {u.id: u for u in users[p.id]}.values():
        mine = sites.get(u.id)
        if mine is None:
            continue
        same = _same_index(u)
        for k, o in enumerate(u.operands):
            if o.id == p.id:
                out |= mine if same else {hash((x, u.id, k)) for x in mine}
    return out


def _grow(group, users, outputs, needed, position):
    """Pull producers into `group` until nothing more can join; record what must be in memory.

    A producer can join only once all of its users have, so each is (re)considered when it is
    first reached and again whenever another of its users joins: work proportional to the
    operands of the members, however deep the group. What is left is recomputed here if
    cheap, else marked as needing a buffer."""
    reason = _reason_for(group.root)
    waiting = {}                       # reached, not joined (id -> instruction)
    fresh = list(group.root.operands)  # to (re)consider, in the order reached

    def in_memory(p):
        """Read from the buffer another kernel writes anyway: a cut, or costly to redo."""
        why = needed.get(p.id)
        return why is not None and (why in CUTS or p.opcode not in CHEAP)

    def admit(p):
        """The positions `p` would be emitted at, or None (and `p` to memory) where that is
        too many, or too much code for the kernel. Checked as it joins, so a deep group
        stops growing where its code would stop (`_limit_copies` then rechecks the whole)."""
        sites = _read_sites(p, group.sites, users)
        if len(sites) > MAX_COPIES and p.operands:
            needed.setdefault(p.id, "code size")
            return None
        if group.cost + _cost(p) * len(sites) > MAX_KERNEL_COST:
            needed.setdefault(p.id, "kernel size")
            return None
        return sites

    def join(p, sites):
        group.members[p.id] = p
        group.sites[p.id] = sites
        group.cost += _cost(p) * len(sites)
        if p.opcode in REDUCE and group.outer_rank is None:
            group.outer_rank = len(p.shape.dims)
        waiting.pop(p.id, None)
        fresh.extend(o for o in p.operands if o.id not in group.members)

    while True:
        new_waiting = []
        while fresh:
            batch = list({o.id: o for o in fresh}.values())
            fresh.clear()
            for p in batch:
                if p.id in group.members:
                    continue
                if p.id not in waiting:
                    waiting[p.id] = p
                    new_waiting.append(p)
                if p.opcode == ir.PARAMETER or in_memory(p):
                    continue
                if _is_scalar_constant(p):
                    group.members[p.id] = p
                    waiting.pop(p.id)
                elif p.opcode == ir.CONSTANT or not fusible(p.opcode):
                    needed.setdefault(p.id, reason)
                elif _can_join(p, group, users, outputs):
                    replicated = any(u.id in group.replicated for u in users[p.id])
                    if replicated and p.opcode not in CHEAP:
                        needed.setdefault(p.id, "shared")
                        continue
                    sites = admit(p)
                    if sites is not None:
                        if replicated:
                            group.replicated.add(p.id)
                        join(p, sites)
        # Every candidate left was reached since the last round, or already decided: what
        # is cheap is recomputed here, the rest is read from memory.
        left = [p for p in new_waiting if p.id in waiting and p.opcode != ir.PARAMETER and
                p.opcode != ir.CONSTANT and fusible(p.opcode) and not in_memory(p)]
        dup = [p for p in left if is_elemental(p.opcode) and p.opcode in CHEAP]
        dup_ids = {p.id for p in dup}
        for p in left:
            if p.id not in dup_ids:
                needed.setdefault(p.id, "reduction result" if p.opcode in REDUCE else "shared")
        grew = False
        for p in dup:
            sites = admit(p)
            if sites is not None:
                group.replicated.add(p.id)
                join(p, sites)
                grew = True
        if not grew:
            _limit_copies(group, needed, position)
            return


# How many times one kernel may emit the code of one instruction (at different positions).
MAX_COPIES = 8


def _limit_copies(group, needed, position):
    """Keep a kernel's code linear in its instructions: a value read at k different positions
    is emitted k times (an element at a time), and data movement that reads its operand at
    several positions (concatenate of slices of one array, pad in reflect mode) nests, which
    multiplies the copies level by level. Where a member would be emitted more than
    MAX_COPIES times it is written to memory instead; what only it used leaves the group."""
    order = sorted(group.members.values(), key=lambda i: position[i.id], reverse=True)
    sites = {group.root.id: {0}}
    cut = []
    for m in order:
        mine = sites.get(m.id)
        if mine is None:
            continue
        if m is not group.root and m.operands and len(mine) > MAX_COPIES:
            cut.append(m)
            continue
        same_index = _same_index(m)
        for k, o in enumerate(m.operands):
            if o.id not in group.members:
                continue
            s = sites.setdefault(o.id, set())
            s |= mine if same_index else {hash((x, m.id, k)) for x in mine}
    if not cut:
        return
    for m in cut:
        needed.setdefault(m.id, "code size")
    cut_ids = {m.id for m in cut}
    keep = {m.id: m for m in group.members.values() if m.id in sites and m.id not in cut_ids}
    group.members = keep
    ranks = [len(m.shape.dims) for m in keep.values()
             if m.opcode in REDUCE and m is not group.root]
    if group.root.opcode not in REDUCE:
        group.outer_rank = min(ranks) if ranks else None


def _reason_for(consumer):
    return f"operand of {consumer.opcode}"


def fuse(module: ir.Module) -> ir.Module:
    """Group the entry computation, and the bodies and branches of its control flow, into
    fusion kernels (see the module docstring). Dots must already read their operands in
    GEMM's layout (`layout.layout` does that)."""
    for comp in _kernel_hosts(module):
        new = fuse_computation(module, comp)
        if comp is module.entry:
            module.computations.pop(comp.name)
            module.set_entry(new)
        else:
            module.computations[comp.name] = new
    # The fused bodies replaced the originals under the same names: point every call at them
    # (one pass over the module, not one per body).
    for other in module.computations.values():
        for instr in other.instructions:
            if instr.called:
                instr.called = tuple(module.computations.get(c.name, c) for c in instr.called)
    return module


def _kernel_hosts(module):
    """The computations that run as a list of kernels: the entry and, inner ones first, every
    computation that control flow calls."""
    hosts, seen = [], set()

    def visit(comp):
        if comp.name in seen:
            return
        seen.add(comp.name)
        for instr in comp.instructions:
            if instr.opcode in CONTROL_FLOW:
                for c in instr.called:
                    visit(c)
        hosts.append(comp)
    visit(module.entry)
    return hosts


def fuse_computation(module: ir.Module, comp: ir.Computation) -> ir.Computation:
    """`comp` with its instructions grouped into fusion kernels (a new computation, same
    name); the kernels' computations are added to `module`."""
    users = _users(comp)
    outputs = {o.id for o in (comp.root.operands if comp.root.opcode == ir.TUPLE
                              else [comp.root])}
    needed = {o: "output" for o in outputs}
    position = {i.id: k for k, i in enumerate(comp.instructions)}
    groups = {}
    for instr in reversed(comp.instructions):
        op = instr.opcode
        if op in (ir.PARAMETER, ir.CONSTANT):
            continue
        if not fusible(op):  # library calls, unfusable instructions, tuples
            for o in instr.operands:
                needed.setdefault(o.id, "output" if op in (ir.TUPLE, ir.GET_TUPLE_ELEMENT)
                                  else f"operand of {op}")
            continue
        if instr.id in needed:
            g = _Group(instr)
            _grow(g, users, outputs, needed, position)
            groups[instr.id] = g
    return _rebuild(module, comp, groups, needed, position)


def _rebuild(module, comp, groups, needed, position):
    new_entry = ir.Computation(comp.name)
    remap = {}
    for instr in comp.instructions:
        if instr.id in groups:
            g = groups[instr.id]
            fused, inputs = _fused_computation(module, g, position)
            module.add_computation(fused)
            kind = "reduction" if g.root.opcode in REDUCE else (
                "row" if g.outer_rank is not None else "loop")
            new = ir.Instruction(module.fresh_id(), "fusion", [remap[i.id] for i in inputs],
                                 instr.shape, {"kind": kind, "reason": needed[instr.id]},
                                 (fused,), instr.location)
        elif instr is comp.root and instr.opcode == ir.TUPLE:
            continue  # rebuilt below
        elif instr.opcode in (ir.PARAMETER, ir.CONSTANT) or not fusible(instr.opcode):
            new = ir.Instruction(instr.id, instr.opcode, [remap[o.id] for o in instr.operands],
                                 instr.shape, dict(instr.attrs), instr.called, instr.location)
        else:
            continue  # a member of some group, not materialized
        remap[instr.id] = new
        new_entry.add(new)
    root = comp.root
    if root.opcode == ir.TUPLE:
        new_root = ir.Instruction(root.id, ir.TUPLE, [remap[o.id] for o in root.operands],
                                  root.shape, {}, (), root.location)
        new_entry.add(new_root)
    else:
        new_root = remap[root.id]
    new_entry.root = new_root
    return new_entry


def _fused_computation(module, group, position):
    """The members of `group` as a computation whose parameters are its inputs (`position`:
    each instruction's place in the computation, the order they keep)."""
    fused = ir.Computation(module.fresh_computation_name(f"fused_{group.root.opcode}"))
    member_ids = group.members
    order = sorted(member_ids.values(), key=lambda i: position[i.id])
    inputs, mapping = [], {}
    for instr in order:
        for o in instr.operands:
            if o.id not in member_ids and o.id not in mapping:
                p = ir.Instruction(module.fresh_id(), ir.PARAMETER, [], o.shape,
                                   {"index": len(inputs)}, (), "")
                fused.add(p)
                inputs.append(o)
                mapping[o.id] = p
    for instr in order:
        new = ir.Instruction(module.fresh_id(), instr.opcode,
                             [mapping[o.id] for o in instr.operands], instr.shape,
                             dict(instr.attrs), instr.called, instr.location)
        mapping[instr.id] = new
        fused.add(new)
    fused.root = mapping[group.root.id]
    return fused, inputs
