"""The verifier accepts well-formed modules and names the broken instruction in each bad one."""
from __future__ import annotations

import numpy as np
import pytest

from ops import core
from ops import elementwise as el
from ops.core import PRIMITIVES, Primitive, ShapedArray
from ops.errors import IRVerificationError
from xla_like import ir
from xla_like.builder import BuilderTrace
from xla_like.parser import parse_module
from xla_like.printer import module_to_text
from xla_like.verifier import verify_module


def S(dtype, *dims):
    return ir.Shape(dtype, dims)


def emit(m, comp, opcode, operands, shape, attrs=None, called=()):
    return comp.add(ir.Instruction(m.fresh_id(), opcode, operands, shape, attrs, called))


def param(m, comp, shape, **attrs):
    return emit(m, comp, ir.PARAMETER, [], shape, {"index": len(comp.parameters), **attrs})


def base():
    """%0, %1 = f32[3] parameters; %2 = add(%0, %1); ROOT %3 = exp(%2)."""
    m = ir.Module("m")
    c = ir.Computation("main")
    p0 = param(m, c, S("f4", 3))
    p1 = param(m, c, S("f4", 3))
    a = emit(m, c, "add", [p0, p1], S("f4", 3))
    e = emit(m, c, "exp", [a], S("f4", 3))
    c.root = e
    m.set_entry(c)
    return m, c, (p0, p1, a, e)


def other_computation(m, name="other"):
    o = ir.Computation(name)
    op = param(m, o, S("f4", 3))
    o.root = op
    m.add_computation(o)
    return o, op


@pytest.fixture
def temp_primitive(monkeypatch):
    """Register a primitive for one test only (the registry is global, and a test walks it)."""
    def make(name, rule, multiple_results=False):
        assert name not in PRIMITIVES
        p = Primitive(name, "test", multiple_results)
        del PRIMITIVES[name]
        monkeypatch.setitem(PRIMITIVES, name, p)
        p.abstract_eval = rule
        return p
    return make


def rejects(m, *fragments):
    with pytest.raises(IRVerificationError) as e:
        verify_module(m)
    text = str(e.value)
    for f in fragments:
        assert f in text, f"{f!r} not in:\n{text}"
    return text


# --- good modules -----------------------------------------------------------------------------

def test_accepts_a_hand_built_module():
    m, *_ = base()
    verify_module(m)


def test_accepts_traced_modules_and_their_parsed_copies():
    m = ir.Module("f")
    t = BuilderTrace(m, "f")
    with core.new_trace(t):
        x = t.new_parameter(ShapedArray((2, 3), "float32"))
        y = el.exp(x)
        w = el.convert_element_type(y, new_dtype=np.dtype("float64"), weak_type=True)
        z = el.select(el.lt(x, y), y, x)
        i = el.iota(dtype=np.dtype("int64"), shape=(4,), dimension=0)
        comp = t.finish([w, z, i])
    m.set_entry(comp)
    verify_module(m)  # the weak type of `w` is a tracing notion; the IR type is f64[2,3]
    verify_module(parse_module(module_to_text(m, print_large_constants=True)))


def test_accepts_multiple_results_tuples_and_calls(temp_primitive):
    temp_primitive("test_split", lambda x: (x, ShapedArray(x.shape, np.int64)),
                   multiple_results=True)
    temp_primitive("test_call", lambda x: x)
    m, c, (p0, p1, a, e) = base()
    body, _ = other_computation(m, "body")
    s = emit(m, c, "test_split", [e], (S("f4", 3), S("i8", 3)))
    g = emit(m, c, ir.GET_TUPLE_ELEMENT, [s], S("i8", 3), {"index": 1})
    k = emit(m, c, "test_call", [p0], S("f4", 3), called=(body,))
    c.root = emit(m, c, ir.TUPLE, [g, k, s], (S("i8", 3), S("f4", 3), s.shape))
    m.set_entry(c)
    verify_module(m)


def test_parameter_instructions_may_appear_in_any_order():
    m, c, (p0, p1, a, e) = base()
    c.instructions = [p1, p0, a, e]  # `comp.parameters` (by index) is the calling convention
    verify_module(m)


# --- broken modules ---------------------------------------------------------------------------

def test_operand_used_before_defined():
    m, c, (p0, p1, a, e) = base()
    c.instructions = [p0, p1, e, a]
    rejects(m, "in computation %main", "operand %2 is used before it is defined",
            "%3 = f32[3] exp(%2)")


def test_operand_from_another_computation():
    m, c, (p0, p1, a, e) = base()
    _, op = other_computation(m)
    e.operands = [op]
    rejects(m, f"operand %{op.id} is defined in another computation, %other",
            f"%3 = f32[3] exp(%{op.id})")


