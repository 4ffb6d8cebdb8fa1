"""Mistakes in what the user passes are clear errors at the line that made them, and a
compiler bug under dynamic axes is an error, never a silent fall back to exact shapes."""
import inspect

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import errors
from jitcore.batching import BatchingError
from xla_like import pipeline

FILE = "test_input_errors.py"


def _line_below(n):
    """`test_input_errors.py:LINE` of the line `n` lines below the caller."""
    return f"{FILE}:{inspect.currentframe().f_back.f_lineno + n}"


def _check(excinfo, *parts):
    msg = str(excinfo.value)
    for p in parts:
        assert p in msg, f"{p!r} not in message:\n{msg}"


def one(x):
    return x


def two(x, y, *, scale=1.0):
    return x * scale + y


def varargs(x, *rest):
    return x


def kwargs(x, **options):
    return x


# --- jit's options ------------------------------------------------------------------------

BAD_OPTIONS = [
    # (function, options, error type, parts of the message)
    (one, dict(static_argnums=5), errors.InvalidOptionError,
     ["jit(one)", "static_argnums", "position 5", "1 positional argument (x)"]),
    (one, dict(static_argnums=-2), errors.InvalidOptionError,
     ["static_argnums", "position -2"]),
    (varargs, dict(static_argnums=-1), errors.InvalidOptionError,
     ["jit(varargs)", "negative position -1", "*args"]),
    (one, dict(static_argnames="bogus"), errors.InvalidOptionError,
     ["jit(one)", "static_argnames", "'bogus'", "not a parameter", "parameters: x"]),
    (two, dict(static_argnums=0, donate_argnums=0), errors.InvalidOptionError,
     ["jit(two)", "argument 0 (x)", "both static and donated"]),
    (two, dict(static_argnames="x", donate_argnums=(0,)), errors.InvalidOptionError,
     ["argument 0 (x)", "both static and donated"]),
    (two, dict(donate_argnums=2), errors.InvalidOptionError,
     ["donate_argnums", "position 2", "2 positional arguments (x, y)"]),
    (two, dict(dynamic_axes={"xx": 0}), errors.InvalidOptionError,
     ["jit(two)", "dynamic_axes", "'xx'", "not a parameter", "did you mean 'x'"]),
    (two, dict(dynamic_axes={2: 0}), errors.InvalidOptionError,
     ["dynamic_axes", "position 2"]),
    (two, dict(dynamic_axes={"x": 0}, static_argnums=0), errors.InvalidOptionError,
     ["dynamic_axes", "'x'", "static argument"]),
    (two, dict(dynamic_axes={"scale": 0}, static_argnames="scale"), errors.InvalidOptionError,
     ["dynamic_axes", "'scale'", "static argument"]),
    (two, dict(dynamic_axes={"x": 1.5}), errors.InvalidArgumentError,
     ["jit(two)", "dynamic_axes['x']", "1.5"]),
    (one, dict(static_argnums="a"), errors.InvalidArgumentError,
     ["jit(one)", "static_argnums", "'a'", "static_argnames"]),
    (one, dict(static_argnums=1.5), errors.InvalidArgumentError,
     ["jit(one)", "static_argnums", "1.5"]),
    (one, dict(static_argnums=True), errors.InvalidArgumentError,
     ["static_argnums", "True"]),
    (one, dict(static_argnames=3), errors.InvalidArgumentError,
     ["jit(one)", "static_argnames", "3"]),
    (one, dict(buckets=[1.5, 8]), errors.InvalidArgumentError, ["jit(one)", "buckets"]),
]


@pytest.mark.parametrize("fun,options,error,parts", BAD_OPTIONS,
                         ids=[f"{f.__name__}-{sorted(o)}-{i}"
                              for i, (f, o, _, _) in enumerate(BAD_OPTIONS)])
def test_bad_jit_options_fail_at_the_jit_call(fun, options, error, parts):
    where = _line_below(2)
    with pytest.raises(error) as e:
        jc.jit(fun, **options)
    _check(e, *parts, where)
    # JAX raises ValueError for options that do not fit, TypeError for ones of the wrong type.
    assert isinstance(e.value, ValueError if error is errors.InvalidOptionError else TypeError)


