"""Autotuning of CUDA kernels (`cuda.autotune`, `jit(..., backend="cuda", autotune=True)`) on
the emulated driver of `test_cuda_runtime`: the search runs, every candidate computes what the
default does, the choice is stored (memory and the persistent cache, keyed by GPU name and
compute capability) and reused without searching again. The emulator's CUDA events read the
host's clock; which candidate is fastest there means nothing, so the tests that check the
choice decide the comparisons themselves, after the timed runs.
"""
from __future__ import annotations

import importlib
import time

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from tests.backends.test_cuda_runtime import FakeDriver, emulated  # noqa: E402,F401
from xla_like.backends import cuda  # noqa: E402
from xla_like.backends.cuda import autotune as at  # noqa: E402
from xla_like.backends.cuda.schedule import DEFAULT, Schedule  # noqa: E402

rng = np.random.default_rng(3)
X = rng.standard_normal(1 << 14).astype(np.float32)
R = rng.standard_normal((3, 6000)).astype(np.float32)


class FakeEvent:
    recorded = 0

    def record(self, stream=None):
        FakeEvent.recorded += 1
        self.t = time.perf_counter()

    def synchronize(self):
        pass

    def time_since(self, other):
        return (self.t - other.t) * 1e3


@pytest.fixture
def tuning(emulated, monkeypatch):
    monkeypatch.setattr(FakeDriver, "Event", FakeEvent, raising=False)
    monkeypatch.setattr(at, "SAMPLES", 1)
    at.clear_memory()                    # no choice from an earlier test
    monkeypatch.setattr(at, "stats", dict.fromkeys(at.stats, 0))
    return emulated


def _base(f, *args):
    return cuda.compile(jax.jit(f, backend="cuda").lower(*args).compile()._entry
                        .executable.module)


def test_every_candidate_agrees_with_the_default(tuning):
    """The whole search space of a flat kernel and a long row reduction (block sizes,
    elements per thread, one pass or two), built and run: the same results."""
    def f(x, r):
        return x * 2 + 1, r.sum(1)
    base = _base(f, X, R)
    todo = at.candidates(base)
    fields = {field for _, field, _ in todo}
    assert fields == {"block", "per_thread", "two_pass"}
    timer = at._Timer(at._device_of([X]), [X, R], frozenset())
    ref = timer.outputs(base)
    np.testing.assert_allclose(ref[0], X * 2 + 1)
    np.testing.assert_allclose(ref[1], R.astype(np.float64).sum(1), rtol=1e-5)
    # One program with the first change of each field for each kernel (a build and an
    # emulated run cost about a second each).
    choice = {}
    for name, field, value in todo:
        s = choice.get(name, DEFAULT)
        if getattr(s, field) == getattr(DEFAULT, field):
            choice[name] = s.with_(**{field: value})
    cand = at._build(base, choice)
    assert at.same_results(ref, timer.outputs(cand))
    for name, s in choice.items():
        kernel = next(k for _, k in cand.kernels.values() if k.name == name)
        assert kernel.block == s.block
        if s.two_pass != -1:
            assert (kernel.second is not None) == bool(s.two_pass)
        if s.per_thread:
            assert kernel.per_thread == s.per_thread
    assert sum(s.two_pass == 1 for s in choice.values()) == 1


def test_search_stores_the_choice_and_reuses_it(tuning, monkeypatch):
    def f(x):
        return x * 3 - x * x
    base = _base(f, X)
    (name,) = {n for n, _, _ in at.candidates(base)}
    monkeypatch.setattr(at, "candidates", lambda ex: [(name, "block", 128),
                                                      (name, "per_thread", 1)])
    real = at._Timer._sample
    samples = []

    def sample(self, prog):   # times on the device's events, then the test decides
        ms = real(self, prog)
        assert ms >= 0
        samples.append(ms)
        return 1.0 if prog.exe.schedules.get(name, DEFAULT).per_thread == 1 else 2.0
    monkeypatch.setattr(at._Timer, "_sample", sample)
    before = FakeEvent.recorded
    out = jax.jit(f, backend="cuda", autotune=True)(X)
    want = X * 3 - X * X
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)
    assert at.stats["searches"] == 1 and at.stats["candidates"] == 2
    assert samples and FakeEvent.recorded > before
    pkey = at.program_key(base)
    dev = at.device_id(cuda.runtime.devices()[0])
    assert dev == "emulated GPU|sm_90"
    assert at.load_choice(pkey, dev) == {name: Schedule(per_thread=1)}
    at.clear_memory()   # the record is read back from the persistent cache
    assert at.load_choice(pkey, dev) == {name: Schedule(per_thread=1)}
    n = len(samples)
    importlib.import_module("jitcore.jit").forget_wrappers(f)   # traced and compiled again
    out = jax.jit(f, backend="cuda", autotune=True)(X)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)
    assert at.stats["searches"] == 1 and at.stats["reused"] == 1 and len(samples) == n
    tuned = at.tune(base, [X])
    assert tuned.schedules == {name: Schedule(per_thread=1)} and tuned.arch == base.arch
    assert ".maxntid 256" in tuned.as_text("ptx")


def test_the_default_stays_when_nothing_is_faster(tuning, monkeypatch):
    def f(x):
        return x * x + 1
    monkeypatch.setattr(at._Timer, "faster", lambda self, c, i, deadline=None: False)
    real = at.candidates
    monkeypatch.setattr(at, "candidates", lambda ex: real(ex)[:1])
    out = jax.jit(f, backend="cuda", autotune=True)(X)
    np.testing.assert_allclose(np.asarray(out), X * X + 1)
    assert at.stats["searches"] == 1 and at.stats["candidates"] > 0
    base = _base(f, X)
    dev = at.device_id(cuda.runtime.devices()[0])
    assert at.load_choice(at.program_key(base), dev) == {}   # searched: the default won
    assert at.tune(base, [X]) is base


def test_schedule_records_are_checked():
    assert Schedule.from_dict({"block": 128, "per_thread": 2, "two_pass": 0}) == \
        Schedule(128, 2, 0)
    for bad in ({"block": 100}, {"block": 2048}, {"per_thread": -1}, {"two_pass": 2},
                {"threads": 4}, {"block": True}, {"block": "128"}):
        with pytest.raises(ValueError):
            Schedule.from_dict(bad)


def test_small_programs_are_not_tuned(tuning):
    base = _base(lambda x: x + 1, X[:100])
    assert at.candidates(base) == [] and at.tune(base, [X[:100]]) is base
    assert at.stats["searches"] == 0
