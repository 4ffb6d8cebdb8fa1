"""A 64-config sweep of a jitted training loop with `jitcore.distributed.sweep`, on Dask
clusters of 1 and 2 worker processes (loopback, one thread each), against the same loop run
config after config in this process; and Dask's per-task overhead (a sweep whose training
function does nothing).

    python benchmarks/distributed_sweep.py [--rounds 5] [--configs 64] [--steps 300]

Each config trains a 16-64-1 tanh MLP on 256 rows with 300 steps of full-batch gradient descent
inside one jitted `fori_loop` (learning rate and seed from the config: one compile per
process). Rounds interleave the three ways; the first round of each cluster is reported apart
(its workers compile or load the program). Both clusters stay up for the whole run; an idle
one costs nothing measurable. Speed-up is the 1-worker time over the 2-worker time.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from machine import cpu_model, emit_table, run_with_default_out  # noqa: E402


def _loss(params, x, y):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def _fit(params, x, y, lr, steps):
    def body(_, p):
        g = jc.grad(_loss)(p, x, y)
        return jc.tree_util.tree_map(lambda a, b: a - lr * b, p, g)
    p = jc.lax.fori_loop(0, steps, body, params)
    return p, _loss(p, x, y)


_fit_jit = jc.jit(_fit, static_argnums=(4,))


def train(config):
    """One run: data and initial weights from the seed, the loop jitted (one compile)."""
    rng = np.random.default_rng(config["seed"])
    x = rng.standard_normal((256, 16))
    y = np.sin(x[:, :1] * 2.0) + 0.1 * rng.standard_normal((256, 1))
    params = {"w1": rng.standard_normal((16, 64)) * 0.3, "b1": np.zeros(64),
              "w2": rng.standard_normal((64, 1)) * 0.3}
    _, loss = _fit_jit(params, x, y, config["lr"], config["steps"])
    return float(loss)


def _private_cache():
    import tempfile
    from jitcore import config
    config.settings.cache_dir = tempfile.mkdtemp(prefix="jitcore-bench-worker-")


def _remove_private_cache():
    import shutil
    from jitcore import config
    if "jitcore-bench-worker-" in config.settings.cache_dir:
        shutil.rmtree(config.settings.cache_dir, ignore_errors=True)


def nothing(config):
    return config["seed"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--configs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from jitcore import distributed

    configs = [{"lr": lr, "seed": s, "steps": args.steps}
               for lr in np.linspace(0.02, 0.3, 8) for s in range(args.configs // 8)]
    clients = {n: distributed.local_client(n) for n in (1, 2)}
    try:
        for n, c in clients.items():
            c.wait_for_workers(n)
            c.run(_private_cache)   # nothing compiled here reaches a worker but by shipping
        # The reference: in this process, after one compile.
        train(configs[0])
        ref = [train(c) for c in configs]

        times = {"here": [], 1: [], 2: []}
        first = {}
        overhead = {1: [], 2: []}
        ways = ["here", 1, 2]
        for r in range(args.rounds + 1):
            for way in ways[r % 3:] + ways[:r % 3]:
                t0 = time.perf_counter()
                if way == "here":
                    got = [train(c) for c in configs]
                else:
                    got = [run.result for run in distributed.sweep(train, configs,
                                                                   client=clients[way])]
                dt = time.perf_counter() - t0
                assert np.allclose(got, ref, rtol=1e-10), "a sweep disagrees with this process"
                if way != "here" and way not in first:
                    first[way] = dt
                else:
                    times[way].append(dt)
            for n in (1, 2):
                t0 = time.perf_counter()
                distributed.sweep(nothing, configs, client=clients[n])
                overhead[n].append((time.perf_counter() - t0) / len(configs))
        stats = {n: distributed.worker_stats(clients[n]) for n in (1, 2)}
    finally:
        for c in clients.values():
            c.run(_remove_private_cache)
            c.close()

    def ms(ts):
        return f"{statistics.median(ts) * 1e3:.0f} ({min(ts) * 1e3:.0f}-{max(ts) * 1e3:.0f})"

    here, one, two = (statistics.median(times[k]) for k in ("here", 1, 2))
    load = os.getloadavg()
    lines = [
        "# jitcore.distributed: a 64-config sweep on 1 and 2 Dask workers", "",
        f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} interleaved rounds after a "
        f"first; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other "
        "work shared the machine). Dask LocalCluster, processes, 1 thread per worker, "
        "loopback.", "",
        f"Each config: a 16-64-1 tanh MLP, 256 rows, {args.steps} full-batch gradient steps in "
        "one jitted `fori_loop`. Times for the whole sweep: median (min-max).", "",
        "| way | sweep of {} configs | per config | speed-up vs 1 worker |".format(len(configs)),
        "| --- | ---: | ---: | ---: |",
        f"| this process, one config after another | {ms(times['here'])} ms | "
        f"{here / len(configs) * 1e3:.1f} ms | |",
        f"| sweep, 1 worker | {ms(times[1])} ms | {one / len(configs) * 1e3:.1f} ms | 1.00 |",
        f"| sweep, 2 workers | {ms(times[2])} ms | {two / len(configs) * 1e3:.1f} ms | "
        f"{one / two:.2f} |",
        f"| first sweep, 1 worker | {first[1] * 1e3:.0f} ms | | |",
        f"| first sweep, 2 workers | {first[2] * 1e3:.0f} ms | | |", "",
        "A first sweep includes each worker's first task (importing jitcore, unpickling the "
        "training function, tracing it) and the one compile of the cluster: the first config "
        "runs alone on one worker, which compiles, and the code goes to the other with the "
        "remaining configs (each worker has a cache directory of its own here).", "",
        "Per-task overhead (a sweep whose function returns at once, per config): "
        f"1 worker {statistics.median(overhead[1]) * 1e3:.1f} ms, "
        f"2 workers {statistics.median(overhead[2]) * 1e3:.1f} ms (median).", "",
        "Compiles per worker process over the whole run (persistent-cache stores / loads): " +
        "; ".join(f"{n} worker{'s' if n > 1 else ''}: " + ", ".join(
            f"{s['compiled']}/{s['loaded']}" for s in stats[n].values()) for n in (1, 2)) + ".",
    ]
    return emit_table(lines, args.out)


if __name__ == "__main__":
    run_with_default_out(main, "distributed")
