"""`lax.psum`, `pmean`, `pmax`, `pmin`, `all_gather`, `psum_scatter`, `axis_index` and
`axis_size`: collectives over an axis named by `vmap(f, axis_name=...)` (JAX's signatures).

The primitives and their vmap rules live in `ops/collectives.py`; here each takes a pytree of
arrays, as JAX's do, and resolves the axis size the shape rules need.
"""
from __future__ import annotations

from ops import collectives as _c
from ops.core import bind

from . import tree_util
from .numpy._promotion import asarray

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "psum_scatter", "axis_index",
           "axis_size"]


def _names(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _no_groups(op, axis_index_groups):
    if axis_index_groups is not None:
        raise NotImplementedError(f"{op}: axis_index_groups is not supported")


def _each(fn, x):
    return tree_util.tree_map(lambda leaf: fn(asarray(leaf)), x)


def axis_size(axis_name):
    """The size of the mapped axis `axis_name` (a tuple of names: the product of sizes)."""
    n = 1
    for name in _names(axis_name):
        n *= _c.axis_size(name)
    return n


def psum(x, axis_name, *, axis_index_groups=None):
    """The sum of `x` (a pytree) over the members of the named axis (or axes)."""
    _no_groups("psum", axis_index_groups)
    names = _names(axis_name)
    return _each(lambda v: bind(_c.psum_p, v, axis_name=names), x)


def pmean(x, axis_name, *, axis_index_groups=None):
    """The mean of `x` over the members of the named axis (or axes)."""
    n = axis_size(axis_name)
    return tree_util.tree_map(lambda s: s / n, psum(x, axis_name,
                                                    axis_index_groups=axis_index_groups))


def pmax(x, axis_name, *, axis_index_groups=None):
    _no_groups("pmax", axis_index_groups)
    names = _names(axis_name)
    return _each(lambda v: bind(_c.pmax_p, v, axis_name=names), x)


def pmin(x, axis_name, *, axis_index_groups=None):
    _no_groups("pmin", axis_index_groups)
    names = _names(axis_name)
    return _each(lambda v: bind(_c.pmin_p, v, axis_name=names), x)


def _one_name(op, axis_name):
    names = _names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"{op}: one axis name is supported, got {axis_name!r}")
    return names[0]


def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False):
    """Every member's `x` stacked along a new axis `axis` (or concatenated along `axis`
    when `tiled`)."""
    _no_groups("all_gather", axis_index_groups)
    name = _one_name("all_gather", axis_name)
    n = _c.axis_size(name, "all_gather")

    def one(v):
        nd = v.aval.ndim if hasattr(v, "aval") else v.ndim
        ax = int(axis)
        ax = ax + (nd if tiled else nd + 1) if ax < 0 else ax
        return bind(_c.all_gather_p, v, axis_name=name, axis=ax, tiled=bool(tiled),
                    axis_size=n)
    return _each(one, x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """`psum(x)` split along `scatter_dimension`, member i keeping block i."""
    _no_groups("psum_scatter", axis_index_groups)
    name = _one_name("psum_scatter", axis_name)
    n = _c.axis_size(name, "psum_scatter")

    def one(v):
        nd = v.aval.ndim if hasattr(v, "aval") else v.ndim
        return bind(_c.psum_scatter_p, v, axis_name=name,
                    scatter_dimension=int(scatter_dimension) + (
                        nd if int(scatter_dimension) < 0 else 0),
                    tiled=bool(tiled), axis_size=n)
    return _each(one, x)


def axis_index(axis_name):
    """This member's int32 position along the named axis."""
    return bind(_c.axis_index_p, axis_name=_one_name("axis_index", axis_name))
