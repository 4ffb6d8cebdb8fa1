"""Compile time against program length: a chain of n steps, each a matmul, a tanh and a slice.

    python benchmarks/compile_scaling.py [--steps 20 40 80 160] [--profile 80]

Step i computes `x = tanh(x @ w + b)[:, s:s + 64]` with x 32x64, w 64x96, b 96 (float64) and a
slice offset s that varies with i, so the program is n distinct dots, each with an elementwise
epilogue and a slice feeding the next dot. For each n a fresh `jit` is lowered (trace: the
user's function to the traced Module) and compiled (the passes, LLVM IR, LLVM, loading), with
the persistent cache off; the result is checked against NumPy. The last column is the total
divided by the first row's total over the ratio of their lengths: 1.0 is linear growth, and
above it is superlinear. `--profile N` prints a cProfile listing of one N-step compile instead.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402

ROWS, WIDTH, WIDE = 32, 64, 96


def chain(n):
    def f(x, w, b):
        for i in range(n):
            s = (7 * i) % (WIDE - WIDTH)
            x = jnp.tanh(x @ w + b)[:, s:s + WIDTH]
        return x
    return f


def reference(n, x, w, b):
    for i in range(n):
        s = (7 * i) % (WIDE - WIDTH)
        x = np.tanh(x @ w + b)[:, s:s + WIDTH]
    return x


def inputs():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((ROWS, WIDTH)), rng.standard_normal((WIDTH, WIDE)) / 8,
            rng.standard_normal(WIDE) / 8)


def measure(n):
    """(trace seconds, compile seconds) of a fresh jit of the n-step chain."""
    args = inputs()
    f = jc.jit(chain(n))
    with jc.config.override(cache=0):
        t0 = time.perf_counter()
        lowered = f.lower(*args)
        t1 = time.perf_counter()
        compiled = lowered.compile()
        t2 = time.perf_counter()
    got = np.asarray(compiled(*args))
    np.testing.assert_allclose(got, reference(n, *args), rtol=1e-9, atol=1e-12)
    return t1 - t0, t2 - t1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, nargs="+", default=[20, 40, 80, 160])
    ap.add_argument("--profile", type=int, default=0)
    args = ap.parse_args()
    measure(2)  # imports, LLVM and BLAS set-up: not part of any row
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(measure, args.profile)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        return
    print(f"{'steps':>6} {'trace ms':>9} {'compile ms':>11} {'total ms':>9} "
          f"{'vs first':>9} {'per step vs first':>18}")
    first = None
    for n in args.steps:
        trace, comp = measure(n)
        total = trace + comp
        if first is None:
            first = (n, total)
        ratio = total / first[1]
        print(f"{n:>6} {trace * 1e3:>9.0f} {comp * 1e3:>11.0f} {total * 1e3:>9.0f} "
              f"{ratio:>8.2f}x {ratio / (n / first[0]):>17.2f}x")


if __name__ == "__main__":
    main()
