"""fft: the one Fourier-transform primitive (XLA's Fft, JAX's `lax.fft`).

`fft(x, fft_type, fft_lengths)` transforms the trailing `len(fft_lengths)` axes (1 to 3):

- "FFT" / "IFFT": complex -> complex, same shape; IFFT includes the 1/prod(fft_lengths)
  factor (XLA's convention, so IFFT(FFT(x)) == x);
- "RFFT": real -> complex (f32 -> c64, f64 -> c128); the last axis becomes n // 2 + 1;
- "IRFFT": complex -> real; the last axis of the operand is n // 2 + 1 and becomes n
  (= fft_lengths[-1]); normalized like IFFT. The imaginary parts of the zero-frequency (and,
  for even n, the Nyquist) terms are ignored, as pocketfft and XLA's CPU FFT do.

`fft_type` is a plain string so the IR prints and parses it. The transforms run in a library
(`lowering="library"`, `library="fft"`): a backend without a native FFT runs the NumPy
reference (pocketfft, one call per array) on the host between its native segments.
"""
from __future__ import annotations

import math

import numpy as np

from .autodiff import deflinear, move_batch_to_front
from .core import Primitive, ShapedArray, get_aval
from .errors import DtypeError, ShapeError
from .rules import as_function

fft_p = Primitive("fft", "fft")

FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
COMPLEX_OF = {_F32: _C64, _F64: _C128}
REAL_OF = {_C64: _F32, _C128: _F64}


