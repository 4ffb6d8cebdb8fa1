"""Primitives about derivatives themselves: `stop_gradient`, and the two call-like primitives
that carry user-defined derivative rules (`custom_jvp_call`, `custom_vjp_call`).

The call-like ones run sub-computations (the function and its rules), which only the IR can
hold; their evaluation and transform rules are in `xla_like.custom_calls`, keyed by opcode.
They are marked `call_like = True`.
"""
from __future__ import annotations

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
custom_jvp_call_p.__doc__ = ("calls=(function, jvp rule): evaluates the function; forward mode "
                             "uses the rule, reverse mode transposes it")

custom_vjp_call_p = Primitive("custom_vjp_call", "custom_derivatives", multiple_results=True)
custom_vjp_call_p.call_like = True
custom_vjp_call_p.inlinable = True
custom_vjp_call_p.lowering = "calls"
custom_vjp_call_p.__doc__ = ("calls=(function, forward rule, backward rule): evaluates the "
                             "function; reverse mode runs the user's forward and backward rules")
