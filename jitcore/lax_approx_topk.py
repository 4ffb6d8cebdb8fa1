"""`lax.approx_max_k` / `approx_min_k`: JAX's approximate top-k on TPU; an exact top-k is a
valid answer to it (recall 1 >= any `recall_target`), so both are computed exactly here."""
from __future__ import annotations

from ops.dtypes import kind as _kind
from ops.errors import ShapeError

from .numpy._promotion import aval_of

__all__ = ["approx_max_k", "approx_min_k"]


def _approx_k(name, operand, k, reduction_dimension, recall_target, is_max_k,
              reduction_input_size_override, aggregate_to_topk):
    from . import lax
    a = aval_of(operand)
    if _kind(a.dtype) != "f":
        raise ValueError(f"{name}: operand must be a floating type, got {a.dtype}")
    if a.ndim == 0:
        raise ShapeError(f"{name}: operand must have at least one dimension, got a scalar")
    if not -a.ndim <= reduction_dimension < a.ndim:
        raise ShapeError(f"{name}: reduction_dimension {reduction_dimension} is out of range "
                         f"for an operand of shape {a.shape}")
    if not 0 < recall_target <= 1:
        raise ValueError(f"{name}: recall_target must be in (0, 1], got {recall_target}")
    axis = reduction_dimension % a.ndim
    if is_max_k:
        return lax.top_k(operand, k, axis=axis)
    vals, idx = lax.top_k(lax.neg(operand), k, axis=axis)
    return lax.neg(vals), idx


def approx_max_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True):
    """(values, int32 indices) of the `k` largest entries along `reduction_dimension`,
    in descending order."""
    return _approx_k("approx_max_k", operand, k, reduction_dimension, recall_target, True,
                     reduction_input_size_override, aggregate_to_topk)


def approx_min_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True):
    """(values, int32 indices) of the `k` smallest entries along `reduction_dimension`,
    in ascending order."""
    return _approx_k("approx_min_k", operand, k, reduction_dimension, recall_target, False,
                     reduction_input_size_override, aggregate_to_topk)
