"""`simplify`: a module re-built with the peepholes (x*1, x+0, x-0, x/1, -(-x), identity
reshapes...) and scalar constant folding applied, unused instructions gone; same parameters,
same results. The module is hand-written: the builder applies the same rules as IR is traced,
so traced IR has nothing left to simplify."""
import numpy as np

from xla_like import ir
from xla_like.parser import parse_module
from xla_like.passes.simplify import simplify
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand

TEXT = """HloModule noisy

ENTRY %noisy (p0: f64[2,3], p1: f64[]) -> (f64[2,3], f64[]) {
  %0 = f64[2,3] parameter(0)
  %1 = f64[] parameter(1)
  %2 = f64[] constant(1.0)
  %3 = f64[2,3] broadcast_in_dim(%2), shape={2,3}, broadcast_dimensions={}
  %4 = f64[2,3] mul(%0, %3)
  %5 = f64[] constant(0.0)
  %6 = f64[2,3] broadcast_in_dim(%5), shape={2,3}, broadcast_dimensions={}
  %7 = f64[2,3] add(%6, %4)
  %8 = f64[2,3] neg(%7)
  %9 = f64[2,3] neg(%8)
  %10 = f64[2,3] reshape(%9), new_sizes={2,3}
  %11 = f64[] constant(2.0)
  %12 = f64[] constant(3.0)
  %13 = f64[] mul(%11, %12)
  %14 = f64[] add(%1, %13)
  %15 = f64[2,3] exp(%0)
  ROOT %16 = (f64[2,3], f64[]) tuple(%10, %14)
}
"""


def test_identities_fold_and_constants_evaluate():
    before = parse_module(TEXT)
    after = simplify(ir.clone_module(before))
    verify_module(after)
    entry = after.entry
    # The first output is the parameter itself; the second adds one folded constant (6.0).
    assert entry.root.operands[0] is entry.parameters[0]
    ops = opcodes(entry)
    for gone in ("mul", "neg", "reshape", "exp"):
        assert gone not in ops, ops
    (six,) = [i for i in entry.instructions if i.opcode == "constant"]
    assert float(six.attrs["value"]) == 6.0
    assert [p.shape for p in entry.parameters] == [p.shape for p in before.entry.parameters]
    assert_same_results(before, after, [rand((2, 3), seed=0), np.float64(0.25)])
