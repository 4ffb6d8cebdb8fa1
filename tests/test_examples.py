"""Smoke tests of examples/: each example's `main(small=True)` runs, and what it claims holds.

The examples are scripts, not a package, so each is imported from its path. Every reference
number comes from NumPy (the examples' own NumPy references, or ones computed here); the bounds
are the claims the examples print (accuracy, ELBO increase, quadratic convergence, ...), with
slack for the small size.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import jitcore as jc

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load(name):
    """A fresh module object for examples/NAME.py (fresh jit caches each time)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- quickstart ------------------------------------------------------------------------------

def test_quickstart(capsys):
    result = load("quickstart").main(small=True)
    out = capsys.readouterr().out
    assert result["max_abs_jit"] < 1e-12
    info = result["cache"]
    assert (info.hits, info.misses, info.compiles) == (3, 2, 2)
    assert result["grad_err"] < 1e-12
    assert result["errors"]["chain"] < 1e-5          # float32, against NumPy in float32
    assert result["errors"]["sgd_params"] < 1e-5
    assert result["errors"]["sgd_loss"] < 1e-5
    assert [row[0].split(",")[0] for row in result["rows"]] == ["elementwise chain",
                                                                "MLP SGD step"]
    assert all(tj > 0 and tn > 0 for _, tj, tn in result["rows"])
    for text in ("HloModule predict", "ShapeError: matmul", "quickstart.py:", "jitcore vs NumPy",
                 "speed-up"):
        assert text in out


def test_quickstart_mlp_step_matches_numpy_in_float64():
    """The hand-written NumPy backward pass and jitcore's value_and_grad agree to rounding, so
    the timed comparison compares the same computation."""
    qs = load("quickstart")
    rng = np.random.default_rng(3)
    params = qs.init_mlp(rng, 6, 7, 4, np.float64)
    x = rng.normal(size=(5, 6))
    labels = np.eye(4)[rng.integers(0, 4, size=5)]
    new_j, loss_j = qs.sgd_step(params, x, labels, 0.3)
    new_n, loss_n = qs.numpy_sgd_step(params, x, labels, 0.3)
    assert np.asarray(new_j["w1"]).dtype == np.float64
    np.testing.assert_allclose(float(loss_j), loss_n, rtol=1e-13)
    for k in params:
        np.testing.assert_allclose(np.asarray(new_j[k]), new_n[k], rtol=1e-12, atol=1e-14)


def test_quickstart_runs_as_a_script():
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "quickstart.py"), "--small"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "jitcore vs NumPy" in proc.stdout and "demo finished" in proc.stdout


# --- mlp_classifier ----------------------------------------------------------------------------

def test_mlp_classifier(capsys):
    mod = load("mlp_classifier")
    result = mod.main(small=True)
    out = capsys.readouterr().out
    assert "GENERATED" in out
    assert result["test_acc"] >= 0.9            # the full run states >= 0.97
    assert result["train_acc"] >= 0.9
    assert result["linear_acc"] <= 0.4          # the data is not linearly separable
    losses = [h[0] for h in result["history"]]
    assert losses[-1] < losses[0] / 5


def test_mlp_classifier_data_and_loss():
    mod = load("mlp_classifier")
    x, y = mod.make_spirals(50)
    x2, y2 = mod.make_spirals(50)
    np.testing.assert_array_equal(x, x2)        # deterministic
    assert x.dtype == np.float32 and x.shape == (250, 2)
    np.testing.assert_array_equal(np.bincount(y), [50] * mod.N_CLASSES)
    params = mod.init_params(jc.random.PRNGKey(0), (2, 8, mod.N_CLASSES))
    p = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params]
    logits = np.maximum(x @ p[0]["w"] + p[0]["b"], 0) @ p[1]["w"] + p[1]["b"]
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    expected = -np.mean(logp[np.arange(len(y)), y])
    np.testing.assert_allclose(float(jc.jit(mod.loss_fn)(params, x, y)), expected, rtol=1e-5)


# --- cnn_classifier ---------------------------------------------------------------------------

