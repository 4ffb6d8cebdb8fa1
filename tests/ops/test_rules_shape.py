"""JVP, VJP and batching rules of the shape, indexing and sorting primitives.

For every primitive of `ops/shape.py`, `ops/indexing.py` and `ops/sorting.py`, on random float64
inputs: the JVP against central finite differences of `bind`, the VJP against the JVP by the
adjoint identity <ct, J t> == <J^T ct, t>, and the batching rule against a Python loop, for every
choice of batched operands. Then a float32 smoke check, the rules traced under `jitcore.jit`,
and the semantics JAX documents (ties split, last write wins, clamped windows, padding value).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pytest

import jitcore
from ops.core import PRIMITIVES, bind
from tests.helpers import check_grads, rng_for

F64, F32, I64, I32 = np.float64, np.float32, np.int64, np.int32
EPS = 1e-6
SHAPE_FAMILY = {"broadcast_in_dim", "reshape", "transpose", "squeeze", "rev", "slice",
                "dynamic_slice", "dynamic_update_slice", "concatenate", "pad", "gather",
                "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max", "sort"}


@dataclass
class Case:
    prim: str
    make: callable          # rng -> list of operands (fresh values, same shapes and dtypes)
    params: dict = field(default_factory=dict)
    label: str = ""


def _f(*shape):
    return lambda rng: rng.standard_normal(shape)


def _ints(lo, hi, shape, dtype=I64):
    return lambda rng: rng.integers(lo, hi, shape).astype(dtype)


def _scalar_int(lo, hi, dtype=I64):
    return lambda rng: np.array(rng.integers(lo, hi), dtype)


def _make(*parts):
    return lambda rng: [p(rng) for p in parts]


def _dup_rows(n_rows, size, oob=True):
    """Index rows (n_rows, 1) with a guaranteed duplicate and (optionally) an out-of-range row."""
    def make(rng):
        rows = rng.integers(0, size, (n_rows, 1))
        rows[1] = rows[0]
        if oob:
            rows[-1] = size + 2
        return rows
    return make


def _scatter_cases(name):
    return [
        Case(name, _make(_f(5, 4), _dup_rows(6, 5), _f(6, 4)), dict(axes=(0,)), "rows"),
        Case(name, _make(_f(3, 5), _dup_rows(4, 5, oob=False), _f(4, 3)), dict(axes=(1,)),
             "columns"),
        Case(name, _make(_f(4, 3, 2), _ints(0, 3, (2, 3, 2), I32), _f(2, 3, 3)),
             dict(axes=(0, 2)), "two-axes-int32"),
    ]


CASES = [
    Case("broadcast_in_dim", _make(_f(3, 1)), dict(shape=(2, 3, 4), broadcast_dimensions=(1, 2)),
         "stretch"),
    Case("broadcast_in_dim", _make(_f()), dict(shape=(2, 3), broadcast_dimensions=()), "scalar"),
    Case("broadcast_in_dim", _make(_f(3)), dict(shape=(3, 2), broadcast_dimensions=(0,)), "add"),
    Case("reshape", _make(_f(2, 3, 4)), dict(new_sizes=(6, 4)), "merge"),
    Case("reshape", _make(_f()), dict(new_sizes=(1, 1)), "0-d"),
    Case("reshape", _make(_f(0, 3)), dict(new_sizes=(3, 0)), "empty"),
    Case("transpose", _make(_f(2, 3, 4)), dict(permutation=(2, 0, 1))),
    Case("squeeze", _make(_f(2, 1, 3, 1)), dict(dimensions=(1, -1))),
    Case("rev", _make(_f(3, 4)), dict(dimensions=(0, 1)), "both"),
    Case("rev", _make(_f(3, 4)), dict(dimensions=(-1,)), "last"),
    Case("slice", _make(_f(5, 7)), dict(start_indices=(1, 0), limit_indices=(4, 7),
                                        strides=(2, 3)), "strided"),
    Case("slice", _make(_f(5,)), dict(start_indices=(1,), limit_indices=(4,)), "plain"),
    Case("slice", _make(_f(5, 2)), dict(start_indices=(2, 0), limit_indices=(2, 2),
                                        strides=(2, 1)), "empty"),
    Case("dynamic_slice", _make(_f(5, 6), _scalar_int(-2, 6, I32), _scalar_int(0, 8)),
         dict(slice_sizes=(2, 3)), "clamped"),
    Case("dynamic_slice", _make(_f(5, 4), _scalar_int(0, 6, np.uint8), _scalar_int(-3, 3)),
         dict(slice_sizes=(1, 4)), "row-uint8"),
    Case("dynamic_slice", _make(_f(6,), _scalar_int(-1, 9)), dict(slice_sizes=(0,)), "empty"),
    Case("dynamic_update_slice",
         _make(_f(5, 6), _f(2, 3), _scalar_int(-2, 6, I32), _scalar_int(0, 8)), {}, "clamped"),
    Case("dynamic_update_slice", _make(_f(5, 4), _f(1, 4), _scalar_int(0, 7), _scalar_int(-3, 3)),
         {}, "row"),
    Case("concatenate", _make(_f(2, 3), _f(2, 1), _f(2, 0)), dict(dimension=1), "three"),
    Case("concatenate", _make(_f(2, 3), _f(1, 3)), dict(dimension=-2), "negative-axis"),
    Case("pad", _make(_f(3, 4), _f()), dict(padding_config=((1, 2, 1), (0, 1, 0))), "grow"),
    Case("pad", _make(_f(3, 4), _f()), dict(padding_config=((-1, 2, 1), (1, -2, 2))), "crop"),
    Case("pad", _make(_f(0, 2), _f()), dict(padding_config=((1, 1, 3), (0, 0, 0))), "empty"),
    Case("pad", _make(_f(), _f()), dict(padding_config=()), "0-d"),
    Case("gather", _make(_f(5, 4), lambda rng: np.array([[1], [7], [-1], [3]])),
         dict(axes=(0,), mode="clip", fill_value=None), "clip-out-of-range"),
    Case("gather", _make(_f(5, 4), lambda rng: np.array([[[1], [7]], [[-1], [1]]])),
         dict(axes=(0,), mode="fill", fill_value=2.5), "fill"),
    Case("gather", _make(_f(3, 4, 2), _ints(0, 4, (3, 2, 2), I32)),
         dict(axes=(1, 0), mode="clip", fill_value=None), "two-axes"),
    Case("gather", _make(_f(3, 4), _ints(0, 4, (5, 1))), dict(axes=(-1,), mode="clip",
                                                              fill_value=None), "columns"),
    *_scatter_cases("scatter"),
    *_scatter_cases("scatter_add"),
    *_scatter_cases("scatter_mul"),
    *_scatter_cases("scatter_min"),
    *_scatter_cases("scatter_max"),
    Case("sort", _make(_f(4, 5)), dict(dimension=1, is_stable=True, num_keys=1), "rows"),
    Case("sort", _make(_f(4, 5)), dict(dimension=0, is_stable=True, num_keys=1), "columns"),
    Case("sort", _make(_f(6,), _f(6,)), dict(dimension=0, is_stable=True, num_keys=1),
         "key-and-value"),
    Case("sort", _make(_f(3, 4), lambda rng: rng.permutation(12).reshape(3, 4)),
         dict(dimension=-1, is_stable=True, num_keys=1), "with-int"),
    Case("sort", _make(_ints(0, 2, (7,)), _f(7,), _f(7,)),
         dict(dimension=0, is_stable=True, num_keys=2), "two-keys"),
]


def _case_id(c):
    return f"{c.prim}-{c.label}" if c.label else c.prim


def _is_float(x):
    return np.asarray(x).dtype.kind == "f"


def _as_tuple(x, prim):
    return tuple(x) if prim.multiple_results else (x,)


def _np(x):
    return None if x is None else np.asarray(x)


def _tangents(rng, args, which=None):
    """Random tangents for float operands (restricted to index `which` when given)."""
    return [rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype)
            if _is_float(a) and (which is None or i == which) else None
            for i, a in enumerate(args)]


def _fd(prim, args, tangents, params):
    def at(s):
        moved = [a if t is None else a + s * EPS * t for a, t in zip(args, tangents)]
        return [np.asarray(o) for o in _as_tuple(bind(prim, *moved, **params), prim)]
    return [(p - m) / (2 * EPS) for p, m in zip(at(1), at(-1))]


def _close(got, want, tol=1e-6, what=""):
    got = np.zeros_like(want) if got is None else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


def _rng(case):
    return rng_for(_case_id(case))


def _tangent_patterns(args):
    floats = [i for i, a in enumerate(args) if _is_float(a)]
    return [None] + (floats if len(floats) > 1 else [])


# --- 1. JVP against finite differences -----------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_jvp_matches_finite_differences(case):
    prim, rng = PRIMITIVES[case.prim], _rng(case)
    args = case.make(rng)
    want_out = _as_tuple(bind(prim, *args, **case.params), prim)
    for which in _tangent_patterns(args):
        ts = _tangents(rng, args, which)
        out, tout = prim.jvp(args, ts, **case.params)
        out, tout = _as_tuple(out, prim), _as_tuple(tout, prim)
        for o, w in zip(out, want_out):
            assert isinstance(o, jitcore.Array)
            np.testing.assert_array_equal(np.asarray(o), np.asarray(w))
        for k, (t, fd) in enumerate(zip(tout, _fd(prim, args, ts, case.params))):
            if fd.dtype.kind != "f":
                assert t is None, f"output {k} is not float: its tangent must be None"
                continue
            if t is not None:
                assert np.asarray(t).dtype == fd.dtype
            _close(t, fd, what=f"{_case_id(case)} output {k}, tangent of operand {which}")


# --- 2. VJP against JVP (adjoint identity) -------------------------------------------------

def _check_adjoint(prim, args, params, rng, tol=1e-9):
    ts = _tangents(rng, args)
    out, tout = prim.jvp(args, ts, **params)
    outs, touts = _as_tuple(out, prim), _as_tuple(tout, prim)
    cts = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype) if _is_float(o) else None
           for o in outs]
    ct_arg = tuple(cts) if prim.multiple_results else cts[0]
    back = prim.vjp(ct_arg, out, list(args), **params)
    assert isinstance(back, tuple) and len(back) == len(args)
    for a, c in zip(args, back):
        if c is None:
            continue
        assert _is_float(a), "a non-float operand must get a None cotangent"
        c = np.asarray(c)
        assert c.shape == np.shape(a) and c.dtype == np.asarray(a).dtype, \
            f"cotangent {c.dtype}{c.shape} for operand {np.asarray(a).dtype}{np.shape(a)}"
    lhs = sum(float(np.vdot(c, np.asarray(t))) for c, t in zip(cts, touts)
              if c is not None and t is not None)
    rhs = sum(float(np.vdot(np.asarray(c), t)) for c, t in zip(back, ts)
              if c is not None and t is not None)
    np.testing.assert_allclose(lhs, rhs, rtol=tol, atol=tol)
    assert prim.vjp(None, out, list(args), **params) == (None,) * len(args)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_vjp_is_adjoint_of_jvp(case):
    rng = _rng(case)
    _check_adjoint(PRIMITIVES[case.prim], case.make(rng), case.params, rng)


# --- 3. batching against a Python loop -----------------------------------------------------

B = 3


def _batch_patterns(n):
    return [(True,) * n] + ([tuple(i == j for j in range(n)) for i in range(n)] if n > 1 else [])


def _check_batch(prim, examples, batched, params, tol=0.0):
    """`examples`: B operand lists; batched operands are stacked, others taken from example 0."""
    args = [np.stack([ex[i] for ex in examples]) if b else examples[0][i]
            for i, b in enumerate(batched)]
    per = [[ex[i] if b else examples[0][i] for i, b in enumerate(batched)] for ex in examples]
    want = [_as_tuple(bind(prim, *p, **params), prim) for p in per]
    out, out_b = prim.batch(args, list(batched), B, **params)
    outs, outs_b = _as_tuple(out, prim), _as_tuple(out_b, prim)
    assert len(outs) == len(want[0])
    for k, (o, ob) in enumerate(zip(outs, outs_b)):
        o = np.asarray(o)
        w = np.stack([np.asarray(wb[k]) for wb in want])
        got = o if ob else np.broadcast_to(o, w.shape)
        assert got.shape == w.shape and got.dtype == w.dtype, \
            f"output {k}: {got.dtype}{got.shape}, expected {w.dtype}{w.shape} ({batched})"
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol, err_msg=f"output {k}, {batched}")


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_batch_matches_loop(case):
    prim, rng = PRIMITIVES[case.prim], _rng(case)
    examples = [case.make(rng) for _ in range(B)]
    for batched in _batch_patterns(len(examples[0])):
        _check_batch(prim, examples, batched, case.params)


# --- float32 smoke check and the rules under jit -------------------------------------------

def _to_f32(args):
    return [np.asarray(a, F32) if _is_float(a) else a for a in args]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_float32_rules(case):
    prim, rng = PRIMITIVES[case.prim], _rng(case)
    args = _to_f32(case.make(rng))
    ts = _tangents(rng, args)
    out, tout = prim.jvp(args, ts, **case.params)
    for o, t in zip(_as_tuple(out, prim), _as_tuple(tout, prim)):
        if t is not None:
            assert np.asarray(t).dtype == np.asarray(o).dtype == F32
    _check_adjoint(prim, args, case.params, rng, tol=1e-3)
    examples = [_to_f32(case.make(rng)) for _ in range(B)]
    _check_batch(prim, examples, (True,) * len(args), case.params)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rules_trace_under_jit(case):
    """Rules bind primitives only (no NumPy on their inputs), so they build IR under jit."""
    prim, rng = PRIMITIVES[case.prim], _rng(case)
    args = case.make(rng)
    ts = _tangents(rng, args)
    fl = [i for i, a in enumerate(args) if _is_float(a)]
    eager_out, eager_t = prim.jvp(args, ts, **case.params)

    def jvp(*xs):
        primals, tans = list(xs[:len(args)]), list(ts)
        for i, t in zip(fl, xs[len(args):]):
            tans[i] = t
        return prim.jvp(primals, tans, **case.params)

    out, tout = jitcore.jit(jvp)(*args, *[ts[i] for i in fl])
    for a, b in zip(_as_tuple(tout, prim), _as_tuple(eager_t, prim)):
        if b is not None:
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
    cts = [np.ones(np.shape(o)) if _is_float(o) else None for o in _as_tuple(eager_out, prim)]
    ct = tuple(cts) if prim.multiple_results else cts[0]
    eager_back = prim.vjp(ct, eager_out, list(args), **case.params)

    def vjp(*xs):
        ans = bind(prim, *xs, **case.params)
        return tuple(c for c in prim.vjp(ct, ans, list(xs), **case.params) if c is not None)

    back = jitcore.jit(vjp)(*args)
    want = [c for c in eager_back if c is not None]
    assert len(back) == len(want)
    for a, b in zip(back, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
    examples = [case.make(rng) for _ in range(B)]
    for which in _batch_patterns(len(args)):
        xs = [np.stack([ex[i] for ex in examples]) if b else examples[0][i]
              for i, b in enumerate(which)]
        eager_b, _ = prim.batch(xs, list(which), B, **case.params)
        got_b = jitcore.jit(lambda *xs: prim.batch(list(xs), list(which), B,
                                                   **case.params)[0])(*xs)
        for a, b in zip(_as_tuple(got_b, prim), _as_tuple(eager_b, prim)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _float_function(prim, args, params):
    """f(*float operands) -> the (float) outputs squared: the other operands fixed."""
    fl = [i for i, a in enumerate(args) if _is_float(a)]

    def f(*xs):
        a = list(args)
        for i, x in zip(fl, xs):
            a[i] = x
        outs = [o for o in _as_tuple(bind(prim, *a, **params), prim)
                if np.dtype(o.dtype).kind == "f"]
        outs = [o * o for o in outs]
        return tuple(outs) if prim.multiple_results else outs[0]
    return f, [args[i] for i in fl]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_second_derivatives_through_the_transforms(case):
    """The rules are built from differentiable primitives: second derivatives (forward and
    reverse, eagerly and under jit) match finite differences."""
    f, floats = _float_function(PRIMITIVES[case.prim], case.make(_rng(case)), case.params)
    check_grads(f, floats, order=2)
    check_grads(jitcore.jit(f), floats, order=1)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_vmap_of_grad_matches_loop(case):
    prim, rng = PRIMITIVES[case.prim], _rng(case)
    examples = [case.make(rng) for _ in range(B)]
    stacked = [np.stack(col) for col in zip(*examples)]
    fl = tuple(i for i, a in enumerate(examples[0]) if _is_float(a))

    def loss(*a):
        outs = [o for o in _as_tuple(bind(prim, *a, **case.params), prim)
                if np.dtype(o.dtype).kind == "f"]
        return sum((o * o).sum() for o in outs)

    got = jitcore.jit(jitcore.vmap(jitcore.grad(loss, argnums=fl)))(*stacked)
    for b, ex in enumerate(examples):
        want = jitcore.grad(loss, argnums=fl)(*ex)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g)[b], np.asarray(w), rtol=1e-12, atol=1e-12)


def test_every_family_primitive_has_a_case_and_rules():
    covered = {c.prim for c in CASES}
    assert covered == SHAPE_FAMILY
    for name in SHAPE_FAMILY:
        for rule in ("jvp", "vjp", "batch"):
            assert callable(getattr(PRIMITIVES[name], rule, None)), f"{name} lacks {rule}"
        assert getattr(PRIMITIVES[name], "differentiable", True)


def test_integer_operands_have_no_tangents():
    x = np.arange(6).reshape(2, 3)
    prim = PRIMITIVES["reshape"]
    out, t = prim.jvp([x], [None], new_sizes=(3, 2))
    assert t is None and np.asarray(out).shape == (3, 2)
    assert prim.vjp(np.ones((3, 2), I64), out, [x], new_sizes=(3, 2)) == (None,)
    out, t = PRIMITIVES["sort"].jvp([x], [None], dimension=1, is_stable=True, num_keys=1)
    assert t == (None,)


# --- semantics -----------------------------------------------------------------------------

def _vjp(name, args, ct, **params):
    prim = PRIMITIVES[name]
    ans = bind(prim, *args, **params)
    return [_np(c) for c in prim.vjp(ct, ans, args, **params)]


def test_broadcast_in_dim_vjp_sums_new_and_stretched_dims():
    ct = np.random.default_rng(1).standard_normal((2, 3, 4))
    (g,) = _vjp("broadcast_in_dim", [np.ones((3, 1))], ct, shape=(2, 3, 4),
                broadcast_dimensions=(1, 2))
    np.testing.assert_allclose(g, ct.sum(axis=(0, 2))[:, None], rtol=1e-14)


def test_pad_vjp_with_cropping_and_interior():
    # x = [a, b, c, d], config (-1, 2, 1): interior gives a p b p c p d; crop one from the low
    # end and add two at the high end: [p, b, p, c, p, d, p, p].
    ct = np.arange(1.0, 9.0) ** 2
    gx, gv = _vjp("pad", [np.ones(4), np.array(0.5)], ct, padding_config=((-1, 2, 1),))
    np.testing.assert_allclose(gx, [0.0, ct[1], ct[3], ct[5]])
    np.testing.assert_allclose(gv, ct[[0, 2, 4, 6, 7]].sum())
    # Non-finite cotangents on the operand's positions stay out of the padding value's.
    ct2 = ct.copy()
    ct2[1] = np.inf
    _, gv2 = _vjp("pad", [np.ones(4), np.array(0.5)], ct2, padding_config=((-1, 2, 1),))
    np.testing.assert_allclose(gv2, ct[[0, 2, 4, 6, 7]].sum())


def test_pad_batched_padding_value():
    x, v = np.ones((3, 2)), np.array([1.0, 2.0, 3.0])
    # Rows: interior a p b p c, one more low, one cropped high: p a p b p.
    out, b = PRIMITIVES["pad"].batch([x, v], [False, True], 3,
                                     padding_config=((1, -1, 1), (0, 0, 0)))
    assert b
    for i in range(3):
        want = np.full((5, 2), v[i])
        want[1::2] = 1.0
        np.testing.assert_array_equal(np.asarray(out)[i], want)


def test_dynamic_slice_clamps_in_vjp_and_batch():
    x = np.arange(10.0)
    (g, _) = _vjp("dynamic_slice", [x, np.array(8)], np.array([1.0, 2.0, 3.0]), slice_sizes=(3,))
    np.testing.assert_array_equal(g, [0] * 7 + [1, 2, 3])  # start 8 clamps to 7
    starts = np.array([-5, 2, 9])
    out, b = PRIMITIVES["dynamic_slice"].batch([x, starts], [False, True], 3, slice_sizes=(3,))
    assert b
    np.testing.assert_array_equal(np.asarray(out), [[0, 1, 2], [2, 3, 4], [7, 8, 9]])
    upd = np.full((3, 3), -1.0)
    out, _ = PRIMITIVES["dynamic_update_slice"].batch([x, upd, starts], [False, True, True], 3)
    want = np.stack([x] * 3)
    for i, s in enumerate([0, 2, 7]):
        want[i, s:s + 3] = -1
    np.testing.assert_array_equal(np.asarray(out), want)


def test_scatter_duplicates_last_write_gets_the_cotangent():
    x, idx = np.zeros(5), np.array([[1], [1], [3], [9]])
    ct = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    gx, _, gu = _vjp("scatter", [x, idx, np.array([1.0, 2.0, 3.0, 4.0])], ct, axes=(0,))
    np.testing.assert_array_equal(gx, [10, 0, 30, 0, 50])
    np.testing.assert_array_equal(gu, [0, 20, 40, 0])  # first duplicate lost; out of range: 0


def test_scatter_max_ties_split_equally():
    x = np.array([1.0, 5.0, 0.0])
    idx, upd = np.array([[1], [1], [2]]), np.array([5.0, 5.0, -1.0])
    gx, _, gu = _vjp("scatter_max", [x, idx, upd], np.ones(3), axes=(0,))
    np.testing.assert_allclose(gx, [1, 1 / 3, 1])  # position 2 keeps the operand's 0.0
    np.testing.assert_allclose(gu, [1 / 3, 1 / 3, 0])
    gx, _, gu = _vjp("scatter_min", [np.array([2.0]), np.array([[0]]), np.array([2.0])],
                     np.ones(1), axes=(0,))
    np.testing.assert_allclose([gx[0], gu[0]], [0.5, 0.5])


def test_scatter_mul_with_zero_updates():
    x = np.array([2.0, 3.0, 4.0])
    idx = np.array([[0], [0], [1], [1], [1], [2]])
    upd = np.array([0.0, 5.0, 0.0, 0.0, 7.0, 6.0])
    gx, _, gu = _vjp("scatter_mul", [x, idx, upd], np.ones(3), axes=(0,))
    np.testing.assert_allclose(gx, [0.0, 0.0, 6.0])
    # d/du of x0*u0*u1 is x0*u1 and x0*u0; two zeros on position 1 leave every derivative 0.
    np.testing.assert_allclose(gu, [2 * 5.0, 0.0, 0.0, 0.0, 0.0, 4.0])


def test_gather_out_of_range_rows():
    x = np.arange(5.0)
    g, _ = _vjp("gather", [x, np.array([[7], [-2], [2]])], np.array([1.0, 2.0, 4.0]),
                axes=(0,), mode="clip", fill_value=None)
    np.testing.assert_array_equal(g, [2, 0, 4, 0, 1])  # clamped reads get the cotangent
    g, _ = _vjp("gather", [x, np.array([[7], [-2], [2]])], np.array([1.0, 2.0, 4.0]),
                axes=(0,), mode="fill", fill_value=3.0)
    np.testing.assert_array_equal(g, [0, 0, 4, 0, 0])  # filled rows are constants
    _, t = PRIMITIVES["gather"].jvp([x, np.array([[7], [1]])], [np.ones(5), None], axes=(0,),
                                    mode="fill", fill_value=3.0)
    np.testing.assert_array_equal(np.asarray(t), [0, 1])


def test_sort_tangents_follow_the_stable_permutation():
    x, t = np.array([2.0, 1.0, 2.0, 0.0]), np.array([10.0, 20.0, 30.0, 40.0])
    (out,), (tout,) = PRIMITIVES["sort"].jvp([x], [t], dimension=0, is_stable=True, num_keys=1)
    np.testing.assert_array_equal(np.asarray(out), [0, 1, 2, 2])
    np.testing.assert_array_equal(np.asarray(tout), [40, 20, 10, 30])
    (g,) = _vjp("sort", [x], (np.array([1.0, 2.0, 3.0, 4.0]),), dimension=0, is_stable=True,
                num_keys=1)
    np.testing.assert_array_equal(g, [3, 2, 4, 1])


def test_gather_batch_each_operand_alone_keeps_layout():
    # Indices with two batch dims exercise the transpose that brings the batch axis first.
    rng = np.random.default_rng(3)
    examples = [[rng.standard_normal((4, 3)), rng.integers(0, 4, (2, 2, 1))] for _ in range(B)]
    for batched in [(True, False), (False, True), (True, True)]:
        _check_batch(PRIMITIVES["gather"], examples, batched,
                     dict(axes=(0,), mode="clip", fill_value=None))


def test_batch_patterns_cover_every_subset_for_scatter():
    rng = np.random.default_rng(4)
    case = _scatter_cases("scatter")[0]
    examples = [case.make(rng) for _ in range(B)]
    for batched in itertools.product([False, True], repeat=3):
        if any(batched):
            _check_batch(PRIMITIVES["scatter"], examples, batched, case.params)
