"""`jitcore.numpy.fft`: NumPy's discrete Fourier transforms with JAX's semantics.

Every transform is the `fft` primitive (`jitcore.lax.fft`) over the trailing axes: the
requested axes are moved there first and back afterwards, `n`/`s` crop or zero-pad the input,
and more than 3 axes are transformed in groups of at most 3 (the primitive's limit). Dtypes
follow JAX: float32 -> complex64, float64 and integers -> complex128 (64-bit enabled), and
the inverse real transforms return the matching real dtype. `norm` is "backward" (the
default: no factor forward, 1/n inverse), "ortho" (1/sqrt(n) both ways) or "forward".
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops.core import Tracer

from .. import lax
from ._promotion import asarray, aval_of
from ._shape import moveaxis, roll

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "fftn", "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_FFT, _IFFT, _RFFT, _IRFFT = (lax.FftType.FFT, lax.FftType.IFFT, lax.FftType.RFFT,
                              lax.FftType.IRFFT)
_NORMS = ("backward", "ortho", "forward")


def _norm_factor(s, func_name: str, norm: str):
    """The factor `norm` puts on a result of transform sizes `s` (None for "backward"). The
    inverse transforms (names starting with "i") already carry 1/n under "backward"."""
    if norm not in _NORMS:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or '
                         '"forward".')
    if norm == "backward":
        return None
    n = float(math.prod(s))
    inverse = func_name.startswith("i")
    if norm == "ortho":
        return math.sqrt(n) if inverse else 1 / math.sqrt(n)
    return n if inverse else 1 / n


def _fft_core(func_name, fft_type, a, s, axes, norm):
    full_name = f"jax.numpy.fft.{func_name}"
    arr = asarray(a)
    nd = aval_of(arr).ndim
    if s is not None:
        s = tuple(map(operator.index, s))
        if any(v <= 0 for v in s):
            raise ValueError("Shape should be positive.")
    if s is not None and axes is not None and len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if norm is not None:
        _norm_factor((), func_name, norm)   # reject a bad value before any work
    orig_axes = axes
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    else:
        axes = tuple(map(operator.index, axes))
    if len(axes) != len(set(a % max(nd, 1) for a in axes)):
        raise ValueError(f"{full_name} does not support repeated axes. Got axes {axes}.")
    # The primitive transforms trailing axes: move the requested ones there.
    if orig_axes is not None:
        last = tuple(range(nd - len(axes), nd))
        arr = moveaxis(arr, axes, last)
        axes = last
    shape = aval_of(arr).shape
    if s is not None:
        in_s = list(shape)
        for ax, v in zip(axes, s):
            in_s[ax] = v
        if fft_type == _IRFFT:
            in_s[-1] = in_s[-1] // 2 + 1
        if tuple(in_s) != shape:
            # One pad: negative high padding crops, positive zero-pads.
            arr = lax.pad(arr, 0, [(0, want - have, 0) for want, have in zip(in_s, shape)])
    elif fft_type == _IRFFT:
        s = [shape[ax] for ax in axes[:-1]]
        if axes:
            s += [max(0, 2 * (shape[axes[-1]] - 1))]
    else:
        s = [shape[ax] for ax in axes]
    out = _fft_core_nd(arr, fft_type, tuple(s))
    if norm is not None:
        factor = _norm_factor(s, func_name, norm)
        if factor is not None:
            out = out * factor
    if orig_axes is not None:
        out = moveaxis(out, axes, orig_axes)
    return out


def _fft_core_nd(arr, fft_type, s):
    """The transform over the trailing len(s) axes, in groups of at most 3 (JAX's grouping:
    4 axes as two 2-d transforms)."""
    if len(s) <= 3:
        return lax.fft(arr, fft_type, s)
    nd = aval_of(arr).ndim
    n = 2 if len(s) == 4 else 3
    src = tuple(range(nd - len(s), nd - n))
    dst = tuple(range(nd - len(s) + n, nd))
    if fft_type in (_RFFT, _FFT):
        arr = lax.fft(arr, fft_type, s[-n:])
        arr = moveaxis(arr, src, dst)
        arr = _fft_core_nd(arr, _FFT, s[:-n])
        return moveaxis(arr, dst, src)
    arr = moveaxis(arr, src, dst)
    arr = _fft_core_nd(arr, _IFFT, s[:-n])
    arr = moveaxis(arr, dst, src)
    return lax.fft(arr, fft_type, s[-n:])


def _axis_check_1d(func_name, axis):
    if isinstance(axis, (list, tuple)):
        full_name = f"jax.numpy.fft.{func_name}"
        raise ValueError(f"{full_name} does not support multiple axes. Please use "
                         f"{full_name}n. Got axis = {axis!r}.")


def _fft_core_1d(func_name, fft_type, a, n, axis, norm):
    _axis_check_1d(func_name, axis)
    return _fft_core(func_name, fft_type, a, None if n is None else [n],
                     None if axis is None else [axis], norm)


def _fft_core_2d(func_name, fft_type, a, s, axes, norm):
    if len(axes) != 2:
        raise ValueError(f"jax.numpy.fft.{func_name} only supports 2 axes. Got axes = {axes!r}.")
    return _fft_core(func_name, fft_type, a, s, axes, norm)


def fft(a, n=None, axis=-1, norm=None):
    """One-dimensional discrete Fourier transform (`numpy.fft.fft`)."""
    return _fft_core_1d("fft", _FFT, a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None):
    """One-dimensional inverse discrete Fourier transform (`numpy.fft.ifft`)."""
    return _fft_core_1d("ifft", _IFFT, a, n, axis, norm)


def rfft(a, n=None, axis=-1, norm=None):
    """Transform of real input: the n // 2 + 1 non-negative frequency terms (`numpy.fft.rfft`)."""
    return _fft_core_1d("rfft", _RFFT, a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None):
    """Inverse of `rfft`: n real values (default 2 * (m - 1)) (`numpy.fft.irfft`)."""
    return _fft_core_1d("irfft", _IRFFT, a, n, axis, norm)


