"""Memory stays bounded: distinct compiles past the caches' caps, cached calls, output buffers.

RSS is read from /proc (Linux); those tests skip elsewhere. Thresholds sit far from both the
measured figures (`benchmarks/memory_growth.py`: ~1.5 KiB per compile, ~0 per call) and the
leaks they catch (an engine or an LLVM pass manager never freed: 30 to 55 KiB per compile).
"""
from __future__ import annotations

import gc
import importlib
import os
import threading
import weakref

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends import cpu, memory
from xla_like.backends.llvm import native as llvm_native

jit_module = importlib.import_module("jitcore.jit")   # `jitcore.jit` is also the function

_STATM = "/proc/self/statm"
needs_rss = pytest.mark.skipif(not os.path.exists(_STATM), reason="RSS is read from /proc")
KiB = 1024
CAP = 1 << 20     # a machine-code cache this small fills after ~15 small programs


def rss() -> int:
    gc.collect()
    with open(_STATM) as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def slope(samples):
    """Least-squares bytes per step of [(step, rss)]."""
    x = np.array([s for s, _ in samples], float)
    y = np.array([r for _, r in samples], float)
    return float(np.polyfit(x, y, 1)[0])


def distinct_program(k):
    """A fresh jitted function whose program no other k gives (its constant differs)."""
    c = 1.0 + k / 1024
    return jc.jit(lambda a: a * c + 1.0), c


X = np.linspace(-1.0, 1.0, 8)


@pytest.fixture
def small_cache():
    """The in-memory machine code cache capped at CAP bytes, emptied; no disk cache."""
    cpu._machine_cache.clear()
    gc.collect()
    with config.override(memory_cache_max_bytes=CAP, cache=0):
        yield
    cpu._machine_cache.clear()


@needs_rss
def test_distinct_compiles_past_the_cache_cap_do_not_grow_rss(small_cache):
    for k in range(50):     # fills the cache (and LLVM's and malloc's pools)
        f, c = distinct_program(k)
        np.testing.assert_allclose(np.asarray(f(X)), X * c + 1.0)
    assert cpu._machine_cache.evictions > 0
    samples = [(0, rss())]
    for k in range(50, 250):
        distinct_program(k)[0](X)
        if k % 20 == 9:
            samples.append((k - 49, rss()))
    per_compile = slope(samples)
    assert per_compile < 12 * KiB, f"RSS grows {per_compile / KiB:.1f} KiB per compile"


def test_cache_keeps_to_its_byte_cap_and_frees_what_it_evicts(small_cache):
    engines = llvm_native.live_engines()   # held by executables of other tests, if any
    codes = []
    for k in range(40):
        f, _ = distinct_program(k)
        f(X)
        (entry,) = f._cache.values()
        codes.append(weakref.ref(entry.executable._engine))
        assert cpu._machine_cache.nbytes <= CAP
    gc.collect()
    assert 0 < len(cpu._machine_cache) < 40
    # The functions are gone: only the cache holds native code, only what it kept is alive.
    assert llvm_native.live_engines() - engines == len(cpu._machine_cache)
    assert sum(ref() is not None for ref in codes) == len(cpu._machine_cache)
    assert codes[0]() is None, "the first program was evicted but its engine is alive"


def test_evicted_code_lives_while_a_function_runs_it(small_cache):
    kept, c = distinct_program(-1)
    kept(X)
    (entry,) = kept._cache.values()
    code = weakref.ref(entry.executable._engine)
    del entry
    for k in range(40):     # evicts `kept`'s code from the cache
        distinct_program(k)[0](X)
    gc.collect()
    assert code() is not None
    np.testing.assert_allclose(np.asarray(kept(X)), X * c + 1.0)
    engines = llvm_native.live_engines()
    del kept
    gc.collect()
    assert code() is None and llvm_native.live_engines() == engines - 1


