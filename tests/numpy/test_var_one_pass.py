"""`var`/`std` over leading axes of large float32 (or narrower) arrays: one reduction of the
pairs (x - c, (x - c)^2) in float64 (`_reductions._var_one_pass`), with the two-pass
derivative. Every value is checked against NumPy in float64; gradients against the analytic
2 (x - mean) / (n - ddof); vmap against a loop. Most tests lower the size threshold so that
small arrays take the path."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore.numpy import _reductions

try:
    import ml_dtypes
    BF16 = [np.dtype(ml_dtypes.bfloat16)]
except ImportError:   # pragma: no cover - ml_dtypes is a declared dependency
    BF16 = []


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(_reductions, "_ONE_PASS_MIN", 0)


def _close(got, ref, rtol):
    """Equal NaN positions; elsewhere within rtol of ref's largest magnitude."""
    got = np.asarray(got, dtype=np.float64)
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(got), nan)
    if not nan.all():
        scale = max(float(np.abs(ref[~nan]).max()), 1e-30)
        assert float(np.abs(got[~nan] - ref[~nan]).max()) <= rtol * scale


def _one_pass_taken(f, *args) -> bool:
    """Does the traced program hold the pair reduction (a float64 sum of a concatenate)?"""
    text = str(jc.make_jaxpr(f)(*args))
    return "custom_jvp" in text and "concatenate" in text


CASES = [((300, 40), 0), ((64, 9, 24), (0, 1)), ((5, 70, 33), 0), ((6, 50, 16), 1),
         ((1, 17), 0), ((40, 3, 2, 8), (0, 2))]


@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_values_match_numpy_float64(small, shape, axis, ddof, keepdims):
    rng = np.random.default_rng(len(shape) * 10 + ddof)
    x = (rng.standard_normal(shape) * 3 + 50).astype(np.float32)
    f = jc.jit(lambda x: jnp.var(x, axis, ddof=ddof, keepdims=keepdims))
    assert _one_pass_taken(f, x)
    got = f(x)
    assert got.dtype == np.float32 and got.shape == x.var(axis, keepdims=keepdims).shape
    ref = x.astype(np.float64).var(axis, ddof=ddof, keepdims=keepdims)
    _close(got, ref, 2e-6)
    _close(jnp.std(x, axis, ddof=ddof, keepdims=keepdims), np.sqrt(ref), 2e-6)


@pytest.mark.parametrize("dtype", [np.dtype(np.float16)] + BF16)
def test_half_precision_inputs_keep_their_dtype(small, dtype):
    x = np.random.default_rng(1).standard_normal((200, 48)).astype(dtype)
    got = jnp.var(x, 0)
    assert got.dtype == dtype
    ref = x.astype(np.float64).var(0)
    # The result is rounded once to the narrow type.
    _close(got, ref, 4e-3 if dtype == np.float16 else 2e-2)


def test_hard_data_keeps_float32_accuracy(small):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((500, 64)) * 0.01 + 1e4).astype(np.float32)   # mean >> spread:
    x[0, 32:48] = 3e5                  # unshifted float64 sums would cancel; an outlier where
    x[:, 50] = 7.25                    # the shift is taken; a constant column; one constant
    x[1:, 51] = -1e4                   # but for the shift's row
    got = np.asarray(jnp.var(x, 0), np.float64)
    ref = x.astype(np.float64).var(0)
    np.testing.assert_allclose(got, ref, rtol=2e-7)
    assert got[50] == 0.0


def test_nan_and_inf_give_nan_as_numpy(small):
    x = np.random.default_rng(3).standard_normal((50, 8)).astype(np.float32)
    x[3, 0] = np.nan
    x[0, 1] = np.inf                   # in the shift's row
    x[9, 2] = -np.inf
    with np.errstate(invalid="ignore"):
        ref = x.astype(np.float64).var(0)
    _close(jnp.var(x, 0), ref, 2e-6)


def test_other_reductions_keep_two_passes(small):
    x = np.random.default_rng(4).standard_normal((64, 32)).astype(np.float32)
    w = x > 0
    assert not _one_pass_taken(lambda x: jnp.var(x, 1), x)          # the last axis
    assert not _one_pass_taken(lambda x: jnp.var(x, 0, where=w), x)
    assert not _one_pass_taken(lambda x: jnp.var(x.astype(np.float64), 0), x)
    assert not _one_pass_taken(lambda x: jnp.var(x, 0, mean=x.mean(0, keepdims=True)), x)
    assert not _one_pass_taken(lambda x: jnp.var(x + 1j * x, 0), x)


def test_the_threshold_is_a_million_elements():
    big = np.zeros((1024, 1024), np.float32)
    assert _one_pass_taken(lambda x: jnp.var(x, 0), big)
    assert not _one_pass_taken(lambda x: jnp.var(x, 0), big[:1000])
    x = np.random.default_rng(5).standard_normal((1024, 1024)).astype(np.float32) + 9
    _close(jc.jit(lambda x: jnp.var(x, 0))(x), x.astype(np.float64).var(0), 2e-6)


@pytest.mark.parametrize("ddof", [0, 1])
def test_gradient_is_the_two_pass_derivative(small, ddof):
    x = (np.random.default_rng(6).standard_normal((120, 24)) * 2 + 5).astype(np.float32)
    w = np.random.default_rng(7).standard_normal(24).astype(np.float32)
    g = jc.jit(jc.grad(lambda x: jnp.sum(jnp.var(x, 0, ddof=ddof) * w)))(x)
    x64 = x.astype(np.float64)
    ref = 2 * (x64 - x64.mean(0)) / (x.shape[0] - ddof) * w
    _close(g, ref, 1e-6)
    # Forward mode: the directional derivative along t.
    t = np.random.default_rng(8).standard_normal(x.shape).astype(np.float32)
    _, dv = jc.jvp(lambda x: jnp.var(x, 0, ddof=ddof), (x,), (t,))
    _close(dv, (2 * (x64 - x64.mean(0)) * t).sum(0) / (x.shape[0] - ddof), 1e-5)


def test_second_derivative(small):
    # d2/dx2 of var over n rows: 2/n (I - 1/n), for each column on its own.
    x = np.random.default_rng(9).standard_normal((6, 1)).astype(np.float32)
    h = np.asarray(jc.hessian(lambda x: jnp.var(x, 0)[0])(x)).reshape(6, 6)
    np.testing.assert_allclose(h, 2 / 6 * (np.eye(6) - 1 / 6), atol=1e-6)


def test_vmap_matches_a_loop(small):
    xs = (np.random.default_rng(10).standard_normal((3, 80, 12)) + 2).astype(np.float32)
    got = jc.vmap(lambda x: jnp.std(x, 0))(xs)
    _close(got, np.stack([x.astype(np.float64).std(0) for x in xs]), 2e-6)
    g = jc.vmap(jc.grad(lambda x: jnp.var(x, 0).sum()))(xs)
    ref = np.stack([2 * (x - x.mean(0)) / x.shape[0] for x in xs.astype(np.float64)])
    _close(g, ref, 1e-6)