def numpy_cnn_logits(params, x):
    """The example's network in float64 NumPy: SAME 3x3 convolutions as sums of shifted slices,
    2x2 max-pools as a reshape, the dense layer on the NHWC-flattened features."""
    def conv_relu_pool(x, w, b):
        n, h, wd, _ = x.shape
        p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        y = sum(p[:, i:i + h, j:j + wd, :] @ w[i, j] for i in range(3) for j in range(3))
        y = np.maximum(y + b, 0)
        return y.reshape(n, h // 2, 2, wd // 2, 2, -1).max(axis=(2, 4))
    p = jc.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    x = conv_relu_pool(x, p["c1"]["w"], p["c1"]["b"])
    x = conv_relu_pool(x, p["c2"]["w"], p["c2"]["b"])
    return x.reshape(len(x), -1) @ p["out"]["w"] + p["out"]["b"]


def numpy_cross_entropy(logits, y):
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def test_cnn_classifier(capsys):
    result = load("cnn_classifier").main(small=True, with_jax=False)
    out = capsys.readouterr().out
    assert "GENERATED" in out and "linear softmax" in out and "ms per step" in out
    assert result["jax_epoch_seconds"] is None
    # The full run states >= 0.95 against a linear baseline near 0.5; the short run (5 epochs
    # on 2000 images) is still clearly above the baseline.
    assert result["test_acc"] >= result["linear_acc"] + 0.1, result
    assert result["test_acc"] >= 0.6 and result["train_acc"] >= 0.6
    losses = [h[0] for h in result["history"]]
    assert losses[-1] < 0.6 * losses[0], losses
    assert all(h[2] > 0 for h in result["history"])


def test_cnn_classifier_data():
    mod = load("cnn_classifier")
    x, y = mod.make_shapes(120)
    x2, y2 = mod.make_shapes(120)
    np.testing.assert_array_equal(x, x2)        # deterministic
    np.testing.assert_array_equal(y, y2)
    assert x.dtype == np.float32 and x.shape == (120, mod.SIZE, mod.SIZE, 1)
    np.testing.assert_array_equal(np.bincount(y), [120 // len(mod.CLASSES)] * len(mod.CLASSES))
    # Without pixel noise every image holds a stroke well above its background (the least
    # over 6000 images is 0.51).
    x, y = mod.make_shapes(60, noise=0.0, seed=1)
    assert np.all(x.max(axis=(1, 2, 3)) - np.median(x, axis=(1, 2, 3)) > 0.4)


def test_cnn_classifier_loss_and_grad_match_numpy():
    mod = load("cnn_classifier")
    x, y = mod.make_shapes(12, seed=3)
    params = mod.init_cnn(jc.random.PRNGKey(1))
    # The bias starts at zero; make it matter for the check.
    rng = np.random.default_rng(7)
    params = jc.tree_util.tree_map(
        lambda a: np.asarray(a, np.float64) + 0.05 * rng.normal(size=a.shape), params)
    expected = numpy_cross_entropy(numpy_cnn_logits(params, x.astype(np.float64)), y)
    loss32 = jc.jit(mod.loss_fn)(jc.tree_util.tree_map(lambda a: a.astype(np.float32), params),
                                 x, y)
    np.testing.assert_allclose(float(loss32), expected, rtol=1e-5)
    loss64, grads = jc.jit(jc.value_and_grad(mod.loss_fn))(params, x.astype(np.float64), y)
    np.testing.assert_allclose(float(loss64), expected, rtol=1e-12)
    # Directional derivatives against central differences of the NumPy loss.
    leaves, tree = jc.tree_util.tree_flatten(params)
    g = [np.asarray(a) for a in jc.tree_util.tree_leaves(grads)]
    for _ in range(3):
        d = [rng.normal(size=a.shape) for a in leaves]
        eps = 1e-6

        def shifted(sign):
            p = jc.tree_util.tree_unflatten(tree, [a + sign * eps * v for a, v in zip(leaves, d)])
            return numpy_cross_entropy(numpy_cnn_logits(p, x.astype(np.float64)), y)
        fd = (shifted(1) - shifted(-1)) / (2 * eps)
        np.testing.assert_allclose(sum(np.sum(a * v) for a, v in zip(g, d)), fd, rtol=1e-6)


# --- bayesian_logreg ---------------------------------------------------------------------------

def test_bayesian_logreg(capsys):
    result = load("bayesian_logreg").main(small=True)
    assert "GENERATED" in capsys.readouterr().out
    assert result["vmap_err"] < 1e-12
    assert result["elbo_end"] > result["elbo_start"] + 10
    trace = result["elbo_trace"]
    assert np.mean(trace[-50:]) > np.mean(trace[:50])
    mu, sigma = result["mu"], result["sigma"]
    assert np.all(np.abs(mu - result["true_w"]) < 4 * sigma)
    # The variational mean sits at the MAP and its spread is the Laplace one, give or take the
    # mean-field shrinkage.
    assert np.all(np.abs(mu - result["w_map"]) < 0.6 * result["sd_laplace"])
    assert np.all((sigma > 0.5 * result["sd_laplace"]) & (sigma < 1.5 * result["sd_laplace"]))


def test_bayesian_logreg_elbo_matches_numpy():
    mod = load("bayesian_logreg")
    x, y = mod.make_data(40, seed=2)
    rng = np.random.default_rng(4)
    d = x.shape[1]
    q = {"mu": rng.normal(size=d), "rho": rng.normal(size=d) * 0.3 - 1}
    eps = rng.normal(size=(7, d))
    ws = q["mu"] + np.exp(q["rho"]) * eps
    expected = (np.mean([mod.numpy_log_joint(w, x, y) for w in ws]) + q["rho"].sum()
                + 0.5 * d * (1 + np.log(2 * np.pi)))
    np.testing.assert_allclose(float(jc.jit(mod.elbo)(q, eps, x, y)), expected, rtol=1e-13)


# --- newton_hessian ----------------------------------------------------------------------------

def assert_quadratic(rows, floor=1e-13):
    """Each gradient norm below 1e-2 is followed by one at most 100 times its square (until
    rounding is reached)."""
    g = [row[2] for row in rows]
    pairs = [(a, b) for a, b in zip(g, g[1:]) if a < 1e-2 and b > floor]
    assert pairs, g
    for a, b in pairs:
        assert b <= 100 * a * a, g


def test_newton_hessian(capsys):
    result = load("newton_hessian").main(small=True)
    capsys.readouterr()
    assert result["hess_err"] < 1e-10
    rows = result["newton_rows"]
    assert rows[-1][2] < 1e-10 and len(rows) - 1 <= 10
    assert_quadratic(rows)
    assert np.linalg.norm(result["w_gd"] - result["w_newton"]) < 1e-7
    assert result["gd_steps"] > 10 * (len(rows) - 1)
    rb = result["rosenbrock_rows"]
    assert rb[-1][2] < 1e-8
    assert_quadratic(rb)
    np.testing.assert_allclose(result["rosenbrock_x"], np.ones(10), atol=1e-8)


def test_newton_rosenbrock_derivatives_match_numpy():
    mod = load("newton_hessian")
    x = np.random.default_rng(5).normal(size=6)
    g = np.zeros(6)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    h = np.zeros((6, 6))
    i = np.arange(5)
    h[i, i] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    h[i + 1, i + 1] += 200
    h[i, i + 1] = h[i + 1, i] = -400 * x[:-1]
    np.testing.assert_allclose(np.asarray(jc.jit(jc.grad(mod.rosenbrock))(x)), g, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jc.jit(jc.hessian(mod.rosenbrock))(x)), h,
                               rtol=1e-12, atol=1e-12)


def test_newton_damping_picks_the_first_positive_definite_shift():
    """Where the Hessian is indefinite, the jitted step solves with H + mu I for the smallest
    candidate mu that NumPy's Cholesky accepts."""
    mod = load("newton_hessian")

    def f(x):
        return jc.numpy.sum(x ** 4) - 2.0 * x[0] * x[1] - 3.0 * x[2] ** 2
    x = np.array([0.3, -0.2, 0.1])
    g = 4 * x ** 3 + np.array([-2 * x[1], -2 * x[0], -6 * x[2]])
    h = np.diag(12 * x ** 2 + np.array([0.0, 0.0, -6.0]))
    h[0, 1] = h[1, 0] = -2.0
    for mu in mod.DAMPING:
        try:
            np.linalg.cholesky(h + mu * np.eye(3))
            break
        except np.linalg.LinAlgError:
            continue
    assert mu == 10.0                               # the test needs a shift other than 0
    fx, g_j, p, mu_j = mod.make_newton_step(f, damped=True)(x)
    np.testing.assert_allclose(float(fx), np.sum(x ** 4) - 2 * x[0] * x[1] - 3 * x[2] ** 2,
                               rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g_j), g, rtol=1e-13)
    assert float(mu_j) == mu
    np.testing.assert_allclose(np.asarray(p), np.linalg.solve(h + mu * np.eye(3), g),
                               rtol=1e-12)
    # Undamped: the plain Newton direction, even though H is indefinite.
    _, _, p0, mu0 = mod.make_newton_step(f, damped=False)(x)
    assert float(mu0) == 0.0
    np.testing.assert_allclose(np.asarray(p0), np.linalg.solve(h, g), rtol=1e-12)


# --- gaussian_process --------------------------------------------------------------------------

def eigh_nll(theta, x, y):
    """The GP's NLL through an eigendecomposition of K: a route that shares no solve with the
    example's Cholesky (jitcore) or LU (its NumPy reference)."""
    log_ell, log_sf, log_sn = theta
    k = (np.exp(2 * log_sf) * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2
                                      / np.exp(2 * log_ell)) + np.exp(2 * log_sn) * np.eye(len(x)))
    lam, q = np.linalg.eigh(k)
    z = q.T @ y
    return 0.5 * np.sum(z * z / lam) + 0.5 * np.sum(np.log(lam)) + 0.5 * len(x) * np.log(2 * np.pi)


