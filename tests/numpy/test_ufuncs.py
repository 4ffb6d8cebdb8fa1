"""Every function of `jitcore.numpy._ufuncs.__all__` against the NumPy function of that name.

Each runs eagerly and under `jitcore.jit` on float32/float64/int32/int64/uint8/bool inputs that
NumPy accepts, with edge values, broadcasting shapes and Python scalars on either side. Values
come from NumPy, computed in float64 where the result is a float. Result dtypes follow JAX with
64-bit enabled, which differs from NumPy in places: Python scalars are weak (`f32 + 2.0` stays
float32), functions that promote to inexact turn every integer and bool into float64 (NumPy
picks float16 for int8/uint8/bool), `rint` of integers is float64, and `float_power` keeps
float32.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore.numpy import _ufuncs
from ops.errors import DtypeError, ShapeError

F32, F64, I32, I64, U8, B = (np.dtype(t) for t in ("float32", "float64", "int32", "int64",
                                                    "uint8", "bool"))
DTYPES = {"f": (F32, F64), "i": (I32, I64), "u": (U8,), "b": (B,)}

# name -> (kind of result, dtype kinds accepted). Result kinds: "same" (the promoted input
# dtype), "inexact" (that dtype if float, else float64), "bool".
UNARY = {
    **{n: ("inexact", "fiub") for n in (
        "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin", "cos",
        "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
        "arctanh", "deg2rad", "rad2deg", "degrees", "radians", "sinc", "reciprocal")},
    # JAX's rint converts integers and bools to the default float, float64, whatever their width.
    "rint": ("float64", "fiub"),
    **{n: ("same", "fiub") for n in ("abs", "absolute", "floor", "ceil", "trunc", "fix")},
    # NumPy rejects bool for these (or, for square and round, leaves bool behind).
    **{n: ("same", "fiu") for n in ("sign", "negative", "positive", "square", "round",
                                    "around")},
    **{n: ("same", "iub") for n in ("bitwise_not", "invert", "bitwise_invert")},
    **{n: ("bool", "fiub") for n in ("isnan", "isinf", "isfinite", "isposinf", "isneginf",
                                     "signbit", "logical_not")},
}
BINARY = {
    **{n: ("same", "fiub") for n in ("add", "multiply", "maximum", "minimum", "fmax", "fmin")},
    # NumPy's bool results for these are int8 (or an error); JAX has no bool arithmetic here.
    **{n: ("same", "fiu") for n in ("subtract", "fmod", "mod", "remainder", "floor_divide",
                                    "power", "pow", "divmod")},
    **{n: ("same", "iub") for n in ("bitwise_and", "bitwise_or", "bitwise_xor")},
    **{n: ("same", "iu") for n in ("left_shift", "right_shift", "bitwise_left_shift",
                                   "bitwise_right_shift")},
    **{n: ("inexact", "fiub") for n in ("divide", "true_divide", "arctan2", "hypot",
                                        "logaddexp", "logaddexp2", "copysign", "float_power",
                                        "heaviside")},
    **{n: ("bool", "fiub") for n in ("equal", "not_equal", "less", "less_equal", "greater",
                                     "greater_equal", "logical_and", "logical_or",
                                     "logical_xor")},
}
SPECIAL = {"clip", "where", "isclose", "allclose", "array_equal"}
DIVISIONS = {"fmod", "mod", "remainder", "floor_divide", "divmod"}
POWERS = {"power", "pow"}

# Composite functions (several rounded steps in float32) get a few ulps more.
RTOL = {F32: 2e-6, F64: 1e-13}
LOOSE = {"log2", "log10", "logaddexp", "logaddexp2", "hypot", "sinc", "deg2rad", "rad2deg",
         "degrees", "radians", "float_power", "power", "pow", "arctan2", "reciprocal"}


def test_every_function_is_tested():
    assert set(_ufuncs.__all__) == set(UNARY) | set(BINARY) | SPECIAL
    for name in _ufuncs.__all__:
        assert getattr(jnp, name) is getattr(_ufuncs, name)
        assert hasattr(np, name), name


def values(dtype):
    if dtype.kind == "f":
        v = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.7, 2.0, -3.0, 1e-30, 1e30, np.inf, -np.inf,
             np.nan]
    elif dtype.kind == "i":
        info = np.iinfo(dtype)
        v = [0, 1, -1, 2, -3, 7, -8, 100, -100, info.min, info.max]
    elif dtype.kind == "u":
        v = [0, 1, 2, 3, 7, 100, 200, 255]
    else:
        v = [False, True]
    return np.array(v, dtype)


def pairs(name, dtype):
    a, b = (g.ravel() for g in np.meshgrid(values(dtype), values(dtype), indexing="ij"))
    if name in POWERS and dtype.kind in "iu":
        a, b = (g.ravel() for g in np.meshgrid(values(dtype), np.array([0, 1, 2, 3, 5, 31],
                                                                       dtype), indexing="ij"))
    if name in DIVISIONS and dtype.kind in "iu":
        keep = b != 0  # integer division by zero is implementation-defined in XLA
        a, b = a[keep], b[keep]
    return a, b


def weak_join(dtype, scalar):
    """JAX's lattice for an array of `dtype` meeting a Python scalar (weak int/float)."""
    if isinstance(scalar, float):
        return dtype if dtype.kind == "f" else F64
    return dtype if dtype.kind != "b" else I64


