"""The persistent compilation cache: object code on disk, shared by processes.

A backend hands over the text it compiles plus what else decides the machine code (target,
library versions); `key` hashes them. `load(key)` returns what `store(key, ...)` saved: the
object code, the optimized LLVM text and plain JSON metadata. Nothing read here is unpickled or
run before it has been checked byte for byte.

One file per key, `<sha256 hex>.jco`, in a directory private to the user:

    magic (8 bytes) | format version (u32) | sha256 of the payload (32) | payload length (u64)
    payload: metadata length (u32) | metadata (JSON) | object code | optimized LLVM text (zlib)

A file that is truncated, corrupted, foreign (bad magic, another version, another key) or not a
regular file is reported (one line under JITCORE_DEBUG), removed, and the program recompiled.
Files are written to a temporary file in the same directory, fsynced and renamed over the final
name, so a reader (in any process) sees a whole file or none. Least recently used files (mtime,
touched on each hit) go when the directory grows past its cap.

Settings come from `configure(provider, version)` (jitcore passes its `config.settings`); without
it, from the JITCORE_CACHE, JITCORE_CACHE_DIR, JITCORE_CACHE_MAX_BYTES and JITCORE_DEBUG
environment variables.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import stat
import struct
import tempfile
import time
import zlib
from types import SimpleNamespace

MAGIC = b"JCOBJ\x00\r\n"   # the \r\n catches files mangled by a text-mode copy
FORMAT_VERSION = 1
SUFFIX = ".jco"
_HEADER = struct.Struct("<8sI32sQ")
_META_LEN = struct.Struct("<I")
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_SECONDS = 3600     # a temporary file this old belongs to a process that died
DEFAULT_MAX_BYTES = 1 << 30

# What happened since the process started (tests and `JITCORE_DEBUG` read these).
stats = collections.Counter()

# Called by `clear()`: backends register their in-memory caches of machine code here.
ON_CLEAR: list = []

_provider = None
_version = "unknown"
_refused: set = set()      # directories already reported as unusable


class Entry:
    """A loaded cache file: the metadata, the object code and the optimized LLVM text."""

    __slots__ = ("meta", "obj", "text", "path")

    def __init__(self, meta, obj, text, path):
        self.meta = meta
        self.obj = obj
        self.text = text
        self.path = path


class Rejected(Exception):
    """A cache file that must not be used (the message says why)."""


# --- settings ---------------------------------------------------------------------------------

def configure(provider, version: str):
    """`provider()` returns an object with `cache`, `cache_dir`, `cache_max_bytes` and `debug`;
    `version` (of the producer, jitcore) is part of every key."""
    global _provider, _version
    _provider = provider
    _version = str(version)


def _env_settings():
    def num(name, default):
        raw = os.environ.get(name, "")
        return int(raw) if raw else default
    return SimpleNamespace(cache=num("JITCORE_CACHE", 1),
                           cache_dir=os.environ.get("JITCORE_CACHE_DIR", ""),
                           cache_max_bytes=num("JITCORE_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES),
                           debug=num("JITCORE_DEBUG", 0))


def _settings():
    return _provider() if _provider is not None else _env_settings()


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):   # the XDG spec says to ignore a relative path
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jitcore")


def configured_dir(settings=None) -> str:
    settings = settings or _settings()
    return os.path.abspath(os.path.expanduser(settings.cache_dir or default_dir()))


def enabled() -> bool:
    return bool(_settings().cache)


def _report(settings, message):
    if settings.debug:
        print(f"jitcore: cache: {message}", flush=True)


# --- the directory ----------------------------------------------------------------------------

def directory(create: bool = True, settings=None):
    """The cache directory if it is safe to use, else None (said once under JITCORE_DEBUG).

    Safe: a directory owned by this user that no one else may write to (created 0o700). Anyone
    who can write there can make this process run their code, so anything else is refused."""
    settings = settings or _settings()
    path = configured_dir(settings)
    try:
        if create and not os.path.lexists(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)   # the umask may have left other bits
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        return _refuse(settings, path, f"cannot create it ({e.strerror})")
    if not stat.S_ISDIR(st.st_mode):
        return _refuse(settings, path, "it is not a directory")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return _refuse(settings, path, f"it is owned by uid {st.st_uid}, not by this user")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return _refuse(settings, path, f"others may write to it (mode {st.st_mode & 0o777:o}); "
                                       "chmod 700 it to use it")
    return path


def _refuse(settings, path, why):
    stats["refused"] += 1
    if path not in _refused:
        _refused.add(path)
        _report(settings, f"not using {path}: {why}")
    return None


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


def path_for(key_hex: str, folder: str) -> str:
    return os.path.join(folder, key_hex + SUFFIX)


# --- the file format ----------------------------------------------------------------------------

def encode(key_hex: str, meta: dict, obj: bytes, text: str) -> bytes:
    packed_text = zlib.compress(text.encode(), 6)
    meta = dict(meta, key=key_hex, format=FORMAT_VERSION, producer_version=_version,
                object_size=len(obj), text_size=len(packed_text),
                text_sha256=hashlib.sha256(text.encode()).hexdigest())
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    payload = b"".join([_META_LEN.pack(len(meta_bytes)), meta_bytes, obj, packed_text])
    digest = hashlib.sha256(payload).digest()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, digest, len(payload)) + payload


def decode(data: bytes, key_hex: str):
    """(metadata, object code, optimized text) of a file's bytes; raises Rejected."""
    if len(data) == 0:
        raise Rejected("empty file")
    if len(data) < _HEADER.size:
        raise Rejected(f"truncated ({len(data)} bytes, shorter than the header)")
    magic, version, digest, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Rejected("not a jitcore cache file (bad magic)")
    if version != FORMAT_VERSION:
        raise Rejected(f"format version {version}, this jitcore reads {FORMAT_VERSION}")
    payload = memoryview(data)[_HEADER.size:]
    if len(payload) != length:
        raise Rejected(f"truncated or padded (payload {len(payload)} bytes, header says "
                       f"{length})")
    if hashlib.sha256(payload).digest() != digest:
        raise Rejected("corrupted (payload checksum mismatch)")
    if length < _META_LEN.size:
        raise Rejected("no metadata")
    (meta_len,) = _META_LEN.unpack_from(payload)
    end = _META_LEN.size + meta_len
    try:
        meta = json.loads(bytes(payload[_META_LEN.size:end]))
    except ValueError:
        raise Rejected("unreadable metadata") from None
    if not isinstance(meta, dict):
        raise Rejected("unreadable metadata")
    if meta.get("key") != key_hex:
        raise Rejected("written for another key (a foreign file)")
    obj_size, text_size = meta.get("object_size"), meta.get("text_size")
    if not isinstance(obj_size, int) or not isinstance(text_size, int) or \
            min(obj_size, text_size) < 0 or end + obj_size + text_size != length:
        raise Rejected("section sizes do not add up")
    obj = bytes(payload[end:end + obj_size])
    try:
        text = zlib.decompress(payload[end + obj_size:]).decode()
    except (zlib.error, UnicodeDecodeError):
        raise Rejected("unreadable LLVM text") from None
    if hashlib.sha256(text.encode()).hexdigest() != meta.get("text_sha256"):
        raise Rejected("LLVM text checksum mismatch")
    return meta, obj, text


