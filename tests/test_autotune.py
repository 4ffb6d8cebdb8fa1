"""Autotuning of CPU kernel schedules (`xla_like.backends.cpu.autotune`, `jit(autotune=True)`):
tuned programs compute what default ones do, a choice is searched once per program and device
and then read back (memory, the cache folder, another process), bad tuning files are ignored,
and nothing changes with autotune off. Search spaces are cut down to a candidate or two so the
searches here take well under a second each."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
import xla_like.backends.cpu.autotune as at
from xla_like.backends import disk_cache
from xla_like.backends import cpu as cpu_backend
from xla_like.backends.cpu import program_key, schedule
from xla_like.backends.cpu.render import render
from xla_like.backends.cpu.schedule import NEVER, Schedule
from xla_like.settings import override

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(0)
# 96k elements: past the size below which programs are not tuned (`cpu._small`).
X = RNG.standard_normal((300, 320)).astype(np.float32)
Y = RNG.standard_normal((300, 320)).astype(np.float32)


def elementwise(x, y):
    return jnp.tanh(x) * y + jnp.exp(-x * x)


def row_sums(x):
    return jnp.sum(jnp.exp(x) * x, axis=1)


def _tiny_space(monkeypatch, widths=(128,)):
    """One segment change and one vector width per kernel: a search of two or three builds."""
    def space(plan, order, threads, features):
        return [("seg0", "chunk_align", 1024)], [("vector_width", w) for w in widths]
    monkeypatch.setattr(at, "candidates", space)


def _forget(f):
    """Drop `jit(f)`'s shared specializations: the next wrapper traces and compiles again."""
    importlib.import_module("jitcore.jit").forget_wrappers(f)   # the module, not jit()


def _raw_executable(f, *args):
    jf = jitcore.jit(f)
    jf(*args)
    (entry,) = jf._cache.values()
    return entry.executable


def _every_candidate(base):
    """The default executable's program built with each single change the full search space
    holds (segment fields and every kernel field where it changes the kernel), whatever is
    fastest; each with whether it may reorder a sum (`schedule.reorders`)."""
    plan = base.plan
    changes, kernel_changes = at.candidates(plan, base._order, 2, "+avx512f")
    mod, _ = render(plan, at._blas_sig())
    kernels = {f.name: str(f) for f in mod.functions if at._KERNEL.match(f.name) and f.blocks}
    assert kernels
    changes += [(k, field, v) for k, text in kernels.items() for field, v in kernel_changes
                if at._applies(field, text)]
    schedules = [(name, Schedule(**{field: value})) for name, field, value in changes]
    # On the pool (this program alone stays on one thread): shares of other sizes, one thread.
    schedules += [("seg0", Schedule(parallel_min_work=1, chunk_align=a)) for a in (64, 1024)]
    schedules += [("seg0", Schedule(parallel_min_work=1, threads=1))]
    for name, s in schedules:
        may = any(schedule.reorders(f, kernels.get(name, "")) for f in s.changes())
        yield (name, s, may), at._build(base, frozenset(), {name: s})


def test_every_schedule_of_an_elementwise_program_gives_the_same_bits():
    base = _raw_executable(elementwise, X, Y)
    ref = np.tanh(X.astype(np.float64)) * Y + np.exp(-X.astype(np.float64) ** 2)
    (default,) = base([X, Y])
    np.testing.assert_allclose(default, ref, rtol=2e-6, atol=2e-6)
    for change, ex in _every_candidate(base):
        (got,) = ex([X, Y])
        assert np.array_equal(got, default), change


def test_schedules_of_a_reduction_agree_within_rounding():
    base = _raw_executable(row_sums, X)
    ref = (np.exp(X.astype(np.float64)) * X).sum(axis=1)
    (default,) = base([X])
    np.testing.assert_allclose(default, ref, rtol=1e-5)
    reordering = 0
    for change, ex in _every_candidate(base):
        (got,) = ex([X])
        # The vector width and the interleave count may change the order of the sum
        # (`cpu.schedule.reorders`); every other change gives the default's bits.
        np.testing.assert_allclose(got, ref, rtol=1e-5, err_msg=str(change))
        if not change[2]:
            assert np.array_equal(got, default), change
        reordering += change[2]
    assert reordering


def test_default_schedules_render_the_same_program():
    base = _raw_executable(elementwise, X, Y)
    plain, _ = render(base.plan, at._blas_sig())
    with schedule.using({"seg0": Schedule(), "seg0.k0": Schedule()}):
        same, _ = render(base.plan, at._blas_sig())
        assert schedule.key_text() == ""
    assert str(plain) == str(same)
    with schedule.using({"seg0": Schedule(parallel_min_work=NEVER)}):
        assert schedule.key_text() != ""


