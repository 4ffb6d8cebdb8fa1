"""Control flow steps of random programs: `cond`, `switch`, `fori_loop` (static trip counts
become a `scan`, traced ones a `while`), `while_loop` and `scan`.

Branches and bodies are random fragments themselves, drawn by a child builder on example
values of their parameters (the operands, the carry's initial value, the first slice of `xs`),
with outer values captured by closure as well as passed in. Their results are brought to the
carry's shapes and dtypes by `coerce`. Trip counts stay small (at most 4): a traced bound is an
element of an integer value modulo 4, and a scan runs over the first 4 rows of its `xs`.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as jnp
from .random_steps import coerce
from .random_values import Value

MAX_DEPTH = 2          # control flow nests at most this deep
MAX_BODY_STEPS = 5
MAX_TRIPS = 4


def _predicate(x):
    """A boolean scalar from any value (a data-dependent branch or loop condition)."""
    if x.dtype == np.bool_:
        return jnp.any(x)
    if jnp.issubdtype(x.dtype, jnp.integer):
        return jnp.sum(x) % 2 == 0
    return jnp.any(x > 0)


def _bound(v, pos):
    """A trip count in 0..3 from element `pos` of integer value `v` (floor modulo)."""
    return jnp.reshape(v, (-1,))[pos] % 4


def _index_value(g):
    return Value([np.zeros((), np.int32)] * len(g.pool[0].data), None)


def _slice_value(v):
    """Parameter standing for one element along axis 0 of `v` (zeros when `v` has none)."""
    data = [d[0] if d.shape[0] else np.zeros(d.shape[1:], d.dtype) for d in v.data]
    err = None if v.err is None else [e[0] if e.shape[0] else np.zeros(e.shape[1:])
                                      for e in v.err]
    return Value(data, err)


def _body(g, params, results, free_output=False):
    """A fragment over `params` returning values shaped like `params[k]` for k in `results`
    (and one more value of any shape when `free_output`); whether it rounds."""
    sub = g.child(params)
    sub.draw(int(g.rng.integers(1, MAX_BODY_STEPS + 1)))
    outs = []
    sinks = sub.sinks()
    for k in results:
        want = sub.pool[k]
        fits = [j for j, v in enumerate(sub.pool)
                if v.dtype == want.dtype and (v.size > 0 or want.size == 0)]
        # Prefer a value nothing else reads, so that the body's work reaches its results.
        fits = [j for j in fits if j in sinks] or fits
        j = fits[g.rng.integers(len(fits))]
        if sub.pool[j].shape != want.shape:
            shape = want.shape
            kept = sub.try_step(f"coerce{shape}", lambda x, shape=shape: coerce(x, shape), (j,))
            j = len(sub.pool) - 1 if kept else k
        outs.append(j)
    if free_output:
        outs.append(sinks[-1] if sinks else sub.pick())
    return sub.fragment(outs), sub.approx


def _operands(g, i, most):
    extra = [g.pick() for _ in range(int(g.rng.integers(0, most)))]
    return list(dict.fromkeys([i] + extra))


def _captured(g):
    return [g.pick() for _ in range(int(g.rng.integers(0, 2)))]


def draw_cond(g, i, switch=False):
    ops, caps = _operands(g, i, 2), _captured(g)
    n = len(ops)
    params = [g.pool[o] for o in ops + caps]
    branches = [_body(g, params, range(n)) for _ in range(3 if switch else 2)]
    approx = "rel_in" if any(a for _, a in branches) else None
    frags = [b for b, _ in branches]
    if switch:
        src = g.pick(lambda v: v.kind == "i" and v.size > 0)
        if src is None:
            return False
        pos = int(g.rng.integers(g.pool[src].size))
        select = lambda v: jnp.reshape(v, (-1,))[pos]  # noqa: E731
    else:
        src = g.pick()
        select = _predicate

    def cond_step(p, *args):
        xs, cap = args[:n], args[n:]
        fns = [lambda *a, f=f: f(*a, *cap) for f in frags]
        if switch:
            return tuple(lax.switch(select(p), fns, *xs))
        return tuple(lax.cond(select(p), fns[0], fns[1], *xs))
    return g.try_step("switch" if switch else "cond", cond_step, (src, *ops, *caps), approx,
                      [(f"branch {k}", f) for k, f in enumerate(frags)])


def draw_switch(g, i):
    return draw_cond(g, i, switch=True)


def _loop(g, i, kind):
    carries, caps = _operands(g, i, 2), _captured(g)
    n = len(carries)
    params = [_index_value(g)] + [g.pool[c] for c in carries + caps]
    body, rounds = _body(g, params, range(1, n + 1))
    static = g.rng.integers(2) == 0
    trips = int(g.rng.integers(0, 4))
    src, pos = None, 0
    if not static:
        src = g.pick(lambda v: v.kind == "i" and v.size > 0)
        if src is None:
            return False
        pos = int(g.rng.integers(g.pool[src].size))
    cond_src = g.rng.integers(2) == 0 and kind == "while"

    def loop_step(*args):
        limit = trips if static else _bound(args[0], pos)
        rest = args[0 if static else 1:]
        init, cap = tuple(rest[:n]), rest[n:]

        def step(k, c):
            return tuple(body(lax.convert_element_type(k, np.int32), *c, *cap))
        if kind == "fori":
            return tuple(lax.fori_loop(0, limit, step, init))

        def cond(c):
            more = c[0] < limit
            return jnp.logical_and(more, _predicate(c[1])) if cond_src else more
        out = lax.while_loop(cond, lambda c: (c[0] + 1, *step(c[0], c[1:])),
                             (jnp.asarray(0, np.int32), *init))
        return tuple(out[1:])
    label = (f"{kind}(trips={trips if static else f'%{src}[{pos}] % 4'}"
             f"{', data-dependent' if cond_src else ''})")
    operands = ([] if static else [src]) + carries + caps
    return g.try_step(label, loop_step, tuple(operands), "rel_in" if rounds else None,
                      [("body(i, carry..., captured...)", body)])


def draw_fori(g, i):
    return _loop(g, i, "fori")


def draw_while(g, i):
    return _loop(g, i, "while")


def draw_scan(g, i):
    xs = i if g.pool[i].ndim else g.pick(lambda v: v.ndim >= 1)
    if xs is None:
        return False
    carries = [g.pick() for _ in range(int(g.rng.integers(0, 3)))]
    carries = list(dict.fromkeys(carries))
    caps = _captured(g)
    n = len(carries)
    params = [g.pool[c] for c in carries] + [_slice_value(g.pool[xs])] + [g.pool[c]
                                                                         for c in caps]
    body, rounds = _body(g, params, range(n), free_output=True)
    reverse = bool(g.rng.integers(2))

    def scan_step(*args):
        # At most MAX_TRIPS steps: the builder evaluates every step eagerly, several times.
        init, x, cap = tuple(args[:n]), args[n][:MAX_TRIPS], args[n + 1:]

        def f(c, xv):
            outs = body(*c, xv, *cap)
            return tuple(outs[:n]), outs[n]
        c, ys = lax.scan(f, init, x, reverse=reverse)
        return (*c, ys)
    return g.try_step(f"scan(x[:{MAX_TRIPS}], reverse={reverse})", scan_step, (*carries, xs, *caps),
                      "rel_in" if rounds else None, [("body(carry..., x, captured...)", body)])


FAMILIES = {"cond": draw_cond, "switch": draw_switch, "fori": draw_fori, "while": draw_while,
            "scan": draw_scan}
# Relative weights in plain and in differentiated programs.
WEIGHTS = {"cond": (3, 2), "switch": (1, 1), "fori": (2, 2), "while": (2, 1), "scan": (3, 2)}


def with_control_flow(names, weights, smooth):
    return (list(names) + list(FAMILIES),
            np.concatenate([weights, [WEIGHTS[n][1 if smooth else 0] for n in FAMILIES]]))
