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
    dimension = dimension % operands[0].ndim
    keys = [np.moveaxis(k, dimension, -1) for k in operands[:num_keys]]
    if num_keys == 1:
        perm = np.argsort(keys[0], axis=-1, kind="stable")
    else:
        # lexsort's primary key is the last one; it sorts stably (and NaNs last) per key.
        perm = np.lexsort(keys[::-1], axis=-1)
    perm = np.moveaxis(perm, -1, dimension)
    return tuple(np.take_along_axis(x, perm, axis=dimension) for x in operands)


sort_p.abstract_eval = _sort_rule
sort_p.impl = _sort_impl
sort_p.lowering = "host"      # no native sort: the NumPy reference runs it
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
