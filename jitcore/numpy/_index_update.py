"""`x.at[idx]`: JAX's functional updates, each returning a new array.

`x.at[idx].set(v)`, `.add`, `.multiply` (`.mul`), `.divide`, `.power`, `.min`, `.max`,
`.apply(fn)` and `.get()`. Values are converted to x's dtype and broadcast to the shape of
`x[idx]`. Out-of-range indices are dropped (JAX's default; mode='clip' clamps them instead);
duplicate indices accumulate for add/multiply/min/max, and the last one wins for set.

The general method: index an iota of the positions along each axis with `idx`, using gather
mode "fill" with -1 so an out-of-range position becomes an out-of-range row, and scatter the
values into those positions. A static index of ints and unit-step slices is a window,
updated with `dynamic_update_slice` instead.
"""
from __future__ import annotations

import numpy as np

from ops import elementwise as el
from ops import indexing as ix
from ops import shape as sh
from ops.errors import ShapeError

from ..array import Array
from ._promotion import asarray, aval_of, broadcast_shapes, broadcast_to, convert

_SCATTER = {"set": ix.scatter, "add": ix.scatter_add, "mul": ix.scatter_mul,
            "min": ix.scatter_min, "max": ix.scatter_max}
_COMBINE = {"add": el.add, "mul": el.mul, "min": el.min, "max": el.max}


def _update_mode(mode):
    from ._indexing import _gather_mode
    return "clip" if _gather_mode(mode) == "clip" else "fill"


def _fit(op, values, shape):
    """`values` broadcast to `shape`, after dropping extra leading size-1 dims (as NumPy)."""
    v = aval_of(values)
    vshape = v.shape
    while len(vshape) > len(shape) and vshape[0] == 1:
        vshape = vshape[1:]
    if len(vshape) > len(shape) or broadcast_shapes(op, vshape, shape) != tuple(shape):
        raise ShapeError(f"{op}: cannot broadcast values {v.str_short()} to the indexed shape "
                         f"{tuple(shape)}",
                         hint="the values must broadcast to the shape of x[idx]")
    if vshape != v.shape:
        values = sh.reshape(values, new_sizes=vshape)
    return broadcast_to(values, tuple(shape))


def _window(aval, entries):
    """(starts, sizes, indexed shape) when `entries` select a unit-stride window, else None."""
    from ._indexing import _slice_window
    starts, sizes, shape, d = [], [], [], 0
    for kind, v in entries:
        if kind == "none":
            shape.append(1)
            continue
        if kind == "slice":
            a, _, stride, rev, count = _slice_window(v, aval.shape[d])
            if stride != 1 or rev:
                return None
            starts.append(a)
            sizes.append(count)
            shape.append(count)
        elif kind == "int":
            starts.append(v)
            sizes.append(1)
        else:
            return None
        d += 1
    return starts, sizes, tuple(shape)


def _positions(aval, entries, mode):
    """The positions `x[idx]` selects, as an int64 array of shape `x[idx].shape + (ndim,)`;
    rows of out-of-range positions are -1 in mode 'fill'.

    Column d indexes a 1-d iota broadcast along axis d, so no `x.shape`-sized grid is made
    (eagerly, a broadcast is a view and the gather reads only the selected positions)."""
    from ._indexing import _index, _stack_last
    i64 = np.dtype(np.int64)
    if aval.ndim == 0:
        shape = aval_of(_index(Array._wrap(np.zeros((), i64)), entries, mode, -1)).shape
        return sh.broadcast_in_dim(Array._wrap(np.zeros((), i64)), shape=shape + (0,),
                                   broadcast_dimensions=())
    cols = []
    for d, n in enumerate(aval.shape):
        line = el.iota(dtype=i64, shape=(n,), dimension=0)
        grid = sh.broadcast_in_dim(line, shape=aval.shape, broadcast_dimensions=(d,))
        cols.append(_index(grid, entries, mode, -1))
    return _stack_last(cols, aval_of(cols[0]).shape)


