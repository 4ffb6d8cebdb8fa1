"""Value and error cases for the shape, reduction, linalg, sorting and indexing primitives.

References are built element by element (index loops, Python-int arithmetic wrapped to the
dtype, float64 sums), not with the NumPy call each primitive's `impl` uses.
"""
from __future__ import annotations

import itertools
import math
import operator

import numpy as np

from ops.errors import AxisError, DtypeError, ShapeError
from tests.ops.primitive_cases_elementwise import (BOOL, F32, F64, RTOL, Bad, Case, pymap, wrap)

I32, I64, U8, I8 = (np.dtype(t) for t in ("int32", "int64", "uint8", "int8"))
RNG = np.random.default_rng(7)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.normal(size=shape).astype(dtype)


def _loop(out_shape, dtype, value_at):
    out = np.empty(out_shape, dtype)
    for idx in np.ndindex(*out_shape):
        out[idx] = value_at(idx)
    return out


# --- shape family --------------------------------------------------------------------------

def _pad_ref(x, pv, config):
    sizes = [lo + hi + n + max(n - 1, 0) * it for n, (lo, hi, it) in zip(x.shape, config)]
    out = np.full(sizes, pv, x.dtype)
    for idx in np.ndindex(*x.shape):
        pos = tuple(lo + i * (it + 1) for i, (lo, _, it) in zip(idx, config))
        if all(0 <= p < s for p, s in zip(pos, sizes)):
            out[pos] = x[idx]
    return out


