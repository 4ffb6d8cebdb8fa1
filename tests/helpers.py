"""Helpers shared by the test modules: `from tests.helpers import check_grads, ...`.

- `check_grads`: derivatives from jitcore's transforms against finite differences.
  Forward mode: `jvp` along one seeded random direction against central differences of the
  function itself. Reverse mode: the adjoint identity `<vjp(c), t> == <c, jvp(t)>` with the
  numerical JVP on the right. Higher orders recurse on the derivative functions (the JVP along a
  fixed direction, the VJP with a fixed cotangent), so second derivatives check forward-over-
  forward, reverse-over-reverse and both mixtures. Tolerances: central differences with eps 1e-4
  and tolerance 1e-5 in float64; in float32 the differences are taken with eps 1e-3 and checked
  to 2e-3.
- `fd_grad`: the central-difference gradient of a scalar NumPy function of one array.
- `rand`, `rng_for`: seeded random arrays of any dtype; a generator seeded by a case's name.
- `assert_same`, `raises`: exact comparison of a jitcore result with NumPy's; `pytest.raises`
  that also checks the message names the given words and the calling test file.
- `plan_of`: the CPU executable's plan (steps and buffers) of a jitted call.
- `erfinv_reference`: erfinv by bisection on math.erf/math.erfc (no SciPy needed).
"""
from __future__ import annotations

import math
import os
import sys
import zlib

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy  # noqa: F401  (jc.numpy)
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


def fd_grad(f, x, eps=1e-6):
    """Central-difference gradient of a scalar NumPy function of one float64 array (or scalar)."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (float(f(x + d)) - float(f(x - d))) / (2 * eps)
    return g


# --- inputs -----------------------------------------------------------------------------------

def rand(shape, dtype=np.float64, seed=0):
    """Seeded values of `dtype`: standard normal floats, integers in [0, 100), fair booleans."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 100, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def rng_for(name: str):
    """A generator seeded by `name`, so each parametrized case draws the same inputs on every run
    and under pytest-xdist (Python's `hash` of a string changes between processes)."""
    return np.random.default_rng(zlib.crc32(name.encode()))


# --- comparisons ------------------------------------------------------------------------------

def assert_same(got, want, weak=None):
    """`got` is a jitcore Array (or a list/tuple of them) equal to `want` in shape, dtype and every
    element; with `weak` given, its weak type is that too."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, weak)
        return
    assert isinstance(got, jc.Array), type(got)
    g = np.asarray(got)
    want = np.asarray(want)
    assert g.shape == want.shape, (g.shape, want.shape)
    assert g.dtype == want.dtype, (g.dtype, want.dtype)
    np.testing.assert_array_equal(g, want)
    if weak is not None:
        assert got.weak_type == weak


class raises:
    """`with raises(ShapeError, "reshape", "(2, 3)"):` is `pytest.raises` that also checks the
    message names each word and the test file the `with` is in (errors point at the user's line)."""

    def __init__(self, exc, *words):
        self._words = words + (os.path.basename(sys._getframe(1).f_code.co_filename),)
        self._raises = pytest.raises(exc)

    def __enter__(self):
        return self._raises.__enter__()

    def __exit__(self, *exc_info):
        if not self._raises.__exit__(*exc_info):
            return False            # another exception type: let it propagate unchanged
        msg = str(exc_info[1])
        for w in self._words:
            assert w in msg, f"{w!r} not in {msg!r}"
        return True


# --- compiled programs ------------------------------------------------------------------------

def plan_of(jitted, *args):
    """The CPU plan (steps, buffers) that `jitted` compiles for `args`."""
    return jitted.lower(*args).compile()._entry.executable.plan


# --- passes -----------------------------------------------------------------------------------

def run_on_interpreter(module, args):
    """`module`'s outputs on `args` through the reference interpreter (the definition of every
    primitive), as a list of NumPy arrays."""
    from xla_like.backends import interp
    return [np.asarray(v) for v in interp.compile(module)(list(args))]


def assert_same_results(before, after, args, rtol=1e-12):
    """Two Modules give the same outputs on `args` on the interpreter: equal shapes and dtypes,
    floats within `rtol`, everything else exactly."""
    want, got = run_on_interpreter(before, args), run_on_interpreter(after, args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
        else:
            np.testing.assert_array_equal(g, w)


def opcodes(comp):
    """The opcodes of a computation's instructions, in order."""
    return [i.opcode for i in comp.instructions]


_erf_scalar, _erfc_scalar = np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)


def erfinv_reference(x):
    """erfinv in float64 by bisection over the float64 values, on math.erf below 1/2 and on
    math.erfc above (where 1 - |x| is exact): the inverse of the definition, independent of any
    approximation; within 1 ULP of the exact value (math.erf's own rounding)."""
    x = np.asarray(x, np.float64)
    a = np.abs(x).ravel()
    lo = np.zeros(a.shape, np.int64)
    hi = np.full(a.shape, np.float64(6.0).view(np.int64))   # erf(6) is 1 in float64

    def below(bits):   # erf(y) < a, for y the float64 with these bits
        y = bits.view(np.float64)
        with np.errstate(all="ignore"):
            return np.where(a < 0.5, _erf_scalar(y).astype(np.float64) < a,
                            _erfc_scalar(y).astype(np.float64) > 1 - a)
    while np.any(hi - lo > 1):
        mid = lo + (hi - lo) // 2
        go_up = below(mid)
        lo, hi = np.where(go_up, mid, lo), np.where(go_up, hi, mid)
    y = np.where(below(lo), hi, lo).view(np.float64)
    with np.errstate(invalid="ignore"):
        y = np.where(a == 1, np.inf, np.where(a > 1, np.nan, y))
        y = np.where(np.isnan(a), np.nan, y)
    return np.copysign(y.reshape(x.shape), x)


@jc.custom_jvp
def round_through(x):
    """Rounding with the straight-through derivative (d/dx taken as 1): a custom_jvp function
    whose rule differs visibly from the function's own derivative (zero)."""
    return jc.numpy.round(x)


@round_through.defjvp
def _round_through_jvp(primals, tangents):
    return round_through(primals[0]), tangents[0]


def mlp_sgd_numpy(params, x, y, lr):
    """One SGD step of a two-layer ReLU MLP with a softmax cross-entropy loss (the mean over
    rows), in NumPy float64 with a hand-written backward pass: (loss, [(w1, b1), (w2, b2)])
    after the update `p - lr * grad`."""
    (w1, b1), (w2, b2) = [(w.astype(np.float64), b.astype(np.float64)) for w, b in params]
    x64 = x.astype(np.float64)
    pre = x64 @ w1 + b1
    h = np.maximum(pre, 0)
    z = h @ w2 + b2
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    d2 = (np.exp(logp) - y) / x.shape[0]
    d1 = d2 @ w2.T * (pre > 0)
    return -np.mean(np.sum(logp * y, 1)), [(w1 - lr * x64.T @ d1, b1 - lr * d1.sum(0)),
                                           (w2 - lr * h.T @ d2, b2 - lr * d2.sum(0))]
