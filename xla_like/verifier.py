"""The IR's invariants, checked: `verify_module(module)` returns None or raises IRVerificationError.

Checked, per computation, in order:
- every instruction object and every id appears once in the module;
- an operand is an instruction defined earlier in the same computation;
- the opcode is structural or a registered primitive, and called computations are in the module
  (and no computation calls itself, directly or not);
- the instruction's type is what its opcode gives: the primitive's shape rule (recomputed from
  the operand types and the attributes; weak types ignored), the tuple of operand types for
  `tuple`, the selected element for `get_tuple_element`, the value's dtype and shape for
  `constant`;
- parameters are numbered 0..n-1 without repeats, and `comp.parameters` lists them by number;
- the root is one of the computation's instructions.

A primitive instruction that calls sub-computations (fusions, control flow) has its result type
from its callees, which a shape rule given only operand types and attributes cannot see; its rule
is not run here, and its callees are verified as computations of their own.

Errors name the computation and print the broken instruction's line, so they read like the IR
text a user would dump.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops.core import PRIMITIVES, ShapedArray
from ops.errors import IRVerificationError

from . import ir
from .printer import instruction_to_text, name_text


def _fail(comp, instr, message: str):
    where = f"in computation %{name_text(comp.name)}" if comp is not None else "in the module"
    line = ""
    if instr is not None:
        try:
            line = "\n  " + instruction_to_text(instr)
        except Exception:  # the printer is defensive, but an error report must never mask one
            line = f"\n  %{getattr(instr, 'id', '?')} = ... {getattr(instr, 'opcode', '?')}(...)"
    raise IRVerificationError(f"{where}: {message}{line}")


def verify_module(module: ir.Module) -> None:
    """Check every invariant of `module` (see the module docstring); raise on the first broken."""
    if module.entry is None:
        _fail(None, None, f"module {module.name} has no entry computation")
    comps = module.computations
    if comps.get(module.entry.name) is not module.entry:
        _fail(None, None, f"the entry computation %{module.entry.name} is not one of the "
                          f"module's computations ({', '.join(comps)})")
    owner = {}   # id(Instruction) -> Computation: where each instruction object lives
    by_id = {}   # instruction id -> (Computation, Instruction)
    for name, comp in comps.items():
        if not isinstance(comp, ir.Computation):
            _fail(None, None, f"module entry {name!r} is a {type(comp).__name__}, "
                              "not a Computation")
        if comp.name != name:
            _fail(comp, None, f"the computation is registered under another name, {name!r}")
        for instr in comp.instructions:
            if not isinstance(instr, ir.Instruction):
                _fail(comp, None, f"{instr!r} is not an Instruction")
            if id(instr) in owner:
                _fail(comp, instr, f"the same instruction object is listed twice (also in "
                                   f"computation %{owner[id(instr)].name})")
            if instr.id in by_id:
                other = by_id[instr.id][0]
                _fail(comp, instr, f"id %{instr.id} is defined twice (also in computation "
                                   f"%{other.name})")
            owner[id(instr)] = comp
            by_id[instr.id] = (comp, instr)
    for comp in comps.values():
        _verify_computation(module, comp, owner)
    _check_no_recursion(module)


def _verify_computation(module, comp, owner):
    defined = set()
    params_by_index = {}
    for instr in comp.instructions:
        _check_operands(comp, instr, defined, owner)
        for sub in instr.called:
            if not isinstance(sub, ir.Computation) or module.computations.get(sub.name) is not sub:
                _fail(comp, instr, f"it calls %{getattr(sub, 'name', sub)}, which is not a "
                                   "computation of this module")
        _check_shape_is_valid(comp, instr, instr.shape)
        _check_type(comp, instr)
        if instr.opcode == ir.PARAMETER:
            index = instr.attrs.get("index")
            if type(index) is not int:
                _fail(comp, instr, f"a parameter's index must be an int, got {index!r}")
            if index in params_by_index:
                _fail(comp, instr, f"parameter index {index} is already used by "
                                   f"%{params_by_index[index].id}")
            params_by_index[index] = instr
        defined.add(id(instr))
    _check_parameters(comp, params_by_index)
    if comp.root is None:
        _fail(comp, None, "the computation has no root")
    if id(comp.root) not in defined:
        _fail(comp, comp.root, "the root is not an instruction of this computation")


def _check_operands(comp, instr, defined, owner):
    for k, op in enumerate(instr.operands):
        if not isinstance(op, ir.Instruction):
            _fail(comp, instr, f"operand {k} is a {type(op).__name__}, not an Instruction")
        if id(op) in defined:
            continue
        home = owner.get(id(op))
        if home is comp:
            _fail(comp, instr, f"operand {op.name} is used before it is defined")
        if home is not None:
            _fail(comp, instr, f"operand {op.name} is defined in another computation, "
                               f"%{home.name}")
        _fail(comp, instr, f"operand {op.name} is not an instruction of any computation of "
                           "the module")


def _check_parameters(comp, params_by_index):
    n = len(params_by_index)
    for index, p in params_by_index.items():
        if not 0 <= index < n:
            _fail(comp, p, f"parameter index {index!r} is not one of 0..{n - 1} (the "
                           f"computation has {n} parameters)")
    listed = [id(p) for p in comp.parameters]
    if sorted(listed) != sorted(id(p) for p in params_by_index.values()):
        _fail(comp, None, "comp.parameters does not list exactly the computation's parameter "
                          "instructions: " + ", ".join(getattr(p, "name", repr(p))
                                                       for p in comp.parameters))
    for k, p in enumerate(comp.parameters):
        if p.attrs.get("index") != k:
            _fail(comp, p, f"parameters are out of order: this one is listed at position {k} "
                           f"but has index {p.attrs.get('index')}")


def _check_shape_is_valid(comp, instr, shape):
    if isinstance(shape, tuple):
        for s in shape:
            _check_shape_is_valid(comp, instr, s)
        return
    if not isinstance(shape, ir.Shape):
        _fail(comp, instr, f"its type {shape!r} is neither a Shape nor a tuple of Shapes")
    if shape.dtype not in dtypes.IR_NAME:
        _fail(comp, instr, f"dtype {shape.dtype} is not supported by the IR")
    if any(d < 0 for d in shape.dims):
        _fail(comp, instr, f"type {shape} has a negative dimension")


def _check_type(comp, instr):
    """The instruction's declared type against what its opcode computes."""
    op = instr.opcode
    shape = instr.shape
    if op == ir.PARAMETER:
        if instr.operands:
            _fail(comp, instr, "a parameter takes no operands")
    elif op == ir.CONSTANT:
        _check_constant(comp, instr)
    elif op == ir.TUPLE:
        want = tuple(o.shape for o in instr.operands)
        if not isinstance(shape, tuple) or not _same_type(shape, want):
            _fail(comp, instr, f"a tuple's type must be its operands' types "
                               f"{ir.shape_str(want)}, got {ir.shape_str(shape)}")
    elif op == ir.GET_TUPLE_ELEMENT:
        _check_get_tuple_element(comp, instr)
    elif op in PRIMITIVES:
        if not instr.called:
            _check_primitive(comp, instr, PRIMITIVES[op])
    else:
        _fail(comp, instr, f"unknown opcode {op!r}: neither structural "
                           f"({', '.join(ir.STRUCTURAL)}) nor a registered primitive")


