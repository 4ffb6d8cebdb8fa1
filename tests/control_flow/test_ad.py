"""Derivatives through scan / fori_loop / while_loop / cond / switch against finite differences
of NumPy references in float64 (and analytic values where there are some), on three paths:
eager, jit on the interpreter, jit on cpu (see conftest.py)."""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from xla_like import control_flow_rules
from tests.helpers import check_grads, fd_grad

RNG = np.random.default_rng(2)


def fd_jacobian(f, x, eps=1e-6):
    """d f(x)[j] / d x[i] as an array of shape f(x).shape + x.shape."""
    x = np.asarray(x, np.float64)
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        jac[(Ellipsis,) + i] = (np.asarray(f(x + d)) - np.asarray(f(x - d))) / (2 * eps)
    return jac


def close(got, want, rtol=1e-6, atol=1e-8):
    got = np.asarray(got)
    assert got.dtype == np.float64, got.dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# --- fori_loop: static bounds (scan) and traced bounds (while) ------------------------------------

def fori_static(x):
    return lax.fori_loop(0, 5, lambda i, c: jnp.sin(c) * x + 0.1 * i, x)


def fori_dynamic(n, x):
    return lax.fori_loop(0, n, lambda i, c: jnp.sin(c) * x + 0.1 * i, x)


def fori_reference(x, n=5):
    c = x
    for i in range(n):
        c = np.sin(c) * x + 0.1 * i
    return c


def test_fori_loop_static_bounds_all_modes(on):
    x = RNG.normal(size=3)
    want = fd_jacobian(fori_reference, x)
    close(on(jc.jacfwd(fori_static))(x), want)
    close(on(jc.jacrev(fori_static))(x), want)
    close(on(jc.grad(lambda x: fori_static(x).sum()))(x), want.sum(0))
    t = RNG.normal(size=3)
    out, tout = on(lambda x, t: jc.jvp(fori_static, (x,), (t,)))(x, t)
    close(out, fori_reference(x), rtol=1e-12)
    close(tout, want @ t)


def test_fori_loop_traced_bounds_reverse_mode_while(on):
    # under jit the bounds are traced: fori_loop is a while_loop, differentiated in reverse
    x = RNG.normal(size=3)
    want = fd_jacobian(fori_reference, x)
    n = np.int64(5)
    close(on(jc.jacrev(fori_dynamic, argnums=1))(n, x), want)
    close(on(jc.jacfwd(fori_dynamic, argnums=1))(n, x), want)
    close(on(jc.grad(lambda n, x: fori_dynamic(n, x).sum(), argnums=1))(n, x), want.sum(0))
    t = RNG.normal(size=3)
    _, tout = on(lambda n, x, t: jc.jvp(lambda x: fori_dynamic(n, x), (x,), (t,)))(n, x, t)
    close(tout, want @ t)
    # zero trips: the identity
    close(on(jc.jacrev(fori_dynamic, argnums=1))(np.int64(0), x), np.eye(3))


def test_fori_loop_second_derivatives(on, monkeypatch):
    # Reverse mode of the traced-bound loop records into a tape of up to TAPE_MAX_SLOTS slots;
    # nested twice and interpreted, 1024 slots take seconds. Any slot count is exact (the
    # stride adapts; test_while_longer_than_the_tape_is_exact covers strides).
    monkeypatch.setattr(control_flow_rules, "TAPE_MAX_SLOTS", 16)

    def f(x):
        return lax.fori_loop(0, 4, lambda i, c: jnp.sin(c) * x, x)

    def f_dyn(n, x):
        return lax.fori_loop(0, n, lambda i, c: jnp.sin(c) * x, x)

    def ref(x):
        c = x
        for _ in range(4):
            c = np.sin(c) * x
        return c
    x, h = 0.7, 1e-4
    want = (ref(x + h) - 2 * ref(x) + ref(x - h)) / h ** 2
    close(on(jc.grad(jc.grad(f)))(x), want, rtol=1e-5)
    close(on(jc.hessian(f))(x), want, rtol=1e-5)
    close(on(jc.grad(jc.grad(f_dyn, argnums=1), argnums=1))(np.int64(4), x), want, rtol=1e-5)


