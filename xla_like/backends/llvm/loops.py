"""Loops and stack slots in LLVM IR, for every kernel emitter: a counted loop opened and closed
around a body (or built from a callback), and allocas placed in the entry block."""
from __future__ import annotations

from llvmlite import ir as ll

from .emitter import I64, i64

class Loop:
    """A counted loop opened by `open_loop`: its induction variable `i`, and the blocks and
    step `close_loop` needs."""

    __slots__ = ("i", "header", "exit", "step", "name")

    def __init__(self, i, header, exit_, step, name):
        self.i, self.header, self.exit, self.step, self.name = i, header, exit_, step, name


def open_loop(b: ll.IRBuilder, lo, hi, name="i", step=None) -> Loop:
    """Start `for (i = lo; i < hi; i += step)` (step 1 by default), leaving the builder in its
    body; `close_loop` ends it. For emitters that produce a body piecewise (a handler of
    `ElementEmitter` suspends inside the body while its operands are emitted)."""
    fn = b.function
    pre = b.block
    header = fn.append_basic_block(f"{name}.header")
    inner = fn.append_basic_block(f"{name}.body")
    exit_ = fn.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    i = b.phi(I64, name=name)
    i.add_incoming(lo, pre)
    b.cbranch(b.icmp_signed("<", i, hi), inner, exit_)
    b.position_at_end(inner)
    return Loop(i, header, exit_, step if step is not None else i64(1), name)


def close_loop(b: ll.IRBuilder, loop: Loop):
    """End the body of `loop` where the builder is, and leave the builder after the loop."""
    nxt = b.add(loop.i, loop.step, name=f"{loop.name}.next")
    loop.i.add_incoming(nxt, b.block)
    b.branch(loop.header)
    b.position_at_end(loop.exit)


def counted_loop(b: ll.IRBuilder, lo, hi, body, name="i", step=None):
    """`for (i = lo; i < hi; i += step) body(i)` (step 1 by default); leaves the builder after
    the loop."""
    loop = open_loop(b, lo, hi, name, step)
    body(loop.i)
    close_loop(b, loop)


def entry_alloca(b: ll.IRBuilder, t, name=""):
    """A stack slot in the function's entry block (where mem2reg turns it into registers)."""
    with b.goto_entry_block():
        if b.block.instructions:
            b.position_before(b.block.instructions[0])
        return b.alloca(t, name=name)
