"""bfloat16 and float16 end to end: conversions, promotion, arithmetic, reductions, dots,
derivatives, vmap, the IR text, the CPU backend against the interpreter, and the PTX.

References are independent of jitcore: ml_dtypes' conversions, a scalar loop rounding
float64 values to bfloat16 by hand, NumPy in float32 rounded once per op (what XLA's CPU code
does for 16-bit floats), float64 sums and products, and finite differences.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile

import ml_dtypes
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config, lax
from jitcore.test_util import check_grads
from ops import dtypes
from xla_like import parser, printer

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
HALVES = [BF16, F16]

rng = np.random.default_rng(7)


def bits(a):
    a = np.asarray(a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def same_bits_or_both_nan(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    nan = np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])


# --- conversions -----------------------------------------------------------------------------

@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_every_bit_pattern_round_trips_through_float32(dt):
    """All 65,536 values widen to float32 exactly and narrow back to themselves (NaNs stay
    NaN, with their sign), compiled, against ml_dtypes / NumPy."""
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dt)
    wide = jc.jit(lambda v: v.astype(jnp.float32))(x)
    same_bits_or_both_nan(wide, x.astype(np.float32))
    back = jc.jit(lambda v: v.astype(jnp.float32).astype(dt))(x)
    same_bits_or_both_nan(back, x)
    nan = np.isnan(x.astype(np.float32))
    np.testing.assert_array_equal(np.signbit(np.asarray(back)[nan].astype(np.float32)),
                                  np.signbit(x[nan].astype(np.float32)))


def _f32_edge_values():
    ties = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x3F807FFF, 0x7F7F8000, 0x7F7FFFFF,
                     0x00008000, 0x00018000, 0x80008000, 0x00000001, 0x807FFFFF,
                     0x7F800000, 0xFF800000, 0x7F800001, 0xFFC12345, 0x7FFFFFFF, 0, 0x80000000],
                    np.uint32)
    random_bits = rng.integers(0, 1 << 32, 50_000, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([ties, random_bits]).view(np.float32)


def test_float32_to_bfloat16_rounds_to_nearest_even():
    x = _f32_edge_values()
    got = jc.jit(lambda v: v.astype(jnp.bfloat16))(x)
    with np.errstate(all="ignore"):
        same_bits_or_both_nan(got, x.astype(BF16))


def _bf16_by_hand(v: float) -> float:
    """The bfloat16 nearest to `v` (ties to even), by frexp and Python's exact round()."""
    if math.isnan(v) or math.isinf(v) or v == 0.0:
        return v
    m, e = math.frexp(v)                        # v = m * 2**e, 0.5 <= |m| < 1
    q = max(e - 8, -133)                        # 8 significant bits; subnormal spacing 2**-133
    r = round(v / 2.0 ** q) * 2.0 ** q
    return math.copysign(math.inf, v) if abs(r) >= 2.0 ** 128 else r


def test_float64_and_integers_to_bfloat16_round_once():
    # float64 values a double rounding through float32 would get wrong: just above a tie.
    ties = [1.0 + 2.0 ** -8 + 2.0 ** -30, 1.0 + 2.0 ** -8 - 2.0 ** -40, 3.0e38, 3.4e38, 1e-40,
            -2.5e-39, 7.0 + 2.0 ** -6]
    x = np.concatenate([ties, rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500)])
    got = np.asarray(jc.jit(lambda v: v.astype(jnp.bfloat16))(x)).astype(np.float64)
    np.testing.assert_array_equal(got, [_bf16_by_hand(v) for v in x])
    ints = np.array([0, 1, -7, 255, 257, 259, 1 << 20, (1 << 24) + 1, -(1 << 40) - 3], np.int64)
    got = np.asarray(jc.jit(lambda v: v.astype(jnp.bfloat16))(ints)).astype(np.float64)
    np.testing.assert_array_equal(got, [_bf16_by_hand(float(v)) for v in ints])


def test_bfloat16_to_integers_and_bool():
    x = np.array([0.0, -0.0, 1.5, -2.5, 300.0, -1e30, 1e30, np.nan, np.inf], np.float32)
    xb = x.astype(BF16)
    f = jc.jit(lambda v: (v.astype(jnp.int32), v.astype(jnp.uint8), v.astype(bool)))
    i32, u8, b = f(xb)
    ref = jc.jit(lambda v: (v.astype(jnp.int32), v.astype(jnp.uint8), v.astype(bool)))(
        xb.astype(np.float32))
    for g, r in zip((i32, u8, b), ref):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(r))


