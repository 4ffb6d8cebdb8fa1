"""Mixed-precision training: the spiral MLP of `mlp_classifier.py` in bfloat16 and in float16.

Three runs of the same model, data, schedule and seed:

- float32: the reference (`mlp_classifier.train`);
- bfloat16: float32 *master weights*; each step casts them to bfloat16 and runs the forward
  and backward passes in bfloat16 (matrix products accumulate in float32 and round once, as
  XLA's do); the logits go back to float32 for the softmax and the loss. The gradients arrive
  in float32 (the transpose of the cast) and update the float32 weights and momentum;
- float16 with dynamic loss scaling: the same, in float16, with the loss multiplied by a scale
  S before differentiating (so small gradients do not flush to zero in float16) and the
  gradients divided by S after. A step whose gradients overflow is skipped and S halved; after
  `GROWTH_INTERVAL` good steps S doubles.

The data are GENERATED (`mlp_classifier.make_spirals`, NumPy seed 0). Claim, asserted: each
mixed-precision run's test accuracy is within `TOLERANCE` of the float32 run's
(full run, measured: float32 98.4%, bfloat16 98.2%, float16 98.2%).

Run: python examples/mixed_precision.py   (`--small` for a short run)
"""
import importlib.util
import os
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax, nn, random

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("mlp_classifier",
                                               os.path.join(_HERE, "mlp_classifier.py"))
mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mlp)

TOLERANCE = 0.02            # |mixed-precision test accuracy - float32's|, full run
TOLERANCE_SMALL = 0.05      # at --small size (fewer epochs: the runs are further from converged)
INITIAL_SCALE = 2.0 ** 15   # float16 loss scale (the loss itself is float32; the gradient
                            # entering the float16 network is scale * (p - onehot) / batch)
GROWTH_INTERVAL = 200       # good steps between doublings of the loss scale


def cast(tree, dtype):
    return jc.tree_util.tree_map(lambda a: a.astype(dtype), tree)


def loss_in(params, x, y, dtype):
    """Cross-entropy with the network run in `dtype` and the softmax in float32."""
    logits = mlp.logits_fn(cast(params, dtype), x.astype(dtype)).astype(jnp.float32)
    logp = nn.log_softmax(logits)
    return -jnp.mean(jnp.sum(nn.one_hot(y, mlp.N_CLASSES, dtype=jnp.float32) * logp, axis=-1))


def make_accuracy(dtype):
    @jc.jit
    def accuracy(params, x, y):
        logits = mlp.logits_fn(cast(params, dtype), x.astype(dtype))
        return jnp.mean(jnp.argmax(logits, axis=-1) == y)
    return accuracy


def make_train_epoch(dtype, loss_scaling, momentum=np.float32(0.9), batch=mlp.BATCH):
    @jc.jit
    def train_epoch(params, velocity, scaler, key, x, y, lr):
        """One shuffled epoch of momentum SGD on float32 master weights; `scaler` is
        (loss scale, good steps since the last change, skipped steps)."""
        n_batches = x.shape[0] // batch
        key, sub = random.split(key)
        perm = random.permutation(sub, x.shape[0])[:n_batches * batch]
        xs = x[perm].reshape(n_batches, batch, x.shape[1])
        ys = y[perm].reshape(n_batches, batch)

        def step(carry, xy):
            params, velocity, (scale, good, skipped) = carry
            loss, grads = jc.value_and_grad(
                lambda p: loss_in(p, *xy, dtype) * scale)(params)
            grads = jc.tree_util.tree_map(lambda g: g / scale, grads)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g))
                                        for g in jc.tree_util.tree_leaves(grads)]))
            new_v = jc.tree_util.tree_map(lambda v, g: momentum * v + g, velocity, grads)
            new_p = jc.tree_util.tree_map(lambda p, v: p - lr * v, params, new_v)
            keep = lambda new, old: jc.tree_util.tree_map(   # noqa: E731
                lambda a, b: jnp.where(finite, a, b), new, old)
            params, velocity = keep(new_p, params), keep(new_v, velocity)
            if loss_scaling:
                grow = finite & (good + 1 >= GROWTH_INTERVAL)
                scale = jnp.where(finite, jnp.where(grow, scale * 2, scale), scale / 2)
                good = jnp.where(finite & ~grow, good + 1, 0)
            skipped = skipped + (~finite).astype(jnp.int32)
            return (params, velocity, (scale, good, skipped)), loss / scale

        (params, velocity, scaler), losses = lax.scan(step, (params, velocity, scaler),
                                                      (xs, ys))
        return params, velocity, scaler, key, jnp.mean(losses)
    return train_epoch


