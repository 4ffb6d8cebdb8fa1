"""Batching (vmap): run a computation on a batch of inputs, with each primitive's batch rule.

Batched values carry the batch as their leading axis; unbatched values are left alone, so a
computation's unbatched parts (weights, constants) are computed once, not once per example.
`batch_computation` binds on the current trace; `batch_module` is the same as a pass.
"""
from __future__ import annotations

from ops import core
from ops.autodiff import move_batch_to_front
from ops.core import PRIMITIVES

from .. import ir
from ..evaluate import CALL_RULES, output_instrs


def batch_computation(module: ir.Module, comp: ir.Computation, args, batched, size: int):
    """(outputs, which outputs are batched) of `comp` over a batch of `size` examples;
    `args[i]` has a leading batch axis iff `batched[i]`."""
    env, benv = {}, {}
    for p in comp.parameters:
        k = p.attrs["index"]
        env[p.id], benv[p.id] = args[k], bool(batched[k])
    for instr in comp.instructions:
        op = instr.opcode
        if op == ir.PARAMETER:
            continue
        if op == ir.CONSTANT:
            env[instr.id], benv[instr.id] = instr.attrs["value"], False
            continue
        xs = [env[o.id] for o in instr.operands]
        bs = [benv[o.id] for o in instr.operands]
        if op == ir.TUPLE:
            env[instr.id], benv[instr.id] = tuple(xs), tuple(bs)
        elif op == ir.GET_TUPLE_ELEMENT:
            i = instr.attrs["index"]
            env[instr.id], benv[instr.id] = xs[0][i], bs[0][i]
        elif instr.called:
            outs, obs = CALL_RULES[op].batch(module, instr, xs, bs, size)
            multi = isinstance(instr.shape, tuple)
            env[instr.id] = tuple(outs) if multi else outs[0]
            benv[instr.id] = tuple(obs) if multi else obs[0]
        elif not any(_flat_any(b) for b in bs):
            env[instr.id] = core.bind(PRIMITIVES[op], *xs, **instr.attrs)
            benv[instr.id] = (False,) * len(instr.shape) if isinstance(instr.shape, tuple) \
                else False
        else:
            env[instr.id], benv[instr.id] = PRIMITIVES[op].batch(xs, bs, size, **instr.attrs)
    outs = output_instrs(comp)
    return [env[o.id] for o in outs], [benv[o.id] for o in outs]


def _flat_any(b):
    return any(b) if isinstance(b, tuple) else b


def batch_module(module: ir.Module, batched, size: int) -> ir.Module:
    """A Module taking the inputs with a leading batch axis of `size` where `batched[i]`, and
    returning every output batched along axis 0."""
    from ..builder import build
    entry = module.entry
    avals = [core.ShapedArray(((size,) if b else ()) + p.shape.dims, p.shape.dtype)
             for p, b in zip(entry.parameters, batched)]

    def fn(*xs):
        outs, obs = batch_computation(module, entry, list(xs), batched, size)
        return [move_batch_to_front(o, b, size) for o, b in zip(outs, obs)]

    new = ir.Module(module.name + ".batched")
    _, comp, _, _ = build(new.name, fn, avals, new)
    new.set_entry(comp)
    return new