def _leading_rows(aval, entries):
    """(indices, m) when `idx` is integer arrays (or ints) on the first m axes, at least one
    an array, then whole slices (`x[i]`, `x[i, j]`, `x[i, :]`): the scatter then updates whole
    rows of x, indices of shape `broadcast(i, j) + (m,)`, rather than one position per
    element. Negative indices wrap; out-of-range ones stay out of range (dropped)."""
    from ._indexing import _slice_window, _stack_last, _wrapped_index
    if not all(type(n) is int for n in aval.shape):   # symbolic (bucketed) sizes
        return None
    m = 0
    while m < len(entries) and entries[m][0] in ("adv", "int"):
        m += 1
    if not any(k == "adv" for k, _ in entries[:m]):
        return None
    for d, (kind, v) in enumerate(entries[m:], m):
        if kind != "slice" or _slice_window(v, aval.shape[d])[1:] != (aval.shape[d], 1, False,
                                                                       aval.shape[d]):
            return None
    arrays = [_wrapped_index(v if k == "adv" else np.array(v, np.int64), aval.shape[d])
              for d, (k, v) in enumerate(entries[:m])]
    bshape = broadcast_shapes("at[...]", *[aval_of(a).shape for a in arrays])
    return _stack_last([broadcast_to(a, bshape) for a in arrays], bshape), m


def scatter_update(x, idx, values, kind, mode=None, op=None):
    """`x` with `values` combined into `x[idx]` (`kind` in set/add/mul/min/max)."""
    from ._indexing import _parse
    op = op or f"at[...].{kind}"
    x = asarray(x)
    av = aval_of(x)
    mode = _update_mode(mode)
    entries = _parse(av, idx, mode, op=op)
    values = convert(values, av.dtype, av.weak_type)
    win = _window(av, entries)
    if win is not None:
        starts, sizes, shape = win
        v = sh.reshape(_fit(op, values, shape), new_sizes=tuple(sizes))
        whole = tuple(sizes) == av.shape
        if kind != "set":
            cur = x if whole else sh.slice(x, start_indices=tuple(starts),
                                           limit_indices=tuple(a + n for a, n in
                                                               zip(starts, sizes)))
            v = _COMBINE[kind](cur, v)
        if whole:
            return v
        zero_based = [Array._wrap(np.array(a, np.int64)) for a in starts]
        return sh.dynamic_update_slice(x, v, *zero_based)
    rows = _leading_rows(av, entries) if mode == "fill" else None
    if rows is not None:
        indices, m = rows
        shape = aval_of(indices).shape[:-1] + av.shape[m:]
        return _SCATTER[kind](x, indices, _fit(op, values, shape), axes=tuple(range(m)))
    indices = _positions(av, entries, mode)
    shape = aval_of(indices).shape[:-1]
    return _SCATTER[kind](x, indices, _fit(op, values, shape), axes=tuple(range(av.ndim)))


class _IndexUpdateRef:
    """`x.at[idx]`: methods return a new array; the original is unchanged."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None):
        """`x[idx]`; with mode='fill', out-of-range positions give `fill_value` (default NaN
        for floats, the most negative int, the largest uint, True)."""
        from ._indexing import getitem
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return scatter_update(self.array, self.index, values, "set", mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return scatter_update(self.array, self.index, values, "add", mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return scatter_update(self.array, self.index, values, "mul", mode, "at[...].multiply")

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """`x / d` where d is 1 except at idx (JAX's definition: integer x gives floats)."""
        from ._ufuncs import true_divide
        return true_divide(self.array, self._ones_times(values, mode, "divide"))

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """`x ** p` where p is 1 except at idx."""
        from ._ufuncs import power
        return power(self.array, self._ones_times(values, mode, "power"))

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return scatter_update(self.array, self.index, values, "min", mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return scatter_update(self.array, self.index, values, "max", mode)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """`func` (elementwise) applied to the elements at idx, once each."""
        x = asarray(self.array)
        av = aval_of(x)
        blank = sh.broadcast_in_dim(Array._wrap(np.array(False)), shape=av.shape,
                                    broadcast_dimensions=())
        hit = scatter_update(blank, self.index, True, "set", mode, "at[...].apply")
        applied = convert(asarray(func(x)), av.dtype, av.weak_type)
        applied = _fit("at[...].apply", applied, av.shape)
        return el.select(hit, applied, x)

    def _ones_times(self, values, mode, name):
        x = asarray(self.array)
        av = aval_of(x)
        ones = sh.broadcast_in_dim(Array._wrap(np.array(1, av.dtype), av.weak_type),
                                   shape=av.shape, broadcast_dimensions=())
        return scatter_update(ones, self.index, values, "mul", mode, f"at[...].{name}")


class IndexUpdateHelper:
    """The object behind `x.at`: `x.at[idx]` gives the updates at `idx`."""

    __slots__ = ("array",)

    def __init__(self, x):
        self.array = x

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"
