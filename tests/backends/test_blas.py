"""jitcore's own OpenBLAS (xla_like/backends/cpu/blas.py): GEMM against NumPy in float64, the raw
entry points native code calls, and the core-type choice (override and host detection; loading
happens once per process, so those run in subprocesses)."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jitcore import config
from xla_like.backends.cpu import blas as blas_mod

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def blas():
    # A Python without the declared dependency (not the project's venv) skips; CI, which installs
    # the project's dependencies, must not hide a missing one.
    if not blas_mod.available() and not os.environ.get("CI"):
        pytest.skip("scipy-openblas64 is not installed in this Python (pip install -e .)")
    return blas_mod.load()


def _tol(dtype, k):
    eps = np.finfo(dtype).eps
    return dict(rtol=8 * eps, atol=8 * eps * max(k, 1))


def _rand(rng, shape, dtype):
    return rng.uniform(-1, 1, shape).astype(dtype)


def _reference(a, b, trans_a, trans_b, alpha=1.0, beta=0.0, c=None):
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    r = alpha * (a64 @ b64)
    return r if c is None else r + beta * c.astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (3, 5, 4), (17, 1, 9), (1, 13, 2), (64, 33, 100)])
def test_gemm_matches_numpy(blas, dtype, trans_a, trans_b, m, n, k):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = _rand(rng, (k, m) if trans_a else (m, k), dtype)
    b = _rand(rng, (n, k) if trans_b else (k, n), dtype)
    got = blas.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, _reference(a, b, trans_a, trans_b), **_tol(dtype, k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_alpha_beta_into_out(blas, dtype, trans_a, trans_b):
    rng = np.random.default_rng(7)
    m, n, k = 6, 9, 5
    a = _rand(rng, (k, m) if trans_a else (m, k), dtype)
    b = _rand(rng, (n, k) if trans_b else (k, n), dtype)
    c = _rand(rng, (m, n), dtype)
    out = c.copy()
    got = blas.gemm(a, b, out=out, trans_a=trans_a, trans_b=trans_b, alpha=-0.5, beta=2.0)
    assert got is out
    want = _reference(a, b, trans_a, trans_b, alpha=-0.5, beta=2.0, c=c)
    np.testing.assert_allclose(out, want, **_tol(dtype, k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_beta_zero_ignores_nan_in_out(blas, dtype):
    rng = np.random.default_rng(1)
    a, b = _rand(rng, (4, 3), dtype), _rand(rng, (3, 5), dtype)
    out = np.full((4, 5), np.nan, dtype)
    blas.gemm(a, b, out=out)
    np.testing.assert_allclose(out, _reference(a, b, False, False), **_tol(dtype, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_empty(blas, dtype):
    rng = np.random.default_rng(2)
    # k == 0: the product is all zeros, so only beta * out remains.
    c = _rand(rng, (4, 3), dtype)
    out = c.copy()
    blas.gemm(np.ones((4, 0), dtype), np.ones((0, 3), dtype), out=out, beta=0.5)
    np.testing.assert_allclose(out, 0.5 * c.astype(np.float64), **_tol(dtype, 1))
    out = np.full((4, 3), np.nan, dtype)
    blas.gemm(np.ones((0, 4), dtype), np.ones((3, 0), dtype), out=out, trans_a=True, trans_b=True)
    np.testing.assert_array_equal(out, np.zeros((4, 3), dtype))
    # m == 0 and n == 0: nothing to compute.
    assert blas.gemm(np.ones((0, 5), dtype), np.ones((5, 3), dtype)).shape == (0, 3)
    assert blas.gemm(np.ones((5, 0), dtype), np.ones((5, 3), dtype), trans_a=True).shape == (0, 3)
    assert blas.gemm(np.ones((2, 5), dtype), np.ones((5, 0), dtype)).dtype == dtype
    assert blas.gemm(np.ones((0, 0), dtype), np.ones((0, 0), dtype)).shape == (0, 0)


def test_gemm_strided_fortran_and_aliased(blas):
    rng = np.random.default_rng(3)
    x, y = _rand(rng, (12, 7), np.float64), _rand(rng, (7, 10), np.float64)
    tol = _tol(np.float64, 7)
    # Row-strided and column-major operands are passed in place with their leading dimension.
    np.testing.assert_allclose(blas.gemm(x[::2], y[:, 2:8]), x[::2] @ y[:, 2:8], **tol)
    np.testing.assert_allclose(blas.gemm(np.asfortranarray(x), y), x @ y, **tol)
    np.testing.assert_allclose(blas.gemm(x.T, y, trans_a=True), x @ y, **tol)
    # Neither axis unit-strided: copied.
    np.testing.assert_allclose(blas.gemm(x[::2, ::2], y[::2]), x[::2, ::2] @ y[::2], **tol)
    # A sub-block of a bigger out is written in place, the rest untouched.
    big = np.zeros((14, 12))
    blas.gemm(x, y, out=big[1:13, 2:12])
    np.testing.assert_allclose(big[1:13, 2:12], x @ y, **tol)
    assert not big[0].any() and not big[:, :2].any() and not big[13].any()
    # out overlapping an input, and a column-major out, go through a temporary.
    sq = _rand(rng, (5, 5), np.float64)
    want = sq @ sq + 3 * sq
    blas.gemm(sq, sq, out=sq, beta=3.0)
    np.testing.assert_allclose(sq, want, **_tol(np.float64, 5))
    fout = np.asfortranarray(np.zeros((12, 10)))
    blas.gemm(x, y, out=fout)
    np.testing.assert_allclose(fout, x @ y, **tol)


def test_gemm_errors(blas):
    f32, f64 = np.ones((2, 3), np.float32), np.ones((3, 4), np.float64)
    with pytest.raises(TypeError, match="float32 and float64"):
        blas.gemm(f32, f64)
    with pytest.raises(TypeError, match="int64"):
        blas.gemm(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64))
    with pytest.raises(ValueError, match=r"op\(a\) is 2x3, op\(b\) is 4x3"):
        blas.gemm(np.ones((2, 3)), np.ones((3, 4)), trans_b=True)
    with pytest.raises(ValueError, match="2-D"):
        blas.gemm(np.ones((2, 3, 1)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="pass out="):
        blas.gemm(np.ones((2, 3)), np.ones((3, 4)), beta=1.0)
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        blas.gemm(np.ones((2, 3)), np.ones((3, 4)), out=np.ones((4, 2)))
    ro = np.zeros((2, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        blas.gemm(np.ones((2, 3)), np.ones((3, 4)), out=ro)


@pytest.mark.parametrize("name,dtype", [("sgemm", np.float32), ("dgemm", np.float64)])
def test_address_called_with_documented_signature(blas, name, dtype):
    addr = blas.address(name)
    assert isinstance(addr, int) and addr
    assert blas.symbol(name) == f"scipy_cblas_{name}" + ("64_" if blas.int_bits == 64 else "")
    assert addr == ctypes.cast(getattr(ctypes.CDLL(blas.path), blas.symbol(name)), ctypes.c_void_p).value
    i = ctypes.c_int64 if blas.int_bits == 64 else ctypes.c_int32
    s = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    p, e = ctypes.c_void_p, ctypes.c_int
    fn = ctypes.CFUNCTYPE(None, e, e, e, i, i, i, s, p, i, p, i, s, p, i)(addr)
    rng = np.random.default_rng(4)
    a, b = _rand(rng, (5, 3), dtype), _rand(rng, (4, 5), dtype)  # C = 2 * A^T @ B^T, 3x4
    c = np.empty((3, 4), dtype)
    fn(blas_mod.ROW_MAJOR, blas_mod.TRANS, blas_mod.TRANS, 3, 4, 5, 2.0,
       a.ctypes.data, 3, b.ctypes.data, 5, 0.0, c.ctypes.data, 4)
    np.testing.assert_allclose(c, 2 * (a.T.astype(np.float64) @ b.T), **_tol(dtype, 5))
    with pytest.raises(KeyError, match="zgemm"):
        blas.address("zgemm")


def test_address_called_from_llvm_ir(blas):
    import llvmlite.binding as llvm

    ity = f"i{blas.int_bits}"
    ir_text = f"""
    define void @mm(ptr %a, ptr %b, ptr %c, {ity} %m, {ity} %n, {ity} %k) {{
      %f = inttoptr i64 {blas.address("dgemm")} to ptr
      call {blas.llvm_function_type("dgemm")} %f(i32 101, i32 111, i32 111, {ity} %m, {ity} %n,
          {ity} %k, double 1.0, ptr %a, {ity} %k, ptr %b, {ity} %n, double 0.0, ptr %c, {ity} %n)
      ret void
    }}"""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    i = ctypes.c_int64 if blas.int_bits == 64 else ctypes.c_int32
    p = ctypes.c_void_p
    mm = ctypes.CFUNCTYPE(None, p, p, p, i, i, i)(engine.get_function_address("mm"))
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    c = np.empty((6, 3))
    mm(a.ctypes.data, b.ctypes.data, c.ctypes.data, 6, 3, 4)
    np.testing.assert_allclose(c, a @ b, rtol=1e-13, atol=1e-13)


def test_config_threads_and_availability(blas):
    assert blas_mod.available()
    assert blas_mod.load() is blas
    cfg = blas.config()
    assert cfg["path"] == blas.path and os.path.exists(blas.path)
    assert cfg["int_bits"] in (32, 64) and cfg["coretype"] == blas.coretype
    assert cfg["corename"] and cfg["corename"] in cfg["config"]
    before = blas.get_num_threads()
    try:
        blas.set_num_threads(1)
        assert blas.get_num_threads() == 1
        np.testing.assert_allclose(blas.gemm(np.eye(3), np.arange(9.0).reshape(3, 3)),
                                   np.arange(9.0).reshape(3, 3))
    finally:
        blas.set_num_threads(before)
    assert blas.get_num_threads() == before
    with pytest.raises(ValueError, match=">= 1"):
        blas.set_num_threads(0)


def test_missing_package_raises_clear_error():
    with pytest.raises(blas_mod.BlasUnavailableError, match="pip install scipy-openblas64") as e:
        blas_mod._load_uncached(builds=(("jitcore_no_such_openblas", "", 32),))
    assert "jitcore_no_such_openblas: not installed" in str(e.value)


def test_choose_coretype_rules(monkeypatch):
    avx512 = dict.fromkeys(["avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq"], True)
    avx2 = {"avx2": True, "fma": True, "avx512f": False}
    assert blas_mod.choose_coretype(avx512, "")[0] == "SkylakeX"
    assert blas_mod.choose_coretype(dict(avx512, avx512bw=False), "")[0] == "Haswell"
    assert blas_mod.choose_coretype(avx2, "")[0] == "Haswell"
    assert blas_mod.choose_coretype({"avx2": True, "fma": False}, "")[0] is None
    assert blas_mod.choose_coretype({"sse4.2": True}, "")[0] is None
    assert blas_mod.choose_coretype(avx512, "Sandybridge") == ("Sandybridge", "JITCORE_BLAS_CORETYPE=Sandybridge")
    assert blas_mod.choose_coretype(avx512, "auto")[0] is None
    # The setting is read when no value is passed.
    with config.override(blas_coretype="Sandybridge"):
        assert blas_mod.choose_coretype(avx512)[0] == "Sandybridge"
    # OPENBLAS_CORETYPE alone is what this module exists to override.
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert blas_mod.choose_coretype(avx512, "")[0] == "SkylakeX"


def _host_core():
    features = blas_mod.host_cpu_features() or {}
    if all(features.get(f) for f in ("avx512f", "avx512vl", "avx512bw", "avx512dq")):
        return "SkylakeX"
    if features.get("avx2") and features.get("fma"):
        return "Haswell"
    return None


def test_host_gets_its_best_core(blas):
    if config.settings.blas_coretype:
        pytest.skip("JITCORE_BLAS_CORETYPE is set in this environment")
    want = _host_core()
    if want is None:
        pytest.skip("host has neither AVX-512 nor AVX2+FMA: OpenBLAS detects the core itself")
    assert blas.coretype == want
    assert blas.corename == want  # what OpenBLAS actually runs, not just what was asked for


_PROBE = """
import json, os, warnings
warnings.simplefilter("error")
{pre}
from xla_like.backends.cpu import blas
b = blas.load()
print(json.dumps(dict(corename=b.corename, coretype=b.coretype, preloaded=b.preloaded,
                      env=os.environ.get("OPENBLAS_CORETYPE"))))
