"""`Array.view(dtype)`: the same bits read as another dtype, as NumPy's and JAX's `view`.

Equal item sizes are one `bitcast_convert_type`. A different item size changes the length of
the last axis: narrower items split each element into several (least significant part first,
the little-endian layout NumPy reports), wider items join neighbours. The split and join go
through unsigned integers with shifts and masks, since the primitive itself only reinterprets
equal sizes. bool is read as one byte; complex as its (real, imag) pair of floats.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops import shape as sh

from . import _ufuncs as uf
from ._promotion import aval_of, asarray, convert
from ._shape import reshape_to, slice_axis

_UINT = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32),
         8: np.dtype(np.uint64)}


def _bitcast(x, dtype):
    if aval_of(x).dtype == dtype:
        return x
    return el.bitcast_convert_type(x, new_dtype=dtype)


def _split(u, factor, small):
    """Unsigned `u` cut into `factor` unsigned parts of `small` bytes along a new last axis."""
    av = aval_of(u)
    bits = 8 * small
    mask = (1 << bits) - 1
    parts = []
    for k in range(factor):
        shifted = uf.right_shift(u, np.array(bits * k, av.dtype)) if k else u
        part = uf.bitwise_and(shifted, np.array(mask, av.dtype))
        parts.append(reshape_to(convert(part, _UINT[small]), av.shape + (1,)))
    return sh.concatenate(*parts, dimension=av.ndim)


def _join(u, factor, big):
    """Unsigned `u` whose last axis holds `factor` parts per element, joined into `big` bytes."""
    av = aval_of(u)
    bits = 8 * av.dtype.itemsize
    last = av.ndim - 1
    out = None
    for k in range(factor):
        part = convert(slice_axis(u, k, k + 1, last), _UINT[big])
        if k:
            part = uf.left_shift(part, np.array(bits * k, _UINT[big]))
        out = part if out is None else uf.bitwise_or(out, part)
    return reshape_to(out, av.shape[:-1])


def view(x, dtype=None, type=None):
    """`x`'s bits reinterpreted as `dtype`; the last axis grows or shrinks when the item size
    changes (a 0-d array needs an unchanged item size)."""
    if type is not None:
        raise NotImplementedError("view: the `type` argument is not supported")
    x = asarray(x)
    if dtype is None:
        return x
    dtype = dtypes.canonicalize(dtype, "view")
    av = aval_of(x)
    size_in, size_out = av.dtype.itemsize, dtype.itemsize
    if av.ndim == 0:
        if size_in != size_out:
            raise ValueError(f"view: a 0-d {av.dtype} array can only be viewed with the same "
                             f"item size, not as {dtype}")
        return reshape_to(view(reshape_to(x, (1,)), dtype), ())
    if (av.shape[-1] * size_in) % size_out:
        raise ValueError(f"view: cannot view an array of shape {av.shape} and dtype {av.dtype} "
                         f"as {dtype}: the last axis holds {av.shape[-1] * size_in} bytes, not "
                         f"a multiple of {size_out}")
    if av.dtype == dtype:
        return x
    if av.dtype.kind == "b":
        return view(convert(x, np.uint8), dtype)
    if dtype.kind == "b":
        return uf.not_equal(view(x, np.uint8), 0)
    if av.dtype.kind == "c":
        pairs = sh.concatenate(reshape_to(el.real(x), av.shape + (1,)),
                               reshape_to(el.imag(x), av.shape + (1,)), dimension=av.ndim)
        return view(reshape_to(pairs, av.shape[:-1] + (2 * av.shape[-1],)), dtype)
    if dtype.kind == "c":
        part = dtypes.real_dtype(dtype)
        f = view(x, part)
        n = aval_of(f).shape[-1] // 2
        pairs = reshape_to(f, aval_of(f).shape[:-1] + (n, 2))
        last = aval_of(pairs).ndim - 1
        re = reshape_to(slice_axis(pairs, 0, 1, last), aval_of(f).shape[:-1] + (n,))
        im = reshape_to(slice_axis(pairs, 1, 2, last), aval_of(f).shape[:-1] + (n,))
        return el.complex(re, im)
    u = _bitcast(x, _UINT[size_in])
    if size_in > size_out:
        factor = size_in // size_out
        u = reshape_to(_split(u, factor, size_out), av.shape[:-1] + (av.shape[-1] * factor,))
    elif size_in < size_out:
        factor = size_out // size_in
        u = _join(reshape_to(u, av.shape[:-1] + (av.shape[-1] // factor, factor)), factor,
                  size_out)
    return _bitcast(u, dtype)
