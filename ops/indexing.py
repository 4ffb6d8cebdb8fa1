"""Indexing primitives: `gather` and the scatter family (`scatter`, `scatter_add`, `scatter_mul`,
`scatter_min`, `scatter_max`).

All share one index layout, a simplified form of XLA's: `indices` is an integer array of shape
`B + (len(axes),)`; row `indices[b]` picks position `indices[b, k]` on operand axis `axes[k]`,
and the window it addresses spans every other operand axis in full. So a gather returns
`B + [operand dims not in axes]` and a scatter takes updates of that shape.

Indices are taken as given: negative ones are out of range here (the `jitcore.numpy` layer
wraps them first). Out-of-range rows are clamped (`gather`, mode "clip"), filled (`gather`,
mode "fill") or dropped (every scatter, as JAX does for updates).
"""
from __future__ import annotations

import numpy as np

from .core import Primitive, ShapedArray
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, check_kinds

GATHER_MODES = ("clip", "fill")


def _check_layout(op: str, operand: ShapedArray, indices: ShapedArray, axes) -> tuple:
    """Canonical `axes`, after checking that `indices` fits them; returns the window dims."""
    if indices.dtype.kind not in "iu":
        raise DtypeError(f"{op}: indices must have an integer dtype, got {indices.str_short()}",
                         hint="convert them with .astype(int)")
    axes = canonical_axes(op, tuple(axes), operand.ndim, operand.shape)
    if indices.ndim < 1 or indices.shape[-1] != len(axes):
        raise ShapeError(f"{op}: indices {indices.str_short()} must have a last dimension of "
                         f"size {len(axes)} (one entry per indexed axis {axes}) for operand "
                         f"{operand.str_short()}")
    return axes


def _window_shape(operand: ShapedArray, axes) -> tuple:
    return tuple(n for d, n in enumerate(operand.shape) if d not in axes)


