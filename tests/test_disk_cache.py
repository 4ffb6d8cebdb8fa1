"""The persistent compilation cache: hits skip LLVM, bad files are reported and recompiled,
processes share a directory safely, the directory is private, the size cap evicts the least
recently used files, `jitcore.clear_cache()` empties everything.

Every test points the cache at its own temporary folder."""
import ctypes
import importlib
import os
import platform
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends import cpu, disk_cache
from xla_like.backends.cpu import runtime as cpu_runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def cache_dir(tmp_path):
    """A fresh cache folder (not created yet), with the in-memory machine code cache emptied
    so that compiles reach the disk."""
    folder = tmp_path / "cache"
    cpu._machine_cache.clear()
    with config.override(cache=1, cache_dir=str(folder), cache_max_bytes=1 << 30):
        yield folder
    cpu._machine_cache.clear()


@pytest.fixture
def llvm_runs(monkeypatch):
    """Counts LLVM optimizations (the start of every real compile)."""
    calls = []
    original = cpu.optimize

    def counting(mod, tm, *level):
        calls.append(1)
        return original(mod, tm, *level)

    monkeypatch.setattr(cpu, "optimize", counting)
    return calls


def mlp_loss(params, x, y):
    w1, w2 = params
    h = jnp.tanh(x @ w1)
    return jnp.mean((h @ w2 - y) ** 2)


def mlp_inputs():
    rng = np.random.default_rng(0)
    params = (rng.standard_normal((8, 16)).astype(np.float32),
              rng.standard_normal((16, 3)).astype(np.float32))
    return params, rng.standard_normal((5, 8)).astype(np.float32), \
        rng.standard_normal((5, 3)).astype(np.float32)


def numpy_mlp_grad(params, x, y):
    w1, w2 = (p.astype(np.float64) for p in params)
    x, y = x.astype(np.float64), y.astype(np.float64)
    h = np.tanh(x @ w1)
    d = 2 * (h @ w2 - y) / y.size
    return x.T @ ((d @ w2.T) * (1 - h ** 2)), h.T @ d


def files(folder):
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(disk_cache.SUFFIX))


def fresh_call(fun, *args, **jit_kwargs):
    """Call a new jit of `fun` with the in-memory machine code forgotten: a first call."""
    importlib.import_module("jitcore.jit").forget_wrappers(fun)
    cpu._machine_cache.clear()
    jf = jc.jit(fun, **jit_kwargs)
    return jf, jf(*args)


def test_store_then_hit_skips_llvm(cache_dir, llvm_runs):
    args = mlp_inputs()
    _, first = fresh_call(jc.grad(mlp_loss), *args)
    assert len(llvm_runs) == 1
    (path,) = files(cache_dir)
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    hits = disk_cache.stats["hits"]
    jf, again = fresh_call(jc.grad(mlp_loss), *args)
    assert len(llvm_runs) == 1, "a disk cache hit must not optimize or generate code"
    assert disk_cache.stats["hits"] == hits + 1
    for a, b, want in zip(first, again, numpy_mlp_grad(*args)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(np.asarray(b), want, rtol=1e-4, atol=1e-5)
    # The optimized LLVM text comes back with the object code.
    (entry,) = jf._cache.values()
    cpu._machine_cache.clear()
    with config.override(cache=0):
        fresh = jc.jit(jc.grad(mlp_loss)).lower(*args).compile()
    assert entry.executable.as_text("llvm") == fresh.as_text("llvm")


def test_results_from_the_cache_equal_a_fresh_compile(cache_dir):
    x = np.linspace(-3, 3, 1000).reshape(10, 100)

    def f(x):
        return jnp.exp(jnp.sin(x)) / (1 + x ** 2) + x.sum(axis=1, keepdims=True)

    with config.override(cache=0):
        _, fresh = fresh_call(f, x)
    fresh_call(f, x)                       # compile and store
    _, loaded = fresh_call(f, x)           # load
    assert disk_cache.stats["hits"] >= 1
    np.testing.assert_array_equal(np.asarray(loaded), np.asarray(fresh))
    want = np.exp(np.sin(x)) / (1 + x ** 2) + x.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(loaded), want, rtol=1e-13)


