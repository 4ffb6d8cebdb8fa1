"""Composite jitcore.numpy functions (differences, histograms, set operations, insert/delete,
index helpers, bit packing, polynomials, gcd/lcm, Array-API aliases) and jitcore.ops segment
reductions, against NumPy float64, eagerly and under jit; gradients against finite
differences; vmap against a Python loop."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from ops.errors import ConcretizationTypeError

RNG = np.random.default_rng(0)


def close(got, want, rtol=1e-10, atol=1e-12, dtype=None):
    """`got` (an Array or a sequence of them) matches `want` in shape, dtype and values."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want)
        for g, w in zip(got, want):
            close(g, w, rtol, atol, dtype)
        return
    assert isinstance(got, jax.Array), type(got)
    want = np.asarray(want)
    g = np.asarray(got)
    assert g.shape == want.shape, (g.shape, want.shape)
    assert g.dtype == (want.dtype if dtype is None else dtype), (g.dtype, want.dtype)
    np.testing.assert_allclose(g, want, rtol=rtol, atol=atol)


def check(f, want, *args, **kw):
    """`f(*args)` eagerly and under jit matches `want`."""
    close(f(*args), want, **kw)
    close(jax.jit(f)(*args), want, **kw)


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of the scalar function `f` at float64 `x`."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(jnp.asarray(x + e))) - float(f(jnp.asarray(x - e)))) / (2 * eps)
    return g


def check_grad(f, x, rtol=1e-5, atol=1e-7):
    np.testing.assert_allclose(np.asarray(jax.grad(f)(jnp.asarray(x))), fd_grad(f, x),
                               rtol=rtol, atol=atol)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(f))(jnp.asarray(x))), fd_grad(f, x),
                               rtol=rtol, atol=atol)


# --- differences, selection, cleanup --------------------------------------------------------

@pytest.mark.parametrize("n,axis", [(1, -1), (2, 0), (0, 1), (3, 1)])
def test_diff(n, axis):
    x = RNG.normal(size=(4, 5))
    check(lambda a: jnp.diff(a, n=n, axis=axis), np.diff(x, n=n, axis=axis), x)


def test_diff_prepend_append_and_bool():
    x = np.arange(5) ** 2
    check(lambda a: jnp.diff(a, prepend=0, append=np.array([30])),
          np.diff(x, prepend=0, append=np.array([30])), x)
    b = np.array([True, False, False, True])
    check(jnp.diff, np.diff(b), b)


def test_ediff1d():
    x = np.array([[1, 4], [9, 16]])
    check(lambda a: jnp.ediff1d(a, to_end=[100, 200], to_begin=-1),
          np.ediff1d(x, to_end=[100, 200], to_begin=-1), x)


def test_select():
    x = np.arange(-3.0, 4.0)
    conds = lambda a: [a < -1, a > 1]  # noqa: E731
    check(lambda a: jnp.select(conds(a), [a * 10, a ** 2], default=-7.0),
          np.select(conds(x), [x * 10, x ** 2], default=-7.0), x)
    with pytest.raises(ValueError, match="same length"):
        jnp.select([x > 0], [x, x])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_to_num(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1.5], dtype)
    check(jnp.nan_to_num, np.nan_to_num(x), x)
    check(lambda a: jnp.nan_to_num(a, nan=-1, posinf=9, neginf=-9),
          np.nan_to_num(x, nan=-1, posinf=9, neginf=-9), x)
    i = np.array([1, 2])
    check(jnp.nan_to_num, i, i)


def test_isin_and_append():
    x = np.arange(12).reshape(3, 4)
    t = np.array([3, 5, 11, 40])
    check(lambda a, b: jnp.isin(a, b), np.isin(x, t), x, t)
    check(lambda a, b: jnp.isin(a, b, invert=True), np.isin(x, t, invert=True), x, t)
    check(lambda a: jnp.append(a, [1, 2]), np.append(x, [1, 2]), x)
    check(lambda a: jnp.append(a, a[:1], axis=0), np.append(x, x[:1], axis=0), x)


def test_aliases_and_astype():
    x = np.linspace(-0.9, 0.9, 7)
    for name, ref in [("acos", np.arccos), ("asin", np.arcsin), ("atan", np.arctan),
                      ("asinh", np.arcsinh), ("atanh", np.arctanh)]:
        check(getattr(jnp, name), ref(x), x)
    check(jnp.acosh, np.arccosh(x + 2), x + 2)
    check(jnp.atan2, np.arctan2(x, x[::-1]), x, x[::-1])
    y = RNG.normal(size=(2, 3, 4))
    check(lambda a: jnp.permute_dims(a, (2, 0, 1)), np.transpose(y, (2, 0, 1)), y)
    check(lambda a: jnp.concat([a, a], axis=1), np.concatenate([y, y], axis=1), y)
    check(lambda a: jnp.astype(a, np.int32), y.astype(np.int32), y)
    check(jnp.copy, y, y)
    for name in ("pow", "bitwise_left_shift", "bitwise_right_shift", "bitwise_invert"):
        assert callable(getattr(jnp, name))