# --- load, store, evict, clear --------------------------------------------------------------------

def load(key_hex: str):
    """The Entry stored under `key_hex`, or None (a miss, or a bad file, which is removed)."""
    settings = _settings()
    if not settings.cache:
        return None
    folder = directory(create=False, settings=settings)
    if folder is None:
        return None
    path = path_for(key_hex, folder)
    try:
        data = _read_regular(path, settings)
    except FileNotFoundError:
        stats["misses"] += 1
        return None
    except Rejected as e:
        reject(path, str(e), settings)
        return None
    except OSError as e:
        stats["misses"] += 1
        _report(settings, f"cannot read {path}: {e.strerror or e}")
        return None
    try:
        meta, obj, text = decode(data, key_hex)
    except Rejected as e:
        reject(path, str(e), settings)
        return None
    try:
        os.utime(path)   # least recently used goes first
    except OSError:
        pass
    stats["hits"] += 1
    _report(settings, f"loaded {os.path.basename(path)} ({len(data) >> 10} KiB)")
    return Entry(meta, obj, text, path)


def _read_regular(path, settings):
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise Rejected("a directory, not a cache file") from None
    except OSError as e:
        if os.path.isdir(path):   # some systems open directories read-only
            raise Rejected("a directory, not a cache file") from None
        if os.path.islink(path):
            raise Rejected("a symbolic link, not a cache file") from None
        raise e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Rejected("not a regular file")
        limit = max(int(settings.cache_max_bytes), 0) + _HEADER.size
        if st.st_size > limit:
            raise Rejected(f"larger ({st.st_size} bytes) than the cache's cap")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def reject(path, why, settings=None):
    """Report a cache file that will not be used and remove it, so the recompile replaces it."""
    settings = settings or _settings()
    stats["rejected"] += 1
    _report(settings, f"ignoring {os.path.basename(path)}: {why}; recompiling")
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)   # only an empty one: a directory's contents are not ours to delete
        else:
            os.unlink(path)
    except OSError:
        pass


