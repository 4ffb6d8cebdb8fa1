"""Eager primitives on large arrays and eager random samplers run compiled kernels
(jitcore.eager): their results equal the jitted program's and the NumPy float64 reference,
samplers give JAX's samples, small arrays, traces and `disable_jit` keep the reference, and
the caches behave under threads."""
import threading

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import eager, random
from ops.core import PRIMITIVES

N = eager.MIN_PRIMITIVE_SIZE + 17       # odd, and above the compile threshold


def _compiled_calls():
    return eager.stats()["compiled_calls"]


def _data(dtype, n=N, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(n).astype(dtype)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 2 ** 31, n).astype(dtype)
    return rng.integers(-1000, 1000, n).astype(dtype)


UNARY = [("exp", jnp.exp, np.exp), ("tanh", jnp.tanh, np.tanh), ("log", jnp.log, np.log),
         ("sqrt", jnp.sqrt, np.sqrt), ("sin", jnp.sin, np.sin), ("neg", jnp.negative, np.negative)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,jf,nf", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float_matches_numpy_and_jit(name, jf, nf, dtype):
    x = _data(dtype)
    x[5] = np.nan
    before = _compiled_calls()
    with np.errstate(invalid="ignore", divide="ignore"):
        want = nf(x.astype(np.float64))
    got = jf(jnp.asarray(x))
    assert _compiled_calls() == before + 1
    assert got.dtype == dtype and got.shape == x.shape
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(np.asarray(got), want, rtol=rtol, atol=rtol)
    assert np.isnan(np.asarray(got)[5])
    np.testing.assert_array_equal(np.asarray(got), np.asarray(jitcore.jit(jf)(x)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint32])
def test_binary_and_comparisons(dtype):
    a, b = _data(dtype, seed=1), _data(dtype, seed=2)
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    before = _compiled_calls()
    np.testing.assert_array_equal(np.asarray(ja + jb), a + b)
    np.testing.assert_array_equal(np.asarray(ja * jb), a * b)
    np.testing.assert_array_equal(np.asarray(jnp.maximum(ja, jb)), np.maximum(a, b))
    np.testing.assert_array_equal(np.asarray(ja < jb), a < b)
    assert _compiled_calls() == before + 4


def test_integer_shifts_and_weak_scalars():
    a = _data(np.uint32)
    got = jnp.left_shift(jnp.asarray(a), 3) | jnp.right_shift(jnp.asarray(a), 29)
    np.testing.assert_array_equal(np.asarray(got), (a << np.uint32(3)) | (a >> np.uint32(29)))
    y = jnp.asarray(_data(np.float32)) * 2.5    # a weak Python scalar keeps float32
    assert y.dtype == np.float32 and not y.aval.weak_type


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_reductions(dtype):
    x = _data(dtype).reshape(N, 1)           # a size-1 axis, and one of odd size
    before = _compiled_calls()
    np.testing.assert_allclose(np.asarray(jnp.sum(x, axis=0)),
                               x.astype(np.float64).sum(0), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(jnp.max(x, axis=1)), x.max(1))
    np.testing.assert_array_equal(np.asarray(jnp.min(x)), x.min())
    assert _compiled_calls() == before + 3


def test_max_propagates_nan():
    x = _data(np.float64)
    x[N // 2] = np.nan
    assert np.isnan(float(jnp.max(jnp.asarray(x))))
    assert np.isnan(float(jnp.sum(jnp.asarray(x))))
    assert float(jnp.argmax(jnp.asarray(x))) == N // 2   # argmax keeps NumPy's reference


def test_empty_and_small_arrays_keep_the_reference():
    before = _compiled_calls()
    x = jnp.ones(3)
    np.testing.assert_array_equal(np.asarray(x + x), np.full(3, 2.0))
    e = jnp.zeros((0, N))
    assert jnp.exp(e).shape == (0, N)
    assert float(jnp.sum(e)) == 0.0
    assert _compiled_calls() == before


def test_disable_jit_runs_the_reference():
    x = _data(np.float64)
    before = _compiled_calls()
    with jitcore.disable_jit():
        got = jnp.exp(jnp.asarray(x))
        r = random.normal(random.PRNGKey(0), (2048,))
    assert _compiled_calls() == before
    np.testing.assert_array_equal(np.asarray(got), np.exp(x))   # NumPy's own exp, bit for bit
    np.testing.assert_allclose(np.asarray(r), np.asarray(random.normal(random.PRNGKey(0), (2048,))),
                               rtol=1e-14, atol=1e-15)


def test_inside_traces_the_hook_stays_out():
    x = _data(np.float64)

    @jitcore.jit
    def f(v):
        with jitcore.ensure_compile_time_eval():
            c = jnp.exp(jnp.asarray(x))       # concrete: computed while tracing
        return v + c

    np.testing.assert_allclose(np.asarray(f(x)), x + np.exp(x), rtol=1e-13)
    g = jitcore.grad(lambda v: jnp.sum(jnp.exp(v)))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g), np.exp(x), rtol=1e-13)


def test_unhashable_params_use_the_reference():
    assert eager._primitive_function(PRIMITIVES["add"], {"odd": [1, 2]}) is None


def test_a_failing_compile_falls_back(monkeypatch):
    def broken(fun, **options):
        def call(*args):
            raise RuntimeError("no kernel")
        return call
    eager.clear()
    monkeypatch.setattr(eager, "_jit", broken)
    x = _data(np.float64)
    got = jnp.cos(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(got), np.cos(x))
    assert eager.stats()["fallbacks"] == 1
    jnp.cos(jnp.asarray(x))                 # remembered: no second try
    assert eager.stats()["fallbacks"] == 1
    monkeypatch.undo()
    eager.clear()


