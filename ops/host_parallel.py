"""Threads for the NumPy steps that run on the host (sort, cumulative scans where a backend
has no native kernel for them, and the interpreter): NumPy's sorts and ufunc loops release
the GIL, so independent slices of one step run at once, on at most `num_threads` threads."""
from __future__ import annotations

import os
import threading

PARALLEL_MIN = 1 << 16   # elements; below this one thread is faster than the hand-off
MAX_THREADS = 8
_pool = []
_pool_lock = threading.Lock()
# `thread_limit() -> int`: the `num_threads` setting as the calling thread sees it (0: the
# cores). `ops` imports nothing above it, so `xla_like.settings` installs it.
thread_limit = None


def threads_for(n: int, size: int) -> int:
    """Threads worth using for `n` independent parts of `size` elements in all: at most the
    `num_threads` setting (else the cores), and at most 8."""
    if size < PARALLEL_MIN:
        return 1
    limit = thread_limit() if thread_limit is not None else 0
    cap = limit if limit > 0 else (os.cpu_count() or 1)
    return max(1, min(cap, MAX_THREADS, n))


def run_parts(work, n: int, size: int) -> None:
    """`work(lo, hi)` over [0, n) cut into contiguous parts, one per thread; returns when all
    are done (an exception in a part is raised here)."""
    threads = threads_for(n, size)
    if threads < 2:
        work(0, n)
        return
    with _pool_lock:
        if not _pool:
            from concurrent.futures import ThreadPoolExecutor
            _pool.append(ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="jitcore-host"))
    step = -(-n // threads)
    jobs = [_pool[0].submit(work, lo, min(lo + step, n)) for lo in range(step, n, step)]
    work(0, min(step, n))        # the calling thread takes the first part
    for j in jobs:
        j.result()
