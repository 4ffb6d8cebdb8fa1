"""Row kernels (softmax, layer norm, GELU + layer norm) on the CPU, and their row scratch: a
value several passes over the row read (`gelu(x)` under a layer norm, `exp(x - max)` in
softmax) is computed once per row into a stack row (`llvm.row_scratch`).

References are NumPy/SciPy in float64; odd sizes, one-element and empty rows, NaN rows."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import jitcore
import jitcore.numpy as jnp
from jitcore import lax, nn
from xla_like.backends.llvm.row_scratch import plan_row_scratch
from xla_like.backends.plan.kernel_shapes import is_reduction, outer_rank
from xla_like.backends.plan.planner import cpu_pipeline

RNG = np.random.default_rng(11)
SHAPES = [(37, 19), (5, 1), (1, 1), (1, 7), (3, 1023), (0, 6), (4, 3, 5)]
TOL = {np.float32: 5e-6, np.float64: 1e-13}


def _gelu64(x, approximate):
    x = x.astype(np.float64)
    if approximate:
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + special.erf(x / np.sqrt(2)))


def _layer_norm(h, g, c):
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean((h - mu) ** 2, axis=-1, keepdims=True)
    return (h - mu) * lax.rsqrt(var + 1e-5) * g + c


def _layer_norm64(h, g, c):
    mu = h.mean(-1, keepdims=True)
    var = ((h - mu) ** 2).mean(-1, keepdims=True)
    return (h - mu) / np.sqrt(var + 1e-5) * g.astype(np.float64) + c.astype(np.float64)


def _close(got, ref, dtype, scale=1.0):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype) and got.shape == ref.shape
    err = np.abs(got.astype(np.float64) - ref)
    bound = TOL[dtype] * scale * np.maximum(1.0, np.abs(ref))
    assert np.all(err <= bound), float(np.max(err / bound, initial=0))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", [True, False])
def test_gelu_matches_float64(shape, dtype, approximate):
    x = (3 * RNG.normal(size=shape)).astype(dtype)
    got = jitcore.jit(lambda a: nn.gelu(a, approximate=approximate))(x)
    _close(got, _gelu64(x, approximate), dtype, 2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", [True, False])
def test_gelu_layer_norm_matches_float64(shape, dtype, approximate):
    x = RNG.normal(size=shape).astype(dtype)
    g = (1 + 0.1 * RNG.normal(size=shape[-1])).astype(dtype)
    c = (0.1 * RNG.normal(size=shape[-1])).astype(dtype)
    f = jitcore.jit(lambda a, b, d: _layer_norm(nn.gelu(a, approximate=approximate), b, d))
    ref = _layer_norm64(_gelu64(x, approximate), g, c)
    # Normalizing divides by the row's spread: float32 rounding of h grows by up to ~1/std.
    _close(f(x, g, c), ref, dtype, 1 if dtype == np.float64 else 50)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_matches_float64(shape, dtype):
    x = (4 * RNG.normal(size=shape)).astype(dtype)
    z = x.astype(np.float64)
    e = np.exp(z - z.max(-1, keepdims=True)) if z.size else z
    ref = e / e.sum(-1, keepdims=True) if z.size else z
    _close(jitcore.jit(nn.softmax)(x), ref, dtype, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_nan_row_is_nan_and_other_rows_are_not(dtype):
    x = RNG.normal(size=(4, 33)).astype(dtype)
    x[1, 5] = np.nan
    x[2, 7] = np.inf
    got = np.asarray(jitcore.jit(nn.softmax)(x))
    assert np.all(np.isnan(got[1]))
    assert np.all(np.isnan(got[2]))     # inf - inf in the max-shifted exponent, as in JAX
    z = x[[0, 3]].astype(np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    _close(got[[0, 3]], e / e.sum(-1, keepdims=True), dtype, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduction_over_two_inner_axes(dtype):
    # A row of 3 x 5 elements: the scratch row is indexed by both inner axes.
    x = RNG.normal(size=(6, 3, 5)).astype(dtype)

    def f(a):
        t = jnp.tanh(a)
        mu = jnp.mean(t, axis=(1, 2), keepdims=True)
        return (t - mu) / (jnp.max(t, axis=(1, 2), keepdims=True) + 2)

    t = np.tanh(x.astype(np.float64))
    ref = (t - t.mean((1, 2), keepdims=True)) / (t.max((1, 2), keepdims=True) + 2)
    _close(jitcore.jit(f)(x), ref, dtype, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_read_at_another_row_is_computed_there(dtype):
    # `t[::-1]` reads t in the mirrored row, which the current row's scratch does not hold.
    x = RNG.normal(size=(7, 9)).astype(dtype)

    def f(a):
        t = jnp.exp(a)
        return t / jnp.sum(t, axis=-1, keepdims=True) + t[::-1]

    t = np.exp(x.astype(np.float64))
    _close(jitcore.jit(f)(x), t / t.sum(-1, keepdims=True) + t[::-1], dtype, 4)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_row_kernel(dtype):
    x = RNG.integers(-50, 50, size=(9, 13)).astype(dtype)
    got = np.asarray(jitcore.jit(lambda a: a * 3 - jnp.max(a * 3, axis=-1, keepdims=True))(x))
    ref = x.astype(np.int64) * 3
    np.testing.assert_array_equal(got, ref - ref.max(-1, keepdims=True))
    assert got.dtype == np.dtype(dtype)


def _scratch_plan(f, *args):
    """{pass: [opcodes]} the row kernel of `f` keeps in scratch rows."""
    module = cpu_pipeline(jitcore.jit(f).lower(*args).module)
    fusions = [i for i in module.entry.instructions if i.opcode == "fusion"]
    assert len(fusions) == 1
    comp = fusions[0].called[0]
    k = outer_rank(comp)
    dims = comp.root.shape.dims
    reduces = [i for i in comp.instructions
               if is_reduction(i) and i is not comp.root and i.shape.dims == tuple(dims[:k])]
    return {p: [x.opcode for x in xs]
            for p, xs in plan_row_scratch(comp, dims, k, reduces).items()}


def test_gelu_layer_norm_computes_gelu_once_per_element():
    x = np.ones((8, 256), np.float32)
    g = np.ones(256, np.float32)
    # gelu(x) = x * (0.5 * (1 + tanh(...))), before the mean's pass; nothing else.
    assert _scratch_plan(lambda a, b, d: _layer_norm(nn.gelu(a), b, d), x, g, g) == {0: ["mul"]}


def test_softmax_computes_exp_once_per_element():
    # exp(x - max) goes to scratch before the sum's pass (pass 1; the max is pass 0).
    assert _scratch_plan(nn.softmax, np.ones((8, 256), np.float32)) == {1: ["exp"]}


def test_cheap_rows_and_huge_rows_need_no_scratch():
    x = np.ones((8, 256), np.float32)
    g = np.ones(256, np.float32)
    assert _scratch_plan(_layer_norm, x, g, g) == {}
    # A float32 row of 2**15 elements would take 128 KiB of stack.
    assert _scratch_plan(nn.softmax, np.ones((2, 2 ** 15), np.float32)) == {}
