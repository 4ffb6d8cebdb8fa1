"""Reductions, scans and order statistics of `jitcore.numpy` against NumPy (float64 references),
eagerly and under `jitcore.jit`, over dtypes, 0-d/size-0/3-D shapes, negative and tuple axes,
keepdims, where/initial, NaNs, and the error paths."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from ops.errors import AxisError, ShapeError

F32, F64, I32, I64, U8, BOOL = (np.dtype(t) for t in ("float32", "float64", "int32", "int64",
                                                       "uint8", "bool"))
RNG = np.random.default_rng(0)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 5, size=shape).astype(dtype)
    # Positive values keep float32 sums away from cancellation.
    return rng.uniform(0.5, 1.5, size=shape).astype(dtype)


def _ref_input(x):
    x = np.asarray(x)
    return x.astype(F64) if x.dtype.kind == "f" else x


def _tol(dtype):
    return {F32: (2e-5, 1e-5), np.dtype(np.float16): (3e-3, 3e-3)}.get(np.dtype(dtype),
                                                                       (1e-12, 1e-12))


def _compare(got, want, want_dtype, where):
    g = np.asarray(got)
    want = np.asarray(want)
    assert g.shape == want.shape, f"{where}: shape {g.shape}, expected {want.shape}"
    assert g.dtype == want_dtype, f"{where}: dtype {g.dtype}, expected {want_dtype}"
    if want.dtype.kind in "fc" or g.dtype.kind == "f":
        rtol, atol = _tol(g.dtype)
        np.testing.assert_allclose(g.astype(F64), want.astype(F64), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(g, want, err_msg=where)


def check(f, ref, *args, dtype=None, where=""):
    """f(*args) eagerly and jitted equals ref on float64 copies; dtype is NumPy's on the
    original inputs unless given (where JAX-x64 differs from NumPy)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy warns about empty and all-NaN slices
        want = ref(*[_ref_input(a) for a in args])
        want_dtype = np.dtype(dtype) if dtype is not None else \
            np.asarray(ref(*[np.asarray(a) for a in args])).dtype
    _compare(f(*args), want, want_dtype, f"{where} eager")
    _compare(jitcore.jit(f)(*args), want, want_dtype, f"{where} jit")


LAYOUTS = [((), None), ((5,), None), ((5,), 0), ((5,), -1), ((3, 4), 1), ((3, 4), (0, 1)),
           ((2, 3, 4), (0, 2)), ((2, 3, 4), -2), ((2, 3, 4), (-1, 0)), ((0,), None),
           ((2, 0, 3), 1), ((2, 0, 3), 2)]

INEXACT = {"mean", "var", "std", "nanmean", "nanvar", "nanstd"}
REDUCTIONS = ["sum", "prod", "max", "min", "amax", "amin", "mean", "var", "std", "any", "all",
              "ptp", "count_nonzero", "argmax", "argmin", "nansum", "nanmean", "nanmax",
              "nanmin", "nanprod", "nanvar", "nanstd"]


DTYPES = [F32, F64, I32, U8, BOOL]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_matches_numpy(name, dtype):
    if name == "ptp" and dtype == BOOL:
        # NumPy's ptp of bools is a boolean subtract: an error in both libraries.
        with pytest.raises(TypeError):
            jnp.ptp(jnp.asarray(np.array([True, False])))
        return
    jf, nf = getattr(jnp, name), getattr(np, name)
    for i, (shape, axis) in enumerate(LAYOUTS):
        if name.startswith("arg") and isinstance(axis, tuple):
            continue
        x = _data(shape, dtype)
        # Each layout once, with keepdims alternating along the layouts and swapped from one
        # dtype to the next: both settings meet every layout and every dtype.
        for keepdims in (bool((i + DTYPES.index(dtype)) % 2),):
            where = f"{name}({x.dtype}{shape}, axis={axis}, keepdims={keepdims})"
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    nf(x, axis=axis, keepdims=keepdims)
            except ValueError:
                # Empty max/min/argmax: NumPy refuses; so do we, eagerly and under jit.
                with pytest.raises(ValueError):
                    jf(x, axis=axis, keepdims=keepdims)
                with pytest.raises(ValueError):
                    jitcore.jit(lambda v: jf(v, axis=axis, keepdims=keepdims))(x)
                continue
            # JAX 0.10 (x64) computes means and variances of integers narrower than 64 bits
            # and of bools in float32; NumPy in float64.
            want = np.float32 if name in INEXACT and x.dtype.kind in "iub" else None
            check(lambda v: jf(v, axis=axis, keepdims=keepdims),
                  lambda v: nf(v, axis=axis, keepdims=keepdims), x, dtype=want, where=where)


