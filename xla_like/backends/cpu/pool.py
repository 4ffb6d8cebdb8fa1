"""The CPU backend's worker threads: large segments run one share per thread.

A segment function `seg(buffers, externs, tid, nthreads, counter)` (see `cpu.py`) computes
thread `tid`'s share of each kernel and waits at a barrier between kernels, so all `nthreads`
shares of one call must run at the same time. One call owns the workers at a time: shares of
two calls interleaved on the same workers could deadlock at a barrier (worker 1 waiting in
call A while worker 2 runs call B's share, and call B's barrier needs worker 1). A call that
finds the workers busy runs its segment alone with `nthreads=1` (every share, no barriers),
which keeps the cores as busy as the workers would.
"""
from __future__ import annotations

import os
import queue
import threading

from ...settings import settings

_DEFAULT_THREADS = max(1, min(os.cpu_count() or 1, 8))


def threads() -> int:
    """Threads large kernels split over, as the calling thread's settings say: `num_threads`,
    else (0) the cores, at most 8."""
    n = settings.num_threads
    return max(1, int(n)) if n else _DEFAULT_THREADS


class ThreadPool:
    """`size - 1` workers; the calling thread runs share 0."""

    def __init__(self, size):
        self.size = size
        self._owner = threading.Lock()
        self._tasks = [queue.SimpleQueue() for _ in range(size - 1)]
        for k in range(size - 1):
            threading.Thread(target=self._work, args=(k,), daemon=True,
                             name=f"jitcore-cpu-{k + 1}").start()

    def grow(self, size):
        """Add workers up to `size` threads (`num_threads` went up since the pool started).
        Callers hold `_instance_lock`; a running call only uses the workers it counted."""
        for k in range(len(self._tasks), size - 1):
            self._tasks.append(queue.SimpleQueue())
            threading.Thread(target=self._work, args=(k,), daemon=True,
                             name=f"jitcore-cpu-{k + 1}").start()
        self.size = max(self.size, size)

    def _work(self, k):
        tasks = self._tasks[k]
        while True:
            fn, ptrs, externs, tid, nthreads, counter, done = tasks.get()
            try:
                fn(ptrs, externs, tid, nthreads, counter)
            finally:
                done.put(tid)

    def try_run(self, fn, ptrs, externs, nthreads, counter) -> bool:
        """Run `fn` on `nthreads` (<= size) threads and return True once every share is done;
        return False at once, having run nothing, if another call holds the workers."""
        if not self._owner.acquire(blocking=False):
            return False
        done = queue.SimpleQueue()   # this call's completions only
        handed = 0
        try:
            for tid in range(1, nthreads):
                self._tasks[tid - 1].put((fn, ptrs, externs, tid, nthreads, counter, done))
                handed += 1
            fn(ptrs, externs, 0, nthreads, counter)
        finally:
            # Whatever happened here, the caller's buffers must outlive every share handed out.
            for _ in range(handed):
                done.get()
            self._owner.release()
        return True


_instance = None
_instance_lock = threading.Lock()


def pool(size: int | None = None) -> ThreadPool:
    """The process's pool with at least `size` threads (default `threads()`): started at its
    first use, grown when a call asks for more."""
    global _instance
    size = threads() if size is None else size
    found = _instance
    if found is None or found.size < size:
        with _instance_lock:
            if _instance is None:
                _instance = ThreadPool(size)
            elif _instance.size < size:
                _instance.grow(size)
            found = _instance
    return found
