"""The reference interpreter: runs any Module with each primitive's NumPy impl."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from xla_like import ir
from xla_like.backends import get_backend, interp
from xla_like.parser import parse_module


def test_runs_a_parsed_module():
    text = """HloModule m

ENTRY %m (p0: f32[3], p1: f32[3]) -> (f32[3], pred[3]) {
  %0 = f32[3] parameter(0)
  %1 = f32[3] parameter(1)
  %2 = f32[3] mul(%0, %1)
  %3 = f32[] constant(1.5)
  %4 = f32[3] broadcast_in_dim(%3), shape={3}, broadcast_dimensions={}
  %5 = f32[3] add(%2, %4)
  %6 = pred[3] gt(%5, %0)
  ROOT %7 = (f32[3], pred[3]) tuple(%5, %6)
}
"""
    exe = interp.compile(parse_module(text))
    x = np.array([1, -2, 3], np.float32)
    y = np.array([0.5, 4, -1], np.float32)
    out, flags = exe([x, y])
    np.testing.assert_allclose(out, x * y + np.float32(1.5))
    np.testing.assert_array_equal(flags, x * y + np.float32(1.5) > x)
    assert out.dtype == np.float32 and flags.dtype == np.bool_
    with pytest.raises(TypeError, match="expects 2 arguments"):
        exe([x])


def test_constant_subexpressions_are_evaluated_once():
    module = jc.make_hlo(lambda x: x + jnp.exp(jnp.ones(3)) * 2.0)(np.zeros(3))
    n_params, n_slots, consts, steps, outs = interp._prepare(module.entry)
    # Only the final add depends on the parameter; the rest was folded at compile time.
    assert len(steps) == 1
    exe = interp.compile(module)
    np.testing.assert_allclose(exe([np.ones(3)])[0], 1 + np.exp(1.0) * 2)


def test_outputs_never_alias_caller_memory():
    module = jc.make_hlo(lambda x: (x, x.reshape(2, 2), x.T))(np.zeros(4))
    exe = interp.compile(module)
    a = np.arange(4.0)
    outs = exe([a])
    a[:] = -1
    for o in outs:
        assert not np.shares_memory(o, a)
        assert o.ravel()[1] == 1.0


def test_backend_registry():
    assert get_backend("interp") is interp
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        get_backend("nope")
    with pytest.raises(ValueError, match="unknown backend"):
        jc.jit(lambda x: x, backend="nope")