# --- dtypes and promotion ----------------------------------------------------------------------

# JAX's documented lattice (jax.numpy type promotion table, 64-bit enabled).
PROMOTION = [
    (BF16, F16, F32), (BF16, F32, F32), (BF16, np.float64, np.float64),
    (BF16, np.int8, BF16), (BF16, np.uint8, BF16), (BF16, np.int64, BF16), (BF16, bool, BF16),
    (BF16, np.complex64, np.complex64), (BF16, np.complex128, np.complex128),
    (F16, np.int32, F16), (F16, F32, F32),
]


@pytest.mark.parametrize("a,b,want", PROMOTION, ids=str)
def test_promotion_follows_jax_lattice(a, b, want):
    assert jnp.promote_types(a, b) == np.dtype(want)
    assert jnp.promote_types(b, a) == np.dtype(want)
    x, y = jnp.ones(2, a), jnp.ones(2, b)
    assert (x + y).dtype == np.dtype(want)


def test_weak_scalars_keep_bfloat16():
    x = jnp.ones(3, jnp.bfloat16)
    for y in (2, 2.5, True):
        assert (x * y).dtype == BF16
    assert (x * 1j).dtype == np.complex64
    assert jnp.result_type(jnp.bfloat16, float) == BF16


def test_dtype_queries():
    assert jnp.bfloat16.dtype == BF16 and np.dtype(jnp.bfloat16) == BF16
    assert jnp.issubdtype(jnp.bfloat16, jnp.floating)
    assert jnp.issubdtype(jnp.bfloat16, jnp.inexact)
    assert not jnp.issubdtype(jnp.bfloat16, jnp.integer)
    assert jnp.finfo(jnp.bfloat16).eps == 2.0 ** -7
    assert jnp.isdtype(jnp.bfloat16, "real floating")
    assert dtypes.IR_NAME[BF16] == "bf16"
    assert jnp.bfloat16(1.5).dtype == BF16


def test_numpy_interop_gives_ml_dtypes_arrays():
    a = jnp.arange(4, dtype=jnp.bfloat16) * 1.5
    n = np.asarray(a)
    assert n.dtype == BF16
    np.testing.assert_array_equal(n.astype(np.float32), [0, 1.5, 3, 4.5])
    back = jnp.asarray(n)
    assert back.dtype == BF16


# --- arithmetic: float32, rounded once per op -------------------------------------------------

def _inputs(dt, shape=(40, 33)):
    x = rng.standard_normal(shape).astype(np.float32).astype(dt)
    y = (rng.standard_normal(shape).astype(np.float32) * 3).astype(dt)
    return x, y


def _per_op(dt, fn, *args):
    """`fn` of NumPy ufuncs in float32, its result rounded to `dt`."""
    with np.errstate(all="ignore"):
        return fn(*(a.astype(np.float32) for a in args)).astype(dt)


EXACT = {   # correctly rounded in float32, so one rounding to 16 bits matches bit for bit
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "sqrt": (lambda a, b: jnp.sqrt(jnp.abs(a)), lambda a, b: np.sqrt(np.abs(a))),
    "max": (jnp.maximum, np.maximum),
    "where": (lambda a, b: jnp.where(a > b, a, b), lambda a, b: np.where(a > b, a, b)),
}


@pytest.mark.parametrize("dt", HALVES, ids=str)
@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_ops_match_float32_rounded_once(dt, name):
    ours, ref = EXACT[name]
    x, y = _inputs(dt)
    same_bits_or_both_nan(jc.jit(ours)(x, y), _per_op(dt, ref, x, y))


def test_nan_inf_and_overflow_through_bfloat16_arithmetic():
    """NaN made by an op (inf - inf, 0 * inf, sqrt(-1)), passed through (NaN + 1, with any
    bfloat16 NaN payload), overflow to inf and the largest finite value, against float32
    rounded once."""
    specials = np.array([np.inf, -np.inf, 0.0, -0.0, 3.3e38, -3.3e38, 1.0, np.nan],
                        np.float32).astype(BF16)
    payloads = np.array([0x7F81, 0xFFFF, 0x7FC0, 0xFFC1], np.uint16).view(BF16)
    x = np.concatenate([np.repeat(specials, 8), payloads])
    y = np.concatenate([np.tile(specials, 8), payloads[::-1]])
    f = lambda a, b: (a - b, a * b, a + b, a / b, jnp.sqrt(a), a * 2.0)   # noqa: E731
    refs = (np.subtract, np.multiply, np.add, np.divide, lambda a, b: np.sqrt(a),
            lambda a, b: a * np.float32(2))
    for got, ref in zip(jc.jit(f)(x, y), refs):
        same_bits_or_both_nan(got, _per_op(BF16, ref, x, y))


