"""JVP, VJP and batching rules of the elementwise primitives (ops/elementwise.py).

Each rule is called directly and eagerly: the JVP against central finite differences of the
primitive itself, the VJP against the JVP by the adjoint identity <ct, J t> == <J^T ct, t>, the
batching rule against a Python loop over the batch. Then the conventions JAX documents for the
awkward points (ties, kinks, zeros) and a pass of every rule under `jitcore.jit`.
"""
from __future__ import annotations

import itertools
from typing import Callable, NamedTuple

import numpy as np
import pytest

import jitcore
from ops import elementwise
from ops.core import PRIMITIVES, Primitive

F64, F32 = np.dtype("float64"), np.dtype("float32")
FAMILY = sorted(p.name for p in vars(elementwise).values() if isinstance(p, Primitive))
NONDIFF = {"is_finite", "not", "and", "or", "xor", "shift_left", "shift_right_arithmetic",
           "shift_right_logical", "eq", "ne", "lt", "le", "gt", "ge", "bitcast_convert_type",
           "iota"}
SHAPES = [(), (2, 3)]
BATCH = 3


# --- operand generators: gen(rng, shape) -> ndarray ------------------------------------------

def fl(lo, hi, dtype=F64):
    return lambda rng, shape: rng.uniform(lo, hi, shape).astype(dtype)


