"""The CPU backend's native FFT (`xla_like/backends/cpu/fft.py`) against NumPy's pocketfft in
float64: every fft_type, lengths with every radix, Bluestein lengths (primes and lengths with a
prime factor above 5), one to three axes, batch dimensions, complex64 and complex128. The plan
is inspected: the transform must be a native "library" step, not a host step.
"""
import numpy as np
import pytest

import jitcore as jc
from jitcore import lax
from ops.fft import fft
from tests.covering import pairwise
from tests.helpers import plan_of

RNG = np.random.default_rng(5)
LENGTHS = [1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 30, 64, 97, 128, 1000, 1024, 4096]
TYPES = ["FFT", "IFFT", "RFFT", "IRFFT"]


def operand(kind, lengths, batch, dtype):
    """A random operand of `kind` over `lengths` with leading `batch` dims; `dtype` is the
    complex type of the transform."""
    dims = tuple(lengths)
    if kind == "IRFFT":
        dims = dims[:-1] + (dims[-1] // 2 + 1,)
    shape = tuple(batch) + dims
    real = RNG.standard_normal(shape)
    if kind == "RFFT":
        return real.astype(np.float32 if dtype == np.complex64 else np.float64)
    return (real + 1j * RNG.standard_normal(shape)).astype(dtype)


def reference(kind, x, lengths):
    axes = tuple(range(x.ndim - len(lengths), x.ndim))
    x64 = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    if kind == "FFT":
        return np.fft.fftn(x64, axes=axes)
    if kind == "IFFT":
        return np.fft.ifftn(x64, axes=axes)
    if kind == "RFFT":
        return np.fft.rfftn(x64, axes=axes)
    return np.fft.irfftn(x64, s=lengths, axes=axes)


def native(kind, x, lengths):
    """The jitted transform's result; asserts it runs as a native library step."""
    f = jc.jit(lambda a: fft(a, fft_type=kind, fft_lengths=tuple(lengths)))
    kinds = [s.kind for s in plan_of(f, x).steps]
    assert kinds == ["library"], kinds
    return np.asarray(f(x))


def check(kind, lengths, batch, dtype):
    x = operand(kind, lengths, batch, dtype)
    got = native(kind, x, lengths)
    want = reference(kind, x, lengths)
    assert got.shape == want.shape
    real = np.float32 if dtype == np.complex64 else np.float64
    assert got.dtype == (real if kind == "IRFFT" else dtype)
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    if dtype == np.complex64:
        # float32 arithmetic with float64-computed twiddles: a few float32 ulps of the norm.
        # Elementwise, rtol 1e-5 with an absolute floor for values that cancel to near zero.
        assert err < 1e-6, err
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    else:
        assert err < 1e-13, err


# Every (kind, length) pair, and each with both precisions across the lengths.
@pytest.mark.parametrize("kind,n,dtype", pairwise(TYPES, LENGTHS, [np.complex128, np.complex64]))
def test_one_axis(kind, n, dtype):
    check(kind, (n,), (3,) if dtype == np.complex128 else (2,), dtype)


# Every pair of (kind, shape, precision) at least once.
@pytest.mark.parametrize("kind,lengths_batch,dtype", pairwise(TYPES, [
    ((4, 8), ()), ((3, 5), (2,)), ((7, 12), (2, 1)), ((16, 17), ()), ((1, 6), (3,)),
    ((6, 1), (2,)), ((64, 256), ()),
    ((2, 3, 4), ()), ((5, 4, 7), (2,)), ((8, 1, 9), ()), ((16, 16, 16), ()),
], [np.complex64, np.complex128]))
def test_several_axes(kind, lengths_batch, dtype):
    check(kind, *lengths_batch, dtype)


@pytest.mark.parametrize("kind", ["FFT", "RFFT"])
def test_column_blocks(kind):
    # A leading axis whose data outgrows the cache is transformed in blocks of columns
    # (a remainder block included: 1000 columns).
    check(kind, (512, 1000), (), np.complex128)
    check(kind, (97, 3000), (), np.complex128)


@pytest.mark.parametrize("kind", TYPES)
def test_large(kind):
    check(kind, (2 ** 20,), (), np.complex128)


def test_large_complex64():
    check("FFT", (2 ** 20,), (), np.complex64)


def test_inverse_round_trip():
    # IFFT(FFT(x)) == x, in one program: two native steps.
    x = operand("FFT", (30, 8), (2,), np.complex128)
    f = jc.jit(lambda a: fft(fft(a, fft_type="FFT", fft_lengths=(30, 8)),
                             fft_type="IFFT", fft_lengths=(30, 8)))
    assert [s.kind for s in plan_of(f, x).steps] == ["library", "library"]
    np.testing.assert_allclose(np.asarray(f(x)), x, rtol=1e-12, atol=1e-12)


def test_irfft_ignores_imaginary_dc_and_nyquist():
    x = operand("IRFFT", (8,), (2,), np.complex128)
    x[:, 0] += 5j
    x[:, -1] -= 3j
    got = native("IRFFT", x, (8,))
    np.testing.assert_allclose(got, np.fft.irfft(x, 8), rtol=1e-13, atol=1e-13)


def test_input_not_modified():
    # Multi-axis transforms work in the output and scratch, never in the operand.
    x = operand("IRFFT", (6, 10), (2,), np.complex128)
    keep = x.copy()
    native("IRFFT", x, (6, 10))
    np.testing.assert_array_equal(x, keep)


def test_inside_loop():
    # In a loop body the step's scratch is a region of the body's workspace.
    x = operand("FFT", (12,), (2,), np.complex128)

    def f(a):
        return lax.fori_loop(0, 3, lambda i, v: fft(v, fft_type="FFT", fft_lengths=(12,)) / 12,
                             a)
    want = x
    for _ in range(3):
        want = np.fft.fft(want) / 12
    np.testing.assert_allclose(np.asarray(jc.jit(f)(x)), want, rtol=1e-12, atol=1e-14)


def test_empty_stays_on_host():
    x = np.zeros((0, 8), np.complex128)
    f = jc.jit(lambda a: fft(a, fft_type="FFT", fft_lengths=(8,)))
    assert [s.kind for s in plan_of(f, x).steps] == ["python"]
    assert np.asarray(f(x)).shape == (0, 8)
