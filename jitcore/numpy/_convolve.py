"""`convolve` and `correlate` of 1-d arrays, with NumPy's modes and JAX's dtypes.

Both reduce to one sliding dot product `out[i] = sum_j xp[i + j] * w[j]` of the longer input
`x`, zero-padded as the mode asks, with the shorter one `w` (flipped for convolve, conjugated
for correlate), as JAX's `_conv` sets it up. A short `w` is computed directly, as `len(w)`
shifted slices of `xp` scaled and summed (one fused loop, no temporaries); a long one by FFT:
the full linear convolution of `x` with `w` reversed is the inverse transform of the product of
both transforms zero-padded to a fast length >= len(x) + len(w) - 1, and the mode's window is a
slice of it. Integer results (`preferred_element_type` an integer dtype) are always computed
directly, so they stay exact.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops import linalg as la
from ops import shape as sh
from ops.fft import smooth_length

from ._promotion import aval_of, asarray, convert, result_dtype

__all__ = ["convolve", "correlate"]

# The shorter input's length up to which the direct sum is used. Measured on jitted float64
# `convolve` (2-core x86 machine): with len(x) = 1e6 the direct loop takes 12 / 15 / 22 / 204 ms
# at 64 / 128 / 256 / 512 taps and the FFT 35-60 ms throughout; with len(x) = 1e4 they cross
# near 200 taps. The direct program grows with the taps (first call 0.3 s at 128, 1 s at 512),
# so the cutoff sits below the run-time crossover.
DIRECT_MAX_TAPS = 128


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """Discrete linear convolution of two 1-d arrays (`numpy.convolve`; default mode "full")."""
    return _conv(a, v, mode, "convolve", preferred_element_type)


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """Cross-correlation of two 1-d arrays, `c[k] = sum_n a[n + k] * conj(v[n])`
    (`numpy.correlate`; default mode "valid")."""
    return _conv(a, v, mode, "correlate", preferred_element_type)


def _conv(x, y, mode, op, preferred_element_type):
    x, y = asarray(x), asarray(y)
    if aval_of(x).ndim != 1 or aval_of(y).ndim != 1:
        raise ValueError(f"{op}() only support 1-dimensional inputs.")
    dtype, weak = result_dtype(x, y)
    if preferred_element_type is None:
        # NumPy's convolutions compute in floating point: integers and bools promote.
        if dtype.kind not in "fc":
            dtype = dtypes.default_float
        out_dtype = dtype
    else:
        out_dtype = dtypes.canonicalize(preferred_element_type, op)
        _check_preferred(op, dtype, out_dtype)
    x, y = convert(x, dtype, weak), convert(y, dtype, weak)
    nx, ny = aval_of(x).shape[0], aval_of(y).shape[0]
    if nx == 0 or ny == 0:
        raise ValueError(f"{op}: inputs cannot be empty, got shapes {(nx,)} and {(ny,)}.")
    reverse_out = False
    if op == "correlate":
        if dtype.kind == "c":
            y = el.conj(y)
        if nx < ny:
            x, y, nx, ny = y, x, ny, nx
            reverse_out = True
    else:
        if nx < ny:
            x, y, nx, ny = y, x, ny, nx
        y = sh.rev(y, dimensions=(0,))
    if mode == "valid":
        lo, hi = 0, 0
    elif mode == "same":
        lo, hi = ny // 2, ny - ny // 2 - 1
    elif mode == "full":
        lo, hi = ny - 1, ny - 1
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    if ny <= DIRECT_MAX_TAPS or out_dtype.kind not in "fc":
        out = _direct(x, y, lo, hi, out_dtype)
    else:
        out = _by_fft(x, y, lo, hi, out_dtype)
    if reverse_out:
        out = sh.rev(out, dimensions=(0,))
    return out


def _check_preferred(op, in_dtype, out_dtype):
    """JAX's rule for a product's result dtype: the same kind (integers may also give floats),
    the same signedness for signed integers, and no narrower."""
    int_to_float = in_dtype.kind in "iub" and out_dtype.kind == "f"
    if not int_to_float:
        if (in_dtype.kind in "iub") != (out_dtype.kind in "iu") or \
                (in_dtype.kind in "fc" and in_dtype.kind != out_dtype.kind):
            raise TypeError(f"{op}: input type {in_dtype} is incompatible with "
                            f"preferred_element_type {out_dtype}: the compatible combinations "
                            "are (integral, integral), (integral, floating), "
                            "(floating, floating), (complex, complex)")
        if in_dtype.kind == "i" and out_dtype.kind != "i":
            raise TypeError(f"{op}: preferred_element_type {out_dtype} must have the same "
                            f"signedness as the input type {in_dtype}")
    if out_dtype.itemsize < in_dtype.itemsize:
        raise TypeError(f"{op}: preferred_element_type {out_dtype} must not be narrower than "
                        f"the input type {in_dtype}")


def _direct(x, w, lo, hi, out_dtype):
    """sum_j w[j] * xp[j : j + L], in `out_dtype` (the operands are widened to it first)."""
    if aval_of(x).dtype != out_dtype:
        x, w = convert(x, out_dtype), convert(w, out_dtype)
    zero = np.zeros((), out_dtype)
    xp = sh.pad(x, zero, padding_config=((lo, hi, 0),))
    m = aval_of(w).shape[0]
    n = aval_of(xp).shape[0] - m + 1
    if m > DIRECT_MAX_TAPS:
        # Long exact (integer) products: a (n, m) window matrix times w, one matrix-vector
        # product instead of m slices in the program.
        from ops.indexing import gather
        rows = el.iota(dtype=dtypes.int64, shape=(n, m, 1), dimension=0)
        cols = el.iota(dtype=dtypes.int64, shape=(n, m, 1), dimension=1)
        windows = gather(xp, el.add(rows, cols), axes=(0,), mode="clip", fill_value=None)
        return la.dot_general(windows, w, dimension_numbers=(((1,), (0,)), ((), ())))
    out = None
    for j in range(m):
        tap = sh.broadcast_in_dim(sh.slice(w, start_indices=(j,), limit_indices=(j + 1,),
                                           strides=None),
                                  shape=(n,), broadcast_dimensions=(0,))
        term = el.mul(sh.slice(xp, start_indices=(j,), limit_indices=(j + n,), strides=None),
                      tap)
        out = term if out is None else el.add(out, term)
    return out


def _by_fft(x, w, lo, hi, out_dtype):
    """The sliding dot product as a slice of the full convolution of x with w reversed."""
    from . import fft as jfft
    if aval_of(x).dtype != out_dtype:
        x, w = convert(x, out_dtype), convert(w, out_dtype)
    nx, m = aval_of(x).shape[0], aval_of(w).shape[0]
    kernel = sh.rev(w, dimensions=(0,))
    full = nx + m - 1
    size = smooth_length(full)
    if out_dtype.kind == "c":
        spec = el.mul(jfft.fft(x, n=size), jfft.fft(kernel, n=size))
        conv = jfft.ifft(spec, n=size)
    else:
        spec = el.mul(jfft.rfft(x, n=size), jfft.rfft(kernel, n=size))
        conv = jfft.irfft(spec, n=size)
    # Padding (lo, hi) keeps entries lo' = m - 1 - lo .. of the full convolution.
    start = m - 1 - lo
    length = nx + lo + hi - m + 1
    return sh.slice(conv, start_indices=(start,), limit_indices=(start + length,), strides=None)
