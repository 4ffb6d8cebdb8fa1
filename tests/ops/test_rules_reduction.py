"""JVP, VJP and batching rules of the reduction family and dot_general, called directly.

Eagerly (and, for each float case, once under `jitcore.jit` to check the rules build valid IR):
the JVP against central differences of the primitive itself, the VJP against the JVP through
the adjoint identity <ct, J t> == <J^T ct, t>, and the batching rule against a Python loop
over a batch of 3 for every choice of batched operands. Then JAX's conventions where the
derivative is not smooth: products with zeros, max/min ties (split equally) and NaNs.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
from ops.core import PRIMITIVES, bind

F64 = np.dtype("float64")
FAMILY = ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
          "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "dot_general")
NONDIFF = ("reduce_and", "reduce_or", "argmax", "argmin")
BATCH = 3


class Case:
    def __init__(self, prim, shapes, label="", dtype="float64", **params):
        self.prim, self.shapes, self.label = prim, shapes, label
        self.dtype, self.params = np.dtype(dtype), params

    def args(self, rng):
        return tuple(_random(rng, s, self.dtype) for s in self.shapes)

    def __repr__(self):
        return f"{self.prim}-{self.label or self.shapes}"


def _random(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(size=shape) < 0.5
    return rng.integers(-5, 6, size=shape).astype(dtype)


def _dn(lc, rc, lb=(), rb=()):
    return {"dimension_numbers": ((lc, rc), (lb, rb))}


CASES = [
    Case("reduce_sum", [(3, 4, 5)], axes=(1,)),
    Case("reduce_sum", [(3, 4, 5)], axes=(0, 2)),
    Case("reduce_sum", [(3, 4)], "negative-axis", axes=(-1,)),
    Case("reduce_sum", [(3, 4)], "no-axes", axes=()),
    Case("reduce_sum", [()], "0d", axes=()),
    Case("reduce_sum", [(0, 3)], "size0", axes=(0,)),
    Case("reduce_prod", [(3, 4)], axes=(1,)),
    Case("reduce_prod", [(2, 3, 4)], axes=(2, 0)),
    Case("reduce_prod", [(5,)], axes=(0,)),
    Case("reduce_prod", [(3, 4)], "no-axes", axes=()),
    Case("reduce_prod", [(0, 3)], "size0", axes=(0,)),
    Case("reduce_max", [(3, 4, 5)], axes=(1,)),
    Case("reduce_max", [(3, 4, 5)], axes=(-1, 0)),
    Case("reduce_max", [()], "0d", axes=()),
    Case("reduce_min", [(3, 4, 5)], axes=(2,)),
    Case("reduce_min", [(6,)], axes=(0,)),
    Case("cumsum", [(5,)], axis=0),
    Case("cumsum", [(3, 6)], "reverse", axis=1, reverse=True),
    Case("cumsum", [(0, 3)], "size0", axis=0),
]
for _name in ("cumprod", "cummax", "cummin"):
    CASES += [
        Case(_name, [(7,)], axis=0),
        Case(_name, [(8,)], "even", axis=0, reverse=True),
        Case(_name, [(3, 6)], axis=-1),
        Case(_name, [(5, 2, 3)], "reverse", axis=0, reverse=True),
        Case(_name, [(1, 4)], "size1", axis=0),
        Case(_name, [(0, 3)], "size0", axis=0),
    ]
CASES += [
    Case("dot_general", [(3, 4), (4, 5)], "matmul", **_dn((1,), (0,))),
    Case("dot_general", [(4,), (4,)], "inner", **_dn((0,), (0,))),
    Case("dot_general", [(3,), (2,)], "outer", **_dn((), ())),
    Case("dot_general", [(2, 3, 4), (2, 4, 5)], "bmm", **_dn((2,), (1,), (0,), (0,))),
    Case("dot_general", [(3, 2, 4, 5), (5, 3, 6, 4)], "mixed",
         **_dn((2, 3), (3, 0), (0,), (1,))),
    Case("dot_general", [(2, 3, 4), (4, 2)], "negative", **_dn((-1,), (0,), (0,), (-1,))),
    Case("dot_general", [(3, 4), (4, 5)], "preferred64", dtype="float32",
         preferred_element_type=F64, **_dn((1,), (0,))),
]
FLOAT_CASES = [c for c in CASES if c.dtype == F64]

INT_CASES = [
    Case("reduce_sum", [(3, 4)], "int", dtype="int64", axes=(1,)),
    Case("reduce_prod", [(3, 4)], "int", dtype="int32", axes=(0,)),
    Case("reduce_max", [(3, 4)], "int", dtype="int64", axes=(0, 1)),
    Case("reduce_min", [(3, 4)], "uint", dtype="uint8", axes=(1,)),
    Case("reduce_and", [(3, 4)], dtype="bool", axes=(1,)),
    Case("reduce_or", [(3, 4, 2)], dtype="bool", axes=(0, 2)),
    Case("argmax", [(3, 4)], axis=1, index_dtype=np.dtype("int64")),
    Case("argmax", [(3, 4, 2)], "int", dtype="int32", axis=-3, index_dtype=np.dtype("int32")),
    Case("argmin", [(3, 4)], axis=0, index_dtype=np.dtype("int64")),
    Case("argmin", [(5,)], "bool", dtype="bool", axis=0, index_dtype=np.dtype("int64")),
    Case("cumsum", [(3, 4)], "int", dtype="int64", axis=1),
    Case("cumprod", [(5,)], "int", dtype="int64", axis=0, reverse=True),
    Case("cummax", [(3, 4)], "int", dtype="int16", axis=0),
    Case("cummin", [(3, 4)], "int", dtype="int64", axis=1),
    Case("dot_general", [(3, 4), (4, 2)], "int", dtype="int64", **_dn((1,), (0,))),
    Case("dot_general", [(3, 4), (4, 2)], "int-to-float", dtype="int32",
         preferred_element_type=F64, **_dn((1,), (0,))),
]


def _np(x):
    return None if x is None else np.asarray(x)


def _vdot(a, b):
    return float(np.sum(np.asarray(a, F64) * np.asarray(b, F64)))


def _tangent_sets(n):
    """Every operand's tangent at once, then each operand's alone (the others zero)."""
    sets = [tuple(range(n))]
    if n > 1:
        sets += [(i,) for i in range(n)]
    return sets


# --- 1. JVP against central differences -----------------------------------------------------

@pytest.mark.parametrize("case", FLOAT_CASES, ids=repr)
def test_jvp_matches_central_differences(case):
    rng = np.random.default_rng(0)
    prim, args = PRIMITIVES[case.prim], case.args(rng)
    eps = 1e-6
    for live in _tangent_sets(len(args)):
        ts = [rng.normal(size=a.shape) if i in live else None for i, a in enumerate(args)]
        out, tan = prim.jvp(args, ts, **case.params)
        want = _np(bind(prim, *args, **case.params))
        np.testing.assert_array_equal(_np(out), want)
        assert isinstance(out, jitcore.Array)

        def at(s):
            return _np(bind(prim, *[a + s * t if t is not None else a
                                    for a, t in zip(args, ts)], **case.params))
        fd = (at(eps) - at(-eps)) / (2 * eps)
        tan = _np(tan)
        assert tan.shape == want.shape and tan.dtype == want.dtype
        np.testing.assert_allclose(tan, fd, rtol=1e-6, atol=1e-6, err_msg=f"{case} {live}")


@pytest.mark.parametrize("case", FLOAT_CASES, ids=repr)
def test_jvp_with_only_zero_tangents_is_zero(case):
    args = case.args(np.random.default_rng(1))
    out, tan = PRIMITIVES[case.prim].jvp(args, (None,) * len(args), **case.params)
    assert tan is None
    np.testing.assert_array_equal(_np(out), _np(bind(PRIMITIVES[case.prim], *args,
                                                     **case.params)))


# --- 2. VJP against JVP ---------------------------------------------------------------------

@pytest.mark.parametrize("case", FLOAT_CASES, ids=repr)
def test_vjp_is_the_transpose_of_jvp(case):
    rng = np.random.default_rng(2)
    prim, args = PRIMITIVES[case.prim], case.args(rng)
    ans = bind(prim, *args, **case.params)
    ct = rng.normal(size=np.shape(ans))
    cts = prim.vjp(ct, ans, args, **case.params)
    assert isinstance(cts, tuple) and len(cts) == len(args)
    for c, a in zip(cts, args):
        assert _np(c).shape == a.shape and _np(c).dtype == a.dtype
    ts = [rng.normal(size=a.shape) for a in args]
    _, tan = prim.jvp(args, ts, **case.params)
    lhs = _vdot(ct, tan)
    rhs = sum(_vdot(c, t) for c, t in zip(cts, ts))
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10), (lhs, rhs)
    assert prim.vjp(None, ans, args, **case.params) == (None,) * len(args)


@pytest.mark.parametrize("case", FLOAT_CASES, ids=repr)
def test_rules_build_ir_under_jit(case):
    """The same rules run on the IR builder's tracers (no NumPy on rule inputs)."""
    rng = np.random.default_rng(3)
    prim, args = PRIMITIVES[case.prim], case.args(rng)
    ts = tuple(rng.normal(size=a.shape) for a in args)
    ans = bind(prim, *args, **case.params)
    ct = rng.normal(size=np.shape(ans))

    def both(args, ts, ct):
        out = prim.jvp(args, ts, **case.params)[1]
        return out, prim.vjp(ct, prim.bind(*args, **case.params), args, **case.params)

    want_t, want_c = both(args, ts, ct)
    got_t, got_c = jitcore.jit(both)(args, ts, ct)
    np.testing.assert_allclose(_np(got_t), _np(want_t), rtol=1e-12, atol=1e-12)
    for g, w in zip(got_c, want_c):
        np.testing.assert_allclose(_np(g), _np(w), rtol=1e-12, atol=1e-12)


