"""Sums a scan accumulates step by step become one contraction after the loop.

A reverse-mode scan accumulates the cotangent of every weight the body closes over:
`acc += h_t.T @ g_t`, `acc += sum(g_t, 0)`, one small product and one add per step. When
both factors differ per step and are available stacked (an x of the scan, or a value the body
can hand out as a y), the whole sum is one product over the stacked arrays, contracting the
step axis too: `acc0 + H.T @ G` with `H` and `G` of `length * batch` rows. The same number of
multiply-adds, but one large GEMM instead of `length` small ones with `length` adds, and the
accumulator leaves the loop. Likewise a `reduce_sum` accumulated in a carry is one reduction
over the stacked values.

A carry qualifies when its update is `add(carry, t)` (either order), the carry parameter and
each value on the way being read by nothing else, `t` a chain of transposes ending at a
`dot_general` without batch dimensions whose operands both vary per step (an x, or an
instruction of the body; not a carry, not a const), or at a `reduce_sum` of such a value.
Stacking a new y costs `length` times its size; past `STACK_BYTES` in all the carry stays.

The other direction too: a product of an x with a const (`x_t @ U` in an RNN cell) does not
depend on the carry, so all steps' products are one GEMM over the stacked xs before the loop
(`length * batch` rows), and the body reads its step's slice as a new x.
"""
from __future__ import annotations

from ops.dtypes import kind as _kind

from .. import ir
from .dce import dce

STACK_BYTES = 1 << 28


def loop_sums(module: ir.Module) -> ir.Module:
    uses = module.call_counts()
    changed = False
    for comp in list(module.computations.values()):
        # One pass to find each loop's readers, one to place the new instructions and
        # redirect the readers of replaced results: linear in the computation's length.
        readers, replace, placed = {}, {}, {}
        for instr in comp.instructions:
            for o in instr.operands:
                if o.opcode == "scan":
                    readers.setdefault(o.id, []).append(instr)
        for loop in comp.instructions:
            if loop.opcode == "scan" and uses.get(loop.called[0].name) == 1 \
                    and comp.root is not loop:
                before = _hoist_x_products(module, loop)
                after = _hoist_sums(module, loop, readers.get(loop.id, []), replace)
                if before or after:
                    placed[loop.id] = (before, after)
        if not placed:
            continue
        changed = True
        new = []
        for instr in comp.instructions:
            before, after = placed.get(instr.id, ((), ()))
            new.extend(before)
            new.append(instr)
            new.extend(after)
        for instr in new:
            instr.operands = [replace.get(o.id, o) for o in instr.operands]
        comp.root = replace.get(comp.root.id, comp.root)
        comp.instructions = new
    return dce(module) if changed else module


def _readers(comp):
    count = {}
    for i in comp.instructions:
        for o in i.operands:
            count[o.id] = count.get(o.id, 0) + 1
    return count


def _bytes(shape):
    return shape.size * shape.dtype.itemsize


def _match(body, out, param, readers, n, m, var):
    """(chain of transposes outermost first, the dot or reduce) when `out` is `param + t`."""
    if out.opcode != "add" or len(out.operands) != 2 or readers.get(param.id) != 1:
        return None
    a, b = out.operands
    t = b if a is param else a if b is param else None
    if t is None or t.shape != param.shape or t is param:
        return None
    chain = []
    while t.opcode == "transpose" and readers.get(t.id) == 1:
        chain.append(t)
        t = t.operands[0]
    if readers.get(t.id) != 1 or _kind(t.shape.dtype) != "f":
        return None
    if t.opcode == "dot_general":
        (_, _), (lb, rb) = t.attrs["dimension_numbers"]
        if lb or rb or t.attrs.get("preferred_element_type") is not None:
            return None
    elif t.opcode != "reduce_sum":
        return None

    def stackable(v):   # an x, or a body value that varies per step
        if v.opcode == ir.PARAMETER:
            return n <= v.attrs["index"] < n + m
        return v.id in var and not isinstance(v.shape, tuple)
    if not all(stackable(v) for v in t.operands):
        return None
    return chain, t


