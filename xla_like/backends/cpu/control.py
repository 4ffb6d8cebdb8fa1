"""Emitting the CPU backend's native loops and branches (`while`, `scan`, `cond` steps) as LLVM:
the plan of each (sub-plans, slots, regions, ping-pong carries) is made by `plan.control`."""
from __future__ import annotations

from llvmlite import ir as ll

from ..llvm.emitter import I8, I64, i64

_I8P = ll.PointerType(I8)


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
    from ..llvm.emitter import counted_loop
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
