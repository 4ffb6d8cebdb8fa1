"""The pipelines, listed in `xla_like.pipeline`: what runs, in which order, checked after each
pass under the `checks` setting (on for the whole suite), and what the dumps call each module."""
from __future__ import annotations

import re

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config, tree_util
from jitcore.tracing import trace_to_module
from ops.core import ShapedArray
from ops.errors import CompilerError, IRVerificationError
from xla_like import pipeline, verifier

X = np.linspace(-1.0, 1.0, 12).reshape(6, 2)


def names(name):
    return [n for n, _ in pipeline.PIPELINES[name]]


def with_dead_code(x):
    unused = jnp.sin(x) * 3          # no output depends on it: dce drops it
    del unused
    return jnp.tanh(x).sum(axis=0)


def test_every_pipeline_is_listed_by_name():
    assert set(pipeline.PIPELINES) == {"trace", "bucketed", "kernel"}
    assert names("bucketed") == ["masking"] + names("trace")
    assert names("kernel")[-2:] == ["fusion", "dce"]


def test_a_pass_name_means_one_pass_everywhere():
    # JITCORE_PRINT_AFTER=dce selects by name: one name must not stand for two functions, nor
    # for a file of the dump that is not a pass.
    fn_of = {}
    for steps in pipeline.PIPELINES.values():
        for name, fn in steps:
            assert callable(fn)
            assert fn_of.setdefault(name, fn) is fn, name
    assert not set(fn_of) & {"traced", "all", "optimized", "llvm", "asm"}


def test_observers_see_exactly_the_listed_passes():
    seen = []
    with pipeline.observe(lambda n, m: seen.append(n)):
        jc.jit(with_dead_code, backend="cpu")(X)
    assert seen == ["traced"] + names("trace") + names("kernel")


def test_masking_runs_as_the_named_pass_of_a_bucketed_jit():
    seen = []
    f = jc.jit(lambda x: jnp.cumsum(x, axis=0).max(axis=0), dynamic_axes={"x": 0},
               backend="cpu")
    with pipeline.observe(lambda n, m: seen.append((n, m.num_sizes))):
        out = f(X[:5])
    assert [n for n, _ in seen] == ["traced"] + names("bucketed") + names("kernel")
    assert all(k == 1 for _, k in seen)     # one true size, read by the masking pass
    np.testing.assert_allclose(out, np.cumsum(X[:5], axis=0).max(axis=0), rtol=1e-12)
    assert f.cache_info().exact_fallbacks == 0


def reverse_entry(module):
    """Breaks SSA without raising: every operand now comes after its user."""
    module.entry.instructions.reverse()
    return module


def test_a_pass_that_breaks_the_module_is_named(monkeypatch):
    steps = pipeline.PIPELINES["kernel"]
    at = names("kernel").index("cse") + 1
    monkeypatch.setitem(pipeline.PIPELINES, "kernel",
                        steps[:at] + [("reverse_entry", reverse_entry)] + steps[at:])
    with pytest.raises(CompilerError, match="pass 'reverse_entry' left an invalid module") as e:
        jc.jit(with_dead_code, backend="cpu")(X)
    assert e.value.pass_name == "reverse_entry"
    assert isinstance(e.value.__cause__, IRVerificationError)
    # The trace-time pipeline is checked the same way.
    module = jc.make_hlo(with_dead_code)(X)
    with pytest.raises(CompilerError, match="'reverse_entry'"):
        pipeline.run_pipeline(module, [("dce", pipeline.dce), ("reverse_entry", reverse_entry)])


def test_the_verifier_runs_only_under_checks(monkeypatch):
    calls = []
    verify = verifier.verify_module
    monkeypatch.setattr(verifier, "verify_module", lambda m: calls.append(m.name) or verify(m))
    monkeypatch.setattr(pipeline, "round_trip", lambda m: calls.append("round trip"))
    with config.override(checks=0):
        jc.jit(with_dead_code, backend="cpu")(X)
    assert calls == []
    jc.clear_cache()   # jit(f) wrappers share one cache: compile again under checks=1
    with config.override(checks=1):
        jc.jit(with_dead_code, backend="cpu")(X)
    # The traced module once, then once after each pass; its text read back once.
    assert calls.count("with_dead_code") == 1 + len(names("trace")) + len(names("kernel"))
    assert calls.count("round trip") == 1


def test_checks_off_lets_a_broken_pass_through_to_its_result():
    module = jc.make_hlo(with_dead_code)(X)
    with config.override(checks=0):
        out, _ = pipeline.run_pipeline(module, [("reverse_entry", reverse_entry)])
    with pytest.raises(IRVerificationError):
        verifier.verify_module(out)


def independent_trace(fun, x, name):
    """The module exactly as tracing built it: stopped before any pass runs."""
    box = []
    _, in_tree = tree_util.tree_flatten(((x,), {}))
    trace_to_module(fun, [ShapedArray(x.shape, x.dtype)], in_tree, name, ["x"],
                    inspect=lambda m: box.append(m.as_text()) and False)
    return box[0]


def test_the_traced_dump_is_the_module_before_any_pass(tmp_path):
    with config.override(dump=str(tmp_path), backend="cpu"):
        jc.jit(with_dead_code)(X)
    (entries,) = dumped_files(tmp_path).values()
    what = [w for _, w, _ in entries]
    texts = [p.read_text() for _, _, p in entries]
    n = len(names("trace"))
    assert what[:n + 1] == ["traced.hlo"] + [name + ".hlo" for name in names("trace")]
    assert texts[0] == independent_trace(with_dead_code, X, "with_dead_code")
    assert " sin(" in texts[0]                         # the dead code is still there
    assert " sin(" not in texts[1]
    # The last pass of the trace-time pipeline gives what make_hlo prints.
    assert texts[n] == jc.make_hlo(with_dead_code)(X).as_text()


def test_the_traced_dump_of_a_bucketed_program_is_not_yet_masked(tmp_path):
    f = jc.jit(lambda x: x.sum(axis=0), dynamic_axes={"x": 0}, backend="cpu")
    with config.override(dump=str(tmp_path)):
        np.testing.assert_allclose(f(X[:5]), X[:5].sum(axis=0), rtol=1e-12)
    (entries,) = dumped_files(tmp_path).values()
    what = [w for _, w, _ in entries]
    hlo = ["traced"] + names("bucketed") + names("kernel") + ["optimized"]
    assert what[:len(hlo)] == [n + ".hlo" for n in hlo]
    traced, masked = (entries[k][2].read_text() for k in (0, 1))
    # Masking makes the padded rows neutral with a select against the true size.
    assert "select(" not in traced and "select(" in masked
    assert 'name="size.' in traced


def dumped_files(folder):
    """{compile number: [(k, what, path)]} of the dump files in `folder`, in order."""
    out = {}
    for p in sorted(folder.iterdir()):
        m = re.fullmatch(r"(\d{4})\.[^.]+\.(\d{2})\.(.+)", p.name)
        assert m, p.name
        out.setdefault(m.group(1), []).append((int(m.group(2)), m.group(3), p))
    return out