def test_check_grads_eagerly_to_second_order():
    x = RNG.normal(size=2)
    check_grads(fori_static, (x,), order=2)
    check_grads(lambda x: lax.scan(lambda c, v: (c * jnp.cos(v) + v, c * v), x[0], x)[1],
                (x,), order=2)
    check_grads(lambda x: lax.cond(x[0] > 0, jnp.sin, lambda v: v ** 3, x), (x,), order=2)
    check_grads(lambda x: lax.while_loop(lambda c: c[1] < 3, lambda c: (jnp.sin(c[0]) * x,
                                                                       c[1] + 1), (x, 0))[0],
                (x,), order=2)


# --- while_loop -----------------------------------------------------------------------------------

def cube_root(a):
    """Newton's method for x**3 = a: the trip count depends on a."""
    return lax.while_loop(lambda x: jnp.abs(x ** 3 - a) > 1e-13 * a,
                          lambda x: x - (x ** 3 - a) / (3 * x ** 2), a)


def cube_root_reference(a):
    x = a
    while abs(x ** 3 - a) > 1e-13 * a:
        x = x - (x ** 3 - a) / (3 * x ** 2)
    return x


@pytest.mark.parametrize("a", [2.0, 30.0])
def test_while_newton_gradient(on, a):
    x = np.cbrt(a)
    analytic = 1.0 / (3 * x ** 2)
    close(on(cube_root)(a), x, rtol=1e-12)
    close(on(jc.grad(cube_root))(a), analytic, rtol=1e-9)
    close(on(jc.grad(cube_root))(a), fd_grad(cube_root_reference, a, eps=1e-5), rtol=1e-6)
    _, t = on(lambda a: jc.jvp(cube_root, (a,), (1.0,)))(a)
    close(t, analytic, rtol=1e-9)


def decay(n, x0, a):
    def body(c):
        k, x = c
        return k + 1, x * 0.999 + a * 1e-3
    return lax.while_loop(lambda c: c[0] < n, body, (jnp.int64(0), x0))[1]


def decay_gradients(n):
    # x_n = 0.999**n x0 + a 1e-3 (1 - 0.999**n) / (1 - 0.999)
    return 0.999 ** n, 1e-3 * (1 - 0.999 ** n) / (1 - 0.999)


def test_while_longer_than_the_tape_is_exact(on):
    # 3000 > TAPE_MAX_SLOTS carries: the tape keeps every s-th carry and recomputes the rest
    assert 3000 > control_flow_rules.TAPE_MAX_SLOTS
    g = on(jc.grad(decay, argnums=(1, 2)))(np.int64(3000), 1.0, 2.0)
    for got, want in zip(g, decay_gradients(3000)):
        close(got, want, rtol=1e-11)


def wavy(n, x, a):
    """A nonlinear elementwise loop with a vector carry; the Jacobians are diagonal."""
    def body(c):
        k, v = c
        return k + 1, v - 0.3 * jnp.sin(v) * a + a * a
    return lax.while_loop(lambda c: c[0] < n, body, (jnp.int64(0), x))[1]


def wavy_reference_grads(n, x, a):
    """d(sum x_n)/d x0 and d(sum x_n)/da by forward accumulation in NumPy."""
    v, dv_dx, dv_da = x.copy(), np.ones_like(x), np.zeros_like(x)
    for _ in range(n):
        dv_dx = dv_dx * (1 - 0.3 * np.cos(v) * a)
        dv_da = dv_da * (1 - 0.3 * np.cos(v) * a) - 0.3 * np.sin(v) + 2 * a
        v = v - 0.3 * np.sin(v) * a + a * a
    return dv_dx, dv_da.sum()


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 8, 9, 13, 17])
def test_while_tape_strides(on, n, monkeypatch):
    """With 4 tape slots, n steps record every ceil(n/4)-th carry: strides 1 to 5, trip counts
    on and off multiples of the stride."""
    monkeypatch.setattr(control_flow_rules, "TAPE_MAX_SLOTS", 4)
    x, a = RNG.normal(size=4), 0.4
    # a fresh function per case: the tape size is fixed when the vjp is traced
    g = on(jc.grad(lambda n, x, a: wavy(n, x, a).sum(), argnums=(1, 2)))(np.int64(n), x, a)
    want = wavy_reference_grads(n, x, a)
    close(g[0], want[0], rtol=1e-12)
    close(g[1], want[1], rtol=1e-12)