def test_gaussian_process(capsys):
    result = load("gaussian_process").main(small=True)
    assert "GENERATED" in capsys.readouterr().out
    trace = result["nll_trace"]
    assert result["nll_end"] < result["nll_start"] - 50
    assert max(trace[-20:]) < min(trace[:20])
    assert trace[-1] <= min(trace) + 1e-3           # settled at the lowest value seen
    for name, err in result["errors"].items():
        assert err < 1e-8, (name, err)
    np.testing.assert_allclose(result["nll_end"], eigh_nll(result["theta"], *load(
        "gaussian_process").make_data(60)), rtol=1e-10)
    ell, sf, sn = np.exp(result["theta"])
    assert abs(sn - 0.1) < 0.04                     # the true noise sd is 0.1
    assert 0.2 < ell < 1.0
    np.testing.assert_allclose(result["mean"], result["mean_ref"], atol=1e-8)
    np.testing.assert_allclose(result["var"], result["var_ref"], atol=1e-8)
    # The fit: close to the true f inside the data, the band covers it, the variance grows
    # outside the data's range.
    assert result["rmse"] < 0.1 and result["inside"] >= 0.9
    x_test, var = result["x_test"], result["var"]
    assert np.all(var > 0)
    assert var[np.abs(x_test) > 2.3].min() > 10 * var[np.abs(x_test) < 1.5].max()


