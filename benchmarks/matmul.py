"""Matrix multiply throughput: jitcore's own OpenBLAS against NumPy's (and JAX's, if installed).

    python benchmarks/matmul.py [--sizes 2048,512] [--threads N]

Prints one table, for square float32 and float64 products of each size: jitcore's BLAS
(`Blas.gemm` into a preallocated output, core type chosen by xla_like/backends/cpu/blas.py), NumPy's
`a @ b` and `np.matmul(a, b, out=c)` (its bundled OpenBLAS, under whatever OPENBLAS_CORETYPE the
environment sets), and `jax.jit(jnp.matmul)` when `import jax` works. Each figure is the median
GFLOP/s (2*n^3 flops per product) over repeated runs after warm-up, taken in rotating blocks
(see `measure` for why not call by call). Ratios are against NumPy's `@` and against the best
row of the same size and dtype. On a busy machine, OPENBLAS_NUM_THREADS=1 gives steadier
per-core figures: a multithreaded GEMM that loses a core to another process stalls for whole
scheduler slices.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time

import numpy as np

from xla_like.backends.cpu import blas as blas_mod


def numpy_blas_core() -> str:
    """The core type NumPy's bundled OpenBLAS runs (read from the loaded library itself)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line and "numpy" in line}
    except OSError:
        return "?"
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                    "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "?"


def jax_matmul():
    """(jitted matmul, version) or (None, why not)."""
    try:
        import jax
        import jax.numpy as jnp
    except Exception as e:  # not a project dependency: any import failure just drops the row
        return None, f"{type(e).__name__}: {e}"
    jax.config.update("jax_enable_x64", True)
    f = jax.jit(jnp.matmul)

    def run(a, b, _):
        return f(a, b).block_until_ready()

    def prepare(a, b):
        return jax.device_put(a), jax.device_put(b)

    run.prepare = prepare
    return run, jax.__version__


def measure(candidates, a, b, budget_s, rounds=3):
    """Median seconds per call for each candidate.

    Candidates run in blocks, not call by call: each OpenBLAS copy (jitcore's and NumPy's) keeps
    its own thread pool, whose workers spin for a while after a call, and on a machine with few
    cores two spinning pools taking turns slow each other several-fold. Before each block the
    other pools get time to go idle, and the block order rotates between rounds so slow drifts
    in machine load are shared out.
    """
    n = a.shape[0]
    names = list(candidates)
    args = {}
    for name, fn in candidates.items():
        prep = getattr(fn, "prepare", None)
        args[name] = prep(a, b) if prep else (a, b)
    outs = {name: np.empty((n, n), a.dtype) for name in names}
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-3 if a.dtype == np.float32 else 1e-10
    est = 0.0
    for name, fn in candidates.items():
        for _ in range(2):  # warm-up: thread pools, JIT compilation, page faults
            t0 = time.perf_counter()
            r = fn(*args[name], outs[name])
            est = max(est, time.perf_counter() - t0)
        r = np.asarray(r if r is not None else outs[name])
        err = np.abs(r - ref).max() / max(1.0, np.abs(ref).max())
        if err > tol:
            raise AssertionError(f"{name}: result differs from float64 NumPy by {err:.2e}")
    per_block = max(3, min(30, int(budget_s / max(est * len(names) * rounds, 1e-6))))
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = candidates[name]
            time.sleep(_SETTLE_S)
            fn(*args[name], outs[name])
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn(*args[name], outs[name])
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}, per_block * rounds


# OpenBLAS workers spin about 2**28 cycles (~0.1 s) after a call before sleeping.
_SETTLE_S = 0.3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2048,512", help="comma-separated square sizes")
    ap.add_argument("--threads", type=int, default=None, help="jitcore BLAS threads")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed runs per case")
    opts = ap.parse_args()

    blas = blas_mod.load()
    if opts.threads:
        blas.set_num_threads(opts.threads)
    try:
        import llvmlite.binding as llvm

        cpu = llvm.get_host_cpu_name()
    except Exception:
        cpu = "?"
    jax_fn, jax_info = jax_matmul()
    np_core = numpy_blas_core()
    cfg = blas.config()
    print(f"host cpu (LLVM): {cpu}, {os.cpu_count()} cpus; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print(f"jitcore BLAS: {cfg['package']} {cfg['version']} int{cfg['int_bits']}, core "
          f"{cfg['corename']} ({cfg['reason']}), {cfg['num_threads']} threads")
    print(f"numpy {np.__version__}: core {np_core}")
    print(f"jax: {jax_info if jax_fn else 'skipped (' + jax_info + ')'}")

    candidates = {
        f"jitcore Blas.gemm [{blas.corename}]": lambda a, b, c: blas.gemm(a, b, out=c),
        f"numpy a @ b [{np_core}]": lambda a, b, c: a @ b,
        f"numpy matmul(out=) [{np_core}]": lambda a, b, c: np.matmul(a, b, out=c),
    }
    if jax_fn is not None:
        candidates["jax.jit(jnp.matmul)"] = jax_fn
    numpy_row = f"numpy a @ b [{np_core}]"

    width = max(len(k) for k in candidates)
    print()
    print(f"{'size':>9} {'dtype':7} {'implementation':{width}} {'GFLOP/s':>8} {'ms':>8} "
          f"{'x numpy':>8} {'x best':>7} {'reps':>5}")
    rng = np.random.default_rng(0)
    for n in (int(s) for s in opts.sizes.split(",")):
        for dtype in (np.float32, np.float64):
            a = rng.standard_normal((n, n)).astype(dtype)
            b = rng.standard_normal((n, n)).astype(dtype)
            secs, reps = measure(candidates, a, b, opts.budget)
            gflops = {k: 2 * n**3 / t / 1e9 for k, t in secs.items()}
            best = max(gflops.values())
            for k, g in gflops.items():
                print(f"{f'{n}x{n}':>9} {np.dtype(dtype).name:7} {k:{width}} {g:8.1f} "
                      f"{secs[k] * 1e3:8.2f} {g / gflops[numpy_row]:8.2f} {g / best:7.2f} {reps:5d}")


if __name__ == "__main__":
    main()
