"""jitcore.example_libraries.stax: shapes from init_fun against JAX's rules (and the shapes
apply_fun produces), values against NumPy loops, and a small model under grad and jit."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore.example_libraries import stax

KEY = jax.random.PRNGKey(0)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _check_shapes(layer, in_shape):
    init, apply = layer
    out_shape, params = init(KEY, in_shape)
    out = apply(params, jnp.asarray(_rand(*in_shape)), rng=KEY)
    assert tuple(out_shape) == tuple(np.shape(out))
    return tuple(out_shape), params


@pytest.mark.parametrize("layer, in_shape, expected", [
    # Expected shapes written out from JAX's lax.conv_general_shape_tuple /
    # conv_transpose_shape_tuple / reduce_window_shape_tuple rules.
    (stax.Dense(5), (3, 4), (3, 5)),
    (stax.Conv(4, (3, 3)), (2, 9, 8, 3), (2, 7, 6, 4)),
    (stax.Conv(4, (3, 2), strides=(2, 3), padding="SAME"), (2, 9, 8, 3), (2, 5, 3, 4)),
    (stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 3, (3, 2), strides=(2, 3), padding="SAME"),
     (2, 5, 7, 6), (2, 3, 4, 2)),
    (stax.ConvTranspose(4, (4, 3), strides=(3, 2), padding="SAME"), (2, 5, 7, 3),
     (2, 15, 14, 4)),
    (stax.Conv1DTranspose(4, (3,), strides=(2,)), (2, 5, 3), (2, 11, 4)),
    (stax.GeneralConvTranspose(("NCHW", "OIHW", "NCHW"), 3, (3, 2), strides=(2, 3),
                               padding="SAME"), (2, 5, 7, 6), (2, 3, 14, 18)),
    (stax.MaxPool((3, 3), (2, 1)), (2, 7, 6, 3), (2, 3, 4, 3)),
    (stax.AvgPool((3, 2), (2, 2), padding="SAME", spec="NCHW"), (2, 3, 7, 6), (2, 3, 4, 3)),
    (stax.SumPool((2, 2)), (1, 4, 5, 2), (1, 3, 4, 2)),
    (stax.Flatten, (2, 3, 4, 5), (2, 60)),
    (stax.BatchNorm(), (2, 3, 4, 5), (2, 3, 4, 5)),
    (stax.FanInConcat(1), None, None),
])
def test_output_shapes(layer, in_shape, expected):
    if in_shape is None:   # FanInConcat takes a list of shapes
        init, apply = layer
        shape, _ = init(KEY, [(2, 3, 4), (2, 5, 4)])
        assert tuple(shape) == (2, 8, 4)
        out = apply((), [jnp.ones((2, 3, 4)), jnp.zeros((2, 5, 4))])
        np.testing.assert_array_equal(np.asarray(out),
                                      np.concatenate([np.ones((2, 3, 4)), np.zeros((2, 5, 4))], 1))
        return
    assert _check_shapes(layer, in_shape)[0] == expected


def test_dense_values_and_param_shapes():
    init, apply = stax.Dense(3)
    _, (W, b) = init(KEY, (4, 2))
    assert np.shape(W) == (2, 3) and np.shape(b) == (3,)
    x = _rand(4, 2)
    np.testing.assert_allclose(np.asarray(apply((W, b), x)),
                               x @ np.asarray(W) + np.asarray(b), rtol=1e-12)


def test_elementwise_layers():
    x = _rand(3, 4)
    sig = 1 / (1 + np.exp(-x))
    lsm = x - np.log(np.exp(x).sum(-1, keepdims=True))
    for layer, ref in [(stax.Relu, np.maximum(x, 0)), (stax.Tanh, np.tanh(x)),
                       (stax.Sigmoid, sig), (stax.Exp, np.exp(x)),
                       (stax.Softplus, np.log1p(np.exp(x))),
                       (stax.Elu, np.where(x > 0, x, np.expm1(x))),
                       (stax.LeakyRelu, np.where(x > 0, x, 0.01 * x)),
                       (stax.LogSoftmax, lsm), (stax.Softmax, np.exp(lsm)),
                       (stax.Identity, x)]:
        shape, params = layer[0](KEY, (3, 4))
        assert tuple(shape) == (3, 4) and params == ()
        np.testing.assert_allclose(np.asarray(layer[1](params, x)), ref, rtol=1e-10, atol=1e-12)
    # tanh approximation of gelu, as jax.nn.gelu's default
    g = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(np.asarray(stax.Gelu[1]((), x)), g, rtol=1e-10)


def test_batchnorm_values():
    x = _rand(4, 3, 5)
    init, apply = stax.BatchNorm(axis=(0, 1), epsilon=1e-3)
    shape, (beta, gamma) = init(KEY, x.shape)
    assert tuple(shape) == x.shape and np.shape(beta) == (5,) and np.shape(gamma) == (5,)
    beta, gamma = _rand(5, seed=1), _rand(5, seed=2)
    m, v = x.mean((0, 1)), x.var((0, 1))
    ref = gamma * (x - m) / np.sqrt(v + 1e-3) + beta
    np.testing.assert_allclose(np.asarray(apply((beta, gamma), x)), ref, rtol=1e-9, atol=1e-12)
    # center/scale off: the plain standardized values
    init2, apply2 = stax.BatchNorm(axis=(0, 1), epsilon=1e-3, center=False, scale=False)
    np.testing.assert_allclose(np.asarray(apply2(init2(KEY, x.shape)[1], x)),
                               (x - m) / np.sqrt(v + 1e-3), rtol=1e-9, atol=1e-12)


def _pool_ref(x, win, stride, fn, pad=((0, 0), (0, 0)), fill=0.0):
    """NHWC pooling by loops; `fn` gets the window's values (padding excluded)."""
    n, h, w, c = x.shape
    (pl, ph), (ql, qh) = pad
    oh = (h + pl + ph - win[0]) // stride[0] + 1
    ow = (w + ql + qh - win[1]) // stride[1] + 1
    out = np.empty((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride[0] - pl, j * stride[1] - ql
            rs = slice(max(r0, 0), min(r0 + win[0], h))
            cs = slice(max(c0, 0), min(c0 + win[1], w))
            out[:, i, j, :] = fn(x[:, rs, cs, :].reshape(n, -1, c))
    return out


def test_pool_values():
    x = _rand(2, 5, 6, 3)
    for layer, fn in [(stax.MaxPool((2, 3), (1, 2)), lambda v: v.max(1)),
                      (stax.SumPool((2, 3), (1, 2)), lambda v: v.sum(1)),
                      (stax.AvgPool((2, 3), (1, 2)), lambda v: v.mean(1))]:
        np.testing.assert_allclose(np.asarray(layer[1]((), x)),
                                   _pool_ref(x, (2, 3), (1, 2), fn), rtol=1e-12)
    # SAME: windows of 3x3, stride 2, on 5x6 -> pads (1, 1) and (0, 1); the average divides by
    # the number of real (unpadded) elements.
    out = stax.AvgPool((3, 3), (2, 2), padding="SAME")[1]((), x)
    np.testing.assert_allclose(np.asarray(out),
                               _pool_ref(x, (3, 3), (2, 2), lambda v: v.mean(1),
                                         pad=((1, 1), (0, 1))), rtol=1e-12)
    out = stax.MaxPool((3, 3), (2, 2), padding="SAME")[1]((), x)
    np.testing.assert_allclose(np.asarray(out),
                               _pool_ref(x, (3, 3), (2, 2), lambda v: v.max(1),
                                         pad=((1, 1), (0, 1))), rtol=1e-12)


def test_conv_values():
    x, W, b = _rand(2, 6, 5, 3), _rand(3, 2, 3, 4, seed=1), _rand(1, 1, 1, 4, seed=2)
    init, apply = stax.Conv(4, (3, 2), strides=(2, 1), padding="SAME")
    shape, (W0, b0) = init(KEY, x.shape)
    assert np.shape(W0) == W.shape and np.shape(b0) == b.shape
    # SAME with stride (2, 1) on (6, 5), kernel (3, 2): pads (0, 1) and (0, 1)
    xp = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
    ref = np.zeros((2, 3, 5, 4))
    for i in range(3):
        for j in range(5):
            patch = xp[:, 2 * i:2 * i + 3, j:j + 2, :]
            ref[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, W)
    ref += b
    assert tuple(shape) == ref.shape
    np.testing.assert_allclose(np.asarray(apply((W, b), x)), ref, rtol=1e-10, atol=1e-12)


def test_conv1d_transpose_values():
    # VALID conv_transpose = the scatter of each input element times the flipped kernel:
    # out[i * s + (k - 1 - j)] += x[i] * W[j]; length n * s + max(k - s, 0).
    n, k, s = 5, 3, 2
    x, W, b = _rand(2, n, 3), _rand(k, 3, 4, seed=1), _rand(1, 1, 4, seed=2)
    init, apply = stax.Conv1DTranspose(4, (k,), strides=(s,))
    shape, _ = init(KEY, x.shape)
    ref = np.zeros((2, n * s + max(k - s, 0), 4))
    for i in range(n):
        for j in range(k):
            ref[:, i * s + k - 1 - j, :] += x[:, i, :] @ W[j]
    ref += b
    assert tuple(shape) == ref.shape
    np.testing.assert_allclose(np.asarray(apply((W, b), x)), ref, rtol=1e-10, atol=1e-12)


def test_fanout_parallel_fanin():
    init, apply = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Identity),
                              stax.FanInConcat())
    shape, params = init(KEY, (4, 2))
    assert tuple(shape) == (4, 5)
    x = _rand(4, 2)
    W, b = (np.asarray(p) for p in params[1][0])
    np.testing.assert_allclose(np.asarray(apply(params, x)),
                               np.concatenate([x @ W + b, x], 1), rtol=1e-12)
    init, apply = stax.serial(stax.FanOut(3), stax.parallel(stax.Tanh, stax.Exp, stax.Identity),
                              stax.FanInSum)
    shape, params = init(KEY, (4, 2))
    assert tuple(shape) == (4, 2)
    np.testing.assert_allclose(np.asarray(apply(params, x)), np.tanh(x) + np.exp(x) + x,
                               rtol=1e-12)


