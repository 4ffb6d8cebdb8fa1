"""The IR after every pass: `run_pipeline`'s observers, `JITCORE_DUMP` files and
`JITCORE_PRINT_AFTER` output."""
from __future__ import annotations

import re

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like import pipeline
from xla_like.backends.plan.planner import cpu_pipeline
from xla_like.parser import parse_module
from xla_like.verifier import verify_module

TRACE_NAMES = [n for n, _ in pipeline.PIPELINES["trace"]]
CPU_NAMES = [n for n, _ in pipeline.PIPELINES["kernel"]]


def model(x, w):
    return jnp.tanh(x @ w.T).sum(axis=-1) * 2


def args():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal((5, 4)).astype(np.float32))


def dumped(folder):
    """{compile number: [(k, what, path)]} of the files in `folder`, in order."""
    out = {}
    for p in sorted(folder.iterdir()):
        m = re.fullmatch(r"(\d{4})\.model\.(\d{2})\.(.+)", p.name)
        assert m, p.name
        out.setdefault(m.group(1), []).append((int(m.group(2)), m.group(3), p))
    return out


def test_cpu_pipeline_is_a_list_of_named_passes():
    assert CPU_NAMES == ["inline_calls", "split_complex", "lower_conv", "lower_windows", "dce",
                         "cse", "licm", "loop_sums", "widen_half_dots", "fold_batched_dots",
                         "layout", "loop_dot_layout", "split_column_reductions", "fusion",
                         "dce"]
    assert all(callable(fn) for _, fn in pipeline.PIPELINES["kernel"])


def test_run_pipeline_reports_each_pass_in_order():
    module = jc.make_hlo(model)(*args())
    seen = []
    out = cpu_pipeline(module, after_pass=lambda name, m: seen.append((name, m.as_text())))
    assert [n for n, _ in seen] == CPU_NAMES
    assert seen[-1][1] == out.as_text()
    assert "fusion(" not in seen[CPU_NAMES.index("layout")][1]
    assert "fusion(" in seen[CPU_NAMES.index("fusion")][1]


def test_observers_nest_and_see_both_pipelines():
    outer, inner = [], []
    with pipeline.observe(lambda n, m: outer.append(n)):
        with pipeline.observe(lambda n, m: inner.append(n)):
            jc.jit(model).lower(*args()).compile()
        jc.jit(lambda x: x + 1).lower(np.ones(2)).compile()
    assert inner == ["traced"] + TRACE_NAMES + CPU_NAMES
    assert outer == inner * 2
    seen = []
    pipeline.run_pipeline(jc.make_hlo(model)(*args()), after_pass=lambda n, m: seen.append(n))
    assert seen == TRACE_NAMES   # no observer left installed


def test_a_failing_pass_is_named():
    def broken(module):
        raise RuntimeError("boom")
    module = jc.make_hlo(model)(*args())
    with pytest.raises(jc.errors.CompilerError, match="pass 'broken' failed on") as e:
        pipeline.run_pipeline(module, [("dce", pipeline.dce), ("broken", broken)])
    assert e.value.pass_name == "broken"
    assert isinstance(e.value.__cause__, RuntimeError) and "boom" in str(e.value)


def test_dump_writes_every_pass_numbered_in_order(tmp_path):
    f = jc.jit(model)
    with config.override(dump=str(tmp_path), backend="cpu"):
        f(*args())
    files = dumped(tmp_path)
    assert len(files) == 1
    (entries,) = files.values()
    assert [k for k, _, _ in entries] == list(range(len(entries)))
    names = [w for _, w, _ in entries]
    hlo = ["traced"] + TRACE_NAMES + CPU_NAMES + ["optimized"]
    assert names == [n + ".hlo" for n in hlo] + ["llvm.ll", "asm.s"]
    texts = [p.read_text() for _, _, p in entries]
    for text in texts[:len(hlo)]:
        verify_module(parse_module(text))
    # The traced file is what tracing built, the last pass's result is what compiles.
    assert texts[0] == jc.make_hlo(model)(*args()).as_text()
    compiled = f.lower(*args()).compile().as_text("hlo")
    assert texts[len(hlo) - 1] == compiled and texts[len(hlo) - 2] == compiled
    assert "transpose" in texts[CPU_NAMES.index("layout") + len(TRACE_NAMES)]
    assert "transpose" not in texts[CPU_NAMES.index("layout") + len(TRACE_NAMES) + 1]
    assert "define" in texts[-2]


def test_each_compile_gets_its_own_number(tmp_path):
    f = jc.jit(model)
    with config.override(dump=str(tmp_path)):
        f(*args())
        f(*args())                                   # cached: no files
        x, w = args()
        f(x[:2], w)                                  # another signature: compiled again
        f.lower(x, w).compile()                      # lower + compile: traced passes too
    files = dumped(tmp_path)
    assert len(files) == 3
    for entries in files.values():
        assert [w for _, w, _ in entries][:2] == ["traced.hlo", TRACE_NAMES[0] + ".hlo"]


def test_dump_on_the_interpreter_has_no_llvm(tmp_path):
    with config.override(dump=str(tmp_path)):
        jc.jit(model, backend="interp")(*args())
    (entries,) = dumped(tmp_path).values()
    assert [w for _, w, _ in entries] == ["traced.hlo"] + [n + ".hlo" for n in TRACE_NAMES] + \
        ["optimized.hlo"]


def test_print_after_named_passes(capsys):
    with config.override(print_after="fusion,layout"):
        jc.jit(model)(*args())
    out = capsys.readouterr().out
    headers = re.findall(r"^// model: IR after pass (\d+) \((\w+)\)$", out, re.M)
    first = len(TRACE_NAMES)
    assert headers == [(str(first + CPU_NAMES.index("layout") + 1), "layout"),
                       (str(first + CPU_NAMES.index("fusion") + 1), "fusion")]
    blocks = re.split(r"^// .*\n", out, flags=re.M)[1:]
    for block in blocks:
        verify_module(parse_module(block))
    assert "fusion(" in blocks[1] and "fusion(" not in blocks[0]


def test_print_after_as_a_tuple_and_all(capsys):
    with config.override(print_after=("traced",)):
        jc.jit(lambda x: x * 3)(np.ones(2))
    out = capsys.readouterr().out
    assert out.startswith("// lambda: IR as traced\nHloModule lambda")
    with config.override(print_after="all"):
        jc.jit(lambda x: x * 3)(np.ones(2))
    out = capsys.readouterr().out
    assert out.count("// lambda: IR") == 1 + len(TRACE_NAMES) + len(CPU_NAMES)


def test_print_after_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("JITCORE_PRINT_AFTER", "fusion,dce")
    assert config.from_env().print_after == "fusion,dce"


def test_nothing_is_printed_or_kept_by_default(capsys):
    seen = []
    with pipeline.observe(lambda n, m: seen.append(n)):
        jc.jit(lambda x: x - 1)(np.ones(2))
    assert capsys.readouterr().out == ""
    assert seen[0] == "traced"


def test_pass_texts_parse_back_to_the_same_module():
    module = jc.make_hlo(model)(*args())
    before = module.as_text()
    texts = []
    cpu_pipeline(module, after_pass=lambda n, m: texts.append(m.as_text()))
    for text in texts:
        assert parse_module(text).as_text() == text
    assert module.as_text() == before   # the pipeline works on a copy
