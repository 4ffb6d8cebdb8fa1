"""`jitcore.lax`: the primitives by name, with JAX's `lax` signatures.

Unlike `jitcore.numpy`, these do not promote or broadcast: operands must already agree (as in
JAX), except that a Python scalar takes the dtype of the array it meets.
"""
from __future__ import annotations

import builtins  # `max`/`min` below are the lax primitives
import enum

import numpy as np

from ops.dtypes import kind as _kind
from ops import core, dtypes
from ops import elementwise as _el
from ops import linalg as _linalg
from ops import reduction as _red
from ops import shape as _sh
from ops import indexing as _ix
from ops import sorting as _sorting
from ops.rules import canonical_axis
from ops.core import PRIMITIVES, Primitive, Tracer  # noqa: F401

from .numpy._promotion import aval_of, convert, is_scalar
from .numpy._shape import static_axis
from .control_flow import cond, fori_loop, map, scan, switch, while_loop  # noqa: F401
from . import lax_linalg as linalg  # noqa: F401  (jax.lax.linalg)
from .lax_conv import *  # noqa: F401,F403  (conv_general_dilated, conv_transpose...)
from .lax_windows import *  # noqa: F401,F403  (reduce_window, reduce, reduce_window_sum...)
from .lax_extras import *  # noqa: F401,F403  (associative_scan, top_k, select_n, full...)
from .lax_approx_topk import approx_max_k, approx_min_k  # noqa: F401
from .lax_collectives import *  # noqa: F401,F403  (psum, all_gather, axis_index...)


def _scalars_like(*args):
    """Python scalars take the dtype (and shape, by broadcasting) of the array operands."""
    arrays = [a for a in args if not is_scalar(a)]
    if len(arrays) == len(args):
        return args
    if not arrays:
        d, w = dtypes.promote([dtypes.python_scalar_dtype(a) for a in args])
        return [convert(a, d, w) for a in args]
    ref = aval_of(arrays[0])
    out = []
    for a in args:
        if is_scalar(a):
            c = convert(a, ref.dtype, False)
            if ref.shape:
                c = _sh.broadcast_in_dim(c, shape=ref.shape, broadcast_dimensions=())
            out.append(c)
        else:
            out.append(a)
    return out


def _unary(fn):
    def f(x):
        return fn(*_scalars_like(x))
    f.__name__ = f.__qualname__ = fn.__name__
    f.__doc__ = fn.__doc__
    return f


def _check_scalar_kinds(name, x, y):
    """JAX's lax takes a Python scalar only where it converts to the other operand's dtype
    without changing kind: `lax.add(1, 2.0)` and `lax.add(int32_array, 2.5)` are TypeErrors
    (jnp.add promotes them)."""
    kinds = [dtypes.python_scalar_dtype(a)[0] if is_scalar(a) else aval_of(a).dtype
             for a in (x, y)]
    if kinds[0] == kinds[1]:
        return
    order = "biufc"
    widens = any(is_scalar(a) and order.index(k.kind) > order.index(o.kind)
                 for a, k, o in ((x, kinds[0], kinds[1]), (y, kinds[1], kinds[0])))
    if widens or (is_scalar(x) and is_scalar(y)):
        raise TypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                        f"{kinds[0]}, {kinds[1]}. (Tip: jnp.{name} is a similar function that "
                        "does automatic type promotion on inputs).")


def _binary(fn, name=None):
    op_name = name or fn.__name__

    def f(x, y):
        if is_scalar(x) or is_scalar(y):
            _check_scalar_kinds(op_name, x, y)
        return fn(*_scalars_like(x, y))
    f.__name__ = f.__qualname__ = name or fn.__name__
    f.__doc__ = fn.__doc__
    return f


neg, abs, sign, floor, ceil = (_unary(f) for f in (_el.neg, _el.abs, _el.sign, _el.floor,
                                                    _el.ceil))
exp, exp2, expm1, log, log1p = (_unary(f) for f in (_el.exp, _el.exp2, _el.expm1, _el.log,
                                                     _el.log1p))
sqrt, rsqrt, cbrt = (_unary(f) for f in (_el.sqrt, _el.rsqrt, _el.cbrt))
sin, cos, tan, asin, acos, atan = (_unary(f) for f in (_el.sin, _el.cos, _el.tan, _el.asin,
                                                        _el.acos, _el.atan))
