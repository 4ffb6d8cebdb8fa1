"""Reductions along leading and trailing axes under `jitcore.jit`, against NumPy, JAX and the
machine's memory bandwidth.

    python benchmarks/reductions.py [--rounds 15] [--out benchmarks/results/reductions-DATE.md]

Cases on a 4096x4096 float32 array (64 MiB, larger than the caches): sum, mean, var, max,
argmax over axis 0 (the column layout, `llvm.reduce.emit_column_reduction`), sum over axis 1
(contiguous rows), sum over the middle axis of (64, 1024, 256), `vmap(jnp.sum, in_axes=1)`,
and the bias gradient of a dense layer (`grad` of `tanh(x @ w + b).sum()` wrt b, whose last
step is a column sum of a (4096, 4096) value).

Limits, measured in the same interleaved rounds: a read + write copy (`np.copyto`, 256 MB each
way) and a read-only pass over the input (NumPy's sum over the contiguous axis). A reduction
reads its input once, so "of read" is (input bytes / time) over the read-only pass's rate.
Rounds interleave jitcore, NumPy, JAX and the limits; each column reports the median and the
min over rounds (the machine is shared: expect noise). Results are checked against NumPy in
float64 once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import jitcore  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jax_side import JaxSide, local_inputs  # noqa: E402
from machine import (cpu_model, emit_table, fmt_ms, jit_source,  # noqa: E402
                     run_with_default_out, seconds)

N = 4096

SQUARE = f"""
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=({N}, {N})).astype(np.float32),)
"""
CUBE = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(64, 1024, 256)).astype(np.float32),)
"""
DENSE = f"""
def inputs(seed):
    r = np.random.default_rng(seed)
    return (r.normal(size=({N},)).astype(np.float32),
            r.normal(size=({N}, 256)).astype(np.float32),
            (r.normal(size=(256, {N})) * 0.05).astype(np.float32))
"""

# name, inputs source, jitcore function, NumPy function, JAX body (jnp/jax bound), bytes read
CASES = [
    ("sum axis 0", SQUARE, lambda x: jnp.sum(x, axis=0), lambda x: x.sum(0),
     "lambda x: jnp.sum(x, axis=0)"),
    ("mean axis 0", SQUARE, lambda x: jnp.mean(x, axis=0), lambda x: x.mean(0),
     "lambda x: jnp.mean(x, axis=0)"),
    ("var axis 0", SQUARE, lambda x: jnp.var(x, axis=0), lambda x: x.var(0),
     "lambda x: jnp.var(x, axis=0)"),
    ("max axis 0", SQUARE, lambda x: jnp.max(x, axis=0), lambda x: x.max(0),
     "lambda x: jnp.max(x, axis=0)"),
    ("argmax axis 0", SQUARE, lambda x: jnp.argmax(x, axis=0), lambda x: x.argmax(0),
     "lambda x: jnp.argmax(x, axis=0)"),
    ("sum axis 1", SQUARE, lambda x: jnp.sum(x, axis=1), lambda x: x.sum(1),
     "lambda x: jnp.sum(x, axis=1)"),
    ("sum axis 1 of (64,1024,256)", CUBE, lambda x: jnp.sum(x, axis=1), lambda x: x.sum(1),
     "lambda x: jnp.sum(x, axis=1)"),
    ("vmap(sum, in_axes=1)", SQUARE, jitcore.vmap(jnp.sum, in_axes=1), lambda x: x.sum(0),
     "jax.vmap(jnp.sum, in_axes=1)"),
    ("bias grad of tanh(x@w+b)", DENSE,
     jitcore.grad(lambda b, x, w: jnp.tanh(x @ w + b).sum()),
     lambda b, x, w: (1 - np.tanh(x @ w + b) ** 2).sum(0),
     "jax.grad(lambda b, x, w: jnp.tanh(x @ w + b).sum())"),
]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    big_src = np.ones(64 << 20, np.float32)          # 256 MB
    big_dst = np.empty_like(big_src)
    sq = local_inputs(SQUARE)[0]
    with JaxSide() as jax:
        cases = []
        for name, src, ours, theirs, jbody in CASES:
            ins = local_inputs(src)
            f = jitcore.jit(ours)
            got = np.asarray(f(*ins))
            want = theirs(*[a.astype(np.float64) for a in ins])
            err = float(np.max(np.abs(got - want) / (1 + np.abs(want))))
            assert err < 1e-3, f"{name}: error {err} against NumPy float64"
            have_jax = jax.available and jax.define(name, jit_source(src, jbody))
            cases.append((name, ins, f, theirs, have_jax))
        times = {c[0]: ([], [], []) for c in cases}
        copy_t, read_t = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            np.copyto(big_dst, big_src)
            copy_t.append(time.perf_counter() - t0)
            read_t.append(seconds(lambda a: a.sum(1), sq))
            for name, ins, f, theirs, have_jax in cases:
                times[name][0].append(seconds(f, *ins))
                times[name][1].append(seconds(theirs, *ins))
                if have_jax:
                    t = jax.time(name, 1)
                    if t is not None:
                        times[name][2].append(t)
        copy_gbs = 2 * big_src.nbytes / statistics.median(copy_t) / 1e9
        read_gbs = sq.nbytes / statistics.median(read_t) / 1e9
        lines = [
            "# Reductions, float32", "",
            f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds; "
            f"jitcore CPU backend, NumPy {np.__version__}; {jax.label()}.", "",
            f"Copy (np.copyto 256 MB, read + write): **{copy_gbs:.1f} GB/s**; read-only pass "
            f"(NumPy sum over the contiguous axis of the 64 MiB input): **{read_gbs:.1f} GB/s**"
            f" (medians).", "",
            "Times: median (min) in ms. `of read`: input bytes / jitcore's median time, over "
            "the read-only rate.", "",
            "| case | jitcore | NumPy | JAX | jitcore / NumPy | jitcore / JAX | jitcore GB/s "
            "| of read |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, ins, f, theirs, have_jax in cases:
            ta, tb, tc = times[name]
            ma = statistics.median(ta)
            nbytes = max(a.nbytes for a in ins)
            jx = fmt_ms(tc) if tc else "n/a"
            rj = f"{ma / statistics.median(tc):.2f}" if tc else "n/a"
            lines.append(f"| {name} | {fmt_ms(ta)} | {fmt_ms(tb)} | {jx} | "
                         f"{ma / statistics.median(tb):.2f} | {rj} | "
                         f"{nbytes / ma / 1e9:.1f} | {nbytes / ma / 1e9 / read_gbs:.0%} |")
        lines += ["", "GB/s counts the largest input read once (the dense case's x is 4 MiB; "
                  "its time is dominated by the GEMM, so its GB/s is not a bandwidth)."]
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "reductions")
