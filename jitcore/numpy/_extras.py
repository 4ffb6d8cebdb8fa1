"""Composite `jitcore.numpy` functions written from the public `jnp` surface: differences and
integrals, selection, histograms and counting, insertion and deletion, index helpers, bit
packing, polynomials, integer gcd/lcm, and the Array-API aliases.

Everything here decomposes into existing primitives at trace time. Functions whose result size
depends on values (`bincount` without `length=`, set operations without `size=`) need concrete
inputs, as in JAX; under `jit` they take a static size instead.
"""
from __future__ import annotations


import ml_dtypes
import numpy as np

from ops import core, dtypes
from ops.errors import ConcretizationTypeError

from . import _shape, _ufuncs
from ._promotion import asarray, aval_of, convert, promote_args, result_dtype
from ._extras_sets import (bincount, intersect1d, isin, setdiff1d, union1d,  # noqa: F401
                           histogram, histogram2d, histogram_bin_edges, digitize)
from ._extras_index import (insert, delete, unravel_index, ravel_multi_index, ix_,  # noqa: F401
                            mgrid, ogrid, tril_indices, triu_indices, tril_indices_from,
                            triu_indices_from, packbits, unpackbits, vectorize)

class _Jnp:
    """`jitcore.numpy` looked up at call time (this module is imported while it initialises)."""

    def __getattr__(self, name):
        from .. import numpy
        return getattr(numpy, name)


jnp = _Jnp()

__all__ = [
    "copy", "diff", "ediff1d", "select", "nan_to_num", "isin", "interp", "cov", "corrcoef",
    "histogram", "histogram2d", "histogram_bin_edges", "bincount", "digitize", "append",
    "insert", "delete", "astype", "concat", "hsplit", "vsplit", "dsplit", "vectorize",
    "trapezoid", "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
    "unravel_index", "ravel_multi_index", "ix_", "mgrid", "ogrid", "packbits", "unpackbits",
    "setdiff1d", "union1d", "intersect1d", "polyval", "polyfit", "roots", "gcd", "lcm",
    "acos", "asin", "atan", "atan2", "acosh", "asinh", "atanh", "permute_dims",
]

def _inexact(op, *args):
    """`args` promoted to one inexact dtype (ints -> float64), without broadcasting."""
    dtype, weak = result_dtype(*args)
    dtype = dtypes.to_inexact(dtype, weak)
    return [convert(a, dtype, weak) for a in args]


_is_traced = lambda x: isinstance(x, core.Tracer)  # noqa: E731

# Array-API spellings of NumPy's names.
acos, asin, atan, atan2 = _ufuncs.arccos, _ufuncs.arcsin, _ufuncs.arctan, _ufuncs.arctan2
acosh, asinh, atanh = _ufuncs.arccosh, _ufuncs.arcsinh, _ufuncs.arctanh


def permute_dims(a, /, axes):
    return jnp.transpose(a, axes)


def concat(arrays, /, *, axis=0):
    return jnp.concatenate(arrays, axis=axis)


def astype(x, dtype, /, *, copy=False, device=None):
    return asarray(x, dtype=dtypes.canonicalize(dtype, "astype"))


def copy(a, order=None):
    """`a` as an array: arrays are immutable, so sharing the value is indistinguishable from
    copying it (order is ignored, as in JAX)."""
    return asarray(a)


