"""Native loops and branches for the CPU backend: `while`, `scan` and `cond` steps.

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

A body with a step native code cannot run (sort, a cumulative scan) makes the whole instruction run
through the interpreter instead (`native` is False).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import OpcodesWhere

from .. import ir
from ..passes.buffer_assignment import assign_offsets
from .llvm_emitter import I8, I64, i64

# The control-flow opcodes (`Primitive.lowering == "control"`).
CONTROL = OpcodesWhere(lambda p: p.lowering == "control")
_I8P = ll.PointerType(I8)


class SubPlan:
    """The steps of one called computation, over slots for its parameters (and, when
    `result_slots`, for its results)."""

    def __init__(self, plan, comp: ir.Computation, result_slots: bool):
        from .cpu_plan import walk
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
        self.epilogue = None
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


# --- emission -------------------------------------------------------------------------------------

class Emitter:
    """What control-flow emission needs from the segment renderer: `ptr(bid)` (a typed pointer
    to a buffer), `slot(bid)` (the table entry's address) and `steps(list)` (emit steps in
    order, single-threaded)."""

    def __init__(self, b, mod, ptr, slot, steps):
        self.b, self.mod, self.ptr, self.slot, self.steps = b, mod, ptr, slot, steps

    def raw(self, bid):
        return self.b.bitcast(self.ptr(bid), _I8P)

    def point(self, slot_bid, p):
        self.b.store(self.b.bitcast(p, _I8P), self.slot(slot_bid))

    def memcpy(self, dst, src, nbytes):
        if nbytes == 0:
            return
        fn = self.mod.globals.get("memcpy")
        if fn is None:
            fn = ll.Function(self.mod, ll.FunctionType(_I8P, [_I8P, _I8P, I64]), "memcpy")
        self.b.call(fn, [dst, src, i64(nbytes)])


def emit_copy(em: Emitter, plan, step):
    nbytes = plan.buffers[step.outputs[0]].nbytes
    em.memcpy(em.raw(step.outputs[0]), em.raw(step.inputs[0]), nbytes)


def emit_control(em: Emitter, plan, step):
    {"while": _emit_while, "scan": _emit_scan, "cond": _emit_cond}[step.instr.opcode](
        em, plan, step)


def _nbytes(plan, bid):
    return plan.buffers[bid].nbytes


def _start_carries(em, plan, step, n):
    """A = the results; copy the initial carry into them. Returns (A pointers, B pointers)."""
    a = [em.raw(bid) for bid in step.outputs[:n]]
    bb = [em.raw(bid) for bid in step.scratch_carries]
    for k in range(n):
        if step.inputs[k] != step.outputs[k]:
            em.memcpy(a[k], em.raw(step.inputs[k]), _nbytes(plan, step.outputs[k]))
    return a, bb


def _finish_carries(em, plan, step, odd, a, bb):
    """After an odd number of iterations the carry is in B: copy it to A."""
    b = em.b
    with b.if_then(odd):
        for k in range(len(a)):
            em.memcpy(a[k], bb[k], _nbytes(plan, step.outputs[k]))


def _emit_while(em, plan, step):
    b = em.b
    cond, body = step.subs
    n = step.instr.attrs["num_carry"]
    consts = step.inputs[n:]
    a, bb = _start_carries(em, plan, step, n)
    for sub in (cond, body):
        for j, bid in enumerate(consts):
            em.point(sub.params[n + j], em.raw(bid))
    entry = b.block
    header = b.append_basic_block("while.header")
    body_bb = b.append_basic_block("while.body")
    exit_bb = b.append_basic_block("while.exit")
    b.branch(header)
    b.position_at_end(header)
    odd = b.phi(ll.IntType(1), name="odd")
    odd.add_incoming(ll.Constant(ll.IntType(1), 0), entry)
    cur = [b.select(odd, bb[k], a[k]) for k in range(n)]
    nxt = [b.select(odd, a[k], bb[k]) for k in range(n)]
    for k in range(n):
        em.point(cond.params[k], cur[k])
    em.steps(cond.steps)
    pred = b.load(em.ptr(cond.results[0]))
    b.cbranch(b.icmp_unsigned("!=", pred, ll.Constant(pred.type, 0)), body_bb, exit_bb)
    b.position_at_end(body_bb)
    for k in range(n):
        em.point(body.params[k], cur[k])
        em.point(body.results[k], nxt[k])
    em.steps(body.steps)
    odd.add_incoming(b.not_(odd), b.block)
    b.branch(header)
    b.position_at_end(exit_bb)
    _finish_carries(em, plan, step, odd, a, bb)


def _emit_scan(em, plan, step):
    from .llvm_emitter import counted_loop
    b = em.b
    (body,) = step.subs
    at = step.instr.attrs
    n, m, length, reverse = at["num_carry"], at["num_xs"], at["length"], at["reverse"]
    xs, consts = step.inputs[n:n + m], step.inputs[n + m:]
    ys = step.outputs[n:]
    a, bb = _start_carries(em, plan, step, n)
    for j, bid in enumerate(consts):
        em.point(body.params[n + m + j], em.raw(bid))
    if length == 0:
        return
    odd_slot = b.alloca(ll.IntType(1), name="odd")
    b.store(ll.Constant(ll.IntType(1), 0), odd_slot)
    x_step = [_nbytes(plan, bid) // length for bid in xs]
    y_step = [_nbytes(plan, bid) // length for bid in ys]
    x_base = [em.raw(bid) for bid in xs]
    y_base = [em.raw(bid) for bid in ys]

    def one(t):
        idx = b.sub(i64(length - 1), t) if reverse else t
        odd = b.load(odd_slot)
        for k in range(n):
            em.point(body.params[k], b.select(odd, bb[k], a[k]))
            em.point(body.results[k], b.select(odd, a[k], bb[k]))
        for j in range(m):
            em.point(body.params[n + j], b.gep(x_base[j], [b.mul(idx, i64(x_step[j]))]))
        for j in range(len(ys)):
            em.point(body.results[n + j], b.gep(y_base[j], [b.mul(idx, i64(y_step[j]))]))
        em.steps(body.steps)
        b.store(b.not_(odd), odd_slot)
    counted_loop(b, i64(0), i64(length), one, name="scan")
    _finish_carries(em, plan, step, b.load(odd_slot), a, bb)


def _emit_cond(em, plan, step):
    b = em.b
    branches = step.subs
    index = b.load(em.ptr(step.inputs[0]))
    index = b.sext(index, I64) if index.type.width < 64 else index
    last = i64(len(branches) - 1)
    index = b.select(b.icmp_signed("<", index, i64(0)), i64(0), index)
    index = b.select(b.icmp_signed(">", index, last), last, index)
    exit_bb = b.append_basic_block("cond.exit")
    blocks = [b.append_basic_block(f"cond.branch{k}") for k in range(len(branches))]
    sw = b.switch(index, blocks[-1])
    for k, blk in enumerate(blocks[:-1]):
        sw.add_case(i64(k), blk)
    for blk, sub in zip(blocks, branches):
        b.position_at_end(blk)
        for j, bid in enumerate(step.inputs[1:]):
            em.point(sub.params[j], em.raw(bid))
        for k, bid in enumerate(step.outputs):
            em.point(sub.results[k], em.raw(bid))
        em.steps(sub.steps)
        b.branch(exit_bb)
    b.position_at_end(exit_bb)