def test_operand_defined_nowhere():
    m, c, (p0, p1, a, e) = base()
    e.operands = [ir.Instruction(99, "exp", [], S("f4", 3))]
    rejects(m, "operand %99 is not an instruction of any computation", "%3 = f32[3] exp(%99)")


def test_id_defined_twice():
    m, c, (p0, p1, a, e) = base()
    e.id = 2
    rejects(m, "id %2 is defined twice", "%2 = f32[3] exp(%2)")


def test_id_defined_twice_across_computations():
    m, c, (p0, p1, a, e) = base()
    _, op = other_computation(m)
    op.id = 3
    rejects(m, "in computation %other: id %3 is defined twice (also in computation %main)",
            "%3 = f32[3] parameter(0)")


def test_same_instruction_listed_twice():
    m, c, (p0, p1, a, e) = base()
    c.instructions.append(a)
    rejects(m, "the same instruction object is listed twice", "%2 = f32[3] add(%0, %1)")


def test_missing_root():
    m, c, _ = base()
    c.root = None
    rejects(m, "in computation %main: the computation has no root")


def test_root_not_in_computation():
    m, c, _ = base()
    _, op = other_computation(m)
    c.root = op
    rejects(m, "in computation %main: the root is not an instruction of this computation",
            f"%{op.id} = f32[3] parameter(0)")


def test_parameter_index_duplicated():
    m, c, (p0, p1, a, e) = base()
    p1.attrs["index"] = 0
    rejects(m, "parameter index 0 is already used by %0", "%1 = f32[3] parameter(0)")


def test_parameter_index_out_of_range():
    m, c, (p0, p1, a, e) = base()
    p1.attrs["index"] = 2
    rejects(m, "parameter index 2 is not one of 0..1", "%1 = f32[3] parameter(2)")


def test_parameter_index_not_an_int():
    m, c, (p0, p1, a, e) = base()
    p1.attrs["index"] = "1"
    rejects(m, "a parameter's index must be an int, got '1'")


def test_parameters_listed_out_of_order():
    m, c, (p0, p1, a, e) = base()
    c.parameters = [p1, p0]
    rejects(m, "parameters are out of order: this one is listed at position 0 but has index 1",
            "%1 = f32[3] parameter(1)")


def test_parameters_list_incomplete():
    m, c, (p0, p1, a, e) = base()
    c.parameters = [p0]
    rejects(m, "comp.parameters does not list exactly the computation's parameter")


def test_unknown_opcode():
    m, c, (p0, p1, a, e) = base()
    e.opcode = "frobnicate"
    rejects(m, "unknown opcode 'frobnicate'", "%3 = f32[3] frobnicate(%2)")


@pytest.mark.parametrize("shape, got", [(S("f4", 4), "f32[4]"), (S("f8", 3), "f64[3]"),
                                        ((S("f4", 3),), "(f32[3])")])
def test_type_differs_from_the_shape_rule(shape, got):
    m, c, (p0, p1, a, e) = base()
    e.shape = shape
    rejects(m, f"the shape rule of exp gives f32[3], but the instruction's type is {got}",
            f"%3 = {got} exp(%2)")


def test_shape_rule_that_raises_is_reported_with_its_message():
    m, c, (p0, p1, a, e) = base()
    p1.shape = S("f4", 4)
    text = rejects(m, "%2 = f32[3] add(%0, %1)", "the shape rule of add rejects it: ShapeError",
                   "add: operands must have equal shapes, got f32[3], f32[4]")
    assert "\n  at " not in text.split("\n  %2")[0]  # the rule's own location is left out


def test_shape_rule_given_unknown_attribute():
    m, c, (p0, p1, a, e) = base()
    e.attrs["axis"] = 0
    rejects(m, "the shape rule of exp rejects it: TypeError", "%3 = f32[3] exp(%2), axis=0")


def test_primitive_with_tuple_operand():
    m, c, (p0, p1, a, e) = base()
    t = emit(m, c, ir.TUPLE, [p0], (S("f4", 3),))
    e2 = emit(m, c, "exp", [t], S("f4", 3))
    c.root = e2
    rejects(m, "operand %4 has the tuple type (f32[3])", "%5 = f32[3] exp(%4)")


def test_multiple_results_rule_is_compared_as_a_tuple(temp_primitive):
    temp_primitive("test_split", lambda x: (x, x), multiple_results=True)
    m, c, (p0, p1, a, e) = base()
    c.root = emit(m, c, "test_split", [e], (S("f4", 3), S("i4", 3)))
    rejects(m, "the shape rule of test_split gives (f32[3], f32[3]), but the instruction's "
               "type is (f32[3], s32[3])", "%4 = (f32[3], s32[3]) test_split(%3)")


