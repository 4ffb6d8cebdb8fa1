"""Error cases for the collectives (`psum`, `all_gather`, `axis_index`...): outside a
`vmap(..., axis_name=)` that binds their axis, the shape rule refuses them. Their values exist
only under vmap, so tests/test_collectives.py checks them there against NumPy."""
from __future__ import annotations

import numpy as np

from ops.collectives import UnboundAxisNameError
from tests.ops.primitive_cases_elementwise import Bad

_X = np.arange(6.0).reshape(3, 2)
_NEEDLE = "unbound axis name: i"

VALUE_CASES = []
ERROR_CASES = [
    Bad("psum", (_X,), {"axis_name": ("i",)}, UnboundAxisNameError, _NEEDLE),
    Bad("pmax", (_X,), {"axis_name": ("i",)}, UnboundAxisNameError, _NEEDLE),
    Bad("pmin", (_X,), {"axis_name": ("i",)}, UnboundAxisNameError, _NEEDLE),
    Bad("all_gather", (_X,), {"axis_name": "i", "axis": 0, "tiled": False, "axis_size": 3},
        UnboundAxisNameError, _NEEDLE),
    Bad("psum_scatter", (_X,), {"axis_name": "i", "scatter_dimension": 0, "tiled": False,
                                "axis_size": 3}, UnboundAxisNameError, _NEEDLE),
    Bad("axis_index", (), {"axis_name": "i"}, UnboundAxisNameError, _NEEDLE),
]
