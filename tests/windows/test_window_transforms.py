"""Derivatives and batching of the windowed reductions: JVP and VJP against finite
differences (second order too), max/min pooling gradients routed to the first extreme of
each window (XLA's select_and_scatter, checked on ties against a loop), vmap against a
Python loop, and the compiled gradient against the eager one.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import jitcore
from jitcore import lax
from jitcore import nn
from jitcore import numpy as jnp
from tests.helpers import check_grads
from tests.windows.reference import FN, identity, reduce_window_ref

CONFIGS = [
    ((7,), (3,), (2,), ((1, 1),), None, None),
    ((8,), (2,), (2,), ((3, 3),), (3,), (2,)),
    ((6, 7), (2, 2), (2, 2), ((0, 0), (0, 0)), None, None),
    ((6, 7), (3, 3), (1, 1), ((1, 1), (1, 1)), None, None),
    ((5, 6), (3, 2), (2, 3), ((2, 0), (1, 2)), (1, 2), (2, 1)),
    ((5, 6), (2, 3), (1, 1), ((0, 0), (-1, 0)), (2, 2), (1, 1)),
    ((3, 4, 5), (2, 2, 2), (1, 2, 1), ((1, 0), (0, 1), (1, 1)), None, (1, 1, 2)),
]
IDS = [f"c{i}" for i in range(len(CONFIGS))]


def distinct(shape, seed=0):
    """Values at least 0.2 apart: no ties, so max/min are differentiable everywhere."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.2 + rng.uniform(0, 0.02, n)).reshape(shape)


def _fn(kind, wd, ws, pads, bd, wdil):
    prim = getattr(lax, f"reduce_window_{kind}")
    return lambda v: prim(v, wd, ws, pads, bd, wdil)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_derivatives_match_finite_differences(config, kind):
    shape, *params = config
    f = _fn(kind, *params)
    # A window lying wholly in the padding gives the identity (+-inf): zero it, so finite
    # differences see finite values (its derivative is zero either way).
    g = lambda v: jnp.where(jnp.isfinite(f(v)), f(v), 0.0)   # noqa: E731
    check_grads(g, (distinct(shape, seed=len(shape)),), order=2)


def _first_extreme_grad(x, ct, kind, wd, ws, pads, bd=None, wdil=None):
    """The loop reference of the max/min VJP: each output's cotangent goes to the first
    window element (row-major window order) equal to the window's result."""
    nd = x.ndim
    bd, wdil = bd or (1,) * nd, wdil or (1,) * nd
    ans = reduce_window_ref(x, identity(kind, x.dtype), FN[kind], wd, ws, pads, bd, wdil)
    g = np.zeros_like(x)
    for o in itertools.product(*[range(m) for m in ans.shape]):
        for k in itertools.product(*[range(w) for w in wd]):
            pos = [o[a] * ws[a] + k[a] * wdil[a] - pads[a][0] for a in range(nd)]
            if any(p < 0 or p % bd[a] or p // bd[a] >= x.shape[a] for a, p in enumerate(pos)):
                continue
            idx = tuple(p // bd[a] for a, p in enumerate(pos))
            if x[idx] == ans[o]:
                g[idx] += ct[o]
                break
    return g


@pytest.mark.parametrize("how", ["eager", "cpu"])
@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_pooling_gradient_goes_to_the_first_extreme_on_ties(config, kind, how):
    shape, *params = config
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, shape).astype(np.float64)      # many ties
    f = _fn(kind, *params)
    ans = f(x)
    ct = rng.normal(size=np.shape(ans))
    vjp_of = lambda v, c: jitcore.vjp(f, v)[1](c)[0]      # noqa: E731
    got = vjp_of(x, ct) if how == "eager" else jitcore.jit(vjp_of)(x, ct)
    want = _first_extreme_grad(x, ct, kind, *params)
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-12)
    # Forward mode: the tangent of that same element.
    t = rng.normal(size=shape)
    tangent = jitcore.jvp(f, (x,), (t,))[1]
    want_t = np.zeros(np.shape(ans))
    for o in np.ndindex(np.shape(ans)):
        unit = np.zeros(np.shape(ans))
        unit[o] = 1.0
        want_t[o] = np.sum(_first_extreme_grad(x, unit, kind, *params) * t)
    np.testing.assert_allclose(np.asarray(tangent), want_t, rtol=0, atol=1e-12)


def test_max_pool_gradient_example():
    x = np.array([[1., 3., 3., 0.], [3., 2., 0., 0.]])
    g = jitcore.grad(lambda v: nn.max_pool(v[None, :, :, None], (2, 2), (2, 2)).sum())(x)
    # Window 1 ties 3 at (0,1), (0,2)... no: windows are columns 0-1 and 2-3; the first 3 of
    # window 1 is (0,1); window 2's maximum 3 is at (0,2).
    np.testing.assert_array_equal(np.asarray(g), [[0., 1., 1., 0.], [0., 0., 0., 0.]])


def test_window_wholly_in_padding_gets_nothing():
    x = np.array([1.0, 2.0])
    f = lambda v: lax.reduce_window_max(v, (2,), (1,), ((3, 0),))   # noqa: E731
    assert np.asarray(f(x))[0] == -np.inf
    g = jitcore.grad(lambda v: jitcore.numpy.where(jitcore.numpy.isfinite(f(v)), f(v),
                                                   0.0).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [1.0, 1.0])


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("in_axis", [0, 1])
@pytest.mark.parametrize("config", CONFIGS[2:5], ids=IDS[2:5])
def test_vmap_matches_a_loop(config, in_axis, kind):
    shape, *params = config
    f = _fn(kind, *params)
    xs = np.stack([distinct(shape, seed=s) for s in range(3)], axis=in_axis)
    got = jitcore.vmap(f, in_axes=in_axis)(xs)
    want = np.stack([np.asarray(f(np.take(xs, i, axis=in_axis))) for i in range(3)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13, atol=1e-13)
    # Batched gradients too (the batching rules of the derivative's ops).
    g = jitcore.vmap(jitcore.grad(lambda v: (f(v) ** 2).sum()), in_axes=in_axis)(xs)
    want_g = np.stack([np.asarray(jitcore.grad(lambda v: (f(v) ** 2).sum())(
        np.take(xs, i, axis=in_axis))) for i in range(3)])
    np.testing.assert_allclose(np.asarray(g), want_g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_compiled_gradients_match_eager(config):
    shape, *params = config
    x = distinct(shape, seed=1)
    for kind in ("sum", "max"):
        loss = lambda v: (_fn(kind, *params)(v) ** 2).sum()   # noqa: E731
        want = np.asarray(jitcore.grad(loss)(x))
        for backend in ("interp", "cpu"):
            got = jitcore.jit(jitcore.grad(loss), backend=backend)(x)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_generic_reducer_gradient():
    """A reducer that is no primitive differentiates through its slices: the product over
    windows."""
    x = 0.5 + np.abs(distinct((5, 6), seed=2))
    f = lambda v: lax.reduce_window(v, 1.0, lambda a, b: a * b + 0, (2, 3), (1, 2),  # noqa
                                    ((1, 0), (0, 1)))
    check_grads(f, (x,), order=1)
    check_grads(lambda v: lax.reduce(v, 1.0, lambda a, b: a * b + 0, (1,)), (x,), order=1)
