"""What one instruction costs: floating-point operations, transcendental function calls and
bytes moved, counted the way XLA's cost analysis counts them, from the IR alone.

`step_cost(instr)` is the cost of `instr` run as one step of a plan: a fusion counts every
instruction of its body once per element it computes, and moves its operands (read once) and
its result (written once); a dot is 2*M*N*K flops per batch element. The profiler divides
these by a kernel's measured time (achieved GFLOP/s and GB/s); `compiled.cost_analysis()` sums
them over a program.

Counting rules, per output element of an instruction (and asked of the primitive's traits,
never a list of names):
- elementwise arithmetic, comparisons, selects, conversions: 1 flop;
- elementwise ops computed by a math routine (`Primitive.math`, not `cheap`): 1
  transcendental and no flop (exp, log, tanh, sqrt, erf, pow...), as XLA counts them;
- reductions and cumulative scans: 1 flop per operand element (one combine);
- data movement (broadcast, reshape, slice, gather, transpose, iota...): nothing;
- scatters that combine (add, mul, min, max): 1 flop per update element;
- `dot_general`: 2 * batch * M * N * K;
- FFT: 5 N log2 N per transform of N points (the usual radix-2 count);
- sort: N log2 N comparisons along the sorted axis;
- LAPACK factorizations and solves: not counted (0).
Control flow: a `scan` costs its body `length` times, a `while` its condition and body once (the
trip count is not known before it runs), a `cond` its most expensive branch; their bytes are
those of the instruction's operands and results plus what their bodies move.
"""
from __future__ import annotations

import math

from ops.core import PRIMITIVES

from ... import ir
from .kernel_shapes import gemm_layout

# A fusion's body and a loop's body are computations whose instructions are counted per
# element; these opcodes hold no work of their own.
_FREE = (ir.PARAMETER, ir.CONSTANT, ir.TUPLE, ir.GET_TUPLE_ELEMENT)


def nbytes(shape) -> int:
    """Bytes of a value: a Shape, or a tuple of them (a multi-result instruction)."""
    if isinstance(shape, tuple):
        return sum(nbytes(s) for s in shape)
    return shape.size * shape.dtype.itemsize


def _size(shape) -> int:
    if isinstance(shape, tuple):
        return sum(_size(s) for s in shape)
    return shape.size


def step_cost(instr) -> dict:
    """{"flops", "transcendentals", "bytes_accessed"} of `instr` as one step: its operands
    read once, its result written once, and the work of its body (see the module docstring).
    Parameters, constants and tuples cost nothing."""
    if instr.opcode in _FREE:
        return {"flops": 0.0, "transcendentals": 0.0, "bytes_accessed": 0.0}
    flops, trans, inner_bytes = _work(instr)
    moved = sum(nbytes(o.shape) for o in instr.operands) + nbytes(instr.shape)
    return {"flops": float(flops), "transcendentals": float(trans),
            "bytes_accessed": float(moved + inner_bytes)}


def computation_cost(comp: ir.Computation) -> dict:
    """The sum of `step_cost` over a computation's instructions (its parameters and constants
    cost nothing): the cost of running it unfused, one instruction per step."""
    total = {"flops": 0.0, "transcendentals": 0.0, "bytes_accessed": 0.0}
    for instr in comp.instructions:
        for k, v in step_cost(instr).items():
            total[k] += v
    return total


