"""Bayesian logistic regression by ADVI (automatic differentiation variational inference).

The data is GENERATED: n points with d standard-normal features (the first a constant 1, the
intercept) and labels drawn from a logistic model with known "true" weights, from a fixed
NumPy seed. The prior on the weights is N(0, 5^2) each.

What it shows:
- the log joint density log p(y | X, w) + log p(w) written for ONE weight vector, and
  `jitcore.vmap` turning it into a function of a batch of weight samples (checked against a
  NumPy loop);
- mean-field Gaussian ADVI: q(w) = N(mu, diag(sigma^2)), sigma = exp(rho). Each step draws
  eps ~ N(0, 1) with `jitcore.random.normal`, reparameterizes w = mu + sigma * eps (so the
  gradient flows through the samples), estimates the ELBO = E_q[log p(y, w)] + entropy(q) by
  the mean over the batch, and takes `jitcore.grad` of it with respect to (mu, rho); Adam
  ascends it. One step, key split included, is one jitted call;
- the posterior mean and standard deviation next to the true weights, and next to the Laplace
  approximation (the MAP by Newton's method and its inverse Hessian, computed with NumPy) as an
  independent reference.

Run: python examples/bayesian_logreg.py   (`--small` for a few-second run)
"""
import math
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import nn, random

PRIOR_STD = 5.0
TRUE_W = np.array([-0.5, 1.5, -2.0, 0.8, 0.0, 1.0])


def make_data(n, seed=0):
    """x (n, d) float64 with a leading column of ones, y (n,) float64 in {0, 1}."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(TRUE_W)))
    x[:, 0] = 1.0
    p = 1 / (1 + np.exp(-x @ TRUE_W))
    return x, (rng.uniform(size=n) < p).astype(np.float64)


def log_joint(w, x, y):
    """log p(y | x, w) + log p(w) for one weight vector w (d,)."""
    logits = x @ w
    log_lik = jnp.sum(y * nn.log_sigmoid(logits) + (1 - y) * nn.log_sigmoid(-logits))
    log_prior = jnp.sum(-0.5 * (w / PRIOR_STD) ** 2) - w.shape[0] * math.log(
        PRIOR_STD * math.sqrt(2 * math.pi))
    return log_lik + log_prior


# One weight vector per row of `ws`; the data is shared.
batched_log_joint = jc.vmap(log_joint, in_axes=(0, None, None))


def numpy_log_joint(w, x, y):
    logits = x @ w
    log_lik = np.sum(y * -np.logaddexp(0, -logits) + (1 - y) * -np.logaddexp(0, logits))
    return log_lik + np.sum(-0.5 * (w / PRIOR_STD) ** 2) - len(w) * math.log(
        PRIOR_STD * math.sqrt(2 * math.pi))


def elbo(q, eps, x, y):
    """Monte Carlo ELBO of q = {"mu", "rho"} from standard-normal draws eps (S, d)."""
    ws = q["mu"] + jnp.exp(q["rho"]) * eps
    d = q["mu"].shape[0]
    entropy = jnp.sum(q["rho"]) + 0.5 * d * (1 + math.log(2 * math.pi))
    return jnp.mean(batched_log_joint(ws, x, y)) + entropy


def make_step(n_samples, lr=0.05, b1=0.9, b2=0.999):
    @jc.jit
    def step(q, opt, key, x, y):
        """One Adam ascent step on the ELBO; `opt` holds the moments and the step count.
        The key is split here, inside jit, and the next key returned."""
        key, sub = random.split(key)
        eps = random.normal(sub, (n_samples, q["mu"].shape[0]))
        value, g = jc.value_and_grad(elbo)(q, eps, x, y)
        t = opt["t"] + 1
        m = jc.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], g)
        v = jc.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], g)
        scale = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        q = jc.tree_util.tree_map(lambda p, m, v: p + scale * m / (jnp.sqrt(v) + 1e-8),
                                  q, m, v)
        return q, {"m": m, "v": v, "t": t}, key, value
    return step


def laplace(x, y, iters=25):
    """MAP weights and sqrt(diag(H^-1)) by Newton's method in NumPy: the reference."""
    w = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-x @ w))
        g = x.T @ (y - p) - w / PRIOR_STD ** 2
        h = (x * (p * (1 - p))[:, None]).T @ x + np.eye(len(w)) / PRIOR_STD ** 2
        w = w + np.linalg.solve(h, g)
    p = 1 / (1 + np.exp(-x @ w))
    h = (x * (p * (1 - p))[:, None]).T @ x + np.eye(len(w)) / PRIOR_STD ** 2
    return w, np.sqrt(np.diag(np.linalg.inv(h)))


