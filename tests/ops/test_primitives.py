"""Every primitive, bound eagerly and under `jitcore.jit`, against an independent reference.

The tables live in `primitive_cases_elementwise.py` and `primitive_cases_structural.py`;
`VALUE_CASES` and `ERROR_CASES` here are their union, and `tests/ops/test_registry.py` fails
for any registered primitive that has no entry in either.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore
from ops import core
from ops.core import PRIMITIVES
from ops.errors import JitcoreError
from tests.ops import primitive_cases_elementwise as ew
from tests.ops import primitive_cases_structural as st
from tests.ops import primitive_cases_linalg as la
from tests.ops import primitive_cases_fft as ff
from tests.ops import primitive_cases_conv as cv
from tests.ops import primitive_cases_windows as wn
from tests.ops import primitive_cases_callbacks as cb
from tests.ops import primitive_cases_collectives as co

# stop_gradient is the identity on values (its point is its derivative, tested with the
# transforms); the reference is a copy of the input.
_STOP = [ew.Case("optimization_barrier", (np.array([1.5, -0.0, np.nan]),), {}, np.array,
                 label="f64"),
         ew.Case("stop_gradient", (np.array([1.5, -0.0, np.nan]),), {}, np.array, label="f64"),
         ew.Case("stop_gradient", (np.array([3, -2], np.int32),), {}, np.array, label="s32")]
VALUE_CASES = ew.VALUE_CASES + st.VALUE_CASES + _STOP + ff.VALUE_CASES + la.VALUE_CASES
VALUE_CASES += cv.VALUE_CASES
VALUE_CASES += wn.VALUE_CASES
VALUE_CASES += cb.VALUE_CASES
ERROR_CASES = ew.ERROR_CASES + st.ERROR_CASES + ff.ERROR_CASES + la.ERROR_CASES
ERROR_CASES += cv.ERROR_CASES
ERROR_CASES += wn.ERROR_CASES
ERROR_CASES += cb.ERROR_CASES
ERROR_CASES += co.ERROR_CASES
F64 = np.dtype("float64")


def _ids(cases):
    seen = {}
    out = []
    for c in cases:
        base = f"{c.prim}-{getattr(c, 'label', '') or getattr(c, 'exc').__name__}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def bind_eager_and_jitted(prim_name, args, params):
    prim = PRIMITIVES[prim_name]
    eager = core.bind(prim, *args, **params)
    jitted = jitcore.jit(lambda *a: core.bind(prim, *a, **params))(*args)
    return {"eager": eager, "jit": jitted}


def assert_matches(got, want, case, how):
    where = f"{case.prim} ({case.label}, {how})"
    assert isinstance(got, jitcore.Array), f"{where}: got {type(got).__name__}"
    g = np.asarray(got)
    assert g.dtype == want.dtype, f"{where}: dtype {g.dtype}, expected {want.dtype}"
    assert g.shape == want.shape, f"{where}: shape {g.shape}, expected {want.shape}"
    if want.dtype.kind == "c":  # each part within the case's tolerance
        for part in (np.real, np.imag):
            np.testing.assert_allclose(part(g).astype(F64), part(want).astype(F64),
                                       rtol=case.rtol, atol=case.atol, err_msg=where)
        return
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(g, want, err_msg=where)
        return
    g64, w64 = g.astype(F64), want.astype(F64)
    np.testing.assert_allclose(g64, w64, rtol=case.rtol, atol=case.atol, equal_nan=True,
                               err_msg=where)
    if case.signed_zero:
        zeros = (w64 == 0) & (g64 == 0)
        np.testing.assert_array_equal(np.signbit(g64[zeros]), np.signbit(w64[zeros]),
                                      err_msg=f"{where}: sign of zero")


@pytest.mark.parametrize("case", VALUE_CASES, ids=_ids(VALUE_CASES))
def test_primitive_matches_reference(case):
    with np.errstate(all="ignore"):
        want = case.ref(*case.args)
    prim = PRIMITIVES[case.prim]
    for how, got in bind_eager_and_jitted(case.prim, case.args, case.params).items():
        if prim.multiple_results:
            assert isinstance(got, tuple) and len(got) == len(want)
            for g, w in zip(got, want):
                assert_matches(g, np.asarray(w), case, how)
        else:
            assert_matches(got, np.asarray(want), case, how)


@pytest.mark.parametrize("bad", ERROR_CASES, ids=_ids(ERROR_CASES))
def test_shape_rule_rejects_bad_operands(bad):
    prim = PRIMITIVES[bad.prim]
    assert issubclass(bad.exc, JitcoreError)
    with pytest.raises(bad.exc) as eager:
        core.bind(prim, *bad.args, **bad.params)
    with pytest.raises(bad.exc) as jitted:
        jitcore.jit(lambda *a: core.bind(prim, *a, **bad.params))(*bad.args)
    for e in (eager, jitted):
        msg = str(e.value)
        assert bad.prim in msg, msg
        assert bad.needle in msg, msg
        assert "test_primitives.py" in msg, msg


# --- semantics the docstrings promise, spelled out (the tables also cover saturating
# conversion, both rounding methods and over-wide shifts on every integer dtype) ----------

def _run(name, *args, **params):
    return [np.asarray(v) for v in bind_eager_and_jitted(name, args, params).values()]


def test_integer_div_truncates_and_rem_follows_the_dividend():
    a = np.array([7, -7, 7, -7, 0, 5], np.int32)
    b = np.array([2, 2, -2, -2, 3, 0], np.int32)
    for q in _run("div", a, b):
        np.testing.assert_array_equal(q, [int(x / y) if y else 0 for x, y in zip(a, b)])
    for r in _run("rem", a, b):
        np.testing.assert_array_equal(r, [math.copysign(abs(x) % abs(y), x) if y else 0
                                          for x, y in zip(a.tolist(), b.tolist())])


def test_erf_and_logistic_tails():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    for out in _run("erf", x):
        np.testing.assert_allclose(out, [math.erf(v) for v in x.tolist()], rtol=1e-15)
    for out in _run("logistic", x):
        assert not np.isnan(out).any()
        np.testing.assert_allclose(out, [1 / (1 + math.exp(-v)) if v > -700 else 0.0
                                         for v in x.tolist()], rtol=1e-14)


def test_weak_types_follow_the_operands():
    both = bind_eager_and_jitted("add", (1.5, 2.0), {})
    assert all(v.weak_type and v.dtype == F64 for v in both.values())
    mixed = bind_eager_and_jitted("add", (np.float64(1.5), 2.0), {})
    assert not any(v.weak_type for v in mixed.values())
    cmp_ = bind_eager_and_jitted("lt", (1.5, 2.0), {})
    assert not any(v.weak_type for v in cmp_.values())
    conv = bind_eager_and_jitted("convert_element_type", (np.float32(1.5),),
                                 {"new_dtype": np.dtype("float64"), "weak_type": True})
    assert all(v.weak_type and v.dtype == F64 for v in conv.values())
    red = bind_eager_and_jitted("reduce_sum", (np.ones(3),), {"axes": (0,)})
    assert not any(v.weak_type for v in red.values())


def test_results_do_not_alias_caller_arrays():
    x = np.arange(6.0).reshape(2, 3)
    out = np.asarray(core.bind(PRIMITIVES["reshape"], x, new_sizes=(3, 2)))
    x[0, 0] = 100.0
    assert out[0, 0] == 0.0
