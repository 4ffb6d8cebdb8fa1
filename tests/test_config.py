"""Settings: the JITCORE_* table, changeable in code with config.override."""
import numpy as np
import pytest

import jitcore as jc
from jitcore import config


def test_override_backend_is_part_of_the_cache_key():
    f = jc.jit(lambda x: x + 1)
    with config.override(backend="interp"):
        np.testing.assert_allclose(f(np.ones(2)), 2.0)
    with config.override(backend="cpu"):
        np.testing.assert_allclose(f(np.ones(2)), 2.0)
    assert f.cache_info().compiles == 2


def test_debug_prints_one_line_per_compile(capsys):
    f = jc.jit(lambda x: x * 2)
    with config.override(debug=1):
        f(np.ones(3))
        f(np.ones(3))
    out = capsys.readouterr().out
    assert out.count("jitcore: compiled") == 1 and "f64[3]" in out and "ms" in out


def test_unknown_setting_is_an_error():
    with pytest.raises(ValueError, match="unknown jitcore settings"):
        with config.override(nope=1):
            pass


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("JITCORE_DEBUG", "2")
    monkeypatch.setenv("JITCORE_BACKEND", "interp")
    s = config._from_env()
    assert s.debug == 2 and s.backend == "interp"