def shape_cases():
    cases = []
    for dt in (F64, I32, BOOL):
        x3, x23 = _data((3,), dt), _data((2, 3), dt)
        cases += [
            Case("broadcast_in_dim", (x3,), {"shape": (2, 3), "broadcast_dimensions": (1,)},
                 lambda x: _loop((2, 3), x.dtype, lambda i: x[i[1]]), label=str(dt)),
            Case("broadcast_in_dim", (x23,), {"shape": (2, 4, 3), "broadcast_dimensions": (0, 2)},
                 lambda x: _loop((2, 4, 3), x.dtype, lambda i: x[i[0], i[2]]), label=str(dt)),
            Case("broadcast_in_dim", (x3.reshape(3, 1),),
                 {"shape": (3, 4), "broadcast_dimensions": (0, 1)},
                 lambda x: _loop((3, 4), x.dtype, lambda i: x[i[0], 0]), label=f"size1-{dt}"),
            Case("reshape", (_data((2, 3, 4), dt),), {"new_sizes": (4, 1, 6)},
                 lambda x: np.array(list(x.flat), x.dtype).reshape(4, 1, 6), label=str(dt)),
            Case("transpose", (_data((2, 3, 4), dt),), {"permutation": (2, 0, 1)},
                 lambda x: _loop((4, 2, 3), x.dtype, lambda i: x[i[1], i[2], i[0]]),
                 label=str(dt)),
            Case("squeeze", (_data((1, 3, 1, 2), dt),), {"dimensions": (0, -2)},
                 lambda x: _loop((3, 2), x.dtype, lambda i: x[0, i[0], 0, i[1]]), label=str(dt)),
            Case("rev", (_data((2, 3, 4), dt),), {"dimensions": (0, 2)},
                 lambda x: _loop(x.shape, x.dtype, lambda i: x[1 - i[0], i[1], 3 - i[2]]),
                 label=str(dt)),
            Case("slice", (_data((5, 6), dt),),
                 {"start_indices": (1, 0), "limit_indices": (5, 6), "strides": (2, 3)},
                 lambda x: _loop((2, 2), x.dtype, lambda i: x[1 + 2 * i[0], 3 * i[1]]),
                 label=str(dt)),
            Case("concatenate", (_data((2, 3), dt), _data((4, 3), dt, 1)), {"dimension": 0},
                 lambda a, b: np.array(a.tolist() + b.tolist(), a.dtype), label=str(dt)),
            Case("concatenate", (_data((2, 1), dt), _data((2, 0), dt), _data((2, 2), dt, 1)),
                 {"dimension": -1},
                 lambda *xs: np.array([sum((x[r].tolist() for x in xs), []) for r in range(2)],
                                      xs[0].dtype), label=f"with-empty-{dt}"),
        ]
        pv = np.array(True if dt == BOOL else 9, dt)
        for cfg in [((1, 2, 0), (0, 1, 1)), ((-1, 1, 0), (2, -2, 1)), ((0, 0, 2), (-1, -1, 0))]:
            cases.append(Case("pad", (x23, pv), {"padding_config": cfg},
                              lambda x, v, cfg=cfg: _pad_ref(x, v, cfg), label=f"{dt}{cfg}"))
    x = _data((5, 6), F32)
    for starts in [(1, 2), (4, 5), (-2, 10)]:
        st = tuple(np.int32(s) for s in starts)
        cl = [min(max(s, 0), n - k) for s, n, k in zip(starts, (5, 6), (2, 3))]
        cases.append(Case("dynamic_slice", (x,) + st, {"slice_sizes": (2, 3)},
                          lambda x, *_, cl=cl: _loop((2, 3), x.dtype,
                                                     lambda i: x[cl[0] + i[0], cl[1] + i[1]]),
                          label=f"start{starts}"))
        upd = _data((2, 3), F32, 3)

        def dus_ref(x, u, *_, cl=cl):
            out = x.copy()
            for i in np.ndindex(*u.shape):
                out[cl[0] + i[0], cl[1] + i[1]] = u[i]
            return out
        cases.append(Case("dynamic_update_slice", (x, upd) + st, {}, dus_ref,
                          label=f"start{starts}"))
    cases += [
        Case("reshape", (np.float64(2.5),), {"new_sizes": (1, 1)},
             lambda x: np.full((1, 1), float(x)), label="0-d"),
        Case("reshape", (np.zeros((0, 3), I64),), {"new_sizes": (3, 0)},
             lambda x: np.zeros((3, 0), I64), label="size-0"),
        Case("broadcast_in_dim", (np.float32(-0.0),), {"shape": (2, 2), "broadcast_dimensions": ()},
             lambda x: np.full((2, 2), x, F32), label="0-d"),
        Case("rev", (x,), {"dimensions": ()}, lambda x: x.copy(), label="no-dims"),
        Case("slice", (x,), {"start_indices": (2, 3), "limit_indices": (2, 6)},
             lambda x: np.zeros((0, 3), F32), label="empty"),
        Case("pad", (np.float64(1.0), np.float64(0.0)), {"padding_config": ()},
             lambda x, v: np.array(1.0), label="0-d"),
    ]
    return cases


# --- reductions and scans ------------------------------------------------------------------

def _reduce_ref(fn, axes, dtype=None):
    """Fold `fn` over the reduced axes of each output element, in Python scalars."""
    def ref(x):
        keep = [d for d in range(x.ndim) if d not in axes]
        out_dt = np.dtype(dtype or x.dtype)

        def at(idx):
            lane = []
            for full in np.ndindex(*[x.shape[d] for d in axes]):
                pos = [0] * x.ndim
                for d, i in zip(keep, idx):
                    pos[d] = i
                for d, i in zip(axes, full):
                    pos[d] = i
                lane.append(x[tuple(pos)].item())
            r = fn(lane)
            return wrap(int(r), out_dt) if out_dt.kind in "iu" else r
        return _loop(tuple(x.shape[d] for d in keep), out_dt, at)
    return ref


def _nanmax(lane):
    return math.nan if any(v != v for v in lane) else max(lane)


def _nanmin(lane):
    return math.nan if any(v != v for v in lane) else min(lane)


REDUCERS = {
    "reduce_sum": (math.fsum, sum, any),
    "reduce_prod": (math.prod, math.prod, all),
    "reduce_max": (_nanmax, max, any),
    "reduce_min": (_nanmin, min, all),
}


