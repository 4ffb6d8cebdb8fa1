"""Convolutions (`lax.conv_general_dilated` and friends) against a float64 loop reference.

Every case runs eagerly (the primitive's NumPy reference), jitted on the interpreter (the same
reference inside a traced program) and jitted on the CPU backend (the `lower_conv` pass:
im2col and one GEMM), and all three must match `tests/conv/reference.py`. Derivatives are
checked by finite differences, vmap against a Python loop, conv_transpose by the adjoint
identity and by values JAX 0.10.2 printed for the same inputs.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jc
from jitcore import lax
from ops.errors import ShapeError
from tests.conv.reference import conv_reference
from tests.helpers import check_grads

F16, F32, F64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
TOL = {F64: 1e-11, F32: 2e-5, F16: 2e-2}


class Conv:
    """One configuration of `lax.conv_general_dilated`: shapes in the layouts `dn` names."""

    def __init__(self, label, lhs, rhs, strides, padding, dn=None, ld=None, rd=None, g=1, b=1):
        self.label, self.lhs, self.rhs = label, lhs, rhs
        self.kw = dict(window_strides=strides, padding=padding, lhs_dilation=ld,
                       rhs_dilation=rd, dimension_numbers=dn, feature_group_count=g,
                       batch_group_count=b)

    def __call__(self, x, w):
        return lax.conv_general_dilated(x, w, **self.kw)

    def reference(self, x, w):
        """The loop reference, with the string forms resolved by hand here."""
        dn = lax.conv_dimension_numbers(x.shape, w.shape, self.kw["dimension_numbers"])
        k = x.ndim - 2
        ld = self.kw["lhs_dilation"] or (1,) * k
        rd = self.kw["rhs_dilation"] or (1,) * k
        strides = self.kw["window_strides"]
        pad = self.kw["padding"]
        if isinstance(pad, str):
            pad = _string_pads(pad, [x.shape[d] for d in dn.lhs_spec[2:]],
                               [(w.shape[d] - 1) * r + 1 for d, r in zip(dn.rhs_spec[2:], rd)],
                               strides)
        return conv_reference(x, w, strides, pad, ld, rd, tuple(dn), self.kw["feature_group_count"],
                              self.kw["batch_group_count"])

    def data(self, dtype, seed=0, extra=()):
        rng = np.random.default_rng(seed)
        return (rng.standard_normal(extra + self.lhs).astype(dtype),
                rng.standard_normal(extra + self.rhs).astype(dtype))


def _string_pads(name, sizes, kernel, strides):
    # SAME: output ceil(n / s); the total padding split evenly, the odd one after (before
    # for SAME_LOWER). VALID: none.
    out = []
    for n, k, s in zip(sizes, kernel, strides):
        if name == "VALID":
            out.append((0, 0))
            continue
        total = max((-(-n // s) - 1) * s + k - n, 0)
        lo = total // 2 if name == "SAME" else total - total // 2
        out.append((lo, total - lo))
    return out


NCHW, NHWC = ("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC")
CASES = [
    Conv("nchw-valid", (2, 3, 6, 5), (4, 3, 3, 2), (1, 1), "VALID"),
    Conv("nhwc-same-strided", (2, 7, 6, 3), (3, 3, 3, 4), (2, 2), "SAME", NHWC),
    Conv("nhwc-same-lower", (1, 6, 7, 2), (2, 3, 2, 3), (2, 3), "SAME_LOWER", NHWC),
    Conv("explicit-negative", (2, 2, 7, 6), (3, 2, 2, 3), (1, 2), ((2, -1), (-1, 3)), NCHW),
    Conv("1d-nwc", (3, 9, 2), (3, 2, 4), (2,), ((1, 2),), ("NWC", "WIO", "NWC")),
    Conv("3d-ncdhw", (1, 2, 4, 5, 3), (2, 2, 2, 3, 2), (1, 2, 1), "SAME",
         ("NCDHW", "OIDHW", "NCDHW")),
    Conv("mixed-layout", (5, 4, 3, 2), (3, 3, 2, 2), (1, 2), "VALID",
         ("HWCN", "HIOW", "CNWH")),
    Conv("lhs-dilation", (2, 2, 4, 5), (3, 2, 3, 2), (1, 1), ((1, 2), (0, 1)), NCHW,
         ld=(2, 3)),
    Conv("rhs-dilation", (1, 9, 8, 2), (2, 3, 2, 3), (2, 1), "SAME", NHWC, rd=(3, 2)),
    Conv("grouped", (2, 5, 5, 6), (3, 3, 2, 9), (1, 1), "SAME", NHWC, g=3),
    Conv("depthwise", (2, 6, 7, 4), (3, 3, 1, 8), (2, 1), "SAME", NHWC, g=4),
    Conv("batch-groups", (6, 3, 5, 4), (4, 3, 2, 2), (1, 1), "VALID", NCHW, b=2),
    Conv("kernel-larger-than-input", (1, 2, 3, 2), (2, 2, 5, 4), (1, 1), ((2, 2), (1, 2)),
         NCHW),
    Conv("one-by-one", (2, 4, 4, 3), (1, 1, 3, 5), (1, 1), "VALID", NHWC),
    Conv("stride-beyond-kernel", (1, 11, 10, 2), (2, 2, 2, 3), (4, 3), "VALID", NHWC),
]
IDS = [c.label for c in CASES]


def _close(got, want, dtype, what):
    got = np.asarray(got)
    assert got.dtype == dtype and got.shape == want.shape, \
        f"{what}: {got.dtype}{got.shape}, expected {dtype}{want.shape}"
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got.astype(F64), want, rtol=0, atol=TOL[dtype] * scale,
                               err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_eager_interp_and_cpu(case):
    for dtype in (F64, F32):
        x, w = case.data(dtype)
        want = case.reference(x, w)
        _close(case(x, w), want, dtype, f"{case.label} {dtype} eager")
        for backend in ("interp", "cpu"):
            got = jc.jit(case, backend=backend)(x, w)
            _close(got, want, dtype, f"{case.label} {dtype} {backend}")


@pytest.mark.parametrize("case", [CASES[1], CASES[9], CASES[11]], ids=lambda c: c.label)
def test_float16_accumulates_in_float32(case):
    x, w = case.data(F16)
    want = case.reference(x, w)
    for got in (case(x, w), jc.jit(case)(x, w)):
        _close(got, want, F16, case.label)
    # With float32 results nothing is lost but the inputs' rounding.
    wide = lambda a, b: lax.conv_general_dilated(a, b, **case.kw,   # noqa: E731
                                                 preferred_element_type=np.float32)
    for got in (wide(x, w), jc.jit(wide)(x, w)):
        _close(got, want, F32, case.label + " to f32")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_by_finite_differences(case):
    x, w = case.data(F64, seed=1)
    check_grads(case, (x, w), order=1)


@pytest.mark.parametrize("case", [CASES[3], CASES[9], CASES[11]], ids=lambda c: c.label)
def test_jitted_second_order_gradients(case):
    x, w = case.data(F64, seed=2)
    check_grads(jc.jit(case), (x, w), order=2)


@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[6], CASES[7], CASES[9],
                                  CASES[10], CASES[11]], ids=lambda c: c.label)
@pytest.mark.parametrize("mapped", ["lhs", "rhs", "both"])
def test_vmap_matches_a_loop(case, mapped):
    x1, w1 = case.data(F64, seed=3)
    xs, ws = case.data(F64, seed=4, extra=(3,))
    in_axes = (0 if mapped != "rhs" else None, 0 if mapped != "lhs" else None)
    x = xs if in_axes[0] == 0 else x1
    w = ws if in_axes[1] == 0 else w1
    want = np.stack([case.reference(xs[i] if in_axes[0] == 0 else x1,
                                     ws[i] if in_axes[1] == 0 else w1) for i in range(3)])
    _close(jc.vmap(case, in_axes=in_axes)(x, w), want, F64, f"{case.label} vmap {mapped}")
    _close(jc.jit(jc.vmap(case, in_axes=in_axes))(x, w), want, F64,
           f"{case.label} jit(vmap) {mapped}")


# --- conv_transpose --------------------------------------------------------------------------

def test_conv_transpose_is_the_adjoint_of_a_strided_convolution():
    """With transpose_kernel, conv_transpose(y, w) is the gradient of <y, conv(x, w)> in x:
    <conv_transpose(y, w), x> == <y, conv(x, w)> for every x (VALID, sizes that the strides
    cover exactly)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 9, 7, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    strides = (2, 2)
    y = rng.standard_normal(np.shape(conv_reference(x, w, strides, ((0, 0),) * 2, (1, 1),
                                                    (1, 1), ((0, 3, 1, 2), (3, 2, 0, 1),
                                                             (0, 3, 1, 2)))))
    fwd = conv_reference(x, w, strides, ((0, 0),) * 2, (1, 1), (1, 1),
                         ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2)))
    for fn in (lax.conv_transpose, jc.jit(lax.conv_transpose, static_argnums=(2, 3, 4),
                                          static_argnames="transpose_kernel")):
        back = np.asarray(fn(y, w, strides, "VALID", transpose_kernel=True))
        assert back.shape == x.shape
        np.testing.assert_allclose(np.sum(back * x), np.sum(y * fwd), rtol=1e-12)