def test_get_tuple_element_of_an_array():
    m, c, (p0, p1, a, e) = base()
    c.root = emit(m, c, ir.GET_TUPLE_ELEMENT, [e], S("f4", 3), {"index": 0})
    rejects(m, "operand %3 has the array type f32[3], not a tuple type",
            "%4 = f32[3] get_tuple_element(%3), index=0")


@pytest.mark.parametrize("index", [2, -1, None, True])
def test_get_tuple_element_index_out_of_range(index):
    m, c, (p0, p1, a, e) = base()
    t = emit(m, c, ir.TUPLE, [p0, e], (S("f4", 3), S("f4", 3)))
    c.root = emit(m, c, ir.GET_TUPLE_ELEMENT, [t], S("f4", 3), {"index": index})
    rejects(m, f"index {index!r} is out of range for the tuple type (f32[3], f32[3])", "%5 = ")


def test_get_tuple_element_type_mismatch():
    m, c, (p0, p1, a, e) = base()
    t = emit(m, c, ir.TUPLE, [p0, e], (S("f4", 3), S("f4", 3)))
    c.root = emit(m, c, ir.GET_TUPLE_ELEMENT, [t], S("i4", 3), {"index": 1})
    rejects(m, "element 1 of (f32[3], f32[3]) is f32[3], but the instruction's type is s32[3]",
            "%5 = s32[3] get_tuple_element(%4), index=1")


def test_tuple_type_mismatch():
    m, c, (p0, p1, a, e) = base()
    c.root = emit(m, c, ir.TUPLE, [p0, e], (S("f4", 3), S("f4", 2)))
    rejects(m, "a tuple's type must be its operands' types (f32[3], f32[3]), got "
               "(f32[3], f32[2])", "%4 = (f32[3], f32[2]) tuple(%0, %3)")


@pytest.mark.parametrize("value, message", [
    (np.zeros(3, np.float64), "the constant's value is f64[3], its type says f32[3]"),
    (np.zeros(4, np.float32), "the constant's value is f32[4], its type says f32[3]"),
    ([0.0, 0.0, 0.0], "a constant's value must be a NumPy array, got list"),
])
def test_constant_value_mismatch(value, message):
    m, c, (p0, p1, a, e) = base()
    k = emit(m, c, ir.CONSTANT, [], S("f4", 3), {"value": value})
    c.root = emit(m, c, "add", [k, e], S("f4", 3))
    rejects(m, message, "%4 = f32[3] constant(")


def test_constant_without_value():
    m, c, (p0, p1, a, e) = base()
    c.root = emit(m, c, ir.CONSTANT, [], S("f4", 3))
    rejects(m, "a constant has no `value` attribute", "%4 = f32[3] constant(?)")


def test_invalid_types():
    m, c, (p0, p1, a, e) = base()
    p0.shape = S("f4", -1)
    rejects(m, "type f32[-1] has a negative dimension", "%0 = f32[-1] parameter(0)")
    m, c, (p0, p1, a, e) = base()
    p0.shape = ir.Shape(np.dtype(np.longdouble), (3,))
    rejects(m, "dtype float128 is not supported by the IR", "%0 = float128[3] parameter(0)")


def test_parameter_with_operands():
    m, c, (p0, p1, a, e) = base()
    p1.operands = [p0]
    rejects(m, "a parameter takes no operands", "%1 = f32[3] parameter(1)")


def test_called_computation_not_in_module(temp_primitive):
    temp_primitive("test_call", lambda x: x)
    m, c, (p0, p1, a, e) = base()
    stray = ir.Computation("stray")
    c.root = emit(m, c, "test_call", [e], S("f4", 3), called=(stray,))
    rejects(m, "it calls %stray, which is not a computation of this module",
            "%4 = f32[3] test_call(%3), calls={%stray}")


def test_recursive_calls(temp_primitive):
    temp_primitive("test_call", lambda x: x)
    m, c, (p0, p1, a, e) = base()
    o, op = other_computation(m)
    o.root = emit(m, o, "test_call", [op], S("f4", 3), called=(o,))
    rejects(m, "computations call each other in a cycle: %other -> %other", "in computation %other")


def test_module_level_problems():
    m, c, _ = base()
    m.entry = None
    rejects(m, "module m has no entry computation")
    m, c, _ = base()
    m.computations.pop("main")
    rejects(m, "the entry computation %main is not one of the module's computations")
    m, c, _ = base()
    o, _ = other_computation(m)
    o.name = "renamed"
    rejects(m, "in computation %renamed: the computation is registered under another name, "
               "'other'")
