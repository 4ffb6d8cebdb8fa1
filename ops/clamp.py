"""`clamp(min, x, max)`: the operand held between two bounds, each a scalar or of its shape.

One of the elementwise primitives (`ops.elementwise` imports these names into its own
namespace, where rules and `jitcore.lax` find them).
"""
from __future__ import annotations

import numpy as np

from .autodiff import add_any, is_float, move_batch_to_front, zeros_like_aval
from .core import Primitive, get_aval
from .errors import DtypeError, ShapeError
from .rules import as_function, check_kinds, defelementwise
from .elementwise import NUM, _broadcast, _sum_all, and_, gt, lt, select

clamp_p = Primitive("clamp", "elementwise")


def _clamp_rule(lo, x, hi):
    check_kinds("clamp", x, NUM)
    for name, b in (("min", lo), ("max", hi)):
        if b.dtype != x.dtype:
            raise DtypeError(f"clamp: {name} {b.str_short()} must have the operand's dtype "
                             f"{x.str_short()}")
        if b.shape not in ((), x.shape):
            raise ShapeError(f"clamp: {name} {b.str_short()} must be a scalar or have the "
                             f"operand's shape {x.str_short()}")
    return x


clamp_p.abstract_eval = _clamp_rule
clamp_p.impl = lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi).astype(x.dtype)
defelementwise(clamp_p, cheap=True)


def _to_shape_of(b, x):
    # A scalar bound broadcast to the operand's shape (bounds may be scalars, tangents too).
    shape = get_aval(x).shape
    return b if get_aval(b).shape == shape else _broadcast(b, shape, ())


def _clamp_masks(lo, x, hi):
    """Where each of (min, operand, max) receives the derivative, as JAX decides it: the
    operand strictly inside (min, max), min where it is above the operand (and below max), max
    where it is below the operand. Ties give no derivative to anyone."""
    lo, hi = _to_shape_of(lo, x), _to_shape_of(hi, x)
    return (and_(gt(lo, x), lt(lo, hi)), and_(gt(x, lo), lt(x, hi)), lt(hi, x))


def _clamp_jvp(primals, tangents):
    ans = clamp(*primals)
    if not is_float(ans) or all(t is None for t in tangents):
        return ans, None
    x = primals[1]
    zero = zeros_like_aval(get_aval(x))
    out = None
    for mask, t in zip(_clamp_masks(*primals), tangents):
        if t is not None:
            out = add_any(out, select(mask, _to_shape_of(t, x), zero))
    return ans, out


def _clamp_vjp(cts, ans, primals):
    if cts is None or not is_float(primals[1]):
        return (None, None, None)
    x = primals[1]
    zero = zeros_like_aval(get_aval(x))
    out = []
    for mask, p in zip(_clamp_masks(*primals), primals):
        ct = select(mask, cts, zero)
        # A scalar bound got the derivative of every element it clamped: sum them.
        if get_aval(p).shape != get_aval(x).shape:
            ct = _sum_all(ct)
        out.append(ct)
    return tuple(out)


def _clamp_batch(args, batched, size):
    if not any(batched):
        return clamp(*args), False
    lo, x, hi = args
    x = move_batch_to_front(x, batched[1], size)
    full = get_aval(x).shape

    def bound(b, is_batched):
        shape = get_aval(b).shape
        if not is_batched:
            # An unbatched scalar bound stays a scalar: clamp accepts one for any operand.
            return b if not shape else move_batch_to_front(b, False, size)
        # A batched bound: (size,) from a scalar one, else already the operand's shape.
        return b if shape == full else _broadcast(b, full, (0,))

    return clamp(bound(lo, batched[0]), x, bound(hi, batched[2])), True


clamp_p.jvp = _clamp_jvp
clamp_p.vjp = _clamp_vjp
clamp_p.batch = _clamp_batch

clamp = as_function(clamp_p)
