"""`jitcore.print_environment_info()`: versions, CPU, BLAS, threads, cache and GPU rows, each
checked against what the library in question reports itself."""
from __future__ import annotations

import os

import llvmlite
import numpy as np
from llvmlite import binding as llvm

import jitcore as jc
from jitcore import config
from xla_like.backends.cpu import blas


def _rows(text):
    return dict(line.split(":", 1) for line in text.splitlines())


def test_return_string_and_print_give_the_same_text(capsys):
    text = jc.print_environment_info(return_string=True)
    assert isinstance(text, str) and text.endswith("\n")
    assert jc.print_environment_info() is None
    assert capsys.readouterr().out == text


def test_versions_cpu_and_llvm():
    rows = {k: v.strip() for k, v in _rows(jc.print_environment_info(True)).items()}
    assert rows["jitcore"] == jc.__version__
    assert rows["numpy"] == np.__version__
    llvm_version = ".".join(map(str, llvm.llvm_version_info))
    assert rows["llvmlite"] == f"{llvmlite.__version__} (LLVM {llvm_version})"
    assert rows["target"].endswith(f"CPU {llvm.get_host_cpu_name()}")
    enabled = {f[1:] for f in llvm.get_host_cpu_features().flatten().split(",")
               if f.startswith("+")}
    assert set(rows["CPU features"].split()) == enabled
    assert rows["backend"].startswith(config.settings.backend)


def test_blas_kernel_family_and_threads():
    rows = {k: v.strip() for k, v in _rows(jc.print_environment_info(True)).items()}
    if not blas.available():
        assert rows["BLAS"].startswith("none found")
        return
    c = blas.load().config()
    assert f"kernels {c['corename'] or c['coretype']}" in rows["BLAS"]
    assert rows["BLAS config"] == (c["config"] or "not reported")
    assert rows["BLAS library"] == c["path"]
    with config.override(num_threads=3):
        rows = {k: v.strip() for k, v in _rows(jc.print_environment_info(True)).items()}
    assert rows["threads"].startswith("3 for kernels")
    assert f"{len(os.sched_getaffinity(0))} cores usable" in rows["threads"]


def test_cache_folder_and_its_size(tmp_path):
    (tmp_path / "a.jco").write_bytes(b"x" * (1 << 20))
    (tmp_path / "b.jco").write_bytes(b"x" * (1 << 19))
    with config.override(cache_dir=str(tmp_path)):
        rows = _rows(jc.print_environment_info(True))
    assert rows["cache"].strip() == f"{tmp_path}: 2 files, 1.5 MiB"
    with config.override(cache_dir=str(tmp_path), cache=0):
        rows = _rows(jc.print_environment_info(True))
    assert "off" in rows["cache"]


def test_gpu_row_says_why_when_there_is_none():
    from xla_like.backends import runtime
    rows = _rows(jc.print_environment_info(True))
    reason = runtime.gpu_unavailable_reason()
    if reason is None:
        assert rows["GPU 0"].strip() == runtime.gpu_name(0)
    else:
        assert rows["GPU"].strip() == f"none usable: {reason}"