def main(small=False):
    n, steps, n_samples = (300, 300, 16) if small else (2000, 600, 32)
    x, y = make_data(n)
    d = x.shape[1]
    print(f"GENERATED data: {n} points, {d} features (intercept + {d - 1} N(0,1)), labels "
          f"from a logistic model with true weights {TRUE_W}")

    key = random.PRNGKey(0)
    key, k = random.split(key)
    ws = np.asarray(random.normal(k, (64, d)))
    t0 = time.perf_counter()
    lj = np.asarray(jc.jit(batched_log_joint)(ws, x, y))
    t_vmap = time.perf_counter() - t0
    lj_np = np.array([numpy_log_joint(w, x, y) for w in ws])
    vmap_err = float(np.max(np.abs(lj - lj_np) / np.abs(lj_np)))
    print(f"vmapped log joint over 64 weight samples: max relative difference to a NumPy loop "
          f"{vmap_err:.1e} (first call, with compile, {t_vmap * 1e3:.0f} ms)")

    q = {"mu": jnp.zeros(d), "rho": jnp.full(d, -1.0)}
    opt = {"m": jc.tree_util.tree_map(jnp.zeros_like, q),
           "v": jc.tree_util.tree_map(jnp.zeros_like, q), "t": jnp.array(0.0)}
    step = make_step(n_samples)
    # A fixed large batch of draws gives a low-noise ELBO to compare before and after.
    eval_eps = np.asarray(random.normal(random.PRNGKey(1), (2000, d)))
    eval_elbo = jc.jit(elbo)
    elbo_start = float(eval_elbo(q, eval_eps, x, y))
    print(f"ADVI: mean-field Gaussian, {n_samples} reparameterized draws per step, Adam "
          f"lr 0.05, {steps} steps; ELBO at the start (2000 draws): {elbo_start:.2f}")

    values, t_first = [], None
    t0 = time.perf_counter()
    for i in range(steps):
        q, opt, key, value = step(q, opt, key, x, y)
        values.append(float(value))
        if i == 0:
            t_first = time.perf_counter() - t0
        if (i + 1) % (steps // 6) == 0:
            window = values[-(steps // 6):]
            print(f"  step {i + 1:4d}  ELBO (mean of the last {len(window)} steps) "
                  f"{np.mean(window):10.2f}")
    t_total = time.perf_counter() - t0
    per_step = (t_total - t_first) / (steps - 1)
    elbo_end = float(eval_elbo(q, eval_eps, x, y))
    print(f"ELBO at the end (2000 draws): {elbo_end:.2f}; {per_step * 1e6:.0f} us per step "
          f"(one jitted call), first step {t_first * 1e3:.0f} ms with compile")

    mu, sigma = np.asarray(q["mu"]), np.exp(np.asarray(q["rho"]))
    w_map, sd_laplace = laplace(x, y)
    print(f"\n{'weight':>8}{'true':>9}{'ADVI mean':>11}{'ADVI sd':>9}{'MAP':>9}"
          f"{'Laplace sd':>12}{'|mean-true|/sd':>16}")
    for j in range(d):
        print(f"{'w' + str(j):>8}{TRUE_W[j]:9.3f}{mu[j]:11.3f}{sigma[j]:9.3f}{w_map[j]:9.3f}"
              f"{sd_laplace[j]:12.3f}{abs(mu[j] - TRUE_W[j]) / sigma[j]:16.2f}")
    z = np.abs(mu - TRUE_W) / sigma
    mean_vs_map = float(np.max(np.abs(mu - w_map) / sd_laplace))
    print(f"every true weight within {z.max():.2f} posterior sd of the ADVI mean; ADVI mean "
          f"within {mean_vs_map:.2f} Laplace sd of the MAP")
    return {"vmap_err": vmap_err, "elbo_start": elbo_start, "elbo_end": elbo_end,
            "elbo_trace": values, "mu": mu, "sigma": sigma, "w_map": w_map,
            "sd_laplace": sd_laplace, "true_w": TRUE_W, "step_seconds": per_step}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
