"""`check_grads`: a function's derivatives against finite differences, as JAX's
`jax.test_util.check_grads` does it (forward mode: the JVP against central differences along a
random tangent; reverse mode: the VJP through the identity <vjp(c), t> == <c, jvp(t)>; higher
orders by checking the derivative functions in turn)."""
from __future__ import annotations

import functools

import ml_dtypes
import numpy as np

from . import tree_util
from .ad import jvp, vjp

EPS = 1e-4
# Absolute and relative tolerance by dtype when none is given (JAX's).
default_gradient_tolerance = {
    np.dtype(ml_dtypes.bfloat16): 1e-1,
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5,
    np.dtype(np.complex64): 1e-3,
    np.dtype(np.complex128): 1e-5,
}


def _tol(tol, dtype):
    if tol is None:
        return default_gradient_tolerance.get(np.dtype(dtype), 1e-5)
    if isinstance(tol, dict):
        return tol.get(np.dtype(dtype), default_gradient_tolerance.get(np.dtype(dtype), 1e-5))
    return tol


def _rand_like(rng, x):
    x = np.asarray(x)
    r = np.asarray(rng.randn(*x.shape), dtype=x.dtype)
    if x.dtype.kind == "c":
        r = r + 1j * np.asarray(rng.randn(*x.shape), dtype=x.dtype)
    return r


def _map(f, *trees):
    return tree_util.tree_map(f, *trees)


_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _widen(x):
    """float16 and bfloat16 values as float32: a step of 1e-4 is below their resolution, so
    their derivatives are checked against the float32 function's differences."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype in _HALF else x


def numerical_jvp(f, primals, tangents, eps=EPS):
    """Central differences of `f` at `primals` along `tangents` (in float32 for 16-bit floats)."""
    primals, tangents = _map(_widen, primals), _map(_widen, tangents)
    plus = f(*_map(lambda p, t: np.asarray(p) + eps * t, primals, tangents))
    minus = f(*_map(lambda p, t: np.asarray(p) - eps * t, primals, tangents))
    return _map(lambda a, b: (np.asarray(a) - np.asarray(b)) * (0.5 / eps), plus, minus)


def _inner(xs, ys):
    """<xs, ys>, summed in float32 or wider; held to the coarsest 16-bit dtype among them
    (so `check_close` applies that dtype's tolerance, as JAX's inner product in it does)."""
    leaves = tree_util.tree_leaves(xs) + tree_util.tree_leaves(ys)
    total = sum(np.sum(_widen(x) * _widen(y))
                for x, y in zip(tree_util.tree_leaves(xs), tree_util.tree_leaves(ys)))
    half = [np.asarray(v).dtype for v in leaves if np.asarray(v).dtype in _HALF]
    if half:
        return np.asarray(total, np.float32).astype(max(half, key=lambda d: _tol(None, d)))
    return total


def check_close(xs, ys, atol=None, rtol=None, err_msg=""):
    """Every leaf of `xs` close to the matching leaf of `ys` (tolerances by dtype)."""
    for x, y in zip(tree_util.tree_leaves(xs), tree_util.tree_leaves(ys), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        # The coarser dtype's tolerance: a bfloat16 result against a float32 reference is
        # held to bfloat16's.
        at = max(_tol(atol, x.dtype), _tol(atol, y.dtype))
        rt = max(_tol(rtol, x.dtype), _tol(rtol, y.dtype))
        np.testing.assert_allclose(_widen(x), _widen(y), atol=at, rtol=rt, err_msg=err_msg)


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    rng = np.random.RandomState(0)
    tangent = _map(functools.partial(_rand_like, rng), args)
    v_out, t_out = f_jvp(args, tangent)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal")
    check_close(t_out, numerical_jvp(f, args, tangent, eps), atol, rtol,
                f"{err_msg} tangent")


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=EPS, err_msg=""):
    rng = np.random.RandomState(0)
    v_out, vjpfun = f_vjp(*args)
    check_close(v_out, f(*args), atol, rtol, f"{err_msg} primal")
    tangent = _map(functools.partial(_rand_like, rng), args)
    tangent_out = numerical_jvp(f, args, tangent, eps)
    cotangent = _map(functools.partial(_rand_like, rng), v_out)
    cotangent_out = _map(np.conj, vjpfun(_map(np.conj, cotangent)))
    check_close(_inner(tangent, cotangent_out), _inner(tangent_out, cotangent), atol, rtol,
                f"{err_msg} cotangent projection")


def check_grads(f, args, order, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check `f`'s derivatives at `args` (a tuple) up to `order` in `modes` ("fwd", "rev")
    against finite differences with step `eps`; raises AssertionError when one is off."""
    args = tuple(args)
    eps = eps or EPS
    if isinstance(modes, str):
        modes = (modes,)
    unknown = set(modes) - {"fwd", "rev"}
    if unknown:
        raise ValueError(f"check_grads: unknown modes {sorted(unknown)}; use 'fwd' and/or 'rev'")

    def check(f, args, order, msg=""):
        if "fwd" in modes:
            fwd = f"JVP of {msg}" if msg else "JVP"
            check_jvp(f, functools.partial(jvp, f), args, atol, rtol, eps, fwd)
            if order > 1:
                check(functools.partial(jvp, f), (args, args), order - 1, fwd)
        if "rev" in modes:
            rev = f"VJP of {msg}" if msg else "VJP"
            check_vjp(f, functools.partial(vjp, f), args, atol, rtol, eps, rev)
            if order > 1:
                def f_vjp(*a):
                    out, vjp_fn = vjp(f, *a)
                    return vjp_fn(out)
                check(f_vjp, args, order - 1, rev)

    check(f, args, order)
