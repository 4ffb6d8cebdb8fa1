"""jitcore.random: threefry bits against known-answer vectors and a NumPy reference, JAX's key
derivation, determinism across eager / jit / the interpreter, vmap over keys, dtypes, error
messages, and statistical checks of every sampler with fixed seeds.

Statistical tolerances come from the sample size: moments within 6 standard errors, the
Kolmogorov-Smirnov statistic below its asymptotic critical value at alpha = 1e-4, chi-square
below its (Wilson-Hilferty) quantile at alpha = 1e-4. Seeds are fixed, so these never flake.
"""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import random as jr
from ops.errors import ConcretizationTypeError, DtypeError, ShapeError

ALPHA = 1e-4
KEY = jr.PRNGKey(2024)

# --- a NumPy reference of threefry-2x32-20 and of JAX's key/bit derivation ------------------

_ROT = ((13, 15, 26, 6), (17, 29, 16, 24))


def np_threefry(k1, k2, x1, x2):
    """Threefry-2x32 with 20 rounds (Salmon et al., SC'11), in NumPy uint32 arithmetic."""
    k1, k2 = np.uint32(k1), np.uint32(k2)
    x1 = np.array(x1, np.uint32, copy=True)
    x2 = np.array(x2, np.uint32, copy=True)
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    with np.errstate(over="ignore"):
        x1 += ks[0]
        x2 += ks[1]
        for i in range(5):
            for r in _ROT[i % 2]:
                x1 += x2
                x2 = ((x2 << np.uint32(r)) | (x2 >> np.uint32(32 - r))) ^ x1
            x1 += ks[(i + 1) % 3]
            x2 += ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def np_bits32(key, n):
    """JAX's partitionable random bits: hash (0, i) for each index i, xor the two words."""
    b1, b2 = np_threefry(key[0], key[1], np.zeros(n, np.uint32), np.arange(n, dtype=np.uint32))
    return b1, b2


def np_uniform64(key, n):
    b1, b2 = np_bits32(key, n)
    bits = (b1.astype(np.uint64) << np.uint64(32)) | b2.astype(np.uint64)
    return ((bits >> np.uint64(12)) | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0


# Known-answer vectors of threefry2x32 with 20 rounds, from the Random123 distribution
# (Random123-1.x, tests/kat_vectors, lines "threefry2x32 20 <ctr0> <ctr1> <key0> <key1>
# <out0> <out1>").
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x243f6a88, 0x85a308d3), (0x13198a2e, 0x03707344), (0xc4923a9c, 0x483df7a0)),
]


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_threefry_known_answers(ctr, key, want):
    u = lambda v: jnp.asarray(np.uint32(v))  # noqa: E731
    got = jr.threefry2x32(u(key[0]), u(key[1]), u(ctr[0]), u(ctr[1]))
    assert tuple(int(g) for g in got) == want
    assert tuple(int(v) for v in np_threefry(key[0], key[1], ctr[0], ctr[1])) == want
    got_jit = jax.jit(jr.threefry2x32)(u(key[0]), u(key[1]), u(ctr[0]), u(ctr[1]))
    assert tuple(int(g) for g in got_jit) == want


def test_keys_follow_jax_derivation():
    assert jr.PRNGKey(0).dtype == np.uint32 and jr.PRNGKey(0).shape == (2,)
    for seed in (0, 42, 2 ** 40 + 5, -1, 2 ** 63 + 1):
        s = seed % 2 ** 64
        want = [s >> 32, s & 0xFFFFFFFF]
        np.testing.assert_array_equal(jr.PRNGKey(seed), want)
        np.testing.assert_array_equal(jr.key(seed), want)
    # A 32-bit seed array has no high word; int64 arrays keep their bits (under jit too).
    np.testing.assert_array_equal(jr.PRNGKey(np.int32(-1)), [0, 0xFFFFFFFF])
    np.testing.assert_array_equal(jax.jit(jr.PRNGKey)(np.int64(-2)), [0xFFFFFFFF, 0xFFFFFFFE])
    key = np.asarray(jr.PRNGKey(7))
    # split: the key hashes the counters (0, i); fold_in hashes (0, data).
    w1, w2 = np_threefry(key[0], key[1], np.zeros(3, np.uint32), np.arange(3, dtype=np.uint32))
    np.testing.assert_array_equal(jr.split(key, 3), np.stack([w1, w2], axis=1))
    assert jr.split(key, (2, 3)).shape == (2, 3, 2)
    np.testing.assert_array_equal(jr.split(key, (2, 3)).reshape(6, 2),
                                  np.asarray(jr.split(key, 6)))
    f1, f2 = np_threefry(key[0], key[1], 0, 1234)
    np.testing.assert_array_equal(jr.fold_in(key, 1234), [f1, f2])
    # The split of PRNGKey(0) begins with the all-zero known answer.
    np.testing.assert_array_equal(jr.split(jr.PRNGKey(0))[0], KAT[0][2])
    np.testing.assert_array_equal(jr.key_data(key), key)
    np.testing.assert_array_equal(jr.wrap_key_data(key), key)


