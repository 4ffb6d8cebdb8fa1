"""First call of `jit(grad(mlp_loss))` in a fresh process: compiled from scratch (empty
persistent cache) vs loaded from a warm persistent cache.

    python benchmarks/disk_cache.py [--runs 5]

x 256x64, W1 64x128, W2 128x10 (float32), tanh MLP, mean squared error. Every measurement is a
new Python process, timed from just before the first call to just after it (after
`import jitcore`): the `cold` rows start with an empty cache folder, the `warm` rows with the
folder a cold run filled. The `backend preloaded` rows import the CPU backend (llvmlite,
OpenBLAS) before the timer: what is left is the per-program work (trace, jitcore passes,
rendering the LLVM text that keys the cache, then LLVM, or loading the object code).
Columns split the first call: trace, backend compile (passes, render, LLVM or load), the rest
(first run, output wrapping). Python's bytecode cache goes to a temporary folder, filled by a
warm-up process, so imports cost what they cost in a normal installation.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(preload):
    import numpy as np

    import jitcore as jc
    import jitcore.numpy as jnp
    from xla_like.backends import disk_cache

    t_backend = 0.0
    if preload:
        t0 = time.perf_counter()
        from xla_like.backends.cpu import blas  # noqa: F401
        from xla_like.backends import cpu
        from xla_like.backends.llvm import math as llvm_math
        blas.available()
        t_backend = time.perf_counter() - t0

    def mlp_loss(params, x, y):
        w1, w2 = params
        h = jnp.tanh(x @ w1)
        return jnp.mean((h @ w2 - y) ** 2)

    rng = np.random.default_rng(0)
    params = (rng.standard_normal((64, 128)).astype(np.float32),
              rng.standard_normal((128, 10)).astype(np.float32))
    x = rng.standard_normal((256, 64)).astype(np.float32)
    y = rng.standard_normal((256, 10)).astype(np.float32)
    f = jc.jit(jc.grad(mlp_loss))
    t0 = time.perf_counter()
    f(params, x, y)
    first = time.perf_counter() - t0
    info = f.cache_info()
    print(json.dumps({"first": first, "trace": info.trace_seconds,
                      "compile": info.compile_seconds, "backend_import": t_backend,
                      "stats": dict(disk_cache.stats)}))


def run_child(cache_dir, preload, env):
    cmd = [sys.executable, os.path.abspath(__file__), "--child"]
    cmd += ["--preload"] if preload else []
    env = dict(env, JITCORE_CACHE_DIR=cache_dir, JITCORE_CACHE="1")
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"benchmark process failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--preload", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.preload)
        return
    tmp = tempfile.mkdtemp(prefix="jitcore-bench-")
    try:
        env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc"),
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        run_child(os.path.join(tmp, "warmup"), True, env)   # fills the bytecode cache
        rows = []
        for preload in (False, True):
            for warm in (False, True):
                samples = []
                for k in range(args.runs):
                    folder = os.path.join(tmp, f"cache-{preload}-{k}")
                    if warm and not os.path.isdir(folder):
                        run_child(folder, preload, env)   # a cold run fills it
                    elif not warm:
                        shutil.rmtree(folder, ignore_errors=True)
                    s = run_child(folder, preload, env)
                    want = "hits" if warm else "stores"
                    assert s["stats"].get(want) == 1, s["stats"]
                    samples.append(s)
                rows.append((("warm" if warm else "cold") + (", backend preloaded" if preload
                                                             else ""), samples))
        print(f"{'first call of jit(grad(mlp_loss))':38}{'total ms':>10}{'best':>7}{'trace':>8}"
              f"{'compile':>9}{'rest':>7}{'backend import':>16}")
        for name, samples in rows:
            def med(key):
                return statistics.median(s[key] for s in samples) * 1e3
            rest = statistics.median((s["first"] - s["trace"] - s["compile"]) for s in samples)
            imp = f"{med('backend_import'):.1f}" if samples[0]["backend_import"] else "in total"
            best = min(s["first"] for s in samples) * 1e3
            print(f"{name:38}{med('first'):>10.1f}{best:>7.1f}{med('trace'):>8.1f}"
                  f"{med('compile'):>9.1f}"
                  f"{rest * 1e3:>7.1f}{imp:>16}")
        print(f"(ms; median and best of {args.runs} fresh processes each; trace, compile, "
              "rest: medians)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
