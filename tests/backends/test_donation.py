"""donate_argnums: an output takes a donated Array's memory when the kernel writing it reads
that Array only at the position it writes; never otherwise, and never a NumPy argument."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp


def arr(n=1000, seed=0, dtype=np.float32, shape=None):
    v = np.random.default_rng(seed).standard_normal(shape or n).astype(dtype)
    return jnp.asarray(v), v


def address(x):
    return np.asarray(x).ctypes.data


def test_elementwise_output_reuses_the_donated_buffer():
    f = jc.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    for n in (7, 1000, 1 << 19):     # small, medium, pooled sizes
        x, xv = arr(n)
        y = np.random.default_rng(1).standard_normal(n).astype(np.float32)
        before = address(x)
        out = f(x, y)
        assert address(out) == before
        assert isinstance(out, jc.Array) and out.dtype == np.float32
        np.testing.assert_allclose(out, xv.astype(np.float64) * 2 + y, rtol=1e-6)
        assert x.is_deleted()
        with pytest.raises(RuntimeError, match="deleted"):
            x + 1
        with pytest.raises(RuntimeError, match="deleted"):
            f(x, y)


def test_a_training_loop_keeps_one_buffer():
    step = jc.jit(lambda w, g: w - 0.1 * g, donate_argnums=0)
    w, wv = arr(1 << 18)
    g = np.ones(1 << 18, np.float32)
    first = address(w)
    for _ in range(4):
        w = step(w, g)
        assert address(w) == first
    np.testing.assert_allclose(w, wv - np.float32(0.4), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, fn, ref", [
    ("transpose", lambda x: x.T * 2, lambda v: v.T * 2),
    ("shifted", lambda x: jnp.roll(x, 1, axis=0) + x, lambda v: np.roll(v, 1, axis=0) + v),
    ("reversed", lambda x: x[::-1] - x, lambda v: v[::-1] - v),
    ("row reduction", lambda x: x - x.max(axis=1, keepdims=True),
     lambda v: v - v.max(axis=1, keepdims=True)),
    ("matmul", lambda x: x @ x, lambda v: v.astype(np.float64) @ v),
])
def test_non_elementwise_reads_do_not_alias(name, fn, ref):
    x, xv = arr(shape=(64, 64))
    before = address(x)
    out = jc.jit(fn, donate_argnums=0)(x)
    assert address(out) != before, name
    np.testing.assert_allclose(out, ref(xv), rtol=1e-5, atol=1e-4)
    assert x.is_deleted()


def test_a_later_reader_of_the_donated_value_prevents_aliasing():
    # Two kernels read x: exp's (first) and the sum's (after it): exp may not write into x.
    x, xv = arr(shape=(50, 40))
    before = address(x)
    a, s = jc.jit(lambda x: (jnp.exp(x), x.T.sum(axis=1)), donate_argnums=0)(x)
    assert address(a) != before
    np.testing.assert_allclose(a, np.exp(xv.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(s, xv.astype(np.float64).sum(axis=0), rtol=1e-4, atol=1e-4)


def test_a_returned_donated_value_keeps_its_value():
    x, xv = arr(100)
    a, b = jc.jit(lambda x: (x * 3, x), donate_argnums=0)(x)
    np.testing.assert_array_equal(b, xv)
    np.testing.assert_allclose(a, xv * 3, rtol=1e-6)


def test_numpy_arguments_are_never_written():
    f = jc.jit(lambda x, y: x * 2 + y, donate_argnums=(0, 1))
    xv = np.arange(1000, dtype=np.float32)
    keep = xv.copy()
    out = f(xv, xv)
    np.testing.assert_array_equal(xv, keep)
    assert address(out) != xv.ctypes.data
    np.testing.assert_allclose(out, keep * 3)


def test_a_call_without_donation_never_reuses_a_donating_executable():
    f = jc.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    x, xv = arr(1000)
    f(x, np.ones(1000, np.float32))
    npx = xv.copy()
    out = f(npx, np.ones(1000, np.float32))      # same shapes: another cache entry
    np.testing.assert_array_equal(npx, xv)
    np.testing.assert_allclose(out, xv * 2 + 1, rtol=1e-6)
    assert f.cache_info().compiles == 2


def test_a_numpy_view_of_the_donated_array_is_left_alone():
    x, xv = arr(1000)
    view = np.asarray(x)
    out = jc.jit(lambda x: x + 1, donate_argnums=0)(x)
    np.testing.assert_array_equal(view, xv)
    assert address(out) != view.ctypes.data
    np.testing.assert_allclose(out, xv + 1, rtol=1e-6)


def test_arrays_sharing_memory_are_not_overwritten():
    x, xv = arr(shape=(20, 50))
    y = x.reshape(1000)                  # eager: may be a view of x's memory
    out = jc.jit(lambda x: x * 5, donate_argnums=0)(x)
    np.testing.assert_array_equal(y, xv.reshape(1000))
    np.testing.assert_allclose(out, xv * 5, rtol=1e-6)


def test_the_same_array_passed_twice():
    x, xv = arr(1000)
    out = jc.jit(lambda a, b: a * 2 + b[::-1], donate_argnums=0)(x, x)
    np.testing.assert_allclose(out, xv * 2 + xv[::-1], rtol=1e-6)


def test_other_dtype_or_shape_does_not_alias():
    x, xv = arr(1000)
    before = address(x)
    out = jc.jit(lambda x, y: x + y, donate_argnums=0)(x, np.ones(1000))   # f32 + f64 -> f64
    assert out.dtype == np.float64 and address(out) != before
    np.testing.assert_allclose(out, xv.astype(np.float64) + 1)
    x, xv = arr(1000)
    out = jc.jit(lambda x: jnp.stack([x, x]), donate_argnums=0)(x)
    np.testing.assert_array_equal(out, np.stack([xv, xv]))


def test_pytree_arguments_static_arguments_and_keywords():
    def f(params, scale, *, lr):
        w, b = params
        return w - lr * scale * w, b + lr
    jf = jc.jit(f, static_argnums=1, donate_argnums=0)
    (w, wv), (b, bv) = arr(300), arr(300, seed=2)
    wa, ba = address(w), address(b)
    nw, nb = jf((w, b), 2.0, lr=0.5)
    assert address(nw) == wa and address(nb) == ba
    np.testing.assert_allclose(nw, wv - np.float32(1.0) * wv, atol=1e-6)
    np.testing.assert_allclose(nb, bv + np.float32(0.5), rtol=1e-6)
    assert w.is_deleted() and b.is_deleted()


def test_lowered_compile_and_interp_delete_without_reusing():
    f = jc.jit(lambda x: x + 1, donate_argnums=0)
    x, xv = arr(100)
    compiled = f.lower(x).compile()
    out = compiled(x)
    np.testing.assert_allclose(out, xv + 1, rtol=1e-6)
    assert x.is_deleted()
    x, xv = arr(100)
    out = jc.jit(lambda x: x + 1, donate_argnums=0, backend="interp")(x)
    np.testing.assert_allclose(out, xv + 1, rtol=1e-6)
    assert x.is_deleted()


def test_the_plan_records_the_alias():
    from xla_like.backends import cpu
    module = jc.make_hlo(lambda x, y: (x * 2 + y, x - y))(np.ones(8, np.float32),
                                                           np.ones(8, np.float32))
    # Two kernels, both reading x and y where they write: the first may take neither (the
    # second reads both after it), the second takes the first donated parameter it reads.
    for donated, want in ((frozenset(), {}), (frozenset({0}), {1: 0}), (frozenset({1}), {1: 1}),
                          (frozenset({0, 1}), {1: 0})):
        plan = cpu.compile(module, donated=donated).plan
        got = {b.index: plan.buffers[b.alias].index for b in plan.buffers
               if b.kind == "output" and b.alias is not None}
        assert got == want, donated
