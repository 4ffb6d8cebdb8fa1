"""lax.scan / fori_loop / while_loop / cond / switch / map: values and dtypes against Python
loops and NumPy, on three paths (eager, jit on the interpreter, jit on cpu; see conftest.py).
Error messages and the IR are in test_errors_and_ir.py."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax

RNG = np.random.default_rng(0)


def same(got, want, rtol=1e-12, atol=0.0):
    """`got` equals the float64/int reference `want`, value and dtype."""
    want = np.asarray(want)
    got_a = np.asarray(got)
    assert got_a.dtype == want.dtype, f"dtype {got_a.dtype}, want {want.dtype}"
    assert got_a.shape == want.shape, f"shape {got_a.shape}, want {want.shape}"
    np.testing.assert_allclose(got_a, want, rtol=rtol, atol=atol)


# --- scan -----------------------------------------------------------------------------------------

def cumsum_scan(xs):
    def step(c, x):
        c = c + x
        return c, c
    return lax.scan(step, jnp.zeros_like(xs[0]), xs)


def cumprod_scan(xs):
    def step(c, x):
        c = c * x
        return c, c
    return lax.scan(step, jnp.ones_like(xs[0]), xs)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
def test_scan_cumsum_and_cumprod(on, dtype):
    xs = (RNG.integers(1, 4, size=7)).astype(dtype)
    total, ys = on(cumsum_scan)(xs)
    same(ys, np.cumsum(xs).astype(dtype))
    same(total, np.sum(xs).astype(dtype))
    total, ys = on(cumprod_scan)(xs)
    same(ys, np.cumprod(xs).astype(dtype))
    same(total, np.prod(xs).astype(dtype))


def cumsum_reverse(xs):
    return lax.scan(lambda c, x: (c + x, c + x), jnp.zeros_like(xs[0]), xs, reverse=True)


def test_scan_reverse(on):
    xs = RNG.normal(size=6)
    total, ys = on(cumsum_reverse)(xs)
    same(ys, np.cumsum(xs[::-1])[::-1])
    same(total, np.sum(xs))


def pytree_scan(init, xs):
    def step(c, x):
        new = {"s": c["s"] + x["a"] * x["b"][0], "n": (c["n"][0] + 1, c["n"][1] * x["b"][1])}
        return new, (new["s"], {"prod": x["a"] * x["b"][1]})
    return lax.scan(step, init, xs)


def test_scan_pytree_carry_and_xs(on):
    a, b0, b1 = RNG.normal(size=(3, 5))
    init = {"s": np.float64(0.5), "n": (np.int64(0), np.float64(1.0))}
    (carry, (ys_s, ys_d)) = on(pytree_scan)(init, {"a": a, "b": (b0, b1)})
    s, n, p, want_s = 0.5, 0, 1.0, []
    for t in range(5):
        s, n, p = s + a[t] * b0[t], n + 1, p * b1[t]
        want_s.append(s)
    assert set(carry) == {"s", "n"} and isinstance(carry["n"], tuple)
    same(carry["s"], np.float64(s))
    same(carry["n"][0], np.int64(n))
    same(carry["n"][1], np.float64(p))
    same(ys_s, np.array(want_s))
    assert set(ys_d) == {"prod"}
    same(ys_d["prod"], a * b1)


def scan_no_ys(xs):
    return lax.scan(lambda c, x: (c + x * x, None), jnp.zeros((), xs.dtype), xs)


def test_scan_ys_none(on):
    xs = RNG.normal(size=4)
    carry, ys = on(scan_no_ys)(xs)
    assert ys is None
    same(carry, np.sum(xs * xs))


def powers(c):
    return lax.scan(lambda c, _: (c * 2.0, c), c, None, length=5)


def test_scan_xs_none_with_length(on):
    carry, ys = on(powers)(np.float64(1.5))
    same(ys, 1.5 * 2.0 ** np.arange(5))
    same(carry, np.float64(1.5 * 2 ** 5))


def scan_two_outputs(c, xs):
    return lax.scan(lambda c, x: (c * x, (c + x, (c * x > 0)[None])), c, xs)


def test_scan_length_zero(on):
    c = np.float64(2.0)
    carry, (ys, flags) = on(scan_two_outputs)(c, np.zeros(0))
    same(carry, c)
    assert ys.shape == (0,) and ys.dtype == np.float64
    assert flags.shape == (0, 1) and flags.dtype == np.bool_
    carry, ys = on(lambda c: lax.scan(lambda c, _: (c + 1, c), c, None, length=0))(c)
    same(carry, c)
    assert ys.shape == (0,) and ys.dtype == np.float64


def test_scan_length_zero_weak_init(on):
    # a weak init's type is found by tracing the body on abstract slices (xs has none here)
    carry, ys = on(lambda xs: lax.scan(lambda c, x: (c + x, c * x), 1.0, xs))(np.zeros(0))
    assert float(carry) == 1.0 and ys.shape == (0,)


def test_scan_multiple_ys_mixed_int_float_carry(on):
    xs = RNG.normal(size=8)

    def f(xs):
        def step(c, x):
            count, total = c
            pos = x > 0
            count = count + pos.astype(jnp.int64)
            total = total + jnp.where(pos, x, 0.0)
            return (count, total), (count, total, x * 2)
        return lax.scan(step, (jnp.int64(0), jnp.float64(0.0)), xs)
    (count, total), (counts, totals, doubled) = on(f)(xs)
    pos = xs > 0
    same(count, np.int64(pos.sum()))
    same(total, np.sum(np.where(pos, xs, 0.0)))
    same(counts, np.cumsum(pos).astype(np.int64))
    same(totals, np.cumsum(np.where(pos, xs, 0.0)))
    same(doubled, xs * 2)


def rows_scan(m):
    def step(acc, row):
        return acc + row, jnp.sqrt(jnp.sum(row * row))
    return lax.scan(step, jnp.zeros(m.shape[1], m.dtype), m)


def test_scan_over_rows_of_2d_xs(on):
    m = RNG.normal(size=(5, 3))
    acc, norms = on(rows_scan)(m)
    same(acc, m.sum(axis=0))
    same(norms, np.linalg.norm(m, axis=1))


def test_map(on):
    m = RNG.normal(size=(4, 3))
    got = on(lambda m: lax.map(lambda r: (r.sum(), r[::-1]), m))(m)
    same(got[0], m.sum(axis=1))
    same(got[1], m[:, ::-1])


def test_map_over_a_pytree_and_list_xs_and_carries(on):
    x = RNG.normal(size=4)
    same(on(lambda x: lax.map(lambda t: t["a"] * t["b"], {"a": x, "b": x + 1}))(x), x * (x + 1))
    total, ys = on(lambda x: lax.scan(lambda c, v: (c + v[0] * v[1], None), 0.0, [x, x]))(x)
    same(total, np.sum(x * x))
    out = on(lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: [c[0] + 1, c[1] * 2],
                                      [0, x]))(x)
    assert isinstance(out, list)
    same(out[1], x * 8)
    (s, none), ys = on(lambda x: lax.scan(lambda c, v: ((c[0] + v, None), None), (0.0, None),
                                         x))(x)
    assert none is None and ys is None
    same(s, np.sum(x))


def test_unroll_does_not_change_results(on):
    x = RNG.normal(size=5)
    c, ys = on(lambda x: lax.scan(lambda c, v: (c * 0.5 + v, c), 0.0, x, unroll=2))(x)
    want_c, want_ys = 0.0, []
    for v in x:
        want_ys.append(want_c)
        want_c = want_c * 0.5 + v
    same(c, np.float64(want_c))
    same(ys, np.array(want_ys))
    same(on(lambda x: lax.fori_loop(0, 5, lambda i, c: c * 0.5 + x[4 - i], 0.0, unroll=3))(
        jnp.asarray(x)), np.float64(sum(x[j] * 0.5 ** j for j in range(5))))


# --- an RNN (its gradients are in test_ad.py) ----------------------------------------------------

def rnn(W, U, b, h0, xs):
    def step(h, x):
        h = jnp.tanh(W @ h + U @ x + b)
        return h, h
    return lax.scan(step, h0, xs)


def rnn_reference(W, U, b, h0, xs):
    h, hs = h0, []
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
        hs.append(h)
    return h, np.stack(hs)


def rnn_params(hidden=4, inputs=3, steps=6, seed=1):
    r = np.random.default_rng(seed)
    return (r.normal(size=(hidden, hidden)) * 0.5, r.normal(size=(hidden, inputs)) * 0.5,
            r.normal(size=hidden) * 0.1, r.normal(size=hidden), r.normal(size=(steps, inputs)))


def test_rnn_forward(on):
    args = rnn_params()
    h, hs = on(rnn)(*args)
    want_h, want_hs = rnn_reference(*args)
    same(h, want_h)
    same(hs, want_hs)


# --- fori_loop ------------------------------------------------------------------------------------

def poly_body(i, c):
    return c * 0.5 + i * i - 3


def poly_reference(lo, hi, c):
    for i in range(lo, hi):
        c = c * 0.5 + i * i - 3
    return c


def fori_traced(lo, hi, c):
    return lax.fori_loop(lo, hi, poly_body, c)


@pytest.mark.parametrize("lo,hi", [(0, 6), (-4, 3), (-7, -2), (5, 5), (6, 2)])
def test_fori_loop_static_and_traced_bounds(on, lo, hi):
    c = np.float64(1.25)
    want = np.float64(poly_reference(lo, hi, 1.25))
    same(on(lambda c: lax.fori_loop(lo, hi, poly_body, c))(c), want)
    # Bounds as arguments: traced under jit (a `while`), concrete eagerly.
    same(on(fori_traced)(np.int64(lo), np.int64(hi), c), want)


def test_fori_loop_static_is_scan_traced_is_while():
    c = np.float64(1.0)
    static = jc.make_hlo(lambda c: lax.fori_loop(0, 4, poly_body, c))(c).as_text()
    traced = jc.make_hlo(fori_traced)(0, 4, c).as_text()
    assert " scan(" in static and " while(" not in static
    assert " while(" in traced and " scan(" not in traced


def fori_int_index(n, v):
    return lax.fori_loop(0, n, lambda i, v: v.at[i].set(v[i] * i + v[(i + 1) % 5]), v)


def test_fori_loop_body_indexes_with_i(on):
    v = RNG.normal(size=5)
    want = v.copy()
    for i in range(5):
        want[i] = want[i] * i + want[(i + 1) % 5]
    same(on(fori_int_index)(np.int64(5), v), want)


def add_index(lo, hi, c):
    return lax.fori_loop(lo, hi, lambda i, c: c + i, c)


def test_fori_loop_index_takes_the_dtype_of_int32_bounds(on):
    got = on(add_index)(np.int32(2), np.int32(7), np.int32(0))
    same(got, np.int32(sum(range(2, 7))))


def test_fori_loop_index_is_weak_with_python_int_bounds(on):
    # as in JAX, i is a weak int: `c + i` keeps an int32 carry int32
    got = on(lambda c: lax.fori_loop(0, 5, lambda i, c: c + i, c))(np.int32(1))
    same(got, np.int32(11))


def test_fori_loop_python_lower_and_int32_upper(on):
    # the weak lower bound 0 takes the int32 of upper
    got = on(lambda n, c: lax.fori_loop(0, n, lambda i, c: c + i, c))(np.int32(5), np.int32(1))
    same(got, np.int32(11))


# --- while_loop -----------------------------------------------------------------------------------

def collatz_steps(n):
    def body(c):
        n, k = c
        return jnp.where(n % 2 == 0, n // 2, 3 * n + 1), k + 1
    return lax.while_loop(lambda c: c[0] != 1, body, (n, jnp.int64(0)))[1]


def collatz_reference(n):
    k = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        k += 1
    return k


@pytest.mark.parametrize("n", [1, 6, 27])
def test_while_collatz(on, n):
    same(on(collatz_steps)(np.int64(n)), np.int64(collatz_reference(n)))


def newton_sqrt(a):
    def body(c):
        x, k = c
        return 0.5 * (x + a / x), k + 1
    return lax.while_loop(lambda c: jnp.abs(c[0] * c[0] - a) > 1e-12 * a, body,
                          (jnp.maximum(a, 1.0), jnp.int64(0)))


@pytest.mark.parametrize("a", [2.0, 1e-3, 12345.0])
def test_while_newton_sqrt(on, a):
    x, k = on(newton_sqrt)(np.float64(a))
    same(x, np.sqrt(a), rtol=1e-12)
    # the same iteration in Python takes the same number of steps
    xr, kr = max(a, 1.0), 0
    while abs(xr * xr - a) > 1e-12 * a:
        xr, kr = 0.5 * (xr + a / xr), kr + 1
    same(k, np.int64(kr))


def pytree_while(state):
    def body(s):
        return {"x": s["x"] * 1.5, "steps": (s["steps"][0] + 1,), "v": s["v"] + s["x"]}
    return lax.while_loop(lambda s: s["x"] < 100.0, body, state)


def test_while_pytree_carry_and_zero_iterations(on):
    v = RNG.normal(size=3)
    out = on(pytree_while)({"x": np.float64(1.0), "steps": (np.int64(0),), "v": v})
    x, k, vv = 1.0, 0, v.copy()
    while x < 100.0:
        x, k, vv = x * 1.5, k + 1, vv + x
    same(out["x"], np.float64(x))
    same(out["steps"][0], np.int64(k))
    same(out["v"], vv)
    # cond false at the start: the carry comes back unchanged
    out = on(pytree_while)({"x": np.float64(500.0), "steps": (np.int64(3),), "v": v})
    same(out["x"], np.float64(500.0))
    same(out["steps"][0], np.int64(3))
    same(out["v"], v)


# --- cond / switch --------------------------------------------------------------------------------

def cond_two(p, x, y):
    return lax.cond(p, lambda x, y: x * y + 1.0, lambda x, y: x - y, x, y)


@pytest.mark.parametrize("p", [True, False])
def test_cond_both_branches_traced_predicate(on, p):
    x, y = RNG.normal(size=(2, 3))
    same(on(cond_two)(np.bool_(p), x, y), x * y + 1.0 if p else x - y)


@pytest.mark.parametrize("p", [True, False])
def test_cond_python_bool_predicate(on, p):
    x, y = RNG.normal(size=(2, 3))
    same(on(lambda x, y: cond_two(p, x, y))(x, y), x * y + 1.0 if p else x - y)


@pytest.mark.parametrize("p", [0, 3, -1])
def test_cond_integer_predicate_nonzero_is_true(on, p):
    x, y = RNG.normal(size=(2, 2))
    for dt in (np.int64, np.int32, np.uint8):
        if p < 0 and dt == np.uint8:
            continue
        same(on(cond_two)(dt(p), x, y), x * y + 1.0 if p else x - y)


def cond_pytree(p, tree):
    def yes(t):
        return {"sum": t["a"] + t["b"][0], "pair": (t["b"][1] * 2, t["a"].sum())}

    def no(t):
        return {"sum": t["a"] - t["b"][0], "pair": (-t["b"][1], t["a"].max())}
    return lax.cond(p, yes, no, tree)


@pytest.mark.parametrize("p", [True, False])
def test_cond_pytree_operands_and_outputs(on, p):
    a, b0 = RNG.normal(size=(2, 4))
    b1 = RNG.integers(-5, 5, size=2)
    out = on(cond_pytree)(np.bool_(p), {"a": a, "b": (b0, b1)})
    assert set(out) == {"sum", "pair"} and isinstance(out["pair"], tuple)
    if p:
        same(out["sum"], a + b0)
        same(out["pair"][0], b1 * 2)
        same(out["pair"][1], a.sum())
    else:
        same(out["sum"], a - b0)
        same(out["pair"][0], -b1)
        same(out["pair"][1], a.max())


def switch3(i, x, y):
    return lax.switch(i, [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - 2 * y], x, y)


@pytest.mark.parametrize("i", [-5, -1, 0, 1, 2, 3, 100])
def test_switch_index_is_clamped(on, i):
    x, y = RNG.normal(size=(2, 3))
    want = [x + y, x * y, x - 2 * y][min(max(i, 0), 2)]
    same(on(switch3)(np.int64(i), x, y), want)
    same(on(lambda x, y: switch3(i, x, y))(x, y), want)   # a Python int index


def test_switch_single_branch_and_operand_keyword(on):
    x = RNG.normal(size=3)
    same(on(lambda i, x: lax.switch(i, [jnp.sin], x))(np.int64(7), x), np.sin(x))
    same(on(lambda p, x: lax.cond(p, jnp.cos, jnp.sin, operand=x))(np.bool_(True), x),
         np.cos(x))


def cond_closure(p, x, scale, offset):
    # branches close over other arguments of the jitted function and over a NumPy constant
    table = np.arange(3.0)
    return lax.cond(p, lambda v: v * scale + table, lambda v: v - offset, x)


@pytest.mark.parametrize("p", [True, False])
def test_cond_branches_close_over_outer_values(on, p):
    x = RNG.normal(size=3)
    got = on(cond_closure)(np.bool_(p), x, np.float64(2.5), np.float64(-1.0))
    same(got, x * 2.5 + np.arange(3.0) if p else x + 1.0)
    # a Python-bool predicate: the chosen branch is inlined, still closing over the arguments
    got = on(lambda x, s, o: cond_closure(p, x, s, o))(x, np.float64(2.5), np.float64(-1.0))
    same(got, x * 2.5 + np.arange(3.0) if p else x + 1.0)


def test_switch_branches_close_over_different_values(on):
    x, a, b = RNG.normal(size=(3, 4))

    def f(i, x, a, b):
        return lax.switch(i, [lambda v: v + a, lambda v: v * b, lambda v: v], x)
    for i, want in enumerate([x + a, x * b, x]):
        same(on(f)(np.int64(i), x, a, b), want)


# --- closures in loop bodies ----------------------------------------------------------------------

def loops_with_closures(w, xs, n0):
    consts = np.linspace(0.0, 1.0, 4)        # a NumPy constant ...
    table = jnp.asarray(consts)              # ... and an array indexed by the loop counter
    s = lax.fori_loop(0, 3, lambda i, c: c * w + table[i], 0.0 * w)
    t = lax.while_loop(lambda c: c[0] < n0, lambda c: (c[0] + 1, c[1] @ w + consts), (0, consts))[1]
    c, ys = lax.scan(lambda c, x: (c + x @ w, c * consts + w[0]), jnp.zeros(4), xs)
    return s, t, c, ys


def test_loop_bodies_close_over_arguments_and_constants(on):
    w = RNG.normal(size=(4, 4)) * 0.5
    xs = RNG.normal(size=(3, 4))
    s, t, c, ys = on(loops_with_closures)(w, xs, np.int64(3))
    consts = np.linspace(0.0, 1.0, 4)
    ws = 0.0 * w
    for i in range(3):
        ws = ws * w + consts[i]
    wt = consts
    for _ in range(3):
        wt = wt @ w + consts
    wc, wys = np.zeros(4), []
    for x in xs:
        wys.append(wc * consts + w[0])
        wc = wc + x @ w
    same(s, ws)
    same(t, wt)
    same(c, wc)
    same(ys, np.stack(wys))


# --- dtypes of results ----------------------------------------------------------------------------

def weak_loops(x):
    return (x + lax.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0),
            x + lax.while_loop(lambda c: c < 3, lambda c: c + 1.0, 0.0),
            x + lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=3)[1])


def test_weak_scalar_carries_stay_weak(on):
    # after any number of iterations, on every path: f32 + result stays f32
    x = np.ones(3, np.float32)
    s, w, ys = on(weak_loops)(x)
    same(s, np.full(3, 9.0, np.float32))
    same(w, np.full(3, 4.0, np.float32))
    same(ys, np.float32(1) + np.float32([1, 2, 4]))


@pytest.mark.parametrize("init", [0.0, 0])
def test_weak_init_takes_the_bodys_dtype(on, init):
    # JAX's _promote_weak_typed_inputs: a weak init takes the dtype the body gives the carry
    xs = np.arange(1, 5, dtype=np.float32)
    carry, ys = on(lambda xs: lax.scan(lambda c, x: (c + x, c), init, xs))(xs)
    same(carry, np.float32(10))
    same(ys, np.float32([0, 1, 3, 6]))


def test_results_are_jitcore_arrays(on):
    # eagerly too, including branches that return constants
    outs = on(lambda x: (lax.cond(x > 0, lambda: 1.0, lambda: 2.0),
                         lax.switch(1, [lambda: jnp.ones(2), lambda: jnp.zeros(2)]),
                         lax.fori_loop(0, 2, lambda i, c: c + i, 0)))(np.float64(1.0))
    for o in outs:
        assert isinstance(o, jc.Array), type(o)


@pytest.mark.parametrize("pred", ["traced", "python"])
def test_cond_weak_branch_outputs_stay_weak(on, pred):
    """JAX's cond output avals are the branches' (weak for Python scalars), so an f32 array plus
    the result stays f32, with a traced or a Python-bool (inlined) predicate, on every path."""
    x = np.ones(2, np.float32)
    if pred == "traced":
        got = on(lambda p, x: x + lax.cond(p, lambda: 1.0, lambda: 2.0))(np.bool_(True), x)
    else:
        got = on(lambda x: x + lax.cond(True, lambda: 1.0, lambda: 2.0))(x)
    same(got, np.full(2, 2.0, np.float32))
