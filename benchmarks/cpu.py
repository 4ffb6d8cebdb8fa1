"""The CPU workloads, side by side: jitcore, NumPy, JAX (when installed) and the machine's limit.

    python benchmarks/cpu.py            (or `make bench`)

Each row is measured in this run: the median of repeated calls after warm-up. The machine's
limits are measured here too: memory bandwidth by a STREAM-like triad (NumPy writing into a
preallocated output, so no page faults), GEMM speed by the best BLAS available (jitcore's
OpenBLAS with the host's best kernels, or NumPy's). Ratios are "how many times slower than".
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402

try:  # JAX is optional: its rows are skipped when it is not installed
    import jax
    import jax.numpy as jjnp
    jax.config.update("jax_enable_x64", True)
except Exception:  # noqa: BLE001 - any import problem means "no JAX column"
    jax = None


def timeit(fn, *args, repeat=15, warmup=3, min_time=0.2):
    for _ in range(warmup):
        out = fn(*args)
    _block(out)
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeat or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        out = fn(*args)
        _block(out)
        times.append(time.perf_counter() - t0)
        if len(times) > 200:
            break
    return statistics.median(times)


def _block(x):
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()


def heavy(x, z, np_=jnp):
    return np_.tanh(x) * 0.5 + np_.exp(-x * x) * z - x / (1 + np_.abs(z))


def cheap(x, y, np_=jnp):
    return 2.0 * x + 3.0 * y + 1.0


def dense_relu(x, w, b, np_=jnp):
    return np_.maximum(x @ w + b, 0)


def softmax(x, np_=jnp):
    e = np_.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mlp_loss(params, x, y, np_=jnp):
    w1, w2 = params
    h = np_.tanh(x @ w1)
    return np_.mean((h @ w2 - y) ** 2)


def bandwidth_triad(n=10 ** 7):
    """GB/s of out = a + b (two reads, one write) into a preallocated output."""
    a = np.random.rand(n).astype(np.float32)
    b = np.random.rand(n).astype(np.float32)
    out = np.empty_like(a)
    t = timeit(lambda: np.add(a, b, out=out))
    return 3 * n * 4 / t / 1e9


def best_gemm_gflops(n=2048):
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    best = 2 * n ** 3 / timeit(lambda: a @ b, repeat=5) / 1e9
    try:
        from xla_like.backends.cpu import blas
        if blas.available():
            lib = blas.load()
            out = np.empty((n, n), np.float32)
            best = max(best, 2 * n ** 3 / timeit(lambda: lib.gemm(a, b, out=out), repeat=5) / 1e9)
    except Exception as e:  # noqa: BLE001 - the library row is optional
        print(f"(jitcore's BLAS not measured: {e})")
    return best


def row(name, t_jc, t_np, t_jax, limit, unit="ms", scale=1e3):
    def fmt(t):
        return "-" if t is None else f"{t * scale:.2f}"

    def ratio(a, b):
        return "-" if a is None or b is None else f"{a / b:.2f}x"
    print(f"| {name} | {fmt(t_jc)} | {fmt(t_np)} | {fmt(t_jax)} | {fmt(limit)} | "
          f"{ratio(t_np, t_jc)} | {ratio(t_jax, t_jc)} | {ratio(t_jc, limit)} |")


def main():
    rng = np.random.default_rng(0)
    n = 10 ** 7
    x = rng.standard_normal(n, dtype=np.float32)
    z = rng.standard_normal(n, dtype=np.float32)
    X = rng.standard_normal((4096, 4096), dtype=np.float32)
    bw = bandwidth_triad()
    gemm_limit = best_gemm_gflops()
    print(f"# jitcore CPU benchmarks — {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, NumPy {np.__version__}" + (f", JAX {jax.__version__}" if jax else ""))
    print(f"\nMachine limits measured in this run: triad bandwidth {bw:.1f} GB/s, best GEMM "
          f"{gemm_limit:.0f} GFLOP/s (2048² float32).\n")
    print("| workload | jitcore | NumPy | JAX | limit | NumPy/jitcore | JAX/jitcore | jitcore/limit |")
    print("|---|---|---|---|---|---|---|---|")

    jh = jc.jit(heavy, backend="cpu")
    limit = 3 * n * 4 / (bw * 1e9)
    row("heavy chain 1e7 f32 (ms)", timeit(jh, x, z), timeit(lambda a, b: heavy(a, b, np), x, z),
        timeit(jax.jit(lambda a, b: heavy(a, b, jjnp)), x, z) if jax else None, limit)

    jcheap = jc.jit(cheap, backend="cpu")
    row("cheap chain a*x+b*y+c 1e7 f32 (ms)", timeit(jcheap, x, z),
        timeit(lambda a, b: cheap(a, b, np), x, z),
        timeit(jax.jit(lambda a, b: cheap(a, b, jjnp)), x, z) if jax else None, limit)

    # Donated: the output is written into x's memory (`x = f(x, z)`, as an update step is),
    # so its cache lines are not read from memory before being written, as a fresh output's
    # are; no limit given: the triad's limit counts that read.
    jdon = jc.jit(cheap, backend="cpu", donate_argnums=0)
    state = [jnp.asarray(x)]

    def donated_step(b):
        state[0] = jdon(state[0], b)
        return state[0]
    row("cheap chain, donated x = f(x, y) (ms)", timeit(donated_step, z), None, None, None)

    limit_sum = X.nbytes / (bw * 1e9)
    jsum = jc.jit(lambda a: a.sum(axis=-1), backend="cpu")
    row("sum last axis 4096² f32 (ms)", timeit(jsum, X), timeit(lambda a: a.sum(axis=-1), X),
        timeit(jax.jit(lambda a: a.sum(axis=-1)), X) if jax else None, limit_sum)

    jsm = jc.jit(softmax, backend="cpu")
    row("softmax last axis 4096² f32 (ms)", timeit(jsm, X), timeit(lambda a: softmax(a, np), X),
        timeit(jax.jit(lambda a: softmax(a, jjnp)), X) if jax else None, 2 * limit_sum)

    A = rng.standard_normal((2048, 2048), dtype=np.float32)
    B = rng.standard_normal((2048, 2048), dtype=np.float32)
    flops = 2 * 2048 ** 3
    jmm = jc.jit(lambda a, b: a @ b, backend="cpu")
    t_jc, t_np = timeit(jmm, A, B, repeat=5), timeit(lambda a, b: a @ b, A, B, repeat=5)
    t_jax = timeit(jax.jit(lambda a, b: a @ b), A, B, repeat=5) if jax else None
    gf = lambda t: None if t is None else flops / t / 1e9  # noqa: E731
    print(f"| matmul 2048² f32 (GFLOP/s) | {gf(t_jc):.0f} | {gf(t_np):.0f} | "
          f"{'-' if t_jax is None else f'{gf(t_jax):.0f}'} | {gemm_limit:.0f} | "
          f"{gf(t_jc) / gf(t_np):.2f}x | {'-' if t_jax is None else f'{gf(t_jc) / gf(t_jax):.2f}x'} "
          f"| {gf(t_jc) / gemm_limit:.2f} of limit |")

    # The bias and relu run on each block of rows right after its GEMM (the block is still in
    # cache), instead of as a second pass over the 32 MiB product.
    xd = rng.standard_normal((65536, 64), dtype=np.float32)
    wd = rng.standard_normal((64, 128), dtype=np.float32)
    bd = rng.standard_normal(128, dtype=np.float32)
    jdense = jc.jit(dense_relu, backend="cpu")
    row("relu(x @ W + b) 65536x64 @ 64x128 f32 (ms)", timeit(jdense, xd, wd, bd),
        timeit(lambda a, w, b: dense_relu(a, w, b, np), xd, wd, bd),
        timeit(jax.jit(lambda a, w, b: dense_relu(a, w, b, jjnp)), xd, wd, bd) if jax else None,
        2 * 65536 * 64 * 128 / (gemm_limit * 1e9))

    a8 = np.ones(8, np.float32)
    jcall = jc.jit(lambda a, b: a * b + 1, backend="cpu")
    row("cached call x*y+1, size 8 (µs)", timeit(jcall, a8, a8, repeat=2000),
        timeit(lambda a, b: a * b + 1, a8, a8, repeat=2000),
        timeit(jax.jit(lambda a, b: a * b + 1), a8, a8, repeat=2000) if jax else None, None,
        scale=1e6)

    params = (rng.standard_normal((64, 128)).astype(np.float32),
              rng.standard_normal((128, 10)).astype(np.float32))
    xb = rng.standard_normal((256, 64)).astype(np.float32)
    yb = rng.standard_normal((256, 10)).astype(np.float32)
    with jc.config.override(cache=False):   # a real compile, not a disk-cache hit
        t0 = time.perf_counter()
        jc.jit(jc.grad(mlp_loss), backend="cpu")(params, xb, yb)
        t_first = time.perf_counter() - t0
    t_jax_first = None
    if jax:
        t0 = time.perf_counter()
        jax.jit(jax.grad(lambda p, a, b: mlp_loss(p, a, b, jjnp)))(params, xb, yb)[0] \
            .block_until_ready()
        t_jax_first = time.perf_counter() - t0
    row("first call jit(grad(mlp_loss)) (ms)", t_first, None, t_jax_first, None)


if __name__ == "__main__":
    main()
