"""Which Dask client runs the work, and what its workers need the driver's code compiled for.

`client_for(None)` is the current client (`distributed.get_client()`: the one a `Client(...)`
made the default, or the worker's own inside a task), else a cluster of worker processes on
this machine, listening on loopback only and without a dashboard, started once per process and
closed at exit. `local_client(n)` starts such a cluster owned by the client it returns (closing
the client stops it).

`profile(client)` asks each worker once what decides its machine code (the cache tag of
`xla_like.backends.cache_transfer`, kernel threads, vector math) and keeps the most common
answer: the driver compiles for that, so that its code is what the workers would have compiled.
"""
from __future__ import annotations

import atexit
import collections
import os
import threading
import weakref

_lock = threading.Lock()        # guards `_default` and `_profiles`
_default = None                 # the client of the cluster `client_for` started, if any
_profiles: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # client: (workers, p)


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def local_client(n_workers=None, threads_per_worker=1, **cluster_options):
    """A `distributed.Client` of a new cluster of `n_workers` worker processes (default: one
    per core) on 127.0.0.1, dashboard off; `client.close()` stops the cluster. Each worker's
    kernels use the cores divided among the workers (`JITCORE_NUM_THREADS`), unless this
    process's `num_threads` setting names a number (then that). Scripts that call it need the `if __name__ == "__main__":` guard of
    any program that starts processes."""
    from distributed import Client
    n = max(1, int(n_workers or cores()))
    env = dict(cluster_options.pop("env", {}) or {})
    from xla_like.settings import settings
    env.setdefault("JITCORE_NUM_THREADS", str(
        settings.num_threads or max(1, cores() // (n * threads_per_worker))))
    # No dashboard; the scheduler's HTTP server (health checks) on a free loopback port,
    # not on the dashboard's 8787, which another cluster on the machine may hold.
    scheduler = dict(cluster_options.pop("scheduler_kwargs", {}) or {})
    scheduler.setdefault("dashboard_address", "127.0.0.1:0")
    options = dict(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                   host="127.0.0.1", dashboard_address=None, env=env,
                   scheduler_kwargs=scheduler)
    options.update(cluster_options)
    return Client(**options)


def client_for(client=None):
    """`client`, else the current Dask client, else a loopback cluster started for this
    process."""
    global _default
    if client is not None:
        return client
    from distributed import get_client
    try:
        return get_client()
    except ValueError:   # no client in this process
        pass
    with _lock:
        if _default is None or _default.status not in ("running", "connecting"):
            _default = local_client()
            atexit.register(_close_default, _default)
        return _default


def _close_default(client):
    try:
        client.close()
    except Exception:   # at exit the event loop may be gone already
        pass


def worker_profile() -> dict:
    """What decides the machine code this process compiles, besides the program (runs on each
    worker, through `client.run`)."""
    from xla_like.backends import runtime
    return runtime.code_transfer().process_profile()


def profile(client) -> dict:
    """The most common `worker_profile()` of `client`'s workers (asked again when the set of
    workers changes); this process's own when there are none yet."""
    workers = frozenset(client.scheduler_info().get("workers", {}))
    with _lock:
        known = _profiles.get(client)
    if known is not None and known[0] == workers:
        return known[1]
    answers = client.run(worker_profile) if workers else {}
    if answers:
        counts = collections.Counter(freeze(p) for p in answers.values())
        common = counts.most_common(1)[0][0]
        chosen = next(p for p in answers.values() if freeze(p) == common)
    else:
        chosen = worker_profile()
    with _lock:
        _profiles[client] = (frozenset(answers) or workers, chosen)
    return chosen


def freeze(value):
    """`value` (dicts, lists) as nested sorted tuples: hashable, comparable."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def n_workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