sinh, cosh, tanh, asinh, acosh, atanh = (_unary(f) for f in (_el.sinh, _el.cosh, _el.tanh,
                                                              _el.asinh, _el.acosh, _el.atanh))
logistic, erf, erf_inv, is_finite = (_unary(f) for f in (_el.logistic, _el.erf, _el.erf_inv,
                                                         _el.is_finite))
real, imag, conj = (_unary(f) for f in (_el.real, _el.imag, _el.conj))
complex = _binary(_el.complex)   # noqa: A001  (lax.complex, as in JAX)
bitwise_not = not_ = _unary(_el.not_)

add, sub, mul, div, rem, pow = (_binary(f) for f in (_el.add, _el.sub, _el.mul, _el.div,
                                                      _el.rem, _el.pow))
max, min, atan2 = (_binary(f) for f in (_el.max, _el.min, _el.atan2))
bitwise_and = _binary(_el.and_, "bitwise_and")
bitwise_or = _binary(_el.or_, "bitwise_or")
bitwise_xor = _binary(_el.xor, "bitwise_xor")
shift_left = _binary(_el.shift_left)
shift_right_arithmetic = _binary(_el.shift_right_arithmetic)
shift_right_logical = _binary(_el.shift_right_logical)
eq, ne, lt, le, gt, ge = (_binary(f) for f in (_el.eq, _el.ne, _el.lt, _el.le, _el.gt, _el.ge))


def round(x, rounding_method=0):
    """Round to integral values: 0 = half away from zero (default), 1 = half to even."""
    return _el.round(x, rounding_method=int(rounding_method))


def integer_pow(x, y: int):
    return _el.integer_pow(x, y=int(y))


def square(x):
    return _el.integer_pow(x, y=2)


def select(pred, on_true, on_false):
    on_true, on_false = _scalars_like(on_true, on_false)
    return _el.select(pred, on_true, on_false)


def clamp(min, x, max):
    x, = _scalars_like(x)
    d = aval_of(x).dtype
    lo = convert(min, d) if is_scalar(min) else min
    hi = convert(max, d) if is_scalar(max) else max
    return _el.clamp(lo, x, hi)


def convert_element_type(operand, new_dtype):
    return _el.convert_element_type(operand, new_dtype=dtypes.canonicalize(new_dtype))


def bitcast_convert_type(operand, new_dtype):
    return _el.bitcast_convert_type(operand, new_dtype=dtypes.canonicalize(new_dtype))