def _work(instr):
    """(flops, transcendentals, bytes moved inside) of `instr`, its called bodies included."""
    op = instr.opcode
    if op in _FREE:
        return 0, 0, 0
    prim = PRIMITIVES.get(op)
    if prim is None:
        return 0, 0, 0
    if op == "fusion":
        # A fused body keeps its values in registers: only the fusion's operands and result
        # move, so the body adds work but no bytes.
        flops = trans = 0
        for sub in instr.called[0].instructions:
            f, t, _ = _work(sub)
            flops, trans = flops + f, trans + t
        return flops, trans, 0
    if prim.lowering == "control" or prim.call_like:
        return _control_work(instr)
    n = _size(instr.shape)
    if prim.library == "gemm":
        batch, m, nn, k, _, _ = gemm_layout(instr)
        return 2 * batch * m * nn * k, 0, 0
    if prim.library == "fft":
        lengths = instr.attrs.get("fft_lengths") or ()
        points = int(math.prod(lengths)) if lengths else 1
        transforms = max(1, _size(instr.operands[0].shape) // max(points, 1))
        return 5 * transforms * points * math.log2(max(points, 2)), 0, 0
    if prim.library is not None:
        return 0, 0, 0      # LAPACK: not counted
    if prim.elementwise:
        if prim.math is not None and not prim.cheap:
            return 0, n, 0
        return n, 0, 0
    if prim.reduction is not None:
        return _size(instr.operands[0].shape), 0, 0
    if prim.scatter_combine is not None:
        return _size(instr.operands[-1].shape), 0, 0
    if prim.family == "sorting" and "dimension" in instr.attrs and instr.operands:
        # A sort: n log2 n comparisons along its axis.
        x = instr.operands[0].shape
        axis = instr.attrs["dimension"]
        length = x.dims[axis] if x.dims else 1
        return x.size * math.log2(max(length, 2)), 0, 0
    return 0, 0, 0


def _control_work(instr):
    """Work of a loop or branch: its bodies' unfused cost (`computation_cost`), a scan's body
    `length` times, a while's once, a cond's most expensive branch."""
    costs = [computation_cost(c) for c in instr.called]
    if not costs:
        return 0, 0, 0
    if "length" in instr.attrs:
        times = int(instr.attrs["length"])
        body = costs[0]
        return (times * body["flops"], times * body["transcendentals"],
                times * body["bytes_accessed"])
    if instr.opcode == "cond":
        best = max(costs, key=lambda c: (c["flops"] + c["transcendentals"]))
        return best["flops"], best["transcendentals"], best["bytes_accessed"]
    return (sum(c["flops"] for c in costs), sum(c["transcendentals"] for c in costs),
            sum(c["bytes_accessed"] for c in costs))


class StepInfo:
    """What the profiler shows of one plan step: `name` (its instruction, e.g. "fusion.12", a
    GEMM with its fused prologue/epilogue "fusion.9+dot_general.10+fusion.14"), `kind` (the
    plan's step kind), `ops` (the primitives it computes, in order), `inputs` and `output`
    (shape texts), `elements` (of its output) and its `step_cost` figures."""

    __slots__ = ("name", "kind", "ops", "inputs", "output", "elements", "flops",
                 "transcendentals", "bytes_accessed")

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def describe_step(step) -> StepInfo:
    """The `StepInfo` of a plan step (`plan.planner.Step`). A dot's GEMM prologue and epilogue
    run inside it: their work adds to its own, and the values between them (the dot's left
    operand, its result) stay in cache, so their bytes do not count."""
    parts = ([step.prologue.step] if step.prologue is not None else []) + [step] + (
        [step.epilogue.step] if step.epilogue is not None else [])
    info = StepInfo()
    info.name = "+".join(f"{p.instr.opcode}.{p.instr.id}" for p in parts)
    info.kind = step.kind
    ops = []
    for p in parts:
        body = p.instr.called[0].instructions if p.instr.opcode == "fusion" else [p.instr]
        for instr in body:
            if instr.opcode not in _FREE and instr.opcode not in ops:
                ops.append(instr.opcode)
    info.ops = ops
    info.inputs = [str(o.shape) for o in step.instr.operands]
    last = parts[-1].instr
    info.output = ir.shape_str(last.shape)
    info.elements = _size(last.shape)
    costs = [step_cost(p.instr) for p in parts]
    info.flops = sum(c["flops"] for c in costs)
    info.transcendentals = sum(c["transcendentals"] for c in costs)
    kept = (nbytes(step.prologue.step.instr.shape) if step.prologue is not None else 0) + (
        nbytes(step.instr.shape) if step.epilogue is not None else 0)
    info.bytes_accessed = sum(c["bytes_accessed"] for c in costs) - 2 * kept
    return info
