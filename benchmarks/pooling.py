"""Pooling under `jitcore.jit` against the machine's memory bandwidth and NumPy.

    python benchmarks/pooling.py [--rounds 15] [--out benchmarks/results/pooling-DATE.md]

Cases, on an (8, 112, 112, 64) float32 NHWC activation (25.7 MB):

- 2x2 max pool, stride 2 (`lax.reduce_window_max`); NumPy: reshape to (8, 56, 2, 56, 2, 64)
  and `max` over the two window axes;
- 3x3 average pool, stride 1, SAME padding (a depthwise 3x3 box filter, `reduce_window_sum`
  / 9); NumPy: `np.pad` then the sum of the 9 shifted slices.

Each is a memory-bound kernel: the useful traffic is the input read once and the output
written once. The table shows the median time over rounds, the GB/s that traffic makes
((input + output bytes) / time), and that rate as a fraction of the machine's copy bandwidth:
a large `np.copyto` (256 MB read + 256 MB written) timed in the same rounds. jitcore, NumPy and
the copy run alternately, so all see the same machine state (the copy evicts the input from
the caches; a second jitcore call right after the first shows the cached rate). Results are
checked against NumPy once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jitcore  # noqa: E402
from jitcore import lax  # noqa: E402
from machine import cpu_model, emit_table, run_with_default_out

SHAPE = (8, 112, 112, 64)




def _seconds(fn, *args):
    t0 = time.perf_counter()
    np.asarray(fn(*args))
    return time.perf_counter() - t0


def np_max_pool(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def np_avg_pool3(x):
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = x.shape[1:3]
    out = p[:, 0:h, 0:w].copy()
    for i in range(3):
        for j in range(3):
            if i or j:
                out += p[:, i:i + h, j:j + w]
    return out / np.float32(9)


def jc_max_pool(x):
    return lax.reduce_window_max(x, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def jc_avg_pool3(x):
    return lax.reduce_window_sum(x, (1, 3, 3, 1), (1, 1, 1, 1), "SAME") / np.float32(9)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=SHAPE).astype(np.float32)
    big_src = np.ones(64 << 20, np.float32)          # 256 MB
    big_dst = np.empty_like(big_src)

    cases = [("max_pool 2x2 stride 2", jitcore.jit(jc_max_pool), np_max_pool),
             ("avg_pool 3x3 SAME", jitcore.jit(jc_avg_pool3), np_avg_pool3)]
    times = {name: ([], [], []) for name, _, _ in cases}
    copy_times = []
    for name, ours, theirs in cases:       # compile, warm up, check once
        got, want = np.asarray(ours(x)), theirs(x)
        err = float(np.max(np.abs(got - want)))
        assert err < 1e-5, f"{name}: max error {err} against NumPy"
    np.copyto(big_dst, big_src)
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        np.copyto(big_dst, big_src)
        copy_times.append(time.perf_counter() - t0)
        for name, ours, theirs in cases:
            times[name][0].append(_seconds(ours, x))
            times[name][2].append(_seconds(ours, x))      # again: input now in cache
            times[name][1].append(_seconds(theirs, x))
    copy_gbs = 2 * big_src.nbytes / statistics.median(copy_times) / 1e9

    lines = [f"# Pooling, {SHAPE} float32 NHWC", "",
             f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds, "
             f"medians; jitcore CPU backend, NumPy {np.__version__}.", "",
             f"Copy bandwidth (np.copyto of 256 MB, read + write): **{copy_gbs:.1f} GB/s**", "",
             "| case | jitcore ms | GB/s | of copy bw | NumPy ms | GB/s | jitcore / NumPy "
             "| jitcore, cached input ms | GB/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, ours, theirs in cases:
        out_bytes = np.asarray(ours(x)).nbytes
        moved = x.nbytes + out_bytes
        ta, tb, tc = (statistics.median(t) for t in times[name])
        lines.append(f"| {name} | {ta * 1e3:.2f} | {moved / ta / 1e9:.1f} | "
                     f"{moved / ta / 1e9 / copy_gbs:.0%} | {tb * 1e3:.2f} | "
                     f"{moved / tb / 1e9:.1f} | {ta / tb:.2f} | {tc * 1e3:.2f} | "
                     f"{moved / tc / 1e9:.1f} |")
    lines += ["", "GB/s counts the input read once and the output written once. The first "
              "jitcore and the NumPy columns read an input the 256 MB copy evicted from the "
              "caches; the cached column repeats the jitcore call right away."]
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "pooling")
