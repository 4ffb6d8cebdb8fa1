"""Handing compiled CPU code to another process, in the persistent cache's file format.

A process that compiled a program can give another one (a worker of a cluster) the object code,
so that the other loads it instead of compiling again:

    with recording() as keys:          # the cache files the compile loaded or stored
        compile(...)
    files = {k: read_file(k) for k in keys}
    tag = cpu_tag()
    ... elsewhere ...
    if tag == cpu_tag():               # same target, code generator and version
        for k, data in files.items():
            install(k, data, names)    # checked, then written into this process's cache

The receiving process's next compile of the program finds the files where it looks for its own
(`disk_cache.load`) and links them after the usual checks. What travels is bytes in the cache's
format: nothing is unpickled. `install` checks them as `load` does (magic, version, checksums,
sizes, key) and checks the object code (`cpu.object_check`) before writing a byte, so a file
that could not be loaded is never written. A process whose tag differs (another CPU, other
features, another jitcore) installs nothing and compiles for itself: the keys include the
target, so code for another machine would never be looked up anyway.
"""
from __future__ import annotations

import contextlib
import os

from . import disk_cache
from ..settings import settings as _table


@contextlib.contextmanager
def recording():
    """Yields a list that collects, in order, the keys of the cache files this thread loads or
    stores inside the block. Code the backend found in its in-memory caches touches no file
    and is not listed."""
    keys = []
    outer = getattr(disk_cache._recorder, "keys", None)
    disk_cache._recorder.keys = keys
    try:
        yield keys
    finally:
        disk_cache._recorder.keys = outer


def read_file(key_hex: str):
    """The bytes of the cache file stored under `key_hex`, checked as `load` checks them (a
    file that fails is removed), or None."""
    name = disk_cache._file_name(key_hex)
    with disk_cache._directory(_table, create=False) as (folder, dfd):
        if dfd is None:
            return None
        disk_cache._after_check(folder)
        try:
            data = disk_cache._read_entry(dfd, name, _table)
            disk_cache.decode(data, key_hex)
        except disk_cache.Rejected as e:
            disk_cache._reject_in(dfd, os.path.join(folder, name), str(e), _table)
            return None
        except OSError:
            return None
    return data


def check_file(key_hex: str, data: bytes, calls=frozenset()):
    """The metadata of a cache file's bytes after the checks `load` and the CPU backend make
    (`calls`: names of other files' entry points its code may call); raises
    disk_cache.Rejected."""
    from .cpu import object_check
    meta, obj, _ = disk_cache.decode(data, key_hex)
    names = meta.get("names")
    if meta.get("backend") != "cpu" or not isinstance(names, list) or \
            not all(isinstance(n, str) for n in names):
        raise disk_cache.Rejected("not CPU code with named entry points")
    try:
        object_check.check_object(obj, names, object_check.cpu_imports() | frozenset(calls))
    except object_check.BadObject as e:
        raise disk_cache.Rejected(f"object code refused: {e}") from None
    return meta


def entry_points(key_hex: str, data: bytes) -> list:
    """The entry point names a cache file's metadata lists (after the file's checks)."""
    meta, _, _ = disk_cache.decode(data, key_hex)
    names = meta.get("names")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def install(key_hex: str, data: bytes, calls=frozenset()) -> bool:
    """Write the bytes of a cache file another process read (`read_file`) into this process's
    cache directory under `key_hex`, after `check_file` (raises disk_cache.Rejected when a
    check fails); True if written (False: the cache is off or its directory unusable)."""
    data = bytes(data)
    check_file(key_hex, data, calls)
    if not _table.cache:
        return False
    name = disk_cache._file_name(key_hex)
    with disk_cache._directory(_table, create=True) as (folder, dfd):
        if dfd is None:
            return False
        disk_cache._after_check(folder)
        try:
            disk_cache._write_new(dfd, name, data)
        except OSError as e:
            disk_cache._report(_table, f"cannot write {os.path.join(folder, name)}: "
                                       f"{e.strerror or e}")
            return False
        disk_cache.stats["installed"] += 1
        disk_cache._evict_in(dfd, int(_table.cache_max_bytes))
    return True


def cpu_tag() -> dict:
    """What must be equal for one process's CPU code to serve another: the target (triple, CPU
    name and features, LLVM versions, codegen recipe), the code generator's source stamp and
    jitcore's version (all parts of the cache keys)."""
    from . import cpu
    return {"target": dict(cpu._target_id()), "source": cpu._source_stamp(),
            "producer": disk_cache._version}


Rejected = disk_cache.Rejected


def record(compile_fn):
    """The keys of the cache files `compile_fn()` used (it compiles on this thread). Code the
    backends find in their in-memory caches touches no file, so when any of it came from
    there (this process compiled the program, or one of its kernels, before), those caches
    are emptied and `compile_fn()` run again, from the files: executables keep the code they
    run, and other programs find theirs on disk."""
    from .cpu import compile_units
    before = compile_units.stats["memory"]
    with recording() as keys:
        compile_fn()
    if keys and compile_units.stats["memory"] == before:
        return keys
    for clear in list(disk_cache.ON_CLEAR):
        clear()
    with recording() as keys:
        compile_fn()
    return keys


def process_profile() -> dict:
    """What decides the machine code this process compiles, besides the program: `cpu_tag()`,
    kernel threads, the vector-math setting, the backend, whether the cache is on."""
    from .cpu.pool import threads
    return {"tag": cpu_tag(), "threads": threads(),
            "no_vector_math": int(bool(_table.no_vector_math)),
            "backend": _table.backend, "cache": int(bool(_table.cache))}


def counters() -> dict:
    """What compiles did in this process since it started: `compiled`, pieces of machine code
    generated (programs, or compile units of large ones; counted as the persistent cache
    stores them); `loaded`, pieces loaded from the cache instead; `units_compiled`;
    `installed_files`, files written by `install`."""
    from .cpu import compile_units
    return {"compiled": disk_cache.stats["stores"], "loaded": disk_cache.stats["hits"],
            "units_compiled": compile_units.stats["compiled"],
            "installed_files": disk_cache.stats["installed"]}
