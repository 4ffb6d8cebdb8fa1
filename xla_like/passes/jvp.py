"""Forward mode: push tangents through a computation with each primitive's JVP rule.

`jvp_computation` interprets a computation on (primal, tangent) pairs, binding on the current
trace (numbers eagerly, IR inside a trace). A tangent of None is a symbolic zero: instructions
with only zero tangents are simply replayed, so forward mode costs nothing where nothing varies.
`jvp_module` is the same as a pass: `Module -> Module` over (primals..., tangents...).
"""
from __future__ import annotations

from ops import core
from ops.autodiff import zeros_like_aval
from ops.core import PRIMITIVES

from .. import ir
from ..evaluate import CALL_RULES, output_instrs


def jvp_computation(module: ir.Module, comp: ir.Computation, primals, tangents):
    """(outputs, output tangents) of `comp` at `primals` along `tangents` (None = zero)."""
    env, tenv = {}, {}
    for p in comp.parameters:
        k = p.attrs["index"]
        env[p.id], tenv[p.id] = primals[k], tangents[k]
    for instr in comp.instructions:
        op = instr.opcode
        if op == ir.PARAMETER:
            continue
        if op == ir.CONSTANT:
            env[instr.id], tenv[instr.id] = instr.attrs["value"], None
            continue
        args = [env[o.id] for o in instr.operands]
        targs = [tenv.get(o.id) for o in instr.operands]
        if op == ir.TUPLE:
            env[instr.id], tenv[instr.id] = tuple(args), tuple(targs)
        elif op == ir.GET_TUPLE_ELEMENT:
            i = instr.attrs["index"]
            env[instr.id] = args[0][i]
            tenv[instr.id] = targs[0][i] if targs[0] is not None else None
        elif instr.called:
            outs, touts = CALL_RULES[op].jvp(module, instr, args, targs)
            multi = isinstance(instr.shape, tuple)
            env[instr.id] = tuple(outs) if multi else outs[0]
            tenv[instr.id] = tuple(touts) if multi else touts[0]
        elif all(t is None for t in targs):
            env[instr.id] = core.bind(PRIMITIVES[op], *args, **instr.attrs)
            tenv[instr.id] = None
        else:
            env[instr.id], tenv[instr.id] = PRIMITIVES[op].jvp(args, targs, **instr.attrs)
    outs = output_instrs(comp)
    return [env[o.id] for o in outs], [tenv.get(o.id) for o in outs]


def jvp_module(module: ir.Module, with_tangent=None) -> ir.Module:
    """A Module computing `(outputs..., output tangents...)` from `(primals..., tangents...)`,
    with a tangent parameter for each input whose `with_tangent` entry is true (default: every
    floating-point input). Zero output tangents are materialized as zeros."""
    from ..builder import build
    entry = module.entry
    avals = [core.ShapedArray(p.shape.dims, p.shape.dtype) for p in entry.parameters]
    if with_tangent is None:
        with_tangent = [a.dtype.kind == "f" for a in avals]
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
