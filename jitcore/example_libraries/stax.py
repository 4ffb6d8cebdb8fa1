"""`jitcore.example_libraries.stax`: JAX's minimal neural-network layer library.

A layer is a pair `(init_fun, apply_fun)`: `init_fun(rng, input_shape)` returns
`(output_shape, params)` without computing anything on arrays, and
`apply_fun(params, inputs, **kwargs)` returns the outputs. Combinators (`serial`, `parallel`,
`FanOut`, ...) build layers from layers. Shapes, initializers and conventions follow
`jax.example_libraries.stax`, including its Dropout, whose `rate` is the probability of
*keeping* a unit.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from .. import lax
from .. import numpy as jnp
from .. import random
from ..lax_conv import _transpose_padding, conv_general_permutations
from ..nn import (elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax, softplus,
                  standardize)
from ..nn.initializers import glorot_normal, normal, ones, zeros

__all__ = ["Dense", "GeneralConv", "Conv", "GeneralConvTranspose", "Conv1DTranspose",
           "ConvTranspose", "BatchNorm", "elementwise", "Tanh", "Relu", "Exp", "LogSoftmax",
           "Softmax", "Softplus", "Sigmoid", "Elu", "LeakyRelu", "Selu", "Gelu", "MaxPool",
           "SumPool", "AvgPool", "Flatten", "Identity", "FanOut", "FanInSum", "FanInConcat",
           "Dropout", "serial", "parallel", "shape_dependent", "glorot_normal", "normal",
           "ones", "zeros"]


# --- output shapes (JAX's lax.*_shape_tuple rules, computed without tracing) ----------------

def _conv_pads(in_spatial, k_spatial, strides, padding):
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    return lax.padtype_to_pads(in_spatial, k_spatial, strides, padding)


def _conv_shape(lhs_shape, rhs_shape, strides, padding, dimension_numbers):
    lp, rp, op = conv_general_permutations(dimension_numbers)
    lhs = [lhs_shape[i] for i in lp]
    rhs = [rhs_shape[i] for i in rp]
    pads = _conv_pads(lhs[2:], rhs[2:], strides, padding)
    space = [max(0, (n + lo + hi - k) // s + 1)
             for n, k, s, (lo, hi) in zip(lhs[2:], rhs[2:], strides, pads)]
    out = [lhs[0], rhs[0]] + space
    return tuple(int(out[i]) for i in np.argsort(op))


def _conv_transpose_shape(lhs_shape, rhs_shape, strides, padding, dimension_numbers):
    lp, rp, op = conv_general_permutations(dimension_numbers)
    lhs = [lhs_shape[i] for i in lp]
    rhs = [rhs_shape[i] for i in rp]
    if isinstance(padding, str):
        padding = [_transpose_padding(k, s, padding) for k, s in zip(rhs[2:], strides)]
    space = [(n - 1) * s - k + 2 + sum(p)
             for n, k, s, p in zip(lhs[2:], rhs[2:], strides, padding)]
    out = [lhs[0], rhs[0]] + space
    return tuple(int(out[i]) for i in np.argsort(op))


def _reduce_window_shape(shape, window, strides, padding):
    pads = _conv_pads(shape, window, strides, padding)
    return tuple(max(0, (n + lo + hi - w) // s + 1)
                 for n, w, s, (lo, hi) in zip(shape, window, strides, pads))


# --- layers with parameters ------------------------------------------------------------------

def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):
    """Fully connected layer: `inputs @ W + b`, W of shape (in_dim, out_dim)."""
    def init_fun(rng, input_shape):
        output_shape = tuple(input_shape[:-1]) + (out_dim,)
        k1, k2 = random.split(rng)
        W, b = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return output_shape, (W, b)

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return jnp.dot(inputs, W) + b
    return init_fun, apply_fun


def _kernel_shape(lhs_spec, rhs_spec, input_shape, out_chan, filter_shape):
    it = iter(filter_shape)
    return [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I" else next(it)
            for c in rhs_spec]


def _conv_layer(dimension_numbers, out_chan, filter_shape, strides, padding, W_init, b_init,
                out_shape, conv):
    """(init_fun, apply_fun) of a convolution layer with a bias: `out_shape(input_shape,
    kernel_shape, strides, padding, dimension_numbers)` and `conv(inputs, W, strides, padding,
    one)` say which convolution."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    one = (1,) * len(filter_shape)
    strides = strides or one
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng, input_shape):
        kernel_shape = _kernel_shape(lhs_spec, rhs_spec, input_shape, out_chan, filter_shape)
        output_shape = out_shape(input_shape, kernel_shape, strides, padding,
                                 dimension_numbers)
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = random.split(rng)
        return output_shape, (W_init(k1, kernel_shape), b_init(k2, bias_shape))

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return conv(inputs, W, strides, padding, one) + b
    return init_fun, apply_fun


def GeneralConv(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
                W_init=None, b_init=normal(1e-6)):
    """Convolution with layouts `dimension_numbers = (lhs_spec, rhs_spec, out_spec)`."""
    return _conv_layer(dimension_numbers, out_chan, filter_shape, strides, padding, W_init,
                       b_init, _conv_shape,
                       lambda x, W, s, p, one: lax.conv_general_dilated(
                           x, W, s, p, one, one, dimension_numbers=dimension_numbers))


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))


