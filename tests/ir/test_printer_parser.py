"""The IR text format: printing, parsing back, and structural comparison.

Every round trip checks three things: parse(print(m)) is structurally equal to m (ids, operands,
shapes, attribute values with their types, constants bit for bit, locations, calls, roots),
printing the parsed module gives the same text, and the format details a reader relies on.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from ops import core, dtypes
from ops import elementwise as el
from ops.core import ShapedArray
from ops.errors import CompilerError, IRParseError, IRVerificationError
from xla_like import ir, pipeline
from xla_like.settings import override, settings as table
from xla_like.builder import BuilderTrace
from xla_like.ir_compare import assert_modules_equal, modules_equal
from xla_like.parser import parse_module
from xla_like.printer import computation_order, instruction_to_text, module_to_text


# --- building modules by hand ---------------------------------------------------------------

def S(dtype, *dims):
    return ir.Shape(dtype, dims)


def emit(m, comp, opcode, operands, shape, attrs=None, called=(), location=""):
    return comp.add(ir.Instruction(m.fresh_id(), opcode, operands, shape, attrs, called, location))


def param(m, comp, shape, **attrs):
    return emit(m, comp, ir.PARAMETER, [], shape, {"index": len(comp.parameters), **attrs})


def const(m, comp, value, dtype=None):
    arr = np.array(value, dtype=dtype)
    return emit(m, comp, ir.CONSTANT, [], ir.Shape(arr.dtype, arr.shape), {"value": arr})


def single_computation_module(build, name="m"):
    """A module whose entry is built by `build(m, comp) -> root`."""
    m = ir.Module(name)
    comp = ir.Computation(name)
    comp.root = build(m, comp)
    m.set_entry(comp)
    return m


def traced_module(fn, *avals, name="f"):
    """Trace `fn` over parameters of the given avals with the IR builder."""
    m = ir.Module(name)
    trace = BuilderTrace(m, name)
    with core.new_trace(trace):
        args = [trace.new_parameter(a, name=f"x{i}") for i, a in enumerate(avals)]
        outs = fn(*args)
        comp = trace.finish(list(outs) if isinstance(outs, tuple) else [outs])
    m.set_entry(comp)
    return m


def round_trip(m):
    """Print in full, parse, compare, and check printing is stable; return the text."""
    text = module_to_text(m, print_large_constants=True)
    parsed = parse_module(text)
    assert_modules_equal(m, parsed)
    assert module_to_text(parsed, print_large_constants=True) == text
    short = module_to_text(m)
    if "{...}" not in short:
        assert module_to_text(parse_module(short)) == short
    return text


# --- the format -------------------------------------------------------------------------------

def test_golden_text():
    def build(m, c):
        p0 = param(m, c, S("f8", 4, 3), name="params['w']")
        p1 = param(m, c, S("f8", 3))
        const(m, c, 2.5)
        e = emit(m, c, "exp", [p1], S("f8", 3), location="example.py:6")
        t = emit(m, c, ir.TUPLE, [e, p1], (S("f8", 3), S("f8", 3)))
        g = emit(m, c, ir.GET_TUPLE_ELEMENT, [t], S("f8", 3), {"index": 0})
        del p0
        return emit(m, c, "add", [g, p1], S("f8", 3), location="example.py:7")

    m = single_computation_module(build, "predict")
    assert module_to_text(m) == (
        "HloModule predict\n"
        "\n"
        "ENTRY %predict (p0: f64[4,3], p1: f64[3]) -> f64[3] {\n"
        "  %0 = f64[4,3] parameter(0), name=\"params['w']\"\n"
        "  %1 = f64[3] parameter(1)\n"
        "  %2 = f64[] constant(2.5)\n"
        "  %3 = f64[3] exp(%1)  # example.py:6\n"
        "  %4 = (f64[3], f64[3]) tuple(%3, %1)\n"
        "  %5 = f64[3] get_tuple_element(%4), index=0\n"
        "  ROOT %6 = f64[3] add(%5, %1)  # example.py:7\n"
        "}\n")
    round_trip(m)


def test_traced_module_round_trip():
    def f(x, y):
        a = el.exp(x)
        b = el.mul(a, np.full((3,), 0.1, np.float32))
        c = el.integer_pow(b, y=2)
        d = el.convert_element_type(c, new_dtype=np.dtype("float64"))
        keep = el.lt(x, a)
        s = el.select(keep, a, x)
        k = el.clamp(np.float32(0), s, np.float32(1))
        i = el.iota(dtype=np.dtype("int32"), shape=(2, 3), dimension=1)
        return d, k, i, el.add(y, y)

    m = traced_module(f, ShapedArray((3,), "float32"), ShapedArray((2, 2), "int64"))
    text = round_trip(m)
    assert 'parameter(0), name="x0"' in text
    assert "new_dtype=f64" in text
    assert "shape={2,3}, dimension=1" in text
    assert "# test_printer_parser.py:" in text  # the user's line, from the builder
    assert "ROOT %" in text and ") tuple(" in text


def test_constant_literals():
    def build(m, c):
        const(m, c, np.float32(0.1))
        const(m, c, np.float16(0.1))
        const(m, c, [[1, 2], [3, 4]], np.int32)
        const(m, c, [True, False])
        const(m, c, np.iinfo(np.uint64).max, np.uint64)
        const(m, c, [-0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-300], np.float64)
        return const(m, c, 7, np.int8)

    text = round_trip(single_computation_module(build))
    assert "f32[] constant(0.1)\n" in text      # shortest for float32, not 0.10000000149...
    assert "f16[] constant(0.1)\n" in text
    assert "s32[2,2] constant({{1, 2}, {3, 4}})" in text
    assert "pred[2] constant({true, false})" in text
    assert "u64[] constant(18446744073709551615)" in text
    assert "constant({-0.0, inf, -inf, nan, nan, 1e-300})" in text


@pytest.mark.parametrize("dtype", dtypes.SUPPORTED, ids=lambda d: dtypes.IR_NAME[d])
def test_every_dtype_round_trips(dtype):
    if dtype.kind == "b":
        values = [True, False, True]
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = [info.min, info.max, 0, 1, info.max // 3]
    else:
        info = ml_dtypes.finfo(dtype)   # NumPy's finfo knows no bfloat16
        values = [info.min, info.max, info.tiny, info.smallest_subnormal, -0.0, 0.0, 0.1,
                  1 / 3, np.nan, np.inf, -np.inf, 1e-4, 12345.678]
        if dtype.kind == "c":
            # Every real value against every kind of imaginary part (sign of zero, nan, inf).
            values = [complex(r, i) for r, i in zip(values, values[::-1])]

    def build(m, c):
        p = param(m, c, S(dtype, 2, 0, 3))
        const(m, c, np.array(values, dtype=dtype))
        const(m, c, np.array(values[0], dtype=dtype))
        const(m, c, np.zeros((2, 0), dtype=dtype))
        const(m, c, np.zeros((0, 3), dtype=dtype))
        const(m, c, np.array(values * 2, dtype=dtype).reshape(2, 1, len(values)))
        return p

    round_trip(single_computation_module(build))


def test_every_float16_bit_pattern_round_trips():
    allf16 = np.arange(2 ** 16, dtype=np.uint16).view(np.float16)
    round_trip(single_computation_module(lambda m, c: const(m, c, allf16)))


def test_random_float32_bit_patterns_round_trip():
    bits = np.random.default_rng(0).integers(0, 2 ** 32, size=100_000, dtype=np.uint64)
    f32 = bits.astype(np.uint32).view(np.float32)
    round_trip(single_computation_module(lambda m, c: const(m, c, f32)))


# Hypothesis draws NumPy's own dtypes; bfloat16 (ml_dtypes) constants are drawn as bit patterns.
_NUMPY_DTYPES = [d for d in dtypes.SUPPORTED if d != dtypes.bfloat16]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from(_NUMPY_DTYPES),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_any_constant_round_trips(arr):
    round_trip(single_computation_module(lambda m, c: const(m, c, arr)))


def test_every_bfloat16_bit_pattern_round_trips():
    bf16 = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16).view(dtypes.bfloat16)
    round_trip(single_computation_module(lambda m, c: const(m, c, bf16)))


def test_float_text_falls_back_to_the_exact_value_if_short_text_would_not_round_trip(monkeypatch):
    # NumPy's shortest digits are read back through float64; should that double rounding ever
    # miss, the printer writes the exact value instead. Simulate a miss.
    monkeypatch.setattr(np, "format_float_positional", lambda x, **kw: "0.1000001")
    m = single_computation_module(lambda m, c: const(m, c, np.float32(0.1)))
    assert "constant(0.10000000149011612)" in round_trip(m)


def test_large_constants_are_elided_unless_asked():
    def build(m, c):
        const(m, c, np.arange(16.0))
        return const(m, c, np.arange(17.0))

    m = single_computation_module(build)
    text = module_to_text(m)
    assert "f64[16] constant({0.0, 1.0," in text
    assert "ROOT %1 = f64[17] constant({...})" in text
    with pytest.raises(IRParseError, match=r"line 5: elided constant; print with "
                                           r"print_large_constants=True"):
        parse_module(text)
    round_trip(m)


# --- attributes ---------------------------------------------------------------------------------

EVERY_ATTR = {
    "i": 3, "neg": -3, "big": 2 ** 64 + 1, "f": 2.5, "tiny": 5e-324, "inf": float("inf"),
    "ninf": float("-inf"), "nan": float("nan"), "nzero": -0.0, "t": True, "fa": False,
    "none": None, "dt": np.dtype("float32"), "dt_bool": np.dtype(bool),
    "s": "clip", "tricky": 'a "quoted" \\ back\nslash # not a comment, f32) {x}',
    "looks_like_dtype": "f32", "looks_like_bool": "true", "looks_like_none": "none",
    "unicode": "héllo ∑", "empty_s": "",
    "tup": (1, (2, 3), ()), "empty": (), "dts": (np.dtype("int8"), np.dtype("uint64")),
    "mixed": (None, True, -1.5, "x", ((),)),
}


def test_attributes_of_every_type_round_trip():
    def build(m, c):
        p = param(m, c, S("f4", 3))
        return emit(m, c, "custom_op", [p], S("f4", 3), dict(EVERY_ATTR))

    m = single_computation_module(build)
    text = round_trip(m)
    parsed = parse_module(text)
    attrs = parsed.entry.root.attrs
    assert list(attrs) == list(EVERY_ATTR)
    for k in ("i", "neg", "big"):
        assert type(attrs[k]) is int
    assert type(attrs["f"]) is float and type(attrs["t"]) is bool
    assert isinstance(attrs["dt"], np.dtype) and attrs["dt"] == np.float32
    assert attrs["looks_like_dtype"] == "f32" and attrs["looks_like_bool"] == "true"
    assert attrs["tup"] == (1, (2, 3), ())
    line = text.splitlines()[-2]
    for piece in ("i=3", "neg=-3", "f=2.5", "inf=inf", "ninf=-inf", "nan=nan", "nzero=-0.0",
                  "t=true", "none=none", "dt=f32", "dt_bool=pred", 's="clip"',
                  'looks_like_dtype="f32"', "tup={1,{2,3},{}}", "empty={}", "dts={s8,u64}"):
        assert piece in line, piece


def test_numpy_scalar_attributes_print_as_python_values():
    def build(m, c):
        p = param(m, c, S("f4", 3))
        return emit(m, c, "custom_op", [p], S("f4", 3),
                    {"n": np.int32(-4), "x": np.float32(0.1), "b": np.bool_(True),
                     "d": np.float16})

    m = single_computation_module(build)
    text = round_trip(m)  # ir_compare counts NumPy scalars as the Python values they print as
    assert "n=-4, x=0.10000000149011612, b=true, d=f16" in text
    attrs = parse_module(text).entry.root.attrs
    assert attrs["x"] == float(np.float32(0.1)) and type(attrs["n"]) is int


_scalars = st.one_of(
    st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.floats(), st.booleans(), st.none(),
    st.text(max_size=8), st.sampled_from(dtypes.SUPPORTED))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3).map(tuple),
                       max_leaves=10)
_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda k: k != "calls")


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_any_attributes_round_trip(attrs):
    def build(m, c):
        p = param(m, c, S("i4", 2))
        return emit(m, c, "custom_op", [p], S("i4", 2), attrs)

    round_trip(single_computation_module(build))


def test_unprintable_attribute_prints_but_does_not_parse():
    def build(m, c):
        p = param(m, c, S("f4", 3))
        return emit(m, c, "custom_op", [p], S("f4", 3), {"fn": lambda x: x})

    text = module_to_text(single_computation_module(build))
    assert "fn=<function " in text
    with pytest.raises(IRParseError, match="line 5: an attribute value the printer could not"):
        parse_module(text)


# --- computations ------------------------------------------------------------------------------

def _module_with_calls():
    m = ir.Module("calls")
    body = ir.Computation("body.1")
    bp = param(m, body, S("f4", 3))
    body.root = emit(m, body, "exp", [bp], S("f4", 3))
    m.add_computation(body)

    entry = ir.Computation("main")
    p = param(m, entry, S("f4", 3))
    q = param(m, entry, (S("f4", 3), S("i8", 3)), name="pair")
    g = emit(m, entry, ir.GET_TUPLE_ELEMENT, [q], S("i8", 3), {"index": 1})
    r = emit(m, entry, "call", [p], S("f4", 3), {"mode": "x"}, called=(body,),
             location="my file.py:12")
    entry.root = r
    emit(m, entry, "neg", [g], S("i8", 3))  # after the root: ROOT need not be the last line
    m.set_entry(entry)

    # A fusion registered after the entry still prints first: callees come before callers.
    fused = ir.Computation("fused")
    fp = param(m, fused, S("f4", 3))
    fused.root = emit(m, fused, "call", [fp], S("f4", 3), called=(body, body))
    m.add_computation(fused)
    r.called = (body, fused)
    return m


def test_sub_computations_round_trip_and_print_callees_first():
    m = _module_with_calls()
    text = round_trip(m)
    assert text.index("%body.1 (p0: f32[3]) -> f32[3] {") < text.index("%fused (")
    assert text.index("%fused (") < text.index("ENTRY %main (p0: f32[3], p1: (f32[3], s64[3]))")
    assert 'ROOT %5 = f32[3] call(%2), mode="x", calls={%body.1,%fused}  # my file.py:12' in text
    assert "calls={%body.1,%body.1}" in text
    lines = text.splitlines()
    assert lines[lines.index("}") - 1] == "  ROOT %1 = f32[3] exp(%0)"  # body's root
    parsed = parse_module(text)
    assert [c.name for c in parsed.computations.values()] == ["body.1", "fused", "main"]
    assert [c.name for c in computation_order(m)] == ["body.1", "fused", "main"]
    root = parsed.entry.root
    assert root.called == (parsed.computations["body.1"], parsed.computations["fused"])
    last = parsed.entry.instructions[-1]
    assert last.opcode == "neg" and last is not root


def test_quoted_names_round_trip():
    m = single_computation_module(lambda m, c: param(m, c, S("f4", 2)), name="jit(my f)")
    text = round_trip(m)
    assert text.startswith('HloModule "jit(my f)"\n')
    assert 'ENTRY %"jit(my f)" (' in text


def test_parsed_module_ids_and_next_id():
    m = _module_with_calls()
    m._next_id += 10  # ids freed by a pass: the parser only needs to stay above the largest
    parsed = parse_module(module_to_text(m))
    largest = max(i.id for c in parsed.computations.values() for i in c.instructions)
    assert parsed._next_id == largest + 1
    assert parsed.fresh_id() == largest + 1


def test_parse_tolerates_blank_lines_and_comments():
    m = _module_with_calls()
    text = module_to_text(m)
    noisy = "# a dump\n\n" + text.replace("\n", "\n\n   \n").replace(
        "{\n", "{  # opens\n# inside a computation\n")
    assert_modules_equal(parse_module(noisy), m)


def test_instruction_to_text_never_raises_on_broken_instructions():
    odd = ir.Instruction(5, "add", [None, "x"], "not a shape", {"v": object()})
    text = instruction_to_text(odd)
    assert text.startswith("%5 = <bad shape") and "add(<not an instruction" in text
    assert instruction_to_text(ir.Instruction(6, ir.PARAMETER, [], S("f4"))) == \
        "%6 = f32[] parameter(?)"


# --- parse errors -----------------------------------------------------------------------------

GOOD = """HloModule m

