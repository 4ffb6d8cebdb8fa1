"""Data-parallel SGD on a Dask cluster: each step's gradient is computed on shards of the batch
by the workers and summed by a tree reduction; the trained parameters match the single-process
loop's to rounding.

Run: python examples/distributed_sgd.py   (`--small` for a quick run)
It starts a cluster of 2 worker processes on this machine (loopback only); on a real cluster,
pass `client=Client("tcp://scheduler:8786")` to `main`.
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import distributed


def loss(params, batch):
    """Mean logistic loss of a linear classifier (labels in {0, 1})."""
    logits = batch["x"] @ params["w"] + params["b"]
    return jnp.mean(jnp.logaddexp(0.0, logits) - batch["y"] * logits)


def make_data(rng, n, d):
    w_true = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    y = (x @ w_true + 0.3 * rng.standard_normal(n) > 0).astype(np.float64)
    return x, y


def sgd(value_and_grad, params, x, y, steps, batch, lr):
    """`steps` steps of SGD over minibatches taken in order; (params, losses)."""
    losses = []
    for step in range(steps):
        lo = (step * batch) % len(x)
        mb = {"x": x[lo:lo + batch], "y": y[lo:lo + batch]}
        value, grads = value_and_grad(params, mb)
        params = jc.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        losses.append(float(value))
    return params, losses


def main(small=False, client=None):
    rng = np.random.default_rng(0)
    n, d = (512, 8) if small else (8192, 32)
    (steps, batch), lr = ((20, 128) if small else (100, 1024)), 0.5
    x, y = make_data(rng, n, d)
    params = {"w": np.zeros(d), "b": np.float64(0.0)}

    own = client is None
    client = client or distributed.local_client(2)
    try:
        t0 = time.perf_counter()
        dp = distributed.data_parallel(loss, client=client, reduce="mean")
        p_dist, losses_dist = sgd(dp, params, x, y, steps, batch, lr)
        t_dist = time.perf_counter() - t0
        stats = distributed.worker_stats(client)
    finally:
        if own:
            client.close()

    t0 = time.perf_counter()
    p_one, losses_one = sgd(jc.jit(jc.value_and_grad(loss)), params, x, y, steps, batch, lr)
    t_one = time.perf_counter() - t0

    err = max(float(np.max(np.abs(np.asarray(p_dist[k]) - np.asarray(p_one[k]))))
              for k in params)
    print(f"{steps} steps of batch {batch}, {d} features, {len(stats)} workers")
    print(f"loss {losses_one[0]:.4f} -> {losses_one[-1]:.4f} (single process), "
          f"{losses_dist[-1]:.4f} (distributed)")
    print(f"largest parameter difference: {err:.2e}")
    print(f"time: {t_dist:.2f} s distributed (cluster overhead included), "
          f"{t_one:.2f} s single process")
    for addr, s in sorted(stats.items()):
        print(f"  worker {addr}: {s['tasks']} tasks, {s['compiled']} compiled, "
              f"{s['loaded']} loaded from shipped code")
    return {"params": p_dist, "reference": p_one, "err": err, "losses": losses_dist,
            "losses_reference": losses_one, "stats": stats}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
