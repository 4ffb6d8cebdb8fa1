"""Collectives over a named mapped axis: `psum`, `pmax`, `pmin`, `all_gather`, `psum_scatter`
and `axis_index`, with JAX's `vmap(f, axis_name=...)` semantics.

`vmap` binds a name to its batch axis for as long as it traces and batches `f`
(`axis_frame`); a collective names the axis it combines over. Only the batching rule gives
one a meaning: when the axis being batched (the innermost frame) is the one it names, the
rule turns it into ordinary array ops over the batch axis (a sum, a max, a transpose...);
otherwise it passes the instruction through to the enclosing `vmap`, its axis parameters
shifted past the inner batch axis. A collective that no `vmap` handled is an error: the shape
rule refuses a name no frame binds ("unbound axis name", as JAX).

`impl` is the value when the operand is the same on every member of the axis (a constant,
or a value that does not depend on the mapped inputs): what constant folding and concrete
tracing see. It still refuses an unbound name, so a compiled program never runs one.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from . import dtypes
from .autodiff import deflinear, defnondiff, move_batch_to_front
from .core import Primitive, ShapedArray, bind
from .errors import JitcoreError

# --- the named axes in scope -----------------------------------------------------------------


class UnboundAxisNameError(JitcoreError, NameError):
    """A collective names an axis that no enclosing `vmap(..., axis_name=)` binds."""


class _Frames(threading.local):
    def __init__(self):
        self.stack = []  # (name or None, size), innermost last


_frames = _Frames()


@contextlib.contextmanager
def axis_frame(name, size: int):
    """Bind `name` (None for an unnamed `vmap`) to an axis of `size` for the block; the
    innermost frame is the axis the batching interpreter is mapping."""
    _frames.stack.append((name, int(size)))
    try:
        yield
    finally:
        _frames.stack.pop()


def axis_size(name, op: str = "axis_size") -> int:
    """The size of the innermost axis called `name`."""
    for n, size in reversed(_frames.stack):
        if n is not None and n == name:
            return size
    bound = [n for n, _ in _frames.stack if n is not None]
    raise UnboundAxisNameError(f"unbound axis name: {name} ({op}; names in scope: {bound})",
                               hint="call it inside vmap(f, axis_name=...) binding that name")


def _mapping_now():
    """The name of the axis being batched now (None when no vmap or an unnamed one)."""
    return _frames.stack[-1][0] if _frames.stack else None


def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _total_size(axis_name, op):
    n = 1
    for name in _names(axis_name):
        n *= axis_size(name, op)
    return n


def _collective(name, rule, impl):
    p = Primitive(name, "collectives")
    p.abstract_eval = rule
    p.impl = impl
    # Never compiled: vmap rewrites every collective into other ops before a backend sees it.
    p.lowering = "host"
    # The batching interpreter must call the rule even when no operand is batched (a psum of
    # an unbatched value multiplies by the axis size; axis_index has no operand at all).
    p.collective = True
    return p


# --- psum / pmax / pmin ----------------------------------------------------------------------

def _reduce_rule(op):
    def rule(x, *, axis_name):
        _total_size(axis_name, op)
        return x
    return rule


def _psum_impl(x, *, axis_name):
    n = _total_size(axis_name, "psum")
    return np.asarray(x * np.asarray(n, x.dtype), x.dtype)


def _same_impl(op):
    def impl(x, *, axis_name):
        _total_size(axis_name, op)
        return np.asarray(x)
    return impl


psum_p = _collective("psum", _reduce_rule("psum"), _psum_impl)
pmax_p = _collective("pmax", _reduce_rule("pmax"), _same_impl("pmax"))
pmin_p = _collective("pmin", _reduce_rule("pmin"), _same_impl("pmin"))


def _reduce_batch(prim, combine):
    def batch(args, batched, size, *, axis_name):
        (x,), (b,) = args, batched
        names = _names(axis_name)
        here = _mapping_now()
        if here is not None and here in names:
            x = combine(x, b, size)
            b = False
            names = tuple(n for n in names if n != here)
        if names:
            x = bind(prim, x, axis_name=names)
        return x, b
    prim.batch = batch


def _sum_over_batch(x, b, size):
    from .autodiff import full_like
    from .elementwise import mul
    from .reduction import reduce_sum
    return reduce_sum(x, axes=(0,)) if b else mul(x, full_like(x, size))


def _extreme_over_batch(reduce_name):
    def combine(x, b, size):
        from . import reduction
        return getattr(reduction, reduce_name)(x, axes=(0,)) if b else x
    return combine


_reduce_batch(psum_p, _sum_over_batch)
_reduce_batch(pmax_p, _extreme_over_batch("reduce_max"))
_reduce_batch(pmin_p, _extreme_over_batch("reduce_min"))
# psum is linear; under vmap semantics its transpose is psum again (as JAX's).
deflinear(psum_p, lambda ct, x, *, axis_name: (None if ct is None else
                                               bind(psum_p, ct, axis_name=axis_name),))


def _no_derivative(prim):
    # As JAX: pmax/pmin have no differentiation rule.
    def refuse():
        raise NotImplementedError(f"Differentiation rule for '{prim.name}' not implemented")

    def jvp(primals, tangents, **params):
        if any(t is not None for t in tangents):
            refuse()
        return bind(prim, *primals, **params), None

    def vjp(cts, ans, primals, **params):
        if cts is not None:
            refuse()
        return (None,) * len(primals)
    prim.jvp, prim.vjp = jvp, vjp
    return prim


_no_derivative(pmax_p)
_no_derivative(pmin_p)


# --- all_gather and psum_scatter -------------------------------------------------------------

def _check_axis(op, axis, ndim, shape):
    if not 0 <= axis < ndim:
        from .errors import AxisError
        raise AxisError(f"{op}: axis {axis} is out of range for an operand of shape {shape}")


def _all_gather_rule(x, *, axis_name, axis, tiled, axis_size):
    if axis_size != _total_size(axis_name, "all_gather"):
        raise ValueError(f"all_gather: axis_size {axis_size} is not the size of axis "
                         f"{axis_name!r}")
    shape = list(x.shape)
    if tiled:
        _check_axis("all_gather", axis, x.ndim, x.shape)
        shape[axis] *= axis_size
    else:
        _check_axis("all_gather", axis, x.ndim + 1, x.shape)
        shape.insert(axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _gathered(x, axis, tiled, n):
    """The members' copies of `x` stacked (or concatenated, if tiled) along `axis`; `x` has
    the members on its leading axis."""
    from .shape import reshape, transpose
    nd = len(np.shape(x)) if not hasattr(x, "aval") else x.aval.ndim
    perm = list(range(1, nd))
    perm.insert(axis, 0)
    y = transpose(x, permutation=tuple(perm)) if perm != list(range(nd)) else x
    if tiled:
        shape = list(_shape_of(y))
        shape[axis:axis + 2] = [shape[axis] * shape[axis + 1]]
        y = reshape(y, new_sizes=tuple(shape))
    return y


def _shape_of(x):
    return x.aval.shape if hasattr(x, "aval") else np.shape(x)


def _all_gather_impl(x, *, axis_name, axis, tiled, axis_size):
    _total_size(axis_name, "all_gather")
    x = np.asarray(x)
    stacked = np.broadcast_to(x, (axis_size,) + x.shape)
    out = np.moveaxis(stacked, 0, axis)
    if tiled:
        out = np.concatenate(list(stacked), axis=axis)
    return np.ascontiguousarray(out)


def _psum_scatter_rule(x, *, axis_name, scatter_dimension, tiled, axis_size):
    if axis_size != _total_size(axis_name, "psum_scatter"):
        raise ValueError(f"psum_scatter: axis_size {axis_size} is not the size of axis "
                         f"{axis_name!r}")
    _check_axis("psum_scatter", scatter_dimension, x.ndim, x.shape)
    shape = list(x.shape)
    d = shape[scatter_dimension]
    if (tiled and d % axis_size) or (not tiled and d != axis_size):
        raise ValueError(
            f"psum_scatter: dimension {scatter_dimension} of the operand {x.str_short()} must "
            f"{'be a multiple of' if tiled else 'equal'} the axis size {axis_size}")
    if tiled:
        shape[scatter_dimension] = d // axis_size
    else:
        del shape[scatter_dimension]
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _psum_scatter_impl(x, *, axis_name, scatter_dimension, tiled, axis_size):
    raise UnboundAxisNameError(
        f"psum_scatter over {axis_name!r}: each member keeps a different block, so it has no "
        "value outside the vmap that maps the axis")


def _scattered(s, sd, tiled, n):
    """Member i's block of the summed `s` along `sd`, stacked on a leading axis."""
    from .shape import reshape, transpose
    shape = list(_shape_of(s))
    if tiled:
        shape[sd:sd + 1] = [n, shape[sd] // n]
        s = reshape(s, new_sizes=tuple(shape))
    nd = len(shape)
    perm = [sd] + [d for d in range(nd) if d != sd]
    return transpose(s, permutation=tuple(perm)) if sd != 0 else s


all_gather_p = _collective("all_gather", _all_gather_rule, _all_gather_impl)
psum_scatter_p = _collective("psum_scatter", _psum_scatter_rule, _psum_scatter_impl)


def _all_gather_batch(args, batched, size, *, axis_name, axis, tiled, axis_size):
    (x,), (b,) = args, batched
    if _mapping_now() == axis_name:
        return _gathered(move_batch_to_front(x, b, size), axis, tiled, size), False
    return bind(all_gather_p, x, axis_name=axis_name, axis=axis + int(b), tiled=tiled,
                axis_size=axis_size), b


def _psum_scatter_batch(args, batched, size, *, axis_name, scatter_dimension, tiled,
                        axis_size):
    (x,), (b,) = args, batched
    if _mapping_now() == axis_name:
        return _scattered(_sum_over_batch(x, b, size), scatter_dimension, tiled, size), True
    return bind(psum_scatter_p, x, axis_name=axis_name,
                scatter_dimension=scatter_dimension + int(b), tiled=tiled,
                axis_size=axis_size), b


all_gather_p.batch = _all_gather_batch
psum_scatter_p.batch = _psum_scatter_batch
# all_gather and psum_scatter are linear and transpose to each other (as JAX's).
deflinear(all_gather_p, lambda ct, x, *, axis_name, axis, tiled, axis_size: (
    None if ct is None else bind(psum_scatter_p, ct, axis_name=axis_name,
                                 scatter_dimension=axis, tiled=tiled, axis_size=axis_size),))
deflinear(psum_scatter_p, lambda ct, x, *, axis_name, scatter_dimension, tiled, axis_size: (
    None if ct is None else bind(all_gather_p, ct, axis_name=axis_name,
                                 axis=scatter_dimension, tiled=tiled, axis_size=axis_size),))


# --- axis_index ------------------------------------------------------------------------------

def _axis_index_rule(*, axis_name):
    axis_size(axis_name, "axis_index")
    return ShapedArray((), dtypes.int32)


def _axis_index_impl(*, axis_name):
    axis_size(axis_name, "axis_index")
    raise UnboundAxisNameError(f"axis_index({axis_name!r}) differs on every member of the "
                               "axis, so it has no value outside the vmap that maps it")


def _axis_index_batch(args, batched, size, *, axis_name):
    if _mapping_now() == axis_name:
        from .elementwise import iota
        return iota(dtype=dtypes.int32, shape=(size,), dimension=0), True
    return bind(axis_index_p, axis_name=axis_name), False


axis_index_p = _collective("axis_index", _axis_index_rule, _axis_index_impl)
axis_index_p.batch = _axis_index_batch
defnondiff(axis_index_p)