# --- integer, boolean and index operands ----------------------------------------------------

@pytest.mark.parametrize("case", INT_CASES, ids=repr)
def test_non_float_values_have_no_derivative(case):
    rng = np.random.default_rng(4)
    prim, args = PRIMITIVES[case.prim], case.args(rng)
    ts = [rng.normal(size=a.shape) if a.dtype.kind == "f" else None for a in args]
    out, tan = prim.jvp(args, ts, **case.params)
    want = _np(bind(prim, *args, **case.params))
    np.testing.assert_array_equal(_np(out), want)
    assert _np(out).dtype == want.dtype
    assert tan is None
    assert prim.vjp(np.ones(want.shape), out, args, **case.params) == (None,) * len(args)


@pytest.mark.parametrize("name", FAMILY)
def test_every_primitive_has_its_rules(name):
    prim = PRIMITIVES[name]
    for rule in ("jvp", "vjp", "batch"):
        assert callable(getattr(prim, rule, None)), f"{name} lacks {rule}"
    assert getattr(prim, "differentiable", True) is (name not in NONDIFF)


# --- 3. batching against a loop -------------------------------------------------------------

def _batch_flag_sets(n):
    sets = [(False,) * n, (True,) * n]
    if n > 1:
        sets += [tuple(i == j for j in range(n)) for i in range(n)]
    return sets


