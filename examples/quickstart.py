"""jitcore in one screen: jit a function, look at its IR, watch the cache, read an error, take
per-example gradients with grad and vmap, and time two programs against NumPy.

Run: python examples/quickstart.py   (or `make demo`; `--small` for a quick run)
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp


@jc.jit
def predict(params, x):
    return jnp.tanh(x @ params["w"] + params["b"]).sum(axis=-1)


def best_of(fn, repeat):
    """Best wall time of `repeat` calls, in seconds (the first call is not timed)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# --- grad and vmap: per-example gradients of a linear model ---------------------------------

def squared_error(params, x, y):
    return (x @ params["w"] + params["b"] - y) ** 2


# One gradient per row of x: vmap maps grad over the batch; the params (None) are shared.
per_example_grads = jc.jit(jc.vmap(jc.grad(squared_error), in_axes=(None, 0, 0)))


def numpy_per_example_grads(params, x, y):
    r = x @ params["w"] + params["b"] - y                   # residual per example
    return {"w": 2 * r[:, None] * x, "b": 2 * r}


# --- the two programs timed against NumPy ----------------------------------------------------

def chain(x, z):
    return jnp.tanh(x) * 0.5 + jnp.exp(-x * x) * z - x / (1 + jnp.abs(z))


def numpy_chain(x, z):
    return np.tanh(x) * 0.5 + np.exp(-x * x) * z - x / (1 + np.abs(z))


def mlp_loss(params, x, labels):
    """Mean softmax cross-entropy of a 2-layer tanh MLP; `labels` is one-hot."""
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    return -jnp.mean(jnp.sum(labels * jc.nn.log_softmax(logits), axis=-1))


@jc.jit
def sgd_step(params, x, labels, lr):
    loss, grads = jc.value_and_grad(mlp_loss)(params, x, labels)
    return jc.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss


def numpy_sgd_step(params, x, labels, lr):
    """The same step written by hand: forward, backward, update."""
    w1, b1, w2, b2 = params["w1"], params["b1"], params["w2"], params["b2"]
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=-1, keepdims=True)
    loss = -np.mean(np.sum(labels * (shifted - np.log(s)), axis=-1))
    d_logits = (e / s - labels) / x.shape[0]
    d_h = (d_logits @ w2.T) * (1 - h * h)
    grads = {"w1": x.T @ d_h, "b1": d_h.sum(0), "w2": h.T @ d_logits, "b2": d_logits.sum(0)}
    return {k: params[k] - lr * grads[k] for k in params}, loss


def init_mlp(rng, n_in, n_hidden, n_out, dtype):
    return {"w1": (rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in)).astype(dtype),
            "b1": np.zeros(n_hidden, dtype),
            "w2": (rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden)).astype(dtype),
            "b2": np.zeros(n_out, dtype)}


def versus_numpy(rng, small):
    """Rows (name, jitcore seconds, NumPy seconds) and the largest differences seen."""
    n = 10_000 if small else 1_000_000
    repeat = 3 if small else 20
    x = rng.normal(size=n).astype(np.float32)
    z = rng.normal(size=n).astype(np.float32)
    jchain = jc.jit(chain)
    chain_err = float(np.max(np.abs(np.asarray(jchain(x, z)) - numpy_chain(x, z))))
    size = f"{n:.0e}".replace("e+0", "e")
    rows = [(f"elementwise chain, {size} float32", best_of(lambda: jchain(x, z), repeat),
             best_of(lambda: numpy_chain(x, z), repeat))]

    params = init_mlp(rng, 64, 128, 10, np.float32)
    xb = rng.normal(size=(256, 64)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=256)]
    lr = np.float32(0.1)
    new_j, loss_j = sgd_step(params, xb, labels, lr)
    new_n, loss_n = numpy_sgd_step(params, xb, labels, lr)
    step_err = max(float(np.max(np.abs(np.asarray(new_j[k]) - new_n[k]))) for k in params)
    rows.append(("MLP SGD step, 256x64->128->10",
                 best_of(lambda: sgd_step(params, xb, labels, lr), repeat),
                 best_of(lambda: numpy_sgd_step(params, xb, labels, lr), repeat)))
    return rows, {"chain": chain_err, "sgd_params": step_err,
                  "sgd_loss": abs(float(loss_j) - float(loss_n))}


def main(small=False):
    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(4, 3)), "b": np.zeros(3)}
    x = rng.normal(size=(5, 4))

    print("== jit: same numbers as NumPy")
    out = predict(params, x)
    ref = np.tanh(x @ params["w"] + params["b"]).sum(axis=-1)
    print("jitcore:", out)
    print("numpy:  ", ref)
    print("max abs difference:", float(np.max(np.abs(np.asarray(out) - ref))))

    print("\n== the traced IR (make_hlo)")
    print(jc.make_hlo(predict)(params, np.ones((5, 4))))

    print("== the cache: one trace per input signature")
    for n in (5, 5, 7, 5):
        predict(params, rng.normal(size=(n, 4)))
    info = predict.cache_info()
    print(f"hits={info.hits} misses={info.misses} compiles={info.compiles} "
          f"trace={info.trace_seconds * 1e3:.2f} ms")

    print("\n== a clear error, pointing at the user's line")
    try:
        jc.jit(lambda a, b: a @ b)(np.ones((3, 4)), np.ones((5, 2)))
    except jc.errors.ShapeError as e:
        print(f"{type(e).__name__}: {e}")

    print("\n== cost of a cached call (two size-8 float32 arrays, x*y+1)")
    f = jc.jit(lambda a, b: a * b + 1)
    a = np.ones(8, np.float32)
    f(a, a)
    n = 2000 if small else 20000
    t0 = time.perf_counter()
    for _ in range(n):
        f(a, a)
    t = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        a * a + 1
    t_np = (time.perf_counter() - t0) / n
    print(f"{'':24}{'time':>10}")
    print(f"{'jitcore jit (cached)':24}{t * 1e6:>8.2f} us")
    print(f"{'numpy':24}{t_np * 1e6:>8.2f} us")

    print("\n== grad + vmap: per-example gradients of a linear model, 8 examples")
    lin = {"w": rng.normal(size=3), "b": np.float64(0.5)}
    xs, ys = rng.normal(size=(8, 3)), rng.normal(size=8)
    grads = per_example_grads(lin, xs, ys)
    expected = numpy_per_example_grads(lin, xs, ys)
    grad_err = max(float(np.max(np.abs(np.asarray(grads[k]) - expected[k]))) for k in lin)
    print("d loss_i / d w, first 3 examples (jitcore):\n", np.asarray(grads["w"])[:3])
    print("same, NumPy (2 r_i x_i):\n", expected["w"][:3])
    print(f"max abs difference over w and b: {grad_err:.1e}")

    print("\n== jitcore vs NumPy (best of several runs, after the first call)")
    rows, errors = versus_numpy(rng, small)
    print(f"{'':34}{'jitcore':>12}{'NumPy':>12}{'speed-up':>10}")
    for name, tj, tn in rows:
        print(f"{name:34}{tj * 1e3:>9.3f} ms{tn * 1e3:>9.3f} ms{tn / tj:>9.1f}x")
    print(f"largest differences: chain {errors['chain']:.1e}, updated MLP params "
          f"{errors['sgd_params']:.1e}, loss {errors['sgd_loss']:.1e}")
    total = time.perf_counter() - t_start
    print(f"\ndemo finished in {total:.1f} s")
    return {"max_abs_jit": float(np.max(np.abs(np.asarray(out) - ref))),
            "cache": info, "grad_err": grad_err, "rows": rows, "errors": errors,
            "seconds": total}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
