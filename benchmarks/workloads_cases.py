"""The training workloads of `workloads.py`: each written once, run by jitcore and by JAX.

A case's source is Python text in which `jax`, `jnp`, `lax` and `np` are bound: to jitcore's
modules in the benchmark process, to JAX's in the `jax_side` worker. It defines
`inputs(seed)` (NumPy only, so both sides build identical arrays) returning the argument tuple,
and `fn(*args)`, the function that is jitted and timed. Sizes are formatted into the text, so
`--quick` shrinks every case the same way on both sides.

`NUMPY` holds, per case, a NumPy version of the same math (manual backpropagation where there
is a gradient) or None where NumPy has no sensible counterpart (the transformer's gradient, the
dispatch of a jitted function). It serves twice: in float64 as the reference the jitcore and JAX
answers are checked against, and in the inputs' own dtype (float32) as the NumPy column.
"""
from __future__ import annotations

import numpy as np

FULL = dict(mlp1=(784, 512, 512, 10, 128), mlp2=(64, 128, 10, 256),
            tf=dict(B=8, S=128, D=256, H=4, F=1024), rnn=dict(T=200, B=32, I=64, H=256),
            red=(4096, 4096), scat=(10_000, 100_000, 128), logreg=(4096, 256),
            gln=(4096, 1024), stencil=(2048, 2048), gather=(50_000, 256, 4096), leaves=20)
QUICK = dict(mlp1=(784, 64, 64, 10, 32), mlp2=(64, 128, 10, 64),
             tf=dict(B=1, S=16, D=32, H=4, F=64), rnn=dict(T=20, B=4, I=8, H=16),
             red=(256, 256), scat=(500, 2000, 16), logreg=(64, 16),
             gln=(64, 128), stencil=(128, 128), gather=(1000, 32, 64), leaves=20)

_MLP = """
LAYERS, BATCH = {layers}, {batch}

def inputs(seed):
    rng = np.random.default_rng(seed)
    params = [((rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32),
               np.zeros(b, np.float32)) for a, b in zip(LAYERS[:-1], LAYERS[1:])]
    x = rng.normal(size=(BATCH, LAYERS[0])).astype(np.float32)
    y = np.eye(LAYERS[-1], dtype=np.float32)[rng.integers(0, LAYERS[-1], BATCH)]
    return params, x, y

def loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jnp.maximum(h @ w + b, 0.0)
    w, b = params[-1]
    logits = h @ w + b
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * y, axis=-1))

def fn(params, x, y):
    value, g = jax.value_and_grad(loss)(params, x, y)
    return value, jax.tree_util.tree_map(lambda p, d: p - 0.01 * d, params, g)
"""

_TRANSFORMER = """
B, S, D, H, F = {B}, {S}, {D}, {H}, {F}

def inputs(seed):
    rng = np.random.default_rng(seed)
    def w(a, b):
        return (rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32)
    params = dict(wq=w(D, D), wk=w(D, D), wv=w(D, D), wo=w(D, D), w1=w(D, F),
                  b1=np.zeros(F, np.float32), w2=w(F, D), b2=np.zeros(D, np.float32),
                  g1=np.ones(D, np.float32), c1=np.zeros(D, np.float32),
                  g2=np.ones(D, np.float32), c2=np.zeros(D, np.float32))
    x = rng.normal(size=(B, S, D)).astype(np.float32)
    return params, x

def layer_norm(x, g, c):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) * lax.rsqrt(var + 1e-5) * g + c

def heads(t):
    return t.reshape(B, S, H, D // H).transpose(0, 2, 1, 3)

def block(p, x):
    xn = layer_norm(x, p["g1"], p["c1"])
    q, k, v = heads(xn @ p["wq"]), heads(xn @ p["wk"]), heads(xn @ p["wv"])
    att = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(D // H), axis=-1)
    o = (att @ v).transpose(0, 2, 1, 3).reshape(B, S, D)
    h = x + o @ p["wo"]
    hn = layer_norm(h, p["g2"], p["c2"])
    return h + jax.nn.gelu(hn @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

def loss(p, x):
    return jnp.mean(block(p, x) ** 2)

def fn(p, x):
    return jax.grad(loss)(p, x)
"""

