"""Control flow's error messages (they name the construct, the shapes/dtypes and the user's
line) on the three paths, and the IR it builds: one loop instruction with its body as a separate
computation, text that parses back and verifies, size and compile time independent of the trip
count."""
import time

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from xla_like.parser import parse_module
from xla_like.verifier import verify_module


# --- errors ---------------------------------------------------------------------------------------

def raises(on, f, *args, contains=()):
    with pytest.raises(TypeError) as e:
        on(f)(*args)
    msg = str(e.value)
    for part in contains + ("test_errors_and_ir.py",):
        assert part in msg, f"{part!r} not in:\n{msg}"
    return msg


def test_error_branch_outputs_differ(on):
    x = np.ones(3)
    raises(on, lambda p, x: lax.cond(p, lambda x: x, lambda x: x[:2], x), True, x,
           contains=("cond", "f64[3]", "f64[2]"))
    raises(on, lambda p, x: lax.cond(p, lambda x: x, lambda x: x.astype(jnp.float32), x),
           True, x, contains=("cond", "f64[3]", "f32[3]"))
    raises(on, lambda p, x: lax.cond(p, lambda x: (x, x), lambda x: x, x), True, x,
           contains=("cond", "structure"))
    raises(on, lambda i, x: lax.switch(i, [lambda x: {"a": x, "b": x},
                                           lambda x: {"a": x, "b": x.sum()}], x),
           1, x, contains=("switch", "['b']", "f64[3]", "f64[]"))


def test_error_branch_outputs_differ_with_python_bool(on):
    # A known predicate still checks both branches, as in JAX.
    raises(on, lambda x: lax.cond(True, lambda x: x, lambda x: x[:2], x), np.ones(3),
           contains=("cond", "f64[3]", "f64[2]"))


def test_error_while_body_changes_the_carry(on):
    x = np.ones(3)
    raises(on, lambda x: lax.while_loop(lambda c: c.sum() < 10, lambda c: jnp.concatenate(
        [c, c]), x), x, contains=("while_loop", "f64[3]", "f64[6]"))
    raises(on, lambda x: lax.while_loop(lambda c: c.sum() < 10,
                                        lambda c: c.astype(jnp.float32), x), x,
           contains=("while_loop", "f64[3]", "f32[3]"))
    raises(on, lambda x: lax.while_loop(lambda c: c[0].sum() < 10,
                                        lambda c: (c[0] + 1, c[1] * 1.5), (x, jnp.int64(3))), x,
           contains=("while_loop", "[1]", "s64[]", "f64[]"))


def test_error_while_cond_fun_result(on):
    x = np.ones(3)
    raises(on, lambda x: lax.while_loop(lambda c: c < 10, lambda c: c + 1, x), x,
           contains=("while_loop", "cond_fun", "boolean scalar", "pred[3]"))
    raises(on, lambda x: lax.while_loop(lambda c: c.sum(), lambda c: c + 1, x), x,
           contains=("while_loop", "cond_fun", "boolean scalar", "f64[]"))


def test_error_scan_body(on):
    x = np.ones(3)
    raises(on, lambda x: lax.scan(lambda c, x: c + x, 0.0, x), x,
           contains=("scan", "pair"))
    raises(on, lambda x: lax.scan(lambda c, x: (jnp.stack([c, c]), x), jnp.float64(0), x), x,
           contains=("scan", "carry", "f64[]", "f64[2]"))


def test_error_scan_lengths(on):
    x, y = np.ones(3), np.ones(4)
    raises(on, lambda x, y: lax.scan(lambda c, xy: (c, None), 0.0, (x, y)), x, y,
           contains=("scan", "f64[3]", "f64[4]"))
    raises(on, lambda x: lax.scan(lambda c, v: (c, None), 0.0, x, length=5), x,
           contains=("scan", "length=5", "f64[3]"))
    raises(on, lambda x: lax.scan(lambda c, v: (c, v), 0.0, x.sum()), x,
           contains=("scan", "leading axis", "f64[]"))
    raises(on, lambda x: lax.scan(lambda c, v: (c, v), x, None), x,
           contains=("scan", "length"))


def test_error_cond_predicate_and_switch(on):
    x = np.ones(3)
    raises(on, lambda x: lax.cond(x > 0, lambda x: x, lambda x: -x, x), x,
           contains=("cond", "scalar", "pred[3]"))
    raises(on, lambda x: lax.switch(0, [], x), x, contains=("switch", "branch"))
    raises(on, lambda x: lax.switch(1.0, [lambda x: x], x), x,
           contains=("switch", "integer", "f64[]"))
    raises(on, lambda x: lax.fori_loop(0.0, 3, lambda i, c: c, x), x,
           contains=("fori_loop", "lower", "f64[]"))


def test_error_loop_function_not_callable(on):
    x = np.ones(3)
    raises(on, lambda x: lax.scan(3, 0.0, x), x, contains=("scan", "callable"))
    raises(on, lambda x: lax.while_loop(lambda c: c < 1, None, 0.0), x,
           contains=("while_loop", "callable"))


# --- the IR ---------------------------------------------------------------------------------------

def fori_n(n, scale=0.5):
    def f(x):
        return lax.fori_loop(0, n, lambda i, c: jnp.sin(c) * scale + i, x)
    return f


def test_fori_loop_ir_is_one_loop_with_a_body_computation():
    module = jc.make_hlo(fori_n(7))(np.ones(3))
    text = module.as_text()
    loops = [ln for ln in text.splitlines() if " scan(" in ln or " while(" in ln]
    assert len(loops) == 1, text
    assert "calls={%" in loops[0]
    body = loops[0].split("calls={%")[1].rstrip("}").split(",")[0].split()[0].rstrip("}")
    # the body is its own computation block, holding the sin
    block = text.split(f"%{body} (")[1].split("\n}\n")[0]
    assert " sin(" in block
    entry = text.split("ENTRY")[1]
    assert " sin(" not in entry
    parsed = parse_module(text)
    verify_module(parsed)
    assert parsed.as_text() == text


def test_traced_fori_loop_ir_parses_and_verifies():
    text = jc.make_hlo(lambda lo, hi, c: lax.fori_loop(lo, hi, lambda i, c: c * 0.5 + i, c))(
        0, 3, 1.0).as_text()
    assert sum(" while(" in ln for ln in text.splitlines()) == 1
    verify_module(parse_module(text))


def test_ir_size_does_not_grow_with_the_trip_count():
    small = jc.make_hlo(fori_n(10))(np.ones(3)).as_text()
    large = jc.make_hlo(fori_n(100000))(np.ones(3)).as_text()
    assert abs(len(large) - len(small)) < 16
    assert small.count("sin(") == large.count("sin(") == 1


def test_compile_time_does_not_grow_with_the_trip_count():
    x = np.ones(3)
    jc.jit(fori_n(3, 0.125))(x)          # one-time backend set-up out of the measurement
    seconds = {}
    for n in (10, 1000):
        best = float("inf")
        for scale in (0.5, 0.25):        # distinct programs: no machine-code cache hits
            f = jc.jit(fori_n(n, scale))
            np.testing.assert_allclose(f(x), _fori_n_reference(n, x, scale), rtol=1e-12)
            best = min(best, f.cache_info().compile_seconds)
        seconds[n] = best
    assert seconds[1000] < 3 * seconds[10], seconds


def _fori_n_reference(n, x, scale):
    c = x.copy()
    for i in range(n):
        c = np.sin(c) * scale + i
    return c

