"""Soak test: many Python threads calling several jitted functions at once, every result checked.

    python benchmarks/soak_threads.py [--calls 100000] [--threads 8]

The threads share the calls (`--calls` in all) over a mix of programs: an elementwise chain, a
column reduction, a GEMM with a tanh epilogue (BLAS), a loop, `jit(grad)`, `jit(vmap)` and an
eager `grad` (a trace per call), on inputs on both sides of the CPU backend's threading
threshold, so that large calls contend for its worker pool. Each result is compared with
NumPy's. The calls run in a child process: a crash there (a signal) is reported, not fatal.

Prints: calls made, wrong results, crashes (exceptions raised by calls, or the child's death),
wall time and calls per second.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RTOL = ATOL = 1e-9


SMALL_WEIGHT = 4   # small programs come up this many times as often as large ones (~1/300 the cost)


def programs():
    """[(name, callable, arguments, NumPy's result)]."""
    import jitcore as jc
    import jitcore.numpy as jnp

    rng = np.random.default_rng(0)
    small = rng.uniform(-2, 2, (16, 24))
    large = rng.uniform(-2, 2, (1024, 160))     # 163840 elements: the threaded path
    w = rng.uniform(-0.2, 0.2, (160, 160))

    def chain(x):
        return jnp.sin(x) * 2.0 + 1.0 - jnp.exp(-x * x)

    def loop(x):
        return jc.lax.fori_loop(0, 4, lambda i, c: c * 0.9 + jnp.sin(c), x)

    def np_chain(x):
        return np.sin(x) * 2 + 1 - np.exp(-x * x)

    def np_loop(x):
        for _ in range(4):
            x = x * 0.9 + np.sin(x)
        return x

    colsum = jc.jit(lambda x: jnp.tanh(x).sum(axis=0))
    return [
        ("chain small", jc.jit(chain), (small,), np_chain(small)),
        ("chain large", jc.jit(chain), (large,), np_chain(large)),
        ("colsum small", colsum, (small,), np.tanh(small).sum(axis=0)),
        ("colsum large", colsum, (large,), np.tanh(large).sum(axis=0)),
        ("dense large", jc.jit(lambda x, w: jnp.tanh(x @ w)), (large, w), np.tanh(large @ w)),
        ("loop small", jc.jit(loop), (small,), np_loop(small)),
        ("loop large", jc.jit(loop), (large,), np_loop(large)),
        ("jit(grad) large", jc.jit(jc.grad(lambda x: jnp.sum(jnp.tanh(x)))), (large,),
         1 - np.tanh(large) ** 2),
        ("jit(vmap) small", jc.jit(jc.vmap(lambda x: jnp.tanh(x).sum(axis=0))),
         (small.reshape(2, 8, 24),), np.tanh(small.reshape(2, 8, 24)).sum(axis=1)),
        ("eager grad small", jc.grad(lambda x: jnp.sum(jnp.sin(x) * x)), (small,),
         np.cos(small) * small + np.sin(small)),
    ]


def child(calls: int, n_threads: int):
    """Runs the soak; prints one JSON line of counts."""
    work = [p for p in programs() for _ in range(SMALL_WEIGHT if "small" in p[0] else 1)]
    taken = itertools.count()
    per_thread = [None] * n_threads
    first_error = []
    start = threading.Barrier(n_threads)

    def worker(k):
        made = wrong = errors = 0
        wrong_by = {}
        order = np.random.default_rng(k).permutation(len(work))
        start.wait()
        for i in itertools.cycle(order):
            if next(taken) >= calls:
                break
            name, f, args, want = work[i]
            made += 1
            try:
                got = np.asarray(f(*args))
            except Exception:
                errors += 1
                if not first_error:
                    first_error.append(f"{name}: {traceback.format_exc()}")
                continue
            if got.shape != want.shape or not np.allclose(got, want, rtol=RTOL, atol=ATOL):
                wrong += 1
                wrong_by[name] = wrong_by.get(name, 0) + 1
        per_thread[k] = (made, wrong, errors, wrong_by)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    wrong_by = {}
    for *_, by in per_thread:
        for name, n in by.items():
            wrong_by[name] = wrong_by.get(name, 0) + n
    print(json.dumps({"calls": sum(p[0] for p in per_thread),
                      "wrong": sum(p[1] for p in per_thread),
                      "errors": sum(p[2] for p in per_thread), "wrong_by": wrong_by,
                      "first_error": first_error[0] if first_error else None,
                      "wall_s": wall, "programs": len({p[0] for p in work})}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        child(opts.calls, opts.threads)
        return
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--calls",
                           str(opts.calls), "--threads", str(opts.threads)],
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        print(f"the soak process died ({how}) after {time.perf_counter() - t0:.1f} s")
        print(proc.stderr[-4000:])
        print(f"{'calls':>10}{'wrong':>8}{'crashes':>9}")
        print(f"{'?':>10}{'?':>8}{1:>9}")
        sys.exit(1)
    r = json.loads(lines[-1])
    crashes = r["errors"]
    from xla_like.settings import from_env   # what the soak process read
    print(f"{opts.threads} threads, {r['programs']} programs, cpu threads "
          f"{from_env().num_threads or 'default'}, {os.cpu_count()} cores")
    print(f"{'calls':>10}{'wrong':>8}{'crashes':>9}{'wall s':>9}{'calls/s':>10}")
    print(f"{r['calls']:>10}{r['wrong']:>8}{crashes:>9}{r['wall_s']:>9.1f}"
          f"{r['calls'] / r['wall_s']:>10.0f}")
    if r["wrong_by"]:
        print("wrong results by program:", r["wrong_by"])
    if r["first_error"]:
        print("first error:", r["first_error"])
    if r["wrong"] or crashes:
        sys.exit(1)


if __name__ == "__main__":
    main()
