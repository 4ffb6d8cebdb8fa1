"""`jitcore.dtypes`: JAX's `jax.dtypes` names that users reach for.

`float0` is the dtype of the gradient of an integer input (`grad(..., allow_int=True)`): an
array of it holds no values, only a shape. `canonicalize_dtype`, `result_type`, `issubdtype`
answer as JAX does with 64-bit enabled; `bfloat16` is ml_dtypes' type, as in JAX.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes as _dt

from .ad import float0  # noqa: F401
from .numpy import issubdtype, result_type  # noqa: F401


bfloat16 = _dt.bfloat16.type   # `jax.dtypes.bfloat16`: ml_dtypes' scalar type


def canonicalize_dtype(dtype) -> np.dtype:
    """The dtype jitcore computes with for `dtype` (64-bit enabled: the dtype itself)."""
    return _dt.canonicalize(dtype, "canonicalize_dtype")


def is_weakly_typed(x) -> bool:
    return bool(getattr(x, "weak_type", False))
