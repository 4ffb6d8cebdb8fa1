"""Loops compiled as loops: per-iteration cost, compile time against trip count, and a
physics loop, measured side by side with Python/NumPy (and JAX when it is installed).

    python benchmarks/control_flow.py

Rows:
- `fori_loop` of 1e5 cheap scalar steps (`c = c * 0.999 + 1e-3 * i`): ns per iteration for
  jitcore (static bounds: a scan; traced bounds: a while loop), a Python loop over floats, and
  the same Python loop over NumPy scalars.
- compile time of that loop with 10 and with 1000 steps (the body is traced once, so they
  should cost the same).
- heat equation: 500 explicit steps on a 1-D grid of 100k points (`fori_loop` over a stencil)
  against a NumPy loop; the machine limit is the memory traffic of one read and one write of
  the grid per step at the STREAM-like bandwidth measured here.
- grad of a 1000-step while loop (reverse mode through the recorded carries) against the
  forward loop alone.
"""
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax

try:
    import jax as _jax
    import jax.numpy as _jnp
    _jax.config.update("jax_enable_x64", True)
except Exception:  # JAX is optional
    _jax = None


def best_of(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bandwidth():
    """Bytes per second of a copy (read + write) of 64 MiB, best of a few."""
    a = np.ones(1 << 23)
    b = np.empty_like(a)
    t = best_of(lambda: np.copyto(b, a))
    return 2 * a.nbytes / t


def scalar_loop_rows(n=100_000):
    rows = []

    def body(i, c):
        return c * 0.999 + 1e-3 * i
    static = jc.jit(lambda c: lax.fori_loop(0, n, body, c))
    traced = jc.jit(lambda c, n: lax.fori_loop(0, n, body, c))
    static(1.0), traced(1.0, n)
    rows.append(("fori_loop static bounds (scan)", best_of(lambda: static(1.0)) / n))
    rows.append(("fori_loop traced bounds (while)", best_of(lambda: traced(1.0, n)) / n))

    def py():
        c = 1.0
        for i in range(n):
            c = c * 0.999 + 1e-3 * i
        return c

    def np_scalars():
        c = np.float64(1.0)
        for i in range(n):
            c = c * np.float64(0.999) + np.float64(1e-3) * np.float64(i)
        return c
    rows.append(("Python loop, floats", best_of(py, 3) / n))
    rows.append(("Python loop, NumPy scalars", best_of(np_scalars, 3) / n))
    if _jax is not None:
        jf = _jax.jit(lambda c: _jax.lax.fori_loop(0, n, body, c))
        jf(1.0).block_until_ready()
        rows.append(("JAX fori_loop", best_of(lambda: jf(1.0).block_until_ready()) / n))
    ref = py()
    assert abs(float(static(1.0)) - ref) < 1e-9 * abs(ref)
    return rows


def compile_rows():
    """First compiles only: each repeat uses a new constant, so no cached machine code."""
    rows = []
    seed = [0]
    for steps in (10, 1000):
        def once(steps=steps):
            seed[0] += 1
            k = 0.5 + seed[0] * 1e-9

            def f(c):
                return lax.fori_loop(0, steps, lambda i, c: jnp.sin(c) * k + i, c)
            jc.jit(f).lower(np.ones(16)).compile()
        with jc.config.override(cache=False):   # a real compile, not a disk-cache hit
            rows.append((f"trace + compile, fori_loop of {steps} steps", best_of(once, 3)))
    return rows


def heat(n=100_000, steps=500):
    u0 = np.exp(-np.linspace(-5, 5, n) ** 2)
    r = 0.2

    def step(i, u):
        lap = jnp.concatenate([u[:1] * 0, u[2:] - 2 * u[1:-1] + u[:-2], u[:1] * 0])
        return u + r * lap
    jf = jc.jit(lambda u: lax.fori_loop(0, steps, step, u))
    jf(u0)

    def numpy_loop():
        u = u0.copy()
        for _ in range(steps):
            lap = np.zeros_like(u)
            lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
            u = u + r * lap
        return u
    ref = numpy_loop()
    np.testing.assert_allclose(np.asarray(jf(u0)), ref, rtol=1e-12, atol=1e-12)
    limit = steps * 2 * u0.nbytes / bandwidth()
    rows = [("heat equation, jitcore", best_of(lambda: jf(u0), 3)),
            ("heat equation, NumPy loop", best_of(numpy_loop, 3)),
            ("heat equation, machine limit (1 read + 1 write per step)", limit)]
    if _jax is not None:
        def jstep(i, u):
            lap = _jnp.concatenate([u[:1] * 0, u[2:] - 2 * u[1:-1] + u[:-2], u[:1] * 0])
            return u + r * lap
        jj = _jax.jit(lambda u: _jax.lax.fori_loop(0, steps, jstep, u))
        jj(u0).block_until_ready()
        rows.append(("heat equation, JAX", best_of(lambda: jj(u0).block_until_ready(), 3)))
    return rows


def grad_rows(n=1000):
    def f(a):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, jnp.sin(c[1]) * a + 0.1),
                              (0, a))[1]
    fwd = jc.jit(f)
    g = jc.jit(jc.grad(f))
    fwd(0.5), g(0.5)
    return [("while_loop of 1000 steps, forward", best_of(lambda: fwd(0.5))),
            ("while_loop of 1000 steps, grad (reverse mode)", best_of(lambda: g(0.5)))]


def table(title, unit, scale, rows, base, ratio, digits=2):
    """One block of the report: each row's time in `unit`, and its ratio to row `base`."""
    print(f"{title:58}{unit:>10}{ratio:>11}")
    for name, t in rows:
        print(f"{name:58}{t * scale:>10.{digits}f}{t / rows[base][1]:>10.3f}x")
    print()


def main():
    table("per-iteration cost (1e5 steps)", "ns/iter", 1e9, scalar_loop_rows(), 2, "vs Python",
          digits=1)
    print(f"{'compile time':58}{'ms':>10}")
    for name, t in compile_rows():
        print(f"{name:58}{t * 1e3:>10.1f}")
    print()
    table("physics loop", "ms", 1e3, heat(), 1, "vs NumPy")
    table("reverse mode through while_loop", "ms", 1e3, grad_rows(), 0, "vs fwd", digits=3)


if __name__ == "__main__":
    main()
