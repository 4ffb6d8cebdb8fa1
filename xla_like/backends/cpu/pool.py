"""The CPU backend's worker threads: large segments run their shares on several threads.

A segment function `seg(buffers, externs, tid, nthreads, counter)` (see `cpu.py`) computes
thread `tid`'s share of each kernel and waits at a barrier between kernels, so all `nthreads`
shares of one call must run at the same time. One call owns the workers at a time: shares of
two calls interleaved on the same workers could deadlock at a barrier (worker 1 waiting in
call A while worker 2 runs call B's share, and call B's barrier needs worker 1). A call that
finds the workers busy runs its segment alone with `nthreads=1` (every share, no barriers),
which keeps the cores as busy as the workers would.

Most segments claim their shares at run time (`cpu.claims`): a running thread takes its own
share of the current stretch, then any share nobody has started, so the calling thread never
waits for a worker that has not started (a loaded machine may keep it off a core for a whole
time slice) and returns as soon as every share is done. Such a call gets a barrier block of its own, kept
alive by the task a late worker still holds: that worker finds every stretch done and
returns without touching the call's buffers. Segments with loops keep static shares
(thread `tid` runs share `tid`) and wait for every worker.

The workers are native loops (`cpu.workers`): a worker never takes Python's GIL, which a
descheduled worker would otherwise hold while the calling thread waits for it. A late worker
still running an earlier claimed call is simply not given the next one's shares (claimed) or
waited for first (static). Where futexes are missing (not Linux) the workers are Python
threads blocking on queues.

Nothing spins once a call returns: idle workers sleep on a futex (or their queue's lock),
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
    [arrivals (or shares done), address of `syscall` (0: spin only), SYS_futex, "a thread
    slept" flag, shares claimed (`cpu.claims`)]. The
    flag lets the last arrival skip the wake-up system call when every thread only spun: a
    sleeper sets it before its last look at the count, so either it sees the last arrival or
    the last arrival sees the flag (both sequentially consistent)."""
    block = (ctypes.c_int64 * 5)()
    block[1], block[2] = _SYSCALL, _FUTEX
    return block


def reset_barrier(block):
    """Before each threaded segment run: no arrivals, nobody slept, nothing claimed."""
    block[0] = 0
    block[3] = 0
    block[4] = 0


def _address(x) -> int:
    return ctypes.cast(x, ctypes.c_void_p).value or 0


def _native():
    """`cpu.workers`' routines, or None where the workers stay Python threads."""
    if not _SYSCALL:
        return None
    try:
        from . import workers
        return workers.routines()
    except Exception:  # noqa: BLE001 - no LLVM JIT here: Python workers still work
        return None


