"""`jitcore.image`: `resize` and `scale_and_translate` with `jax.image`'s API and numbers.

Every method but nearest is separable: along each spatial dimension an (input, output) weight
matrix is evaluated from the method's kernel at the distance between each output sample's
position in input coordinates and each input pixel centre (pixels are half-centred, so output
pixel i samples (i + 0.5) / scale - translation / scale - 0.5). When downsampling with
antialias=True the kernel is stretched by 1/scale, so it low-pass filters as it interpolates.
Each column is normalised to sum to 1 (columns summing to almost nothing become 0), and output
samples whose position falls outside the input get weight 0. The image is then contracted with
one matrix per dimension (one einsum), so jit, vmap and grad see ordinary dots.

`resize` knows its scales at trace time and builds the matrices in NumPy (float64, then the
image's dtype); `scale_and_translate` builds them from jitcore ops, so that derivatives with
respect to scale and translation flow through them.
"""
from __future__ import annotations

import enum

import numpy as np

from ops.errors import InvalidOptionError, ShapeError

from . import numpy as jnp
from .numpy._promotion import aval_of, asarray, promote_to_inexact

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


class ResizeMethod(enum.Enum):
    """Image resize method (JAX's values): NEAREST, LINEAR, LANCZOS3, LANCZOS5, CUBIC (Keys,
    a = -0.5), CUBIC_PYTORCH (a = -0.75 with repeated edges when antialias is off; CUBIC when
    it is on) and AREA (the overlap of each output pixel's footprint with each input pixel)."""
    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str):
        names = {"nearest": ResizeMethod.NEAREST, "linear": ResizeMethod.LINEAR,
                 "bilinear": ResizeMethod.LINEAR, "trilinear": ResizeMethod.LINEAR,
                 "triangle": ResizeMethod.LINEAR, "lanczos3": ResizeMethod.LANCZOS3,
                 "lanczos5": ResizeMethod.LANCZOS5, "cubic": ResizeMethod.CUBIC,
                 "bicubic": ResizeMethod.CUBIC, "tricubic": ResizeMethod.CUBIC,
                 "cubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
                 "bicubic-pytorch": ResizeMethod.CUBIC_PYTORCH, "area": ResizeMethod.AREA}
        if s not in names:
            raise InvalidOptionError(f'Unknown resize method "{s}"',
                                     hint="one of " + ", ".join(repr(n) for n in names))
        return names[s]


# --- kernels, written against a NumPy-like module `xp` (NumPy or jitcore.numpy) --------------

def _lanczos(radius):
    def kernel(xp, x):
        y = radius * xp.sin(np.pi * x) * xp.sin(np.pi * x / radius)
        # sin(pi x) sin(pi x / r) r / (pi x)^2 -> 1 as x -> 0; the guard keeps 0/0 out of the
        # value and of its derivative.
        out = xp.where(x > 1e-3, y / xp.where(x != 0, np.pi ** 2 * x ** 2, 1.0), 1.0)
        return xp.where(x > radius, 0.0, out)
    return kernel


def _cubic(a):
    """Keys' cubic convolution kernel with parameter a (-0.5 Keys/PIL, -0.75 OpenCV)."""
    def kernel(xp, x):
        inner = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        outer = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
        return xp.where(x >= 2.0, 0.0, xp.where(x >= 1.0, outer, inner))
    return kernel


def _triangle(xp, x):
    return xp.maximum(0.0, 1.0 - xp.abs(x))


_AREA = "area"
_KERNELS = {ResizeMethod.LINEAR: (1, _triangle), ResizeMethod.LANCZOS3: (3, _lanczos(3.0)),
            ResizeMethod.LANCZOS5: (5, _lanczos(5.0)), ResizeMethod.CUBIC: (2, _cubic(-0.5)),
            ResizeMethod.CUBIC_PYTORCH: (2, _cubic(-0.75)), ResizeMethod.AREA: (1, _AREA)}

_TINY_SUM = 1000.0 * float(np.finfo(np.float32).eps)


def _weight_matrix(xp, in_size, out_size, scale, translation, kernel, antialias, edge_padding,
                   radius, dtype):
    """The (in_size, out_size) weights of one dimension, in `dtype`, built with `xp`."""
    inv_scale = 1.0 / scale
    kernel_scale = xp.maximum(inv_scale, 1.0) if antialias else 1.0
    out_idx = xp.arange(out_size, dtype=dtype)
    sample = (out_idx + 0.5) * inv_scale - translation * inv_scale - 0.5
    # With edge padding the kernel also covers `radius` pixels past each edge; their weight is
    # then moved onto the edge pixel they repeat.
    pad = radius if edge_padding else 0
    taps = xp.arange(-pad, in_size + pad, dtype=dtype)
    if kernel is _AREA:
        left = out_idx * inv_scale - translation * inv_scale
        lo = xp.maximum(left[None, :], taps[:, None])
        hi = xp.minimum(left[None, :] + inv_scale, taps[:, None] + 1.0)
        w = xp.maximum(0.0, hi - lo)
    else:
        w = kernel(xp, xp.abs(sample[None, :] - taps[:, None]) / kernel_scale)
    if edge_padding:
        clamped = np.clip(np.arange(-pad, in_size + pad), 0, in_size - 1)
        fold = (np.arange(in_size)[:, None] == clamped[None, :]).astype(dtype)
        w = xp.matmul(fold, w) if xp is np else jnp.matmul(asarray(fold), w)
    total = xp.sum(w, axis=0, keepdims=True)
    w = xp.where(xp.abs(total) > _TINY_SUM, w / xp.where(total != 0, total, 1.0), 0.0)
    if not edge_padding:
        inside = xp.logical_and(sample >= -0.5, sample <= in_size - 0.5)
        w = xp.where(inside[None, :], w, 0.0)
    return w


