"""The MLP SGD step of `workloads.py` row 1, compiled with the threaded-segment changes switched
on one by one, the variants called in turn in one process so that each sees the same load.

    python benchmarks/mlp_variants.py [--seconds 30] [--busy N]

Variants: before (a barrier after every step, product and update kernels), barriers only
where threads could race (`cpu.barriers.ELIDE`), + GEMM with beta = 1 for the updates
(`cpu.gemm_update.ENABLED`). Each is its own jitted copy of the step (a distinct function
name, so a distinct program), compiled with the flags it names. Prints ms min / median /
mean over the calls of each.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

# The variants differ in flags the persistent cache's key does not see: compile them fresh.
os.environ.setdefault("JITCORE_CACHE", "0")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
import jitcore.nn  # noqa: E402,F401
import jitcore.numpy as jnp  # noqa: E402
from jitcore import lax  # noqa: E402
from xla_like.backends.cpu import barriers, gemm_update  # noqa: E402

import workloads_cases as wc  # noqa: E402
from machine import cpu_model, start_busy, stop_busy  # noqa: E402

VARIANTS = {"before": (0, 0), "barriers": (1, 0), "barriers+gemm": (1, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--busy", type=int, default=0)
    args = ap.parse_args()
    saved = barriers.ELIDE, gemm_update.ENABLED
    fns = {}
    for name, flags in VARIANTS.items():
        fname = "fn_" + name.replace("+", "_")
        src = wc.SOURCES["mlp1"].format(layers=(784, 512, 512, 10), batch=128)
        ns = {"jax": jitcore, "jnp": jnp, "lax": lax, "np": np}
        exec(src.replace("def fn(", f"def {fname}("), ns)
        inputs = ns["inputs"](0)
        barriers.ELIDE, gemm_update.ENABLED = map(bool, flags)
        f = jitcore.jit(ns[fname])
        for _ in range(3):
            f(*inputs)
        fns[name] = f
    procs = start_busy(args.busy) if args.busy else []
    times = {name: [] for name in fns}
    try:
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end:
            for name, f in fns.items():
                t = time.perf_counter()
                f(*inputs)
                times[name].append(time.perf_counter() - t)
    finally:
        stop_busy(procs)
        barriers.ELIDE, gemm_update.ENABLED = saved
    print(f"# MLP 784-512-512-10 b128 SGD step by variant ({cpu_model()}, --busy {args.busy}, "
          f"load average {os.getloadavg()[0]:.1f})\n")
    print("| variant | calls | min / median / mean ms |\n|---|---:|---:|")
    for name, ts in times.items():
        ts = np.sort(ts) * 1e3
        print(f"| {name} | {len(ts)} | {ts[0]:.2f} / {ts[len(ts) // 2]:.2f} / {ts.mean():.2f} |")


if __name__ == "__main__":
    main()
