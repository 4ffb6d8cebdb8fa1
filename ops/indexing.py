"""Indexing primitives: `gather` and the scatter family (`scatter`, `scatter_add`, `scatter_mul`,
`scatter_min`, `scatter_max`).

All share one index layout, a simplified form of XLA's: `indices` is an integer array of shape
`B + (len(axes),)`; row `indices[b]` picks position `indices[b, k]` on operand axis `axes[k]`,
and the window it addresses spans every other operand axis in full. So a gather returns
`B + [operand dims not in axes]` and a scatter takes updates of that shape.

Indices are taken as given: negative ones are out of range here (the `jitcore.numpy` layer
wraps them first). Out-of-range rows are clamped (`gather`, mode "clip"), filled (`gather`,
mode "fill") or dropped (every scatter, as JAX does for updates). Mode "promise_in_bounds" is
XLA's own gather semantics and `jnp` indexing's default, as in JAX: reads clamp like "clip",
but the gradient (a scatter) drops out-of-range rows instead of adding them to the clamped
position.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .autodiff import add_any, full_like, is_float, move_batch_to_front, shift_axes, zeros_like_aval
from .core import Primitive, ShapedArray, bind, get_aval
from .elementwise import (add, and_, clamp, convert_element_type, div, eq, iota, mul, ne,
                          select)
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, check_kinds
from .shape import broadcast_in_dim, concatenate, reshape, transpose

GATHER_MODES = ("clip", "fill", "promise_in_bounds")


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
    if dtypes.kind(dtype) in "fc":
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


# --- helpers of the transform rules (they bind primitives: values may be tracers) ------------


def _axes(axes, operand_aval):
    return canonical_axes("gather", axes, operand_aval.ndim, operand_aval.shape)


def _clamp_indices(indices, sizes):
    """Each index column k clamped into [0, sizes[k] - 1], as a "clip" gather reads it."""
    ia = get_aval(indices)
    if not sizes:
        return indices
    dt = ia.dtype
    top = np.iinfo(dt).max
    hi = np.array([min(max(n - 1, 0), top) for n in sizes], dt)
    hi = broadcast_in_dim(hi, shape=ia.shape, broadcast_dimensions=(ia.ndim - 1,))
    return clamp(np.array(0, dt), indices, hi)


def _with_batch_column(indices, size):
    """Indices (size,) + B + (k,) with a leading column holding each row's batch position."""
    ia = get_aval(indices)
    if size - 1 > np.iinfo(ia.dtype).max:
        indices = convert_element_type(indices, new_dtype=dtypes.int64)
        ia = get_aval(indices)
    col = iota(dtype=ia.dtype, shape=ia.shape[:-1] + (1,), dimension=0)
    return concatenate(col, indices, dimension=ia.ndim - 1)


def _row_ids(indices, updates_aval):
    """1-based ids of the index rows (0 means "no row"), broadcast over each row's window."""
    batch = get_aval(indices).shape[:-1]
    rows = int(np.prod(batch, dtype=np.int64))
    dt = np.dtype(np.uint32 if rows < 2 ** 32 - 1 else np.uint64)
    ids = iota(dtype=dt, shape=(rows,), dimension=0)
    ids = reshape(add(ids, full_like(ids, 1)), new_sizes=batch)
    return broadcast_in_dim(ids, shape=updates_aval.shape,
                            broadcast_dimensions=tuple(range(len(batch))))


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
    if mode != "fill" and int(np.prod(out_shape, dtype=np.int64)) > 0:
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
    if k == 0:
        # No indexed axes: every row addresses the whole operand.
        return np.broadcast_to(operand, out_shape).copy()
    moved = np.moveaxis(operand, axes, tuple(range(k)))
    if mode != "fill":
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
gather_p.complex_parts = "parts"
gather_p.moves_data = True     # each output element is one operand element (or the fill)
gather_p.lowering = "kernel"


def _gather_jvp(primals, tangents, *, axes, mode="clip", fill_value=None):
    operand, indices = primals
    ans = gather(operand, indices, axes=axes, mode=mode, fill_value=fill_value)
    if tangents[0] is None or not is_float(ans):
        return ans, None
    # A filled row is a constant: its tangent is 0, whatever the fill value.
    fill = 0 if mode == "fill" else fill_value
    return ans, gather(tangents[0], indices, axes=axes, mode=mode, fill_value=fill)