def test_splits():
    x = np.arange(24.0).reshape(2, 4, 3)
    for f, ref in [(jnp.hsplit, np.hsplit), (jnp.vsplit, np.vsplit)]:
        close(f(x, 2), ref(x, 2))
    close(jnp.dsplit(x, [1]), np.dsplit(x, [1]))
    close(jnp.hsplit(np.arange(6.0), 3), np.hsplit(np.arange(6.0), 3))
    with pytest.raises(ValueError, match="dsplit"):
        jnp.dsplit(np.ones((2, 2)), 2)


# --- interpolation, integration, statistics -------------------------------------------------

def test_interp():
    xp = np.sort(RNG.uniform(0, 10, 8))
    fp = RNG.normal(size=8)
    x = np.concatenate([RNG.uniform(-2, 12, 20), xp[:2]])
    check(lambda a, b, c: jnp.interp(a, b, c), np.interp(x, xp, fp), x, xp, fp)
    check(lambda a, b, c: jnp.interp(a, b, c, left=-5.0, right=5.0),
          np.interp(x, xp, fp, left=-5.0, right=5.0), x, xp, fp)
    check(lambda a, b, c: jnp.interp(a, b, c, period=10.0),
          np.interp(x, xp, fp, period=10.0), x, xp, fp)


def test_interp_grad():
    xp, fp = np.arange(5.0), np.array([0.0, 1.0, 4.0, 2.0, 3.0])
    check_grad(lambda x: jnp.sum(jnp.interp(x, xp, fp) ** 2), np.array([0.3, 1.6, 3.2]))
    check_grad(lambda f: jnp.sum(jnp.interp(np.array([0.3, 2.5]), xp, f) ** 2), fp)


def test_trapezoid():
    y = RNG.normal(size=(3, 6))
    x = np.sort(RNG.uniform(size=6))
    check(lambda a: jnp.trapezoid(a, dx=0.5), np.trapezoid(y, dx=0.5), y)
    check(lambda a, b: jnp.trapezoid(a, b), np.trapezoid(y, x), y, x)
    check(lambda a: jnp.trapezoid(a, axis=0), np.trapezoid(y, axis=0), y)
    check_grad(lambda a: jnp.trapezoid(a * a, x), y[0])


def test_cov_corrcoef():
    m = RNG.normal(size=(3, 7))
    y = RNG.normal(size=(2, 7))
    fw = RNG.integers(1, 4, 7)
    aw = RNG.uniform(0.5, 2, 7)
    check(jnp.cov, np.cov(m), m)
    check(lambda a, b: jnp.cov(a, b), np.cov(m, y), m, y)
    check(lambda a: jnp.cov(a, rowvar=False), np.cov(m.T, rowvar=False), m.T)
    check(lambda a: jnp.cov(a, bias=True), np.cov(m, bias=True), m)
    check(lambda a: jnp.cov(a, fweights=fw, aweights=aw), np.cov(m, fweights=fw, aweights=aw), m)
    check(lambda a: jnp.cov(a, ddof=0, aweights=aw), np.cov(m, ddof=0, aweights=aw), m)
    check(jnp.cov, np.cov(m[0]), m[0])
    check(jnp.corrcoef, np.corrcoef(m), m)
    check(lambda a, b: jnp.corrcoef(a, b), np.corrcoef(m[0], y[0]), m[0], y[0])
    check_grad(lambda a: jnp.sum(jnp.cov(a) * np.arange(9.0).reshape(3, 3)), m)


def test_histogram():
    a = RNG.normal(size=50)
    w = RNG.uniform(size=50)
    for kw in [{}, {"bins": 7}, {"bins": 4, "range": (-1.0, 1.0)}, {"density": True},
               {"bins": np.array([-3.0, -1.0, 0.0, 0.5, 3.0])}]:
        c, e = np.histogram(a, **kw)
        check(lambda x: jnp.histogram(x, **kw), (c.astype(np.float64), e), a)
    check(lambda x, v: jnp.histogram(x, bins=5, weights=v), np.histogram(a, bins=5, weights=w),
          a, w)
    # Integer data: float counts, as in JAX.
    ints = np.array([1, 2, 2, 3])
    c, e = jnp.histogram(ints, bins=3)
    close((c, e), (np.histogram(ints, bins=3)[0].astype(float), np.histogram(ints, bins=3)[1]))


