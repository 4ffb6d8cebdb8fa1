"""What tracing costs a call: the timed build (two cycle-counter reads around each kernel on
each thread, `jitcore.profiler`) against the plain build, side by side.

    python benchmarks/profiler_overhead.py [--rounds 10] [--calls 5] [--quick]
                                           [--trace FILE] [--out FILE]

Cases from `workloads_cases.py`: row 3's transformer block gradient (37 kernels), the MLP
step of row 1, GELU + layer norm of row 9. Rounds are interleaved: each round times every case
plain, then inside a running trace (best of `--calls` each). The table gives min / median per
call and the median overhead. `--trace FILE` also writes the trace of three annotated calls of
the transformer gradient (a `.json.gz` Perfetto opens) after the measurement.
Times are `median (min)` in ms.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
from jitcore import lax, numpy as jnp, profiler, tree_util  # noqa: E402

import workloads_cases as wc  # noqa: E402
from machine import cpu_model, emit_table, fmt_ms, run_with_default_out  # noqa: E402

CASES = (("tf", "transformer block grad (row 3)"), ("mlp1", "MLP 784-512-512-10 step"),
         ("gelu_ln", "GELU + layer norm 4096x1024"))


def build(case, quick):
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(wc.source(case, quick), "<workload>", "exec"), ns)
    return jitcore.jit(ns["fn"]), tuple(ns["inputs"](0))


def best(fn, args, calls):
    out = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        tree_util.tree_map(np.asarray, fn(*args))
        out = min(out, time.perf_counter() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trace", help="write the transformer gradient's trace here")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    built = {c: build(c, args.quick) for c, _ in CASES}
    scratch = tempfile.mkdtemp(prefix="jitcore-prof-")
    with profiler.trace(os.path.join(scratch, "warm.json")):   # compiles the timed builds
        for fn, xs in built.values():
            fn(*xs)
    times = {(c, m): [] for c, _ in CASES for m in ("plain", "traced")}
    for r in range(args.rounds):
        for c, _ in CASES:
            fn, xs = built[c]
            times[c, "plain"].append(best(fn, xs, args.calls))
            with profiler.trace(os.path.join(scratch, f"r{r}.json")):
                times[c, "traced"].append(best(fn, xs, args.calls))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [f"# Profiler overhead ({cpu_model()}, {os.cpu_count()} cores, "
             f"{datetime.date.today()})", "",
             f"{args.rounds} interleaved rounds, best of {args.calls} calls each"
             f"{', quick sizes' if args.quick else ''}; median (min) ms per call. Load average "
             f"at the end (1, 5, 15 min): {load}.", "",
             "| case | plain | traced (timed build) | overhead (medians) |",
             "| --- | --- | --- | --- |"]
    for c, label in CASES:
        p, t = times[c, "plain"], times[c, "traced"]
        mp, mt = statistics.median(p), statistics.median(t)
        lines.append(f"| {label} | {fmt_ms(p)} | {fmt_ms(t)} | {100 * (mt / mp - 1):+.1f}% |")
    if args.trace:
        fn, xs = built["tf"]
        with profiler.trace(args.trace):
            for step in range(3):
                with profiler.StepTraceAnnotation("transformer grad", step_num=step):
                    tree_util.tree_map(np.asarray, fn(*xs))
        lines += ["", f"Trace of three calls of the transformer gradient: `{args.trace}`"]
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "profiler_overhead")
