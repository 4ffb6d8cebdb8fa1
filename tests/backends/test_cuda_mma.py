"""bfloat16/float16 on the CUDA backend: tensor-core dots (`cuda.mma`) and native conversions.

- PTX: on sm_80 and sm_90 a 16-bit dot is `mma.sync...m16n8k16` and a bfloat16 result rounds
  with `cvt.rn.bf16.f32` (float16: `cvt.rn.f16.f32`); on sm_75 the dot is the widened float32
  kernel. `ptxas` assembles each (skipped without the CUDA toolkit).
- Semantics: the kernels run on the emulated driver of `test_cuda_runtime`, whose `mma.sync`
  rebuilds the matrices from the lanes' fragments with the PTX ISA's layout
  (`cuda_mma_model`), against NumPy in float64; a kernel loading its fragments in another
  layout fails, and so does the model given a wrong layout (checked below).
"""
from __future__ import annotations

import re
import shutil

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config, lax  # noqa: E402
from tests.backends import cuda_mma_model  # noqa: E402
from tests.backends.test_cuda_ptx import ptxas  # noqa: E402
from tests.backends.test_cuda_runtime import emulated, runtime  # noqa: E402,F401  (fixtures)
from xla_like.backends.cuda import mma  # noqa: E402

BF16 = ml_dtypes.bfloat16
PTXAS = shutil.which("ptxas")
rng = np.random.default_rng(7)


def _mat(shape, dt):
    return rng.standard_normal(shape).astype(np.float32).astype(dt)


def _ptx(f, *args, arch):
    with config.override(cuda_arch=arch):
        return jax.jit(f, backend="cuda").lower(*args).compile().as_text("ptx")


def _dots(a, b, h, g):
    return a @ b, h @ g, jnp.matmul(a, b, preferred_element_type=jnp.float32)


def _program(a, b, h, g):
    return _dots(a, b, h, g) + (a * 3 + a, h * h - 1, a.astype(jnp.float16))


DOT_ARGS = (_mat((40, 48), BF16), _mat((48, 24), BF16), _mat((40, 48), np.float16),
            _mat((48, 24), np.float16))


def test_library_fragment_layout_is_the_isa_layout():
    for lane in range(32):
        a, b, c = mma.fragment_rows_cols(lane)
        want_a, want_b, want_c = cuda_mma_model.FRAGMENTS[lane]
        assert (a, b, c) == (want_a, want_b, want_c)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_tensor_core_ptx(arch):
    ptx = _ptx(_program, *DOT_ARGS, arch=arch)
    entries = re.findall(r"\.entry (\w+)\(", ptx)
    assert sum(e.endswith("_mma_dot") for e in entries) == 3 and not any(
        e.endswith("k_dot") or re.fullmatch(r"k\d+_dot", e) for e in entries)
    assert ptx.count("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32") == 2 * 8
    assert ptx.count("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") == 8
    assert "cvt.rn.bf16.f32" in ptx and "cvt.rn.f16.f32" in ptx


def test_older_targets_widen():
    ptx = _ptx(_program, *DOT_ARGS, arch="sm_75")
    assert "mma.sync" not in ptx and "cvt.rn.bf16.f32" not in ptx
    assert len(re.findall(r"\.entry k\d+_dot\(", ptx)) == 3


@pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")
@pytest.mark.parametrize("arch", ["sm_75", "sm_80", "sm_90"])
def test_ptx_assembles_without_spills(arch):
    report = ptxas(_ptx(_program, *DOT_ARGS, arch=arch), arch)
    mma = {name: r for name, r in report.items() if name.endswith("mma_dot")}
    assert bool(mma) == (arch != "sm_75"), report      # tensor-core dots from sm_80 on
    for name, (stores, loads, _) in mma.items():
        assert stores == 0 and loads == 0, (name, report[name])


# --- semantics on the emulated driver --------------------------------------------------------