def test_histogram2d():
    x, y = RNG.normal(size=40), RNG.normal(size=40)
    w = RNG.uniform(size=40)
    want = np.histogram2d(x, y, bins=(3, 4))
    got = jnp.histogram2d(x, y, bins=(3, 4))
    close(got[0], want[0].astype(np.int64))
    close(got[1:], want[1:])
    check(lambda a, b, v: jnp.histogram2d(a, b, bins=5, weights=v, density=True),
          np.histogram2d(x, y, bins=5, weights=w, density=True), x, y, w)


def test_bincount_digitize():
    x = np.array([0, 3, 3, 1, 7, 3])
    w = RNG.normal(size=6)
    close(jnp.bincount(x), np.bincount(x))
    close(jnp.bincount(x, w, minlength=10), np.bincount(x, w, minlength=10))
    close(jax.jit(lambda a: jnp.bincount(a, length=9))(x), np.bincount(x, minlength=9))
    with pytest.raises(ConcretizationTypeError, match="length="):
        jax.jit(jnp.bincount)(x)
    v = RNG.uniform(-1, 5, 30)
    for bins in (np.array([0.0, 1, 2.5, 4]), np.array([4.0, 2.5, 1, 0])):
        for right in (False, True):
            check(lambda a, b: jnp.digitize(a, b, right=right),
                  np.digitize(v, bins, right=right).astype(np.int32), v, bins)


# --- insert, delete, index helpers ----------------------------------------------------------

@pytest.mark.parametrize("obj,values,axis", [
    (2, 9, None), (1, [7, 8], None), ([0, 2, 2], [5, 6, 7], None), (1, [7, 8], 1),
    (1, [[7], [8]], 1), ([0, 3], [[7], [8]], 1), (slice(0, 3, 2), 1, 0), (-1, 4, 1)])
def test_insert(obj, values, axis):
    x = np.arange(6).reshape(2, 3)
    close(jnp.insert(x, obj, values, axis=axis), np.insert(x, obj, values, axis=axis))
    if isinstance(obj, (int, list)):
        close(jax.jit(lambda a, o: jnp.insert(a, o, values, axis=axis))(x, np.array(obj)),
              np.insert(x, obj, values, axis=axis))


@pytest.mark.parametrize("obj,axis", [(1, None), ([0, 2], 1), (slice(0, 2), 0), (-1, 1),
                                      ([], None)])
def test_delete(obj, axis):
    x = np.arange(12).reshape(3, 4)
    close(jnp.delete(x, obj, axis=axis), np.delete(x, obj, axis=axis))


def test_delete_traced():
    x = np.arange(12).reshape(3, 4)
    obj = np.array([3, 0])
    f = jax.jit(lambda a, o: jnp.delete(a, o, axis=1, assume_unique_indices=True))
    close(f(x, obj), np.delete(x, obj, axis=1))
    with pytest.raises(ConcretizationTypeError, match="assume_unique_indices"):
        jax.jit(lambda a, o: jnp.delete(a, o))(x, obj)


def test_unravel_ravel_multi_index():
    shape = (3, 4, 5)
    idx = np.array([0, 7, 59, 33])
    check(lambda i: jnp.unravel_index(i, shape), np.unravel_index(idx, shape), idx)
    # Out-of-range flat indices are clipped (JAX), negative ones count from the end.
    close(jnp.unravel_index(np.array([70, -1]), shape), np.unravel_index([59, 59], shape))
    multi = np.unravel_index(idx, shape)
    close(jnp.ravel_multi_index(multi, shape), np.ravel_multi_index(multi, shape))
    bad = (np.array([1, 4]), np.array([-1, 2]), np.array([7, 0]))
    for mode in ("wrap", "clip"):
        for order in ("C", "F"):
            check(lambda a, b, c: jnp.ravel_multi_index((a, b, c), shape, mode=mode, order=order),
                  np.ravel_multi_index(bad, shape, mode=mode, order=order), *bad)
    with pytest.raises(ValueError, match="invalid entry"):
        jnp.ravel_multi_index(bad, shape)
    with pytest.raises(ConcretizationTypeError, match="mode='wrap'"):
        jax.jit(lambda a: jnp.ravel_multi_index((a, a, a), shape))(idx)


