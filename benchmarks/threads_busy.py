"""Threaded segments with claimed shares vs static shares, on a quiet and on a loaded machine.

    python benchmarks/threads_busy.py [--cases mlp1,mlp2,tf] [--busy 0,2] [--rounds 8]
                                      [--calls 20] [--out FILE]

Each case of `workloads_cases.py` (rows 1-3 of `workloads.py`) runs seven ways in this one
process: shares claimed at run time (`cpu.claims`, the default) on the native workers
(`cpu.workers`); claimed with two shares a thread (`claims.SPLIT = 2` while compiling);
static shares (thread `tid` runs share `tid`, `claims.ENABLED = False` while compiling); static
shares on Python workers (`pool.ThreadPool(native=False)`: what jitcore did before both); and
on one thread (`num_threads=1`); and claimed on 3 and 4 threads (more threads than this
machine's 2 cores: more of a loaded machine's time slices, more waiting when quiet). For each `--busy` level (pure-Python busy-loop processes
running meanwhile) rounds are interleaved: every round times every variant in turn (the order
reversed every other round), `--calls` back-to-back calls each, and the table gives min /
median over rounds of the mean call time. Before any timing, each variant's answers are
compared with the claimed ones (largest absolute difference printed).
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
from jitcore import config, lax, numpy as jnp, tree_util  # noqa: E402
from xla_like.backends.cpu import claims, pool  # noqa: E402

import workloads_cases as wc  # noqa: E402
from machine import cpu_model, emit_table, start_busy, stop_busy  # noqa: E402

NAMES = {"mlp1": "MLP 784-512-512-10 b128 SGD step", "mlp2": "MLP 64-128-10 b256 SGD step",
         "tf": "transformer block grad (B8 S128 D256)"}
# name: (claims.ENABLED, claims.SPLIT, threads, native workers)
SETUPS = {"claimed": (True, 1, 2, True), "claimed x2": (True, 2, 2, True),
          "static": (False, 1, 2, True), "static, Python workers": (False, 1, 2, False),
          "1 thread": (True, 1, 1, True), "3 threads": (True, 1, 3, True),
          "4 threads": (True, 1, 4, True)}
VARIANTS = tuple(SETUPS)
_POOLS = {}


def _pool(native):
    if native not in _POOLS:
        _POOLS[native] = pool.ThreadPool(max(t for _, _, t, _ in SETUPS.values()),
                                         native=native)
    return _POOLS[native]


def build(case):
    """{variant: (compiled call, args)}: each variant compiled under its own settings."""
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(wc.source(case, False), f"<{case}>", "exec"), ns)
    args = tuple(ns["inputs"](0))
    out = {}
    for variant in VARIANTS:
        # A wrapper of its own: `jit` wrappers of one function share their compiled entries.
        f = jitcore.jit(lambda *a, fn=ns["fn"]: fn(*a))
        enabled, split, threads, native = SETUPS[variant]
        claims.ENABLED, claims.SPLIT = enabled, split
        try:
            with config.override(num_threads=threads):
                f(*args)     # compile now, under this variant's settings
        finally:
            claims.ENABLED, claims.SPLIT = True, 1
        out[variant] = (f, threads, native)
    return out, args


def leaves(out):
    return [np.asarray(x) for x in tree_util.tree_leaves(out)]


def timed(f, threads, native, args, calls):
    pool._instance = _pool(native)
    with config.override(num_threads=threads):
        t0 = time.perf_counter()
        for _ in range(calls):
            jitcore.block_until_ready(f(*args))
        return (time.perf_counter() - t0) / calls


def fmt(ts):
    return f"{min(ts) * 1e3:.2f} / {statistics.median(ts) * 1e3:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="mlp1,mlp2,tf")
    ap.add_argument("--busy", default="0,2", help="busy-loop process counts, in turn")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    built = {c: build(c) for c in cases}
    for c, (variants, a) in built.items():
        ref = leaves(variants["claimed"][0](*a))
        for v in VARIANTS[1:]:
            f, threads, native = variants[v]
            pool._instance = _pool(native)
            with config.override(num_threads=threads):
                got = leaves(f(*a))
            diff = max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(ref, got))
            print(f"{c}: {v} vs claimed: largest difference {diff:.3g}")
    lines = [f"- date: {datetime.date.today()}; machine: {cpu_model()}, {os.cpu_count()} cores",
             f"- {args.rounds} interleaved rounds of {args.calls} back-to-back calls per "
             f"variant; min / median over rounds of the mean call, ms",
             "- command: python benchmarks/threads_busy.py " + " ".join(argv or sys.argv[1:]),
             "- before / claimed: median of static shares on Python workers (jitcore before "
             "claimed shares and native workers) over the median of the default",
             "", "| case | busy | " + " | ".join(VARIANTS) + " | before / claimed |",
             "|---|---:|" + "---:|" * (len(VARIANTS) + 1)]
    for busy in [int(x) for x in args.busy.split(",")]:
        procs = start_busy(busy)
        try:
            times = {(c, v): [] for c in cases for v in VARIANTS}
            for r in range(args.rounds):
                for c in cases:
                    variants, a = built[c]
                    for v in (VARIANTS if r % 2 else VARIANTS[::-1]):
                        f, threads, native = variants[v]
                        times[c, v].append(timed(f, threads, native, a, args.calls))
                print(f"busy {busy}: round {r + 1}/{args.rounds}", file=sys.stderr)
        finally:
            stop_busy(procs)
        for c in cases:
            t = [times[c, v] for v in VARIANTS]
            before = statistics.median(times[c, "static, Python workers"])
            lines.append(f"| {NAMES.get(c, c)} | {busy} | " + " | ".join(fmt(x) for x in t) +
                         f" | {before / statistics.median(t[0]):.2f} |")
    return emit_table(lines, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