def _arg_ref(better, axis, index_dtype):
    def ref(x):
        moved = np.moveaxis(x, axis, -1)

        def at(idx):
            lane = moved[idx].tolist()
            for j, v in enumerate(lane):
                if v != v:
                    return j  # the first NaN wins
            best = 0
            for j, v in enumerate(lane):
                if better(v, lane[best]):
                    best = j
            return best
        return _loop(moved.shape[:-1], index_dtype, at)
    return ref


def _nan_or(fn):
    return lambda a, b: math.nan if a != a or b != b else fn(a, b)


SCANS = {"cumsum": operator.add, "cumprod": operator.mul,
         "cummax": _nan_or(max), "cummin": _nan_or(min)}


def _scan_ref(fn, axis, reverse):
    def ref(x):
        moved = np.moveaxis(x, axis, -1)
        out = np.empty(moved.shape, x.dtype)
        for idx in np.ndindex(*moved.shape[:-1]):
            lane = moved[idx].tolist()
            lane = lane[::-1] if reverse else lane
            acc = list(itertools.accumulate(lane, fn))
            if x.dtype.kind in "iu":
                acc = [wrap(int(v), x.dtype) for v in acc]
            out[idx] = acc[::-1] if reverse else acc
        return np.moveaxis(out, -1, axis)
    return ref


def reduction_cases():
    cases = []
    xf = _data((3, 4, 5), F64)
    xf[0, 1, 2], xf[2, 3, 0], xf[1, 0, 4] = np.nan, -np.inf, -0.0
    for name, (ffn, ifn, bfn) in REDUCERS.items():
        for axes in [(0,), (1, 2), (), (0, 1, 2)]:
            for dt in (F64, F32):
                x = (xf if name != "reduce_prod" else xf * 0.3 + 1).astype(dt)
                if name in ("reduce_sum", "reduce_prod"):
                    x = np.where(np.isnan(x), 1.0, x).astype(dt)
                cases.append(Case(name, (x,), {"axes": axes}, _reduce_ref(ffn, axes),
                                  RTOL[dt] * 10, 1e-6 if dt == F32 else 1e-14,
                                  label=f"{dt}{axes}", signed_zero=False))
            for dt in (I32, U8, I64):
                cases.append(Case(name, (_data((3, 4, 5), dt),), {"axes": axes},
                                  _reduce_ref(ifn, axes), label=f"{dt}{axes}"))
            cases.append(Case(name, (_data((3, 4, 5), BOOL),), {"axes": axes},
                              _reduce_ref(bfn, axes), label=f"bool{axes}"))
    for name, fn in (("reduce_and", all), ("reduce_or", any)):
        for axes in [(0,), (1,), (0, 1), ()]:
            cases.append(Case(name, (_data((4, 3), BOOL),), {"axes": axes},
                              _reduce_ref(fn, axes), label=f"{axes}"))
        cases.append(Case(name, (np.zeros((0, 3), bool),), {"axes": (0,)},
                          _reduce_ref(fn, (0,)), label="size-0"))
    for name, fn in (("reduce_sum", math.fsum), ("reduce_prod", math.prod)):
        cases.append(Case(name, (np.zeros((0, 3)),), {"axes": (0,)}, _reduce_ref(fn, (0,)),
                          label="size-0"))
    xa = np.array([[1.0, 3.0, 3.0, -0.0, 0.0], [np.nan, 5.0, np.nan, 1.0, 7.0],
                   [-np.inf, -np.inf, 2.0, np.inf, np.inf]])
    for name, better in (("argmax", operator.gt), ("argmin", operator.lt)):
        for axis, idt in [(0, I32), (1, I64), (-1, I32)]:
            for x in (xa, xa.astype(F32), _data((3, 5), I32), _data((3, 5), U8),
                      _data((3, 5), BOOL)):
                cases.append(Case(name, (x,), {"axis": axis, "index_dtype": idt},
                                  _arg_ref(better, axis, idt), label=f"{x.dtype}-ax{axis}"))
    xs = np.array([[1.0, -2.0, np.nan, 3.0], [0.5, 2.0, -1.0, 4.0], [1.5, -0.25, 2.0, -3.0]])
    for name, fn in SCANS.items():
        for axis, rev in [(0, False), (1, False), (1, True), (-2, True)]:
            for x in (xs, xs.astype(F32), _data((3, 4), I32), _data((3, 4), U8)):
                tol = RTOL.get(x.dtype, 0.0)
                cases.append(Case(name, (x,), {"axis": axis, "reverse": rev},
                                  _scan_ref(fn, axis % 2, rev), tol,
                                  label=f"{x.dtype}-ax{axis}-rev{rev}", signed_zero=False))
    return cases