def test_ix_grids_triangles():
    a, b = np.array([0, 2]), np.array([1, 2, 3])
    close(jnp.ix_(a, b), np.ix_(a, b))
    with pytest.raises(NotImplementedError):
        jnp.ix_(np.array([True, False]))
    close(jnp.mgrid[0:3, 1:5:2], np.mgrid[0:3, 1:5:2])
    close(jnp.mgrid[0:1:5j], np.mgrid[0:1:5j])
    close(jnp.ogrid[0:3, 0:2:0.5], np.ogrid[0:3, 0:2:0.5])
    for k in (-1, 0, 2):
        close(jnp.tril_indices(4, k), np.tril_indices(4, k))
        close(jnp.triu_indices(4, k, 5), np.triu_indices(4, k, 5))
        close(jnp.tril_indices_from(np.ones((3, 5)), k), np.tril_indices_from(np.ones((3, 5)), k))
        close(jnp.triu_indices_from(np.ones((5, 3)), k), np.triu_indices_from(np.ones((5, 3)), k))


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("bitorder", ["big", "little"])
def test_pack_unpack_bits(axis, bitorder):
    x = RNG.integers(0, 2, (3, 11)).astype(bool)
    packed = np.packbits(x, axis=axis, bitorder=bitorder)
    check(lambda a: jnp.packbits(a, axis=axis, bitorder=bitorder), packed, x)
    check(lambda a: jnp.unpackbits(a, axis=axis, bitorder=bitorder),
          np.unpackbits(packed, axis=axis, bitorder=bitorder), packed)
    for count in (5, -3, 30):
        want = np.unpackbits(packed, axis=axis, count=count, bitorder=bitorder)
        close(jnp.unpackbits(packed, axis=axis, count=count, bitorder=bitorder), want)


# --- set operations -------------------------------------------------------------------------

def test_set_operations_eager():
    a = np.array([5, 3, 1, 3, 9, 1])
    b = np.array([3, 7, 9, 9, 0])
    close(jnp.setdiff1d(a, b), np.setdiff1d(a, b))
    close(jnp.union1d(a, b), np.union1d(a, b))
    close(jnp.intersect1d(a, b), np.intersect1d(a, b))
    close(jnp.intersect1d(a, b, return_indices=True), np.intersect1d(a, b, return_indices=True))


def test_set_operations_jit_size():
    a = np.array([5, 3, 1, 3, 9, 1])
    b = np.array([3, 7, 9, 9, 0])
    d = np.setdiff1d(a, b)
    got = jax.jit(lambda x, y: jnp.setdiff1d(x, y, size=5))(a, b)
    close(got, np.concatenate([d, np.zeros(5 - d.size, np.int64)]))
    got = jax.jit(lambda x, y: jnp.setdiff1d(x, y, size=5, fill_value=-1))(a, b)
    close(got, np.concatenate([d, -np.ones(5 - d.size, np.int64)]))
    u = np.union1d(a, b)
    got = jax.jit(lambda x, y: jnp.union1d(x, y, size=9))(a, b)
    close(got, np.concatenate([u, np.full(9 - u.size, u[0])]))
    i, i1, i2 = np.intersect1d(a, b, return_indices=True)
    got = jax.jit(lambda x, y: jnp.intersect1d(x, y, size=4, return_indices=True))(a, b)
    k = 4 - i.size
    close(got, (np.concatenate([i, np.full(k, i[0])]), np.concatenate([i1, np.full(k, a.size)]),
                np.concatenate([i2, np.full(k, b.size)])))
    with pytest.raises(ConcretizationTypeError):
        jax.jit(jnp.setdiff1d)(a, b)


# --- polynomials, gcd/lcm -------------------------------------------------------------------

def test_polyval():
    p = RNG.normal(size=5)
    x = RNG.normal(size=(2, 3))
    check(jnp.polyval, np.polyval(p, x), p, x)
    close(jnp.polyval(np.array([1, 2, 3]), 2), np.array(11))
    check_grad(lambda c: jnp.sum(jnp.polyval(c, x)), p)
    check_grad(lambda v: jnp.sum(jnp.polyval(p, v)), x)