def test_disabled_cache_writes_nothing(cache_dir, llvm_runs):
    with config.override(cache=0):
        fresh_call(lambda x: x * 2, np.ones(3))
        fresh_call(lambda x: x * 2, np.ones(3))
    assert not cache_dir.exists()
    assert len(llvm_runs) == 2


# --- bad files ------------------------------------------------------------------------------------

def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _truncate_header(path):
    path.write_bytes(path.read_bytes()[:20])


def _flip_payload_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) - 100] ^= 0x40
    path.write_bytes(bytes(data))


def _bad_magic(path):
    data = path.read_bytes()
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + data[8:])


def _wrong_version(path):
    data = bytearray(path.read_bytes())
    data[8:12] = (disk_cache.FORMAT_VERSION + 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def _foreign(path):
    """A well-formed file, written for another key, under this key's name."""
    key = path.name[:-len(disk_cache.SUFFIX)]
    meta, obj, text = disk_cache.decode(path.read_bytes(), key)
    other = "0" * 64
    path.write_bytes(disk_cache.encode(other, meta, obj, text))


def _empty(path):
    path.write_bytes(b"")


def _directory(path):
    path.unlink()
    path.mkdir()


def _directory_with_contents(path):
    path.unlink()
    path.mkdir()
    (path / "x").write_text("not ours")


def _symlink(path):
    target = path.with_name("elsewhere.bin")
    path.rename(target)
    path.symlink_to(target)


CORRUPTIONS = [_truncate, _truncate_header, _flip_payload_byte, _bad_magic, _wrong_version,
               _foreign, _empty, _directory, _directory_with_contents, _symlink]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda c: c.__name__.strip("_"))
def test_bad_files_are_reported_and_recompiled(cache_dir, llvm_runs, corrupt, capsys,
                                                monkeypatch):
    x = np.linspace(0.0, 2.0, 64).astype(np.float32)

    def f(x):
        return jnp.tanh(x) * 3 - x

    fresh_call(f, x)
    (path,) = files(cache_dir)
    corrupt(path)
    loaded = []
    monkeypatch.setattr(cpu.llvm.ObjectFileRef, "from_data",
                        classmethod(lambda cls, data: loaded.append(data)))
    hits, rejected = disk_cache.stats["hits"], disk_cache.stats["rejected"]
    capsys.readouterr()
    with config.override(debug=1):
        _, out = fresh_call(f, x)
    printed = capsys.readouterr().out
    np.testing.assert_allclose(np.asarray(out), np.tanh(x) * 3 - x, rtol=1e-6)
    assert not loaded, "a bad file's object code must never be loaded"
    assert len(llvm_runs) == 2
    assert disk_cache.stats["hits"] == hits
    assert disk_cache.stats["rejected"] == rejected + 1
    lines = [ln for ln in printed.splitlines() if "jitcore: cache: ignoring" in ln]
    assert len(lines) == 1 and path.name in lines[0] and "recompiling" in lines[0], printed
    if corrupt is not _directory_with_contents:
        # Replaced by a good file, which the next first call loads.
        assert path.is_file() and not path.is_symlink()
        monkeypatch.undo()
        fresh_call(f, x)
        assert disk_cache.stats["hits"] == hits + 1


def test_runtime_routines_are_installed_for_objects_that_call_them(cache_dir, monkeypatch):
    """f64 -> f16 lowers to a call of `__truncdfhf2`, which cpu_runtime provides: an object
    that calls it must not be linked before the routines are installed."""
    text = textwrap.dedent(f"""\
        target triple = "{cpu.llvm.get_process_triple()}"
        define i16 @conv(double %x) {{
          %h = fptrunc double %x to half
          %b = bitcast half %h to i16
          ret i16 %b
        }}
        """)
    disk_key = disk_cache.key(text, "cpu", cpu._target_id())
    cpu._compile_object(text, ["conv"], disk_key, {"conv": (False, False, 0)})  # stored
    installs = []
    original = cpu_runtime.install
    monkeypatch.setattr(cpu_runtime, "install", lambda tm: (installs.append(1), original(tm)))
    hits = disk_cache.stats["hits"]
    engine, _, addresses, _ = cpu._load_object(disk_key, ["conv"])   # engine: keeps the code
    assert disk_cache.stats["hits"] == hits + 1
    (path,) = files(cache_dir)
    key = path.name[:-len(disk_cache.SUFFIX)]
    meta, obj, _ = disk_cache.decode(path.read_bytes(), key)
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert b"__truncdfhf2" in obj   # no instruction for it there
    if b"__truncdfhf2" in obj:
        assert installs and "__truncdfhf2" in meta["runtime"]
    conv = ctypes.CFUNCTYPE(ctypes.c_uint16, ctypes.c_double)(addresses["conv"])
    for v in (1.0 / 3, 65504.0, 1e-6, -2.5):
        assert conv(v) == int(np.array(v).astype(np.float16).view(np.uint16))
    # Code that calls none of them loads without them.
    fresh_call(lambda x: x + 1, np.ones(4))
    installs.clear()
    fresh_call(lambda x: x + 1, np.ones(4))
    assert not installs and disk_cache.stats["hits"] == hits + 2