def test_bits_and_uniform_match_the_numpy_reference():
    key = np.asarray(KEY)
    b1, b2 = np_bits32(key, 50)
    out = jr.bits(KEY, (5, 10), jnp.uint32)
    assert out.dtype == np.uint32
    np.testing.assert_array_equal(np.asarray(out).ravel(), b1 ^ b2)
    out64 = jr.bits(KEY, (50,))
    assert out64.dtype == np.uint64
    np.testing.assert_array_equal(out64, (b1.astype(np.uint64) << np.uint64(32)) | b2)
    np.testing.assert_array_equal(jr.bits(KEY, (50,), jnp.uint8), (b1 ^ b2).astype(np.uint8))
    u = jr.uniform(KEY, (50,))
    assert u.dtype == np.float64
    np.testing.assert_array_equal(u, np_uniform64(key, 50))
    u = jr.uniform(KEY, (10,), minval=-3.0, maxval=5.0)
    np.testing.assert_allclose(u, np.maximum(-3.0, np_uniform64(key, 10) * 8.0 - 3.0),
                               rtol=1e-15)
    # float32: the top 23 bits of the xor word become the mantissa.
    u32 = jr.uniform(KEY, (50,), jnp.float32)
    want = (((b1 ^ b2) >> np.uint32(9)) | np.uint32(0x3F800000)).view(np.float32) - 1
    assert u32.dtype == np.float32
    np.testing.assert_array_equal(u32, want)


# --- determinism: eager == jit (cpu) == jit (interp); vmap over keys == a loop ---------------

SAMPLERS = {
    "split": (lambda k: jr.split(k, 3), True),
    "fold_in": (lambda k: jr.fold_in(k, 99), True),
    "bits": (lambda k: jr.bits(k, (4, 3)), True),
    "uniform": (lambda k: jr.uniform(k, (7,), minval=-1.0, maxval=2.0), True),
    "normal": (lambda k: jr.normal(k, (2, 5)), False),
    "normal_f32": (lambda k: jr.normal(k, (9,), jnp.float32), False),
    "truncated_normal": (lambda k: jr.truncated_normal(k, -1.0, jnp.array([0.5, 3.0]),
                                                       (3, 2)), False),
    "randint": (lambda k: jr.randint(k, (11,), -4, 9), True),
    "randint_u8": (lambda k: jr.randint(k, (6,), 0, 256, jnp.uint8), True),
    "bernoulli": (lambda k: jr.bernoulli(k, 0.3, (10,)), True),
    "categorical": (lambda k: jr.categorical(k, jnp.array([[0.1, 2.0, -1.0], [1.0, 0.0, 0.5]])),
                    True),
    "categorical_no_replace": (lambda k: jr.categorical(
        k, jnp.array([0.1, 2.0, -1.0, 0.3]), shape=(3,), replace=False), True),
    "choice": (lambda k: jr.choice(k, jnp.arange(10.0) * 2, (4,)), True),
    "choice_p": (lambda k: jr.choice(k, 5, (6,), p=jnp.array([0.1, 0.2, 0.3, 0.2, 0.2])),
                 True),
    "choice_no_replace": (lambda k: jr.choice(k, 8, (5,), replace=False), True),
    "permutation": (lambda k: jr.permutation(k, jnp.arange(12).reshape(3, 4), axis=1), True),
    "gumbel": (lambda k: jr.gumbel(k, (5,)), False),
    "exponential": (lambda k: jr.exponential(k, (5,)), False),
    "multivariate_normal": (lambda k: jr.multivariate_normal(
        k, jnp.array([1.0, -1.0]), jnp.array([[2.0, 0.3], [0.3, 1.0]]), (3,)), False),
}


