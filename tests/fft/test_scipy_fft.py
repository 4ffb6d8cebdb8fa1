"""`jitcore.scipy.fft` (JAX's: the type-2 DCT family) against the DCT written as a cosine
matrix in float64, y[k] = 2 sum_n x[n] cos(pi k (2n + 1) / 2N), and its inverse by a linear
solve with that matrix; `n`/`s` padding and cropping, axes, norms, dtypes, jit, vmap, grad.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
from jitcore.scipy import fft as sfft
from tests.fft.common import assert_close, data, eager_and_jit
from tests.helpers import check_grads


def cosine_matrix(n, norm=None):
    k = np.arange(n)
    c = 2 * np.cos(np.pi * np.outer(k, 2 * k + 1) / (2 * n))
    if norm == "ortho":
        c[0] *= np.sqrt(1 / (4 * n))
        c[1:] *= np.sqrt(1 / (2 * n))
    return c


def fit(x, n, axis):
    """x cropped or zero-padded at the end of `axis` to n (scipy's `n`)."""
    x = np.moveaxis(x, axis, -1)
    if n is not None:
        x = x[..., :n] if n <= x.shape[-1] else np.concatenate(
            [x, np.zeros(x.shape[:-1] + (n - x.shape[-1],), x.dtype)], -1)
    return np.moveaxis(x, -1, axis)


def dct_ref(x, n=None, axis=-1, norm=None, inverse=False):
    x = np.moveaxis(fit(np.asarray(x, np.float64), n, axis), axis, -1)
    c = cosine_matrix(x.shape[-1], norm)
    out = np.linalg.solve(c, x[..., None])[..., 0] if inverse else x @ c.T
    return np.moveaxis(out, -1, axis)


X = data((3, 4, 5), seed=1)
NORMS = [None, "backward", "ortho"]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n,axis", [(None, -1), (3, -1), (8, -1), (None, 0), (6, 1)])
@pytest.mark.parametrize("inverse", [False, True], ids=["dct", "idct"])
def test_dct_and_idct(norm, n, axis, inverse):
    f = sfft.idct if inverse else sfft.dct
    want = dct_ref(X, n, axis, norm, inverse)
    for got in eager_and_jit(lambda v: f(v, n=n, axis=axis, norm=norm), X):
        assert_close(got, want, tol=1e-11)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s,axes", [(None, None), ((2, 7), None), (None, (0, 2)),
                                    ((5, 2), (2, 0)), (None, (1,)), ((6,), (0,))])
@pytest.mark.parametrize("inverse", [False, True], ids=["dctn", "idctn"])
def test_dctn_and_idctn(norm, s, axes, inverse):
    f = sfft.idctn if inverse else sfft.dctn
    want = X
    ax = tuple(range(X.ndim - len(s), X.ndim)) if axes is None and s is not None else \
        tuple(range(X.ndim)) if axes is None else axes
    for i, a in enumerate(ax):
        want = dct_ref(want, None if s is None else s[i], a, norm, inverse)
    for got in eager_and_jit(lambda v: f(v, s=s, axes=axes, norm=norm), X):
        assert_close(got, want, tol=1e-11)


def test_round_trips_and_dtypes():
    x = data((4, 6), seed=2)
    for norm in NORMS:
        assert_close(sfft.idct(sfft.dct(x, norm=norm), norm=norm), x)
        assert_close(sfft.idctn(sfft.dctn(x, norm=norm), norm=norm), x)
    assert np.asarray(sfft.dct(x.astype(np.float32))).dtype == np.float32
    assert_close(sfft.dct(np.arange(5)), dct_ref(np.arange(5.0)))
    z = data((3, 5), np.complex128, seed=3)
    assert_close(sfft.dct(z), dct_ref(z.real) + 1j * dct_ref(z.imag))
    assert_close(sfft.idctn(z), dct_ref(dct_ref(z.real, axis=0, inverse=True), inverse=True)
                 + 1j * dct_ref(dct_ref(z.imag, axis=0, inverse=True), inverse=True))


def test_vmap_and_grad():
    xs = data((3, 5, 4), seed=4)
    want = np.stack([dct_ref(xs[:, i], axis=0, norm="ortho") for i in range(5)])
    assert_close(jitcore.vmap(lambda v: sfft.dct(v, axis=0, norm="ortho"), in_axes=1)(xs), want)
    check_grads(lambda v: sfft.dctn(v, norm="ortho"), (xs[0],), order=2)
    check_grads(jitcore.jit(lambda v: sfft.idct(v, n=6)), (xs[0],), order=1)


def test_errors():
    with pytest.raises(NotImplementedError, match="type 2"):
        sfft.dct(X, type=3)
    with pytest.raises(ValueError, match="norm='forward' is not implemented"):
        sfft.dctn(X, norm="forward")
    with pytest.raises(ValueError, match="at most x.ndim"):
        sfft.idctn(X, s=(1, 2, 3, 4))