def smooth_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: the lengths FFTs are fastest on (the FFT convolution
    pads to one, and the native FFT's Bluestein algorithm transforms at one)."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _check_params(x: ShapedArray, fft_type, fft_lengths):
    if fft_type not in FFT_TYPES:
        raise ShapeError(f"fft: fft_type must be one of {FFT_TYPES}, got {fft_type!r}")
    if (not isinstance(fft_lengths, tuple) or not 1 <= len(fft_lengths) <= 3
            or not all(isinstance(n, int) and n >= 0 for n in fft_lengths)):
        raise ShapeError(f"fft: fft_lengths must be a tuple of 1 to 3 non-negative ints, "
                         f"got {fft_lengths!r} for {x.str_short()}")
    if len(fft_lengths) > x.ndim:
        raise ShapeError(f"fft: operand {x.str_short()} has fewer dimensions than "
                         f"fft_lengths {fft_lengths}",
                         hint="the transform runs over the trailing len(fft_lengths) axes")


def _fft_rule(x, *, fft_type, fft_lengths):
    _check_params(x, fft_type, fft_lengths)
    k = len(fft_lengths)
    lead, minor = x.shape[:-k], x.shape[-k:]
    if fft_type == "RFFT":
        if x.dtype not in COMPLEX_OF:
            raise DtypeError(f"fft: RFFT needs a float32 or float64 operand, got {x.str_short()}")
        if minor != fft_lengths:
            raise ShapeError(f"fft: RFFT operand {x.str_short()}: its trailing dimensions "
                             f"must equal fft_lengths {fft_lengths}")
        shape = lead + fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        return ShapedArray(shape, COMPLEX_OF[x.dtype])
    if x.dtype not in REAL_OF:
        raise DtypeError(f"fft: {fft_type} needs a complex64 or complex128 operand, got "
                         f"{x.str_short()}", hint="convert real input with lax.complex or "
                         "convert_element_type, or use RFFT")
    if fft_type == "IRFFT":
        want = fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        if minor != want:
            raise ShapeError(f"fft: IRFFT operand {x.str_short()}: its trailing dimensions "
                             f"must be {want} for fft_lengths {fft_lengths}")
        return ShapedArray(lead + fft_lengths, REAL_OF[x.dtype])
    if minor != fft_lengths:
        raise ShapeError(f"fft: {fft_type} operand {x.str_short()}: its trailing dimensions "
                         f"must equal fft_lengths {fft_lengths}")
    return ShapedArray(x.shape, x.dtype)


def _fft_impl(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    axes = tuple(range(x.ndim - k, x.ndim))
    out_aval = _fft_rule(ShapedArray(x.shape, x.dtype), fft_type=fft_type,
                         fft_lengths=fft_lengths)
    if 0 in out_aval.shape or 0 in x.shape:
        # pocketfft refuses empty transforms; XLA returns zeros of the result's shape.
        return np.zeros(out_aval.shape, out_aval.dtype)
    if fft_type == "FFT":
        out = np.fft.fftn(x, axes=axes)
    elif fft_type == "IFFT":
        out = np.fft.ifftn(x, axes=axes)
    elif fft_type == "RFFT":
        out = np.fft.rfftn(x, axes=axes)
    else:
        out = np.fft.irfftn(x, s=fft_lengths, axes=axes)
    # NumPy computes float32 in single precision already; the cast only fixes the dtype.
    return np.asarray(out, out_aval.dtype)


fft_p.abstract_eval = _fft_rule
fft_p.impl = _fft_impl
fft_p.lowering = "library"
fft_p.library = "fft"
fft = as_function(fft_p)


# --- rules ---------------------------------------------------------------------------------
# The transform is linear, so its JVP is the same transform of the tangent (`deflinear`) and
# its VJP is its transpose under JAX's pairing <ct, v> = Re(sum(ct * v)) (no conjugation).
# The DFT matrix is symmetric, so FFT and IFFT are their own transposes; RFFT and IRFFT keep
# only half the spectrum, so their transposes weigh the terms that stand for two (every one
# but zero frequency and, for even n, Nyquist) by 2 (JAX's rules).

def _half_spectrum_weights(aval: ShapedArray, n: int, doubled: float, single: float):
    """Weights over the last axis of an (..., m) half spectrum of length n, broadcast to
    `aval`: `single` at zero frequency (and at Nyquist for even n), `doubled` elsewhere.
    Only the (m,) vector is a constant; the broadcast stays one instruction."""
    from .shape import broadcast_in_dim
    m = aval.shape[-1]
    w = np.full((m,), doubled, aval.dtype)
    w[0] = single
    if n % 2 == 0 and m > 1:
        w[-1] = single
    return broadcast_in_dim(w, shape=aval.shape, broadcast_dimensions=(aval.ndim - 1,))


def _rfft_transpose(ct, fft_lengths):
    # RFFT^T(t) = Re(FFT(t zero-padded to n)) = N * IRFFT(conj(t) / mask): IRFFT's Hermitian
    # extension counts every term twice but the self-conjugate ones.
    from .elementwise import conj, mul
    big_n = math.prod(fft_lengths)
    w = _half_spectrum_weights(get_aval(ct), fft_lengths[-1], big_n / 2, big_n)
    return fft(mul(conj(ct), w), fft_type="IRFFT", fft_lengths=fft_lengths)


def _irfft_transpose(ct, fft_lengths):
    # IRFFT^T(t) = conj(mask * RFFT(t) / N): the terms IRFFT uses twice get twice the weight.
    from .elementwise import conj, mul
    big_n = math.prod(fft_lengths)
    y = fft(ct, fft_type="RFFT", fft_lengths=fft_lengths)
    w = _half_spectrum_weights(get_aval(y), fft_lengths[-1], 2 / big_n, 1 / big_n)
    return conj(mul(y, w))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if fft_type == "RFFT":
        return (_rfft_transpose(ct, fft_lengths),)
    if fft_type == "IRFFT":
        return (_irfft_transpose(ct, fft_lengths),)
    return (fft(ct, fft_type=fft_type, fft_lengths=fft_lengths),)


def _fft_batch(args, batched, size, *, fft_type, fft_lengths):
    # The transform runs over trailing axes, so a leading batch axis is just another one.
    x, = args
    return fft(move_batch_to_front(x, batched[0], size), fft_type=fft_type,
               fft_lengths=fft_lengths), batched[0]


deflinear(fft_p, _fft_transpose)
fft_p.batch = _fft_batch
