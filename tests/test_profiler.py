"""jitcore.profiler: Chrome/Perfetto trace files of compiles and kernels, JAX's annotation API,
the cost model the kernel figures come from, and JITCORE_DEBUG levels 3 and 4."""
from __future__ import annotations

import glob
import gzip
import json
import os
import threading

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import config, lax, profiler, profiler_debug
from xla_like import profile_hooks
from xla_like.backends.plan.cost import computation_cost, step_cost
from tests.backends.test_cuda_runtime import emulated  # noqa: F401  (the simulated driver)

M, K, N = 24, 40, 56


def _load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        data = json.load(fh)
    assert isinstance(data["traceEvents"], list)
    for e in data["traceEvents"]:
        assert e["ph"] in ("X", "B", "E", "M", "i"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] in ("X", "i"):
            assert isinstance(e["ts"], float) and e["ts"] > 0
        if e["ph"] == "X":
            assert e["dur"] >= 0
    return data["traceEvents"]


def _kernels(events):
    return [e for e in events if e["ph"] == "X" and e["cat"] == "kernel"]


def _matmul_tanh(a, b):
    return jnp.tanh(a @ b) * 2.0


@pytest.fixture
def operands():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((M, K)).astype(np.float32),
            rng.standard_normal((K, N)).astype(np.float32))


def test_trace_holds_compile_stages_and_one_event_per_kernel_per_call(tmp_path, operands):
    f = jitcore.jit(_matmul_tanh)
    path = str(tmp_path / "run.json")
    with config.override(num_threads=1), profiler.trace(path):
        traced = [np.asarray(f(*operands)) for _ in range(3)]
    events = _load(path)
    names = {e["name"] for e in events if e["ph"] == "X"}
    for stage in ("trace _matmul_tanh", "compile _matmul_tanh", "pass fusion", "pass cse",
                  "render LLVM IR", "LLVM optimize", "LLVM code generation"):
        assert stage in names, stage
    assert any(e["ph"] == "i" and e["name"].startswith("disk cache") for e in events)
    calls = [e for e in events if e["ph"] == "X" and e["cat"] == "call"]
    assert len(calls) == 3
    kernels = _kernels(events)
    per_call = {}
    for e in kernels:
        per_call.setdefault(e["args"]["call"], []).append(e["name"])
    assert sorted(per_call) == [0, 1, 2]
    # One thread: each kernel once per call, the same kernels in every call.
    assert all(sorted(v) == sorted(per_call[0]) for v in per_call.values())
    assert len(set(per_call[0])) == len(per_call[0]) == calls[0]["args"]["kernels"]
    dot = next(e for e in kernels if "dot_general" in e["args"]["ops"])
    a = dot["args"]
    assert a["flops"] == 2 * M * N * K
    assert a["elements"] == M * N
    assert a["bytes"] == 4 * (M * K + K * N + M * N)
    assert a["inputs"] == [f"f32[{M},{K}]", f"f32[{K},{N}]"] and a["output"] == f"f32[{M},{N}]"
    assert a["time_us"] > 0
    assert a["GB/s"] == pytest.approx(a["bytes"] / (a["time_us"] * 1e3), rel=1e-2, abs=1e-3)
    assert a["GFLOP/s"] == pytest.approx(a["flops"] / (a["time_us"] * 1e3), rel=1e-2,
                                         abs=1e-3)
    tanh = next(e for e in kernels if "tanh" in e["args"]["ops"])
    assert tanh["args"]["transcendentals"] == M * N and tanh["args"]["elements"] == M * N
    # Kernels lie inside their call, on the calling thread.
    for call in calls:
        inside = [e for e in kernels if e["args"]["call"] == call["args"]["call"]]
        for e in inside:
            assert e["tid"] == call["tid"]
            assert call["ts"] - 1 <= e["ts"] <= e["ts"] + e["dur"] <= call["ts"] + call["dur"] + 1
    # The traced (timed) build computes what the plain one does.
    plain = np.asarray(f(*operands))
    for r in traced:
        np.testing.assert_array_equal(r, plain)
    np.testing.assert_allclose(plain, np.tanh(operands[0] @ operands[1]) * 2, rtol=1e-4,
                               atol=1e-5)


