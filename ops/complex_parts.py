"""How complex operations compute from real and imaginary parts.

Compiled backends keep complex values as pairs of real values inside kernels: the
`split_complex` pass (xla_like/passes/split_complex.py) rewrites each complex operation with
the rule its primitive carries as `complex_parts` (see `Primitive`). A rule takes a complex
operand as its `(re, im)` pair (real operands as they are) and returns a real value or a pair.
Operations that act on each part alike say "parts" in their family file; those with no rule
(library calls, host steps, control flow) take whole complex arrays.

The formulas keep NumPy's answers at the edges that matter in practice: exp of a real
argument has an exact zero imaginary part even when the real part overflows, abs and log
do not overflow for large parts, division scales like Smith's algorithm, tan and tanh return
their limits for large arguments instead of inf/inf.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .core import get_aval
from . import elementwise as el
from . import linalg as _linalg
from . import reduction as _red
from . import shape as _sh


def _c(x, v):
    a = get_aval(x)
    c = np.array(v, a.dtype)
    if not a.shape:
        return c
    return _sh.broadcast_in_dim(c, shape=a.shape, broadcast_dimensions=())


def _mul(z, w):
    (a, b), (c, d) = z, w
    return el.sub(el.mul(a, c), el.mul(b, d)), el.add(el.mul(a, d), el.mul(b, c))


def _div(z, w):
    # Smith's algorithm: scale by the larger part of the divisor, so |w|^2 never overflows.
    (a, b), (c, d) = z, w
    big_c = el.ge(el.abs(c), el.abs(d))
    r = el.select(big_c, el.div(d, c), el.div(c, d))
    den = el.select(big_c, el.add(c, el.mul(d, r)), el.add(el.mul(c, r), d))
    re = el.select(big_c, el.add(a, el.mul(b, r)), el.add(el.mul(a, r), b))
    im = el.select(big_c, el.sub(b, el.mul(a, r)), el.sub(el.mul(b, r), a))
    return el.div(re, den), el.div(im, den)


def _hypot(a, b):
    """sqrt(a^2 + b^2) without overflow or underflow of the squares."""
    a, b = el.abs(a), el.abs(b)
    hi, lo = el.max(a, b), el.min(a, b)
    zero = el.eq(hi, _c(hi, 0))
    safe = el.select(zero, _c(hi, 1), hi)
    q = el.div(lo, safe)
    r = el.mul(hi, el.sqrt(el.add(_c(q, 1), el.mul(q, q))))
    # inf beats nan (hypot(inf, nan) is inf), and 0 stays 0.
    r = el.select(el.eq(hi, _c(hi, np.inf)), hi, r)
    return el.select(zero, hi, r)


def _exp(z):
    a, b = z
    e = el.exp(a)
    # b == 0: an exact zero imaginary part even where e overflows (inf * 0 would be nan).
    return el.mul(e, el.cos(b)), el.select(el.eq(b, _c(b, 0)), b, el.mul(e, el.sin(b)))


def _log(z):
    a, b = z
    return el.log(_hypot(a, b)), el.atan2(b, a)


def _sqrt(z):
    a, b = z
    m = _hypot(a, b)
    t = el.sqrt(el.mul(el.add(el.abs(a), m), _c(a, 0.5)))
    zero = el.eq(t, _c(t, 0))
    half = el.div(b, el.mul(_c(t, 2), el.select(zero, _c(t, 1), t)))
    re = el.select(el.ge(a, _c(a, 0)), t, el.abs(half))
    neg_b = el.lt(b, _c(b, 0))
    im = el.select(el.ge(a, _c(a, 0)), half, el.select(neg_b, el.neg(t), t))
    return el.select(zero, _c(a, 0), re), el.select(zero, b, im)


def _sin(z):
    a, b = z
    return el.mul(el.sin(a), el.cosh(b)), el.mul(el.cos(a), el.sinh(b))


def _cos(z):
    a, b = z
    return el.mul(el.cos(a), el.cosh(b)), el.neg(el.mul(el.sin(a), el.sinh(b)))


def _sinh(z):
    a, b = z
    return el.mul(el.sinh(a), el.cos(b)), el.mul(el.cosh(a), el.sin(b))


def _cosh(z):
    a, b = z
    return el.mul(el.cosh(a), el.cos(b)), el.mul(el.sinh(a), el.sin(b))


def _tan_parts(a, b):
    """tan(a + ib) = (sin 2a + i sinh 2b) / (cos 2a + cosh 2b); for |b| > 20 the quotient's
    imaginary part is sign(b) to double precision (and inf/inf otherwise)."""
    a2, b2 = el.add(a, a), el.add(b, b)
    den = el.add(el.cos(a2), el.cosh(b2))
    re = el.div(el.sin(a2), den)
    big = el.gt(el.abs(b), _c(b, 20))
    im = el.select(big, el.sign(b), el.div(el.sinh(b2), den))
    return re, im


def _tan(z):
    return _tan_parts(*z)


def _tanh(z):
    # tanh(z) = -i tan(iz): tan's parts with the roles of a and b exchanged.
    a, b = z
    re, im = _tan_parts(b, a)
    return im, re


def _expm1(z):
    # exp(a) cos(b) - 1 = expm1(a) cos(b) - 2 sin(b/2)^2, accurate near 0.
    a, b = z
    s = el.sin(el.mul(b, _c(b, 0.5)))
    re = el.sub(el.mul(el.expm1(a), el.cos(b)), el.mul(_c(s, 2), el.mul(s, s)))
    return re, el.select(el.eq(b, _c(b, 0)), b, el.mul(el.exp(a), el.sin(b)))


def _log1p(z):
    # log|1 + z| = log1p(2a + a^2 + b^2) / 2 near 0; the general log far from it.
    a, b = z
    small = el.lt(el.max(el.abs(a), el.abs(b)), _c(a, 0.5))
    near = el.mul(_c(a, 0.5), el.log1p(el.add(el.mul(a, el.add(a, _c(a, 2))), el.mul(b, b))))
    far = el.log(_hypot(el.add(a, _c(a, 1)), b))
    return el.select(small, near, far), el.atan2(b, el.add(a, _c(a, 1)))


def _exp2(z):
    a, b = z
    ln2 = _c(a, np.log(2))
    return _exp((el.mul(a, ln2), el.mul(b, ln2)))


def _rsqrt(z):
    s = _sqrt(z)
    return _div((_c(s[0], 1), _c(s[0], 0)), s)


def _pow(z, w):
    # exp(w log z), with x**0 == 1 and 0**w == 0 for w != 0 (NumPy's values there).
    a, b = z
    c, d = w
    lz = _log(z)
    re, im = _exp(_mul(w, lz))
    w_zero = el.and_(el.eq(c, _c(c, 0)), el.eq(d, _c(d, 0)))
    z_zero = el.and_(el.eq(a, _c(a, 0)), el.eq(b, _c(b, 0)))
    re = el.select(w_zero, _c(re, 1), el.select(z_zero, _c(re, 0), re))
    im = el.select(el.or_(w_zero, z_zero), _c(im, 0), im)
    return re, im


def _integer_pow(z, *, y):
    # Repeated squaring at trace time: |y| is a static int.
    result, base, n = None, z, abs(y)
    while n:
        if n & 1:
            result = base if result is None else _mul(result, base)
        n >>= 1
        if n:
            base = _mul(base, base)
    if result is None:
        return _c(z[0], 1), _c(z[1], 0)
    if y < 0:
        return _div((_c(z[0], 1), _c(z[1], 0)), result)
    return result


def _abs(z):
    return _hypot(*z)


def _sign(z):
    a, b = z
    m = _hypot(a, b)
    zero = el.eq(m, _c(m, 0))
    safe = el.select(zero, _c(m, 1), m)
    return (el.select(zero, _c(a, 0), el.div(a, safe)),
            el.select(zero, _c(b, 0), el.div(b, safe)))


def _eq(z, w):
    return el.and_(el.eq(z[0], w[0]), el.eq(z[1], w[1]))


def _ne(z, w):
    return el.or_(el.ne(z[0], w[0]), el.ne(z[1], w[1]))


def _lexicographic(strict):
    # Real parts first, then imaginary parts: NumPy's (and JAX's) order of complex numbers.
    def rule(z, w):
        return el.or_(strict(z[0], w[0]), el.and_(el.eq(z[0], w[0]), strict(z[1], w[1])))
    return rule


def _le(z, w):
    return el.or_(el.lt(z[0], w[0]), el.and_(el.eq(z[0], w[0]), el.le(z[1], w[1])))


def _ge(z, w):
    return el.or_(el.gt(z[0], w[0]), el.and_(el.eq(z[0], w[0]), el.ge(z[1], w[1])))


def _pick(choose_first):
    def rule(z, w):
        keep = choose_first(z, w)
        return el.select(keep, z[0], w[0]), el.select(keep, z[1], w[1])
    return rule


def _convert(z, *, new_dtype, weak_type=False):
    new = np.dtype(new_dtype)
    if not isinstance(z, tuple):
        # A real value becoming complex: a zero imaginary part.
        part = el.convert_element_type(z, new_dtype=dtypes.real_dtype(new), weak_type=weak_type)
        return part, _c(part, 0)
    a, b = z
    if new.kind == "c":
        part = dtypes.real_dtype(new)
        return (el.convert_element_type(a, new_dtype=part, weak_type=weak_type),
                el.convert_element_type(b, new_dtype=part, weak_type=weak_type))
    if new.kind == "b":
        return el.or_(el.ne(a, _c(a, 0)), el.ne(b, _c(b, 0)))
    return el.convert_element_type(a, new_dtype=new, weak_type=weak_type)


def _reduce_prod(z, *, axes):
    """A product tree: the reduced axes flattened last, halves multiplied until one is left
    (padded with ones to an even length at each level)."""
    a, b = z
    aval = get_aval(a)
    axes = tuple(ax % aval.ndim for ax in axes) if aval.ndim else ()
    kept = tuple(d for d in range(aval.ndim) if d not in axes)
    kept_shape = tuple(aval.shape[d] for d in kept)
    n = int(np.prod([aval.shape[d] for d in axes], dtype=np.int64))
    parts = []
    for p in (a, b):
        if kept + axes != tuple(range(aval.ndim)):
            p = _sh.transpose(p, permutation=kept + axes)
        parts.append(_sh.reshape(p, new_sizes=kept_shape + (n,)))
    last = len(kept_shape)
    if n == 0:
        return _c(_red.reduce_sum(parts[0], axes=(last,)), 1), \
            _c(_red.reduce_sum(parts[1], axes=(last,)), 0)
    z = tuple(parts)
    while n > 1:
        if n % 2:
            pad = ((0, 0, 0),) * last + ((0, 1, 0),)
            z = (_sh.pad(z[0], np.array(1, aval.dtype), padding_config=pad),
                 _sh.pad(z[1], np.array(0, aval.dtype), padding_config=pad))
            n += 1
        half = n // 2

        def cut(p, lo, hi):
            start = (0,) * last + (lo,)
            limit = kept_shape + (hi,)
            return _sh.slice(p, start_indices=start, limit_indices=limit,
                             strides=(1,) * (last + 1))
        lo_half = (cut(z[0], 0, half), cut(z[1], 0, half))
        hi_half = (cut(z[0], half, n), cut(z[1], half, n))
        z = _mul(lo_half, hi_half)
        n = half
    return tuple(_sh.reshape(p, new_sizes=kept_shape) for p in z)


def _dot_general(lhs, rhs, **params):
    (a, b), (c, d) = lhs, rhs
    dot = lambda x, y: _linalg.dot_general(x, y, **params)   # noqa: E731
    return el.sub(dot(a, c), dot(b, d)), el.add(dot(a, d), dot(b, c))


def _is_finite(z):
    return el.and_(el.is_finite(z[0]), el.is_finite(z[1]))


_RULES = {
    el.mul_p: _mul, el.div_p: _div, el.exp_p: _exp, el.log_p: _log, el.sqrt_p: _sqrt,
    el.rsqrt_p: _rsqrt, el.sin_p: _sin, el.cos_p: _cos, el.tan_p: _tan, el.sinh_p: _sinh,
    el.cosh_p: _cosh, el.tanh_p: _tanh, el.expm1_p: _expm1, el.log1p_p: _log1p,
    el.exp2_p: _exp2, el.pow_p: _pow, el.integer_pow_p: _integer_pow, el.abs_p: _abs,
    el.sign_p: _sign, el.eq_p: _eq, el.ne_p: _ne,
    el.lt_p: _lexicographic(el.lt), el.gt_p: _lexicographic(el.gt), el.le_p: _le,
    el.ge_p: _ge, el.max_p: _pick(_ge), el.min_p: _pick(_le),
    el.real_p: lambda z: z[0], el.imag_p: lambda z: z[1],
    el.conj_p: lambda z: (z[0], el.neg(z[1])), el.complex_p: lambda x, y: (x, y),
    el.convert_element_type_p: _convert, el.is_finite_p: _is_finite,
    _red.reduce_prod_p: _reduce_prod, _linalg.dot_general_p: _dot_general,
}
for _prim, _rule in _RULES.items():
    _prim.complex_parts = _rule
del _prim, _rule
