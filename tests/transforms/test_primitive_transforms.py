"""Every primitive through jitcore's transforms, table-driven (cases in `transform_cases.py`).

- Derivatives: `check_grads` (forward and reverse mode, up to second order, against finite
  differences) of `bind(prim, ...)` in float64 at inputs away from non-differentiable points,
  and a first-order check in float32. Float operands are differentiated; integer and boolean
  operands (indices, start indices, predicates) are held fixed inside the function.
- Batching: `jitcore.vmap` of `bind(prim, ...)` against a Python loop of eager calls, with the
  batch on every axis of every operand, each operand batched or not, and out_axes 0 and -1.
- The registry: a primitive without cases here fails, so a new one gets transform tests.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import jitcore
from ops import core
from ops.core import PRIMITIVES
from tests.helpers import check_grads, rng_for
from tests.transforms.transform_cases import (CASES, NAMES, ZERO_DERIVATIVE, differentiable,
                                              has_float_operand)

BATCH = 5  # unlike most case dims (2, 3, 4), so a batch axis mistaken for another shows


def _rng(case, salt=""):
    return rng_for(case.id + salt)


def _fn(case):
    prim = PRIMITIVES[case.prim]
    return lambda *xs: core.bind(prim, *xs, **case.params)


def _diff_fn(case, operands, float_dtype=None):
    """(f of the float operands only, those operands): the others are fixed constants."""
    xs = [np.asarray(x) for x in operands]
    pos = [i for i, x in enumerate(xs) if x.dtype.kind == "f"]
    if float_dtype is not None:
        for i in pos:
            xs[i] = xs[i].astype(float_dtype)
    bound = _fn(case)

    def f(*floats):
        full = list(xs)
        for i, v in zip(pos, floats):
            full[i] = v
        return bound(*full)
    return f, tuple(xs[i] for i in pos)


def _grad_case(case):
    return (differentiable(case.prim) and case.prim not in ZERO_DERIVATIVE
            and has_float_operand(case.make(_rng(case))))


GRAD_CASES = [c for c in CASES if _grad_case(c)]


def _ids(cases):
    return [c.id for c in cases]


# --- registry ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_primitive_has_transform_cases(name):
    covered = {c.prim for c in CASES}
    assert name in covered, (
        f"primitive {name!r} has no case in tests/transforms/transform_cases.py: add one so "
        "its batching rule (and JVP/VJP if differentiable) is tested")
    if differentiable(name) and name not in ZERO_DERIVATIVE:
        assert name in {c.prim for c in GRAD_CASES}, (
            f"differentiable primitive {name!r} has no case with float operands in "
            "tests/transforms/transform_cases.py, so its JVP/VJP rules are not checked")


# --- derivatives ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_grads_float64(case):
    f, args = _diff_fn(case, case.make(_rng(case)))
    check_grads(f, args, order=2, modes=("fwd", "rev"), **case.grad_opts)


@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_grads_float32(case):
    f, args = _diff_fn(case, case.make(_rng(case)), np.float32)
    check_grads(f, args, order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stop_gradient_derivatives_are_zero(dtype):
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(dtype)
    sg = PRIMITIVES["stop_gradient"]
    out, t = jitcore.jvp(lambda a: core.bind(sg, a), (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(np.asarray(out), x)
    np.testing.assert_array_equal(np.asarray(t), np.zeros_like(x))
    assert np.asarray(t).dtype == dtype
    out, vjp_fn = jitcore.vjp(lambda a: core.bind(sg, a), x)
    (ct,) = vjp_fn(np.ones_like(x))
    np.testing.assert_array_equal(np.asarray(ct), np.zeros_like(x))
    # d/dx sum(stop_gradient(x) * x) = x: only the unstopped factor is differentiated.
    g = jitcore.grad(lambda a: (core.bind(sg, a) * a).sum())(x)
    np.testing.assert_allclose(np.asarray(g), x, rtol=1e-6)
    # That gradient is stop_gradient(x) itself, so differentiating it again gives zero (as JAX).
    h = jitcore.grad(lambda a: jitcore.grad(lambda b: (core.bind(sg, b) * b).sum())(a).sum())(x)
    np.testing.assert_array_equal(np.asarray(h), np.zeros_like(x))


# --- batching ------------------------------------------------------------------------------

def _assert_same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    if want.dtype.kind == "f":
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _stacked(outs, axis):
    """Per-example results (arrays or tuples of arrays) stacked along `axis`."""
    if isinstance(outs[0], tuple):
        return tuple(np.stack([np.asarray(o[k]) for o in outs], axis=axis)
                     for k in range(len(outs[0])))
    return np.stack([np.asarray(o) for o in outs], axis=axis)


def _compare(got, want, what):
    if isinstance(want, tuple):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), \
            f"{what}: got {type(got).__name__} of {len(got)}, want {len(want)} results"
        for k, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{what} result {k}")
    else:
        _assert_same(got, want, what)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_vmap_matches_loop(case):
    rng = _rng(case, "vmap")
    examples = [[np.asarray(x) for x in case.make(rng)] for _ in range(BATCH)]
    fn = _fn(case)
    n = len(examples[0])
    if n == 0:
        # No operands (iota): map over an unused argument; the result is broadcast.
        dummy = np.arange(BATCH, dtype=np.float64)
        want = np.asarray(fn())
        for out_axis in (0, -1):
            got = jitcore.vmap(lambda _: fn(), out_axes=out_axis)(dummy)
            _compare(got, np.stack([want] * BATCH, axis=out_axis), f"out_axes={out_axis}")
        return
    loops = {}  # which operands are batched -> the per-example results of the loop
    failures = []
    options = [[None] + list(range(x.ndim + 1)) for x in examples[0]]
    for axes in itertools.product(*options):
        mask = tuple(a is not None for a in axes)
        if not any(mask):
            continue
        if mask not in loops:
            loops[mask] = [fn(*[ex[i] if m else examples[0][i] for i, m in enumerate(mask)])
                           for ex in examples]
        args = [examples[0][i] if a is None else np.stack([ex[i] for ex in examples], axis=a)
                for i, a in enumerate(axes)]
        for out_axis in (0, -1):
            what = f"in_axes={axes} out_axes={out_axis}"
            try:
                got = jitcore.vmap(fn, in_axes=axes, out_axes=out_axis)(*args)
                _compare(got, _stacked(loops[mask], out_axis), what)
            except Exception as e:  # collected: every failing layout is reported at once
                failures.append(f"{what}: {type(e).__name__}: {str(e)[:300]}")
    assert not failures, f"{len(failures)} vmap layouts of {case.id} failed:\n" + \
        "\n".join(failures[:12])


# --- the rules inside other transforms -----------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_vmap_under_jit(case):
    """The batching rule building IR (its params must print and parse: see conftest)."""
    rng = _rng(case, "jit")
    examples = [[np.asarray(x) for x in case.make(rng)] for _ in range(BATCH)]
    if not examples[0]:
        return  # iota: nothing to map over (test_vmap_matches_loop covers it)
    fn = _fn(case)
    args = [np.stack([ex[i] for ex in examples]) for i in range(len(examples[0]))]
    got = jitcore.jit(jitcore.vmap(fn))(*args)
    _compare(got, _stacked([fn(*ex) for ex in examples], 0), "jit(vmap)")


def _random(rng, xs):
    return tuple(rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype) for x in xs)


@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_jvp_vjp_under_jit_and_vmap(case):
    """JVP and VJP rules traced into IR (jit), and batched over tangents/cotangents (vmap, as
    jacfwd/jacrev do), against the eager rules one direction at a time."""
    rng = _rng(case, "compose")
    f, args = _diff_fn(case, case.make(rng))
    ts = [_random(rng, args) for _ in range(3)]
    out, vjp_fn = jitcore.vjp(f, *args)
    cts = [tuple(_random(rng, jitcore.tree_util.tree_leaves(out))) for _ in range(3)]
    if not isinstance(out, tuple):
        cts = [c[0] for c in cts]
    eager_jvp = [jitcore.jvp(f, args, t)[1] for t in ts]
    eager_vjp = [vjp_fn(c) for c in cts]

    jit_jvp = jitcore.jit(lambda a, t: jitcore.jvp(f, a, t)[1])(args, ts[0])
    _compare(_tuple(jit_jvp), _tuple(eager_jvp[0]), "jit(jvp)")
    jit_vjp = jitcore.jit(lambda a, c: jitcore.vjp(f, *a)[1](c))(args, cts[0])
    _compare(tuple(jit_vjp), tuple(eager_vjp[0]), "jit(vjp)")

    stack = lambda trees: jitcore.tree_util.tree_map(  # noqa: E731
        lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)
    batched_jvp = jitcore.vmap(lambda t: jitcore.jvp(f, args, t)[1])(stack(ts))
    _compare(_tuple(batched_jvp), _tuple(stack(eager_jvp)), "vmap(jvp) over tangents")
    batched_vjp = jitcore.vmap(vjp_fn)(stack(cts))
    _compare(tuple(batched_vjp), tuple(stack(eager_vjp)), "vmap(vjp) over cotangents")


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
