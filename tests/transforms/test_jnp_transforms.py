"""`jitcore.numpy` functions through the transforms: `check_grads` of each differentiable
function (first order in both modes, second order for a representative subset) at generic
points, and `jitcore.vmap` of each against a Python loop of eager calls. Then Jacobians
(`jacfwd == jacrev`) and a Hessian against finite differences.

Inputs avoid each function's non-differentiable points (no ties for max/sort/median, positive
for log/sqrt, away from integer jumps), as in `transform_cases.py`, whose makers they use.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import tree_util
from tests.helpers import check_grads, rng_for
from tests.transforms.transform_cases import (apart, away, distinct, frac, normal,
                                              rem_operands, uniform)

BATCH = 5


@dataclass
class J:
    name: str
    fn: object
    makers: tuple
    order2: bool = False
    grad: bool = True   # False: integer/boolean results, batching is all there is to test


def pos(*s):
    return uniform(0.5, 2.0, *s)


def unit(*s):
    return uniform(-0.8, 0.8, *s)


# At least two unmasked entries per row, so nanvar/nanstd stay away from a zero variance.
M = np.array([[True, False, True, False], [False, True, True, False], [True, False, False, True]])
IDX = np.array([2, 0, 2, 1])
PERM = np.array([[3, 0, 2, 1], [1, 2, 0, 3], [0, 3, 1, 2]])


def _unary():
    doms = {"negative": normal, "positive": normal, "abs": away, "absolute": away,
            "sqrt": pos, "cbrt": away, "exp": normal, "exp2": normal, "expm1": normal,
            "log": pos, "log2": pos, "log10": pos, "log1p": pos, "sin": normal, "cos": normal,
            "tan": unit, "arcsin": unit, "arccos": unit, "arctan": normal, "sinh": normal,
            "cosh": normal, "tanh": normal, "arcsinh": normal,
            "arccosh": lambda *s: uniform(1.2, 3, *s), "arctanh": unit, "square": normal,
            "reciprocal": away, "sinc": away, "deg2rad": normal, "rad2deg": normal,
            "degrees": normal, "radians": normal, "sign": frac, "floor": frac, "ceil": frac,
            "round": frac, "around": frac, "rint": frac, "trunc": frac, "fix": frac}
    second = {"sqrt", "exp", "log", "sin", "tanh", "arcsin", "reciprocal", "sinc", "abs"}
    return [J(n, getattr(jnp, n), (d(2, 3),), n in second) for n, d in doms.items()]


def _binary():
    out = []
    for n in ("add", "subtract", "multiply"):
        out.append(J(n, getattr(jnp, n), (normal(2, 3), normal(2, 3)), n == "multiply"))
    out += [
        J("add-broadcast", jnp.add, (normal(2, 3), normal(3))),
        J("multiply-python_scalar", lambda x: jnp.multiply(x, 2.5), (normal(2, 3),)),
        J("divide", jnp.divide, (normal(2, 3), away(2, 3)), True),
        J("true_divide", jnp.true_divide, (normal(2, 3), away(2, 3))),
        J("power", jnp.power, (pos(2, 3), normal(2, 3)), True),
        J("pow", jnp.pow, (pos(2, 3), normal(2, 3))),
        J("power-int_exponent", lambda x: jnp.power(x, 3), (normal(2, 3),), True),
        J("float_power", jnp.float_power, (pos(2, 3), normal(2, 3))),
        J("arctan2", jnp.arctan2, (away(2, 3), away(2, 3)), True),
        J("hypot", jnp.hypot, (away(2, 3), away(2, 3)), True),
        J("logaddexp", jnp.logaddexp, (normal(2, 3), normal(2, 3)), True),
        J("logaddexp2", jnp.logaddexp2, (normal(2, 3), normal(2, 3))),
        J("copysign", jnp.copysign, (away(2, 3), away(2, 3))),
        J("heaviside", jnp.heaviside, (away(2, 3), normal(2, 3))),
        J("floor_divide", _pair(jnp.floor_divide), (rem_operands(2, 3),)),
        J("where", lambda x, y: jnp.where(M[:2, :3], x, y), (normal(2, 3), normal(2, 3)), True),
        J("clip-scalars", lambda x: jnp.clip(x, -0.5, 0.7), (frac(2, 3),)),
        J("clip-arrays", jnp.clip, (lambda r: np.array([-2.5, 0.0, 2.5]) + r.uniform(-.1, .1, 3),
                                    uniform(-1, -0.2, 3), uniform(0.2, 1, 3)), True),
    ]
    for n in ("fmod", "remainder", "mod"):
        out.append(J(n, _pair(getattr(jnp, n)), (rem_operands(2, 3),)))
    for n in ("maximum", "minimum", "fmax", "fmin"):
        out.append(J(n, _pair(getattr(jnp, n)), (apart(2, 3),), n == "maximum"))
    return out


def _pair(f):
    """f of a stacked pair: makers relating two operands (apart, rem_operands) return both,
    and `_args` stacks them into one argument."""
    return lambda xy: f(xy[0], xy[1])


def _lse(x):
    m = jnp.max(x, axis=1, keepdims=True)
    return jnp.log(jnp.sum(jnp.exp(x - m), axis=1)) + m[:, 0]


def _masked(f):
    return lambda x: f(jnp.where(M, jnp.nan, x))


def _reductions():
    d = distinct(3, 4)
    out = []
    for ax in (None, 0, 1, (0, 1)):
        for n in ("sum", "mean", "prod", "max", "min"):
            out.append(J(f"{n}-axis{ax}", lambda x, n=n, ax=ax: getattr(jnp, n)(x, axis=ax), (d,),
                         ax == 1))
    out += [
        J("sum-keepdims", lambda x: jnp.sum(x, axis=0, keepdims=True), (d,)),
        J("sum-where", lambda x: jnp.sum(x, axis=1, where=M), (d,)),
        J("max-initial", lambda x: jnp.max(x, axis=1, initial=0.15), (d,)),
        J("amax", lambda x: jnp.amax(x, axis=0), (d,)),
        J("amin", lambda x: jnp.amin(x, axis=1), (d,)),
        J("var", lambda x: jnp.var(x, axis=1), (d,), True),
        J("var-ddof1", lambda x: jnp.var(x, ddof=1), (d,)),
        J("std", lambda x: jnp.std(x, axis=0), (d,), True),
        J("ptp", lambda x: jnp.ptp(x, axis=1), (d,)),
        J("average-weights", lambda x, w: jnp.average(x, axis=1, weights=w), (d, pos(4))),
        J("median", lambda x: jnp.median(x, axis=1), (d,), True),
        J("median-all", jnp.median, (d,)),
        J("quantile", lambda x: jnp.quantile(x, 0.3, axis=0), (d,)),
        J("percentile", lambda x: jnp.percentile(x, 70.0), (d,)),
        J("logsumexp", _lse, (d,), True),
        J("softmax", lambda x: jnp.exp(x - _lse(x)[:, None]), (d,), True),
    ]
    for n in ("cumsum", "cumprod"):
        for ax in (None, 0, 1):
            out.append(J(f"{n}-axis{ax}", lambda x, n=n, ax=ax: getattr(jnp, n)(x, axis=ax),
                         (d,), n == "cumprod" and ax == 1))
    out += [
        J("cumulative_sum", lambda x: jnp.cumulative_sum(x, axis=1, include_initial=True),
          (d,)),
        J("cumulative_prod", lambda x: jnp.cumulative_prod(x, axis=0), (d,)),
    ]
    # nan* variants: NaN placed inside the function, so the NaN positions get zero gradients.
    for n in ("nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nanvar", "nanstd",
              "nanmedian"):
        out.append(J(n, _masked(lambda x, n=n: getattr(jnp, n)(x, axis=1)), (d,),
                     n == "nanmean"))
    for n in ("nancumsum", "nancumprod"):
        out.append(J(n, _masked(lambda x, n=n: getattr(jnp, n)(x, axis=1)), (d,)))
    out.append(J("nanquantile", _masked(lambda x: jnp.nanquantile(x, 0.4, axis=1)), (d,)))
    out.append(J("nanpercentile", _masked(lambda x: jnp.nanpercentile(x, 60.0, axis=1)),
                 (d,)))
    return out


def _shapes():
    x34 = normal(3, 4)
    return [
        J("reshape", lambda x: jnp.reshape(x, (2, 6)), (x34,)),
        J("reshape-method_-1", lambda x: x.reshape(-1, 3), (x34,)),
        J("ravel", jnp.ravel, (x34,)),
        J("transpose", jnp.transpose, (normal(2, 3, 4),)),
        J("transpose-axes", lambda x: jnp.transpose(x, (1, 2, 0)), (normal(2, 3, 4),)),
        J("swapaxes", lambda x: jnp.swapaxes(x, 0, 2), (normal(2, 3, 4),)),
        J("moveaxis", lambda x: jnp.moveaxis(x, 0, -1), (normal(2, 3, 4),)),
        J("expand_dims", lambda x: jnp.expand_dims(x, (0, 2)), (x34,)),
        J("squeeze", jnp.squeeze, (normal(3, 1, 4),)),
        J("concatenate", lambda a, b: jnp.concatenate([a, b], axis=1), (x34, normal(3, 2)),
          True),
        J("concatenate-axis0", lambda a, b: jnp.concatenate([a, b]), (x34, normal(2, 4))),
        J("stack", lambda a, b: jnp.stack([a, b]), (x34, x34)),
        J("stack-axis-1", lambda a, b: jnp.stack([a, b], axis=-1), (x34, x34)),
        J("vstack", lambda a, b: jnp.vstack([a, b]), (normal(3), normal(3))),
        J("hstack", lambda a, b: jnp.hstack([a, b]), (x34, normal(3, 1))),
        J("dstack", lambda a, b: jnp.dstack([a, b]), (x34, x34)),
        J("column_stack", lambda a, b: jnp.column_stack([a, b]), (normal(3), x34)),
        J("split", lambda x: jnp.split(x, 2, axis=1), (x34,)),
        J("split-indices", lambda x: jnp.split(x, [1, 3], axis=1), (x34,)),
        J("array_split", lambda x: jnp.array_split(x, 3, axis=1), (x34,)),
        J("tile", lambda x: jnp.tile(x, (2, 1)), (x34,)),
        J("tile-1d", lambda x: jnp.tile(x, 3), (normal(3),)),
        J("repeat", lambda x: jnp.repeat(x, 2, axis=0), (x34,)),
        J("repeat-counts", lambda x: jnp.repeat(x, np.array([1, 0, 2, 1]), axis=1), (x34,)),
        J("repeat-flat", lambda x: jnp.repeat(x, 2), (normal(2, 3),)),
        J("flip", jnp.flip, (x34,)),
        J("flip-axis", lambda x: jnp.flip(x, 1), (x34,)),
        J("fliplr", jnp.fliplr, (x34,)),
        J("flipud", jnp.flipud, (x34,)),
        J("rot90", jnp.rot90, (x34,)),
        J("rot90-k2", lambda x: jnp.rot90(x, 2), (x34,)),
        J("roll", lambda x: jnp.roll(x, 1, axis=1), (x34,)),
        J("roll-flat", lambda x: jnp.roll(x, -5), (x34,)),
        J("roll-tuple", lambda x: jnp.roll(x, (1, -2), axis=(0, 1)), (x34,)),
        J("pad-constant", lambda x: jnp.pad(x, ((1, 2), (0, 1))), (x34,)),
        J("pad-traced_value", lambda x, c: jnp.pad(x, 1, constant_values=c), (x34, normal()),
          True),
        J("pad-edge", lambda x: jnp.pad(x, 2, mode="edge"), (x34,)),
        J("pad-reflect", lambda x: jnp.pad(x, ((2, 1), (3, 0)), mode="reflect"), (x34,), True),
        J("pad-symmetric", lambda x: jnp.pad(x, 2, mode="symmetric"), (x34,)),
        J("pad-reflect_odd", lambda x: jnp.pad(x, 1, mode="reflect", reflect_type="odd"),
          (x34,)),
        J("pad-wrap", lambda x: jnp.pad(x, (1, 3), mode="wrap"), (x34,)),
        J("broadcast_to", lambda x: jnp.broadcast_to(x, (2, 3, 4)), (normal(3, 1),)),
        J("broadcast_arrays", lambda a, b: jnp.broadcast_arrays(a, b), (normal(3, 1), normal(4))),
        J("atleast_2d", jnp.atleast_2d, (normal(3),)),
        J("atleast_3d", jnp.atleast_3d, (x34,)),
        J("take", lambda x: jnp.take(x, IDX, axis=1), (x34,), True),
        J("take-flat", lambda x: jnp.take(x, np.array([[0, 11], [5, 5]])), (x34,)),
        J("take-clip", lambda x: jnp.take(x, np.array([-1, 7, 2]), axis=1, mode="clip"), (x34,)),
        J("take_along_axis", lambda x: jnp.take_along_axis(x, PERM, axis=1), (x34,)),
        J("take_along_axis-0", lambda x: jnp.take_along_axis(x, PERM[:, :2] % 3, axis=0),
          (normal(3, 2),)),
    ]


def _indexing():
    x34 = normal(3, 4)
    idx = [
        ("int", 1), ("negative", -1), ("slice", np.s_[1:3]), ("reverse", np.s_[::-1]),
        ("strided_int", np.s_[::2, 1]), ("newaxis", np.s_[None, :, 1]),
        ("ellipsis", np.s_[..., 0]), ("int_array_dups", np.array([2, 0, 2])),
        ("array_2d_and_slice", np.s_[np.array([[0, 1], [2, 2]]), 1:]),
        ("bool_mask", M), ("two_arrays", np.s_[[0, 2], [1, 3]]),
        ("slice_and_list", np.s_[:, [3, 0]]), ("int_and_array", np.s_[1, np.array([0, -2])]),
    ]
    # jnp.asarray: check_grads evaluates the function on NumPy arrays too, which lack `.at`.
    A = jnp.asarray
    out = [J(f"getitem-{n}", lambda x, i=i: A(x)[i], (x34,),
             n in ("int_array_dups", "bool_mask")) for n, i in idx]
    d = distinct(3, 4)
    v = distinct(2, 3, 4)  # x and the updates in one array: no ties between them
    rows3 = np.array([0, 2, 0])
    out += [
        J("at-set-int", lambda x, y: A(x).at[1].set(y), (x34, normal(4)), True),
        J("at-set-slice", lambda x, y: A(x).at[:, 1:3].set(y), (x34, normal(3, 2))),
        J("at-set-dups", lambda x, y: A(x).at[rows3].set(y), (x34, normal(3, 4))),
        J("at-set-scalar", lambda x, y: A(x).at[1, 2].set(y), (x34, normal())),
        J("at-add-dups", lambda x, y: A(x).at[np.array([1, 1, 2]), 3].add(y),
          (x34, normal(3)), True),
        J("at-multiply", lambda x, y: A(x).at[rows3].multiply(y), (x34, normal(3, 4)), True),
        J("at-min", lambda xy: A(xy[0]).at[np.array([1, 2, 1]), :2].min(xy[1][:3, :2]), (v,)),
        J("at-max", lambda xy: A(xy[0]).at[np.array([1, 2, 1]), :2].max(xy[1][:3, :2]), (v,),
          True),
        J("at-get", lambda x: A(x).at[np.array([2, 0]), 1:].get(), (d,)),
    ]
    return out


def _products():
    return [
        J("matmul", jnp.matmul, (normal(2, 3), normal(3, 4)), True),
        J("matmul-vec_mat", jnp.matmul, (normal(3), normal(3, 4))),
        J("matmul-mat_vec", jnp.matmul, (normal(2, 3), normal(3))),
        J("matmul-batched", jnp.matmul, (normal(2, 2, 3), normal(2, 3, 4))),
        J("matmul-broadcast_batch", jnp.matmul, (normal(2, 1, 2, 3), normal(3, 3, 2))),
        J("matmul-operator", lambda a, b: a @ b, (normal(2, 3), normal(3, 4))),
        J("dot", jnp.dot, (normal(2, 3), normal(3, 4))),
        J("dot-1d", jnp.dot, (normal(3), normal(3))),
        J("dot-nd", jnp.dot, (normal(2, 3, 4), normal(4, 2))),
        J("vdot", jnp.vdot, (normal(2, 3), normal(2, 3))),
        J("inner", jnp.inner, (normal(2, 3), normal(4, 3))),
        J("outer", jnp.outer, (normal(3), normal(4))),
        J("tensordot-1", lambda a, b: jnp.tensordot(a, b, axes=1), (normal(2, 3), normal(3, 4))),
        J("tensordot-2", jnp.tensordot, (normal(2, 3, 4), normal(3, 4, 2)), True),
        J("tensordot-pairs", lambda a, b: jnp.tensordot(a, b, axes=([1, 0], [0, 2])),
          (normal(2, 3, 4), normal(3, 2, 2))),
        J("vecdot", jnp.vecdot, (normal(2, 3), normal(2, 3))),
        J("kron", jnp.kron, (normal(2, 2), normal(2, 3))),
        J("cross", jnp.cross, (normal(3), normal(3))),
        J("cross-batched", jnp.cross, (normal(4, 3), normal(4, 3)), True),
        J("trace", jnp.trace, (normal(3, 4),)),
        J("trace-offset", lambda x: jnp.trace(x, offset=1), (normal(3, 4),)),
        J("diag-vector", jnp.diag, (normal(3),)),
        J("diag-vector_k1", lambda v: jnp.diag(v, k=1), (normal(3),)),
        J("diag-matrix_k-1", lambda x: jnp.diag(x, k=-1), (normal(3, 4),)),
        J("diagonal", jnp.diagonal, (normal(3, 4),)),
        J("diagonal-3d", lambda x: jnp.diagonal(x, offset=-1, axis1=1, axis2=2),
          (normal(2, 3, 3),)),
        J("tril", jnp.tril, (normal(3, 4),)),
        J("tril-k-1", lambda x: jnp.tril(x, k=-1), (normal(3, 4),)),
        J("triu-k1", lambda x: jnp.triu(x, k=1), (normal(2, 3, 4),)),
    ]


EINSUM = ["ij,jk->ik", "ij->ji", "ii->i", "ii->", "bij,bjk->bik", "i,i->", "ij,ij->i",
          "ijk->k", "ij,k->ijk", "...ij,...jk->...ik", "i,j", "ij,jk,kl->il", "ij,kj->ik"]
EINSUM_SHAPES = {"ij,jk->ik": [(2, 3), (3, 4)], "ij->ji": [(2, 3)], "ii->i": [(3, 3)],
                 "ii->": [(3, 3)], "bij,bjk->bik": [(2, 2, 3), (2, 3, 4)], "i,i->": [(3,), (3,)],
                 "ij,ij->i": [(2, 3), (2, 3)], "ijk->k": [(2, 3, 4)],
                 "ij,k->ijk": [(2, 3), (4,)], "...ij,...jk->...ik": [(2, 2, 3), (2, 3, 2)],
                 "i,j": [(2,), (3,)], "ij,jk,kl->il": [(2, 3), (3, 4), (4, 2)],
                 "ij,kj->ik": [(2, 3), (4, 3)]}


def _einsum():
    return [J(f"einsum-{s}", lambda *xs, s=s: jnp.einsum(s, *xs),
              tuple(normal(*sh) for sh in EINSUM_SHAPES[s]), s in ("ij,jk->ik", "ii->i"))
            for s in EINSUM]


def _sorting_norms():
    d = distinct(3, 4)
    out = [
        J("sort", jnp.sort, (d,), True),
        J("sort-axis0", lambda x: jnp.sort(x, axis=0), (d,)),
        J("sort-flat", lambda x: jnp.sort(x, axis=None), (d,)),
        J("sort-descending", lambda x: jnp.sort(x, descending=True), (d,)),
        J("partition", lambda x: jnp.partition(x, 1, axis=1), (d,)),
    ]
    for ord_ in (None, 1, 2, np.inf, -np.inf, 3, 0.5):
        out.append(J(f"norm-vector-ord{ord_}", lambda x, o=ord_: jnp.linalg.norm(x, ord=o),
                     (distinct(4) if ord_ in (np.inf, -np.inf) else away(4),), ord_ == 2))
    for ord_ in (None, "fro", 1, -1, np.inf, -np.inf):
        out.append(J(f"norm-matrix-ord{ord_}", lambda x, o=ord_: jnp.linalg.norm(x, ord=o),
                     (distinct(3, 4),), ord_ == "fro"))
    out += [
        J("norm-axis1", lambda x: jnp.linalg.norm(x, axis=1), (normal(3, 4),)),
        J("norm-axis0_keepdims_ord1", lambda x: jnp.linalg.norm(x, 1, axis=0, keepdims=True),
          (away(3, 4),)),
        J("vector_norm", lambda x: jnp.linalg.vector_norm(x, axis=-1), (normal(3, 4),)),
        J("matrix_norm", jnp.linalg.matrix_norm, (normal(2, 3, 4),)),
    ]
    return out


def _creation_and_misc():
    return [
        J("array", lambda a, b: jnp.array([a, b]), (normal(3), normal(3))),
        J("asarray", jnp.asarray, (normal(2, 3),)),
        J("atleast_1d", jnp.atleast_1d, (normal(),)),
        J("full_like", lambda x, v: jnp.full_like(x, v), (normal(2, 3), normal())),
        J("full", lambda v: jnp.full((2, 3), v), (normal(),)),
        J("linspace", lambda a, b: jnp.linspace(a, b, 5), (normal(), normal()), True),
        J("logspace", lambda a: jnp.logspace(a, 1.5, 4), (uniform(-1, 1),)),
        J("meshgrid", lambda a, b: jnp.meshgrid(a, b), (normal(3), normal(2))),
        J("meshgrid-ij", lambda a, b: jnp.meshgrid(a, b, indexing="ij"), (normal(3), normal(2))),
        J("divmod", _pair(jnp.divmod), (rem_operands(2, 3),)),
        J("put_along_axis", lambda x, v: jnp.put_along_axis(
            x, PERM[:, :2], v, axis=1, inplace=False), (normal(3, 4), normal(3, 2))),
    ]


def _integer_valued():
    d, b = distinct(3, 4), lambda r: r.random((3, 4)) < 0.5
    ties = lambda r: r.integers(-2, 3, (3, 4)).astype(np.float64)  # noqa: E731
    nans = _masked(lambda x: x)
    fns = [
        ("argmax", lambda x: jnp.argmax(x, axis=1), d), ("argmin", jnp.argmin, d),
        ("argsort", lambda x: jnp.argsort(x, axis=0), d),
        ("argsort-descending_ties", lambda x: jnp.argsort(x, descending=True), ties),
        ("argpartition", lambda x: jnp.argpartition(x, 2), d),
        ("lexsort", lambda x: jnp.lexsort((x[0], x[1])), ties),
        ("searchsorted", lambda x: jnp.searchsorted(jnp.sort(x[0]), x[1:]), d),
        ("nanargmax", lambda x: jnp.nanargmax(nans(x), axis=1), d),
        ("nanargmin", lambda x: jnp.nanargmin(nans(x), axis=1), d),
        ("isnan", lambda x: jnp.isnan(nans(x)), d), ("isfinite", jnp.isfinite, d),
        ("signbit", jnp.signbit, d), ("equal", lambda x: jnp.equal(x, x[:1]), ties),
        ("less", lambda x: x < x[::-1], ties), ("isclose", lambda x: jnp.isclose(x, 0.0), ties),
        ("count_nonzero", lambda x: jnp.count_nonzero(x, axis=0), ties),
        ("all", lambda x: jnp.all(x, axis=1), b), ("any", jnp.any, b),
        ("logical_xor", lambda x: jnp.logical_xor(x, x[::-1]), b),
        ("logical_not", jnp.logical_not, b), ("invert", jnp.invert, b),
        ("floor_int", lambda x: jnp.floor(x).astype(jnp.int32), d),
        ("bitwise_xor", lambda x: jnp.bitwise_xor(x, x[::-1]), lambda r: r.integers(0, 9, (3, 4))),
        ("right_shift", lambda x: jnp.right_shift(x, 1), lambda r: r.integers(-9, 9, (3, 4))),
    ]
    return [J(n, f, (m,), grad=False) for n, f, m in fns]


CASES = (_unary() + _binary() + _reductions() + _shapes() + _indexing() + _products()
         + _einsum() + _sorting_norms() + _creation_and_misc() + _integer_valued())
GRAD_CASES = [c for c in CASES if c.grad]
ORDER2 = [c for c in GRAD_CASES if c.order2]


def _rng(case, salt=""):
    return rng_for(case.name + salt)


def _args(case, rng):
    out = []
    for m in case.makers:
        v = m(rng)
        v = np.stack(v) if isinstance(v, list) else np.asarray(v)
        out.append(v.astype(np.float64) if v.dtype.kind == "f" else v)
    return tuple(out)


def _ids(cases):
    return [c.name for c in cases]


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_grads_order1(case):
    check_grads(case.fn, _args(case, _rng(case)), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("case", ORDER2, ids=_ids(ORDER2))
def test_grads_order2(case):
    check_grads(case.fn, _args(case, _rng(case)), order=2, modes=("fwd", "rev"))


def _close(got, want, what):
    gl, wl = tree_util.tree_leaves(got), tree_util.tree_leaves(want)
    assert len(gl) == len(wl), f"{what}: {len(gl)} results, want {len(wl)}"
    for g, w in zip(gl, wl):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, \
            f"{what}: {g.dtype}{g.shape}, want {w.dtype}{w.shape}"
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


def _loop(fn, examples, batched, axis):
    """fn on each example (unbatched arguments shared), results stacked along `axis`."""
    outs = [fn(*[ex[i] if b else examples[0][i] for i, b in enumerate(batched)])
            for ex in examples]
    return tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=axis),
                              *outs)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_vmap_matches_loop(case):
    rng = _rng(case, "vmap")
    examples = [_args(case, rng) for _ in range(BATCH)]
    n = len(examples[0])
    # All arguments batched on axis 0; all on their last axis with out_axes=-1; and each
    # argument alone batched while the others are shared.
    layouts = [((0,) * n, 0), (tuple(-1 if x.ndim else 0 for x in examples[0]), -1)]
    if n > 1:
        layouts += [(tuple(0 if j == i else None for j in range(n)), 0) for i in range(n)]
    for in_axes, out_axis in layouts:
        args = [examples[0][i] if a is None else
                np.stack([ex[i] for ex in examples], axis=a) for i, a in enumerate(in_axes)]
        got = jitcore.vmap(case.fn, in_axes=in_axes, out_axes=out_axis)(*args)
        want = _loop(case.fn, examples, [a is not None for a in in_axes], out_axis)
        _close(got, want, f"in_axes={in_axes} out_axes={out_axis}")


# --- Jacobians and Hessians ------------------------------------------------------------------

def _fd_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


VECTOR_FUNCTIONS = [
    ("softmax", lambda x: jnp.exp(x - jnp.log(jnp.sum(jnp.exp(x)))), (4,)),
    ("matrix_poly", lambda x: jnp.tanh(x @ x.T) * jnp.sum(x ** 2), (2, 3)),
    ("sort_cumprod", lambda x: jnp.cumprod(jnp.sort(x)) + jnp.roll(x, 1), (5,)),
    ("scatter_gather",
     lambda x: jnp.asarray(x).at[np.array([0, 2, 0])].add(jnp.sin(x[1:4])) * x[::-1], (5,)),
]


@pytest.mark.parametrize("name,f,shape", VECTOR_FUNCTIONS, ids=[v[0] for v in VECTOR_FUNCTIONS])
def test_jacfwd_equals_jacrev(name, f, shape):
    x = np.random.default_rng(3).uniform(0.2, 1.5, shape)
    jf, jr = np.asarray(jitcore.jacfwd(f)(x)), np.asarray(jitcore.jacrev(f)(x))
    want = _fd_jacobian(f, x)
    assert jf.shape == jr.shape == want.shape
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jf, want, rtol=1e-6, atol=1e-7)


SCALAR_FUNCTIONS = [
    ("rosenbrock", lambda x: jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), (4,)),
    ("logsumexp_quadratic", lambda x: jnp.log(jnp.sum(jnp.exp(x @ x))), (2, 2)),
    ("norm_prod", lambda x: jnp.linalg.norm(x) * jnp.prod(jnp.cos(x)), (3,)),
]


@pytest.mark.parametrize("name,f,shape", SCALAR_FUNCTIONS, ids=[v[0] for v in SCALAR_FUNCTIONS])
def test_hessian_matches_finite_differences(name, f, shape):
    x = np.random.default_rng(4).uniform(0.2, 0.9, shape)
    h = np.asarray(jitcore.hessian(f)(x))
    grad = jitcore.grad(f)
    want = _fd_jacobian(lambda v: np.asarray(grad(v)), x, eps=1e-5)
    assert h.shape == shape + shape
    np.testing.assert_allclose(h, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(h, np.swapaxes(h.reshape(x.size, x.size), 0, 1).reshape(h.shape),
                               rtol=1e-10, atol=1e-10)


def test_logaddexp_gradient_splits_at_a_tie():
    # d/dx log(e^x + e^y) = e^x / (e^x + e^y): 1/2 at x == y (JAX's value), not 0.
    import jitcore as jc
    import jitcore.numpy as jnp
    for x, y in [(0.0, 0.0), (2.5, 2.5), (1.0, 0.0), (-3.0, 4.0)]:
        want = np.exp(x) / (np.exp(x) + np.exp(y))
        got = jc.grad(lambda a: jnp.logaddexp(a, y))(x)
        np.testing.assert_allclose(float(got), want, rtol=1e-12)