def test_gaussian_process_nll_grad_and_prediction_match_numpy():
    mod = load("gaussian_process")
    x, y = mod.make_data(25, seed=3)
    theta = np.array([-0.4, 0.2, -1.5])
    params = dict(zip(mod.NAMES, theta))
    expected = eigh_nll(theta, x, y)
    np.testing.assert_allclose(float(jc.jit(mod.nll)(params, x, y)), expected, rtol=1e-12)
    np.testing.assert_allclose(float(mod.nll(params, x, y)), expected, rtol=1e-12)   # eagerly
    eps = 1e-5
    fd = np.array([(eigh_nll(theta + eps * e, x, y) - eigh_nll(theta - eps * e, x, y))
                   / (2 * eps) for e in np.eye(3)])
    _, analytic = mod.numpy_nll_and_grad(theta, x, y)
    np.testing.assert_allclose(analytic, fd, rtol=1e-6)     # the example's reference holds
    g = jc.jit(jc.grad(mod.nll))(params, x, y)
    np.testing.assert_allclose([float(g[k]) for k in mod.NAMES], analytic, rtol=1e-10)
    # Prediction against the conditional of the joint Gaussian of (y, f(x_test)).
    x_test = np.array([-2.4, -0.3, 0.05, 1.7])
    mean, var = mod.predict(params, x, y, x_test)
    k_all = np.exp(2 * theta[1]) * np.exp(-0.5 * (np.concatenate([x, x_test])[:, None]
                                                  - np.concatenate([x, x_test])[None, :]) ** 2
                                          / np.exp(2 * theta[0]))
    n = len(x)
    k = k_all[:n, :n] + np.exp(2 * theta[2]) * np.eye(n)
    # The conditional covariance is the inverse of the test block of the joint precision.
    joint = k_all.copy()
    joint[:n, :n] = k
    precision = np.linalg.inv(joint)[n:, n:]
    cov = np.linalg.inv(precision)
    np.testing.assert_allclose(np.asarray(var), np.diag(cov), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(mean), k_all[n:, :n] @ np.linalg.solve(k, y),
                               rtol=1e-10, atol=1e-12)


