"""Planning native loops and branches: `while`, `scan` and `cond` steps (emitted as LLVM by
`cpu.control`; CUDA drives the same plan from the host).

A control-flow instruction becomes one step of its plan, holding a *sub-plan* per called
computation (cond, body, branch). A sub-plan's buffers live in the same pointer table as the
rest of the program:
- its parameters and results are *slots*: table entries the loop code points at the right
  memory before running the body (the current carry, this step's slice of `xs` or `ys`, the
  branch's operands and the instruction's own results);
- its temporaries live in one *region* of the workspace, reserved for the whole step.

Carries ping-pong between the instruction's result buffers (A) and scratch buffers of the
region (B): each iteration reads one set and writes the other, so no carry is copied per
iteration; after an odd number of iterations B is copied to A once. Scans read each `x_t` in
place and write each `y_t` straight into the stacked output. Results that a body does not
compute fresh (a parameter passed through, a constant) are copied into their slot.

A body with a step native code cannot run (a host step: a sort or cumulative scan the plan
leaves on the host, a callback) makes the whole instruction run through the interpreter instead
(`native` is False); on the CPU, sorts and scans are native steps (`plan/sort_scan.py`).
"""
from __future__ import annotations

import numpy as np

from ops.core import OpcodesWhere

from ... import ir
from ...passes.buffer_assignment import assign_offsets

# The control-flow opcodes (`Primitive.lowering == "control"`).
CONTROL = OpcodesWhere(lambda p: p.lowering == "control")


class SubPlan:
    """The steps of one called computation, over slots for its parameters (and, when
    `result_slots`, for its results)."""

    def __init__(self, plan, comp: ir.Computation, result_slots: bool):
        from .planner import walk
        self._walk = walk
        self.plan = plan
        self.comp = comp
        self.steps = []
        self.temps = []          # buffer ids of this sub-plan's temporaries (region-relative)
        self.params = [None] * len(comp.parameters)
        self.results = []
        self.native = True
        self.region_bytes = 0
        self._build(result_slots)

    def _build(self, result_slots):
        plan, comp = self.plan, self.comp
        buf_of = {}
        for p in comp.parameters:
            bid = plan._new("slot", p.shape)
            buf_of[p.id] = self.params[p.attrs["index"]] = bid
        for step in self._walk(plan, comp, buf_of, self._temp, nested=True):
            if step.kind == "python":
                self.native = False
            if step.region is not None:
                self.temps.append(step.region)
            self.steps.append(step)
        # Views (`planner.walk`) have no memory of their own.
        self.temps = [bid for bid in self.temps if plan.buffers[bid].kind != "view"]
        root = comp.root
        results = root.operands if root.opcode == ir.TUPLE else [root]
        moved = {}
        for r in results:
            bid = buf_of[r.id]
            if not result_slots:
                self.results.append(bid)
                continue
            slot = plan._new("slot", r.shape)
            if bid in self.temps:
                # The step computing it writes straight into the slot.
                moved[bid] = slot
                self._retarget(bid, slot)
            else:   # a parameter, a constant, or a result returned twice
                self.steps.append(Copy(moved.get(bid, bid), slot))
            self.results.append(slot)
        self._layout()

    def _temp(self, shape):
        bid = self.plan._new("subtemp", shape)
        self.temps.append(bid)
        return bid

    def _retarget(self, old, new):
        for step in self.steps:
            step.outputs = [new if o == old else o for o in step.outputs]
            step.inputs = [new if o == old else o for o in step.inputs]
        self.temps.remove(old)

    def _layout(self):
        """Offsets of the temporaries inside this sub-plan's region (liveness within it)."""
        first, last = {}, {}
        for s, step in enumerate(self.steps):
            for bid in list(step.inputs) + list(step.outputs) + list(step_scratch(step)):
                first.setdefault(bid, s)
                last[bid] = s
        temps = [(bid, self.plan.buffers[bid].nbytes, first.get(bid, 0), last.get(bid, 0))
                 for bid in self.temps]
        offsets, total = assign_offsets(temps)
        self.offsets = offsets
        self.region_bytes = total

    def place(self, base: int):
        """Give every temporary its workspace offset, once the region's `base` is known."""
        for bid, off in self.offsets.items():
            b = self.plan.buffers[bid]
            b.kind, b.offset = "temp", base + off
        for step in self.steps:
            if getattr(step, "region", None) is not None:
                step.place(self.plan.buffers[step.region].offset)


class Copy:
    """A result that is not computed fresh: copied into its slot."""

    kind = "copy"
    instr = None
    native = True

    def __init__(self, src, dst):
        self.inputs = [src]
        self.outputs = [dst]
        self.epilogue = self.prologue = None
        self.in_place = None

    def reads(self):
        return self.inputs

    def writes(self):
        return self.outputs


def step_scratch(step):
    region = getattr(step, "region", None)
    return [region] if region is not None else []


def make_control(plan, step, nested):
    """Turn `step` (a while/scan/cond instruction) into a control step: sub-plans, scratch
    carries and a region of the workspace holding them (a temporary of the program, or of the
    enclosing sub-plan when `nested`)."""
    instr = step.instr
    op = instr.opcode
    if op == "while":
        cond, body = instr.called
        step.subs = [SubPlan(plan, cond, result_slots=False), SubPlan(plan, body, True)]
    elif op == "scan":
        step.subs = [SubPlan(plan, instr.called[0], True)]
    else:
        step.subs = [SubPlan(plan, c, True) for c in instr.called]
    step.native = all(s.native for s in step.subs)
    n = instr.attrs.get("num_carry", 0)
    # Scratch carries (B) first in the region, then the sub-plans' temporaries side by side
    # (a while's cond and body run alternately, but keeping them apart is simpler and small).
    step.scratch_carries = []
    offset = 0
    carries = []
    for k in range(n):
        shape = instr.shape[k]
        bid = plan._new("subtemp", shape)
        step.scratch_carries.append(bid)
        carries.append((bid, offset))
        offset += _align(plan.buffers[bid].nbytes)
    sub_bases = []
    for sub in step.subs:
        sub_bases.append(offset)
        offset += _align(sub.region_bytes)
    step.region = plan._new("subtemp" if nested else "temp",
                            ir.Shape(np.dtype(np.uint8), (max(offset, 1),)))

    def place(base):
        for bid, off in carries:
            b = plan.buffers[bid]
            b.kind, b.offset = "temp", base + off
        for sub, sb in zip(step.subs, sub_bases):
            sub.place(base + sb)
    step.place = place
    return step


def _align(n, a=64):
    return (n + a - 1) // a * a
