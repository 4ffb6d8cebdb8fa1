"""Cost of a cached jitted call, against NumPy doing the same work, measured side by side.

    python benchmarks/call_overhead.py

Prints one table: per-call time of `x * y + 1` on two size-8 float32 arrays for a cached
`jitcore.jit` call (NumPy inputs and jitcore Array inputs), the pieces of that call path
(flatten + key, executable, output wrapping), and NumPy's own time for the same expression.
"""
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import tree_util


def per_call(fn, n=50000, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main():
    x = np.ones(8, np.float32)
    y = np.ones(8, np.float32)
    f = jc.jit(lambda a, b: a * b + 1)
    f(x, y)
    xa, ya = jnp.asarray(x), jnp.asarray(y)
    f(xa, ya)
    (entry,) = {id(e): e for e in f._cache.values()}.values()
    rows = [
        ("numpy x*y+1", per_call(lambda: x * y + 1)),
        ("jit call, ndarray inputs", per_call(lambda: f(x, y))),
        ("jit call, Array inputs", per_call(lambda: f(xa, ya))),
        ("  of which: flatten + key", per_call(lambda: f._key_and_values((x, y), {}))),
        ("  of which: executable", per_call(lambda: entry.executable([x, y]))),
        ("  of which: unflatten + wrap", per_call(
            lambda: tree_util.tree_unflatten(entry.out_tree, [jc.Array._wrap(x)]))),
    ]
    base = rows[0][1]
    print(f"{'what':32}{'us/call':>10}{'vs numpy':>10}")
    for name, t in rows:
        print(f"{name:32}{t * 1e6:>10.2f}{t / base:>9.1f}x")


if __name__ == "__main__":
    main()
