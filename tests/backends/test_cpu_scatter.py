"""Native scatter kernels against the NumPy definition of each scatter primitive.

Duplicates (last write wins for `scatter`, accumulation in row order for the others),
out-of-range and negative rows (dropped), NaN in min/max, bool and integer wrap-around,
float16, several indexed axes and rows that address the whole operand.
"""
import numpy as np
import pytest

import jitcore as jc
from ops.core import PRIMITIVES
from tests.helpers import plan_of

RNG = np.random.default_rng(3)
KINDS = ["scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"]


def run_both(name, operand, indices, updates, axes):
    prim = PRIMITIVES[name]
    want = prim.impl(operand, indices, updates, axes=axes)
    f = jc.jit(lambda o, i, u: prim.bind(o, i, u, axes=axes))
    got = np.asarray(f(operand, indices, updates))
    steps = [s.kind for s in plan_of(f, operand, indices, updates).steps]
    assert "scatter" in steps, steps
    return got, want


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int32, np.uint8,
                                   np.bool_])
def test_one_axis_with_duplicates_and_out_of_range(name, dtype):
    operand = (RNG.normal(size=(6, 3)) * 4).astype(dtype)
    indices = np.array([[1], [4], [1], [9], [-1], [0], [4]])
    updates = (RNG.normal(size=(7, 3)) * 4).astype(dtype)
    got, want = run_both(name, operand, indices, updates, (0,))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", KINDS)
def test_two_axes_and_a_batch_of_rows(name):
    operand = RNG.normal(size=(4, 5, 3))
    indices = RNG.integers(-1, 6, size=(2, 3, 2)).astype(np.int32)
    updates = RNG.normal(size=(2, 3, 5))
    got, want = run_both(name, operand, indices, updates, (2, 0))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["scatter_min", "scatter_max"])
def test_nan_propagates(name):
    operand = np.array([1.0, np.nan, 3.0, 4.0])
    indices = np.array([[0], [1], [2], [2], [3]])
    updates = np.array([np.nan, 0.0, 5.0, np.nan, -1.0])
    got, want = run_both(name, operand, indices, updates, (0,))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", KINDS)
def test_rows_addressing_the_whole_operand(name):
    operand = RNG.normal(size=(2, 3))
    indices = np.zeros((4, 0), np.int64)
    updates = RNG.normal(size=(4, 2, 3))
    got, want = run_both(name, operand, indices, updates, ())
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_negative_axis_and_uint64_indices():
    operand = RNG.normal(size=(3, 4))
    indices = np.array([[3], [0], [2 ** 63 + 1], [3]], np.uint64)
    updates = RNG.normal(size=(4, 3))
    got, want = run_both("scatter_add", operand, indices, updates, (-1,))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_at_set_in_a_loop_runs_natively():
    from jitcore import lax

    def f(x):
        return lax.fori_loop(0, 6, lambda i, a: a.at[i].set(a[i] * 2 + i), x)
    x = RNG.normal(size=8)
    want = x.copy()
    for i in range(6):
        want[i] = want[i] * 2 + i
    jf = jc.jit(f)
    np.testing.assert_allclose(np.asarray(jf(x)), want, rtol=1e-15)
    (loop,) = plan_of(jf, x).steps
    assert loop.kind == "control"
