"""Calling Python from jitted code: `pure_callback`, `io_callback` and the debug callbacks'
common part.

Arguments and results are pytrees; the primitives (`ops/callbacks.py`) see flat lists of
arrays. Each call registers a function that rebuilds the caller's pytrees from the NumPy
arrays it is given, calls the user's function and flattens what it returns, so the
instruction in the IR holds only an integer id.
"""
from __future__ import annotations

import numpy as np

from ops import callbacks as _cb
from ops import core as _core
from ops import dtypes as _dtypes
from ops.errors import InvalidArgumentError

from . import tree_util


def _is_array_leaf(x) -> bool:
    """Leaves that travel as operands: arrays, tracers and numbers (not strings, None...)."""
    if isinstance(x, (bool, int, float, complex, np.ndarray, np.generic)):
        return True
    return isinstance(getattr(x, "aval", None), _core.ShapedArray)


def split_arguments(args, kwargs):
    """(operands, rebuild): the array leaves of (args, kwargs), and a function turning the
    NumPy values of those leaves back into (args, kwargs), other leaves kept as they were."""
    leaves, treedef = tree_util.tree_flatten((tuple(args), dict(kwargs)))
    slots = [k for k, x in enumerate(leaves) if _is_array_leaf(x)]
    operands = [leaves[k] for k in slots]

    def rebuild(values):
        full = list(leaves)
        for k, v in zip(slots, values):
            full[k] = v
        return tree_util.tree_unflatten(treedef, full)
    return operands, rebuild


def _declared(op, result_shape_dtypes):
    """(avals, treedef) of a pytree of objects with `.shape` and `.dtype`."""
    leaves, treedef = tree_util.tree_flatten(result_shape_dtypes)
    avals = []
    for leaf in leaves:
        shape, dtype = getattr(leaf, "shape", None), getattr(leaf, "dtype", None)
        if shape is None or dtype is None:
            raise InvalidArgumentError(
                f"{op}: result_shape_dtypes leaves must have .shape and .dtype (a "
                f"ShapeDtypeStruct or an array), got {type(leaf).__name__}")
        avals.append(_core.ShapedArray(tuple(shape), _dtypes.canonicalize(np.dtype(dtype), op)))
    return avals, treedef


def _flat_results(op, out, treedef):
    leaves, got = tree_util.tree_flatten(out)
    if got != treedef:
        raise _cb.CallbackError(f"{op}: the callback returned a value of structure {got}, "
                                f"but result_shape_dtypes has structure {treedef}")
    return [np.asarray(x) for x in leaves]


def call_with_results(prim_fn, op, callback, result_shape_dtypes, args, kwargs, **params):
    """Bind `prim_fn` for `callback(*args, **kwargs)` declared to return `result_shape_dtypes`."""
    if not callable(callback):
        raise InvalidArgumentError(f"{op}: expected a callable, got {type(callback).__name__}")
    avals, treedef = _declared(op, result_shape_dtypes)
    operands, rebuild = split_arguments(args, kwargs)

    def flat_callback(*values):
        a, k = rebuild(values)
        return _flat_results(op, callback(*a, **k), treedef)

    outs = prim_fn(*operands, callback=_cb.register_callback(flat_callback),
                   result_shapes=_cb.result_shapes_of(avals), **params)
    return tree_util.tree_unflatten(treedef, list(outs))


def pure_callback(callback, result_shape_dtypes, *args, sharding=None, vmap_method=None,
                  **kwargs):
    """Call the pure Python function `callback(*args, **kwargs)` with NumPy arrays, from
    traced code too; it must return arrays of exactly `result_shape_dtypes`' shapes and
    dtypes. Unused results may be dropped and identical calls merged. Under `vmap`,
    `vmap_method` says how ("sequential", "expand_dims", "broadcast_all"); not
    differentiable (wrap it in `custom_jvp`)."""
    if vmap_method not in _cb.VMAP_METHODS:
        raise InvalidArgumentError(
            f"pure_callback: vmap_method must be one of {_cb.VMAP_METHODS[1:]} or None, "
            f"got {vmap_method!r}")
    return call_with_results(_cb.pure_callback, "pure_callback", callback,
                             result_shape_dtypes, args, kwargs, vmap_method=vmap_method)


def io_callback(callback, result_shape, *args, sharding=None, ordered=False, **kwargs):
    """Like `pure_callback`, for a function with side effects: it is called every time the
    program runs (never dropped or merged); under `vmap`, once per batch element."""
    return call_with_results(_cb.host_callback, "io_callback", callback, result_shape,
                             args, kwargs, ordered=bool(ordered))
