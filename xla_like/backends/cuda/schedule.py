"""Schedules of CUDA kernels: launch and loop choices that change how fast a kernel runs, not
what it computes (up to a reduction's order), read by `cuda.kernels` under the kernel's name.

- `block`: threads per block (0: `blocks.BLOCK`). Every fusion kernel reads its block size at
  run time (grid-stride loops, block trees over `ntid.x`), so any multiple of the warp up to
  1024 computes the same elements; a reduction's tree changes shape, so sums may differ in
  rounding.
- `per_thread`: elements a flat kernel's thread takes at once (0: 16 bytes of its widest
  buffer, `kernels.vector_width`).
- `two_pass`: a long reduction into few results in two kernels (1), one block per result (0),
  or as `kernels.TWO_PASS_MIN` / `TWO_PASS_MAX_ROWS` decide (-1).

The active schedules are a context variable, as the CPU backend's (`cpu.schedule`): each
thread renders with its own, so concurrent compiles never see another's choices.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import asdict, dataclass, fields

MAX_BLOCK = 1024     # threads per block of every CUDA GPU; the block trees' scratch holds 32 warps


@dataclass(frozen=True)
class Schedule:
    block: int = 0
    per_thread: int = 0
    two_pass: int = -1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> "Schedule":
        """A schedule read back from a file: every field an int in its range, or ValueError."""
        names = {f.name for f in fields(cls)}
        if not isinstance(d, dict) or set(d) - names or \
                not all(isinstance(v, int) and not isinstance(v, bool) for v in d.values()):
            raise ValueError(f"not a CUDA schedule: {d!r}")
        s = cls(**d)
        if s.block and (s.block % 32 or not 32 <= s.block <= MAX_BLOCK) or \
                not 0 <= s.per_thread <= 64 or s.two_pass not in (-1, 0, 1):
            raise ValueError(f"CUDA schedule out of range: {d!r}")
        return s

    def with_(self, **changes) -> "Schedule":
        return Schedule(**{**self.to_dict(), **changes})


DEFAULT = Schedule()
_active: contextvars.ContextVar = contextvars.ContextVar("cuda_schedules", default={})


@contextlib.contextmanager
def using(choice):
    """Render with `choice` ({kernel name: Schedule}) in this thread (or task)."""
    token = _active.set(dict(choice or {}))
    try:
        yield
    finally:
        _active.reset(token)


def get(name: str) -> Schedule:
    return _active.get().get(name, DEFAULT)
