"""Rewriting a computation in place by re-emitting it through the builder.

The lowering passes (`split_complex`, `lower_conv`, `lower_windows`) walk a computation once,
copy every instruction they leave alone, and replace the ones they lower by primitives bound
on a `BuilderTrace` (so the builder's simplifications apply). `Copier` is that walk's
default behaviour; a pass subclasses it and overrides `apply` (and, for values of its own
kind, `wrap`/`instr_of`/`constant`). `rebuild` runs it and puts the new instructions in place
of the old ones: parameters and the root keep their shapes, so callers of the computation
(and the executable's signature) are unchanged.
"""
from __future__ import annotations

from ops import core

from .. import ir
from ..builder import BuilderTrace, IRTracer
from ..evaluate import Walker, walk


class TupleValue:
    """A tuple-shaped instruction copied as it was; its elements are read one by one."""

    __slots__ = ("instr",)

    def __init__(self, instr):
        self.instr = instr


class Copier(Walker):
    """Copies each instruction into `trace`'s computation; values are tracers of it."""

    def __init__(self, trace: BuilderTrace):
        self.trace = trace

    def wrap(self, instr):
        """The value of a copied (array-shaped) instruction."""
        return IRTracer(self.trace, core.ShapedArray(instr.shape.dims, instr.shape.dtype), instr)

    def instr_of(self, v):
        """The instruction holding value `v` (a tuple of values becomes a tuple)."""
        if isinstance(v, TupleValue):
            return v.instr
        if isinstance(v, tuple):
            elems = [self.instr_of(x) for x in v]
            return self.trace.emit(ir.TUPLE, elems, tuple(e.shape for e in elems), location="")
        return self.trace.to_instr(v)

    def constant(self, instr):
        return self.wrap(self.trace.constant(instr.attrs["value"], core.ShapedArray(
            instr.shape.dims, instr.shape.dtype)))

    def element(self, instr, value):
        if isinstance(value, TupleValue):
            return self.wrap(self.trace.emit(ir.GET_TUPLE_ELEMENT, [value.instr], instr.shape,
                                             dict(instr.attrs), location=instr.location))
        return value[instr.attrs["index"]]

    def copy(self, instr, values):
        """`instr` as it was, reading `values`."""
        operands = [self.instr_of(v) for v in values]
        new = self.trace.emit(instr.opcode, operands, instr.shape, dict(instr.attrs),
                              instr.called, instr.location)
        return TupleValue(new) if isinstance(instr.shape, tuple) else self.wrap(new)

    def apply(self, instr, values):
        return self.copy(instr, values)


def rebuild(module: ir.Module, comp: ir.Computation, make_walker) -> None:
    """Re-emit `comp` in place with the walker `make_walker(trace)` (a `Copier`): one walk in
    program order; parameters and root keep their shapes."""
    trace = BuilderTrace(module, comp.name)
    walker = make_walker(trace)
    with core.new_trace(trace):
        args = [None] * len(comp.parameters)
        for p in comp.parameters:
            new = trace.emit(ir.PARAMETER, [], p.shape, dict(p.attrs), location="")
            args[p.attrs["index"]] = walker.wrap(new)
        env = walk(comp, args, walker)
        root = comp.root
        if root.opcode == ir.TUPLE:
            elems = [walker.instr_of(env[o.id]) for o in root.operands]
            new_root = trace.emit(ir.TUPLE, elems, tuple(e.shape for e in elems), location="")
        else:
            new_root = walker.instr_of(env[root.id])
    new = trace.comp
    comp.instructions, comp.parameters, comp.root = new.instructions, new.parameters, new_root


def rebuild_where(module: ir.Module, wants, make_walker) -> ir.Module:
    """`rebuild` each computation of `module` holding an instruction `wants(instr)` accepts
    (the others are left as they are); returns `module`."""
    for comp in list(module.computations.values()):
        if any(wants(i) for i in comp.instructions):
            rebuild(module, comp, make_walker)
    return module
