"""Reverse mode through `lax.scan`: the tanh RNN of `workloads.py` row 4, jitcore vs JAX.

    python benchmarks/scan_grad.py [--rounds 10] [--calls 2] [--quick] [--no-jax] [--baseline]
                                   [--out FILE]

Cases (sources in `workloads_cases.py`, run identically by jitcore and JAX): the forward scan
(200 steps, hidden 256, batch 32, input 64, float32), its `value_and_grad`, and its `grad`.
Besides the times, the table states the matrix products per step jitcore's optimized program
does (dots counted in the scan bodies after the kernel pipeline: forward + backward) and a
machine column: JAX's per-step products alone (2 forward, 3 backward) in NumPy float32, one
`@` each with the same shapes, timed in the same rounds (its per-call overhead included).
Before timing, each answer is checked against the NumPy float64 version (manual
backpropagation) and JAX's against jitcore's. Rounds are interleaved; min / median over rounds;
ratio = JAX median / jitcore median (above 1: jitcore faster). `--baseline` adds a column timed
in the same rounds: jitcore with every product a cblas_sgemm call and the loop's matrix read
transposed in the backward step (`products_through_blas`: the code before
`cpu/small_gemm.py` and `passes/loop_dot_layout.py`), and its ratio to jitcore's median.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jitcore  # noqa: E402
import jax_side  # noqa: E402
import workloads_cases as wc  # noqa: E402
from machine import cpu_model  # noqa: E402
from workloads import agree, best_of, fmt, jax_source, jitcore_case, leaves, ratio  # noqa: E402

EXTRA = {"rnn_grad_only": wc.SOURCES["rnn_fwd"].replace(
    "\nfn = forward\n", "\ndef fn(params, xs):\n    return jax.grad(loss)(params, xs)\n")}


def case_source(name, quick):
    if name in EXTRA:
        fmt_ = (wc.QUICK if quick else wc.FULL)["rnn"]
        return EXTRA[name].format(**fmt_)
    return wc.source(name, quick)


def reference(name, xs):
    if name == "rnn_grad_only":
        return wc.flatten(wc.np_rnn_grad(*wc.to64(xs))[1])
    return wc.flatten(wc.NUMPY[name](*wc.to64(xs)))


def dots_per_step(fn, xs):
    """Dots in each scan body of the optimized program: {body name: count}."""
    from xla_like.pipeline import run_pipeline
    module = jitcore.make_hlo(fn)(*xs)
    module, _ = run_pipeline(copy.deepcopy(module), "kernel")
    bodies = [c for comp in module.computations.values() for i in comp.instructions
              if i.opcode == "scan" for c in i.called]
    return {b.name: sum(i.opcode == "dot_general" for i in b.instructions) for b in bodies}


@contextlib.contextmanager
def products_through_blas():
    """Compile as before the small-product kernel: every product through BLAS, no transposed
    copy of a loop's matrix (the program key marked, so the two builds are cached apart)."""
    import xla_like.backends.cpu as cpu
    from xla_like.backends.cpu import small_gemm
    from xla_like.passes import loop_dot_layout
    saved = small_gemm.fits, cpu.program_key, loop_dot_layout.MIN_STEPS
    small_gemm.fits = lambda *a, **k: False
    cpu.program_key = lambda *a, **k: saved[1](*a, **k) + ":blas"
    loop_dot_layout.MIN_STEPS = 1 << 62
    try:
        yield
    finally:
        small_gemm.fits, cpu.program_key, loop_dot_layout.MIN_STEPS = saved


def gemm_floor(params, xs, grad):
    """The per-step products in NumPy float32: forward x@U, h@W; backward g@W.T, h.T@g, x.T@g."""
    wx, wh, _ = params
    h = np.zeros((xs.shape[1], wh.shape[0]), np.float32)

    def run():
        for x in xs:
            x @ wx
            h @ wh
            if grad:
                h @ wh.T
                h.T @ h
                x.T @ h
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="default 10, --quick 2")
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--baseline", action="store_true",
                    help="also time the build with every product through BLAS")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 10)
    if args.no_jax:
        os.environ[jax_side.ENV_VAR] = ""
    side = jax_side.JaxSide()
    cases, notes = [], []
    for name in ("rnn_fwd", "rnn_grad", "rnn_grad_only"):
        src = case_source(name, args.quick)
        fn, xs = jitcore_case(src)
        got = leaves(fn(*xs))
        checks = ["NumPy64 ok" if not agree(got, reference(name, xs)) else "NumPy64 DIFFERS"]
        if side.define(name, jax_source(src)):
            checks.append("JAX ok" if not agree(side.result(name) or [], got) else "JAX DIFFERS")
        ns = {"np": np, "jax": jitcore, "jnp": jitcore.numpy, "lax": jitcore.lax}
        exec(compile(src, "<case>", "exec"), ns)
        dots = dots_per_step(ns["fn"], xs)
        base = None
        if args.baseline:
            with products_through_blas():
                base, _ = jitcore_case(src)
                if agree(leaves(base(*xs)), got):
                    checks.append("baseline DIFFERS")
        cases.append(dict(name=name, fn=fn, xs=xs, checks=checks, dots=dots, t=([], [], [], []),
                          floor=gemm_floor(xs[0], xs[1], name != "rnn_fwd"), base=base))
    for _ in range(rounds):
        for c in cases:
            c["t"][0].append(best_of(c["fn"], c["xs"], args.calls, 1, jitcore.block_until_ready))
            c["t"][1].append(side.time(c["name"], args.calls))
            c["t"][2].append(best_of(lambda: c["floor"](), (), args.calls, 1, lambda r: r))
            if c["base"] is not None:
                c["t"][3].append(best_of(c["base"], c["xs"], args.calls, 1,
                                         jitcore.block_until_ready))
    lines = [f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
             f"- machine: {cpu_model()}, {os.cpu_count()} cores; load average "
             f"{os.getloadavg()[0]:.1f}",
             f"- {side.label()}", f"- {rounds} interleaved rounds, best of {args.calls} calls each",
             "", "| case | jitcore | JAX | JAX / jitcore | the products alone (NumPy) | dots per step "
             "(jitcore, per scan body) | check |" +
             (" products through BLAS | BLAS / jitcore |" if args.baseline else ""),
             "|---|---|---|---|---|---|---|" + ("---|---|" if args.baseline else "")]
    for c in cases:
        jt, jx, fl, bt = c["t"]
        dots = ", ".join(f"{k}: {v}" for k, v in c["dots"].items())
        lines.append(f"| {c['name']} | {fmt(jt)} | {fmt(jx)} | {ratio(jx, jt)} | {fmt(fl)} | "
                     f"{dots} | {', '.join(c['checks'])} |" +
                     (f" {fmt(bt)} | {ratio(bt, jt)} |" if args.baseline else ""))
    side.close()
    text = "\n".join(lines + notes) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
