"""vmap's batched dots: per-example gradients, a vmapped MLP layer, batched outer products.

jitcore (with the `fold_batched_dots` pass, and without it: the pass dropped from the kernel
pipeline; and with reshape views off: `planner.VIEWS`) against JAX (`jax_side`, its own
process) and NumPy float32, interleaved rounds;
each answer is checked against NumPy float64. The "dots" column counts the dots (batched ones
in parentheses) of jitcore's optimized program.

    .venv/bin/python benchmarks/vmap_gemm.py [--quick] [--no-jax] [--out FILE]
"""
from __future__ import annotations

import argparse
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
from xla_like import ir, pipeline  # noqa: E402
from xla_like.backends.plan import planner  # noqa: E402

SOURCES = {
    "mlp_layer": """
B, M, K, N = {b}, {m}, {k}, {n}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, M, K)).astype(np.float32),
            (rng.normal(size=(K, N)) / np.sqrt(K)).astype(np.float32),
            np.zeros(N, np.float32))

def fn(x, w, b):
    return jax.vmap(lambda x: jnp.maximum(x @ w + b, 0.0))(x)
""",
    "outer": """
B, M, N = {b}, {m}, {n}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, M)).astype(np.float32),
            rng.normal(size=(B, N)).astype(np.float32))

def fn(a, c):
    return jax.vmap(lambda a, c: a[:, None] @ c[None, :])(a, c)
""",
    "outer_summed": """
B, M, N = {b}, {m}, {n}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, M)).astype(np.float32),
            rng.normal(size=(B, N)).astype(np.float32))

def fn(a, c):
    return jnp.sum(jax.vmap(lambda a, c: a[:, None] @ c[None, :])(a, c), axis=0)
""",
}
NUMPY = {
    "logreg": wc.NUMPY["logreg"],
    "mlp_layer": lambda x, w, b: np.maximum(x @ w + b, 0),
    "outer": lambda a, c: a[:, :, None] * c[:, None, :],
    "outer_summed": lambda a, c: a.T @ c,
}
SIZES = {False: dict(logreg=None, mlp_layer=dict(b=256, m=16, k=256, n=256),
                     outer=dict(b=1024, m=64, n=64), outer_summed=dict(b=4096, m=256, n=128)),
         True: dict(logreg=None, mlp_layer=dict(b=8, m=4, k=16, n=16),
                    outer=dict(b=16, m=8, n=8), outer_summed=dict(b=64, m=16, n=8))}


def source(name, quick):
    if name == "logreg":
        return wc.source("logreg", quick)
    return SOURCES[name].format(**SIZES[quick][name])


def dots(fn, xs):
    seen = {}
    with pipeline.observe(lambda n, m: seen.__setitem__("m", ir.clone_module(m))
                          if n == "layout" else None):
        jitcore.jit(fn).lower(*xs).compile()
    ds = [i for c in seen["m"].computations.values() for i in c.instructions
          if i.opcode == "dot_general"]
    return f"{len(ds)} ({sum(1 for d in ds if d.attrs['dimension_numbers'][1][0])})"


def without_fold(src):
    """The case compiled with the pass dropped from the kernel pipeline."""
    steps = pipeline.PIPELINES["kernel"]
    saved = list(steps)
    steps[:] = [s for s in steps if s[0] != "fold_batched_dots"]
    try:
        fn, xs = jitcore_case(src)
        fn(*xs)   # compile now, while the pass is out
        ns = {"np": np, "jax": jitcore, "jnp": jitcore.numpy, "lax": jitcore.lax}
        exec(compile(src, "<case>", "exec"), ns)
        n = dots(ns["fn"], xs)
    finally:
        steps[:] = saved
    return fn, n


def without_views(src):
    """The case compiled with reshape views off (each regrouping of axes a copy kernel), and
    how many such kernels its plan runs then and now."""
    def copies(fn, xs):
        plan = fn.lower(*xs).compile()._entry.executable.plan
        return sum(1 for s in plan.steps if s.kind == "kernel" and
                   planner.view_operand(s.instr) is not None)
    planner.VIEWS = False
    try:
        fn, xs = jitcore_case(src)
        fn(*xs)   # compile now, while views are off
        before = copies(fn, xs)
    finally:
        planner.VIEWS = True
    after = copies(*jitcore_case(src))
    return fn, f"{before} -> {after}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="default 10, --quick 2")
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 10)
    if args.no_jax:
        os.environ[jax_side.ENV_VAR] = ""
    side = jax_side.JaxSide()
    cases = []
    for name in ("logreg", "mlp_layer", "outer", "outer_summed"):
        src = source(name, args.quick)
        old_fn, old_dots = without_fold(src)
        copy_fn, copies = without_views(src)
        fn, xs = jitcore_case(src)
        got = leaves(fn(*xs))
        ref = wc.flatten(NUMPY[name](*wc.to64(xs)))
        checks = ["NumPy64 ok" if not agree(got, ref) else "NumPy64 DIFFERS"]
        if side.define(name, jax_source(src)):
            checks.append("JAX ok" if not agree(side.result(name) or [], got) else "JAX DIFFERS")
        x32 = [np.asarray(x) for x in xs]
        npf = NUMPY[name]
        ns = {"np": np, "jax": jitcore, "jnp": jitcore.numpy, "lax": jitcore.lax}
        exec(compile(src, "<case>", "exec"), ns)
        cases.append(dict(name=name, fn=fn, old=old_fn, xs=xs, checks=checks,
                          dots=f"{old_dots} -> {dots(ns['fn'], xs)}", t=([], [], [], [], []),
                          copy=copy_fn, copies=copies,
                          np=lambda f=npf, a=x32: f(*a)))
    for _ in range(rounds):
        for c in cases:
            c["t"][0].append(best_of(c["fn"], c["xs"], args.calls, 1, jitcore.block_until_ready))
            c["t"][1].append(best_of(c["old"], c["xs"], args.calls, 1, jitcore.block_until_ready))
            c["t"][2].append(side.time(c["name"], args.calls))
            c["t"][3].append(best_of(c["np"], (), args.calls, 1, lambda r: r))
            c["t"][4].append(best_of(c["copy"], c["xs"], args.calls, 1,
                                     jitcore.block_until_ready))
    lines = [f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
             f"- machine: {cpu_model()}, {os.cpu_count()} cores; load average "
             f"{os.getloadavg()[0]:.1f}",
             f"- {side.label()}", f"- {rounds} interleaved rounds, best of {args.calls} calls "
             "each; times min / median", "",
             "| case | jitcore | jitcore without the pass | jitcore without reshape views | JAX | "
             "JAX / jitcore | NumPy f32 | NumPy / jitcore | dots (batched), without -> with | "
             "reshape copies, without views -> with | check |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        jt, old, jx, npt, cp = c["t"]
        lines.append(f"| {c['name']} | {fmt(jt)} | {fmt(old)} | {fmt(cp)} | {fmt(jx)} | "
                     f"{ratio(jx, jt)} | {fmt(npt)} | {ratio(npt, jt)} | {c['dots']} | "
                     f"{c['copies']} | {', '.join(c['checks'])} |")
    side.close()
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