def nonzero(lo, hi, dtype=F64):
    # |x| in [lo, hi] with a random sign: keeps divisors and negative powers away from 0.
    return lambda rng, shape: (rng.uniform(lo, hi, shape)
                               * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def ints(lo, hi, dtype="int32"):
    return lambda rng, shape: rng.integers(lo, hi, shape).astype(dtype)


def bools(rng, shape):
    return rng.random(shape) < 0.5


def scalar(gen):
    return lambda rng, shape: gen(rng, ())


class Spec(NamedTuple):
    prim: str
    gens: tuple
    params: dict = {}
    label: str = ""


ANY = fl(-2, 2)
POS = fl(0.3, 3)
UNIT = fl(-0.9, 0.9)

SPECS = [
    Spec("neg", (ANY,)), Spec("neg", (ints(-5, 6),), label="int"),
    Spec("abs", (nonzero(0.2, 2),)), Spec("abs", (ints(-5, 6),), label="int"),
    Spec("sign", (nonzero(0.2, 2),)), Spec("sign", (ints(-5, 6),), label="int"),
    Spec("floor", (fl(-5, 5),)), Spec("ceil", (fl(-5, 5),)),
    Spec("round", (fl(-5, 5),), {"rounding_method": 0}),
    Spec("round", (fl(-5, 5),), {"rounding_method": 1}, "even"),
    Spec("exp", (ANY,)), Spec("exp2", (ANY,)), Spec("expm1", (ANY,)),
    Spec("log", (POS,)), Spec("log1p", (fl(-0.5, 3),)),
    Spec("sqrt", (POS,)), Spec("rsqrt", (POS,)), Spec("cbrt", (nonzero(0.2, 3),)),
    Spec("sin", (ANY,)), Spec("cos", (ANY,)), Spec("tan", (fl(-1.2, 1.2),)),
    Spec("asin", (UNIT,)), Spec("acos", (UNIT,)), Spec("atan", (ANY,)),
    Spec("sinh", (ANY,)), Spec("cosh", (ANY,)), Spec("tanh", (ANY,)),
    Spec("asinh", (ANY,)), Spec("acosh", (fl(1.2, 3),)), Spec("atanh", (UNIT,)),
    Spec("logistic", (fl(-4, 4),)), Spec("erf", (ANY,)), Spec("erf_inv", (UNIT,)),
    Spec("is_finite", (ANY,)), Spec("not", (ints(-5, 6),)), Spec("not", (bools,), label="bool"),
    Spec("add", (ANY, ANY)), Spec("add", (ints(-5, 6), ints(-5, 6)), label="int"),
    Spec("add", (bools, bools), label="bool"),
    Spec("sub", (ANY, ANY)), Spec("sub", (ints(-5, 6), ints(-5, 6)), label="int"),
    Spec("mul", (ANY, ANY)), Spec("mul", (ints(-5, 6), ints(-5, 6)), label="int"),
    Spec("div", (ANY, nonzero(0.5, 2))), Spec("div", (ints(-9, 9), ints(1, 4)), label="int"),
    Spec("rem", (fl(-5, 5), nonzero(0.7, 2))), Spec("rem", (ints(-9, 9), ints(1, 4)), label="int"),
    Spec("pow", (fl(0.5, 2), fl(-2, 2))), Spec("pow", (ints(-3, 4), ints(0, 4)), label="int"),
    Spec("max", (ANY, ANY)), Spec("max", (ints(-5, 6), ints(-5, 6)), label="int"),
    Spec("min", (ANY, ANY)), Spec("min", (bools, bools), label="bool"),
    Spec("atan2", (ANY, ANY)),
    Spec("and", (ints(-9, 9), ints(-9, 9))), Spec("and", (bools, bools), label="bool"),
    Spec("or", (ints(-9, 9), ints(-9, 9))), Spec("xor", (bools, bools)),
    Spec("shift_left", (ints(-9, 9), ints(-2, 34))),
    Spec("shift_right_arithmetic", (ints(-99, 99), ints(-2, 34))),
    Spec("shift_right_logical", (ints(-99, 99, "int64"), ints(-2, 66, "int64"))),
    *[Spec(c, (ANY, ANY)) for c in ("eq", "ne", "lt", "le", "gt", "ge")],
    Spec("eq", (ints(-2, 2), ints(-2, 2)), label="int"),
    *[Spec("integer_pow", (nonzero(0.5, 2),), {"y": y}, f"y={y}") for y in (-2, 0, 1, 2, 3)],
    Spec("integer_pow", (ints(-3, 4),), {"y": 3}, "int"),
    Spec("select", (bools, ANY, ANY)), Spec("select", (bools, ints(-5, 6), ints(-5, 6)), label="int"),
    Spec("clamp", (fl(-1, -0.2), ANY, fl(0.2, 1))),
    Spec("clamp", (scalar(fl(-1, -0.2)), ANY, scalar(fl(0.2, 1))), label="scalar bounds"),
    Spec("clamp", (scalar(fl(-1, -0.2)), ANY, fl(0.2, 1)), label="scalar min"),
    Spec("clamp", (ints(-3, 0), ints(-5, 6), ints(1, 4)), label="int"),
    Spec("convert_element_type", (ANY,), {"new_dtype": F32}, "f64->f32"),
    Spec("convert_element_type", (fl(-2, 2, F32),), {"new_dtype": F64}, "f32->f64"),
    Spec("convert_element_type", (ANY,), {"new_dtype": F64, "weak_type": True}, "weak"),
    Spec("convert_element_type", (ANY,), {"new_dtype": np.dtype("int32")}, "f64->i32"),
    Spec("convert_element_type", (ints(-5, 6),), {"new_dtype": F64}, "i32->f64"),
    Spec("convert_element_type", (bools,), {"new_dtype": F64}, "bool->f64"),
    Spec("bitcast_convert_type", (ANY,), {"new_dtype": np.dtype("int64")}, "f64->i64"),
    Spec("bitcast_convert_type", (ints(0, 99, "int64"),), {"new_dtype": F64}, "i64->f64"),
    Spec("iota", (), {"dtype": F64, "shape": (2, 3), "dimension": 1}),
    Spec("iota", (), {"dtype": np.dtype("int32"), "shape": (4,), "dimension": 0}, "int"),
]


def spec_id(s):
    return f"{s.prim}-{s.label}" if s.label else s.prim


def make_args(spec, shape, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    out = []
    for gen in spec.gens:
        if batch is None:
            out.append(np.asarray(gen(rng, shape)))
        else:
            out.append(np.stack([np.asarray(gen(rng, shape)) for _ in range(batch)]))
    return tuple(out)


def bind(spec, *args):
    return np.asarray(PRIMITIVES[spec.prim].bind(*args, **spec.params))


def is_f(a):
    return np.asarray(a).dtype.kind == "f"


def random_like(rng, a):
    return rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype)


def vdot(a, b):
    return float(np.sum(np.asarray(a, F64) * np.asarray(b, F64)))


def tangent_sets(args):
    """All float operands carrying tangents, then each one alone (the others symbolic zeros)."""
    floats = [i for i, a in enumerate(args) if is_f(a)]
    sets = [set(floats)] + [{i} for i in floats] if floats else [set()]
    return [tuple(s) for s in dict.fromkeys(tuple(sorted(s)) for s in sets)]


def all_float64(spec, args):
    return all(np.asarray(x).dtype in (F64,) for x in args + (bind(spec, *args),) if is_f(x))


def finite_difference(spec, args, tangents):
    """Central differences; with a float32 operand or result (only the linear conversions)
    a large step, since a small one would drown in rounding."""
    eps = 1e-6 if all_float64(spec, args) else 1e-2
    plus = [a if t is None else (a + eps * t).astype(a.dtype) for a, t in zip(args, tangents)]
    minus = [a if t is None else (a - eps * t).astype(a.dtype) for a, t in zip(args, tangents)]
    return (bind(spec, *plus).astype(F64) - bind(spec, *minus).astype(F64)) / (2 * eps)


# Complex-only primitives: their rules are checked in tests/ops/test_rules_complex.py.
COMPLEX_ONLY = {"real", "imag", "conj", "complex"}


def test_every_primitive_of_the_family_is_covered():
    assert len(FAMILY) > 50
    assert set(FAMILY) - COMPLEX_ONLY == {s.prim for s in SPECS}


@pytest.mark.parametrize("name", FAMILY)
def test_primitive_has_transform_rules(name):
    prim = PRIMITIVES[name]
    missing = [r for r in ("jvp", "vjp", "batch") if not callable(getattr(prim, r, None))]
    assert not missing, f"{name} lacks {missing}"
    assert getattr(prim, "differentiable", True) == (name not in NONDIFF)


# --- 1. JVP against finite differences -------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_jvp_matches_finite_differences(spec, shape):
    prim = PRIMITIVES[spec.prim]
    args = make_args(spec, shape)
    rng = np.random.default_rng(1)
    want = bind(spec, *args)
    for which in tangent_sets(args):
        tangents = tuple(random_like(rng, a) if i in which else None for i, a in enumerate(args))
        ans, t_out = prim.jvp(args, tangents, **spec.params)
        ans = np.asarray(ans)
        assert ans.dtype == want.dtype and ans.shape == want.shape
        np.testing.assert_array_equal(ans, want)
        if want.dtype.kind != "f" or not which:
            assert t_out is None, f"{spec.prim}: a non-float result must have no tangent"
            continue
        fd = finite_difference(spec, args, tangents)
        if t_out is None:
            # A symbolic zero: the derivative of a piecewise-constant op, or of bits.
            np.testing.assert_allclose(fd, 0, atol=1e-6)
            continue
        t_out = np.asarray(t_out)
        assert t_out.dtype == want.dtype and t_out.shape == want.shape
        tol = 1e-6 if all_float64(spec, args) else 1e-3
        np.testing.assert_allclose(t_out.astype(F64), fd, rtol=tol, atol=tol,
                                   err_msg=f"{spec_id(spec)} tangents on operands {which}")


# --- 2. VJP against JVP: <ct, J t> == <J^T ct, t> --------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_vjp_is_the_adjoint_of_jvp(spec, shape):
    prim = PRIMITIVES[spec.prim]
    args = make_args(spec, shape)
    rng = np.random.default_rng(2)
    tangents = tuple(random_like(rng, a) if is_f(a) else None for a in args)
    ans, t_out = prim.jvp(args, tangents, **spec.params)
    assert prim.vjp(None, ans, args, **spec.params) == (None,) * len(args)
    ct = random_like(rng, ans) if is_f(ans) else np.zeros(np.shape(ans), F64)
    cts = prim.vjp(ct, ans, args, **spec.params)
    assert isinstance(cts, tuple) and len(cts) == len(args)
    rhs = 0.0
    for a, c, t in zip(args, cts, tangents):
        if c is None:
            continue
        c = np.asarray(c)
        assert is_f(a), f"{spec.prim}: a non-float operand got a cotangent"
        assert c.shape == a.shape and c.dtype == a.dtype, \
            f"{spec.prim}: cotangent {c.dtype}{c.shape} for operand {a.dtype}{a.shape}"
        rhs += vdot(c, t)
    lhs = 0.0 if t_out is None else vdot(ct, t_out)
    tol = 1e-10 if all_float64(spec, args) else 1e-5
    np.testing.assert_allclose(lhs, rhs, rtol=tol, atol=tol)


# --- 3. batching against a Python loop -------------------------------------------------------

def batched_patterns(n):
    if n == 0:
        return [()]
    return list(dict.fromkeys([(True,) * n] + [tuple(i == j for j in range(n)) for i in range(n)]))


BATCH_CASES = [(s, p) for s in SPECS for p in batched_patterns(len(s.gens))]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("spec,pattern", BATCH_CASES,
                         ids=[f"{spec_id(s)}-{''.join('B' if b else '_' for b in p)}"
                              for s, p in BATCH_CASES])
def test_batch_matches_a_loop(spec, pattern, shape):
    prim = PRIMITIVES[spec.prim]
    single = make_args(spec, shape, seed=3)
    stacked = make_args(spec, shape, seed=4, batch=BATCH)
    args = tuple(s if b else a for a, s, b in zip(single, stacked, pattern))
    out, out_batched = prim.batch(args, pattern, BATCH, **spec.params)
    out = np.asarray(out)
    if not any(pattern):
        assert out_batched is False
        np.testing.assert_array_equal(out, bind(spec, *args))
        return
    assert out_batched is True
    want = np.stack([bind(spec, *[a[i] if b else a for a, b in zip(args, pattern)])
                     for i in range(BATCH)])
    assert out.dtype == want.dtype and out.shape == want.shape
    np.testing.assert_array_equal(out, want)


def test_clamp_batch_keeps_an_unbatched_scalar_bound_scalar():
    # Only the batched operand grows: the scalar bounds need no broadcast.
    hlo = jitcore.make_hlo(lambda lo, x, hi: PRIMITIVES["clamp"].batch(
        (lo, x, hi), (False, True, False), BATCH)[0])(np.float64(-1), np.zeros((BATCH, 4)),
                                                      np.float64(1))
    assert "broadcast_in_dim" not in str(hlo)


# --- float32 smoke check -----------------------------------------------------------------------

def float64_operands(spec):
    floats = [g for g in spec.gens if g is not bools]
    return floats and all(g(np.random.default_rng(0), ()).dtype == F64 for g in floats)


F32_SPECS = [s for s in SPECS if float64_operands(s) and s.prim not in NONDIFF
             and s.prim != "convert_element_type"]


def as_f32_spec(spec):
    def gen32(g):
        return lambda rng, shape: np.asarray(g(rng, shape)).astype(F32)
    return spec._replace(gens=tuple(g if g is bools else gen32(g) for g in spec.gens))


@pytest.mark.parametrize("spec", F32_SPECS, ids=spec_id)
def test_float32_rules_keep_float32_and_agree_with_float64(spec):
    prim = PRIMITIVES[spec.prim]
    args64 = make_args(spec, (2, 3))
    args32 = make_args(as_f32_spec(spec), (2, 3))
    rng = np.random.default_rng(5)
    t64 = tuple(random_like(rng, a) if is_f(a) else None for a in args64)
    t32 = tuple(None if t is None else t.astype(F32) for t in t64)
    _, out64 = prim.jvp(args64, t64, **spec.params)
    _, out32 = prim.jvp(args32, t32, **spec.params)
    assert (out64 is None) == (out32 is None)
    if out32 is not None:
        assert np.asarray(out32).dtype == F32
        np.testing.assert_allclose(np.asarray(out32, F64), np.asarray(out64), rtol=1e-4,
                                   atol=1e-4)
    ans32 = PRIMITIVES[spec.prim].bind(*args32, **spec.params)
    ct = np.ones((2, 3), F32)
    for a, c in zip(args32, prim.vjp(ct, ans32, args32, **spec.params)):
        if c is not None:
            assert np.asarray(c).dtype == a.dtype == F32


# --- 4. the conventions JAX documents ---------------------------------------------------------

def jvp(name, primals, tangents, **params):
    return PRIMITIVES[name].jvp(tuple(np.asarray(p) for p in primals),
                                tuple(None if t is None else np.asarray(t) for t in tangents),
                                **params)


def vjp(name, ct, primals, **params):
    primals = tuple(np.asarray(p) for p in primals)
    ans = PRIMITIVES[name].bind(*primals, **params)
    return PRIMITIVES[name].vjp(np.asarray(ct), ans, primals, **params)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_split_the_derivative_equally(name):
    x = np.array([1.0, 2.0, -3.0])
    y = np.array([1.0, 0.0, 5.0])
    dx, dy = vjp(name, np.ones(3), (x, y))
    chose_x = (x >= y) if name == "max" else (x <= y)
    want_dx = np.where(x == y, 0.5, chose_x.astype(F64))
    np.testing.assert_array_equal(np.asarray(dx), want_dx)
    np.testing.assert_array_equal(np.asarray(dy), 1 - want_dx)
    _, t = jvp(name, (x, y), (np.ones(3), None))
    np.testing.assert_array_equal(np.asarray(t), want_dx)


def test_abs_derivative_at_zero_is_one_as_in_jax():
    # JAX's rule is select(x >= 0, g, -g): 1 at both zeros, not sign(0) = 0.
    x = np.array([0.0, -0.0, 2.0, -2.0])
    _, t = jvp("abs", (x,), (np.ones(4),))
    np.testing.assert_array_equal(np.asarray(t), np.where(x >= 0, 1.0, -1.0))
    np.testing.assert_array_equal(np.asarray(vjp("abs", np.ones(4), (x,))[0]), [1, 1, 1, -1])


def test_sqrt_derivative_at_zero_is_inf():
    _, t = jvp("sqrt", (np.array([0.0, 4.0]),), (np.ones(2),))
    np.testing.assert_array_equal(np.asarray(t), [np.inf, 0.25])


def test_select_routes_the_cotangent_to_the_chosen_branch_only():
    x = np.array([-1.0, 4.0])
    pred = x > 0
    with np.errstate(all="ignore"):
        branch = np.log(x)                      # nan where not chosen
    _, d_true, d_false = vjp("select", np.ones(2), (pred, branch, np.zeros(2)))
    np.testing.assert_array_equal(np.asarray(d_true), [0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(d_false), [1.0, 0.0])
    # Through log's VJP the branch not taken stays exactly 0: its derivative 1/x is finite.
    dx, = vjp("log", d_true, (x,))
    np.testing.assert_array_equal(np.asarray(dx), [0.0, 0.25])
    # At x == 0 the untaken branch's derivative is inf, and 0 * inf = nan, exactly as in JAX.
    dx0, = vjp("log", np.zeros(1), (np.zeros(1),))
    assert np.isnan(np.asarray(dx0)).all()
    _, t = jvp("select", (pred, branch, np.zeros(2)), (None, np.ones(2), None))
    np.testing.assert_array_equal(np.asarray(t), [0.0, 1.0])


def test_pow_at_zero():
    x = np.array([0.0, 0.0, 0.0, 0.0])
    y = np.array([0.0, 1.0, 2.0, 0.5])
    dx, dy = vjp("pow", np.ones(4), (x, y))
    # d/dx: y * x**(y-1), 0 where y == 0 (x**0 is constant); 0**0 = 1 at y == 1; inf at y=1/2.
    np.testing.assert_array_equal(np.asarray(dx), [0.0, 1.0, 0.0, np.inf])
    # d/dy: log(x) * x**y with log(1) standing in at x == 0, so no nan.
    np.testing.assert_array_equal(np.asarray(dy), [0.0, 0.0, 0.0, 0.0])


def test_rem_derivatives():
    x, y = np.array([7.0, -7.0, 7.5]), np.array([2.0, 2.0, -2.0])
    dx, dy = vjp("rem", np.ones(3), (x, y))
    np.testing.assert_array_equal(np.asarray(dx), np.ones(3))
    np.testing.assert_array_equal(np.asarray(dy), -np.trunc(x / y))


def test_clamp_gradient_masks_and_scalar_bounds():
    lo, hi = np.float64(-1.0), np.float64(1.0)
    x = np.array([-2.0, -1.0, 0.0, 1.0, 3.0])
    dlo, dx, dhi = vjp("clamp", np.ones(5), (lo, x, hi))
    np.testing.assert_array_equal(np.asarray(dx), [0, 0, 1, 0, 0])   # ties: no derivative
    assert np.asarray(dlo).shape == () and float(dlo) == 1.0         # summed over x < lo
    assert np.asarray(dhi).shape == () and float(dhi) == 1.0


def test_integer_pow_and_floor_give_symbolic_zeros():
    x = np.array([0.5, 2.0])
    assert jvp("integer_pow", (x,), (np.ones(2),), y=0)[1] is None
    assert vjp("integer_pow", np.ones(2), (x,), y=0) == (None,)
    assert jvp("floor", (x,), (np.ones(2),))[1] is None
    assert vjp("round", np.ones(2), (x,), rounding_method=0) == (None,)


def test_convert_element_type_tangents_follow_the_dtype():
    x = np.array([1.5, -2.5])
    _, t = jvp("convert_element_type", (x,), (np.ones(2),), new_dtype=F32)
    assert np.asarray(t).dtype == F32
    ct, = vjp("convert_element_type", np.ones(2, F32), (x,), new_dtype=F32)
    assert np.asarray(ct).dtype == F64
    assert jvp("convert_element_type", (x,), (np.ones(2),), new_dtype=np.dtype("int32"))[1] is None
    assert vjp("convert_element_type", np.ones(2, F64), (np.array([1, 2], np.int32),),
               new_dtype=F64) == (None,)


# --- 5. the rules build IR under jit -----------------------------------------------------------

JIT_SPECS = [s for s in SPECS if not s.label or s.prim in ("clamp", "iota")]


@pytest.mark.parametrize("spec", JIT_SPECS, ids=spec_id)
def test_rules_trace_under_jit(spec):
    prim = PRIMITIVES[spec.prim]
    args = make_args(spec, (2, 3))
    rng = np.random.default_rng(6)
    tangents = tuple(random_like(rng, a) if is_f(a) else None for a in args)
    ans = np.asarray(prim.bind(*args, **spec.params))
    ct = random_like(rng, ans) if is_f(ans) else None
    n = len(args)
    stacked = tuple(np.stack([a] * BATCH) for a in args)

    def rules(primals, ts, batched):
        return (prim.jvp(primals, ts, **spec.params),
                prim.vjp(ct, prim.bind(*primals, **spec.params), primals, **spec.params),
                prim.batch(batched, (True,) * n, BATCH, **spec.params)[0])

    def traced(*xs):
        ts = tuple(xs[n + i] if tangents[i] is not None else None for i in range(n))
        return rules(xs[:n], ts, xs[2 * n:])

    filled = tuple(t if t is not None else np.zeros_like(a) for t, a in zip(tangents, args))
    eager = rules(args, tangents, stacked)
    jitted = jitcore.jit(traced)(*args, *filled, *stacked)
    got, want = jitcore.tree_util.tree_leaves(jitted), jitcore.tree_util.tree_leaves(eager)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)