def result_dtype(kind, promoted):
    if kind == "bool":
        return B
    if kind == "float64" and promoted.kind != "f":
        return F64
    if kind == "inexact" and promoted.kind != "f":
        # JAX 0.10 (x64): 64-bit integers compute in float64; narrower ones and bools in
        # float32 (np.sqrt(int32) would be float64).
        return F64 if promoted.itemsize == 8 else np.dtype(np.float32)
    return promoted


def reference(name, args, promoted, out_dtype):
    """NumPy's `name` on `args` converted to the promoted dtype (float64 for float math)."""
    compute = F64 if "f" in (promoted.kind, out_dtype.kind) else promoted
    # Integers become the result's float first (int32 -> float32 rounds 2**31 - 1 up), as
    # the conversion before the math does; then float64 for the math.
    first = out_dtype if promoted.kind in "iub" and out_dtype.kind == "f" else compute
    with np.errstate(all="ignore"):
        r = getattr(np, name)(*(np.asarray(a).astype(first).astype(compute) for a in args))
        return tuple(np.asarray(x).astype(out_dtype) for x in r) if isinstance(r, tuple) \
            else np.asarray(r).astype(out_dtype)


def check(got, want, name, how):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            check(g, w, name, how)
        return
    where = f"{name} ({how})"
    assert isinstance(got, jitcore.Array), f"{where}: {type(got).__name__}"
    g = np.asarray(got)
    assert g.dtype == want.dtype, f"{where}: dtype {g.dtype}, expected {want.dtype}"
    assert g.shape == want.shape, f"{where}: shape {g.shape}, expected {want.shape}"
    if want.dtype.kind == "f":
        rtol = RTOL[want.dtype] * (10 if name in LOOSE else 1)
        atol = 1e-6 if (name == "sinc" and want.dtype == F32) else 1e-300
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(g, want, err_msg=where)


def run_all_ways(fn, *args, closed_over=True):
    """Eagerly, jitted with every argument traced, and (`closed_over`) jitted with Python
    scalars closed over."""
    out = {"eager": fn(*args), "jit": jitcore.jit(fn)(*args)}
    if closed_over and any(type(a) in (int, float, bool) for a in args):
        static = [a if type(a) in (int, float, bool) else None for a in args]

        def closed(*arrays):
            it = iter(arrays)
            return fn(*(s if s is not None else next(it) for s in static))
        out["jit-static-scalar"] = jitcore.jit(closed)(*(a for a in args
                                                         if type(a) not in (int, float, bool)))
    return out


def _cases(table):
    return [pytest.param(name, dt, id=f"{name}-{dt}") for name, (_, kinds) in table.items()
            for k in kinds for dt in DTYPES[k]]


@pytest.mark.parametrize("name,dtype", _cases(UNARY))
def test_unary_matches_numpy(name, dtype):
    kind, _ = UNARY[name]
    x = values(dtype)
    want = reference(name, (x,), dtype, result_dtype(kind, dtype))
    for how, got in run_all_ways(getattr(jnp, name), x).items():
        check(got, want, name, how)


@pytest.mark.parametrize("name,dtype", _cases(BINARY))
def test_binary_matches_numpy(name, dtype):
    kind, _ = BINARY[name]
    a, b = pairs(name, dtype)
    want = reference(name, (a, b), dtype, result_dtype(kind, dtype))
    for how, got in run_all_ways(getattr(jnp, name), a, b).items():
        check(got, want, name, how)


def _scalars(name, dtype):
    if name in POWERS and dtype.kind in "iu":
        return [2]
    if BINARY[name][1] in ("iub", "iu"):
        return [2]
    return [2, 2.5]