def _axis_slice(x, start, stop, axis):
    idx = [slice(None)] * aval_of(x).ndim
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """n-th discrete difference along `axis`; booleans use `!=`, as NumPy and JAX do."""
    a = asarray(a)
    n = _shape.static_int("diff", "n", n)
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    nd = aval_of(a).ndim
    if nd == 0:
        raise ValueError("diff: requires an input with at least one dimension, got a scalar")
    axis = _shape.axis_of("diff", axis, aval_of(a))
    parts = []
    for extra, first in ((prepend, True), (append, False)):
        if extra is None:
            continue
        e = asarray(extra)
        if aval_of(e).ndim == 0:
            shape = list(aval_of(a).shape)
            shape[axis] = 1
            e = jnp.broadcast_to(e, tuple(shape))
        parts.append((first, e))
    if parts:
        pre = [e for f, e in parts if f]
        post = [e for f, e in parts if not f]
        a = jnp.concatenate(pre + [a] + post, axis=axis)
    is_bool = aval_of(a).dtype == np.bool_
    for _ in range(n):
        hi, lo = _axis_slice(a, 1, None, axis), _axis_slice(a, None, -1, axis)
        a = jnp.not_equal(hi, lo) if is_bool else jnp.subtract(hi, lo)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of the flattened array, with optional values before and after."""
    a = jnp.ravel(asarray(ary))
    out = jnp.subtract(a[1:], a[:-1])
    parts = [out]
    # Like JAX, the extra values take the array's dtype.
    dt = aval_of(a).dtype
    if to_begin is not None:
        parts.insert(0, jnp.ravel(asarray(to_begin)).astype(dt))
    if to_end is not None:
        parts.append(jnp.ravel(asarray(to_end)).astype(dt))
    return jnp.concatenate(parts) if len(parts) > 1 else out


def select(condlist, choicelist, default=0):
    """Element from the first choice whose condition holds, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, got "
                         f"{len(condlist)} and {len(choicelist)}")
    if len(condlist) == 0:
        raise ValueError("select: condlist must be non-empty")
    conds = [asarray(c) for c in condlist]
    for c in conds:
        if aval_of(c).dtype != np.bool_:
            raise TypeError(f"select: condlist entries must be boolean, got {aval_of(c).dtype}")
    choices = promote_args("select", default, *choicelist)
    out = choices[0]
    # The first true condition wins, so apply them from last to first.
    for c, v in reversed(list(zip(conds, choices[1:]))):
        out = jnp.where(c, v, out)
    return out


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN -> `nan`, +inf -> `posinf` (dtype max), -inf -> `neginf` (dtype min)."""
    x = asarray(x)
    dt = aval_of(x).dtype
    if not np.issubdtype(dt, np.inexact):
        return x
    if np.issubdtype(dt, np.complexfloating):
        re = nan_to_num(jnp.real(x), nan=nan,
                        posinf=posinf, neginf=neginf)
        im = nan_to_num(x.imag, nan=nan, posinf=posinf, neginf=neginf)
        return jnp.add(re, jnp.multiply(im, convert(1j, dt)))
    info = ml_dtypes.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = jnp.where(jnp.isnan(x), convert(nan, dt), x)
    out = jnp.where(jnp.isposinf(out), convert(posinf, dt), out)
    return jnp.where(jnp.isneginf(out), convert(neginf, dt), out)


def append(arr, values, axis=None):
    if axis is None:
        return jnp.concatenate([jnp.ravel(asarray(arr)), jnp.ravel(asarray(values))])
    return jnp.concatenate([arr, values], axis=axis)


def _split_dir(op, ary, ios, axis, min_nd):
    nd = aval_of(asarray(ary)).ndim
    if nd < min_nd:
        raise ValueError(f"{op}: requires an array of at least {min_nd} dimensions, got {nd}")
    return jnp.split(ary, ios, axis=axis)


def hsplit(ary, indices_or_sections):
    nd = aval_of(asarray(ary)).ndim
    return _split_dir("hsplit", ary, indices_or_sections, 1 if nd > 1 else 0, 1)


def vsplit(ary, indices_or_sections):
    return _split_dir("vsplit", ary, indices_or_sections, 0, 2)


def dsplit(ary, indices_or_sections):
    return _split_dir("dsplit", ary, indices_or_sections, 2, 3)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation (JAX's formula, so gradients flow to `x` and `fp`)."""
    # As in JAX: x and xp share a dtype, fp keeps its own; the arithmetic then promotes.
    x, xp = _inexact("interp", x, xp)
    (fp,) = _inexact("interp", fp)
    if aval_of(xp).ndim != 1 or aval_of(fp).ndim != 1:
        raise ValueError(f"interp: xp and fp must be one-dimensional, got shapes "
                         f"{aval_of(xp).shape} and {aval_of(fp).shape}")
    if aval_of(xp).shape[0] != aval_of(fp).shape[0]:
        raise ValueError(f"interp: xp and fp must have the same length, got "
                         f"{aval_of(xp).shape[0]} and {aval_of(fp).shape[0]}")
    if period is not None:
        if left is not None or right is not None:
            raise ValueError("interp: left and right are not allowed with period")
        period = jnp.abs(asarray(period))
        x = jnp.remainder(x, period)
        xp = jnp.remainder(xp, period)
        order = jnp.argsort(xp)
        xp, fp = xp[order], fp[order]
        xp = jnp.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = jnp.concatenate([fp[-1:], fp, fp[:1]])
    n = aval_of(xp).shape[0]
    i = jnp.clip(jnp.searchsorted(xp, x, side="right"), 1, n - 1)
    df = fp[i] - fp[i - 1]
    dx = xp[i] - xp[i - 1]
    delta = x - xp[i - 1]
    eps = np.spacing(ml_dtypes.finfo(aval_of(xp).dtype).eps)
    dx0 = jnp.abs(dx) <= eps
    f = jnp.where(dx0, fp[i - 1], fp[i - 1] + (delta / jnp.where(dx0, 1, dx)) * df)
    if period is None:
        f = jnp.where(x < xp[0], fp[0] if left is None else asarray(left, aval_of(f).dtype), f)
        f = jnp.where(x > xp[-1], fp[-1] if right is None else asarray(right, aval_of(f).dtype),
                          f)
    return f


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of `y` along `axis` by the trapezoidal rule."""
    if x is None:
        (y,) = _inexact("trapezoid", y)
        y = jnp.moveaxis(y, axis, -1)
        return jnp.multiply(dx, jnp.sum(y[..., 1:] + y[..., :-1], axis=-1)) * 0.5
    y, x = _inexact("trapezoid", y, x)
    y = jnp.moveaxis(y, axis, -1)
    if aval_of(x).ndim == 1:
        d = diff(x)
    else:
        d = diff(jnp.moveaxis(x, axis, -1), axis=-1)
    return 0.5 * jnp.sum(d * (y[..., 1:] + y[..., :-1]), axis=-1)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """Covariance matrix of the rows (variables) of `m`, NumPy's weighting rules."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("cov: ddof must be an integer")
    (X,) = _inexact("cov", _atleast_2d(m))
    if aval_of(asarray(m)).ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions: {aval_of(asarray(m)).shape}")
    if not rowvar and aval_of(X).shape[0] != 1:
        X = X.T
    if aval_of(X).shape[0] == 0:
        return jnp.array([]).reshape(0, 0)
    if y is not None:
        yy = _atleast_2d(y)
        if aval_of(asarray(y)).ndim > 2:
            raise ValueError(f"cov: y has more than 2 dimensions: {aval_of(asarray(y)).shape}")
        if not rowvar and aval_of(yy).shape[0] != 1:
            yy = yy.T
        X, yy = _inexact("cov", X, yy)
        X = jnp.concatenate([X, yy], axis=0)
    if ddof is None:
        ddof = 1 if not bias else 0
    w = None
    if fweights is not None:
        fw = asarray(fweights)
        if aval_of(fw).ndim > 1:
            raise ValueError("cov: cannot handle multidimensional fweights")
        w = fw
    if aweights is not None:
        aw = asarray(aweights)
        if aval_of(aw).ndim > 1:
            raise ValueError("cov: cannot handle multidimensional aweights")
        w = aw if w is None else w * aw
    if w is None:
        avg = jnp.mean(X, axis=1)
        fact = aval_of(X).shape[1] - ddof
    else:
        avg, w_sum = jnp.average(X, axis=1, weights=w, returned=True)
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * jnp.sum(w * asarray(aweights)) / w_sum
    X = X - avg[:, None]
    X_T = X.T if w is None else (X * w).T
    c = jnp.dot(X, jnp.conj(X_T))
    return jnp.squeeze(c / fact)


