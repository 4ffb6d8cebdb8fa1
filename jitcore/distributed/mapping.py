"""`map`: a jitted function over chunks of the leading axis, on Dask workers.

    out = distributed.map(f, xs, ys, chunk_size=256)     # f(xs[i:j], ys[i:j]) on the workers

Every array leaf of the mapped arguments (pytrees too) is cut along its leading axis into
chunks of `chunk_size` rows; the last chunk is padded to the full size with copies of its last
row, and the padding's rows are dropped from the results, so every chunk has one signature and
the program is compiled once, by the driver (`shipping`). The results (one pytree per chunk,
each leaf with `chunk_size` rows) are concatenated in order into jitcore Arrays. `f` must treat
rows independently (a batched function, as a vmapped one is), or the chunks' results are not
the whole's. Arguments named in `broadcast_argnums` go whole to every chunk.

A task that fails in the user's code raises the original exception on the driver
(`worker.RemoteError`); a worker that dies has its tasks run again elsewhere by Dask.
"""
from __future__ import annotations

import itertools
import math
import threading
import uuid
import weakref

import numpy as np

from . import cluster, shipping, worker

_lock = threading.Lock()
_programs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # function: _Program
_calls = itertools.count()


class _Program:
    """A function as the workers get it (jitted here first, with `jitted`): pickled once,
    under a token, and its bundles by (worker profile, argument signature)."""

    def __init__(self, fn, jitted=False):
        # No reference to `fn` is kept: `_programs` holds it weakly. (A new `jit(fn)` wrapper
        # shares the compiled specializations of earlier ones.)
        self.token = uuid.uuid4().hex[:16]
        self.blob = dumps(as_jitted(fn) if jitted else fn)
        self.bundles = {}
        self.shipped = {}   # (client id, digest): the future of the shipment on that cluster
        self.lock = threading.Lock()

    def bundle(self, jitted, args, profile):
        key = (cluster.freeze(profile), signature(args))
        with self.lock:
            if key in self.bundles:
                return self.bundles[key]
        made = shipping.capture(jitted, args, profile)
        with self.lock:
            return self.bundles.setdefault(key, made)


def dumps(fn) -> bytes:
    """`fn` cloudpickled, keeping the file names of the code it pickles by value (cloudpickle
    writes "<dynamic-code>"), so that an error on a worker names the user's file and line."""
    import io
    buf = io.BytesIO()
    _FilePickler(buf).dump(fn)
    return buf.getvalue()


def _code_with_file(code):
    ctor, args = _CLOUDPICKLE_CODE(code)
    return ctor, tuple(code.co_filename if a == "<dynamic-code>" else a for a in args)


def _pickler():
    import collections
    import types
    import cloudpickle
    global _CLOUDPICKLE_CODE
    table = cloudpickle.Pickler.dispatch_table
    _CLOUDPICKLE_CODE = table.get(types.CodeType)
    if _CLOUDPICKLE_CODE is None:   # a cloudpickle that reduces code otherwise: as it does
        return cloudpickle.Pickler
    return type("_FilePickler", (cloudpickle.Pickler,), {
        "dispatch_table": collections.ChainMap({types.CodeType: _code_with_file}, table)})


_CLOUDPICKLE_CODE = None
_FilePickler = _pickler()


def program(fn, jitted=False) -> _Program:
    """The `_Program` of `fn` (of `jit(fn)`, with `jitted`, unless it is jitted already),
    made once per function while it lives: repeated calls reuse its token, its compiled
    code and, on the workers, its jit cache."""
    try:
        with _lock:
            per_fn = _programs.get(fn)
            if per_fn is None:
                per_fn = _programs[fn] = {}
            prog = per_fn.get(jitted)
            if prog is None:
                prog = per_fn[jitted] = _Program(fn, jitted)
            return prog
    except TypeError:   # not weakly referenceable
        return _Program(fn, jitted)


def signature(args):
    from jitcore import tree_util
    leaves, tree = tree_util.tree_flatten(args)
    return str(tree), tuple((np.shape(x), np.asarray(x).dtype.str) for x in leaves)


def as_jitted(f):
    from jitcore.jit import JitFunction, jit
    return f if isinstance(f, JitFunction) else jit(f)


def submit_shipment(client, prog, bundles):
    """A future of the `worker.Shipment` of `prog` with `bundles`, under a key naming its
    contents (a second call with the same code finds it on the cluster)."""
    shipment = worker.Shipment(prog.token, prog.blob, bundles)
    digest = "-".join(b.digest[:12] for b in shipment.bundles) or "none"
    where = (client.id, digest)
    with prog.lock:
        held = prog.shipped.get(where)
    if held is not None and held.status in ("pending", "finished"):
        return held   # kept on the cluster: not sent again (a data-parallel step each time)
    fut = client.submit(worker.hold, shipment, key=f"jitcore-code-{prog.token}-{digest}")
    with prog.lock:
        prog.shipped[where] = fut
        while len(prog.shipped) > 8:
            prog.shipped.pop(next(iter(prog.shipped)))
    return fut


