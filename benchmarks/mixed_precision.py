"""bfloat16 and float16 against float32 under `jitcore.jit`: elementwise chains, a sum, a GEMM.

    python benchmarks/mixed_precision.py [--rounds 9] [--calls 3] [--n 10000000] [--gemm 1024]
                                         [--bf16-gemm 256,512,1024,2048] [--part all]
                                         [--out FILE]

Elementwise chains on `--n` elements: a light one, `(x * 1.5 + 0.25) * x` (a 16-bit input and
output move half the bytes of float32's; each bfloat16 op rounds), one of ops whose bfloat16
results need no rounding, `max(2x, -x)`, and one with a math body, `exp(x) * 3 + 1`; a full
sum (float32 accumulation for every dtype); and an N x N x N GEMM
(16-bit operands are widened to float32 by the GEMM's prologue kernels, multiplied by
OpenBLAS's sgemm, and the result rounded once: the wheel exports no `sbgemm`). 16-bit
elementwise ops compute in float32 and round after every op (bfloat16 by integer RNE on
float32 bits, skipped where the result is a bfloat16 number already; float16 by F16C
conversions), both vectorized. `JITCORE_NUM_THREADS=1` for one core.

`--bf16-gemm` sizes: a second table, bfloat16 GEMMs (bfloat16 result) run natively with
AVX-512 BF16 (`JITCORE_BF16_DOT=native`, `cpu.bf16_dot`) against the same GEMM widened to
float32 sgemm (`widen`) and against float32 sgemm on float32 inputs, at each N x N x N.
`--part base` / `--part bf16-gemm` runs only one of the two tables.

Rounds are interleaved (each round times every dtype of a case in turn, best of `--calls`);
the table gives min / median milliseconds over rounds, GB/s (bytes of inputs and outputs over
the minimum) or GFLOP/s, and the minimum's ratio to float32's (below 1: faster than float32).
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
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config  # noqa: E402

from machine import cpu_model, emit_table  # noqa: E402

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def _best(fn, args, calls):
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        fn(*args).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return best


def cases(n, g):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    a = rng.standard_normal((g, g)).astype(np.float32)
    b = rng.standard_normal((g, g)).astype(np.float32)
    return {   # name: (function, float32 inputs, bytes per element of dtype size 1, flops)
        "light chain (x*1.5+0.25)*x": (lambda v: (v * 1.5 + 0.25) * v, (x,), 2 * n, None),
        "exact ops max(2x, -x)": (lambda v: jnp.maximum(v * 2, -v), (x,), 2 * n, None),
        "exp(x)*3+1": (lambda v: jnp.exp(v) * 3 + 1, (x,), 2 * n, None),
        "sum": (lambda v: v.sum(), (x,), n, None),
        f"GEMM {g}x{g}x{g}": (lambda p, q: p @ q, (a, b), 3 * g * g, 2.0 * g ** 3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--n", type=int, default=10 ** 7)
    ap.add_argument("--gemm", type=int, default=1024)
    ap.add_argument("--bf16-gemm", default="256,512,1024,2048")
    ap.add_argument("--part", choices=("all", "base", "bf16-gemm"), default="all")
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for name, (fn, inputs, elems, flops) in (
            cases(args.n, args.gemm).items() if args.part != "bf16-gemm" else ()):
        f = jitcore.jit(fn)
        per = {}
        for dname, dt in DTYPES.items():
            xs = tuple(jnp.asarray(v).astype(dt) for v in inputs)
            f(*xs).block_until_ready()    # compile
            per[dname] = (xs, [])
        for _ in range(args.rounds):
            for dname, (xs, ts) in per.items():
                ts.append(_best(f, xs, args.calls))
        base = min(per["float32"][1])
        for dname, (xs, ts) in per.items():
            best = min(ts)
            size = np.dtype(DTYPES[dname]).itemsize
            rate = f"{flops / best / 1e9:.1f} GFLOP/s" if flops else \
                f"{elems * size / best / 1e9:.1f} GB/s"
            rows.append(f"| {name} | {dname} | {best * 1e3:.2f} / "
                        f"{statistics.median(ts) * 1e3:.2f} | {rate} | {best / base:.2f} |")
    lines = [f"# bfloat16 / float16 vs float32, ms min / median over {args.rounds} rounds "
             f"(best of {args.calls} calls each)", "",
             f"CPU: {cpu_model()}; {os.cpu_count()} cores; jitcore threads: "
             f"{config.settings.num_threads or 'all cores'}; n = {args.n:,}", "",
             "| case | dtype | ms | rate | vs float32 |", "|---|---|---|---|---|"] + rows + [
        "", "Notes:",
        "- 16-bit elementwise ops compute in float32 and round after every op (as XLA does);",
        "  float16 converts with F16C instructions, bfloat16 rounds by integer RNE on float32",
        "  bits: 4 vector instructions per 16 elements after an arithmetic op (a bit test, a",
        "  blend of two constants, an add, a mask), 7 after a math body (which also",
        "  canonicalizes NaN). Ops whose result is a bfloat16 number already (neg, abs, max,",
        "  min, floor, a product by 2**k with k >= 0, ...) do not round. A chain of cheap",
        "  rounding ops is bound by that arithmetic on one core; the exact-ops chain by memory.",
        "- sums read 16-bit elements and accumulate in float32.",
        "- 16-bit GEMMs are float32 sgemm between conversions (the `widen_half_dots` pass);",
        "  the OpenBLAS wheel exports no sbgemm."]
    if args.part == "bf16-gemm":
        lines = lines[:4]
    if args.part != "base" and args.bf16_gemm:
        lines += [""] + bf16_gemm_table([int(v) for v in args.bf16_gemm.split(",")],
                                        args.rounds, args.calls)
    return emit_table(lines, args.out)


# The bfloat16 GEMM table: (label, input dtype, `bf16_dot` setting at compile time).
GEMM_PATHS = (("float32 sgemm", jnp.float32, "auto"),
              ("bfloat16 widened + sgemm", jnp.bfloat16, "widen"),
              ("bfloat16 native (AVX-512 BF16)", jnp.bfloat16, "native"))


def bf16_gemm_table(sizes, rounds, calls):
    """Rows of N x N x N GEMMs by path (`GEMM_PATHS`), rounds interleaved over the paths."""
    from xla_like.backends.cpu import bf16_dot
    rng = np.random.default_rng(1)
    rows = []
    for g in sizes:
        a = rng.standard_normal((g, g)).astype(np.float32)
        b = rng.standard_normal((g, g)).astype(np.float32)
        per = {}
        for label, dt, mode in GEMM_PATHS:
            # A jit of its own function per path: wrappers of one function share a cache,
            # and the setting acts when the program compiles.
            f = jitcore.jit(lambda p, q: p @ q)
            xs = (jnp.asarray(a).astype(dt), jnp.asarray(b).astype(dt))
            with config.override(bf16_dot=mode):
                f(*xs).block_until_ready()
            per[label] = (f, xs, [])
        for _ in range(rounds):
            for f, xs, ts in per.values():
                ts.append(_best(f, xs, calls))
        base = min(per["float32 sgemm"][2])
        widened = min(per["bfloat16 widened + sgemm"][2])
        for label, (f, xs, ts) in per.items():
            best = min(ts)
            rows.append(f"| {g} | {label} | {best * 1e3:.2f} / {statistics.median(ts) * 1e3:.2f} "
                        f"| {2.0 * g ** 3 / best / 1e9:.1f} | {best / base:.2f} | "
                        f"{best / widened:.2f} |")
    return [f"## bfloat16 GEMM (N x N x N, bfloat16 result), ms min / median over {rounds} "
            f"rounds (best of {calls} calls each)", "",
            f"Host has AVX-512 BF16: {bf16_dot.host_has_bf16()}; default (`auto`) path for "
            f"these sizes: {'native' if bf16_dot.host_has_bf16() else 'widened'}", "",
            "| N | path | ms | GFLOP/s | vs float32 | vs widened |", "|---|---|---|---|---|---|"
            ] + rows + [
        "", "- native: `vdpbf16ps` micro-kernel (14 x 32 tile, 28 zmm accumulators) on",
        "  pair-interleaved packed panels, Goto blocking, rows shared by the threads; the",
        "  float32 product is rounded to bfloat16 by the kernel after it.",
        "- widened: both operands converted to float32 (GEMM prologue), OpenBLAS sgemm, then",
        "  rounded (`widen_half_dots`)."]


if __name__ == "__main__":
    from machine import run_with_default_out
    run_with_default_out(main, "mixed_precision")
