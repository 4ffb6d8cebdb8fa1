"""Forward mode: push tangents through a computation with each primitive's JVP rule.

`jvp_computation` interprets a computation on (primal, tangent) pairs, binding on the current
trace (numbers eagerly, IR inside a trace). A tangent of None is a symbolic zero: instructions
with only zero tangents are simply replayed, so forward mode costs nothing where nothing varies.
`jvp_module` is the same as a pass: `Module -> Module` over (primals..., tangents...).
"""
from __future__ import annotations

from ops.dtypes import kind as _kind
from ops import core
from ops.autodiff import zeros_like_aval
from ops.core import PRIMITIVES

from .. import ir
from ..evaluate import Walker, call_rules, output_instrs, pack, walk


class _JVP(Walker):
    """Values are (primal, tangent) pairs; a tangent of None is a symbolic zero."""

    def __init__(self, module):
        self.module = module

    def constant(self, instr):
        return instr.attrs["value"], None

    def tuple(self, instr, values):
        return tuple(v for v, _ in values), tuple(t for _, t in values)

    def element(self, instr, value):
        i = instr.attrs["index"]
        return value[0][i], (value[1][i] if value[1] is not None else None)

    def apply(self, instr, values):
        args = [v for v, _ in values]
        targs = [t for _, t in values]
        if all(t is None for t in targs):     # nothing varies: replay, the tangent stays zero
            if instr.called:
                outs = call_rules(instr).eval(self.module, instr, args)
                return pack(instr, outs), pack(instr, [None] * len(outs))
            return core.bind(PRIMITIVES[instr.opcode], *args, **instr.attrs), None
        if instr.called:
            outs, touts = call_rules(instr).jvp(self.module, instr, args, targs)
            return pack(instr, outs), pack(instr, touts)
        return PRIMITIVES[instr.opcode].jvp(args, targs, **instr.attrs)


def jvp_computation(module: ir.Module, comp: ir.Computation, primals, tangents):
    """(outputs, output tangents) of `comp` at `primals` along `tangents` (None = zero)."""
    env = walk(comp, list(zip(primals, tangents)), _JVP(module))
    outs = [env[o.id] for o in output_instrs(comp)]
    return [v for v, _ in outs], [t for _, t in outs]


def jvp_module(module: ir.Module, with_tangent=None) -> ir.Module:
    """A Module computing `(outputs..., output tangents...)` from `(primals..., tangents...)`,
    with a tangent parameter for each input whose `with_tangent` entry is true (default: every
    floating-point input). Zero output tangents are materialized as zeros."""
    from ..builder import build
    entry = module.entry
    avals = [core.ShapedArray(p.shape.dims, p.shape.dtype) for p in entry.parameters]
    if with_tangent is None:
        with_tangent = [_kind(a.dtype) in "fc" for a in avals]
    t_avals = [a for a, w in zip(avals, with_tangent) if w]
    n = len(avals)

    def fn(*xs):
        primals, ts = list(xs[:n]), iter(xs[n:])
        tangents = [next(ts) if w else None for w in with_tangent]
        outs, touts = jvp_computation(module, entry, primals, tangents)
        return outs + [t if t is not None else zeros_like_aval(core.get_aval(o))
                       for o, t in zip(outs, touts)]

    new = ir.Module(module.name + ".jvp")
    _, comp, _, _ = build(new.name, fn, avals + t_avals, new)
    new.set_entry(comp)
    return new