@pytest.mark.parametrize("name,dtype", _cases(BINARY))
def test_binary_with_python_scalars_on_either_side(name, dtype):
    kind, _ = BINARY[name]
    x = values(dtype)
    if name in DIVISIONS and dtype.kind in "iu":
        x = x[x != 0]
    for j, s in enumerate(_scalars(name, dtype)):
        promoted = weak_join(dtype, s)
        out = result_dtype(kind, promoted)
        for order in ((x, s), (s, x)):
            if name in POWERS and order[0] is s and dtype.kind == "i":
                continue  # 2 ** -3 is a negative integer power (NumPy raises)
            want = reference(name, order, promoted, out)
            # A scalar closed over as a constant: once per case (the int scalar when there
            # are two), which is what that path tests; both scalars eagerly and traced.
            ways = run_all_ways(getattr(jnp, name), *order, closed_over=j == 0)
            for how, got in ways.items():
                check(got, want, name, f"{how}, operands {type(order[0]).__name__} "
                                       f"{type(order[1]).__name__}")


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasting_shapes(name):
    kind, kinds = BINARY[name]
    dtype = F64 if "f" in kinds else I32
    rng = np.random.default_rng(0)
    for sa, sb in [((3, 1), (1, 4)), ((), (2, 3)), ((0,), (1,)), ((2, 1, 3), (4, 1)),
                   ((5,), ())]:
        a = rng.uniform(0.5, 3.0, size=sa).astype(dtype) if dtype == F64 \
            else rng.integers(1, 6, size=sa).astype(dtype)
        b = rng.uniform(0.5, 3.0, size=sb).astype(dtype) if dtype == F64 \
            else rng.integers(1, 6, size=sb).astype(dtype)
        want = reference(name, (a, b), dtype, result_dtype(kind, dtype))
        for how, got in run_all_ways(getattr(jnp, name), a, b).items():
            check(got, want, name, f"{how}, shapes {sa} {sb}")


@pytest.mark.parametrize("name", ["sqrt", "negative", "isnan", "floor"])
def test_unary_shapes(name):
    for shape in [(), (0,), (2, 0, 3), (2, 3)]:
        x = np.full(shape, 2.25)
        want = reference(name, (x,), F64, result_dtype(UNARY[name][0], F64))
        for how, got in run_all_ways(getattr(jnp, name), x).items():
            check(got, want, name, f"{how}, shape {shape}")


def test_python_scalars_alone_are_weak():
    for fn, args, dtype in [(jnp.add, (1, 2), I64), (jnp.multiply, (1.5, 2), F64),
                            (jnp.sqrt, (2,), F64), (jnp.maximum, (1.0, 3.0), F64)]:
        out = fn(*args)
        assert out.dtype == dtype and out.weak_type, (fn.__name__, out)
        # ... so they take the dtype of the array they meet next.
        meets = np.ones(2, F32 if dtype == F64 else I32)
        assert jnp.add(out, meets).dtype == meets.dtype