MATH = {
    "exp": (jnp.exp, np.exp), "tanh": (jnp.tanh, np.tanh), "sin": (jnp.sin, np.sin),
    "log1p": (lambda a: jnp.log1p(jnp.abs(a)), lambda a: np.log1p(np.abs(a))),
}


@pytest.mark.parametrize("dt", HALVES, ids=str)
@pytest.mark.parametrize("name", sorted(MATH))
def test_math_within_one_16_bit_ulp_of_float32_rounded(dt, name):
    """Math bodies are a few float32 ULP from NumPy's, which after rounding to 16 bits is the
    same value or (next to a tie) its neighbour."""
    ours, ref = MATH[name]
    x, _ = _inputs(dt)
    got = np.asarray(jc.jit(ours)(x)).astype(np.float64)
    want = _per_op(dt, ref, x)
    ulp = np.abs(np.spacing(want.astype(np.float32))).astype(np.float64) * \
        (2.0 ** 16 if dt == BF16 else 2.0 ** 13)
    assert np.all(np.abs(got - want.astype(np.float64)) <= ulp)
    assert np.mean(got == want.astype(np.float64)) > 0.97


def test_bfloat16_logistic_and_integer_pow_round_each_step_of_xlas_expansion():
    """XLA computes bfloat16 logistic as 1 / (1 + exp(-x)) and x ** n as a chain of
    multiplies, rounding each op to bfloat16 (JAX 0.10's answers, e.g. sigmoid(2) = 0.8828125
    where the correctly rounded value is 0.87890625)."""
    x = np.concatenate([[2.0, -3.5, -20.0, 100.0, -100.0, np.inf, -np.inf, np.nan],
                        np.linspace(-8, 8, 1001)]).astype(np.float32).astype(BF16)
    e = _per_op(BF16, lambda a: np.exp(-a), x)
    want = _per_op(BF16, lambda a: 1 / a, _per_op(BF16, lambda a: 1 + a, e))
    got = np.asarray(jc.jit(jc.nn.sigmoid)(x))
    assert float(got[0]) == 0.8828125
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.mean(diff == 0) > 0.98 and np.nanmax(diff / np.abs(want.astype(np.float64)
                                                                  + 1e-30)) <= 2 ** -7
    sq = _per_op(BF16, lambda a: a * a, x)
    cube = _per_op(BF16, lambda a, c: a * c, x, sq)
    for backend in ("cpu", "interp"):
        got = jc.jit(lambda v: (lax.integer_pow(v, 3), v ** -2), backend=backend)(x)
        same_bits_or_both_nan(got[0], cube)
        same_bits_or_both_nan(got[1], _per_op(BF16, lambda a: 1 / a, sq))


def test_a_chain_rounds_after_every_op_as_xla_does():
    """exp(x) * 3 + 1 in bfloat16: rounded after exp, after the product and after the sum;
    rounding only once at the end gives a different answer on some elements."""
    x = np.linspace(-4, 4, 4001).astype(np.float32).astype(BF16)
    got = np.asarray(jc.jit(lambda v: jnp.exp(v) * 3 + 1)(x))
    e = _per_op(BF16, np.exp, x)
    p = _per_op(BF16, lambda a: a * np.float32(3), e)
    want = _per_op(BF16, lambda a: a + np.float32(1), p)
    once = (np.exp(x.astype(np.float32)) * 3 + 1).astype(BF16)
    assert np.any(bits(once) != bits(want))          # the test can tell the two apart
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.mean(diff == 0) > 0.98 and np.all(diff <= np.abs(want.astype(np.float64)) * 2 ** -7)
    exact = np.asarray(jc.jit(lambda v: (v * 3) + 1)(x))   # no math body: bit for bit
    want = _per_op(BF16, lambda a: a + np.float32(1), _per_op(BF16, lambda a: a * 3, x))
    same_bits_or_both_nan(exact, want)


# --- reductions and dots accumulate in float32 ------------------------------------------------

