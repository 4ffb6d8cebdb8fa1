"""The persistent compilation cache: object code on disk, shared by processes.

A backend hands over the text it compiles plus what else decides the machine code (target,
library versions); `key` hashes them. `load(key)` returns what `store(key, ...)` saved: the
object code, the optimized LLVM text and plain JSON metadata. Nothing read here is unpickled or
run before it has been checked byte for byte (and the backend checks the object code itself,
`cpu.object_check`, before linking it).

One file per key, `<sha256 hex>.jco`, in a directory private to the user; its layout and the
checks of its bytes are in `cache_file`.

Whoever can write to the directory or a file in it can make this process run their code, so:

- The directory is opened once (`O_DIRECTORY | O_NOFOLLOW`) and checked on that handle: a
  directory owned by this (effective) user that no one else may write to. Every file is then
  opened, created, renamed and removed relative to the handle, so swapping the path for a
  symbolic link after the check changes nothing. The handle is held, re-checked (owner, mode)
  at each use and re-opened when the configured path changes or names another directory.
- A cache file is opened `O_NOFOLLOW | O_NONBLOCK` (a FIFO cannot block the open) and used only
  if it is a regular file owned by this user, with one link, that no one else may write to, and
  exactly as long as its header says (so nothing unbounded is read).

A file that fails any check, or is truncated, corrupted or foreign (bad magic, another version,
another key), is reported (one line under JITCORE_DEBUG), removed, and the program recompiled.
Files are written to a temporary file created exclusively (0o600) in the directory, fsynced and
renamed over the final name, so a reader (in any process) sees a whole file or none. Least
recently used files (mtime, touched on each hit) go when the directory grows past its cap (a
running total, recounted from a listing now and then: see `_evict_after_store`).

Settings (`cache`, `cache_dir`, `cache_max_bytes`, `debug`, and `memory_cache_max_bytes`, which
`memory_cap` passes on to the backends' in-memory caches of code) come from the settings table,
`xla_like.settings`; `configure(version)` names the producer's version, part of every key.
"""
from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import time

from ..settings import settings as _table
from .cache_file import FORMAT_VERSION, HEADER_SIZE, Entry, Rejected, decode
from .cache_file import encode as _encode
from .cache_file import parse_header as _parse_header

SUFFIX = ".jco"
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_SECONDS = 3600     # a temporary file this old belongs to a process that died
_KEY = re.compile(r"[0-9a-f]{64}\Z")

# Without these (not POSIX), files cannot be opened relative to a checked directory handle, and
# the cache is off.
_SUPPORTED = all(hasattr(os, f) for f in ("O_DIRECTORY", "O_NOFOLLOW", "O_NONBLOCK")) and \
    {os.open, os.unlink, os.rename, os.rmdir, os.utime} <= os.supports_dir_fd
if _SUPPORTED:
    _OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    _OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    _CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# What happened since the process started (tests and `JITCORE_DEBUG` read these).
stats = collections.Counter()

# Called by `clear()`: backends register their in-memory caches of machine code here.
ON_CLEAR: list = []

# Called with the directory's path after the directory is checked and before any file in it is
# opened. Nothing sets it in normal use: it lets a test land a race in exactly that window.
AFTER_DIRECTORY_CHECK = None

_version = "unknown"
_refused: set = set()      # directories already reported as unusable


# --- settings ---------------------------------------------------------------------------------

def configure(version: str):
    """`version` (of the producer, jitcore) is part of every key."""
    global _version
    _version = str(version)


def memory_cap() -> int:
    """Bytes of compiled code the backends may keep in memory for reuse (the
    `memory_cache_max_bytes` setting)."""
    return int(_table.memory_cache_max_bytes)


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):   # the XDG spec says to ignore a relative path
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jitcore")


def configured_dir(settings=None) -> str:
    settings = settings or _table
    return os.path.abspath(os.path.expanduser(settings.cache_dir or default_dir()))


def enabled() -> bool:
    return bool(_table.cache)


def _report(settings, message):
    if settings.debug:
        print(f"jitcore: cache: {message}", flush=True)


# --- the directory ----------------------------------------------------------------------------

class _Handle:
    """The checked cache directory, held open. `ident` (device, inode) tells whether its path
    still names it."""

    __slots__ = ("path", "fd", "ident")

    def __init__(self, path, fd, ident):
        self.path, self.fd, self.ident = path, fd, ident


