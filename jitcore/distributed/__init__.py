"""jitted functions on Dask distributed: chunked maps, data-parallel gradients, sweeps.

    from jitcore import distributed
    out = distributed.map(f, xs)                            # f over chunks of xs's rows
    value, grads = distributed.data_parallel(loss)(params, batch)
    runs = distributed.sweep(train, configs, progress=True)

Dask schedules, retries, balances and shows its dashboard; jitcore adds what a jitted function
needs to run there without compiling again on every worker: the driver compiles it once per
argument signature, for the workers' settings, and ships the object code with the tasks, in the
persistent cache's file format (checked on arrival as the cache checks its files; no code is
unpickled). A sweep's code is compiled by the worker that runs the first config and shipped
from there. A worker on another CPU, or another jitcore, compiles for itself instead.

`client`: a `distributed.Client` (e.g. `Client("tcp://scheduler:8786")`); None uses the
current client, else starts a cluster of worker processes on this machine (loopback only, no
dashboard). Needs the `distributed` extra: `pip install jitcore[distributed]`.

`worker_stats(client)` says, per worker, what its compiles did (`shipping.process_stats`).
"""
from __future__ import annotations

try:
    import distributed as _dask_distributed  # noqa: F401
except ImportError as e:   # pragma: no cover - the extra is not installed
    raise ImportError("jitcore.distributed needs Dask distributed: "
                      "pip install 'jitcore[distributed]'") from e

from .cluster import client_for, local_client  # noqa: E402
from .mapping import MapFuture, map, map_async  # noqa: E402,A004
from .shipping import process_stats  # noqa: E402
from .training import DataParallel, Run, data_parallel, sweep  # noqa: E402
from .worker import RemoteError  # noqa: E402

__all__ = ["map", "map_async", "MapFuture", "data_parallel", "DataParallel", "sweep", "Run",
           "local_client", "client_for", "worker_stats", "process_stats", "RemoteError"]


def worker_stats(client=None) -> dict:
    """{worker address: `process_stats()` of that worker process}."""
    from .worker import stats
    return client_for(client).run(stats)
