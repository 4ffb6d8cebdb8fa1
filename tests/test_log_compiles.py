"""Logging compiles: `jitcore.log_compiles()`, `config.update("jax_log_compiles", ...)` and the
`log_compiles` setting put one WARNING record per compile on the "jitcore" logger, naming the
function, its signature, the compile time and why the call missed the cache."""
from __future__ import annotations

import logging
import threading

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config


def _records(caplog):
    return [r for r in caplog.records if r.name == "jitcore"]


def _scale(x):
    return jnp.tanh(x) * 2.0


def test_each_compile_is_one_warning_with_its_reason(caplog):
    f = jc.jit(_scale)
    with jc.log_compiles():
        f(np.ones(4, np.float32))
        f(np.ones(4, np.float32))        # cached: no record
        f(np.ones(8, np.float32))        # a new shape
    recs = _records(caplog)
    assert [r.levelno for r in recs] == [logging.WARNING] * 2
    first, second = (r.getMessage() for r in recs)
    assert first.startswith("jitcore: compiled _scale(f32[4]) for cpu in ")
    assert first.endswith(": first call")
    assert second.startswith("jitcore: compiled _scale(f32[8]) for cpu in ")
    assert second.endswith("x is f32[8] (before: f32[4])")
    # The compile time is a number of milliseconds.
    assert float(first.split(" in ")[1].split(" ms")[0]) > 0


def test_off_by_default_and_after_the_block(caplog):
    f = jc.jit(lambda x: x - 1.0)
    f(np.ones(2))
    with jc.log_compiles():
        pass
    f(np.ones(3))
    with jc.log_compiles(False):
        f(np.ones(5))
    assert _records(caplog) == []


def test_static_argument_reason(caplog):
    f = jc.jit(lambda x, n: x * n, static_argnums=1)
    with jc.log_compiles():
        f(np.ones(2), 2)
        f(np.ones(2), 3)
    msgs = [r.getMessage() for r in _records(caplog)]
    assert len(msgs) == 2 and "static arguments" in msgs[1] and "(before:" in msgs[1]


def test_config_update_and_setting(caplog):
    config.update("jax_log_compiles", True)
    try:
        jc.jit(lambda x: x + 1.0)(np.ones(2))
    finally:
        config.update("jax_log_compiles", False)
    jc.jit(lambda x: x + 2.0)(np.ones(2))
    with config.override(log_compiles=1):
        jc.jit(lambda x: x + 3.0)(np.ones(2))
    assert len(_records(caplog)) == 2


def test_ahead_of_time_compile_says_so(caplog):
    f = jc.jit(_scale)
    with jc.log_compiles():
        f.lower(np.ones(3)).compile()
    (msg,) = [r.getMessage() for r in _records(caplog)]
    assert msg.startswith("jitcore: compiled _scale(f64[3])")
    assert msg.endswith("ahead of time (lower().compile())")


def test_the_block_is_this_threads_own(caplog):
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        jc.jit(lambda x: x * 5.0)(np.ones(2))    # compiled while the main thread logs
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with jc.log_compiles():
        inside.set()
        done.wait()
        jc.jit(lambda x: x * 7.0)(np.ones(2))
    t.join()
    assert len(_records(caplog)) == 1
