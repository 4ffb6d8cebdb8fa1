"""Transpose a loop's closed-over matrix once, before the loop, for the products that read it
transposed in every step.

A recurrent step's backward product `g @ W.T` reads W (a const of the loop: the same array in
every step) with its contracted axis last. GEMM routines take that through a flag, but the
CPU's small-product kernel (`backends/cpu/small_gemm.py`) reads its right operand as stored,
[K, N] row-major, and BLAS packs the operand on every call either way. So, after `layout`
(which leaves every dot's operands [batch, rows, cols], either possibly transposed), a 2-d
right operand that is a loop const and is contracted on its last axis is transposed once in
the enclosing computation, before the loop: the transposed copy enters the loop as a new
const, and the dot contracts its first axis. The result is the same product, with the same
terms summed.

Applies to `scan` loops of at least `MIN_STEPS` steps and to `while` loops (the copy costs
one pass over the matrix, a step's product reads it whole), whose sub-computations only that
instruction calls. Bucketed matrices (padded axes with a run-time extent) are left alone.
"""
from __future__ import annotations

from .. import ir

MIN_STEPS = 4


def loop_dot_layout(module: ir.Module) -> ir.Module:
    uses = module.call_counts()
    for comp in list(module.computations.values()):
        new_instrs = []
        for instr in comp.instructions:
            if instr.opcode in ("scan", "while") and \
                    all(uses.get(c.name) == 1 for c in instr.called) and \
                    (instr.opcode == "while" or instr.attrs["length"] >= MIN_STEPS):
                new_instrs.extend(_pretranspose(module, instr))
            new_instrs.append(instr)
        comp.instructions = new_instrs
    return module


def _first_const(loop):
    at = loop.attrs
    return at["num_carry"] + (at["num_xs"] if loop.opcode == "scan" else 0)


def _transposed_const(dot, first_const):
    """The body parameter a dot reads as a transposed 2-d right operand, or None."""
    (_, rc), (lb, rb) = dot.attrs["dimension_numbers"]
    rhs = dot.operands[1]
    if rhs.opcode != ir.PARAMETER or rhs.attrs["index"] < first_const or lb or rb or \
            len(rhs.shape.dims) != 2 or tuple(rc) != (1,) or \
            getattr(rhs.shape, "valid_rows", None) or getattr(rhs.shape, "valid_dims", None):
        return None
    return rhs


def _pretranspose(module, loop):
    """Rewrite the loop's dots; returns the transposes to place before `loop`."""
    body = loop.called[-1]    # while: (cond, body); scan: (body,)
    first = _first_const(loop)
    dots = [(i, p) for i in body.instructions if i.opcode == "dot_general"
            for p in [_transposed_const(i, first)] if p is not None]
    if not dots:
        return []
    made, before = {}, []      # body parameter id -> its transposed copy's new parameters
    for dot, param in dots:
        if param.id not in made:
            w = loop.operands[param.attrs["index"]]
            dims = tuple(reversed(w.shape.dims))
            t = ir.Instruction(module.fresh_id(), "transpose", [w],
                               ir.Shape(w.shape.dtype, dims), {"permutation": (1, 0)}, (),
                               loop.location)
            before.append(t)
            loop.operands.append(t)
            # A parameter of every sub-computation (the cond of a `while` ignores it),
            # numbered last and placed first, so every use comes after it.
            new = {}
            for comp in loop.called:
                p = ir.Instruction(module.fresh_id(), ir.PARAMETER, [], t.shape,
                                   {"index": len(comp.parameters)}, (), "")
                comp.instructions.insert(0, p)
                comp.parameters.append(p)
                new[comp.name] = p
            made[param.id] = new[body.name]
        (lc, _), batch = dot.attrs["dimension_numbers"]
        dot.operands = [dot.operands[0], made[param.id]]
        dot.attrs = dict(dot.attrs, dimension_numbers=((tuple(lc), (0,)), batch))
    return before