# --- dot_general ---------------------------------------------------------------------------

DOTS = [  # lhs shape, rhs shape, dimension numbers, einsum spelling of the same contraction
    ((2, 3), (3, 4), (((1,), (0,)), ((), ())), "ij,jk->ik"),
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,))), "bij,bjk->bik"),
    ((3, 2), (3, 4), (((0,), (0,)), ((), ())), "ji,jk->ik"),
    ((2,), (3,), (((), ()), ((), ())), "i,j->ij"),
    ((3,), (3,), (((0,), (0,)), ((), ())), "i,i->"),
    ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ())), "ijk,jkl->il"),
    ((3, 2, 4), (4, 2, 5), (((2,), (0,)), ((1,), (1,))), "ibk,kbl->bil"),
    ((0, 3), (3, 2), (((1,), (0,)), ((), ())), "ij,jk->ik"),
    ((2, 0), (0, 2), (((1,), (0,)), ((), ())), "ij,jk->ik"),
]


def _einsum_ref(spec, out_dtype):
    def ref(a, b):
        r = np.einsum(spec, a.astype(object), b.astype(object))
        r = np.asarray(r, dtype=object)
        if np.dtype(out_dtype).kind == "f":
            return r.astype(F64).astype(out_dtype)
        if np.dtype(out_dtype).kind == "b":
            return (r != 0).astype(bool)
        return pymap(int, out_dtype, r)
    return ref


def dot_cases():
    cases = []
    for ls, rs, dn, spec in DOTS:
        for dt in (F64, F32, I32, U8, BOOL):
            a, b = _data(ls, dt, 1), _data(rs, dt, 2)
            if dt.kind == "b":
                a, b = a.astype(bool), b.astype(bool)
            cases.append(Case("dot_general", (a, b), {"dimension_numbers": dn},
                              _einsum_ref(spec, dt), RTOL.get(dt, 0) * 10,
                              1e-5 if dt == F32 else 1e-13, label=f"{dt}-{spec}"))
    a, b = _data((2, 3), I8, 3), _data((3, 4), I8, 4)
    dn = (((1,), (0,)), ((), ()))
    cases.append(Case("dot_general", (a, b), {"dimension_numbers": dn,
                                              "preferred_element_type": I32},
                      _einsum_ref("ij,jk->ik", I32), label="i8->i32"))
    a, b = _data((2, 3), F32, 3), _data((3, 4), F32, 4)
    cases.append(Case("dot_general", (a, b), {"dimension_numbers": dn,
                                              "preferred_element_type": F64},
                      _einsum_ref("ij,jk->ik", F64), 1e-13, label="f32->f64"))
    return cases


# --- sort ----------------------------------------------------------------------------------

def _sort_key(v):
    return (1, 0.0) if v != v else (0, v)  # NaNs last; -0.0 == 0.0 keeps input order


def _sort_ref(dimension, num_keys):
    def ref(*ops):
        moved = [np.moveaxis(o, dimension, -1) for o in ops]
        outs = [np.empty_like(m) for m in moved]
        for idx in np.ndindex(*moved[0].shape[:-1]):
            lanes = [m[idx].tolist() for m in moved]
            order = sorted(range(len(lanes[0])),
                           key=lambda j: tuple(_sort_key(l[j]) for l in lanes[:num_keys]))
            for out, lane in zip(outs, lanes):
                out[idx] = [lane[j] for j in order]
        return tuple(np.moveaxis(o, -1, dimension) for o in outs)
    return ref


