"""The call path of bucketed functions: call plans and inputs passed without their padding.

A repeated signature runs from its `bucketing.CallPlan` (sizes, padding and output slices
worked out once). An input whose only padded axis is the leading one goes unpadded when the
executable reads none of its padded rows (`cpu.prefix_inputs`); one padded along a later axis,
when every kernel reads it with the array's own strides and stops at its true extent there
(`prefix_inputs.strided_inputs`). Checked here: results against NumPy float64 across sizes
and repeated calls, in vmap, grad, with donation and from threads; that the padding of such
an input is really never read (in a subprocess, the input ends right before a page that
faults when touched); and that the plans follow the specializations (hits, clear_cache).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np

import jitcore as jax
import jitcore.numpy as jnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def attention(q, k, v):
    return jax.nn.softmax(q @ k.T, axis=-1) @ v


def softmax_np(s, axis=-1):
    e = np.exp(s - s.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def attention_np(q, k, v):
    return softmax_np(q @ k.T) @ v


def data(n, cols=8, count=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed + 1000 * n)
    return tuple((0.5 * rng.standard_normal((n, cols))).astype(dtype) for _ in range(count))


def plans(g):
    return list(g._axes.calls.values())


def test_attention_inputs_go_unpadded_and_repeated_calls_stay_exact():
    g = jax.jit(attention, dynamic_axes={"q": 0, "k": 0, "v": 0})
    for n in [37, 50, 37, 64, 33, 100, 50, 2]:
        q, k, v = data(n)
        for _ in range(2):     # the first call makes the plan, the second runs from it
            np.testing.assert_allclose(g(q, k, v), attention_np(q, k, v), rtol=1e-12,
                                       atol=1e-12, err_msg=f"n={n}")
    (plan, *_) = plans(g)
    # Every reader of q, k and v stops at the true rows: no input is copied.
    assert plan.pads == (None, None, None)
    assert set(plan.entry.executable.prefix_inputs) == {1, 2, 3}


def test_an_input_read_past_its_rows_is_still_padded():
    # x.sum(0) reduces over the padded rows (masked): x is copied into the capacity; y, read
    # only at the positions of valid output elements, is not.
    g = jax.jit(lambda x, y: (x * 2 + y, x.sum(0)), dynamic_axes={0: 0, 1: 0})
    for n in [40, 33, 64, 40]:
        x, y = data(n, count=2)
        a, s = g(x, y)
        np.testing.assert_allclose(a, x * 2 + y, rtol=1e-15)
        np.testing.assert_allclose(s, x.sum(0), rtol=1e-12)
    pads = {p.pads for p in plans(g)}
    assert pads == {((64, 8), None)}


def test_noncontiguous_and_integer_inputs():
    g = jax.jit(lambda x, y: (jnp.tanh(x) * 3.0 + y, x @ jnp.ones((8, 2))),
                dynamic_axes={0: 0, 1: 0})
    for n in [20, 31, 20]:
        big = np.random.default_rng(n).standard_normal((n, 16)).astype(np.float32)
        x = big[:, ::2]                      # strided: the executable makes it contiguous
        y = np.arange(n * 8, dtype=np.int32).reshape(n, 8)
        a, b = g(x, y)
        np.testing.assert_allclose(a, np.tanh(x.astype(np.float64)) * 3 + y, rtol=2e-6)
        np.testing.assert_allclose(b, x.astype(np.float64) @ np.ones((8, 2)), rtol=2e-6)


def test_outputs_are_views_that_do_not_alias_inputs():
    g = jax.jit(lambda x, y: (x, y + 1.0), dynamic_axes={0: 0, 1: 0})
    for _ in range(2):
        x, y = data(45, count=2)
        a, b = g(x, y)
        assert a.shape == b.shape == (45, 8)
        assert not np.shares_memory(np.asarray(a), x)
        np.testing.assert_array_equal(a, x)
        np.testing.assert_array_equal(b, y + 1.0)


def test_vmap_over_a_bucketed_axis():
    def f(x):
        return jax.nn.softmax(x @ x.T, axis=-1) @ x
    rows = jax.jit(jax.vmap(f), dynamic_axes={0: 1})     # (batch, n rows, 8)
    batch = jax.jit(jax.vmap(f), dynamic_axes={0: 0})    # n examples of (5, 8)
    rng = np.random.default_rng(0)
    for n in [9, 13, 9, 16]:
        x = 0.5 * rng.standard_normal((3, n, 8))
        want = np.stack([softmax_np(e @ e.T) @ e for e in x])
        for _ in range(2):
            np.testing.assert_allclose(rows(x), want, rtol=1e-12, atol=1e-13)
        y = 0.5 * rng.standard_normal((n, 5, 8))
        want = np.stack([softmax_np(e @ e.T) @ e for e in y])
        np.testing.assert_allclose(batch(y), want, rtol=1e-12, atol=1e-13)


def test_grad_through_the_call_plan():
    def loss(w, x):
        return jnp.mean(jnp.tanh(x @ w) ** 2)
    g = jax.jit(jax.grad(loss), dynamic_axes={"x": 0})
    w = np.linspace(-1, 1, 16).reshape(8, 2)
    for n in [33, 47, 33, 64]:
        (x,) = data(n, count=1)
        t = np.tanh(x @ w)
        want = x.T @ (2 * t * (1 - t ** 2)) / t.size     # d mean(tanh(xw)^2) / dw
        for _ in range(2):
            np.testing.assert_allclose(g(w, x), want, rtol=1e-12, atol=1e-15)


def test_donated_inputs_are_deleted_on_every_call():
    g = jax.jit(lambda x, y: x * y + 1.0, dynamic_axes={0: 0, 1: 0}, donate_argnums=0)
    for n in [40, 40, 50]:
        xn, yn = data(n, count=2)
        x = jnp.asarray(xn)
        np.testing.assert_allclose(g(x, yn), xn * yn + 1.0, rtol=1e-15)
        assert x.is_deleted()


def test_calls_from_threads():
    g = jax.jit(attention, dynamic_axes={0: 0, 1: 0, 2: 0})
    sizes = [17, 40, 64, 100, 130, 33]
    cases = {n: data(n, seed=7) for n in sizes}
    want = {n: attention_np(*a) for n, a in cases.items()}
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(25):
                n = sizes[rng.integers(len(sizes))]
                np.testing.assert_allclose(g(*cases[n]), want[n], rtol=1e-12, atol=1e-13)
        except Exception as e:      # reported below, from the main thread
            errors.append(e)
    _run_in_four_threads(work, errors)


def test_plans_count_hits_and_follow_clear_cache():
    g = jax.jit(lambda x: jnp.exp(x) * 2.0, dynamic_axes={0: 0})
    (x,) = data(20, count=1)
    for _ in range(4):
        np.testing.assert_allclose(g(x), np.exp(x) * 2.0, rtol=1e-15)
    info = g.cache_info()
    assert (info.hits, info.compiles) == (3, 1)
    g.clear_cache()
    assert plans(g) == []
    np.testing.assert_allclose(g(x), np.exp(x) * 2.0, rtol=1e-15)
    assert g.cache_info().compiles == 2


# --- inputs dynamic along a later axis: read with the caller's row stride -------------------

def softmax_rows(x):
    return jax.nn.softmax(x, axis=-1)


def test_column_dynamic_inputs_go_unpadded():
    cases = [
        (lambda x: (jnp.exp(x) * 0.5, jnp.tanh(x).sum(axis=1)),
         lambda x: (np.exp(x) * 0.5, np.tanh(x).sum(axis=1))),
        (softmax_rows, softmax_np),
        (lambda x: (jnp.max(x, axis=1), jnp.argmax(x, axis=1), x * 3.0 - 1.0),
         lambda x: (np.max(x, axis=1), np.argmax(x, axis=1), x * 3.0 - 1.0)),
    ]
    for f, ref in cases:
        g = jax.jit(f, dynamic_axes={0: 1})
        for n in [37, 50, 64, 33, 100, 37]:
            x = np.random.default_rng(n).standard_normal((24, n))
            for _ in range(2):    # the first call makes the plan, the second runs from it
                got = g(x)
                got = got if isinstance(got, tuple) else (got,)
                want = ref(x)
                want = want if isinstance(want, tuple) else (want,)
                for a, w in zip(got, want):
                    assert np.shape(a) == w.shape
                    np.testing.assert_allclose(np.asarray(a, np.float64), w, rtol=1e-12,
                                               atol=1e-12, err_msg=f"n={n}")
        # Every reader stops at the true column count: no input was copied.
        assert {p.pads for p in plans(g)} == {(None,)}


def test_a_middle_dynamic_axis_and_two_inputs():
    # (4, n, 8): the stride of axis 0 is the true n * 8; y, dynamic along its last axis.
    g = jax.jit(lambda x, y: (jnp.tanh(x) * 2.0, jnp.sum(x * x, axis=(1, 2)),
                              y.sum(-1) + 1.0), dynamic_axes={0: 1, 1: 1})
    for n in [20, 31, 17, 20]:
        rng = np.random.default_rng(n)
        x, y = rng.standard_normal((4, n, 8)), rng.standard_normal((5, n))
        a, s, t = g(x, y)
        np.testing.assert_allclose(a, np.tanh(x) * 2.0, rtol=1e-14)
        np.testing.assert_allclose(s, np.sum(x * x, axis=(1, 2)), rtol=1e-12)
        np.testing.assert_allclose(t, y.sum(-1) + 1.0, rtol=1e-12)
    assert {p.pads for p in plans(g)} == {(None, None)}


def test_column_inputs_read_past_their_extent_are_still_padded():
    # x.sum(0) streams whole rows of x (a column reduction): x is copied into the capacity
    # (x @ w alone would read it in place); w (dynamic along its rows, read up to the true
    # K) is not.
    g = jax.jit(lambda x, w: (x.sum(0), x @ w), dynamic_axes={0: 1, 1: 0})
    for n in [40, 33, 64, 40]:
        rng = np.random.default_rng(n)
        x, w = rng.standard_normal((16, n)), rng.standard_normal((n, 6))
        s, p = g(x, w)
        np.testing.assert_allclose(s, x.sum(0), rtol=1e-12)
        np.testing.assert_allclose(p, x @ w, rtol=1e-12, atol=1e-13)
    assert {p.pads for p in plans(g)} == {((16, 64), None)}


def test_blas_reads_column_dynamic_operands_in_place():
    # x.T @ y with x, y of (m, n) dynamic along n: the GEMM reads n elements of each row of
    # both, its leading dimensions the arrays' row strides, so neither is copied. On one
    # thread and shared among two and three (products large enough), m = 1 included (a
    # single row: any stride). x @ y.T contracts n: the GEMM runs with K = n on both arrays
    # as they are (their zero masks are views, `plan.planner._mask_view`).
    from jitcore import config
    cases = [(lambda x, y: x.T @ y, lambda x, y: x.T @ y, True),
             (lambda x, y: (x.T @ x, y * 2.0), lambda x, y: (x.T @ x, y * 2.0), True),
             (lambda x, y: x @ y.T, lambda x, y: x @ y.T, "rows > 1")]
    for threads in (1, 2, 3):
        for f, ref, unpadded in cases:
            g = jax.jit(f, dynamic_axes={0: 1, 1: 1})
            with config.override(num_threads=threads):
                for n in [70, 1, 129, 300, 70]:
                    for m in (1, 5, 200):
                        rng = np.random.default_rng(n + m)
                        x, y = rng.standard_normal((m, n)), rng.standard_normal((m, n))
                        got, want = g(x, y), ref(x, y)
                        got, want = (got, want) if isinstance(got, tuple) else \
                            ((got,), (want,))
                        for a, b in zip(got, want):
                            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11,
                                                       err_msg=f"n={n} m={m}")
            if unpadded:     # (x @ y.T of one row each is a row reduction, not a GEMM)
                assert {p.pads for k, p in g._axes.calls.items()
                        if unpadded is True or k[2][0][0][0] > 1} == {(None, None)}


def test_matmul_contracting_a_column_dynamic_axis():
    g = jax.jit(lambda x, y: jnp.tanh(x) @ y, dynamic_axes={0: 1, 1: 0})
    for n in [70, 100, 129, 70]:
        rng = np.random.default_rng(n)
        x, y = rng.standard_normal((12, n)), rng.standard_normal((n, 5))
        np.testing.assert_allclose(g(x, y), np.tanh(x) @ y, rtol=1e-12, atol=1e-12)


def test_vmap_and_grad_over_a_column_dynamic_axis():
    v = jax.jit(jax.vmap(softmax_rows), dynamic_axes={0: 2})       # (3, 6, n)
    for n in [9, 13, 9, 16]:
        x = np.random.default_rng(n).standard_normal((3, 6, n))
        np.testing.assert_allclose(v(x), softmax_np(x), rtol=1e-12, atol=1e-14)

    def loss(w, x):
        return jnp.sum(jnp.tanh(x * w[:, None]) ** 2)
    g = jax.jit(jax.grad(loss), dynamic_axes={"x": 1})
    w = np.linspace(-1, 1, 8)
    for n in [33, 47, 33, 64]:
        x = np.random.default_rng(n).standard_normal((8, n))
        t = np.tanh(x * w[:, None])
        want = (2 * t * (1 - t ** 2) * x).sum(1)
        for _ in range(2):
            np.testing.assert_allclose(g(w, x), want, rtol=1e-12, atol=1e-14)


def test_donated_column_dynamic_input():
    # A bucketed program takes no donation (its output is of the capacity): x is read in
    # place, and still deleted as the caller asked.
    g = jax.jit(lambda x, y: x * y + 1.0, dynamic_axes={0: 1, 1: 1}, donate_argnums=0)
    for n in [40, 40, 50]:
        rng = np.random.default_rng(n)
        xn, yn = rng.standard_normal((6, n)), rng.standard_normal((6, n))
        x = jnp.asarray(xn)
        np.testing.assert_allclose(g(x, yn), xn * yn + 1.0, rtol=1e-15)
        assert x.is_deleted()
    assert {p.pads for p in plans(g)} == {(None, None)}


def test_column_dynamic_calls_from_threads():
    g = jax.jit(lambda x: (jnp.exp(x) * 0.5, jnp.tanh(x).sum(axis=1)), dynamic_axes={0: 1})
    sizes = [17, 40, 64, 100, 130, 33]
    cases = {n: np.random.default_rng(n).standard_normal((32, n)) for n in sizes}
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(25):
                n = sizes[rng.integers(len(sizes))]
                x = cases[n]
                a, s = g(x)
                np.testing.assert_allclose(a, np.exp(x) * 0.5, rtol=1e-15)
                np.testing.assert_allclose(s, np.tanh(x).sum(1), rtol=1e-12)
        except Exception as e:      # reported below, from the main thread
            errors.append(e)
    _run_in_four_threads(work, errors)



def _run_in_four_threads(work, errors):
    """work(seed) on four threads at once; the first error any of them noted fails the test."""
    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]

# Run in a child process: reading a padded row of an unpadded input there would fault.
GUARDED = textwrap.dedent("""
    import ctypes, mmap, sys
    import numpy as np
    import jitcore as jax
    import jitcore.numpy as jnp

    libc = ctypes.CDLL(None)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    PAGE = mmap.PAGESIZE
    keep = []

    def guarded(a):
        # A copy of `a` ending right before a page that faults when read.
        pages = -(-a.nbytes // PAGE) + 1
        m = mmap.mmap(-1, pages * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(m))
        assert libc.mprotect(base + (pages - 1) * PAGE, PAGE, 0) == 0
        out = np.frombuffer(m, a.dtype, a.size, (pages - 1) * PAGE - a.nbytes)
        out = out.reshape(a.shape)
        out[...] = a
        keep.append(m)
        return out

    def softmax(s):
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    w = np.linspace(-1, 1, 64 * 16).reshape(64, 16).astype(np.float32)
    cases = [
        (lambda q, k, v: jax.nn.softmax(q @ k.T, axis=-1) @ v,
         lambda q, k, v: softmax(q @ k.T) @ v, 3),
        (lambda x, y: jnp.tanh(x) * y + 1.0, lambda x, y: np.tanh(x) * y + 1.0, 2),
        (lambda x: x @ w, lambda x: x @ w, 1),
        (lambda x, y: x.T @ y, lambda x, y: x.T @ y, 2),
        (lambda x, y: (x * 2 + y, x.sum(0)), lambda x, y: (x * 2 + y, x.sum(0)), 2),
        (lambda x: jax.nn.softmax(x, axis=-1), lambda x: softmax(x), 1),
        # Kernels filling the padding of x (sorting it last, or scanning it from the end)
        # read every row of their capacity: x must stay padded.
        (lambda x, y: (jnp.sort(x, 0), y * 2.0), lambda x, y: (np.sort(x, 0), y * 2.0), 2),
        (lambda x: jax.lax.cumsum(x, 0, reverse=True),
         lambda x: np.cumsum(x[::-1], 0)[::-1], 1),
    ]
    # Dynamic along axis 1 of (48, n) inputs: read with their own row stride, or copied.
    v = np.linspace(-1, 1, 16 * 48).reshape(48, 16).astype(np.float32)
    columns = [
        (lambda x: (jnp.exp(x) * 0.5, jnp.tanh(x).sum(1)),
         lambda x: (np.exp(x) * 0.5, np.tanh(x).sum(1)), 1),
        (lambda x: jax.nn.softmax(x, axis=-1), lambda x: softmax(x), 1),
        (lambda x, y: (jnp.argmax(x, 1), jnp.min(x * y, 1), x - y),
         lambda x, y: (np.argmax(x, 1), np.min(x * y, 1), x - y), 2),
        # A column reduction streams whole rows: copied.
        (lambda x: x.sum(0), lambda x: x.sum(0), 1),
        # BLAS reads rows of n elements of x, its row stride apart: unpadded.
        (lambda x: v.T @ x, lambda x: v.T @ x, 1),
        (lambda x: jax.lax.cumsum(x, 1, reverse=True),
         lambda x: np.cumsum(x[:, ::-1], 1)[:, ::-1], 1),
        (lambda x, y: jnp.tanh(x) @ y.T, lambda x, y: np.tanh(x) @ y.T, 2),
        # BLAS reads rows of n elements, the arrays' row strides apart: unpadded.
        (lambda x, y: x.T @ y, lambda x, y: x.T @ y, 2),
        (lambda x, y: (y.T @ x, x * 2.0), lambda x, y: (y.T @ x, x * 2.0), 2),
    ]
    unpadded = 0
    for f, ref, nargs, axis in [c + (0,) for c in cases] + [c + (1,) for c in columns]:
        g = jax.jit(f, dynamic_axes={i: axis for i in range(nargs)})
        for n in (100, 33, 257, 100):
            rng = np.random.default_rng(n)
            xs = [(0.3 * rng.standard_normal((n, 64) if axis == 0 else (48, n)))
                  .astype(np.float32) for _ in range(nargs)]
            got = g(*[guarded(x) for x in xs])
            want = ref(*[x.astype(np.float64) for x in xs])
            got = got if isinstance(got, tuple) else (got,)
            want = want if isinstance(want, tuple) else (want,)
            for a, b in zip(got, want):
                np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=2e-4,
                                           atol=2e-5)
        unpadded += sum(p is None for plan in g._axes.calls.values() for p in plan.pads)
    print("unpadded", unpadded)
""")


def test_unpadded_inputs_are_never_read_past_their_rows():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", GUARDED], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    # 4 sizes (3 buckets) of each case: most inputs went unpadded, so a read past the rows
    # (or columns) of one would have faulted.
    unpadded = int(r.stdout.split("unpadded")[-1])
    # (57 on 2026-12-07; 42 without products reading column-dynamic operands in place.)
    assert unpadded >= 3 * 8 + 3 * 4 + 3 * 5, r.stdout
