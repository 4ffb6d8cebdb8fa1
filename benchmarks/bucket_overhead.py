"""What a bucketed call costs against the exact-shape call of the same function.

    python benchmarks/bucket_overhead.py [--rounds 15] [--calls 5] [--quick] [--out FILE]

A function jitted with `dynamic_axes` compiles once per bucket of sizes and runs each call at
the bucket's capacity with the true sizes as arguments; its kernels and GEMMs stop at the true
size along every dynamic axis (`passes/masking.py` marks the extents, the CPU backend loops
and calls BLAS with them). The exact-shape call (`auto_dynamic=0`, no `dynamic_axes`) is the
reference: target ratio bucketed / exact <= 1.15 at every size.

Cases (float32):
- attention `softmax(q k^T) v`, q, k, v of (n, 64) dynamic on n, n in {40, 100, 300, 600,
  900, 1000} (buckets 33..64, 65..128, 257..512, then 513..1024 for the last three, compiled
  at 1040 (`bucketing.capacity`): up to 1.7x padding per axis, 2.9x of the n x n scores; at
  n = 40 the call's fixed cost dominates);
- a column-dynamic elementwise + reduction: x of (512, n) dynamic on axis 1, returning
  `exp(x) * 0.5` (all of it) and `tanh(x).sum(axis=1)`, n in {300, 600, 900, 1000};
- a product contracting a dynamic later axis: `x @ w`, x of (256, n) dynamic on axis 1, w of
  (n, 64) dynamic on axis 0, n in {100, 300, 600, 900, 1000}: the GEMM runs with K = n on the
  caller's arrays (x's row stride its leading dimension).

Rounds are interleaved (each round times every case bucketed and exact, best of `--calls`),
so a slow spell of this shared machine hits both. The table gives min / median over rounds
and the ratio of the minimums. Every answer is checked against NumPy float64 first.

`--copied` adds a column: the bucketed call with inputs dynamic along a later axis copied
into their capacity, as before kernels read them with the caller's row stride (its
executable's `strided_inputs` emptied, so its call plan pads them), timed in the same rounds.
`--masked` adds another: the bucketed call with the zero masks of contracted operands kept
as kernels (`plan.planner.MASK_VIEWS` off while it compiles), as before GEMMs read those
operands in place: each product over a dynamic axis then reads zero-filled copies.
`--ldc` adds a table of the attention's q k^T alone (n x 64 times its transpose, one BLAS
call on one thread, M = N = n) writing rows of n (the exact program), of the bucket's
largest size (a power of two) and of its capacity (what the bucketed program writes into).
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
from jitcore import numpy as jnp  # noqa: E402

from machine import best_of, cpu_model  # noqa: E402


def attention(q, k, v):
    return jitcore.nn.softmax(q @ k.T, axis=-1) @ v


def attention_np(q, k, v):
    s = q @ k.T
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def columns(x):
    return jnp.exp(x) * 0.5, jnp.tanh(x).sum(axis=1)


def columns_np(x):
    return np.exp(x) * 0.5, np.tanh(x).sum(axis=1)


def product(x, w):
    return x @ w


def product_np(x, w):
    return x @ w


def cases(quick):
    rng = np.random.default_rng(0)
    out = []
    for n in ((40, 100) if quick else (40, 100, 300, 600, 900, 1000)):
        xs = tuple((0.3 * rng.standard_normal((n, 64))).astype(np.float32) for _ in range(3))
        out.append((f"attention n={n}", attention, attention_np, xs,
                    {"q": 0, "k": 0, "v": 0}))
    for n in ((40, 100) if quick else (300, 600, 900, 1000)):
        x = rng.standard_normal((64 if quick else 512, n)).astype(np.float32)
        out.append((f"exp + row sum, (512, n) n={n}", columns, columns_np, (x,), {"x": 1}))
    for n in ((40, 100) if quick else (100, 300, 600, 900, 1000)):
        x = rng.standard_normal((256, n)).astype(np.float32)
        w = rng.standard_normal((n, 64)).astype(np.float32)
        out.append((f"x @ w, (256, n) @ (n, 64) n={n}", product, product_np, (x, w),
                    {"x": 1, "w": 0}))
    return out


def check(name, got, ref):
    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    for g, r in zip(got, ref):
        g = np.asarray(g, np.float64)
        if g.shape != r.shape or not np.allclose(g, r, rtol=2e-4, atol=2e-4 * np.abs(r).max()):
            raise SystemExit(f"{name}: jitcore disagrees with NumPy")


def copying(fn, dyn, xs):
    """A bucketed jit of `fn` (its own cache) whose call plans copy column-dynamic inputs."""
    g = jitcore.jit(functools.wraps(fn)(lambda *a: fn(*a)), dynamic_axes=dyn)
    g(*xs)
    for plan in g._axes.calls.values():
        plan.entry.executable.strided_inputs = {}
    g._axes.calls.clear()      # the next call makes its plan again, padding those inputs
    g(*xs)
    return g


def masking(fn, dyn, xs):
    """A bucketed jit of `fn` (its own cache) compiled with the masks of contracted operands
    kept as kernels (zero-filled copies, as before mask views)."""
    from xla_like.backends.plan import planner
    g = jitcore.jit(functools.wraps(fn)(lambda *a: fn(*a)), dynamic_axes=dyn)
    planner.MASK_VIEWS = False
    try:
        g(*xs)
    finally:
        planner.MASK_VIEWS = True
    return g


def leading_dimensions(sizes, rounds, calls):
    """Table rows: q k^T (q, k of (n, 64), float32) by one BLAS call on one thread into rows
    of n, of the bucket's largest size and of its capacity, interleaved per round."""
    from jitcore.bucketing import bucket_of, capacity
    from xla_like.backends.cpu import blas
    lib = blas.load()
    rng = np.random.default_rng(1)
    cases = []
    for n in sizes:
        q, k = (rng.standard_normal((n, 64)).astype(np.float32) for _ in range(2))
        hi = bucket_of(n, None)[1]
        outs = {ld: np.zeros((n, ld), np.float32)[:, :n] for ld in (n, hi, capacity(hi))}
        for out in outs.values():
            lib.gemm(q, k, out=out, trans_b=True)
            if not np.allclose(out, q.astype(np.float64) @ k.T.astype(np.float64), atol=1e-3):
                raise SystemExit("BLAS q k^T disagrees with NumPy")
        cases.append((n, q, k, outs))
    times = {(n, ld): [] for n, _, _, outs in cases for ld in outs}
    with lib.one_thread():
        for _ in range(rounds):
            for n, q, k, outs in cases:
                for ld, out in outs.items():
                    times[n, ld].append(best_of(
                        lambda q, k: lib.gemm(q, k, out=out, trans_b=True), (q, k), calls))
    lines = ["| q k^T, n x 64 x n, one thread | rows of n | rows of the bucket's largest size |"
             " rows of the capacity |", "|---|---|---|---|"]
    for n, _, _, outs in cases:
        base = min(times[n, n])
        cells = [f"{ld}: {fmt(min(times[n, ld]))} / {fmt(statistics.median(times[n, ld]))}"
                 + ("" if ld == n else f" ({min(times[n, ld]) / base:.2f})") for ld in outs]
        lines.append(f"| n={n} | " + " | ".join(cells) + " |")
    return lines


