"""Products contracting a dynamic axis read their operands in place, with no zero-filled copy.

A bucketed `x @ w` contracting a dynamic axis used to zero the padding of both operands first
(`passes/masking.py`), a kernel copying each into the capacity. With BLAS the GEMM runs with
K = the true size, so it never reads the padding: the planner reads the mask's operand in its
place (`plan.planner._mask_view`), and the call passes the caller's arrays as they are
(`cpu.prefix_inputs`: x with its own row stride as the GEMM's leading dimension, w up to its
true rows). Checked: results against NumPy float64 at several sizes inside one bucket and
across buckets; capacity-shaped inputs whose padding holds NaN give the same results (a GEMM
reading past K would show it); and, from the plans, that nothing is copied or masked.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp

# 65..128 share one bucket (capacity 128 + 16); 33 and 129 lie in others.
SIZES = [70, 65, 100, 127, 128, 33, 129, 70]

CASES = {
    "x @ w": (lambda x, w: x @ w, lambda x, w: x @ w, {0: 1, 1: 0}, ((9, "n"), ("n", 5))),
    "x @ y.T": (lambda x, y: x @ y.T, lambda x, y: x @ y.T, {0: 1, 1: 1},
                ((9, "n"), (6, "n"))),
    "x.T @ y": (lambda x, y: x.T @ y, lambda x, y: x.T @ y, {0: 0, 1: 0},
                (("n", 7), ("n", 4))),
    "tanh(x) @ w": (lambda x, w: jnp.tanh(x) @ w, lambda x, w: np.tanh(x) @ w, {0: 1, 1: 0},
                    ((9, "n"), ("n", 5))),
    "x @ w, x.sum(1)": (lambda x, w: (x @ w, x.sum(1)), lambda x, w: (x @ w, x.sum(1)),
                        {0: 1, 1: 0}, ((9, "n"), ("n", 5))),
}

# The products whose operands are the caller's arrays: no kernel step, no padded input.
IN_PLACE = ("x @ w", "x @ y.T", "x.T @ y")


def shapes(spec, n):
    return [tuple(n if d == "n" else d for d in s) for s in spec]


def inputs(spec, n, dtype):
    rng = np.random.default_rng(n)
    return [rng.standard_normal(s).astype(dtype) for s in shapes(spec, n)]


def tuple_of(x):
    return x if isinstance(x, tuple) else (x,)


def check(got, want, dtype, err):
    tol = 1e-11 if dtype == np.float64 else 3e-5
    for a, b in zip(tuple_of(got), tuple_of(want)):
        assert np.shape(a) == b.shape, err
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=tol, atol=tol,
                                   err_msg=err)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_products_over_a_dynamic_axis_match_numpy(name, dtype):
    f, ref, dyn, spec = CASES[name]
    g = jax.jit(f, dynamic_axes=dyn)
    for n in SIZES:
        xs = inputs(spec, n, dtype)
        for _ in range(2):        # the first call makes the plan, the second runs from it
            check(g(*xs), ref(*[x.astype(np.float64) for x in xs]), dtype, f"{name} n={n}")
    assert g.cache_info().exact_fallbacks == 0


def plan_of(g, n):
    (plan,) = [p for p in g._axes.calls.values() if int(p.sizes[0]) == n]
    return plan


@pytest.mark.parametrize("name", list(CASES))
def test_padding_holding_nan_is_never_contracted(name):
    """The executable run on capacity-shaped inputs whose padding is NaN (as the call plan
    would hand it a padded copy): a product reading a padded element would give NaN."""
    f, ref, dyn, spec = CASES[name]
    g = jax.jit(f, dynamic_axes=dyn)
    for n in (70, 100, 127):
        xs = inputs(spec, n, np.float64)
        g(*xs)
        plan = plan_of(g, n)
        ex = plan.entry.executable
        params = {b.index: b.shape.dims for b in ex.plan.buffers if b.kind == "param"}
        caps = [params[len(plan.sizes) + j] for j in range(len(xs))]
        assert all(c != x.shape for c, x in zip(caps, xs))
        padded = []
        for x, cap in zip(xs, caps):
            p = np.full(cap, np.nan)
            p[tuple(slice(0, d) for d in x.shape)] = x
            padded.append(p)
        outs = ex(plan.sizes + padded)
        got = tuple(o if c is None else o[c] for o, c in zip(outs, plan.cuts))
        check(got, ref(*xs), np.float64, f"{name} n={n}")


@pytest.mark.parametrize("name", IN_PLACE)
def test_no_copy_and_no_mask_kernel(name):
    """The call plan passes every input as it is, and the program is the one GEMM: the
    masks of its operands are views of them (no kernel writes a zero-filled copy)."""
    f, ref, dyn, spec = CASES[name]
    g = jax.jit(f, dynamic_axes=dyn)
    for n in (70, 100):
        xs = inputs(spec, n, np.float32)
        g(*xs)
    for plan in g._axes.calls.values():
        assert plan.pads == (None, None) and plan.n_pad == 0
        steps = plan.entry.executable.plan.steps
        assert [s.kind for s in steps] == ["dot"]
        bufs = plan.entry.executable.plan.buffers
        assert {bufs[b].kind for b in steps[0].inputs} == {"param"}
        assert sum(b.mask_view for b in bufs) == 2


def test_masks_stay_where_something_else_reads_the_padding():
    """Mask views only where BLAS products are the readers: an integer product (native
    kernel, capacity K) keeps its zero-filled operands, and so does x under a column sum,
    which streams whole rows of x (x then copied into its capacity)."""
    g = jax.jit(lambda x, y: x @ y, dynamic_axes={0: 1, 1: 0})
    for n in (70, 100):
        rng = np.random.default_rng(n)
        x, y = rng.integers(-9, 9, (5, n)).astype(np.int32), \
            rng.integers(-9, 9, (n, 4)).astype(np.int32)
        np.testing.assert_array_equal(np.asarray(g(x, y)), x @ y)
    for plan in g._axes.calls.values():
        assert [s.kind for s in plan.entry.executable.plan.steps].count("kernel") == 2
    g = jax.jit(lambda x, w: (x.sum(0), x @ w), dynamic_axes={0: 1, 1: 0})
    for n in (70, 100):
        rng = np.random.default_rng(n)
        x, w = rng.standard_normal((6, n)), rng.standard_normal((n, 3))
        s, p = g(x, w)
        np.testing.assert_allclose(s, x.sum(0), rtol=1e-12)
        np.testing.assert_allclose(p, x @ w, rtol=1e-12, atol=1e-12)
    assert {p.pads for p in g._axes.calls.values()} == {((6, 144), None)}


def test_two_threads_share_a_product_over_the_dynamic_axis():
    """Large enough for the threads to share the GEMM (row pieces, each with the true K and
    x's own row stride)."""
    from jitcore import config
    g = jax.jit(lambda x, w: x @ w, dynamic_axes={0: 1, 1: 0})
    with config.override(num_threads=2):
        for n in (300, 257, 511):
            rng = np.random.default_rng(n)
            x, w = rng.standard_normal((256, n)), rng.standard_normal((n, 64))
            np.testing.assert_allclose(g(x, w), x @ w, rtol=1e-11, atol=1e-11)
    assert {p.pads for p in g._axes.calls.values()} == {(None, None)}


def test_shared_pieces_over_the_dynamic_axis_take_the_register_kernel():
    """Two threads, float32: the row pieces of a bucketed x @ w go to the register-tiled
    kernel taking the true K and x's row stride at run time (`small_gemm`), as the exact
    program's pieces do with static ones; results against NumPy float64 at sizes with every
    remainder of its 4-step K loop."""
    import re

    from jitcore import config
    g = jax.jit(lambda x, w: x @ w, dynamic_axes={0: 1, 1: 0})
    with config.override(num_threads=2):
        for n in (300, 301, 302, 303, 257):
            rng = np.random.default_rng(n)
            x = rng.standard_normal((256, n)).astype(np.float32)
            w = rng.standard_normal((n, 64)).astype(np.float32)
            want = x.astype(np.float64) @ w
            np.testing.assert_allclose(np.asarray(g(x, w)), want, rtol=2e-5,
                                       atol=2e-5 * np.abs(want).max())
    kernels = {k for e in g._cache.values()
               for k in re.findall(r"jc\.sgemm\.[\w.]+", e.executable.as_text("llvm"))}
    assert kernels and all(".128x64xK.lda." in k for k in kernels), kernels