def _gather_vjp(ct, ans, primals, *, axes, mode="clip", fill_value=None):
    operand, indices = primals
    if ct is None or not is_float(operand):
        return (None, None)
    oa = get_aval(operand)
    if mode == "clip":
        # Scatters drop out-of-range rows, so clamp them first to where the gather read.
        indices = _clamp_indices(indices, [oa.shape[a] for a in _axes(axes, oa)])
    return (scatter_add(zeros_like_aval(oa), indices, ct, axes=axes), None)


def _gather_batch(args, batched, size, *, axes, mode="clip", fill_value=None):
    (operand, indices), (ob, ib) = args, batched
    params = dict(mode=mode, fill_value=fill_value)
    if not ob and not ib:
        return gather(operand, indices, axes=axes, **params), False
    axes = canonical_axes("gather", axes, get_aval(operand).ndim - int(ob))
    if not ib:
        # The batch axis is one more window axis: it lands after the index batch dims.
        out = gather(operand, indices, axes=shift_axes(axes), **params)
        n = get_aval(indices).ndim - 1
        if n:
            nd = get_aval(out).ndim
            out = transpose(out, permutation=(n,) + tuple(range(n)) + tuple(range(n + 1, nd)))
        return out, True
    if not ob:
        return gather(operand, indices, axes=axes, **params), True
    indices = _with_batch_column(indices, size)
    return gather(operand, indices, axes=(0,) + shift_axes(axes), **params), True


gather_p.jvp = _gather_jvp
gather_p.vjp = _gather_vjp
gather_p.batch = _gather_batch

# --- scatters ------------------------------------------------------------------------------


def _defscatter(name, combine, kinds):
    p = Primitive(name, "indexing")
    # Rows may collide: a serial native loop, combining as the ufunc names.
    p.lowering = "scatter"
    p.scatter_combine = None if combine is None else _COMBINE_NAMES[combine.__name__]

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


_COMBINE_NAMES = {"add": "add", "multiply": "mul", "minimum": "min", "maximum": "max"}
scatter_p = _defscatter("scatter", None, "fiubc")
scatter_add_p = _defscatter("scatter_add", np.add, "fiubc")
scatter_p.complex_parts = scatter_add_p.complex_parts = "parts"
scatter_mul_p = _defscatter("scatter_mul", np.multiply, "fiub")
scatter_min_p = _defscatter("scatter_min", np.minimum, "fiub")
scatter_max_p = _defscatter("scatter_max", np.maximum, "fiub")


# --- scatter rules -------------------------------------------------------------------------
# Out-of-range rows are dropped by every scatter: the gathers that bring cotangents back use
# mode "fill" with 0, so those rows' updates get no cotangent.


def _gather_rows(x, indices, axes):
    return gather(x, indices, axes=axes, mode="fill", fill_value=0)


def _zeros(x):
    return zeros_like_aval(get_aval(x))


def _scatter_batch(prim):
    def batch(args, batched, size, *, axes):
        (operand, indices, updates), (ob, ib, ub) = args, batched
        if not any(batched):
            return bind(prim, operand, indices, updates, axes=axes), False
        axes = canonical_axes(prim.name, axes, get_aval(operand).ndim - int(ob))
        operand = move_batch_to_front(operand, ob, size)
        if ib:
            indices = _with_batch_column(indices, size)
            updates = move_batch_to_front(updates, ub, size)
            return bind(prim, operand, indices, updates, axes=(0,) + shift_axes(axes)), True
        # Shared indices: the batch axis is one more window axis, right after the index batch.
        n = get_aval(indices).ndim - 1
        ua = get_aval(updates)
        if ub:
            if n:
                updates = transpose(updates, permutation=tuple(range(1, n + 1)) + (0,)
                                    + tuple(range(n + 1, ua.ndim)))
        else:
            updates = broadcast_in_dim(
                updates, shape=ua.shape[:n] + (size,) + ua.shape[n:],
                broadcast_dimensions=tuple(range(n)) + tuple(range(n + 1, ua.ndim + 1)))
        return bind(prim, operand, indices, updates, axes=shift_axes(axes)), True
    prim.batch = batch
    return batch


