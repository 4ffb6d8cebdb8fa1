"""`donate_argnums`: which donated arrays a jitted call may write its outputs into.

An executable compiled for donation may reuse a donated leaf's memory, so it may only do so
when nothing but that argument refers to it; the cache key records which leaves qualified
(`CacheKey.donated`). After the call every donated Array is deleted, reused or not, as in JAX.
"""
from __future__ import annotations

import sys

import numpy as np

from xla_like.backends import runtime as backend_runtime

from . import tree_util
from .array import Array
from .devices import exclusive_on_device


def donatable(args, leaves, vals, static_argnums, donate_argnums):
    """The flat indices of donated leaves whose memory the executable may write: jitcore
    Arrays (a NumPy argument is the caller's, never written) whose array nothing else
    refers to (no other Array, no NumPy view, not passed twice). The caller must hold no
    other reference to any of `vals` (not even a loop variable): each one counts."""
    out = []
    k = 0
    for i, a in enumerate(args):
        if i in static_argnums:
            continue
        n = len(tree_util.tree_leaves(a))
        if i in donate_argnums:
            out.extend(j for j in range(k, k + n)
                       if type(leaves[j]) is Array and _exclusive(vals, j))
        k += n
    return frozenset(out)


def delete_donated(args, donate_argnums):
    for i in donate_argnums:
        if i < len(args):
            for leaf in tree_util.tree_leaves(args[i]):
                if isinstance(leaf, Array):
                    leaf.delete()


def _exclusive(vals, j):
    """Is `vals[j]` (an Array's array) referred to only by that Array and `vals`, and its
    memory by nothing else (a view's base only by the view and the output pool)?"""
    if type(vals[j]) is not np.ndarray:
        return exclusive_on_device(vals, j)
    refs, base_refs = _refcounts(vals, j)   # first: a local here would count too
    if refs != _REFS[0]:
        return False
    base = vals[j].base
    if base is None:
        return True
    if type(base) is not np.ndarray or not base.flags.owndata:
        return False
    pooled = backend_runtime.held_by_output_pool(base)
    return base_refs == _REFS[1] + pooled


def _refcounts(vals, j):
    v = vals[j]
    base = v.base
    return sys.getrefcount(v), None if base is None else sys.getrefcount(base)


def _calibrate():
    """`_refcounts` of an Array's array held by one list, and of a view's base held only by
    the view: what `_exclusive` expects (measured, as interpreters count borrowed references
    differently)."""
    owner = Array._wrap(np.empty(2))
    base = np.empty(2)
    viewer = Array._wrap(base[:1])
    del base
    return _refcounts([owner._value], 0)[0], _refcounts([viewer._value], 0)[1]


_REFS = _calibrate()
