"""`jitcore.scipy.fft`: the discrete cosine transforms of `jax.scipy.fft` (type 2 only, as JAX).

A DCT-II of length N is one complex FFT of the reordered input (even samples, then the odd
ones reversed) twisted by exp(-i pi k / 2N) (Makhoul, 1980); the inverse undoes each step.
Complex input is transformed part by part. `norm` is None/"backward" (scipy's unnormalized
DCT-II, whose inverse carries 1/2N) or "ortho" (the orthonormal matrix both ways).
"""
from __future__ import annotations

import operator

import numpy as np

from ops import dtypes
from ops import elementwise as el
from ops.rules import canonical_axes, canonical_axis

from .. import lax
from .. import numpy as jnp
from ..numpy import fft as jnp_fft
from ..numpy._promotion import asarray, aval_of, promote_to_inexact

__all__ = ["dct", "dctn", "idct", "idctn"]


def _check(name, type, norm):
    if type != 2:
        raise NotImplementedError("Only DCT type 2 is implemented.")
    if norm is not None and norm not in ("backward", "ortho"):
        raise ValueError(f"jax.scipy.fft.{name}: norm={norm!r} is not implemented")


def _along(vec, axis, ndim):
    """A 1-d constant shaped to broadcast along `axis` of an ndim-d array."""
    return np.reshape(vec, [-1 if a == axis else 1 for a in range(ndim)])


def _twiddle(n, sign, dtype, axis, ndim):
    """exp(-i pi sign*k / 2n) for k = 0..n-1 along `axis`, a constant (n is static)."""
    k = np.arange(n)
    return _along(np.exp(-0.5j * np.pi * sign * k / n).astype(dtype), axis, ndim)


def _interleave(x, axis):
    """Even samples, then the odd ones reversed (Makhoul's reordering)."""
    a = aval_of(x)
    n = a.shape[axis]
    start, stride = [0] * a.ndim, [1] * a.ndim
    stride[axis] = 2
    even = lax.slice(x, start, a.shape, stride)
    if n < 2:
        return even
    start[axis] = 1
    odd = lax.rev(lax.slice(x, start, a.shape, stride), (axis,))
    return lax.concatenate([even, odd], axis)