"""


def _probe(env_updates, pre=""):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", config.ENV["blas_coretype"])}
    env.update(env_updates)
    r = subprocess.run([sys.executable, "-c", _PROBE.format(pre=pre)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    return r


def test_override_is_honoured_and_environment_restored(blas):
    if _host_core() is None:
        pytest.skip("forcing Haswell needs AVX2+FMA")
    r = _probe({config.ENV["blas_coretype"]: "Haswell", "OPENBLAS_CORETYPE": "Prescott"})
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == dict(corename="Haswell", coretype="Haswell", preloaded=False, env="Prescott")


def test_environment_coretype_is_not_what_decides(blas):
    want = _host_core()
    if want is None:
        pytest.skip("host has neither AVX-512 nor AVX2+FMA")
    r = _probe({"OPENBLAS_CORETYPE": "Sandybridge"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == dict(corename=want, coretype=want, preloaded=False,
                                        env="Sandybridge")


def test_preloaded_library_warns(blas):
    if _host_core() is None:
        pytest.skip("needs AVX2+FMA")
    pre = f"import {blas_mod._BUILDS[0][0]}"
    r = _probe({"OPENBLAS_CORETYPE": "Sandybridge"}, pre=pre)
    assert r.returncode != 0 and "RuntimeWarning" in r.stderr and "already loaded" in r.stderr
