"""Native control flow on the CPU backend: loops and branches compiled as machine code.

Every result is checked against a Python loop over NumPy in float64; the plan is inspected to
make sure the loop really runs natively (no interpreter fallback) where it should.
"""
import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from tests.helpers import plan_of

RNG = np.random.default_rng(7)


def control_steps(plan):
    return [s for s in plan.steps if s.instr is not None and s.instr.opcode in
            ("while", "scan", "cond")]


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@pytest.mark.parametrize("trips", [0, 1, 2, 3, 8])
def test_carry_parity_and_zero_trips(trips):
    # Carries alternate between two buffers each iteration: odd and even counts must both
    # end in the result, and zero trips returns the initial value.
    x = RNG.normal(size=5)

    def f(x, n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, jnp.sin(c[1]) + c[1]),
                              (0, x))[1]
    jf = jc.jit(f)
    want = x.copy()
    for _ in range(trips):
        want = np.sin(want) + want
    close(jf(x, trips), want)
    steps = control_steps(plan_of(jf, x, trips))
    assert steps and all(s.kind == "control" for s in steps)


def test_scan_writes_each_y_and_passes_values_through():
    # A body returning its carry unchanged, the same value twice, and a constant exercises the
    # copies into result slots.
    xs = RNG.normal(size=(6, 3))

    def f(c, xs):
        def step(carry, x):
            a, b = carry
            new = a * x + 1.0
            return (new, b), (new, new, jnp.ones(2))
        return lax.scan(step, (c, c * 2), xs)
    jf = jc.jit(f)
    c0 = RNG.normal(size=3)
    (a, b), (y1, y2, y3) = jf(c0, xs)
    ref_a, ys = c0.copy(), []
    for x in xs:
        ref_a = ref_a * x + 1.0
        ys.append(ref_a.copy())
    close(a, ref_a)
    close(b, c0 * 2)
    close(y1, np.stack(ys))
    close(y2, np.stack(ys))
    close(y3, np.ones((6, 2)))
    assert all(s.kind == "control" for s in control_steps(plan_of(jf, c0, xs)))


@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_scan_with_matmuls(reverse):
    W, U = RNG.normal(size=(8, 8)) * 0.3, RNG.normal(size=(8, 4)) * 0.3
    xs, h0 = RNG.normal(size=(10, 4)), RNG.normal(size=8)

    def f(W, U, h0, xs):
        return lax.scan(lambda h, x: (jnp.tanh(W @ h + U @ x),) * 2, h0, xs, reverse=reverse)
    h, hs = jc.jit(f)(W, U, h0, xs)
    ref, out = h0, np.zeros((10, 8))
    for t in (reversed(range(10)) if reverse else range(10)):
        ref = np.tanh(W @ ref + U @ xs[t])
        out[t] = ref
    close(h, ref)
    close(hs, out)


def test_nested_loops_and_branches():
    def f(x):
        def outer(i, acc):
            inner = lax.fori_loop(0, i, lambda j, a: a + jnp.cos(a) * 0.1, acc)
            return lax.cond(i % 2 == 0, lambda v: v * 0.5, lambda v: v + 1.0, inner)
        return lax.fori_loop(0, 7, outer, x)
    x = RNG.normal(size=4)
    ref = x.copy()
    for i in range(7):
        for _ in range(i):
            ref = ref + np.cos(ref) * 0.1
        ref = ref * 0.5 if i % 2 == 0 else ref + 1.0
    jf = jc.jit(f)
    close(jf(x), ref)
    assert all(s.kind == "control" for s in control_steps(plan_of(jf, x)))


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 9])
def test_switch_clamps_natively(index):
    branches = [lambda v: v + 1.0, lambda v: v * 3.0, lambda v: jnp.exp(v)]
    x = RNG.normal(size=3)
    got = jc.jit(lambda i, v: lax.switch(i, branches, v))(index, x)
    close(got, branches[min(max(index, 0), 2)](x))


def test_body_with_sort_runs_natively_and_is_correct():
    def f(x):
        return lax.fori_loop(0, 3, lambda i, v: jnp.sort(v * -1.0 + i), x)
    x = RNG.normal(size=6)
    ref = x.copy()
    for i in range(3):
        ref = np.sort(ref * -1.0 + i)
    jf = jc.jit(f)
    close(jf(x), ref)
    # The sort is a native step (`llvm.sort`), so the loop stays native too.
    assert [s.kind for s in control_steps(plan_of(jf, x))] == ["control"]


def test_loop_invariant_work_is_hoisted():
    def f(W, x):
        return lax.fori_loop(0, 5, lambda i, c: jnp.tanh(jnp.exp(W) @ c + jnp.sin(W).sum()), x)
    W, x = RNG.normal(size=(3, 3)) * 0.3, RNG.normal(size=3)
    jf = jc.jit(f)
    (loop,) = control_steps(plan_of(jf, W, x))

    def opcodes(steps):
        return {i.opcode for s in steps if s.kind == "kernel"
                for i in s.instr.called[0].instructions}
    assert not {"exp", "sin"} & opcodes(loop.subs[0].steps), "invariant work stayed in the body"
    assert {"exp", "sin"} <= opcodes(plan_of(jf, W, x).steps)
    ref = x.copy()
    for _ in range(5):
        ref = np.tanh(np.exp(W) @ ref + np.sin(W).sum())
    close(jf(W, x), ref)


def test_while_with_large_carry_and_dots():
    # Power iteration: a matrix-vector product per step, normalized; stops on convergence.
    A = RNG.normal(size=(16, 16))
    A = A @ A.T

    def f(A, v):
        def body(c):
            k, v, _ = c
            w = A @ v
            w = w / jnp.linalg.norm(w)
            return k + 1, w, jnp.abs(w - v).max()
        return lax.while_loop(lambda c: (c[2] > 1e-10) & (c[0] < 2000), body,
                              (0, v, jnp.asarray(1.0)))
    v0 = np.ones(16) / 4.0
    k, v, _ = jc.jit(f)(A, v0)
    ref, steps = v0, 0
    while True:
        w = A @ ref
        w = w / np.linalg.norm(w)
        steps += 1
        done = np.abs(w - ref).max() <= 1e-10 or steps >= 2000
        ref = w
        if done:
            break
    assert int(k) == steps
    close(v, ref, tol=1e-9)