def _atleast_2d(x):
    x = asarray(x)
    nd = aval_of(x).ndim
    return x.reshape(1, -1) if nd < 2 else x


def corrcoef(x, y=None, rowvar=True):
    """Pearson correlation coefficients, clipped to [-1, 1] as NumPy does."""
    c = cov(x, y, rowvar)
    if aval_of(c).ndim == 0:
        return c / c
    d = jnp.diagonal(c)
    std = jnp.sqrt(d.real)
    c = c / std[:, None] / std[None, :]
    if np.issubdtype(aval_of(c).dtype, np.complexfloating):
        return jnp.clip(c.real, -1, 1) + 1j * jnp.clip(c.imag, -1, 1)
    return jnp.clip(c, -1, 1)


def polyval(p, x, *, unroll=16):
    """Horner evaluation of the polynomial with coefficients `p` (highest first) at `x`."""
    dt, weak = result_dtype(p, x)   # JAX keeps integer polynomials integer
    p, x = convert(p, dt, weak), convert(x, dt, weak)
    if aval_of(p).ndim != 1:
        raise ValueError(f"polyval: p must be one-dimensional, got shape {aval_of(p).shape}")
    shape = tuple(aval_of(x).shape)
    y = jnp.zeros(shape, dtype=aval_of(x).dtype)
    for k in range(aval_of(p).shape[0]):
        y = y * x + p[k]
    return y


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least-squares polynomial fit of degree `deg` (coefficients highest power first)."""
    x, y = _inexact("polyfit", x, y)
    deg = _shape.static_int("polyfit", "deg", deg)
    if deg < 0:
        raise ValueError(f"polyfit: deg must be non-negative, got {deg}")
    if aval_of(x).ndim != 1:
        raise TypeError(f"polyfit: expected a 1-D x, got shape {aval_of(x).shape}")
    if aval_of(y).ndim not in (1, 2):
        raise TypeError(f"polyfit: expected a 1-D or 2-D y, got shape {aval_of(y).shape}")
    if aval_of(x).shape[0] != aval_of(y).shape[0]:
        raise TypeError(f"polyfit: x and y must have the same length, got shapes "
                        f"{aval_of(x).shape} and {aval_of(y).shape}")
    n = aval_of(x).shape[0]
    order = deg + 1
    if rcond is None:
        rcond = n * ml_dtypes.finfo(aval_of(x).dtype).eps
    lhs = jnp.power(x[:, None], jnp.arange(deg, -1, -1))
    rhs = y
    if w is not None:
        (w,) = _inexact("polyfit", w)
        lhs = lhs * w[:, None]
        rhs = rhs * (w if aval_of(rhs).ndim == 1 else w[:, None])
    scale = jnp.sqrt(jnp.sum(lhs * lhs, axis=0))
    lhs = lhs / scale[None, :]
    from . import linalg
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T
    if full:
        return c, resids, rank, s, asarray(float(rcond))
    if cov:
        Vbase = linalg.inv(jnp.dot(lhs.T, lhs))
        Vbase = Vbase / jnp.outer(scale, scale)
        fac = 1 if cov == "unscaled" else resids / (n - order)
        if aval_of(y).ndim == 1:
            return c, Vbase * fac
        return c, Vbase[:, :, None] * fac
    return c


def roots(p, *, strip_zeros=True):
    """Roots of the polynomial `p` (highest power first) as eigenvalues of its companion matrix;
    always complex. Stripping leading zeros needs a concrete `p`, as in JAX (trailing zeros
    give zero roots through the companion matrix)."""
    (p,) = _inexact("roots", p)
    p = p.reshape(-1) if aval_of(p).ndim == 0 else p
    if aval_of(p).ndim != 1:
        raise ValueError(f"roots: input must be a rank-1 array, got shape {aval_of(p).shape}")
    from . import linalg
    cdt = np.result_type(aval_of(p).dtype, np.complex64)
    if strip_zeros:
        if _is_traced(p):
            raise ConcretizationTypeError(
                "roots: strip_zeros=True needs a concrete p (the number of roots depends on "
                "its values)", hint="pass strip_zeros=False under jit")
        nz = np.flatnonzero(np.asarray(p))
        if nz.size == 0:
            return jnp.zeros((0,), cdt)
        p = p[int(nz[0]):]
    k = aval_of(p).shape[0]
    if k < 2:
        r = jnp.zeros((0,), cdt)
    else:
        A = jnp.eye(k - 1, k - 1, -1, dtype=aval_of(p).dtype)
        A = A.at[0, :].set(-p[1:] / p[0])
        r = linalg.eigvals(A)
    return r


def _int_args(op, x1, x2):
    x1, x2 = promote_args(op, x1, x2)
    dt = aval_of(x1).dtype
    if not (np.issubdtype(dt, np.integer) or dt == np.bool_):
        raise TypeError(f"{op}: arguments must be integers, got {dt}")
    return x1, x2


def gcd(x1, x2):
    """Greatest common divisor (non-negative), by Euclid's algorithm in a while loop."""
    from ..control_flow import while_loop
    x1, x2 = _int_args("gcd", x1, x2)
    x1, x2 = jnp.abs(x1), jnp.abs(x2)
    shape = tuple(np.broadcast_shapes(aval_of(x1).shape, aval_of(x2).shape))
    a0 = jnp.broadcast_to(x1, shape)
    b0 = jnp.broadcast_to(x2, shape)

    def cond(ab):
        return jnp.any(ab[1] != 0)

    def body(ab):
        a, b = ab
        nz = b != 0
        safe = jnp.where(nz, b, 1)
        return (jnp.where(nz, b, a), jnp.where(nz, jnp.remainder(a, safe), 0))

    g, _ = while_loop(cond, body, (a0, b0))
    return g


def lcm(x1, x2):
    """Least common multiple (non-negative); 0 where either argument is 0."""
    x1, x2 = _int_args("lcm", x1, x2)
    d = gcd(x1, x2)
    safe = jnp.where(d == 0, 1, d)
    return jnp.where(d == 0, 0, jnp.abs(jnp.multiply(x1, jnp.floor_divide(x2, safe))))