def _deinterleave(x, axis):
    """The inverse reordering: sample j comes from j // 2 (even j) or n - 1 - j // 2 (odd j)."""
    n = aval_of(x).shape[axis]
    j = np.arange(n)
    perm = np.where(j % 2 == 0, j // 2, n - 1 - j // 2)
    return jnp.take(x, perm, axis=axis)


def _ortho_norm(out, axis):
    a = aval_of(out)
    n = a.shape[axis]
    factor = np.full((n,), 2.0)
    factor[0] = 4.0
    return out / asarray(_along(np.sqrt(factor * n).astype(a.dtype), axis, a.ndim))


def _pad_to(x, sizes: dict):
    """Zero-pad (or crop) the axes in `sizes` at their end to those sizes."""
    shape = aval_of(x).shape
    if all(shape[a] == n for a, n in sizes.items()):
        return x
    return lax.pad(x, 0, [(0, sizes.get(a, d) - d, 0) for a, d in enumerate(shape)])


def _by_parts(fn, x, **kw):
    return el.complex(fn(el.real(x), **kw), fn(el.imag(x), **kw))


def dct(x, type=2, n=None, axis=-1, norm=None):
    """Discrete cosine transform (`scipy.fft.dct`, type 2):
    y[k] = 2 sum_n x[n] cos(pi k (2n + 1) / 2N)."""
    _check("dct", type, norm)
    x = asarray(x)
    if aval_of(x).dtype.kind == "c":
        return _by_parts(dct, x, type=type, n=n, axis=axis, norm=norm)
    nd = aval_of(x).ndim
    axis = canonical_axis("dct", axis, nd)
    if n is not None:
        x = _pad_to(x, {axis: operator.index(n)})
    size = aval_of(x).shape[axis]
    V = jnp_fft.fft(_interleave(x, axis), axis=axis)
    out = 2 * el.real(V * asarray(_twiddle(size, 1, aval_of(V).dtype, axis, nd)))
    return _ortho_norm(out, axis) if norm == "ortho" else out


def _dct2(x, axes, norm):
    """The 2-d DCT of one 2-d FFT: V and its reflection along the second axis combine into
    both axes' twiddles."""
    nd = aval_of(x).ndim
    a1, a2 = axes
    n1, n2 = aval_of(x).shape[a1], aval_of(x).shape[a2]
    V = jnp_fft.fftn(_interleave(_interleave(x, a1), a2), axes=axes)
    dt = aval_of(V).dtype
    w1 = asarray(_twiddle(n1, 1, dt, a1, nd))
    w2, w2m = (asarray(_twiddle(n2, s, dt, a2, nd)) for s in (1, -1))
    reflected = jnp.roll(jnp.flip(V, axis=a2), shift=1, axis=a2)
    out = 2 * el.real(w1 * (w2 * V + w2m * reflected))
    if norm == "ortho":
        return _ortho_norm(_ortho_norm(out, a1), a2)
    return out


def _nd_args(name, x, s, axes):
    nd = aval_of(x).ndim
    if s is not None:
        s = [operator.index(v) for v in s] if isinstance(s, (list, tuple)) or hasattr(
            s, "__len__") else [operator.index(s)]
        if len(s) > nd:
            raise ValueError(f"s must have at most x.ndim ({nd}) elements, got {len(s)}")
    if axes is None:
        axes = tuple(range(nd - len(s), nd)) if s is not None else tuple(range(nd))
    else:
        axes = canonical_axes(name, tuple(axes), nd)
    return s, axes


def _nd_prelude(name, nd_fn, one_fn, x, type, s, axes, norm):
    """What dctn and idctn share: checks, complex input by parts, one axis by the 1-d
    function, `s` as padding. Returns (x, s, axes, result or None)."""
    _check(name, type, norm)
    x = asarray(x)
    if aval_of(x).dtype.kind == "c":
        return x, s, axes, _by_parts(nd_fn, x, type=type, s=s, axes=axes, norm=norm)
    s, axes = _nd_args(name, x, s, axes)
    if len(axes) == 1:
        return x, s, axes, one_fn(x, n=s[0] if s is not None else None, axis=axes[0],
                                  norm=norm)
    if s is not None:
        x = _pad_to(x, dict(zip(axes, s)))
    return x, s, axes, None


def dctn(x, type=2, s=None, axes=None, norm=None):
    """Multidimensional DCT-II over `axes` (`scipy.fft.dctn`)."""
    x, s, axes, done = _nd_prelude("dctn", dctn, dct, x, type, s, axes, norm)
    if done is not None:
        return done
    if len(axes) == 2:
        return _dct2(x, axes, norm)
    # More axes: 2-d DCTs on pairs of them (and a 1-d one on an odd last axis).
    for block in [axes[i:i + 2] for i in range(0, len(axes), 2)]:
        x = dctn(x, axes=block, norm=norm)
    return x


def idct(x, type=2, n=None, axis=-1, norm=None):
    """Inverse of `dct` (`scipy.fft.idct`, type 2): a DCT-III scaled by 1/2N (or orthonormal)."""
    _check("idct", type, norm)
    x = asarray(x)
    if aval_of(x).dtype.kind == "c":
        return _by_parts(idct, x, type=type, n=n, axis=axis, norm=norm)
    nd = aval_of(x).ndim
    axis = canonical_axis("idct", axis, nd)
    if n is not None:
        x = _pad_to(x, {axis: operator.index(n)})
    size = aval_of(x).shape[axis]
    (x,) = promote_to_inexact("idct", x)
    if norm is None or norm == "backward":
        x = _ortho_norm(x, axis)
    x = _ortho_norm(x, axis)
    cdt = dtypes.COMPLEX_OF[aval_of(x).dtype]
    # Dividing by the twiddle is multiplying by its conjugate (|w| = 1).
    x = x.astype(cdt) * asarray(_twiddle(size, -1, cdt, axis, nd) * (2 * size))
    return _deinterleave(el.real(jnp_fft.ifft(x, axis=axis)), axis)


def idctn(x, type=2, s=None, axes=None, norm=None):
    """Multidimensional inverse of `dctn` (`scipy.fft.idctn`): one `idct` per axis."""
    x, s, axes, done = _nd_prelude("idctn", idctn, idct, x, type, s, axes, norm)
    if done is not None:
        return done
    for axis in axes:
        x = idct(x, axis=axis, norm=norm)
    return x

