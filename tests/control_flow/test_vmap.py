"""vmap of while_loop / fori_loop / cond / switch / scan against Python loops over the examples
(NumPy references in float64), on three paths: eager, jit on the interpreter, jit on cpu."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax

RNG = np.random.default_rng(3)


def same(got, want, rtol=1e-12):
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol)


# --- while_loop -----------------------------------------------------------------------------------

def collatz(n):
    def body(c):
        n, k = c
        return jnp.where(n % 2 == 0, n // 2, 3 * n + 1), k + 1
    return lax.while_loop(lambda c: c[0] > 1, body, (n, jnp.int64(0)))


def collatz_reference(n):
    k = 0
    while n > 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        k += 1
    return k


def test_while_batched_predicate_lanes_finish_at_different_times(on):
    ns = np.arange(1, 30, dtype=np.int64)
    final, steps = on(jc.vmap(collatz))(ns)
    same(steps, np.array([collatz_reference(int(n)) for n in ns], np.int64))
    same(final, np.ones_like(ns))       # finished lanes keep their carry (1), not 4 -> 2 -> 1 ...


def geometric(a, x):
    # the predicate depends only on the unbatched counter; the body uses the batched a and x
    return lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, c[1] * a + x), (0, x))[1]


def test_while_batched_consts_unbatched_predicate(on):
    a = RNG.normal(size=5)
    x = RNG.normal(size=5)
    want = x.copy()
    for _ in range(4):
        want = want * a + x
    same(on(jc.vmap(geometric))(a, x), want)
    same(on(jc.vmap(geometric, in_axes=(0, None)))(a, 0.5),
         np.array([_geom(ai, 0.5) for ai in a]))


def _geom(a, x):
    c = x
    for _ in range(4):
        c = c * a + x
    return c


def halve_until(x, limit):
    """A float predicate: lanes stop when below their own limit."""
    return lax.while_loop(lambda c: c[0] > limit, lambda c: (c[0] * 0.5, c[1] + 1), (x, 0))


def test_while_batched_predicate_with_batched_and_unbatched_consts(on):
    xs = RNG.uniform(1, 100, size=6)
    for limit, axes in ((RNG.uniform(0.5, 3, size=6), (0, 0)), (1.0, (0, None))):
        vals, counts = on(jc.vmap(halve_until, in_axes=axes))(xs, limit)
        lims = np.broadcast_to(limit, xs.shape)
        want_v, want_k = [], []
        for x, lim in zip(xs, lims):
            k = 0
            while x > lim:
                x, k = x * 0.5, k + 1
            want_v.append(x)
            want_k.append(k)
        same(vals, np.array(want_v))
        same(counts, np.array(want_k, np.int64))


# --- fori_loop ------------------------------------------------------------------------------------

def fori_static(x):
    return lax.fori_loop(0, 4, lambda i, c: c * x + i, x)


def fori_bounds(n, x):
    return lax.fori_loop(1, n, lambda i, c: c * x + i, x)


def fori_reference(lo, hi, x):
    c = x
    for i in range(lo, hi):
        c = c * x + i
    return c


def test_fori_loop_inside_vmap(on):
    xs = RNG.normal(size=5)
    same(on(jc.vmap(fori_static))(xs), np.array([fori_reference(0, 4, x) for x in xs]))
    # unbatched traced bound (jit) / concrete bound (eager), batched x
    same(on(jc.vmap(fori_bounds, in_axes=(None, 0)))(np.int64(4), xs),
         np.array([fori_reference(1, 4, x) for x in xs]))
    # batched upper bound: a while loop with a batched predicate
    ns = np.array([0, 1, 3, 5, 2], np.int64)
    same(on(jc.vmap(fori_bounds))(ns, xs),
         np.array([fori_reference(1, int(n), x) for n, x in zip(ns, xs)]))


# --- cond / switch --------------------------------------------------------------------------------

def branchy(p, x, y):
    return lax.cond(p, lambda x, y: (jnp.sin(x) * y, x.sum()),
                    lambda x, y: (x - y, (x * x).sum()), x, y)


def branchy_reference(p, x, y):
    return (np.sin(x) * y, x.sum()) if p else (x - y, (x * x).sum())


def test_cond_batched_predicate_selects_per_example(on):
    ps = np.array([True, False, False, True])
    xs, ys = RNG.normal(size=(2, 4, 3))
    a, b = on(jc.vmap(branchy))(ps, xs, ys)
    refs = [branchy_reference(*args) for args in zip(ps, xs, ys)]
    same(a, np.stack([r[0] for r in refs]))
    same(b, np.array([r[1] for r in refs]))
    # the other operand shared between examples
    a, b = on(jc.vmap(branchy, in_axes=(0, 0, None)))(ps, xs, ys[0])
    refs = [branchy_reference(p, x, ys[0]) for p, x in zip(ps, xs)]
    same(a, np.stack([r[0] for r in refs]))


def test_batched_predicate_cond_becomes_a_select():
    ps = np.array([True, False])
    xs, ys = RNG.normal(size=(2, 2, 3))
    text = jc.make_hlo(jc.vmap(branchy))(ps, xs, ys).as_text()
    assert " cond(" not in text and " select(" in text
    text = jc.make_hlo(jc.vmap(branchy, in_axes=(None, 0, 0)))(True, xs, ys).as_text()
    assert text.count(" cond(") == 1   # an unbatched predicate keeps the cond


def test_cond_batched_predicate_does_not_leak_the_untaken_branchs_nan(on):
    ps = np.array([True, False, True])
    xs = np.array([4.0, -1.0, 0.25])
    got = on(jc.vmap(lambda p, x: lax.cond(p, jnp.sqrt, lambda x: x * 2, x)))(ps, xs)
    same(got, np.array([2.0, -2.0, 0.5]))


@pytest.mark.parametrize("p", [True, False])
def test_cond_unbatched_predicate_batched_operands(on, p):
    xs, ys = RNG.normal(size=(2, 4, 3))
    a, b = on(jc.vmap(branchy, in_axes=(None, 0, 0)))(np.bool_(p), xs, ys)
    refs = [branchy_reference(p, x, y) for x, y in zip(xs, ys)]
    same(a, np.stack([r[0] for r in refs]))
    same(b, np.array([r[1] for r in refs]))
    # only one operand batched: the other branch output is unbatched inside
    a, b = on(jc.vmap(branchy, in_axes=(None, None, 0)))(np.bool_(p), xs[0], ys)
    refs = [branchy_reference(p, xs[0], y) for y in ys]
    same(a, np.stack([r[0] for r in refs]))
    same(b, np.array([r[1] for r in refs]))


def switch3(i, x):
    return lax.switch(i, [lambda x: x + 1.0, lambda x: x * x, lambda x: jnp.cos(x)], x)


def test_switch_batched_index_is_clamped_per_example(on):
    idx = np.array([-3, 0, 1, 2, 7, 1], np.int64)
    xs = RNG.normal(size=(6, 2))
    fns = [lambda x: x + 1.0, lambda x: x * x, np.cos]
    want = np.stack([fns[min(max(i, 0), 2)](x) for i, x in zip(idx, xs)])
    same(on(jc.vmap(switch3))(idx, xs), want)
    same(on(jc.vmap(switch3, in_axes=(0, None)))(idx, xs[0]),
         np.stack([fns[min(max(i, 0), 2)](xs[0]) for i in idx]))
    same(on(jc.vmap(switch3, in_axes=(None, 0)))(np.int64(2), xs), np.cos(xs))


# --- scan -----------------------------------------------------------------------------------------

def affine_scan(init, xs, w):
    def step(c, x):
        c = jnp.tanh(c * w + x)
        return c, c.sum()
    return lax.scan(step, init, xs)


def affine_reference(init, xs, w):
    c, ys = init, []
    for x in xs:
        c = np.tanh(c * w + x)
        ys.append(c.sum())
    return c, np.array(ys)


@pytest.mark.parametrize("axes", [(None, 0, None), (0, None, None), (0, 0, None), (None, None, 0),
                                  (0, 0, 0)], ids=["xs", "init", "both", "closed", "all"])
def test_scan_batched_init_xs_and_closed_over(on, axes):
    B, T, D = 3, 4, 2
    init = RNG.normal(size=(B, D) if axes[0] == 0 else (D,))
    xs = RNG.normal(size=(B, T, D) if axes[1] == 0 else (T, D))
    w = RNG.normal(size=(B, D) if axes[2] == 0 else (D,))
    c, ys = on(jc.vmap(affine_scan, in_axes=axes))(init, xs, w)
    refs = [affine_reference(init[b] if axes[0] == 0 else init, xs[b] if axes[1] == 0 else xs,
                             w[b] if axes[2] == 0 else w) for b in range(B)]
    same(c, np.stack([r[0] for r in refs]))
    same(ys, np.stack([r[1] for r in refs]))


def test_scan_reverse_and_mixed_carry_under_vmap(on):
    def f(xs):
        def step(c, x):
            k, s = c
            k = k + (x > 0).astype(jnp.int64)
            return (k, s * 0.5 + x), (k, s)
        return lax.scan(step, (jnp.int64(0), 0.0), xs, reverse=True)
    xs = RNG.normal(size=(3, 5))
    (k, s), (ks, ss) = on(jc.vmap(f))(xs)
    for b in range(3):
        kk, sv, want_k, want_s = 0, 0.0, np.zeros(5, np.int64), np.zeros(5)
        for t in reversed(range(5)):
            kk = kk + int(xs[b, t] > 0)
            want_k[t], want_s[t] = kk, sv
            sv = sv * 0.5 + xs[b, t]
        same(k[b], np.int64(kk))
        same(s[b], np.float64(sv))
        same(ks[b], want_k)
        same(ss[b], want_s)


def test_scan_length_zero_under_vmap(on):
    f = jc.vmap(lambda x: lax.scan(lambda c, v: (c + v, c * v), jnp.float64(1.5), x))
    c, ys = on(f)(np.zeros((3, 0)))
    same(c, np.full(3, 1.5))
    assert ys.shape == (3, 0) and ys.dtype == np.float64


def test_while_over_an_empty_batch(on):
    vals, counts = on(jc.vmap(halve_until, in_axes=(0, None)))(np.zeros(0), 1.0)
    assert vals.shape == counts.shape == (0,)
    assert vals.dtype == np.float64 and counts.dtype == np.int64


def test_scan_ys_independent_of_the_batch_stay_unbatched(on):
    # only the ys the body batches are batched (so out_axes=None works for the others)
    got = on(jc.vmap(lambda x: lax.scan(lambda c, v: (c, v * 2), 0.0, jnp.arange(3.0))[1],
                     out_axes=None))(np.ones(4))
    same(got, np.arange(3.0) * 2)


def test_loops_independent_of_the_batch_with_out_axes_none(on):
    got = on(jc.vmap(lambda x: (lax.scan(lambda c, v: (c + v, None), 0.0, jnp.arange(3.0))[0],
                                lax.while_loop(lambda c: c < 5, lambda c: c * 2, 1),
                                lax.fori_loop(0, 3, lambda i, c: c + i, 0)),
                     out_axes=None))(np.ones(4))
    same(got[0], np.float64(3.0))
    same(got[1], np.int64(8))
    same(got[2], np.int64(3))


# --- in_axes / out_axes and nesting ---------------------------------------------------------------

def test_vmap_in_axes_1_out_axes_1(on):
    xs = RNG.normal(size=(4, 3))            # examples along axis 1, the scan runs over axis 0
    # the carry is a scalar per example, so only its axis 0 exists (out_axes=1 for it raises,
    # as in JAX); the stacked ys take the examples along axis 1
    c, ys = on(jc.vmap(lambda x: lax.scan(lambda c, v: (c + v, c * v), 0.0, x), in_axes=1,
                       out_axes=(0, 1)))(xs)
    assert ys.shape == (4, 3)
    for b in range(3):
        cc, want = 0.0, []
        for v in xs[:, b]:
            want.append(cc * v)
            cc += v
        same(c[b], np.float64(cc))
        same(ys[:, b], np.array(want))
    # each example is a column; the inner vmap runs the while over its entries
    steps = on(jc.vmap(lambda col: jc.vmap(collatz)(col)[1], in_axes=1, out_axes=1))(
        np.arange(1, 13, dtype=np.int64).reshape(3, 4))
    same(steps, np.array([[collatz_reference(int(n)) for n in row]
                          for row in np.arange(1, 13).reshape(3, 4)], np.int64))


def test_nested_vmap(on):
    ps = np.array([[True, False, True], [False, False, True]])
    xs = RNG.normal(size=(2, 3, 4))
    ys = RNG.normal(size=(2, 3, 4))
    a, b = on(jc.vmap(jc.vmap(branchy)))(ps, xs, ys)
    for i in range(2):
        for j in range(3):
            ra, rb = branchy_reference(ps[i, j], xs[i, j], ys[i, j])
            same(a[i, j], ra)
            same(b[i, j], np.float64(rb))
    ns = np.arange(2, 14, dtype=np.int64).reshape(3, 4)
    _, steps = on(jc.vmap(jc.vmap(collatz)))(ns)
    same(steps, np.vectorize(collatz_reference)(ns).astype(np.int64))
    # the inner vmap over the scan, the outer over the closed-over weights
    init, xs2, w = RNG.normal(size=2), RNG.normal(size=(3, 4, 2)), RNG.normal(size=(5, 2))
    c, _ = on(jc.vmap(jc.vmap(affine_scan, in_axes=(None, 0, None)), in_axes=(None, None, 0)))(
        init, xs2, w)
    assert c.shape == (5, 3, 2)
    for i in range(5):
        for j in range(3):
            same(c[i, j], affine_reference(init, xs2[j], w[i])[0])
