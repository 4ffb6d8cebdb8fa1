"""`lax.reduce_window` and `lax.reduce` with any reducer, and the windowed reductions by name.

A reducer that is one of the monoids (add, max, min; and mul, bitwise and/or of booleans for
`reduce`) with its identity as the initial value becomes the matching primitive
(`reduce_window_sum/max/min`, `reduce_sum/prod/max/min/and/or`), as JAX does. The reducer is
recognised by tracing it once on two scalars (so `lax.add`, `jnp.add`, `operator.add` and
`lambda a, b: a + b` all are); max and min with another initial value are the primitive
joined with it, since both are idempotent.

Any other reducer is evaluated at trace time on whole arrays, vmapped over their elements:
for `reduce_window`, on the `prod(window_dimensions)` strided slices of the padded operand
(padding and dilation holes hold the initial value, as in XLA), for `reduce`, on the halves
of the reduced axes, level by level; the pairs are joined in a balanced tree, then with the
initial value. The window size and the reduced extent are static, so the program holds only
primitives (no sub-computation), and every transform applies to it as written. Like XLA,
the result assumes the reducer is associative and commutative with the initial value as its
identity; another reducer gets one fixed order of evaluation.
"""
from __future__ import annotations

import math

import numpy as np

from ops import core
from ops import elementwise as _el
from ops import reduction as _red
from ops import shape as _sh
from ops import windows as _win
from ops.errors import DtypeError, InvalidArgumentError, InvalidOptionError, ShapeError
from ops.rules import canonical_axes

from . import tree_util
from .numpy._promotion import aval_of, convert, is_scalar

# `padtype_to_pads` is exported by the convolutions (`lax_conv`); this one serves windows.
__all__ = ["reduce_window", "reduce", "reduce_window_sum", "reduce_window_max",
           "reduce_window_min"]

_REDUCE = {"add": _red.reduce_sum, "mul": _red.reduce_prod, "max": _red.reduce_max,
           "min": _red.reduce_min, "and": _red.reduce_and, "or": _red.reduce_or}
_WINDOW = {"add": _win.reduce_window_sum, "max": _win.reduce_window_max,
           "min": _win.reduce_window_min}


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """JAX's `lax.padtype_to_pads`: (low, high) pairs for "VALID", "SAME" (the extra element
    goes high) or "SAME_LOWER" (low), from the operand's and the (dilated) window's shapes."""
    if not isinstance(padding, str):
        return [tuple(int(v) for v in p) for p in padding]
    kind = padding.upper()
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise InvalidOptionError(f"unrecognized padding type: expected 'VALID', 'SAME' or "
                                 f"'SAME_LOWER', got {padding!r}")
    pads = []
    for n, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-int(n) // int(s))
        total = max((out - 1) * int(s) + int(w) - int(n), 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if kind == "SAME" else (big, small))
    return pads