def _same(a, b, exact):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        # Transcendental functions may differ by an ulp between NumPy and the compiled code.
        np.testing.assert_allclose(a, b, rtol=4 * np.finfo(a.dtype).eps, atol=0)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_eager_jit_interp_agree(name):
    f, exact = SAMPLERS[name]
    eager = f(KEY)
    _same(eager, f(KEY), True)  # same key, same values
    _same(eager, jax.jit(f)(KEY), exact)
    _same(eager, jax.jit(f, backend="interp")(KEY), exact)


@pytest.mark.parametrize("name", ["uniform", "normal", "randint", "categorical", "choice_p",
                                  "permutation", "multivariate_normal", "fold_in"])
def test_vmap_over_split_keys_equals_a_loop(name):
    f, exact = SAMPLERS[name]
    keys = jr.split(KEY, 4)
    loop = np.stack([np.asarray(f(k)) for k in keys])
    _same(jax.vmap(f)(keys), loop, exact)
    _same(jax.jit(jax.vmap(f))(keys), loop, exact)


def test_keys_as_jit_arguments_and_in_pytrees():
    @jax.jit
    def step(state):
        key, sub = jr.split(state["key"])
        return {"key": key, "x": jr.normal(sub, (3,))}

    s1 = step({"key": KEY})
    k, sub = jr.split(KEY)
    np.testing.assert_array_equal(s1["key"], k)
    np.testing.assert_allclose(s1["x"], jr.normal(sub, (3,)), rtol=1e-15)
    assert not np.array_equal(step(s1)["x"], s1["x"])


# --- independence --------------------------------------------------------------------------

def test_split_keys_give_independent_streams():
    n = 20000
    k1, k2 = jr.split(KEY)
    assert not np.array_equal(k1, k2)
    a, b = np.asarray(jr.uniform(k1, (n,))), np.asarray(jr.uniform(k2, (n,)))
    # (fold_in(KEY, i) equals split(KEY)[i] by construction, in JAX too: use another i.)
    np.testing.assert_array_equal(jr.fold_in(KEY, 1), k2)
    c = np.asarray(jr.uniform(jr.fold_in(KEY, 1000), (n,)))
    assert not np.array_equal(a, b)
    # Correlation of independent samples: standard error 1/sqrt(n).
    bound = 5 / math.sqrt(n)
    for x, y in ((a, b), (a, c), (b, c), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x, y)[0, 1]) < bound
    # Splitting the same key again gives the same keys.
    np.testing.assert_array_equal(jr.split(KEY, 5), jr.split(KEY, 5))
    assert len({tuple(np.asarray(k)) for k in jr.split(KEY, 64)}) == 64


# --- statistics ----------------------------------------------------------------------------

def ks_statistic(samples, cdf):
    """Kolmogorov-Smirnov distance between the empirical CDF of `samples` and `cdf`."""
    x = np.sort(np.asarray(samples, np.float64))
    n = x.size
    f = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


def ks_critical(n, alpha=ALPHA):
    # The asymptotic Kolmogorov distribution: P(sqrt(n) D > c) ~ 2 exp(-2 c^2).
    return math.sqrt(-math.log(alpha / 2) / 2) / math.sqrt(n)


def chi2_critical(dof, alpha=ALPHA):
    # Wilson-Hilferty: (chi2 / dof)^(1/3) is nearly normal with mean 1 - 2/(9 dof).
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    h = 2 / (9 * dof)
    return dof * (1 - h + z * math.sqrt(h)) ** 3


def chi2_statistic(counts, probs):
    counts = np.asarray(counts, np.float64)
    expected = counts.sum() * np.asarray(probs, np.float64)
    return float(np.sum((counts - expected) ** 2 / expected))


_norm_cdf = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))


def check_moments(x, mean, var, mu4=None):
    x = np.asarray(x, np.float64)
    n = x.size
    assert abs(x.mean() - mean) < 6 * math.sqrt(var / n), (x.mean(), mean)
    mu4 = 3 * var ** 2 if mu4 is None else mu4
    assert abs(x.var() - var) < 6 * math.sqrt((mu4 - var ** 2) / n), (x.var(), var)