@pytest.mark.parametrize("case", CASES + INT_CASES, ids=repr)
def test_batch_matches_a_loop(case):
    rng = np.random.default_rng(5)
    prim, args = PRIMITIVES[case.prim], case.args(rng)
    for flags in _batch_flag_sets(len(args)):
        per_example = [[_random(rng, a.shape, a.dtype) for _ in range(BATCH)] if f else None
                       for a, f in zip(args, flags)]
        batched_args = [np.stack(p) if f else a for a, p, f in zip(args, per_example, flags)]
        out, out_batched = prim.batch(batched_args, flags, BATCH, **case.params)
        if not any(flags):
            assert out_batched is False
            np.testing.assert_array_equal(_np(out), _np(bind(prim, *args, **case.params)))
            continue
        assert out_batched is True
        want = np.stack([_np(bind(prim, *[p[k] if f else a for a, p, f in
                                          zip(args, per_example, flags)], **case.params))
                         for k in range(BATCH)])
        got = _np(out)
        assert got.dtype == want.dtype and got.shape == want.shape, (flags, got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=str(flags))


def test_dot_general_batch_with_one_batched_operand_moves_no_broadcast():
    """One batched operand folds the batch into a free dimension: no operand is broadcast."""
    lhs, rhs = np.ones((BATCH, 2, 4)), np.ones((4, 5))
    text = jitcore.make_hlo(lambda a, b: PRIMITIVES["dot_general"].batch(
        (a, b), (True, False), BATCH, **_dn((1,), (0,)))[0])(lhs, rhs)
    assert "broadcast_in_dim" not in str(text)


