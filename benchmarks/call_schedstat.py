"""Where a call's time goes on a loaded machine: CPU time vs time waiting in the run queue.

    python benchmarks/call_schedstat.py [--case mlp1] [--threads 1,2] [--busy 0,2] [--calls 30]

For each `--busy` level (pure-Python busy-loop processes) and thread count, `--calls` calls of
one `workloads_cases.py` case; per call: wall time, the calling thread's CPU time
(`time.thread_time`), the process's CPU time (`time.process_time`), and for every thread of
the process that ran, the growth of `/proc/self/task/TID/schedstat`'s run time and run-queue
wait (Linux). Medians over the calls, ms. If wall ~ CPU + wait and CPU stays what it is on a
quiet machine, a loaded machine costs only scheduling (the threads' share of the cores), not
page faults, allocation or Python work.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
from jitcore import config, lax, numpy as jnp  # noqa: E402

import workloads_cases as wc  # noqa: E402
from machine import cpu_model, start_busy, stop_busy  # noqa: E402


def tids():
    return sorted(int(t) for t in os.listdir("/proc/self/task"))


def schedstat(tid):
    """(ns on a core, ns waiting in the run queue), or (0, 0) once the thread is gone."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            run, wait, _ = map(int, f.read().split())
        return run, wait
    except OSError:
        return 0, 0


def measure(call, calls):
    ts = tids()
    rows = []
    for _ in range(calls):
        before = [schedstat(t) for t in ts]
        pc, tt, w = time.process_time(), time.thread_time(), time.perf_counter()
        call()
        w, tt, pc = (time.perf_counter() - w, time.thread_time() - tt,
                     time.process_time() - pc)
        after = [schedstat(t) for t in ts]
        rows.append((w, tt, pc, [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before)]))
    med = statistics.median
    threads = []
    for i in range(len(ts)):
        run = med(r[3][i][0] for r in rows) / 1e6
        wait = med(r[3][i][1] for r in rows) / 1e6
        if run > 0.01 or wait > 0.01:
            threads.append(f"run {run:.2f} wait {wait:.2f}")
    return (med(r[0] for r in rows) * 1e3, min(r[0] for r in rows) * 1e3,
            med(r[1] for r in rows) * 1e3, med(r[2] for r in rows) * 1e3, threads)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", default="mlp1")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--busy", default="0,2")
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args(argv)
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(wc.source(args.case, False), f"<{args.case}>", "exec"), ns)
    xs = tuple(ns["inputs"](0))
    fns = {}
    for th in [int(t) for t in args.threads.split(",")]:
        f = jitcore.jit(lambda *a, fn=ns["fn"]: fn(*a))   # a wrapper, so an entry, per count
        with config.override(num_threads=th):
            jitcore.block_until_ready(f(*xs))
        fns[th] = f
    print(f"{cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
          f"medians over {args.calls} calls, ms")
    print("| busy | threads | wall (min) | calling thread CPU | process CPU | "
          "per thread: run / run-queue wait |\n|---:|---:|---:|---:|---:|---|")
    for busy in [int(b) for b in args.busy.split(",")]:
        procs = start_busy(busy)
        try:
            time.sleep(0.3)
            for th, f in fns.items():
                def call(f=f, th=th):
                    with config.override(num_threads=th):
                        jitcore.block_until_ready(f(*xs))
                w, wmin, tt, pc, per = measure(call, args.calls)
                print(f"| {busy} | {th} | {w:.2f} ({wmin:.2f}) | {tt:.2f} | {pc:.2f} | "
                      f"{'; '.join(per)} |", flush=True)
        finally:
            stop_busy(procs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
