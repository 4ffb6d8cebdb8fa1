"""Memory (RSS) of many distinct compiles and of many cached calls.

    python benchmarks/memory_growth.py [--compiles 2000] [--calls 100000] [--cap-mib 16]

Rows, each a least-squares slope of RSS (after `gc.collect()`) sampled along the run:
- filling the machine code cache: RSS per program kept in memory (the cache is capped at
  `--cap-mib` so that it fills quickly; the default cap is 128 MiB);
- `--compiles` distinct programs after the cache is full, each from a new jitted function
  (dropped after one call): what is left per compile once everything it made is evicted;
- one jitted function with a static argument taking `--compiles` values: its own cache keeps
  `jit.MAX_SPECIALIZATIONS`, past which it evicts too;
- `--calls` cached calls of one jitted function (small outputs), and a tenth as many with
  outputs of 1 MiB from the memory pool (run on threads): per 1,000 calls.
The persistent cache is off (`cache=0`): every compile runs LLVM.
"""
import argparse
import gc
import importlib
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config  # noqa: E402
from xla_like.backends import cpu  # noqa: E402
from xla_like.backends.llvm import native as llvm_native

jit_module = importlib.import_module("jitcore.jit")   # `jitcore.jit` is also the function
KiB = 1024
X = np.linspace(-1.0, 1.0, 8)


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def slope(samples):
    x = np.array([s for s, _ in samples], float)
    y = np.array([r for _, r in samples], float)
    return float(np.polyfit(x, y, 1)[0])


def measured(n, step, every):
    """RSS slope (bytes per step) over `n` calls of `step(k)`, sampled every `every`."""
    samples = [(0, rss())]
    t0 = time.perf_counter()
    for k in range(n):
        step(k)
        if (k + 1) % every == 0:
            samples.append((k + 1, rss()))
    return slope(samples), (time.perf_counter() - t0) / n


def new_function_program(k):
    c = 1.0 + k / 4096
    jc.jit(lambda a: a * c + 1.0)(X)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compiles", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--cap-mib", type=int, default=16)
    args = ap.parse_args()
    rows = []
    with config.override(cache=0, memory_cache_max_bytes=args.cap_mib << 20):
        cache = cpu._machine_cache
        cache.clear()
        for k in range(20):     # LLVM, the BLAS, malloc arenas: first-use costs
            new_function_program(-1 - k)
        cache.clear()
        samples, k = [(0, rss())], 0
        while cache.evictions == 0:
            new_function_program(k)
            k += 1
            if k % 20 == 0:
                samples.append((k, rss()))
        entries = len(cache)
        rows.append(("filling the machine code cache", slope(samples) / KiB, "KiB per program",
                     f"{entries} programs, {cache.nbytes / entries / KiB:.0f} KiB each "
                     "accounted"))
        offset = k
        per, secs = measured(args.compiles, lambda j: new_function_program(offset + j), 50)
        rows.append((f"{args.compiles} distinct compiles, cache full", per / KiB,
                     "KiB per compile", f"{secs * 1e3:.1f} ms per compile; "
                     f"{llvm_native.live_engines()} engines live, {len(cache)} cached"))

        f = jc.jit(lambda a, n: a * n + 1.0, static_argnums=1)
        cap = jit_module.MAX_SPECIALIZATIONS
        for n in range(cap + 50):
            f(X, n)
        per, secs = measured(args.compiles, lambda j: f(X, cap + 50 + j), 50)
        rows.append((f"one function, {args.compiles} static values", per / KiB,
                     "KiB per compile", f"keeps {len(f._cache)} specializations; "
                     f"{llvm_native.live_engines()} engines live"))
        del f

    g = jc.jit(lambda a, b: (a * b + 1.0, jnp.sum(a)))
    x, y = np.ones(64), jnp.asarray(np.ones(64))
    for _ in range(5000):
        g(x, y)
    per, secs = measured(args.calls, lambda j: g(x, y), args.calls // 20)
    rows.append((f"{args.calls} cached calls", per * 1000 / KiB, "KiB per 1k calls",
                 f"{secs * 1e6:.1f} us per call"))
    h = jc.jit(lambda a: jnp.tanh(a) * 2.0)
    big = np.linspace(-2.0, 2.0, 1 << 17)
    for _ in range(200):
        h(big)
    n = max(args.calls // 10, 20)
    per, secs = measured(n, lambda j: h(big), n // 20)
    rows.append((f"{n} cached calls, 1 MiB outputs", per * 1000 / KiB, "KiB per 1k calls",
                 f"{secs * 1e6:.1f} us per call"))

    width = max(len(r[0]) for r in rows)
    print(f"{'run':<{width}}  {'RSS slope':>10}  unit              notes")
    for name, value, unit, notes in rows:
        print(f"{name:<{width}}  {value:>10.2f}  {unit:<16}  {notes}")


if __name__ == "__main__":
    main()
