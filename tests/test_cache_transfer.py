"""Handing compiled code from one cache directory (one process) to another
(`xla_like.backends.cache_transfer`): what a compile used is recorded, read back checked, and
installed only after the cache's and the object code's checks; the receiving side then loads it
instead of compiling. Counts come from the persistent cache's own counters."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends import cache_transfer, disk_cache
from xla_like.settings import override


def _clear_memory():
    for clear in list(disk_cache.ON_CLEAR):
        clear()


def _program(x):
    return jnp.sin(x) * 2.0 + jnp.cos(x * 0.25)


def _compile_recorded(x):
    _clear_memory()
    with cache_transfer.recording() as keys:
        jc.jit(_program).lower(x).compile()
    return keys


def test_recorded_files_installed_elsewhere_are_loaded_not_compiled(tmp_path):
    x = np.linspace(-2, 2, 37)
    with override(cache=1, cache_dir=str(tmp_path / "a")):
        keys = _compile_recorded(x)
        files = {k: cache_transfer.read_file(k) for k in keys}
    assert keys and all(files.values())
    with override(cache=1, cache_dir=str(tmp_path / "b")):
        names = set()
        for k, data in files.items():
            names.update(cache_transfer.entry_points(k, data))
        for k, data in files.items():
            assert cache_transfer.install(k, data, names)
        _clear_memory()
        stores, hits = disk_cache.stats["stores"], disk_cache.stats["hits"]
        out = jc.jit(_program).lower(x).compile()(x)
        assert disk_cache.stats["stores"] == stores          # nothing compiled
        assert disk_cache.stats["hits"] - hits == len(files)  # every file loaded
    np.testing.assert_allclose(np.asarray(out), np.sin(x) * 2 + np.cos(x * 0.25), rtol=1e-14)


def test_damaged_files_are_refused_before_a_byte_is_written(tmp_path):
    x = np.linspace(-1, 1, 11)
    with override(cache=1, cache_dir=str(tmp_path / "a")):
        keys = _compile_recorded(x)
        k = keys[0]
        data = cache_transfer.read_file(k)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF                      # the payload no longer matches its checksum
    meta, obj, text = disk_cache.decode(data, k)
    bad_obj = bytearray(obj)
    bad_obj[18:20] = (3).to_bytes(2, "little")   # ELF e_machine: not this host's
    resealed = disk_cache.encode(k, {n: v for n, v in meta.items()
                                     if n in ("backend", "names", "imports", "runtime")},
                                 bytes(bad_obj), text)   # a valid file of invalid code
    with override(cache=1, cache_dir=str(tmp_path / "b")):
        with pytest.raises(disk_cache.Rejected, match="checksum"):
            cache_transfer.install(k, bytes(flipped))
        with pytest.raises(disk_cache.Rejected, match="object code refused"):
            cache_transfer.install(k, resealed)
        with pytest.raises(disk_cache.Rejected, match="another key"):
            cache_transfer.install("0" * 64, data)
        assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_recording_lists_only_this_threads_files(tmp_path):
    import threading
    x = np.linspace(0, 1, 5)
    with override(cache=1, cache_dir=str(tmp_path)):
        _clear_memory()
        with cache_transfer.recording() as keys:
            t = threading.Thread(target=lambda: jc.jit(_program).lower(x).compile())
            t.start()
            t.join()
    assert keys == []
    with override(cache=1, cache_dir=str(tmp_path)):
        assert _compile_recorded(x)   # the same compile on this thread is recorded
