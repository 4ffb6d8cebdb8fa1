"""float32 `lax.erf` on the CPU backend (`llvm.math._erf`, computed in float32) against SciPy's
float64 erf, unrounded, over a dense grid of float32 values: every 256th float32 from 0 to 4.5
(both branches, the seam at 1 and the tail where erf rounds to 1), every 1024th subnormal,
tails up to the largest float, both signs; then NaN, infinities and signed zeros."""
import numpy as np
import pytest

import jitcore
from jitcore import lax

special = pytest.importorskip("scipy.special")


def _grid():
    top = np.float32(4.5).view(np.uint32)
    dense = np.arange(0, top, 256, dtype=np.uint32).view(np.float32)
    subnormal = np.arange(1, 1 << 23, 1024, dtype=np.uint32).view(np.float32)
    tails = np.geomspace(4.5, np.finfo(np.float32).max, 2000).astype(np.float32)
    seam = np.nextafter(np.float32(1), np.float32(0)) + np.arange(-64, 64, dtype=np.float32) * \
        np.finfo(np.float32).eps
    x = np.concatenate([dense, subnormal, tails, seam.astype(np.float32)])
    return np.concatenate([x, -x])


def _ulps(got, exact):
    """|got - exact| in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    # Below the smallest normal the spacing is the subnormal step.
    spacing = np.maximum(spacing, float(np.finfo(np.float32).smallest_subnormal))
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_erf_float32_ulp_dense_grid():
    x = _grid()
    got = np.asarray(jitcore.jit(lax.erf)(x))
    assert got.dtype == np.float32
    exact = special.erf(x.astype(np.float64))
    err = _ulps(got, exact)
    worst = int(np.argmax(err))
    assert err[worst] <= 1.5, f"{err[worst]:.2f} ULP at x={x[worst]!r}: {got[worst]!r}"
    # Rounded to float32, SciPy's value is at most one step away, and usually the same.
    ref32 = exact.astype(np.float32)
    steps = np.abs(got.view(np.int32).astype(np.int64) - ref32.view(np.int32).astype(np.int64))
    assert steps.max() <= 1
    assert np.mean(steps == 0) > 0.9
    assert np.all(np.abs(got) <= 1)


def test_erf_float32_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.92, -3.92, 1.0, -1.0,
                  np.finfo(np.float32).smallest_subnormal], np.float32)
    got = np.asarray(jitcore.jit(lax.erf)(x))
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:3], [1.0, -1.0])
    assert got[3] == 0 and not np.signbit(got[3])
    assert got[4] == 0 and np.signbit(got[4])
    exact = special.erf(x[5:].astype(np.float64))
    assert _ulps(got[5:], exact).max() <= 1.5
