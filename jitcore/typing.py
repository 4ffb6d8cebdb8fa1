"""Type annotations for arguments, as JAX's `jax.typing`: `ArrayLike` (what a function taking
an array accepts: an Array, a NumPy array or scalar, a Python number) and `DTypeLike` (what a
`dtype=` argument accepts)."""
from __future__ import annotations

from typing import Any, Protocol, Union

import numpy as np

from .array import Array

ArrayLike = Union[Array, np.ndarray, np.bool_, np.number, bool, int, float, complex]


class SupportsDType(Protocol):
    """Anything with a `dtype` (an array, a ShapeDtypeStruct)."""

    @property
    def dtype(self) -> np.dtype: ...


DTypeLike = Union[str, type[Any], np.dtype, SupportsDType]

__all__ = ["ArrayLike", "DTypeLike"]
