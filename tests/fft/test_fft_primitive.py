"""The `fft` primitive's rules: JVP by finite differences, VJP by the adjoint identity
Re<ct, F x> == Re<F^T ct, x> (JAX's pairing, no conjugation) and by finite differences of the
real and imaginary parts, batching against a Python loop, and the compiled backends against
the NumPy reference; then `lax.fft`'s type names and conversions.
"""
from __future__ import annotations

import enum

import numpy as np
import pytest

import jitcore
from jitcore import lax
from ops import elementwise as el
from ops.core import PRIMITIVES
from ops.fft import fft
from tests.fft.common import assert_close, by_parts, data
from tests.helpers import check_grads
from tests.ops.primitive_cases_fft import dft_ref

# (fft_type, operand shape, fft_lengths): 1 to 3 axes, even and odd last lengths.
CASES = [
    ("FFT", (3, 4), (4,)), ("FFT", (2, 3, 5), (2, 3, 5)), ("IFFT", (2, 3, 4), (3, 4)),
    ("RFFT", (3, 6), (6,)), ("RFFT", (3, 5), (3, 5)), ("RFFT", (2, 3, 4, 5), (3, 4, 5)),
    ("IRFFT", (3, 4), (6,)), ("IRFFT", (3, 3), (5,)), ("IRFFT", (2, 3, 4), (2, 3, 6)),
    ("IRFFT", (2, 2, 3, 3), (2, 3, 5)),
]
IDS = [f"{t}-{s}-{n}" for t, s, n in CASES]


def _operand(fft_type, shape, seed=0):
    return data(shape, np.float64 if fft_type == "RFFT" else np.complex128, seed)


def _bind(fft_type, lengths):
    return lambda x: fft(x, fft_type=fft_type, fft_lengths=lengths)


@pytest.mark.parametrize("fft_type,shape,lengths", CASES, ids=IDS)
def test_jvp_and_vjp_by_finite_differences(fft_type, shape, lengths):
    f = by_parts(_bind(fft_type, lengths), complex_in=fft_type != "RFFT")
    x = _operand(fft_type, shape)
    parts = (x,) if fft_type == "RFFT" else (x.real.copy(), x.imag.copy())
    check_grads(f, parts, order=2)
    check_grads(jitcore.jit(f), parts, order=1)


def _pairing(a, b):
    """JAX's real pairing of cotangents with values: Re(sum(a * b))."""
    return float(np.real(np.sum(np.asarray(a, np.complex128) * np.asarray(b, np.complex128))))


@pytest.mark.parametrize("fft_type,shape,lengths", CASES, ids=IDS)
def test_transpose_satisfies_the_adjoint_identity(fft_type, shape, lengths):
    f = _bind(fft_type, lengths)
    x = _operand(fft_type, shape, seed=1)
    y, pullback = jitcore.vjp(f, x)
    ct = data(np.shape(y), np.asarray(y).dtype, seed=2)
    (ct_x,) = pullback(ct)
    assert np.asarray(ct_x).dtype == x.dtype and np.shape(ct_x) == x.shape
    # F is linear, so F x at a fresh x is the same map.
    t = _operand(fft_type, shape, seed=3)
    lhs, rhs = _pairing(ct, f(t)), _pairing(ct_x, t)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), (lhs, rhs)


@pytest.mark.parametrize("fft_type,shape,lengths", CASES, ids=IDS)
def test_jvp_is_the_transform_of_the_tangent(fft_type, shape, lengths):
    f = _bind(fft_type, lengths)
    x, t = _operand(fft_type, shape, 4), _operand(fft_type, shape, 5)
    y, ty = jitcore.jvp(f, (x,), (t,))
    ref = dft_ref(fft_type, lengths, np.asarray(y).dtype)
    assert_close(y, ref(x))
    assert_close(ty, ref(t))


@pytest.mark.parametrize("fft_type,shape,lengths", CASES, ids=IDS)
@pytest.mark.parametrize("in_axis", [0, 1])
def test_vmap_matches_a_loop(fft_type, shape, lengths, in_axis):
    f = _bind(fft_type, lengths)
    xs = np.stack([_operand(fft_type, shape, seed=s) for s in range(3)], axis=in_axis)
    got = jitcore.vmap(f, in_axes=in_axis)(xs)
    want = np.stack([np.asarray(f(np.take(xs, i, axis=in_axis))) for i in range(3)])
    assert_close(got, want)
    assert_close(jitcore.jit(jitcore.vmap(f, in_axes=in_axis))(xs), want)


