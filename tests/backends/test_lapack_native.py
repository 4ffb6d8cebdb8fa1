"""Native linear algebra on the CPU backend (`xla_like/backends/cpu/lapack.py`): LAPACK calls and
the inline small-matrix path, against each primitive's NumPy reference (the interpreter) and
reconstruction identities, for every dtype, batch shapes, 1x1 and empty matrices, singular and
non-positive-definite inputs. The plan is inspected: each decomposition must be a native
"library" step, not a host step.
"""
import threading

import numpy as np
import pytest

import jitcore as jc
from jitcore import lax
import jitcore.numpy as jnp
from ops import decompositions as D
from tests.covering import pairwise
from tests.helpers import plan_of

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
RNG = np.random.default_rng(11)


def tol(dtype):
    return 2e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11


def rand(shape, dtype):
    x = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype)


def H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def spd(shape, dtype):
    a = rand(shape, dtype)
    return (a @ H(a) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def run(f, *args, native=True):
    """f's results on the CPU backend and on the interpreter; checks the step kinds."""
    jf = jc.jit(f)
    kinds = [s.kind for s in plan_of(jf, *args).steps]
    if native:
        assert "library" in kinds and "python" not in kinds, kinds
    got = jf(*args)
    want = jc.jit(f, backend="interp")(*args)
    as_list = lambda r: [np.asarray(v) for v in (r if isinstance(r, (tuple, list)) else (r,))]  # noqa: E731
    return as_list(got), as_list(want)


def close(got, want, dtype, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=tol(dtype) * scale, atol=tol(dtype) * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (2, 3, 6, 6), (1, 1), (40, 40)])
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(dtype, shape, lower):
    a = spd(shape, dtype)
    (got,), (want,) = run(lambda x: D.cholesky(x, lower=lower), a)
    close(got, want, dtype)
    # The factor reproduces the matrix, and the unused triangle is zero.
    rebuilt = got @ H(got) if lower else H(got) @ got
    close(rebuilt, a, dtype, scale=shape[-1])
    assert not np.any(np.triu(got, 1) if lower else np.tril(got, -1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cholesky_not_positive_definite_is_nan_for_that_matrix_only(dtype):
    a = spd((3, 4, 4), dtype)
    a[1] = -a[1]
    (got,), (want,) = run(lambda x: D.cholesky(x), a)
    # NaN in the lower triangle, zeros above it (JAX's), for that matrix only.
    lower = np.tri(4, dtype=bool)
    assert np.isnan(got[1][lower]).all() and (got[1][~lower] == 0).all()
    assert np.isfinite(got[[0, 2]]).all()
    close(got[[0, 2]], want[[0, 2]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (3, 4, 4), (2, 7, 5), (5, 7), (12, 12), (2, 20, 9),
                                   (9, 20), (1, 1)])
def test_lu(dtype, shape):
    a = rand(shape, dtype)
    (lu, piv, perm), (lu_w, piv_w, perm_w) = run(D.lu, a)
    np.testing.assert_array_equal(piv, piv_w)
    np.testing.assert_array_equal(perm, perm_w)
    assert piv.dtype == np.int32 and perm.dtype == np.int32
    close(lu, lu_w, dtype, scale=10)
    m, n = shape[-2:]
    k = min(m, n)
    low = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
    up = np.triu(lu[..., :k, :])
    rows = np.take_along_axis(a, perm[..., None].astype(np.int64), axis=-2)
    close(low @ up, rows, dtype, scale=10)


@pytest.mark.parametrize("shape", [(4, 4), (12, 12)])
def test_lu_singular(shape):
    a = rand((2,) + shape, np.float64)
    a[0, :, 1] = 0.0                  # a zero column: no pivot, multipliers left as they are
    a[1, 2] = a[1, 0]                 # two equal rows
    (lu, piv, perm), (lu_w, piv_w, perm_w) = run(D.lu, a)
    np.testing.assert_array_equal(piv, piv_w)
    np.testing.assert_array_equal(perm, perm_w)
    close(lu, lu_w, np.float64, scale=100)


TRI_FLAGS = [(left, lower, trans, conj, unit) for left in (True, False)
             for lower in (True, False) for trans in (True, False) for conj in (True, False)
             for unit in (True, False)]
# Each of the 32 flag combinations once (each picks a branch of the kernel), plus every pair of
# (dtype, size, flag value): the full product with dtypes and sizes (256) shows nothing more.
TRI_CASES = [(DTYPES[i % 4], [(4, 3), (20, 7)][i // 4 % 2], flags)
             for i, flags in enumerate(TRI_FLAGS)] + [
    (d, ko, tuple(flags))
    for d, ko, *flags in pairwise(DTYPES, [(4, 3), (20, 7)], *[(True, False)] * 5)]

def _tri_id(v):
    if isinstance(v, tuple) and isinstance(v[0], bool):   # left, lower, trans, conj, unit
        return "".join("LlTCU"[i] if f else "-" for i, f in enumerate(v))
    return None


@pytest.mark.parametrize("dtype,k_other,flags", TRI_CASES, ids=_tri_id)
def test_triangular_solve(dtype, k_other, flags):
    k, other = k_other
    left, lower, trans, conj, unit = flags
    a = rand((2, k, k), dtype) + 2 * k * np.eye(k, dtype=dtype)
    b = rand((2, k, other) if left else (2, other, k), dtype)
    f = lambda x, y: D.triangular_solve(x, y, left_side=left, lower=lower,  # noqa: E731
                                        transpose_a=trans, conjugate_a=conj,
                                        unit_diagonal=unit)
    (x,), (want,) = run(f, a, b)
    close(x, want, dtype, scale=10)
    # The solution satisfies the system with op(a) built independently.
    t = np.tril(a) if lower else np.triu(a)
    if unit:
        t = t - np.diagonal(t, axis1=-2, axis2=-1)[..., None] * np.eye(k) + np.eye(k)
    if trans:
        t = np.swapaxes(t, -1, -2)
    if conj:
        t = np.conj(t)
    close(t @ x if left else x @ t, b, dtype, scale=100)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 6), (2, 9, 5), (5, 9), (3, 1, 1), (30, 30)])
@pytest.mark.parametrize("full", [True, False])
def test_qr(dtype, shape, full):
    a = rand(shape, dtype)
    (q, r), (q_w, r_w) = run(lambda x: D.qr(x, full_matrices=full), a)
    assert q.shape == q_w.shape and r.shape == r_w.shape
    n = shape[-1]
    close(q @ r, a, dtype, scale=n)
    close(H(q) @ q, np.broadcast_to(np.eye(q.shape[-1]), H(q).shape[:-1] + (q.shape[-1],)),
          dtype, scale=n)
    assert not np.any(np.tril(r, -1))
    # Unique up to the phase of each column of q / row of r.
    close(np.abs(r), np.abs(r_w), dtype, scale=n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 6), (2, 3, 5, 5), (1, 1), (40, 40)])