def test_sum_and_prod_widen_small_integers_like_jax():
    for dt, want in [(BOOL, I64), (np.int8, I64), (I32, I64), (U8, np.uint64), (I64, I64),
                     (np.uint32, np.uint64), (np.float16, np.float16), (F32, F32)]:
        x = _data((3, 4), dt)
        check(lambda v: jnp.sum(v, axis=0), lambda v: np.sum(v, axis=0), x, dtype=want,
              where=f"sum {np.dtype(dt)}")
        check(lambda v: jnp.prod(v, axis=1), lambda v: np.prod(v, axis=1), x, dtype=want,
              where=f"prod {np.dtype(dt)}")


def test_dtype_arguments():
    x = _data((3, 4), I32)
    check(lambda v: jnp.sum(v, dtype=F32), lambda v: np.sum(v, dtype=F32), x, where="sum f32")
    check(lambda v: jnp.mean(v, axis=0, dtype=F32), lambda v: np.mean(v, axis=0, dtype=F32), x,
          where="mean f32")
    check(lambda v: jnp.var(v, dtype=F32), lambda v: np.var(v, dtype=F32), x, dtype=F32)
    y = _data((4,), F32)
    check(lambda v: jnp.sum(v, dtype=F64), lambda v: np.sum(v, dtype=F64), y, where="sum f64")
    check(lambda v: jnp.mean(v, dtype=np.float16), lambda v: np.mean(v, dtype=np.float16),
          _data((6,), np.float16), dtype=np.float16)


def test_python_scalars_stay_weak():
    x = _data((3,), F32)
    assert (jnp.sum(x) * 2.0).dtype == F32
    assert jitcore.jit(lambda v: jnp.mean(v, axis=0) + 1.5)(x).dtype == F32
    assert jnp.sum(2.0).dtype == F64


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_std_ddof_and_correction(ddof):
    x = _data((4, 5), F64)
    for name in ("var", "std", "nanvar", "nanstd"):
        jf, nf = getattr(jnp, name), getattr(np, name)
        check(lambda v: jf(v, axis=1, ddof=ddof), lambda v: nf(v, axis=1, ddof=ddof), x,
              where=f"{name} ddof={ddof}")
    check(lambda v: jnp.var(v, axis=0, correction=ddof),
          lambda v: np.var(v, axis=0, correction=ddof), x, where="var correction")


def test_where_and_initial():
    x = _data((3, 4), F64)
    mask = _data((3, 4), BOOL, seed=3)
    row = _data((4,), BOOL, seed=4)
    for name in ("sum", "prod", "mean", "var", "any", "all", "nansum"):
        jf, nf = getattr(jnp, name), getattr(np, name)
        for m in (mask, row):
            check(lambda v, w: jf(v, axis=1, where=w), lambda v, w: nf(v, axis=1, where=w),
                  x, m, where=f"{name} where")
    for name in ("max", "min"):
        jf, nf = getattr(jnp, name), getattr(np, name)
        check(lambda v, w: jf(v, axis=0, where=w, initial=0.75),
              lambda v, w: nf(v, axis=0, where=w, initial=0.75), x, mask, where=name)
        check(lambda v: jf(v, initial=1.0), lambda v: nf(v, initial=1.0), x, where=name)
    check(lambda v: jnp.sum(v, axis=0, initial=10), lambda v: np.sum(v, axis=0, initial=10),
          _data((3, 4), I32), where="sum initial")
    empty = np.zeros((0, 3))
    check(lambda v: jnp.max(v, axis=0, initial=-1.0), lambda v: np.max(v, axis=0, initial=-1.0),
          empty, where="empty max with initial")
    check(lambda v: jnp.sum(v, axis=0), lambda v: np.sum(v, axis=0), empty, where="empty sum")
    check(lambda v: jnp.prod(v), lambda v: np.prod(v), empty, where="empty prod")


def test_nan_semantics():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, -1.0, 0.0], [np.nan] * 4])
    for name in ("max", "min", "sum", "mean", "argmax", "argmin", "nanmax", "nanmin",
                 "nansum", "nanmean", "nanprod", "nanvar"):
        jf, nf = getattr(jnp, name), getattr(np, name)
        check(lambda v: jf(v, axis=1), lambda v: nf(v, axis=1), x, where=name)
    # An all-NaN slice: JAX's nanargmax/nanargmin give -1 (NumPy raises).
    for name, fill in (("nanargmax", -np.inf), ("nanargmin", np.inf)):
        base = getattr(np, name[3:])

        def ref(v, base=base, fill=fill):
            return np.where(np.isnan(v).all(axis=1), -1, base(np.where(np.isnan(v), fill, v),
                                                              axis=1))
        check(lambda v: getattr(jnp, name)(v, axis=1), ref, x, where=name)
    check(lambda v: jnp.argmax(v), lambda v: np.argmax(v), x, where="argmax flat")