_lock = threading.Lock()    # guards `_handle`
_handle = None


@contextlib.contextmanager
def _directory(settings, create):
    """Yields (path, fd): a descriptor of the configured directory, checked safe, valid until
    the block ends; fd None where there is none (or, with `create`, none could be made) or it
    is unsafe (said once under JITCORE_DEBUG).

    Safe: a directory owned by this user that no one else may write to (created 0o700). The fd
    is a duplicate of the held handle, so another thread replacing the handle meanwhile cannot
    leave this one with a closed (or reused) descriptor."""
    path = configured_dir(settings)
    with _lock:
        try:
            fd = _checked_handle(path, create, settings)
            fd = os.dup(fd) if fd is not None else None
        except OSError as e:   # out of descriptors, say: no cache this time
            fd = _refuse(settings, path, f"cannot use it ({e.strerror or e})")
    try:
        yield path, fd
    finally:
        if fd is not None:
            os.close(fd)


def _checked_handle(path, create, settings):
    global _handle
    if _handle is not None and (_handle.path != path or not _names(path, _handle.ident)):
        _drop_handle()
    if _handle is None:
        opened = _open_directory(path, create, settings)
        if opened is None:
            return None
        fd, created = opened
        st = os.fstat(fd)
        if created and st.st_uid == _euid():
            os.fchmod(fd, 0o700)   # exactly: the umask may have taken bits we need
        _handle = _Handle(path, fd, (st.st_dev, st.st_ino))
    why = _unsafe_directory(os.fstat(_handle.fd))   # each use: its mode may have changed
    if why:
        _drop_handle()
        return _refuse(settings, path, why)
    return _handle.fd


def _drop_handle():
    global _handle
    os.close(_handle.fd)
    _handle = None


def _names(path, ident) -> bool:
    """Whether `path` (not following a final symbolic link) is the directory `ident`."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == ident


def _open_directory(path, create, settings):
    """(fd, created) of the directory at `path`, never through a symbolic link in its last
    component; None if it is missing (or refused)."""
    if not _SUPPORTED:
        return _refuse(settings, path, "this system cannot open files relative to a directory")
    created = False
    if create:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path, 0o700)
            created = True
        except FileExistsError:
            pass
        except OSError as e:
            return _refuse(settings, path, f"cannot create it ({e.strerror})")
    try:
        return os.open(path, _OPEN_DIR), created
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ENOTDIR, errno.ELOOP):
            why = "it is a symbolic link (set the cache directory to where it points)" \
                if os.path.islink(path) else "it is not a directory"
        else:
            why = f"cannot open it ({e.strerror})"
        return _refuse(settings, path, why)


def _euid():
    return os.geteuid() if hasattr(os, "geteuid") else None


def _unsafe_directory(st):
    """Why the directory `st` describes must not be used, or None."""
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != _euid():
        return f"it is owned by uid {st.st_uid}, not by this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write to it (mode {st.st_mode & 0o777:o}); chmod 700 it to use it"
    return None


def _unsafe_file(st):
    """Why the cache file `st` describes must not be read, or None."""
    if stat.S_ISDIR(st.st_mode):
        return "a directory, not a cache file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device)"
    if st.st_uid != _euid():
        return f"owned by uid {st.st_uid}, not by this user"
    if st.st_nlink > 1:   # 0: replaced by another store after we opened it; still a whole file
        return f"{st.st_nlink} hard links to it, where a cache file has one"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write to it (mode {st.st_mode & 0o777:o})"
    return None


def _refuse(settings, path, why):
    stats["refused"] += 1
    if path not in _refused:
        _refused.add(path)
        _report(settings, f"not using {path}: {why}")
    return None


def _after_check(path):
    hook = AFTER_DIRECTORY_CHECK
    if hook is not None:
        hook(path)


# --- keys ---------------------------------------------------------------------------------------

def key(text: str, backend: str, target: dict) -> str:
    """The key of the code compiled from `text` for `backend` on `target` (CPU name, features,
    compiler versions, the codegen recipe: whatever else decides the machine code)."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "producer": _version, "backend": backend,
                         "target": target}, sort_keys=True).encode())
    h.update(b"\0")
    h.update(text.encode())
    return h.hexdigest()


def _file_name(key_hex: str) -> str:
    if not isinstance(key_hex, str) or not _KEY.match(key_hex):
        raise ValueError(f"disk cache: a key is 64 lowercase hex digits, got {key_hex!r}")
    return key_hex + SUFFIX