def _contract(image, spatial_dims, mats):
    """image contracted with mats[i] along spatial_dims[i], in place of that axis (one einsum,
    so the contractions happen one dimension at a time)."""
    nd = aval_of(image).ndim
    out_labels = list(range(nd))
    operands = [image, list(range(nd))]
    for i, (d, w) in enumerate(zip(spatial_dims, mats)):
        operands += [w, [d, nd + i]]
        out_labels[d] = nd + i
    return jnp.einsum(*operands, out_labels)


def _method_of(method):
    if isinstance(method, str):
        return ResizeMethod.from_string(method)
    if not isinstance(method, ResizeMethod):
        raise InvalidOptionError(f"resize: method must be a string or a ResizeMethod, got "
                                 f"{method!r}")
    return method


def _check_shape(api, image, shape):
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise ShapeError(f"{api}: shape must be a sequence of integers, got {shape!r}") from None
    a = aval_of(image)
    if len(shape) != a.ndim:
        raise ShapeError(f"{api}: shape must have length equal to the number of dimensions of "
                         f"the image; {shape} vs {a.str_short()}",
                         hint="resize does not tell batch and channel dimensions from spatial "
                              "ones: repeat their sizes in shape")
    if any(s < 0 for s in shape):
        raise ShapeError(f"{api}: negative output size in shape {shape}")
    return shape


def _resize_nearest(image, shape):
    """JAX's rounding: input index floor((i + 0.5) * in / out) evaluated in float32."""
    in_shape = aval_of(image).shape
    for d, (m, n) in enumerate(zip(in_shape, shape)):
        if m == n:
            continue
        f = (np.arange(n, dtype=np.float32) + np.float32(0.5)) * np.float32(m) / np.float32(n)
        image = jnp.take(image, np.floor(f).astype(np.int32), axis=d)
    return image


def resize(image, shape, method, antialias=True, precision=None):
    """`image` resampled to `shape` (every dimension, batch and channels included: keep their
    sizes). Methods: see `ResizeMethod`; nearest keeps the dtype, the others promote integers
    to floating point. `antialias` low-pass filters when downsampling; `precision` is accepted
    for JAX compatibility (dots here always run at full precision)."""
    del precision
    image = asarray(image)
    shape = _check_shape("resize", image, shape)
    method = _method_of(method)
    if method is ResizeMethod.NEAREST:
        return _resize_nearest(image, shape)
    (image,) = promote_to_inexact("resize", image)
    if method is ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    edge_padding = method is ResizeMethod.CUBIC_PYTORCH
    in_shape = aval_of(image).shape
    dims = [d for d in range(len(shape)) if in_shape[d] != shape[d]]
    dtype = np.dtype(aval_of(image).dtype)
    mats = []
    for d in dims:
        scale = 1.0 if shape[d] == 0 else shape[d] / in_shape[d]
        w = _weight_matrix(np, in_shape[d], shape[d], np.float64(scale), np.float64(0.0),
                           kernel, antialias, edge_padding, radius, np.float64)
        mats.append(asarray(w.astype(dtype)))
    if not dims:
        return image
    return _contract(image, dims, mats)


def scale_and_translate(image, shape, spatial_dims, scale, translation, method,
                        antialias=True, precision=None):
    """`image` resampled to `shape` under the map x -> x * scale + translation of each of
    `spatial_dims` (output pixel centres are mapped back into the input; samples that land
    outside the input give 0). `scale` and `translation` are (len(spatial_dims),) arrays and
    may be traced: derivatives with respect to them are supported. Nearest is not supported,
    as in JAX."""
    del precision
    image = asarray(image)
    shape = _check_shape("scale_and_translate", image, shape)
    method = _method_of(method)
    if method is ResizeMethod.NEAREST:
        raise InvalidOptionError("scale_and_translate: nearest neighbor resampling is not "
                                 "supported", hint="use resize(..., method='nearest')")
    if method is ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    edge_padding = method is ResizeMethod.CUBIC_PYTORCH
    (image,) = promote_to_inexact("scale_and_translate", image)
    scale, translation = promote_to_inexact("scale_and_translate", asarray(scale),
                                            asarray(translation))
    nd = aval_of(image).ndim
    spatial_dims = [int(d) for d in spatial_dims]
    k = len(spatial_dims)
    if aval_of(scale).shape != (k,) or aval_of(translation).shape != (k,):
        raise ShapeError(f"scale_and_translate: scale and translation must have shape ({k},) "
                         f"to match spatial_dims {tuple(spatial_dims)}; got "
                         f"{aval_of(scale).str_short()} and {aval_of(translation).str_short()}")
    for d in spatial_dims:
        if not -nd <= d < nd:
            raise ShapeError(f"scale_and_translate: spatial dimension {d} is out of range for "
                             f"{aval_of(image).str_short()}")
    if not spatial_dims:
        return image
    dims = [d % nd for d in spatial_dims]
    in_shape = aval_of(image).shape
    wdtype = aval_of(scale).dtype
    mats = []
    for i, d in enumerate(dims):
        w = _weight_matrix(jnp, in_shape[d], shape[d], scale[i], translation[i], kernel,
                           antialias, edge_padding, radius, wdtype)
        mats.append(w.astype(aval_of(image).dtype))
    return _contract(image, dims, mats)

