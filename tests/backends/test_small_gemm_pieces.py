"""The register-tiled GEMM (`cpu/small_gemm.py`) on pieces of products shared by a segment's
threads (`gemm._shared_gemm`), with row strides, and one definition per shape in a module.
Every figure is checked against NumPy in float64."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir as ll

import jitcore as jc
from tests.backends.test_small_gemm import close, native, needs_blas, rand
from xla_like.backends import runtime as backend_runtime
from xla_like.backends.cpu import gemm, small_gemm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_operands_equal_numpy_float64(dtype):
    """A block of larger row-major matrices: lda, ldb, ldc past the block's own widths; what
    lies beside the block in C is left as it was."""
    lanes = small_gemm.vector_bytes() // np.dtype(dtype).itemsize
    m, n, k = 9, 3 * lanes, 7
    a, b = rand(m, k + 3, dtype=dtype), rand(k, n + lanes, seed=1, dtype=dtype)
    c = np.full((m, n + 5), np.nan, dtype)
    mod = ll.Module("t")
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [ll.IntType(8).as_pointer()] * 3), "g")
    bld = ll.IRBuilder(fn.append_basic_block())
    fty = ll.DoubleType() if dtype == np.float64 else ll.FloatType()
    ptrs = [bld.bitcast(x, fty.as_pointer()) for x in fn.args]
    small_gemm.call(bld, mod, (m, n, k), np.dtype(dtype).itemsize, *ptrs,
                    strides=(k + 3, n + lanes, n + 5))
    bld.ret_void()
    engine, addr = native(mod)
    ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3)(addr)(a.ctypes.data, b.ctypes.data,
                                                          c.ctypes.data)
    del engine
    close(c[:, :n], a[:, :k].astype(np.float64) @ b[:, :n].astype(np.float64), dtype)
    assert np.isnan(c[:, n:]).all()


def test_one_definition_per_shape_and_strides():
    mod = ll.Module("t")
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [ll.FloatType().as_pointer()] * 3),
                     "g")
    bld = ll.IRBuilder(fn.append_basic_block())
    lanes = small_gemm.vector_bytes() // 4
    for mnk, strides in [((4, lanes, 3), None), ((4, lanes, 3), None),
                         ((4, lanes, 3), (3, lanes, lanes)), ((5, lanes, 3), None),
                         ((4, lanes, 3), (3, 2 * lanes, lanes))]:
        small_gemm.call(bld, mod, mnk, 4, *fn.args, strides=strides)
    bld.ret_void()
    defined = [f for f in mod.functions if not f.is_declaration and f.name != "g"]
    assert len(defined) == 3     # the default strides are (k, n, n): the second call's too


def shapes_called(monkeypatch):
    """Record the (m, n, k) of every `small_gemm.call` rendered from now on."""
    seen, real = [], small_gemm.call

    def spy(b, mod, mnk, *rest, **kw):
        seen.append(tuple(mnk))
        return real(b, mod, mnk, *rest, **kw)
    monkeypatch.setattr(small_gemm, "call", spy)
    return seen


@needs_blas
@pytest.mark.parametrize("split", ["pieces", "cols"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_pieces_equal_numpy_float64(monkeypatch, split, dtype):
    """A product of more than `THREADS_MIN_FLOPS` on two threads: cut into row pieces (64
    rows and a last one of 56) or column pieces (whole ones and a shorter last one), each
    through the register-tiled kernel."""
    lanes = small_gemm.vector_bytes() // np.dtype(dtype).itemsize
    m, k = 120, 137
    n = (-(-gemm.THREADS_MIN_FLOPS // (2 * m * k)) // lanes + 1) * lanes
    a, b = rand(m, k, dtype=dtype), rand(k, n, seed=1, dtype=dtype)
    monkeypatch.setattr(gemm, "SMALL_SPLIT", split)
    seen = shapes_called(monkeypatch)
    backend_runtime.clear_compiled_code()
    with jc.config.override(num_threads=2, cache=0):
        got = np.asarray(jc.jit(lambda x, y: x @ y)(a, b))
    close(got, a.astype(np.float64) @ b.astype(np.float64), dtype)
    if split == "pieces":
        assert (64, n, k) in seen and (56, n, k) in seen
    else:
        assert len(seen) >= 1 and all(s[0] == m and s[1] < n for s in seen)