def test_bad_option_in_decorator_form_names_the_decorator_line():
    where = _line_below(2)
    with pytest.raises(errors.InvalidOptionError) as e:
        @jc.jit(static_argnums=3)
        def f(x, y):
            return x + y
    _check(e, "jit(f)", "position 3", where)


@pytest.mark.parametrize("fun,options", [
    (varargs, dict(static_argnums=3)),            # *args: any position may exist
    (kwargs, dict(static_argnames="mode")),        # **kwargs: any name may exist
    (two, dict(static_argnames="scale")),          # keyword-only parameters count
    (two, dict(static_argnums=-1, donate_argnums=0)),
    (two, dict(dynamic_axes={"x": 0, 1: (0,)})),
    (kwargs, dict(dynamic_axes={"extra": 0})),
])
def test_options_that_fit_are_accepted(fun, options):
    jc.jit(fun, **options)


def test_keyword_only_static_argname_is_static():
    calls = []

    def f(x, *, scale):
        calls.append(scale)
        return x * scale
    g = jc.jit(f, static_argnames="scale")
    np.testing.assert_allclose(g(np.arange(3.0), scale=2.0), np.arange(3.0) * 2.0)
    assert calls == [2.0]          # a Python float while tracing: it was static


def test_dynamic_axes_by_position_still_buckets():
    g = jc.jit(lambda x: x.sum(0), dynamic_axes={0: 0})
    for n in [5, 7]:
        x = np.arange(2.0 * n).reshape(n, 2)
        np.testing.assert_allclose(g(x), x.sum(0))
    assert g.cache_info().buckets == {"x.shape[0]": (8,)}


# --- axis arguments -------------------------------------------------------------------------

X = np.arange(24.0).reshape(2, 3, 4)

AXIS_FUNCTIONS = {
    "sum": (lambda ax: jnp.sum(X, axis=ax), lambda ax: np.sum(X, axis=ax)),
    "mean": (lambda ax: jnp.mean(X, axis=ax), lambda ax: np.mean(X, axis=ax)),
    "argmax": (lambda ax: jnp.argmax(X, axis=ax), lambda ax: np.argmax(X, axis=ax)),
    "cumsum": (lambda ax: jnp.cumsum(X, axis=ax), lambda ax: np.cumsum(X, axis=ax)),
    "concatenate": (lambda ax: jnp.concatenate([X, X], axis=ax),
                    lambda ax: np.concatenate([X, X], axis=ax)),
    "sort": (lambda ax: jnp.sort(X, axis=ax), lambda ax: np.sort(X, axis=ax)),
    "expand_dims": (lambda ax: jnp.expand_dims(X, ax), lambda ax: np.expand_dims(X, ax)),
    "flip": (lambda ax: jnp.flip(X, axis=ax), lambda ax: np.flip(X, axis=ax)),
    "take_along_axis": (lambda ax: jnp.take_along_axis(X, np.zeros((2, 3, 1), int), axis=ax),
                        lambda ax: np.take_along_axis(X, np.zeros((2, 3, 1), int), axis=ax)),
    "stack": (lambda ax: jnp.stack([X, X], axis=ax), lambda ax: np.stack([X, X], axis=ax)),
    "moveaxis": (lambda ax: jnp.moveaxis(X, ax, 0), lambda ax: np.moveaxis(X, ax, 0)),
    "unique": (lambda ax: jnp.unique(X, axis=ax), lambda ax: np.unique(X, axis=ax)),
    "softmax": (lambda ax: jc.nn.softmax(X, axis=ax), None),
    "norm": (lambda ax: jnp.linalg.norm(X, axis=ax), lambda ax: np.linalg.norm(X, axis=ax)),
}
# NumPy refuses these axes, but for a few quirks jitcore does not copy (a bool where an axis
# belongs is a mistake, not axis 0 or 1; so is a float).
NUMPY_TAKES = {"expand_dims": bool, "sort": bool, "stack": bool, "moveaxis": bool,
               "flip": bool, "take_along_axis": bool, "unique": bool, "norm": (bool, float)}


