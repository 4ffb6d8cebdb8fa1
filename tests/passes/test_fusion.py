"""`fuse`: after layout and fusion the entry holds only parameters, array constants, `fusion`
kernels, library calls (`dot_general`) and instructions no kernel expresses; the result computes
the same numbers on the interpreter (which runs each kernel's computation)."""
import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from xla_like import ir
from xla_like.passes.fusion import fuse
from xla_like.passes.layout import layout
from xla_like.verifier import verify_module
from tests.helpers import assert_same_results, opcodes, rand

ALLOWED = {"parameter", "constant", "fusion", "dot_general", "tuple", "get_tuple_element",
           "sort"}


def model(x, w, b):
    h = jnp.tanh(x @ w + b)
    e = jnp.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), jnp.sort(h, axis=1)


def test_kernels_and_library_calls_only_and_same_numbers():
    args = [rand((6, 5), seed=0), rand((5, 4), seed=1), rand((4,), seed=2)]
    before = jc.make_hlo(model)(*args)
    after = fuse(layout(ir.clone_module(before)))
    verify_module(after)
    ops = opcodes(after.entry)
    assert set(ops) <= ALLOWED, set(ops) - ALLOWED
    assert "fusion" in ops and "dot_general" in ops and "sort" in ops
    # Each kernel's computation holds no library call or unfusable instruction.
    for instr in after.entry.instructions:
        if instr.opcode == "fusion":
            (kernel,) = instr.called
            assert not {"dot_general", "sort", "fusion"} & set(opcodes(kernel))
    # Fewer steps than instructions: the elementwise chain around the dot is grouped.
    assert ops.count("fusion") < len(before.entry.instructions) // 2
    assert_same_results(before, after, args)
    x, w, b = args
    h = np.tanh(x @ w + b)
    e = np.exp(h - h.max(1, keepdims=True))
    np.testing.assert_allclose(jc.jit(model)(*args)[0], e / e.sum(1, keepdims=True),
                               rtol=1e-12)
