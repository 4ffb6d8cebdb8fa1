"""Kernels that transpose, under `jitcore.jit`, against NumPy, JAX and a plain copy's rate.

    python benchmarks/transpose.py [--rounds 9] [--out benchmarks/results/transpose-DATE.md]

A loop kernel reading a transpose of a large array walks its last two axes in tiles, a
parameter swapped by `x.T` copied into a stack buffer per tile (`llvm/tiles.py`). Cases:
`x.T + 1` of 1024^2 and 4096^2 float32 and 4096^2 float64, `x.T` alone (a transposed copy),
`swapaxes(x, 1, 2) * 2` of (16, 512, 512), and `x.T + x` (the parameter read twice: tiles
without the buffer).

NumPy evaluates `x.T + 1` as written, which allocates its result in the operand's memory
order (Fortran order for `x.T`): one contiguous pass, not a transpose. The "NumPy C" column
is the transposed result jitcore and JAX return, `np.ascontiguousarray(x.T)` then `+ 1` in
place. The copy limit is `np.copyto` of the same bytes (read + write), measured in the same
interleaved rounds; "of copy" is jitcore's rate (input + output bytes / median time) over it.
Results are checked against NumPy exactly once.
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


def _square(n, dtype="float32"):
    return f"""
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=({n}, {n})).astype(np.{dtype}),)
"""


BATCH = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(16, 512, 512)).astype(np.float32),)
"""


# name, inputs source, jitcore function, NumPy function (as written), JAX body
CASES = [
    ("x.T + 1, 1024^2 f32", _square(1024), lambda x: x.T + 1, lambda x: x.T + np.float32(1),
     "lambda x: x.T + 1"),
    ("x.T + 1, 4096^2 f32", _square(4096), lambda x: x.T + 1, lambda x: x.T + np.float32(1),
     "lambda x: x.T + 1"),
    ("x.T + 1, 4096^2 f64", _square(4096, "float64"), lambda x: x.T + 1, lambda x: x.T + 1.0,
     "lambda x: x.T + 1"),
    ("x.T, 4096^2 f32", _square(4096), lambda x: x.T, lambda x: x.T.copy(order="K"),
     "lambda x: x.T"),
    ("swapaxes(x, 1, 2) * 2, (16,512,512)", BATCH, lambda x: jnp.swapaxes(x, 1, 2) * 2,
     lambda x: np.swapaxes(x, 1, 2) * np.float32(2), "lambda x: jnp.swapaxes(x, 1, 2) * 2"),
    ("x.T + x, 4096^2 f32", _square(4096), lambda x: x.T + x, lambda x: x.T + x,
     "lambda x: x.T + x"),
]


def _numpy_c(theirs):
    """The case's NumPy expression with a C-order (transposed) result, as jitcore returns."""
    return lambda x: np.ascontiguousarray(theirs(x))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    with JaxSide() as jax:
        cases = []
        for name, src, ours, theirs, jbody in CASES:
            (x,) = local_inputs(src)
            f = jitcore.jit(ours)
            got = np.asarray(f(x))
            np.testing.assert_array_equal(got, theirs(x), err_msg=name)
            have_jax = jax.available and jax.define(name, jit_source(src, jbody))
            cases.append((name, x, f, theirs, _numpy_c(theirs), np.empty_like(got),
                          have_jax))
        times = {c[0]: ([], [], [], [], []) for c in cases}
        for _ in range(args.rounds):
            for name, x, f, theirs, theirs_c, dst, have_jax in cases:
                t = times[name]
                t[0].append(seconds(f, x))
                t[1].append(seconds(theirs, x))
                t[2].append(seconds(theirs_c, x))
                t0 = time.perf_counter()
                np.copyto(dst.reshape(-1), x.reshape(-1))
                t[4].append(time.perf_counter() - t0)
                if have_jax:
                    tj = jax.time(name, 1)
                    if tj is not None:
                        t[3].append(tj)
        lines = [
            "# Transposing kernels", "",
            f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds; "
            f"jitcore CPU backend, NumPy {np.__version__}; {jax.label()}.", "",
            "Times: median (min) in ms. NumPy: the expression as written (its result keeps "
            "the operand's Fortran order: no transpose is done); NumPy C: the same with a "
            "C-order result. Copy: `np.copyto` of the output's bytes; of copy: jitcore's rate "
            "over the copy's.", "",
            "| case | jitcore | NumPy | NumPy C | JAX | copy | JAX / jitcore | NumPy C / jitcore "
            "| of copy |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, x, f, theirs, theirs_c, dst, have_jax in cases:
            ta, tb, tc, tj, tcopy = times[name]
            ma = statistics.median(ta)
            jx = fmt_ms(tj) if tj else "n/a"
            rj = f"{statistics.median(tj) / ma:.2f}" if tj else "n/a"
            lines.append(f"| {name} | {fmt_ms(ta)} | {fmt_ms(tb)} | {fmt_ms(tc)} | {jx} | "
                         f"{fmt_ms(tcopy)} | {rj} | {statistics.median(tc) / ma:.2f} | "
                         f"{statistics.median(tcopy) / ma:.0%} |")
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "transpose")