N = 40000


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_uniform_distribution(dtype):
    x = np.asarray(jr.uniform(KEY, (N,), dtype))
    assert x.dtype == dtype and x.min() >= 0 and x.max() < 1
    assert ks_statistic(x, lambda v: v) < ks_critical(N)
    check_moments(x, 0.5, 1 / 12, mu4=1 / 80)
    y = np.asarray(jr.uniform(KEY, (N,), dtype, minval=-2.0, maxval=3.0))
    assert y.min() >= -2 and y.max() < 3
    assert ks_statistic(y, lambda v: (v + 2) / 5) < ks_critical(N)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_normal_distribution(dtype):
    x = np.asarray(jr.normal(KEY, (N,), dtype))
    assert x.dtype == dtype and np.all(np.isfinite(x))
    assert ks_statistic(x, _norm_cdf) < ks_critical(N)
    check_moments(x, 0.0, 1.0)


def test_truncated_normal_distribution():
    lo, hi = -0.5, 1.5
    x = np.asarray(jr.truncated_normal(KEY, lo, hi, (N,)))
    assert x.min() > lo and x.max() < hi
    z = _norm_cdf(hi) - _norm_cdf(lo)
    assert ks_statistic(x, lambda v: (_norm_cdf(v) - _norm_cdf(lo)) / z) < ks_critical(N)
    # Bounds given as arrays broadcast against the shape; float32 stays float32.
    y = jr.truncated_normal(KEY, jnp.array([-1.0, 0.0]), 2.0, (5, 2), jnp.float32)
    assert y.dtype == np.float32 and y.shape == (5, 2)
    assert np.all(np.asarray(y)[:, 1] > 0)


def test_exponential_and_gumbel_distributions():
    x = np.asarray(jr.exponential(KEY, (N,)))
    assert x.min() >= 0
    assert ks_statistic(x, lambda v: -np.expm1(-v)) < ks_critical(N)
    check_moments(x, 1.0, 1.0, mu4=9.0)
    for mode in ("low", "high"):
        g = np.asarray(jr.gumbel(KEY, (N,), mode=mode))
        assert ks_statistic(g, lambda v: np.exp(-np.exp(-v))) < ks_critical(N)
        check_moments(g, np.euler_gamma, math.pi ** 2 / 6, mu4=(27 / 5) * (math.pi ** 2 / 6) ** 2)


def test_randint_bins_by_chi_square():
    x = np.asarray(jr.randint(KEY, (N,), -3, 7))
    assert x.dtype == np.int64 and x.min() >= -3 and x.max() < 7
    counts = np.bincount(x + 3, minlength=10)
    assert chi2_statistic(counts, np.full(10, 0.1)) < chi2_critical(9)
    # Per-element bounds, an empty range (always minval), a full uint8 range.
    y = np.asarray(jr.randint(KEY, (1000, 2), jnp.array([0, 100]), jnp.array([5, 101])))
    assert set(np.unique(y[:, 0])) == set(range(5)) and np.all(y[:, 1] == 100)
    np.testing.assert_array_equal(jr.randint(KEY, (4,), 5, 3), [5] * 4)
    z = np.asarray(jr.randint(KEY, (N,), 0, 256, jnp.uint8))
    assert z.dtype == np.uint8
    assert chi2_statistic(np.bincount(z, minlength=256), np.full(256, 1 / 256)) < \
        chi2_critical(255)