_RNN = """
T, B, I, H = {T}, {B}, {I}, {H}

def inputs(seed):
    rng = np.random.default_rng(seed)
    params = ((rng.normal(size=(I, H)) / np.sqrt(I)).astype(np.float32),
              (rng.normal(size=(H, H)) / np.sqrt(H)).astype(np.float32),
              np.zeros(H, np.float32))
    xs = rng.normal(size=(T, B, I)).astype(np.float32)
    return params, xs

def forward(params, xs):
    wx, wh, b = params
    def cell(h, x):
        h = jnp.tanh(x @ wx + h @ wh + b)
        return h, None
    h, _ = lax.scan(cell, jnp.zeros((B, H), np.float32), xs)
    return h

def loss(params, xs):
    return jnp.mean(forward(params, xs) ** 2)
"""

SOURCES = {
    "mlp1": _MLP, "mlp2": _MLP, "tf": _TRANSFORMER,
    "rnn_fwd": _RNN + "\nfn = forward\n",
    "rnn_grad": _RNN + "\ndef fn(params, xs):\n    return jax.value_and_grad(loss)(params, xs)\n",
    "sum0": "N, M = {n}, {m}\n{red_inputs}\ndef fn(x):\n    return jnp.sum(x, axis=0)\n",
    "mean0": "N, M = {n}, {m}\n{red_inputs}\ndef fn(x):\n    return jnp.mean(x, axis=0)\n",
    "var0": "N, M = {n}, {m}\n{red_inputs}\ndef fn(x):\n    return jnp.var(x, axis=0)\n",
    "scatter": """
R, N, C = {r}, {n}, {c}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(R, C)).astype(np.float32), rng.integers(0, R, N),
            rng.normal(size=(N, C)).astype(np.float32))

def fn(x, idx, upd):
    return x.at[idx].add(upd)
""",
    "logreg": """
B, D = {b}, {d}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return ((rng.normal(size=D) / np.sqrt(D)).astype(np.float32),
            rng.normal(size=(B, D)).astype(np.float32),
            rng.integers(0, 2, B).astype(np.float32))

def loss(w, x, y):
    z = x @ w
    return jnp.logaddexp(0.0, z) - y * z

def fn(w, xs, ys):
    return jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
""",
    "gelu_ln": """
N, M = {n}, {m}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, M)).astype(np.float32),
            (1 + 0.1 * rng.normal(size=M)).astype(np.float32),
            (0.1 * rng.normal(size=M)).astype(np.float32))

def fn(x, g, c):
    h = jax.nn.gelu(x)
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean((h - mu) ** 2, axis=-1, keepdims=True)
    return (h - mu) * lax.rsqrt(var + 1e-5) * g + c
""",
    "stencil": """
N, M = {n}, {m}

def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(N, M)).astype(np.float32),)

def fn(u):
    return (4 * u[1:-1, 1:-1] - u[:-2, 1:-1] - u[2:, 1:-1]
            - u[1:-1, :-2] - u[1:-1, 2:])
""",
    "gather": """
V, E, N = {v}, {e}, {n}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(V, E)).astype(np.float32), rng.integers(0, V, N)

def fn(table, ids):
    return jnp.take(table, ids, axis=0)
""",
    "dispatch": """
LEAVES = {leaves}

def inputs(seed):
    rng = np.random.default_rng(seed)
    return ({{f"p{{i:02d}}": rng.normal(size=(4,)).astype(np.float32) for i in range(LEAVES)}},)

def fn(tree):
    return sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(tree))
""",
}

_RED_INPUTS = """
def inputs(seed):
    return (np.random.default_rng(seed).normal(size=(N, M)).astype(np.float32),)
"""


def source(case: str, quick: bool) -> str:
    """The case's source text at full or quick sizes."""
    s = QUICK if quick else FULL
    fmt = {}
    if case in ("mlp1", "mlp2"):
        *layers, batch = s[case]
        fmt = dict(layers=tuple(layers), batch=batch)
    elif case == "tf":
        fmt = s["tf"]
    elif case.startswith("rnn"):
        fmt = s["rnn"]
    elif case in ("sum0", "mean0", "var0"):
        fmt = dict(zip("nm", s["red"]), red_inputs=_RED_INPUTS)
    elif case == "scatter":
        fmt = dict(zip("rnc", s["scat"]))
    elif case == "logreg":
        fmt = dict(zip("bd", s["logreg"]))
    elif case in ("gelu_ln", "stencil"):
        fmt = dict(zip("nm", s["gln" if case == "gelu_ln" else "stencil"]))
    elif case == "gather":
        fmt = dict(zip("ven", s["gather"]))
    elif case == "dispatch":
        fmt = dict(leaves=s["leaves"])
    return SOURCES[case].format(**fmt)


# -- NumPy versions (float64 when given float64 inputs: the reference) ----------------------------

