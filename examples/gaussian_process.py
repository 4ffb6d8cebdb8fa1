"""Gaussian-process regression with learned kernel hyperparameters, on jitcore's linear algebra.

The data is GENERATED: n points x uniform in [-2, 2], y = f(x) + noise with a known smooth f
and a known noise standard deviation (0.1), from a fixed NumPy seed.

What it shows:
- the negative log marginal likelihood of a zero-mean GP with an RBF kernel
      k(a, b) = sf^2 exp(-(a - b)^2 / (2 ell^2)),   K = k(X, X) + sn^2 I,
      NLL = y^T K^-1 y / 2 + log det K / 2 + n log(2 pi) / 2,
  written with `jnp.linalg.cholesky` (K = L L^T), `jitcore.scipy.linalg.cho_solve` (K^-1 y) and
  the Cholesky diagonal (log det K = 2 sum log diag L);
- its gradient with respect to the log hyperparameters (log ell, log sf, log sn), taken by
  `jitcore.grad` through the Cholesky factorization and the triangular solves, and Adam
  descending it: one step is one jitted call;
- the predictive mean k(X*, X) K^-1 y and the variance of f at test points
  sf^2 - |L^-1 k(X, X*)|^2 by `solve_triangular`, with the true f inside the +-2 sd band;
- a NumPy float64 reference of the same quantities, written differently (LU solves,
  `np.linalg.slogdet`, the analytic gradient 0.5 tr((K^-1 - a a^T) dK/dtheta) with a = K^-1 y),
  and the largest differences to it.

Run: python examples/gaussian_process.py   (`--small` for a few-second run)
"""
import math
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore.scipy.linalg import cho_solve, solve_triangular

TRUE_NOISE = 0.1
NAMES = ("log_ell", "log_sf", "log_sn")


def true_f(x):
    return np.sin(3 * x) + 0.5 * np.cos(5 * x)


