"""Training workloads under `jitcore.jit`, side by side with JAX and NumPy.

    python benchmarks/workloads.py [--rounds 10] [--calls 2] [--rows 1,5,9] [--busy N]
                                   [--quick] [--no-jax] [--out FILE]

Rows (the cases are in `workloads_cases.py`, written once for jitcore and JAX):
1. MLP 784-512-512-10, batch 128, one SGD step (jit of value_and_grad + update), float32;
2. MLP 64-128-10, batch 256, the same step;
3. a pre-LN transformer encoder block (batch 8, seq 128, d_model 256, 4 heads, MLP 1024, GELU,
   layer norm): gradient of the mean squared output with respect to its 12 parameters;
4. a tanh RNN by `lax.scan`, 200 steps, hidden 256, batch 32: forward, and value_and_grad;
5. sum / mean / var over axis 0 of a 4096 x 4096 float32 array;
6. `x.at[idx].add(updates)`, 1e5 rows of 128 float32 into 10^4 rows;
7. per-example logistic-regression gradients, `vmap(grad)`, batch 4096, 256 features;
8. the cold first call of row 3's jit(grad): a fresh process per measurement, persistent
   caches off (JITCORE_CACHE=0; JAX's compilation cache disabled); import time apart;
9. GELU + layer norm on (4096, 1024); a 5-point 2-D stencil on 2048^2; an embedding gather
   (50000 x 256 table, 4096 ids); dispatch of a jitted function of a 20-leaf pytree.

Before any timing, each case's jitcore answer is checked against a NumPy float64 version of
the same math (manual backpropagation for the gradients) where there is one, and JAX's against
jitcore's; the `check` column says which agreed. JAX runs in its own process (`jax_side.py`)
on the same arrays (both sides call the case's `inputs(seed)`). Rounds are interleaved: every
round times every case on jitcore, JAX and NumPy in turn (best of `--calls` each; calls of
under a millisecond are averaged over a run of back-to-back calls), so a slow spell of this
shared machine hits all columns. The table gives min / median over rounds and the ratio of
medians JAX / jitcore (above 1: jitcore faster). NumPy runs the float32 inputs as given.
`--busy N` keeps N pure-Python busy loops running for the whole measurement.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import jitcore  # noqa: E402
from jitcore import lax, numpy as jnp, tree_util  # noqa: E402

import jax_side  # noqa: E402
import workloads_cases as wc  # noqa: E402
from machine import cpu_model, start_busy, stop_busy  # noqa: E402

RTOL = 2e-3      # float32 sums of up to a few thousand terms, scaled to the largest element


def header(args, side):
    from xla_like.backends.cpu import blas
    try:
        bl = blas.load().config()
        blas_text = f"{bl['config']} (core {bl['corename']}, {bl['num_threads']} threads)"
    except Exception as e:  # noqa: BLE001 - the header says why instead of failing the run
        blas_text = f"unavailable: {e}"
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(("JITCORE", "OPENBLAS"))}
    return [f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- machine: {cpu_model()}, {os.cpu_count()} cores",
            f"- OpenBLAS (jitcore): {blas_text}",
            f"- env: {env or 'no JITCORE_*/OPENBLAS_* set'}",
            f"- --busy {args.busy} (pure-Python busy-loop processes during the run)",
            f"- {args.rounds} interleaved rounds, best of {args.calls} calls each"
            f"{', quick sizes' if args.quick else ''}; NumPy {np.__version__}",
            f"- {side.label()}"]


def jitcore_case(src):
    """(jitted fn, args) of a case source, bound to jitcore."""
    ns = {"np": np, "jax": jitcore, "jnp": jnp, "lax": lax}
    exec(compile(src, "<workload>", "exec"), ns)
    return jitcore.jit(ns["fn"]), tuple(ns["inputs"](0))


def jax_source(src):
    return src + "\ndef build(seed):\n    return jax.jit(fn), tuple(inputs(seed))\n"


def leaves(out):
    return [np.asarray(x) for x in tree_util.tree_leaves(out)]


def agree(got, want):
    """'' when the leaves agree to RTOL, else what differs."""
    if len(got) != len(want):
        return f"{len(got)} outputs vs {len(want)}"
    for i, (g, r) in enumerate(zip(got, want)):
        g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
        if g.shape != r.shape:
            return f"output {i}: shape {g.shape} vs {r.shape}"
        scale = float(np.abs(r).max()) if r.size else 0.0
        if not np.allclose(g, r, rtol=RTOL, atol=RTOL * scale, equal_nan=True):
            err = float(np.abs(g - r).max()) / (scale or 1.0)
            return f"output {i} {g.shape}: max error {err:.2e} of max |ref|"
    return ""


def best_of(fn, args, calls, inner, sync):
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        for _ in range(inner):
            sync(fn(*args))
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


# -- row 8: cold first call, each in a fresh process ---------------------------------------------

_COLD = """
import json, os, sys, time
t0 = time.perf_counter()
import numpy as np
if {jax!r}:
    import jax
    jax.config.update("jax_enable_x64", True)
    try:
        jax.config.update("jax_enable_compilation_cache", False)
    except Exception:
        pass
    import jax.numpy as jnp
    from jax import lax
