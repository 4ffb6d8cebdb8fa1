"""Dtype promotion without broadcasting, shared by the multivariate distribution modules."""
from __future__ import annotations

from ops import dtypes

from ...numpy._promotion import convert, result_dtype


def promote_dtypes_inexact(*args):
    """The arguments converted to one common inexact dtype, shapes left as they are."""
    dtype, weak = result_dtype(*args)
    dtype = dtypes.to_inexact(dtype, weak)
    return [convert(a, dtype, weak) for a in args]


def promote_dtypes_numeric(*args):
    """The arguments converted to their common dtype (ints stay ints), shapes left as they are."""
    dtype, weak = result_dtype(*args)
    return [convert(a, dtype, weak) for a in args]
