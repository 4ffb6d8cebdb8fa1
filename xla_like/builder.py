"""The IR builder: a trace that turns each `bind` into an Instruction.

While a function is traced, `ops.core`'s stack has a `BuilderTrace` on top; every primitive
bound with tracer (or constant) operands appends one typed instruction to the computation
under construction and returns a tracer for it. Passes and transforms use the same builder to
emit new code, so the local simplifications in `passes.simplify` (x*1, x+0, identity reshapes,
scalar constant folding) apply to everything built, and derivatives print small.

With `concrete=True` (transforms applied outside `jit`), each tracer also carries its NumPy
value, computed as the instruction is emitted, so Python control flow on values works.
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.core import ShapedArray, Tracer
from ops.errors import UnexpectedTracerError, user_location

from . import ir
from .passes import simplify


class IRTracer(Tracer):
    """A traced value: its abstract value, the instruction that defines it, maybe its value."""

    __slots__ = ("instr",)

    def __init__(self, trace, aval, instr, concrete=None):
        self._trace = trace
        self.aval = aval
        self.instr = instr
        self.concrete = concrete

    def _origin(self):
        loc = f" at {self.instr.location}" if self.instr.location else ""
        what = self.instr.attrs.get("name") if self.instr.opcode == ir.PARAMETER else None
        src = f"argument {what}" if what else f"the result of {self.instr.opcode}{loc}"
        return f" ({src})"


class BuilderTrace(core.Trace):
    """Builds one Computation of `module` from the primitives bound while it is on the stack."""

    def __init__(self, module: ir.Module, name: str, concrete: bool = False):
        self.module = module
        self.comp = ir.Computation(module.fresh_computation_name(name))
        self.concrete = concrete
        self.captured: list[tuple[Tracer, ir.Instruction]] = []  # outer tracers closed over
        self._constants: dict = {}

    # -- values in ---------------------------------------------------------------------------

    def new_parameter(self, aval: ShapedArray, name: str = "", concrete=None) -> IRTracer:
        attrs = {"index": len(self.comp.parameters)}
        if name:
            attrs["name"] = name
        instr = self.emit(ir.PARAMETER, [], ir.to_shape(aval), attrs, location="")
        return IRTracer(self, aval, instr, concrete if self.concrete else None)

    def constant(self, value, aval: ShapedArray | None = None) -> ir.Instruction:
        """A constant instruction for a concrete value; scalars are shared."""
        if aval is None:
            aval = core.get_aval(value)
        arr = core.to_numpy(value, aval)
        key = None
        if arr.ndim == 0:
            key = (arr.dtype, arr.tobytes())
            hit = self._constants.get(key)
            if hit is not None:
                return hit
        instr = self.emit(ir.CONSTANT, [], ir.to_shape(aval), {"value": np.array(arr)},
                          location="")
        if key is not None:
            self._constants[key] = instr
        return instr

    def to_instr(self, x) -> ir.Instruction:
        if isinstance(x, IRTracer) and x._trace is self:
            return x.instr
        if isinstance(x, Tracer):
            if core.trace_is_live(x._trace):
                return self._capture(x)
            raise UnexpectedTracerError(
                f"a traced value {x.aval.str_short()}{x._origin()} was used after the trace that "
                "created it ended (it escaped through a global, a closure or a side output)",
                hint="pass the value in as an argument, or return it from the traced function")
        return self.constant(x)

    def _capture(self, outer: Tracer) -> ir.Instruction:
        # A value of an enclosing trace used inside this one becomes an extra parameter;
        # whoever evaluates this computation passes the outer value in its place.
        for t, instr in self.captured:
            if t is outer:
                return instr
        instr = self.new_parameter(outer.aval, name=f"captured.{len(self.captured)}").instr
        self.captured.append((outer, instr))
        return instr

    def concrete_value(self, x):
        """The NumPy value of an operand if known while tracing, else None."""
        if isinstance(x, Tracer):
            return x.concrete
        return core.to_numpy(x)

    # -- instructions ------------------------------------------------------------------------

    def emit(self, opcode, operands, shape, attrs=None, called=(), location=None):
        if location is None:
            location = user_location()
        instr = ir.Instruction(self.module.fresh_id(), opcode, operands, shape, attrs, called,
                               location)
        return self.comp.add(instr)

    def process_primitive(self, prim, args, params):
        operands = [self.to_instr(a) for a in args]
        avals = [core.get_aval(a) for a in args]
        out = prim.abstract_eval(*avals, **params)
        # A side effect (a host callback) happens when the program runs, not while tracing.
        values = self._concrete_result(prim, args, params) \
            if self.concrete and not prim.has_side_effects else None
        if not prim.multiple_results:
            same = simplify.peephole(prim.name, operands, params, out)
            if same is not None:
                return IRTracer(self, out, same, values)
            folded = simplify.fold_constant(prim, operands, params, out)
            if folded is not None:
                return IRTracer(self, out, self.constant(folded, out), values)
        loc = user_location()
        if prim.multiple_results:
            shape = tuple(ir.to_shape(a) for a in out)
            instr = self.emit(prim.name, operands, shape, params, location=loc)
            values = values if values is not None else (None,) * len(out)
            return tuple(
                IRTracer(self, a, self.emit(ir.GET_TUPLE_ELEMENT, [instr], ir.to_shape(a),
                                            {"index": i}, location=loc), v)
                for i, (a, v) in enumerate(zip(out, values)))
        return IRTracer(self, out, self.emit(prim.name, operands, ir.to_shape(out), params,
                                             location=loc), values)

    def _concrete_result(self, prim, args, params):
        vals = [self.concrete_value(a) for a in args]
        if any(v is None for v in vals):
            return None
        res = prim.impl(*vals, **params)
        if prim.multiple_results:
            return tuple(np.asarray(r) for r in res)
        return np.asarray(res)

    # -- values out --------------------------------------------------------------------------

    def finish(self, outputs) -> ir.Computation:
        """Set the root: the single output, or a tuple of all outputs."""
        instrs = [self.to_instr(o) for o in outputs]
        if len(instrs) == 1:
            self.comp.root = instrs[0]
        else:
            shape = tuple(i.shape for i in instrs)
            self.comp.root = self.emit(ir.TUPLE, instrs, shape, location="")
        return self.comp


def build(name: str, fn, in_avals, module: ir.Module | None = None, concrete_inputs=None,
          names=None):
    """Trace `fn(*tracers)` -> list of outputs into a new computation of `module` (a new
    Module if None). Returns (module, computation, out_avals, captured)."""
    module = module if module is not None else ir.Module(name)
    concrete = concrete_inputs is not None and all(c is not None for c in concrete_inputs)
    trace = BuilderTrace(module, name, concrete=concrete)
    with core.new_trace(trace):
        params = [trace.new_parameter(a, (names[i] if names else ""),
                                      concrete_inputs[i] if concrete else None)
                  for i, a in enumerate(in_avals)]
        outs = fn(*params)
        out_avals = [core.get_aval(o) for o in outs]
        comp = trace.finish(outs)
    return module, comp, out_avals, trace.captured
