"""Structured control flow: the call-like primitives `cond`, `while` and `scan`.

Each holds its bodies as sub-computations, which only the IR can hold, so their evaluation and
transform rules live in `xla_like.control_flow` (keyed by opcode, like the custom-derivative
calls). Operands are laid out so that every sub-computation takes the values it closed over
(`consts`) last, after its explicit arguments:

- `cond(index, operands..., consts...)`, calls=(branch_0, ..., branch_n-1): runs
  `branch_clamp(index)(operands..., consts...)`; every branch takes the same parameters.
- `while(carry..., consts...)`, calls=(cond, body), num_carry: while `cond(carry..., consts...)`
  (a bool scalar) holds, `carry = body(carry..., consts...)`.
- `scan(carry..., xs..., consts...)`, calls=(body,), num_carry, num_xs, length, reverse:
  `body(carry..., x_t..., consts...) -> (carry..., y_t...)` for t over the leading axis of the
  xs (backwards when `reverse`); outputs the final carry and the ys stacked along a new
  leading axis.
"""
from __future__ import annotations

from .core import Primitive

cond_p = Primitive("cond", "control_flow", multiple_results=True)
cond_p.call_like = True
cond_p.lowering = "control"
cond_p.__doc__ = "calls=branches: runs the branch chosen by a clamped integer index"

while_p = Primitive("while", "control_flow", multiple_results=True)
while_p.call_like = True
while_p.lowering = "control"
while_p.__doc__ = "calls=(cond, body): repeats body on the carry while cond holds"

scan_p = Primitive("scan", "control_flow", multiple_results=True)
scan_p.call_like = True
scan_p.lowering = "control"
scan_p.__doc__ = "calls=(body,): runs body over the leading axis of xs, threading a carry"
