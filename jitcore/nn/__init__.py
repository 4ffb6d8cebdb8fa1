"""`jitcore.nn`: activation functions and friends with `jax.nn`'s API and derivatives.

relu and relu6 carry JAX's custom derivatives (0 at the kinks), softmax has JAX's custom JVP
(y * (t - sum(y * t))), and logsumexp/log_softmax subtract a stop-gradient maximum so that they
are stable for large inputs and their gradients stay finite at -inf entries.
"""
from __future__ import annotations

import math

import numpy as np

from ops import dtypes

from .. import lax
from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..numpy._promotion import aval_of, asarray, promote_to_inexact
from ..numpy._reductions import reduction_axes
from ..numpy._shape import axis_of, static_int
from ..scipy.special import erfc as _erfc
from ..scipy.special import logsumexp
from . import initializers  # noqa: F401
from .pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401  (flax.linen's)
from .attention import dot_product_attention  # noqa: F401

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "glu", "sigmoid",
           "log_sigmoid", "softplus", "soft_sign", "silu", "swish", "mish", "hard_tanh",
           "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "identity", "softmax",
           "log_softmax", "logsumexp", "one_hot", "standardize", "initializers",
           "dot_product_attention", "pool", "max_pool", "min_pool", "avg_pool"]

tanh = jnp.tanh


def _inexact(name, x):
    (x,) = promote_to_inexact(name, x)
    return x


def identity(x):
    return asarray(x)


@custom_jvp
def relu(x):
    """max(x, 0); its derivative at 0 is 0, as JAX's."""
    return jnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: jnp.where(x > 0, g, jnp.zeros_like(g)))


@custom_jvp
def relu6(x):
    """min(max(x, 0), 6); derivative 0 at both kinks, as JAX's."""
    return jnp.minimum(jnp.maximum(x, 0), 6.0)


relu6.defjvps(lambda g, ans, x: jnp.where((x > 0) & (x < 6), g, jnp.zeros_like(g)))


def leaky_relu(x, negative_slope=1e-2):
    x = asarray(x)
    return jnp.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise (expm1 of a clamped x: no overflow)."""
    x = asarray(x)
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.where(x > 0, 0.0, x)))


def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def celu(x, alpha=1.0):
    return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


def gelu(x, approximate=True):
    """x * Phi(x): the tanh approximation by default, the exact erf form with approximate=False."""
    x = _inexact("gelu", x)
    if approximate:
        cdf = 0.5 * (1.0 + jnp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * (x ** 3))))
        return x * cdf
    return 0.5 * x * _erfc(-x * math.sqrt(0.5))


def sigmoid(x):
    return lax.logistic(_inexact("sigmoid", x))


@custom_jvp
def _softplus(x):
    return jnp.logaddexp(x, 0.0)


# JAX's logaddexp has its own JVP (exp(x - out), so 1/2 at x == 0); jnp.logaddexp's derivative
# through max/abs splits that tie into 0, hence the explicit rule: d softplus = sigmoid.
_softplus.defjvps(lambda g, ans, x: g * lax.logistic(x))


def softplus(x):
    """log(1 + exp(x)), as logaddexp(x, 0)."""
    return _softplus(_inexact("softplus", x))


def log_sigmoid(x):
    return -softplus(-asarray(x))


def soft_sign(x):
    x = asarray(x)
    return x / (jnp.abs(x) + 1)


def silu(x):
    x = asarray(x)
    return x * sigmoid(x)


swish = silu


def mish(x):
    x = asarray(x)
    return x * jnp.tanh(softplus(x))


def hard_tanh(x):
    x = asarray(x)
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x):
    return relu6(asarray(x) + 3.0) / 6.0


def hard_silu(x):
    x = asarray(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def glu(x, axis=-1):
    """Gated linear unit: the first half of `axis` times the sigmoid of the second half."""
    x = asarray(x)
    a = aval_of(x)
    ax = axis_of("glu", axis, a)
    size = a.shape[ax]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got {a.str_short()}")
    x1, x2 = jnp.split(x, 2, axis=ax)
    return x1 * sigmoid(x2)


# --- softmax family -------------------------------------------------------------------------

def _softmax_impl(x, axis, where):
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    unnormalized = jnp.exp(x_safe - x_max)
    result = unnormalized / jnp.sum(unnormalized, axis, where=where, keepdims=True)
    return result if where is None else jnp.where(where, result, 0)


_softmax = custom_jvp(_softmax_impl, nondiff_argnums=(1, 2))


@_softmax.defjvp
def _softmax_jvp(axis, where, primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = _softmax_impl(x, axis, where)
    return y, y * (x_dot - jnp.sum(y * x_dot, axis, where=where, keepdims=True))


def softmax(x, axis=-1, where=None):
    """exp(x) / sum(exp(x)) along `axis`, computed with the maximum subtracted."""
    x = _inexact("softmax", x)
    return _softmax(x, reduction_axes("softmax", axis, aval_of(x).shape), where)


def log_softmax(x, axis=-1, where=None):
    """x - logsumexp(x) along `axis`, stable for large inputs."""
    x = _inexact("log_softmax", x)
    axis = reduction_axes("log_softmax", axis, aval_of(x).shape)
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    result = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis, where=where, keepdims=True))
    return result if where is None else jnp.where(where, result, -np.inf)


# --- one_hot, standardize -------------------------------------------------------------------

def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """x == [0, 1, ..., num_classes - 1] along a new axis `axis`, as `dtype` (float64)."""
    num_classes = static_int("one_hot", "num_classes", num_classes)
    x = asarray(x)
    a = aval_of(x)
    dtype = dtypes.default_float if dtype is None else dtypes.canonicalize(
        dtype, "one_hot: dtype")
    out_axis = axis_of("one_hot", axis, a.update(shape=a.shape + (num_classes,)))
    lhs = jnp.expand_dims(x, out_axis)
    rhs_shape = [1] * a.ndim
    rhs_shape.insert(out_axis, num_classes)
    rhs = lax.broadcasted_iota(a.dtype, rhs_shape, out_axis)
    return (lhs == rhs).astype(dtype)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm="fast"):
    """(x - mean) / sqrt(variance + epsilon), the statistics taken along `axis` unless given.
    algorithm='fast' (JAX's default) uses E[x^2] - E[x]^2 clipped at 0; 'stable' E[(x-m)^2]."""
    x = asarray(x)
    axis = reduction_axes("standardize", axis, aval_of(x).shape)
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = jnp.mean(jnp.square(x - mean), axis, keepdims=True, where=where)
        elif algorithm == "fast":
            variance = jnp.mean(jnp.square(x), axis, keepdims=True, where=where) \
                - jnp.square(mean)
            variance = jnp.clip(variance, 0)
        else:
            raise ValueError(f"standardize: unknown algorithm {algorithm!r}; expected 'fast' "
                             "or 'stable'")
    return (x - mean) * lax.rsqrt(variance + epsilon)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
