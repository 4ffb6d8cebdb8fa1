"""Value and error cases for the windowed reductions `reduce_window_sum/max/min`.

References are loops over output positions and window offsets (`tests/windows/reference.py`)
in float64 or exact integers; tests/windows/ covers many more parameter combinations, the
derivatives, batching and the lowering.
"""
from __future__ import annotations

import numpy as np

from ops.errors import DtypeError, ShapeError
from tests.ops.primitive_cases_elementwise import F32, F64, Bad, Case
from tests.windows.reference import primitive_ref

I32, BOOL = np.dtype("int32"), np.dtype("bool")


def _params(wd, ws, pads, bd=None, wdil=None):
    nd = len(wd)
    return dict(window_dimensions=tuple(wd), window_strides=tuple(ws), padding=tuple(pads),
                base_dilation=tuple(bd or (1,) * nd), window_dilation=tuple(wdil or (1,) * nd))


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-50, 50, shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _case(kind, shape, dtype, wd, ws, pads, bd=None, wdil=None, label=""):
    p = _params(wd, ws, pads, bd, wdil)
    tol = 3e-6 if np.dtype(dtype) == F32 else 1e-13
    return Case(f"reduce_window_{kind}", (_data(shape, dtype),), p,
                primitive_ref(kind, wd, ws, pads, bd, wdil), rtol=tol, atol=tol,
                label=label or f"{np.dtype(dtype)}-{'x'.join(map(str, wd))}",
                signed_zero=False)


VALUE_CASES = []
for _kind in ("sum", "max", "min"):
    VALUE_CASES += [
        _case(_kind, (2, 6, 7, 3), F64, (1, 2, 2, 1), (1, 2, 2, 1), ((0, 0),) * 4,
              label="nhwc-2x2-s2"),
        _case(_kind, (2, 3, 7, 6), F32, (1, 1, 3, 3), (1, 1, 1, 2),
              ((0, 0), (0, 0), (1, 1), (1, 1)), label="nchw-3x3-same"),
        _case(_kind, (9,), F64, (3,), (2,), ((2, 1),), (2,), (2,), label="dilated"),
        _case(_kind, (4, 5), I32, (2, 3), (1, 2), ((1, 0), (0, 2)), label="i32"),
        _case(_kind, (3,), F64, (5,), (1,), ((0, 0),), label="empty"),
    ]
VALUE_CASES += [
    _case("max", (5, 4), BOOL, (2, 2), (1, 1), ((1, 0), (0, 1)), label="bool"),
    _case("min", (5, 4), BOOL, (2, 2), (1, 1), ((1, 0), (0, 1)), label="bool"),
    _case("sum", (6, 5), F64, (2, 2), (2, 1), ((-1, 0), (0, -1)), label="negative_padding"),
]

_P2 = _params((2, 2), (1, 1), ((0, 0), (0, 0)))
ERROR_CASES = [
    Bad("reduce_window_sum", (np.ones((3, 3)),), _params((2,), (1,), ((0, 0),)), ShapeError,
        "window_dimensions"),
    Bad("reduce_window_max", (np.ones((3, 3)),), _params((0, 2), (1, 1), ((0, 0),) * 2),
        ShapeError, "window_dimensions"),
    Bad("reduce_window_min", (np.ones((3, 3)),), _params((2, 2), (0, 1), ((0, 0),) * 2),
        ShapeError, "window_strides"),
    Bad("reduce_window_max", (np.ones((3, 3), np.complex128),), _P2, DtypeError, "c128"),
    Bad("reduce_window_sum", (np.ones((3, 3), bool),), _P2, DtypeError, "pred"),
    Bad("reduce_window_min", (np.ones((3, 3)),), dict(_P2, padding=((0, 0),)), ShapeError,
        "padding"),
]