class ThreadPool:
    """`size - 1` workers; the calling thread is thread 0."""

    def __init__(self, size, native=True):
        self.size = 1
        self._owner = threading.Lock()
        self._native = _native() if native else None
        self._tasks = []      # Python workers: their queues
        self._boxes = []      # native workers: their mailboxes (`cpu.workers`)
        self._alive = []      # what a native worker's last task points at
        self._workers = []    # the threads
        self.grow(size)

    def grow(self, size):
        """Add workers up to `size` threads (`num_threads` went up since the pool started).
        Callers hold `_instance_lock`; a running call only uses the workers it counted."""
        for k in range(self.size - 1, size - 1):
            if self._native is not None:
                from .workers import BOX
                box = (ctypes.c_int64 * BOX)()
                box[8], box[9] = _SYSCALL, _FUTEX
                self._boxes.append(box)
                self._alive.append([None, None])   # per mailbox slot
                target, args = self._native[0], (box,)
            else:
                self._tasks.append(queue.SimpleQueue())
                target, args = self._work, (k,)
            worker = threading.Thread(target=target, args=args, daemon=True,
                                      name=f"jitcore-cpu-{k + 1}")
            worker.start()
            self._workers.append(worker)
        self.size = max(self.size, size)

    def close(self):
        """Stop this pool's workers once every task posted to them is done, and wait for their
        threads to end. The process's pool lives as long as the process; a pool made apart
        from it (a test's) must be closed before it is dropped: a late worker's task reads the
        barrier block and tables this object keeps alive (`_alive`, the task tuples)."""
        with self._owner:
            if self.size == 1:
                return                              # closed already, or never had workers
            if self._native is not None:
                post = self._native[1]
                for box in self._boxes:
                    post(box, 0, 0, 0, 0, 0, 0)     # no function: `jc_worker` returns
            else:
                for tasks in self._tasks:
                    tasks.put(None)
            for worker in self._workers:           # (each ends after its tasks before)
                worker.join()
            self.size = 1
            self._boxes, self._tasks, self._alive = [], [], []

    def _work(self, k):
        tasks = self._tasks[k]
        while True:
            task = tasks.get()
            if task is None:
                return
            fn, ptrs, externs, tid, nthreads, counter, done, _alive = task
            try:
                fn(ptrs, externs, tid, nthreads, counter)
            finally:
                if done is not None:
                    done.put(tid)

    def try_run(self, fn, ptrs, externs, nthreads, counter, claims=False, keep=None) -> bool:
        """Run `fn` on `nthreads` (<= size) threads and return True once every share is done;
        return False at once, having run nothing, if another call holds the workers.
        `claims`: `fn` claims its shares (`cpu.claims`), this many a thread (it is called with
        `nthreads * claims` as its share count); `counter` is then unused, the call making a
        block of its own, and it does not wait for the workers to return: a late worker's
        task holds the block, the tables and `keep` (what owns `fn`'s code)."""
        if not self._owner.acquire(blocking=False):
            return False
        block = None
        if claims:
            block = barrier_block()
            counter = ctypes.addressof(block)
        shares = nthreads * int(claims) if claims else nthreads
        try:
            if self._native is not None:
                self._run_native(fn, ptrs, externs, nthreads, shares, counter, claims,
                                 (block, ptrs, externs, keep, fn))
            else:
                self._run_python(fn, ptrs, externs, nthreads, shares, counter, claims,
                                 (block, keep))
        finally:
            self._owner.release()
        return True

    def _run_native(self, fn, ptrs, externs, nthreads, shares, counter, claims, alive):
        _, post, wait_done = self._native
        args = [_address(fn), _address(ptrs), _address(externs), 0, shares,
                _address(counter)]
        posted = []
        try:
            for k in range(nthreads - 1):
                box = self._boxes[k]
                if box[0] - box[1] > 1:   # two tasks of earlier claimed calls unfinished
                    if claims:
                        continue          # the shares go to the threads that are here
                    wait_done(box, box[0] - 1)
                # (a late worker finishes its earlier task, finding every share taken, then
                # joins this one; it may read these until its slot's next task)
                self._alive[k][(box[0] + 1) % 2] = alive
                args[3] = k + 1
                post(box, *args)
                posted.append(box)
            fn(ptrs, externs, 0, shares, counter)
        finally:
            # Whatever happened here, the caller's buffers must outlive every share handed
            # out: with static shares, until every worker is done; with claimed shares they
            # are (`fn` returned once every share was done; a late worker reads its block).
            if not claims:
                for box in posted:
                    wait_done(box, box[0])

    def _run_python(self, fn, ptrs, externs, nthreads, shares, counter, claims, alive):
        done = None if claims else queue.SimpleQueue()   # this call's completions only
        handed = 0
        try:
            for tid in range(1, nthreads):
                self._tasks[tid - 1].put((fn, ptrs, externs, tid, shares, counter, done,
                                          alive))
                handed += 1
            fn(ptrs, externs, 0, shares, counter)
        finally:
            for _ in range(handed if done is not None else 0):
                done.get()


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


def _after_fork_in_child():
    """A forked child has none of the parent's worker threads: it starts a pool of its own."""
    global _instance, _instance_lock
    _instance = None
    _instance_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
