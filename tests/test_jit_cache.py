"""jit: the Python body runs once per signature; hits, misses and keys behave like JAX's."""
from collections import namedtuple

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp


def counting(fn):
    calls = []

    def wrapped(*a, **k):
        calls.append(1)
        return fn(*a, **k)
    wrapped.__name__ = fn.__name__
    return wrapped, calls


def test_body_runs_once_per_signature():
    body, calls = counting(lambda x, y: x * y + 1)
    f = jc.jit(body)
    a, b = np.arange(4.0), np.ones(4)
    np.testing.assert_allclose(f(a, b), a * b + 1)
    f(a + 1, b)
    f(jnp.asarray(a), jnp.asarray(b))  # Arrays and ndarrays of one signature share an entry
    assert len(calls) == 1
    info = f.cache_info()
    assert (info.hits, info.misses, info.compiles) == (2, 1, 1)
    assert info.trace_seconds > 0 and info.compile_seconds >= 0


@pytest.mark.parametrize("other", [
    np.ones(5),                      # shape
    np.ones(4, np.float32),          # dtype
    np.ones((4, 1)),                 # rank
])
def test_shape_and_dtype_changes_miss(other):
    body, calls = counting(lambda x: x * 2)
    f = jc.jit(body)
    f(np.ones(4))
    f(other)
    assert len(calls) == 2
    assert f.cache_info().misses == 2


def test_weak_type_is_part_of_the_key():
    f = jc.jit(lambda x, y: x * y)
    x32 = np.ones(3, np.float32)
    out_weak = f(x32, 2.0)                     # Python float: weak, result stays f32
    out_strong = f(x32, np.float64(2.0))       # NumPy scalar: strong, promotes to f64
    assert out_weak.dtype == np.float32 and out_strong.dtype == np.float64
    assert f.cache_info().misses == 2
    f(x32, 3.0)                                # a different Python float: same key
    assert f.cache_info().misses == 2


def test_python_scalar_values_are_not_baked_in():
    f = jc.jit(lambda x, s: x + s)
    assert float(f(1.0, 2.0)) == 3.0
    assert float(f(1.0, 5.0)) == 6.0
    assert f.cache_info().compiles == 1


def test_pytree_structure_is_part_of_the_key():
    f = jc.jit(lambda t: jc.tree_util.tree_reduce(lambda a, b: a + b, t))
    f({"a": np.ones(2), "b": np.ones(2)})
    f({"a": np.ones(2), "c": np.ones(2)})
    f([np.ones(2), np.ones(2)])
    assert f.cache_info().misses == 3


def test_static_argnums_and_argnames():
    body, calls = counting(lambda x, n, scale=1.0: x * n * scale)
    f = jc.jit(body, static_argnums=(1,))
    np.testing.assert_allclose(f(np.ones(2), 3), 3 * np.ones(2))
    f(np.ones(2), 3)
    f(np.ones(2), n=3)               # static by number implies static by name
    f(np.ones(2), 4)
    assert len(calls) == 3  # n=3 positional, n=3 keyword (another call form), n=4
    g = jc.jit(lambda x, mode: x + 1 if mode == "add" else x - 1, static_argnames="mode")
    assert float(g(1.0, mode="add")) == 2.0
    assert float(g(1.0, mode="sub")) == 0.0
    assert g.cache_info().misses == 2


def test_decorator_forms():
    @jc.jit
    def f(x):
        return x + 1

    @jc.jit(static_argnums=1)
    def g(x, k):
        return x * k

    assert float(f(1.0)) == 2.0
    assert float(g(2.0, 3)) == 6.0


def test_kwargs_are_dynamic_arguments():
    f = jc.jit(lambda x, y=None: x if y is None else x + y)
    assert float(f(1.0, y=2.0)) == 3.0
    assert float(f(1.0, y=5.0)) == 6.0
    assert f.cache_info().misses == 1


def test_outputs_follow_the_output_pytree():
    Pair = namedtuple("Pair", "a b")

    @jc.jit
    def f(x):
        return {"sum": x.sum(), "pair": Pair(x * 2, [x, None])}
    x = np.arange(3.0)
    out = f(x)
    assert isinstance(out["pair"], Pair)
    np.testing.assert_allclose(out["pair"].a, x * 2)
    assert out["pair"].b[1] is None
    assert isinstance(out["sum"], jc.Array)


def test_constant_outputs_and_non_array_outputs():
    f = jc.jit(lambda x: (x, 3.0, np.arange(2)))
    x, c, r = f(np.ones(1))
    assert isinstance(c, jc.Array) and c.weak_type and float(c) == 3.0
    np.testing.assert_array_equal(r, np.arange(2))
    with pytest.raises(jc.errors.InvalidArgumentError):
        jc.jit(lambda x: "text")(1.0)