ENTRY %main (p0: f32[2]) -> f32[2] {
  %0 = f32[2] parameter(0)
  ROOT %1 = f32[2] exp(%0)
}
"""


def test_good_text_parses():
    m = parse_module(GOOD)
    assert module_to_text(m) == GOOD


@pytest.mark.parametrize("old, new, line, message", [
    ("f32[2] exp", "c32[2] exp", 5, "unknown element type 'c32'"),
    ("exp(%0)", "exp(%7)", 5, "operand %7 is not defined"),
    ("ROOT %1", "%1", 3, "has no ROOT"),
    ("  %0 = f32[2] parameter(0)", "  ROOT %0 = f32[2] parameter(0)", 5, "a second ROOT"),
    ("ROOT %1", "ROOT %0", 5, "%0 is defined twice"),
    ("}\n", "", 3, "not closed"),
    ("exp(%0)", "exp(%0), k=maybe", 5, "unknown attribute value 'maybe'"),
    ("exp(%0)", "exp(%0), k=%main", 5, "only calls={...} may"),
    ("exp(%0)", "exp(%0), calls={%nowhere}", 5, "calls unknown computation %nowhere"),
    ("exp(%0)", "exp(%0) extra", 5, "unexpected text"),
    ("exp(%0)", "exp(%0), k=1, k=2", 5, "attribute 'k' given twice"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = f32[2] constant({1.0})", 5, "has 1 entries"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = f32[2] constant({1.0, 2.0, 3.0})", 5,
     "more than 2 entries"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = u8[2] constant({1, 300})", 5, "out of range for u8"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = pred[2] constant({1, 0})", 5, "not true or false"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = s8[2] constant({1.5, 0})", 5, "not an integer"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = f16[2] constant({1e6, 0})", 5, "out of range for f16"),
    ("ROOT %1 = f32[2] exp(%0)", "ROOT %1 = f32[2] constant({x, 0})", 5, "is not a number"),
    ("(p0: f32[2])", "(p0: f32[3])", 3, "header's parameter types (f32[3])"),
    ("-> f32[2] {", "-> s32[2] {", 3, "header's result type s32[2] differs"),
    ("HloModule m", "Module m", 1, "expected 'HloModule'"),
    ("%0 = f32[2] parameter(0)", "%0 = f32[2 parameter(0)", 4, "expected ']'"),
    ("%0 = f32[2] parameter(0)", "%0 = f32[2] parameter(a)", 4, "expected a parameter index"),
])
def test_parse_errors_name_the_line(old, new, line, message):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(IRParseError) as e:
        parse_module(text)
    assert f"line {line}:" in str(e.value)
    assert message in str(e.value)


def test_duplicate_and_second_entry_computations_are_refused():
    with pytest.raises(IRParseError, match="line 8: computation %main is defined twice"):
        parse_module(GOOD + "\n" + GOOD.split("\n", 2)[2])
    second = ("ENTRY %other () -> f32[] {\n"
              "  ROOT %7 = f32[] constant(1.0)\n"
              "}\n")
    with pytest.raises(IRParseError, match="line 8: a second ENTRY computation"):
        parse_module(GOOD + "\n" + second)
    with pytest.raises(IRParseError, match="line 1: expected `HloModule name`"):
        parse_module("\n# nothing\n")


# --- ir_compare -------------------------------------------------------------------------------

def test_compare_reports_the_first_difference():
    def make(value=-0.0, attr=(1, 2), loc="a.py:1", dtype=np.float64):
        def build(m, c):
            k = const(m, c, np.array([value, np.nan], dtype))
            return emit(m, c, "neg", [k], S(dtype, 2), {"axes": attr}, location=loc)
        return single_computation_module(build)

    assert modules_equal(make(), make())  # NaN equals NaN
    assert not modules_equal(make(), make(value=0.0))  # but -0.0 is not 0.0
    assert not modules_equal(make(), make(dtype=np.float32))
    assert not modules_equal(make(), make(attr=[1, 2]))  # a list is not a tuple
    assert not modules_equal(make(), make(attr=(1, 2.0)))  # an int is not a float
    with pytest.raises(AssertionError, match=r"computation %m, %1 = f64\[2\] neg\(%0\).*\n"
                                             r"  locations differ: 'a.py:1' vs 'b.py:1'"):
        assert_modules_equal(make(), make(loc="b.py:1"))


# --- the library's own checks (on for the whole suite: tests/conftest.py) ----------------------

def test_every_built_module_is_checked_under_the_checks_setting():
    assert table.checks
    pipeline.check_traced(traced_module(el.exp, ShapedArray((2,), "float32")))

    def unprintable(m, c):
        # Verifies (parameters have no shape rule to trip over) but cannot be read back.
        return param(m, c, S("f4", 3), fn=print)

    with pytest.raises(CompilerError, match="text of module m does not read back") as e:
        pipeline.check_traced(single_computation_module(unprintable))
    assert e.value.pass_name == "print/parse"

    def wrong_shape(m, c):
        p = param(m, c, S("f4", 3))
        return emit(m, c, "neg", [p], S("f4", 4))

    with pytest.raises(CompilerError, match="pass 'traced' left an invalid module m") as e:
        pipeline.check_traced(single_computation_module(wrong_shape))
    assert isinstance(e.value.__cause__, IRVerificationError)
    assert "%1 = f32[4] neg(%0)" in str(e.value.__cause__)
    with override(checks=0):
        pipeline.check_traced(single_computation_module(wrong_shape))   # nothing checks it
