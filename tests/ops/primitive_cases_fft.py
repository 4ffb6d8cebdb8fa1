"""Value and error cases for the `fft` primitive.

References are the DFT written out as a matrix product in complex128 (exp(-2 pi i jk / n) per
axis), not pocketfft, which the primitive's `impl` calls. The inverse real transform is the
half spectrum summed with weight 2 on every term that stands for a conjugate pair.
"""
from __future__ import annotations

import numpy as np

from ops.errors import DtypeError, ShapeError
from tests.ops.primitive_cases_elementwise import F32, F64, Bad, Case

C64, C128 = np.dtype("complex64"), np.dtype("complex128")
# Absolute tolerance relative to the output's scale (sums of n unit-normal terms).
ATOL = {C128: 1e-12, F64: 1e-12, C64: 2e-5, F32: 2e-5}


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def dft_axis(x, axis, inverse=False):
    """The DFT of `x` along `axis` as a matrix product (1/n for the inverse)."""
    x = np.asarray(x, np.complex128)
    n = x.shape[axis]
    k = np.arange(n)
    w = np.exp((2j if inverse else -2j) * np.pi * np.outer(k, k) / max(n, 1))
    out = np.moveaxis(np.tensordot(w, np.moveaxis(x, axis, 0), axes=1), 0, axis)
    return out / n if inverse else out


def dft_ref(fft_type, fft_lengths, out_dtype):
    """The reference for `fft(x, fft_type, fft_lengths)`, cast to `out_dtype`."""
    k = len(fft_lengths)

    def ref(x):
        axes = range(x.ndim - k, x.ndim)
        if fft_type in ("FFT", "IFFT", "RFFT"):
            y = np.asarray(x, np.complex128)
            for ax in axes:
                y = dft_axis(y, ax, inverse=fft_type == "IFFT")
            if fft_type == "RFFT":
                y = y[..., :fft_lengths[-1] // 2 + 1]
            return y.astype(out_dtype)
        # IRFFT: inverse DFT over the leading transform axes, then the real inverse along the
        # last one from its half spectrum: each term but zero frequency (and Nyquist for even
        # n) stands for itself and its conjugate, and only real parts survive.
        y = np.asarray(x, np.complex128)
        for ax in list(axes)[:-1]:
            y = dft_axis(y, ax, inverse=True)
        n, m = fft_lengths[-1], y.shape[-1]
        weight = np.full(m, 2.0)
        weight[0] = 1.0
        if n % 2 == 0:
            weight[-1] = 1.0
        j = np.arange(n)
        basis = np.exp(2j * np.pi * np.outer(np.arange(m), j) / n)   # (m, n)
        out = np.real(np.tensordot(y * weight, basis, axes=([-1], [0]))) / n
        return out.astype(out_dtype)
    return ref


def _case(fft_type, shape, lengths, in_dtype, out_dtype, seed=0):
    return Case("fft", (_data(shape, in_dtype, seed),),
                {"fft_type": fft_type, "fft_lengths": lengths},
                dft_ref(fft_type, lengths, out_dtype), rtol=1e-6 if out_dtype in (C64, F32)
                else 1e-12, atol=ATOL[out_dtype],
                label=f"{fft_type}-{np.dtype(in_dtype)}-{len(lengths)}d-{lengths[-1]}")


VALUE_CASES = [
    _case("FFT", (3, 8), (8,), C128, C128),
    _case("FFT", (5,), (5,), C64, C64),
    _case("FFT", (2, 3, 4, 5), (3, 4, 5), C128, C128),
    _case("IFFT", (2, 3, 4), (3, 4), C128, C128),
    _case("IFFT", (6,), (6,), C64, C64),
    _case("RFFT", (4, 7), (7,), F64, C128),
    _case("RFFT", (3, 6), (6,), F32, C64),
    _case("RFFT", (2, 5, 6), (5, 6), F64, C128),
    _case("RFFT", (2, 3, 4, 5), (3, 4, 5), F64, C128),
    _case("IRFFT", (3, 5), (8,), C128, F64),
    _case("IRFFT", (3, 5), (9,), C128, F64),
    _case("IRFFT", (2, 3, 4), (3, 6), C128, F64),
    _case("IRFFT", (2, 3, 4, 3), (3, 4, 5), C128, F64),
    _case("IRFFT", (4, 3), (4,), C64, F32),
]


def _z(shape, dtype):
    return np.zeros(shape, dtype)


ERROR_CASES = [
    Bad("fft", (_z((4,), F64),), {"fft_type": "FFT", "fft_lengths": (4,)}, DtypeError, "f64[4]"),
    Bad("fft", (_z((4,), F32),), {"fft_type": "IRFFT", "fft_lengths": (6,)}, DtypeError,
        "f32[4]"),
    Bad("fft", (_z((4,), C128),), {"fft_type": "RFFT", "fft_lengths": (4,)}, DtypeError,
        "c128[4]"),
    Bad("fft", (_z((4,), np.int32),), {"fft_type": "RFFT", "fft_lengths": (4,)}, DtypeError,
        "s32[4]"),
    Bad("fft", (_z((3, 4), C64),), {"fft_type": "FFT", "fft_lengths": (5,)}, ShapeError,
        "fft_lengths (5,)"),
    Bad("fft", (_z((3, 4), C64),), {"fft_type": "IRFFT", "fft_lengths": (4,)}, ShapeError,
        "(3,)"),
    Bad("fft", (_z((3, 4), F64),), {"fft_type": "RFFT", "fft_lengths": (3, 5)}, ShapeError,
        "f64[3,4]"),
    Bad("fft", (_z((4,), C64),), {"fft_type": "FFT", "fft_lengths": (2, 4)}, ShapeError,
        "fewer dimensions"),
    Bad("fft", (_z((1, 2, 3, 4), C64),), {"fft_type": "FFT", "fft_lengths": (1, 2, 3, 4)},
        ShapeError, "1 to 3"),
    Bad("fft", (_z((4,), C64),), {"fft_type": "DCT", "fft_lengths": (4,)}, ShapeError,
        "'DCT'"),
]
