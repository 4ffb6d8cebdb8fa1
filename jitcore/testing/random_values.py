"""Values of random programs being drawn, and how far two correct backends may differ on them.

Each value carries `err`, an elementwise bound on the difference between two correct
evaluations: none (exact) where every step on the way is exact (IEEE arithmetic, sqrt,
comparisons, conversions, integer ops, data movement must agree bit for bit), else grown at
each step by its own rounding allowance (`random_ops.Op.approx`: a reassociated sum, a
transcendental function a few units in the last place off) and by how the step carries its
operands' bounds. That is measured, not derived: the step runs again with one operand moved by
its bound (every element the same way, then with random signs, each in both directions), and
the largest change is that operand's share; shares add up (a difference of two rounded values
may be off by both roundings). A step whose integers, booleans, NaN positions or infinities
change under such a move (a comparison of two nearly equal sums, say) is unstable: two correct
backends could disagree on it, so the builder drops it.
"""
from __future__ import annotations

import numpy as np

from ops.core import ShapedArray
from ops.errors import JitcoreError
from xla_like.builder import build

from .. import numpy as jnp
from .random_ops import kind

# Relative rounding allowance per float dtype: a few hundred units in the last place.
TOL = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


class Value:
    """A value of a program being drawn: one array per example (batch element of a vmap
    program; one otherwise) and, for each, its error bound (None: every example exact)."""

    __slots__ = ("data", "err")

    def __init__(self, data, err):
        self.data = data
        self.err = err

    shape = property(lambda self: self.data[0].shape)
    dtype = property(lambda self: self.data[0].dtype)
    kind = property(lambda self: kind(self.data[0].dtype))
    ndim = property(lambda self: self.data[0].ndim)
    size = property(lambda self: self.data[0].size)


def evaluate(fn, args):
    """`fn` on NumPy arrays, eagerly: its results as a list of NumPy arrays."""
    with np.errstate(all="ignore"):
        out = fn(*[jnp.asarray(a) for a in args])
    return [np.asarray(o) for o in _results(out)]


def largest_value(fn, args) -> int:
    """The most elements of any value `fn(*args)` computes, inside loops and branches too,
    found by tracing it: a step that would fill memory is refused before it runs."""
    avals = [ShapedArray(a.shape, a.dtype) for a in args]
    with np.errstate(all="ignore"):
        todo = [build("probe", lambda *xs: list(_results(fn(*xs))), avals)[1]]
    largest = 0
    while todo:
        comp = todo.pop()
        for instr in comp.instructions:
            shapes = instr.shape if isinstance(instr.shape, tuple) else (instr.shape,)
            largest = max([largest] + [s.size for s in shapes])
            todo.extend(instr.called)
    return largest


def _results(out):
    return out if isinstance(out, tuple) else (out,)


def _tol(arrays):
    return max((TOL[a.dtype] for a in arrays if a.dtype.kind == "f"), default=0.0)


def _finite_abs(a):
    a = np.abs(a.astype(np.float64))
    return np.where(np.isfinite(a), a, 0.0)


def _on_floats(fn, args, f):
    """`fn` with `f` applied to its float arguments (finite elements; others become 0)."""
    return evaluate(fn, [np.where(np.isfinite(a), f(np.abs(a)), 0).astype(a.dtype)
                         if a.dtype.kind == "f" else a for a in args])


def _own_error(approx, fn, args, out):
    """The step's own rounding allowance for each result (None: exact), or False when the
    order of its terms could change which results overflow or underflow."""
    if approx is None:
        return [None] * len(out)
    tol = _tol(list(args) + list(out))
    if approx == "abs_in":
        mags = _on_floats(fn, args, lambda a: a)
        if any(np.isinf(m).any() for m in mags if m.dtype.kind == "f"):
            return False
        return [tol * _finite_abs(m) if o.dtype.kind == "f" else None
                for m, o in zip(mags, out)]
    if approx == "prod":
        big = _on_floats(fn, args, lambda a: np.maximum(a, 1))
        small = _on_floats(fn, args, lambda a: np.where(a == 0, 1, np.minimum(a, 1)))
        for b, s in zip(big, small):
            if b.dtype.kind == "f" and (np.isinf(b).any() or
                                        (s < np.finfo(s.dtype).smallest_normal).any()):
                return False
        factors = max(a.size for a in args) / max(min(o.size for o in out), 1)
        return [tol * max(1.0, factors / 100) * _finite_abs(o) if o.dtype.kind == "f"
                else None for o in out]
    floor = 1.0 if approx == "unit" else 0.0
    return [tol * np.maximum(_finite_abs(o), floor) if o.dtype.kind == "f" else None
            for o in out]


def _same_pattern(a, b) -> bool:
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    return (np.array_equal(np.isnan(a), np.isnan(b))
            and np.array_equal(np.isfinite(a), np.isfinite(b))
            and np.array_equal(a[np.isinf(a)], b[np.isinf(b)]))


def _move(a, delta):
    return (a.astype(np.float64) + delta).astype(a.dtype)


def step_error(rng, fn, args, arg_errs, sources, out, approx):
    """Each result's error bound (None: exact), or False when the step is unstable.

    `sources[k]` names the value behind argument k: arguments from one value move together
    (x * x moves both factors). approx "rel_in" (a loop or branch body that rounds somewhere
    inside) counts that rounding as a relative move of every float operand."""
    with np.errstate(all="ignore"):
        own = _own_error("rel" if approx == "rel_in" else approx, fn, args, out)
        if own is False:
            return False
        bounds = list(arg_errs)
        if approx == "rel_in":
            bounds = [None if a.dtype.kind != "f" else
                      _tol([a] + list(out)) * _finite_abs(a) + (0 if e is None else e)
                      for a, e in zip(args, bounds)]
        total = [None if o is None else o.copy() for o in own]
        for src in dict.fromkeys(s for s, b in zip(sources, bounds) if b is not None):
            share = _share(rng, fn, args, bounds, [s == src for s in sources], out)
            if share is False:
                return False
            total = [t if s is None else s if t is None else t + s for t, s in zip(total, share)]
        return [None if t is None or not t.any() or o.dtype.kind != "f" else t
                for t, o in zip(total, out)]


def _share(rng, fn, args, bounds, moving, out):
    """The largest change of each result when the arguments flagged `moving` move by their
    bounds; False if a result's pattern changes."""
    share = [None] * len(out)
    shape = next(a.shape for a, m in zip(args, moving) if m)
    for signs in (np.ones(shape), rng.choice([-1.0, 1.0], shape)):
        for direction in (1.0, -1.0):
            moved = [_move(a, direction * signs * b) if m else a
                     for a, b, m in zip(args, bounds, moving)]
            try:
                results = evaluate(fn, moved)
            except JitcoreError:
                return False
            for k, (o, p) in enumerate(zip(out, results)):
                if not _same_pattern(o, p):
                    return False
                if o.dtype.kind == "f":
                    diff = np.abs(o.astype(np.float64) - p.astype(np.float64))
                    diff = np.where(np.isfinite(diff), diff, 0.0)
                    share[k] = diff if share[k] is None else np.maximum(share[k], diff)
    return share