def _conj(x):
    x = asarray(x)
    return el.conj(x) if aval_of(x).dtype.kind == "c" else x


def hfft(a, n=None, axis=-1, norm=None):
    """Transform of a signal with Hermitian symmetry, given its first half (`numpy.fft.hfft`)."""
    conj_a = _conj(a)
    _axis_check_1d("hfft", axis)
    nn = (aval_of(conj_a).shape[axis] - 1) * 2 if n is None else n
    return _fft_core_1d("hfft", _IRFFT, conj_a, n, axis, norm) * nn


def ihfft(a, n=None, axis=-1, norm=None):
    """Inverse of `hfft`: the half spectrum of a real signal (`numpy.fft.ihfft`)."""
    _axis_check_1d("ihfft", axis)
    arr = asarray(a)
    nn = aval_of(arr).shape[axis] if n is None else n
    out = _fft_core_1d("ihfft", _RFFT, arr, n, axis, norm)
    return el.conj(out) * (1 / nn)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """Two-dimensional discrete Fourier transform (`numpy.fft.fft2`)."""
    return _fft_core_2d("fft2", _FFT, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """Two-dimensional inverse discrete Fourier transform (`numpy.fft.ifft2`)."""
    return _fft_core_2d("ifft2", _IFFT, a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """Two-dimensional transform of real input (`numpy.fft.rfft2`)."""
    return _fft_core_2d("rfft2", _RFFT, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """Inverse of `rfft2` (`numpy.fft.irfft2`)."""
    return _fft_core_2d("irfft2", _IRFFT, a, s, axes, norm)


def fftn(a, s=None, axes=None, norm=None):
    """N-dimensional discrete Fourier transform (`numpy.fft.fftn`)."""
    return _fft_core("fftn", _FFT, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    """N-dimensional inverse discrete Fourier transform (`numpy.fft.ifftn`)."""
    return _fft_core("ifftn", _IFFT, a, s, axes, norm)


def rfftn(a, s=None, axes=None, norm=None):
    """N-dimensional transform of real input (`numpy.fft.rfftn`)."""
    return _fft_core("rfftn", _RFFT, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    """Inverse of `rfftn` (`numpy.fft.irfftn`)."""
    return _fft_core("irfftn", _IRFFT, a, s, axes, norm)


# --- frequencies and shifts ----------------------------------------------------------------

def _check_freq_args(name, n, d):
    if isinstance(n, (list, tuple)):
        raise ValueError(f"The n argument of jax.numpy.fft.{name} only takes an int. "
                         f"Got n = {list(n)}.")
    if isinstance(d, (list, tuple)):
        raise ValueError(f"The d argument of jax.numpy.fft.{name} only takes a single value. "
                         f"Got d = {list(d)}.")
    return operator.index(n)


def _spacing(d, n, dtype):
    """d * n as a `dtype` scalar (traced when `d` is)."""
    if isinstance(d, Tracer):
        return asarray(d * n, dtype)
    return asarray(np.asarray(np.asarray(d) * n).astype(dtype))


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point transform with sample spacing d
    (`numpy.fft.fftfreq`): [0, 1, ..., n//2 - 1 (or (n-1)//2), -(n//2), ..., -1] / (d * n)."""
    n = _check_freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize(dtype or dtypes.default_float, "fftfreq")
    # Computed in the real float dtype of `dtype` (integers in the default float), then cast.
    work = dtypes.real_dtype(out_dtype if out_dtype.kind in "fc" else dtypes.default_float)
    i = np.arange(n, dtype=np.int64)
    k = asarray(((i + n // 2) % n - n // 2).astype(work))
    result = k / _spacing(d, n, work)
    return result.astype(out_dtype) if result.dtype != out_dtype else result


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The non-negative sample frequencies of `rfft`: [0, 1, ..., n//2] / (d * n)
    (`numpy.fft.rfftfreq`)."""
    n = _check_freq_args("rfftfreq", n, d)
    dtype = dtypes.canonicalize(dtype or dtypes.default_float, "rfftfreq")
    k = asarray(np.arange(0, n // 2 + 1).astype(dtype))
    return k / _spacing(d, n, dtype)


def _shifts(x, axes, sign):
    x = asarray(x)
    shape = aval_of(x).shape
    if axes is None:
        axes = tuple(range(len(shape)))
        return x, axes, [sign * (shape[ax] // 2) for ax in axes]
    if isinstance(axes, int):
        return x, axes, sign * (shape[axes] // 2)
    return x, axes, [sign * (shape[ax] // 2) for ax in axes]


def fftshift(x, axes=None):
    """Move the zero-frequency term to the center (`numpy.fft.fftshift`)."""
    x, axes, shift = _shifts(x, axes, 1)
    return roll(x, shift, axes)


def ifftshift(x, axes=None):
    """The inverse of `fftshift` (`numpy.fft.ifftshift`)."""
    x, axes, shift = _shifts(x, axes, -1)
    return roll(x, shift, axes)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
