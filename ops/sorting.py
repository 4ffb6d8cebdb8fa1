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

from .core import Primitive, ShapedArray
from .errors import ShapeError
from .rules import as_function, canonical_axis, check_kinds

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
sort = as_function(sort_p)