# --- float32 ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in FAMILY if n not in NONDIFF])
def test_float32_rules_keep_float32(name):
    case = next(c for c in FLOAT_CASES if c.prim == name and all(
        np.prod(s) > 1 for s in c.shapes))
    rng = np.random.default_rng(6)
    prim = PRIMITIVES[name]
    a64 = case.args(rng)
    a32 = tuple(a.astype(np.float32) for a in a64)
    ts = tuple(rng.normal(size=a.shape) for a in a64)
    _, t64 = prim.jvp(a64, ts, **case.params)
    out32, t32 = prim.jvp(a32, tuple(t.astype(np.float32) for t in ts), **case.params)
    want_dtype = _np(out32).dtype
    assert _np(t32).dtype == want_dtype
    np.testing.assert_allclose(_np(t32), _np(t64), rtol=1e-4, atol=1e-4)
    ct = np.ones(np.shape(out32), want_dtype)
    for c, a in zip(prim.vjp(ct, out32, a32, **case.params), a32):
        assert _np(c).dtype == np.float32 and _np(c).shape == a.shape


def test_preferred_element_type_cotangents_have_the_operands_dtype():
    lhs = np.arange(6, dtype=np.float32).reshape(2, 3)
    rhs = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    prim = PRIMITIVES["dot_general"]
    params = dict(preferred_element_type=F64, **_dn((1,), (0,)))
    ans = bind(prim, lhs, rhs, **params)
    assert _np(ans).dtype == F64
    ct = np.linspace(-1, 1, 8).reshape(2, 4)
    c_lhs, c_rhs = prim.vjp(ct, ans, (lhs, rhs), **params)
    assert _np(c_lhs).dtype == np.float32 and _np(c_rhs).dtype == np.float32
    np.testing.assert_allclose(_np(c_lhs), ct @ rhs.astype(F64).T, rtol=1e-6)
    np.testing.assert_allclose(_np(c_rhs), lhs.astype(F64).T @ ct, rtol=1e-6)


# --- 5. JAX's conventions -----------------------------------------------------------------

def _grad(name, x, **params):
    prim = PRIMITIVES[name]
    ans = bind(prim, x, **params)
    return _np(prim.vjp(np.ones(np.shape(ans)), ans, (x,), **params)[0])


def _jacobian_by_jvp(name, x, **params):
    prim = PRIMITIVES[name]
    cols = [_np(prim.jvp((x,), (e,), **params)[1]) for e in np.eye(x.size).reshape(
        (x.size,) + x.shape)]
    return np.stack([c.reshape(-1) for c in cols], axis=1)


def _jacobian_by_vjp(name, x, **params):
    prim = PRIMITIVES[name]
    ans = bind(prim, x, **params)
    rows = [_np(prim.vjp(e.reshape(np.shape(ans)), ans, (x,), **params)[0])
            for e in np.eye(np.size(ans))]
    return np.stack([r.reshape(-1) for r in rows])


