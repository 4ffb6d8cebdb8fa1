"""Training on Dask workers: data-parallel gradients, and sweeps of independent runs.

`data_parallel(loss_fn)(params, batch)` is `value_and_grad(loss_fn)(params, batch)` computed
as the sum over shards of the batch (its leading axis cut into one shard per worker, sizes
differing by at most one): each worker runs the jitted value_and_grad on its shard, and the
shards' (value, gradient) pytrees are summed pairwise by Dask tasks (a tree reduction, depth
log2 of the shards) before one result comes back. A loss that sums over the batch gives the
single-process result up to the order of the additions; `reduce="mean"` weights each shard by
its share of the batch, for a loss that averages. The driver compiles each shard signature
once (at most two) and ships the code (`shipping`).

`sweep(train_fn, configs)` runs `train_fn(config)` for each config as its own task and returns
`Run(config, result)` pairs in the configs' order, with arrays as NumPy arrays. The driver
cannot know what `train_fn` jits, so the first config runs alone on one worker, which records
the code its calls compiled or loaded; that code goes with the other configs' tasks, and no
other worker compiles it. A worker unpickles `train_fn` once, so the functions it jits keep
their compiled code from one config to the next.
"""
from __future__ import annotations

import itertools
import uuid
from typing import Any, NamedTuple

import numpy as np

from . import cluster, mapping, worker

_calls = itertools.count()


class Run(NamedTuple):
    config: Any
    result: Any


class DataParallel:
    """`value_and_grad(loss_fn)` over shards of the batch on the workers (see the module's
    docstring). Call it as `(value, grads) = dp(params, batch)`."""

    def __init__(self, loss_fn, client=None, shards=None, reduce="sum"):
        from jitcore import jit, value_and_grad
        if reduce not in ("sum", "mean"):
            raise ValueError(f"data_parallel: reduce must be 'sum' or 'mean', got {reduce!r}")
        self.loss_fn = loss_fn
        self.client = client
        self.shards = shards
        self.reduce = reduce
        self.value_and_grad = jit(value_and_grad(loss_fn))
        self._program = mapping.program(self.value_and_grad)

    def __call__(self, params, batch):
        from jitcore import tree_util
        import jitcore.numpy as jnp
        client = cluster.client_for(self.client)
        params = tree_util.tree_map(mapping._to_host, params)
        leaves, tree = tree_util.tree_flatten(batch)
        leaves = [mapping._to_host(x) for x in leaves]
        sizes = {np.shape(x)[0] for x in leaves if np.ndim(x) > 0}
        if len(sizes) != 1:
            raise ValueError("data_parallel: the batch's arrays must share one leading axis, "
                             f"got leading sizes {sorted(sizes)}")
        n = sizes.pop()
        k = max(1, min(int(self.shards or cluster.n_workers(client)), n))
        bounds = np.linspace(0, n, k + 1).round().astype(int)   # sizes differ by at most one
        shards = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            part = [x if np.ndim(x) == 0 else np.ascontiguousarray(x[lo:hi]) for x in leaves]
            shards.append(((params, tree_util.tree_unflatten(tree, part)), (hi - lo) / n))
        profile = cluster.profile(client)
        bundles, seen = [], set()
        for args, _ in shards:
            sig = mapping.signature(args)
            if sig not in seen:
                seen.add(sig)
                bundles.append(self._program.bundle(self.value_and_grad, args, profile))
        code = mapping.submit_shipment(client, self._program, bundles)
        call = f"{next(_calls)}-{uuid.uuid4().hex[:8]}"
        futures = [client.submit(worker.run, code, args, f"shard {j} of data_parallel",
                                 share if self.reduce == "mean" else None,
                                 key=f"jitcore-shard-{call}-{j}", **mapping.spread(client, j))
                   for j, (args, share) in enumerate(shards)]
        level = 0
        while len(futures) > 1:   # pairwise sums, as tasks: the partial sums stay on workers
            nxt = [client.submit(worker.add, a, b, key=f"jitcore-sum-{call}-{level}-{j}")
                   for j, (a, b) in enumerate(zip(futures[0::2], futures[1::2]))]
            if len(futures) % 2:
                nxt.append(futures[-1])
            futures, level = nxt, level + 1
        (out,) = mapping.gather(client, futures)
        return tree_util.tree_map(jnp.asarray, out)


def data_parallel(loss_fn, *, client=None, shards=None, reduce="sum") -> DataParallel:
    """`value_and_grad(loss_fn)` computed over shards of the batch on Dask workers, summed by a
    tree reduction (see the module's docstring)."""
    return DataParallel(loss_fn, client, shards, reduce)


def sweep(train_fn, configs, *, client=None, progress=False, ship_code=True):
    """`train_fn(config)` for every config, each as its own Dask task; a list of
    `Run(config, result)` in the configs' order. `progress`: show Dask's progress bar
    (`distributed.progress`) while waiting. `ship_code`: run the first config alone, on one
    worker, and send the code it compiled with the other configs' tasks, so that no other
    worker compiles it (the others wait for that one run)."""
    client = cluster.client_for(client)
    configs = list(configs)
    prog = mapping.program(train_fn)
    code = mapping.submit_shipment(client, prog, [])
    call = f"{next(_calls)}-{uuid.uuid4().hex[:8]}"
    futures, first = [], []
    if ship_code and len(configs) > 1:
        fut = client.submit(worker.run_recorded, code, (configs[0],), "config 0 of sweep",
                            key=f"jitcore-sweep-{call}-0", **mapping.spread(client, 0))
        result, bundle = mapping.gather(client, [fut])[0]
        first = [result]
        if bundle is not None:
            code = mapping.submit_shipment(client, prog, [bundle])
    futures = [client.submit(worker.run, code, (cfg,), f"config {j} of sweep",
                             key=f"jitcore-sweep-{call}-{j}", **mapping.spread(client, j))
               for j, cfg in enumerate(configs) if j >= len(first)]
    if progress:
        from distributed import progress as show
        show(futures)
    results = first + mapping.gather(client, futures)
    return [Run(cfg, r) for cfg, r in zip(configs, results)]
