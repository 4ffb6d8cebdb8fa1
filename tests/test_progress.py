"""The compile progress line (`xla_like.progress`): drawn on stderr for a compile that outlasts
`progress_after_ms` when the `progress` setting asks for it, counting the compile units done;
never for a cached call, a quick compile, or with the setting off."""
from __future__ import annotations

import threading
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like import progress
from xla_like.backends.cpu import compile_units

_unique = iter(range(10 ** 9))


def _big_program():
    """A function whose compile goes through compile units (more work than a small program)
    with a constant no earlier compile had, so none of its units are cached."""
    c = 1.0 + next(_unique) * 1e-6 + time.perf_counter_ns() % 1000 * 1e-9

    def f(x):
        y = jnp.tanh(x * c) + jnp.exp(-x)
        return (y @ x).sum(axis=0) + y.max(axis=1)
    return f


def test_a_slow_compile_draws_the_line_and_a_cached_call_does_not(capfd):
    f = jc.jit(_big_program())
    x = np.random.default_rng(0).standard_normal((300, 300))
    before = compile_units.stats["compiled"]
    with config.override(progress="1", progress_after_ms=0):
        f(x)
        units = compile_units.stats["compiled"] - before
        first = capfd.readouterr().err
        f(x)    # cached: no compile
        second = capfd.readouterr().err
    assert units >= 2
    lines = first.split("\r")
    final = lines[-1]
    assert final.startswith("jitcore: compiling machine code (LLVM): ")
    assert final.endswith(" s\n")
    assert f"{units}/{units} units, " in final
    assert second == ""


def test_no_line_when_off_quick_or_not_a_terminal(capfd):
    x = np.random.default_rng(1).standard_normal((300, 300))
    with config.override(progress="0", progress_after_ms=0):
        jc.jit(_big_program())(x)
    with config.override(progress="1", progress_after_ms=60_000):
        jc.jit(_big_program())(x)
    with config.override(progress="auto", progress_after_ms=0):   # captured: no terminal
        jc.jit(_big_program())(x)
    assert capfd.readouterr().err == ""


def test_reporter_counts_units_from_many_threads(capfd):
    with config.override(progress="1", progress_after_ms=0):
        with progress.report("stage", 40) as bar:
            threads = [threading.Thread(target=lambda: [bar.advance() for _ in range(10)])
                       for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert bar.line().startswith("jitcore: stage: 40/40 units, ")
    err = capfd.readouterr().err
    assert err.startswith("\r") and err.endswith("\n")
    assert err.rstrip("\n").split("\r")[-1].startswith("jitcore: stage: 40/40 units, ")


def test_the_timer_redraws_while_one_unit_runs(capfd):
    # One unit that takes longer than the threshold: the line appears before it finishes.
    with config.override(progress="1", progress_after_ms=20):
        with progress.report("stage", 1) as bar:
            deadline = time.monotonic() + 5
            while "0/1 units" not in capfd.readouterr().err and time.monotonic() < deadline:
                time.sleep(0.01)
            seen = time.monotonic() < deadline
            bar.advance()
    assert seen
    assert "1/1 units" in capfd.readouterr().err


def test_nothing_to_count_draws_nothing(capfd):
    with config.override(progress="1", progress_after_ms=0):
        with progress.report("stage", 0) as bar:
            bar.advance()
    assert capfd.readouterr().err == ""
