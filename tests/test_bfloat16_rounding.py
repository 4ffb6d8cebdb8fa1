"""bfloat16 rounding in compiled kernels, bit for bit: every one of the 65,536 bfloat16 patterns
through native chains, float32 edge values (ties, subnormals, NaN payloads, inf) through the
conversion, the ops whose rounding the emitter leaves out, and the assembly of 16-bit chains.

The reference is independent of jitcore: each op in float32 (NumPy), then ml_dtypes' conversion
to bfloat16 (round to nearest even), as XLA's CPU code computes a bfloat16 op.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.float32
ROUNDING = "i32 32767"   # the rounding's constant in the emitted LLVM (one per rounding site)

ALL = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(BF16)


def rnd(v):
    """float32 -> nearest bfloat16 -> float32 (ml_dtypes: ties to even, subnormals kept)."""
    with np.errstate(invalid="ignore"):   # NaN converts to NaN (ml_dtypes warns)
        return np.asarray(v, F32).astype(BF16).astype(F32)


def assert_same(got, want_f32):
    """Bit-identical bfloat16 results, NaN for NaN (a NaN's payload is not specified)."""
    got = np.asarray(got)
    assert got.dtype == BF16
    with np.errstate(invalid="ignore"):
        want = np.asarray(want_f32, F32).astype(BF16)
    nan = np.isnan(want.astype(F32))
    np.testing.assert_array_equal(np.isnan(got.astype(F32)), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])


def llvm_text(f, *args):
    return jc.jit(f).lower(*args).compile().as_text("llvm")


def test_every_pattern_through_a_chain_rounds_after_each_op():
    """(x * 1.5 + 0.25) * x, every bfloat16 input: one rounding per op, subnormals, ties,
    overflow to inf and NaN as ml_dtypes after each float32 op; and as the interpreter."""
    f = lambda v: (v * 1.5 + 0.25) * v   # noqa: E731
    x = ALL.astype(F32)
    with np.errstate(all="ignore"):
        want = rnd(rnd(rnd(x * F32(1.5)) + F32(0.25)) * x)
    got = jc.jit(f)(ALL)
    assert_same(got, want)
    assert_same(jc.jit(f, backend="interp")(ALL), np.asarray(got).astype(F32))


def test_every_pattern_through_ops_that_need_no_rounding():
    """Results that are bfloat16 numbers already, which the kernel does not round: each equals
    the float32 op rounded, for every input (subnormals, +-0, inf, NaN); and their chain
    compiles without a rounding."""
    x = ALL.astype(F32)

    def f(v):
        return (-v, jnp.abs(v), jnp.sign(v), jnp.floor(v), jnp.ceil(v), jnp.round(v),
                v * 2, v * -4, v / 0.5, v - 0, 0 - v, jnp.maximum(v, 0.5), jnp.minimum(v, -3.0),
                jnp.fmod(v, 3.0), jnp.fmod(jnp.full_like(v, 5.0), v))

    with np.errstate(all="ignore"):
        want = (-x, np.abs(x), np.where(x == 0, x, np.sign(x)),   # sign(-0) = -0 (XLA)
                np.floor(x), np.ceil(x), np.round(x),
                x * F32(2), x * F32(-4), x / F32(0.5), x - F32(0), F32(0) - x,
                np.maximum(x, F32(0.5)), np.minimum(x, F32(-3)), np.fmod(x, F32(3)),
                np.fmod(F32(5), x))
    for g, w in zip(jc.jit(f)(ALL), want):
        assert_same(g, rnd(w))
    # None of them rounds: a chain of them has no rounding site at all.
    chain = lambda v: jnp.maximum(-jnp.abs(v) * 2, jnp.floor(v) / 0.25) - 0   # noqa: E731
    assert ROUNDING not in llvm_text(chain, ALL)
    assert ROUNDING in llvm_text(lambda v: v * 0.5, ALL)


def test_halving_subnormals_still_rounds():
    """x * 0.5 is not exact (a subnormal's last bit falls off): it rounds, ties to even."""
    sub = np.arange(1, 0x80, dtype=np.uint16)            # positive bfloat16 subnormals
    x = np.concatenate([sub, sub | 0x8000, [0x0080, 0x0081, 0x0083]]).astype(np.uint16).view(BF16)
    got = jc.jit(lambda v: v * 0.5)(x)
    assert_same(got, rnd(x.astype(F32) * F32(0.5)))
    # 3 * 2**-133 halves to 1.5 * 2**-133: a tie, to the even 2 * 2**-133.
    assert np.asarray(got).view(np.uint16)[2] == 0x0002


