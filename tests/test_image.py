"""jitcore.image.resize / scale_and_translate against NumPy float64 references.

The reference evaluates, for every output sample separately, JAX 0.10.2's documented resampling
rule (checked against JAX with jaxcmp on all methods, antialias on/off, up/down sampling,
float32/int inputs and scale/translation gradients, agreeing to 1e-12 in float64): output pixel
i of a dimension samples input position p = (i + 0.5 - translation) / scale - 0.5; input pixel j
gets weight kernel(|p - j| / s) with s = max(1 / scale, 1) under antialias (else 1); weights are
divided by their sum (0 if the sum is below 1000 * float32 eps), and samples with p outside
[-0.5, in - 0.5] are 0. 'cubic-pytorch' without antialias uses a = -0.75 and repeats the edge
pixels instead; 'area' weighs input pixels by their overlap with the output pixel's footprint;
'nearest' reads input floor((i + 0.5) * in / out), computed in float32.
"""
import math

import numpy as np
import pytest

import jitcore as jc
from jitcore.errors import InvalidOptionError, ShapeError
from tests.helpers import check_grads, rng_for


def _keys(a):
    def k(x):
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0
    return k


def _lanczos(r):
    def k(x):
        if x > r:
            return 0.0
        if x <= 1e-3:
            return 1.0
        return r * math.sin(math.pi * x) * math.sin(math.pi * x / r) / (math.pi * x) ** 2
    return k


KERNELS = {"linear": (1, lambda x: max(0.0, 1 - x)), "cubic": (2, _keys(-0.5)),
           "lanczos3": (3, _lanczos(3)), "lanczos5": (5, _lanczos(5)),
           "cubic-pytorch": (2, _keys(-0.75))}
METHODS = ["nearest", "linear", "cubic", "lanczos3", "lanczos5", "cubic-pytorch", "area"]


def weights_1d(m, n, scale, shift, method, antialias):
    """(m, n) matrix: column i holds the weights of output sample i, one sample at a time."""
    if method == "cubic-pytorch" and antialias:
        method = "cubic"
    w = np.zeros((m, n))
    for i in range(n):
        p = (i + 0.5 - shift) / scale - 0.5
        if method == "area":
            lo = (i - shift) / scale
            col = np.array([max(0.0, min(lo + 1 / scale, j + 1) - max(lo, j)) for j in range(m)])
        elif method == "cubic-pytorch":
            radius, kern = KERNELS[method]
            col = np.zeros(m)
            for j in range(-radius, m + radius):      # edge pixels repeated past both ends
                col[min(max(j, 0), m - 1)] += kern(abs(p - j))
        else:
            radius, kern = KERNELS[method]
            stretch = max(1 / scale, 1.0) if antialias else 1.0
            col = np.array([kern(abs(p - j) / stretch) for j in range(m)])
        total = col.sum()
        col = col / total if abs(total) > 1000 * np.finfo(np.float32).eps else 0 * col
        if method != "cubic-pytorch" and not -0.5 <= p <= m - 0.5:
            col = 0 * col
        w[:, i] = col
    return w


def reference(x, shape, dims, scales, shifts, method, antialias):
    x = np.asarray(x, np.float64)
    for d, s, t in zip(dims, scales, shifts):
        m, n = x.shape[d], shape[d]
        if method == "nearest":
            idx = np.floor((np.arange(n, dtype=np.float32) + np.float32(0.5)) * np.float32(m)
                           / np.float32(n)).astype(int)
            x = np.take(x, idx, axis=d)
        else:
            w = weights_1d(m, n, s, t, method, antialias)
            x = np.moveaxis(np.tensordot(x, w, axes=([d], [0])), -1, d)
    return x


def resize_reference(x, shape, method, antialias=True):
    dims = [d for d in range(x.ndim) if x.shape[d] != shape[d]]
    return reference(x, shape, dims, [shape[d] / x.shape[d] for d in dims], [0.0] * len(dims),
                     method, antialias)


SHAPES = {  # input shape -> output shapes: 1-3 spatial dims, up and down, batch/channels kept
    (11,): [(4,), (25,)],
    (2, 9, 7, 3): [(2, 5, 12, 3), (2, 17, 3, 3)],
    (5, 6, 4): [(9, 3, 7), (2, 2, 2)],
}
CASES = [(i, o) for i, outs in SHAPES.items() for o in outs]


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("method", METHODS)
def test_resize(method, antialias):
    for in_shape, out_shape in CASES:
        x = rng_for(f"{method}{in_shape}").standard_normal(in_shape)
        got = jc.image.resize(x, out_shape, method, antialias=antialias)
        assert got.shape == out_shape and got.dtype == np.float64
        np.testing.assert_allclose(np.asarray(got),
                                   resize_reference(x, out_shape, method, antialias),
                                   atol=1e-12, err_msg=f"{in_shape} -> {out_shape}")


