"""Programs compiled as separate units: identical kernels compiled once and reused across
programs, results equal to NumPy's, units compiled on several threads at once."""
import threading

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends.cpu import compile_units, units

N = 300   # 300 x 400 elements: above the size compiled as one small module


def _fresh(fn, *args):
    with jc.config.override(cache=0):
        return jc.jit(fn)(*args)


def _x(seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((N, 400)).astype(dtype)


def test_identical_kernels_compile_once_across_programs():
    # 80000 and 90000 elements: above the small-program size, below the threaded one, so
    # the tanh kernel is called alike (whole range, constant bounds) in both programs.
    x = _x()[:200]
    y = _x(5)[:100, :100]
    f = lambda x, y: jnp.tanh(x * 3.0) + 1.0          # noqa: E731
    g = lambda x, y: (jnp.tanh(x * 3.0) + 1.0, jnp.exp(y).sum(0))   # noqa: E731
    before = dict(compile_units.stats)
    np.testing.assert_allclose(_fresh(f, x, y), np.tanh(x * 3) + 1, rtol=1e-12, atol=1e-14)
    first = compile_units.stats["compiled"] - before["compiled"]
    assert first >= 2     # the kernel and the driver
    before = dict(compile_units.stats)
    a, s = _fresh(g, x, y)
    np.testing.assert_allclose(a, np.tanh(x * 3) + 1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s, np.exp(y).sum(0), rtol=1e-12)
    reused = compile_units.stats["memory"] + compile_units.stats["disk"] - \
        before["memory"] - before["disk"]
    assert reused >= 1, "the tanh kernel was compiled again"


def test_same_kernel_twice_in_one_program_is_one_unit():
    x, y = _x(1), _x(2)
    text = {}
    original = units.cut

    def spy(t, *marks):
        driver, ks = original(t, *marks)
        text["driver"], text["units"] = driver.text, ks
        return driver, ks
    try:
        units.cut = spy
        out = _fresh(lambda a, b: (jnp.sin(a) * 2.0, jnp.sin(b) * 2.0), x, y)
    finally:
        units.cut = original
    np.testing.assert_allclose(out[0], np.sin(x) * 2, rtol=1e-13)
    np.testing.assert_allclose(out[1], np.sin(y) * 2, rtol=1e-13)
    names = [u.name for u in text["units"]]
    assert len(names) == len(set(names))
    calls = sum(text["driver"].count(f'@"{n}"(') for n in names)
    assert calls > len(names), "each call of the same kernel got a unit of its own"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_results_match_numpy(dtype):
    x = (_x(3) * 10).astype(dtype)
    out = _fresh(lambda x: (x * 2 + 1, x.max(1), x.sum(0)), x)
    np.testing.assert_array_equal(out[0], x * 2 + 1)
    np.testing.assert_array_equal(out[1], x.max(1))
    np.testing.assert_allclose(out[2], x.astype(np.float64).sum(0),   # float32: cancellation
                               atol=1e-6 * np.abs(x.astype(np.float64)).sum(0).max())


def test_nan_max_and_odd_sizes():
    x = np.random.default_rng(4).standard_normal((301, 433))
    x[5, 7] = np.nan
    out = _fresh(lambda x: (jnp.max(x, 1), jnp.argmax(x, 1)), x)
    np.testing.assert_array_equal(out[0], np.max(x, 1))
    np.testing.assert_array_equal(out[1], np.argmax(x, 1))


def test_programs_compile_on_several_threads_at_once():
    xs = [_x(10 + i) for i in range(4)]
    fns = [lambda x, k=k: jnp.cos(x * (k + 1.5)) + jnp.exp(x / (k + 2.0)) for k in range(4)]
    outs, errors = [None] * 4, []

    def run(i):
        try:
            outs[i] = _fresh(fns[i], xs[i])
        except BaseException as e:   # reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(4):
        np.testing.assert_allclose(outs[k], np.cos(xs[k] * (k + 1.5)) + np.exp(xs[k] / (k + 2.0)),
                                   rtol=1e-12, atol=1e-14)


def test_cut_keeps_constant_arguments_in_the_unit():
    """A kernel called with constant bounds gets them written into its unit (LLVM sees its
    trip counts), and the driver passes only the rest."""
    text = '''target triple = "x86_64-unknown-linux-gnu"
define void @"seg0"(i8** %".1", i8** %".2", i64 %".3", i64 %".4", i64* %".5")
{
entry:
  %".6" = bitcast i8** %".1" to double*
  call void @"seg0.k0"(double* %".6", i64 0, i64 17)
  ret void
}

define internal void @"seg0.k0"(double* noalias %".1", i64 %".2", i64 %".3") noinline
{
entry:
  ret void
}
'''
    driver, ks = units.cut(text, "; mark")
    (k,) = ks
    assert f'call void @"{k.name}"(double* %".6")' in driver.text
    assert "i64 0, i64 17" in k.text and "noinline" not in k.text


def test_texts_and_dumps_of_a_split_program(tmp_path):
    # A program large enough to compile as several units still prints its LLVM text and
    # assembly (one module after another) and dumps them.
    import jitcore as jc
    import jitcore.numpy as jnp
    from jitcore import config

    def f(x, w):
        for _ in range(8):
            x = jnp.tanh(x @ w) + x.sum(0)
        return x.sum()

    x = np.linspace(-1, 1, 64 * 64, dtype=np.float32).reshape(64, 64) / 64
    with config.override(dump=str(tmp_path)):
        c = jc.jit(jc.grad(f)).lower(x, x).compile()
    assert c.as_text("llvm").count("; ModuleID") > 1
    asm = c.as_text("asm")
    assert asm.count(".file\t") == c.as_text("llvm").count("; ModuleID")
    assert any(p.name.endswith(".s") or "asm" in p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("parallel", [False, True])
def test_units_start_longest_first_and_results_keep_their_order(parallel):
    class U:
        def __init__(self, text):
            self.text = text
    todo = [U("a" * n) for n in (3, 9, 1, 7, 5)]
    started, lock = [], threading.Lock()

    def fn(u):
        with lock:
            started.append(len(u.text))
        return len(u.text) * 10

    out = compile_units.longest_first(fn, todo, parallel)
    assert out == [30, 90, 10, 70, 50]
    if not parallel:
        assert started == [9, 7, 5, 3, 1]
    else:
        assert sorted(started) == [1, 3, 5, 7, 9] and started[0] in (9, 7)
