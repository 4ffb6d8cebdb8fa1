"""Every primitive carries the traits the passes and backends ask (`ops.core.Primitive`), so a
primitive added without one fails here rather than silently losing fusion, bucketing or a
backend; and no pass or backend keeps its own list of opcode names instead.

These extend `test_registry.py` (rules and test cases) to the compiler's side.
"""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import ops  # noqa: F401  (registers every primitive family)
from ops.core import IDENTITIES, LOWERINGS, MATH_ROUTINES, PRIMITIVES, ShapedArray
from ops.errors import DtypeError
from tests.ops.test_primitives import VALUE_CASES

NAMES = sorted(PRIMITIVES)
ELEMENT = sorted(n for n, p in PRIMITIVES.items() if p.lowering == "element")
KERNEL = sorted(n for n, p in PRIMITIVES.items() if p.lowering == "kernel")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _cases(name):
    return [c for c in VALUE_CASES if c.prim == name]


def _accepts_floats(p):
    try:
        p.abstract_eval(ShapedArray((3,), np.float64), axes=(0,))
    except DtypeError:
        return False
    return True


def _dtypes(case):
    return [np.asarray(a).dtype for a in case.args]

class _Probe:
    """The part of an element emitter the LLVM element rule uses, math routines only declared."""

    def __init__(self, builder):
        self.b = builder

    def math(self, name, ty):
        from llvmlite import ir as ll
        routine = MATH_ROUTINES[name]
        return ll.Function(self.b.module, ll.FunctionType(ty, [ty] * routine.args),
                           f"probe.{name}.{len(self.b.module.globals)}")


def can_emit(prim, dtypes, params=None) -> bool:
    """Whether the LLVM element rule (`llvm.elementwise.emit`, CPU and CUDA) has a body for
    `prim` (an "element" primitive) on scalar operands of `dtypes` with static `params`: tried
    on a scratch LLVM function."""
    from llvmlite import ir as ll

    from xla_like import ir
    from xla_like.backends.llvm.elementwise import emit
    from xla_like.backends.llvm.emitter import value_type
    if prim.lowering != "element":
        return False
    params = dict(params or {})
    dtypes = [np.dtype(d) for d in dtypes]
    out = prim.abstract_eval(*[ShapedArray((), d) for d in dtypes], **params)
    module = ll.Module(name="probe")
    fn = ll.Function(module, ll.FunctionType(ll.VoidType(), [value_type(d) for d in dtypes]),
                     "probe")
    operands = [ir.Instruction(k, ir.PARAMETER, [], ir.Shape(d, ()), {"index": k}, (), "")
                for k, d in enumerate(dtypes)]
    instr = ir.Instruction(len(dtypes), prim.name, operands, ir.Shape(out.dtype, ()), params,
                           (), "")
    try:
        emit(_Probe(ll.IRBuilder(fn.append_basic_block())), instr, list(fn.args))
    except (NotImplementedError, KeyError):   # no body: what `emit` raises for it
        return False
    return True



@pytest.mark.parametrize("name", NAMES)
def test_every_primitive_says_how_it_is_lowered(name):
    prim = PRIMITIVES[name]
    assert prim.lowering in LOWERINGS, (
        f"primitive {name!r} has lowering {prim.lowering!r}: set one of {LOWERINGS} "
        "(see ops.core.Primitive) so the compiled backends know how to run it")


@pytest.mark.parametrize("name", NAMES)
def test_traits_agree_with_the_lowering(name):
    p = PRIMITIVES[name]
    if p.lowering == "element":
        assert p.elementwise, f"{name}: the element rule computes only elementwise ops"
    if p.moves_data or p.reduction is not None and not p.cumulative or p.positional:
        assert p.lowering == "kernel", f"{name}: the kernel emitter computes it inside a loop"
    if p.lowering in ("control", "calls") or p.inlinable:
        assert p.call_like, f"{name}: runs sub-computations, so it is call-like"
    if p.call_like:
        assert p.lowering in ("control", "calls"), f"{name}: call-like, lowered as {p.lowering}"
    if p.reshapes:
        assert p.linear_order and p.moves_data, f"{name}: a reshape keeps the linear order"
    if p.cheap or p.keeps_positions or p.linear_order:
        assert p.elementwise or p.moves_data or p.positional, \
            f"{name}: only elemental ops are cheap, keep positions or keep the linear order"


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items()
                                        if p.lowering == "rewritten"))
