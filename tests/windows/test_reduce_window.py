"""Windowed reductions against loops over windows (tests/windows/reference.py): the primitives
over window/stride/padding/dilation combinations in 1 to 3 spatial dimensions, eagerly, on the
interpreter and on the CPU; `lax.reduce_window` with recognised and generic reducers; `lax.reduce`
with generic reducers; flax-style pooling (NHWC) and NCHW pooling.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitcore
from jitcore import lax
from jitcore import numpy as jnp
from jitcore import nn
from ops.errors import DtypeError, ShapeError
from tests.windows.reference import FN, identity, out_size, reduce_window_ref

BACKENDS = ("eager", "interp", "cpu")


def run(f, *args, how="eager"):
    if how == "eager":
        return f(*args)
    return jitcore.jit(f, backend=how)(*args)


def data(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def close(got, want, tol=1e-12):
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


# (shape, window, strides, padding, base dilation, window dilation)
CONFIGS = [
    ((10,), (3,), (1,), ((0, 0),), None, None),
    ((10,), (4,), (3,), ((2, 1),), None, None),
    ((9,), (3,), (2,), ((1, 2),), (2,), None),
    ((11,), (3,), (1,), ((0, 0),), None, (3,)),
    ((8,), (2,), (2,), ((3, 3),), (3,), (2,)),
    ((8,), (3,), (1,), ((-1, 2),), None, None),
    ((6, 7), (2, 2), (2, 2), ((0, 0), (0, 0)), None, None),
    ((6, 7), (3, 3), (1, 1), ((1, 1), (1, 1)), None, None),
    ((6, 7), (3, 2), (2, 3), ((2, 0), (1, 2)), (1, 2), (2, 1)),
    ((5, 6), (2, 3), (1, 1), ((0, 0), (0, 0)), (2, 2), (1, 1)),
    ((2, 5, 6, 3), (1, 2, 2, 1), (1, 2, 2, 1), ((0, 0), (0, 1), (0, 0), (0, 0)), None, None),
    ((4, 5, 6), (2, 2, 2), (1, 2, 1), ((1, 0), (0, 1), (1, 1)), None, (1, 1, 2)),
    ((3, 4), (5, 1), (1, 1), ((0, 0), (0, 0)), None, None),      # no window fits: size 0
]


def _params(wd, ws, pads, bd, wdil):
    nd = len(wd)
    return dict(window_dimensions=wd, window_strides=ws, padding=pads,
                base_dilation=bd or (1,) * nd, window_dilation=wdil or (1,) * nd)


@pytest.mark.parametrize("how", BACKENDS)
@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("config", CONFIGS, ids=[f"c{i}" for i in range(len(CONFIGS))])
def test_primitives_match_the_loop(config, kind, how):
    shape, wd, ws, pads, bd, wdil = config
    x = data(shape, seed=len(shape))
    fn = getattr(lax, f"reduce_window_{kind}")
    got = run(lambda v: fn(v, wd, ws, pads, bd, wdil), x, how=how)
    want = reduce_window_ref(x, identity(kind, x.dtype), FN[kind], wd, ws, pads, bd, wdil)
    close(got, want)


@pytest.mark.parametrize("how", ["eager", "cpu"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_])
def test_other_dtypes(dtype, how):
    rng = np.random.default_rng(1)
    if dtype is np.bool_:
        x = rng.random((5, 6)) < 0.3
    else:
        x = (rng.normal(size=(5, 6)) * 40).astype(dtype)
    wd, ws, pads = (2, 3), (1, 2), ((1, 0), (1, 1))
    for kind in (("max", "min") if dtype is np.bool_ else ("max", "min", "sum")):
        fn = getattr(lax, f"reduce_window_{kind}")
        got = np.asarray(run(lambda v: fn(v, wd, ws, pads), x, how=how))
        if dtype is np.bool_:
            want = reduce_window_ref(x, kind == "min", {"max": lambda a, b: a or b,
                                                       "min": lambda a, b: a and b}[kind],
                                     wd, ws, pads)
        else:
            init = identity(kind, dtype)
            want = reduce_window_ref(x.astype(np.float64), float(init), FN[kind], wd, ws,
                                     pads).astype(dtype)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   rtol=3e-6 if dtype is np.float32 else 0)


@pytest.mark.parametrize("how", ["eager", "cpu"])
def test_complex_sum(how):
    x = data((4, 5)) + 1j * data((4, 5), seed=3)
    got = run(lambda v: lax.reduce_window_sum(v, (2, 2), (1, 2), ((1, 0), (0, 1))), x, how=how)
    want = reduce_window_ref(x, 0j, FN["sum"], (2, 2), (1, 2), ((1, 0), (0, 1)))
    close(got, want)


# --- lax.reduce_window: padding strings, recognised and generic reducers ----------------------

@pytest.mark.parametrize("padding", ["VALID", "SAME", "SAME_LOWER"])
def test_padding_strings(padding):
    x = data((7, 8))
    wd, ws = (3, 2), (2, 3)
    pads = []
    for n, w, s in zip(x.shape, wd, ws):
        if padding == "VALID":
            pads.append((0, 0))
            continue
        total = max((math.ceil(n / s) - 1) * s + w - n, 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if padding == "SAME" else (big, small))
    got = lax.reduce_window(x, -np.inf, lax.max, wd, ws, padding)
    want = reduce_window_ref(x, -np.inf, max, wd, ws, pads)
    close(got, want)
    if padding != "VALID":
        assert got.shape == tuple(math.ceil(n / s) for n, s in zip(x.shape, ws))


def _ops_in(f, *args):
    text = jitcore.make_hlo(f)(*args)
    return str(text)


@pytest.mark.parametrize("reducer, init, prim", [
    (lax.add, 0.0, "reduce_window_sum"), (jnp.add, 0.0, "reduce_window_sum"),
    (lambda a, b: a + b, 0.0, "reduce_window_sum"), (lax.max, -np.inf, "reduce_window_max"),
    (jnp.minimum, np.inf, "reduce_window_min"),
])
def test_monoids_become_the_primitives(reducer, init, prim):
    x = data((6, 6))
    f = lambda v: lax.reduce_window(v, init, reducer, (2, 2), (2, 2), "VALID")  # noqa: E731
    assert f"{prim}(" in _ops_in(f, x)
    kind = prim.rsplit("_", 1)[1]
    close(f(x), reduce_window_ref(x, init, FN[kind], (2, 2), (2, 2), ((0, 0), (0, 0))))


@pytest.mark.parametrize("how", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS[:10], ids=[f"c{i}" for i in range(10)])
def test_generic_reducers(config, how):
    """Reducers that are no primitive: evaluated on the window slices, padding and dilation
    holes joining nothing, the initial value once per window (XLA's rule)."""
    shape, wd, ws, pads, bd, wdil = config
    x = 0.5 + np.abs(data(shape, seed=5))
    for reducer, init, ref_fn in [
            (lambda a, b: a * b + 0, 1.5, lambda a, b: a * b),               # product
            (lambda a, b: jnp.sqrt(a * a + b * b), 2.0, math.hypot),         # 2-norm
            (lax.add, 0.25, lambda a, b: a + b),                             # sum + init
            (lax.max, 1.0, max)]:                                             # relu-max
        got = run(lambda v: lax.reduce_window(v, init, reducer, wd, ws, pads, bd, wdil), x,
                  how=how)
        want = reduce_window_ref(x, init, ref_fn, wd, ws, pads, bd, wdil)
        close(got, want, 1e-11)


def test_generic_reducer_is_not_a_primitive_in_the_program():
    x = data((6, 6))
    text = _ops_in(lambda v: lax.reduce_window(v, 1.0, lambda a, b: a * b + 0, (2, 2), (1, 1),
                                               "VALID"), x)
    assert not any(f"reduce_window_{k}(" in text for k in ("sum", "max", "min"))
    assert "mul(" in text


def test_variadic_reduce_window_argmax_pooling():
    """Two operands (values, their positions) reduced together: the position of each
    window's maximum (first one on ties)."""
    x = np.array([[1., 5., 5., 0.], [2., 0., 7., 7.], [3., 3., 1., 9.]])
    pos = np.arange(x.size).reshape(x.shape)

    def pick(a, b):
        take_a = (a[0] > b[0]) | ((a[0] == b[0]) & (a[1] < b[1]))
        return jnp.where(take_a, a[0], b[0]), jnp.where(take_a, a[1], b[1])

    def f(v, i):
        return lax.reduce_window((v, i), (-np.inf, np.int64(-1)), pick, (2, 2), (1, 1),
                                 "VALID")

    for vals, idx in (f(x, pos), jitcore.jit(f)(x, pos)):
        want_v = reduce_window_ref(x, -np.inf, max, (2, 2), (1, 1), ((0, 0), (0, 0)))
        close(vals, want_v)
        flat = x.ravel()
        want_i = [[min(p for p in pos[r:r + 2, c:c + 2].ravel() if flat[p] == want_v[r, c])
                   for c in range(3)] for r in range(2)]
        np.testing.assert_array_equal(np.asarray(idx), want_i)


def test_reduce_window_errors():
    x = data((4, 4))
    with pytest.raises(DtypeError, match="reduce_window"):
        lax.reduce_window(x, np.float32(1), lambda a, b: a * b, (2, 2), (1, 1), "VALID")
    with pytest.raises(ShapeError, match="reduce_window"):
        lax.reduce_window(x, 1.0, lambda a, b: a * b, (2,), (1,), ((0, 0),))
    with pytest.raises(ValueError, match="padding"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")


# --- lax.reduce ------------------------------------------------------------------------------

@pytest.mark.parametrize("how", BACKENDS)
@pytest.mark.parametrize("shape, dims", [((5, 7), (1,)), ((4, 3, 6), (0, 2)), ((9,), (0,)),
                                         ((3, 0), (1,)), ((2, 3), ())])
def test_generic_reduce(shape, dims, how):
    x = 0.5 + np.abs(data(shape, seed=2))
    kept = [d for d in range(len(shape)) if d not in dims]
    moved = np.moveaxis(x, list(dims), list(range(len(shape) - len(dims), len(shape))))
    rows = moved.reshape(tuple(x.shape[d] for d in kept) + (-1,))
    for reducer, init, ref in [
            (lambda a, b: a * b + 0, 2.0, lambda r: 2.0 * np.prod(r, axis=-1)),
            (lambda a, b: jnp.sqrt(a * a + b * b), 0.0,
             lambda r: np.sqrt(np.sum(r * r, axis=-1)))]:
        got = run(lambda v: lax.reduce(v, init, reducer, dims), x, how=how)
        close(got, ref(rows), 1e-11)


@pytest.mark.parametrize("reducer, init, prim", [
    (lax.add, 0.0, "reduce_sum"), (lax.mul, 1.0, "reduce_prod"), (jnp.maximum, -np.inf,
                                                                  "reduce_max"),
    (lax.min, np.inf, "reduce_min")])
def test_reduce_monoids_become_reductions(reducer, init, prim):
    x = data((3, 4))
    text = _ops_in(lambda v: lax.reduce(v, init, reducer, (1,)), x)
    assert f"{prim}(" in text
    ref = {"reduce_sum": np.sum, "reduce_prod": np.prod, "reduce_max": np.max,
           "reduce_min": np.min}[prim]
    close(lax.reduce(x, init, reducer, (1,)), ref(x, axis=1))


def test_reduce_bool_monoids_and_variadic():
    b = np.array([[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(lax.reduce(b, True, lax.bitwise_and, (1,)), [False, True])
    np.testing.assert_array_equal(lax.reduce(b, False, lax.bitwise_or, (0,)), [True] * 3)
    x = np.array([[3., 1., 3.], [0., 5., 2.]])
    i = np.broadcast_to(np.arange(3), x.shape)

    def pick(a, c):
        take_a = (a[0] > c[0]) | ((a[0] == c[0]) & (a[1] < c[1]))
        return jnp.where(take_a, a[0], c[0]), jnp.where(take_a, a[1], c[1])

    v, k = lax.reduce((x, i), (-np.inf, np.int64(0)), pick, (1,))
    close(v, np.array([3., 5.]))
    np.testing.assert_array_equal(np.asarray(k), [0, 1])


# --- pooling: flax-style (NHWC) and NCHW ----------------------------------------------------

def _pool_ref(x, kind, window, strides, padding, channels_last=True):
    """The loop reference for pooling over the spatial axes of a (N, spatial..., C) or
    (N, C, spatial...) array."""
    k = len(window)
    strides = strides or (1,) * k
    spatial = list(range(1, 1 + k)) if channels_last else list(range(2, 2 + k))
    if isinstance(padding, str):
        pads = []
        for d, w, s in zip(spatial, window, strides):
            n = x.shape[d]
            total = max((math.ceil(n / s) - 1) * s + w - n, 0) if padding == "SAME" else 0
            pads.append((total // 2, total - total // 2))
    else:
        pads = list(padding)
    wd, ws, pp = [1] * x.ndim, [1] * x.ndim, [(0, 0)] * x.ndim
    for d, w, s, p in zip(spatial, window, strides, pads):
        wd[d], ws[d], pp[d] = w, s, p
    if kind == "avg":
        return reduce_window_ref(x, 0.0, FN["sum"], wd, ws, pp) / math.prod(window)
    return reduce_window_ref(x, identity(kind, x.dtype), FN[kind], wd, ws, pp)


@pytest.mark.parametrize("how", BACKENDS)
@pytest.mark.parametrize("shape, window, strides, padding", [
    ((2, 9, 3), (3,), (2,), "VALID"),
    ((2, 8, 7, 3), (2, 2), (2, 2), "VALID"),
    ((2, 7, 7, 4), (3, 3), (1, 1), "SAME"),
    ((1, 7, 6, 2), (3, 3), (2, 2), ((1, 1), (0, 2))),
    ((2, 4, 5, 6, 2), (2, 3, 2), (2, 1, 2), "SAME"),
])
def test_flax_pooling_nhwc(shape, window, strides, padding, how):
    x = data(shape, seed=7)
    for kind, f in (("max", nn.max_pool), ("min", nn.min_pool), ("avg", nn.avg_pool)):
        got = run(lambda v: f(v, window, strides, padding), x, how=how)
        close(got, _pool_ref(x, kind, window, strides, padding))


def test_avg_pool_excluding_padding_and_unbatched_input():
    x = data((5, 6, 2), seed=4)         # (H, W, C): no batch axis
    got = nn.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False)
    sums = _pool_ref(x[None], "avg", (3, 3), None, "SAME")[0] * 9
    counts = _pool_ref(np.ones((1, 5, 6, 1)), "avg", (3, 3), None, "SAME")[0] * 9
    close(got, sums / counts)
    close(nn.max_pool(x, (2, 2), (2, 2)), _pool_ref(x[None], "max", (2, 2), (2, 2),
                                                    "VALID")[0])


@pytest.mark.parametrize("how", BACKENDS)
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_nchw_pooling(padding, how):
    x = data((2, 3, 9, 8), seed=8)
    for kind, init, red in (("max", -np.inf, lax.max), ("avg", 0.0, lax.add)):
        def f(v):
            y = lax.reduce_window(v, init, red, (1, 1, 3, 3), (1, 1, 2, 2), padding)
            return y / 9 if kind == "avg" else y
        got = run(f, x, how=how)
        close(got, _pool_ref(x, kind, (3, 3), (2, 2), padding, channels_last=False))


def test_out_size_reference_agrees_with_the_shape_rule():
    """The reference's shape formula and the primitive's agree on a sweep of parameters."""
    from ops.windows import canonical_params, output_shape
    for n in range(0, 7):
        for w, s, lo, hi, b, d in [(1, 1, 0, 0, 1, 1), (3, 2, 1, 0, 1, 1), (2, 1, 0, 0, 3, 2),
                                   (4, 3, 2, 2, 2, 1), (2, 2, -1, 0, 1, 1)]:
            p = canonical_params("t", (n,), "", (w,), (s,), ((lo, hi),), (b,), (d,))
            assert output_shape((n,), p) == (out_size(n, w, s, lo, hi, b, d),)