@pytest.mark.parametrize("bad", [1.5, "a", True, np.float64(1.0)], ids=repr)
@pytest.mark.parametrize("name", sorted(AXIS_FUNCTIONS))
def test_an_axis_that_is_not_an_int_is_a_type_error(name, bad):
    ours, numpy_fn = AXIS_FUNCTIONS[name]
    if numpy_fn is not None and not isinstance(bad, NUMPY_TAKES.get(name, ())):
        with pytest.raises(TypeError):
            numpy_fn(bad)                     # the reference: NumPy refuses it too
    what = "source" if name == "moveaxis" else "axis"
    with pytest.raises(errors.InvalidArgumentError) as e:
        ours(bad)
    assert isinstance(e.value, TypeError)
    _check(e, f"{name}: {what} must be an int", repr(bad), FILE)   # the table's line


@pytest.mark.parametrize("name", sorted(AXIS_FUNCTIONS))
def test_a_numpy_integer_axis_is_an_axis(name):
    ours, numpy_fn = AXIS_FUNCTIONS[name]
    if numpy_fn is not None:
        np.testing.assert_allclose(ours(np.int64(1)), numpy_fn(np.int64(1)))


def test_bad_axis_under_jit_names_the_function_and_line():
    def f(x):
        return jnp.argmax(x, axis="a")
    line = inspect.getsourcelines(f)[1] + 1
    with pytest.raises(errors.InvalidArgumentError) as e:
        jc.jit(f)(X)
    _check(e, "argmax: axis must be an int", "'a'", f"{FILE}:{line}")


def test_lax_axis_must_be_an_int():
    with pytest.raises(errors.InvalidArgumentError) as e:
        jc.lax.cumsum(X, axis=1.5)
    _check(e, "cumsum: axis must be an int", "1.5")


# --- shapes that cannot exist -------------------------------------------------------------

@pytest.mark.parametrize("make,shape", [
    (lambda: jnp.zeros((2 ** 63,)), "(9223372036854775808,)"),
    (lambda: jnp.empty((0, 2 ** 63)), "(0, 9223372036854775808)"),
    (lambda: jnp.ones((2 ** 62,)), "(4611686018427387904,)"),         # 2**65 bytes
    (lambda: jnp.full((2 ** 40, 2 ** 40), 1.0), "(1099511627776, 1099511627776)"),
    (lambda: jnp.zeros_like(X, shape=(2 ** 61, 8)), "(2305843009213693952, 8)"),
])
def test_a_shape_too_large_for_an_array_names_the_op(make, shape):
    for size in [2 ** 63, 2 ** 62]:     # the reference: NumPy refuses such arrays too
        with pytest.raises(ValueError):
            np.empty((size,))
    with pytest.raises(errors.ShapeError) as e:
        make()
    assert isinstance(e.value, ValueError)
    op = str(e.value).split(":")[0]
    assert op in ("zeros", "empty", "ones", "full", "zeros_like")
    _check(e, f"{op}: shape {shape} is too large", FILE)     # the table's line


def test_too_large_shape_under_jit():
    def f():
        return jnp.zeros((2 ** 63,))
    line = inspect.getsourcelines(f)[1] + 1
    with pytest.raises(errors.ShapeError) as e:
        jc.jit(f)()
    _check(e, "zeros: shape (9223372036854775808,) is too large", f"{FILE}:{line}")


def test_largest_possible_shapes_still_work():
    np.testing.assert_array_equal(jnp.zeros((3, 0)), np.zeros((3, 0)))
    np.testing.assert_array_equal(jnp.ones((2, 3), jnp.int8), np.ones((2, 3), np.int8))


# --- vmap out_axes ----------------------------------------------------------------------------

@pytest.mark.parametrize("out_axes", [5, 2, -3])
def test_vmap_out_axes_out_of_range(out_axes):
    where = _line_below(2)
    with pytest.raises(BatchingError) as e:
        jc.vmap(lambda x: x * 2, out_axes=out_axes)(np.ones((3, 4)))
    assert isinstance(e.value, ValueError)     # as JAX raises
    _check(e, f"out_axes {out_axes}", "rank 1", "[-2, 2)", where)


@pytest.mark.parametrize("out_axes", [0, 1, -1, -2])
def test_vmap_out_axes_in_range_matches_a_loop(out_axes):
    x = np.arange(12.0).reshape(3, 4)
    looped = np.stack([row * 2 for row in x])
    np.testing.assert_allclose(jc.vmap(lambda r: r * 2, out_axes=out_axes)(x),
                               np.moveaxis(looped, 0, out_axes))


