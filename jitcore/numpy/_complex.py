"""Complex numbers in `jitcore.numpy`: parts, conjugate, angle and the complex predicates.

On real arrays these follow NumPy and JAX: `real(x)` is `x`, `imag(x)` zeros of its dtype,
`conj(x)` is `x`, `angle(x)` is 0 or pi (the argument of a real number, as a float).
"""
from __future__ import annotations

import numpy as np

from ops import elementwise as el

from ._promotion import aval_of, asarray, broadcast_to, convert, promote_to_inexact

__all__ = ["real", "imag", "conj", "conjugate", "angle", "iscomplexobj", "isrealobj",
           "iscomplex", "isreal"]


def _is_complex(x) -> bool:
    return aval_of(x).dtype.kind == "c"


def real(val, /):
    """The real part; a real array is returned as it is."""
    val = asarray(val)
    return el.real(val) if _is_complex(val) else val


def imag(val, /):
    """The imaginary part; zeros of a real array's dtype for a real array."""
    val = asarray(val)
    if _is_complex(val):
        return el.imag(val)
    a = aval_of(val)
    return broadcast_to(convert(0, a.dtype, a.weak_type), a.shape)


def conj(x, /):
    """The complex conjugate; a real array is returned as it is."""
    x = asarray(x)
    return el.conj(x) if _is_complex(x) else x


conjugate = conj


def angle(z, deg=False):
    """The argument of each element, in radians (degrees with `deg=True`): atan2(imag, real);
    integers become float64 first, as in JAX."""
    z = asarray(z)
    if _is_complex(z):
        re, im = el.real(z), el.imag(z)
    else:
        (re,) = promote_to_inexact("angle", z)
        a = aval_of(re)
        im = broadcast_to(convert(0, a.dtype, a.weak_type), a.shape)
    out = el.atan2(im, re)
    if deg:
        a = aval_of(out)
        out = el.mul(out, broadcast_to(convert(180 / np.pi, a.dtype, a.weak_type), a.shape))
    return out


def iscomplexobj(x) -> bool:
    """Is the dtype of `x` complex (whatever its values)?"""
    return bool(np.dtype(aval_of(x).dtype).kind == "c")


def isrealobj(x) -> bool:
    return not iscomplexobj(x)


def iscomplex(x, /):
    """Elementwise: is the imaginary part nonzero?"""
    x = asarray(x)
    if not _is_complex(x):
        return broadcast_to(np.bool_(False), aval_of(x).shape)
    return el.ne(el.imag(x), broadcast_to(convert(0, aval_of(el.imag(x)).dtype), aval_of(x).shape))


def isreal(x, /):
    """Elementwise: is the imaginary part zero?"""
    return el.not_(iscomplex(x))
