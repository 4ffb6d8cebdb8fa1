"""The register-tiled GEMM of small row-major products (`cpu/small_gemm.py`) and the pass that
transposes a loop's closed-over matrix once for the products reading it transposed
(`passes/loop_dot_layout.py`). Every figure is checked against NumPy in float64 (a loop in
NumPy for the scans), on shapes with remainders of every tile dimension."""
from __future__ import annotations

import copy
import ctypes

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir as ll

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from xla_like.backends.cpu import blas, small_gemm, target
from xla_like.backends.llvm import native as llvm_native
from xla_like.pipeline import run_pipeline

TOL = {np.float32: 3e-5, np.float64: 1e-12}


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close(got, want, dtype):
    scale = max(float(np.abs(want).max()), 1.0)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def native(mod, name="g"):
    """(engine, address of `name`) of the llvmlite module `mod`, optimized and compiled alone
    for the host (keep the engine alive while calling it)."""
    with llvm_native.locked():
        target.target_machine()      # initializes LLVM's native target
        parsed = llvm.parse_assembly(str(mod))
        tm = target.target_machine()
        target.optimize(parsed, tm)
        engine = llvm.create_mcjit_compiler(parsed, tm)
        engine.finalize_object()
        addr = engine.get_function_address(name)
    assert addr
    return engine, addr


def compiled(m, n, k, dtype, vbytes, strides=None):
    """(engine, C function) of `small_gemm.define` for one shape, compiled alone (`k` None:
    the kernel taking K and lda at run time, two more int64 arguments)."""
    mod = ll.Module("t")
    small_gemm.define(mod, "g", m, n, k, np.dtype(dtype).itemsize, vbytes,
                      strides).linkage = "external"
    engine, addr = native(mod)
    extra = [ctypes.c_int64] * 2 if k is None else []
    return engine, ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_void_p, *extra)(addr)


SHAPES = [(1, 1, 1), (3, 1, 5), (8, 2, 4), (9, 3, 7), (17, 5, 13), (8, 4, 1)]   # N in vectors