# --- heat_equation -----------------------------------------------------------------------------

def test_heat_equation(capsys):
    mod = load("heat_equation")
    result = mod.main(small=True)
    capsys.readouterr()
    assert result["forward_err"] < 1e-12
    assert result["snap_err"] < 1e-12
    # Snapshots against the NumPy loop run in the same chunks.
    snaps = result["snapshots"]
    steps_between = 200 // len(snaps)
    u, r = result["u0"], 0.8 * 0.2
    for s in snaps:
        u = mod.numpy_simulate(u, r, steps_between)
        np.testing.assert_allclose(s, u, atol=1e-12)
    heat = [s.sum() for s in snaps]
    assert all(b < a for a, b in zip(heat, heat[1:]))       # heat leaves through the edges
    assert result["grad_rel_err"] < 1e-6
    assert abs(result["kappas"][-1] - result["kappa_true"]) < 1e-9


def test_heat_equation_grad_against_numpy_finite_differences():
    mod = load("heat_equation")
    u0 = mod.initial_field(12)
    target = np.random.default_rng(6).uniform(size=(12, 12)) * 0.1
    simulate = mod.make_simulate(30)

    def loss(r):
        return 0.5 * jc.numpy.sum((simulate(u0, r) - target) ** 2)

    def numpy_loss(r):
        return 0.5 * np.sum((mod.numpy_simulate(u0, r, 30) - target) ** 2)
    r, eps = 0.15, 1e-6
    fd = (numpy_loss(r + eps) - numpy_loss(r - eps)) / (2 * eps)
    np.testing.assert_allclose(float(jc.jit(jc.grad(loss))(r)), fd, rtol=1e-7)
    np.testing.assert_allclose(float(jc.grad(loss)(r)), fd, rtol=1e-7)     # eagerly too


@pytest.mark.parametrize("name", ["mlp_classifier", "bayesian_logreg", "newton_hessian",
                                  "heat_equation", "gaussian_process", "cnn_classifier"])
def test_examples_have_docstring_and_small_flag(name):
    with open(os.path.join(EXAMPLES, f"{name}.py")) as f:
        text = f.read()
    assert text.startswith('"""') and "--small" in text
    assert 'main(small="--small" in sys.argv[1:])' in text


# --- variable_length --------------------------------------------------------------------------

def test_variable_length(capsys):
    r = load("variable_length").main(small=True)
    assert r["err"] < 1e-5 and r["same"] < 1e-5
    assert r["exact"].compiles == r["distinct"]
    assert r["bucketed"].compiles <= 9 and r["bucketed"].exact_fallbacks == 0
    assert "buckets in use" in capsys.readouterr().out