def test_floor_division_and_mod_follow_numpy_signs():
    a = np.array([7, -7, 7, -7, 6, -6], np.int64)
    b = np.array([2, 2, -2, -2, 3, -3], np.int64)
    for x, y in [(a, b), (a.astype(F64) + 0.5, b.astype(F64)), (a.astype(F32), b.astype(F32))]:
        for name in ("floor_divide", "remainder", "fmod"):
            want = getattr(np, name)(x, y)
            for how, got in run_all_ways(getattr(jnp, name), x, y).items():
                check(got, want, name, how)
    # The operators route to the same functions.
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    np.testing.assert_array_equal(np.asarray(ja // jb), a // b)
    np.testing.assert_array_equal(np.asarray(ja % jb), a % b)
    np.testing.assert_array_equal(np.asarray(-7 // jb), -7 // b)


def test_power_with_integer_exponents():
    x = np.array([-2.5, -1.0, 0.0, 0.5, 3.0], F32)
    for e in (0, 1, 2, 3, -1, -2, 7):
        with np.errstate(divide="ignore"):  # 0.0 ** -1 is inf, as in jitcore
            want = np.power(x.astype(F64), e).astype(F32)
        for how, got in run_all_ways(jnp.power, x, e).items():
            check(got, want, "power", f"{how}, exponent {e}")
    xi = np.array([-3, -1, 0, 2, 5], I32)
    for e in (0, 1, 2, 3, 11):
        for how, got in run_all_ways(jnp.power, xi, e).items():
            check(got, np.power(xi, e), "power", f"{how}, exponent {e}")
    np.testing.assert_array_equal(np.asarray(jnp.asarray(xi) ** 2), xi ** 2)


def test_clip_with_none_bounds():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 7.0, np.nan, np.inf])
    for lo, hi in [(None, 2.0), (-1.0, None), (-1.0, 2.0), (None, None)]:
        want = np.clip(x, lo, hi)
        for how, got in run_all_ways(lambda v, lo=lo, hi=hi: jnp.clip(v, lo, hi), x).items():
            check(got, want, "clip", f"{how}, bounds {lo} {hi}")
    xi = np.arange(-3, 4, dtype=I32)
    check(jnp.clip(xi, -1, 2), np.clip(xi, -1, 2), "clip", "int bounds stay int32")
    check(jnp.clip(xi, 0.5, None), np.clip(xi, 0.5, None), "clip", "float bound on int32")
    check(jnp.clip(xi.astype(F32), 0.5), np.clip(xi.astype(F32), 0.5, None), "clip",
          "float32 stays float32")
    lo = np.array([[-1], [0]], I32)
    check(jnp.clip(xi, lo, 2), np.clip(xi, lo, 2), "clip", "array bound broadcasts")
    check(jnp.clip(a=xi, a_min=-1, a_max=1), np.clip(xi, -1, 1), "clip", "a_min/a_max")
    check(jitcore.jit(lambda v, m: jnp.clip(v, max=m))(xi, np.int32(1)), np.clip(xi, None, 1),
          "clip", "jit, traced max")


def test_where():
    rng = np.random.default_rng(3)
    c = rng.random((3, 4)) < 0.5
    x32 = rng.normal(size=(3, 4)).astype(F32)
    yi = rng.integers(-5, 5, size=(4,)).astype(I32)
    cases = [((c, x32, 1.0), F32), ((c, 2.5, x32), F32), ((c, yi, 2.5), F64),
             ((c, x32, yi), F32), ((c[:, :1], yi, -yi), I32), ((yi, x32, 0.0), F32),
             ((True, yi, 3), I32)]
    for args, dtype in cases:
        want = np.where(*args).astype(dtype)
        for how, got in run_all_ways(jnp.where, *args).items():
            check(got, want, "where", how)
    (idx,) = jnp.where(np.array([0, 3, 0, 1]))
    np.testing.assert_array_equal(np.asarray(idx), np.where(np.array([0, 3, 0, 1]))[0])


def test_isclose_and_allclose_with_inf_and_nan():
    a = np.array([1.0, 1.0, np.inf, np.inf, -np.inf, np.nan, np.nan, 1e-9, 1.0, 0.0, 1e10])
    b = np.array([1.0 + 1e-6, 1.1, np.inf, -np.inf, 1.0, np.nan, 1.0, 0.0, np.inf, -0.0,
                  1.00001e10])
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.0, "rtol": 0.0}):
        for x, y in [(a, b), (b, a), (a.astype(F32), b.astype(F32))]:
            want = np.isclose(x, y, **kw)
            for how, got in run_all_ways(lambda u, v, kw=kw: jnp.isclose(u, v, **kw),
                                         x, y).items():
                check(got, want, "isclose", f"{how}, {kw}")
            assert bool(jnp.allclose(x, y, **kw)) == np.allclose(x, y, **kw)
            assert bool(jitcore.jit(lambda u, v, kw=kw: jnp.allclose(u, v, **kw))(x, y)) \
                == np.allclose(x, y, **kw)
    xi = np.array([1, 2, 3], I32)
    check(jnp.isclose(xi, 2), np.isclose(xi, 2), "isclose", "int and Python int")
    assert bool(jnp.allclose(xi, xi.astype(F64))) == np.allclose(xi, xi.astype(F64))


def test_array_equal():
    x = np.array([1.0, np.nan, 3.0])
    for a, b, kw in [(x, x, {}), (x, x, {"equal_nan": True}), (x[:2], x, {}),
                     (np.arange(3), np.arange(3.0), {}), (np.arange(3), np.arange(1, 4), {})]:
        assert bool(jnp.array_equal(a, b, **kw)) == np.array_equal(a, b, **kw)


def test_errors_name_the_op_and_the_shapes():
    with pytest.raises(ShapeError) as e:
        jnp.add(np.zeros((2, 3)), np.zeros((4,)))
    msg = str(e.value)
    assert "add" in msg and "(2, 3)" in msg and "(4,)" in msg and "test_ufuncs.py" in msg
    with pytest.raises(ShapeError) as e:
        jitcore.jit(jnp.maximum)(np.zeros((3,)), np.zeros((2, 2)))
    assert "maximum" in str(e.value) and "test_ufuncs.py" in str(e.value)
    for fn, args, needle in [(jnp.bitwise_and, (np.ones(2), np.ones(2)), "f64[2]"),
                             (jnp.left_shift, (np.ones(2, F32), 1), "f32[2]"),
                             (jnp.subtract, (np.ones(2, bool), np.ones(2, bool)), "pred[2]"),
                             (jnp.negative, (np.ones(2, bool),), "pred[2]"),
                             (jnp.bitwise_not, (np.ones(3),), "f64[3]")]:
        for how, f in (("eager", fn), ("jit", jitcore.jit(fn))):
            with pytest.raises(DtypeError) as e:
                f(*args)
            msg = str(e.value)
            assert fn.__name__ in msg and needle in msg and "test_ufuncs.py" in msg, (how, msg)
