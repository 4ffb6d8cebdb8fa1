"""The CPU backend's worker threads: large segments run one share per thread.

A segment function `seg(buffers, externs, tid, nthreads, counter)` (see `cpu.py`) computes
thread `tid`'s share of each kernel and waits at a barrier between kernels, so all `nthreads`
shares of one call must run at the same time. One call owns the workers at a time: shares of
two calls interleaved on the same workers could deadlock at a barrier (worker 1 waiting in
call A while worker 2 runs call B's share, and call B's barrier needs worker 1). A call that
finds the workers busy runs its segment alone with `nthreads=1` (every share, no barriers),
which keeps the cores as busy as the workers would.

Nothing spins once a call returns: idle workers block on their queues (a lock, so a futex),
and the barriers between kernels spin only briefly before sleeping on a futex
(`barrier_block`). jitcore's OpenBLAS runs one thread a call: GEMMs are shared out over these
same workers (`cpu.gemm`), so `num_threads` governs them too.
"""
from __future__ import annotations

import ctypes
import os
import platform
import queue
import sys
import threading

from ...settings import settings

_DEFAULT_THREADS = max(1, min(os.cpu_count() or 1, 8))


def threads() -> int:
    """Threads large kernels split over, as the calling thread's settings say: `num_threads`,
    else (0) the cores, at most 8."""
    n = settings.num_threads
    return max(1, int(n)) if n else _DEFAULT_THREADS


# SYS_futex by machine, for Linux; elsewhere the barriers only spin.
_FUTEX_SYSCALL = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}


def _syscall_address() -> tuple[int, int]:
    """(address of libc's `syscall`, SYS_futex), or (0, 0) where the barriers cannot sleep."""
    nr = _FUTEX_SYSCALL.get(platform.machine().lower())
    if not sys.platform.startswith("linux") or nr is None:
        return 0, 0
    try:
        fn = ctypes.CDLL(None).syscall
    except (OSError, AttributeError):
        return 0, 0
    return ctypes.cast(fn, ctypes.c_void_p).value or 0, nr


_SYSCALL, _FUTEX = _syscall_address()


def barrier_block():
    """A call's barrier block, as the segments' barriers read it (`cpu.render._barrier`):
    [arrivals, address of `syscall` (0: spin only), SYS_futex, "a thread slept" flag]. The
    flag lets the last arrival skip the wake-up system call when every thread only spun: a
    sleeper sets it before its last look at the count, so either it sees the last arrival or
    the last arrival sees the flag (both sequentially consistent)."""
    block = (ctypes.c_int64 * 4)()
    block[1], block[2] = _SYSCALL, _FUTEX
    return block


def reset_barrier(block):
    """Before each threaded segment run: no arrivals, nobody slept."""
    block[0] = 0
    block[3] = 0


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
