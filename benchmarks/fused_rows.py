"""Row kernels and fused elementwise work under `jitcore.jit`, side by side with JAX and NumPy.

    python benchmarks/fused_rows.py [--rounds 15] [--calls 3] [--quick] [--no-jax] [--out FILE]

Cases (float32): GELU (tanh and erf forms) + layer norm, softmax over the last axis and layer
norm alone on (4096, 1024); GELU alone (one elementwise pass with a tanh); the 5-point 2-D
stencil on 2048^2; and a copy-like `x * g + c` of the same (4096, 1024) that only moves memory,
the machine's limit for a kernel reading and writing one such array.

Rounds are interleaved (every round times every case on jitcore, JAX and NumPy in turn, best
of `--calls` each), so a slow spell of this shared machine hits every column. The table gives
min / median over rounds, and the ratios of the minimums (JAX / jitcore, NumPy / jitcore,
limit / jitcore: above 1, jitcore is faster). JAX runs in its own process (`jax_side.py`) on
the same arrays; each case's jitcore answer is checked against NumPy float64 before timing.
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
from jitcore import lax, numpy as jnp  # noqa: E402

import jax_side  # noqa: E402
from machine import cpu_model  # noqa: E402

_INPUTS = """
N, M = {n}, {m}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, M)).astype(np.float32),
            (1 + 0.1 * rng.normal(size=M)).astype(np.float32),
            (0.1 * rng.normal(size=M)).astype(np.float32))

def layer_norm(h, g, c):
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean((h - mu) ** 2, axis=-1, keepdims=True)
    return (h - mu) * lax.rsqrt(var + 1e-5) * g + c
"""

CASES = {
    "GELU (tanh) + layer norm": "def fn(x, g, c):\n    return layer_norm(jax.nn.gelu(x), g, c)\n",
    "GELU (erf) + layer norm":
        "def fn(x, g, c):\n    return layer_norm(jax.nn.gelu(x, approximate=False), g, c)\n",
    "layer norm": "def fn(x, g, c):\n    return layer_norm(x, g, c)\n",
    "softmax, last axis": "def fn(x, g, c):\n    return jax.nn.softmax(x, axis=-1)\n",
    "GELU (tanh) alone": "def fn(x, g, c):\n    return jax.nn.gelu(x)\n",
    "x * g + c (memory limit)": "def fn(x, g, c):\n    return x * g + c\n",
    "5-point stencil 2048^2": None,
}

_STENCIL = """
N, M = {s}, {s}

def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(N, M)).astype(np.float32),)

def fn(u):
    return (4 * u[1:-1, 1:-1] - u[:-2, 1:-1] - u[2:, 1:-1] - u[1:-1, :-2] - u[1:-1, 2:])
"""


def _erf(x):
    from scipy.special import erf
    return erf(x)


def _np_layer_norm(h, g, c):
    mu = h.mean(-1, keepdims=True)
    var = ((h - mu) ** 2).mean(-1, keepdims=True)
    return (h - mu) / np.sqrt(var + 1e-5) * g + c


def _np_gelu(x, approximate=True):
    if approximate:
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / np.sqrt(2)))


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


NUMPY = {
    "GELU (tanh) + layer norm": lambda x, g, c: _np_layer_norm(_np_gelu(x), g, c),
    "GELU (erf) + layer norm": lambda x, g, c: _np_layer_norm(_np_gelu(x, False), g, c),
    "layer norm": _np_layer_norm,
    "softmax, last axis": lambda x, g, c: _np_softmax(x),
    "GELU (tanh) alone": lambda x, g, c: _np_gelu(x),
    "x * g + c (memory limit)": lambda x, g, c: x * g + c,
    "5-point stencil 2048^2": lambda u: (4 * u[1:-1, 1:-1] - u[:-2, 1:-1] - u[2:, 1:-1]
                                         - u[1:-1, :-2] - u[1:-1, 2:]),
}


def source(case, quick):
    if CASES[case] is None:
        return _STENCIL.format(s=128 if quick else 2048)
    n, m = (64, 128) if quick else (4096, 1024)
    return _INPUTS.format(n=n, m=m) + CASES[case]


def jitcore_case(src):
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(src, "<case>", "exec"), ns)
    return jitcore.jit(ns["fn"]), tuple(ns["inputs"](0))


def best_of(fn, args, calls, sync):
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        sync(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def fmt(ms):
    return "n/a" if ms is None else (f"{ms:.3g} ms" if ms >= 1 else f"{ms * 1e3:.3g} µs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.no_jax:
        os.environ[jax_side.ENV_VAR] = ""
    side = jax_side.JaxSide()
    names = list(CASES)
    jc, checks = {}, {}
    for name in names:
        src = source(name, args.quick)
        fn, xs = jitcore_case(src)
        got = np.asarray(fn(*xs), np.float64)
        ref = NUMPY[name](*[np.asarray(a, np.float64) for a in xs])
        scale = float(np.abs(ref).max())
        ok = np.allclose(got, ref, rtol=2e-3, atol=2e-3 * scale)
        checks[name] = "ok" if ok else "MISMATCH"
        jc[name] = (fn, xs)
        side.define(name, src + "\ndef build(seed):\n    return jax.jit(fn), tuple(inputs(seed))\n")
    times = {n: {"jitcore": [], "JAX": [], "NumPy": []} for n in names}
    for r in range(args.rounds):
        for name in names:
            fn, xs = jc[name]
            times[name]["jitcore"].append(best_of(fn, xs, args.calls, np.asarray) * 1e3)
            jt = side.time(name, args.calls)     # seconds
            if jt is not None:
                times[name]["JAX"].append(jt * 1e3)
            if r < 3:   # NumPy is 10-100x slower; three rounds bound its column well enough
                times[name]["NumPy"].append(best_of(NUMPY[name], xs, 1, lambda v: v) * 1e3)
    side.close()
    limit = min(times["x * g + c (memory limit)"]["jitcore"])
    lines = [f"- machine: {cpu_model()}, {os.cpu_count()} cores; NumPy {np.__version__}; "
             f"{side.label()}",
             f"- {args.rounds} interleaved rounds, best of {args.calls} calls each"
             f"{', quick sizes' if args.quick else ''}; ratios of minimums (above 1: jitcore "
             "faster); limit = jitcore's `x * g + c` on (4096, 1024), one read and one write",
             "", "| case | check | jitcore min / med | JAX min / med | NumPy min | JAX / jitcore "
             "| NumPy / jitcore | limit / jitcore |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        t = times[name]
        j = min(t["jitcore"])
        jx = min(t["JAX"]) if t["JAX"] else None
        jm = statistics.median(t["JAX"]) if t["JAX"] else None
        lim = f"{limit / j:.2f}" if CASES[name] is not None else "n/a"
        lines.append(f"| {name} | {checks[name]} | {fmt(j)} / {fmt(statistics.median(t['jitcore']))}"
                     f" | {fmt(jx)} / {fmt(jm)} | {fmt(min(t['NumPy']))} | "
                     f"{'n/a' if jx is None else f'{jx / j:.2f}'} | "
                     f"{min(t['NumPy']) / j:.2f} | {lim} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
