"""sort: the one sorting primitive (XLA's variadic sort).

`sort(*operands, dimension, is_stable, num_keys)` sorts along `dimension` lexicographically by
the first `num_keys` operands and permutes every operand the same way, so argsort is
`sort(x, iota)` and lexsort is `sort(*keys, iota, num_keys=len(keys))`. Operands share one
shape; their dtypes may differ. The order is NumPy's: NaNs last, -0.0 equal to 0.0, ties kept
in their original order (the reference is always stable; `is_stable=False` only permits a
backend to be faster).
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .autodiff import full_like, is_float, move_batch_to_front, zeros_like_aval
from .core import Primitive, ShapedArray, get_aval
from .elementwise import add, iota, mul, sub
from .errors import ShapeError
from .host_parallel import run_parts
from .indexing import gather, scatter_add
from .rules import as_function, canonical_axis, check_kinds
from .shape import reshape

sort_p = Primitive("sort", "sorting", multiple_results=True)


def _sort_rule(*operands, dimension, is_stable=True, num_keys=1):
    if not operands:
        raise ShapeError("sort: needs at least one operand")
    first = operands[0]
    for x in operands:
        check_kinds("sort", x, "fiub")
        if x.shape != first.shape:
            raise ShapeError("sort: all operands must have the same shape, got "
                             + ", ".join(a.str_short() for a in operands))
    if first.ndim == 0:
        raise ShapeError(f"sort: cannot sort a 0-d operand {first.str_short()}",
                         hint="reshape it to 1-d first")
    canonical_axis("sort", dimension, first.ndim, first.shape)
    if not isinstance(num_keys, int) or not 1 <= num_keys <= len(operands):
        raise ShapeError(f"sort: num_keys must be an int in [1, {len(operands)}] for "
                         f"{len(operands)} operands, got {num_keys!r}")
    return tuple(ShapedArray(x.shape, x.dtype, x.weak_type) for x in operands)


def _sort_impl(*operands, dimension, is_stable=True, num_keys=1):
    d = dimension % operands[0].ndim
    shape = np.moveaxis(operands[0], d, -1).shape
    nrows = int(np.prod(shape[:-1], dtype=np.int64))
    rows = [np.moveaxis(x, d, -1).reshape(nrows, shape[-1]) for x in operands]
    outs = [np.empty(r.shape, r.dtype) for r in rows]

    def work(lo, hi):
        for o, r in zip(outs, _sort_rows([r[lo:hi] for r in rows], num_keys)):
            o[lo:hi] = r
    # Rows go to threads (NumPy's sorts release the GIL).
    run_parts(work, rows[0].shape[0], rows[0].size)
    return tuple(np.moveaxis(o.reshape(shape), -1, d) for o in outs)


def _sort_rows(rows, num_keys):
    """Each operand (2-d, sorted along its last axis) sorted stably by the first `num_keys`."""
    if len(rows) == 1:
        return [_sorted_values(rows[0])]
    if num_keys == 1:
        perm = _stable_argsort(rows[0])
    else:
        # lexsort's primary key is the last one; it sorts stably (and NaNs last) per key.
        perm = np.lexsort(rows[:num_keys][::-1], axis=-1)
    return [np.take_along_axis(x, perm, axis=-1) for x in rows]


def _sorted_values(x):
    """A stable sort's result from NumPy's fastest sort (SIMD where the CPU has it). Values
    that compare equal are identical except -0.0/+0.0 and NaN payloads, which an unstable sort
    may reorder: those runs get the originals back in their first order (each row's run of
    zeros, or of NaNs, holds that row's zeros, or NaNs, in order)."""
    out = np.sort(x, axis=-1)
    if x.dtype.kind == "f" and x.size:
        zero = x == 0
        zs = x[zero]
        if zs.size and np.signbit(zs).any() and not np.signbit(zs).all():
            out[out == 0] = zs
        nan = np.isnan(x)
        if nan.any():
            out[np.isnan(out)] = x[nan]
    return out


def _stable_argsort(k):
    """Stable argsort along the last axis of 2-d `k`, NaNs last, -0.0 equal to 0.0. Keys of
    at most 32 bits are mapped to order-preserving uint32 and packed with their position into
    one uint64 (key high, position low): all distinct, so NumPy's unstable SIMD sort of them is
    the stable order, at about half the time of `argsort(kind="stable")`."""
    n = k.shape[-1]
    if k.dtype.itemsize > 4 or n >= 1 << 32:
        return np.argsort(k, axis=-1, kind="stable")
    if k.dtype.kind == "f":
        f = k.astype(np.float32) + np.float32(0)    # -0.0 + 0.0 is +0.0
        f[np.isnan(f)] = np.float32(np.nan)         # one NaN, sign bit clear: after +inf
        b = f.view(np.uint32)
        key = np.where(b >> np.uint32(31) != 0, ~b, b | np.uint32(1 << 31))
    elif k.dtype.kind == "i":
        key = k.astype(np.int32).view(np.uint32) ^ np.uint32(1 << 31)
    else:
        key = k.astype(np.uint32)
    packed = key.astype(np.uint64) << np.uint64(32)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort(axis=-1)
    return (packed & np.uint64(0xFFFFFFFF)).astype(np.intp)


sort_p.abstract_eval = _sort_rule
sort_p.impl = _sort_impl
# The CPU backend runs it natively (a radix sort, `xla_like/backends/llvm/sort.py`); other
# backends run NumPy's C sorts on the host (`_sort_impl`).
sort_p.lowering = "host"
sort = as_function(sort_p)


# --- rules ---------------------------------------------------------------------------------
# The sort moves each operand's elements by one permutation: sorting an iota along with the
# operands (never as a key, so the order is the primal's) gives it. Tangents follow the same
# moves; cotangents go back. The permutation is piecewise constant, so keys get no derivative
# beyond their own elements' moves.


def _sorted_with_sources(operands, dimension, is_stable, num_keys):
    """(sorted operands, int64 flat positions (shape + (1,)) each sorted element came from)."""
    shape = get_aval(operands[0]).shape
    d = canonical_axis("sort", dimension, len(shape), shape)
    along = iota(dtype=dtypes.int64, shape=shape, dimension=d)
    *outs, perm = sort(*operands, along, dimension=d, is_stable=is_stable, num_keys=num_keys)
    # Flat position of element i (row-major) is flat_i; moving it along d by (perm - along)
    # shifts it by that many strides of d.
    size = int(np.prod(shape, dtype=np.int64))
    stride = int(np.prod(shape[d + 1:], dtype=np.int64))
    flat = reshape(iota(dtype=dtypes.int64, shape=(size,), dimension=0), new_sizes=shape)
    shift = sub(perm, along)
    if stride != 1:
        shift = mul(shift, full_like(shift, stride))
    sources = reshape(add(flat, shift), new_sizes=shape + (1,))
    return tuple(outs), sources


def _sort_jvp(primals, tangents, *, dimension, is_stable=True, num_keys=1):
    if all(t is None for t in tangents):
        outs = sort(*primals, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
        return outs, (None,) * len(outs)
    outs, sources = _sorted_with_sources(primals, dimension, is_stable, num_keys)
    shape = get_aval(primals[0]).shape
    n = int(np.prod(shape, dtype=np.int64))
    touts = tuple(
        None if t is None or not is_float(x) else
        gather(reshape(t, new_sizes=(n,)), sources, axes=(0,), mode="clip", fill_value=None)
        for x, t in zip(primals, tangents))
    return outs, touts


def _sort_vjp(cts, ans, primals, *, dimension, is_stable=True, num_keys=1):
    if cts is None or all(c is None for c in cts):
        return (None,) * len(primals)
    _, sources = _sorted_with_sources(primals, dimension, is_stable, num_keys)
    out = []
    for x, c in zip(primals, cts):
        if c is None or not is_float(x):
            out.append(None)
            continue
        xa = get_aval(x)
        flat = zeros_like_aval(xa.update(shape=(xa.size,), weak_type=False))
        out.append(reshape(scatter_add(flat, sources, c, axes=(0,)), new_sizes=xa.shape))
    return tuple(out)


def _sort_batch(args, batched, size, *, dimension, is_stable=True, num_keys=1):
    if not any(batched):
        return sort(*args, dimension=dimension, is_stable=is_stable, num_keys=num_keys), \
            (False,) * len(args)
    nd = get_aval(args[0]).ndim - int(batched[0])
    d = canonical_axis("sort", dimension, nd)
    args = [move_batch_to_front(x, b, size) for x, b in zip(args, batched)]
    outs = sort(*args, dimension=d + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, (True,) * len(outs)


sort_p.jvp = _sort_jvp
sort_p.vjp = _sort_vjp
sort_p.batch = _sort_batch