for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _scatter_batch(_p)


# scatter_add: linear in the operand and the updates jointly.

def _scatter_add_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    ans = scatter_add(operand, indices, updates, axes=axes)
    to, _, tu = tangents
    if (to is None and tu is None) or not is_float(ans):
        return ans, None
    to = to if to is not None else _zeros(operand)
    if tu is None:
        return ans, to
    return ans, scatter_add(to, indices, tu, axes=axes)


def _scatter_add_vjp(ct, ans, primals, *, axes):
    operand, indices, updates = primals
    if ct is None or not is_float(operand):
        return (None, None, None)
    return (ct, None, _gather_rows(ct, indices, axes))


scatter_add_p.jvp = _scatter_add_jvp
scatter_add_p.vjp = _scatter_add_vjp


# scatter (set): an operand position keeps its tangent unless a row writes it, and of rows
# writing one position only the last (the one whose value lands) passes its tangent on. As in
# JAX, the winners are found by scattering row ids and gathering them back, so the rules agree
# with the primal on duplicates without relying on a backend's write order.

def _scatter_winners(operand, indices, updates, axes):
    """(written: bool of the operand's shape, won: bool of the updates' shape)."""
    ids = _row_ids(indices, get_aval(updates))
    oa = get_aval(operand)
    landed = scatter(zeros_like_aval(oa.update(dtype=get_aval(ids).dtype, weak_type=False)),
                     indices, ids, axes=axes)
    back = _gather_rows(landed, indices, axes)
    return ne(landed, full_like(landed, 0)), eq(back, ids)


def _scatter_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    ans = scatter(operand, indices, updates, axes=axes)
    to, _, tu = tangents
    if (to is None and tu is None) or not is_float(ans):
        return ans, None
    written, won = _scatter_winners(operand, indices, updates, axes)
    kept = _zeros(operand) if to is None else select(written, _zeros(to), to)
    if tu is None:
        return ans, kept
    return ans, scatter_add(kept, indices, select(won, tu, _zeros(tu)), axes=axes)


def _scatter_vjp(ct, ans, primals, *, axes):
    operand, indices, updates = primals
    if ct is None or not is_float(operand):
        return (None, None, None)
    written, won = _scatter_winners(operand, indices, updates, axes)
    ct_u = _gather_rows(ct, indices, axes)
    return (select(written, _zeros(ct), ct), None, select(won, ct_u, _zeros(ct_u)))


scatter_p.jvp = _scatter_jvp
scatter_p.vjp = _scatter_vjp


# scatter_mul: out[p] = operand[p] * prod(updates landing on p). An update's derivative is
# operand[p] times the product of the *other* updates landing on p, computed without dividing
# by zero: with P the product of the nonzero ones and Z the count of zeros, it is P / u when
# Z == 0, P for the only zero when Z == 1, and 0 otherwise.

def _products_of_others(operand, indices, updates, axes):
    """For each update row, the product of the OTHER update rows landing on the same position.

    Written with a pairwise mask and a product reduction (no division, no select on the
    values), so it is exact with zero updates and its own derivatives are right too, which a
    "total / own value" formula is not. It costs (rows^2 x window) memory: scatter_mul's
    derivative is rarely taken over many rows.
    """
    from .reduction import reduce_and, reduce_prod
    ia, ua = get_aval(indices), get_aval(updates)
    batch = ia.shape[:-1]
    k, n_ax = int(np.prod(batch, dtype=np.int64)), ia.shape[-1]
    window = ua.shape[len(batch):]
    idx = reshape(indices, new_sizes=(k, n_ax))
    u = reshape(updates, new_sizes=(k,) + window)
    pair = (k, k, n_ax)
    same = reduce_and(eq(broadcast_in_dim(idx, shape=pair, broadcast_dimensions=(0, 2)),
                         broadcast_in_dim(idx, shape=pair, broadcast_dimensions=(1, 2))),
                      axes=(2,))
    other = ne(iota(dtype=dtypes.int64, shape=(k, k), dimension=0),
               iota(dtype=dtypes.int64, shape=(k, k), dimension=1))
    full = (k, k) + window
    wdims = tuple(range(2, 2 + len(window)))
    mask = broadcast_in_dim(and_(same, other), shape=full, broadcast_dimensions=(0, 1))
    u_j = broadcast_in_dim(u, shape=full, broadcast_dimensions=(1,) + wdims)
    others = reduce_prod(select(mask, u_j, full_like(u_j, 1)), axes=(1,))
    return reshape(others, new_sizes=ua.shape)