def _same_type(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(_same_type(x, y) for x, y in zip(a, b)))
    return a == b


def _check_constant(comp, instr):
    if instr.operands:
        _fail(comp, instr, "a constant takes no operands")
    if "value" not in instr.attrs:
        _fail(comp, instr, "a constant has no `value` attribute")
    value = instr.attrs["value"]
    if not isinstance(value, np.ndarray):
        _fail(comp, instr, f"a constant's value must be a NumPy array, got "
                           f"{type(value).__name__}")
    if not isinstance(instr.shape, ir.Shape):
        _fail(comp, instr, "a constant must have an array type, not a tuple type")
    if value.dtype != instr.shape.dtype or value.shape != instr.shape.dims:
        got = ir.shape_str(ir.Shape(value.dtype, value.shape)) if value.dtype in dtypes.IR_NAME \
            else f"{value.dtype}{list(value.shape)}"
        _fail(comp, instr, f"the constant's value is {got}, its type says "
                           f"{ir.shape_str(instr.shape)}")


def _check_get_tuple_element(comp, instr):
    if len(instr.operands) != 1:
        _fail(comp, instr, f"get_tuple_element takes 1 operand, got {len(instr.operands)}")
    tup = instr.operands[0].shape
    if not isinstance(tup, tuple):
        _fail(comp, instr, f"get_tuple_element's operand {instr.operands[0].name} has the "
                           f"array type {ir.shape_str(tup)}, not a tuple type")
    index = instr.attrs.get("index")
    if type(index) is not int or not 0 <= index < len(tup):
        _fail(comp, instr, f"index {index!r} is out of range for the tuple type "
                           f"{ir.shape_str(tup)}")
    if not _same_type(instr.shape, tup[index]):
        _fail(comp, instr, f"element {index} of {ir.shape_str(tup)} is "
                           f"{ir.shape_str(tup[index])}, but the instruction's type is "
                           f"{ir.shape_str(instr.shape)}")


def _check_primitive(comp, instr, prim):
    avals = []
    for o in instr.operands:
        if not isinstance(o.shape, ir.Shape):
            _fail(comp, instr, f"operand {o.name} has the tuple type {ir.shape_str(o.shape)}; "
                               f"{prim.name} takes arrays (read elements with get_tuple_element)")
        avals.append(ShapedArray(o.shape.dims, o.shape.dtype))
    if prim.abstract_eval is None:
        _fail(comp, instr, f"primitive {prim.name} has no shape rule")
    try:
        out = prim.abstract_eval(*avals, **instr.attrs)
    except Exception as e:  # any rule failure is a broken instruction, reported as such
        message = getattr(e, "bare_message", None) or str(e)
        _fail(comp, instr, f"the shape rule of {prim.name} rejects it: "
                           f"{type(e).__name__}: {message}")
    if prim.multiple_results:
        want = tuple(ir.Shape(a.dtype, a.shape) for a in out)
    else:
        want = ir.Shape(out.dtype, out.shape)
    if not _same_type(instr.shape, want):
        _fail(comp, instr, f"the shape rule of {prim.name} gives {ir.shape_str(want)}, but the "
                           f"instruction's type is {ir.shape_str(instr.shape)}")


def _check_no_recursion(module):
    # Depth-first search with three states; a grey computation reached again closes a cycle.
    state = {}

    def visit(comp, path):
        state[id(comp)] = "grey"
        for instr in comp.instructions:
            for sub in instr.called:
                s = state.get(id(sub))
                if s == "grey":
                    cycle = " -> ".join(f"%{c.name}" for c in path + [sub])
                    _fail(comp, instr, f"computations call each other in a cycle: {cycle}")
                if s is None:
                    visit(sub, path + [sub])
        state[id(comp)] = "black"

    for comp in module.computations.values():
        if id(comp) not in state:
            visit(comp, [comp])
