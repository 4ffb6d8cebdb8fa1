"""`inline_calls`: custom_jvp_call / custom_vjp_call are replaced by the body of the function
they call (compiled backends see only primitives), and sub-computations left unused are dropped."""
import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from xla_like import ir
from xla_like.passes.inline import inline_calls
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand


@jc.custom_jvp
def softplus(x):
    return jnp.log1p(jnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1 + jnp.exp(-x))


@jc.custom_vjp
def square(x):
    return x * x


square.defvjp(lambda x: (x * x, x), lambda x, g: (2 * x * g,))


def test_custom_calls_become_their_bodies():
    x = rand((5,))
    before = jc.make_hlo(lambda v: softplus(v) + square(v))(x)
    assert {"custom_jvp_call", "custom_vjp_call"} <= set(opcodes(before.entry))
    after = inline_calls(ir.clone_module(before))
    verify_module(after)
    for comp in after.computations.values():
        assert not {"custom_jvp_call", "custom_vjp_call"} & set(opcodes(comp)), comp.name
    # Only the entry is left: the called functions and their rules are unreachable now.
    assert list(after.computations.values()) == [after.entry]
    assert_same_results(before, after, [x])
    np.testing.assert_allclose(jc.jit(lambda v: softplus(v) + square(v))(x),
                               np.log1p(np.exp(x)) + x * x, rtol=1e-14)
