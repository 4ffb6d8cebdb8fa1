"""Newton's method with `jitcore.hessian` and `jitcore.grad`, and its quadratic convergence.

Two problems:
1. L2-regularized logistic regression in 10 dimensions on GENERATED data (a fixed NumPy seed).
   The Hessian from `jitcore.hessian` is checked against its formula X^T diag(p(1-p)) X / n + lam I,
   Newton's method runs from w = 0, and its optimum is compared with the one plain gradient
   descent reaches (a jitted `lax.while_loop` of 1/L steps until |grad| < 1e-10), with the
   number of steps each takes.
2. The Rosenbrock function in 10 dimensions, whose minimum is known: x* = (1, ..., 1), f = 0.
   Far from it the Hessian is indefinite, so each step is damped (H + mu I with the smallest
   mu in 0, 1e-3, 1e-2, ... that gives a descent direction) and backtracks until f decreases.

Each Newton iteration is one jitted call: value, gradient and Hessian, the choice of damping
(the Cholesky factors of H + mu I for every candidate mu at once, by `jitcore.vmap`; the first
without NaN is positive definite) and the solve of H p = g by `jnp.linalg.solve`. Only the
backtracking loop runs on the host. Gradient norms are printed per iteration: in the quadratic
phase each is about the square of the one before (the digits double).

Run: python examples/newton_hessian.py   (`--small` for a quick run)
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax, nn

LAM = 1e-2


def make_data(n, d=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d)     # unequal scales: GD is slower
    w_true = rng.normal(size=d)
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-x @ w_true)), 1.0, -1.0)
    return x, y


def logreg_loss(w, x, y):
    """Mean logistic loss with labels in {-1, +1}, plus (lam / 2) |w|^2."""
    return jnp.mean(nn.softplus(-y * (x @ w))) + 0.5 * LAM * jnp.sum(w * w)


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# Damping candidates, smallest first; H + mu I with the first positive definite one is solved.
DAMPING = np.array([0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4])


def make_newton_step(f, damped):
    """A jitted x -> (f(x), grad f(x), Newton direction p, damping mu) with (H + mu I) p = g."""
    @jc.jit
    def newton_step(x):
        fx, g = jc.value_and_grad(f)(x)
        h = jc.hessian(f)(x)
        eye = jnp.eye(x.shape[0], dtype=x.dtype)
        if damped:
            # cholesky returns NaN where the matrix is not positive definite.
            mus = jnp.asarray(DAMPING, dtype=x.dtype)
            factors = jc.vmap(lambda mu: jnp.linalg.cholesky(h + mu * eye))(mus)
            ok = jnp.all(jnp.isfinite(factors), axis=(1, 2))
            mu = jnp.where(jnp.any(ok), mus[jnp.argmax(ok)], mus[-1])
        else:
            mu = jnp.zeros((), x.dtype)
        return fx, g, jnp.linalg.solve(h + mu * eye, g), mu
    return newton_step


def newton(f, x0, tol=1e-10, max_iter=50, damped=False, log=print):
    """Newton's method on f from x0; returns x and rows (iteration, f, |grad|, damping, step).

    `damped`: make H + mu I positive definite and backtrack until f decreases (needed where
    the Hessian is indefinite); otherwise take the full step."""
    newton_step = make_newton_step(f, damped)
    value = jc.jit(f)
    x = np.asarray(x0, dtype=np.float64)
    rows = []
    for it in range(max_iter + 1):
        fx, g, p, mu = newton_step(x)
        fx, g, p, mu = float(fx), np.asarray(g), np.asarray(p), float(mu)
        gnorm = float(np.linalg.norm(g))
        rows.append([it, fx, gnorm, 0.0, 1.0])
        if gnorm < tol or it == max_iter:
            break
        t = 1.0
        if damped:
            while float(value(x - t * p)) > fx - 1e-4 * t * (g @ p) and t > 1e-8:
                t *= 0.5
        rows[-1][3:] = [mu, t]
        x = x - t * p
    if log is not None:
        log(f"{'iter':>6}{'f(x)':>24}{'|grad f|':>12}{'damping':>10}{'step':>8}")
        for it, fx, gnorm, mu, t in rows:
            log(f"{it:6d}{fx:24.16e}{gnorm:12.3e}{mu:10.0e}{t:8.3f}")
    return x, rows


def make_gradient_descent(f, lr, tol, max_steps):
    """x <- x - lr grad f(x) until |grad f(x)| < tol, as one jitted while_loop; returns
    (x, steps taken)."""
    @jc.jit
    def gradient_descent(x0, *args):
        def cond(carry):
            i, x, g = carry
            return (jnp.linalg.norm(g) >= tol) & (i < max_steps)

        def body(carry):
            i, x, g = carry
            x = x - lr * g
            return i + 1, x, jc.grad(f)(x, *args)
        steps, x, _ = lax.while_loop(cond, body, (0, x0, jc.grad(f)(x0, *args)))
        return x, steps
    return gradient_descent


def main(small=False):
    n = 400 if small else 2000
    x, y = make_data(n)
    d = x.shape[1]
    print(f"== 1. L2-regularized logistic regression, d = {d}, n = {n} GENERATED points, "
          f"lam = {LAM}")

    w_probe = np.random.default_rng(1).normal(size=d) * 0.3
    hess = jc.jit(jc.hessian(logreg_loss))
    t0 = time.perf_counter()
    h = np.asarray(hess(w_probe, x, y))
    t_hess_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        hess(w_probe, x, y)
    t_hess = (time.perf_counter() - t0) / 20
    p = 1 / (1 + np.exp(-y * (x @ w_probe)))
    h_ref = (x * (p * (1 - p))[:, None]).T @ x / n + LAM * np.eye(d)
    hess_err = float(np.max(np.abs(h - h_ref)) / np.max(np.abs(h_ref)))
    print(f"jit(hessian) against X^T diag(p(1-p)) X / n + lam I: max relative difference "
          f"{hess_err:.1e}; {t_hess * 1e6:.0f} us per call ({t_hess_first * 1e3:.0f} ms first)")

    t0 = time.perf_counter()
    w_newton, rows = newton(lambda w: logreg_loss(w, x, y), np.zeros(d), tol=1e-12)
    t_newton = time.perf_counter() - t0
    print(f"Newton: {len(rows) - 1} iterations, {t_newton * 1e3:.0f} ms with compiles")

    # 1/L step: the loss's curvature is at most |X|_2^2 / (4 n) + lam.
    lr = 1.0 / (np.linalg.norm(x, 2) ** 2 / (4 * n) + LAM)
    gd = make_gradient_descent(logreg_loss, lr, tol=1e-10, max_steps=100_000)
    gd(np.zeros(d), x, y)
    t0 = time.perf_counter()
    w_gd, gd_steps = gd(np.zeros(d), x, y)
    t_gd = time.perf_counter() - t0
    w_gd, gd_steps = np.asarray(w_gd), int(gd_steps)
    gd_gap = float(np.linalg.norm(w_gd - w_newton))
    loss_gap = float(logreg_loss(w_gd, x, y)) - float(logreg_loss(w_newton, x, y))
    print(f"gradient descent with step 1/L = {lr:.3f} until |grad| < 1e-10: {gd_steps} steps "
          f"(one jitted while_loop, {t_gd * 1e3:.1f} ms) against Newton's {len(rows) - 1}; "
          f"|w_gd - w_newton| = {gd_gap:.1e}, loss difference {loss_gap:.1e}")

    print(f"\n== 2. Rosenbrock in {d} dimensions from x0 = 0 (known minimum: x* = ones, f = 0)")
    t0 = time.perf_counter()
    x_rb, rb_rows = newton(rosenbrock, np.zeros(d), tol=1e-10, damped=True)
    t_rb = time.perf_counter() - t0
    rb_err = float(np.max(np.abs(x_rb - 1.0)))
    print(f"damped Newton: {len(rb_rows) - 1} iterations, {t_rb * 1e3:.0f} ms with compiles; "
          f"max |x - 1| = {rb_err:.1e}, f = {rb_rows[-1][1]:.1e}")
    return {"hess_err": hess_err, "newton_rows": rows, "w_newton": w_newton, "w_gd": w_gd,
            "gd_gap": gd_gap, "gd_steps": gd_steps, "loss_gap": loss_gap,
            "rosenbrock_rows": rb_rows, "rosenbrock_x": x_rb, "hessian_seconds": t_hess}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
