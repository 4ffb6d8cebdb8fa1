"""Reverse mode: pull output cotangents back through a computation with each primitive's VJP.

`vjp_computation` replays the computation forward (binding on the current trace, so the primal
values it needs exist there), then walks it backwards from the outputs' cotangents, asking
each primitive's VJP rule for its operands' cotangents and adding contributions where a value
is used several times. Only instructions that depend on an input being differentiated are
visited on the way back, and a cotangent of None is a symbolic zero.
A call-like primitive whose rules have `forward(module, instr, args) -> (outputs, residuals)`
runs that way in the replay (a scan saving, per step, what its VJP reads), and its VJP is then
`vjp_saved(..., residuals)`: the forward work is done once, not again to recover intermediates.
`vjp_module` is the same as a pass.
"""
from __future__ import annotations

from ops.dtypes import kind as _kind
from ops import core
from ops.autodiff import add_any, zeros_like_aval
from ops.core import PRIMITIVES

from .. import ir
from ..evaluate import Walker, call_rules, output_instrs, pack, walk


class RuleError(AssertionError):
    """A VJP rule returned a cotangent of the wrong type: a bug in the rule, named here."""


def _active(comp, wrt):
    """Ids of the float instructions that depend on a differentiated parameter."""
    active = set()
    for p in comp.parameters:
        if wrt[p.attrs["index"]]:
            active.add(p.id)
    for instr in comp.instructions:
        if instr.opcode != ir.PARAMETER and any(o.id in active for o in instr.operands):
            active.add(instr.id)
    return active


def _check(instr, k, ct):
    want = instr.operands[k].shape
    got = core.get_aval(ct)
    if isinstance(want, ir.Shape) and (got.shape != want.dims or got.dtype != want.dtype):
        raise RuleError(f"the VJP rule of {instr.opcode} gave operand {k} a cotangent "
                        f"{got.str_short()}, but the operand is {want}")


class ForwardReplay(Walker):
    """Replays a computation for reverse mode: instructions whose rules can save residuals
    (`forward`) do, into `residuals` by instruction id; `saved` values (by id) are taken as they
    are instead of being recomputed."""

    def __init__(self, module, saved=None):
        self.module = module
        self.saved = saved or {}
        self.residuals = {}

    def constant(self, instr):
        return self.saved.get(instr.id, instr.attrs["value"])

    def element(self, instr, value):
        if instr.id in self.saved:
            return self.saved[instr.id]
        return value[instr.attrs["index"]]

    def apply(self, instr, values):
        if instr.id in self.saved:
            return self.saved[instr.id]
        if instr.called:
            rules = call_rules(instr)
            if hasattr(rules, "forward"):
                outs, res = rules.forward(self.module, instr, values)
                if res is not None:
                    self.residuals[instr.id] = res
                return pack(instr, outs)
            return pack(instr, rules.eval(self.module, instr, values))
        return core.bind(PRIMITIVES[instr.opcode], *values, **instr.attrs)


def forward_env(module, comp, args, saved=None):
    """(every instruction's value by id, residuals by id) of `comp` replayed at `args`."""
    walker = ForwardReplay(module, saved)
    return walk(comp, args, walker), walker.residuals


def vjp_computation(module: ir.Module, comp: ir.Computation, primals, wrt, out_cts, env=None,
                    residuals=None):
    """(outputs, input cotangents) of `comp` at `primals`, for output cotangents `out_cts`
    (None = zero); input cotangents are None for inputs not in `wrt` or not reached. `env`:
    the forward values by instruction id when the caller already has them (rematerialization
    replays with some values taken from memory); by default they are replayed here."""
    if env is None:
        env, residuals = forward_env(module, comp, primals)  # the values the rules need
    return [env[o.id] for o in output_instrs(comp)], pull_back(module, comp, env, wrt, out_cts,
                                                               residuals)


def pull_back(module, comp, env, wrt, out_cts, residuals=None):
    """The cotangents of `comp`'s parameters (None = zero or not in `wrt`), walking backwards
    from `out_cts` with the forward values `env` (and call-like instructions' `residuals`)."""
    residuals = residuals or {}
    active = _active(comp, wrt)
    outs = output_instrs(comp)
    ct = {}
    for o, c in zip(outs, out_cts):
        if c is not None and o.id in active:
            ct[o.id] = add_any(ct.get(o.id), c)
    param_ct = [None] * len(comp.parameters)
    for instr in reversed(comp.instructions):
        c = ct.pop(instr.id, None)
        if c is None:
            continue
        op = instr.opcode
        if op == ir.PARAMETER:
            param_ct[instr.attrs["index"]] = c
            continue
        if op == ir.CONSTANT:
            continue
        args = [env[o.id] for o in instr.operands]
        if op == ir.TUPLE:
            in_cts = list(c)
        elif op == ir.GET_TUPLE_ELEMENT:
            src = instr.operands[0]
            k = instr.attrs["index"]
            whole = list(ct.pop(src.id, None) or (None,) * len(src.shape))
            whole[k] = add_any(whole[k], c)
            ct[src.id] = tuple(whole)
            continue
        elif instr.called and instr.id in residuals:
            in_cts = call_rules(instr).vjp_saved(module, instr, args, env[instr.id], c,
                                                 residuals[instr.id])
        elif instr.called:
            in_cts = call_rules(instr).vjp(module, instr, args, env[instr.id], c)
        else:
            in_cts = PRIMITIVES[op].vjp(c, env[instr.id], args, **instr.attrs)
        for k, (o, oc) in enumerate(zip(instr.operands, in_cts)):
            if oc is None or o.id not in active:
                continue
            if not instr.called and op != ir.TUPLE:
                _check(instr, k, oc)
            if isinstance(o.shape, tuple):
                prev = ct.get(o.id) or (None,) * len(o.shape)
                ct[o.id] = tuple(add_any(a, b) for a, b in zip(prev, oc))
            else:
                ct[o.id] = add_any(ct.get(o.id), oc)
    return param_ct


def vjp_module(module: ir.Module, wrt=None) -> ir.Module:
    """A Module computing `(outputs..., cotangents of the wrt inputs...)` from
    `(primals..., output cotangents...)`; `wrt` defaults to every floating-point input.
    Unreached inputs get zero cotangents."""
    from ..builder import build
    entry = module.entry
    avals = [core.ShapedArray(p.shape.dims, p.shape.dtype) for p in entry.parameters]
    if wrt is None:
        wrt = [_kind(a.dtype) in "fc" for a in avals]
    out_avals = [core.ShapedArray(o.shape.dims, o.shape.dtype) for o in output_instrs(entry)]
    n = len(avals)

    def fn(*xs):
        outs, cts = vjp_computation(module, entry, list(xs[:n]), wrt, list(xs[n:]))
        return outs + [c if c is not None else zeros_like_aval(a)
                       for c, a, w in zip(cts, avals, wrt) if w]

    new = ir.Module(module.name + ".vjp")
    _, comp, _, _ = build(new.name, fn, avals + out_avals, new)
    new.set_entry(comp)
    return new
