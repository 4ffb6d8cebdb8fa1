"""Long segments cut into parts (`cpu.render.PART_STEPS`): a segment of many steps calls one
function per run of them, so LLVM compiles many small functions (each its own compile unit,
`cpu.units`) instead of one whose optimization grows faster than its length.

`PART_STEPS` is lowered here so that programs of a few dozen steps are cut; each test uses
shapes of its own (the machine-code cache is keyed by program, not by `PART_STEPS`). Results
are checked against NumPy in float64, with one thread and with two (static shares, claimed
shares, a loop whose slots each thread keeps), and under the profiler's timed build."""
from __future__ import annotations

import importlib
import json
import re

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config, lax, profiler  # noqa: E402
from jitcore.viz import kernel_symbols, llvm_functions  # noqa: E402
from xla_like.backends.cpu import claims, gemm, schedule  # noqa: E402

render = importlib.import_module("xla_like.backends.cpu.render")
cpu = importlib.import_module("xla_like.backends.cpu")

PART = 2


@pytest.fixture(autouse=True)
def _short_parts(monkeypatch):
    monkeypatch.setattr(render, "PART_STEPS", PART)


def _chain(n, width):
    def f(x, w, b):
        for i in range(n):
            s = i % 3
            x = jnp.tanh(x @ w + b)[:, s:s + width]
        return x

    def ref(x, w, b):
        x, w, b = (a.astype(np.float64) for a in (x, w, b))
        for i in range(n):
            s = i % 3
            x = np.tanh(x @ w + b)[:, s:s + width]
        return x
    return f, ref


def _args(rows, width, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, width)).astype(dtype),
            (rng.standard_normal((width, width + 3)) / 4).astype(dtype),
            (rng.standard_normal(width + 3) / 4).astype(dtype))


def _segment_calls(executable):
    """(top-level steps of segment 0, calls of its parts in its optimized LLVM): the parts
    are compile units (`jd_<hash>`) or, in a program compiled as one module, `seg0.p<c>`."""
    seg = next(s for kind, s in executable._order if kind == "native")
    text = executable.as_text("llvm")
    at = re.search(r'^define [^@]*@"?seg0"?\(', text, re.M).start()
    body = text[at:text.index("\n}\n", at)]
    return len(seg.steps), len(re.findall(r'call [^@]*@"?(?:jd_\w+|seg0\.p\d+)"?\(', body))


@pytest.mark.parametrize("units", [True, False], ids=["compile-units", "one-module"])
def test_parts_grow_with_the_program_and_results_match_numpy(units, monkeypatch):
    if units:      # small programs are one module at O1; here as large ones, in units
        monkeypatch.setattr(cpu, "_small", lambda plan: False)
    width = 5 if units else 6
    counts = []
    for n in (1, 3, 6):
        f, ref = _chain(n, width)
        args = _args(3, width)
        with config.override(num_threads=1, cache=0):
            compiled = jc.jit(f).lower(*args).compile()
            got = np.asarray(compiled(*args))
        np.testing.assert_allclose(got, ref(*args), rtol=1e-12, atol=1e-12)
        steps, calls = _segment_calls(compiled._entry.executable)
        want = 0 if steps <= PART else -(-steps // PART)
        assert calls == want, (n, steps, calls)
        counts.append(calls)
    assert counts[0] == 0 < counts[1] < counts[2]
    # The page's kernel table finds each kernel through the part calling it (`jitcore.viz`).
    ex = compiled._entry.executable
    found = kernel_symbols(ex, llvm_functions(ex.as_text("llvm")))
    seg = next(s for kind, s in ex._order if kind == "native")
    assert {s.instr.id for s in seg.steps if s.kind == "kernel"} <= set(found)
    assert render._runs(5) == [(0, 1), (1, 3), (3, 5)]
    assert render._runs(PART) == [(0, PART)]


def _threaded(monkeypatch):
    """Small programs threaded as large ones are: every segment on the threads."""
    monkeypatch.setattr(schedule, "DEFAULT", schedule.Schedule(parallel_min_work=1,
                                                               gemm_threads_min_flops=1))
    monkeypatch.setattr(gemm, "SHARE_MIN_FLOPS", 1)


@pytest.mark.parametrize("claimed", [True, False], ids=["claimed", "static"])
def test_threaded_parts_match_numpy(claimed, monkeypatch):
    _threaded(monkeypatch)
    monkeypatch.setattr(claims, "ENABLED", claimed)
    width = 7 if claimed else 8
    f, ref = _chain(6, width)
    args = _args(33, width, np.float32, seed=1)
    with config.override(num_threads=2, cache=0):
        compiled = jc.jit(f).lower(*args).compile()
        ex = compiled._entry.executable
        seg = next(s for kind, s in ex._order if kind == "native")
        assert seg.parallel and seg.claims == claimed
        assert _segment_calls(ex)[1] > 1
        got = [np.asarray(compiled(*args)) for _ in range(3)]
    want = ref(*args)
    for g in got:
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)
    with config.override(num_threads=1):
        np.testing.assert_allclose(np.asarray(compiled(*args)), want, rtol=1e-4, atol=1e-5)


