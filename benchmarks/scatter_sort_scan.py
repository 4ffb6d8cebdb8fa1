"""Row scatters, sorts and cumulative sums under `jitcore.jit`, against NumPy and JAX.

    python benchmarks/scatter_sort_scan.py [--rounds 9] [--out benchmarks/results/...md]

Cases: `x.at[i].add(u)` and `.set(u)` of 1e5 rows of 128 float32 into (10000, 128) (rows
collide: 10 updates per row on average; NumPy: `np.add.at` and fancy assignment); `jnp.sort`
and `jnp.argsort` of 1e6 float32 and of (1000, 1000) float32 along each axis (NumPy: its
default SIMD sort and its stable sort); `jnp.cumsum` of 1e6 float32 and along axis 0 of
(1000, 1000) float32, with each side's largest relative error against float64 prefix sums.
The limit: a read + write copy of the scatter's operand plus a read of its updates
(`np.copyto`), measured in the same interleaved rounds. Each column: median (min) over rounds,
in ms (the machine is shared: expect noise). "1 thread": the same jitcore program compiled and
run with `num_threads=1` (on a loaded machine the second thread often waits for a core).
Sorts and scans run natively (`llvm.sort`, `llvm.scan`); "host steps": the same program
compiled with them as host steps (NumPy, threaded: `ops.sorting`, `ops.cumulative`), as they
ran before, timed in the same rounds.
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

SCATTER = """
def inputs(seed):
    r = np.random.default_rng(seed)
    return (r.normal(size=(10000, 128)).astype(np.float32), r.integers(0, 10000, size=100000),
            r.normal(size=(100000, 128)).astype(np.float32))
"""
VEC = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=1000000).astype(np.float32),)
"""
SQUARE = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(1000, 1000)).astype(np.float32),)
"""
POS = """
def inputs(seed):
    return (np.random.default_rng(seed).uniform(0, 1, size=1000000).astype(np.float32),)
"""
POS_SQ = """
def inputs(seed):
    return (np.random.default_rng(seed).uniform(0, 1, size=(1000, 1000)).astype(np.float32),)