@pytest.mark.parametrize("method", ["nearest", "linear", "lanczos3"])
def test_resize_dtypes(method):
    x = rng_for("dtypes").standard_normal((6, 5)) * 10
    got32 = jc.image.resize(x.astype(np.float32), (4, 9), method)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(np.asarray(got32),
                               resize_reference(x.astype(np.float32), (4, 9), method), atol=1e-4)
    xi = x.astype(np.int32)
    goti = jc.image.resize(xi, (4, 9), method)
    # nearest keeps the dtype; the others promote int32 to float32, as JAX does.
    assert goti.dtype == (np.int32 if method == "nearest" else np.float32)
    np.testing.assert_allclose(np.asarray(goti, np.float64),
                               resize_reference(xi, (4, 9), method), atol=1e-4)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("method", METHODS[1:])
def test_scale_and_translate(method, antialias):
    x = rng_for(f"st{method}").standard_normal((2, 9, 7, 3))
    scale, shift = np.array([0.6, 1.7]), np.array([0.3, -2.2])
    got = jc.image.scale_and_translate(x, (2, 5, 12, 3), (1, -2), scale, shift, method,
                                       antialias=antialias)
    want = reference(x, (2, 5, 12, 3), (1, 2), scale, shift, method, antialias)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "cubic", "lanczos3", "area"])
def test_grads_image(method):
    x = rng_for(f"g{method}").standard_normal((5, 4))
    check_grads(lambda x: jc.image.resize(x, (3, 7), method), (x,), order=1)
    check_grads(lambda x: jc.image.scale_and_translate(x, (3, 6), (0, 1), np.array([0.7, 1.4]),
                                                       np.array([0.2, -0.3]), method), (x,),
                order=1)


@pytest.mark.parametrize("method", ["linear", "cubic", "lanczos3"])
def test_grads_scale_translation(method):
    # Values away from the kernels' kinks, so finite differences see a smooth function.
    x = rng_for(f"gs{method}").standard_normal((6, 5))
    f = lambda s, t: jc.image.scale_and_translate(x, (4, 7), (0, 1), s, t, method)  # noqa
    check_grads(f, (np.array([0.63, 1.37]), np.array([0.21, -0.33])), order=1)


def test_jit_and_vmap_match():
    xs = rng_for("vmap").standard_normal((3, 8, 6))
    f = lambda x: jc.image.resize(x, (5, 11), "cubic")  # noqa: E731
    eager = np.stack([np.asarray(f(x)) for x in xs])
    np.testing.assert_allclose(np.asarray(jc.vmap(f)(xs)), eager, atol=1e-13)
    np.testing.assert_allclose(np.asarray(jc.jit(jc.vmap(f))(xs)), eager, atol=1e-13)
    np.testing.assert_allclose(eager[1], resize_reference(xs[1], (5, 11), "cubic"), atol=1e-12)
    g = lambda x, s: jc.image.scale_and_translate(x, (5, 11), (0, 1), s, np.zeros(2),  # noqa
                                                  "linear")
    scales = np.array([[0.7, 1.9], [0.5, 1.2], [1.1, 1.5]])
    got = np.asarray(jc.jit(jc.vmap(g))(xs, scales))
    for i in range(3):
        np.testing.assert_allclose(got[i], reference(xs[i], (5, 11), (0, 1), scales[i],
                                                     np.zeros(2), "linear", True), atol=1e-12)


def test_method_names_and_errors():
    assert jc.image.ResizeMethod.from_string("bilinear") is jc.image.ResizeMethod.LINEAR
    assert jc.image.ResizeMethod.from_string("tricubic") is jc.image.ResizeMethod.CUBIC
    assert jc.image.ResizeMethod.LANCZOS5.value == 3
    x = np.ones((4, 4))
    np.testing.assert_allclose(np.asarray(jc.image.resize(x, (6, 3),
                                                          jc.image.ResizeMethod.LINEAR)),
                               resize_reference(x, (6, 3), "linear"))
    with pytest.raises(InvalidOptionError, match="bogus"):
        jc.image.resize(x, (2, 2), "bogus")
    with pytest.raises(ShapeError, match="number of dimensions"):
        jc.image.resize(x, (2,), "linear")
    with pytest.raises(InvalidOptionError, match="nearest"):
        jc.image.scale_and_translate(x, (2, 2), (0, 1), np.ones(2), np.zeros(2), "nearest")
