"""Eager (un-jitted) calls: random samplers and primitives on large arrays run compiled kernels
(`jitcore.eager`); small elementwise calls keep their dispatch cost. Against the reference
path (each primitive's NumPy `impl`, op by op: what eager calls ran before), NumPy, JAX's
eager calls and the machine's copy bandwidth.

    python benchmarks/eager.py [--rounds 7] [--out benchmarks/results/eager-DATE.md]

Columns: jitcore eager (compiled where `jitcore.eager` decides), the same call with the
compiled paths switched off ("reference"), NumPy doing the same work (for samplers, NumPy's own
generator: a different algorithm, as a yardstick), and JAX eager (`jax.random.normal(k, shape)`
with no `jax.jit` around it: JAX jits its samplers and primitives itself). Each figure is a
warm call (compiles happen before timing, as JAX's worker does); the first call's compile time
is reported separately. Small cases time `INNER` calls in a row and report per call. Rounds
interleave every column; the table reports median (min) over rounds. Results are checked
against the reference path once.
"""
from __future__ import annotations

import argparse
import contextlib
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
from jitcore import eager, random  # noqa: E402
from ops import core  # noqa: E402
from jax_side import JaxSide, local_inputs  # noqa: E402
from machine import cpu_model, emit_table, run_with_default_out  # noqa: E402

INNER = 2000      # calls per figure for the microsecond cases

KEY = """
def inputs(seed):
    return (np.array([0, seed], dtype=np.uint32),)
"""
SMALL = """
def inputs(seed):
    r = np.random.default_rng(seed)
    return r.normal(size=3), r.normal(size=3)
"""
MID = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=1000),)
"""
BIG = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=1 << 22),)
"""

# name, inputs source, jitcore eager function, NumPy function (None: n/a), JAX body (jax, jnp
# bound; no jax.jit), calls per figure, bytes written (for GB/s), whether to time "reference"
CASES = [
    ("random.normal (2000,2000) f64", KEY, lambda k: random.normal(k, (2000, 2000)),
     lambda k: np.random.default_rng(0).standard_normal((2000, 2000)),
     "lambda k: jax.random.normal(k, (2000, 2000))", 1, 32e6, True),
    ("random.uniform (2000,2000) f64", KEY, lambda k: random.uniform(k, (2000, 2000)),
     lambda k: np.random.default_rng(0).random((2000, 2000)),
     "lambda k: jax.random.uniform(k, (2000, 2000))", 1, 32e6, True),
    ("random.normal (5000,5000) f64", KEY, lambda k: random.normal(k, (5000, 5000)),
     lambda k: np.random.default_rng(0).standard_normal((5000, 5000)),
     "lambda k: jax.random.normal(k, (5000, 5000))", 1, 200e6, False),
    ("random.split(key, 4096)", KEY, lambda k: random.split(k, 4096), None,
     "lambda k: jax.random.split(k, 4096)", 1, 32768, True),
    ("x + y, (3,) f64", SMALL, lambda x, y: x + y, lambda x, y: x + y,
     "lambda x, y: x + y", INNER, None, True),
    ("jnp.sin, (1000,) f64", MID, jnp.sin, np.sin, "jnp.sin", INNER, None, True),
    ("jnp.exp, (4M,) f64", BIG, jnp.exp, np.exp, "jnp.exp", 1, 32e6, True),
    ("jnp.tanh, (4M,) f64", BIG, jnp.tanh, np.tanh, "jnp.tanh", 1, 32e6, True),
    ("x * 2 + 1, (4M,) f64", BIG, lambda x: x * 2.0 + 1.0, lambda x: x * 2.0 + 1.0,
     "lambda x: x * 2.0 + 1.0", 1, 32e6, True),
    ("jnp.sum, (4M,) f64", BIG, jnp.sum, np.sum, "jnp.sum", 1, None, True),
]


@contextlib.contextmanager
def reference_only():
    """Eager calls as they ran before compiled eager kernels: every primitive's `impl`."""
    hook, size = core.eval_trace().compiled, eager.MIN_SAMPLER_SIZE
    core.eval_trace().compiled, eager.MIN_SAMPLER_SIZE = None, float("inf")
    try:
        yield
    finally:
        core.eval_trace().compiled, eager.MIN_SAMPLER_SIZE = hook, size