def encode(key_hex: str, meta: dict, obj: bytes, text: str) -> bytes:
    """A cache file's bytes, naming this process's version as its producer."""
    return _encode(key_hex, meta, obj, text, _version)


# --- load, store, evict, clear --------------------------------------------------------------------

def load(key_hex: str):
    """The Entry stored under `key_hex`, or None (a miss, or a bad file, which is removed)."""
    settings = _table
    if not settings.cache:
        return None
    name = _file_name(key_hex)
    with _directory(settings, create=False) as (folder, dfd):
        if dfd is None:
            return None
        _after_check(folder)
        path = os.path.join(folder, name)
        try:
            data = _read_entry(dfd, name, settings)
            meta, obj, text = decode(data, key_hex)
        except FileNotFoundError:
            stats["misses"] += 1
            return None
        except Rejected as e:
            _reject_in(dfd, path, str(e), settings)
            return None
        except OSError as e:
            stats["misses"] += 1
            _report(settings, f"cannot read {path}: {e.strerror or e}")
            return None
        try:
            os.utime(name, dir_fd=dfd, follow_symlinks=False)   # least recently used goes first
        except OSError:
            pass
    stats["hits"] += 1
    _note(key_hex)
    _report(settings, f"loaded {name} ({len(data) >> 10} KiB)")
    return Entry(meta, obj, text, path)


def _read_entry(dfd, name, settings) -> bytes:
    """The bytes of the cache file `name` in the directory `dfd`, after the checks on the file
    itself; raises Rejected, or OSError (FileNotFoundError: a miss)."""
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dfd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Rejected("a symbolic link, not a cache file") from None
        if e.errno in (errno.ENXIO, errno.EACCES, errno.EPERM):
            raise Rejected(f"cannot be opened ({e.strerror})") from None
        raise
    try:
        st = os.fstat(fd)
        why = _unsafe_file(st)
        if why:
            raise Rejected(why)
        header = _read_exactly(fd, HEADER_SIZE)
        _, length = _parse_header(header)
        size = HEADER_SIZE + length
        if size > max(int(settings.cache_max_bytes), 0) + HEADER_SIZE:
            raise Rejected(f"larger ({size} bytes) than the cache's cap")
        if st.st_size != size:
            raise Rejected(f"truncated or padded ({st.st_size} bytes, the header says {size})")
        payload = _read_exactly(fd, length)
        if len(payload) != length:
            raise Rejected("shrank while being read")
        return header + payload
    finally:
        os.close(fd)


def _read_exactly(fd, n) -> bytes:
    """Up to `n` bytes of `fd` (fewer only at its end)."""
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# What a compile used, for `cache_transfer` to hand to another process: `.keys`, where a
# thread's `cache_transfer.recording()` block sets it, collects the keys this thread loads or
# stores (a backend loads and stores on the compiling thread).
_recorder = threading.local()


def _note(key_hex):
    keys = getattr(_recorder, "keys", None)
    if keys is not None and key_hex not in keys:
        keys.append(key_hex)


def reject(path, why, settings=None):
    """Report a cache file that will not be used and remove it, so the recompile replaces it."""
    settings = settings or _table
    with _directory(settings, create=False) as (folder, dfd):
        # Removed only from the directory it was read from (if that is still the cache's).
        _reject_in(dfd if os.path.dirname(path) == folder else None, path, why, settings)


def _reject_in(dfd, path, why, settings):
    stats["rejected"] += 1
    name = os.path.basename(path)
    _report(settings, f"ignoring {name}: {why}; recompiling")
    if dfd is None:
        return
    try:
        os.unlink(name, dir_fd=dfd)   # a link or FIFO itself, never what it points to
    except IsADirectoryError:
        try:
            os.rmdir(name, dir_fd=dfd)   # only an empty one: its contents are not ours
        except OSError:
            pass
    except OSError:
        pass


def store(key_hex: str, meta: dict, obj: bytes, text: str) -> bool:
    """Save one compiled program; True if written. Never raises for an unusable directory."""
    settings = _table
    if not settings.cache:
        return False
    name = _file_name(key_hex)
    with _directory(settings, create=True) as (folder, dfd):
        if dfd is None:
            return False
        _after_check(folder)
        try:
            data = encode(key_hex, meta, obj, text)
            _write_new(dfd, name, data)
        except OSError as e:
            _report(settings, f"cannot write {os.path.join(folder, name)}: {e.strerror or e}")
            return False
        stats["stores"] += 1
        _note(key_hex)
        _evict_after_store(dfd, len(data), int(settings.cache_max_bytes))
    return True