def sort_cases():
    x = np.array([3.0, np.nan, -0.0, 0.0, 1.0, -np.inf, 3.0, np.inf, -0.0, np.nan, -2.5])
    it = np.arange(x.size, dtype=I64)
    x2 = np.array([[2.0, np.nan, 1.0, 2.0], [0.0, -1.0, np.inf, -0.0], [5.0, 5.0, -5.0, 0.5]])
    k1 = np.array([1, 0, 1, 0, 1, 0, 1, 0], I32)
    k2 = np.array([0.5, 0.5, -1.0, np.nan, 0.5, -0.0, 0.0, 0.0], F32)
    cases = [Case("sort", (x,), {"dimension": 0}, _sort_ref(0, 1), label="f64"),
             Case("sort", (x.astype(F32), it), {"dimension": 0}, _sort_ref(0, 1),
                  label="argsort-f32"),
             Case("sort", (k1, k2, np.arange(8, dtype=I32)), {"dimension": 0, "num_keys": 2},
                  _sort_ref(0, 2), label="lexsort"),
             # Unstable sorts may permute ties, so only a lone key is compared.
             Case("sort", (_data((9,), U8),), {"dimension": 0, "is_stable": False},
                  _sort_ref(0, 1), label="u8-unstable-flag"),
             Case("sort", (_data((7,), BOOL),), {"dimension": 0}, _sort_ref(0, 1), label="bool")]
    for dim in (0, 1):
        cases.append(Case("sort", (x2, np.arange(12, dtype=I32).reshape(3, 4)),
                          {"dimension": dim}, _sort_ref(dim, 1), label=f"2d-dim{dim}"))
    return cases


# --- gather and scatters -------------------------------------------------------------------

def _gather_ref(axes, mode, fill_value=None):
    def ref(op, idx):
        rest = [d for d in range(op.ndim) if d not in axes]
        out = np.empty(idx.shape[:-1] + tuple(op.shape[d] for d in rest), op.dtype)
        fill = fill_value if fill_value is not None else (
            math.nan if op.dtype.kind == "f" else
            (np.iinfo(op.dtype).min if op.dtype.kind == "i" else
             (np.iinfo(op.dtype).max if op.dtype.kind == "u" else True)))
        for b in np.ndindex(*idx.shape[:-1]):
            pos = [int(v) for v in idx[b]]
            if mode == "clip":
                pos = [min(max(p, 0), op.shape[a] - 1) for p, a in zip(pos, axes)]
            sel = [slice(None)] * op.ndim
            for a, p in zip(axes, pos):
                sel[a] = p
            if all(0 <= p < op.shape[a] for p, a in zip(pos, axes)):
                out[b] = op[tuple(sel)]
            else:
                out[b] = fill
        return out
    return ref


def _scatter_ref(axes, combine):
    def ref(op, idx, upd):
        out = op.copy()
        for b in np.ndindex(*idx.shape[:-1]):
            pos = [int(v) for v in idx[b]]
            if not all(0 <= p < op.shape[a] for p, a in zip(pos, axes)):
                continue  # out-of-range rows are dropped
            sel = [slice(None)] * op.ndim
            for a, p in zip(axes, pos):
                sel[a] = p
            sel = tuple(sel)
            out[sel] = upd[b] if combine is None else combine(out[sel], upd[b])
        return out
    return ref


SCATTERS = {"scatter": None, "scatter_add": np.add, "scatter_mul": np.multiply,
            "scatter_min": np.minimum, "scatter_max": np.maximum}