def test_bernoulli_frequencies():
    for p in (0.03, 0.5, 0.8):
        for mode in ("low", "high"):
            x = np.asarray(jr.bernoulli(KEY, p, (N,), mode=mode))
            assert x.dtype == np.bool_
            assert abs(x.mean() - p) < 6 * math.sqrt(p * (1 - p) / N)
    x = np.asarray(jr.bernoulli(KEY, jnp.array([0.0, 1.0, 0.5], jnp.float32)))
    assert x.shape == (3,) and not x[0] and x[1]


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def test_categorical_frequencies():
    logits = np.array([0.5, -1.0, 2.0, 0.0])
    x = np.asarray(jr.categorical(KEY, jnp.asarray(logits), shape=(N,)))
    assert x.dtype == np.int64 and x.shape == (N,)
    assert chi2_statistic(np.bincount(x, minlength=4), _softmax(logits)) < chi2_critical(3)
    # Batches along axis 0: one draw per column, shape = the other axes.
    lg = jnp.asarray(np.log(np.array([[0.9, 0.05], [0.1, 0.95]])))
    y = np.asarray(jr.categorical(KEY, lg, axis=0, shape=(N, 2)))
    assert abs((y[:, 0] == 0).mean() - 0.9) < 6 * math.sqrt(0.09 / N)
    assert abs((y[:, 1] == 1).mean() - 0.95) < 6 * math.sqrt(0.0475 / N)
    # Without replacement: distinct categories per row (int32 indices, as JAX's top_k).
    z = np.asarray(jr.categorical(KEY, jnp.zeros((5, 6)), shape=(4, 5), replace=False))
    assert z.dtype == np.int32 and z.shape == (4, 5)
    assert all(len(set(z[:, j])) == 4 for j in range(5))


def test_choice():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    x = np.asarray(jr.choice(KEY, 4, (N,), p=jnp.asarray(p)))
    assert chi2_statistic(np.bincount(x, minlength=4), p) < chi2_critical(3)
    u = np.asarray(jr.choice(KEY, 5, (N,)))
    assert chi2_statistic(np.bincount(u, minlength=5), np.full(5, 0.2)) < chi2_critical(4)
    a = np.arange(24.0).reshape(4, 6)
    s = np.asarray(jr.choice(KEY, jnp.asarray(a), (2, 3), replace=False, axis=1))
    assert s.shape == (4, 2, 3) and s.dtype == np.float64
    cols = s[0].ravel().astype(int)
    assert len(set(cols)) == 6
    np.testing.assert_array_equal(s, a[:, cols].reshape(4, 2, 3))
    w = np.asarray(jr.choice(KEY, 6, (4,), replace=False, p=jnp.asarray(np.full(6, 1 / 6))))
    assert len(set(w)) == 4
    assert jr.choice(KEY, 5, (0,)).shape == (0,)


def test_permutation():
    x = np.asarray(jr.permutation(KEY, 50))
    np.testing.assert_array_equal(np.sort(x), np.arange(50))
    assert not np.array_equal(x, np.arange(50))
    # Each position is uniform over values: first element over many keys.
    firsts = np.asarray(jax.vmap(lambda k: jr.permutation(k, 5)[0])(jr.split(KEY, 5000)))
    assert chi2_statistic(np.bincount(firsts, minlength=5), np.full(5, 0.2)) < chi2_critical(4)
    a = np.arange(20).reshape(4, 5)
    rows = np.asarray(jr.permutation(KEY, jnp.asarray(a)))
    assert sorted(map(tuple, rows)) == sorted(map(tuple, a))
    ind = np.asarray(jr.permutation(KEY, jnp.asarray(a), axis=1, independent=True))
    np.testing.assert_array_equal(np.sort(ind, axis=1), a)
    big = np.asarray(jr.permutation(KEY, 3000))  # two sorting rounds
    np.testing.assert_array_equal(np.sort(big), np.arange(3000))


@pytest.mark.parametrize("method", ["cholesky", "eigh", "svd"])
def test_multivariate_normal_covariance(method):
    mean = np.array([1.0, -2.0, 0.5])
    if method != "svd":
        cov = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
    else:
        # Rank 2, singular: singular values are never negative, so svd's factor serves it
        # (eigh's rounds the zero eigenvalue to -1e-16 here and gives NaN, as JAX's does).
        v = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
        cov = v.T @ v
    n = 20000
    x = np.asarray(jr.multivariate_normal(KEY, jnp.asarray(mean), jnp.asarray(cov), (n,),
                                          method=method))
    assert x.shape == (n, 3) and np.all(np.isfinite(x))
    # Standard error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n).
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n)
    assert np.all(np.abs(np.cov(x.T) - cov) < 6 * se + 1e-12)
    assert np.all(np.abs(x.mean(0) - mean) < 6 * np.sqrt(np.diag(cov) / n) + 1e-12)
    if method == "cholesky":
        # mean + L z with L the Cholesky factor and z the normal samples of the same key.
        z = np.asarray(jr.normal(KEY, (n, 3)))
        np.testing.assert_allclose(x, mean + z @ np.linalg.cholesky(cov).T, rtol=1e-12,
                                   atol=1e-12)


