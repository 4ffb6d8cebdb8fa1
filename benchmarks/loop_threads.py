"""Loops whose bodies hold large kernels or GEMMs, on one thread and on two, beside JAX.

    python benchmarks/loop_threads.py [--rounds 7] [--calls 2] [--quick] [--no-jax] [--out FILE]

A segment holding a `while`/`scan`/`cond` runs on all threads when its body is worth it
(`xla_like/backends/cpu/control.py`): every thread runs the loop control, large kernels and
GEMMs of the body are shared out, a barrier follows each. The "1 thread" column compiles and
calls with `num_threads=1` (the loop runs on the calling thread, as before), the "2 threads"
column with `num_threads=2`. Cases: the tanh RNN of `workloads.py` row 4 (200 steps, batch
32, hidden 256; forward and value_and_grad: its 4.2 Mflop product per step keeps the loop on
one thread, `LoopThreads.worth`, so its two columns run the same code) and a larger one (100
steps, batch 128, hidden 512: 67 Mflop per step, shared), an elementwise `fori_loop` over 1e6
float32 and a `while_loop` with a data-dependent trip count over 1e6. Each answer is checked against NumPy float64 (JAX's against jitcore's)
before timing. Rounds are interleaved (1 thread, 2 threads, JAX in turn; best of `--calls`
each); the table gives median (min) over rounds, and ratios of medians.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
from jitcore import config, lax, numpy as jnp  # noqa: E402

import jax_side  # noqa: E402
import workloads_cases as wc  # noqa: E402
from machine import cpu_model, emit_table, fmt_ms, run_with_default_out  # noqa: E402
from workloads import agree, best_of, leaves  # noqa: E402

_ELEMENTWISE = """
N = {n}

def inputs(seed):
    return (np.random.default_rng(seed).normal(size=N).astype(np.float32) * 40,)
"""

CASES = {
    # name: (label, source, NumPy float64 reference or None)
    "rnn_fwd": ("RNN 200 steps b32 h256 fwd (row 4)", lambda q: wc.source("rnn_fwd", q),
                wc.np_rnn_fwd),
    "rnn_grad": ("RNN 200 steps b32 h256 value_and_grad (row 4)",
                 lambda q: wc.source("rnn_grad", q), wc.np_rnn_grad),
    "rnn_big": ("RNN 100 steps b128 h512 fwd",
                lambda q: wc.SOURCES["rnn_fwd"].format(
                    **(dict(T=10, B=16, I=16, H=64) if q else dict(T=100, B=128, I=128,
                                                                    H=512))),
                wc.np_rnn_fwd),
    "fori": ("fori_loop 20 x (sin, scale) on 1e6", lambda q: (_ELEMENTWISE + """
def fn(x):
    return lax.fori_loop(0, 20, lambda i, v: jnp.sin(v) * 0.9 + 0.01 * i, x)
""").format(n=10_000 if q else 1_000_000), None),
    "while": ("while_loop halve until < 1 on 1e6", lambda q: (_ELEMENTWISE + """
def fn(x):
    def cond(c):
        return jnp.max(jnp.abs(c)) >= 1.0
    return lax.while_loop(cond, lambda c: c * 0.5 + jnp.tanh(c) * 0.01, x)
""").format(n=10_000 if q else 1_000_000), None),
}


def numpy_loops(name, args):
    x = args[0].astype(np.float64)
    if name == "fori":
        for i in range(20):
            x = np.sin(x) * 0.9 + 0.01 * i
        return [x]
    while np.abs(x).max() >= 1.0:
        x = x * 0.5 + np.tanh(x) * 0.01
    return [x]


def build(src, threads):
    """A fresh jitted function (its own cache) compiled under `num_threads=threads`."""
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(src, "<loop case>", "exec"), ns)
    f, args = jitcore.jit(ns["fn"]), tuple(ns["inputs"](0))
    with config.override(num_threads=threads):
        f(*args)
    return f, args


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="default 7, --quick 2")
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)
    names = args.cases.split(",")
    load0 = os.getloadavg()[0]
    side = None if args.no_jax else jax_side.JaxSide()
    built, checks = {}, {}
    for name in names:
        label, src_of, ref = CASES[name]
        src = src_of(args.quick)
        one, xs = build(src, 1)
        two, _ = build(src, 2)
        want = leaves(ref(*wc.to64(xs))) if ref else numpy_loops(name, xs)
        with config.override(num_threads=2):
            got = leaves(two(*xs))
        with config.override(num_threads=1):
            got1 = leaves(one(*xs))
        bad = agree(got, want) or agree(got1, want)   # '' when they agree
        check = f"NumPy64 DIFFERS ({bad})" if bad else "NumPy64 ok"
        jax_ok = side is not None and side.available and side.define(
            name, src + "\ndef build(seed):\n    return jax.jit(fn), tuple(inputs(seed))\n")
        if jax_ok:
            jres = side.result(name)
            check += ", JAX ok" if jres is not None and not agree(jres, got) else ", JAX differs"
        built[name] = (one, two, xs, jax_ok)
        checks[name] = check
    times = {n: ([], [], []) for n in names}
    sync = lambda out: [np.asarray(o) for o in leaves(out)]  # noqa: E731
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", file=sys.stderr)
        for name in names:
            one, two, xs, jax_ok = built[name]
            t1, t2, tj = times[name]
            with config.override(num_threads=1):
                t1.append(best_of(one, xs, args.calls, 1, sync))
            with config.override(num_threads=2):
                t2.append(best_of(two, xs, args.calls, 1, sync))
            if jax_ok:
                tj.append(side.time(name, args.calls))
    if side is not None:
        side.close()

    def ratio(a, b):
        return f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "n/a"
    lines = [
        f"# Loops on threads ({datetime.date.today()})",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores",
        f"- {rounds} interleaved rounds, best of {args.calls} calls each; ms as median (min)",
        f"- load average (1 min) at start / end: {load0:.1f} / {os.getloadavg()[0]:.1f}",
        f"- JAX: {side.label() if side is not None and side.available else 'n/a'}",
        "",
        "| case | check | 1 thread | 2 threads | 1 / 2 threads | JAX | JAX / jitcore 2 threads |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        t1, t2, tj = times[name]
        lines.append(f"| {CASES[name][0]} | {checks[name]} | {fmt_ms(t1)} | {fmt_ms(t2)} | "
                     f"{ratio(t1, t2)} | {fmt_ms(tj)} | {ratio(tj, t2)} |")
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "loop_threads")