def indexing_cases():
    cases = []
    op = np.arange(20, dtype=F64).reshape(4, 5) - 7.5
    for dt in (F64, F32, I32, U8, BOOL):
        o = op.astype(dt) if dt.kind == "f" else (op + 7.5).astype(dt) if dt.kind != "b" else op > 0
        i1 = np.array([[2], [-1], [7], [0]], I32)
        i2 = np.array([[[0, 4], [3, 5]], [[1, 1], [-2, 0]]], I64)
        cases += [
            Case("gather", (o, i1), {"axes": (0,)}, _gather_ref((0,), "clip"), label=f"{dt}-rows"),
            Case("gather", (o, i1), {"axes": (1,), "mode": "fill"},
                 _gather_ref((1,), "fill"), label=f"{dt}-cols-fill"),
            Case("gather", (o, i2), {"axes": (0, 1), "mode": "clip"},
                 _gather_ref((0, 1), "clip"), label=f"{dt}-points"),
            Case("gather", (o, i2), {"axes": (1, 0), "mode": "fill"},
                 _gather_ref((1, 0), "fill"), label=f"{dt}-points-fill"),
        ]
        upd_rows = np.arange(20, dtype=F64).reshape(4, 5) % 3 + 1
        upd_rows = upd_rows.astype(dt) if dt.kind != "b" else upd_rows > 1.5
        idx = np.array([[1], [3], [1], [9]], I32)  # a duplicate and an out-of-range row
        for name, combine in SCATTERS.items():
            if dt.kind == "b" and name in ("scatter_add", "scatter_mul"):
                combine = {"scatter_add": np.logical_or,
                           "scatter_mul": np.logical_and}[name]
            cases.append(Case(name, (o, idx, upd_rows), {"axes": (0,)},
                              _scatter_ref((0,), combine), label=str(dt)))
    cases.append(Case("gather", (op, np.array([[1]], I32)), {"axes": (0,), "mode": "fill",
                                                             "fill_value": -1.0},
                      _gather_ref((0,), "fill"), label="fill-value"))
    cases.append(Case("gather", (op, np.array([[9]], I32)), {"axes": (0,), "mode": "fill",
                                                             "fill_value": -1.0},
                      _gather_ref((0,), "fill", -1.0), label="fill-value-oob"))
    pts = np.array([[0, 0], [3, 4], [0, 0], [-1, 2]], I32)
    cases.append(Case("scatter_add", (op, pts, np.array([1.0, 2.0, 3.0, 4.0])), {"axes": (0, 1)},
                      _scatter_ref((0, 1), np.add), label="points"))
    return cases


VALUE_CASES = shape_cases() + reduction_cases() + dot_cases() + sort_cases() + indexing_cases()


# --- errors --------------------------------------------------------------------------------

def _z(shape, dtype=F32):
    return np.zeros(shape, dtype)


