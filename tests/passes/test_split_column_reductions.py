"""`passes/split_column_reductions.py`: a large sum/max/min over the leading axis becomes two
halves of rows reduced at once and a reduction of the two results. Checked against NumPy in
float64, on the optimized program's text (the rewrite happens exactly where it should), and
across thread counts (the halves are fixed by the shape: the same bits on 1 or 2 threads)."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import config
from xla_like.passes import split_column_reductions as split
from tests.backends.test_cuda_runtime import emulated, runtime  # noqa: F401  (fixtures)

RNG = np.random.default_rng(5)
# 8 MiB of float32: the smallest operand the pass splits.
X = RNG.standard_normal((1024, 2048)).astype(np.float32)


def _hlo(f, *args):
    return jitcore.jit(f).lower(*args).compile().as_text("hlo")


def _reductions(text):
    return sum(line.count(" reduce_") for line in text.splitlines() if "=" in line)


def test_a_large_leading_sum_is_two_halves():
    assert split.MIN_BYTES == X.nbytes
    text = _hlo(lambda a: jnp.sum(a, axis=0), X)
    assert "f32[2,512,2048] reshape" in text and _reductions(text) == 2, text
    small = _hlo(lambda a: jnp.sum(a, axis=0), X[:512])          # 4 MiB
    odd = _hlo(lambda a: jnp.sum(a, axis=0), X[:1023])           # odd leading size
    # bfloat16 (8 MiB too): a sum rounds once from its float32 accumulator, not per half
    both = _hlo(lambda a: jnp.sum(a, axis=(0, 1)), X)            # not only the leading axis
    half = _hlo(lambda a: jnp.sum(a, axis=0), np.tile(X.astype(jnp.bfloat16), (2, 1)))
    for t in (small, odd, both, half):
        assert _reductions(t) == 1 and "[2,5" not in t and "[2,1024" not in t, t


@pytest.mark.parametrize("name", ["sum", "max", "min", "mean", "var"])
def test_results_match_numpy(name):
    x = X.copy()
    x[700, 3] = np.nan
    x[10, 4] = np.inf
    got = np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))(x))
    with np.errstate(invalid="ignore"):
        want = getattr(np, name)(x.astype(np.float64), axis=0)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4, equal_nan=True)


def test_rank_three_integers_and_float64():
    xi = RNG.integers(-1000, 1000, size=(512, 4, 1024)).astype(np.int32)
    np.testing.assert_array_equal(np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(xi)),
                                  xi.sum(0, dtype=np.int32))
    np.testing.assert_array_equal(np.asarray(jitcore.jit(lambda a: jnp.max(a, axis=0))(xi)),
                                  xi.max(0))
    xd = RNG.standard_normal((1024, 1024))
    np.testing.assert_allclose(np.asarray(jitcore.jit(lambda a: jnp.sum(a, axis=0))(xd)),
                               xd.sum(0), rtol=1e-12, atol=1e-12)


def test_the_same_bits_on_one_or_two_threads():
    got = []
    for threads in (1, 2):
        with config.override(num_threads=threads):
            f = jitcore.jit(lambda a: (jnp.sum(a, axis=0), jnp.var(a, axis=0)))
            got.append([np.asarray(v) for v in f(X)])
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


def test_bucketed_programs_are_left_alone():
    g = jitcore.jit(lambda a: jnp.sum(a, axis=0), dynamic_axes={0: 0})
    for n in (1030, 1100):
        x = RNG.standard_normal((n, 2048)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(g(x)), x.astype(np.float64).sum(0), rtol=2e-5,
                                   atol=2e-4)
    texts = [e.executable.as_text("hlo") for e in g._cache.values()]
    assert texts and all(_reductions(t) == 1 for t in texts)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_split_and_keep_numpys_first_best_row(name):
    x = X.copy()
    # Ties across the halves keep the earlier row; the first NaN wins, in either half.
    x[100, 0] = x[600, 0] = 50.0 * (1 if name == "argmax" else -1)
    x[100, 1] = x[600, 1] = np.nan                          # NaN in both halves: the first
    x[700, 2] = np.nan                                      # NaN in the second half only
    x[3, 3] = np.nan                                        # NaN in the first half only
    x[600, 4] = x[900, 4] = 60.0 * (1 if name == "argmax" else -1)   # tie within a half
    x[:, 5] = 7.0                                           # a constant column: row 0
    f = jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))
    text = f.lower(x).compile().as_text("hlo")
    assert "f32[2,512,2048] reshape" in text and " gather(" in text, text
    got = np.asarray(f(x))
    want = getattr(np, name)(x, axis=0)
    np.testing.assert_array_equal(got, want)
    assert list(got[:6]) == [100, 100, 700, 3, 600, 0]


def test_arg_reductions_of_integers_float64_and_rank_three():
    xi = RNG.integers(-50, 50, size=(512, 4, 1024)).astype(np.int32)   # many ties
    xd = RNG.standard_normal((1024, 1024))
    xd[800:, 7] = 10.0
    for x in (xi, xd):
        for name in ("argmax", "argmin"):
            np.testing.assert_array_equal(
                np.asarray(jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0))(x)),
                getattr(np, name)(x, axis=0))
    for threads in (1, 2):
        with config.override(num_threads=threads):
            np.testing.assert_array_equal(
                np.asarray(jitcore.jit(lambda a: jnp.argmax(a, axis=0))(X)), np.argmax(X, 0))


@pytest.mark.parametrize("name", ["sum", "argmax", "argmin"])
def test_split_programs_on_the_cuda_backend(name, runtime, monkeypatch):
    # The pass runs in the CUDA pipeline too: small operands split here (MIN_BYTES 0).
    monkeypatch.setattr(split, "MIN_BYTES", 0)
    x = RNG.standard_normal((512, 3)).astype(np.float32)
    x[[10, 300], 0] = 9.0                   # a tie across the halves
    x[400, 1] = np.nan                      # the second half's NaN
    f = jitcore.jit(lambda a: getattr(jnp, name)(a, axis=0), backend="cuda")
    assert "f32[2,256,3] reshape" in f.lower(x).compile().as_text("hlo")
    got = np.asarray(f(x))
    with np.errstate(invalid="ignore"):
        want = getattr(np, name)(x.astype(np.float64), axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, equal_nan=True)
