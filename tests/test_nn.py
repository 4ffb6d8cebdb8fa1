"""jitcore.nn: every activation against a NumPy float64 reference (eagerly and under jit, in
float64 and float32), derivatives by finite differences and at JAX's conventions (relu'(0) = 0),
the stability of softmax/logsumexp at large and -inf inputs, one_hot against NumPy, and the
initializers' variances against their formulas (fixed seeds, tolerances from the sample size).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import nn
from jitcore.nn import initializers as init
from ops.errors import AxisError, ConcretizationTypeError
from tests.helpers import check_grads

_erfc = np.vectorize(math.erfc)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_logsumexp(x, axis=None):
    m = x.max(axis, keepdims=True)
    return np.squeeze(np.log(np.sum(np.exp(x - m), axis, keepdims=True)) + m, axis)


# name -> (jitcore function, NumPy float64 reference)
ACTIVATIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda x: nn.leaky_relu(x, 0.2), lambda x: np.where(x >= 0, x, 0.2 * x)),
    "elu": (nn.elu, np_elu),
    "selu": (nn.selu, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA)),
    "celu": (lambda x: nn.celu(x, 0.7),
             lambda x: np.maximum(x, 0) + 0.7 * np.expm1(np.minimum(x, 0) / 0.7)),
    "gelu": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi)
                                                       * (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * _erfc(-x / np.sqrt(2))),
    "sigmoid": (nn.sigmoid, np_sigmoid),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    "softplus": (nn.softplus, lambda x: np.logaddexp(x, 0)),
    "silu": (nn.silu, lambda x: x * np_sigmoid(x)),
    "swish": (nn.swish, lambda x: x * np_sigmoid(x)),
    "mish": (nn.mish, lambda x: x * np.tanh(np.logaddexp(x, 0))),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "tanh": (nn.tanh, np.tanh),
    "softmax": (nn.softmax, np_softmax),
    "softmax_axis0": (lambda x: nn.softmax(x, axis=0), lambda x: np_softmax(x, 0)),
    "log_softmax": (nn.log_softmax, lambda x: np.log(np_softmax(x))),
    "logsumexp_axis": (lambda x: nn.logsumexp(x, axis=-1), lambda x: np_logsumexp(x, -1)),
    "standardize": (nn.standardize, lambda x: (x - x.mean(-1, keepdims=True))
                    / np.sqrt(x.var(-1, keepdims=True) + 1e-5)),
    "glu": (nn.glu, lambda x: x[..., :2] * np_sigmoid(x[..., 2:])),
}

X = np.array([[-7.5, -1.25, -0.0, 0.0], [0.3, 1.0, 2.5, 6.0], [6.5, -3.0, 30.0, -30.0]])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_values_eager_and_jit(name, dtype):
    f, ref = ACTIVATIONS[name]
    x = X.astype(dtype)
    want = ref(X)
    # gelu_exact's erfc(21) carries exp(-x^2)'s relative error, about x^2 ulps (as Cephes).
    rtol = (1e-12 if name == "gelu_exact" else 1e-13) if dtype == np.float64 else 3e-6
    # float32: formulas like 1 + tanh(...) cancel near -3, so an absolute few-ulp bound too.
    atol = 1e-300 if dtype == np.float64 else 1e-6
    if name == "log_softmax":
        # x - max - log(sum): an entry near 0 carries log(sum)'s absolute rounding, as JAX's.
        atol = 10 * np.finfo(dtype).eps
    for out in (f(x), jax.jit(f)(x)):
        assert out.dtype == dtype and out.shape == want.shape
        np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["relu", "elu", "gelu", "sigmoid", "softplus", "silu",
                                  "hard_tanh"])
def test_activation_scalar_and_empty_inputs(name):
    f, ref = ACTIVATIONS[name]
    np.testing.assert_allclose(f(0.75), ref(np.float64(0.75)), rtol=1e-14)
    assert f(np.zeros((0, 3))).shape == (0, 3)
    # Python scalars are weak: a float32 array stays float32.
    assert f(np.float32(0.5) * jnp.ones(2, jnp.float32)).dtype == np.float32


# Points away from kinks (0 for relu-likes, +-1 for hard_tanh, 6 for relu6, -3/3 for hard_*).
SMOOTH_X = np.array([[-2.3, -0.7, 0.4], [1.6, 2.2, 3.7]])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients_by_finite_differences(name):
    f, _ = ACTIVATIONS[name]
    order = 1 if name in ("relu", "relu6", "leaky_relu", "leaky_relu_0.2", "hard_tanh",
                          "hard_sigmoid", "hard_silu", "glu") else 2
    x = SMOOTH_X if name != "glu" else np.concatenate([SMOOTH_X, SMOOTH_X[:, ::-1]], 1)
    check_grads(f, (x,), order=order)


def test_derivative_conventions_at_kinks():
    g = lambda f, v: float(jax.grad(f)(v))  # noqa: E731
    assert g(nn.relu, 0.0) == 0.0 and g(nn.relu, 1.0) == 1.0
    assert g(nn.relu6, 0.0) == 0.0 and g(nn.relu6, 6.0) == 0.0 and g(nn.relu6, 3.0) == 1.0
    assert g(nn.leaky_relu, 0.0) == 1.0
    assert g(nn.softplus, 0.0) == 0.5
    assert g(nn.log_sigmoid, 0.0) == 0.5
    assert g(nn.elu, 0.0) == 1.0
    # The same rules under jit and vmap.
    xs = jnp.array([-1.0, 0.0, 2.0, 6.0, 7.0])
    np.testing.assert_array_equal(jax.jit(jax.vmap(jax.grad(nn.relu6)))(xs), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(nn.relu))(xs), [0, 0, 1, 1, 1])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "relu", "gelu_exact", "softplus",
                                  "logsumexp_axis", "standardize"])
def test_vmap_equals_a_loop(name):
    f, _ = ACTIVATIONS[name]
    loop = np.stack([np.asarray(f(row)) for row in SMOOTH_X])
    np.testing.assert_allclose(jax.vmap(f)(SMOOTH_X), loop, rtol=1e-14)
    grad_loop = np.stack([np.asarray(jax.grad(lambda r: jnp.sum(f(r) ** 2))(row))
                          for row in SMOOTH_X])
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(lambda r: jnp.sum(f(r) ** 2))))(
        SMOOTH_X), grad_loop, rtol=1e-13)


def test_softmax_gradient_is_jax_custom_jvp():
    x = np.array([[0.2, -1.0, 3.0], [1.0, 1.0, 1.0]])
    t = np.array([[1.0, 0.5, -2.0], [0.3, 0.0, 0.1]])
    y = np_softmax(x)
    want = y * (t - np.sum(y * t, -1, keepdims=True))
    np.testing.assert_allclose(jax.jvp(nn.softmax, (x,), (t,))[1], want, rtol=1e-14)
    np.testing.assert_allclose(jax.jit(lambda x, t: jax.jvp(nn.softmax, (x,), (t,))[1])(x, t),
                               want, rtol=1e-14)
    w = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    gr = jax.grad(lambda x: jnp.sum(nn.softmax(x) * w))(x)
    np.testing.assert_allclose(gr, y * (w - np.sum(y * w, -1, keepdims=True)), rtol=1e-13)
    # `where` masks entries out: they get probability 0 and no gradient.
    mask = np.array([[True, False, True], [True, True, False]])
    got = np.asarray(nn.softmax(x, where=mask))
    xm = np.where(mask, x, -np.inf)
    np.testing.assert_allclose(got, np.where(mask, np_softmax(xm), 0), rtol=1e-14)


def test_stability_at_large_and_infinite_inputs():
    big = jnp.array([1000.0, 1000.0])
    np.testing.assert_allclose(nn.logsumexp(big), 1000 + np.log(2), rtol=1e-15)
    np.testing.assert_allclose(nn.softmax(big), [0.5, 0.5])
    np.testing.assert_allclose(nn.log_softmax(big), [-np.log(2)] * 2, rtol=1e-15)
    np.testing.assert_allclose(jax.jit(nn.logsumexp)(-big), -1000 + np.log(2), rtol=1e-15)
    x = jnp.array([-np.inf, 0.0, 1.0])
    ref = np_softmax(np.array([-np.inf, 0.0, 1.0]))
    np.testing.assert_allclose(nn.softmax(x), ref, rtol=1e-15)
    np.testing.assert_allclose(nn.logsumexp(x), np.log(1 + np.e), rtol=1e-15)
    assert float(nn.logsumexp(jnp.array([-np.inf, -np.inf]))) == -np.inf
    w = jnp.array([0.5, 1.0, 2.0])
    grads = [jax.grad(nn.logsumexp)(x),
             jax.grad(lambda v: jnp.sum(nn.softmax(v) * w))(x),
             jax.grad(lambda v: jnp.sum(nn.log_softmax(v) * w))(x),
             jax.jit(jax.grad(nn.logsumexp))(x)]
    for gr in grads:
        assert np.all(np.isfinite(np.asarray(gr))), gr
    np.testing.assert_allclose(grads[0], ref, rtol=1e-15)
    assert np.all(np.isfinite(np.asarray(jax.grad(nn.logsumexp)(big))))


def test_logsumexp_weights_and_sign():
    a = np.array([[0.5, 2.0, -1.0], [3.0, 0.0, 1.0]])
    b = np.array([[1.0, -0.5, 2.0], [0.0, 1.0, 3.0]])
    s = np.sum(b * np.exp(a), axis=1)
    out, sign = nn.logsumexp(a, axis=1, b=b, return_sign=True)
    np.testing.assert_allclose(out, np.log(np.abs(s)), rtol=1e-14)
    np.testing.assert_array_equal(sign, np.sign(s))
    np.testing.assert_allclose(nn.logsumexp(a, axis=0, keepdims=True),
                               np.log(np.sum(np.exp(a), 0, keepdims=True)), rtol=1e-14)
    neg = nn.logsumexp(np.array([0.0, 1.0]), b=np.array([1.0, -1.0]))
    assert np.isnan(float(neg))


def test_one_hot_against_numpy():
    labels = np.array([[0, 2, 4], [1, -1, 5]])
    # Out-of-range labels (-1, 5) give all-zero rows.
    want = (labels[..., None] == np.arange(5)).astype(np.float64)
    for f in (lambda x: nn.one_hot(x, 5), jax.jit(lambda x: nn.one_hot(x, 5))):
        out = f(labels)
        assert out.dtype == np.float64 and out.shape == (2, 3, 5)
        np.testing.assert_array_equal(out, want)
    out0 = nn.one_hot(labels, 5, axis=0, dtype=jnp.int32)
    assert out0.dtype == np.int32
    np.testing.assert_array_equal(out0, np.moveaxis(want, -1, 0))
    np.testing.assert_array_equal(nn.one_hot(3, 4), np.eye(4)[3])
    with pytest.raises(ConcretizationTypeError) as e:
        jax.jit(lambda x, n: nn.one_hot(x, n))(labels, 5)
    assert "one_hot" in str(e.value) and "num_classes" in str(e.value)
    assert "test_nn.py" in str(e.value)
    with pytest.raises(AxisError) as e:
        nn.one_hot(labels, 5, axis=4)
    assert "one_hot" in str(e.value) and "test_nn.py" in str(e.value)


def test_standardize_with_given_statistics_and_axes():
    x = np.arange(24.0).reshape(2, 3, 4) ** 1.5
    m, v = x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)
    np.testing.assert_allclose(nn.standardize(x, axis=(0, 2)), (x - m) / np.sqrt(v + 1e-5),
                               rtol=1e-12)
    np.testing.assert_allclose(nn.standardize(x, axis=(0, 2), algorithm="stable"),
                               (x - m) / np.sqrt(v + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(nn.standardize(x, mean=1.0, variance=4.0, epsilon=0.0),
                               (x - 1) / 2, rtol=1e-15)


# --- initializers ---------------------------------------------------------------------------

SHAPE = (4, 100, 150)  # receptive field 4, fan_in 400, fan_out 600
FAN_IN, FAN_OUT = 400, 600

INITS = {
    "glorot_normal": (init.glorot_normal(), 2 / (FAN_IN + FAN_OUT), "truncated_normal"),
    "xavier_uniform": (init.xavier_uniform(), 2 / (FAN_IN + FAN_OUT), "uniform"),
    "lecun_normal": (init.lecun_normal(), 1 / FAN_IN, "truncated_normal"),
    "lecun_uniform": (init.lecun_uniform(), 1 / FAN_IN, "uniform"),
    "he_normal": (init.he_normal(), 2 / FAN_IN, "truncated_normal"),
    "kaiming_uniform": (init.kaiming_uniform(), 2 / FAN_IN, "uniform"),
    "fan_out_normal": (init.variance_scaling(3.0, "fan_out", "normal"), 3 / FAN_OUT, "normal"),
    "fan_geo_avg": (init.variance_scaling(1.0, "fan_geo_avg", "normal"),
                    1 / math.sqrt(FAN_IN * FAN_OUT), "normal"),
}


@pytest.mark.parametrize("name", sorted(INITS))
def test_initializer_variances(name):
    fn, var, dist = INITS[name]
    w = fn(jax.random.PRNGKey(7), SHAPE)
    assert w.shape == SHAPE and w.dtype == np.float64
    x = np.asarray(w).ravel()
    n = x.size
    # Excess kurtosis: 0 (normal), -1.2 (uniform), about -0.59 (normal truncated at 2 sigma).
    kurt = {"normal": 3.0, "uniform": 1.8, "truncated_normal": 2.41}[dist]
    assert abs(x.var() - var) < 6 * var * math.sqrt((kurt - 1) / n)
    assert abs(x.mean()) < 6 * math.sqrt(var / n)
    if dist == "uniform":
        assert np.max(np.abs(x)) <= math.sqrt(3 * var)
    if dist == "truncated_normal":
        assert np.max(np.abs(x)) < 2 * math.sqrt(var) / 0.87962566103423978
    assert fn(jax.random.PRNGKey(7), (30, 20), jnp.float32).dtype == np.float32


def test_simple_initializers():
    key = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(init.zeros(key, (2, 3)), np.zeros((2, 3)))
    assert init.ones(key, (2,), jnp.float32).dtype == np.float32
    np.testing.assert_array_equal(init.constant(-1.5)(key, (3,)), [-1.5] * 3)
    u = np.asarray(init.uniform(0.5)(key, (20000,)))
    assert u.min() >= 0 and u.max() < 0.5 and abs(u.mean() - 0.25) < 6 * 0.5 / math.sqrt(12 * 2e4)
    np.testing.assert_allclose(init.normal(0.1)(key, (5,)), 0.1 * np.asarray(
        jax.random.normal(key, (5,))), rtol=1e-15)
    t = np.asarray(init.truncated_normal(0.01)(key, (1000,)))
    assert t.min() > -0.02 and t.max() < 0.02  # truncated at 2 standard deviations
    # Under jit, with the key as an argument.
    w = jax.jit(lambda k: init.he_normal()(k, (8, 4)))(key)
    np.testing.assert_allclose(w, init.he_normal()(key, (8, 4)), rtol=1e-14)
    with pytest.raises(ValueError, match="in_axis"):
        init.glorot_normal()(key, (5,))