def test_nested_jit_inlines():
    inner, inner_calls = counting(lambda x: jnp.sin(x) * 2)
    inner = jc.jit(inner)
    outer = jc.jit(lambda x: inner(x) + inner(x + 1))
    x = np.linspace(0, 1, 5)
    np.testing.assert_allclose(outer(x), np.sin(x) * 2 + np.sin(x + 1) * 2)
    text = jc.make_hlo(outer)(x).as_text()
    assert text.count("sin(") == 2  # the inner body is inlined into the outer IR


def test_lower_and_compile():
    f = jc.jit(lambda x: jnp.exp(x).sum())
    lowered = f.lower(np.ones(3, np.float32))
    text = lowered.as_text()
    assert "ENTRY" in text and "exp(" in text and "f32[3]" in text
    compiled = lowered.compile()
    np.testing.assert_allclose(compiled(np.zeros(3, np.float32)), 3.0)
    with pytest.raises(TypeError, match="f64\\[3\\]"):
        compiled(np.zeros(3))


def test_make_hlo_prints_the_example_from_the_readme():
    @jc.jit
    def predict(params, x):
        return jnp.tanh(x @ params["w"] + params["b"]).sum(axis=-1)
    params = {"w": np.random.randn(4, 3), "b": np.zeros(3)}
    x = np.random.randn(5, 4)
    np.testing.assert_allclose(predict(params, x), np.tanh(x @ params["w"]).sum(-1))
    text = str(jc.make_hlo(predict)(params, np.ones((5, 4))))
    assert "dot_general" in text and "ROOT" in text and 'name="params[\'w\']"' in text
    assert "test_jit_cache.py:" in text  # the user's source line as a trailing comment


def test_donated_arrays_are_deleted():
    f = jc.jit(lambda x: x + 1, donate_argnums=0)
    x = jnp.ones(3)
    y = f(x)
    np.testing.assert_allclose(y, 2 * np.ones(3))
    assert x.is_deleted()
    with pytest.raises(RuntimeError, match="deleted"):
        np.asarray(x)


def test_results_do_not_alias_writable_inputs():
    a = np.arange(4.0)
    out = jc.jit(lambda x: x)(a)
    out2 = jc.jit(lambda x: x.reshape(2, 2))(a)
    a[0] = 100.0
    assert float(out[0]) == 0.0 and float(out2[0, 0]) == 0.0
    assert a.flags.writeable  # the caller's array is untouched


def test_jitted_method_binds_self():
    class Scaler:
        def __init__(self, k):
            self.k = k

        def __hash__(self):
            return hash(self.k)

        def __eq__(self, other):
            return isinstance(other, Scaler) and other.k == self.k

        @jc.jit(static_argnums=0)
        def apply(self, x):
            return x * self.k

    assert float(Scaler(3.0).apply(2.0)) == 6.0
    assert float(Scaler(4.0).apply(2.0)) == 8.0


def test_explain_cache_misses_says_what_changed(capsys):
    import jitcore as jc
    f = jc.jit(lambda x, n, params: x.sum() * n + params["w"].sum(), static_argnums=1)
    p = {"w": np.ones(3)}
    with jc.config.override(explain_cache_misses=1):
        f(np.ones(3), 2, p)
        f(np.ones(3), 2, p)                        # a hit: nothing printed
        f(np.ones(4), 2, p)
        f(np.ones(4, np.float32), 2, p)
        f(np.ones(4, np.float32), 3, p)
        f(np.ones(4, np.float32), 3, {"w": np.ones(3), "b": 1.0})
        f(np.ones(4, np.float32), 3, {"w": np.ones(5)})
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("jitcore:")]
    assert len(lines) == 6
    assert "first call" in lines[0]
    assert "x is f64[4] (before: f64[3])" in lines[1]
    assert "x is f32[4] (before: f64[4])" in lines[2]
    assert "static arguments 1=3 (before: 1=2)" in lines[3]
    assert "structure changed" in lines[4]
    assert "params['w'] is f64[5] (before: f64[3])" in lines[5]
    f(np.ones(7), 2, p)
    assert capsys.readouterr().out == ""           # off again outside the override


def test_jax_keywords_donate_argnames_keep_unused_device():
    f = jc.jit(lambda a, b: a * 2 + b, donate_argnames="a", keep_unused=True)
    x = jnp.ones(3)
    np.testing.assert_array_equal(np.asarray(f(x, 1.0)), np.full(3, 3.0))
    assert x.is_deleted()                      # donated by name, as donate_argnums=0 would
    with pytest.raises(ValueError, match="donate_argnames"):
        jc.jit(lambda a: a, donate_argnames="nope")
    g = jc.jit(lambda a: a + 1, device=jc.devices()[0])
    np.testing.assert_array_equal(np.asarray(g(np.ones(2))), np.full(2, 2.0))