def _hoist_sums(module, loop, loop_readers, replace):
    """The instructions to place after `loop` (its accumulated carries' sums); the readers of
    those carries' results are to read the sums instead (`replace`, by id)."""
    body = loop.called[0]
    n, m, length = loop.attrs["num_carry"], loop.attrs["num_xs"], loop.attrs["length"]
    root = body.root
    outs = list(root.operands) if root.opcode == ir.TUPLE else [root]
    params = {p.attrs["index"]: p for p in body.parameters}
    gtes = {}
    for i in loop_readers:
        if i.opcode != ir.GET_TUPLE_ELEMENT:
            return []
        gtes.setdefault(i.attrs["index"], []).append(i)
    readers = _readers(body)
    var = {p.id for k, p in params.items() if k < n + m}
    for i in body.instructions:
        if i.opcode != ir.PARAMETER and any(o.id in var for o in i.operands):
            var.add(i.id)
    budget = STACK_BYTES
    new_ys = {}       # body instruction id -> index of the new y
    y_gte = {}        # body instruction id -> the loop's output holding it stacked
    after = []        # instructions to place after the loop
    for k in range(n):
        got = _match(body, outs[k], params[k], readers, n, m, var)
        if got is None or k not in gtes:
            continue
        chain, t = got
        extra = sum(_bytes(v.shape) * length for v in t.operands
                    if v.opcode != ir.PARAMETER and v.id not in new_ys)
        if extra > budget:
            continue
        budget -= extra
        stacked = []
        for v in t.operands:
            if v.opcode == ir.PARAMETER:
                stacked.append(loop.operands[v.attrs["index"]])
                continue
            if v.id not in new_ys:
                new_ys[v.id] = len(outs) + len(new_ys)
                shape = ir.Shape(v.shape.dtype, (length,) + tuple(v.shape.dims))
                g = ir.Instruction(module.fresh_id(), ir.GET_TUPLE_ELEMENT, [loop], shape,
                                   {"index": new_ys[v.id]}, location=loop.location)
                after.append(g)
                y_gte[v.id] = g
            stacked.append(y_gte[v.id])
        if t.opcode == "dot_general":
            (lc, rc), _ = t.attrs["dimension_numbers"]
            dn = (((0,) + tuple(c + 1 for c in lc), (0,) + tuple(c + 1 for c in rc)), ((), ()))
            attrs = dict(t.attrs, dimension_numbers=dn)
        else:
            attrs = dict(t.attrs, axes=(0,) + tuple(a + 1 for a in t.attrs["axes"]))
        total = ir.Instruction(module.fresh_id(), t.opcode, stacked, t.shape, attrs,
                               location=t.location)
        after.append(total)
        for c in reversed(chain):
            total = ir.Instruction(module.fresh_id(), c.opcode, [total], c.shape, c.attrs,
                                   location=c.location)
            after.append(total)
        add = outs[k]
        final = ir.Instruction(module.fresh_id(), add.opcode, [loop.operands[k], total],
                               add.shape, add.attrs, location=add.location)
        after.append(final)
        for g in gtes[k]:
            replace[g.id] = final
        outs[k] = params[k]    # the carry no longer changes; dce removes it
    if not after:
        return []
    by_id = {i.id: i for i in body.instructions}
    ys = [by_id[i] for i in sorted(new_ys, key=new_ys.get)]
    outs = outs + ys
    body.root = ir.Instruction(module.fresh_id(), ir.TUPLE, outs, tuple(o.shape for o in outs))
    body.instructions.append(body.root)
    loop.shape = tuple(loop.shape) + tuple(
        ir.Shape(y.shape.dtype, (length,) + tuple(y.shape.dims)) for y in ys)
    return after


def _hoist_x_products(module, loop):
    """`dot_general(x_t, const)` in the body -> one dot over the stacked xs, read as a new x;
    returns the instructions to place before `loop`."""
    body = loop.called[0]
    n, m, length = loop.attrs["num_carry"], loop.attrs["num_xs"], loop.attrs["length"]
    params = sorted(body.parameters, key=lambda p: p.attrs["index"])
    budget = STACK_BYTES
    before, new_params, swap = [], [], {}
    for d in list(body.instructions):
        if d.opcode != "dot_general" or d.attrs.get("preferred_element_type") is not None:
            continue
        (lc, rc), (lb, rb) = d.attrs["dimension_numbers"]
        x, w = d.operands
        if lb or rb or x.opcode != ir.PARAMETER or w.opcode != ir.PARAMETER \
                or not n <= x.attrs["index"] < n + m or w.attrs["index"] < n + m:
            continue
        size = _bytes(d.shape) * length
        if size > budget:
            continue
        budget -= size
        shape = ir.Shape(d.shape.dtype, (length,) + tuple(d.shape.dims))
        dn = ((tuple(c + 1 for c in lc), tuple(rc)), ((), ()))
        before.append(ir.Instruction(module.fresh_id(), "dot_general",
                                     [loop.operands[x.attrs["index"]],
                                      loop.operands[w.attrs["index"]]],
                                     shape, dict(d.attrs, dimension_numbers=dn),
                                     location=d.location))
        p = ir.Instruction(module.fresh_id(), ir.PARAMETER, [], d.shape, {"index": None})
        new_params.append(p)
        swap[d.id] = p
    if not before:
        return []
    for i in body.instructions:
        i.operands = [swap.get(o.id, o) for o in i.operands]
    body.root = swap.get(body.root.id, body.root)
    # New xs go after the old ones: renumber the consts after them.
    k = len(new_params)
    for q in params[n + m:]:
        q.attrs["index"] += k
    for j, q in enumerate(new_params):
        q.attrs["index"] = n + m + j
    body.parameters = params[:n + m] + new_params + params[n + m:]
    body.instructions = new_params + body.instructions
    loop.operands = loop.operands[:n + m] + before + loop.operands[n + m:]
    loop.attrs["num_xs"] = m + k
    return before