def test_annotations_nest(tmp_path, operands):
    f = jitcore.jit(_matmul_tanh)
    f(*operands)

    @profiler.annotate_function
    def step_body(a, b):
        return f(a, b)

    path = str(tmp_path / "nest.json")
    with profiler.trace(path):
        with profiler.TraceAnnotation("outer", phase="train"):
            for k in range(2):
                with profiler.StepTraceAnnotation("train", step_num=k):
                    step_body(*operands)
    events = _load(path)
    spans = [e for e in events if e["ph"] == "X"]
    outer = next(e for e in spans if e["name"] == "outer")
    assert outer["args"] == {"phase": "train"}
    steps = [e for e in spans if e["name"] == "train"]
    assert sorted(e["args"]["step_num"] for e in steps) == [0, 1]
    fns = [e for e in spans if e["name"].endswith("step_body")]
    calls = [e for e in spans if e["cat"] == "call"]
    assert len(fns) == 2 and len(calls) == 2

    def within(inner, out):
        return inner["tid"] == out["tid"] and out["ts"] <= inner["ts"] and \
            inner["ts"] + inner["dur"] <= out["ts"] + out["dur"] + 1e-3
    for s in steps:
        assert within(s, outer)
        fn = next(x for x in fns if within(x, s))
        assert any(within(c, fn) for c in calls)


def test_threads_json_gz_and_log_dir(tmp_path):
    # Large enough for the pool: kernels run a share on each thread.
    x = np.linspace(0, 1, 1 << 19)
    g = jitcore.jit(lambda v: jnp.exp(v) * 3.0 + 1.0)
    with config.override(num_threads=2):
        expected = np.asarray(g(x))
        with profiler.trace(str(tmp_path / "logs"), create_perfetto_trace=True):
            got = np.asarray(g(x))
    np.testing.assert_array_equal(got, expected)
    files = glob.glob(str(tmp_path / "logs/plugins/profile/*/*.trace.json.gz"))
    assert len(files) == 1
    assert os.path.exists(os.path.join(os.path.dirname(files[0]), "perfetto_trace.json.gz"))
    events = _load(files[0])
    named = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    kernels = _kernels(events)
    assert kernels and {e["tid"] for e in kernels} <= set(named)
    k = kernels[0]["args"]
    assert k["elements"] == x.size and k["bytes"] == 2 * x.nbytes
    assert 1 <= k["threads"] <= 2
    if k["threads"] == 2:
        assert len({e["tid"] for e in kernels}) == 2
        assert any(n.startswith("jitcore-cpu-") for n in named.values())


def test_start_twice_raises_and_nothing_recorded_after_stop(tmp_path, operands):
    f = jitcore.jit(_matmul_tanh)
    profiler.start_trace(str(tmp_path / "a.json"))
    try:
        with pytest.raises(RuntimeError, match="already been started"):
            profiler.start_trace(str(tmp_path / "b.json"))
        f(*operands)
    finally:
        profiler.stop_trace()
    with pytest.raises(RuntimeError, match="No profile started"):
        profiler.stop_trace()
    assert not profile_hooks.tracing()
    before = os.path.getsize(tmp_path / "a.json")
    with profiler.TraceAnnotation("late"):
        f(*operands)
    assert os.path.getsize(tmp_path / "a.json") == before
    assert not os.path.exists(tmp_path / "b.json")
    events = _load(str(tmp_path / "a.json"))
    assert len([e for e in events if e["ph"] == "X" and e["cat"] == "call"]) == 1
    assert not any(e["name"] == "late" for e in events)


def test_host_steps_loops_and_threads_under_a_trace(tmp_path):
    """A program with a loop, a host step (sort) between native segments, called from two
    threads at once: results equal the plain build's, every call is recorded."""
    def h(x):
        c, ys = lax.scan(lambda c, v: (c + jnp.sin(v), c * v), 0.0, x)
        return jnp.sort(ys) + c
    x = np.linspace(-1, 1, 33)
    f = jitcore.jit(h)
    expected = np.asarray(f(x))
    out = {}

    def run(k):
        out[k] = [np.asarray(f(x + 0.0)) for _ in range(3)]
    with profiler.trace(str(tmp_path / "t.json")):
        threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for rs in out.values():
        for r in rs:
            np.testing.assert_array_equal(r, expected)
    events = _load(str(tmp_path / "t.json"))
    calls = [e for e in events if e["ph"] == "X" and e["cat"] == "call"]
    assert len(calls) == 6 and len({e["tid"] for e in calls}) == 2
    assert any("scan" in e["args"]["ops"] for e in _kernels(events))


