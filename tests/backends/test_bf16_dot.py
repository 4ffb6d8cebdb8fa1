"""bfloat16 dots on AVX-512 BF16 (`cpu.bf16_dot`, `llvm.bf16_gemm`) against float64 NumPy.

Every product is compared with NumPy in float64 on the same bfloat16 inputs: within JAX's
bfloat16 tolerance (rtol = atol = 1e-2), and within what float32 accumulation allows
(1e-5 of sum |a||b| per element, plus one bfloat16 rounding for a bfloat16 result), which a
dropped or doubled term, a wrong pair or a wrong row would exceed. Shapes cover an odd
contracted size (a zero-padded last pair), sizes past the micro-tile (14 x 32) and the cache
blocks (K 256, M 112, N 1024) by a few, transposed operands, batch dimensions, shares of the
rows on two threads (a share crossing a batch boundary), a loop body, and a gradient.
`JITCORE_BF16_DOT=native` runs every bfloat16 dot natively, whatever its size; the native
tests skip on a host without the instruction, where every dot is widened.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import config, lax
from xla_like.backends.cpu import bf16_dot

BF16 = ml_dtypes.bfloat16
F32 = np.float32
native_only = pytest.mark.skipif(not bf16_dot.host_has_bf16(),
                                 reason="host CPU has no AVX-512 BF16")
rng = np.random.default_rng(11)


def _mat(*shape):
    return rng.standard_normal(shape).astype(F32).astype(BF16)


def _check(out, ref, scale):
    """`ref`: the float64 product; `scale`: sum |a||b| per element (float64)."""
    out = np.asarray(out)
    got = out.astype(np.float64)
    bound = 1e-5 * scale + 1e-30
    if out.dtype == BF16:
        bound = bound + 2.0 ** -8 * np.abs(ref)
    else:
        assert out.dtype == F32
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2)   # JAX's bfloat16 tolerance
    excess = np.abs(got - ref) - bound
    assert excess.max() <= 0, f"error past float32 accumulation at {np.argmax(excess)}"


def _run(fn, *args, mode="native"):
    with config.override(bf16_dot=mode):
        compiled = jitcore.jit(fn).lower(*args).compile()
        return compiled(*args), compiled.as_text("llvm")


def _f64(x):
    return np.asarray(x).astype(np.float64)


@native_only
@pytest.mark.parametrize("m,k,n,result", [(5, 3, 7, "bf16"), (14, 2, 32, "f32"),
                                          (17, 9, 33, "bf16"), (113, 513, 65, "f32"),
                                          (3, 5, 1057, "bf16"), (30, 1, 40, "f32")])
def test_native_matches_float64(m, k, n, result):
    a, b = _mat(m, k), _mat(k, n)
    if result == "f32":
        fn = lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32)  # noqa: E731
    else:
        fn = lambda x, y: x @ y  # noqa: E731
    out, text = _run(fn, a, b)
    assert "dpbf16ps" in text
    _check(out, _f64(a) @ _f64(b), np.abs(_f64(a)) @ np.abs(_f64(b)))


@native_only
@pytest.mark.parametrize("ta,tb", [(True, False), (False, True), (True, True)])
def test_transposed_operands(ta, tb):
    m, k, n = 19, 37, 45
    a = _mat(k, m) if ta else _mat(m, k)
    b = _mat(n, k) if tb else _mat(k, n)

    def fn(x, y):
        return jnp.matmul(x.T if ta else x, y.T if tb else y)
    out, text = _run(fn, a, b)
    assert "dpbf16ps" in text
    a64 = _f64(a).T if ta else _f64(a)
    b64 = _f64(b).T if tb else _f64(b)
    _check(out, a64 @ b64, np.abs(a64) @ np.abs(b64))


@native_only
def test_batch_dimensions():
    a, b = _mat(3, 17, 9), _mat(3, 9, 40)
    out, text = _run(lambda x, y: jnp.einsum("bij,bjk->bik", x, y), a, b)
    assert "dpbf16ps" in text
    _check(out, _f64(a) @ _f64(b), np.abs(_f64(a)) @ np.abs(_f64(b)))


@native_only
def test_rows_shared_by_two_threads_across_batches():
    # 4 x 130 x 257 outputs: enough for the segment to run on the pool (`PARALLEL_MIN_WORK`);
    # the two shares of the 520 rows meet inside batch element 2.
    a, b = _mat(4, 130, 24), _mat(4, 24, 257)
    with config.override(num_threads=2):
        out, text = _run(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32),
                         a, b)
    assert "dpbf16ps" in text
    _check(out, _f64(a) @ _f64(b), np.abs(_f64(a)) @ np.abs(_f64(b)))


@native_only
def test_in_a_loop_body_and_its_gradient():
    x, w = _mat(16, 24), _mat(24, 24) * BF16(0.25)

    def loop(x, w):
        return lax.fori_loop(0, 3, lambda i, c: jnp.tanh(c @ w), x)
    out, text = _run(loop, x, w)
    assert "dpbf16ps" in text
    ref = _f64(x)
    for _ in range(3):   # each step rounds to bfloat16 twice (dot, tanh), as the program does
        ref = np.tanh((ref @ _f64(w)).astype(F32).astype(BF16).astype(np.float64))
        ref = ref.astype(F32).astype(BF16).astype(np.float64)
    np.testing.assert_allclose(_f64(out), ref, rtol=2e-2, atol=2e-2)

    # d/dx sum(x @ w) = ones @ w.T: a dot with a transposed operand in the backward pass.
    grad, text = _run(jitcore.grad(lambda x, w: jnp.sum((x @ w).astype(jnp.float32))), x, w)
    ones = np.ones((16, 24))
    _check(grad, ones @ _f64(w).T, ones @ np.abs(_f64(w)).T)


@native_only
def test_subnormals_flush_to_zero():
    # vdpbf16ps treats subnormal inputs as zero and flushes subnormal results (the README
    # says so); the widened float32 GEMM keeps both.
    small = np.full((14, 2), 2.0 ** -130, F32).astype(BF16)     # a subnormal bfloat16
    big = np.full((2, 32), 2.0 ** 20, F32).astype(BF16)
    tiny = np.full((2, 32), 2.0 ** -70, F32).astype(BF16)       # products 2**-140: subnormal

    def fn(x, y):
        return jnp.matmul(x, y, preferred_element_type=jnp.float32)
    out, _ = _run(fn, small, big)
    assert np.all(np.asarray(out) == 0)
    widened, _ = _run(fn, small, big, mode="widen")
    np.testing.assert_array_equal(np.asarray(widened), np.full((14, 32), 2.0 ** -109, F32))
    normal = np.full((14, 2), 2.0 ** -70, F32).astype(BF16)
    out, _ = _run(fn, normal, tiny)
    assert np.all(np.asarray(out) == 0)
    widened, _ = _run(fn, normal, tiny, mode="widen")
    np.testing.assert_array_equal(np.asarray(widened), np.full((14, 32), 2.0 ** -139, F32))


def test_which_dots_run_natively(monkeypatch):
    a, b = _mat(64, 64), _mat(64, 64)
    small = _mat(8, 8)
    h = np.float16
    cases = [("widen", a, b, False), ("native", small, small, True), ("auto", small, small,
             False), ("auto", a, b, True), ("native", a.astype(h), b.astype(h), False)]
    # A host without the instruction widens every dot (LLVM could not compile the kernel for
    # it, so the real host's answer is only overridden towards "no").
    for host in (True, False) if bf16_dot.host_has_bf16() else (False,):
        monkeypatch.setattr(bf16_dot, "_host", host)
        for mode, x, y, expect in cases:
            _, text = _run(lambda p, q: p @ q, x, y, mode=mode)
            assert ("dpbf16ps" in text) == (expect and host), (host, mode, x.shape, x.dtype)


def test_unknown_setting_is_an_error():
    with pytest.raises(ValueError, match="JITCORE_BF16_DOT"):
        _run(lambda p, q: p @ q, _mat(4, 4), _mat(4, 4), mode="fast")



@native_only
def test_bucketed_sizes():
    # Dynamic sizes: the product runs at the bucket's size on zero-padded operands (the
    # contracted axis, K, and the rows, M, padded), and the call slices the true result.
    with config.override(bf16_dot="native"):
        g = jitcore.jit(lambda x, y: x @ y, dynamic_axes={0: (0, 1), 1: 0})
        for m, k in ((37, 21), (50, 29)):
            a, b = _mat(m, k), _mat(k, 40)
            _check(g(a, b), _f64(a) @ _f64(b), np.abs(_f64(a)) @ np.abs(_f64(b)))