else:
    import jitcore as jax
    from jitcore import numpy as jnp, lax
t1 = time.perf_counter()
ns = dict(np=np, jax=jax, jnp=jnp, lax=lax)
exec(compile({src!r}, "<cold>", "exec"), ns)
args = ns["inputs"](0)
t2 = time.perf_counter()
jax.block_until_ready(jax.jit(ns["fn"])(*args))
t3 = time.perf_counter()
print(json.dumps(dict(imp=t1 - t0, first=t3 - t2)))
"""


def byte_compile():
    """Write jitcore's bytecode (`__pycache__`) before the cold calls: pip byte-compiles JAX when
    it installs it, while an editable install run with PYTHONDONTWRITEBYTECODE set (as on some
    machines) would otherwise compile jitcore's sources again in every fresh process (~0.14 s
    of the first call, for the modules the backend imports then)."""
    import compileall
    for package in ("jitcore", "ops", "xla_like"):
        compileall.compile_dir(os.path.join(ROOT, package), quiet=1)


def cold_call(python, src, is_jax, timeout=600):
    """(import s, first call s) in a fresh process, or the error text."""
    env = dict(os.environ, JITCORE_CACHE="0", JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as cwd:
        try:
            r = subprocess.run([python, "-c", _COLD.format(jax=is_jax, src=src)], cwd=cwd,
                               env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"no result within {timeout} s"
    try:
        d = json.loads(r.stdout.strip().splitlines()[-1])
        return d["imp"], d["first"]
    except (ValueError, IndexError, KeyError):
        return (r.stderr.strip().splitlines() or ["no output"])[-1]


# -- the run -------------------------------------------------------------------------------------

def fmt(ts):
    ts = [t for t in ts if t is not None]
    if not ts:
        return "n/a"
    lo, med = min(ts), statistics.median(ts)
    unit, k = ("ms", 1e3) if med >= 1e-3 else ("µs", 1e6)
    return f"{lo * k:.3g} / {med * k:.3g} {unit}"


def ratio(a, b):
    a, b = [t for t in a if t is not None], [t for t in b if t is not None]
    return f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="default 10, --quick 2")
    ap.add_argument("--calls", type=int, default=2, help="calls per round; the best counts")
    ap.add_argument("--rows", default="1,2,3,4,5,6,7,8,9", help="e.g. 1,5,9")
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes during the run")
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    ap.add_argument("--no-jax", action="store_true", help="leave the JAX column out")
    ap.add_argument("--out", help="append the results, as markdown, to this file")
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 10
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in wc.ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; rows are {', '.join(wc.ROWS)}")
    busy = start_busy(args.busy)
    try:
        return run(args, rows)
    finally:
        stop_busy(busy)


def run(args, rows):
    if args.no_jax:
        os.environ[jax_side.ENV_VAR] = ""
    side = jax_side.JaxSide()
    head = header(args, side)       # before any compile: BLAS threads as the run starts
    cases, notes = [], []
    for row in rows:
        for name, label in wc.ROWS[row]:
            src = wc.source(name, args.quick)
            c = dict(row=row, name=name, label=label, check=[], t=([], [], []))
            try:
                fn, xs = jitcore_case(src)
                t0 = time.perf_counter()
                got = leaves(fn(*xs))
                c["first_s"] = time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - reported as the row's result
                notes.append(f"row {row} {label}: jitcore raised {type(e).__name__}: {e}")
                c["check"].append("jitcore error")
                cases.append(c)
                continue
            ref_fn = wc.NUMPY[name]
            if ref_fn is not None:
                bad = agree(got, wc.flatten(ref_fn(*wc.to64(xs))))
                c["check"].append("NumPy64 ok" if not bad else "NumPy64 DIFFERS")
                if bad:
                    notes.append(f"row {row} {label}: jitcore vs NumPy float64: {bad}")
            if side.define(name, jax_source(src)):
                bad = agree(side.result(name) or [], got)
                c["check"].append("JAX ok" if not bad else "JAX DIFFERS")
                if bad:
                    notes.append(f"row {row} {label}: JAX vs jitcore: {bad}")
            elif side.available:
                notes.append(f"row {row} {label}: JAX could not run it: {side.errors.get(name)}")
            once = best_of(fn, xs, 1, 1, jitcore.block_until_ready)
            # Runs of back-to-back calls lasting ~2 ms, so short calls are not clock noise.
            inner = int(min(1000, max(1, 2e-3 // max(once, 1e-7))))
            c.update(fn=fn, xs=xs, np_fn=ref_fn, inner=inner)
            cases.append(c)

    cold = {"jitcore": [], "JAX": []} if "8" in rows else None
    if cold is not None:
        byte_compile()
    tf_src = wc.source("tf", args.quick)
    for k in range(args.rounds):
        print(f"round {k + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for c in cases:
            if "fn" not in c:
                continue
            ours, jaxs, nps = c["t"]
            ours.append(best_of(c["fn"], c["xs"], args.calls, c["inner"],
                                jitcore.block_until_ready))
            jaxs.append(side.time(c["name"], args.calls, c["inner"]))
            if c["np_fn"] is not None:
                nps.append(best_of(c["np_fn"], c["xs"], args.calls, c["inner"], lambda r: r))
        if cold is not None and len(cold["jitcore"]) < (1 if args.quick else min(3, args.rounds)):
            cold["jitcore"].append(cold_call(sys.executable, tf_src, False))
            if side.available:
                cold["JAX"].append(cold_call(side.python, tf_src, True))
    side.close()

    lines = head + [
        "", "| row | case | check | jitcore min / med | JAX min / med | NumPy min / med "
        "| JAX / jitcore | NumPy / jitcore |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for c in cases:
        ours, jaxs, nps = c["t"]
        lines.append(f"| {c['row']} | {c['label']} | {', '.join(c['check']) or '-'} | "
                     f"{fmt(ours)} | {fmt(jaxs)} | {fmt(nps)} | {ratio(jaxs, ours)} | "
                     f"{ratio(nps, ours)} |")
    if cold is not None:
        lines += cold_lines(cold)
    firsts = [f"{c['label']} {c['first_s']:.2f}" for c in cases if "first_s" in c]
    lines += ["", "jitcore first call in this process (trace + compile + run, disk cache as "
              "configured), s: " + "; ".join(firsts)]
    lines += [f"- {n}" for n in notes]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n## `workloads.py {' '.join(sys.argv[1:])}`\n\n{text}\n")
    return 0


def cold_lines(cold):
    out = ["", "Row 8, cold first call of the transformer block's jit(grad) (fresh process each,"
           " persistent caches off, bytecode written for both): first call s (min / median), import s",
           ""]
    for who, results in cold.items():
        ok = [r for r in results if isinstance(r, tuple)]
        errs = [r for r in results if not isinstance(r, tuple)]
        if ok:
            f = [r[1] for r in ok]
            i = [r[0] for r in ok]
            out.append(f"- {who}: first call {min(f):.2f} / {statistics.median(f):.2f} s over "
                       f"{len(ok)} processes; import {statistics.median(i):.2f} s")
        for e in errs:
            out.append(f"- {who}: failed: {e}")
        if not results:
            out.append(f"- {who}: n/a")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
