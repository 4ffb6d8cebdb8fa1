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
from ..evaluate import Walker, call_rules, output_instrs, pack, walk


class _Batch(Walker):
    """Values are (value, batched) pairs; `batched` is a tuple of flags for tuple values."""

    def __init__(self, module, size):
        self.module, self.size = module, size

    def constant(self, instr):
        return instr.attrs["value"], False

    def tuple(self, instr, values):
        return tuple(v for v, _ in values), tuple(b for _, b in values)

    def element(self, instr, value):
        i = instr.attrs["index"]
        return value[0][i], value[1][i]

    def apply(self, instr, values):
        xs = [v for v, _ in values]
        bs = [b for _, b in values]
        if instr.called:
            outs, obs = call_rules(instr).batch(self.module, instr, xs, bs, self.size)
            return pack(instr, outs), pack(instr, obs)
        # A collective has a rule even for unbatched operands (psum of one scales it).
        if not any(_flat_any(b) for b in bs) and not getattr(
                PRIMITIVES[instr.opcode], "collective", False):
            value = core.bind(PRIMITIVES[instr.opcode], *xs, **instr.attrs)
            return value, ((False,) * len(instr.shape) if isinstance(instr.shape, tuple)
                           else False)
        return PRIMITIVES[instr.opcode].batch(xs, bs, self.size, **instr.attrs)


def batch_computation(module: ir.Module, comp: ir.Computation, args, batched, size: int):
    """(outputs, which outputs are batched) of `comp` over a batch of `size` examples;
    `args[i]` has a leading batch axis iff `batched[i]`."""
    pairs = [(a, bool(b)) for a, b in zip(args, batched)]
    env = walk(comp, pairs, _Batch(module, size))
    outs = [env[o.id] for o in output_instrs(comp)]
    return [v for v, _ in outs], [b for _, b in outs]


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