def _window_params(op, shape, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    nd = len(shape)
    wd = tuple(int(w) for w in window_dimensions)
    ws = tuple(int(s) for s in window_strides)
    bd = tuple(int(b) for b in base_dilation) if base_dilation is not None else (1,) * nd
    wdil = tuple(int(d) for d in window_dilation) if window_dilation is not None else (1,) * nd
    if isinstance(padding, str):
        # JAX's rule: the operand's shape as given (before base dilation), the dilated window.
        dilated = [0 if w == 0 else (w - 1) * d + 1 for w, d in zip(wd, wdil)]
        if not len(wd) == len(ws) == nd:
            raise ShapeError(f"{op}: window_dimensions {wd} and window_strides {ws} need one "
                             f"entry per dimension of an operand of shape {tuple(shape)}")
        padding = padtype_to_pads(shape, dilated, ws, padding)
    pads = tuple(tuple(int(v) for v in p) for p in padding)
    return dict(window_dimensions=wd, window_strides=ws, padding=pads, base_dilation=bd,
                window_dilation=wdil)


def reduce_window_sum(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    """Sums over windows (`padding`: (low, high) pairs or "VALID"/"SAME")."""
    return _win.reduce_window_sum(operand, **_window_params(
        "reduce_window_sum", aval_of(operand).shape, window_dimensions, window_strides,
        padding, base_dilation, window_dilation))


def reduce_window_max(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    """Maxima over windows (padding holds -inf, or the dtype's lowest value)."""
    return _win.reduce_window_max(operand, **_window_params(
        "reduce_window_max", aval_of(operand).shape, window_dimensions, window_strides,
        padding, base_dilation, window_dilation))


def reduce_window_min(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    """Minima over windows (padding holds +inf, or the dtype's highest value)."""
    return _win.reduce_window_min(operand, **_window_params(
        "reduce_window_min", aval_of(operand).shape, window_dimensions, window_strides,
        padding, base_dilation, window_dilation))


# --- recognising a monoid --------------------------------------------------------------------

def _monoid(computation, dtype):
    """The name of the one binary primitive `computation(a, b)` applies to its two scalar
    arguments of `dtype` ("add", "max", ...), or None."""
    from xla_like import ir
    from xla_like.builder import build
    aval = core.ShapedArray((), dtype)
    try:
        _, comp, out_avals, captured = build("reducer", lambda a, b: [computation(a, b)],
                                             [aval, aval])
    except Exception:   # not a plain function of two scalars: the general path says why
        return None
    body = [i for i in comp.instructions if i.opcode != ir.PARAMETER]
    if captured or len(body) != 1 or out_avals[0].dtype != dtype:
        return None
    instr = body[0]
    if instr is not comp.root or instr.opcode not in _REDUCE:
        return None
    if sorted(o.attrs.get("index", -1) for o in instr.operands
              if o.opcode == ir.PARAMETER) != [0, 1]:
        return None
    return instr.opcode


def _identity_of(op, dtype):
    if op == "mul" or op == "and":
        return np.array(1, dtype)
    if op == "or":
        return np.array(0, dtype)
    return _win.identity(op, dtype)


def _concrete(x):
    if isinstance(x, core.Tracer):
        return x.concrete
    return np.asarray(x)


def _is_identity(init, op):
    """Is `init` known now and the identity of `op` in its own dtype (JAX's test: -inf
    starts a max over integers too)?"""
    value = _concrete(init)
    if value is None or np.shape(value) != ():
        return False
    value = np.asarray(value)
    return bool(value == _identity_of(op, value.dtype))


def _inits(op, operands, inits):
    """The initial values as scalars of their operands' dtypes: a Python scalar takes the
    operand's dtype; an array must have it already."""
    out = []
    for x, v in zip(operands, inits):
        xa = aval_of(x)
        if is_scalar(v):
            v = convert(v, xa.dtype)
        va = aval_of(v)
        if va.shape != ():
            raise ShapeError(f"{op}: initial values must be scalars, got {va.str_short()}")
        if va.dtype != xa.dtype:
            raise DtypeError(f"{op}: the initial value {va.str_short()} must have its operand's "
                             f"dtype, {xa.str_short()}", hint="convert it with .astype(...)")
        out.append(v)
    return out


def _flatten_pair(op, operands, init_values):
    leaves, tree = tree_util.tree_flatten(operands)
    inits, init_tree = tree_util.tree_flatten(init_values)
    if tree != init_tree:
        raise InvalidArgumentError(f"{op}: operands and init_values must have the same "
                                   f"structure, got {tree} and {init_tree}")
    if not leaves:
        raise InvalidArgumentError(f"{op} needs at least one operand")
    shapes = {aval_of(x).shape for x in leaves}
    if len(shapes) != 1:
        raise ShapeError(f"{op}: every operand must have the same shape, got "
                         + ", ".join(aval_of(x).str_short() for x in leaves))
    return leaves, inits, tree


# --- the reducer on whole arrays ---------------------------------------------------------------

def _apply(op, computation, tree, accs, xs):
    """`computation(acc, x)` (each a pytree of `tree`'s structure) on arrays of one
    non-empty shape, element by element (vmapped over their flattened elements)."""
    from .batching import vmap
    shape = aval_of(accs[0]).shape
    n = math.prod(shape)
    dts = [aval_of(a).dtype for a in accs]

    def flat(v):
        return _sh.reshape(v, new_sizes=(n,)) if shape != (n,) else v

    def per_element(a_leaves, x_leaves):
        a = tree_util.tree_unflatten(tree, a_leaves)
        x = tree_util.tree_unflatten(tree, x_leaves)
        out_leaves, out_tree = tree_util.tree_flatten(computation(a, x))
        if out_tree != tree:
            raise InvalidArgumentError(f"{op}: the reducer must return its operands' "
                                       f"structure {tree}, got {out_tree}")
        return [convert(o, d) if is_scalar(o) else o for o, d in zip(out_leaves, dts)]

    outs = vmap(per_element)([flat(a) for a in accs], [flat(x) for x in xs])
    for o, d in zip(outs, dts):
        if aval_of(o).dtype != d or aval_of(o).shape != (n,):
            raise DtypeError(f"{op}: the reducer must return scalars of its operands' dtypes "
                             f"{[str(t) for t in dts]}, got {aval_of(o).str_short()} per "
                             "element")
    return [_sh.reshape(o, new_sizes=shape) if shape != (n,) else o for o in outs]


def _join(op, computation, tree, a, b):
    """Two (values, valid) items joined: `computation` where both hold an element, else the
    one that does (`valid` None: every position holds one)."""
    (xa, va), (xb, vb) = a, b
    r = _apply(op, computation, tree, xa, xb)
    if va is None and vb is None:
        return r, None
    ta = va if va is not None else _full(np.True_, aval_of(vb).shape)
    tb = vb if vb is not None else _full(np.True_, aval_of(va).shape)
    out = [_el.select(ta, _el.select(tb, v, x), y) for v, x, y in zip(r, xa, xb)]
    return out, _el.or_(ta, tb)


def _tree(op, computation, tree, items):
    """Join `items` ((values, valid) pairs) pairwise, level by level."""
    while len(items) > 1:
        nxt = [_join(op, computation, tree, items[k], items[k + 1])
               for k in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def _full(v, shape):
    return _sh.broadcast_in_dim(v, shape=tuple(shape), broadcast_dimensions=())


# --- reduce_window ---------------------------------------------------------------------------

def reduce_window(operand, init_value, computation, window_dimensions, window_strides, padding,
                  base_dilation=None, window_dilation=None):
    """JAX's `lax.reduce_window`: `computation` over the windows of `operand` (a pytree of
    arrays of one shape, with `init_value` of the same structure); `padding` is a sequence of
    (low, high) pairs or "VALID", "SAME", "SAME_LOWER". See the module docstring."""
    op = "reduce_window"
    leaves, inits, tree = _flatten_pair(op, operand, init_value)
    shape = aval_of(leaves[0]).shape
    p = _window_params(op, shape, window_dimensions, window_strides, padding, base_dilation,
                       window_dilation)
    dtype = aval_of(leaves[0]).dtype
    if len(leaves) == 1:
        name = _monoid(computation, dtype)
        if name in _WINDOW:
            if _is_identity(inits[0], name):
                return _WINDOW[name](leaves[0], **p)
            # Padding and holes join no window (XLA's rule), so the initial value joins each
            # window once: the primitive, then the initial value.
            (init,) = _inits(op, leaves, inits)
            out = _WINDOW[name](leaves[0], **p)
            return _win.COMBINE[name](_full(init, aval_of(out).shape), out)
    inits = _inits(op, leaves, inits)
    for x in leaves:
        _win.canonical_params(op, shape, aval_of(x).str_short(), **p)
    out_shape = _win.output_shape(shape, p)
    if math.prod(out_shape) == 0:
        outs = [_full(v, out_shape) for v in inits]
    else:
        per_slot = [_win.window_slices(x, v, **p) for x, v in zip(leaves, inits)]
        # XLA skips padding and dilation holes (the initial value joins each window once):
        # where any exist, each window element carries whether it is an operand element.
        holes = any(lo > 0 or hi > 0 for lo, hi in p["padding"]) or \
            any(b > 1 for b in p["base_dilation"])
        valid = (_win.window_slices(_full(np.True_, shape), np.False_, **p) if holes
                 else [None] * len(per_slot[0]))
        items = [(list(k), v) for k, v in zip(zip(*per_slot), valid)]
        joined, ok = _tree(op, computation, tree, items)
        init = [_full(v, out_shape) for v in inits]
        outs = _apply(op, computation, tree, init, joined)
        if ok is not None:
            outs = [_el.select(ok, o, i) for o, i in zip(outs, init)]
    return tree_util.tree_unflatten(tree, outs)


# --- reduce ----------------------------------------------------------------------------------

def reduce(operands, init_values, computation, dimensions):
    """JAX's `lax.reduce`: `computation` over the axes `dimensions` of `operands` (a pytree of
    arrays of one shape, `init_values` of the same structure). See the module docstring."""
    op = "reduce"
    leaves, inits, tree = _flatten_pair(op, operands, init_values)
    a = aval_of(leaves[0])
    axes = canonical_axes(op, tuple(dimensions), a.ndim, a.shape, "dimension")
    if len(leaves) == 1:
        name = _monoid(computation, a.dtype)
        if name in _REDUCE and (name not in ("and", "or") or a.dtype.kind == "b") \
                and _is_identity(inits[0], name):
            return _REDUCE[name](leaves[0], axes=axes)
    inits = _inits(op, leaves, inits)
    kept = tuple(d for d in range(a.ndim) if d not in axes)
    kept_shape = tuple(a.shape[d] for d in kept)
    m = math.prod(kept_shape)
    n = math.prod(a.shape[d] for d in axes)
    rows = []
    for x in leaves:
        perm = kept + axes
        if perm != tuple(range(a.ndim)):
            x = _sh.transpose(x, permutation=perm)
        rows.append(_sh.reshape(x, new_sizes=(m, n)))
    out = [_full(v, (m,)) for v in inits]
    if n and m:
        while n > 1:
            half = n // 2
            left = [_cols(r, 0, 2 * half, 2) for r in rows]
            right = [_cols(r, 1, 2 * half, 2) for r in rows]
            joined = [_sh.reshape(v, new_sizes=(m, half)) for v in
                      _apply(op, computation, tree, [_flat2(v) for v in left],
                             [_flat2(v) for v in right])]
            if n % 2:
                joined = [_sh.concatenate(j, _cols(r, n - 1, n, 1), dimension=1)
                          for j, r in zip(joined, rows)]
            rows, n = joined, half + n % 2
        out = _apply(op, computation, tree, out,
                     [_sh.reshape(r, new_sizes=(m,)) for r in rows])
    outs = [_sh.reshape(o, new_sizes=kept_shape) for o in out]
    return tree_util.tree_unflatten(tree, outs)


def _cols(r, start, limit, stride):
    m = aval_of(r).shape[0]
    return _sh.slice(r, start_indices=(0, start), limit_indices=(m, limit), strides=(1, stride))


def _flat2(v):
    a = aval_of(v)
    return _sh.reshape(v, new_sizes=(a.shape[0] * a.shape[1],))

