"""Dynamic axes by bucketing: exact results at every size, compile counts, automatic dynamic
axes, and the fallback to exact shapes when a program depends on a size's value.

References are the unbucketed function run by the interpreter at the exact shape (or NumPy),
at sizes around the bucket edges."""
from __future__ import annotations

import cloudpickle
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import config, lax
from jitcore.bucketing import bucket_of

SIZES = [0, 1, 2, 3, 63, 64, 65, 1000]


def reference(f, *args):
    return jax.jit(f, backend="interp", auto_dynamic=0)(*args)


def check_exact(f, make_args, sizes=SIZES, dynamic_axes=None, bucketed=True, **kw):
    """`f` with dynamic axes equals the interpreter at each size (tight: float64 data)."""
    g = jax.jit(f, dynamic_axes=dynamic_axes or {0: 0}, **kw)
    for n in sizes:
        args = make_args(n)
        got, want = g(*args), reference(f, *args)
        got_l, want_l = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
        assert len(got_l) == len(want_l)
        for a, b in zip(got_l, want_l):
            a, b = np.asarray(a), np.asarray(b)
            assert a.shape == b.shape, (n, a.shape, b.shape)
            assert a.dtype == b.dtype, (n, a.dtype, b.dtype)
            if a.dtype.kind == "f":
                # float32 math (exp, ...) may differ from NumPy's by an ulp, bucketed or not.
                tol = 1e-12 if a.dtype == np.float64 else 1e-6
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"n={n}")
            else:
                np.testing.assert_array_equal(a, b, err_msg=f"n={n}")
    info = g.cache_info()
    if bucketed:
        assert info.exact_fallbacks == 0, "a bucket fell back to exact shapes"
        big = [s for s in sizes if s >= 2]
        assert set(info.buckets.get("x.shape[0]", ())) == {bucket_of(s, None)[1] for s in big}
    return g


def rows(n, cols=3, seed=0):
    rng = np.random.default_rng(seed + n)
    return (rng.standard_normal((n, cols)),)


# Every reduction and shape op along the dynamic axis (axis 0 of x, n rows).
ALONG = {
    "sum": lambda x: x.sum(0),
    "sum_all": lambda x: jnp.sum(x),
    "mean": lambda x: x.mean(0),
    "mean_all": lambda x: jnp.mean(x),
    "var": lambda x: x.var(0),
    "std_ddof1": lambda x: jnp.std(x, 0, ddof=1),
    "max": lambda x: x.max(0),
    "min": lambda x: jnp.min(x, 0),
    "prod": lambda x: jnp.prod(1 + 0.01 * x, 0),
    "argmax": lambda x: jnp.argmax(x, 0),
    "argmin": lambda x: jnp.argmin(x, 0),
    "any_all": lambda x: (jnp.any(x > 1.5, 0), jnp.all(x > -2.5, 0)),
    "softmax": lambda x: jax.nn.softmax(x, axis=0),
    "log_softmax": lambda x: jax.nn.log_softmax(x, axis=0),
    "logsumexp": lambda x: jax.scipy.special.logsumexp(x, axis=0),
    "cumsum": lambda x: jnp.cumsum(x, 0),
    "cumprod": lambda x: jnp.cumprod(1 + 0.01 * x, 0),
    "cummax": lambda x: lax.cummax(x, 0),
    "cumsum_reverse": lambda x: lax.cumsum(x, 0, reverse=True),
    "sort": lambda x: jnp.sort(x, 0),
    "argsort": lambda x: jnp.argsort(x[:, 0]),
    "concat_static_after": lambda x: jnp.concatenate([x, jnp.ones((2, 3))], 0),
    "concat_static_before": lambda x: jnp.concatenate([jnp.full((2, 3), 7.0), x, x], 0),
    "broadcast_row": lambda x: x * jnp.array([1.0, 2.0, 3.0]) + x[:, :1],
    "reshape_merge": lambda x: x.reshape(-1),
    "reshape_merge_sum": lambda x: jnp.cumsum(x.reshape(-1)),
    "reshape_split": lambda x: x.reshape(-1)[:, None].reshape(x.shape[0], 3, 1).sum(-1),
    "contract": lambda x: x.T @ x,
    "matmul_free": lambda x: x @ jnp.arange(6.0).reshape(3, 2),
    "layernorm_pool": lambda x: ((x - x.mean(-1, keepdims=True))
                                 / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5)).mean(0),
    "arange_weights": lambda x: (jnp.arange(x.shape[0]) * x[:, 0]).sum(),
    "divide_by_size": lambda x: x.sum(0) / x.shape[0],
    "transpose_sum": lambda x: jnp.sum(x.T, axis=1),
}