def test_polyfit_roots():
    x = np.linspace(-1, 2, 12)
    y = np.stack([1 - 2 * x + 0.5 * x ** 3, x ** 2], 1) + RNG.normal(size=(12, 2)) * 0.01
    w = RNG.uniform(0.5, 1.5, 12)
    check(lambda a, b: jnp.polyfit(a, b, 3), np.polyfit(x, y, 3), x, y, rtol=1e-8, atol=1e-10)
    check(lambda a, b: jnp.polyfit(a, b, 2, w=w), np.polyfit(x, y[:, 0], 2, w=w), x, y[:, 0],
          rtol=1e-8, atol=1e-10)
    p = np.array([0.0, 2.0, -3.0, -11.0, 6.0, 0.0])
    want = np.sort_complex(np.roots(p))
    np.testing.assert_allclose(np.sort_complex(np.asarray(jnp.roots(p))), want, atol=1e-9)
    assert jnp.roots(p).dtype == np.complex128
    q = p[1:-1]
    got = jax.jit(lambda c: jnp.roots(c, strip_zeros=False))(q)
    np.testing.assert_allclose(np.sort_complex(np.asarray(got)), np.sort_complex(np.roots(q)),
                               atol=1e-9)


def test_gcd_lcm():
    a = RNG.integers(-60, 60, 40)
    b = RNG.integers(-60, 60, 40)
    a[:3], b[:3] = 0, [0, 5, 0]
    check(jnp.gcd, np.gcd(a, b), a, b)
    check(jnp.lcm, np.lcm(a, b), a, b)
    s = a.astype(np.int8)
    check(lambda u: jnp.gcd(u, np.int8(12)), np.gcd(s, np.int8(12)), s)
    with pytest.raises(TypeError, match="integers"):
        jnp.gcd(1.5, 2)


# --- vectorize, vmap ------------------------------------------------------------------------

def test_vectorize():
    f = jnp.vectorize(lambda a, b: a * b + 1)
    x, y = RNG.normal(size=(3, 1)), RNG.normal(size=4)
    check(f, x * y + 1, x, y)
    g = jnp.vectorize(lambda u, v: jnp.dot(u, v), signature="(n),(n)->()")
    m = RNG.normal(size=(2, 3, 4))
    check(g, m @ y, m, y)
    h = jnp.vectorize(lambda a, k: a ** k, excluded={1})
    check(lambda a: h(a, 3), y ** 3, y)


def test_vmap_matches_loop():
    xs = RNG.normal(size=(4, 6))
    xp = np.arange(6.0)
    fs = [lambda r: jnp.diff(r, n=2), lambda r: jnp.trapezoid(r),
          lambda r: jnp.interp(r, xp, xp ** 2), lambda r: jnp.polyval(r[:3], r[3:])]
    for f in fs:
        close(jax.vmap(f)(xs), np.stack([np.asarray(f(r)) for r in xs]))
    ints = RNG.integers(0, 5, (3, 7))
    close(jax.vmap(lambda r: jnp.bincount(r, length=6))(ints),
          np.stack([np.bincount(r, minlength=6) for r in ints]))
    close(jax.vmap(jnp.gcd)(ints * 6, ints[::-1] * 4), np.gcd(ints * 6, ints[::-1] * 4))

    def padded(r):
        d = np.setdiff1d(r, [1, 2])
        return np.concatenate([d, np.full(7 - d.size, -1)])
    close(jax.jit(jax.vmap(lambda r: jnp.setdiff1d(r, np.array([1, 2]), size=7, fill_value=-1)))(
        ints), np.stack([padded(r) for r in ints]))


# --- jitcore.ops segment reductions ---------------------------------------------------------

@pytest.mark.parametrize("name", ["segment_sum", "segment_prod", "segment_max", "segment_min"])
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_segment_ops(name, dtype):
    from jitcore.ops import segment_max  # noqa: F401  (the dotted import works too)
    data = (RNG.normal(size=(9, 2)) * 5).astype(dtype)
    ids = np.array([0, 0, 2, 2, 2, -1, 5, 1, 7])
    n = 6
    ufunc = {"segment_sum": np.add, "segment_prod": np.multiply, "segment_max": np.maximum,
             "segment_min": np.minimum}[name]
    ident = {"segment_sum": 0, "segment_prod": 1,
             "segment_max": -np.inf if dtype == np.float64 else np.iinfo(dtype).min,
             "segment_min": np.inf if dtype == np.float64 else np.iinfo(dtype).max}[name]

    def ref(data, ids, n):
        want = np.full((n, 2), ident, dtype)
        for d, s in zip(data, ids):
            if 0 <= s < n:    # out-of-range ids (negative too) are dropped
                want[s] = ufunc(want[s], d)
        return want

    fn = getattr(jax.ops, name)
    check(lambda d, s: fn(d, s, num_segments=n), ref(data, ids, n), data, ids)
    close(fn(data[:5], ids[:5]), ref(data[:5], ids[:5], 3))
    with pytest.raises(ConcretizationTypeError, match="num_segments"):
        jax.jit(fn)(data, ids)
