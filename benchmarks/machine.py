"""Facts about the machine that every benchmark table states."""
from __future__ import annotations

import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def emit_table(lines, out) -> int:
    """Print a result table and, when `out` is a path, write it there; 0 for `main`'s exit."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    return 0


def run_with_default_out(main, name: str):
    """Run `main()` with `--out results/<name>-<today>.md` unless the command line names one."""
    import datetime
    import os
    import sys
    if "--out" not in sys.argv:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.argv += ["--out", os.path.join(here, "results", f"{name}-{datetime.date.today()}.md")]
    raise SystemExit(main())


def seconds(fn, *args) -> float:
    """Wall time of one call, including the result's transfer to NumPy."""
    import time

    import numpy as np
    t0 = time.perf_counter()
    np.asarray(fn(*args))
    return time.perf_counter() - t0


def best_of(fn, args, calls):
    """The fastest of `calls` back-to-back calls of fn(*args), in seconds."""
    import time
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def fmt_ms(ts) -> str:
    """`median (min)` of times in seconds, as milliseconds; "n/a" for none."""
    import statistics
    return f"{statistics.median(ts) * 1e3:.2f} ({min(ts) * 1e3:.2f})" if ts else "n/a"


def jit_source(inputs_src: str, body: str) -> str:
    """Source for `jax_side.JaxSide.define`: `inputs(seed)` plus a `build` jitting `body`."""
    return inputs_src + f"""
def build(seed):
    return jax.jit({body}), inputs(seed)
"""


def _spin():
    while True:
        pass


def start_busy(n: int) -> list:
    """`n` pure-Python busy-loop processes: other load on the machine, for `--busy N`."""
    import multiprocessing
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    return procs


def stop_busy(procs) -> None:
    for p in procs:
        p.terminate()
        p.join()
