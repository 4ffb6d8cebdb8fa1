"""Primitives about derivatives themselves: `stop_gradient`, and the two call-like primitives
that carry user-defined derivative rules (`custom_jvp_call`, `custom_vjp_call`).

The call-like ones run sub-computations (the function and its rules), which only the IR can
hold; their evaluation and transform rules are in `xla_like.custom_calls`, keyed by opcode.
They are marked `call_like = True`.
"""
from __future__ import annotations

import itertools
import weakref

from .core import Primitive

stop_gradient_p = Primitive("stop_gradient", "custom_derivatives")
stop_gradient_p.abstract_eval = lambda x: x
stop_gradient_p.impl = lambda x: x
# The identity on values: elementwise, in the same linear order; the kernel emitter reads its
# operand in its place.
stop_gradient_p.elementwise = stop_gradient_p.cheap = stop_gradient_p.linear_order = True
stop_gradient_p.lowering = "kernel"
stop_gradient_p.complex_parts = "parts"


def _stop_gradient_jvp(primals, tangents):
    return stop_gradient_p.bind(*primals), None


stop_gradient_p.jvp = _stop_gradient_jvp
stop_gradient_p.vjp = lambda cts, ans, primals: (None,)
stop_gradient_p.batch = lambda args, batched, size: (stop_gradient_p.bind(*args), batched[0])


def stop_gradient(x):
    """`x`, with a derivative of zero: transforms see a constant."""
    return stop_gradient_p.bind(x)


# The identity, which common-subexpression elimination cannot see through: computations on
# its result are never merged with the same computations on its operand. A rematerialized
# backward pass (`jitcore.checkpoint`) reads its inputs through it, so its recomputation stays
# a recomputation instead of reusing the forward pass's values (and keeping them alive).
optimization_barrier_p = Primitive("optimization_barrier", "custom_derivatives")
optimization_barrier_p.abstract_eval = lambda x: x
optimization_barrier_p.impl = lambda x: x
optimization_barrier_p.elementwise = optimization_barrier_p.linear_order = True
optimization_barrier_p.lowering = "kernel"
optimization_barrier_p.complex_parts = "parts"
optimization_barrier_p.jvp = lambda primals, tangents: (
    optimization_barrier_p.bind(*primals), tangents[0])
optimization_barrier_p.vjp = lambda cts, ans, primals: (cts,)
optimization_barrier_p.batch = lambda args, batched, size: (
    optimization_barrier_p.bind(*args), batched[0])


def optimization_barrier(x):
    """`x`, as a value the compiler does not identify with `x` (see above)."""
    return optimization_barrier_p.bind(x)


custom_jvp_call_p = Primitive("custom_jvp_call", "custom_derivatives", multiple_results=True)
custom_jvp_call_p.call_like = True
custom_jvp_call_p.inlinable = True
custom_jvp_call_p.lowering = "calls"
custom_jvp_call_p.__doc__ = ("calls=(function[, jvp rule]): evaluates the function; forward "
                             "mode uses the rule (attribute `rule` when it is not traced), "
                             "reverse mode transposes it")

custom_vjp_call_p = Primitive("custom_vjp_call", "custom_derivatives", multiple_results=True)
custom_vjp_call_p.call_like = True
custom_vjp_call_p.inlinable = True
custom_vjp_call_p.lowering = "calls"
custom_vjp_call_p.__doc__ = ("calls=(function[, forward rule[, backward rule]]): evaluates "
                             "the function; reverse mode runs the user's forward and backward "
                             "rules (attribute `rule` for those not traced)")


# The Python derivative rules of a custom_jvp/custom_vjp call are run (or traced) only when a
# transform asks for them, as in JAX: `jit(f)` never traces f's rule, `grad(f)` never runs f
# itself. The instruction names its rules by a key into this table (attribute `rule`); the
# objects there have `jvp(primals, tangents) -> (outs, tangent_outs)` (custom_jvp) or
# `fwd(primals) -> (outs, residuals)` and `bwd(residuals, cotangents) -> input cotangents`
# (custom_vjp), all on flat lists of arrays, and a `name`. The key is a `RuleKey`: an int (so
# the IR prints and parses as usual) that holds its rules, and the table holds them weakly, so
# rules live exactly as long as an instruction (a cached trace, a compiled function's Module)
# refers to them: eager `grad` calls in a loop leave nothing behind.
_RULES: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_next_key = itertools.count()   # next() on it is atomic, so threads never share a key


class RuleKey(int):
    """An instruction's `rule` attribute: an int that keeps its rules object alive."""

    def __reduce__(self):   # pickled (disk cache) as the plain int it prints as
        return (int, (int(self),))


def register_rules(rules) -> int:
    """A key for `rules`, to store in an instruction's attributes."""
    key = RuleKey(next(_next_key))
    key.rules = rules
    _RULES[int(key)] = rules
    return key


def lookup_rules(key):
    rules = getattr(key, "rules", None)
    if rules is None:
        rules = _RULES.get(int(key))
    if rules is None:
        raise KeyError(f"custom derivative rules {int(key)} are gone: the trace that "
                       "registered them was dropped (a Module read back from text keeps only "
                       "the key)")
    return rules