"""


def _np_add_at(x, i, u):
    out = x.copy()
    np.add.at(out, i, u)
    return out


def _np_set(x, i, u):
    out = x.copy()
    out[i] = u
    return out


# name, inputs, jitcore fn, NumPy fn, JAX body, float64 reference for the error column or None
CASES = [
    ("at[i].add rows", SCATTER, lambda x, i, u: x.at[i].add(u), _np_add_at,
     "lambda x, i, u: x.at[i].add(u)", None),
    ("at[i].set rows", SCATTER, lambda x, i, u: x.at[i].set(u), _np_set,
     "lambda x, i, u: x.at[i].set(u)", None),
    ("sort 1e6", VEC, jnp.sort, np.sort, "jnp.sort", None),
    ("sort 1e6 (NumPy stable)", VEC, jnp.sort, lambda x: np.sort(x, kind="stable"),
     "jnp.sort", None),
    ("argsort 1e6 (NumPy stable)", VEC, jnp.argsort, lambda x: np.argsort(x, kind="stable"),
     "jnp.argsort", None),
    ("sort (1000,1000) axis 1", SQUARE, lambda x: jnp.sort(x, axis=1),
     lambda x: np.sort(x, axis=1), "lambda x: jnp.sort(x, axis=1)", None),
    ("sort (1000,1000) axis 0", SQUARE, lambda x: jnp.sort(x, axis=0),
     lambda x: np.sort(x, axis=0), "lambda x: jnp.sort(x, axis=0)", None),
    ("argsort (1000,1000) axis 1 (NumPy stable)", SQUARE, lambda x: jnp.argsort(x, axis=1),
     lambda x: np.argsort(x, axis=1, kind="stable"), "lambda x: jnp.argsort(x, axis=1)", None),
    ("argsort (1000,1000) axis 0 (NumPy stable)", SQUARE, lambda x: jnp.argsort(x, axis=0),
     lambda x: np.argsort(x, axis=0, kind="stable"), "lambda x: jnp.argsort(x, axis=0)", None),
    ("cumsum 1e6", POS, jnp.cumsum, np.cumsum, "jnp.cumsum",
     lambda x: np.cumsum(x.astype(np.float64))),
    ("cumsum (1000,1000) axis 0", POS_SQ, lambda x: jnp.cumsum(x, axis=0),
     lambda x: np.cumsum(x, axis=0), "lambda x: jnp.cumsum(x, axis=0)",
     lambda x: np.cumsum(x.astype(np.float64), axis=0)),
    ("cumsum (1000,1000) axis 1", POS_SQ, lambda x: jnp.cumsum(x, axis=1),
     lambda x: np.cumsum(x, axis=1), "lambda x: jnp.cumsum(x, axis=1)",
     lambda x: np.cumsum(x.astype(np.float64), axis=1)),
    ("cumprod 1e6 (NumPy in float64)", POS, lambda x: jnp.cumprod(x * 0 + 1.0000001),
     lambda x: np.cumprod((x * 0 + np.float32(1.0000001)).astype(np.float64)),
     "lambda x: jnp.cumprod(x * 0 + 1.0000001)", None),
]


def _fresh(fn):
    """A new function computing `fn` (jit wrappers of one function share one cache)."""
    return lambda *args: fn(*args)


def _err(got, want):
    return f"{float(np.max(np.abs(np.asarray(got, np.float64) - want) / np.abs(want))):.1e}"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    from xla_like.backends.plan import sort_scan
    x, _, u = local_inputs(SCATTER)
    dst, udst = np.empty_like(x), np.empty_like(u)
    with JaxSide() as jax:
        cases = []
        for name, src, ours, theirs, jbody, ref in CASES:
            ins = local_inputs(src)
            f = jitcore.jit(ours)
            with jitcore.config.override(num_threads=1):
                f1 = jitcore.jit(_fresh(ours))
                one = np.asarray(f1(*ins))
            sort_scan.SORTS = sort_scan.SCANS = False
            try:
                fh = jitcore.jit(_fresh(ours))
                np.asarray(fh(*ins))
            finally:
                sort_scan.SORTS = sort_scan.SCANS = True
            got, want = np.asarray(f(*ins)), theirs(*ins)
            if name.startswith("at[i].add"):
                assert np.allclose(got, want, rtol=1e-4, atol=1e-4), name
            elif name.startswith("cumprod"):
                assert np.allclose(got, want, rtol=1e-6), name
            else:
                assert np.array_equal(got, want) or ref is not None, name
            # Colliding scatters may keep another update per thread count; scans combine their
            # chunks in another order (float64 roundings apart).
            if name.startswith("cum"):
                assert np.allclose(got, one, rtol=1e-6), name
            elif not name.startswith("at[i]"):
                assert np.array_equal(got, one), name
            have_jax = jax.available and jax.define(name, jit_source(src, jbody))
            errs = None
            if ref is not None:
                w = ref(*ins)
                jres = jax.result(name) if have_jax else None
                errs = (_err(got, w), _err(want, w), _err(jres[0], w) if jres else "n/a")
            cases.append((name, ins, (f, f1, fh), theirs, have_jax, errs))
        times = {c[0]: ([], [], [], [], []) for c in cases}
        limit = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            np.copyto(dst, x)
            np.copyto(udst, u)
            limit.append(time.perf_counter() - t0)
            for name, ins, (f, f1, fh), theirs, have_jax, _ in cases:
                times[name][0].append(seconds(f, *ins))
                times[name][4].append(seconds(fh, *ins))
                with jitcore.config.override(num_threads=1):
                    times[name][3].append(seconds(f1, *ins))
                times[name][1].append(seconds(theirs, *ins))
                if have_jax:
                    t = jax.time(name, 1)
                    if t is not None:
                        times[name][2].append(t)
        lines = [
            "# Scatter, sort and cumulative sums, float32", "",
            f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds; "
            f"jitcore CPU backend, NumPy {np.__version__}; {jax.label()}.", "",
            f"Limit for the scatters: copying the (10000, 128) operand and the (100000, 128) "
            f"updates with np.copyto: **{fmt_ms(limit)} ms**.", "",
            "Times: median (min) in ms. Ratios of medians. `err`: largest relative error "
            "against float64 prefix sums (jitcore / NumPy / JAX).", "",
            "| case | jitcore | jitcore 1 thread | jitcore host steps | NumPy | JAX | "
            "jitcore / NumPy | jitcore / JAX | err |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for name, ins, f, theirs, have_jax, errs in cases:
            ta, tb, tc, t1, th = times[name]
            ma = statistics.median(ta)
            rj = f"{ma / statistics.median(tc):.2f}" if tc else "n/a"
            lines.append(f"| {name} | {fmt_ms(ta)} | {fmt_ms(t1)} | {fmt_ms(th)} | {fmt_ms(tb)} | "
                         f"{fmt_ms(tc)} | {ma / statistics.median(tb):.2f} | {rj} | "
                         f"{' / '.join(errs) if errs else ''} |")
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "scatter_sort_scan")
