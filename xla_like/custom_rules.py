"""Python derivative rules of custom_jvp/custom_vjp calls, used when a transform needs them.

A custom call holds its function as a sub-computation, but its rules as Python objects (see
`ops.custom_derivatives.register_rules`): they are run or traced only when a derivative is
taken, as in JAX. This file traces such a rule into a computation of its own (to transpose a
JVP rule) and makes the rules of a batched call from the rules of the unbatched one.
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.autodiff import move_batch_to_front

from .builder import build
from .passes.batching import batch_computation


def _concrete(x):
    """The NumPy value of `x` if it is known now, else None."""
    if isinstance(x, core.Tracer):
        return x.concrete
    return core.to_numpy(x)


def trace_rule(name, fn, avals, concretes=None):
    """Trace `fn(*leaves) -> list` into a Module of its own. Returns (module, computation,
    the outer values it closed over); they are the computation's last arguments."""
    if concretes is not None and (any(c is None for c in concretes) or any(
            type(d) is not int for a in avals for d in a.shape)):
        # Symbolic sizes (a bucketed trace): values of one example size would pin them.
        concretes = None
    module, comp, _, captured = build(name, fn, avals, concrete_inputs=concretes)
    module.set_entry(comp)
    return module, comp, [t for t, _ in captured]


def traced_jvp_rule(instr, primals):
    """The JVP rule of custom_jvp call `instr`, traced at `primals`:
    (module, computation of (primals..., tangents..., captured...), captured values).
    Where the primals' values are known, the trace carries them (tangents as zeros: the rule
    is linear in them), so the rule can branch on the primals in Python."""
    from ops.custom_derivatives import lookup_rules
    rules = lookup_rules(instr.attrs["rule"])
    avals = [core.get_aval(p) for p in primals]
    n = len(avals)
    concretes = [_concrete(p) for p in primals] + [np.zeros(a.shape, a.dtype) for a in avals]

    def fn(*xs):
        outs, touts = rules.jvp(list(xs[:n]), list(xs[n:]))
        return list(outs) + list(touts)
    return trace_rule(rules.name + ".jvp", fn, avals + avals, concretes)


def _unbatched(x):
    a = core.get_aval(x)
    return core.ShapedArray(a.shape[1:], a.dtype)


def _batched_call(rules_name, fn, base_avals, args, flags, size):
    """Trace `fn` at the unbatched `base_avals`, run it over the batch `args` (batched where
    `flags`); every output with a leading batch axis."""
    module, comp, captured = trace_rule(rules_name, fn, base_avals)
    outs, obs = batch_computation(module, comp, list(args) + captured,
                                  list(flags) + [False] * len(captured), size)
    return [move_batch_to_front(o, b, size) for o, b in zip(outs, obs)]


class BatchedJVPRules:
    """The JVP rule of a batched custom_jvp call: the unbatched rule, batched when used."""

    def __init__(self, rules, flags, base_avals, size):
        self.rules, self.flags, self.base, self.size = rules, [bool(f) for f in flags], \
            list(base_avals), size
        self.name = rules.name + ".batched"

    def jvp(self, primals, tangents):
        n = len(primals)
        # A tangent has its primal's shape, so it is batched where the primal is.
        tflags = [len(core.get_aval(t).shape) > len(a.shape)
                  for t, a in zip(tangents, self.base)]
        box = {}

        def fn(*xs):
            outs, touts = self.rules.jvp(list(xs[:n]), list(xs[n:]))
            box["m"] = len(outs)
            return list(outs) + list(touts)
        res = _batched_call(self.name + ".jvp", fn, self.base + self.base,
                            list(primals) + list(tangents), self.flags + tflags, self.size)
        return res[:box["m"]], res[box["m"]:]


class BatchedVJPRules:
    """The forward and backward rules of a batched custom_vjp call: the unbatched rules,
    batched when used. Residuals and output cotangents are batched along axis 0; an
    input's cotangent is summed over the batch where the input itself is not batched."""

    def __init__(self, rules, flags, base_avals, size):
        self.rules, self.flags, self.base, self.size = rules, [bool(f) for f in flags], \
            list(base_avals), size
        self.name = rules.name + ".batched"
        self.n_out = self.res_avals = None

    def fwd(self, primals):
        def fn(*xs):
            outs, res = self.rules.fwd(list(xs))
            self.n_out = len(outs)
            self.res_avals = [core.get_aval(r) for r in res]
            return list(outs) + list(res)
        res = _batched_call(self.name + ".fwd", fn, self.base, primals, self.flags, self.size)
        return res[:self.n_out], res[self.n_out:]

    def bwd(self, res, cts):
        from ops.reduction import reduce_sum
        nr = len(res)
        ct_avals = [_unbatched(c) for c in cts]
        cts_in = _batched_call(self.name + ".bwd",
                               lambda *xs: list(self.rules.bwd(list(xs[:nr]), list(xs[nr:]))),
                               self.res_avals + ct_avals, list(res) + list(cts),
                               [True] * (nr + len(cts)), self.size)
        return [c if f else reduce_sum(c, axes=(0,)) for c, f in zip(cts_in, self.flags)]
