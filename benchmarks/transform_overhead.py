"""How long tracing and the transform passes take on a 300-op function.

    python benchmarks/transform_overhead.py

Times (best of 5), side by side in one run: tracing the function to IR (`make_hlo`), tracing
`grad` of it (trace + reverse-mode pass), `vmap` of it (trace + batching pass), and
`vmap(grad(...))`, all as IR building under `make_hlo`, plus the eager `grad` call that also
computes the numbers with NumPy. The instruction counts show how large the derivative IR is.
"""
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp


def chain(x):
    """100 rounds of sin, multiply, add: 300 primitive ops on a vector."""
    y = x
    for _ in range(100):
        y = jnp.sin(y) * x + y
    return jnp.sum(y)


def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def count(module):
    return sum(len(c.instructions) for c in module.computations.values())


def main():
    x = np.linspace(0.1, 1.0, 16)
    rows = [
        ("trace (make_hlo)", lambda: jc.make_hlo(chain)(x)),
        ("trace + grad", lambda: jc.make_hlo(jc.grad(chain))(x)),
        ("trace + vmap", lambda: jc.make_hlo(jc.vmap(chain))(np.tile(x, (8, 1)))),
        ("trace + vmap(grad)", lambda: jc.make_hlo(jc.vmap(jc.grad(chain)))(np.tile(x, (8, 1)))),
    ]
    print(f"{'what':28}{'ms':>10}{'instructions':>14}")
    for name, fn in rows:
        t, module = best(fn)
        print(f"{name:28}{t * 1e3:>10.1f}{count(module):>14}")
    t, _ = best(lambda: jc.grad(chain)(x))
    print(f"{'eager grad (with numbers)':28}{t * 1e3:>10.1f}{'':>14}")
    t, _ = best(lambda: chain(x))
    print(f"{'eager call, no transform':28}{t * 1e3:>10.1f}{'':>14}")


if __name__ == "__main__":
    main()