def test_rewritten_ops_leave_the_kernel_pipeline(name):
    """A "rewritten" primitive reaches no backend: a pass of the kernel pipeline replaces it
    in every value case (no kernel emitter or library has a rule for it)."""
    import jitcore
    from xla_like.parser import parse_module
    from xla_like.pipeline import run_pipeline
    from ops.core import bind
    cases = _cases(name)
    assert cases, f"{name}: no value case to run the kernel pipeline on"
    for case in cases:
        lowered = jitcore.jit(lambda *a: bind(PRIMITIVES[name], *a, **case.params)).lower(
            *case.args)
        # The pipeline rewrites in place: run it on a copy read back from the text.
        traced = parse_module(lowered.as_text(print_large_constants=True))
        assert any(i.opcode == name for c in traced.computations.values()
                   for i in c.instructions), f"{name} ({case.label}): not in the trace"
        module = run_pipeline(traced, "kernel")[0]
        left = [c.name for c in module.computations.values()
                for i in c.instructions if i.opcode == name]
        assert not left, f"{name} ({case.label}): still in {left} after the kernel pipeline"


@pytest.mark.parametrize("name", NAMES)
def test_reductions_name_their_identity(name):
    p = PRIMITIVES[name]
    if p.cumulative or p.arg_reduction or p.family == "reduction":
        assert p.reduction in IDENTITIES, (
            f"{name}: a reduction needs `reduction` = one of {IDENTITIES} (masking fills "
            "padding with it)")
    assert not (p.cumulative and p.arg_reduction)
    if p.reduction is not None:
        assert p.reduction in IDENTITIES
        # Its identity really is neutral: reducing the identity with x gives x.
        x = np.array([3.0, -2.0, 5.0])
        fill = {"zero": 0.0, "one": 1.0, "lowest": -np.inf, "highest": np.inf}[p.reduction]
        with_fill = np.concatenate([x, [fill]])
        if p.arg_reduction:
            assert p.impl(with_fill, axis=0, index_dtype=np.int64) == \
                p.impl(x, axis=0, index_dtype=np.int64)
        elif p.cumulative:
            np.testing.assert_array_equal(p.impl(with_fill[::-1], axis=0)[1:],
                                          p.impl(x[::-1], axis=0))
        elif not _accepts_floats(p):
            b = np.array([True, False])
            np.testing.assert_array_equal(p.impl(np.append(b, bool(fill)), axes=(0,)),
                                          p.impl(b, axes=(0,)))
        else:
            np.testing.assert_array_equal(p.impl(with_fill, axes=(0,)), p.impl(x, axes=(0,)))


# The ops a kernel applies to whole complex values: reading the parts of a complex operand,
# assembling a complex result (see xla_like/passes/split_complex.py).
COMPLEX_BOUNDARY = ("real", "imag", "complex")


def _rewritten_on_parts(prim, dts) -> bool:
    """A complex case of an op the split_complex pass rewrites into real arithmetic: the
    element rule never sees it."""
    return prim.name not in COMPLEX_BOUNDARY and prim.complex_parts is not None and \
        any(np.dtype(d).kind == "c" for d in dts)


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items()
                                        if p.elementwise and p.lowering == "element"))
def test_complex_ops_have_a_rule_on_parts(name):
    """An elementwise op that accepts complex operands has the rule that computes it from
    real and imaginary parts (or is one of the boundary ops the emitter handles)."""
    prim = PRIMITIVES[name]
    complex_cases = [c for c in _cases(name) if any(d.kind == "c" for d in _dtypes(c))]
    if complex_cases or "c" in getattr(prim, "kinds", ""):
        assert prim.complex_parts is not None, f"{name}: complex operands but no complex_parts"


@pytest.mark.parametrize("name", ELEMENT)
def test_element_rule_emits_every_case(name):
    """The LLVM element rule (CPU and CUDA) has a body for the op on every dtype its value
    cases use."""
    cases = _cases(name)
    assert cases, f"{name}: no value case to try the element rule with"
    prim = PRIMITIVES[name]
    for case in cases:
        if _rewritten_on_parts(prim, _dtypes(case)):
            continue
        assert can_emit(PRIMITIVES[name], _dtypes(case), case.params), (
            f"{name} ({case.label}): xla_like/backends/llvm/elementwise.py has no body for it")


def test_can_emit_refuses_what_it_cannot_emit():
    assert not can_emit(PRIMITIVES["reduce_sum"], [np.float32], {"axes": ()})
    # A math op whose routine is unknown to every provider: emit has no body to call.
    exp = PRIMITIVES["exp"]
    saved = exp.math
    exp.math = "no_such_routine"
    try:
        assert not can_emit(exp, [np.float32])
    finally:
        exp.math = saved
    assert can_emit(exp, [np.float32])


@pytest.mark.parametrize("name", KERNEL)
def test_kernel_emitter_handles_it(name):
    """What the kernel emitter computes has a handler there (CPU and CUDA emitters)."""
    from xla_like.backends.cuda.blocks import DeviceEmitter
    from xla_like.backends.llvm.emitter import ElementEmitter, _is_leaf
    for emitter in (ElementEmitter, DeviceEmitter):
        assert _is_leaf(name) or hasattr(emitter, "_op_" + name), (
            f"{name}: lowering 'kernel' but {emitter.__name__} has no _op_{name}")


