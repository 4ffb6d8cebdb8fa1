"""The one table of `JITCORE_*` settings: every name the code mentions is in it and in the
README, nothing reads the environment around it, and `override` reaches the backends."""
from __future__ import annotations

import ast
import pathlib
import re
import threading

import numpy as np

import jitcore as jc
from jitcore import config
from xla_like.backends import cpu
from xla_like.backends.cpu import pool as cpu_pool

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCANNED = ("jitcore", "ops", "xla_like", "examples", "benchmarks", "tests")
NAME = re.compile(r"JITCORE_[A-Z0-9_]*[A-Z0-9]")
TABLE_FILE = ROOT / "xla_like" / "settings.py"


def _sources():
    for folder in SCANNED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _names_in(text):
    return set(NAME.findall(text))


def _readme_table_names():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return _names_in("\n".join(rows))


def test_name_scan_finds_names_and_only_names():
    text = 'os.environ["JITCORE_CUDA_ARCH"] = x  # JITCORE_* and `JITCORE_DEBUG=1`'
    assert _names_in(text) == {"JITCORE_CUDA_ARCH", "JITCORE_DEBUG"}


def test_every_name_in_the_code_is_in_the_table_and_the_readme():
    table = set(config.ENV.values())
    readme = _readme_table_names()
    missing = {}
    for path in _sources():
        for name in _names_in(path.read_text()):
            where = [w for w, names in (("table", table), ("README", readme))
                     if name not in names]
            if where:
                missing[f"{path.relative_to(ROOT)}: {name}"] = where
    assert not missing, f"JITCORE_* names missing from the settings table or README: {missing}"
    assert readme == table, f"README rows without a setting: {sorted(readme - table)}"


def _environment_reads(tree):
    """(line, name) of each `os.environ.get("JITCORE_...")`, `os.getenv(...)` and
    `os.environ["JITCORE_..."]` read in `tree`."""
    found = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args:
            fn = ast.unparse(node.func)
            if fn in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and \
                ast.unparse(node.value) in ("os.environ", "environ"):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and \
                NAME.fullmatch(key.value):
            found.append((node.lineno, key.value))
    return found


def test_environment_read_scan_sees_each_form():
    # A child process's environment may name settings: only reads count.
    tree = ast.parse('import os\nos.environ.get("JITCORE_DEBUG")\nos.getenv("JITCORE_DUMP")\n'
                     'os.environ["JITCORE_CACHE"]\nos.environ["JITCORE_BACKEND"] = "1"\n'
                     'dict(os.environ, JITCORE_CHECKS="1")\n')
    assert sorted(n for _, n in _environment_reads(tree)) == ["JITCORE_CACHE", "JITCORE_DEBUG",
                                                               "JITCORE_DUMP"]


def test_only_the_table_reads_the_environment():
    reads = []
    for path in _sources():
        if path == TABLE_FILE or path.parts[-2] == "tests" and path.name == "conftest.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        reads += [f"{path.relative_to(ROOT)}:{line}: {name}"
                  for line, name in _environment_reads(tree)]
    assert not reads, f"read the setting instead (xla_like.settings.settings): {reads}"


def test_override_reaches_the_cpu_thread_count_for_this_thread_only():
    default = cpu_pool.threads()
    seen = []
    with config.override(num_threads=3):
        assert cpu_pool.threads() == 3
        worker = threading.Thread(target=lambda: seen.append(cpu_pool.threads()))
        worker.start()
        worker.join()
    assert seen == [default] and cpu_pool.threads() == default


def test_num_threads_sets_compiled_plans_and_caps_calls(monkeypatch):
    calls = []
    run = cpu_pool.ThreadPool.try_run

    def counted(self, fn, ptrs, externs, nthreads, counter, *rest):
        calls.append(nthreads)
        return run(self, fn, ptrs, externs, nthreads, counter, *rest)
    monkeypatch.setattr(cpu_pool.ThreadPool, "try_run", counted)
    x = np.linspace(0.0, 1.0, 1 << 18)        # past the work a kernel splits over threads
    f = jc.jit(lambda v: v * 2.0 + 1.0)
    module = f.lower(x).module
    for n in (1, 2):
        with config.override(num_threads=n):
            assert cpu.compile(module).plan.threads == n
    with config.override(num_threads=2):
        np.testing.assert_array_equal(f(x), x * 2.0 + 1.0)
    assert calls == [2]
    with config.override(num_threads=1):      # the same program, now on one thread
        np.testing.assert_array_equal(f(x), x * 2.0 + 1.0)
    assert calls == [2] and f.cache_info().compiles == 1