# --- heaviside ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_heaviside_of_nan_is_nan(mode, dtype):
    x1 = np.array([np.nan, -np.nan, 0.0, -0.0, 2.0, -2.0, np.inf, -np.inf, 0.0], dtype)
    x2 = np.array([0.5, np.nan, 0.25, 0.75, 3.0, 3.0, 3.0, 3.0, np.nan], dtype)
    f = jc.jit(jnp.heaviside) if mode == "jit" else jnp.heaviside
    out = np.asarray(f(x1, x2))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.heaviside(x1, x2))     # NaNs in the same places


def test_heaviside_of_python_nan():
    for f in (jnp.heaviside, jc.jit(jnp.heaviside)):
        assert np.isnan(f(float("nan"), 0.5))
        assert f(0.0, 0.5) == np.heaviside(0.0, 0.5)


# --- dynamic axes: size dependence falls back, compiler bugs do not -------------------------

def test_size_dependent_python_still_falls_back():
    def f(x):
        total = x[0] * 0
        for i in range(x.shape[0]):          # the size as a Python int
            total = total + x[i]
        return total
    g = jc.jit(f, dynamic_axes={"x": 0})
    for n in [5, 6]:
        x = np.arange(2.0 * n).reshape(n, 2)
        np.testing.assert_allclose(g(x), x.sum(0))
    assert g.cache_info().exact_fallbacks == 1


def test_failing_masking_pass_raises_instead_of_falling_back(monkeypatch):
    def broken(module):
        raise RuntimeError("masking broke")
    monkeypatch.setitem(pipeline.PIPELINES, "bucketed",
                        [("masking", broken)] + pipeline.PIPELINES["bucketed"][1:])
    g = jc.jit(lambda x: x * 3, dynamic_axes={"x": 0})
    where = _line_below(2)
    with pytest.raises(errors.CompilerError) as e:
        g(np.ones((37, 2)))
    _check(e, "pass 'masking' failed", "RuntimeError: masking broke", where)
    assert e.value.pass_name == "masking"
    assert isinstance(e.value.__cause__, RuntimeError)
    assert g.cache_info().exact_fallbacks == 0


def test_failing_trace_pipeline_pass_is_named(monkeypatch):
    def broken(module):
        raise KeyError("lost an operand")
    monkeypatch.setitem(pipeline.PIPELINES, "bucketed",
                        pipeline.PIPELINES["bucketed"] + [("broken", broken)])

    def f(x):
        return x + 1
    with pytest.raises(errors.CompilerError) as e:
        jc.jit(f, dynamic_axes={"x": 0})(np.ones((5, 2)))
    _check(e, "pass 'broken' failed on f", "KeyError")
    assert isinstance(e.value.__cause__, KeyError)


def test_bug_in_symbolic_tracing_is_an_error_not_a_fallback():
    # A function that breaks only when its sizes are symbolic stands for a tracing bug that
    # exact shapes do not hit.
    def f(x):
        if type(x.shape[0]).__name__ == "Dim":
            raise RuntimeError("symbolic sizes mishandled")
        return x * 2
    g = jc.jit(f, dynamic_axes={"x": 0})
    with pytest.raises(errors.CompilerError) as e:
        g(np.ones((37, 2)))
    _check(e, "jit(f)", "symbolic sizes (x.shape[0])", "RuntimeError: symbolic sizes mishandled",
           "at exact shapes the trace succeeds")
    assert isinstance(e.value.__cause__, RuntimeError)
    assert g.cache_info().exact_fallbacks == 0


def test_mistake_under_dynamic_axes_reports_the_true_shapes():
    def f(x):
        return x + np.ones(3)
    line = inspect.getsourcelines(f)[1] + 1
    g = jc.jit(f, dynamic_axes={"x": 0})
    with pytest.raises(errors.ShapeError) as e:
        g(np.ones((37, 2)))
    _check(e, "(37, 2)", "(3,)", f"{FILE}:{line}")
    assert "(64, 2)" not in str(e.value)      # not the bucket's capacity


def test_concretization_mistake_under_dynamic_axes_is_the_users_error():
    def f(x):
        if x.sum() > 0:
            return x
        return -x
    line = inspect.getsourcelines(f)[1] + 1
    g = jc.jit(f, dynamic_axes={"x": 0})
    with pytest.raises(errors.ConcretizationTypeError) as e:
        g(np.ones((37, 2)))
    _check(e, f"{FILE}:{line}")