def store(key_hex: str, meta: dict, obj: bytes, text: str) -> bool:
    """Save one compiled program; True if written. Never raises for an unusable directory."""
    settings = _settings()
    if not settings.cache:
        return False
    folder = directory(create=True, settings=settings)
    if folder is None:
        return False
    data = encode(key_hex, meta, obj, text)
    final = path_for(key_hex, folder)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=SUFFIX, dir=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        tmp = None
    except OSError as e:
        _report(settings, f"cannot write {final}: {e.strerror or e}")
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    stats["stores"] += 1
    evict(folder, int(settings.cache_max_bytes))
    return True


def _entries(folder):
    """(mtime, size, path) of the cache files in `folder`; stale temporaries are removed."""
    out = []
    now = time.time()
    try:
        it = os.scandir(folder)
    except OSError:
        return out
    with it:
        for e in it:
            try:
                if not e.is_file(follow_symlinks=False):
                    continue
                st = e.stat(follow_symlinks=False)
                if e.name.startswith(_TEMP_PREFIX):
                    if now - st.st_mtime > _STALE_TEMP_SECONDS:
                        os.unlink(e.path)
                    continue
                if e.name.endswith(SUFFIX):
                    out.append((st.st_mtime, st.st_size, e.path))
            except OSError:
                continue   # another process removed it meanwhile
    return out


def evict(folder: str, max_bytes: int):
    """Remove least recently used files until the directory holds at most `max_bytes`."""
    entries = _entries(folder)
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return
    for _, size, path in sorted(entries):
        try:
            os.unlink(path)
            stats["evicted"] += 1
        except OSError:
            pass
        total -= size
        if total <= max_bytes:
            break


def clear(memory: bool = True):
    """Remove every cache file (only ours: `*.jco`, and stale temporaries) from the configured
    directory, and, with `memory`, the backends' in-memory caches."""
    if memory:
        for fn in ON_CLEAR:
            fn()
    folder = directory(create=False)
    if folder is None:
        return
    for _, _, path in _entries(folder):   # a fresh temporary is another process's write
        try:
            os.unlink(path)
        except OSError:
            pass


def size_on_disk() -> int:
    """Bytes held by the cache files in the configured directory."""
    folder = directory(create=False)
    return sum(size for _, size, _ in _entries(folder)) if folder else 0
