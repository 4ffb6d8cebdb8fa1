"""From an optimized Module to a plan: buffers, and the steps that fill them.

After `cpu_pipeline` (inlining, CSE, fusion, DCE) the entry computation is a list of kernels
(fusion), library calls (dot_general) and a few instructions no kernel expresses (sort,
scatter, cumulative scans), which run through their NumPy reference between native segments.
Each value that is materialized gets a buffer: a parameter, a constant, an output (allocated
per call) or a temporary (a slice of the workspace, placed by buffer assignment).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..passes.buffer_assignment import assign_offsets
from ..passes.cse import cse
from ..passes.dce import dce
from ..passes.fusion import fuse
from ..passes.inline import inline_calls

CPU_PIPELINE = [("inline_calls", inline_calls), ("dce", dce), ("cse", cse), ("fusion", fuse),
                ("dce", dce)]


def cpu_pipeline(module: ir.Module) -> ir.Module:
    from ..passes import run_pipeline
    module, _ = run_pipeline(ir.clone_module(module), CPU_PIPELINE)
    return module


class BufferInfo:
    """One materialized value. kind: param | const | output | temp."""

    def __init__(self, bid, kind, shape: ir.Shape, index=None, value=None):
        self.id = bid
        self.kind = kind
        self.shape = shape
        self.index = index      # parameter number / output number
        self.value = value      # constants: the array
        self.offset = None      # temps: byte offset in the workspace
        self.first = self.last = None

    @property
    def nbytes(self):
        return self.shape.size * self.shape.dtype.itemsize


class Step:
    """kind: kernel (a fusion), dot (dot_general), python (NumPy reference)."""

    def __init__(self, kind, instr, inputs, outputs):
        self.kind = kind
        self.instr = instr
        self.inputs = inputs    # buffer ids
        self.outputs = outputs  # buffer ids


class Plan:
    def __init__(self, module: ir.Module):
        self.module = module
        self.buffers: list[BufferInfo] = []
        self.steps: list[Step] = []
        self.outputs: list[int] = []   # buffer id per program output
        self.workspace_bytes = 0
        self.n_params = len(module.entry.parameters)
        self._build()

    def _new(self, kind, shape, **kw):
        b = BufferInfo(len(self.buffers), kind, shape, **kw)
        self.buffers.append(b)
        return b.id

    def _build(self):
        entry = self.module.entry
        buf_of = {}
        for p in entry.parameters:
            buf_of[p.id] = self._new("param", p.shape, index=p.attrs["index"])
        for instr in entry.instructions:
            op = instr.opcode
            if op == ir.PARAMETER:
                continue
            if op == ir.CONSTANT:
                buf_of[instr.id] = self._new("const", instr.shape,
                                             value=np.array(instr.attrs["value"], order="C"))
            elif op == ir.TUPLE:
                continue
            elif op == ir.GET_TUPLE_ELEMENT:
                buf_of[instr.id] = buf_of[instr.operands[0].id][instr.attrs["index"]]
            else:
                ins = [buf_of[o.id] for o in instr.operands]
                if isinstance(instr.shape, tuple):
                    outs = tuple(self._new("temp", s) for s in instr.shape)
                    buf_of[instr.id] = outs
                else:
                    outs = (self._new("temp", instr.shape),)
                    buf_of[instr.id] = outs[0]
                kind = "kernel" if op == "fusion" else ("dot" if op == "dot_general"
                                                        else "python")
                self.steps.append(Step(kind, instr, ins, list(outs)))
        root = entry.root
        results = root.operands if root.opcode == ir.TUPLE else [root]
        claimed = set()
        for k, r in enumerate(results):
            bid = buf_of[r.id]
            b = self.buffers[bid]
            if b.kind == "temp" and bid not in claimed:
                b.kind, b.index = "output", k
                claimed.add(bid)
            self.outputs.append(bid)
        self._assign_temps()

    def _assign_temps(self):
        for s, step in enumerate(self.steps):
            for bid in step.outputs:
                b = self.buffers[bid]
                b.first = s if b.first is None else b.first
                b.last = s if b.last is None else max(b.last, s)
            for bid in step.inputs:
                b = self.buffers[bid]
                b.last = s if b.last is None else max(b.last, s)
        temps = [(b.id, b.nbytes, b.first, b.last) for b in self.buffers if b.kind == "temp"]
        offsets, total = assign_offsets(temps)
        for bid, off in offsets.items():
            self.buffers[bid].offset = off
        self.workspace_bytes = total
