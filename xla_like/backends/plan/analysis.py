"""What a compiled program costs and holds, from its plan: `program_cost` (flops,
transcendental calls, bytes moved, per step and in total, in the keys of XLA's cost analysis)
and `program_memory` (argument, output, aliased, temporary and peak bytes after buffer
assignment, in the attributes of XLA's `CompiledMemoryStats`).

Counted per step of the plan, as it runs: a fused kernel once (its body per element, its
operands read once and its result written once: `cost.step_cost`), a dot with the kernels
that make its left operand and consume its result block by block (a GEMM prologue and
epilogue) as three steps, a view (a reshape the plan elided) as nothing. A program that has
no plan (the interpreter runs the traced module as it is) counts each instruction of its
entry computation as one step.
"""
from __future__ import annotations

from ... import ir
from .cost import nbytes, step_cost

_KEYS = (("flops", "flops"), ("transcendentals", "transcendentals"),
         ("bytes_accessed", "bytes accessed"))


def _named(cost: dict) -> dict:
    """`step_cost`'s dict in XLA's key names."""
    return {xla: float(cost[ours]) for ours, xla in _KEYS}


def _step_name(instr) -> str:
    called = getattr(instr, "called", None)
    if instr.opcode == "fusion" and called:
        return called[0].name
    return f"{instr.name} {instr.opcode}"


def _runs(plan):
    """(step kind, instruction, input buffer ids) of each kernel, dot and call the plan runs,
    a dot's prologue before it and its epilogue after it."""
    for step in plan.steps:
        if step.prologue is not None:
            yield "prologue", step.prologue.step.instr, step.prologue.step.inputs
        yield step.kind, step.instr, step.inputs
        if step.epilogue is not None:
            yield "epilogue", step.epilogue.step.instr, step.epilogue.step.inputs


def program_cost(plan=None, module=None) -> dict:
    """XLA's cost analysis of a plan (or, with no plan, of `module`'s entry computation
    instruction by instruction): "flops", "transcendentals", "bytes accessed" in total;
    "bytes accessed{i}{}" the bytes steps read from parameter i (once per step reading it)
    and "bytes accessedout{}" the bytes of the outputs; "kernels" a list with each step's
    name, kind, opcode and its own three counts."""
    total = {xla: 0.0 for _, xla in _KEYS}
    per_param: dict[int, float] = {}
    kernels = []
    if plan is not None:
        param_of = {b.id: b.index for b in plan.buffers if b.kind == "param"}
        runs = [(kind, instr, [param_of.get(bid) for bid in inputs])
                for kind, instr, inputs in _runs(plan)]
        out_bytes = sum(plan.buffers[bid].shape.size * plan.buffers[bid].shape.dtype.itemsize
                        for bid in plan.outputs)
    else:
        entry = module.entry
        runs = [("instruction", instr,
                 [o.attrs["index"] if o.opcode == ir.PARAMETER else None
                  for o in instr.operands])
                for instr in entry.instructions if instr.opcode != ir.PARAMETER]
        root = entry.root
        outs = root.operands if root.opcode == ir.TUPLE else [root]
        out_bytes = sum(nbytes(o.shape) for o in outs)
    for kind, instr, params in runs:
        cost = _named(step_cost(instr))
        if not any(cost.values()):
            continue    # constants, tuples: no work, nothing moved
        for k, v in cost.items():
            total[k] += v
        for j, p in enumerate(params):
            if p is not None and j < len(instr.operands):
                per_param[p] = per_param.get(p, 0.0) + nbytes(instr.operands[j].shape)
        kernels.append({"name": _step_name(instr), "kind": kind, "opcode": instr.opcode,
                        **cost})
    result = dict(total)
    for p in sorted(per_param):
        result[f"bytes accessed{p}{{}}"] = per_param[p]
    result["bytes accessedout{}"] = float(out_bytes)
    result["kernels"] = kernels
    return result


class MemoryStats:
    """Bytes a compiled program holds while it runs, with the attributes of XLA's
    `CompiledMemoryStats` (`host_*`: 0, there is no separate host memory), plus:

    - `temp_size_in_bytes`: the workspace of temporaries after buffer assignment (values
      whose live ranges do not overlap share bytes), allocated once per program;
    - `unshared_temp_size_in_bytes`: the temporaries' sizes added up, as if none shared;
    - `constant_size_in_bytes`: the constants the program keeps;
    - `peak_memory_in_bytes`: argument + output - alias + temp + constant, what a call has
      alive at once at most.
    """

    _FIELDS = ("generated_code_size_in_bytes", "argument_size_in_bytes",
               "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
               "host_generated_code_size_in_bytes", "host_argument_size_in_bytes",
               "host_output_size_in_bytes", "host_alias_size_in_bytes",
               "host_temp_size_in_bytes", "unshared_temp_size_in_bytes",
               "constant_size_in_bytes", "peak_memory_in_bytes")

    def __init__(self, **values):
        for name in self._FIELDS:
            setattr(self, name, int(values.pop(name, 0)))
        if values:
            raise TypeError(f"MemoryStats has no fields {sorted(values)}")

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)}" for n in self._FIELDS)
        return f"CompiledMemoryStats({inner})"

    def __eq__(self, other):
        return isinstance(other, MemoryStats) and all(
            getattr(self, n) == getattr(other, n) for n in self._FIELDS)


def program_memory(plan=None, module=None, code_bytes=0) -> MemoryStats:
    """The `MemoryStats` of a plan; with no plan, of `module` run by the interpreter
    (arguments and outputs only: it allocates as it goes)."""
    if plan is None:
        entry = module.entry
        root = entry.root
        outs = root.operands if root.opcode == ir.TUPLE else [root]
        args = sum(nbytes(p.shape) for p in entry.parameters)
        out = sum(nbytes(o.shape) for o in outs)
        return MemoryStats(argument_size_in_bytes=args, output_size_in_bytes=out,
                           peak_memory_in_bytes=args + out,
                           generated_code_size_in_bytes=code_bytes)
    bufs = plan.buffers

    def size(b):
        return b.shape.size * b.shape.dtype.itemsize

    args = sum(size(b) for b in bufs if b.kind == "param")
    out = sum(size(bufs[bid]) for bid in plan.outputs)
    alias = sum(size(bufs[bid]) for bid in set(plan.outputs) if bufs[bid].alias is not None)
    consts = sum(size(b) for b in bufs if b.kind == "const")
    unshared = sum(b.nbytes for b in bufs if b.kind == "temp")
    temp = plan.workspace_bytes
    return MemoryStats(generated_code_size_in_bytes=code_bytes, argument_size_in_bytes=args,
                       output_size_in_bytes=out, alias_size_in_bytes=alias,
                       temp_size_in_bytes=temp, unshared_temp_size_in_bytes=unshared,
                       constant_size_in_bytes=consts,
                       peak_memory_in_bytes=args + out - alias + temp + consts)