def test_result_dtypes():
    assert jr.uniform(KEY, (2,), jnp.float32).dtype == np.float32
    assert jr.uniform(KEY, (2,), jnp.float16).dtype == np.float16
    assert jr.normal(KEY, (), jnp.float32).dtype == np.float32
    assert jr.normal(KEY).shape == ()
    assert jr.exponential(KEY, (2,), "float32").dtype == np.float32
    assert jr.gumbel(KEY, (2,), jnp.float32).dtype == np.float32
    assert jr.truncated_normal(KEY, -1, 1, (2,), jnp.float32).dtype == np.float32
    assert jr.randint(KEY, (2,), 0, 5, jnp.int32).dtype == np.int32
    assert jr.randint(KEY, (2,), 0, 5, jnp.uint16).dtype == np.uint16
    assert jr.bits(KEY, (2,), jnp.uint16).dtype == np.uint16
    assert jr.choice(KEY, 5, (3,)).dtype == np.int64
    assert jr.permutation(KEY, 5).dtype == np.int64
    assert jr.multivariate_normal(KEY, jnp.zeros(2, jnp.float32),
                                  jnp.eye(2, dtype=jnp.float32)).dtype == np.float32
    assert jr.split(KEY).dtype == np.uint32 and jr.fold_in(KEY, 3).dtype == np.uint32
    assert jr.uniform(KEY, (0, 3)).shape == (0, 3)


# --- errors --------------------------------------------------------------------------------

def _raises(exc, fn, *words):
    with pytest.raises(exc) as e:
        fn()
    msg = str(e.value)
    for w in words + ("test_random.py",):
        assert w in msg, (w, msg)


def test_errors_name_the_function_and_the_shapes():
    _raises(DtypeError, lambda: jr.uniform(jnp.zeros(2), (2,)), "uniform", "f64[2]")
    _raises(ShapeError, lambda: jr.normal(jr.split(KEY), (2,)), "normal", "u32[2,2]", "vmap")
    _raises(ShapeError, lambda: jr.split(jnp.zeros(3, jnp.uint32)), "split", "u32[3]")
    _raises(ConcretizationTypeError,
            lambda: jax.jit(lambda n: jr.uniform(KEY, (n,)))(3), "uniform", "shape", "static")
    _raises(ShapeError, lambda: jr.uniform(KEY, (2,), minval=jnp.zeros(3)), "uniform",
            "minval (3,)", "(2,)")
    _raises(ShapeError, lambda: jr.randint(KEY, (4,), jnp.zeros(3, int), 5), "randint",
            "minval (3,)")
    _raises(ShapeError, lambda: jr.truncated_normal(KEY, jnp.zeros(2), 1.0, (3,)),
            "truncated_normal", "lower (2,)")
    _raises(DtypeError, lambda: jr.uniform(KEY, (2,), jnp.int32), "uniform", "int32")
    _raises(DtypeError, lambda: jr.randint(KEY, (2,), 0, 3, jnp.float32), "randint", "float32")
    _raises(DtypeError, lambda: jr.bits(KEY, (2,), jnp.int32), "bits", "int32")
    _raises(DtypeError, lambda: jr.bernoulli(KEY, 1), "bernoulli", "i64[]")
    _raises(DtypeError, lambda: jr.PRNGKey(1.5), "PRNGKey")
    _raises(ShapeError, lambda: jr.PRNGKey(jnp.arange(2)), "PRNGKey", "i64[2]")
    _raises(ShapeError, lambda: jr.fold_in(KEY, jnp.arange(2)), "fold_in", "i64[2]")
    _raises(ShapeError, lambda: jr.multivariate_normal(KEY, jnp.zeros(2), jnp.eye(3)),
            "multivariate_normal", "f64[3,3]")
    _raises(ShapeError, lambda: jr.choice(KEY, 4, (2,), p=jnp.ones(3) / 3), "choice", "f64[3]")
    with pytest.raises(ValueError, match="replace=False"):
        jr.choice(KEY, 3, (4,), replace=False)
    with pytest.raises(ValueError, match="method"):
        jr.multivariate_normal(KEY, jnp.zeros(2), jnp.eye(2), method="qr")