# Checksums sum(out * cos(arange(out.size))) and shapes JAX 0.10.2 printed for these calls
# (x4 and w4 as below).
JAX_TRANSPOSE = [
    (lambda x, w: lax.conv_transpose(x, w, (2, 3), "SAME"), 28.6227112, (2, 14, 18, 4)),
    (lambda x, w: lax.conv_transpose(x, w[:, :, :, :3], (2, 2), "VALID", transpose_kernel=True),
     46.43152409, (2, 15, 12, 3)),
    (lambda x, w: lax.conv_transpose(x[..., :2], w[..., :2, :], (2, 3), ((1, 2), (0, -1)),
                                     rhs_dilation=(1, 2)), 17.25001417, (2, 14, 13, 4)),
    (lambda x, w: lax.conv_transpose(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), (1, 2),
                                     "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")),
     5.81638395, (2, 4, 7, 12)),
    (lambda x, w: lax.conv_general_dilated_patches(x, (2, 3), (1, 2), "SAME",
                                                   dimension_numbers=("NHWC", "IWOH", "NCWH")),
     -1.20954969, (2, 18, 6, 4)),
    (lambda x, w: lax.conv_general_dilated(
        x.transpose(1, 0, 3, 2), w.transpose(1, 3, 2, 0), (2, 1), ((1, -1), (2, 1)), (1, 2),
        (2, 1), dimension_numbers=("WNCH", "WOIH", "CHNW")), 2.15514914, (4, 12, 2, 3)),
]


