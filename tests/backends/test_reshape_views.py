"""Reshapes that only regroup axes are views: the plan runs no kernel for them, and their
readers read the operand's buffer. Values against NumPy float64; the plan checked for the
kernels that are gone (and for the copies that must stay)."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends.plan.planner import view_operand


def rand(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def plan_of(fn, *args, **jit_kw):
    return jc.jit(fn, **jit_kw).lower(*args).compile()._entry.executable.plan


def all_steps(steps):
    for step in steps:
        yield step
        for sub in getattr(step, "subs", ()):
            yield from all_steps(sub.steps)


def reshape_kernels(plan):
    """Kernels of the plan (loop bodies included) that only regroup an operand's axes."""
    return [s for s in all_steps(plan.steps)
            if s.kind == "kernel" and view_operand(s.instr) is not None]


def views(plan):
    return [b for b in plan.buffers if b.kind == "view"]


def close(got, want, dtype):
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)


def logreg_grads(w, xs, ys):
    def loss(w, x, y):
        z = x @ w
        return jnp.logaddexp(0.0, z) - y * z
    return jc.vmap(jc.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b,d", [(4096, 256), (33, 7), (1, 5)])
def test_per_example_logistic_gradients_copy_nothing(dtype, b, d):
    w, xs = rand(d, 0, dtype), rand((b, d), 1, dtype)
    ys = (rand(b, 2) > 0).astype(dtype)
    plan = plan_of(logreg_grads, w, xs, ys)
    assert not reshape_kernels(plan)
    # The forward x @ w is a row sum (passes/fold_batched_dots.py): no GEMM, so nothing to
    # reshape for one; each kernel reads the parameters themselves.
    assert not [s for s in plan.steps if s.kind == "dot"]
    assert all(plan.buffers[i].kind in ("param", "temp", "output", "view")
               for s in plan.steps for i in s.inputs)
    w64, x64, y64 = (a.astype(np.float64) for a in (w, xs, ys))
    z = x64 @ w64
    want = ((1 / (1 + np.exp(-z))) - y64)[:, None] * x64
    close(jc.jit(logreg_grads)(w, xs, ys), want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_merged_heads_times_a_matrix_reads_the_parameter(dtype):
    # Attention's head merge: [B, T, H, D] -> [B*T, H*D], then a projection.
    x, w = rand((2, 5, 3, 4), 0, dtype), rand((12, 7), 1, dtype)
    f = lambda x, w: jnp.reshape(x, (10, 12)) @ w
    plan = plan_of(f, x, w)
    assert not reshape_kernels(plan) and [s.kind for s in plan.steps] == ["dot"]
    assert plan.buffers[plan.steps[0].inputs[0]].kind == "param"
    want = x.reshape(10, 12).astype(np.float64) @ w.astype(np.float64)
    close(jc.jit(f)(x, w), want, np.float64 if dtype == np.int32 else dtype)


def test_outer_product_through_size_one_axes():
    a, c = rand((6, 9), 0), rand((6, 4), 1)
    f = jc.vmap(lambda a, c: a[:, None] @ c[None, :])
    close(f(a, c), a.astype(np.float64)[:, :, None] * c[:, None, :], np.float32)


def test_empty_and_one_element():
    f = lambda x, w: jnp.reshape(x, (-1, 4)) @ w
    for shape in ((0, 2, 2), (1, 1, 4)):
        x, w = rand(shape, 0), rand((4, 3), 1)
        got = jc.jit(f)(x, w)
        assert got.shape == (shape[0], 3)
        close(got, x.reshape(-1, 4).astype(np.float64) @ w, np.float32)


def test_a_reshaped_output_keeps_its_copy():
    x, w = rand((6, 8), 0), rand((8, 3), 1)

    def f(x, w):
        e = jnp.exp(x)
        r = e.reshape(3, 16)
        return r, e, x.reshape(48), r.reshape(48, 1)[:, 0] @ jnp.ones(48), e @ w
    r, e, flat, s, ew = jc.jit(f)(x, w)
    e64 = np.exp(x.astype(np.float64))
    close(r, e64.reshape(3, 16), np.float32)
    close(e, e64, np.float32)
    close(flat, x.reshape(48), np.float32)
    close(s, e64.sum(), np.float32)
    close(ew, e64 @ w, np.float32)
    assert r.shape == (3, 16) and flat.shape == (48,)


def test_a_view_keeps_its_source_alive():
    # x @ wa is read (through the view) only by the last dot: its memory must not go to the
    # temporaries computed in between.
    x, x2 = rand((64, 32), 0), rand((64, 48), 1)
    w1, w2, wa = rand((48, 40), 2), rand((16, 5), 3), rand((32, 32), 4)

    def f(x, x2, w1, w2):
        v = (x @ wa).reshape(128, 16)
        a = jnp.tanh(x2) @ w1
        b = jnp.sin(a) @ jnp.ones((40, 40), np.float32)
        return (v @ w2).sum(axis=1)[:64] + b.sum(axis=1)
    plan = plan_of(f, x, x2, w1, w2)
    assert views(plan) and not reshape_kernels(plan)
    x64, x264 = x.astype(np.float64), x2.astype(np.float64)
    a = np.tanh(x264) @ w1
    want = ((x64 @ wa).reshape(128, 16) @ w2).sum(axis=1)[:64] + \
        (np.sin(a) @ np.ones((40, 40))).sum(axis=1)
    close(jc.jit(f)(x, x2, w1, w2), want, np.float32)


@pytest.mark.parametrize("order", ["view_first", "in_place_first"])
def test_donated_parameter_is_not_overwritten_while_a_view_reads_it(order):
    # x * 2 may be computed in x's memory; x.reshape(...) @ w reads x: the in-place kernel
    # must wait for it, or not run in place.
    xv, w = rand((32, 16), 0), rand((8, 3), 1)

    def f(x, w):
        if order == "view_first":
            d = x.reshape(64, 8) @ w
            return x * 2 + 1, d
        y = x * 2 + 1
        return y, x.reshape(64, 8) @ w
    plan = plan_of(f, jnp.asarray(xv), w, donate_argnums=0)
    assert not reshape_kernels(plan)
    y, d = jc.jit(f, donate_argnums=0)(jnp.asarray(xv), w)
    x64 = xv.astype(np.float64)
    close(y, x64 * 2 + 1, np.float32)
    close(d, x64.reshape(64, 8) @ w, np.float32)


def test_in_place_kernel_after_the_view_reader():
    # A donated parameter read through a view by a dot, then updated in place by a kernel that
    # reads the dot's result: the in-place write is the parameter's last use.
    xv, w = rand((16, 12), 0), rand((12, 12), 1)
    f = jc.jit(lambda x, w: x - 0.1 * (x.reshape(4, 4, 12)[1:].sum() + (x @ w)),
               donate_argnums=0)
    x = jnp.asarray(xv)
    before = np.asarray(x).ctypes.data
    out = f(x, w)
    x64 = xv.astype(np.float64)
    close(out, x64 - 0.1 * (x64.reshape(4, 4, 12)[1:].sum() + x64 @ w), np.float32)
    assert np.asarray(out).ctypes.data == before    # still in place


def test_views_inside_loops():
    x, w = rand((6, 4, 8), 0), rand((32, 32), 1) / 6

    def body(i, h):
        return jnp.tanh(jnp.reshape(h, (6, 32)) @ w).reshape(6, 4, 8) + i

    f = lambda x: jc.lax.fori_loop(0, 3, body, x)
    plan = plan_of(f, x)
    assert views(plan) and not reshape_kernels(plan)    # the body's [6,4,8] -> [6,32]
    want = x.astype(np.float64)
    for i in range(3):
        want = np.tanh(want.reshape(6, 32) @ w).reshape(6, 4, 8) + i
    close(jc.jit(f)(x), want, np.float32)

    def step(c, xt):
        y = xt.reshape(2, 16) @ w[:16]
        return c + y.sum(), y.reshape(64)
    xs = rand((5, 32), 2)
    c, ys = jc.jit(lambda xs: jc.lax.scan(step, jnp.float32(0), xs))(xs)
    ys64 = np.stack([xt.astype(np.float64).reshape(2, 16) @ w[:16] for xt in xs]).reshape(5, 64)
    close(ys, ys64, np.float32)
    close(c, ys64.sum(), np.float32)


def test_constant_reshaped():
    table = rand((4, 6), 3)
    x = rand((5, 8), 0)
    f = lambda x: x @ jnp.asarray(table).reshape(8, 3)
    close(jc.jit(f)(x), x.astype(np.float64) @ table.reshape(8, 3), np.float32)


def test_host_step_reader_keeps_the_copy():
    # sort runs through its NumPy reference, which sees buffers as arrays of their own shape.
    x, w = rand((6, 10), 0), rand((4, 3), 1)

    def f(x, w):
        e = jnp.exp(x) @ jnp.ones((10, 10), np.float32)
        return jnp.sort(e.reshape(15, 4), axis=1) @ w, e.reshape(15, 4)[:, :1] @ w[:1]
    a, b = jc.jit(f)(x, w)
    e = np.exp(x.astype(np.float64)) @ np.ones((10, 10))
    close(a, np.sort(e.reshape(15, 4), axis=1) @ w, np.float32)
    close(b, e.reshape(15, 4)[:, :1] @ w[:1], np.float32)


def test_nan_flows_through_a_view():
    x, w = rand((4, 6), 0), rand((3, 2), 1)
    x[1, 2] = np.nan
    got = np.asarray(jc.jit(lambda x, w: jnp.max(x.reshape(8, 3) @ w, axis=1))(x, w))
    want = np.max(x.astype(np.float64).reshape(8, 3) @ w, axis=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    close(got[~np.isnan(want)], want[~np.isnan(want)], np.float32)
