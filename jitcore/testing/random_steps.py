"""How each kind of step of a random program is drawn.

Every `draw_*` function takes the program builder `g` (see `random_programs._Builder`) and the
pool index `i` of a first operand, picks the rest of the step (partners, axes, sizes, bodies),
and offers it with `g.try_step(label, fn, operands, approx)`, which evaluates it on the example
values, rejects it if it is invalid or numerically unstable, and returns whether it was kept.
Step functions receive `jitcore` arrays (tracers inside `jit`) and use only `jitcore.numpy`
and `lax`, so one function serves eager evaluation, tracing, `grad` and `vmap`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as jnp
from .. import nn
from .random_ops import BINARY, COMPARE, CUMULATIVE, REDUCE, SMOOTH_REDUCE, UNARY, kind


def _broadcastable(s, t):
    return all(a == b or a == 1 or b == 1 for a, b in zip(s[::-1], t[::-1]))


def draw_unary(g, i):
    k = g.pool[i].kind
    ops = [op for op in UNARY if k in op.kinds and (op.smooth or not g.smooth)]
    if not ops:
        return False
    op = ops[g.rng.integers(len(ops))]
    return g.try_step(op.name, op.fn, (i,), op.approx)


def draw_binary(g, i):
    a = g.pool[i]
    ops = [op for op in BINARY if a.kind in op.kinds and (op.smooth or not g.smooth)]
    if not ops:
        return False
    op = ops[g.rng.integers(len(ops))]
    # Mostly the same kind; sometimes another (jnp promotes, e.g. int32 + float32 -> float32).
    same = g.rng.random() < 0.85
    j = g.pick(lambda v: _broadcastable(v.shape, a.shape) and v.kind in op.kinds
               and (v.kind == a.kind or not same))
    if j is None:
        return False
    return g.try_step(op.name, op.fn, (i, j), op.approx)


def draw_compare(g, i):
    """`where(x < y, x, z)` or the comparison itself."""
    a = g.pool[i]
    cmp = COMPARE[g.rng.integers(len(COMPARE))]
    j = g.pick(lambda v: _broadcastable(v.shape, a.shape) and (v.kind == "f") == (a.kind == "f"))
    if g.rng.random() < 0.3 and not g.smooth:
        return g.try_step(cmp.__name__, cmp, (i, j))
    m = g.pick(lambda v: _broadcastable(v.shape, a.shape) and v.kind == a.kind)
    return g.try_step(f"where({cmp.__name__})", lambda x, y, z: jnp.where(cmp(x, y), x, z),
                      (i, j, m))


def draw_where(g, i):
    a = g.pool[i]
    c = g.pick(lambda v: v.kind == "b" and _broadcastable(v.shape, a.shape))
    j = g.pick(lambda v: v.kind == a.kind and _broadcastable(v.shape, a.shape))
    if c is None:
        return False
    return g.try_step("where", jnp.where, (c, i, j))


def draw_reduce(g, i):
    a = g.pool[i]
    choices = [r for r in REDUCE[a.kind] if not g.smooth or r[0] in SMOOTH_REDUCE]
    name, fn, approx = choices[g.rng.integers(len(choices))]
    r = g.rng.random()
    if a.ndim == 0 or r < 0.15:
        axis = None
    elif r < 0.2:
        axis = ()
    else:
        axis = tuple(sorted(int(d) for d in g.rng.choice(a.ndim, g.rng.integers(1, a.ndim + 1),
                                                          replace=False)))
    keep = bool(g.rng.integers(2))
    return g.try_step(f"{name}(axis={axis}, keepdims={keep})",
                      lambda x: fn(x, axis=axis, keepdims=keep), (i,), approx)


def draw_arg_reduce(g, i):
    a = g.pool[i]
    axis = None if a.ndim == 0 else int(g.rng.integers(a.ndim))
    fn = jnp.argmax if g.rng.integers(2) else jnp.argmin
    return g.try_step(f"{fn.__name__}(axis={axis})", lambda x: fn(x, axis=axis), (i,))


def draw_cumulative(g, i):
    a = g.pool[i]
    if a.ndim == 0 or a.kind == "b":
        return False
    name = list(CUMULATIVE)[g.rng.integers(len(CUMULATIVE))]
    approx, _ = CUMULATIVE[name]
    fn = getattr(lax, name)
    axis, rev = int(g.rng.integers(a.ndim)), bool(g.rng.integers(2))
    return g.try_step(f"{name}(axis={axis}, reverse={rev})",
                      lambda x: fn(x, axis=axis, reverse=rev), (i,),
                      approx if a.kind == "f" else None)


def draw_sort(g, i):
    a = g.pool[i]
    if a.ndim == 0:
        return False
    axis = int(g.rng.integers(a.ndim))
    if g.smooth or g.rng.random() < 0.6:
        return g.try_step(f"sort(axis={axis})", lambda x: jnp.sort(x, axis=axis), (i,))
    return g.try_step(f"argsort(axis={axis})", lambda x: jnp.argsort(x, axis=axis), (i,))


def draw_astype(g, i):
    k = g.pool[i].kind
    choices = [c for c in g.casts if not g.smooth or kind(c) == "f" or k != "f"]
    dt = choices[g.rng.integers(len(choices))]
    return g.try_step(f"astype({dt})", lambda x: x.astype(dt), (i,))


# --- data movement -------------------------------------------------------------------------

def draw_transpose(g, i):
    perm = tuple(int(p) for p in g.rng.permutation(g.pool[i].ndim))
    return g.try_step(f"transpose{perm}", lambda x: jnp.transpose(x, perm), (i,))


def draw_reshape(g, i):
    n = g.pool[i].size
    if n == 0:
        new = tuple(int(v) for v in g.rng.choice([0, 1, 2, 3], g.rng.integers(1, 4)))
        new = new if 0 in new else new + (0,)
    else:
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        d = int(divisors[g.rng.integers(len(divisors))])
        new = [(n,), (d, n // d), (n // d, 1, d), (1, n)][g.rng.integers(4)]
    return g.try_step(f"reshape{new}", lambda x: jnp.reshape(x, new), (i,))


def draw_slice(g, i):
    a = g.pool[i]
    if a.ndim == 0:
        return g.try_step("x[None]", lambda x: x[None], (i,))
    sl = []
    for n in a.shape:
        start, stop = sorted(int(v) for v in g.rng.integers(-n - 1, n + 2, 2))
        step = int([1, 1, 2, 3, -1, -2][g.rng.integers(6)])
        sl.append(slice(start, stop, step) if step > 0 else slice(stop, start, step))
    sl = tuple(sl)
    text = ", ".join(f"{q.start}:{q.stop}:{q.step}" for q in sl)
    return g.try_step(f"x[{text}]", lambda x: x[sl], (i,))


def draw_rev(g, i):
    a = g.pool[i]
    if a.ndim == 0:
        return False
    axes = tuple(int(d) for d in g.rng.choice(a.ndim, g.rng.integers(1, a.ndim + 1),
                                              replace=False))
    return g.try_step(f"flip{axes}", lambda x: jnp.flip(x, axes), (i,))


def draw_concat(g, i):
    a = g.pool[i]
    if a.ndim == 0:
        return False
    ax = int(g.rng.integers(a.ndim))
    j = g.pick(lambda v: v.ndim == a.ndim and v.kind == a.kind and all(
        s == t for d, (s, t) in enumerate(zip(v.shape, a.shape)) if d != ax))
    return g.try_step(f"concatenate(axis={ax})",
                      lambda x, y: jnp.concatenate([x, y, x[::-1]], axis=ax), (i, j))


def draw_pad(g, i):
    a = g.pool[i]
    if a.ndim == 0 or a.kind == "b":
        return False
    cfg = tuple((int(lo), int(hi), int(inner)) for lo, hi, inner in
                zip(g.rng.integers(-2, 3, a.ndim), g.rng.integers(-2, 3, a.ndim),
                    g.rng.integers(0, 3, a.ndim)))
    value = [0, -1.5, np.nan][g.rng.integers(3 if a.kind == "f" else 2)]
    value = int(value) if a.kind != "f" else value
    return g.try_step(f"pad({cfg}, {value})", lambda x: lax.pad(x, value, cfg), (i,))


def draw_broadcast(g, i):
    a = g.pool[i]
    lead = tuple(int(v) for v in g.rng.integers(0, 4, g.rng.integers(1, 3)))
    shape = lead + tuple(int(g.rng.integers(1, 4)) if d == 1 else d for d in a.shape)
    return g.try_step(f"broadcast_to{shape}", lambda x: jnp.broadcast_to(x, shape), (i,))


def draw_squeeze_expand(g, i):
    a = g.pool[i]
    ones = tuple(d for d, n in enumerate(a.shape) if n == 1)
    if ones and g.rng.integers(2):
        return g.try_step(f"squeeze{ones}", lambda x: jnp.squeeze(x, ones), (i,))
    ax = int(g.rng.integers(-a.ndim - 1, a.ndim + 1))
    return g.try_step(f"expand_dims({ax})", lambda x: jnp.expand_dims(x, ax), (i,))


def draw_tile(g, i):
    reps = tuple(int(r) for r in g.rng.integers(0, 3, g.rng.integers(1, 3)))
    return g.try_step(f"tile{reps}", lambda x: jnp.tile(x, reps), (i,))


def draw_iota(g, i):
    a = g.pool[i]
    if a.ndim == 0 or a.kind == "b":
        return False
    d = int(g.rng.integers(a.ndim))
    return g.try_step(f"x + iota(dim={d})",
                      lambda x: x + lax.broadcasted_iota(x.dtype, x.shape, d), (i,))


# --- indices from data: dynamic slices, gathers, scatters ----------------------------------

def _index_scalar(v, pos):
    # Element `pos` of an integer value, as a traced scalar index.
    return jnp.reshape(v, (-1,))[pos]


def draw_dynamic_slice(g, i):
    a = g.pool[i]
    j = g.pick(lambda v: v.kind == "i" and v.size > 0)
    if a.ndim == 0 or j is None:
        return False
    pos = int(g.rng.integers(g.pool[j].size))
    sizes = tuple(int(g.rng.integers(0, n + 1)) for n in a.shape)
    if g.rng.integers(2):
        return g.try_step(f"dynamic_slice(sizes={sizes})", lambda x, v: lax.dynamic_slice(
            x, [_index_scalar(v, pos)] * x.ndim, sizes), (i, j))
    u = g.pick(lambda v: v.kind == a.kind and v.ndim == a.ndim
               and all(s <= t for s, t in zip(v.shape, a.shape)))
    if u is None:
        return False
    return g.try_step("dynamic_update_slice", lambda x, v, w: lax.dynamic_update_slice(
        x, w, [_index_scalar(v, pos)] * x.ndim), (i, j, u))


def draw_take(g, i):
    a = g.pool[i]
    j = g.pick(lambda v: v.kind == "i" and v.ndim <= 2)
    if a.ndim == 0 or j is None:
        return False
    axis = int(g.rng.integers(a.ndim))
    mode = [None, "clip", "fill"][g.rng.integers(3)]
    if g.rng.integers(2):
        return g.try_step(f"take(axis={axis}, mode={mode})",
                          lambda x, idx: jnp.take(x, idx, axis=axis, mode=mode), (i, j))
    return g.try_step("x[idx]", lambda x, idx: x[idx], (i, j))


def draw_scatter(g, i):
    a = g.pool[i]
    j = g.pick(lambda v: v.kind == "i" and v.ndim <= 1)
    if a.ndim == 0 or j is None:
        return False
    target = g.pool[j].shape + a.shape[1:]
    u = g.pick(lambda v: _broadcastable(v.shape, target) and len(v.shape) <= len(target)
               and v.kind == a.kind)
    if u is None:
        return False
    # `set` with repeated indices leaves which update wins unspecified (as in XLA): only
    # order-free updates are drawn. Float `add` may sum duplicates in any order.
    how = ["add", "min", "max", "multiply"][g.rng.integers(4 if a.kind == "i" else 3)]
    approx = "abs_in" if how == "add" and a.kind == "f" else None
    return g.try_step(f"at[idx].{how}", lambda x, idx, w: getattr(x.at[idx], how)(w),
                      (i, j, u), approx)


# --- products and normalizations -----------------------------------------------------------

def draw_matmul(g, i):
    a = g.pool[i]
    if a.ndim == 0 or a.kind == "b":
        return False
    n = a.shape[-1]
    j = g.pick(lambda v: v.ndim >= 1 and v.kind != "b" and (v.kind == "f") == (a.kind == "f")
               and (v.shape[0] if v.ndim == 1 else v.shape[-2]) == n
               and (v.ndim <= 2 or a.ndim <= 2 or _broadcastable(v.shape[:-2], a.shape[:-2])))
    if j is None:
        return False
    return g.try_step("matmul", jnp.matmul, (i, j), "abs_in" if a.kind == "f" else None)


def draw_softmax(g, i):
    a = g.pool[i]
    if a.ndim == 0 or a.kind != "f":
        return False
    axis = int(g.rng.integers(a.ndim))
    fn = nn.softmax if g.rng.integers(2) else nn.log_softmax
    return g.try_step(f"{fn.__name__}(axis={axis})", lambda x: fn(x, axis=axis), (i,), "unit")


FAMILIES = {
    # name: (draw, weight in plain programs, weight in differentiated programs)
    "unary": (draw_unary, 24, 24), "binary": (draw_binary, 18, 18),
    "compare": (draw_compare, 7, 3), "where": (draw_where, 2, 1),
    "reduce": (draw_reduce, 9, 8), "arg_reduce": (draw_arg_reduce, 2, 0),
    "cumulative": (draw_cumulative, 3, 1), "sort": (draw_sort, 2, 1),
    "astype": (draw_astype, 5, 2), "transpose": (draw_transpose, 3, 2),
    "reshape": (draw_reshape, 3, 2), "slice": (draw_slice, 4, 3), "rev": (draw_rev, 2, 1),
    "concat": (draw_concat, 3, 2), "pad": (draw_pad, 3, 2), "broadcast": (draw_broadcast, 2, 1),
    "squeeze_expand": (draw_squeeze_expand, 2, 1), "tile": (draw_tile, 1, 1),
    "iota": (draw_iota, 1, 0), "dynamic_slice": (draw_dynamic_slice, 3, 2),
    "take": (draw_take, 3, 2), "scatter": (draw_scatter, 3, 1), "matmul": (draw_matmul, 4, 4),
    "softmax": (draw_softmax, 2, 2),
}


def family_weights(smooth: bool):
    names = list(FAMILIES)
    return names, np.array([FAMILIES[n][2 if smooth else 1] for n in names], float)


def coerce(x, shape):
    """`x`'s elements, repeated or cut, as an array of `shape` (x must not be empty unless
    `shape` is)."""
    n = math.prod(shape)
    flat = jnp.reshape(x, (-1,))
    if flat.shape[0] < n:
        flat = jnp.tile(flat, -(-n // flat.shape[0]))
    return jnp.reshape(flat[:n], shape)
