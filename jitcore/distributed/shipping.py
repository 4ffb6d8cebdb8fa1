"""Compiled code the driver ships with a task, and what a worker does with it.

The driver compiles a jitted function once per argument signature (for the workers' kernel
threads and vector-math setting: `cluster.profile`), recording the persistent cache's files the
compile loaded or stored (`cache_transfer.recording`), and bundles their bytes with the tag of
what produced them (target triple, CPU name and features, LLVM, code generator, version). A
worker installs a bundle once per process, into its own cache directory, after the cache's own
checks and the object-code check; its jitted call then loads the code as it would load code it
had compiled itself. A worker whose tag differs (another CPU or feature set, another jitcore)
installs nothing and compiles for itself. Bytes travel; no code is unpickled.

`process_stats()` counts, per process, what compiles did (tests and benchmarks read it on each
worker through `client.run`).
"""
from __future__ import annotations

import collections
import hashlib
import threading

from xla_like.backends import runtime
from xla_like.settings import override, settings

from .cluster import freeze

cache_transfer = runtime.code_transfer()

_lock = threading.Lock()       # guards `_installed` and `_stats`
_installed: "collections.OrderedDict" = collections.OrderedDict()   # bundle digests, bounded
_MAX_INSTALLED = 1024
_stats = collections.Counter()


class Bundle:
    """The cache files of one compile (`files`: ((key, bytes), ...)) and the tag of the
    process that compiled them."""

    __slots__ = ("tag", "files", "digest")

    def __init__(self, tag, files):
        self.tag = tag
        self.files = tuple(files)
        h = hashlib.sha256(repr(sorted(_flat(tag))).encode())
        for k, data in self.files:
            h.update(k.encode() + hashlib.sha256(data).digest())
        self.digest = h.hexdigest()

    @property
    def nbytes(self) -> int:
        return sum(len(d) for _, d in self.files)

    def __reduce__(self):
        return (Bundle, (self.tag, self.files))


def _flat(tag, prefix=""):
    for k, v in tag.items():
        if isinstance(v, dict):
            yield from _flat(v, prefix + k + ".")
        else:
            yield (prefix + k, str(v))


# --- the driver -----------------------------------------------------------------------------

def capture(jitted, args, profile):
    """The Bundle of `jitted` compiled for `args` (a tuple) as the workers of `profile` would
    compile it, or None when there is nothing to ship: not the CPU backend, the driver's
    cache off, or workers on another target (they compile for themselves)."""
    backend = jitted.backend or settings.backend
    if backend != "cpu" or profile.get("backend", "cpu") != "cpu" or not settings.cache or \
            not profile.get("cache", 1):
        return None
    tag = cache_transfer.cpu_tag()
    if freeze(tag) != freeze(profile.get("tag", tag)):
        return None
    with override(num_threads=int(profile.get("threads") or 0),
                  no_vector_math=int(profile.get("no_vector_math", 0))):
        lowered = jitted.lower(*args)
        keys = cache_transfer.record(lowered.compile)
    files = []
    for k in keys:
        data = cache_transfer.read_file(k)
        if data is not None:
            files.append((k, data))
    return Bundle(tag, files) if files else None


# --- the worker -----------------------------------------------------------------------------

def ensure_installed(bundles):
    """Install each Bundle of `bundles` into this process's cache, once per process."""
    for bundle in bundles:
        if bundle is None:
            continue
        with _lock:
            if bundle.digest in _installed:
                continue
        _install(bundle)
        with _lock:
            _installed[bundle.digest] = True
            while len(_installed) > _MAX_INSTALLED:
                _installed.popitem(last=False)


def _install(bundle):
    if freeze(bundle.tag) != freeze(cache_transfer.cpu_tag()):
        with _lock:
            _stats["foreign_bundles"] += 1   # another machine's code: compiled here instead
        return
    calls = set()
    for k, data in bundle.files:
        try:
            calls.update(cache_transfer.entry_points(k, data))
        except cache_transfer.Rejected:
            pass    # refused (and counted) by the install loop below
    for k, data in bundle.files:
        if cache_transfer.read_file(k) == data:
            with _lock:
                _stats["already_cached"] += 1   # a cache directory shared with the driver
            continue
        try:
            cache_transfer.install(k, data, calls)   # counted by the cache (`installed_files`)
        except cache_transfer.Rejected:
            with _lock:
                _stats["refused_files"] += 1


def process_stats() -> dict:
    """What compiles did in this process since it started: `compiled`, pieces of machine code
    generated (programs, or compile units of large ones; counted as the persistent cache
    stores them), `loaded`, pieces loaded from the persistent cache instead; `units_compiled`;
    shipped files installed, found already cached, refused; bundles of another target
    ignored; tasks run."""
    import os
    with _lock:
        mine = dict(_stats)
    return {"pid": os.getpid(), **cache_transfer.counters(),
            "already_cached": mine.get("already_cached", 0),
            "refused_files": mine.get("refused_files", 0),
            "foreign_bundles": mine.get("foreign_bundles", 0),
            "tasks": mine.get("tasks", 0)}


def count_task():
    with _lock:
        _stats["tasks"] += 1