def GeneralConvTranspose(dimension_numbers, out_chan, filter_shape, strides=None,
                         padding="VALID", W_init=None, b_init=normal(1e-6)):
    """Transposed convolution (`lax.conv_transpose`) with the given layouts."""
    return _conv_layer(dimension_numbers, out_chan, filter_shape, strides, padding, W_init,
                       b_init, _conv_transpose_shape,
                       lambda x, W, s, p, one: lax.conv_transpose(
                           x, W, s, p, dimension_numbers=dimension_numbers))
    return init_fun, apply_fun


Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True, beta_init=zeros,
              gamma_init=ones):
    """Normalize over `axis` with the batch's own statistics (no running averages, as in
    JAX's stax), then scale by gamma and shift by beta (both shaped like the other axes)."""
    axis = (axis,) if np.isscalar(axis) else tuple(axis)

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return input_shape, (beta, gamma)

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        ed = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        if center and scale:
            return gamma[ed] * z + beta[ed]
        if center:
            return z + beta[ed]
        if scale:
            return gamma[ed] * z
        return z
    return init_fun, apply_fun


# --- parameter-free layers -------------------------------------------------------------------

def elementwise(fun, **fun_kwargs):
    """A layer applying `fun(inputs, **fun_kwargs)`."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)
    return init_fun, apply_fun


Tanh = elementwise(jnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _pooling_layer(reducer, init_val, rescaler=None):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        window_shape = tuple(window_shape)
        strides = tuple(strides or (1,) * len(window_shape))
        rescale = rescaler(window_shape, strides, padding) if rescaler else None
        # The window covers one element of the batch and channel axes (N first and C last
        # unless `spec` says otherwise).
        non_spatial = (0, len(window_shape) + 1) if spec is None else \
            (spec.index("N"), spec.index("C"))
        dims, strd = window_shape, strides
        for i in sorted(non_spatial):
            dims = dims[:i] + (1,) + dims[i:]
            strd = strd[:i] + (1,) + strd[i:]

        def init_fun(rng, input_shape):
            return _reduce_window_shape(tuple(input_shape), dims, strd, padding), ()

        def apply_fun(params, inputs, **kwargs):
            out = lax.reduce_window(inputs, init_val, reducer, dims, strd, padding)
            return rescale(out, inputs, spec) if rescale else out
        return init_fun, apply_fun
    return PoolingLayer


MaxPool = _pooling_layer(lax.max, -np.inf)
SumPool = _pooling_layer(lax.add, 0.)


def _normalize_by_window_size(dims, strides, padding):
    # Divide each output by the number of input elements its window covered (padding
    # excluded), as JAX does.
    def rescale(outputs, inputs, spec):
        nd = jnp.ndim(inputs)
        non_spatial = (0, nd - 1) if spec is None else (spec.index("N"), spec.index("C"))
        spatial = tuple(n for i, n in enumerate(jnp.shape(inputs)) if i not in non_spatial)
        one = jnp.ones(spatial, dtype=inputs.dtype)
        sizes = lax.reduce_window(one, 0., lax.add, dims, strides, padding)
        for i in sorted(non_spatial):
            sizes = jnp.expand_dims(sizes, i)
        return outputs / sizes
    return rescale


AvgPool = _pooling_layer(lax.add, 0., _normalize_by_window_size)


def _flatten():
    def init_fun(rng, input_shape):
        return (input_shape[0], functools.reduce(operator.mul, input_shape[1:], 1)), ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.reshape(inputs, (jnp.shape(inputs)[0], -1))
    return init_fun, apply_fun


Flatten = _flatten()


def _identity():
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return inputs
    return init_fun, apply_fun


Identity = _identity()


def FanOut(num):
    """A layer copying its input `num` times (a list)."""
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    def apply_fun(params, inputs, **kwargs):
        return [inputs] * num
    return init_fun, apply_fun


def _fan_in_sum():
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    def apply_fun(params, inputs, **kwargs):
        return sum(inputs)
    return init_fun, apply_fun


FanInSum = _fan_in_sum()


def FanInConcat(axis=-1):
    """A layer concatenating its list of inputs along `axis`."""
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        size = sum(s[ax] for s in input_shape)
        first = tuple(input_shape[0])
        return first[:ax] + (size,) + first[ax + 1:], ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.concatenate(inputs, axis)
    return init_fun, apply_fun


def Dropout(rate, mode="train"):
    """In 'train' mode keep each unit with probability `rate` and scale kept ones by 1/rate
    (JAX's stax convention); needs `apply_fun(params, inputs, rng=key)`. Other modes: identity."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get("rng", None)
        if rng is None:
            raise ValueError("Dropout layer requires apply_fun to be called with a PRNG key "
                             "argument. That is, instead of `apply_fun(params, inputs)`, call "
                             "it like `apply_fun(params, inputs, rng)` where `rng` is a PRNG "
                             "key (e.g. from `jax.random.key`).")
        if mode == "train":
            keep = random.bernoulli(rng, rate, jnp.shape(inputs))
            return jnp.where(keep, inputs / rate, 0)
        return inputs
    return init_fun, apply_fun


# --- combinators -----------------------------------------------------------------------------

def serial(*layers):
    """Compose layers in sequence; params is a list with one entry per layer."""
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        params = []
        for fun in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = fun(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, nlayers) if rng is not None else (None,) * nlayers
        for fun, param, r in zip(apply_funs, params, rngs):
            inputs = fun(param, inputs, rng=r, **kwargs)
        return inputs
    return init_fun, apply_fun


def parallel(*layers):
    """Apply layer i to input i of a sequence (use with FanOut and FanInSum/FanInConcat)."""
    nlayers = len(layers)
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        rngs = random.split(rng, nlayers)
        shapes, params = zip(*[f(r, s) for f, r, s in zip(init_funs, rngs, input_shape)])
        return shapes, params

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, nlayers) if rng is not None else (None,) * nlayers
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs, rngs)]
    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer chosen from the input shape: `make_layer(shape) -> (init_fun, apply_fun)`."""
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(jnp.shape(inputs))[1](params, inputs, **kwargs)
    return init_fun, apply_fun
