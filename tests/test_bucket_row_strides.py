"""Large buckets compile at a capacity a little past a power of two, and attention inside one
bucket reads nothing past the true size.

A power-of-two capacity (1024 float32 = 4 KiB) puts every row of an array with it as its
minor axis the same cache sets apart: a GEMM writing q k^T into rows of 1024 ran 1.13-1.19x
slower than into rows of n (`benchmarks/bucket_overhead.py --ldc`); `bucketing.capacity`
adds 16 elements from 128 up (rows of 1040: 1.00-1.02x). Checked: the capacities themselves,
that the bucketed attention's scores have that row length, and its results at several sizes
of the bucket 513..1024 against NumPy float64, also from capacity-shaped inputs whose padding
holds NaN (a GEMM or the softmax reading a padded row or column would return NaN).
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jax
from jitcore import bucketing


@pytest.mark.parametrize("hi", [128, 256, 512, 1024, 4096, 1 << 16])
def test_large_capacities_are_not_a_power_of_two_apart(hi):
    cap = bucketing.capacity(hi)
    assert hi < cap <= hi + 16
    for itemsize in (2, 4, 8):     # rows never a multiple of 1 KiB apart
        assert cap * itemsize % 1024 != 0


def test_small_capacities_are_the_bucket():
    assert [bucketing.capacity(h) for h in (2, 8, 64)] == [2, 8, 64]


def attention(q, k, v):
    return jax.nn.softmax((q @ k.T) * 0.125, axis=-1) @ v


def attention_np(q, k, v):
    s = (q @ k.T) * 0.125
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def qkv(n, dtype, d=16):
    rng = np.random.default_rng(n)
    return [rng.standard_normal((n, d)).astype(dtype) for _ in range(3)]


SIZES = [600, 513, 1000, 1024, 600]      # one bucket, 513..1024 (capacity 1040)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_within_one_bucket_matches_numpy(dtype):
    g = jax.jit(attention, dynamic_axes={"q": 0, "k": 0, "v": 0})
    tol = 1e-10 if dtype == np.float64 else 2e-5
    for n in SIZES:
        xs = qkv(n, dtype)
        for _ in range(2):       # the first call makes the plan, the second runs from it
            got = np.asarray(g(*xs), np.float64)
            assert got.shape == (n, 16)
            np.testing.assert_allclose(got, attention_np(*[x.astype(np.float64) for x in xs]),
                                       rtol=tol, atol=tol, err_msg=f"n={n}")
    info = g.cache_info()
    assert info.exact_fallbacks == 0
    assert len(g._axes.calls) == len(set(SIZES))
    (ex,) = {id(p.entry.executable): p.entry.executable for p in g._axes.calls.values()}.values()
    dims = [b.shape.dims for b in ex.plan.buffers]
    assert (1040, 1040) in dims and not any(1024 in d for d in dims)


def test_padding_holding_nan_is_never_read():
    """The executable run on capacity-shaped q, k, v whose padded rows are NaN."""
    g = jax.jit(attention, dynamic_axes={"q": 0, "k": 0, "v": 0})
    for n in (513, 777, 1000):
        xs = qkv(n, np.float64)
        g(*xs)
        (plan,) = [p for p in g._axes.calls.values() if int(p.sizes[0]) == n]
        ex = plan.entry.executable
        padded = []
        for x in xs:
            p = np.full((1040, 16), np.nan)
            p[:n] = x
            padded.append(p)
        (out,) = ex(plan.sizes + padded)
        got = out if plan.cuts[0] is None else out[plan.cuts[0]]
        np.testing.assert_allclose(got, attention_np(*xs), rtol=1e-10, atol=1e-10,
                                   err_msg=f"n={n}")