# Undefined on zero rows (exact shapes raise there too).
NEEDS_A_ROW = {"max", "min", "argmax", "argmin", "logsumexp", "softmax", "log_softmax"}


@pytest.mark.parametrize("name", sorted(ALONG))
def test_exact_along_dynamic_axis(name):
    f = ALONG[name]
    check_exact(lambda x: f(x), rows, sizes=SIZES[1:] if name in NEEDS_A_ROW else SIZES)


def test_nan_and_inf_along_dynamic_axis():
    def make(n):
        x = rows(n)[0]
        if n > 2:
            x[n // 2, 0] = np.nan
            x[n // 3, 1] = -np.inf
        return (x,)
    check_exact(lambda x: (x.max(0), x.argmax(0), jnp.sort(x, 0), x.sum(0)), make,
                sizes=SIZES[1:])


def test_slices_and_indexing_of_the_dynamic_axis():
    # x[0] reads a row every size has; x[-1] and x[-3:] read at the true end.
    check_exact(lambda x: (x[0], x[:, 1], x[1:].sum(0), x[-1], x[-3:].sum(0), x[1:-1].max(0)),
                rows, sizes=[3, 4, 5, 63, 64, 65, 1000])


def test_integer_and_float32_data():
    check_exact(lambda x: (x.sum(0), x.max(0), jnp.sort(x, 0), jnp.argmin(x, 0)),
                lambda n: (np.random.default_rng(n).integers(-50, 50, (n, 4)),), sizes=SIZES[1:])
    check_exact(lambda x: (jax.nn.softmax(x, 0), x.mean(0)),
                lambda n: (np.random.default_rng(n).standard_normal((n, 5)).astype(np.float32),),
                sizes=[2, 5, 9])


def test_two_dynamic_arguments_and_axes():
    def f(x, mask):
        s = jnp.where(mask, x @ x.T, -1e9)
        return jax.nn.softmax(s, axis=-1) @ x, mask.sum()

    def make(n):
        x = rows(n, 4)[0]
        mask = np.tril(np.ones((n, n), bool))
        return x, mask

    check_exact(f, make, sizes=[0, 1, 2, 3, 17, 64, 65],
                dynamic_axes={"x": 0, "mask": (0, 1)})


def test_unequal_sizes_are_separate_symbols():
    def f(x, y):
        return x.sum(0) + y.mean(0), jnp.concatenate([x, y], 0)
    g = jax.jit(f, dynamic_axes={"x": 0, "y": 0})
    for n, m in [(5, 7), (7, 5), (6, 6), (33, 2), (2, 33)]:
        x, y = rows(n)[0], rows(m, seed=9)[0]
        for a, b in zip(g(x, y), reference(f, x, y)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    assert g.cache_info().exact_fallbacks == 0


def test_unequal_sizes_that_must_match_raise_like_exact_shapes():
    g = jax.jit(lambda x, y: x + y, dynamic_axes={"x": 0, "y": 0})
    with pytest.raises(Exception, match="shape|broadcast"):
        g(np.ones((5, 2)), np.ones((6, 2)))
    np.testing.assert_array_equal(g(np.ones((5, 2)), np.ones((5, 2))), np.full((5, 2), 2.0))


def test_pytree_argument_and_keyword_name():
    def f(batch, scale=1.0):
        return (batch["a"] * batch["b"]).sum(0) * scale
    g = jax.jit(f, dynamic_axes={"batch": 0})
    for n in [3, 4, 7, 100]:
        b = {"a": rows(n)[0], "b": rows(n, seed=3)[0]}
        np.testing.assert_allclose(g(b, scale=2.0), 2 * (b["a"] * b["b"]).sum(0), rtol=1e-12)
    assert g.cache_info().buckets == {"batch['a'].shape[0]": (4, 8, 128)}


def test_outputs_come_back_at_their_true_size():
    g = jax.jit(lambda x: (x * 2, jnp.concatenate([x, x], 0), x.sum()),
                dynamic_axes={"x": 0})
    x = np.arange(10.0).reshape(5, 2)
    a, b, c = g(x)
    assert a.shape == (5, 2) and b.shape == (10, 2) and c.shape == ()
    np.testing.assert_array_equal(b, np.concatenate([x, x]))


# --- compile counts -------------------------------------------------------------------------

def transformer_block(x, wq, wk, wv, wo):
    """Matmul, softmax over the sequence, layer norm, mean pooling; linear in the length (the
    quadratic attention block runs in benchmarks/variable_length.py and the example)."""
    q, v = x @ wq, x @ wv
    weights = jax.nn.softmax(q @ wk, axis=0)            # over the sequence
    h = x + (weights * v) @ wo
    mu = h.mean(-1, keepdims=True)
    h = (h - mu) / jnp.sqrt(((h - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
    return h.mean(0)


def _weights(d=8):
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32) for _ in range(4)]


def test_lengths_1_to_1000_compile_at_most_12_times_with_dynamic_axes():
    ws = _weights()
    g = jax.jit(transformer_block, dynamic_axes={"x": 0})
    rng = np.random.default_rng(0)
    xs = {n: rng.standard_normal((n, 8)).astype(np.float32) for n in range(1, 1001)}
    for n in range(1, 1001):
        out = g(xs[n], *ws)
        if n in (1, 2, 3, 63, 64, 65, 1000):
            want = reference(transformer_block, xs[n], *ws)
            np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-5)
    info = g.cache_info()
    assert info.compiles <= 12, info
    assert info.buckets == {"x.shape[0]": (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)}
    assert info.hits == 1000 - info.misses


def test_lengths_1_to_1000_compile_at_most_15_times_automatically():
    ws = _weights()
    g = jax.jit(transformer_block)
    rng = np.random.default_rng(0)
    order = rng.permutation(np.arange(1, 1001))
    for n in order:
        g(rng.standard_normal((n, 8)).astype(np.float32), *ws)
    assert g.cache_info().compiles <= 15, g.cache_info()


def test_custom_buckets():
    g = jax.jit(lambda x: x.sum(0), dynamic_axes={"x": 0}, buckets=[16, 64])
    for n in [2, 10, 16, 17, 64, 65, 200]:
        np.testing.assert_allclose(g(np.ones((n, 2))), [n, n])
    assert g.cache_info().buckets == {"x.shape[0]": (16, 64, 128, 256)}
    assert bucket_of(17, (16, 64)) == (17, 64)
    assert bucket_of(65, (16, 64)) == (65, 128)
    assert bucket_of(2, None) == (2, 2) and bucket_of(3, None) == (3, 4)
    assert bucket_of(1000, None) == (513, 1024)


def test_sizes_0_and_1_get_their_own_specializations():
    g = jax.jit(lambda x: x.sum(0), dynamic_axes={"x": 0})
    np.testing.assert_array_equal(g(np.ones((0, 2))), [0, 0])
    np.testing.assert_array_equal(g(np.ones((1, 2))), [1, 1])
    assert g.cache_info().buckets == {} and g.cache_info().compiles == 2


# --- automatic dynamic axes -----------------------------------------------------------------

def test_third_size_makes_the_axis_dynamic(capsys):
    g = jax.jit(lambda x, w: (x @ w).sum(0))
    w = np.ones((3, 2))
    with config.override(explain_cache_misses=1):
        for n in [5, 6, 7]:
            g(np.ones((n, 3)), w)
        assert g.cache_info().buckets == {}
        for n in [9, 10, 11, 12, 13]:
            np.testing.assert_allclose(g(np.ones((n, 3)), w), [3 * n, 3 * n])
    out = capsys.readouterr().out
    assert "axis 0 of x is dynamic from now on (sizes 5, 6, 7 seen)" in out
    assert "bucket 9..16" in out
    assert g.cache_info().compiles == 4     # 5, 6, 7 exact, then one bucket
    assert g.cache_info().buckets == {"x.shape[0]": (16,)}


def test_automatic_detection_needs_nothing_else_changed_and_can_be_off():
    g = jax.jit(lambda x, w: (x @ w).sum(0))
    g(np.ones((5, 3)), np.ones((3, 2)))
    g(np.ones((6, 3)), np.ones((3, 4)))      # two leaves changed: not counted
    g(np.ones((7, 3)), np.ones((3, 5)))
    g(np.ones((9, 3)), np.ones((3, 5)))
    assert g.cache_info().buckets == {}
    off = jax.jit(lambda x: x.sum(0), auto_dynamic=0)
    for n in range(2, 8):
        off(np.ones((n, 2)))
    assert off.cache_info().compiles == 6 and off.cache_info().buckets == {}
    with config.override(auto_dynamic=0):
        h = jax.jit(lambda x: x.sum(0))
        for n in range(2, 8):
            h(np.ones((n, 2)))
        assert h.cache_info().compiles == 6


# --- fallback on size-dependent Python ------------------------------------------------------

def test_python_loop_over_the_size_falls_back_to_exact_shapes(capsys):
    def f(x):
        total = 0.0
        for i in range(x.shape[0]):
            total = total + x[i, 0] * i
        return total
    g = jax.jit(f, dynamic_axes={"x": 0})
    with config.override(explain_cache_misses=1):
        for n in [3, 4, 5, 7]:
            x = rows(n)[0]
            np.testing.assert_allclose(g(x), sum(x[i, 0] * i for i in range(n)), rtol=1e-12)
    out = capsys.readouterr().out
    # x[i] with i up to the capacity asks whether i < n: the bucket cannot say.
    assert "falls back to exact shapes" in out and "compares" in out
    info = g.cache_info()
    assert info.exact_fallbacks == 2 and info.buckets == {}


def test_size_used_as_a_python_int_is_caught_by_the_second_trace(capsys):
    def f(x):
        return x.sum(0) * len(range(x.shape[0]))   # len() makes a plain int of the size
    g = jax.jit(f, dynamic_axes={"x": 0})
    with config.override(explain_cache_misses=1):
        for n in [3, 4, 6]:
            x = rows(n)[0]
            np.testing.assert_allclose(g(x), x.sum(0) * n, rtol=1e-12)
    out = capsys.readouterr().out
    assert "changes with the size itself" in out and "Python int" in out
    assert g.cache_info().exact_fallbacks == 2


def test_size_dependent_branch_falls_back_only_where_the_bucket_is_split(capsys):
    def f(x):
        return x.sum() if x.shape[0] > 40 else -x.sum()
    g = jax.jit(f, dynamic_axes={"x": 0})
    with config.override(explain_cache_misses=1):
        for n in [5, 6, 39, 40, 41, 64, 100]:
            x = rows(n)[0]
            np.testing.assert_allclose(g(x), x.sum() if n > 40 else -x.sum(), rtol=1e-12)
    out = capsys.readouterr().out
    assert "compares (>)" in out and "x.shape[0]" in out and "test_bucketing.py:" in out
    info = g.cache_info()
    assert info.exact_fallbacks == 1          # bucket 33..64 only
    assert info.buckets == {"x.shape[0]": (8, 128)}


def test_unsupported_data_movement_falls_back_and_stays_exact():
    g = jax.jit(lambda x: jnp.flip(x, 0).cumsum(0), dynamic_axes={"x": 0})
    for n in [3, 5, 6]:
        x = rows(n)[0]
        np.testing.assert_allclose(g(x), np.cumsum(x[::-1], 0), rtol=1e-12)
    assert g.cache_info().exact_fallbacks == 2


# --- errors and transforms ------------------------------------------------------------------

def test_bad_dynamic_axes_are_clear_errors():
    with pytest.raises(TypeError, match="dynamic_axes"):
        jax.jit(lambda x: x, dynamic_axes=[0])
    with pytest.raises(ValueError, match="bucket sizes must be >= 2"):
        jax.jit(lambda x: x, buckets=[1, 4])
    g = jax.jit(lambda x: x.sum(), dynamic_axes={"x": 2})
    with pytest.raises(ValueError, match=r"axis 2 of x, which has shape \(4, 3\)"):
        g(np.ones((4, 3)))


def test_grad_under_dynamic_axes():
    def loss(w, x):
        return jnp.mean(jnp.tanh(x @ w) ** 2)
    g = jax.jit(jax.grad(loss), dynamic_axes={"x": 0})
    w = np.linspace(-1, 1, 6).reshape(3, 2)
    for n in [2, 3, 17, 64]:
        x = rows(n)[0]
        eps = 1e-6
        fd = np.zeros_like(w)
        for idx in np.ndindex(*w.shape):
            d = np.zeros_like(w)
            d[idx] = eps
            fd[idx] = (np.mean(np.tanh(x @ (w + d)) ** 2)
                       - np.mean(np.tanh(x @ (w - d)) ** 2)) / (2 * eps)
        np.testing.assert_allclose(g(w, x), fd, rtol=1e-6, atol=1e-9)


def test_pickled_function_keeps_its_dynamic_axes():
    g = jax.jit(lambda x: x.mean(0), dynamic_axes={"x": 0}, buckets=[8, 32])
    h = cloudpickle.loads(cloudpickle.dumps(g))
    for n in [3, 9]:
        np.testing.assert_allclose(h(np.arange(2.0 * n).reshape(n, 2)),
                                   np.arange(2.0 * n).reshape(n, 2).mean(0))
    assert h.cache_info().buckets == {"x.shape[0]": (8, 32)}


def test_padded_rows_are_not_computed():
    """Values whose padded rows nothing reads carry their true row count to the backend
    (ir.Shape.valid_rows); masks along the leading axis, whose fill a dot contracting it
    reads unless it stops at the true size, do not (the CPU backend skips them only where
    every reader is such a GEMM: `cpu.render`'s `dot_bounded`)."""
    g = jax.jit(lambda x: (jax.nn.softmax(x @ x.T, axis=-1) @ x).sum(0),
                dynamic_axes={"x": 0})
    x = rows(37)[0]
    np.testing.assert_allclose(g(x), reference(lambda x: (jax.nn.softmax(x @ x.T, axis=-1)
                                                          @ x).sum(0), x), rtol=1e-12)
    (entry,) = [e for e in g._cache.values() if getattr(e, "buckets", ())]
    optimized = entry.executable.optimized.entry.instructions
    hinted = [i for i in optimized if getattr(i.shape, "valid_rows", None)]
    assert hinted, "no value skips its padded rows"
    size_param = entry.module.entry.parameters[0].attrs["index"]
    assert all(i.shape.valid_rows == (size_param, 1, 0) for i in hinted)
    row_masks = 0
    for i in optimized:
        if i.opcode == "fusion" and i.called[0].root.opcode == "select":
            pos = i.called[0].root.operands[0]
            if pos.opcode == "lt" and pos.operands[0].opcode == "iota" and \
                    pos.operands[0].attrs["dimension"] == 0:
                row_masks += 1
                assert i.shape.valid_rows is None   # its zeros are padding a dot reads
    assert row_masks == 1    # x's rows, zeroed for the product contracting them


# Compositions: a shape-keeping op along the dynamic axis, then a reduction over it.
KEEP = {
    "cumsum": lambda x: jnp.cumsum(x, 0),
    "softmax": lambda x: jax.nn.softmax(x, axis=0),
    "sort": lambda x: jnp.sort(x, 0),
    "rowwise": lambda x: jnp.tanh(x) * x[:, :1],
    "concat_trim": lambda x: jnp.concatenate([x, -x], 0)[1:],
    "reshape_roundtrip": lambda x: x.reshape(-1).reshape(x.shape[0], -1) ** 2,
    "gram": lambda x: (x @ x.T) @ x / x.shape[0],
}
REDUCE = {
    "sum": lambda y: y.sum(0),
    "max": lambda y: y.max(0),
    "argmin": lambda y: jnp.argmin(y, 0),
    "var": lambda y: y.var(0),
}


@pytest.mark.parametrize("keep", sorted(KEEP))
def test_compositions_stay_exact(keep):
    rng = np.random.default_rng(len(keep))
    red = REDUCE[sorted(REDUCE)[rng.integers(len(REDUCE))]]
    f = KEEP[keep]
    check_exact(lambda x: red(f(x)), rows, sizes=[2, 5, 64, 65])


def test_symbolic_sizes_answer_only_what_the_bucket_decides():
    from ops.dims import Dim, SizeDependentError, Symbol, SymbolTable
    t = SymbolTable([Symbol("n", 33, 64, 0), Symbol("m", 2, 2, 1)])
    n, m = t.dim(t.symbols[0]), t.dim(t.symbols[1])
    assert int(n) == 64 and isinstance(n, int)
    k = 4 * n + 3
    assert type(k) is Dim and int(k) == 259 and k.text() == "4*n + 3"
    assert (k - 3) // 4 == n and (k - 3) % 4 == 0 and (n * m * 6) // (n * 2) == 3 * m
    assert n - n == 0 and type(n - n) is int
    assert n != 1 and n > 32 and n <= 64 and not (n < 33) and n == n and m == 2
    assert (n, 4) == (t.dim(t.symbols[0]), 4)
    assert n > 10.5 and n > np.int64(5) and type(n + np.int64(3)) is Dim and bool(n)
    for question in (lambda: n > 40, lambda: n == 50, lambda: n // 3, lambda: n / 2,
                     lambda: (n + 1) % 2, lambda: float(n), lambda: n > 40.5,
                     lambda: bool(n - 40), lambda: n * n - 100 * n > 0):
        with pytest.raises(SizeDependentError, match="dynamic size n"):
            question()