def iota(dtype, size: int):
    return _el.iota(dtype=dtypes.canonicalize(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension: int):
    return _el.iota(dtype=dtypes.canonicalize(dtype), shape=tuple(shape), dimension=int(dimension))


def broadcast_in_dim(operand, shape, broadcast_dimensions):
    return _sh.broadcast_in_dim(operand, shape=tuple(shape),
                                broadcast_dimensions=tuple(broadcast_dimensions))


def broadcast(operand, sizes):
    """Add leading dimensions `sizes`."""
    nd = aval_of(operand).ndim
    shape = tuple(sizes) + aval_of(operand).shape
    return broadcast_in_dim(operand, shape, tuple(range(len(sizes), len(sizes) + nd)))


def reshape(operand, new_sizes, dimensions=None):
    if dimensions is not None:
        operand = transpose(operand, dimensions)
    return _sh.reshape(operand, new_sizes=tuple(int(d) for d in new_sizes))


def transpose(operand, permutation):
    return _sh.transpose(operand, permutation=tuple(int(p) for p in permutation))


def squeeze(array, dimensions):
    return _sh.squeeze(array, dimensions=tuple(dimensions))


def expand_dims(array, dimensions):
    shape = list(aval_of(array).shape)
    for d in sorted(int(d) % (len(shape) + len(dimensions)) for d in dimensions):
        shape.insert(d, 1)
    return _sh.reshape(array, new_sizes=tuple(shape))


def rev(operand, dimensions):
    return _sh.rev(operand, dimensions=tuple(dimensions))


def slice(operand, start_indices, limit_indices, strides=None):
    return _sh.slice(operand, start_indices=tuple(start_indices),
                     limit_indices=tuple(limit_indices),
                     strides=None if strides is None else tuple(strides))


def _index_scalars(indices):
    return [convert(i, dtypes.default_int) if isinstance(i, (int, np.integer)) else i
            for i in indices]


def _wrapped_starts(operand, start_indices, wrap):
    # As JAX: a negative start first gets the axis size added, then the op clamps it.
    from .lax_extras import _wrapped_index
    shape = aval_of(operand).shape
    return [_wrapped_index(i, n, wrap) for i, n in zip(start_indices, shape)] + \
        _index_scalars(list(start_indices)[len(shape):])


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    return _sh.dynamic_slice(operand, *_wrapped_starts(operand, start_indices,
                                                       allow_negative_indices),
                             slice_sizes=tuple(int(s) for s in slice_sizes))


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    return _sh.dynamic_update_slice(operand, update, *_wrapped_starts(
        operand, start_indices, allow_negative_indices))


def concatenate(operands, dimension):
    return _sh.concatenate(*operands, dimension=int(dimension))


def pad(operand, padding_value, padding_config):
    padding_value, = _scalars_like(padding_value) if not is_scalar(padding_value) else \
        (convert(padding_value, aval_of(operand).dtype),)
    return _sh.pad(operand, padding_value,
                   padding_config=tuple(tuple(int(v) for v in c) for c in padding_config))


def reduce_sum(operand, axes):
    return _red.reduce_sum(operand, axes=tuple(axes))


def reduce_prod(operand, axes):
    return _red.reduce_prod(operand, axes=tuple(axes))


def reduce_max(operand, axes):
    return _red.reduce_max(operand, axes=tuple(axes))


def reduce_min(operand, axes):
    return _red.reduce_min(operand, axes=tuple(axes))


def reduce_and(operand, axes):
    return _red.reduce_and(operand, axes=tuple(axes))


def reduce_or(operand, axes):
    return _red.reduce_or(operand, axes=tuple(axes))


def argmax(operand, axis, index_dtype=dtypes.int64):
    return _red.argmax(operand, axis=static_axis("argmax", axis),
                       index_dtype=dtypes.canonicalize(index_dtype))


def argmin(operand, axis, index_dtype=dtypes.int64):
    return _red.argmin(operand, axis=static_axis("argmin", axis),
                       index_dtype=dtypes.canonicalize(index_dtype))


def cumsum(operand, axis=0, reverse=False):
    return _red.cumsum(operand, axis=static_axis("cumsum", axis), reverse=bool(reverse))


def cumprod(operand, axis=0, reverse=False):
    return _red.cumprod(operand, axis=static_axis("cumprod", axis), reverse=bool(reverse))


def cummax(operand, axis=0, reverse=False):
    return _red.cummax(operand, axis=static_axis("cummax", axis), reverse=bool(reverse))


def cummin(operand, axis=0, reverse=False):
    return _red.cummin(operand, axis=static_axis("cummin", axis), reverse=bool(reverse))


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return _linalg.dot_general(lhs, rhs, dimension_numbers=dn, preferred_element_type=pet)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix product contracting lhs's last axis with rhs's first."""
    nl = aval_of(lhs).ndim
    return dot_general(lhs, rhs, (((nl - 1,), (0,)), ((), ())),
                       preferred_element_type=preferred_element_type)


# --- gather and scatters -------------------------------------------------------------------
# jitcore's index layout, simpler than XLA's dimension_numbers: `indices` has shape
# B + (len(axes),); row b picks position indices[b, k] on operand axis axes[k] and the full
# extent of every other axis. Negative indices are out of range (not wrapped).

_GATHER_MODES = {"clip": "clip", "promise_in_bounds": "clip", "fill": "fill", "drop": "fill",
                 "fill_or_drop": "fill"}


def _gather_by_axes(operand, indices, axes, *, mode="clip", fill_value=None):
    """`out[b, ...] = operand[indices[b] on axes, everything on the other axes]`.

    mode 'clip' clamps indices into range; 'fill' (or 'drop') returns `fill_value` for
    out-of-range rows (default: NaN, the most negative int, the largest uint, True)."""
    key = str(getattr(mode, "name", mode)).lower()
    if key not in _GATHER_MODES:
        raise ValueError(f"gather: mode must be one of {sorted(_GATHER_MODES)}, got {mode!r}")
    return _ix.gather(operand, indices, axes=tuple(int(a) for a in axes),
                      mode=_GATHER_MODES[key], fill_value=fill_value)


def _scatter(prim_fn):
    def f(operand, indices, updates, axes):
        axes = tuple(int(a) for a in axes)
        if is_scalar(updates):
            op = aval_of(operand)
            window = tuple(n for d, n in enumerate(op.shape) if d not in
                           {a % builtins.max(op.ndim, 1) for a in axes})
            shape = aval_of(indices).shape[:-1] + window
            updates = _sh.broadcast_in_dim(convert(updates, op.dtype), shape=shape,
                                           broadcast_dimensions=())
        return prim_fn(operand, indices, updates, axes=axes)
    f.__name__ = f.__qualname__ = prim_fn.__name__
    f.__doc__ = (f"`{prim_fn.__name__}(operand, indices, updates, axes)`: combine `updates` "
                 "(shape B + the operand's dims not in axes) into the rows of `operand` that "
                 "`indices` picks; out-of-range rows are dropped.")
    return f


scatter = _scatter(_ix.scatter)
scatter_add = _scatter(_ix.scatter_add)
scatter_mul = _scatter(_ix.scatter_mul)
scatter_min = _scatter(_ix.scatter_min)
scatter_max = _scatter(_ix.scatter_max)
from .lax_gather import *  # noqa: F401,F403,E402  (XLA dimension numbers; routes the old forms)


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort along `dimension`: one array, or a tuple/list of same-shape arrays sorted together
    lexicographically by the first `num_keys` of them (the same structure comes back)."""
    single = not isinstance(operand, (tuple, list))
    operands = (operand,) if single else tuple(operand)
    ref = aval_of(operands[0])
    dim = canonical_axis("sort", dimension, ref.ndim, ref.shape) if ref.ndim else dimension
    out = _sorting.sort(*operands, dimension=dim, is_stable=bool(is_stable),
                        num_keys=int(num_keys))
    if single:
        return out[0]
    return list(out) if isinstance(operand, list) else tuple(out)


def stop_gradient(x):
    """`x` (any pytree of arrays) with a derivative of zero."""
    from .custom_derivatives import stop_gradient as _sg
    return _sg(x)


# --- Fourier transforms --------------------------------------------------------------------

class FftType(enum.IntEnum):
    """Which transform `fft` computes (JAX's `lax.FftType`)."""
    FFT = 0     # complex -> complex
    IFFT = 1    # complex -> complex, inverse (normalized by 1/prod(fft_lengths))
    RFFT = 2    # real -> complex, last axis n // 2 + 1
    IRFFT = 3   # complex (half spectrum) -> real, inverse (normalized)


def fft(x, fft_type, fft_lengths):
    """JAX's `lax.fft`: the transform `fft_type` (an `FftType`, a name such as "rfft", or an
    enum with such a `.name`, like `jax.lax.FftType`) over the trailing `len(fft_lengths)` axes.
    Real input to FFT/IFFT becomes complex and integer input to RFFT becomes float, as in JAX."""
    from ops import fft as _fft
    name = getattr(fft_type, "name", fft_type)
    if not isinstance(name, str) or name.upper() not in _fft.FFT_TYPES:
        raise ValueError(f"fft: unknown FFT type {fft_type!r}; expected one of "
                         f"{_fft.FFT_TYPES}")
    name = name.upper()
    d = aval_of(x).dtype
    # JAX's conversions go by width: bool and integers up to 32 bits -> float32 / complex64,
    # 64-bit integers -> float64 / complex128.
    real = d if _kind(d) == "f" else dtypes.float64 if d.itemsize == 8 else dtypes.float32
    if name == "RFFT":
        if d.kind == "c":
            raise ValueError(f"fft: RFFT takes real input, got {aval_of(x).str_short()}")
        target = real
    else:
        target = d if d.kind == "c" else dtypes.COMPLEX_OF[real]
    x = convert(x, target)
    lengths = tuple(int(n) for n in fft_lengths)
    if not lengths:
        return x    # XLA has no 0-d transform; JAX returns the (converted) input
    return _fft.fft(x, fft_type=name, fft_lengths=lengths)


def optimization_barrier(operand):
    """The operand (a pytree), as values the compiler does not identify with it: computations
    on the result are never merged with the same computations on the operand (JAX's
    `lax.optimization_barrier`; `checkpoint` uses it)."""
    from ops.custom_derivatives import optimization_barrier as barrier
    from .tree_util import tree_map
    return tree_map(barrier, operand)
from .scipy.special_incomplete import *  # noqa: E402,F401,F403  (igamma, igammac, betainc...)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
