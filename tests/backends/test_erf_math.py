"""erf/erfc accuracy: the vectorized float64 erf (Cephes), the float32 erf body and the float32
erfc (Cephes' float32 algorithm, as XLA's), against the C library's float64 erf/erfc (Python's
math module) over dense grids with the tails, and the special values."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore
import jitcore.nn
from jitcore import lax
from jitcore.scipy import special

from xla_like.backends.llvm import math as lm

_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _ref(fn, x):
    return np.asarray(fn(x.astype(np.float64)), np.float64)


def _ulp(got, want):
    """Distance in units of the last place of `got`'s dtype (ordered integer views)."""
    dt = got.dtype
    want = want.astype(dt)
    it = np.int32 if dt == np.float32 else np.int64
    a, b = got.view(it).astype(np.int64), want.view(it).astype(np.int64)
    a = np.where(a < 0, np.iinfo(it).min - a, a)
    b = np.where(b < 0, np.iinfo(it).min - b, b)
    return np.abs(a - b)


def _grid(dtype):
    rng = np.random.default_rng(0)
    xs = [np.linspace(-7, 7, 40001), rng.uniform(-1.2, 1.2, 20000),
          np.geomspace(1e-300 if dtype == np.float64 else 1e-37, 6, 5000)]
    x = np.concatenate(xs)
    return np.concatenate([x, -x]).astype(dtype)


def test_float64_erf_is_vectorized():
    from llvmlite import ir
    assert lm.is_vectorizable("erf", ir.DoubleType())
    assert "erf" not in lm.LIBM_FLOAT64


@pytest.mark.parametrize("dtype,tol", [(np.float64, 2), (np.float32, 1)])
def test_erf_ulp(dtype, tol):
    x = _grid(dtype)
    got = np.asarray(jitcore.jit(lax.erf)(x))
    assert got.dtype == dtype
    assert _ulp(got, _ref(_ERF, x)).max() <= tol


def test_erfc_float64_ulp():
    x = _grid(np.float64)
    got = np.asarray(jitcore.jit(special.erfc)(x))
    want = _ref(_ERFC, x)
    # Cephes' erfc takes exp(-x^2) with x^2 rounded: relative error grows as x^2 * 2^-53 in the
    # positive tail; below x = 1 and for x < 0 it is 1 - erf / 2 - erfc (absolute).
    # 1 - erf(x) on (-1, 1) (XLA's form too) amplifies erf's rounding up to 4x.
    u = _ulp(got, want)
    assert u[np.abs(x) < 1].max() <= 10
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_erfc_float32_stays_float32_and_accurate():
    x = _grid(np.float32)
    x = x[np.abs(x) < 9]  # beyond, erfc is subnormal in float32
    got = np.asarray(jitcore.jit(special.erfc)(x))
    assert got.dtype == np.float32
    want = _ref(_ERFC, x)
    u = _ulp(got, want)
    # 1 - erf(x) on (-1, 1) amplifies erf's rounding up to 4x (the result can be 4x smaller).
    assert u[np.abs(x) < 1].max() <= 10  # JAX (same algorithm) measures 7 on a coarser grid
    # The tail: exp(-x^2) with x^2 rounded in float32 (as XLA's), relative error ~ x^2 2^-24.
    tail = x >= 1
    rel = np.abs(got[tail] - want[tail]) / want[tail]
    assert np.all(rel <= (x[tail].astype(np.float64) ** 2 + 4) * 2.0 ** -23)


def test_gelu_exact_float32():
    x = _grid(np.float32)
    x = x[(np.abs(x) > 1e-30) & (np.abs(x) < 12)]  # x/2 stays normal
    got = np.asarray(jitcore.jit(lambda v: jitcore.nn.gelu(v, approximate=False))(x))
    assert got.dtype == np.float32
    xd = x.astype(np.float64)
    want = 0.5 * xd * _ref(_ERFC, -xd / math.sqrt(2))
    # Relative error: 1 - erf amplifies near the middle; in the negative tail the rounding of
    # x/sqrt2 and of its square in float32 (as in JAX) give up to ~2 x^2 2^-24.
    err = np.abs(got - want)
    assert np.all(err <= (2 * xd * xd + 16) * 2.0 ** -24 * np.abs(want) + 1e-44)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6.0, -6.0, 30.0, -30.0], dtype)
    e = np.asarray(jitcore.jit(lax.erf)(x))
    c = np.asarray(jitcore.jit(special.erfc)(x))
    assert np.isnan(e[0]) and np.isnan(c[0])
    np.testing.assert_array_equal(e[1:], np.array([1, -1, 0, -0.0, 1, -1, 1, -1], dtype))
    assert np.signbit(e[4]) and not np.signbit(e[3])
    np.testing.assert_array_equal(c[1:3], np.array([0, 2], dtype))
    np.testing.assert_array_equal(c[3:5], np.array([1, 1], dtype))
    np.testing.assert_array_equal(c[7:], np.array([0, 2], dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivatives_exact(dtype):
    x = np.linspace(-4, 4, 33).astype(dtype)
    d = np.asarray(jitcore.jit(jitcore.vmap(jitcore.grad(lax.erf)))(x))
    dc = np.asarray(jitcore.jit(jitcore.vmap(jitcore.grad(special.erfc)))(x))
    want = 2 / math.sqrt(math.pi) * np.exp(-x.astype(np.float64) ** 2)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(d, want, rtol=rtol)
    np.testing.assert_allclose(dc, -want, rtol=rtol)
    # Central differences of the float64 functions agree with the derivative.
    if dtype == np.float64:
        h = 1e-6
        fd = (np.asarray(jitcore.jit(special.erfc)(x + h)) -
              np.asarray(jitcore.jit(special.erfc)(x - h))) / (2 * h)
        np.testing.assert_allclose(fd, -want, rtol=1e-6, atol=1e-9)  # h^2 and eps/h


def test_float16_erf_goes_through_float32():
    x = np.linspace(-3, 3, 101).astype(np.float16)
    got = np.asarray(jitcore.jit(lax.erf)(x))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), _ref(_ERF, x), atol=1e-3)
