"""An MLP trained from scratch with momentum SGD on a generated 5-class spiral problem.

The data is GENERATED here (no dataset ships with NumPy, and jitcore does not depend on
scikit-learn): five interleaved spiral arms in the plane, each arm one class, with Gaussian
noise on the angle and radius, drawn from a fixed NumPy seed, so every run sees the same
points. The arms wind more than a full turn around the origin, so no linear classifier
separates them: the same training loop on a linear model (trained first, as a baseline)
stays near 20% test accuracy (chance level), while a 2 -> 128 -> 128 -> 5 ReLU network
reaches at least 97% in 60 epochs (98.4% measured; 96.9% at `--small` size).

What it shows: parameters initialised with `jitcore.random` keys and
`jitcore.nn.initializers.glorot_normal`, `jitcore.nn.relu`, `log_softmax` and `one_hot`, and
one jitted epoch: a `jitcore.random.permutation` shuffle, then a `lax.scan` over the
minibatches whose body is `value_and_grad` of the loss and a momentum update, so an epoch is
one native call.

Run: python examples/mlp_classifier.py   (`--small` for a few-second run)
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax, nn, random
from jitcore.nn import initializers

N_CLASSES = 5
HIDDEN = 128
BATCH = 128
LR = 0.2                        # peak of a cosine schedule over the epochs
STATED_ACCURACY = 0.97          # the full run's test accuracy is at least this (asserted)


def make_spirals(n_per_class, n_classes=N_CLASSES, noise=0.2, turns=1.25, seed=0):
    """`n_per_class` points on each of `n_classes` spiral arms: x (n, 2) float32, label (n,).

    Point t in [0, 1) of arm k sits at radius t and angle 2 pi (turns t + k / n_classes); the
    noise perturbs the angle (radians, scaled by the radius reached) and the radius."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 1.0, size=(n_classes, n_per_class))
    k = np.arange(n_classes)[:, None]
    angle = 2 * np.pi * (turns * t + k / n_classes) + noise * rng.normal(size=t.shape)
    radius = t + 0.02 * rng.normal(size=t.shape)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1).reshape(-1, 2)
    y = np.broadcast_to(k, t.shape).reshape(-1)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int32)


def init_params(key, sizes):
    init = initializers.glorot_normal()
    keys = random.split(key, len(sizes) - 1)
    return [{"w": init(k, (m, n), jnp.float32), "b": jnp.zeros(n, jnp.float32)}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def logits_fn(params, x):
    for layer in params[:-1]:
        x = nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    """Mean cross-entropy of integer labels `y`."""
    logp = nn.log_softmax(logits_fn(params, x))
    return -jnp.mean(jnp.sum(nn.one_hot(y, N_CLASSES, dtype=logp.dtype) * logp, axis=-1))


@jc.jit
def accuracy(params, x, y):
    return jnp.mean(jnp.argmax(logits_fn(params, x), axis=-1) == y)


def make_train_epoch(momentum=0.9, batch=BATCH):
    @jc.jit
    def train_epoch(params, velocity, key, x, y, lr):
        """Shuffle, then one momentum-SGD step per minibatch; returns the new state, the next
        key and the mean minibatch loss."""
        n_batches = x.shape[0] // batch
        key, sub = random.split(key)
        perm = random.permutation(sub, x.shape[0])[:n_batches * batch]
        xs = x[perm].reshape(n_batches, batch, x.shape[1])
        ys = y[perm].reshape(n_batches, batch)

        def step(carry, xy):
            params, velocity = carry
            loss, grads = jc.value_and_grad(loss_fn)(params, *xy)
            velocity = jc.tree_util.tree_map(lambda v, g: momentum * v + g, velocity, grads)
            params = jc.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
            return (params, velocity), loss

        (params, velocity), losses = lax.scan(step, (params, velocity), (xs, ys))
        return params, velocity, key, jnp.mean(losses)
    return train_epoch


def train(sizes, data, epochs, key, log=print):
    """Train an MLP of layer `sizes`; returns (params, [(loss, test accuracy, seconds), ...])."""
    x_train, y_train, x_test, y_test = data
    key, init_key = random.split(key)
    params = init_params(init_key, sizes)
    velocity = jc.tree_util.tree_map(jnp.zeros_like, params)
    train_epoch = make_train_epoch(momentum=np.float32(0.9))
    history = []
    for epoch in range(epochs):
        lr = np.float32(LR * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        t0 = time.perf_counter()
        params, velocity, key, loss = train_epoch(params, velocity, key, x_train, y_train, lr)
        loss = float(loss)
        dt = time.perf_counter() - t0
        acc = float(accuracy(params, x_test, y_test))
        history.append((loss, acc, dt))
        if log is not None:
            note = " (trace + compile + run)" if epoch == 0 else ""
            log(f"epoch {epoch + 1:3d}  lr {lr:.3f}  loss {loss:.4f}  test acc {acc:.3f}  "
                f"{dt * 1e3:7.1f} ms{note}")
    return params, history


def main(small=False):
    n_per_class, epochs = (1000, 20) if small else (2000, 60)
    x, y = make_spirals(n_per_class)
    n_test = len(y) // 5
    data = (x[n_test:], y[n_test:], x[:n_test], y[:n_test])
    print(f"GENERATED data: {N_CLASSES}-class noisy spirals, {len(y) - n_test} training and "
          f"{n_test} test points (NumPy seed 0; not a downloaded dataset)")
    key = random.PRNGKey(0)

    _, linear = train((2, N_CLASSES), data, epochs, key, log=None)
    print(f"baseline: a linear softmax classifier, same loop and epochs: test accuracy "
          f"{linear[-1][1]:.3f}")

    sizes = (2, HIDDEN, HIDDEN, N_CLASSES)
    n_params = sum(m * n + n for m, n in zip(sizes[:-1], sizes[1:]))
    print(f"model: 2 -> {HIDDEN} -> {HIDDEN} -> {N_CLASSES} ReLU MLP, {n_params} float32 "
          f"parameters (glorot_normal init), momentum 0.9, cosine lr from {LR}, batch {BATCH}")
    every = 1 if small else 5
    params, history = train(sizes, data, epochs, key,
                            log=lambda line, c=iter(range(epochs)): (
                                print(line) if (i := next(c)) < 3 or (i + 1) % every == 0
                                else None))

    train_acc = float(accuracy(params, data[0], data[1]))
    test_acc = history[-1][1]
    per_epoch = float(np.median([h[2] for h in history[1:]]))
    steps = len(data[1]) // BATCH
    print(f"final: train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f} "
          f"(stated for the full run: >= {STATED_ACCURACY:.2f})")
    print(f"median epoch {per_epoch * 1e3:.1f} ms for {steps} SGD steps "
          f"({per_epoch / steps * 1e6:.0f} us per step, shuffle included); first epoch "
          f"{history[0][2] * 1e3:.0f} ms with trace and compile")
    if not small:
        assert test_acc >= STATED_ACCURACY, f"test accuracy {test_acc:.3f} below the stated bound"
    return {"history": history, "linear_acc": linear[-1][1], "train_acc": train_acc,
            "test_acc": test_acc, "epoch_seconds": per_epoch}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