def test_autotune_off_changes_nothing():
    before = dict(at.stats)
    jf = jitcore.jit(elementwise)
    out = jf(X, Y)
    (entry,) = jf._cache.values()
    assert not hasattr(entry.executable, "schedules")
    assert at.stats == before
    np.testing.assert_array_equal(np.asarray(out), _raw_executable(elementwise, X, Y)([X, Y])[0])


def test_tuned_jit_equals_default_and_the_choice_is_reused(monkeypatch):
    _tiny_space(monkeypatch)

    def f(x, y):     # a function of this test's own: its program is searched here first
        return jnp.sin(x) * y + 3.5
    expect = np.sin(X) * Y + np.float32(3.5)
    s0 = dict(at.stats)
    out = jitcore.jit(f, autotune=True)(X, Y)
    np.testing.assert_allclose(np.asarray(out), expect, rtol=1e-6, atol=1e-6)
    assert at.stats["searches"] == s0["searches"] + 1
    assert at.stats["candidates"] > s0["candidates"]
    # Another wrapper, the in-memory choices forgotten: read from the cache folder, no search.
    at.clear_memory()
    _forget(f)
    out2 = jitcore.jit(f, autotune=True)(X, Y)
    assert at.stats["searches"] == s0["searches"] + 1
    assert at.stats["reused"] == s0["reused"] + 1
    np.testing.assert_array_equal(np.asarray(out2), np.asarray(out))


def cos_x(x):
    return jnp.cos(x) * x