# -- the cost model ------------------------------------------------------------------------------

def _entry(fn, *args):
    return jitcore.jit(fn).lower(*args).module.entry


def test_step_cost_of_dot_elementwise_reduction():
    a = np.ones((M, K), np.float32)
    b = np.ones((K, N), np.float64)
    comp = _entry(lambda p, q: jnp.exp(p.astype(np.float64) @ q).sum(), a, b)
    by_op = {i.opcode: step_cost(i) for i in comp.instructions}
    assert by_op["dot_general"]["flops"] == 2 * M * N * K
    assert by_op["dot_general"]["bytes_accessed"] == 8 * (M * K + K * N + M * N)
    assert by_op["exp"] == {"flops": 0.0, "transcendentals": M * N,
                            "bytes_accessed": 2 * 8 * M * N}
    assert by_op["reduce_sum"]["flops"] == M * N
    assert by_op["parameter"] == {"flops": 0.0, "transcendentals": 0.0, "bytes_accessed": 0.0}
    total = computation_cost(comp)
    # the dot, the sum's combines, the conversion of p to float64 (1 per element)
    assert total["flops"] == 2 * M * N * K + M * N + M * K
    assert total["transcendentals"] == M * N


def test_cost_of_a_scan_is_its_body_times_its_length():
    x = np.ones(7)
    comp = _entry(lambda v: lax.scan(lambda c, t: (c * t + 1.0, jnp.exp(t)), 0.0, v), x)
    scan = next(i for i in comp.instructions if i.opcode == "scan")
    body = computation_cost(scan.called[0])
    cost = step_cost(scan)
    assert cost["flops"] == 7 * body["flops"] and body["flops"] >= 2
    assert cost["transcendentals"] == 7 * body["transcendentals"] == 7


# -- JITCORE_DEBUG 3 and 4 ----------------------------------------------------------------------

def test_debug_3_prints_a_table_per_call(capsys, monkeypatch, operands):
    monkeypatch.setattr(profiler_debug, "machine_limits",
                        lambda: {"GB/s": 10.0, "GFLOP/s": 100.0})
    f = jitcore.jit(_matmul_tanh)
    f(*operands)
    capsys.readouterr()
    with config.override(debug=3, num_threads=1):
        f(*operands)
        f(*operands)
    err = capsys.readouterr().err
    tables = [t for t in err.split("jitcore: call ")[1:]]
    assert len(tables) == 2
    rows = [ln.split() for ln in tables[0].splitlines()[2:] if ln.strip()]
    dot = next(r for r in rows if r[1] == "dot_general")
    # kernel ops output threads us GB/s %bw GFLOP/s %gemm
    us, gbs, bw, gflops, gemm = map(float, dot[4:9])
    assert gflops == pytest.approx(2 * M * N * K / (us * 1e3), rel=0.05, abs=0.02)
    assert bw == pytest.approx(100 * gbs / 10.0, abs=1)
    assert gemm == pytest.approx(100 * gflops / 100.0, abs=1)
    f(*operands)     # debug back to 0: no table
    assert "jitcore: call" not in capsys.readouterr().err


def test_debug_4_prints_each_kernels_llvm_and_assembly(capsys):
    with config.override(debug=4):
        jitcore.jit(lambda v: jnp.cos(v) + 1.0)(np.ones(5))
    err = capsys.readouterr().err
    assert "jitcore: llvm of seg0" in err and "jitcore: asm of seg0" in err
    assert "define " in err


def test_machine_limits_measured_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(profiler_debug, "_limits", None)
    with config.override(cache_dir=str(tmp_path)):
        limits = profiler_debug.machine_limits()
        assert limits["GB/s"] > 0 and limits["GFLOP/s"] > 0
        stored = json.loads((tmp_path / profiler_debug.LIMITS_FILE).read_text())
        assert list(stored.values())[0]["GB/s"] == limits["GB/s"]
        monkeypatch.setattr(profiler_debug, "_limits", None)

        def fail():
            raise AssertionError("measured again")
        monkeypatch.setattr(profiler_debug, "_measure", fail)
        assert profiler_debug.machine_limits()["GFLOP/s"] == limits["GFLOP/s"]