def f32_edges():
    """float32 bit patterns around every bfloat16 rounding decision."""
    pats = [0x3F808000, 0x3F818000, 0x3F80C000, 0x3F807FFF, 0x3F808001, 0x7F7F8000,
            0x7F7F7FFF, 0x7F7FFFFF, 0x00008000, 0x00018000, 0x00008001, 0x00007FFF, 0x007F8000,
            0x007FFFFF, 0x80008000, 0x80018000, 0x00000001, 0x807FFFFF, 0x7F800000, 0xFF800000,
            0x7F800001, 0xFF800001, 0x7FFF8000, 0xFFFF8000, 0x7FFFFFFF, 0xFFC12345, 0x7FC00000,
            0, 0x80000000]
    r = np.random.default_rng(11)
    random = r.integers(0, 1 << 32, 20_000, dtype=np.uint64).astype(np.uint32)
    # Every low half on a few upper halves: all ties and near-ties, normal and subnormal.
    lows = np.arange(1 << 16, dtype=np.uint32)
    dense = np.concatenate([(hi << 16) | lows for hi in (0x3F80, 0x3F81, 0x0000, 0x807F,
                                                          0x7F7F)])
    return np.concatenate([np.array(pats, np.uint32), random, dense]).view(F32)


def test_float32_inputs_round_once_into_a_bfloat16_chain():
    """float32 -> bfloat16 (ties to even, subnormals, NaN payloads that would carry into the
    sign bit, overflow), then bfloat16 ops: the conversion rounds once and each op once."""
    x = f32_edges()
    got_conv, got_chain = jc.jit(lambda v: (v.astype(jnp.bfloat16),
                                            v.astype(jnp.bfloat16) * 3 - 1))(x)
    with np.errstate(all="ignore"):
        c = rnd(x)
        assert_same(got_conv, c)
        assert_same(got_chain, rnd(rnd(c * F32(3)) - F32(1)))
    # NaNs keep their sign (0xFFFF8000 would round to -0.0 if the carry reached the sign).
    nan = np.isnan(x)
    np.testing.assert_array_equal(np.signbit(np.asarray(got_conv).astype(F32)[nan]),
                                  np.signbit(x[nan]))


def test_float32_results_round_into_bfloat16():
    """A float32 computation on widened bfloat16 values, converted back: one rounding of the
    float32 result; and converting a widened bfloat16 back does not round twice."""
    x = ALL
    f = lambda v: ((v.astype(jnp.float32) * 1.0009765625 + 1e-40).astype(jnp.bfloat16),   # noqa: E731
                   v.astype(jnp.float32).astype(jnp.bfloat16))
    got, back = jc.jit(f)(x)
    with np.errstate(all="ignore"):
        assert_same(got, rnd(x.astype(F32) * F32(1.0009765625) + F32(1e-40)))
    assert_same(back, x.astype(F32))
    assert ROUNDING not in llvm_text(lambda v: -v.astype(jnp.float32).astype(jnp.bfloat16), x)


def test_math_results_round_with_their_nan():
    """A math body's float32 result (log of negatives: NaN; exp overflow: inf) rounds once."""
    x = ALL
    got = jc.jit(lambda v: (jnp.log(v), jnp.exp(v)))(x)
    xf = x.astype(F32)
    with np.errstate(all="ignore"):
        want = (np.log(xf), np.exp(xf))
    for g, w in zip(got, want):
        g = np.asarray(g).astype(F32)
        wb = rnd(w)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(wb))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(wb))
        ok = np.isfinite(wb)
        # Within one bfloat16 ulp of the rounded float32 libm value (the bodies are float32
        # approximations that may land on the other side of a rounding boundary).
        e = np.frexp(wb[ok])[1]
        ulp = np.where(wb[ok] == 0, 2.0 ** -133, np.ldexp(1.0, np.maximum(e - 8, -133)))
        assert np.all(np.abs(g[ok].astype(np.float64) - wb[ok]) <= ulp)


def test_16_bit_conversions_use_the_hosts_vector_instructions():
    """On an F16C host a float16 chain converts with vcvtph2ps / vcvtps2ph; a bfloat16 chain
    widens with a shift and rounds with integer vector instructions, no library call."""
    from llvmlite import binding as llvm
    llvm.initialize_native_target()
    feats = llvm.get_host_cpu_features()
    if "x86" not in llvm.get_process_triple() or not feats.get("f16c"):
        pytest.skip("not an F16C x86 host")
    asm = jc.jit(lambda v: v * 1.5 + v).lower(jnp.ones(1 << 12, jnp.float16)).compile() \
        .as_text("asm")
    assert "vcvtph2ps" in asm and "vcvtps2ph" in asm
    asm = jc.jit(lambda v: v * 1.5 + v).lower(jnp.ones(1 << 12, jnp.bfloat16)).compile() \
        .as_text("asm")
    assert "__truncsfbf2" not in asm and "vpmovzxwd" in asm
