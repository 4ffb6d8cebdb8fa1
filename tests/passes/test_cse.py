"""`cse`: instructions with the same opcode, operands, attributes and callees are computed once;
parameters are never merged. The module is hand-written (the builder already shares what it
emits twice, so a traced program has nothing left for the pass to find)."""
from xla_like import ir
from xla_like.parser import parse_module
from xla_like.passes.cse import cse
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand

TEXT = """HloModule twice

ENTRY %twice (p0: f64[3], p1: f64[3]) -> (f64[3], f64[3]) {
  %0 = f64[3] parameter(0)
  %1 = f64[3] parameter(1)
  %2 = f64[3] sin(%0)
  %3 = f64[3] sin(%0)
  %4 = f64[3] mul(%2, %1)
  %5 = f64[3] mul(%3, %1)
  %6 = f64[3] sin(%1)
  %7 = f64[3] add(%4, %6)
  %8 = f64[3] add(%5, %6)
  ROOT %9 = (f64[3], f64[3]) tuple(%7, %8)
}
"""


def test_repeated_work_is_done_once_and_results_are_unchanged():
    before = parse_module(TEXT)
    after = cse(ir.clone_module(before))
    verify_module(after)
    ops = opcodes(after.entry)
    # sin(p0) and its product and sum appear once each; sin(p1) reads another operand: kept.
    assert ops.count("sin") == 2 and ops.count("mul") == 1 and ops.count("add") == 1, ops
    root = after.entry.root
    assert root.operands[0] is root.operands[1]
    args = [rand((3,), seed=0), rand((3,), seed=1)]
    assert_same_results(before, after, args)


def test_parameters_and_different_attributes_are_not_merged():
    text = """HloModule keep

ENTRY %keep (p0: f64[2,3], p1: f64[2,3]) -> (f64[3], f64[2]) {
  %0 = f64[2,3] parameter(0)
  %1 = f64[2,3] parameter(1)
  %2 = f64[2,3] add(%0, %1)
  %3 = f64[3] reduce_sum(%2), axes={0}
  %4 = f64[2] reduce_sum(%2), axes={1}
  ROOT %5 = (f64[3], f64[2]) tuple(%3, %4)
}
"""
    before = parse_module(text)
    after = cse(ir.clone_module(before))
    assert opcodes(after.entry) == opcodes(before.entry)
    assert_same_results(before, after, [rand((2, 3), seed=2), rand((2, 3), seed=3)])
