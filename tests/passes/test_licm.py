"""`licm`: costly loop-invariant work in a while/scan body moves before the loop and enters it
as a new closed-over value; cheap data movement (broadcasts, iotas, reshapes) stays inside."""
import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from xla_like import ir
from xla_like.passes.licm import licm
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand


def loop(x):
    # exp(x).sum() reads only the closed-over x: invariant. The carry's update is not.
    return lax.fori_loop(0, 3, lambda i, c: c * 0.5 + jnp.exp(x).sum(), x[0])


def test_invariant_work_leaves_the_loop():
    x = rand((4,))
    before = jc.make_hlo(loop)(x)
    (body,) = [c for c in before.computations.values() if c is not before.entry]
    assert "exp" in opcodes(body)
    after = licm(ir.clone_module(before))
    verify_module(after)
    (body,) = [c for c in after.computations.values() if c is not after.entry]
    assert "exp" not in opcodes(body) and "reduce_sum" not in opcodes(body), opcodes(body)
    entry_ops = opcodes(after.entry)
    assert entry_ops.index("exp") < entry_ops.index("scan"), entry_ops
    assert "mul" in opcodes(body)
    assert_same_results(before, after, [x])
    want = x[0]
    for _ in range(3):
        want = want * 0.5 + np.exp(x).sum()
    np.testing.assert_allclose(jc.jit(loop)(x), want, rtol=1e-14)