# -- the CUDA timer, with a stand-in driver (no GPU here) -----------------------------------------

class _FakeEvent:
    clock = [0.0]     # ms of the stand-in device

    def record(self, stream):
        _FakeEvent.clock[0] += 0.25
        self.at = _FakeEvent.clock[0]

    def synchronize(self):
        pass

    def time_since(self, other):
        return self.at - other.at


class _FakeDriver:
    Event = _FakeEvent


def test_cuda_stream_timer_places_steps_on_a_device_track(tmp_path, operands):
    from xla_like.backends.cuda.runtime import StreamTimer
    from xla_like.backends.plan.planner import Plan, cpu_pipeline
    module = jitcore.jit(_matmul_tanh).lower(*operands).module
    plan = Plan(cpu_pipeline(module))
    path = str(tmp_path / "gpu.json")
    with profiler.trace(path):
        timer = StreamTimer(_FakeDriver, None, 3)
        for step in plan.steps:
            mark = timer.start()
            timer.stop(step, mark)
        timer.finish("prog", {})
    events = _load(path)
    track = next(e["tid"] for e in events
                 if e["ph"] == "M" and e["args"]["name"] == "GPU 3 stream 0")
    kernels = _kernels(events)
    assert [e["name"] for e in kernels] == \
        [f"{s.instr.opcode}.{s.instr.id}" for s in plan.steps]
    assert all(e["tid"] == track for e in kernels)
    # Each step: 0.25 ms between its two events, 0.5 ms after the previous step's start.
    assert [e["dur"] for e in kernels] == pytest.approx([250.0] * len(kernels))
    starts = [e["ts"] for e in kernels]
    assert np.diff(starts) == pytest.approx([500.0] * (len(kernels) - 1), abs=1e-3)


def test_debug_4_splits_ptx_by_kernel(capsys):
    """A CUDA program's PTX (compiling it needs no GPU) is printed kernel by kernel."""
    compiled = jitcore.jit(lambda v: jnp.sin(v) * 2.0, backend="cuda").lower(
        np.ones(7, np.float32)).compile()
    profiler_debug.print_kernel_code(compiled)
    err = capsys.readouterr().err
    ptx = compiled.as_text("ptx")
    entries = [ln for ln in ptx.splitlines() if ".entry" in ln]
    assert entries and err.count("jitcore: asm of ") == len(entries)
    assert err.count("jitcore: ptx of ") == 0      # the same text once, not twice


def test_traced_call_on_the_emulated_cuda_driver(tmp_path, monkeypatch, emulated):
    """The CUDA program's per-step events, run on the test suite's simulated driver (kernels
    executed on the host) with stand-in CUDA events."""
    from xla_like.backends.cuda import codegen as cuda_codegen
    if cuda_codegen.libdevice_path() is None:
        pytest.skip("libdevice (CUDA toolkit) not found; set CUDA_HOME")
    monkeypatch.setattr(emulated, "Event", _FakeEvent, raising=False)
    x = np.linspace(-1, 1, 64).astype(np.float32)
    f = jitcore.jit(lambda v: jnp.exp(v).sum() + jnp.sin(v), backend="cuda")
    plain = np.asarray(f(x))
    path = str(tmp_path / "cuda.json")
    with profiler.trace(path):
        traced = np.asarray(f(x))
    np.testing.assert_array_equal(traced, plain)
    events = _load(path)
    tracks = {e["tid"]: e["args"]["name"] for e in events
              if e["ph"] == "M" and e["name"] == "thread_name"}
    kernels = _kernels(events)
    assert kernels and all(tracks[e["tid"]] == "GPU 0 stream 0" for e in kernels)
    assert any("exp" in e["args"]["ops"] for e in kernels)


def test_kernel_time_is_the_union_of_its_shares():
    rng = np.random.default_rng(5)
    for _ in range(20):
        starts = rng.integers(0, 100, 4)
        runs = [profile_hooks.KernelRecord(None, k, int(s), int(s + rng.integers(1, 40)))
                for k, s in enumerate(starts)]
        covered = np.zeros(200, bool)      # the reference: time steps some share covers
        for r in runs:
            covered[r.t0:r.t1] = True
        assert profiler_debug.kernel_ns(runs) == covered.sum()