def spread(client, j) -> dict:
    """Options placing task `j` of a call on worker j mod n (a preference, not a restriction:
    Dask runs it elsewhere when that worker is busy or gone). Without them Dask puts small
    tasks where their code already is, and one worker runs them all."""
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:
        return {}
    return {"workers": [workers[j % len(workers)]], "allow_other_workers": True}


def _to_host(x):
    from jitcore.array import Array
    return np.asarray(x) if isinstance(x, Array) or not np.isscalar(x) and hasattr(
        x, "__array__") else x


class MapFuture:
    """The pending result of `map_async`: `.result()` waits for the chunks and concatenates;
    `.futures` are Dask's (one per chunk)."""

    def __init__(self, client, futures, n, cut):
        self.client, self.futures, self.n, self._cut = client, futures, n, cut

    def result(self, timeout=None):
        chunks = gather(self.client, self.futures, timeout)
        return self._cut(chunks, self.n)


def gather(client, futures, timeout=None):
    """The results of `futures`; an error raised by user code on a worker is raised here as
    the original exception."""
    from distributed import wait
    try:
        if timeout is not None:
            wait(futures, timeout=timeout)
        return client.gather(futures)
    except worker.RemoteError as e:
        raise e.rebuild() from None


def map_async(f, *xs, client=None, chunk_size=None, broadcast_argnums=()):
    """`map` without waiting: a MapFuture."""
    from jitcore import tree_util
    client = cluster.client_for(client)
    broadcast = {i % len(xs) for i in broadcast_argnums} if xs else set()
    split = [i for i in range(len(xs)) if i not in broadcast]
    if not split:
        raise ValueError("distributed.map: no argument to split (all are broadcast)")
    flat = {}
    n = None
    for i in split:
        leaves, tree = tree_util.tree_flatten(xs[i])
        leaves = [_to_host(x) for x in leaves]
        for x in leaves:
            if np.ndim(x) == 0:
                continue
            if n is None:
                n = np.shape(x)[0]
            elif np.shape(x)[0] != n:
                raise ValueError(f"distributed.map: leading axes differ ({n} and "
                                 f"{np.shape(x)[0]}); every mapped array is split along it")
        flat[i] = (leaves, tree)
    if n is None:
        raise ValueError("distributed.map: no array with a leading axis to split")
    if n == 0:
        raise ValueError("distributed.map: the leading axis is empty")
    if chunk_size is None:
        chunk_size = math.ceil(n / (2 * cluster.n_workers(client)))
    chunk_size = max(1, min(int(chunk_size), n))
    whole = [tree_util.tree_map(_to_host, xs[i]) if i in broadcast else None
             for i in range(len(xs))]
    chunks = []
    for start in range(0, n, chunk_size):
        args = list(whole)
        for i, (leaves, tree) in flat.items():
            args[i] = tree_util.tree_unflatten(
                tree, [x if np.ndim(x) == 0 else _rows(x, start, chunk_size) for x in leaves])
        chunks.append(tuple(args))
    prog = program(f, jitted=True)
    jitted = as_jitted(f)
    bundle = prog.bundle(jitted, chunks[0], cluster.profile(client))
    code = submit_shipment(client, prog, [bundle])
    call = f"{next(_calls)}-{uuid.uuid4().hex[:8]}"
    name = getattr(jitted, "_name", "f")
    futures = [client.submit(worker.run, code, args, f"chunk {j} of map({name})",
                             key=f"jitcore-map-{name}-{call}-{j}", **spread(client, j))
               for j, args in enumerate(chunks)]

    def cut(results, n):
        return _concatenate(results, n, chunk_size, name)
    return MapFuture(client, futures, n, cut)


def map(f, *xs, client=None, chunk_size=None, broadcast_argnums=()):  # noqa: A001
    """`f` (jitted here if it is not) over chunks of the leading axis of `xs` on the Dask
    workers of `client` (None: the current client, else a loopback cluster); the results
    concatenated in order, as jitcore Arrays. See the module's docstring."""
    return map_async(f, *xs, client=client, chunk_size=chunk_size,
                     broadcast_argnums=broadcast_argnums).result()


def _rows(x, start, size):
    """Rows start..start+size of `x`, padded with copies of its last row."""
    part = x[start:start + size]
    short = size - part.shape[0]
    if short:
        part = np.concatenate([part, np.repeat(part[-1:], short, axis=0)])
    return np.ascontiguousarray(part)


def _concatenate(results, n, chunk_size, name):
    from jitcore import tree_util
    import jitcore.numpy as jnp
    trees = [tree_util.tree_flatten(r) for r in results]
    tree = trees[0][1]
    cols = list(zip(*(leaves for leaves, _ in trees)))
    out = []
    for col in cols:
        if any(np.ndim(c) == 0 or np.shape(c)[0] != chunk_size for c in col):
            raise ValueError(
                f"distributed.map({name}): each result must have the chunk's {chunk_size} "
                f"rows on its leading axis to be concatenated; got shape {np.shape(col[0])}")
        out.append(jnp.asarray(np.concatenate(col)[:n]))
    return tree_util.tree_unflatten(tree, out)