@pytest.mark.parametrize("x", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 0.0, 3.0, 0.0],
                               [1.5, -2.0, 0.0, 4.0], [0.0]])
def test_reduce_prod_derivative_is_exact_at_zeros(x):
    x = np.array(x)
    want = np.array([np.prod(np.delete(x, k)) for k in range(x.size)])
    np.testing.assert_array_equal(_grad("reduce_prod", x, axes=(0,)), want)
    np.testing.assert_array_equal(_jacobian_by_jvp("reduce_prod", x, axes=(0,)), want[None])


def test_reduce_prod_zeros_over_several_axes():
    x = np.random.default_rng(7).normal(size=(3, 2, 4))
    x[0, 1, 2] = x[2, 0, 0] = x[2, 1, 3] = 0.0
    g = _grad("reduce_prod", x, axes=(0, 2))
    for j in range(2):
        group = x[:, j, :].reshape(-1)
        want = np.array([np.prod(np.delete(group, k)) for k in range(group.size)])
        np.testing.assert_allclose(g[:, j, :].reshape(-1), want, rtol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_derivative_is_exact_at_zeros(reverse):
    x = np.array([2.0, 0.0, 3.0, -1.5, 0.0, 4.0, 0.5])
    n = x.size
    order = np.arange(n)[::-1] if reverse else np.arange(n)
    # J[i, k] = product of the elements that out[i] multiplies, except x[k].
    want = np.zeros((n, n))
    for pos_i, i in enumerate(order):
        for k in order[:pos_i + 1]:
            want[i, k] = np.prod([x[j] for j in order[:pos_i + 1] if j != k])
    params = dict(axis=0, reverse=reverse)
    np.testing.assert_allclose(_jacobian_by_jvp("cumprod", x, **params), want, rtol=1e-14)
    np.testing.assert_allclose(_jacobian_by_vjp("cumprod", x, **params), want, rtol=1e-14)


@pytest.mark.parametrize("name,pick", [("reduce_max", np.max), ("reduce_min", np.min)])
def test_reduce_max_min_ties_split_equally(name, pick):
    x = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, -2.0, 3.0, -2.0], [5.0, 5.0, 5.0, 5.0]])
    for axes in [(1,), (0, 1)]:
        chosen = x == pick(x, axis=axes, keepdims=True)
        want = chosen / chosen.sum(axis=axes, keepdims=True)
        np.testing.assert_array_equal(_grad(name, x, axes=axes), want)
        ts = np.random.default_rng(8).normal(size=x.shape)
        _, tan = PRIMITIVES[name].jvp((x,), (ts,), axes=axes)
        np.testing.assert_allclose(_np(tan), (ts * want).sum(axis=axes), rtol=1e-14)


def test_reduce_max_of_nan_has_nan_derivative():
    # JAX: the NaN result equals no element, so the count is 0 and the derivative 0/0.
    x = np.array([[1.0, np.nan, 2.0], [1.0, 4.0, 2.0]])
    g = _grad("reduce_max", x, axes=(1,))
    assert np.isnan(g[0]).all()
    np.testing.assert_array_equal(g[1], [0.0, 1.0, 0.0])
    _, tan = PRIMITIVES["reduce_max"].jvp((x,), (np.ones_like(x),), axes=(1,))
    assert np.isnan(_np(tan)[0]) and _np(tan)[1] == 1.0


# JAX's cummax/cummin tangents come from its parallel prefix scan, whose max combines split a
# tie 1/2-1/2: with all elements equal, out[1] = max(x0, x1), out[2] = max(out[1], x2),
# out[3] = max(max(x0, x1), max(x2, x3)), out[4] = max(out[3], x4).
_TIED_JACOBIAN = np.array([[1, 0, 0, 0, 0],
                           [1 / 2, 1 / 2, 0, 0, 0],
                           [1 / 4, 1 / 4, 1 / 2, 0, 0],
                           [1 / 4, 1 / 4, 1 / 4, 1 / 4, 0],
                           [1 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 2]])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("reverse", [False, True])