def test_argmax_keepdims_and_flattened():
    x = _data((2, 3, 4), F32, seed=5)
    for axis in (None, 0, -1, 1):
        for name in ("argmax", "argmin"):
            jf, nf = getattr(jnp, name), getattr(np, name)
            check(lambda v: jf(v, axis=axis, keepdims=True),
                  lambda v: nf(v, axis=axis, keepdims=True), x, where=f"{name} {axis}")


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum", "nancumprod"])
def test_cumulative(name):
    jf, nf = getattr(jnp, name), getattr(np, name)
    for dt in (F32, F64, I32, U8, BOOL):
        for shape, axis in [((5,), None), ((5,), 0), ((3, 4), -1), ((2, 3, 4), 1),
                            ((2, 3, 4), None), ((), None), ((0, 3), 0)]:
            x = _data(shape, dt)
            # JAX keeps integer widths in scans (NumPy widens to int64); bools become int64.
            want = I64 if dt == BOOL else dt
            check(lambda v: jf(v, axis=axis), lambda v: nf(v, axis=axis), x, dtype=want,
                  where=f"{name} {dt}{shape} axis={axis}")
    x = _data((3, 4), I32)
    check(lambda v: jf(v, axis=1, dtype=F32), lambda v: nf(v, axis=1, dtype=F32), x,
          where=f"{name} dtype")


def test_cumulative_sum_include_initial():
    x = _data((3, 4), F64)
    check(lambda v: jnp.cumulative_sum(v, axis=1, include_initial=True),
          lambda v: np.cumulative_sum(v, axis=1, include_initial=True), x)
    check(lambda v: jnp.cumulative_prod(v, axis=0),
          lambda v: np.cumulative_prod(v, axis=0), x)


def test_average():
    x = _data((3, 4), F64)
    w = _data((3, 4), F64, seed=2)
    w1 = _data((4,), F64, seed=3)
    check(lambda v: jnp.average(v), lambda v: np.average(v), x)
    check(lambda v, u: jnp.average(v, weights=u), lambda v, u: np.average(v, weights=u), x, w)
    check(lambda v, u: jnp.average(v, axis=1, weights=u),
          lambda v, u: np.average(v, axis=1, weights=u), x, w1)
    check(lambda v, u: jnp.average(v, axis=0, weights=u, keepdims=True),
          lambda v, u: np.average(v, axis=0, weights=u, keepdims=True), x, w)
    for got in (jnp.average(x, axis=1, weights=w1, returned=True),
                jitcore.jit(lambda v, u: jnp.average(v, axis=1, weights=u, returned=True))(x, w1)):
        want = np.average(x, axis=1, weights=w1, returned=True)
        for g, e in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-12)
    avg, scl = jnp.average(_data((3, 4), I32), axis=0, returned=True)
    want_avg, want_scl = np.average(_data((3, 4), I32), axis=0, returned=True)
    np.testing.assert_allclose(np.asarray(avg), want_avg)
    np.testing.assert_allclose(np.asarray(scl), want_scl)
    with pytest.raises(ShapeError) as e:
        jnp.average(x, weights=w1)
    assert "average" in str(e.value) and "test_reductions.py" in str(e.value)


QUANTILE_LAYOUTS = [((7,), None), ((4, 5), 0), ((4, 5), -1), ((2, 3, 4), (0, 2)),
                    ((2, 3, 4), None), ((3, 1), 1)]


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_and_percentile(method):
    for shape, axis in QUANTILE_LAYOUTS:
        x = RNG.standard_normal(shape)
        for q in (0.5, [0.0, 0.3, 1.0]):
            for keepdims in (False, True):
                where = f"quantile {shape} axis={axis} q={q} {method} keepdims={keepdims}"
                n = x.size if axis is None else int(np.prod(
                    [shape[a] for a in np.atleast_1d(axis)]))
                if method == "nearest" and np.any(np.mod(np.multiply(q, n - 1), 1) == 0.5):
                    continue  # NumPy rounds exact halves to even; JAX takes the lower one
                check(lambda v: jnp.quantile(v, q, axis=axis, method=method,
                                             keepdims=keepdims),
                      lambda v: np.quantile(v, q, axis=axis, method=method, keepdims=keepdims),
                      x, where=where)
        check(lambda v: jnp.percentile(v, [10, 90], axis=axis, method=method),
              lambda v: np.percentile(v, [10, 90], axis=axis, method=method), x,
              where="percentile")