# --- random samplers ------------------------------------------------------------------------

# JAX 0.10.2 (x64), key PRNGKey(42), shape (5000,), at these indices.
IDX = [0, 1, 1023, 2047, 3000, 4999]
JAX_NORMAL = [-0.18471174528191162, -2.169824560397754, 0.8022740386585597,
              -1.4563667129016982, -0.5659325187506773, -1.3256406544285892]
JAX_UNIFORM32 = [0.48870956897735596, 0.6797971725463867, 0.04945993423461914,
                 0.6174250841140747, 0.7151477336883545, 0.3599897623062134]
JAX_BITS32 = [2098992034, 2919706841, 212429189, 2651820859, 3071536623, 1546144289]
JAX_BITS64 = [7871734211187709741, 276886910877598708, 14550842855578375166,
              1340075458508059836, 5270600530647253678, 1705943393282355291]


def test_samplers_give_jax_samples_compiled():
    k = random.PRNGKey(42)
    before = eager.stats()["samplers"]
    n = random.normal(k, (5000,))
    u = random.uniform(k, (5000,), dtype=np.float32)
    b = random.bits(k, (5000,), dtype=np.uint32)
    b64 = random.bits(k, (5000,))
    assert eager.stats()["samplers"] > before or before >= 3
    np.testing.assert_allclose(np.asarray(n)[IDX], JAX_NORMAL, rtol=1e-14)
    np.testing.assert_array_equal(np.asarray(u)[IDX], np.float32(JAX_UNIFORM32))
    np.testing.assert_array_equal(np.asarray(b)[IDX], np.uint32(JAX_BITS32))
    np.testing.assert_array_equal(np.asarray(b64)[IDX], np.uint64(JAX_BITS64))


@pytest.mark.parametrize("shape", [(1024,), (33, 65), (3, 1, 1025)])
def test_samplers_eager_equal_jit_and_reference(shape):
    k = random.PRNGKey(7)
    for fn, dtype in [(random.normal, np.float64), (random.normal, np.float32),
                      (random.uniform, np.float64), (random.bits, np.uint32)]:
        eager_out = np.asarray(fn(k, shape, dtype))
        jit_out = np.asarray(jitcore.jit(fn, static_argnums=(1, 2))(k, shape, dtype))
        np.testing.assert_array_equal(eager_out, jit_out)
        with jitcore.disable_jit():
            ref = np.asarray(fn(k, shape, dtype))        # NumPy, op by op
        if fn is random.normal:   # log1p and sqrt may round differently from NumPy's
            np.testing.assert_allclose(eager_out, ref, rtol=1e-6 if dtype == np.float32 else 1e-14,
                                       atol=1e-6 if dtype == np.float32 else 1e-14)
        else:
            np.testing.assert_array_equal(eager_out, ref)


def test_samplers_under_vmap_and_jit_still_trace():
    keys = random.split(random.PRNGKey(3), 4)
    sample = jitcore.vmap(lambda k: random.normal(k, (2048,)))
    jitted = jitcore.jit(sample)(keys)
    eager_vmap = sample(keys)        # a transform outside jit: NumPy references
    for i in range(4):
        one = np.asarray(random.normal(keys[i], (2048,)))
        np.testing.assert_array_equal(np.asarray(jitted[i]), one)
        np.testing.assert_allclose(np.asarray(eager_vmap[i]), one, rtol=1e-14, atol=1e-15)


def test_other_samplers_use_compiled_bits():
    k = random.PRNGKey(1)
    e = np.asarray(random.exponential(k, (4096,)))
    with jitcore.disable_jit():
        ref = np.asarray(random.exponential(k, (4096,)))
    np.testing.assert_allclose(e, ref, rtol=1e-14)


# --- threads --------------------------------------------------------------------------------

def test_threads_share_one_compile_per_signature():
    eager.clear()
    x = _data(np.float64)
    want_exp = np.exp(x)
    k = random.PRNGKey(5)
    with jitcore.disable_jit():
        want_normal = np.asarray(random.normal(k, (3000,)))
    errors = []
    barrier = threading.Barrier(6)

    def work(i):
        try:
            barrier.wait()
            for _ in range(3):
                np.testing.assert_allclose(np.asarray(jnp.exp(jnp.asarray(x))), want_exp,
                                           rtol=1e-13)
                np.testing.assert_allclose(np.asarray(random.normal(k, (3000,))), want_normal,
                                           rtol=1e-14, atol=1e-14)
        except Exception as e:   # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    st = eager.stats()
    assert st["fallbacks"] == 0 and st["primitives"] == 1 and st["samplers"] == 1
    exp_fn = next(iter(eager._by_primitive.values()))
    info = exp_fn.cache_info()
    assert info.compiles == 1 and info.hits + info.misses == 18


def test_views_keep_the_reference():
    x = _data(np.float64)
    before = _compiled_calls()
    b = jnp.broadcast_to(jnp.asarray(x[:1]), (N,))     # a stride-0 view in NumPy
    np.testing.assert_array_equal(np.asarray(b * jnp.asarray(x)), x[0] * x)
    m = _data(np.float64, n=256 * 513).reshape(256, 513)
    t = jnp.transpose(jnp.asarray(m))                   # a transposed view in NumPy
    np.testing.assert_array_equal(np.asarray(jnp.exp(t)), np.exp(m.T))
    assert _compiled_calls() == before
