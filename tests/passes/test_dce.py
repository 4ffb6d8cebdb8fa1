"""`dce`: instructions no output depends on are dropped, in the entry and in sub-computations;
parameters stay, so the module's signature does not change."""
from xla_like import ir
from xla_like.parser import parse_module
from xla_like.passes.dce import dce
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand

TEXT = """HloModule dead

%body (p0: s64[], p1: f64[], p2: f64[4]) -> (s64[], f64[]) {
  %10 = s64[] parameter(0)
  %11 = f64[] parameter(1)
  %12 = f64[4] parameter(2)
  %13 = s64[] constant(1)
  %14 = s64[] add(%10, %13)
  %15 = f64[4] exp(%12)
  %16 = f64[] cos(%11)
  ROOT %17 = (s64[], f64[]) tuple(%14, %16)
}

ENTRY %dead (p0: f64[4], p1: f64[4]) -> f64[] {
  %0 = f64[4] parameter(0)
  %1 = f64[4] parameter(1)
  %2 = f64[4] tanh(%1)
  %3 = f64[] reduce_sum(%0), axes={0}
  %4 = s64[] constant(0)
  %5 = (s64[], f64[]) scan(%4, %3, %0), num_carry=2, num_xs=0, length=3, reverse=false, calls={%body}
  ROOT %6 = f64[] get_tuple_element(%5), index=1
}
"""


def test_unused_instructions_go_everywhere_parameters_stay():
    before = parse_module(TEXT)
    after = dce(ir.clone_module(before))
    verify_module(after)
    assert "tanh" not in opcodes(after.entry)
    assert opcodes(after.entry).count("parameter") == 2
    body = after.computations["body"]
    # The scan's counter carry (its value unread) and its const go with the work on them.
    assert "exp" not in opcodes(body) and opcodes(body).count("parameter") == 1
    # What the outputs need is all still there.
    assert "cos" in opcodes(body) and "scan" in opcodes(after.entry)
    assert_same_results(before, after, [rand((4,), seed=0), rand((4,), seed=1)])
