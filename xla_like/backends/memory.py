"""Output memory: large results reuse freed buffers instead of fresh pages.

A freshly allocated large array page-faults on first touch, which costs as much as the kernel
writing it. The pool keeps large buffers it handed out; one is free again when nothing but the
pool refers to it (no Array, no NumPy view of it is alive), which `sys.getrefcount` tells.
The pool holds at most `MAX_PER_SIZE` buffers of a size and `MAX_POOLED_BYTES` in all: past
that, free buffers of the least recently used sizes go (programs compiled for ever new shapes
would otherwise keep buffers of every size they ever returned).
"""
from __future__ import annotations

import collections
import sys
import threading

import numpy as np

POOLED_BYTES = 1 << 20       # smaller outputs come straight from np.empty (no page faults)
MAX_PER_SIZE = 4
MAX_POOLED_BYTES = 256 << 20
_lock = threading.Lock()
_pool: collections.OrderedDict[int, list] = collections.OrderedDict()  # by size, LRU first
_pooled_bytes = 0


def empty(shape, dtype):
    """An uninitialized C-contiguous array, from the pool when large."""
    global _pooled_bytes
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if nbytes < POOLED_BYTES:
        return np.empty(shape, dtype)
    with _lock:
        bucket = _pool.setdefault(nbytes, [])
        _pool.move_to_end(nbytes)
        for buf in bucket:
            # Referenced only by the bucket list, this loop and getrefcount's argument.
            if sys.getrefcount(buf) <= 3:
                return buf.view(dtype).reshape(shape)
        buf = np.empty(nbytes, np.uint8)
        if len(bucket) < MAX_PER_SIZE and _make_room(nbytes):
            bucket.append(buf)
            _pooled_bytes += nbytes
        elif not bucket:
            del _pool[nbytes]
        return buf.view(dtype).reshape(shape)


def _make_room(nbytes) -> bool:
    """Drop free buffers, least recently used sizes first, until `nbytes` more fit under
    `MAX_POOLED_BYTES`; whether they do. Caller holds `_lock`."""
    global _pooled_bytes
    for size in list(_pool):
        if _pooled_bytes + nbytes <= MAX_POOLED_BYTES:
            break
        bucket = _pool[size]
        in_use = [b for b in bucket if sys.getrefcount(b) > 3]   # as in `empty`
        _pooled_bytes -= (len(bucket) - len(in_use)) * size
        if in_use or size == nbytes:
            bucket[:] = in_use
        else:
            del _pool[size]
    return _pooled_bytes + nbytes <= MAX_POOLED_BYTES


def holds(array: np.ndarray) -> bool:
    """Whether `array` is one of the pool's buffers (the pool then holds a reference to it)."""
    return any(b is array for b in _pool.get(array.nbytes, ()))


def clear():
    global _pooled_bytes
    with _lock:
        _pool.clear()
        _pooled_bytes = 0