def train_mixed(dtype, data, epochs, key, loss_scaling=False, log=print):
    """The MLP of `mlp_classifier` trained with its forward and backward passes in `dtype`."""
    x_train, y_train, x_test, y_test = data
    key, init_key = random.split(key)
    params = mlp.init_params(init_key, (2, mlp.HIDDEN, mlp.HIDDEN, mlp.N_CLASSES))
    velocity = jc.tree_util.tree_map(jnp.zeros_like, params)
    scaler = (jnp.float32(INITIAL_SCALE if loss_scaling else 1.0), jnp.int32(0), jnp.int32(0))
    train_epoch = make_train_epoch(dtype, loss_scaling)
    accuracy = make_accuracy(dtype)
    history = []
    for epoch in range(epochs):
        lr = np.float32(mlp.LR * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        t0 = time.perf_counter()
        params, velocity, scaler, key, loss = train_epoch(params, velocity, scaler, key,
                                                          x_train, y_train, lr)
        loss = float(loss)
        dt = time.perf_counter() - t0
        history.append((loss, float(accuracy(params, x_test, y_test)), dt))
        if log is not None and (epoch < 2 or epoch == epochs - 1):
            log(f"  {np.dtype(dtype).name:8s} epoch {epoch + 1:3d}  loss {loss:.4f}  "
                f"test acc {history[-1][1]:.3f}")
    return params, history, scaler


def main(small=False):
    n_per_class, epochs = (1000, 20) if small else (2000, 60)
    tolerance = TOLERANCE_SMALL if small else TOLERANCE
    x, y = mlp.make_spirals(n_per_class)
    n_test = len(y) // 5
    data = (x[n_test:], y[n_test:], x[:n_test], y[:n_test])
    print(f"GENERATED data: {mlp.N_CLASSES}-class noisy spirals, {len(y) - n_test} training "
          f"and {n_test} test points (NumPy seed 0)")
    key = random.PRNGKey(0)

    t0 = time.perf_counter()
    _, ref = mlp.train((2, mlp.HIDDEN, mlp.HIDDEN, mlp.N_CLASSES), data, epochs, key, log=None)
    results = {"float32": (ref[-1][1], time.perf_counter() - t0, None)}
    print(f"  float32  final test acc {ref[-1][1]:.3f}")
    for name, dtype, scaling in (("bfloat16", jnp.bfloat16, False),
                                 ("float16", jnp.float16, True)):
        t0 = time.perf_counter()
        _, hist, scaler = train_mixed(dtype, data, epochs, key, loss_scaling=scaling)
        results[name] = (hist[-1][1], time.perf_counter() - t0, scaler)

    acc32 = results["float32"][0]
    print(f"\n{'run':34s} test acc   vs float32   wall (s)")
    for name, label in (("float32", "float32"),
                        ("bfloat16", "bfloat16 compute, float32 master"),
                        ("float16", "float16 compute + loss scaling")):
        acc, wall, _ = results[name]
        print(f"{label:34s} {acc:8.3f}   {acc - acc32:+8.3f}   {wall:8.2f}")
    scale, _, skipped = results["float16"][2]
    print(f"float16 loss scale at the end: 2**{np.log2(float(scale)):.0f} (from "
          f"2**{np.log2(INITIAL_SCALE):.0f}); {int(skipped)} steps skipped for overflow")
    print(f"claim: each mixed-precision run within {tolerance:.2f} of float32's test accuracy")
    for name in ("bfloat16", "float16"):
        gap = abs(results[name][0] - acc32)
        assert gap <= tolerance, f"{name} test accuracy {results[name][0]:.3f} is {gap:.3f} " \
                                 f"from float32's {acc32:.3f}"
    return {name: {"test_acc": r[0], "seconds": r[1]} for name, r in results.items()} | {
        "loss_scale": float(scale), "skipped": int(skipped)}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