def test_a_loop_among_parts_keeps_its_slots_per_thread(monkeypatch):
    # Loop control (thread-private slots, `cpu.control`) between runs of steps cut into parts.
    _threaded(monkeypatch)
    pre, _ = _chain(3, 9)

    def f(x, w, b):
        x = pre(x, w, b)
        x = lax.fori_loop(0, 3, lambda i, v: jnp.sin(v) * 1.5 + jnp.float32(0.25), x)
        return pre(x, w, b)

    def ref(x, w, b):
        v = _chain(3, 9)[1](x, w, b)
        for _ in range(3):
            v = np.sin(v) * 1.5 + 0.25
        return _chain(3, 9)[1](v, w, b)
    args = _args(40, 9, np.float32, seed=2)
    with config.override(num_threads=2, cache=0):
        compiled = jc.jit(f).lower(*args).compile()
        ex = compiled._entry.executable
        seg = next(s for kind, s in ex._order if kind == "native")
        assert seg.parallel and any(s.kind == "control" for s in seg.steps)
        assert _segment_calls(ex)[1] > 1
        got = np.asarray(compiled(*args))
    np.testing.assert_allclose(got, ref(*args), rtol=1e-4, atol=1e-5)


def test_profiler_times_every_step_of_every_part(tmp_path):
    f, ref = _chain(5, 10)
    args = _args(4, 10, seed=3)
    g = jc.jit(f)
    path = str(tmp_path / "run.json")
    with config.override(num_threads=1, cache=0), profiler.trace(path):
        got = np.asarray(g(*args))
    np.testing.assert_allclose(got, ref(*args), rtol=1e-12, atol=1e-12)
    with open(path) as fh:
        events = json.load(fh)["traceEvents"]
    calls = [e for e in events if e["ph"] == "X" and e["cat"] == "call"]
    kernels = [e for e in events if e["ph"] == "X" and e["cat"] == "kernel"]
    steps, parts = _segment_calls(g.lower(*args).compile()._entry.executable)
    assert len(calls) == 1 and parts > 1
    assert len(kernels) == calls[0]["args"]["kernels"] == steps
    assert all(e["dur"] >= 0 for e in kernels)


def test_parts_are_compile_units_cached_on_disk(tmp_path, monkeypatch):
    # A second process (here: the memory caches emptied) loads every unit, parts included,
    # from the disk cache and compiles none.
    from xla_like.backends.cpu import compile_units
    monkeypatch.setattr(cpu, "_small", lambda plan: False)
    f, ref = _chain(4, 11)
    args = _args(3, 11, seed=4)
    runs = []
    with config.override(num_threads=1, cache=1, cache_dir=str(tmp_path / "cache")):
        for _ in range(2):
            cpu._machine_cache.clear()
            compile_units._objects.clear()
            before = dict(compile_units.stats)
            compiled = jc.jit(f).lower(*args).compile()
            np.testing.assert_allclose(np.asarray(compiled(*args)), ref(*args), rtol=1e-12,
                                       atol=1e-12)
            runs.append({k: compile_units.stats[k] - before[k] for k in ("compiled", "disk")})
    cpu._machine_cache.clear()
    parts = _segment_calls(compiled._entry.executable)[1]
    assert parts > 1
    assert runs[0]["compiled"] > parts and runs[0]["disk"] == 0
    assert runs[1] == {"compiled": 0, "disk": runs[0]["compiled"]}