def test_cummax_cummin_ties_split_as_in_jax(name, reverse):
    x = np.full(5, 2.5)
    want = _TIED_JACOBIAN[::-1, ::-1] if reverse else _TIED_JACOBIAN
    params = dict(axis=0, reverse=reverse)
    np.testing.assert_array_equal(_jacobian_by_jvp(name, x, **params), want)
    np.testing.assert_array_equal(_jacobian_by_vjp(name, x, **params), want)


def test_cummax_follows_the_running_maximum():
    x = np.array([0.5, 2.0, -1.0, 3.0, 3.0, 1.0])
    run = np.maximum.accumulate(x)
    # Without ties, out[i]'s tangent is the tangent of the element holding the running max;
    # the tie at positions 3 and 4 splits 1/2-1/2 (one combine in JAX's tree).
    want = np.zeros((6, 6))
    for i in range(6):
        at = np.flatnonzero(x[:i + 1] == run[i])
        want[i, at] = 1.0 / at.size
    np.testing.assert_array_equal(_jacobian_by_jvp("cummax", x, axis=0), want)
    np.testing.assert_array_equal(_jacobian_by_vjp("cummax", x, axis=0), want)


def test_cummax_past_a_nan_has_zero_derivative():
    # max(a, NaN) is NaN, which equals neither operand: both weights are 0 (JAX's max JVP).
    x = np.array([1.0, np.nan, 2.0])
    want = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(_jacobian_by_jvp("cummax", x, axis=0), want)
    np.testing.assert_array_equal(_jacobian_by_vjp("cummax", x, axis=0), want)


def _jax_scan_tangent(x, t, name):
    """Reference: JAX's `associative_scan` recursion (odd/even halves, then interleave), run in
    NumPy on (value, tangent) pairs with the JVPs of lax.mul / lax.max / lax.min as combine."""
    def combine(a, b):
        (va, ta), (vb, tb) = a, b
        if name == "cumprod":
            return va * vb, ta * vb + va * tb
        v = np.maximum(va, vb) if name == "cummax" else np.minimum(va, vb)

        def weight(p, q):
            return (p == v) / np.where(q == v, 2.0, 1.0)
        return v, ta * weight(va, vb) + tb * weight(vb, va)

    def scan(v, t):
        n = v.size
        if n < 2:
            return v, t
        odd_v, odd_t = scan(*combine((v[0:-1:2], t[0:-1:2]), (v[1::2], t[1::2])))
        keep = slice(None, -1) if n % 2 == 0 else slice(None)
        ev, et = combine((odd_v[keep], odd_t[keep]), (v[2::2], t[2::2]))
        out_v, out_t = np.empty(n), np.empty(n)
        out_v[0::2], out_t[0::2] = np.concatenate([v[:1], ev]), np.concatenate([t[:1], et])
        out_v[1::2], out_t[1::2] = odd_v, odd_t
        return out_v, out_t

    with np.errstate(invalid="ignore"):
        return scan(x, t)[1]


@pytest.mark.parametrize("name", ["cumprod", "cummax", "cummin"])
def test_scan_tangents_follow_jaxs_prefix_scan(name):
    rng = np.random.default_rng(9)
    for n in range(1, 18):
        x = np.round(rng.normal(size=n))  # many ties and zeros
        if n > 3:
            x[rng.integers(n)] = np.nan
        t = rng.normal(size=n)
        for reverse in (False, True):
            _, tan = PRIMITIVES[name].jvp((x,), (t,), axis=0, reverse=reverse)
            want = (_jax_scan_tangent(x[::-1], t[::-1], name)[::-1] if reverse
                    else _jax_scan_tangent(x, t, name))
            np.testing.assert_allclose(_np(tan), want, rtol=1e-14, atol=1e-14,
                                       err_msg=f"{name} n={n} reverse={reverse}")
