"""Value and error cases for the `conv_general_dilated` primitive.

The reference is `tests/conv/reference.py`'s float64 loop over every output element and
window tap (not the primitive's `impl`, which pads and multiplies tap by tap).
"""
from __future__ import annotations

import numpy as np

from ops.errors import DtypeError, ShapeError
from tests.conv.reference import conv_reference
from tests.ops.primitive_cases_elementwise import F32, F64, Bad, Case

F16 = np.dtype("float16")
NCHW = ((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))
NHWC = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
NWC = ((0, 2, 1), (2, 1, 0), (0, 2, 1))
TOL = {F64: (1e-12, 1e-12), F32: (1e-5, 1e-5), F16: (1e-2, 2e-2)}


def _params(k, dn, strides=None, padding=None, ld=None, rd=None, g=1, b=1, pet=None):
    return {"window_strides": strides or (1,) * k, "padding": padding or ((0, 0),) * k,
            "lhs_dilation": ld or (1,) * k, "rhs_dilation": rd or (1,) * k,
            "dimension_numbers": dn, "feature_group_count": g, "batch_group_count": b,
            "preferred_element_type": pet}


def _ref(params, out_dtype):
    def ref(x, w):
        p = params
        return conv_reference(x, w, p["window_strides"], p["padding"], p["lhs_dilation"],
                              p["rhs_dilation"], p["dimension_numbers"],
                              p["feature_group_count"], p["batch_group_count"]
                              ).astype(out_dtype)
    return ref


def _case(label, lhs_shape, rhs_shape, dtype=F64, out_dtype=None, seed=0, **kw):
    rng = np.random.default_rng(seed)
    dn = kw.pop("dn")
    params = _params(len(lhs_shape) - 2, dn, pet=out_dtype, **kw)
    x = rng.normal(size=lhs_shape)
    w = rng.normal(size=rhs_shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.normal(size=lhs_shape)
        w = w + 1j * rng.normal(size=rhs_shape)
    elif np.dtype(dtype).kind in "iu":
        x, w = np.round(x * 3), np.round(w * 3)
    out = np.dtype(out_dtype or dtype)
    rtol, atol = TOL.get(out, (1e-5, 1e-5)) if out.kind in "fc" else (0, 0)
    if out.kind == "c":
        rtol, atol = (1e-12, 1e-12) if out.itemsize == 16 else (1e-5, 1e-5)
    return Case("conv_general_dilated", (x.astype(dtype), w.astype(dtype)), params,
                _ref(params, out), rtol=rtol, atol=atol, label=label, signed_zero=False)


VALUE_CASES = [
    _case("nchw-f64", (2, 3, 5, 6), (4, 3, 2, 3), dn=NCHW),
    _case("nhwc-f32-strided-padded", (2, 6, 7, 3), (3, 2, 3, 4), F32, dn=NHWC,
          strides=(2, 1), padding=((1, 1), (2, -1))),
    _case("dilated-f64", (1, 2, 6, 5), (3, 2, 2, 2), dn=NCHW, ld=(2, 1), rd=(1, 2),
          padding=((0, 1), (1, 1))),
    _case("grouped-f32", (2, 7, 4), (3, 2, 6), F32, dn=NWC, g=2,
          padding=((1, 1),)),
    _case("batch-groups-f64", (4, 3, 5, 6), (4, 3, 2, 3), dn=NCHW, b=2),
    _case("f16", (2, 5, 5, 4), (3, 3, 4, 2), F16, dn=NHWC, padding=((1, 1), (1, 1))),
    _case("f16-to-f32", (2, 5, 5, 4), (3, 3, 4, 2), F16, F32, dn=NHWC),
    _case("c128", (1, 2, 4, 5), (2, 2, 2, 3), np.complex128, dn=NCHW),
    _case("s32", (2, 6, 3), (3, 3, 2), np.int32, dn=NWC, strides=(2,)),
    _case("empty-output", (1, 2, 2, 2), (1, 2, 3, 3), F64, dn=NCHW),
]


def _z(shape, dtype=F64):
    return np.zeros(shape, dtype)


def _bad(lhs, rhs, needle, exc=ShapeError, **kw):
    k = len(lhs.shape) - 2
    dn = kw.pop("dn", ((0, 1) + tuple(range(2, k + 2)),) * 3)
    return Bad("conv_general_dilated", (lhs, rhs), _params(k, dn, **kw), exc, needle)


ERROR_CASES = [
    _bad(_z((2, 3, 5)), _z((4, 2, 3)), "f64[4,2,3]"),                 # in features 3 vs 2
    _bad(_z((2, 3, 5)), _z((4, 3, 3), F32), "f32[4,3,3]", DtypeError),
    _bad(_z((2, 3, 5)), _z((4, 3, 3, 1)), "same rank"),
    _bad(_z((2, 4, 5)), _z((3, 2, 3)), "multiple of feature_group_count", g=2),
    _bad(_z((3, 4, 5)), _z((4, 4, 3)), "batch_group_count 2", b=2),
    _bad(_z((2, 4, 5)), _z((4, 2, 3)), "at most one", g=2, b=2),
    _bad(_z((2, 3, 5)), _z((4, 3, 3)), "window_strides", strides=(0,)),
    _bad(_z((2, 3, 5)), _z((4, 3, 3)), "padding", padding=((1, 1), (1, 1))),
    _bad(_z((2, 3, 5)), _z((4, 3, 3)), "not a permutation", dn=((0, 1, 1),) * 3),
    _bad(_z((2, 3, 5), bool), _z((4, 3, 3), bool), "pred[2,3,5]", DtypeError),
]