def fmt(s):
    ms = s * 1e3
    return f"{ms:.3g} ms" if ms >= 1 else f"{ms * 1e3:.3g} µs"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--copied", action="store_true",
                    help="also time the bucketed call copying column-dynamic inputs")
    ap.add_argument("--masked", action="store_true",
                    help="also time the bucketed call with contracted operands zero-masked")
    ap.add_argument("--ldc", action="store_true",
                    help="also time q k^T alone into rows of n, of a power of two, of the capacity")
    args = ap.parse_args()
    rows = []
    for name, fn, ref, xs, dyn in cases(args.quick):
        bucketed = jitcore.jit(fn, dynamic_axes=dyn)
        exact = jitcore.jit(fn, auto_dynamic=0)
        want = ref(*[a.astype(np.float64) for a in xs])
        check(name, bucketed(*xs), want)
        check(name, exact(*xs), want)
        copied = None
        if args.copied:
            copied = copying(fn, dyn, xs)
            check(name, copied(*xs), want)
        masked = None
        if args.masked:
            masked = masking(fn, dyn, xs)
            check(name, masked(*xs), want)
        rows.append((name, bucketed, exact, copied, masked, xs))
    times = {name: ([], [], [], []) for name, *_ in rows}
    for _ in range(args.rounds):
        for name, bucketed, exact, copied, masked, xs in rows:
            times[name][0].append(best_of(bucketed, xs, args.calls))
            times[name][1].append(best_of(exact, xs, args.calls))
            if copied is not None:
                times[name][2].append(best_of(copied, xs, args.calls))
            if masked is not None:
                times[name][3].append(best_of(masked, xs, args.calls))
    extra = " copied min / median | copied / exact (min) |" if args.copied else ""
    extra += " masked min / median | masked / exact (min) |" if args.masked else ""
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds, "
             f"best of {args.calls} calls each; float32", "",
             "| case | bucketed min / median | exact min / median | bucketed / exact (min) |"
             + extra, "|---|---|---|---|" + "---|---|" * (args.copied + args.masked)]
    for name, *_ in rows:
        tb, te, tc, tm = times[name]
        line = (f"| {name} | {fmt(min(tb))} / {fmt(statistics.median(tb))} | "
                f"{fmt(min(te))} / {fmt(statistics.median(te))} | "
                f"{min(tb) / min(te):.2f} |")
        if tc:
            line += (f" {fmt(min(tc))} / {fmt(statistics.median(tc))} | "
                     f"{min(tc) / min(te):.2f} |")
        if tm:
            line += (f" {fmt(min(tm))} / {fmt(statistics.median(tm))} | "
                     f"{min(tm) / min(te):.2f} |")
        lines.append(line)
    if args.ldc:
        lines += ["", "min / median (ratio of minimums to rows of n), row length: time", ""]
        lines += leading_dimensions((100, 300) if args.quick else (100, 300, 600, 900, 1000),
                                    args.rounds, args.calls)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
