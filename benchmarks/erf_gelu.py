"""Exact GELU and erf/erfc under `jitcore.jit`, side by side with JAX and NumPy/SciPy.

    python benchmarks/erf_gelu.py [--rounds 7] [--calls 3] [--no-jax] [--out FILE]

Cases on (4096, 1024): `jax.nn.gelu(x, approximate=False)` in float32 (JAX computes it as
x erfc(-x/sqrt2)/2), `lax.erf` and `jax.scipy.special.erfc` in float32 and float64. The NumPy
column is SciPy's erf/erfc (float64 inside for the float32 GELU). Rounds are interleaved (each
round times every case on jitcore, JAX and NumPy in turn, best of `--calls`); the table gives
min / median milliseconds over rounds and the ratios of the minimums (above 1: jitcore faster).
JAX runs in its own process (`jax_side.py`) on the same arrays.
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
import jitcore.nn  # noqa: E402,F401
import jitcore.scipy.special  # noqa: E402,F401
from jitcore import lax  # noqa: E402

import jax_side  # noqa: E402
from machine import cpu_model  # noqa: E402

_INPUTS = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(scale=2.0, size=(4096, 1024)).astype(np.{dt}),)
"""
CASES = {  # name: (dtype, body using jax/lax, NumPy/SciPy reference)
    "gelu exact f32": ("float32", "jax.nn.gelu(x, approximate=False)", "gelu"),
    "erf f32": ("float32", "lax.erf(x)", "erf"),
    "erfc f32": ("float32", "jax.scipy.special.erfc(x)", "erfc"),
    "erf f64": ("float64", "lax.erf(x)", "erf"),
    "erfc f64": ("float64", "jax.scipy.special.erfc(x)", "erfc"),
}


def _numpy_fn(kind):
    from scipy import special
    if kind == "gelu":
        return lambda x: (0.5 * x * special.erfc(-x * np.float32(np.sqrt(0.5)))).astype(x.dtype)
    return getattr(special, kind)


def _best(fn, args, calls):
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        out = fn(*args)
        getattr(out, "block_until_ready", lambda: None)()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.no_jax:
        os.environ[jax_side.ENV_VAR] = ""
    side = jax_side.JaxSide()
    cases = {}
    for name, (dt, body, kind) in CASES.items():
        src = _INPUTS.format(dt=dt) + f"\ndef fn(x):\n    return {body}\n"
        x = jax_side.local_inputs(src)
        ns = {"jax": jitcore, "lax": lax, "np": np}
        exec(compile(src, name, "exec"), ns)
        f = jitcore.jit(ns["fn"])
        np.asarray(f(*x))  # compile
        side.define(name, src + "\nimport jax.scipy.special\n"
                    "def build(seed):\n    return jax.jit(fn), tuple(inputs(seed))\n")
        cases[name] = (f, x, _numpy_fn(kind))
    times = {n: ([], [], []) for n in cases}
    for _ in range(args.rounds):
        for name, (f, x, npf) in cases.items():
            times[name][0].append(_best(f, x, args.calls))
            jt = side.time(name, args.calls)
            if jt is not None:
                times[name][1].append(jt * 1e3)
            times[name][2].append(_best(npf, x, args.calls))
    side.close()

    def cell(v):
        return "n/a" if not v else f"{min(v):.2f} / {statistics.median(v):.2f}"

    def ratio(a, b):
        return "n/a" if not a or not b else f"{min(a) / min(b):.2f}"
    lines = [f"# erf / exact GELU, (4096, 1024), ms min / median over {args.rounds} rounds", "",
             f"CPU: {cpu_model()}; JAX: {side.label()}", "",
             "| case | jitcore | JAX | NumPy/SciPy | JAX/jitcore | NumPy/jitcore |",
             "|---|---|---|---|---|---|"]
    for name, (jc, jx, nq) in times.items():
        lines.append(f"| {name} | {cell(jc)} | {cell(jx)} | {cell(nq)} | {ratio(jx, jc)} | "
                     f"{ratio(nq, jc)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
