"""`check_grads`: derivatives from jitcore's transforms against finite differences.

Forward mode: `jvp` along one seeded random direction against central differences of the
function itself. Reverse mode: the adjoint identity `<vjp(c), t> == <c, jvp(t)>` with the
numerical JVP on the right. Higher orders recurse on the derivative functions (the JVP along a
fixed direction, the VJP with a fixed cotangent), so second derivatives check forward-over-
forward, reverse-over-reverse and both mixtures.

Tolerances: central differences with eps 1e-4 and tolerance 1e-5 in float64; in float32 the
differences are taken with eps 1e-3 and checked to 2e-3.
"""
from __future__ import annotations

import numpy as np

import jitcore as jc
from jitcore import tree_util

EPS = {np.dtype("float64"): 1e-4, np.dtype("float32"): 1e-3, np.dtype("float16"): 1e-2}
TOL = {np.dtype("float64"): 1e-5, np.dtype("float32"): 2e-3, np.dtype("float16"): 5e-2}


def _is_float(x):
    return np.asarray(x).dtype.kind == "f"


def _random_like(rng, x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return np.zeros_like(x)
    return rng.standard_normal(x.shape).astype(x.dtype)


def _leaves(tree):
    return [np.asarray(v, dtype=np.float64) for v in tree_util.tree_leaves(tree)]


def _axpy(a, t, x):
    """x + a*t on float leaves; other leaves unchanged."""
    return tree_util.tree_map(
        lambda xi, ti: (np.asarray(xi) + a * np.asarray(ti)).astype(np.asarray(xi).dtype)
        if _is_float(xi) else xi, x, t)


def _dtype_of(args):
    floats = [np.asarray(a).dtype for a in tree_util.tree_leaves(args) if _is_float(a)]
    return min(floats, key=lambda d: d.itemsize) if floats else np.dtype("float64")


def numerical_jvp(f, args, tangents, eps):
    plus = _leaves(f(*_axpy(eps, tangents, args)))
    minus = _leaves(f(*_axpy(-eps, tangents, args)))
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _inner(xs, ys):
    return sum(float(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64)))
               for x, y in zip(xs, ys))


def _close(got, want, tol, what):
    for g, w in zip(got, want):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        scale = max(1.0, float(np.max(np.abs(w))) if w.size else 1.0)
        err = float(np.max(np.abs(g - w))) if w.size else 0.0
        assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol:.1g} * {scale:.3g}\n" \
                                   f"got  {g}\nwant {w}"


def check_jvp(f, args, rng, eps, tol):
    tangents = tuple(tree_util.tree_map(lambda a: _random_like(rng, a), args))
    out, tout = jc.jvp(f, args, tangents)
    _close(_leaves(out), _leaves(f(*args)), tol, "jvp primal output")
    _close(_leaves(tout), numerical_jvp(f, args, tangents, eps), tol, "jvp vs finite differences")
    return tangents


def check_vjp(f, args, rng, eps, tol):
    out, vjp_fn = jc.vjp(f, *args)
    _close(_leaves(out), _leaves(f(*args)), tol, "vjp primal output")
    tangents = tuple(tree_util.tree_map(lambda a: _random_like(rng, a), args))
    ct = tree_util.tree_map(lambda o: _random_like(rng, o), out)
    cts_in = vjp_fn(ct)
    lhs = _inner(_leaves(cts_in), _leaves(tangents))
    rhs = _inner(_leaves(ct), numerical_jvp(f, args, tangents, eps))
    _close([lhs], [rhs], tol, "vjp adjoint identity <vjp(c), t> == <c, jvp(t)>")
    return ct


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=None, tol=None, seed=0):
    """Check `f`'s derivatives up to `order` in each of `modes` at `args` (a tuple)."""
    args = tuple(args)
    dtype = _dtype_of(args)
    eps = EPS[dtype] if eps is None else eps
    tol = TOL[dtype] if tol is None else tol
    rng = np.random.default_rng(seed)
    if "fwd" in modes:
        t = check_jvp(f, args, rng, eps, tol)
        if order > 1:
            check_grads(lambda *a: jc.jvp(f, a, t)[1], args, order - 1, modes, eps, tol,
                        seed + 1)
    if "rev" in modes:
        ct = check_vjp(f, args, rng, eps, tol)
        if order > 1:
            check_grads(lambda *a: jc.vjp(f, *a)[1](ct), args, order - 1, modes, eps, tol,
                        seed + 2)
