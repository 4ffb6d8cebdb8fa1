"""Which intermediates of a scan body its reverse mode reads: the residuals a forward scan saves.

Reverse mode of `scan` runs the body forward once (the primal scan itself) and the body's VJP
backwards. The VJP reads some forward values: a `dot`'s operands, a `tanh`'s output... Saving
those per step, instead of only each step's carry, spares the backward scan from recomputing
the step's products. Which values the VJP reads is found by tracing it once into a scratch
module: a forward value is read when an instruction of the backward part (traced after the
forward replay) uses it and survives dead-code elimination.

Only values that change from step to step are worth saving (loop-invariant ones are recomputed,
and then hoisted out of the loop); values a kernel recomputes for free (broadcasts, reshapes)
are recomputed from their operands instead. Parameters are not in the plan: the forward scan
saves every carry, and the xs and consts are available to the backward scan as they are.
Saving stops at `RESIDUAL_BYTES` in all, past which the backward scan recomputes each step from
its saved carry.
"""
from __future__ import annotations

import weakref

from ops.dtypes import kind as _kind
from ops.core import PRIMITIVES, ShapedArray

from . import ir
from .builder import IRTracer, build
from .control_flow import out_avals_of
from .passes.dce import dce_computation

RESIDUAL_BYTES = 1 << 28     # reverse-mode scan: memory for the saved intermediates, all steps

_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _free(instr) -> bool:
    prim = PRIMITIVES.get(instr.opcode)
    return prim is not None and (prim.linear_order or prim.positional)


def _variant(body, n, m):
    """Ids of `body`'s instructions that depend on a carry or an x (differ between steps)."""
    var = {p.id for p in body.parameters if p.attrs["index"] < n + m}
    for instr in body.instructions:
        if instr.opcode != ir.PARAMETER and any(o.id in var for o in instr.operands):
            var.add(instr.id)
    return var


def _reads(module, body):
    """Ids of `body`'s instructions whose forward values the body's VJP reads (every float
    input differentiated, every float output given a cotangent)."""
    from .passes.vjp import forward_env, pull_back
    avals = [ShapedArray(p.shape.dims, p.shape.dtype) for p in body.parameters]
    out_avals = out_avals_of(body)
    wrt = [_kind(a.dtype) == "f" for a in avals]
    has_ct = [_kind(a.dtype) == "f" for a in out_avals]
    scratch = ir.Module("scan.residuals")
    seen = {}

    def fn(*xs):
        env, res = forward_env(module, body, list(xs[:len(avals)]))
        seen["env"], seen["mark"] = env, scratch._next_id
        cts = iter(xs[len(avals):])
        in_cts = pull_back(module, body, env, wrt, [next(cts) if f else None for f in has_ct],
                           res)
        return [c for c in in_cts if c is not None] or [xs[0]]
    _, comp, _, _ = build("scan.residuals", fn,
                          avals + [a for a, f in zip(out_avals, has_ct) if f], scratch)
    dce_computation(comp)
    mark = seen["mark"]
    used = {o.id for i in comp.instructions if i.id >= mark for o in i.operands}
    return {k for k, v in seen["env"].items()
            if isinstance(v, IRTracer) and v.instr.id in used}


def residual_plan(module, body, n, m):
    """The ids of `body`'s instructions to save at every step, in program order."""
    key = (len(body.instructions), body.root.id)   # a pass may have changed the body since
    got = _PLANS.get(body)
    if got is not None and got[0] == key:
        return got[1]
    var = _variant(body, n, m)
    by_id = {i.id: i for i in body.instructions}
    want, todo = set(), [k for k in _reads(module, body) if k in var]
    while todo:
        i = by_id[todo.pop()]
        if i.id in want or i.opcode == ir.PARAMETER or isinstance(i.shape, tuple):
            continue
        if _free(i):   # recompute it from its operands
            todo.extend(o.id for o in i.operands if o.id in var)
        else:
            want.add(i.id)
    plan = [i.id for i in body.instructions if i.id in want]
    _PLANS[body] = (key, plan)
    return plan


def plan_bytes(body, plan, length):
    by_id = {i.id: i for i in body.instructions}
    return length * sum(by_id[k].shape.size * by_id[k].shape.dtype.itemsize for k in plan)
