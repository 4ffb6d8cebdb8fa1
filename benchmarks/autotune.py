"""Autotuned kernel schedules against the default heuristics (`jit(f, autotune=True)`).

For each row (training workloads of `workloads_cases.py`, and rows of `cpu.py`): the default
jit and the tuned one, the search's time (the first call of the tuned jit, against a fresh
cache folder so it searches), how many candidates it timed, and the schedules it chose
("-": the default won). Then `--rounds` interleaved rounds time both (best of `--calls` calls
each, the order alternating per round); the table gives median (min) per call and the ratio of
medians tuned / default (below 1: tuned faster). The tuner keeps a candidate only when it beat
the incumbent by 5% twice in a row, so a ratio above 1 beyond the noise would be a fault.

    python benchmarks/autotune.py [--quick] [--rows heavy,sum0] [--budget 10] [--busy N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]
# A fresh persistent cache: every tuned row searches (and compiles) here, once.
os.environ["JITCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="jitcore-autotune-bench-")

import jitcore  # noqa: E402
from jitcore import config, lax, numpy as jnp  # noqa: E402
import xla_like.backends.cpu.autotune as at  # noqa: E402
from xla_like.backends.cpu.schedule import NEVER  # noqa: E402

import cpu as cpu_rows  # noqa: E402
import workloads_cases as wc  # noqa: E402
from machine import cpu_model, emit_table, run_with_default_out, start_busy, stop_busy  # noqa: E402

WORKLOADS = [("mlp1", "MLP 784-512-512-10 b128 SGD step"), ("tf", "transformer block grad"),
             ("sum0", "sum axis 0 4096^2"), ("var0", "var axis 0 4096^2"),
             ("logreg", "vmap(grad) logreg"), ("gelu_ln", "GELU + layer norm"),
             ("stencil", "5-point stencil"), ("scatter", ".at[idx].add 1e5x128")]


def cpu_cases(quick):
    """(name, label, fn, args) of `cpu.py`'s rows at its sizes (quick: 1/16 of them)."""
    rng = np.random.default_rng(0)
    n = 10 ** 7 // (16 if quick else 1)
    side = 1024 if quick else 4096
    x = rng.standard_normal(n, dtype=np.float32)
    z = rng.standard_normal(n, dtype=np.float32)
    big = rng.standard_normal((side, side), dtype=np.float32)
    rows = 65536 // (16 if quick else 1)
    xd = rng.standard_normal((rows, 64), dtype=np.float32)
    wd = rng.standard_normal((64, 128), dtype=np.float32)
    bd = rng.standard_normal(128, dtype=np.float32)
    # Just past the size from which a segment goes to the pool (`cpu.schedule`): the
    # hand-off costs about what the second thread saves.
    m = 150_000
    # Rows where a schedule choice matters: a batch of small products (one BLAS call per
    # matrix, or one loop kernel), a chain of transcendental functions (the vectorizer's
    # interleave count), a column sum of odd shape (its row blocks).
    nb = 4096 // (16 if quick else 1)
    ab = rng.standard_normal((nb, 6, 5), dtype=np.float32)
    bb = rng.standard_normal((nb, 5, 7), dtype=np.float32)
    nc = 10 ** 6 // (16 if quick else 1)
    odd = rng.standard_normal((20011 // (16 if quick else 1), 97), dtype=np.float32)
    return [("bmm_small", f"tanh(a @ b) {nb}x(6x5 @ 5x7)",
             lambda a, b: jnp.tanh(jnp.matmul(a, b)), (ab, bb)),
            ("chain", f"tanh(exp(sin x) cos x) + log1p(x^2) {nc:.0e}", _chain, (x[:nc],)),
            ("colsum_odd", f"sum axis 0 {odd.shape[0]}x97", lambda a: jnp.sum(a * a, axis=0),
             (odd,)),
            ("heavy", f"heavy chain {n:.0e} f32", cpu_rows.heavy, (x, z)),
            ("cheap", f"a*x+b*y+c {n:.0e} f32", cpu_rows.cheap, (x, z)),
            ("cheap_small", f"a*x+b*y+c {m:.1e} f32", cpu_rows.cheap, (x[:m], z[:m])),
            ("heavy_small", f"heavy chain {m:.1e} f32", cpu_rows.heavy, (x[:m], z[:m])),
            ("sum_last", f"sum last axis {side}^2", lambda a: a.sum(axis=-1), (big,)),
            ("softmax", f"softmax last axis {side}^2", cpu_rows.softmax, (big,)),
            ("dense", f"relu(x @ W + b) {rows}x64 @ 64x128", cpu_rows.dense_relu,
             (xd, wd, bd))]


def _chain(x):
    return jnp.tanh(jnp.exp(jnp.sin(x)) * jnp.cos(x)) + jnp.log1p(x * x)


def workload_cases(quick):
    out = []
    for case, label in WORKLOADS:
        ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
        exec(compile(wc.source(case, quick), "<workload>", "exec"), ns)
        out.append((case, label, ns["fn"], tuple(ns["inputs"](0))))
    return out


def describe(ex) -> str:
    """The chosen schedules, briefly: `seg0 one thread; seg0.k1 vector 256`."""
    chosen = getattr(ex, "schedules", None) or {}
    parts = []
    for name in sorted(chosen):
        for field, v in chosen[name].changes().items():
            if field == "parallel_min_work":
                text = "one thread" if v >= NEVER else "on the pool"
            elif field == "gemm_threads_min_flops":
                text = f"GEMM threads from {v:.0e} flops"
            elif field == "vector_width":
                text = f"vector {v}"
            elif field == "blas_min_flops":
                text = f"dots under {v:.0e} flops as loops"
            elif field == "gemm_fusion":
                text = "no GEMM epilogues"
            elif field == "row_block":
                text = "one pass" if v >= NEVER else f"row block {v}"
            else:
                text = f"{field.replace('_', ' ')} {v}"
            parts.append(f"{name} {text}")
    return "; ".join(parts) or "-"


def _block(out):
    for leaf in jitcore.tree_util.tree_leaves(out):
        np.asarray(leaf)


def best_of(fn, args, calls):
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        _block(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name, label, fn, args, rounds, calls):
    default = jitcore.jit(fn)
    _block(default(*args))
    s0 = dict(at.stats)
    tuned = jitcore.jit(fn, autotune=True)
    ref, got = default(*args), tuned(*args)   # the tuned jit's first call searches
    search = at.stats["search_s"] - s0["search_s"]
    tried = at.stats["candidates"] - s0["candidates"]
    same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
        jitcore.tree_util.tree_leaves(ref), jitcore.tree_util.tree_leaves(got)))
    entry = next(iter(tuned._cache.values()))
    td, tt = [], []
    for r in range(rounds):
        pair = [(default, td), (tuned, tt)]
        for f, ts in (pair if r % 2 == 0 else pair[::-1]):
            ts.append(best_of(f, args, calls))
    med = statistics.median
    return (f"| {label} | {med(td) * 1e3:.3f} ({min(td) * 1e3:.3f}) | "
            f"{med(tt) * 1e3:.3f} ({min(tt) * 1e3:.3f}) | {med(tt) / med(td):.2f} "
            f"({min(tt) / min(td):.2f}) | "
            f"{search:.1f} | {tried} | {'bit-identical' if same else 'within rounding'} | "
            f"{describe(entry.executable)} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 rounds")
    ap.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    ap.add_argument("--rounds", type=int, default=None, help="default 30, --quick 3")
    ap.add_argument("--calls", type=int, default=3, help="calls per round; the best counts")
    ap.add_argument("--budget", type=float, default=10.0, help="search seconds per program")
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes during the run")
    ap.add_argument("--out", help="write the table, as markdown, to this file")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 30)
    config.settings.autotune_budget_s = args.budget
    cases = workload_cases(args.quick) + cpu_cases(args.quick)
    if args.rows:
        want = {r.strip() for r in args.rows.split(",")}
        cases = [c for c in cases if c[0] in want]
    lines = [f"# Autotuned schedules vs default heuristics, {time.strftime('%Y-%m-%d')}", "",
             f"- machine: {cpu_model()}, {os.cpu_count()} cores; device key "
             f"`{at.device_id().split('|')[0]}`, {at.device_id().split('|')[-1]}",
             f"- search budget {args.budget:g} s per program; {rounds} interleaved rounds, "
             f"best of {args.calls} calls each; --busy {args.busy}"
             f"{'; quick sizes' if args.quick else ''}",
             f"- load average at the start: {os.getloadavg()[0]:.1f} (other work on the "
             "machine; the tuner times on the machine as it is)",
             "- times: median (min) ms per call; ratio: median tuned / median default (min "
             "tuned / min default)", "",
             "| row | default ms | tuned ms | ratio | search s | candidates | results | "
             "chosen |", "|---|---|---|---|---|---|---|---|"]
    busy = start_busy(args.busy)
    try:
        for name, label, fn, xs in cases:
            line = measure(name, label, fn, xs, rounds, args.calls)
            print(line, flush=True)
            lines.append(line)
    finally:
        stop_busy(busy)
    print()
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "autotune")