@pytest.mark.parametrize("lower", [True, False])
def test_eigh(dtype, shape, lower):
    a = rand(shape, dtype)
    from ops.decomposition_impls import hermitian_from
    (v, w), (v_w, w_w) = run(lambda x: D.eigh(x, lower=lower), a)
    n = shape[-1]
    close(w, w_w, dtype, scale=n)
    assert np.all(np.diff(w, axis=-1) >= 0)
    close((v * w[..., None, :]) @ H(v), hermitian_from(a, lower), dtype, scale=n)
    close(H(v) @ v, np.broadcast_to(np.eye(n), v.shape), dtype, scale=n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 6), (2, 9, 5), (5, 9), (1, 1), (3, 1, 4), (40, 30)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(dtype, shape, full):
    a = rand(shape, dtype)
    (s, u, vh), (s_w, u_w, vh_w) = run(lambda x: D.svd(x, full_matrices=full), a)
    assert u.shape == u_w.shape and vh.shape == vh_w.shape
    k = min(shape[-2:])
    close(s, s_w, dtype, scale=10)
    close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, dtype, scale=max(shape))
    close(H(u) @ u, np.broadcast_to(np.eye(u.shape[-1]), H(u).shape[:-1] + (u.shape[-1],)),
          dtype, scale=max(shape))
    (s_only,), (s_only_w,) = run(lambda x: D.svd(x, compute_uv=False), a)
    close(s_only, s_only_w, dtype, scale=10)


@pytest.mark.parametrize("op", ["eigh", "svd"])
def test_non_finite_input_gives_nan(op):
    a = rand((3, 5, 5), np.float64)
    a[1, 2, 3] = np.nan
    a[2, 0, 0] = np.inf
    got, want = run(getattr(D, op), a)
    for g, w in zip(got, want):
        assert np.isnan(g[1:]).all() and np.isfinite(g[0]).all()
        close(np.abs(g[0]), np.abs(w[0]), np.float64, scale=10)


@pytest.mark.parametrize("f", [D.cholesky, D.lu, D.qr, D.eigh, D.svd],
                         ids=["cholesky", "lu", "qr", "eigh", "svd"])
def test_empty_matrices_run_on_the_host(f):
    a = np.zeros((2, 0, 0))
    got, want = run(f, a, native=False)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_inside_a_native_loop():
    # A library step in a scan body: its scratch lives in the loop's workspace region.
    a = spd((4, 6, 6), np.float64)

    def f(x):
        def body(c, xi):
            return c + 1.0, D.cholesky(xi + c)
        return lax.scan(body, jnp.zeros((6, 6)), x)[1]
    jf = jc.jit(f)
    control = [s for s in plan_of(jf, a).steps if s.kind == "control"]
    assert control and any(t.kind == "library" for t in control[0].subs[0].steps)
    close(np.asarray(jf(a)), np.asarray(jc.jit(f, backend="interp")(a)), np.float64)


def test_concurrent_calls_have_their_own_scratch():
    a = rand((6, 50, 50), np.float64)
    jf = jc.jit(lambda x: D.qr(x)[1])
    want = [np.abs(np.linalg.qr(a * (k + 1))[1]) for k in range(4)]
    errors = []

    def worker(k):
        for _ in range(20):
            errors.append(np.abs(np.abs(np.asarray(jf(a * (k + 1)))) - want[k]).max())
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 80 and max(errors) < 1e-10


def test_batched_small_solve_matches_numpy():
    # The inline path (4x4, real) through the public API, against NumPy's LAPACK solve.
    a = rand((300, 4, 4), np.float64) + 3 * np.eye(4)
    b = rand((300, 4, 2), np.float64)
    got = np.asarray(jc.jit(jnp.linalg.solve)(a, b))
    close(got, np.linalg.solve(a, b), np.float64, scale=100)
    close(np.asarray(jc.jit(jnp.linalg.inv)(a)), np.linalg.inv(a), np.float64, scale=100)
