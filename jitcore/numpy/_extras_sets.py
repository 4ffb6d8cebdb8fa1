"""Counting and set functions of `jitcore.numpy`: isin, bincount, digitize, histograms and the
sorted-set operations (setdiff1d, union1d, intersect1d).

Result sizes that depend on values need concrete inputs; under `jit` pass `length=` (bincount)
or `size=`/`fill_value=` (set operations), exactly as JAX requires.
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.errors import ConcretizationTypeError

from ._promotion import asarray, aval_of, promote_to_inexact

__all__ = ["isin", "bincount", "digitize", "histogram", "histogram_bin_edges", "histogram2d",
           "setdiff1d", "union1d", "intersect1d"]


def _jnp():
    from .. import numpy as jnp  # this module is imported while jitcore.numpy initialises
    return jnp


def _need_concrete(op, x, hint):
    if isinstance(x, core.Tracer):
        raise ConcretizationTypeError(
            f"{op}: the result size depends on the values of a traced argument", hint=hint)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """Whether each element of `element` occurs in `test_elements` (same shape as `element`)."""
    jnp = _jnp()
    e = asarray(element)
    t = jnp.ravel(asarray(test_elements))
    hit = jnp.any(e[..., None] == t, axis=-1) if aval_of(t).shape[0] else \
        jnp.zeros(aval_of(e).shape, bool)
    return ~hit if invert else hit


def bincount(x, weights=None, minlength=0, *, length=None):
    """Count (or sum `weights`) per non-negative integer value; negative values count as 0,
    as in JAX. Under jit the output length must be static (`length=`)."""
    jnp = _jnp()
    x = asarray(x)
    dt = aval_of(x).dtype
    if not (np.issubdtype(dt, np.integer) or dt == np.bool_):
        raise TypeError(f"bincount: x must be an integer array, got {dt}")
    if aval_of(x).ndim != 1:
        raise ValueError(f"bincount: x must be one-dimensional, got shape {aval_of(x).shape}")
    if length is None:
        _need_concrete("bincount", x, "pass length= (a static int) under jit")
        xs = np.asarray(x)
        length = max(int(minlength), int(xs.max()) + 1 if xs.size else 0)
    else:
        length = int(length)
    if weights is None:
        w = jnp.ones(aval_of(x).shape, dtype=np.int64)
    else:
        w = asarray(weights)
        if aval_of(w).shape != aval_of(x).shape:
            raise ValueError(f"bincount: weights shape {aval_of(w).shape} must match x shape "
                             f"{aval_of(x).shape}")
    out = jnp.zeros((length,), aval_of(w).dtype)
    return out.at[jnp.clip(x, 0)].add(w, mode="drop")


def digitize(x, bins, right=False, *, method=None):
    """Index of the bin each `x` falls in (bins increasing or decreasing); int32 like JAX."""
    jnp = _jnp()
    x, bins = asarray(x), asarray(bins)
    if aval_of(bins).ndim != 1:
        raise ValueError(f"digitize: bins must be one-dimensional, got shape {aval_of(bins).shape}")
    n = aval_of(bins).shape[0]
    if n == 0:
        return jnp.zeros(aval_of(x).shape, dtype=np.int32)
    side = "left" if right else "right"
    up = jnp.searchsorted(bins, x, side=side)
    down = n - jnp.searchsorted(bins[::-1], x, side=side)
    return jnp.where(bins[-1] >= bins[0], up, down).astype(np.int32)


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """Edges of `bins` equal bins over `range` (the data's min/max by default)."""
    jnp = _jnp()
    (a,) = promote_to_inexact("histogram_bin_edges", a)
    dt = aval_of(a).dtype
    if isinstance(bins, core.Tracer) or np.ndim(bins):
        edges = asarray(bins)
        if aval_of(edges).ndim != 1:
            raise ValueError(f"histogram: bins must be an int or a 1-D array of edges, got "
                             f"shape {aval_of(edges).shape}")
        return edges.astype(dt)
    if range is None:
        lo, hi = jnp.min(a), jnp.max(a)
    else:
        lo, hi = asarray(range[0], dt), asarray(range[1], dt)
    lo, hi = lo.astype(dt), hi.astype(dt)
    # An empty range widens by 0.5 on each side, as NumPy does.
    same = lo == hi
    lo, hi = jnp.where(same, lo - 0.5, lo), jnp.where(same, hi + 0.5, hi)
    return jnp.linspace(lo, hi, int(bins) + 1, dtype=dt)


def _bin_index(jnp, a, edges):
    n = aval_of(edges).shape[0]
    idx = jnp.searchsorted(edges, a, side="right")
    # The last edge is inclusive.
    return jnp.where(a == edges[-1], n - 1, idx)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """(counts, edges) of `a` (flattened); counts are float like JAX's."""
    jnp = _jnp()
    a = jnp.ravel(asarray(a))
    if weights is None:
        (a,) = promote_to_inexact("histogram", a)
        w = jnp.ones(aval_of(a).shape, aval_of(a).dtype)
    else:
        w = jnp.ravel(asarray(weights))
        if aval_of(w).shape != aval_of(a).shape:
            raise ValueError(f"histogram: weights shape {aval_of(asarray(weights)).shape} must "
                             f"match a shape {aval_of(a).shape}")
        a, w = promote_to_inexact("histogram", a, w)
    edges = histogram_bin_edges(a, bins, range, w)
    n = aval_of(edges).shape[0]
    idx = _bin_index(jnp, a, edges)
    counts = jnp.zeros((n + 1,), aval_of(w).dtype).at[idx].add(w)[1:-1]
    if density:
        db = jnp.diff(edges).astype(aval_of(counts).dtype)
        counts = counts / db / jnp.sum(counts)
    return counts, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """(counts, xedges, yedges) of the points (x[i], y[i])."""
    jnp = _jnp()
    x, y = jnp.ravel(asarray(x)), jnp.ravel(asarray(y))
    if aval_of(x).shape != aval_of(y).shape:
        raise ValueError(f"histogram2d: x and y must have the same shape, got "
                         f"{aval_of(x).shape} and {aval_of(y).shape}")
    if weights is None:
        # Unweighted 2-D counts are integers in JAX (1-D histogram counts are floats).
        x, y = promote_to_inexact("histogram2d", x, y)
        w = jnp.ones(aval_of(x).shape, np.int64)
    else:
        x, y, w = promote_to_inexact("histogram2d", x, y, jnp.ravel(asarray(weights)))
    if isinstance(bins, (int, np.integer)) or (np.ndim(bins) == 1 and len(bins) != 2) \
            or (np.ndim(bins) == 1 and isinstance(bins, core.Tracer)):
        bx = by = bins
    else:
        bx, by = bins
    rx, ry = (None, None) if range is None else range
    ex = histogram_bin_edges(x, bx, rx)
    ey = histogram_bin_edges(y, by, ry)
    nx, ny = aval_of(ex).shape[0], aval_of(ey).shape[0]
    ix, iy = _bin_index(jnp, x, ex), _bin_index(jnp, y, ey)
    flat = ix * (ny + 1) + iy
    counts = jnp.zeros(((nx + 1) * (ny + 1),), aval_of(w).dtype).at[flat].add(w)
    counts = counts.reshape(nx + 1, ny + 1)[1:-1, 1:-1]
    if density:
        area = jnp.diff(ex)[:, None] * jnp.diff(ey)[None, :]
        counts = counts / area / jnp.sum(counts)
    return counts, ex, ey


def _compact(jnp, values, keep, size, fill_value, default_fill):
    """`values[keep]`, or under a static `size` the first `size` kept values padded with
    `fill_value` (default: `default_fill(values, keep)`)."""
    if size is None:
        _need_concrete("set operation", keep, "pass size= (a static int) under jit")
        return values[np.asarray(keep)]
    (pos,) = jnp.nonzero(keep, size=size, fill_value=0)
    n_kept = jnp.sum(keep)
    out = values[pos]
    fill = default_fill() if fill_value is None else asarray(fill_value).astype(out.dtype)
    return jnp.where(jnp.arange(size) < n_kept, out, fill)


def _first_of_runs(jnp, s):
    n = aval_of(s).shape[0]
    if n == 0:
        return jnp.zeros((0,), bool)
    return jnp.concatenate([jnp.ones((1,), bool), s[1:] != s[:-1]])


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """Sorted unique values of `ar1` not in `ar2`; padded with `fill_value` (0) under `size=`."""
    jnp = _jnp()
    a = jnp.sort(jnp.ravel(asarray(ar1)))
    b = jnp.ravel(asarray(ar2))
    keep = _first_of_runs(jnp, a) & isin(a, b, invert=True)
    return _compact(jnp, a, keep, size, fill_value,
                    lambda: jnp.zeros((), a.dtype))


def union1d(ar1, ar2, *, size=None, fill_value=None):
    """Sorted unique values of both; under `size=` padded with `fill_value` (the minimum)."""
    jnp = _jnp()
    a = jnp.concatenate([jnp.ravel(asarray(ar1)), jnp.ravel(asarray(ar2))])
    return jnp.unique(a, size=size, fill_value=fill_value)


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):
    """Sorted unique values present in both; padded with `fill_value` (the smallest common
    value) under `size=`. With `return_indices`, also the first indices in each input."""
    jnp = _jnp()
    a1, a2 = jnp.ravel(asarray(ar1)), jnp.ravel(asarray(ar2))
    o1, o2 = jnp.argsort(a1), jnp.argsort(a2)
    s1, s2 = a1[o1], a2[o2]
    u1 = _first_of_runs(jnp, s1)
    u2 = _first_of_runs(jnp, s2)
    # Unique values of each, then a merged sort: a value in both appears exactly twice in a row.
    n1 = aval_of(s1).shape[0]
    vals = jnp.concatenate([s1, s2])
    tag = jnp.concatenate([jnp.where(u1, 0, 2), jnp.where(u2, 1, 2)])
    order = jnp.lexsort((tag, vals))
    v, t = vals[order], tag[order]
    src = order
    if aval_of(v).shape[0] < 2:
        keep = jnp.zeros((aval_of(v).shape[0],), bool)
        nxt_src = src
    else:
        keep = jnp.concatenate([(v[1:] == v[:-1]) & (t[:-1] == 0) & (t[1:] == 1),
                                jnp.zeros((1,), bool)])
        nxt_src = jnp.concatenate([src[1:], src[-1:]])
    vals_out = _compact(jnp, v, keep, size, fill_value,
                        lambda: v[jnp.argmax(keep)])
    if not return_indices:
        return vals_out
    i1 = o1[src]
    i2 = o2[jnp.clip(nxt_src - n1, 0, max(aval_of(o2).shape[0] - 1, 0))]
    if size is None:
        m = np.asarray(keep)
        return vals_out, i1[m], i2[m]
    (pos,) = jnp.nonzero(keep, size=size, fill_value=0)
    # Padding indices are the input lengths, as in JAX.
    valid = jnp.arange(size) < jnp.sum(keep)
    return (vals_out, jnp.where(valid, i1[pos], n1),
            jnp.where(valid, i2[pos], aval_of(a2).shape[0]))
