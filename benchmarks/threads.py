"""Threads: jitcore's kernels and GEMMs on one pool, quiet and on a loaded machine.

    .venv/bin/python benchmarks/threads.py [--busy N] [--rounds R] [--calls C] [--quick]

Cases (float32): an MLP 784-512-512-10 SGD step at batch 128, an MLP 64-128-10 SGD step at
batch 256 (`workloads_cases`), and attention-like batched products (32 heads of 128x64 @
64x128). Columns: jitcore at its default `num_threads` (0: the cores, at most 8), at
`num_threads=1` and at `num_threads=<cores>`, JAX
(`jax_side`, its own process) and NumPy (its own OpenBLAS, threaded as NumPy sets it), best of
`--calls` calls in each of `--rounds` interleaved rounds, min and median over the rounds.
`--busy N` keeps N pure-Python busy loops running meanwhile (other load on the machine).

Idle CPU: the process's user+system CPU time over the 0.5 s after a call returns (a thread
that busy-waits for more work shows here; sleeping threads add ~0), for jitcore and NumPy.
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
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import jitcore  # noqa: E402
from jitcore import config, lax, numpy as jnp, tree_util  # noqa: E402

import jax_side  # noqa: E402
import workloads_cases as wc  # noqa: E402
from machine import best_of, cpu_model, start_busy, stop_busy  # noqa: E402

_ATTN = """
H, M, K, N = {h}, {m}, {k}, {n}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(H, M, K)).astype(np.float32),
            rng.normal(size=(H, K, N)).astype(np.float32))

def fn(q, k):
    return q @ k
"""


def cases(quick):
    attn = dict(h=32, m=128, k=64, n=128) if not quick else dict(h=8, m=32, k=16, n=32)
    return [("mlp1", "MLP 784-512-512-10 b128 SGD step", wc.source("mlp1", quick), wc.np_mlp),
            ("mlp2", "MLP 64-128-10 b256 SGD step", wc.source("mlp2", quick), wc.np_mlp),
            ("attn", "32 heads 128x64 @ 64x128", _ATTN.format(**attn), lambda q, k: q @ k)]


def bound(src):
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(src, "<case>", "exec"), ns)
    return jitcore.jit(ns["fn"]), tuple(ns["inputs"](0))


def idle_cpu(fn, args, wait=0.5):
    """CPU seconds the process spends in the `wait` seconds after a call returns (after a
    pause first, so that threads of an earlier call, e.g. NumPy's, have gone to sleep)."""
    time.sleep(wait)
    fn(*args)
    t0 = os.times()
    time.sleep(wait)
    t1 = os.times()
    return (t1.user - t0.user) + (t1.system - t0.system)


def sync(out):
    for leaf in tree_util.tree_leaves(out):
        np.asarray(leaf)
    return out


def blas_text():
    from xla_like.backends.cpu import blas
    try:
        c = blas.load().config()
        return f"{c['config']} (core {c['corename']}, {c['num_threads']} thread(s) between calls)"
    except Exception as e:  # noqa: BLE001 - the header says why instead of failing
        return f"unavailable: {e}"


def fmt(ts):
    ts = [t for t in ts if t is not None]
    if not ts:
        return "n/a"
    return f"{min(ts) * 1e3:.3f} / {statistics.median(ts) * 1e3:.3f}"


def ratio(a, b):
    a, b = [t for t in a if t is not None], [t for t in b if t is not None]
    if not a or not b:
        return "n/a"
    return f"{min(a) / min(b):.2f} / {statistics.median(a) / statistics.median(b):.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--busy", type=int, default=0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    side = jax_side.JaxSide()
    rows = []
    try:
        prepared = []
        for name, label, src, np_fn in cases(args.quick):
            f, fargs = bound(src)
            sync(f(*fargs))
            np_fn_args = fargs
            has_jax = side.define(name, src + "\ndef build(seed):\n"
                                  "    return jax.jit(fn), tuple(inputs(seed))\n")
            prepared.append((name, label, f, fargs, np_fn, np_fn_args, has_jax))
        busy = start_busy(args.busy)
        try:
            times = {name: {"jc": [], "jc1": [], "jcn": [], "jax": [], "np": [], "idle": [],
                            "idle_np": []} for name, *_ in prepared}
            for _ in range(args.rounds):
                for name, label, f, fargs, np_fn, np_args, has_jax in prepared:
                    t = times[name]
                    jc = lambda *a: sync(f(*a))  # noqa: E731
                    t["jc"].append(best_of(jc, fargs, args.calls))
                    with config.override(num_threads=1):
                        t["jc1"].append(best_of(jc, fargs, args.calls))
                    with config.override(num_threads=os.cpu_count()):
                        t["jcn"].append(best_of(jc, fargs, args.calls))
                    t["jax"].append(side.time(name, args.calls) if has_jax else None)
                    t["np"].append(best_of(np_fn, np_args, args.calls))
                    t["idle"].append(idle_cpu(jc, fargs))
                    t["idle_np"].append(idle_cpu(np_fn, np_args))
        finally:
            stop_busy(busy)
        for name, label, *_ in prepared:
            t = times[name]
            rows.append(f"| {label} | {fmt(t['jc'])} | {fmt(t['jc1'])} | {fmt(t['jcn'])} | "
                        f"{fmt(t['jax'])} | "
                        f"{fmt(t['np'])} | {ratio(t['jax'], t['jc'])} | "
                        f"{max(t['idle']) * 1e3:.0f} | {max(t['idle_np']) * 1e3:.0f} |")
    finally:
        lines = [f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
                 f"- machine: {cpu_model()}, {os.cpu_count()} cores",
                 f"- OpenBLAS (jitcore): {blas_text()}",
                 f"- jitcore num_threads: {config.settings.num_threads or 'default (cores)'}",
                 f"- --busy {args.busy}; {args.rounds} interleaved rounds, best of {args.calls} "
                 f"calls each{', quick sizes' if args.quick else ''}; NumPy {np.__version__}",
                 f"- {side.label()}", "",
                 "| case | jitcore ms min/med | jitcore 1 thread | jitcore all cores | JAX | "
                 "NumPy | JAX/jitcore min/med | idle CPU ms jitcore | idle CPU ms NumPy |",
                 "|---|---|---|---|---|---|---|---|---|"] + rows
        print("\n".join(lines))
        side.close()


if __name__ == "__main__":
    main()