def test_while_gradient_with_pytree_carry_and_consts(on):
    w = RNG.normal(size=(3, 3)) * 0.4

    def f(w, x):
        def body(s):
            return {"x": jnp.tanh(w @ s["x"]), "k": s["k"] + 1, "acc": s["acc"] + s["x"].sum()}
        out = lax.while_loop(lambda s: s["k"] < 4, body, {"x": x, "k": 0, "acc": 0.0})
        return out["x"].sum() + out["acc"]

    def ref(w, x):
        acc = 0.0
        for _ in range(4):
            acc, x = acc + x.sum(), np.tanh(w @ x)
        return x.sum() + acc
    x = RNG.normal(size=3)
    gw, gx = on(jc.grad(f, argnums=(0, 1)))(w, x)
    close(gw, fd_grad(lambda w: ref(w, x), w))
    close(gx, fd_grad(lambda x: ref(w, x), x))


# --- cond / switch --------------------------------------------------------------------------------

def piecewise(p, x, y):
    return lax.cond(p, lambda x, y: jnp.sin(x) * y, lambda x, y: x ** 2 - 3 * y, x, y)


@pytest.mark.parametrize("p", [True, False])
def test_cond_gradient_of_the_taken_branch(on, p):
    x, y = 0.3, -1.2
    gx, gy = on(jc.grad(piecewise, argnums=(1, 2)))(np.bool_(p), x, y)
    close(gx, np.cos(x) * y if p else 2 * x, rtol=1e-12)
    close(gy, np.sin(x) if p else -3.0, rtol=1e-12)
    gx2 = on(jc.grad(lambda x, y: piecewise(p, x, y)))(x, y)    # Python-bool predicate
    close(gx2, np.cos(x) * y if p else 2 * x, rtol=1e-12)
    jf = on(jc.jacfwd(lambda v: piecewise(p, v[0], v[1])))(np.array([x, y]))
    jr = on(jc.jacrev(lambda v: piecewise(p, v[0], v[1])))(np.array([x, y]))
    close(jf, [np.cos(x) * y, np.sin(x)] if p else [2 * x, -3.0], rtol=1e-12)
    close(jr, jf, rtol=1e-12)


def three_way(i, x):
    return lax.switch(i, [lambda x: jnp.exp(x).sum(), lambda x: (x * x).sum(),
                          lambda x: jnp.sum(jnp.sin(x) * x)], x)


@pytest.mark.parametrize("i", [-1, 1, 2, 9])
def test_switch_gradient(on, i):
    x = RNG.normal(size=3)
    want = [np.exp(x), 2 * x, np.cos(x) * x + np.sin(x)][min(max(i, 0), 2)]
    close(on(jc.grad(three_way, argnums=1))(np.int64(i), x), want, rtol=1e-12)


def test_cond_gradient_with_batched_predicate(on):
    ps = np.array([True, False, True, False])
    xs = RNG.normal(size=4)
    y = 0.7
    want_x = np.where(ps, np.cos(xs) * y, 2 * xs)
    got = on(jc.vmap(jc.grad(piecewise, argnums=1), in_axes=(0, 0, None)))(ps, xs, y)
    close(got, want_x, rtol=1e-12)
    # grad of a sum of a batched cond: wrt the batched x and the shared y
    gx, gy = on(jc.grad(lambda xs, y: jc.vmap(piecewise, in_axes=(0, 0, None))(ps, xs, y).sum(),
                        argnums=(0, 1)))(xs, y)
    close(gx, want_x, rtol=1e-12)
    close(gy, np.sum(np.where(ps, np.sin(xs), -3.0)), rtol=1e-12)


def test_grad_of_batched_cond_ignores_the_untaken_branch(on):
    ps = np.array([True, False, True])
    xs = np.array([4.0, -1.0, 0.25])          # sqrt'(-1) is nan, but lane 1 takes x * 2
    got = on(jc.grad(lambda xs: jc.vmap(lambda p, x: lax.cond(p, jnp.sqrt, lambda x: x * 2, x))(
        ps, xs).sum()))(xs)
    close(got, np.where(ps, 0.5 / np.sqrt(np.abs(xs)), 2.0), rtol=1e-12)