def _log_softmax(z):
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def np_mlp(params, x, y):
    hs, zs = [x], []
    for w, b in params[:-1]:
        zs.append(hs[-1] @ w + b)
        hs.append(np.maximum(zs[-1], 0))
    w, b = params[-1]
    logp = _log_softmax(hs[-1] @ w + b)
    n = x.shape[0]
    loss = -np.mean(np.sum(logp * y, -1))
    # d loss / d logits = (softmax * sum_k y - y) / n
    d = (np.exp(logp) * y.sum(-1, keepdims=True) - y) / n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        grads.append((hs[i].T @ d, d.sum(0)))
        if i:
            d = (d @ w.T) * (zs[i - 1] > 0)
    lr = np.asarray(0.01, x.dtype)
    return loss, [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads[::-1])]


def _rnn_states(params, xs):
    wx, wh, b = params
    hs = [np.zeros((xs.shape[1], wh.shape[0]), xs.dtype)]
    for x in xs:
        hs.append(np.tanh(x @ wx + hs[-1] @ wh + b))
    return hs


def np_rnn_fwd(params, xs):
    return _rnn_states(params, xs)[-1]


def np_rnn_grad(params, xs):
    wx, wh, b = params
    hs = _rnn_states(params, xs)
    dh = 2 * hs[-1] / hs[-1].size
    gx, gh, gb = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
    for t in range(len(xs) - 1, -1, -1):     # backpropagation through time
        dz = dh * (1 - hs[t + 1] ** 2)
        gx += xs[t].T @ dz
        gh += hs[t].T @ dz
        gb += dz.sum(0)
        dh = dz @ wh.T
    return np.mean(hs[-1] ** 2), (gx, gh, gb)


def np_scatter(x, idx, upd):
    out = x.copy()
    np.add.at(out, idx, upd)
    return out


def np_logreg(w, xs, ys):
    s = 1 / (1 + np.exp(-(xs @ w)))
    return (s - ys)[:, None] * xs


def np_gelu_ln(x, g, c):
    h = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi).astype(x.dtype) * (x + 0.044715 * x ** 3)))
    mu = h.mean(-1, keepdims=True)
    var = ((h - mu) ** 2).mean(-1, keepdims=True)
    return (h - mu) / np.sqrt(var + 1e-5) * g + c


def np_stencil(u):
    return 4 * u[1:-1, 1:-1] - u[:-2, 1:-1] - u[2:, 1:-1] - u[1:-1, :-2] - u[1:-1, 2:]


NUMPY = {
    "mlp1": np_mlp, "mlp2": np_mlp, "tf": None,
    "rnn_fwd": np_rnn_fwd, "rnn_grad": np_rnn_grad,
    "sum0": lambda x: x.sum(0), "mean0": lambda x: x.mean(0), "var0": lambda x: x.var(0),
    "scatter": np_scatter, "logreg": np_logreg, "gelu_ln": np_gelu_ln,
    "stencil": np_stencil, "gather": lambda t, i: t[i], "dispatch": None,
}

# Row number (as the task numbers them) -> the cases of that row, with their table labels.
ROWS = {
    "1": [("mlp1", "MLP 784-512-512-10 b128 SGD step")],
    "2": [("mlp2", "MLP 64-128-10 b256 SGD step")],
    "3": [("tf", "transformer block grad")],
    "4": [("rnn_fwd", "RNN scan 200 steps fwd"), ("rnn_grad", "RNN scan 200 steps grad")],
    "5": [("sum0", "sum axis 0 4096^2"), ("mean0", "mean axis 0 4096^2"),
          ("var0", "var axis 0 4096^2")],
    "6": [("scatter", ".at[idx].add 1e5x128")],
    "7": [("logreg", "vmap(grad) logreg")],
    "8": [],          # the cold first call, timed in fresh processes (workloads.py)
    "9": [("gelu_ln", "GELU + layer norm"), ("stencil", "5-point stencil"),
          ("gather", "embedding gather"), ("dispatch", "dispatch, 20-leaf pytree")],
}


def flatten(tree) -> list:
    """Leaves of nested tuples/lists/dicts in JAX's order (dict keys sorted)."""
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in flatten(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [x for t in tree for x in flatten(t)]
    return [tree]


def to64(tree):
    """The same structure with every floating array in float64 (for the reference)."""
    if isinstance(tree, dict):
        return {k: to64(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to64(t) for t in tree)
    a = np.asarray(tree)
    return a.astype(np.float64) if a.dtype.kind == "f" else a
