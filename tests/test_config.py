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
    s = config.from_env()
    assert s.debug == 2 and s.backend == "interp"


def test_dump_writes_numbered_ir_files(tmp_path):
    f = jc.jit(lambda x: jc.numpy.exp(x) * 2)
    with config.override(dump=str(tmp_path), backend="cpu"):
        f(np.ones(4, np.float32))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.endswith("traced.hlo") for n in names)
    assert any(n.endswith("optimized.hlo") for n in names)
    ll = [p for p in tmp_path.iterdir() if p.name.endswith(".ll")]
    assert ll and "define" in ll[0].read_text()
