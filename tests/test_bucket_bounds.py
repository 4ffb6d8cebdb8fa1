"""Bucketed calls stop at the true size along every dynamic axis, not only the leading one.

`passes/masking.py` marks each value's padded axes (`ir.Shape.valid_dims`); the CPU backend's
kernels loop to the true extent of every such axis past the first, and GEMMs run with the true
M, N and K. Results must stay those of the exact-shape call: checked against NumPy float64 at
sizes across several buckets (odd sizes, bucket edges, 1 and 0), for columns, contractions,
batched products, integers (no BLAS), and NaN propagation through max/argmax along a dynamic
column axis. A structural check confirms the run-time bounds reach the kernels and GEMMs.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp

SIZES = [0, 1, 2, 3, 5, 31, 33, 63, 64, 65, 100, 257]


def close(got, want, dtype, err=""):
    got = np.asarray(got)
    assert got.shape == want.shape, (err, got.shape, want.shape)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol, err_msg=err)


def softmax_np(s, axis=-1):
    e = np.exp(s - s.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def attention(q, k, v):
    return jax.nn.softmax(q @ k.T, axis=-1) @ v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_every_size(dtype):
    f = jax.jit(attention, dynamic_axes={"q": 0, "k": 0, "v": 0})
    exact = jax.jit(attention, auto_dynamic=0)
    for n in SIZES:
        rng = np.random.default_rng(n)
        q, k, v = ((0.5 * rng.standard_normal((n, 8))).astype(dtype) for _ in range(3))
        q64, k64, v64 = (a.astype(np.float64) for a in (q, k, v))
        want = softmax_np(q64 @ k64.T) @ v64 if n else np.zeros((0, 8))
        got = f(q, k, v)
        close(got, want, dtype, f"n={n}")
        close(exact(q, k, v), want, dtype, f"exact n={n}")
    assert f.cache_info().exact_fallbacks == 0


def test_column_axis_elementwise_and_reductions():
    """x of (7, n) dynamic on axis 1: an elementwise result, row reductions along it."""
    def f(x):
        y = jnp.exp(x) * 0.5 - x
        return y, y.sum(1), jnp.max(x, axis=1), jnp.argmax(x, axis=1), \
            jax.nn.softmax(x, axis=1)
    g = jax.jit(f, dynamic_axes={"x": 1})
    for n in SIZES:
        if n == 0:
            continue          # max over an empty axis has no value
        for dtype in (np.float32, np.float64):
            x = np.random.default_rng(n).standard_normal((7, n)).astype(dtype)
            x64 = x.astype(np.float64)
            y = np.exp(x64) * 0.5 - x64
            got = g(x)
            close(got[0], y, dtype, f"n={n}")
            close(got[1], y.sum(1), dtype, f"n={n}")
            close(got[2], x64.max(1), dtype, f"n={n}")
            np.testing.assert_array_equal(np.asarray(got[3]), x.argmax(1))
            close(got[4], softmax_np(x64, 1), dtype, f"n={n}")


def test_column_axis_nan_propagation():
    def f(x):
        return jnp.max(x, axis=1), jnp.argmax(x, axis=1), jnp.exp(x)
    g = jax.jit(f, dynamic_axes={"x": 1})
    for n in (3, 33, 65, 100):
        x = np.random.default_rng(n).standard_normal((4, n))
        x[1, n // 2] = np.nan
        x[2, n - 1] = np.nan
        m, a, e = g(x)
        np.testing.assert_array_equal(np.asarray(m), x.max(1))   # NaN rows stay NaN
        np.testing.assert_array_equal(np.asarray(a), np.argmax(x, 1))
        close(e, np.exp(x), np.float64, f"n={n}")      # NaN where x is, else exp to 1 ulp


def test_contraction_over_dynamic_axis():
    """x (m, n) @ w (n, p), both dynamic on n: GEMM with the true K; also a static-K product
    with a dynamic N (columns) and an outer product with both axes dynamic."""
    def f(x, w, u):
        return x @ w, jnp.tanh(x.T @ x), jnp.outer(u, u).sum(1)
    g = jax.jit(f, dynamic_axes={"x": 1, "w": 0, "u": 0})
    for n in SIZES[1:]:
        rng = np.random.default_rng(n)
        x, w = rng.standard_normal((9, n)), rng.standard_normal((n, 4))
        u = rng.standard_normal(n)
        a, b, c = g(x, w, u)
        close(a, x @ w, np.float64, f"n={n}")
        close(b, np.tanh(x.T @ x), np.float64, f"n={n}")
        close(c, np.outer(u, u).sum(1), np.float64, f"n={n}")


def test_batched_attention_heads():
    """(heads, n, d) dynamic on axis 1: batched GEMMs with true M, N and K."""
    def f(q, k, v):
        s = jnp.einsum("hnd,hmd->hnm", q, k)
        return jnp.einsum("hnm,hmd->hnd", jax.nn.softmax(s, axis=-1), v)
    g = jax.jit(f, dynamic_axes={"q": 1, "k": 1, "v": 1})
    for n in (2, 5, 33, 64, 100):
        rng = np.random.default_rng(n)
        q, k, v = (rng.standard_normal((3, n, 4)) for _ in range(3))
        want = np.einsum("hnm,hmd->hnd", softmax_np(np.einsum("hnd,hmd->hnm", q, k)), v)
        close(g(q, k, v), want, np.float64, f"n={n}")


def test_integer_products_and_columns():
    """Integer dots take the native (non-BLAS) kernel: the padding they contract stays
    zero-filled."""
    def f(x, y):
        return x @ y, (x * 3 + 1).sum(1), x.max(1)
    g = jax.jit(f, dynamic_axes={"x": 1, "y": 0})
    for n in (1, 2, 3, 33, 65):
        rng = np.random.default_rng(n)
        x = rng.integers(-50, 50, (5, n)).astype(np.int32)
        y = rng.integers(-50, 50, (n, 6)).astype(np.int32)
        a, b, c = g(x, y)
        np.testing.assert_array_equal(np.asarray(a), x @ y)
        np.testing.assert_array_equal(np.asarray(b), (x * 3 + 1).sum(1))
        np.testing.assert_array_equal(np.asarray(c), x.max(1))


def test_gradient_through_bucketed_scores():
    """grad of sum(tanh(q k^T) v): the backward GEMMs contract and produce dynamic axes."""
    def loss(q, k, v):
        return jnp.sum((jnp.tanh(q @ k.T) @ v) ** 2)

    def ref(q, k, v):
        return float(np.sum((np.tanh(q @ k.T) @ v) ** 2))
    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), dynamic_axes={"q": 0, "k": 0, "v": 0})
    for n in (3, 40, 100):
        rng = np.random.default_rng(n)
        args = [0.5 * rng.standard_normal((n, 6)) for _ in range(3)]
        grads = [np.asarray(a) for a in g(*args)]
        for which, (i, j) in ((0, (n - 1, 2)), (1, (0, 5)), (2, (n // 2, 1))):
            eps = 1e-6
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[which][i, j] += eps
            minus[which][i, j] -= eps
            fd = (ref(*plus) - ref(*minus)) / (2 * eps)
            assert abs(grads[which][i, j] - fd) < 1e-5 * max(1, abs(fd)), (n, which)


def test_run_time_bounds_reach_kernels_and_gemms(monkeypatch):
    """The bucketed attention's softmax kernel takes the column bound and both GEMMs run with
    run-time sizes (M and N for q k^T; M and K for p v)."""
    render = importlib.import_module("xla_like.backends.cpu.render")
    gemm = importlib.import_module("xla_like.backends.cpu.gemm")
    seen = {"fusion": [], "blas": [], "prologue": []}
    emit, call = render.emit_fusion, render._call_blas
    emit_g = gemm.emit_fusion

    def spy_emit(*a, **kw):
        seen["fusion"].append(kw.get("bounds", ()))
        return emit(*a, **kw)

    def spy_emit_g(*a, **kw):
        seen["prologue"].append(kw.get("bounds", ()))
        return emit_g(*a, **kw)

    def spy_call(*a, **kw):
        seen["blas"].append(tuple(s is not None for s in kw.get("sizes") or (None,) * 3))
        return call(*a, **kw)

    monkeypatch.setattr(render, "emit_fusion", spy_emit)
    monkeypatch.setattr(render, "_call_blas", spy_call)
    monkeypatch.setattr(gemm, "emit_fusion", spy_emit_g)

    def unique_attention(q, k, v):    # a program no other test compiles (no cached code)
        return jax.nn.softmax((q @ k.T) * 0.371, axis=-1) @ v
    f = jax.jit(unique_attention, dynamic_axes={"q": 0, "k": 0, "v": 0})
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((300, 48)).astype(np.float32) for _ in range(3))
    want = softmax_np((q.astype(np.float64) @ k.T) * 0.371) @ v
    close(f(q, k, v), want, np.float32)
    if not seen["blas"]:
        pytest.skip("no BLAS library: GEMMs run as native kernels")
    assert (True, True, False) in seen["blas"]                  # q k^T: M, N (K = 48 static)
    assert any(s[0] and s[2] for s in seen["blas"])             # p v: M, K
    # The softmax is its own kernel or the second GEMM's prologue; either stops at n columns.
    assert (1,) in seen["fusion"] + seen["prologue"]


@pytest.mark.parametrize("donate", [False, True])
def test_pooled_padding_never_overwrites_live_results(donate):
    """Padded inputs reuse pooled buffers; a result that is (or views) one of them, as a
    donated input's memory can be, stays intact through later calls."""
    kw = {"donate_argnums": 0} if donate else {}
    f = jax.jit(lambda x: x + 1.0, dynamic_axes={"x": 0}, **kw)
    g = jax.jit(lambda x: x, dynamic_axes={"x": 0})
    kept = []
    for j in range(10):
        x = np.full((300 + j, 64), float(j))
        kept.append((j, f(x), g(x)))
    for j, a, b in kept:
        np.testing.assert_array_equal(np.asarray(a), np.full((300 + j, 64), j + 1.0))
        np.testing.assert_array_equal(np.asarray(b), np.full((300 + j, 64), float(j)))