def make_data(n, seed=0):
    """x (n,), y (n,) float64: y = true_f(x) + N(0, TRUE_NOISE^2)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, size=n))
    return x, true_f(x) + TRUE_NOISE * rng.normal(size=n)


def rbf(a, b, params):
    """sf^2 exp(-(a_i - b_j)^2 / (2 ell^2)) for 1-D inputs a (n,), b (m,)."""
    d = (a[:, None] - b[None, :]) * jnp.exp(-params["log_ell"])
    return jnp.exp(2 * params["log_sf"]) * jnp.exp(-0.5 * d * d)


def nll(params, x, y):
    """Negative log marginal likelihood of y under the GP with these log hyperparameters."""
    n = x.shape[0]
    k = rbf(x, x, params) + jnp.exp(2 * params["log_sn"]) * jnp.eye(n, dtype=x.dtype)
    chol = jnp.linalg.cholesky(k)
    alpha = cho_solve((chol, True), y)
    return (0.5 * jnp.dot(y, alpha) + jnp.sum(jnp.log(jnp.diag(chol)))
            + 0.5 * n * math.log(2 * math.pi))


@jc.jit
def predict(params, x, y, x_test):
    """Predictive mean and variance of f (noise excluded) at x_test."""
    n = x.shape[0]
    k = rbf(x, x, params) + jnp.exp(2 * params["log_sn"]) * jnp.eye(n, dtype=x.dtype)
    chol = jnp.linalg.cholesky(k)
    k_star = rbf(x, x_test, params)                              # (n, m)
    mean = k_star.T @ cho_solve((chol, True), y)
    v = solve_triangular(chol, k_star, lower=True)
    return mean, jnp.exp(2 * params["log_sf"]) - jnp.sum(v * v, axis=0)


def make_step(lr=0.05, b1=0.9, b2=0.999):
    @jc.jit
    def step(params, opt, x, y):
        """One Adam step on the NLL; `opt` holds the moments and the step count."""
        value, g = jc.value_and_grad(nll)(params, x, y)
        t = opt["t"] + 1
        m = jc.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], g)
        v = jc.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], g)
        scale = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        params = jc.tree_util.tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + 1e-8),
                                       params, m, v)
        return params, {"m": m, "v": v, "t": t}, value, g
    return step


# --- NumPy float64 reference -------------------------------------------------------------------

def numpy_kernel(a, b, theta):
    log_ell, log_sf, _ = theta
    d2 = (a[:, None] - b[None, :]) ** 2
    return np.exp(2 * log_sf) * np.exp(-0.5 * d2 / np.exp(2 * log_ell)), d2


def numpy_nll_and_grad(theta, x, y):
    """NLL and its analytic gradient in (log ell, log sf, log sn), by LU solves and slogdet."""
    kf, d2 = numpy_kernel(x, x, theta)
    n = len(x)
    k = kf + np.exp(2 * theta[2]) * np.eye(n)
    alpha = np.linalg.solve(k, y)
    value = 0.5 * y @ alpha + 0.5 * np.linalg.slogdet(k)[1] + 0.5 * n * np.log(2 * np.pi)
    w = np.linalg.inv(k) - np.outer(alpha, alpha)
    dks = (kf * d2 / np.exp(2 * theta[0]), 2 * kf, 2 * np.exp(2 * theta[2]) * np.eye(n))
    return value, np.array([0.5 * np.sum(w * dk) for dk in dks])


def numpy_predict(theta, x, y, x_test):
    k = numpy_kernel(x, x, theta)[0] + np.exp(2 * theta[2]) * np.eye(len(x))
    k_star = numpy_kernel(x, x_test, theta)[0]
    mean = k_star.T @ np.linalg.solve(k, y)
    var = np.exp(2 * theta[1]) - np.sum(k_star * np.linalg.solve(k, k_star), axis=0)
    return mean, var


def as_vector(params):
    return np.array([float(params[name]) for name in NAMES])


def main(small=False):
    n, steps = (60, 150) if small else (200, 300)
    x, y = make_data(n)
    x_test = np.linspace(-2.5, 2.5, 101)
    print(f"GENERATED data: {n} points, x uniform in [-2, 2], y = sin(3x) + cos(5x)/2 + noise "
          f"with sd {TRUE_NOISE}")

    params = {"log_ell": jnp.array(0.0), "log_sf": jnp.array(0.0),
              "log_sn": jnp.array(math.log(0.5))}
    opt = {"m": jc.tree_util.tree_map(jnp.zeros_like, params),
           "v": jc.tree_util.tree_map(jnp.zeros_like, params), "t": jnp.array(0.0)}
    step = make_step()

    theta0 = as_vector(params)
    nll_ref0, grad_ref0 = numpy_nll_and_grad(theta0, x, y)
    print(f"Adam lr 0.05, {steps} steps from ell = 1, sf = 1, sn = 0.5 "
          f"(NLL {nll_ref0:.4f} by NumPy)")
    print(f"{'step':>6}{'NLL':>12}{'ell':>9}{'sf':>9}{'sn':>9}{'|grad|':>10}")
    trace, t_first = [], None
    t0 = time.perf_counter()
    for i in range(steps):
        before = params
        params, opt, value, g = step(params, opt, x, y)
        trace.append(float(value))
        if i == 0:
            t_first = time.perf_counter() - t0
            nll0, grad0 = float(value), as_vector(g)       # at the starting parameters
        if i % (steps // 6) == 0 or i == steps - 1:
            ell, sf, sn = np.exp(as_vector(before))
            print(f"{i:6d}{trace[-1]:12.4f}{ell:9.4f}{sf:9.4f}{sn:9.4f}"
                  f"{np.linalg.norm(as_vector(g)):10.2e}")
    per_step = (time.perf_counter() - t0 - t_first) / (steps - 1)
    print(f"{per_step * 1e6:.0f} us per step (one jitted call: NLL, its gradient through the "
          f"Cholesky factorization, Adam), first step {t_first * 1e3:.0f} ms with compile")

    theta = as_vector(params)
    nll_end = float(jc.jit(nll)(params, x, y))
    nll_ref, grad_ref = numpy_nll_and_grad(theta, x, y)
    grad_end = as_vector(jc.jit(jc.grad(nll))(params, x, y))
    ell, sf, sn = np.exp(theta)
    print(f"\nlearned: ell = {ell:.4f}, sf = {sf:.4f}, sn = {sn:.4f} (true noise sd "
          f"{TRUE_NOISE}); NLL {nll0:.4f} -> {nll_end:.4f}")

    mean, var = (np.asarray(a) for a in predict(params, x, y, x_test))
    mean_ref, var_ref = numpy_predict(theta, x, y, x_test)
    f_test = true_f(x_test)
    in_range = np.abs(x_test) <= 2
    rmse = float(np.sqrt(np.mean((mean - f_test)[in_range] ** 2)))
    inside = float(np.mean(np.abs(mean - f_test) <= 2 * np.sqrt(var)))
    print(f"at {len(x_test)} test points in [-2.5, 2.5]: RMSE of the mean against the true f "
          f"{rmse:.4f} within the data's range [-2, 2]; true f within +-2 sd at {inside:.0%} "
          f"of the points; predictive sd from "
          f"{np.sqrt(var.min()):.3f} (inside the data) to {np.sqrt(var.max()):.3f} (outside)")

    errors = {
        "nll_start": abs(nll0 - nll_ref0) / abs(nll_ref0),
        "grad_start": float(np.max(np.abs(grad0 - grad_ref0)) / np.max(np.abs(grad_ref0))),
        "nll_end": abs(nll_end - nll_ref) / abs(nll_ref),
        "grad_end": float(np.max(np.abs(grad_end - grad_ref))),
        "mean": float(np.max(np.abs(mean - mean_ref))),
        "var": float(np.max(np.abs(var - var_ref))),
    }
    print("against NumPy float64 (LU solves, slogdet, analytic gradient): max differences "
          f"NLL {errors['nll_start']:.1e} (relative, start), {errors['nll_end']:.1e} (end); "
          f"gradient {errors['grad_start']:.1e} (relative, start), {errors['grad_end']:.1e} "
          f"(absolute, end, where it is near 0); predictive mean {errors['mean']:.1e}, "
          f"variance {errors['var']:.1e}")
    return {"nll_trace": trace, "nll_start": nll0, "nll_end": nll_end, "theta": theta,
            "x_test": x_test, "mean": mean, "var": var, "mean_ref": mean_ref,
            "var_ref": var_ref, "rmse": rmse, "inside": inside, "errors": errors,
            "grad_end": grad_end, "step_seconds": per_step}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