def test_dropout():
    x = _rand(50, 40) + 5.0          # nonzero everywhere
    init, apply = stax.Dropout(0.7)
    assert init(KEY, x.shape) == (x.shape, ())
    with pytest.raises(ValueError, match="PRNG key"):
        apply((), x)
    out = np.asarray(apply((), x, rng=KEY))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-12)
    assert 0.6 < kept.mean() < 0.8      # 2000 draws with keep probability 0.7
    np.testing.assert_array_equal(np.asarray(stax.Dropout(0.7, mode="test")[1]((), x, rng=KEY)),
                                  x)


def test_shape_dependent():
    layer = stax.shape_dependent(lambda shape: stax.Dense(shape[-1] * 2))
    shape, (W, b) = layer[0](KEY, (3, 4))
    assert tuple(shape) == (3, 8) and np.shape(W) == (4, 8)
    x = _rand(3, 4)
    np.testing.assert_allclose(np.asarray(layer[1]((W, b), x)),
                               x @ np.asarray(W) + np.asarray(b), rtol=1e-12)


def _model():
    return stax.serial(stax.Conv(3, (2, 2), padding="SAME"), stax.Relu, stax.AvgPool((2, 2)),
                       stax.Flatten, stax.Dense(4), stax.Tanh, stax.Dense(2), stax.LogSoftmax)


