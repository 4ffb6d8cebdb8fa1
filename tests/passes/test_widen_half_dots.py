"""The widen_half_dots pass: bfloat16 and float16 dots become float32 dots between converts.
The pass alone keeps the interpreter's numbers bit for bit (the reference accumulates 16-bit
products in float32 and rounds once, the rewritten module does the same), leaves other dots
alone, and rewrites dots inside loop bodies too."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from tests.helpers import opcodes, run_on_interpreter
from xla_like import ir
from xla_like.passes.widen_half_dots import widen_half_dots
from xla_like.verifier import verify_module

BF16 = np.dtype(ml_dtypes.bfloat16)
rng = np.random.default_rng(3)


def rand(shape, dtype):
    return rng.normal(size=shape).astype(np.float32).astype(dtype)


def all_instrs(module):
    return [i for c in module.computations.values() for i in c.instructions]


def widened(f, *args):
    before = jc.make_hlo(f)(*args)
    after = widen_half_dots(ir.clone_module(before))
    verify_module(after)
    for g, w in zip(run_on_interpreter(after, args), run_on_interpreter(before, args)):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(np.asarray(g).view(np.uint8), np.asarray(w).view(np.uint8))
    return after


@pytest.mark.parametrize("dt", [BF16, np.dtype(np.float16)], ids=str)
def test_16_bit_dots_become_float32_dots(dt):
    a, b = rand((6, 5), dt), rand((5, 4), dt)
    after = widened(lambda x, y: x @ y, a, b)
    ds = [i for i in all_instrs(after) if i.opcode == "dot_general"]
    assert len(ds) == 1
    assert [o.shape.dtype for o in ds[0].operands] == [np.float32, np.float32]
    assert ds[0].shape.dtype == np.float32
    assert after.entry.root.opcode == "convert_element_type"
    assert after.entry.root.shape.dtype == dt


def test_a_float32_result_needs_no_final_convert():
    a, b = rand((3, 7), BF16), rand((7, 2), BF16)
    after = widened(lambda x, y: lax.dot(x, y, preferred_element_type=jnp.float32), a, b)
    assert after.entry.root.opcode == "dot_general"


def test_other_dots_are_left_alone():
    a = rng.normal(size=(4, 4)).astype(np.float32)
    before = jc.make_hlo(lambda x: x @ x)(a)
    after = widen_half_dots(ir.clone_module(before))
    assert opcodes(after.entry) == opcodes(before.entry)


def test_dots_in_loop_bodies_are_widened():
    a = rand((4, 4), BF16)
    after = widened(lambda x: lax.fori_loop(0, 3, lambda i, c: jnp.tanh(c @ x), x), a)
    ds = [i for i in all_instrs(after) if i.opcode == "dot_general"]
    assert ds and all(o.shape.dtype == np.float32 for d in ds for o in d.operands)


def test_kept_dots_keep_their_operands_and_accumulate_in_float32():
    # A backend with a native 16-bit GEMM names the dots it keeps: their operands stay
    # bfloat16, a bfloat16 result is a float32 dot rounded once by a convert (same numbers).
    from xla_like.passes.widen_half_dots import keeping
    a, b = rand((6, 5), BF16), rand((5, 4), BF16)
    with keeping(lambda instr: instr.operands[0].shape.dims == (6, 5)):
        after = widened(lambda x, y: (x @ y, y.T @ x.T,
                                      lax.dot(x, y, preferred_element_type=jnp.float32)), a, b)
    ds = [i for i in all_instrs(after) if i.opcode == "dot_general"]
    kept = [d for d in ds if d.operands[0].shape.dtype == BF16]
    assert len(ds) == 3 and len(kept) == 2
    assert all(d.shape.dtype == np.float32 and d.operands[1].shape.dtype == BF16 for d in kept)
    assert [o.opcode for o in after.entry.root.operands][0] == "convert_element_type"
    widened_dot = [d for d in ds if d not in kept][0]
    assert [o.shape.dtype for o in widened_dot.operands] == [np.float32, np.float32]
