"""Buffer assignment: where each temporary lives in one workspace, reusing dead space.

Temporaries (values a program materializes but does not return) are laid out in a single
workspace allocated once per compiled program, so steady-state calls allocate nothing for
them. Two temporaries share bytes only if their live ranges (first write, last read, in step
order) do not overlap.
"""
from __future__ import annotations

ALIGN = 64


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def assign_offsets(temps):
    """`temps`: list of (key, nbytes, first_step, last_step). Returns ({key: offset}, total).

    Greedy by step: when a temporary is born, put it at the lowest offset where no live
    temporary overlaps it (first fit)."""
    offsets, live = {}, []
    total = 0
    for key, nbytes, first, last in sorted(temps, key=lambda t: (t[2], -t[1])):
        live = [t for t in live if t[3] >= first]  # drop the ones dead before this step
        size = _align(max(nbytes, 1))
        candidate = 0
        for off, sz in sorted((o, s) for o, s, _, _ in live):
            if candidate + size <= off:
                break
            candidate = max(candidate, off + sz)
        offsets[key] = candidate
        live.append((candidate, size, first, last))
        total = max(total, candidate + size)
    return offsets, total
