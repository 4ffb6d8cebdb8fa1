"""The `lower_windows` pass: windowed reductions become strided slices joined elementwise
(separably, and by doubling windows, for large windows), the result verifies and computes what
the primitive does on the interpreter, and small-window pooling compiles to one kernel.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
from jitcore import lax
from ops.core import PRIMITIVES
from xla_like import verifier
from xla_like.parser import parse_module
from xla_like.passes.lower_windows import MAX_SLICES, lower_windows
from tests.helpers import assert_same_results, plan_of
from tests.windows.reference import FN, identity, reduce_window_ref

# (shape, window, strides, padding, base dilation, window dilation): small windows and the
# large-window paths (separable, a whole-axis reduction, doubling windows along one axis).
CONFIGS = [
    ((2, 9, 9, 3), (1, 3, 3, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (1, 1), (0, 0)), None, None),
    ((9,), (3,), (2,), ((2, 1),), (2,), (2,)),
    ((12, 13), (9, 9), (1, 2), ((4, 4), (3, 5)), None, None),             # 81 > 64
    ((12, 13), (12, 13), (1, 1), ((0, 0), (0, 0)), None, None),           # global pooling
    ((20, 3), (10, 1), (3, 1), ((1, 2), (0, 0)), (2, 1), None),
    ((300,), (100,), (7,), ((5, 9),), None, None),                         # doubling
    ((300,), (70,), (1,), ((0, 0),), None, (3,)),                          # doubling, dilated
    ((200, 2), (130, 1), (70, 1), ((0, 0), (0, 0)), None, None),
    ((5, 4), (9, 9), (1, 1), ((4, 4), (4, 4)), None, None),                # mostly padding
]
IDS = [f"c{i}" for i in range(len(CONFIGS))]


def _traced(kind, config, x):
    _, wd, ws, pads, bd, wdil = config
    fn = getattr(lax, f"reduce_window_{kind}")
    lowered = jitcore.jit(lambda v: fn(v, wd, ws, pads, bd, wdil)).lower(x)
    return lowered.as_text(print_large_constants=True)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_pass_rewrites_and_keeps_results(config, kind):
    x = np.random.default_rng(0).normal(size=config[0])
    text = _traced(kind, config, x)
    before, after = parse_module(text), lower_windows(parse_module(text))
    verifier.verify_module(after)
    ops = {i.opcode for c in after.computations.values() for i in c.instructions}
    assert not any(getattr(PRIMITIVES.get(op), "window_combine", None) for op in ops), ops
    if np.prod(config[1]) > MAX_SLICES:
        n = sum(len(c.instructions) for c in after.computations.values())
        assert n < 4 * MAX_SLICES, f"{n} instructions for a large window"
    assert_same_results(before, after, [x], rtol=1e-12)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_cpu_matches_the_loop(config, kind):
    shape, wd, ws, pads, bd, wdil = config
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    fn = getattr(lax, f"reduce_window_{kind}")
    got = jitcore.jit(lambda v: fn(v, wd, ws, pads, bd, wdil))(x)
    want = reduce_window_ref(x.astype(np.float64), identity(kind, np.float64), FN[kind],
                             wd, ws, pads, bd, wdil)
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=2e-4)


def test_inside_control_flow_bodies():
    x = np.random.default_rng(2).normal(size=(6, 6))

    def f(v):
        body = lambda i, c: lax.reduce_window_max(c, (3, 3), (1, 1), "SAME") * 0.5  # noqa
        return lax.fori_loop(0, 3, body, v)

    want = np.asarray(f(x))
    np.testing.assert_allclose(np.asarray(jitcore.jit(f)(x)), want, rtol=1e-13)


@pytest.mark.parametrize("pool", [
    lambda v: lax.reduce_window_max(v, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"),
    lambda v: lax.reduce_window_sum(v, (1, 3, 3, 1), (1, 1, 1, 1), "SAME") / 9,
])
def test_small_window_pooling_is_one_kernel(pool):
    """Every window element is a slice of the input read by the one fused loop: the input
    is read from memory once and no intermediate is stored."""
    x = np.random.default_rng(3).normal(size=(2, 16, 16, 8)).astype(np.float32)
    f = jitcore.jit(pool)
    steps = plan_of(f, x).steps
    assert [s.kind for s in steps] == ["kernel"], [s.kind for s in steps]
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(pool(x)), rtol=1e-6)
