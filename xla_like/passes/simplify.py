"""Local algebraic simplification, applied as each instruction is built.

`peephole` returns an existing instruction that already computes the result (x*1, x+0, x-0,
x/1, -(-x), identity reshape/transpose/broadcast/convert, empty reductions), and
`fold_constant` evaluates instructions whose operands are all scalar constants. The builder
consults both before emitting, so user code, transform rules and passes all produce small IR:
a gradient never prints a chain of multiply-by-one. `simplify(module)` re-builds a Module to
apply them to IR that was built some other way (parsed text, say).
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from .. import ir


def _constant_value(instr):
    """The scalar value an instruction broadcasts everywhere, if it is a constant splat."""
    while instr.opcode == "broadcast_in_dim":
        instr = instr.operands[0]
    if instr.opcode == ir.CONSTANT:
        v = instr.attrs["value"]
        if v.size and (v.size == 1 or np.all(v == v.flat[0])):
            return v.flat[0]
    return None


def _is(instr, value) -> bool:
    c = _constant_value(instr)
    # Compare signs too: x + (-0.0) is x exactly, x + 0.0 is not for x = -0.0; XLA accepts
    # both, and so do we (the IEEE sign of a zero sum is the only difference).
    return c is not None and c == value


def _reduces_axes(op) -> bool:
    """A reduction over `axes` (over none it is the identity); not a scan or arg-reduction."""
    prim = PRIMITIVES.get(op)
    return prim is not None and prim.reduction is not None and not prim.cumulative and \
        not prim.arg_reduction


def _same_type(instr, out) -> bool:
    return instr.shape == ir.to_shape(out)


def peephole(op, operands, params, out):
    """An operand equal to the result of `op(*operands, **params)`, or None."""
    if op == "mul":
        a, b = operands
        if _is(b, 1) and _same_type(a, out):
            return a
        if _is(a, 1) and _same_type(b, out):
            return b
    elif op == "add":
        a, b = operands
        if _is(b, 0) and _same_type(a, out):
            return a
        if _is(a, 0) and _same_type(b, out):
            return b
    elif op == "sub":
        if _is(operands[1], 0) and _same_type(operands[0], out):
            return operands[0]
    elif op == "div":
        if _is(operands[1], 1) and _same_type(operands[0], out):
            return operands[0]
    elif op == "neg":
        (a,) = operands
        if a.opcode == "neg":
            return a.operands[0]
    elif op in ("convert_element_type", "reshape", "broadcast_in_dim", "squeeze"):
        if op == "broadcast_in_dim" and tuple(params["broadcast_dimensions"]) != tuple(
                range(len(operands[0].shape.dims))):
            return None
        if _same_type(operands[0], out):
            return operands[0]
    elif op == "transpose":
        if tuple(params["permutation"]) == tuple(range(len(params["permutation"]))):
            return operands[0]
    elif _reduces_axes(op):
        if not params["axes"]:
            return operands[0]
    elif op == "rev":
        if not params["dimensions"]:
            return operands[0]
    return None


def fold_constant(prim, operands, params, out):
    """The value of `prim` on scalar constant operands, or None (only scalars are folded, so no
    large constant is ever created)."""
    if out.shape or not operands or any(o.opcode != ir.CONSTANT for o in operands):
        return None
    if getattr(prim, "collective", False):  # its value depends on the enclosing vmap
        return None
    with np.errstate(all="ignore"):
        value = np.asarray(prim.impl(*[o.attrs["value"] for o in operands], **params))
    return value.astype(out.dtype, copy=False)


def simplify(module: ir.Module) -> ir.Module:
    """`module` re-built instruction by instruction: peepholes and folding applied, unused
    instructions gone. Same parameters, same results."""
    from ..evaluate import rebuild
    return rebuild(module)