@pytest.mark.parametrize("k", range(len(JAX_TRANSPOSE)))
def test_matches_values_jax_printed(k):
    x4 = np.arange(2 * 3 * 7 * 6, dtype=np.float64).reshape(2, 7, 6, 3) % 5 - 2.0
    w4 = (np.arange(3 * 2 * 3 * 4, dtype=np.float64).reshape(3, 2, 3, 4) % 7 - 3.0) / 3
    fn, checksum, shape = JAX_TRANSPOSE[k]
    for out in (fn(x4, w4), jc.jit(fn)(x4, w4)):
        out = np.asarray(out)
        assert out.shape == shape
        got = float((out * np.cos(np.arange(out.size)).reshape(shape)).sum())
        assert abs(got - checksum) < 1e-7


def test_patches_hold_each_window():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 6, 5))                       # NCHW
    out = np.asarray(lax.conv_general_dilated_patches(x, (2, 3), (2, 1), "VALID"))
    assert out.shape == (2, 3 * 6, 3, 3)
    for i, j in np.ndindex(3, 3):
        window = x[:, :, 2 * i:2 * i + 2, j:j + 3].reshape(2, 18)   # (channel, tap) order
        np.testing.assert_array_equal(out[:, :, i, j], window)


# --- API -------------------------------------------------------------------------------------

def test_padtype_to_pads_and_dimension_numbers():
    assert lax.padtype_to_pads((7, 6, 5), (3, 2, 4), (2, 3, 1), "SAME_LOWER") == \
        [(1, 1), (0, 0), (2, 1)]
    assert lax.padtype_to_pads((7, 6), (3, 2), (2, 3), "same") == [(1, 1), (0, 0)]
    dn = lax.conv_dimension_numbers((1, 2, 3, 4), (1, 2, 3, 4), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    with pytest.raises(RuntimeError, match="padding type"):
        lax.conv(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), (1, 1), "FULL")
    with pytest.raises(TypeError, match="'N'"):
        lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), ("XCW", "OIW", "NCW"))


def test_errors_name_the_op_and_shapes():
    with pytest.raises(ShapeError, match=r"conv_general_dilated.*f64\[2,3,5,5\]"):
        lax.conv(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)), (1, 1), "SAME")


def test_lowered_program_is_one_gemm():
    """On the CPU the convolution is im2col and one dot_general: no conv reaches a backend."""
    case = CASES[1]
    x, w = case.data(F32)
    text = jc.jit(case).lower(x, w).compile().as_text()
    assert "conv_general_dilated" not in text
    assert text.count("dot_general(") == 1
