"""A progress line for long compiles: one line on stderr, rewritten in place with `\\r`.

    with progress.report("LLVM", total=len(units)) as bar:
        for u in units:
            compile(u)
            bar.advance()

Nothing shows for work that ends within the `progress_after_ms` setting (1 s), nor unless the
`progress` setting asks for it (`auto`: when stderr is a terminal; `1`: always; `0`: never).
A cached call never compiles, so it never reaches a report. Once the threshold passes, a
timer thread redraws the line a few times a second, whether or not a unit finished (one unit
may compile for seconds), and the last draw ends the line so later output starts on its own.
`advance` may be called from any thread.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time

from .settings import settings

REDRAW_S = 0.25
# One line at a time on stderr: two compiles on two threads would interleave their `\r`s.
_draw_lock = threading.Lock()


def wanted() -> bool:
    """Does the `progress` setting ask for the line here?"""
    mode = str(settings.progress).strip().lower()
    if mode in ("0", "off", "no", "false"):
        return False
    if mode in ("1", "on", "yes", "true"):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):   # replaced, or closed
        return False


class Reporter:
    """Counts the units done of `total` for `stage`; a timer thread draws the line once
    `after_s` passed, and again every `REDRAW_S` until `close`."""

    def __init__(self, stage: str, total: int, after_s: float):
        self.stage = stage
        self.total = total
        self.done = 0
        self.start = time.perf_counter()
        self.after_s = after_s
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._drawn = False
        self._width = 0
        self._thread = threading.Thread(target=self._run, args=(after_s,), daemon=True,
                                        name="jitcore-progress")
        self._thread.start()

    def advance(self, n: int = 1):
        with self._lock:
            self.done += n

    def line(self) -> str:
        with self._lock:
            done = self.done
        return (f"jitcore: {self.stage}: {done}/{self.total} units, "
                f"{time.perf_counter() - self.start:.1f} s")

    def _run(self, after_s):
        if self._closed.wait(after_s):
            return
        while not self._closed.wait(0 if not self._drawn else REDRAW_S):
            self._draw(end="")

    def _draw(self, end):
        text = self.line()
        with _draw_lock:
            # Pad over a longer earlier line, then return to the line's start.
            pad = " " * max(self._width - len(text), 0)
            self._width = len(text)
            try:
                sys.stderr.write("\r" + text + pad + end)
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass
            self._drawn = True

    def close(self):
        self._closed.set()
        self._thread.join()
        # Work that outlasted the threshold ends with its line even if the timer thread had
        # not drawn yet (it may not have been scheduled).
        if self._drawn or time.perf_counter() - self.start >= self.after_s:
            self._draw(end="\n")


class _Silent:
    """What `report` yields when no line is wanted: counting costs nothing."""

    def advance(self, n: int = 1):
        pass


@contextlib.contextmanager
def report(stage: str, total: int):
    """A `Reporter` for `total` units of `stage` (one that draws nothing when the setting
    says no, or there is at most nothing to count)."""
    if total < 1 or not wanted():
        yield _Silent()
        return
    bar = Reporter(stage, total, max(settings.progress_after_ms, 0) / 1e3)
    try:
        yield bar
    finally:
        bar.close()
