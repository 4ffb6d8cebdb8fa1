"""Conventions and helpers for the rules that transforms use: JVP, VJP and batching.

Every primitive carries three more rules beside its shape rule and NumPy reference:

- `prim.jvp(primals, tangents, **params) -> (primal_out, tangent_out)`. A tangent of `None`
  is a symbolic zero (integer and boolean values always have `None` tangents). For
  multiple-result primitives both outputs are tuples.
- `prim.vjp(cts, ans, primals, **params) -> tuple of cotangents`, one per operand, `None`
  where the operand gets no cotangent (zero, or not differentiable). `cts` is the output's
  cotangent (a tuple with `None` entries for multiple results), `ans` the primal output.
  A returned cotangent has exactly its operand's shape and dtype.
- `prim.batch(args, batched, size, **params) -> (out, out_batched)`: `batched[i]` says whether
  `args[i]` carries the batch as its leading axis (of length `size`); the rule returns the
  output and whether it is batched (again on axis 0). For multiple results, `out` is a tuple
  and `out_batched` a tuple of bools.

Rules are written with `ops`' own functions, which bind primitives on whatever trace is
current, so a rule builds IR when a transform pass runs and derivatives are differentiable.
`prim.differentiable = False` says explicitly that a primitive has no derivative (its outputs
are integers or booleans, or piecewise constant).
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .core import Primitive, ShapedArray, bind, get_aval

# --- values --------------------------------------------------------------------------------


def is_float(x) -> bool:
    """Does `x` carry derivatives: a float or complex (inexact) value?"""
    return dtypes.kind(get_aval(x).dtype) in "fc"


def full_aval(aval: ShapedArray, value):
    """A constant of `aval`'s shape and dtype: a NumPy scalar for 0-d, else a broadcast scalar
    (one small constant in the IR, never a full-size one)."""
    from .shape import broadcast_in_dim
    c = np.array(value, aval.dtype)
    if not aval.shape:
        return c
    return broadcast_in_dim(c, shape=aval.shape, broadcast_dimensions=())


def zeros_like_aval(aval: ShapedArray):
    return full_aval(aval, 0)


def full_like(x, value):
    """A constant of `x`'s shape and dtype."""
    return full_aval(get_aval(x), value)


def add_any(a, b):
    """Sum two tangents/cotangents where `None` is zero."""
    if a is None:
        return b
    if b is None:
        return a
    from .elementwise import add
    return add(a, b)


# --- JVP helpers ---------------------------------------------------------------------------


def defjvp(prim: Primitive, *rules):
    """JVP from one rule per operand: `rule(t, ans, *primals, **params) -> tangent`.

    A `None` rule marks an operand that does not affect the output's tangent (an integer
    index, a predicate). Contributions of several operands are added.
    """
    def jvp(primals, tangents, **params):
        ans = bind(prim, *primals, **params)
        if not is_float(ans):
            return ans, None
        out = None
        for rule, t in zip(rules, tangents):
            if rule is None or t is None:
                continue
            out = add_any(out, rule(t, ans, *primals, **params))
        return ans, out
    prim.jvp = jvp
    return jvp


def deflinear(prim: Primitive, transpose_rule):
    """A primitive linear in all of its (float) operands: its JVP applies it to the tangents.

    `transpose_rule(ct, *primals, **params)` gives the operands' cotangents.
    """
    def jvp(primals, tangents, **params):
        ans = bind(prim, *primals, **params)
        if all(t is None for t in tangents) or not is_float(ans):
            return ans, None
        ts = [t if t is not None else zeros_like_aval(get_aval(p))
              for p, t in zip(primals, tangents)]
        return ans, bind(prim, *ts, **params)
    prim.jvp = jvp
    prim.vjp = lambda cts, ans, primals, **params: tuple(
        transpose_rule(cts, *primals, **params))
    return prim


def defvjp(prim: Primitive, *rules):
    """VJP from one rule per operand: `rule(ct, ans, *primals, **params) -> cotangent`;
    a `None` rule gives that operand no cotangent."""
    def vjp(cts, ans, primals, **params):
        if cts is None:
            return (None,) * len(primals)
        return tuple(None if (r is None or not is_float(p)) else r(cts, ans, *primals, **params)
                     for r, p in zip(rules, primals))
    prim.vjp = vjp
    return vjp


def defnondiff(prim: Primitive):
    """No derivative: the output's tangent is zero and no operand gets a cotangent."""
    def jvp(primals, tangents, **params):
        ans = bind(prim, *primals, **params)
        return ans, (tuple(None for _ in ans) if prim.multiple_results else None)
    prim.jvp = jvp
    prim.vjp = lambda cts, ans, primals, **params: (None,) * len(primals)
    prim.differentiable = False
    return prim


# --- batching helpers ------------------------------------------------------------------------


def move_batch_to_front(x, batched: bool, size: int):
    """`x` with a leading batch axis of length `size` (broadcast if it had none)."""
    if batched:
        return x
    from .shape import broadcast_in_dim
    a = get_aval(x)
    return broadcast_in_dim(x, shape=(size,) + a.shape,
                            broadcast_dimensions=tuple(range(1, a.ndim + 1)))


def defbatch_elementwise(prim: Primitive):
    """Elementwise: broadcast unbatched operands along the batch axis, then apply."""
    def batch(args, batched, size, **params):
        if not any(batched):
            return bind(prim, *args, **params), False
        args = [move_batch_to_front(a, b, size) for a, b in zip(args, batched)]
        return bind(prim, *args, **params), True
    prim.batch = batch
    return batch


def shift_axes(axes, by=1):
    return tuple(a + by for a in axes)


__all__ = ["defjvp", "defvjp", "deflinear", "defnondiff", "defbatch_elementwise",
           "move_batch_to_front", "add_any", "zeros_like_aval", "full_aval", "full_like", "is_float",
           "shift_axes", "dtypes"]