# --- the directory ------------------------------------------------------------------------------

def test_group_writable_directory_is_refused(cache_dir, capsys):
    cache_dir.mkdir()
    os.chmod(cache_dir, 0o770)
    with config.override(debug=1):
        _, out = fresh_call(lambda x: x - 1, np.arange(4.0))
    np.testing.assert_array_equal(np.asarray(out), np.arange(4.0) - 1)
    assert files(cache_dir) == []
    printed = capsys.readouterr().out
    assert "jitcore: cache: not using" in printed and "others may write" in printed


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a directory to another user needs root")
def test_directory_of_another_user_is_refused(cache_dir, capsys):
    cache_dir.mkdir(mode=0o700)
    os.chown(cache_dir, 4321, -1)
    with config.override(debug=1):
        fresh_call(lambda x: x - 2, np.arange(4.0))
    assert files(cache_dir) == []
    assert "owned by uid 4321" in capsys.readouterr().out


def test_a_file_in_place_of_the_directory_is_refused(cache_dir):
    cache_dir.write_text("not a directory")
    _, out = fresh_call(lambda x: x * 5, np.arange(3.0))
    np.testing.assert_array_equal(np.asarray(out), np.arange(3.0) * 5)
    assert cache_dir.read_text() == "not a directory"


def test_default_directory_and_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert disk_cache.default_dir() == str(tmp_path / "jitcore")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert disk_cache.default_dir() == os.path.join(os.path.expanduser("~"), ".cache", "jitcore")
    monkeypatch.setenv("JITCORE_CACHE", "0")
    monkeypatch.setenv("JITCORE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("JITCORE_CACHE_MAX_BYTES", "12345")
    s = config.from_env()
    assert (s.cache, s.cache_dir, s.cache_max_bytes) == (0, str(tmp_path / "c"), 12345)
    assert config.Settings().cache == 1 and config.Settings().cache_max_bytes == 1 << 30


# --- eviction and clearing ------------------------------------------------------------------------

def test_least_recently_used_files_are_evicted_over_the_cap(cache_dir):
    x = np.arange(6.0)
    fns = [lambda x: x + 1, lambda x: x * 2, lambda x: x - 3]
    paths = []
    for f in fns:
        before = set(files(cache_dir))
        fresh_call(f, x)
        (new,) = set(files(cache_dir)) - before
        paths.append(new)
    for t, p in enumerate(paths):
        os.utime(p, (1000 + t, 1000 + t))
    # A hit touches its file: the oldest becomes the newest.
    fresh_call(fns[0], x)
    assert os.stat(paths[0]).st_mtime > 1002
    sizes = {p: p.stat().st_size for p in paths}
    disk_cache.evict(str(cache_dir), sizes[paths[0]] + sizes[paths[2]])
    assert files(cache_dir) == sorted([paths[0], paths[2]])
    # A store over the cap evicts the least recently used file (paths[2], older than the hit).
    cap = sizes[paths[0]] + sizes[paths[2]] + 64
    with config.override(cache_max_bytes=cap):
        fresh_call(lambda x: x + 4, x)
    kept = files(cache_dir)
    assert paths[0] in kept and paths[2] not in kept and len(kept) == 2
    assert sum(p.stat().st_size for p in kept) <= cap


def _stores(n, tag, size=300):
    """n direct stores of distinct keys, each about `size` bytes of object code."""
    for i in range(n):
        key = disk_cache.key(f"{tag}-{i}", "test", {})
        assert disk_cache.store(key, {}, bytes(size), "text")


def test_stores_keep_a_running_total_instead_of_listing_the_directory(cache_dir, monkeypatch):
    listings = []
    original = disk_cache._entries
    monkeypatch.setattr(disk_cache, "_entries", lambda dfd: listings.append(1) or original(dfd))
    now = [0.0]
    monkeypatch.setattr(disk_cache, "_clock", lambda: now[0])
    _stores(40, "a")
    assert len(listings) == 1          # the first store lists it; the next 39 add up
    assert len(files(cache_dir)) == 40
    _stores(disk_cache._RESCAN_STORES, "b")
    assert len(listings) == 2          # listed again after _RESCAN_STORES stores
    now[0] += disk_cache._RESCAN_SECONDS
    _stores(1, "c")
    assert len(listings) == 3          # and once _RESCAN_SECONDS have passed


def test_the_cap_holds_with_the_running_total(cache_dir, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(disk_cache, "_clock", lambda: now[0])
    _stores(1, "one")
    one = files(cache_dir)[0].stat().st_size
    cap = 5 * one + one // 2
    with config.override(cache_max_bytes=cap):
        for i in range(12):            # one process alone: never over the cap after a store
            _stores(1, f"s{i}")
            kept = files(cache_dir)
            assert sum(p.stat().st_size for p in kept) <= cap and len(kept) == min(i + 2, 5)
        # Files another process writes are counted at the next listing (here: time passing).
        for i, p in enumerate(files(cache_dir)):
            (cache_dir / f"{'f' * 63}{i}.jco").write_bytes(p.read_bytes())
        now[0] += disk_cache._RESCAN_SECONDS
        _stores(1, "after")
        assert sum(p.stat().st_size for p in files(cache_dir)) <= cap


def test_clear_cache_empties_memory_and_disk(cache_dir, llvm_runs):
    f = jc.jit(lambda x: x ** 2 + 1)
    f(np.arange(5.0))
    assert len(files(cache_dir)) == 1 and len(cpu._machine_cache) == 1
    (cache_dir / "notes.txt").write_text("not a cache file")
    jc.clear_cache()
    assert files(cache_dir) == [] and len(cpu._machine_cache) == 0
    assert (cache_dir / "notes.txt").exists()
    compiles = f.cache_info().compiles
    np.testing.assert_array_equal(np.asarray(f(np.arange(5.0))), np.arange(5.0) ** 2 + 1)
    assert f.cache_info().compiles == compiles + 1 and len(llvm_runs) == 2
    assert len(files(cache_dir)) == 1


# --- processes ------------------------------------------------------------------------------------

_WORKER = """
import sys
import numpy as np
import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends import disk_cache

def loss(w, x):
    return jnp.mean(jnp.tanh(x @ w) ** 2)

x = np.linspace(-1, 1, 96).reshape(12, 8)
w = np.linspace(0.5, -0.5, 40).reshape(8, 5)
g = jc.jit(jc.grad(loss))(w, x)
h = jc.jit(lambda v: jnp.cumsum(jnp.exp(v), axis=0) / 3)(x)
np.save(sys.argv[1] + "_g.npy", np.asarray(g))
np.save(sys.argv[1] + "_h.npy", np.asarray(h))
print(dict(disk_cache.stats))
"""


def test_two_processes_share_one_cache_dir(cache_dir, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = dict(os.environ, JITCORE_CACHE_DIR=str(cache_dir), JITCORE_CACHE="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / f"out{k}")],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    x = np.linspace(-1, 1, 96).reshape(12, 8)
    w = np.linspace(0.5, -0.5, 40).reshape(8, 5)
    t = np.tanh(x @ w)
    want_g = x.T @ (2 * t * (1 - t ** 2)) / t.size
    want_h = np.cumsum(np.exp(x), axis=0) / 3
    for k in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"out{k}_g.npy"), want_g, rtol=1e-12)
        np.testing.assert_allclose(np.load(tmp_path / f"out{k}_h.npy"), want_h, rtol=1e-12)
    paths = files(cache_dir)
    assert len(paths) >= 2
    assert [p for p in cache_dir.iterdir() if p not in paths] == []   # no temporaries left
    for p in paths:
        disk_cache.decode(p.read_bytes(), p.name[:-len(disk_cache.SUFFIX)])