def test_one_function_keeps_at_most_max_specializations(small_cache, monkeypatch):
    monkeypatch.setattr(jit_module, "MAX_SPECIALIZATIONS", 8)
    f = jc.jit(lambda a, n: a * n + 1.0, static_argnums=1)
    engines = llvm_native.live_engines()
    for n in range(20):
        np.testing.assert_allclose(np.asarray(f(X, n)), X * n + 1.0)
        assert len(f._cache) <= 8
    gc.collect()
    assert llvm_native.live_engines() - engines <= 8 + len(cpu._machine_cache)
    compiles = f.cache_info().compiles
    np.testing.assert_allclose(np.asarray(f(X, 0)), X * 0 + 1.0)   # evicted: compiled again
    assert f.cache_info().compiles == compiles + 1
    np.testing.assert_allclose(np.asarray(f(X, 19)), X * 19 + 1.0)  # kept
    assert f.cache_info().compiles == compiles + 1


def test_compiling_and_freeing_on_many_threads(small_cache):
    """Engines are disposed under the LLVM lock whichever thread drops them last, also while
    another thread is compiling."""
    errors = []

    def work(t):
        try:
            with config.override(memory_cache_max_bytes=CAP, cache=0):
                for k in range(15):
                    f, c = distinct_program(1000 * (t + 1) + k)
                    np.testing.assert_allclose(np.asarray(f(X)), X * c + 1.0)
        except BaseException as e:   # reported by the main thread
            errors.append(e)

    engines = llvm_native.live_engines() - len(cpu._machine_cache)
    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    gc.collect()
    assert llvm_native.live_engines() - engines == len(cpu._machine_cache)
    assert cpu._machine_cache.nbytes <= CAP


@needs_rss
def test_cached_calls_keep_rss_flat():
    f = jc.jit(lambda a, b: (a * b + 1.0, jnp.sum(a), {"d": a - b}))
    x = np.linspace(0.0, 1.0, 64)
    y = jnp.asarray(np.linspace(1.0, 2.0, 64))
    want = (x * np.asarray(y) + 1.0, x.sum(), x - np.asarray(y))
    for _ in range(2000):
        out = f(x, y)
    before = rss()
    for _ in range(20000):
        out = f(x, y)
    grown = rss() - before
    np.testing.assert_allclose(np.asarray(out[0]), want[0])
    np.testing.assert_allclose(np.asarray(out[1]), want[1])
    np.testing.assert_allclose(np.asarray(out[2]["d"]), want[2])
    assert grown < 512 * KiB, f"RSS grew {grown / KiB:.0f} KiB over 20k cached calls"


@needs_rss
def test_cached_calls_with_pooled_outputs_keep_rss_flat():
    """Outputs of 1 MiB and more come from the memory pool; large kernels run on threads."""
    f = jc.jit(lambda a: jnp.tanh(a) * 2.0)
    x = np.linspace(-2.0, 2.0, 1 << 17)
    want = np.tanh(x) * 2.0
    for _ in range(200):
        out = f(x)
    before = rss()
    for _ in range(2000):
        out = f(x)
    grown = rss() - before
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12)
    assert grown < 2048 * KiB, f"RSS grew {grown / KiB:.0f} KiB over 2k cached calls"


def test_memory_pool_is_bounded_across_output_sizes(monkeypatch):
    monkeypatch.setattr(memory, "MAX_POOLED_BYTES", 8 << 20)
    monkeypatch.setattr(memory, "_pool", type(memory._pool)())
    monkeypatch.setattr(memory, "_pooled_bytes", 0)
    held = []
    for k in range(40):                       # 40 sizes from 1 MiB up
        a = memory.empty((memory.POOLED_BYTES // 8 + 1024 * k,), np.float64)
        a[:] = k
        if k % 10 == 0:
            held.append(a)                    # in use: never dropped from the pool
        pooled = sum(size * len(bufs) for size, bufs in memory._pool.items())
        assert pooled == memory._pooled_bytes <= 8 << 20
    for a in held:
        assert any(b is a.base for b in memory._pool[a.nbytes])
    # A free buffer of a recent size is still reused.
    n = memory.POOLED_BYTES // 8 + 1024 * 39
    del a
    first = memory.empty((n,), np.float64)
    del first
    again = memory.empty((n,), np.float64)
    (buf,) = memory._pool[8 * n]
    assert again.base is buf
