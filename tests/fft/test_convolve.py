"""`jnp.convolve` and `jnp.correlate` against `np.convolve` / `np.correlate` in every mode, for
short inputs (the direct sum) and long ones (by FFT), real and complex, either argument the
longer; integer inputs and `preferred_element_type`; jit, vmap and grad.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore.numpy import _convolve
from ops import elementwise as el
from tests.fft.common import assert_close, by_parts, data
from tests.helpers import check_grads

MODES = ["full", "same", "valid"]
LONG = _convolve.DIRECT_MAX_TAPS + 37          # both inputs past the cutoff: the FFT path
# (len(a), len(v)): equal, a longer, v longer, even and odd, one-element, long.
SIZES = [(5, 5), (9, 4), (4, 9), (8, 3), (1, 6), (7, 1), (300, 12), (LONG + 20, LONG),
         (LONG, LONG + 51)]


@pytest.mark.parametrize("op", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("na,nv", SIZES, ids=[f"{a}x{v}" for a, v in SIZES])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_matches_numpy(op, mode, na, nv, dtype):
    a, v = data((na,), dtype, seed=na), data((nv,), dtype, seed=nv + 1000)
    want = getattr(np, op)(a, v, mode=mode)
    f = lambda x, y: getattr(jnp, op)(x, y, mode=mode)  # noqa: E731
    assert_close(f(a, v), want)
    assert_close(jitcore.jit(f)(a, v), want)


def test_both_paths_are_taken():
    """The long cases above run the FFT program, the short ones the direct sum."""
    def ops_of(na, nv):
        text = jitcore.jit(lambda x, y: jnp.convolve(x, y)).lower(np.ones(na),
                                                                  np.ones(nv)).as_text()
        return text
    assert " fft(" in ops_of(LONG + 20, LONG)
    assert " fft(" not in ops_of(300, 12)


@pytest.mark.parametrize("mode", MODES)
def test_float32_and_integers(mode):
    a32, v32 = data((40,), np.float32, 1), data((7,), np.float32, 2)
    got = jnp.convolve(a32, v32, mode=mode)
    assert_close(got, np.convolve(a32.astype(np.float64), v32.astype(np.float64), mode=mode),
                 dtype=np.float32, tol=1e-6)
    long32 = data((LONG + 5,), np.float32, 3)
    assert_close(jnp.correlate(long32, long32[::-1], mode=mode),
                 np.correlate(long32.astype(np.float64), long32[::-1].astype(np.float64),
                              mode=mode), dtype=np.float32, tol=1e-5)
    ai, vi = np.arange(-20, 30, dtype=np.int32), np.arange(9, dtype=np.int32) - 4
    # NumPy promotes integers to float in its convolutions too (JAX: float64 with x64).
    assert_close(jnp.convolve(ai, vi, mode=mode), np.convolve(ai, vi, mode=mode).astype(float))
    # preferred_element_type keeps integers exact, however long the inputs.
    bi = np.arange(LONG + 3, dtype=np.int64) * 1_000_003 % 10_007
    for x, y in [(ai, vi), (bi, bi[::-1].copy())]:
        got = jnp.correlate(x, y, mode=mode, preferred_element_type=np.int64)
        np.testing.assert_array_equal(np.asarray(got),
                                      np.correlate(x.astype(np.int64), y.astype(np.int64),
                                                   mode=mode))
        assert np.asarray(got).dtype == np.int64


def test_precision_is_accepted():
    a, v = data((10,)), data((3,))
    assert_close(jnp.convolve(a, v, precision="highest"), np.convolve(a, v))
    assert_close(jnp.correlate(a, v, "full", precision=None), np.correlate(a, v, "full"))


def test_vmap_matches_a_loop():
    a, v = data((3, 50), np.complex128, 4), data((3, 6), np.complex128, 5)
    for f in (lambda x, y: jnp.correlate(x, y, "same"),
              lambda x, y: jnp.convolve(x, jnp.concatenate([y] * 30), "full")):
        want = np.stack([np.asarray(f(a[i], v[i])) for i in range(3)])
        assert_close(jitcore.vmap(f)(a, v), want)
        assert_close(jitcore.jit(jitcore.vmap(f))(a, v), want)


@pytest.mark.parametrize("nv", [4, LONG])
@pytest.mark.parametrize("mode", MODES)
def test_derivatives_by_finite_differences(nv, mode):
    a, v = data((LONG + 9,), seed=6), data((nv,), seed=7)
    check_grads(lambda x, y: jnp.convolve(x, y, mode), (a, v), order=1)
    za, zv = data((12,), np.complex128, 8), data((5,), np.complex128, 9)

    def corr(ar, ai, vr, vi):
        out = jnp.correlate(el.complex(ar, ai), el.complex(vr, vi), mode)
        return el.real(out), el.imag(out)
    check_grads(corr, (za.real, za.imag, zv.real, zv.imag), order=2)
    check_grads(jitcore.jit(by_parts(lambda z: jnp.correlate(z, zv, mode))),
                (za.real, za.imag), order=1)


def test_errors():
    with pytest.raises(ValueError, match="1-dimensional"):
        jnp.convolve(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="cannot be empty"):
        jnp.correlate(np.ones(3), np.ones(0))
    with pytest.raises(TypeError, match="must not be narrower"):
        jnp.convolve(np.arange(4), np.arange(6.0), preferred_element_type=np.float32)
    with pytest.raises(TypeError, match="incompatible"):
        jnp.convolve(np.ones(4), np.ones(3), preferred_element_type=np.int64)
    with pytest.raises(ValueError, match="mode must be one of"):
        jnp.convolve(np.ones(3), np.ones(2), mode="circular")