@pytest.mark.parametrize("vbytes", [32, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_equals_numpy_float64(dtype, vbytes):
    """Row, column-panel and K remainders, M = 1, K = 1; both tile sets (AVX2 and AVX-512)."""
    if vbytes == 64 and small_gemm.vector_bytes() < 64:
        pytest.skip("host without AVX-512")
    lanes = vbytes // np.dtype(dtype).itemsize
    for m, nv, k in SHAPES:
        n = nv * lanes
        a, b = rand(m, k, dtype=dtype), rand(k, n, seed=1, dtype=dtype)
        c = np.full((m, n), np.nan, dtype)
        engine, fn = compiled(m, n, k, dtype, vbytes)
        fn(a.ctypes.data, b.ctypes.data, c.ctypes.data)
        del engine
        close(c, a.astype(np.float64) @ b.astype(np.float64), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_with_run_time_k_and_lda(dtype):
    """K and A's row stride as arguments (a bucketed product over its dynamic axis): every K
    remainder of the 4-step unrolled loop, K below 4, K = 0 (C is zeros), and A read with a
    row stride larger than K (the rest of each row is NaN, never read)."""
    vbytes = small_gemm.vector_bytes()
    n = 2 * vbytes // np.dtype(dtype).itemsize
    m, lda = 9, 23
    engine, fn = compiled(m, n, None, dtype, vbytes, (None, n, n))
    for k in (0, 1, 2, 3, 4, 5, 7, 8, 13, 23):
        a = np.full((m, lda), np.nan, dtype)
        a[:, :k] = rand(m, k, seed=k, dtype=dtype)
        b = rand(max(k, 1), n, seed=k + 1, dtype=dtype)[:k]
        b = np.ascontiguousarray(b)
        c = np.full((m, n), np.nan, dtype)
        fn(a.ctypes.data, b.ctypes.data if k else rand(1, n).ctypes.data, c.ctypes.data, k, lda)
        close(c, a[:, :k].astype(np.float64) @ b.astype(np.float64), dtype)
    del engine


def dot_steps(f, *args):
    from tests.helpers import plan_of
    from xla_like.backends.cpu.control import nested_steps
    return [s for s in nested_steps(plan_of(jc.jit(f), *args).steps) if s.kind == "dot"]


needs_blas = pytest.mark.skipif(not blas.available(), reason="no BLAS: dots use loop kernels")


@needs_blas
def test_jit_products_take_the_path_they_fit():
    lanes = small_gemm.vector_bytes() // 4
    a, b = rand(5, 7), rand(7, 3 * lanes, seed=1)
    (step,) = dot_steps(lambda x, y: x @ y, a, b)
    assert small_gemm.fits(step)
    close(np.asarray(jc.jit(lambda x, y: x @ y)(a, b)), a.astype(np.float64) @ b, np.float32)
    # Transposed operands, a batch, a ragged N: BLAS.
    for f, args in [(lambda x, y: x @ y.T, (a, rand(3 * lanes, 7))),
                    (lambda x, y: x.T @ y, (rand(7, 5), b)),
                    (lambda x, y: x @ y, (rand(2, 5, 7), rand(2, 7, lanes))),
                    (lambda x, y: x @ y, (a, rand(7, lanes + 1)))]:
        (step,) = dot_steps(f, *args)
        assert not small_gemm.fits(step)


def rnn_backward_like(w, g0, xs):
    """A scan whose body multiplies by W.T (a const) each step: h = tanh(h @ W.T + x), the
    product contracting W's last axis (as reverse mode writes `g @ W.T`; a `w.T` would be a
    transpose that `licm` moves out of the loop by itself)."""
    def cell(h, x):
        h = jnp.tanh(lax.dot_general(h, w, (((1,), (1,)), ((), ()))) + x)
        return h, h
    return lax.scan(cell, g0, xs)


def rnn_numpy(w, g0, xs):
    h, hs = g0.astype(np.float64), []
    for x in xs.astype(np.float64):
        h = np.tanh(h @ w.astype(np.float64).T + x)
        hs.append(h)
    return h, np.stack(hs)


def kernel_module(f, *args):
    module = jc.make_hlo(f)(*args)
    module, _ = run_pipeline(copy.deepcopy(module), "kernel")
    return module


@needs_blas
def test_loop_const_transposed_once_before_the_scan():
    lanes = small_gemm.vector_bytes() // 4
    h = 2 * lanes
    w = (rand(h, h) / np.sqrt(h)).astype(np.float32)
    g0, xs = rand(3, h, seed=1), rand(6, 3, h, seed=2)
    module = kernel_module(rnn_backward_like, w, g0, xs)
    entry = module.entry
    scan = next(i for i in entry.instructions if i.opcode == "scan")
    body = scan.called[0]
    (dot,) = [i for i in body.instructions if i.opcode == "dot_general"]
    assert dot.attrs["dimension_numbers"][0][1] == (0,)       # contracts W.T's first axis
    assert dot.operands[1].opcode == "parameter"
    # The transposed copy is made outside the loop (a transpose, possibly fused).
    const = scan.operands[dot.operands[1].attrs["index"]]
    assert const.opcode in ("transpose", "fusion")
    (step,) = [s for s in dot_steps(rnn_backward_like, w, g0, xs)]
    assert small_gemm.fits(step)
    out = jc.jit(rnn_backward_like)(w, g0, xs)
    for got, want in zip(out, rnn_numpy(w, g0, xs)):
        close(np.asarray(got), want, np.float32)


@needs_blas
def test_short_scan_left_alone():
    h = 16
    w, g0 = rand(h, h), rand(3, h, seed=1)
    module = kernel_module(rnn_backward_like, w, g0, rand(2, 3, h, seed=2))   # 2 steps
    scan = next(i for i in module.entry.instructions if i.opcode == "scan")
    (dot,) = [i for i in scan.called[0].instructions if i.opcode == "dot_general"]
    assert dot.attrs["dimension_numbers"][0][1] == (1,)


@needs_blas
def test_fori_loop_with_transposed_const_equals_numpy_loop():
    lanes = small_gemm.vector_bytes() // 4
    h = lanes
    w, v0 = (rand(h, h) / np.sqrt(h)).astype(np.float32), rand(5, h, seed=1)

    def f(w, v):
        return lax.fori_loop(0, 7, lambda i, v: jnp.sin(
            lax.dot_general(v, w, (((1,), (1,)), ((), ())))) + 0.1 * i, v)
    want = v0.astype(np.float64)
    for i in range(7):
        want = np.sin(want @ w.astype(np.float64).T) + 0.1 * i
    close(np.asarray(jc.jit(f)(w, v0)), want, np.float32)
