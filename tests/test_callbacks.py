"""Host callbacks: `debug.print`/`callback`/`breakpoint`, `pure_callback`, `io_callback`.

What a callback prints or records is compared with the values computed by NumPy or a Python
loop; results of `pure_callback` with NumPy calling the same function directly.
"""
from __future__ import annotations

import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore.experimental import io_callback
from ops.callbacks import CallbackError
from ops.errors import JitcoreError


class SDS:
    """The shape and dtype of a result (what `ShapeDtypeStruct` holds)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


# --- debug.print ---------------------------------------------------------------------------

def _show(x):
    jax.debug.print("x = {}", x)
    jax.debug.print("s = {s}", s=x.sum())
    return x * 2


def test_print_eager_and_jit(capsys):
    x = np.array([0.5, 1.0, 2.0])
    for run in (_show, jax.jit(_show)):
        np.testing.assert_array_equal(np.asarray(run(x)), x * 2)
        assert _lines(capsys) == [f"x = {x}", f"s = {x.sum()}"]


def test_print_runs_at_every_call_not_at_trace():
    seen = []
    f = jax.jit(lambda x: (jax.debug.callback(seen.append, x), x + 1)[1])
    f(np.float64(1.0))
    f(np.float64(2.0))
    assert [float(v) for v in seen] == [1.0, 2.0]


def test_print_is_kept_and_never_merged(capsys):
    def f(x):
        jax.debug.print("v {}", x)
        jax.debug.print("v {}", x)   # same text, same operand: both print
        return x
    text = jax.jit(f).lower(np.float64(3.0)).as_text()
    assert text.count("host_callback") == 2
    jax.jit(f)(np.float64(3.0))
    assert _lines(capsys) == ["v 3.0", "v 3.0"]


def test_print_under_vmap_once_per_element(capsys):
    xs = np.arange(6.0).reshape(2, 3)
    out = jax.jit(jax.vmap(_show))(xs)
    np.testing.assert_array_equal(np.asarray(out), xs * 2)
    assert _lines(capsys) == [f"x = {xs[0]}", f"x = {xs[1]}",
                              f"s = {xs[0].sum()}", f"s = {xs[1].sum()}"]


def test_print_eager_vmap_and_jvp(capsys):
    xs = np.array([[1.0, 2.0], [3.0, 4.0]])
    jax.vmap(lambda x: _show(x))(xs)
    assert _lines(capsys) == [f"x = {xs[0]}", f"x = {xs[1]}",
                              f"s = {xs[0].sum()}", f"s = {xs[1].sum()}"]
    out, tan = jax.jvp(_show, (xs[0],), (np.ones(2),))
    np.testing.assert_array_equal(np.asarray(tan), [2.0, 2.0])
    assert _lines(capsys) == [f"x = {xs[0]}", f"s = {xs[0].sum()}"]


def test_print_under_grad_shows_forward_values(capsys):
    x = np.array([1.0, -2.0])
    for g in (jax.grad(lambda x: _show(x).sum()), jax.jit(jax.grad(lambda x: _show(x).sum()))):
        np.testing.assert_array_equal(np.asarray(g(x)), [2.0, 2.0])
        assert _lines(capsys) == [f"x = {x}", f"s = {x.sum()}"]


def test_print_each_loop_iteration(capsys):
    def body(i, c):
        jax.debug.print("i={} c={}", i, c)
        k = jnp.float64(7.0)
        jax.debug.print("const {}", k * 2)   # loop-invariant, still printed every step
        return c + 1.0
    out = jax.jit(lambda c: jax.lax.fori_loop(0, 3, body, c))(np.float64(1.0))
    assert float(out) == 4.0
    want = []
    for i in range(3):
        want += [f"i={i} c={1.0 + i}", "const 14.0"]
    assert _lines(capsys) == want


def test_print_format_errors_at_the_call():
    with pytest.raises(ValueError, match="names the field"):
        jax.debug.print("{y}", x=1.0)
    with pytest.raises(ValueError, match="no argument"):
        jax.debug.print("{} {}", 1.0)


def test_debug_callback_pytrees_and_static_leaves():
    got = []
    def record(d, tag, *, scale):
        got.append((tag, float(d["a"]) * float(scale), d["b"].tolist()))
    f = jax.jit(lambda a, b: (jax.debug.callback(record, {"a": a, "b": b}, "t", scale=a), a)[1])
    f(np.float64(3.0), np.array([1, 2], np.int32))
    assert got == [("t", 9.0, [1, 2])]


def test_breakpoint_backend_sees_frame_arrays():
    seen = []
    def f(x):
        y = x * 3.0
        jax.debug.breakpoint(backend=seen.append)
        return y
    jax.jit(f)(np.array([1.0, 2.0]))
    assert set(seen[0]) == {"x", "y"}
    np.testing.assert_array_equal(seen[0]["y"], [3.0, 6.0])


def test_visualize_array_sharding_one_device(capsys):
    jax.debug.visualize_array_sharding(jnp.arange(4.0))
    lines = _lines(capsys)
    assert len(lines) == 3 and "CPU 0" in lines[1]


# --- pure_callback -------------------------------------------------------------------------

def test_pure_callback_values_and_pytrees():
    x = np.array([0.3, -1.2, 2.0])
    def host(v, *, k):
        return {"sin": np.sin(v) * k, "n": np.array(v.size, np.int64)}
    shapes = {"sin": SDS(x.shape, x.dtype), "n": SDS((), np.int64)}
    f = jax.jit(lambda v: jax.pure_callback(host, shapes, v, k=2.0))
    out = f(x)
    np.testing.assert_allclose(np.asarray(out["sin"]), 2.0 * np.sin(x), rtol=1e-15)
    assert int(out["n"]) == 3 and np.asarray(out["n"]).dtype == np.int64


def test_pure_callback_unused_result_is_dropped():
    calls = []
    def host(v):
        calls.append(1)
        return v
    f = jax.jit(lambda v: (jax.pure_callback(host, SDS((), np.float64), v), v + 1)[1])
    assert "pure_callback" not in f.lower(np.float64(1.0)).as_text()
    f(np.float64(1.0))
    assert calls == []


@pytest.mark.parametrize("bad, needle", [
    (lambda v: v.astype(np.float32), "f32"),
    (lambda v: np.concatenate([v, v]), "f64[6]"),
])
def test_pure_callback_result_must_match_declaration(bad, needle):
    f = jax.jit(lambda v: jax.pure_callback(bad, SDS((3,), np.float64), v))
    with pytest.raises(CallbackError, match="declared") as e:
        f(np.zeros(3))
    assert needle in str(e.value)


def test_error_inside_callback_surfaces_at_the_call():
    def boom(v):
        raise RuntimeError("host failure 42")
    f = jax.jit(lambda v: jax.pure_callback(boom, SDS((), np.float64), v))
    with pytest.raises(RuntimeError, match="host failure 42"):
        f(np.float64(1.0))
    g = jax.jit(lambda v: (jax.debug.callback(boom, v), v)[1])
    with pytest.raises(RuntimeError, match="host failure 42"):
        g(np.float64(1.0))


@pytest.mark.parametrize("method", ["sequential", "expand_dims", "broadcast_all"])
def test_pure_callback_vmap_methods(method):
    xs = np.arange(6.0).reshape(2, 3)
    y = np.array([10.0, 20.0, 30.0])
    shapes_seen = []
    def host(a, b):
        shapes_seen.append((a.shape, b.shape))
        return a * b
    f = jax.vmap(lambda a: jax.pure_callback(host, SDS((3,), np.float64), a, y,
                                             vmap_method=method))
    out = np.asarray(jax.jit(f)(xs))
    np.testing.assert_array_equal(out, np.stack([xs[i] * y for i in range(2)]))
    want = {"sequential": [((3,), (3,))] * 2, "expand_dims": [((2, 3), (1, 3))],
            "broadcast_all": [((2, 3), (2, 3))]}[method]
    assert shapes_seen == want


def test_pure_callback_vmap_needs_a_method():
    f = jax.vmap(lambda a: jax.pure_callback(np.sin, SDS((), np.float64), a))
    with pytest.raises(JitcoreError, match="vmap_method"):
        f(np.arange(3.0))
    with pytest.raises(JitcoreError, match="vmap_method"):
        jax.pure_callback(np.sin, SDS((), np.float64), 1.0, vmap_method="loop")


def test_pure_callback_is_not_differentiable_unless_custom_jvp():
    f = lambda v: jax.pure_callback(np.sin, SDS((), np.float64), v)
    with pytest.raises(JitcoreError, match="custom_jvp"):
        jax.grad(f)(0.5)

    @jax.custom_jvp
    def sin(v):
        return jax.pure_callback(np.sin, SDS((), np.float64), v)

    @sin.defjvp
    def _(primals, tangents):
        (v,), (t,) = primals, tangents
        return sin(v), jax.pure_callback(np.cos, SDS((), np.float64), v) * t

    for g in (jax.grad(sin), jax.jit(jax.grad(sin))):
        np.testing.assert_allclose(float(g(0.5)), np.cos(0.5), rtol=1e-15)


# --- io_callback ---------------------------------------------------------------------------

def test_io_callback_runs_every_time_with_results():
    log = []
    def host(v):
        log.append(float(v))
        return np.asarray(len(log), np.int64)
    f = jax.jit(lambda v: io_callback(host, SDS((), np.int64), v))
    assert [int(f(np.float64(k))) for k in (5.0, 6.0)] == [1, 2]
    assert log == [5.0, 6.0]
    g = jax.jit(lambda v: (io_callback(host, SDS((), np.int64), v), v)[1])
    g(np.float64(7.0))   # result unused: still called
    assert log == [5.0, 6.0, 7.0]


def test_io_callback_under_vmap_is_sequential():
    log = []
    def host(v):
        log.append(v.tolist())
        return v * 2
    out = jax.vmap(lambda v: io_callback(host, SDS((2,), np.float64), v))(
        np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(np.asarray(out), np.arange(4.0).reshape(2, 2) * 2)
    assert log == [[0.0, 1.0], [2.0, 3.0]]