# Eviction needs the directory's total size, and listing the directory at every store made a
# store cost O(files in it): a test run's thousands of compiles spent a sixth of their time
# there. Each process keeps a running total per directory instead, and lists it again when that
# total would pass the cap, after _RESCAN_STORES stores or after _RESCAN_SECONDS: files written
# by other processes are counted within that, and one process alone is never over its cap.
_RESCAN_STORES = 64
_RESCAN_SECONDS = 10.0
_clock = time.monotonic
_sizes_lock = threading.Lock()
_sizes: dict = {}   # (st_dev, st_ino) -> [bytes, stores since the listing, time of the listing]


def _evict_after_store(dfd, nbytes, max_bytes):
    ident = _ident(dfd)
    with _sizes_lock:
        known = _sizes.get(ident)
        if known is not None and known[0] + nbytes <= max_bytes \
                and known[1] < _RESCAN_STORES and _clock() - known[2] < _RESCAN_SECONDS:
            known[0] += nbytes
            known[1] += 1
            return
    _evict_in(dfd, max_bytes)


def _ident(dfd):
    st = os.fstat(dfd)
    return st.st_dev, st.st_ino


def _write_new(dfd, name, data):
    """Write `data` to a fresh private temporary file in `dfd`, then rename it to `name`."""
    for _ in range(3):
        tmp = f"{_TEMP_PREFIX}{secrets.token_hex(8)}{SUFFIX}"
        try:
            fd = os.open(tmp, _CREATE_FILE, 0o600, dir_fd=dfd)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no fresh temporary file name")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise


def _entries(dfd):
    """(mtime, size, name) of the cache files in the directory `dfd`; stale temporaries are
    removed."""
    out = []
    now = time.time()
    try:
        # A descriptor of its own: duplicates of one handle share a read position, which two
        # threads listing at once would move under each other.
        scan = os.open(".", _OPEN_DIR, dir_fd=dfd)
    except OSError:
        return out
    try:
        with os.scandir(scan) as it:
            for e in it:
                try:
                    if not e.is_file(follow_symlinks=False):
                        continue
                    st = e.stat(follow_symlinks=False)
                    if e.name.startswith(_TEMP_PREFIX):
                        if now - st.st_mtime > _STALE_TEMP_SECONDS:
                            os.unlink(e.name, dir_fd=dfd)
                        continue
                    if e.name.endswith(SUFFIX):
                        out.append((st.st_mtime, st.st_size, e.name))
                except OSError:
                    continue   # another process removed it meanwhile
    finally:
        os.close(scan)
    return out


def evict(folder: str, max_bytes: int):
    """Remove least recently used files from `folder` (if it is a safe cache directory) until
    it holds at most `max_bytes`."""
    if not _SUPPORTED:
        return
    try:
        dfd = os.open(folder, _OPEN_DIR)
    except OSError:
        return
    try:
        if _unsafe_directory(os.fstat(dfd)) is None:
            _evict_in(dfd, max_bytes)
    finally:
        os.close(dfd)


def _evict_in(dfd, max_bytes):
    """Evicts down to `max_bytes` from a fresh listing, which restarts the running total."""
    listed_at = _clock()
    entries = _entries(dfd)
    total = sum(size for _, size, _ in entries)
    for _, size, name in sorted(entries) if total > max_bytes else ():
        try:
            os.unlink(name, dir_fd=dfd)
            stats["evicted"] += 1
        except OSError:
            pass
        total -= size
        if total <= max_bytes:
            break
    with _sizes_lock:
        _sizes[_ident(dfd)] = [total, 0, listed_at]


def clear(memory: bool = True):
    """Remove every cache file (only ours: `*.jco`, and stale temporaries) from the configured
    directory, and, with `memory`, the backends' in-memory caches."""
    if memory:
        for fn in ON_CLEAR:
            fn()
    with _sizes_lock:
        _sizes.clear()
    with _directory(_table, create=False) as (_, dfd):
        if dfd is None:
            return
        for _, _, name in _entries(dfd):   # a fresh temporary is another process's write
            try:
                os.unlink(name, dir_fd=dfd)
            except OSError:
                pass