ERROR_CASES = [
    Bad("broadcast_in_dim", (_z((3,)),), {"shape": (2, 4), "broadcast_dimensions": (1,)},
        ShapeError, "f32[3]"),
    Bad("reshape", (_z((2, 3)),), {"new_sizes": (4, 2)}, ShapeError, "f32[2,3]"),
    Bad("transpose", (_z((2, 3)),), {"permutation": (0, 0)}, ShapeError, "f32[2,3]"),
    Bad("squeeze", (_z((2, 3)),), {"dimensions": (0,)}, ShapeError, "f32[2,3]"),
    Bad("squeeze", (_z((1, 3)),), {"dimensions": (2,)}, AxisError, "(1, 3)"),
    Bad("rev", (_z((2, 3)),), {"dimensions": (-3,)}, AxisError, "(2, 3)"),
    Bad("slice", (_z((4,)),), {"start_indices": (1,), "limit_indices": (5,)}, ShapeError,
        "f32[4]"),
    Bad("dynamic_slice", (_z((4,)), np.float32(1.0)), {"slice_sizes": (2,)}, DtypeError,
        "f32[]"),
    Bad("dynamic_slice", (_z((4,)), np.int32(0)), {"slice_sizes": (5,)}, ShapeError, "f32[4]"),
    Bad("dynamic_update_slice", (_z((4,)), _z((2,), F64), np.int32(0)), {}, DtypeError,
        "f64[2]"),
    Bad("dynamic_update_slice", (_z((4,)), _z((5,)), np.int32(0)), {}, ShapeError, "f32[5]"),
    Bad("concatenate", (_z((2, 3)), _z((2, 3), F64)), {"dimension": 0}, DtypeError, "f64[2,3]"),
    Bad("concatenate", (_z((2, 3)), _z((2, 4))), {"dimension": 0}, ShapeError, "f32[2,4]"),
    Bad("pad", (_z((2,)), np.float64(0.0)), {"padding_config": ((1, 1, 0),)}, DtypeError,
        "f64[]"),
    Bad("pad", (_z((2,)), np.float32(0.0)), {"padding_config": ((1, 1, -1),)}, ShapeError,
        "f32[2]"),
    Bad("reduce_sum", (_z((2, 3)),), {"axes": (2,)}, AxisError, "(2, 3)"),
    Bad("reduce_prod", (_z((2, 3)),), {"axes": (0, 0)}, AxisError, "reduce_prod"),
    Bad("reduce_max", (_z((0, 3)),), {"axes": (0,)}, ShapeError, "f32[0,3]"),
    Bad("reduce_min", (_z((2, 3)),), {"axes": (-3,)}, AxisError, "(2, 3)"),
    Bad("reduce_and", (_z((2, 3)),), {"axes": (0,)}, DtypeError, "f32[2,3]"),
    Bad("reduce_or", (_z((2,), I32),), {"axes": (0,)}, DtypeError, "s32[2]"),
    Bad("argmax", (_z((0, 3)),), {"axis": 0, "index_dtype": I32}, ShapeError, "f32[0,3]"),
    Bad("argmin", (_z((2, 3)),), {"axis": 2, "index_dtype": I32}, AxisError, "(2, 3)"),
    Bad("cumsum", (_z((2,), BOOL),), {"axis": 0}, DtypeError, "pred[2]"),
    Bad("cumprod", (_z((2,)),), {"axis": 1}, AxisError, "(2,)"),
    Bad("cummax", (_z((2,), BOOL),), {"axis": 0}, DtypeError, "pred[2]"),
    Bad("cummin", (_z((2,)),), {"axis": -2}, AxisError, "(2,)"),
    Bad("dot_general", (_z((2, 3)), _z((4, 5))), {"dimension_numbers": (((1,), (0,)), ((), ()))},
        ShapeError, "f32[4,5]"),
    Bad("dot_general", (_z((2, 3)), _z((3, 5), F64)),
        {"dimension_numbers": (((1,), (0,)), ((), ()))}, DtypeError, "f64[3,5]"),
    Bad("dot_general", (_z((2, 3, 4)), _z((3, 4, 5))),
        {"dimension_numbers": (((2,), (1,)), ((0,), (0,)))}, ShapeError, "batch"),
    Bad("sort", (_z((3,)), _z((4,))), {"dimension": 0}, ShapeError, "f32[4]"),
    Bad("sort", (_z(()),), {"dimension": 0}, ShapeError, "f32[]"),
    Bad("sort", (_z((3,)),), {"dimension": 1}, AxisError, "(3,)"),
    Bad("gather", (_z((4, 5)), _z((3, 1))), {"axes": (0,)}, DtypeError, "f32[3,1]"),
    Bad("gather", (_z((4, 5)), _z((3, 2), I32)), {"axes": (0,)}, ShapeError, "s32[3,2]"),
] + [
    Bad(name, (_z((4, 5)), _z((2, 1), I32), _z((2, 5), F64)), {"axes": (0,)}, DtypeError,
        "f64[2,5]") for name in SCATTERS
] + [
    Bad(name, (_z((4, 5)), _z((2, 1), I32), _z((2, 4))), {"axes": (0,)}, ShapeError,
        "f32[2,4]") for name in SCATTERS
]