def test_a_fresh_process_reads_the_choice(monkeypatch):
    _tiny_space(monkeypatch, widths=())
    x = np.linspace(-2, 2, 300 * 320, dtype=np.float32).reshape(300, 320)
    # Program keys include the code generator's source stamp: take it now, not at the
    # session's first compile, and compare it with the other process's below.
    monkeypatch.setattr(cpu_backend, "_stamp", None)
    s0 = at.stats["searches"]
    jitcore.jit(cos_x, autotune=True)(x)
    assert at.stats["searches"] == s0 + 1
    # Another process, the same cache folder (the suite's, in the environment): no search.
    script = (
        "import numpy as np, jitcore, jitcore.numpy as jnp\n"
        "import xla_like.backends.cpu.autotune as at\n"
        "def cos_x(x):\n"
        "    return jnp.cos(x) * x\n"
        "x = np.linspace(-2, 2, 300 * 320, dtype=np.float32).reshape(300, 320)\n"
        "out = jitcore.jit(cos_x, autotune=True)(x)\n"
        "np.testing.assert_allclose(np.asarray(out), np.cos(x) * x, rtol=1e-6, atol=1e-6)\n"
        "from xla_like.backends import cpu\n"
        "print(at.stats['searches'], at.stats['reused'], cpu._source_stamp())\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    *counts, stamp = r.stdout.split()
    if stamp != cpu_backend._source_stamp():
        pytest.skip("the code generator's sources changed while the test ran")
    assert counts == ["0", "1"]


def test_a_donated_argument_is_copied_for_the_search(monkeypatch):
    _tiny_space(monkeypatch)

    def step(x, y):
        return x * 0.5 + y
    x = X.copy()
    expect = X * np.float32(0.5) + Y
    out = jitcore.jit(step, donate_argnums=0, autotune=True)(jnp.asarray(x), Y)
    # The search ran the program several times: each on its own copy of the donated x.
    np.testing.assert_array_equal(np.asarray(out), expect)


def test_choices_are_keyed_by_device(monkeypatch):
    _tiny_space(monkeypatch, widths=())

    def f(x, y):
        return jnp.abs(x) - y
    jitcore.jit(f, autotune=True)(X, Y)
    s0 = at.stats["searches"]
    _forget(f)
    monkeypatch.setattr(at, "device_id", lambda: "another cpu|+avx2|threads=2")
    out = jitcore.jit(f, autotune=True)(X, Y)
    assert at.stats["searches"] == s0 + 1
    np.testing.assert_array_equal(np.asarray(out), np.abs(X) - Y)


def _tuning_file(f, *args):
    base = _raw_executable(f, *args)
    pkey = program_key(base.plan, at._blas_sig(), frozenset())
    name = disk_cache._file_name(at._disk_key(pkey, at.device_id()))
    return base, pkey, os.path.join(disk_cache.configured_dir(), name)


@pytest.mark.parametrize("damage", ["garbage", "bad schedule"])
def test_bad_tuning_files_are_ignored(monkeypatch, damage):
    _tiny_space(monkeypatch, widths=())

    def f(x, y):
        return jnp.maximum(x, y) * 2.0
    jitcore.jit(f, autotune=True)(X, Y)
    base, pkey, path = _tuning_file(f, X, Y)
    assert os.path.exists(path)
    if damage == "garbage":
        with open(path, "r+b") as fh:
            fh.seek(40)
            fh.write(b"\xff" * 16)
    else:   # a well-formed file holding a schedule no renderer should take
        os.unlink(path)
        disk_cache.store(at._disk_key(pkey, at.device_id()), {
            "backend": "cpu-autotune", "device": at.device_id(),
            "schedules": {"seg0": {"chunk_align": 0, "warp": 3}}}, b"", "")
    at.clear_memory()
    _forget(f)
    s0 = at.stats["searches"]
    out = jitcore.jit(f, autotune=True)(X, Y)
    assert at.stats["searches"] == s0 + 1      # searched again, and stored a good file
    np.testing.assert_array_equal(np.asarray(out), np.maximum(X, Y) * np.float32(2))
    at.clear_memory()
    assert at.load_choice(pkey, at.device_id()) is not None


def test_schedule_records_are_checked():
    assert Schedule.from_dict({"threads": 2}) == Schedule(threads=2)
    for bad in ({"warp": 1}, {"threads": -1}, {"chunk_align": 0}, {"vector_width": 100},
                {"threads": "2"}, {"threads": True}, [1]):
        with pytest.raises(ValueError):
            Schedule.from_dict(bad)


def test_the_setting_turns_it_on_and_the_budget_bounds_it(monkeypatch):
    _tiny_space(monkeypatch)

    def f(x, y):
        return x * y - jnp.sqrt(jnp.abs(y))
    s0 = dict(at.stats)
    with override(autotune=1, autotune_budget_s=0):
        out = jitcore.jit(f)(X, Y)
    assert at.stats["searches"] == s0["searches"] + 1
    assert at.stats["candidates"] == s0["candidates"]    # no time for any
    np.testing.assert_array_equal(np.asarray(out), X * Y - np.sqrt(np.abs(Y)))


def test_progress_line(monkeypatch, capsys):
    _tiny_space(monkeypatch)

    def f(x, y):
        return jnp.cosh(x) + y
    with override(progress="1", progress_after_ms=0):
        jitcore.jit(f, autotune=True)(X, Y)
    assert "jitcore: autotune: " in capsys.readouterr().err


def test_concurrent_first_calls_search_once(monkeypatch):
    _tiny_space(monkeypatch, widths=())

    def f(x, y):
        return jnp.exp(x) / (1.0 + y * y)
    jf = jitcore.jit(f, autotune=True)
    s0 = at.stats["searches"]
    outs = [None] * 4

    def call(i):
        outs[i] = np.asarray(jf(X, Y))
    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert at.stats["searches"] == s0 + 1
    for o in outs:
        np.testing.assert_array_equal(o, outs[0])
    np.testing.assert_allclose(outs[0], np.exp(X) / (1 + Y * Y), rtol=2e-6)


def test_the_store_is_thread_safe():
    device = "test device"
    choices = {f"program{j}": {"seg0": Schedule(chunk_align=64 * (j + 1))} for j in range(40)}
    errors = []

    def work(names):
        try:
            for n in names:
                at.save_choice(n, device, choices[n])
                at.load_choice(n, device)
        except Exception as e:   # pragma: no cover - what the test looks for
            errors.append(e)
    names = sorted(choices)
    threads = [threading.Thread(target=work, args=(names[j::4],)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    at.clear_memory()     # read back from the files, each its own
    for n, c in choices.items():
        assert at.load_choice(n, device) == c


def test_the_benchmark_runs():
    """benchmarks/autotune.py at quick sizes, one row, one round (timings are not checked)."""
    script = os.path.join(ROOT, "benchmarks", "autotune.py")
    r = subprocess.run([sys.executable, script, "--quick", "--rows", "cheap_small", "--rounds",
                        "1", "--calls", "1", "--budget", "1", "--out", ""], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("| a*x+b*y+c")]
    assert rows and rows[0].split("|")[7].strip() == "bit-identical"


def test_pickling_keeps_the_option():
    cloudpickle = pytest.importorskip("cloudpickle")
    import pickle
    f = jitcore.jit(lambda x: x + 1, autotune=True)
    assert pickle.loads(cloudpickle.dumps(f)).autotune is True
    assert pickle.loads(cloudpickle.dumps(jitcore.jit(lambda x: x + 1))).autotune is None
