"""Shared inputs and comparisons for the Fourier-transform tests."""
from __future__ import annotations

import numpy as np

import jitcore
from ops import elementwise as el

TOL = {np.dtype("float64"): 1e-12, np.dtype("complex128"): 1e-12,
       np.dtype("float32"): 2e-5, np.dtype("complex64"): 2e-5}


def data(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def assert_close(got, want, dtype=None, tol=None):
    """`got` has `dtype` (default: want's) and `want`'s shape and values, within a tolerance
    relative to want's largest magnitude."""
    g, w = np.asarray(got), np.asarray(want)
    dtype = np.dtype(dtype or w.dtype)
    assert g.dtype == dtype, f"dtype {g.dtype}, expected {dtype}"
    assert g.shape == w.shape, f"shape {g.shape}, expected {w.shape}"
    tol = TOL[dtype] if tol is None else tol
    scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
    np.testing.assert_allclose(g.astype(np.complex128), w.astype(np.complex128), rtol=0,
                               atol=tol * scale)


def eager_and_jit(f, *args):
    """`f(*args)` run eagerly and under jit (both as NumPy arrays)."""
    return np.asarray(f(*args)), np.asarray(jitcore.jit(f)(*args))


def by_parts(f, complex_in=True):
    """`f` of a complex array as a function of real arrays: (re, im) in when `complex_in`,
    (re, im) out when f's result is complex, so real finite differences can check it."""
    def g(*parts):
        x = el.complex(*parts) if complex_in else parts[0]
        y = f(x)
        if np.dtype(y.dtype).kind == "c":
            return el.real(y), el.imag(y)
        return y
    return g
