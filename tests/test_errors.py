"""Every error path names the op, the shapes/dtypes involved and the user's source line."""
import inspect

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import errors


def _here_plus(n):
    """`test_errors.py:LINE` for the line `n` lines below the caller."""
    return f"test_errors.py:{inspect.currentframe().f_back.f_lineno + n}"


def _check(excinfo, *parts):
    msg = str(excinfo.value)
    for p in parts:
        assert p in msg, f"{p!r} not in message:\n{msg}"


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_incompatible_broadcast(mode):
    def f(x, y):
        return x + y
    g = jc.jit(f) if mode == "jit" else f
    line = inspect.getsourcelines(f)[1] + 1
    with pytest.raises(errors.ShapeError) as e:
        g(jnp.asarray(np.ones(3)), np.ones((4,)))
    # Both TypeError (JAX) and ValueError (NumPy) catch it.
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    _check(e, "add", "(3,)", "(4,)", f"test_errors.py:{line}", "return x + y")


def test_error_points_at_user_line_inside_jit():
    @jc.jit
    def f(x):
        y = x * 2
        return y + np.ones(5)  # the bad line
    line = inspect.getsourcelines(f.fun)[1] + 3
    with pytest.raises(errors.ShapeError) as e:
        f(np.ones(3))
    _check(e, f"test_errors.py:{line}", "return y + np.ones(5)", "(3,)", "(5,)")


def test_matmul_contraction_mismatch():
    loc = _here_plus(2)
    with pytest.raises(errors.ShapeError) as e:
        jc.jit(lambda a, b: a @ b)(np.ones((3, 4)), np.ones((5, 2)))
    _check(e, "matmul", "(3, 4)", "(5, 2)", loc)


def test_dot_general_mismatch_names_sizes():
    loc = _here_plus(2)
    with pytest.raises(errors.ShapeError) as e:
        jc.lax.dot_general(np.ones((2, 3)), np.ones((4, 2)), (((1,), (0,)), ((), ())))
    _check(e, "dot_general", "f64[2,3]", "f64[4,2]", "size 3", "size 4", loc)


def test_bad_axis():
    loc = _here_plus(2)
    with pytest.raises(errors.AxisError) as e:
        jc.jit(lambda x: x.sum(axis=2))(np.ones((2, 3)))
    assert isinstance(e.value, ValueError)
    _check(e, "sum", "axis 2", "(2, 3)", loc)


def test_bad_reshape():
    loc = _here_plus(2)
    with pytest.raises(errors.ShapeError) as e:
        jc.jit(lambda x: x.reshape(4, 2))(np.ones((2, 3)))
    _check(e, "reshape", "f64[2,3]", "(4, 2)", loc)


def test_bitwise_on_floats():
    loc = _here_plus(2)
    with pytest.raises(errors.DtypeError) as e:
        jc.jit(lambda x, y: x & y)(np.ones(3, np.float32), np.ones(3, np.float32))
    assert isinstance(e.value, TypeError)
    _check(e, "bitwise_and", "f32[3]", loc)


@pytest.mark.parametrize("conv", [bool, int, float, np.asarray])
def test_concretization_under_jit(conv):
    def f(x):
        return conv(x)
    line = inspect.getsourcelines(f)[1] + 1
    exc = errors.TracerArrayConversionError if conv is np.asarray else \
        errors.ConcretizationTypeError
    with pytest.raises(exc) as e:
        jc.jit(f)(np.float64(1.0))
    assert isinstance(e.value, TypeError)
    _check(e, "f64[]", f"test_errors.py:{line}", "static_argnums", "lax.cond")


def test_python_if_on_traced_value():
    def f(x):
        if x > 0:  # needs a concrete value
            return x
        return -x
    line = inspect.getsourcelines(f)[1] + 1
    with pytest.raises(errors.ConcretizationTypeError) as e:
        jc.jit(f)(1.0)
    _check(e, "bool()", f"test_errors.py:{line}", "static_argnums")
    # The same function works with a static argument.
    assert float(jc.jit(f, static_argnums=0)(-2.0)) == 2.0


def test_unhashable_static_argument():
    f = jc.jit(lambda x, opts: x * len(opts), static_argnums=1)
    loc = _here_plus(2)
    with pytest.raises(errors.NonHashableStaticArgError) as e:
        f(np.ones(2), [1, 2])
    assert isinstance(e.value, ValueError)
    _check(e, "static argument 1", "list", "not hashable", loc, "tuple")


def test_static_index_into_empty_axis():
    loc = _here_plus(2)
    with pytest.raises(errors.IndexOutOfRangeError) as e:
        jc.jit(lambda x: x[0])(np.ones((0, 2)))
    assert isinstance(e.value, IndexError)
    _check(e, "0", "(0, 2)", loc)


def test_invalid_argument_type():
    loc = _here_plus(2)
    with pytest.raises(errors.InvalidArgumentError) as e:
        jc.jit(lambda x, s: x)(np.ones(2), "hello")
    _check(e, "str", "static_argnums", loc)


def test_escaped_tracer():
    leaked = []

    @jc.jit
    def f(x):
        leaked.append(x)
        return x
    f(np.ones(2))
    with pytest.raises(errors.UnexpectedTracerError) as e:
        jnp.sin(leaked[0])
    _check(e, "f64[2]", "escaped")


def test_wrong_dtype_for_float_op():
    with pytest.raises(errors.DtypeError) as e:
        jc.lax.exp(np.arange(3))
    _check(e, "exp", "s64[3]", "floating-point")
