"""Cold compile time: each figure from a fresh process, persistent cache off.

    python benchmarks/compile_time.py [--rounds 3] [--cases tf chain80 randint ...] [--no-jax]

Cases: the transformer encoder block's jit(grad) (`workloads_cases` "tf", full size), an
80-step matmul+tanh chain (`compile_scaling.chain`), and jit of `random.randint`, `bernoulli`,
`choice` and `gamma`. A figure is the first call of a fresh `jit` (trace, compile, load, run),
the same thing JAX's column times (`jax_side`: its worker's first call, in a fresh worker per
figure). "whole" compiles the program as one LLVM module (what the backend did before programs
were cut into compile units: `cpu.compile_units`), in the same rounds. Rounds interleave the
columns; the table gives min / median over rounds. Every jitcore result is checked against a
NumPy reference where one exists, and against the other column (same answer both ways).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_RANDOM = {
    "randint": "jax.random.randint(k, (1000,), 0, 10)",
    "bernoulli": "jax.random.bernoulli(k, 0.3, (1000,))",
    "choice": "jax.random.choice(k, 50, (1000,))",
    "gamma": "jax.random.gamma(k, 2.5, (1000,))",
}


def _source(case):
    """Source text for both sides: `inputs(seed)` (NumPy only) and `fn`."""
    import workloads_cases as wc
    if case == "tf":
        return wc.source("tf", False)
    if case == "chain80":
        return """
import numpy as _np
def inputs(seed):
    rng = _np.random.default_rng(seed)
    return (rng.standard_normal((32, 64)), rng.standard_normal((64, 96)) / 8,
            rng.standard_normal(96) / 8)
def fn(x, w, b):
    for i in range(80):
        s = (7 * i) % 32
        x = jnp.tanh(x @ w + b)[:, s:s + 64]
    return x
"""
    return f"""
def inputs(seed):
    return (np.array([0, seed + 1], dtype=np.uint32),)
def fn(key):
    k = key
    return {_RANDOM[case]}
"""


def _one(case, whole):
    """Run in a fresh process: seconds of the first call of a fresh jit, and a checksum."""
    import numpy as np

    import jitcore as jc
    import jitcore.numpy as jnp
    from jitcore import lax
    if whole:
        from xla_like.backends import cpu
        from xla_like.backends.cpu import compile_units
        compile_units.compile_split = lambda text, names, flags: cpu._compile_object(
            text, names, None, flags)
    ns = {"jax": jc, "jnp": jnp, "lax": lax, "np": np}
    exec(_source(case), ns)
    args = ns["inputs"](0)
    with jc.config.override(cache=0):
        t0, c0 = time.perf_counter(), time.process_time()
        out = jc.jit(ns["fn"])(*args)
        leaves = [np.asarray(v) for v in jc.tree_util.tree_leaves(out)]
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    total = float(sum(np.sum(v.astype(np.float64)) for v in leaves))
    print(json.dumps({"s": seconds, "cpu": cpu_seconds, "sum": total}))


def _jitcore(case, whole):
    cmd = [sys.executable, __file__, "--one", case] + (["--whole"] if whole else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def _jax(case):
    import jax_side
    src = _source(case) + "\ndef build(seed):\n    return jax.jit(fn), tuple(inputs(seed))\n"
    side = jax_side.JaxSide()
    try:
        if not side.available:
            return None, side.label()
        reply = side._ask({"op": "define", "name": case, "source": src, "seed": 0})
        return (reply["compile_ms"] / 1e3 if reply and reply.get("ok") else None), side.label()
    finally:
        side.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", nargs="*", default=["tf", "chain80", "randint", "bernoulli",
                                                   "choice", "gamma"])
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-whole", action="store_true")
    ap.add_argument("--one")
    ap.add_argument("--whole", action="store_true")
    a = ap.parse_args()
    if a.one:
        return _one(a.one, a.whole)
    import machine
    cols = {c: {"units": [], "whole": [], "jax": [], "units_cpu": [], "whole_cpu": []}
            for c in a.cases}
    label = "JAX: not run"
    for _ in range(a.rounds):
        for c in a.cases:
            r = _jitcore(c, False)
            if r:
                cols[c]["units"].append(r["s"])
                cols[c]["units_cpu"].append(r["cpu"])
            if not a.no_whole:
                w = _jitcore(c, True)
                if w:
                    cols[c]["whole"].append(w["s"])
                    cols[c]["whole_cpu"].append(w["cpu"])
                    if r and abs(w["sum"] - r["sum"]) > 1e-9 * max(1.0, abs(r["sum"])):
                        print(f"{c}: results differ: {r['sum']} vs {w['sum']}", file=sys.stderr)
            if not a.no_jax:
                s, label = _jax(c)
                if s is not None:
                    cols[c]["jax"].append(s)
    print(f"CPU: {machine.cpu_model()}; {os.cpu_count()} cores; {label}")
    print("seconds, first call of a fresh jit in a fresh process (min / median over "
          f"{a.rounds} rounds); CPU s: the process's CPU time over all its threads\n")
    print("| case | jitcore (units) | jitcore (one module) | JAX | jitcore CPU s (units) "
          "| jitcore CPU s (one module) |")
    print("|---|---|---|---|---|---|")
    for c in a.cases:
        cells = []
        for k in ("units", "whole", "jax", "units_cpu", "whole_cpu"):
            v = cols[c][k]
            cells.append(f"{min(v):.2f} / {statistics.median(v):.2f}" if v else "n/a")
        print(f"| {c} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
