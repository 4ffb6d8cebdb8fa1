"""Value and error cases for the callback primitives (`pure_callback`, `host_callback`).

The registered functions compute with NumPy; the references compute the same values written
out independently (a sum of squares by a Python loop, a reversed copy by indexing).
"""
from __future__ import annotations

import numpy as np

from ops.callbacks import CallbackError, register_callback, result_shapes_of
from ops.core import ShapedArray
from tests.ops.primitive_cases_elementwise import F64, Bad, Case

_X = np.array([1.5, -2.0, 0.25, 3.0])
_I = np.array([4, -1, 7], np.int32)


def _sum_squares_and_reverse(x, i):
    return [np.asarray(np.dot(x, x)), np.ascontiguousarray(i[::-1])]


def _ref(x, i):
    return (np.array(sum(v * v for v in x.tolist()), F64), np.array(i.tolist()[::-1], np.int32))


_PARAMS = {"callback": register_callback(_sum_squares_and_reverse),
           "result_shapes": result_shapes_of([ShapedArray((), F64), ShapedArray((3,), np.int32)])}

VALUE_CASES = [
    Case("pure_callback", (_X, _I), dict(_PARAMS, vmap_method=None), _ref, label="f64-s32"),
    Case("host_callback", (_X, _I), dict(_PARAMS, ordered=False), _ref, label="f64-s32"),
]

# Id 0 is never handed out: the shape rule must refuse it.
ERROR_CASES = [
    Bad("pure_callback", (_X,), {"callback": 0, "result_shapes": ()}, CallbackError,
        "no registered"),
    Bad("host_callback", (_X,), {"callback": 0, "result_shapes": ()}, CallbackError,
        "no registered"),
]