def _scatter_mul_jvp(primals, tangents, *, axes):
    operand, indices, updates = primals
    ans = scatter_mul(operand, indices, updates, axes=axes)
    to, _, tu = tangents
    if (to is None and tu is None) or not is_float(ans):
        return ans, None
    out = None if to is None else scatter_mul(to, indices, updates, axes=axes)
    if tu is not None:
        others = _products_of_others(operand, indices, updates, axes)
        summed = scatter_add(_zeros(operand), indices, mul(others, tu), axes=axes)
        out = add_any(out, mul(operand, summed))
    return ans, out


def _scatter_mul_vjp(ct, ans, primals, *, axes):
    operand, indices, updates = primals
    if ct is None or not is_float(operand):
        return (None, None, None)
    others = _products_of_others(operand, indices, updates, axes)
    ct_u = mul(others, _gather_rows(mul(ct, operand), indices, axes))
    return (scatter_mul(ct, indices, updates, axes=axes), None, ct_u)


scatter_mul_p.jvp = _scatter_mul_jvp
scatter_mul_p.vjp = _scatter_mul_vjp


# scatter_min / scatter_max: the result at p comes from every contributor equal to it (the
# operand's value and each landing update); ties split the derivative equally, as JAX does.

def _extremal_ties(operand, indices, updates, ans, axes):
    """(operand_hit, update_hit, count): which contributors equal the result, and how many
    there are at each position (at least 1, so positions with none divide safely)."""
    # Out-of-range rows gather NaN, which equals no update.
    landed = gather(ans, indices, axes=axes, mode="fill", fill_value=None)
    update_hit = eq(updates, landed)
    operand_hit = eq(operand, ans)
    one, zero = full_like(operand, 1), _zeros(operand)
    count = scatter_add(select(operand_hit, one, zero), indices,
                        select(update_hit, full_like(updates, 1), _zeros(updates)), axes=axes)
    return operand_hit, update_hit, select(eq(count, zero), one, count)


def _defextremal_rules(prim):
    def jvp(primals, tangents, *, axes):
        operand, indices, updates = primals
        ans = bind(prim, operand, indices, updates, axes=axes)
        to, _, tu = tangents
        if (to is None and tu is None) or not is_float(ans):
            return ans, None
        op_hit, up_hit, count = _extremal_ties(operand, indices, updates, ans, axes)
        kept = _zeros(operand) if to is None else select(op_hit, to, _zeros(to))
        if tu is not None:
            kept = scatter_add(kept, indices, select(up_hit, tu, _zeros(tu)), axes=axes)
        return ans, div(kept, count)

    def vjp(ct, ans, primals, *, axes):
        operand, indices, updates = primals
        if ct is None or not is_float(operand):
            return (None, None, None)
        op_hit, up_hit, count = _extremal_ties(operand, indices, updates, ans, axes)
        share = div(ct, count)
        ct_u = _gather_rows(share, indices, axes)
        return (select(op_hit, share, _zeros(share)), None, select(up_hit, ct_u, _zeros(ct_u)))

    prim.jvp, prim.vjp = jvp, vjp


_defextremal_rules(scatter_min_p)
_defextremal_rules(scatter_max_p)

gather = as_function(gather_p, "Bind `gather(operand, indices, *, axes, mode, fill_value)`.")
scatter = as_function(scatter_p, "Bind `scatter(operand, indices, updates, *, axes)`: set; "
                                 "the last of duplicate rows wins.")
scatter_add = as_function(scatter_add_p)
scatter_mul = as_function(scatter_mul_p)
scatter_min = as_function(scatter_min_p)
scatter_max = as_function(scatter_max_p)