def sqrt_down(x):
    return lax.while_loop(lambda c: c > 2.0, lambda c: jnp.sqrt(c - 1.0), x)


def sqrt_down_grad_reference(x):
    g = 1.0
    while x > 2.0:
        g, x = g * 0.5 / np.sqrt(x - 1.0), np.sqrt(x - 1.0)
    return g


def test_vmap_of_grad_of_while_lanes_finishing_early(on):
    xs = np.array([10.0, 0.5, 50.0])
    close(on(jc.vmap(jc.grad(sqrt_down)))(xs), [sqrt_down_grad_reference(x) for x in xs],
          rtol=1e-12)


def test_grad_of_vmap_of_while_lanes_finishing_early(on):
    xs = np.array([10.0, 0.5, 50.0])         # lane 1 never runs the body: sqrt(0.5 - 1) is nan
    got = on(jc.grad(lambda xs: jc.vmap(sqrt_down)(xs).sum()))(xs)
    close(got, [sqrt_down_grad_reference(x) for x in xs], rtol=1e-12)


# --- scan -----------------------------------------------------------------------------------------

def scan_loss(init, xs, w):
    def step(c, x):
        c = jnp.tanh(c * w + x)
        return c, c * x
    c, ys = lax.scan(step, init, xs)
    return c.sum() + ys.sum()


def scan_loss_reference(init, xs, w):
    c, total = init, 0.0
    for x in xs:
        c = np.tanh(c * w + x)
        total += np.sum(c * x)
    return c.sum() + total


def test_scan_gradients_wrt_init_xs_and_closed_over(on):
    init, w = RNG.normal(size=3), RNG.normal(size=3)
    xs = RNG.normal(size=(5, 3))
    g_init, g_xs, g_w = on(jc.grad(scan_loss, argnums=(0, 1, 2)))(init, xs, w)
    close(g_init, fd_grad(lambda v: scan_loss_reference(v, xs, w), init))
    close(g_xs, fd_grad(lambda v: scan_loss_reference(init, v, w), xs))
    close(g_w, fd_grad(lambda v: scan_loss_reference(init, xs, v), w))


def test_scan_reverse_jacobians(on):
    def f(xs):
        return lax.scan(lambda c, x: (c * x + 1.0, c * jnp.sin(x)), 0.5, xs, reverse=True)[1]

    def ref(xs):
        c, ys = 0.5, np.zeros_like(xs)
        for t in reversed(range(len(xs))):
            c, ys[t] = c * xs[t] + 1.0, c * np.sin(xs[t])
        return ys
    xs = RNG.normal(size=4)
    want = fd_jacobian(ref, xs)
    close(on(jc.jacrev(f))(xs), want)
    close(on(jc.jacfwd(f))(xs), want)


def rnn_loss(W, U, b, h0, xs):
    def step(h, x):
        h = jnp.tanh(W @ h + U @ x + b)
        return h, h
    _, hs = lax.scan(step, h0, xs)
    return jnp.sum(hs * hs) + hs[-1].sum()


def rnn_loss_reference(W, U, b, h0, xs):
    h, total = h0, 0.0
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
        total += np.sum(h * h)
    return total + h.sum()


def test_rnn_gradients(on):
    r = np.random.default_rng(5)
    args = [r.normal(size=(4, 4)) * 0.5, r.normal(size=(4, 3)) * 0.5, r.normal(size=4) * 0.1,
            r.normal(size=4), r.normal(size=(6, 3))]
    grads = on(jc.grad(rnn_loss, argnums=(0, 1, 2, 3)))(*args)
    for k, g in enumerate(grads):
        def f_k(v, k=k):
            a = list(args)
            a[k] = v
            return rnn_loss_reference(*a)
        close(g, fd_grad(f_k, args[k]))


# --- compositions and closures --------------------------------------------------------------------

