"""Output memory: large results reuse freed buffers instead of fresh pages.

A freshly allocated large array page-faults on first touch, which costs as much as the kernel
writing it. The pool keeps large buffers it handed out; one is free again when nothing but the
pool refers to it (no Array, no NumPy view of it is alive), which `sys.getrefcount` tells.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

POOLED_BYTES = 1 << 20       # smaller outputs come straight from np.empty (no page faults)
MAX_PER_SIZE = 4
_lock = threading.Lock()
_pool: dict[int, list] = {}


def empty(shape, dtype):
    """An uninitialized C-contiguous array, from the pool when large."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if nbytes < POOLED_BYTES:
        return np.empty(shape, dtype)
    with _lock:
        bucket = _pool.setdefault(nbytes, [])
        for buf in bucket:
            # Referenced only by the bucket list, this loop and getrefcount's argument.
            if sys.getrefcount(buf) <= 3:
                return buf.view(dtype).reshape(shape)
        buf = np.empty(nbytes, np.uint8)
        if len(bucket) < MAX_PER_SIZE:
            bucket.append(buf)
        return buf.view(dtype).reshape(shape)


def clear():
    with _lock:
        _pool.clear()
