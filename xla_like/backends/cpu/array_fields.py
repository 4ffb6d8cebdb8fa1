"""Where a NumPy array object keeps its strides, for native code reading them from the
object (`cpu.executable` passes segments `id(array)` for parameters and outputs; its data
pointer is read the same way, `executable.DATA_OFFSET`).

A bucketed program may read a parameter dynamic along a later axis straight from the caller's
array, whose rows are its true length apart rather than the capacity's
(`cpu.prefix_inputs.strided_inputs`): the kernels reading it take the row strides as run-time
values, read from the array they are handed, so the same code serves a padded copy too.
"""
from __future__ import annotations

import ctypes

import numpy as np

from .executable import DATA_OFFSET


def _find_strides_offset():
    """The offset of the `npy_intp *strides` field (after data, nd and dimensions in every
    release build), checked on a probe whose strides and dimensions are distinctive; None
    if it is not there (then no parameter is read with run-time strides)."""
    if DATA_OFFSET is None:
        return None
    probe = np.zeros((7, 11, 13))
    for off in (DATA_OFFSET + 24,):
        ptr = ctypes.c_void_p.from_address(id(probe) + off).value
        dims = ctypes.c_void_p.from_address(id(probe) + off - 8).value
        if not ptr or not dims:
            continue
        got = tuple((ctypes.c_int64 * 3).from_address(ptr))
        shape = tuple((ctypes.c_int64 * 3).from_address(dims))
        if got == probe.strides and shape == probe.shape:
            return off
    return None


STRIDES_OFFSET = _find_strides_offset()