@pytest.mark.parametrize("backend", ["interp", "cpu"])
@pytest.mark.parametrize("fft_type,shape,lengths", CASES[:1] + CASES[3:4] + CASES[6:9],
                         ids=IDS[:1] + IDS[3:4] + IDS[6:9])
def test_backends_run_it_between_native_kernels(backend, fft_type, shape, lengths):
    """The transform between elementwise work on both sides (native kernels on the CPU)."""
    def g(x):
        x = el.mul(x, x)
        y = fft(x, fft_type=fft_type, fft_lengths=lengths)
        return el.add(y, y)
    x = _operand(fft_type, shape, 6)
    out_dtype = np.float64 if fft_type == "IRFFT" else np.complex128
    want = 2 * dft_ref(fft_type, lengths, out_dtype)(x * x)
    assert_close(jitcore.jit(g, backend=backend)(x), want)


def test_float32_stays_single_precision():
    x = data((4, 8), np.float32)
    for f, out in [(lambda v: fft(v, fft_type="RFFT", fft_lengths=(8,)), np.complex64),
                   (lambda v: fft(fft(v, fft_type="RFFT", fft_lengths=(8,)), fft_type="IRFFT",
                                  fft_lengths=(8,)), np.float32)]:
        for got in (f(x), jitcore.jit(f)(x)):
            assert np.asarray(got).dtype == out
    back = jitcore.jit(lambda v: fft(fft(v, fft_type="RFFT", fft_lengths=(8,)),
                                     fft_type="IRFFT", fft_lengths=(8,)))(x)
    assert_close(back, x, tol=1e-6)


def test_ir_prints_and_parses_the_parameters():
    text = jitcore.jit(_bind("IRFFT", (3, 6))).lower(data((2, 3, 4), np.complex128)).as_text()
    assert 'fft_type="IRFFT"' in text and "fft_lengths={3,6}" in text, text


def test_traits():
    p = PRIMITIVES["fft"]
    assert p.lowering == "library" and p.library == "fft"
    assert not p.elementwise and p.reduction is None


# --- lax.fft -------------------------------------------------------------------------------

class OtherFftType(enum.IntEnum):
    """An enum from another library (as jax.lax.FftType): only its member names matter."""
    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


@pytest.mark.parametrize("kind", [lax.FftType.RFFT, "rfft", "RFFT", OtherFftType.RFFT])
def test_lax_fft_accepts_enums_and_names(kind):
    x = data((3, 8))
    assert_close(lax.fft(x, kind, (8,)), dft_ref("RFFT", (8,), np.complex128)(x))


def test_lax_fft_converts_like_jax():
    # Real input to FFT becomes complex (float32 -> complex64, integers -> complex128); integer
    # input to RFFT becomes float64; no lengths: the converted input itself.
    assert np.asarray(lax.fft(np.ones(4, np.float32), "fft", (4,))).dtype == np.complex64
    assert np.asarray(lax.fft(np.arange(4), "ifft", (4,))).dtype == np.complex128
    out = lax.fft(np.arange(6), "rfft", (6,))
    assert_close(out, dft_ref("RFFT", (6,), np.complex128)(np.arange(6.0)))
    same = lax.fft(np.arange(3.0), lax.FftType.FFT, ())
    assert np.asarray(same).dtype == np.complex128
    np.testing.assert_array_equal(np.asarray(same), np.arange(3.0))


def test_lax_fft_rejects_bad_types():
    with pytest.raises(ValueError, match="RFFT takes real input"):
        lax.fft(np.ones(4, np.complex64), "rfft", (4,))
    with pytest.raises(ValueError, match="unknown FFT type"):
        lax.fft(np.ones(4), "dct", (4,))


def test_smooth_length_is_the_next_2_3_5_smooth_number():
    from ops.fft import smooth_length

    def brute(n):
        m = max(n, 1)
        while True:
            k = m
            for r in (2, 3, 5):
                while k % r == 0:
                    k //= r
            if k == 1:
                return m
            m += 1
    assert [smooth_length(n) for n in range(0, 2000)] == [brute(n) for n in range(0, 2000)]