def default_fill_value(dtype):
    """JAX's fill for out-of-range gathers: NaN, the most negative int, the largest uint, True."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min if dtype.kind == "i" else info.max)
    return True


def _column(indices: np.ndarray, k: int, n: int) -> np.ndarray:
    """Column k as int64; a uint64 index beyond int64's range is first capped at n (still out
    of range) instead of wrapping around to a negative, possibly valid, one."""
    col = indices[..., k]
    if col.dtype == np.uint64:
        col = np.minimum(col, np.uint64(n))
    return col.astype(np.int64)


def _in_range(indices: np.ndarray, sizes) -> tuple:
    """(int64 indices with out-of-range rows replaced by 0, bool mask of the valid rows)."""
    cols = [_column(indices, k, n) for k, n in enumerate(sizes)]
    valid = np.ones(indices.shape[:-1], dtype=bool)
    for col, n in zip(cols, sizes):
        valid &= (col >= 0) & (col < n)
    safe = np.stack(cols, axis=-1) if cols else np.zeros(indices.shape, np.int64)
    return np.where(valid[..., None], safe, 0), valid


def _clipped(indices: np.ndarray, sizes) -> np.ndarray:
    cols = [np.clip(_column(indices, k, n), 0, n - 1) for k, n in enumerate(sizes)]
    return np.stack(cols, axis=-1) if cols else np.zeros(indices.shape, np.int64)


# --- gather --------------------------------------------------------------------------------

gather_p = Primitive("gather", "indexing")


def _gather_rule(operand, indices, *, axes, mode="clip", fill_value=None):
    axes = _check_layout("gather", operand, indices, axes)
    if mode not in GATHER_MODES:
        raise ValueError(f"gather: mode must be one of {GATHER_MODES}, got {mode!r}")
    if fill_value is not None and type(fill_value) not in (bool, int, float):
        raise TypeError(f"gather: fill_value must be a Python scalar or None, got "
                        f"{fill_value!r:.60}")
    out_shape = indices.shape[:-1] + _window_shape(operand, axes)
    if mode == "clip" and int(np.prod(out_shape, dtype=np.int64)) > 0:
        for a in axes:
            if operand.shape[a] == 0:
                raise ShapeError(f"gather: cannot clamp indices into axis {a} of size 0 of "
                                 f"{operand.str_short()}",
                                 hint="use mode='fill' or index a non-empty axis")
    return ShapedArray(out_shape, operand.dtype, operand.weak_type)


def _gather_impl(operand, indices, *, axes, mode="clip", fill_value=None):
    k = len(axes)
    sizes = [operand.shape[a] for a in axes]
    out_shape = indices.shape[:-1] + tuple(n for d, n in enumerate(operand.shape)
                                          if d not in axes)
    with np.errstate(all="ignore"):
        fill = np.asarray(default_fill_value(operand.dtype) if fill_value is None
                          else fill_value).astype(operand.dtype)
    moved = np.moveaxis(operand, axes, tuple(range(k)))
    if mode == "clip":
        if int(np.prod(out_shape, dtype=np.int64)) == 0:
            return np.zeros(out_shape, operand.dtype)
        idx = _clipped(indices, sizes)
        return moved[tuple(idx[..., j] for j in range(k))]
    idx, valid = _in_range(indices, sizes)
    if any(n == 0 for n in sizes):
        return np.full(out_shape, fill, dtype=operand.dtype)
    out = np.array(moved[tuple(idx[..., j] for j in range(k))])
    out[~valid] = fill
    return out


gather_p.abstract_eval = _gather_rule
gather_p.impl = _gather_impl

# --- scatters ------------------------------------------------------------------------------


def _defscatter(name, combine, kinds):
    p = Primitive(name, "indexing")

    def rule(operand, indices, updates, *, axes):
        axes = _check_layout(name, operand, indices, axes)
        check_kinds(name, operand, kinds)
        if updates.dtype != operand.dtype:
            raise DtypeError(f"{name}: updates {updates.str_short()} must have the operand's "
                             f"dtype ({operand.str_short()})",
                             hint="convert the updates with .astype(operand.dtype)")
        expect = indices.shape[:-1] + _window_shape(operand, axes)
        if updates.shape != expect:
            raise ShapeError(f"{name}: updates {updates.str_short()} must have shape {expect} "
                             f"(index batch {indices.shape[:-1]} + the operand "
                             f"{operand.str_short()}'s dims not in axes {axes})")
        return operand

    def impl(operand, indices, updates, *, axes):
        k = len(axes)
        out = operand.copy()
        moved = np.moveaxis(out, axes, tuple(range(k)))  # a view: writes land in `out`
        idx, valid = _in_range(indices, [operand.shape[a] for a in axes])
        rows = idx[valid]
        where = tuple(rows[:, j] for j in range(k))
        vals = updates[valid]
        if k == 0:
            # Every row addresses the whole operand.
            for v in vals:
                out = v.copy() if combine is None else combine(out, v)
            return out
        if combine is None:
            # NumPy's fancy assignment writes rows in order, so the last duplicate wins.
            moved[where] = vals
        else:
            with np.errstate(all="ignore"):
                combine.at(moved, where, vals)
        return out

    p.abstract_eval = rule
    p.impl = impl
    return p


scatter_p = _defscatter("scatter", None, "fiub")
scatter_add_p = _defscatter("scatter_add", np.add, "fiub")
scatter_mul_p = _defscatter("scatter_mul", np.multiply, "fiub")
scatter_min_p = _defscatter("scatter_min", np.minimum, "fiub")
scatter_max_p = _defscatter("scatter_max", np.maximum, "fiub")

gather = as_function(gather_p, "Bind `gather(operand, indices, *, axes, mode, fill_value)`.")
scatter = as_function(scatter_p, "Bind `scatter(operand, indices, updates, *, axes)`: set; "
                                 "the last of duplicate rows wins.")
scatter_add = as_function(scatter_add_p)
scatter_mul = as_function(scatter_mul_p)
scatter_min = as_function(scatter_min_p)
scatter_max = as_function(scatter_max_p)