@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_sums_accumulate_in_float32(dt):
    # A 16-bit accumulator stalls (bfloat16: 256 + 1 == 256); float32 does not.
    ones = np.ones((3, 1000), dt)
    for f in (lambda v: v.sum(), lambda v: v.sum(1), lambda v: v.T.sum(0)):
        got = np.asarray(jc.jit(f)(ones))
        np.testing.assert_array_equal(got, np.asarray(f(ones.astype(np.float64))).astype(dt))
    x = (rng.random((64, 300)) + 0.5).astype(np.float32).astype(dt)
    ref = x.astype(np.float64).sum(1)
    for got in (jc.jit(lambda v: v.sum(1))(x), jc.jit(lambda v: v.mean(1) * 300)(x)):
        np.testing.assert_allclose(np.asarray(got).astype(np.float64), ref, rtol=2 ** -7)
    assert jc.jit(lambda v: v.sum(1))(x).dtype == dt


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_dots_accumulate_in_float32(dt):
    a = rng.standard_normal((48, 200)).astype(np.float32).astype(dt)
    b = rng.standard_normal((200, 36)).astype(np.float32).astype(dt)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    got = jc.jit(lambda x, y: x @ y)(a, b)
    assert got.dtype == dt
    # One rounding of a float32 sum: within half a 16-bit ULP of the exact product.
    np.testing.assert_allclose(np.asarray(got).astype(np.float64), ref,
                               rtol=2 ** -8 if dt == BF16 else 2 ** -11, atol=1e-3)
    wide = jc.jit(lambda x, y: lax.dot(x, y, preferred_element_type=jnp.float32,
                                       precision=lax.Precision.HIGHEST))(a, b)
    assert wide.dtype == F32
    np.testing.assert_allclose(np.asarray(wide), ref, rtol=1e-5, atol=1e-4)
    batched = jc.jit(jc.vmap(lambda x, y: x @ y))(np.stack([a[:, :8]] * 3),
                                                  np.stack([b[:8]] * 3))
    np.testing.assert_allclose(np.asarray(batched[1]).astype(np.float64),
                               a[:, :8].astype(np.float64) @ b[:8].astype(np.float64),
                               rtol=2 ** -7, atol=1e-3)


# --- transforms ------------------------------------------------------------------------------

def _loss(w, x):
    h = jnp.tanh(x @ w)
    return (h * h).sum() + jnp.exp(w).mean()


@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_gradients_against_float32_finite_differences(dt):
    """JAX's gradient tolerances (bfloat16 1e-1, float16 1e-2); differences taken on the
    float32 function (`check_grads` widens 16-bit inputs)."""
    w = (rng.standard_normal((6, 3)) * 0.5).astype(np.float32).astype(dt)
    x = rng.standard_normal((5, 6)).astype(np.float32).astype(dt)
    check_grads(lambda w: _loss(w, x), (w,), order=1)
    g = jc.jit(jc.grad(_loss))(w, x)
    assert g.dtype == dt
    g32 = jc.grad(_loss)(w.astype(np.float32), x.astype(np.float32))
    np.testing.assert_allclose(np.asarray(g).astype(np.float32), np.asarray(g32),
                               rtol=0.1 if dt == BF16 else 1e-2, atol=0.05)


def test_vmap_matches_a_loop():
    x = rng.standard_normal((5, 7)).astype(np.float32).astype(BF16)
    f = lambda r: jnp.sin(r) * r.sum() + 1   # noqa: E731
    got = np.asarray(jc.jit(jc.vmap(f))(x))
    want = np.stack([np.asarray(jc.jit(f)(r)) for r in x])
    np.testing.assert_array_equal(bits(got), bits(want))


# --- the CPU backend against the interpreter --------------------------------------------------