def _reference(a, b, out_dt, dims=None):
    """The dot in float64 of the 16-bit inputs, rounded once to `out_dt`."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    r = np.matmul(a64, b64) if dims is None else dims(a64, b64)
    return r.astype(np.float32).astype(out_dt)


def _close(got, want, k):
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    g, w = got.astype(np.float64), want.astype(np.float64)
    # float32 accumulation in another order, then one rounding to the output type: at most
    # one unit in its last place apart, plus the float32 sums' error.
    ulp = 2.0 ** -7 if want.dtype == BF16 else 2.0 ** -10 if want.dtype == np.float16 else 0
    tol = ulp * np.abs(w) + 1e-6 * k * max(1.0, np.abs(w).max())
    assert np.all(np.abs(g - w) <= tol), np.abs(g - w).max()


_F32 = jnp.float32
CASES = {
    # Outputs over two 64x64 tiles along either axis, both ragged; k = 24: two k steps, the
    # last partial; k = 33: an odd k (a half-filled register pair).
    "plain_bf16": (lambda a, b: a @ b, ((20, 24), (24, 70)), BF16, None),
    "rhs_transposed_f16": (lambda a, b: lax.dot_general(a, b, (((1,), (1,)), ((), ()))),
                           ((70, 20), (9, 20)), np.float16, lambda a, b: a @ b.T),
    "batched_lhs_transposed_f32": (
        lambda a, b: lax.dot_general(a, b, (((1,), (1,)), ((0,), (0,))),
                                     preferred_element_type=_F32),
        ((2, 33, 20), (2, 33, 17)), BF16, lambda a, b: np.einsum("bki,bkj->bij", a, b)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tensor_core_dots_match_numpy(case, runtime):
    f, (sa, sb), dt, dims = CASES[case]
    a, b = _mat(sa, dt), _mat(sb, dt)
    jf = jax.jit(f, backend="cuda")
    ptx = jf.lower(a, b).compile().as_text("ptx")
    assert "mma.sync.aligned.m16n8k16" in ptx    # the emulated GPU and a real one are sm_80+
    got = np.asarray(jf(a, b))
    out_dt = np.float32 if case.endswith("f32") else dt
    _close(got, _reference(a, b, out_dt, dims), 64)


def test_a_wrong_fragment_layout_is_caught(emulated, monkeypatch):
    """The emulated MMA with B's fragment rows swapped with columns' order (as a kernel that
    stored B row-major would see it) gives other numbers: the checks above can fail."""
    a, b = _mat((16, 16), BF16), _mat((16, 8), BF16)
    wrong = [(fa, [(r ^ 1, c) for r, c in fb], fc)
             for fa, fb, fc in cuda_mma_model.FRAGMENTS]
    monkeypatch.setattr(cuda_mma_model, "FRAGMENTS", wrong)
    got = np.asarray(jax.jit(lambda x, y: jnp.matmul(
        x, y, preferred_element_type=jnp.float32), backend="cuda")(a, b))
    want = _reference(a, b, np.float32)
    assert np.abs(got - want).max() > 1e-2


def test_native_bfloat16_rounding(runtime):
    """Elementwise bfloat16 on sm_80+ rounds with the hardware conversion: ties to even,
    subnormals kept, NaN kept (the bits of NaN may differ)."""
    x = np.array([1.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 3e-39, -1e-40, 2.0 ** -133, np.nan,
                  np.inf, 3.3e38, -7.0], np.float32).astype(BF16)
    y = np.array([1 + 2.0 ** -8, 1.0, 1.0, 1.0, 1.0, 0.75, 1.0, 2.0, 2.0, 1.0 / 3],
                 np.float32).astype(BF16)
    got = np.asarray(jax.jit(lambda u, v: (u * v, u + v * 0.5), backend="cuda")(x, y))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    # Each op rounds once from float32 (exact here for the product of two bfloat16 values).
    want_mul = (x64 * y64).astype(np.float32).astype(BF16)
    np.testing.assert_array_equal(got[0].astype(np.float32), want_mul.astype(np.float32))
    half = (y64 * 0.5).astype(np.float32).astype(BF16).astype(np.float64)
    want_add = (x64 + half).astype(np.float32).astype(BF16)
    np.testing.assert_array_equal(got[1].astype(np.float32), want_add.astype(np.float32))
