"""Complex numbers, elementwise: `real`, `imag`, `conj` and `complex` (parts in, parts out).

Part of the elementwise primitives (`ops.elementwise` imports these names into its own
namespace, where rules and `jitcore.lax` find them).
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .autodiff import defbatch_elementwise, defvjp, zeros_like_aval
from .core import Primitive, ShapedArray, get_aval
from .errors import DtypeError
from .rules import (all_weak, as_function, check_kinds, defelementwise, defvectorized,
                    same_shapes_and_dtypes)
from .elementwise import F, C, neg

# Linear over the reals but not holomorphic, so each has its own transpose: JAX's, under the
# pairing Re(a * b) (no conjugation), which makes `grad` of a real function of z return the
# conjugate of df/dx + i df/dy, as JAX does.


def _complex_part(name, impl, doc):
    p = Primitive(name, "elementwise")

    def rule(x):
        check_kinds(name, x, C)
        return ShapedArray(x.shape, dtypes.real_dtype(x.dtype), x.weak_type)

    p.abstract_eval = rule
    p.impl = lambda x: np.array(impl(x))   # a copy, not a view into the complex array
    p.kinds = C
    p.__doc__ = doc
    return defelementwise(p, cheap=True)


real_p = _complex_part("real", np.real, "The real part of a complex array.")
imag_p = _complex_part("imag", np.imag, "The imaginary part of a complex array.")
conj_p = defvectorized("conj", np.conjugate, C, cheap=True)
complex_p = Primitive("complex", "elementwise")


def _complex_rule(x, y):
    same_shapes_and_dtypes("complex", [x, y])
    check_kinds("complex", x, "f")
    if x.dtype not in dtypes.COMPLEX_OF or x.dtype == dtypes.float16:
        raise DtypeError(f"complex: parts must be float32 or float64, got {x.str_short()}")
    return ShapedArray(x.shape, dtypes.COMPLEX_OF[x.dtype], all_weak([x, y]))


def _complex_impl(x, y):
    out = np.empty(x.shape, dtypes.COMPLEX_OF[x.dtype])
    out.real, out.imag = x, y
    return out


complex_p.abstract_eval = _complex_rule
complex_p.impl = _complex_impl
complex_p.kinds = F
defelementwise(complex_p, cheap=True)


def _zeros_of(x):
    return zeros_like_aval(get_aval(x))


def _linear(prim, jvp, *transposes):
    def j(primals, tangents):
        ans = prim.bind(*primals)
        if all(t is None for t in tangents):
            return ans, None
        ts = [(_zeros_of(p) if t is None else t) for p, t in zip(primals, tangents)]
        return ans, jvp(*ts)
    prim.jvp = j
    defvjp(prim, *transposes)
    defbatch_elementwise(prim)


_linear(real_p, lambda t: real(t), lambda ct, ans, x: complex(ct, _zeros_of(ct)))
_linear(imag_p, lambda t: imag(t), lambda ct, ans, x: complex(_zeros_of(ct), neg(ct)))
_linear(conj_p, lambda t: conj(t), lambda ct, ans, x: conj(ct))
_linear(complex_p, lambda tx, ty: complex(tx, ty),
        lambda ct, ans, x, y: real(ct), lambda ct, ans, x, y: neg(imag(ct)))

real = as_function(real_p)
imag = as_function(imag_p)
conj = as_function(conj_p)
complex = as_function(complex_p)