PROGRAMS = {
    "arith": lambda a, b: (a + b) * a - b / (jnp.abs(b) + 1),
    "math": lambda a, b: jnp.sqrt(jnp.abs(a)) + jnp.maximum(a, b) * 2.5,
    "compare": lambda a, b: jnp.where(a > b, a, -b).astype(jnp.float32),
    "softmax": lambda a, b: jc.nn.softmax(a, axis=-1),
    "reductions": lambda a, b: (a.sum(0), a.max(1), jnp.argmax(b, 0), (a * b).sum()),
    "dot": lambda a, b: a @ b.T,
    "convert": lambda a, b: (a.astype(jnp.float16), (a * 100).astype(jnp.int32),
                             a.astype(jnp.float64) * 1.1),
    "bitcast": lambda a, b: lax.bitcast_convert_type(a, jnp.int16),
    "scatter": lambda a, b: a.at[jnp.array([0, 2, 0])].add(b[:3]),
    "cumsum": lambda a, b: jnp.cumsum(a[:4], 1),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cpu_matches_interpreter(name):
    x, y = _inputs(BF16, (24, 40))
    f = PROGRAMS[name]
    got = jc.tree_util.tree_leaves(jc.jit(f)(x, y))
    want = jc.tree_util.tree_leaves(jc.jit(f, backend="interp")(x, y))
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype
        if name in ("dot", "reductions", "softmax") and g.dtype != BF16:
            np.testing.assert_allclose(g, w, rtol=1e-5)   # float32 summation order
        else:
            same_bits_or_both_nan(g, w)


# --- IR text --------------------------------------------------------------------------------

def test_ir_text_round_trips():
    c = np.array([1.5, -0.0, np.inf, np.nan, 3.0e38, 1e-40], np.float32).astype(BF16)
    f = lambda a: a * jnp.asarray(c) + 0.1   # noqa: E731
    text = jc.jit(f).lower(jnp.ones(6, jnp.bfloat16)).as_text()
    assert "bf16[6] parameter(0)" in text
    module = parser.parse_module(text)
    assert printer.module_to_text(module) == text
    const = [i for i in module.entry.instructions if i.opcode == "constant" and i.shape.dims]
    same_bits_or_both_nan(const[0].attrs["value"], c)


# --- float16 chains vectorize ----------------------------------------------------------------

@pytest.mark.parametrize("dt", HALVES, ids=str)
def test_16_bit_chains_compile_to_vector_code(dt):
    """The loop over a 16-bit elementwise chain widens a vector of elements to float32 at a
    time (F16C / integer shifts), not one element per iteration."""
    from llvmlite import binding as llvm
    from xla_like.backends.cpu import target
    from xla_like.backends.cpu.executable import _llvm_modules
    x = jnp.ones(1 << 17, dt)
    text = jc.jit(lambda v: jnp.exp(v) * 3 + v).lower(x).compile().as_text("llvm")
    tm = target.target_machine()
    optimized = []
    for unit in _llvm_modules(text):
        m = llvm.parse_assembly(unit)
        target.optimize(m, tm)
        optimized.append(str(m))
    code = "\n".join(optimized)
    assert " x float>" in code


# --- CUDA: PTX assembles ---------------------------------------------------------------------

PTXAS = shutil.which("ptxas")


@pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")
def test_bfloat16_ptx_assembles():
    from xla_like.backends.cuda import codegen
    if codegen.libdevice_path() is None:
        pytest.skip("libdevice not found")
    h = rng.standard_normal((48, 130)).astype(np.float32).astype(BF16)

    def f(a, b):
        return (jnp.exp(a) * a + 1, a.sum(1), a.max(0), jc.nn.softmax(a, -1), a @ b,
                a.at[jnp.array([3, 1, 3])].add(a[:3]), a.astype(jnp.float32))
    with config.override(cuda_arch="sm_80"):
        ptx = jc.jit(f, backend="cuda").lower(h, h.T.copy()).compile().as_text("ptx")
    assert ".b16" in ptx or ".u16" in ptx     # bfloat16 elements move as 16-bit words
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.ptx")
        with open(path, "w") as fh:
            fh.write(ptx)
        res = subprocess.run([PTXAS, "-arch=sm_80", path, "-o", os.path.join(tmp, "k.cubin")],
                             capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]


# --- the mixed-precision example's training step ---------------------------------------------

def test_mixed_precision_example_keeps_float32_master_weights():
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "mixed_precision.py")
    spec = importlib.util.spec_from_file_location("example_mixed_precision", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x, y = mod.mlp.make_spirals(64)
    data = (x[64:], y[64:], x[:64], y[:64])
    params, hist, (scale, good, skipped) = mod.train_mixed(
        jnp.float16, data, 3, jc.random.PRNGKey(0), loss_scaling=True, log=None)
    assert all(p.dtype == np.float32 for p in jc.tree_util.tree_leaves(params))
    losses = [h[0] for h in hist]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert float(scale) == mod.INITIAL_SCALE and int(skipped) == 0   # 6 steps: no change