def test_median_nanmedian_and_traced_q():
    x = RNG.standard_normal((4, 6)).astype(F32)
    for axis in (None, 0, 1, (0, 1)):
        check(lambda v: jnp.median(v, axis=axis), lambda v: np.median(v, axis=axis), x,
              dtype=F32)
    xi = _data((5, 4), I32)
    check(lambda v: jnp.median(v, axis=0), lambda v: np.median(v, axis=0), xi, dtype=F32)
    check(lambda v: jnp.median(v, axis=0), lambda v: np.median(v, axis=0),
          xi.astype(np.int64))
    y = x.astype(F64)
    y[0, 1] = y[2, 3] = np.nan
    y[3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy warns about the all-NaN row
        check(lambda v: jnp.median(v, axis=1), lambda v: np.median(v, axis=1), y)
        check(lambda v: jnp.nanmedian(v, axis=1), lambda v: np.nanmedian(v, axis=1), y)
        check(lambda v: jnp.nanquantile(v, [0.2, 0.7], axis=1),
              lambda v: np.nanquantile(v, [0.2, 0.7], axis=1), y)
        check(lambda v: jnp.nanpercentile(v, 40.0, axis=0, keepdims=True),
              lambda v: np.nanpercentile(v, 40.0, axis=0, keepdims=True), y)
    q = np.array([0.1, 0.5, 0.95])
    check(lambda v, qq: jnp.quantile(v, qq, axis=1), lambda v, qq: np.quantile(v, qq, axis=1),
          x.astype(F64), q)
    with pytest.raises(ShapeError) as e:
        jnp.quantile(x, 1.5)
    assert "quantile" in str(e.value) and "test_reductions.py" in str(e.value)


def test_methods_on_arrays_and_tracers():
    x = _data((3, 4), F64)
    a = jnp.asarray(x)
    np.testing.assert_allclose(np.asarray(a.sum(axis=0)), x.sum(axis=0))
    np.testing.assert_allclose(np.asarray(a.mean()), x.mean())
    np.testing.assert_allclose(np.asarray(a.var(axis=1, ddof=1)), x.var(axis=1, ddof=1))
    np.testing.assert_array_equal(np.asarray(a.argmax(axis=1)), x.argmax(axis=1))
    got = jitcore.jit(lambda v: (v.std(axis=0), v.cumsum(axis=1), v.max(keepdims=True)))(x)
    for g, e in zip(got, (x.std(axis=0), x.cumsum(axis=1), x.max(keepdims=True))):
        np.testing.assert_allclose(np.asarray(g), e)


def test_reductions_lower_to_primitives():
    x = _data((3, 4), F32)
    text = jitcore.make_hlo(lambda v: jnp.var(v, axis=1))(x).as_text()
    assert "reduce_sum" in text and "f32[3]" in text


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sum", "mean", "max", "var", "argmax", "cumsum", "any",
                                  "median"])
def test_bad_axis_is_an_axis_error(name):
    x = _data((2, 3), F64)
    f = getattr(jnp, name)
    for run in (lambda: f(x, axis=2), lambda: jitcore.jit(lambda v: f(v, axis=-3))(x)):
        with pytest.raises(AxisError) as e:
            run()
        msg = str(e.value)
        assert name in msg and "(2, 3)" in msg and "test_reductions.py" in msg, msg


def test_repeated_axis_is_an_error():
    with pytest.raises(AxisError) as e:
        jnp.sum(_data((2, 3), F64), axis=(0, -2))
    assert "sum" in str(e.value) and "test_reductions.py" in str(e.value)


@pytest.mark.parametrize("name", ["max", "min", "amax", "ptp"])
def test_empty_reduction_without_identity(name):
    x = np.zeros((0, 3), F32)
    f = getattr(jnp, name)
    for run in (lambda: f(x), lambda: jitcore.jit(lambda v: f(v, axis=0))(x)):
        with pytest.raises(ValueError) as e:
            run()
        msg = str(e.value)
        assert "zero-size array to reduction operation" in msg and "which has no identity" in msg
        assert name in msg and "f32[0,3]" in msg and "test_reductions.py" in msg, msg


def test_argmax_of_empty_and_where_without_initial():
    with pytest.raises(ShapeError) as e:
        jnp.argmax(np.zeros((0,)))
    assert "argmax" in str(e.value) and "empty" in str(e.value)
    assert "test_reductions.py" in str(e.value)
    with pytest.raises(ValueError) as e:
        jnp.max(np.ones(3), where=np.array([True, False, True]))
    assert "initial" in str(e.value)


def test_out_argument_is_refused():
    x = _data((3,), F64)
    for f in (lambda: jnp.sum(x, out=np.zeros(())), lambda: jnp.cumsum(x, out=np.zeros(3)),
              lambda: jnp.median(x, out=np.zeros(()))):
        with pytest.raises(NotImplementedError) as e:
            f()
        assert "out" in str(e.value) and "immutable" in str(e.value)
