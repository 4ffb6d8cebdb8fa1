"""`jitcore.numpy.fft` against `numpy.fft` in float64: every function and norm, `n`/`s`
padding and truncation, axes (more than 3 transformed in groups), float32 -> complex64 dtypes,
jit against eager, vmap against a loop, and derivatives by finite differences (complex inputs
and outputs through their real and imaginary parts).
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from tests.fft.common import assert_close, by_parts, data, eager_and_jit
from tests.helpers import check_grads

NORMS = [None, "backward", "ortho", "forward"]
X = data((4, 6), np.complex128, seed=1)
R = data((4, 6), np.float64, seed=2)
# One-dimensional transforms: (name, input). n smaller, equal and larger than the axis.
ONE_D = [("fft", X), ("ifft", X), ("irfft", X), ("hfft", X), ("rfft", R), ("ihfft", R),
         ("fft", R)]


@pytest.mark.parametrize("name,x", ONE_D, ids=[f"{n}-{x.dtype}" for n, x in ONE_D])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n,axis", [(None, -1), (3, -1), (9, -1), (None, 0), (7, 0)])
def test_one_dimensional(name, x, norm, n, axis):
    want = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
    f = lambda v: getattr(jnp.fft, name)(v, n=n, axis=axis, norm=norm)  # noqa: E731
    for got in eager_and_jit(f, x):
        assert_close(got, want)


X3 = data((3, 4, 5), np.complex128, seed=3)
R3 = data((3, 4, 5), np.float64, seed=4)
TWO_D = [("fft2", X3), ("ifft2", X3), ("rfft2", R3), ("irfft2", X3)]


@pytest.mark.parametrize("name,x", TWO_D, ids=[n for n, _ in TWO_D])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s,axes", [(None, (-2, -1)), ((3, 8), (-2, -1)), ((2, 6), (0, 2)),
                                    (None, (2, 0))])
def test_two_dimensional(name, x, norm, s, axes):
    want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
    f = lambda v: getattr(jnp.fft, name)(v, s=s, axes=axes, norm=norm)  # noqa: E731
    for got in eager_and_jit(f, x):
        assert_close(got, want)


X5 = data((2, 3, 2, 4, 3), np.complex128, seed=5)
R5 = data((2, 3, 2, 4, 3), np.float64, seed=6)
N_D = [("fftn", X5), ("ifftn", X5), ("rfftn", R5), ("irfftn", X5)]


@pytest.mark.parametrize("name,x", N_D, ids=[n for n, _ in N_D])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s,axes", [(None, None), ((3, 5), (1, 3)), ((4, 2, 6), None),
                                    (None, (4, 0, 2, 1)), ((3, 2, 2, 3, 5), (0, 1, 2, 3, 4))],
                         ids=["all5", "two", "s3", "four-axes", "five-axes-s"])
def test_n_dimensional_in_groups_of_three(name, x, norm, s, axes):
    if s is not None and axes is None:
        axes = tuple(range(x.ndim - len(s), x.ndim))  # NumPy 2 wants axes with s
    want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
    f = lambda v: getattr(jnp.fft, name)(v, s=s, axes=axes, norm=norm)  # noqa: E731
    for got in eager_and_jit(f, x):
        assert_close(got, want)


@pytest.mark.parametrize("name,in_dtype,out_dtype", [
    ("fft", np.float32, np.complex64), ("fft", np.complex64, np.complex64),
    ("ifft", np.float32, np.complex64), ("rfft", np.float32, np.complex64),
    ("irfft", np.complex64, np.float32), ("hfft", np.complex64, np.float32),
    ("ihfft", np.float32, np.complex64), ("fftn", np.float32, np.complex64),
    ("irfftn", np.complex64, np.float32), ("fft", np.int64, np.complex128),
    ("rfft", np.int64, np.complex128), ("irfft", np.float64, np.float64),
    # JAX converts by width: 32-bit (and narrower) integers and bools to single precision.
    ("fft", np.int32, np.complex64), ("rfft", np.uint8, np.complex64),
    ("fft", np.bool_, np.complex64),
])
def test_result_dtypes_follow_jax(name, in_dtype, out_dtype):
    x = data((3, 8), in_dtype) if np.dtype(in_dtype).kind in "fc" else \
        (np.arange(24).reshape(3, 8) % 5).astype(in_dtype)
    want = getattr(np.fft, name)(x.astype(np.complex128 if x.dtype.kind == "c" else
                                          np.float64))
    for got in eager_and_jit(getattr(jnp.fft, name), x):
        assert_close(got, want, dtype=out_dtype,
                     tol=2e-5 if np.dtype(out_dtype) in (np.dtype("complex64"),
                                                          np.dtype("float32")) else None)


def test_vmap_matches_a_loop():
    xs = data((3, 4, 6), np.complex128, seed=7)
    for f in (lambda v: jnp.fft.fft(v, n=8, norm="ortho"),
              lambda v: jnp.fft.irfft2(v, s=(3, 7)),
              lambda v: jnp.fft.rfftn(v.real, axes=(1, 0))):
        want = np.stack([np.asarray(f(xs[:, i])) for i in range(4)])
        assert_close(jitcore.vmap(f, in_axes=1)(xs), want)
        assert_close(jitcore.jit(jitcore.vmap(f, in_axes=1))(xs), want)


GRAD_CASES = [
    ("fft", lambda v: jnp.fft.fft(v, n=5, norm="ortho"), True),
    ("ifft", lambda v: jnp.fft.ifft(v, axis=0, norm="forward"), True),
    ("rfft", lambda v: jnp.fft.rfft(v, n=7), False),
    ("irfft", lambda v: jnp.fft.irfft(v, n=8), True),
    ("irfft-odd", lambda v: jnp.fft.irfft(v, n=5, norm="ortho"), True),
    ("hfft", lambda v: jnp.fft.hfft(v), True),
    ("ihfft", lambda v: jnp.fft.ihfft(v), False),
    ("rfft2", lambda v: jnp.fft.rfft2(v, s=(3, 4)), False),
    ("irfftn", lambda v: jnp.fft.irfftn(v, axes=(0, 1)), True),
]


@pytest.mark.parametrize("name,f,complex_in", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_derivatives_by_finite_differences(name, f, complex_in):
    x = data((4, 3), np.complex128 if complex_in else np.float64, seed=8)
    g = by_parts(f, complex_in)
    parts = (x.real.copy(), x.imag.copy()) if complex_in else (x,)
    check_grads(g, parts, order=2)
    check_grads(jitcore.jit(g), parts, order=1)


def test_grad_of_a_real_loss_of_complex_input_is_jax_conjugate():
    """grad of L(z) real returns conj(dL/dx + i dL/dy) (JAX's convention)."""
    z = data((6,), np.complex128, seed=9)
    w = data((6,), np.float64, seed=10)

    def loss_np(zz):
        return float(np.sum(w * np.abs(np.fft.fft(zz)) ** 2))

    def loss(zz):
        y = jnp.fft.fft(zz)
        return jnp.sum(w * (y.real ** 2 + y.imag ** 2))
    eps = 1e-6
    dx = np.array([(loss_np(z + eps * e) - loss_np(z - eps * e)) / (2 * eps)
                   for e in np.eye(6)])
    dy = np.array([(loss_np(z + 1j * eps * e) - loss_np(z - 1j * eps * e)) / (2 * eps)
                   for e in np.eye(6)])
    for g in (jitcore.grad(loss)(z), jitcore.jit(jitcore.grad(loss))(z)):
        assert_close(g, np.conj(dx + 1j * dy), tol=1e-6)


@pytest.mark.parametrize("n", [1, 6, 7])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_frequencies(n, d):
    assert_close(jnp.fft.fftfreq(n, d), np.fft.fftfreq(n, d))
    assert_close(jnp.fft.rfftfreq(n, d), np.fft.rfftfreq(n, d))
    assert_close(jnp.fft.fftfreq(n, d, dtype=np.float32), np.fft.fftfreq(n, d),
                 dtype=np.float32, tol=1e-6)
    got = jitcore.jit(lambda dd: jnp.fft.fftfreq(n, dd))(np.float64(d))
    assert_close(got, np.fft.fftfreq(n, d))


@pytest.mark.parametrize("axes", [None, 0, 1, (0, 1), (1,)])
def test_shifts(axes):
    x = np.arange(35.0).reshape(5, 7)
    np.testing.assert_array_equal(np.asarray(jnp.fft.fftshift(x, axes)), np.fft.fftshift(x, axes))
    np.testing.assert_array_equal(np.asarray(jnp.fft.ifftshift(x, axes)),
                                  np.fft.ifftshift(x, axes))
    back = jnp.fft.ifftshift(jnp.fft.fftshift(x, axes), axes)
    np.testing.assert_array_equal(np.asarray(back), x)


def test_round_trips():
    x = data((3, 4, 6), np.float64, seed=11)
    assert_close(jnp.fft.irfftn(jnp.fft.rfftn(x), s=x.shape), x)
    assert_close(jnp.fft.ifft(jnp.fft.fft(x)), x.astype(np.complex128))
    assert_close(jnp.fft.hfft(jnp.fft.ihfft(x[0, 0]), n=6), x[0, 0])


def test_errors():
    with pytest.raises(ValueError, match="Invalid norm"):
        jnp.fft.fft(X, norm="unitary")
    with pytest.raises(ValueError, match="repeated axes"):
        jnp.fft.fftn(X3, axes=(0, 0))
    with pytest.raises(ValueError, match="different lengths"):
        jnp.fft.fftn(X3, s=(2, 3), axes=(0,))
    with pytest.raises(ValueError, match="positive"):
        jnp.fft.fft(X, n=0)
    with pytest.raises(ValueError, match="only supports 2 axes"):
        jnp.fft.fft2(X3, axes=(0, 1, 2))
    with pytest.raises(ValueError, match="multiple axes"):
        jnp.fft.fft(X3, axis=(0, 1))
    with pytest.raises(ValueError, match="real input"):
        jnp.fft.rfft(X)
