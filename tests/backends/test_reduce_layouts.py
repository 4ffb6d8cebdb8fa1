"""Reductions over leading (non-minor) axes on the CPU: the column layout that streams the
operand by rows (`llvm.reduce.emit_column_reduction`, `plan.kernel_shapes.column_layout`).

References are NumPy in float64 (or exact integer arithmetic), a Python loop for vmap, and the
analytic bias gradient of a dense layer."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from tests.covering import pairwise
from xla_like.backends.plan.kernel_shapes import column_layout
from xla_like.backends.plan.planner import cpu_pipeline

RNG = np.random.default_rng(7)

# (shape, axis): odd sizes, size-1 and several kept/reduced axes, blocks cut with a remainder
# (20000 float32 columns, 7 x 3000 kept elements behind the reduced axis).
LAYOUTS = [((37, 19), 0), ((1, 5), 0), ((5, 1), 0), ((4, 5, 6), 0), ((4, 5, 6), 1),
           ((4, 5, 6), (0, 1)), ((6, 2, 5, 4), (0, 2)), ((3, 20000), 0), ((3, 7, 3000), 0),
           ((300, 33), 0), ((8, 300, 64), 1)]


def _data(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(size=shape).astype(dtype)
    return RNG.integers(-40, 40, size=shape).astype(dtype)


# Every pair of (layout, dtype, reduction) at least once, not all 99 combinations.
@pytest.mark.parametrize("shape_axis,dtype,name", pairwise(
    LAYOUTS, [np.float32, np.float64, np.int32], ["sum", "max", "min"]))
def test_reduce_matches_numpy(shape_axis, dtype, name):
    shape, axis = shape_axis
    x = _data(shape, dtype)
    got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=axis))(x))
    ref = getattr(np, name)(x.astype(np.float64) if np.dtype(dtype).kind == "f" else
                            x.astype(np.int64), axis=axis)
    assert got.shape == ref.shape
    if name != "sum" or np.dtype(dtype).kind == "f":   # jnp.sum widens int32 as JAX does
        assert got.dtype == dtype
    if np.dtype(dtype).kind == "f":
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.sqrt(x.size))
    else:
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("shape_axis,dtype,name", pairwise(
    [s for s in LAYOUTS if not isinstance(s[1], tuple)],
    [np.float32, np.float64, np.int32, np.uint8, np.bool_], ["argmax", "argmin"]))
def test_arg_reduce_first_index(shape_axis, dtype, name):
    shape, axis = shape_axis
    # Few distinct values: many ties, where the first index must win.
    x = RNG.integers(0, 2 if dtype is np.bool_ else 3, size=shape).astype(dtype)
    got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=axis))(x))
    np.testing.assert_array_equal(got, getattr(np, name)(x, axis=axis))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagation(dtype):
    x = RNG.normal(size=(50, 9)).astype(dtype)
    x[0, 1] = np.nan           # first row
    x[49, 2] = np.nan          # last row
    x[[3, 30], 4] = np.nan     # two: the first one's index
    x[7, 5] = np.inf
    x[8, 6] = -np.inf
    for name in ["max", "min", "argmax", "argmin"]:
        got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))(x))
        np.testing.assert_array_equal(got, getattr(np, name)(x, axis=0), err_msg=name)
    got = np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(x))
    np.testing.assert_allclose(got, x.astype(np.float64).sum(0), rtol=1e-5, equal_nan=True)


def test_bool_and_float16():
    b = RNG.random((33, 70)) < 0.05
    for name in ["any", "all"]:
        got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))(b))
        np.testing.assert_array_equal(got, getattr(np, name)(b, axis=0))
    h = RNG.normal(size=(300, 17)).astype(np.float16)
    got = np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(h))
    assert got.dtype == np.float16
    ref = h.astype(np.float64).sum(0)
    # Accumulated in float32, rounded once: within one float16 rounding of the exact sum.
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2 ** -10, atol=2 ** -14)


def test_empty_axes():
    x = np.zeros((0, 5), np.float32)
    np.testing.assert_array_equal(np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(x)),
                                  np.zeros(5, np.float32))
    np.testing.assert_array_equal(np.asarray(jitcore.jit(lambda a: jnp.prod(a, axis=0))(x)),
                                  np.ones(5, np.float32))
    y = np.zeros((4, 0), np.float64)
    assert np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(y)).shape == (0,)


def test_float32_sum_accuracy_beats_sequential():
    # 200000 rows: a sequential float32 sum's error grows with the row count; the blocked one
    # (blocks of rows added into a running sum) stays far below it.
    n = 200_000
    x = RNG.random((n, 3)).astype(np.float32) + np.float32(0.1)
    got = np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(x)).astype(np.float64)
    exact = x.astype(np.float64).sum(0)
    sequential = np.cumsum(x, axis=0, dtype=np.float32)[-1].astype(np.float64)
    err = np.abs(got - exact) / exact
    assert np.all(err < 1e-6), err
    assert np.all(err <= np.abs(sequential - exact) / exact), (err, sequential - exact)


def test_fused_operand_and_var():
    x = RNG.normal(size=(257, 130)).astype(np.float32)
    c = RNG.normal(size=(130,)).astype(np.float32)
    got = np.asarray(jitcore.jit(lambda a, m: jnp.sum((a - m) ** 2 * 0.5, axis=0))(x, c))
    ref = (((x.astype(np.float64) - c) ** 2) * 0.5).sum(0)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jitcore.jit(lambda a: jnp.var(a, axis=0))(x)),
                               x.astype(np.float64).var(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jitcore.jit(lambda a: jnp.mean(a.T, axis=1))(x)),
                               x.astype(np.float64).mean(0), rtol=1e-5, atol=1e-6)


def test_vmap_sum_and_bias_gradient():
    x = RNG.normal(size=(96, 40)).astype(np.float32)
    got = np.asarray(jitcore.jit(jitcore.vmap(jnp.sum, in_axes=1))(x))
    ref = np.array([x[:, j].astype(np.float64).sum() for j in range(x.shape[1])])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)

    w = RNG.normal(size=(40, 24)).astype(np.float32) * 0.2
    b = RNG.normal(size=(24,)).astype(np.float32)
    g = jitcore.jit(jitcore.grad(lambda b, x, w: jnp.tanh(x @ w + b).sum()))(b, x, w)
    y = np.tanh(x.astype(np.float64) @ w + b)
    np.testing.assert_allclose(np.asarray(g), (1 - y ** 2).sum(0), rtol=1e-4, atol=1e-4)


def test_uses_column_layout():
    # The layouts above really take this path (and a trailing-axis sum does not).
    lay = column_layout_of(lambda a: jnp.sum(a, axis=0), np.zeros((64, 4096), np.float32))
    assert lay is not None and lay.width == 4096 and lay.extent == 1
    lay = column_layout_of(lambda a: jnp.sum(a, axis=1), np.zeros((8, 300, 64), np.float32))
    assert lay.extent == 8 and lay.width == 64
    assert column_layout_of(lambda a: jnp.sum(a, axis=1), np.zeros((64, 32), np.float32)) is None


def column_layout_of(f, x):
    module = cpu_pipeline(jitcore.jit(f).lower(x).module)
    fusions = [i for i in module.entry.instructions if i.opcode == "fusion"]
    assert len(fusions) == 1
    return column_layout(fusions[0].called[0])


def test_bucketed_reduction_along_dynamic_axis():
    f = jitcore.jit(lambda a: (jnp.sum(a, axis=0), jnp.argmax(a, axis=0), jnp.max(a, axis=0)),
                    dynamic_axes={0: 0})
    for n in [1, 3, 5, 17, 30]:
        x = RNG.normal(size=(n, 11)).astype(np.float32)
        s, am, mx = f(x)
        np.testing.assert_allclose(np.asarray(s), x.astype(np.float64).sum(0), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_array_equal(np.asarray(am), x.argmax(0))
        np.testing.assert_array_equal(np.asarray(mx), x.max(0))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_column_arg_reduce_in_row_groups(dtype):
    """Column argmax/argmin read 4 rows per update of their best so far (`reduce.ROW_GROUP`;
    rows of 4100 make partial results of 16 KiB or more, which group): row counts around the
    groups (groups and a remainder, or none), ties inside a group and across groups (the
    earlier row wins), NaN in each position of a group (the first NaN wins), against NumPy."""
    from xla_like.backends.llvm import reduce as llvm_reduce
    assert llvm_reduce.ROW_GROUP == 4
    rng = np.random.default_rng(11)
    for n in (1, 2, 4, 5, 6, 9, 11):
        x = rng.integers(0, 2 if dtype is np.bool_ else 3, size=(n, 4100)).astype(dtype)
        if dtype is np.float32:
            for c in range(8):
                x[rng.integers(0, n, 1 + c % 2), c] = np.nan
        for name in ("argmax", "argmin"):
            got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))(x))
            np.testing.assert_array_equal(got, getattr(np, name)(x, axis=0),
                                          err_msg=f"{name} n={n}")


def test_row_groups_give_the_same_bits():
    """Folding 4 rows per update of the partial results keeps each column's order of
    combination: sums (tiled), products, max, argmin and var over axis 0 equal, bit for bit,
    the same kernels built one row at a time."""
    from xla_like.backends import disk_cache
    from xla_like.backends.llvm import reduce as llvm_reduce
    rng = np.random.default_rng(12)
    # Rows of 4100 float32: partial results of 16 KiB or more (`GROUP_MIN_BYTES`) group.
    x = rng.normal(size=(67, 4100)).astype(np.float32)
    x[50, 3] = np.nan
    def fns():
        # New functions each time: `jit` wrappers of one function share what they compiled.
        return [lambda a: jnp.sum(a, axis=0), lambda a: jnp.prod(1 + a / 1000, axis=0),
                lambda a: jnp.max(a, axis=0), lambda a: jnp.argmin(a, axis=0),
                lambda a: jnp.var(a, axis=0)]
    got = {}
    for group in (1, llvm_reduce.ROW_GROUP):
        saved = llvm_reduce.ROW_GROUP
        llvm_reduce.ROW_GROUP = group
        disk_cache.clear()           # memory too: kernels built anew under this setting
        try:
            got[group] = [np.asarray(jitcore.jit(f)(x)) for f in fns()]
        finally:
            llvm_reduce.ROW_GROUP = saved
    assert llvm_reduce.ROW_GROUP > 1
    for a, b in zip(got[1], got[llvm_reduce.ROW_GROUP]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[1][0], x.astype(np.float64).sum(0), rtol=1e-4, atol=1e-3,
                               equal_nan=True)