def batched_scan_loss(w, xs):
    # vmap over examples of a scan whose body closes over w
    per_example = jc.vmap(lambda x: lax.scan(lambda c, v: (jnp.sin(c * w) + v, c), 0.0, x)[0])
    return jnp.sum(per_example(xs) ** 2)


def batched_scan_reference(w, xs):
    total = 0.0
    for x in xs:
        c = 0.0
        for v in x:
            c = np.sin(c * w) + v
        total += c * c
    return total


def test_grad_of_vmap_of_scan(on):
    xs = RNG.normal(size=(3, 4))
    got = on(jc.grad(batched_scan_loss))(0.8, xs)
    close(got, fd_grad(lambda w: batched_scan_reference(w, xs), 0.8))


def test_vmap_of_grad_of_while(on):
    a = np.array([2.0, 8.0, 0.5, 27.0])
    got = on(jc.vmap(jc.grad(cube_root)))(a)
    close(got, 1.0 / (3 * np.cbrt(a) ** 2), rtol=1e-9)


def test_vmap_of_grad_of_fori_traced_bounds(on):
    xs = RNG.normal(size=(3, 2))
    got = on(jc.vmap(jc.grad(lambda n, x: fori_dynamic(n, x).sum(), argnums=1),
                     in_axes=(None, 0)))(np.int64(5), xs)
    for x, g in zip(xs, np.asarray(got)):
        close(g, fd_jacobian(fori_reference, x).sum(0))


def test_grad_wrt_value_closed_over_by_loop_body(on):
    def f(w, x):
        s = lax.fori_loop(0, 3, lambda i, c: c * w + x, 1.0)
        t = lax.while_loop(lambda c: c[0] < 2, lambda c: (c[0] + 1, c[1] * w), (0, x))[1]
        u = lax.scan(lambda c, v: (c + v * w, None), 0.0, jnp.arange(3.0))[0]
        v = lax.cond(x < 0, lambda: w * w * x, lambda: w)
        return s + t + u + v

    def ref(w, x):
        s = 1.0
        for _ in range(3):
            s = s * w + x
        return s + x * w * w + 3 * w + (w * w * x if x < 0 else w)
    w, x = 0.9, -0.4
    gw, gx = on(jc.grad(f, argnums=(0, 1)))(w, x)
    close(gw, fd_grad(lambda v: ref(v, x), w))
    close(gx, fd_grad(lambda v: ref(w, v), x))


# --- nesting --------------------------------------------------------------------------------------

def nested(w, xs):
    """A scan whose body holds a fori_loop, a cond and a while_loop, each closing over the scan's
    carry and x and over the argument w."""
    def step(c, x):
        inner = lax.fori_loop(0, 3, lambda i, d: d * w + x * c, c)
        out = lax.cond(x > 0, lambda: inner, lambda: inner * w)
        y = lax.while_loop(lambda e: e[0] < 2, lambda e: (e[0] + 1, e[1] + w * x), (0, c))[1]
        return out, y
    c, ys = lax.scan(step, 1.0, xs)
    return c + ys.sum()


def nested_reference(w, xs):
    c, total = 1.0, 0.0
    for x in xs:
        d = c
        for _ in range(3):
            d = d * w + x * c
        total += c + 2 * w * x
        c = d if x > 0 else d * w
    return c + total


def test_nested_constructs_values_gradients_and_vmap(on):
    w, xs = 0.7, np.array([0.5, -0.3, 0.2, -1.0])
    close(on(nested)(w, xs), nested_reference(w, xs), rtol=1e-12)
    gw, gxs = on(jc.grad(nested, argnums=(0, 1)))(w, xs)
    close(gw, fd_grad(lambda v: nested_reference(v, xs), w))
    close(gxs, fd_grad(lambda v: nested_reference(w, v), xs))
    ws = np.array([0.7, 0.9, 1.1])
    close(on(jc.vmap(nested, in_axes=(0, None)))(ws, xs),
          [nested_reference(v, xs) for v in ws], rtol=1e-12)
    xss = np.stack([xs, -xs, xs[::-1]])
    close(on(jc.vmap(jc.grad(nested), in_axes=(None, 0)))(w, xss),
          [fd_grad(lambda v: nested_reference(v, x), w) for x in xss])