@pytest.mark.parametrize("name", sorted(MATH_ROUTINES))
def test_math_routine_has_a_body_everywhere(name):
    """Every math routine is computable on the CPU (intrinsic, vectorized body, C library)
    and on CUDA (intrinsic or libdevice), with or without the vectorized bodies."""
    from xla_like.backends.llvm import math as llvm_math
    r = MATH_ROUTINES[name]
    assert r.name == name and r.args in (1, 2)
    composed = r.from_exp and MATH_ROUTINES["exp"].libm and MATH_ROUTINES["exp"].libdevice
    # Vectorized bodies on, and off (then a routine the C library lacks uses ours anyway).
    assert r.intrinsic or name in llvm_math.SUPPORTED or r.libm or composed, (
        f"math routine {name!r}: add a body to xla_like/backends/llvm/math.py or name its C "
        "library function")
    assert r.intrinsic or r.libdevice or composed, \
        f"math routine {name!r}: name its libdevice function for the CUDA backend"
    if r.bounded_range:
        assert r.libm, f"{name}: out of its body's range the CPU calls the C library"


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.math))
def test_math_primitive_names_a_known_routine(name):
    p = PRIMITIVES[name]
    assert p.math in MATH_ROUTINES
    assert all(len(c.args) == MATH_ROUTINES[p.math].args for c in _cases(name)), \
        f"{name}: its operands and its routine's operand count differ"
    assert p.lowering == "element" and "f" in p.kinds


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.comparison))
def test_comparisons_name_their_relation(name):
    p = PRIMITIVES[name]
    assert p.comparison in ("==", "!=", "<", "<=", ">", ">=")
    # The relation is the one the reference computes (NaN aside).
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    want = {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}
    np.testing.assert_array_equal(p.impl(x, y), want[p.comparison])


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items()
                                        if p.lowering == "scatter"))
def test_scatters_name_their_combination(name):
    assert PRIMITIVES[name].scatter_combine in (None, "add", "mul", "min", "max")


# --- no lists of opcode names in the compiler -------------------------------------------------

# The math routine's own table of bodies, keyed by math name (see MATH_ROUTINES).
BODY_TABLES = {"llvm_math.py"}


def opcode_tables(source: str, names) -> list:
    """(line, names) of each literal set, list, tuple or dict (its keys) that a module or
    class assigns and whose strings are mostly primitive names (two or more). Dicts whose
    values are all functions are dispatch tables of code, not lists of facts."""
    out = []
    tree = ast.parse(source)
    for stmt in tree.body:
        for st in (stmt.body if isinstance(stmt, ast.ClassDef) else [stmt]):
            if not isinstance(st, (ast.Assign, ast.AnnAssign)) or st.value is None:
                continue
            for node in ast.walk(st.value):
                if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
                    elts = node.elts
                elif isinstance(node, ast.Dict) and not (node.values and all(
                        isinstance(v, (ast.Lambda, ast.Name, ast.Attribute))
                        for v in node.values)):
                    elts = [k for k in node.keys if k is not None]
                else:
                    continue
                strs = [e.value for e in elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                hits = [s for s in strs if s in names]
                if len(hits) >= 2 and 2 * len(hits) > len(strs):
                    out.append((node.lineno, hits))
    return out


def test_the_scan_finds_opcode_tables():
    src = ('CHEAP = {"add", "mul", "neg", "float32"}\n'
           'class K:\n    FILL = {"reduce_sum": "zero", "reduce_max": "lowest"}\n'
           'RULES = {"add": emit_add, "mul": emit_mul}\n'          # dispatch: code, not facts
           'DTYPES = ("float32", "int8", "add")\n'                 # mostly not primitives
           'STRUCT = ("parameter", "constant", "tuple")\n')
    found = opcode_tables(src, set(PRIMITIVES))
    assert [line for line, _ in found] == [1, 3]


@pytest.mark.parametrize("folder", ["xla_like/passes", "xla_like/backends"])
def test_no_module_keeps_a_list_of_opcodes(folder):
    """Facts about ops are traits of `ops.core.Primitive`; a pass or backend asks them."""
    files = sorted((ROOT / folder).glob("*.py"))
    assert files
    bad = []
    for f in files:
        if f.name in BODY_TABLES:
            continue
        for line, hits in opcode_tables(f.read_text(), set(PRIMITIVES)):
            bad.append(f"{folder}/{f.name}:{line}: {hits}")
    assert not bad, ("modules keeping lists of opcode names (make them traits of "
                     "ops.core.Primitive):\n" + "\n".join(bad))