def _per_call(fn, args, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        out = fn(*args)
    np.asarray(out)
    return (time.perf_counter() - t0) / calls


def _reference(into, fn, args, calls):
    with reference_only():
        into.append(_per_call(fn, args, calls))


def _append(into, t):
    if t is not None:
        into.append(t)
    time.sleep(0.05)   # let the JAX worker's threads go idle before the next figure


def _jax_source(inputs_src, body):
    return inputs_src + f"""
def build(seed):
    return ({body}), inputs(seed)
"""


def _fmt(ts):
    if not ts:
        return "n/a"
    m = statistics.median(ts)
    if m < 1e-3:
        return f"{m * 1e6:.1f} µs ({min(ts) * 1e6:.1f})"
    return f"{m * 1e3:.1f} ms ({min(ts) * 1e3:.1f})"


def _ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reference-rounds", type=int, default=3,
                    help="rounds that also time the samplers' reference path (seconds per call)")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    src = np.ones(32 << 20, np.float64)
    dst = np.empty_like(src)
    with JaxSide() as jax:
        cases, first = [], {}
        for name, isrc, ours, theirs, jbody, calls, nbytes, with_ref in CASES:
            ins = [jnp.asarray(a) for a in local_inputs(isrc)]
            t0 = time.perf_counter()
            got = np.asarray(ours(*ins))            # compiles
            first[name] = time.perf_counter() - t0
            if with_ref:
                with reference_only():
                    want = np.asarray(ours(*ins))
                err = float(np.max(np.abs(got - want) / (1 + np.abs(want)), initial=0.0))
                assert err < 1e-12, f"{name}: differs from the reference path by {err}"
            have_jax = jax.available and jax.define(name, _jax_source(isrc, jbody))
            cases.append((name, ins, ours, theirs, calls, nbytes, with_ref, have_jax))
        times = {c[0]: ([], [], [], []) for c in cases}
        copy_t = []
        for r in range(args.rounds):
            t0 = time.perf_counter()
            np.copyto(dst, src)
            copy_t.append(time.perf_counter() - t0)
            for name, ins, ours, theirs, calls, nbytes, with_ref, have_jax in cases:
                ta, tr, tn, tj = times[name]
                nins = [np.asarray(a) for a in ins]
                columns = [lambda: ta.append(_per_call(ours, ins, calls))]
                # The reference path of a sampler takes seconds: fewer rounds of it.
                if with_ref and (calls > 1 or not name.startswith("random.")
                                 or r < args.reference_rounds):
                    columns.append(lambda: _reference(tr, ours, ins, calls))
                if theirs is not None:
                    columns.append(lambda: tn.append(_per_call(theirs, nins, calls)))
                if have_jax:
                    columns.append(lambda: _append(tj, jax.time(name, 1, inner=calls)))
                # Each round starts at another column: whatever runs first after the previous
                # case (JAX's worker threads winding down on the 2 cores) is not always ours.
                k = r % len(columns)
                for col in columns[k:] + columns[:k]:
                    col()
        copy_gbs = 2 * src.nbytes / statistics.median(copy_t) / 1e9
        lines = [
            "# Eager calls: compiled kernels for primitives and samplers", "",
            f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds "
            f"({args.reference_rounds} for the samplers' reference path); jitcore CPU backend, NumPy "
            f"{np.__version__}; {jax.label()}.", "",
            f"Copy (np.copyto 256 MB, read + write): **{copy_gbs:.1f} GB/s** (median).", "",
            "Times per call: median (min). `reference`: the same eager call with compiled eager "
            "kernels off (each primitive's NumPy `impl`, as before). `GB/s`: output bytes / "
            "jitcore's median, `of copy` that over half the copy rate (a write-only pass). "
            "`first call`: jitcore's first call, compile included.", "",
            "| case | jitcore eager | reference | NumPy | JAX eager | / reference | / NumPy "
            "| / JAX | GB/s | of copy | first call |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, ins, ours, theirs, calls, nbytes, with_ref, have_jax in cases:
            ta, tr, tn, tj = times[name]
            gbs = of = ""
            if nbytes:
                g = nbytes / statistics.median(ta) / 1e9
                gbs, of = f"{g:.1f}", f"{g / (copy_gbs / 2):.0%}"
            lines.append(f"| {name} | {_fmt(ta)} | {_fmt(tr)} | {_fmt(tn)} | {_fmt(tj)} | "
                         f"{_ratio(ta, tr)} | {_ratio(ta, tn)} | {_ratio(ta, tj)} | {gbs} | "
                         f"{of} | {first[name] * 1e3:.0f} ms |")
        lines += ["", "NumPy's samplers use its own generator (PCG64, ziggurat normals): a "
                  "yardstick for speed, not the same numbers. The (5000,5000) normal's reference "
                  "path (tens of seconds) is not timed."]
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "eager")
