"""Threads for the NumPy steps that run on the host (sort, cumulative scans): NumPy's sorts
and ufunc loops release the GIL, so independent slices of one step run at once."""
from __future__ import annotations

import os

PARALLEL_MIN = 1 << 16   # elements; below this one thread is faster than the hand-off
_pool = []


def threads_for(n: int, size: int) -> int:
    """Threads worth using for `n` independent parts of `size` elements in all."""
    if size < PARALLEL_MIN:
        return 1
    return max(1, min(os.cpu_count() or 1, 8, n))


def run_parts(work, n: int, size: int) -> None:
    """`work(lo, hi)` over [0, n) cut into contiguous parts, one per thread; returns when all
    are done (an exception in a part is raised here)."""
    threads = threads_for(n, size)
    if threads < 2:
        work(0, n)
        return
    if not _pool:
        from concurrent.futures import ThreadPoolExecutor
        _pool.append(ThreadPoolExecutor(8, thread_name_prefix="jitcore-host"))
    step = -(-n // threads)
    jobs = [_pool[0].submit(work, lo, min(lo + step, n)) for lo in range(step, n, step)]
    work(0, min(step, n))        # the calling thread takes the first part
    for j in jobs:
        j.result()