def test_serial_init_apply_grad_jit():
    init, apply = _model()
    shape, params = init(KEY, (2, 4, 4, 1))
    assert tuple(shape) == (2, 2) and len(params) == 8
    # init is a function of the key only
    _, again = init(KEY, (2, 4, 4, 1))
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = _rand(2, 4, 4, 1)
    out = apply(params, x)
    np.testing.assert_allclose(np.exp(np.asarray(out)).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(apply)(params, x)), np.asarray(out),
                               rtol=1e-12, atol=1e-14)

    def loss(p):
        return -apply(p, x)[:, 0].sum()
    g = jax.jit(jax.grad(loss))(params)
    # central finite differences on a few entries of the second Dense's weights
    W, b = (np.asarray(v) for v in params[6])
    gW = np.asarray(g[6][0])
    eps = 1e-6
    for idx in [(0, 0), (1, 1), (3, 0)]:
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        lp = float(loss(params[:6] + [(Wp, b)] + params[7:]))
        lm = float(loss(params[:6] + [(Wm, b)] + params[7:]))
        np.testing.assert_allclose(gW[idx], (lp - lm) / (2 * eps), rtol=1e-5, atol=1e-8)
    # and on the convolution kernel
    Wc, bc = (np.asarray(v) for v in params[0])
    gc = np.asarray(g[0][0])
    for idx in [(0, 0, 0, 0), (1, 1, 0, 2)]:
        Wp, Wm = Wc.copy(), Wc.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        lp = float(loss([(Wp, bc)] + params[1:]))
        lm = float(loss([(Wm, bc)] + params[1:]))
        np.testing.assert_allclose(gc[idx], (lp - lm) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_serial_with_dropout_splits_rng():
    init, apply = stax.serial(stax.Dense(6), stax.Dropout(0.5))
    _, params = init(KEY, (3, 4))
    x = _rand(3, 4)
    a = np.asarray(apply(params, x, rng=jax.random.PRNGKey(1)))
    b = np.asarray(jax.jit(lambda p, v, k: apply(p, v, rng=k))(params, x, jax.random.PRNGKey(1)))
    np.testing.assert_allclose(a, b, rtol=1e-12)
