"""Buffer assignment: where each temporary lives in one workspace, reusing dead space.

Temporaries (values a program materializes but does not return) are laid out in a single
workspace allocated once per compiled program, so steady-state calls allocate nothing for
them. Two temporaries share bytes only if their live ranges (first write, last read, in step
order) do not overlap.
"""
from __future__ import annotations

import bisect
import heapq

ALIGN = 64


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def assign_offsets(temps):
    """`temps`: list of (key, nbytes, first_step, last_step). Returns ({key: offset}, total).

    Greedy by step: when a temporary is born, the bytes of those dead before its first step
    are free again, and it takes the smallest free gap that holds it (the lowest of equal
    ones), else the space above everything live (best fit). The gaps are kept sorted by
    length, so each placement costs a binary search however many temporaries are alive: a
    deep program keeps thousands alive at once (the forward values its gradient reads
    back), with many small gaps between them that a large temporary must not walk past."""
    gaps = _Gaps()
    offsets = {}
    total = 0
    dying = []   # (last step, offset, size) of the live temporaries
    for key, nbytes, first, last in sorted(temps, key=lambda t: (t[2], -t[1])):
        while dying and dying[0][0] < first:
            _, off, size = heapq.heappop(dying)
            gaps.free(off, off + size)
        size = _align(max(nbytes, 1))
        off = gaps.take(size)
        offsets[key] = off
        heapq.heappush(dying, (last, off, size))
        total = max(total, off + size)
    return offsets, total


class _Gaps:
    """The free bytes of a workspace: gaps below `top`, and everything from `top` up."""

    def __init__(self):
        self.top = 0
        self.by_length = []   # (length, start) of each gap, sorted
        self.end_of = {}      # gap start -> its end
        self.start_of = {}    # gap end -> its start

    def take(self, size):
        """The offset of `size` bytes: the best-fitting gap's start, else the top."""
        k = bisect.bisect_left(self.by_length, (size, -1))
        if k == len(self.by_length):
            off = self.top
            self.top += size
            return off
        length, start = self.by_length[k]
        self._remove(start)
        if length > size:
            self._add(start + size, start + length)
        return start

    def free(self, lo, hi):
        """Give back [lo, hi), merged with the gaps (or the top) it touches."""
        if hi in self.end_of:
            hi_end = self.end_of[hi]
            self._remove(hi)
            hi = hi_end
        if lo in self.start_of:
            lo_start = self.start_of[lo]
            self._remove(lo_start)
            lo = lo_start
        if hi == self.top:
            self.top = lo
        else:
            self._add(lo, hi)

    def _add(self, start, end):
        bisect.insort(self.by_length, (end - start, start))
        self.end_of[start] = end
        self.start_of[end] = start

    def _remove(self, start):
        end = self.end_of.pop(start)
        del self.start_of[end]
        del self.by_length[bisect.bisect_left(self.by_length, (end - start, start))]
