"""`jitcore.lax`'s convolutions, with JAX's signatures: `conv_general_dilated` and the
functions built on it. They resolve string padding and string dimension numbers into the
explicit form of the one primitive, `ops.conv.conv_general_dilated`."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ops import conv as _conv
from ops import dtypes
from ops import shape as _sh

from .numpy._promotion import aval_of

__all__ = ["ConvDimensionNumbers", "conv_dimension_numbers", "conv_general_permutations",
           "padtype_to_pads", "conv_general_dilated", "conv", "conv_with_general_padding",
           "conv_transpose", "conv_general_dilated_patches"]


class ConvDimensionNumbers(NamedTuple):
    """Which axis is which: `lhs_spec` (batch, feature, spatial...), `rhs_spec` (out feature,
    in feature, spatial...), `out_spec` (batch, feature, spatial...)."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def conv_general_permutations(dimension_numbers):
    """Axis numbers for string specs such as ('NHWC', 'HWIO', 'NHWC'); spatial axes are
    ordered as the kernel's spec lists them."""
    specs = tuple(dimension_numbers)
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    if len(specs) != 3 or not all(isinstance(s, str) for s in specs):
        raise TypeError(f"conv_general_dilated: string dimension_numbers must be three "
                        f"strings, got {dimension_numbers!r}")
    for spec, (a, b) in zip(specs, pairs):
        if spec.count(a) != 1 or spec.count(b) != 1 or len(set(spec)) != len(spec):
            raise TypeError(f"conv_general_dilated: dimension_numbers spec {spec!r} must name "
                            f"{a!r} and {b!r} once each and no axis twice")
    spatial = [set(s) - set(p) for s, p in zip(specs, pairs)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise TypeError(f"conv_general_dilated: the specs {specs} must name the same spatial "
                        "axes")
    rhs = specs[1]

    def perm(spec, pair):
        sp = sorted((i for i, ch in enumerate(spec) if ch not in pair),
                    key=lambda i: rhs.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(sp)
    return tuple(perm(s, p) for s, p in zip(specs, pairs))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """`ConvDimensionNumbers` from None (NCHW, OIHW, NCHW), a ConvDimensionNumbers, or three
    strings."""
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise TypeError(f"conv_general_dilated: lhs and rhs must have the same rank, got "
                        f"shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        ident = tuple(range(nd))
        return ConvDimensionNumbers(ident, ident, ident)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
    specs = tuple(dimension_numbers)
    if len(specs) == 3 and all(isinstance(s, str) for s in specs):
        for s in specs:
            if len(s) != nd:
                raise TypeError(f"conv_general_dilated: spec {s!r} does not match the rank "
                                f"{nd} of lhs {tuple(lhs_shape)}")
        return ConvDimensionNumbers(*conv_general_permutations(specs))
    if len(specs) == 3:
        return ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in specs))
    raise TypeError(f"conv_general_dilated: dimension_numbers must be None, a "
                    f"ConvDimensionNumbers or three strings, got {dimension_numbers!r}")


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """Explicit (lo, hi) pairs for 'SAME' (output size ceil(in / stride), the odd pixel
    after), 'SAME_LOWER' (the odd pixel before) or 'VALID' (none)."""
    name = padding.upper() if isinstance(padding, str) else getattr(padding, "name", padding)
    if name == "VALID":
        return [(0, 0)] * len(in_shape)
    if name not in ("SAME", "SAME_LOWER"):
        raise RuntimeError(f"Unrecognized padding type: expected 'VALID', 'SAME' or "
                           f"'SAME_LOWER', got {padding!r}.")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        out = -(-int(n) // int(s))
        total = max((out - 1) * int(s) + int(k) - int(n), 0)
        small = total // 2
        pads.append((small, total - small) if name == "SAME" else (total - small, small))
    return pads


def _dilate(k, d):
    return 0 if k == 0 else (k - 1) * d + 1


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """JAX's `lax.conv_general_dilated` (`precision` is accepted and ignored)."""
    la, ra = aval_of(lhs), aval_of(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    k = la.ndim - 2
    lhs_dilation = (1,) * k if lhs_dilation is None else tuple(int(d) for d in lhs_dilation)
    rhs_dilation = (1,) * k if rhs_dilation is None else tuple(int(d) for d in rhs_dilation)
    window_strides = tuple(int(s) for s in window_strides)
    if isinstance(padding, str) or hasattr(padding, "name"):
        kernel = [_dilate(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads([la.shape[d] for d in dn.lhs_spec[2:]], kernel,
                                  window_strides, padding)
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f"conv_general_dilated: padding must be 'SAME', 'VALID', "
                         f"'SAME_LOWER' or a sequence of (low, high) pairs, got "
                         f"{padding!r}") from None
    pet = None if preferred_element_type is None else \
        dtypes.canonicalize(preferred_element_type, "conv_general_dilated")
    return _conv.conv_general_dilated(
        lhs, rhs, window_strides=window_strides, padding=pads, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=tuple(dn),
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        preferred_element_type=pet)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """NCHW / OIHW convolution without dilation."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """NCHW / OIHW convolution with dilations."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


_TRANSPOSE_DEFAULTS = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                       4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def _transpose_padding(k, s, padding):
    """(lo, hi) padding of the stride-dilated input that gives the output size of the
    convolution whose gradient conv_transpose computes (k: the dilated kernel size)."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError("conv_transpose: padding mode must be `SAME` or `VALID`.")
    return lo, total - lo


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """JAX's `lax.conv_transpose`: a convolution of the input dilated by `strides` (the
    gradient of a strided convolution when `transpose_kernel`, which flips the kernel's
    spatial axes and swaps its in and out features). Layouts default to NHWC / HWIO."""
    la, ra = aval_of(lhs), aval_of(rhs)
    nd = la.ndim
    if ra.ndim != nd or nd < 2:
        raise TypeError(f"conv_transpose: lhs {la.str_short()} and rhs {ra.str_short()} must "
                        "have the same rank, at least 2")
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_DEFAULTS:
            raise ValueError("conv_transpose: no default dimension_numbers for rank "
                             f"{nd}; pass them")
        dimension_numbers = _TRANSPOSE_DEFAULTS[nd]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    ksp = [ra.shape[d] for d in dn.rhs_spec[2:]]
    if isinstance(padding, str) and padding in ("SAME", "VALID"):
        rd = (1,) * (nd - 2) if rhs_dilation is None else rhs_dilation
        pads = [_transpose_padding(_dilate(k, d), s, padding)
                for k, d, s in zip(ksp, rd, strides)]
    else:
        pads = padding
    if transpose_kernel:
        rhs = _sh.rev(rhs, dimensions=tuple(dn.rhs_spec[2:]))
        perm = list(range(nd))
        o, i = dn.rhs_spec[0], dn.rhs_spec[1]
        perm[o], perm[i] = i, o
        rhs = _sh.transpose(rhs, permutation=tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * (nd - 2), pads, lhs_dilation=strides,
                                rhs_dilation=rhs_dilation, dimension_numbers=dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                 lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                                 precision=None, preferred_element_type=None):
    """Each output position's receptive field as features: a grouped convolution with a
    one-hot kernel. The output features are ordered (input feature, filter position), the
    filter positions row-major in the kernel spec's spatial order."""
    la = aval_of(lhs)
    filter_shape = tuple(int(k) for k in filter_shape)
    dn = conv_dimension_numbers(la.shape, (1, 1) + filter_shape, dimension_numbers)
    taps = math.prod(filter_shape)
    channels = la.shape[dn.lhs_spec[1]]
    # Logical (out feature = channel * taps + tap, in feature 1, spatial...) one-hot kernel,
    # then laid out as the kernel spec says.
    eye = np.tile(np.eye(taps, dtype=la.dtype), (channels, 1))
    kernel = eye.reshape((channels * taps, 1) + filter_shape)
    kernel = np.transpose(kernel, np.argsort(dn.rhs_spec))
    return conv_general_dilated(lhs, kernel, window_strides, padding, lhs_dilation,
                                rhs_dilation, dn, feature_group_count=channels,
                                precision=precision,
                                preferred_element_type=preferred_element_type)
