"""`lax.cond`, `switch`, `while_loop`, `fori_loop`, `scan` and `map` (JAX's API).

The functions are traced once into sub-computations of one instruction (`cond`, `while` or
`scan`, see `ops.control_flow`), so a loop of a million steps is one loop in the IR, compiled
as a native loop. Carries and operands are pytrees; branch outputs and loop carries must keep
their structure, shapes and dtypes, and a mismatch is reported naming the leaf. With no trace
active the same instructions are evaluated with NumPy.
"""
from __future__ import annotations

import numpy as np

from ops.dtypes import kind as _kind
from ops import core
from ops import elementwise as _el
from ops.core import ShapedArray, Tracer
from ops.errors import ControlFlowError
from xla_like.control_flow import cond_flat, scan_flat, while_flat
import xla_like.control_flow_rules  # noqa: F401  (registers the rules)

from . import tree_util
from .numpy._promotion import asarray, convert, result_dtype
from .transform_tracing import fun_name


def _leaves(tree, what):
    leaves, treedef = tree_util.tree_flatten(tree)
    out = []
    for x in leaves:
        if isinstance(x, Tracer):
            out.append(x)
            continue
        try:
            out.append(asarray(x))
        except Exception:
            raise ControlFlowError(f"{what}: a leaf of type {type(x).__name__} is not an array: "
                                   f"{x!r:.60}") from None
    return out, treedef


def _describe(avals):
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _paths(treedef, n):
    if n == 1 and treedef == tree_util.tree_structure(0):
        return ["the value"]
    paths = []

    def walk(x, path):
        if isinstance(x, dict):
            for k in sorted(x):
                walk(x[k], f"{path}[{k!r}]")
        elif isinstance(x, (tuple, list)):
            for k, v in enumerate(x):
                walk(v, f"{path}[{k}]")
        elif x is not None:
            paths.append(path)
    try:
        walk(tree_util.tree_unflatten(treedef, [0] * n), "")
    except Exception:
        paths = []
    return paths if len(paths) == n else [f"leaf {k}" for k in range(n)]


def _check_same(what, want_tree, want, got_tree, got, names=("expected", "got")):
    """Raise if two (treedef, avals) differ in structure, shape or dtype (weak types may)."""
    if want_tree != got_tree:
        raise ControlFlowError(f"{what}: {names[0]} structure {want_tree}, {names[1]} "
                               f"structure {got_tree}")
    for path, a, b in zip(_paths(want_tree, len(want)), want, got):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ControlFlowError(
                f"{what}: at {path or 'the value'}, {names[0]} {a.str_short()} but {names[1]} "
                f"{b.str_short()}",
                hint="keep every branch / loop carry the same shape and dtype (cast with "
                     ".astype, or start the carry with the dtype the body produces)")


def _avals(leaves):
    return [core.get_aval(x) for x in leaves]


# --- cond / switch --------------------------------------------------------------------------------

def switch(index, branches, *operands, operand=None):
    """Apply `branches[clamp(index, 0, len(branches) - 1)]` to `operands`."""
    branches = list(branches)
    if operand is not None:
        operands = operands + (operand,)
    if not branches:
        raise ControlFlowError("switch: needs at least one branch")
    for b in branches:
        if not callable(b):
            raise ControlFlowError(f"switch: branches must be callable, got {type(b).__name__}")
    index = index if isinstance(index, Tracer) else asarray(index)
    ia = core.get_aval(index)
    if ia.shape != () or ia.dtype.kind not in "iub":
        raise ControlFlowError(f"switch: the index must be an integer scalar, got "
                               f"{ia.str_short()}")
    index = _el.convert_element_type(index, new_dtype=np.dtype(np.int32))
    return _cond_core("switch", index, branches, operands)


def cond(pred, true_fun, false_fun, *operands, operand=None):
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, traced as one `cond`.

    Under `vmap` with a batched predicate both branches run and the result is selected per
    example (as in JAX)."""
    if operand is not None:
        operands = operands + (operand,)
    for f, nm in ((true_fun, "true_fun"), (false_fun, "false_fun")):
        if not callable(f):
            raise ControlFlowError(f"cond: {nm} must be callable, got {type(f).__name__}")
    pred = pred if isinstance(pred, Tracer) else asarray(pred)
    pa = core.get_aval(pred)
    if pa.shape != ():
        raise ControlFlowError(f"cond: the predicate must be a scalar, got {pa.str_short()}",
                               hint="reduce it with .any()/.all(), or use jnp.where for "
                                    "elementwise selection")
    if _kind(pa.dtype) not in "biuf":
        raise ControlFlowError(f"cond: the predicate must be boolean or a number, got "
                               f"{pa.str_short()}")
    if pa.dtype != np.bool_:
        pred = _el.ne(pred, np.zeros((), pa.dtype))
    index = _el.convert_element_type(pred, new_dtype=np.dtype(np.int32))
    return _cond_core("cond", index, [false_fun, true_fun], operands)


def _cond_core(api, index, branches, operands):
    leaves, in_tree = _leaves(operands, f"{api} operands")
    trees = []

    def flat(fn):
        def f(*xs):
            out = fn(*tree_util.tree_unflatten(in_tree, list(xs)))
            o_leaves, o_tree = _leaves(out, f"{api} branch {fun_name(fn)} output")
            trees.append((o_tree, _avals(o_leaves)))
            return o_leaves
        return f
    flats = [flat(b) for b in branches]
    # Trace once to check the branches agree, then emit (the check needs all their outputs).
    out = cond_flat(index, flats, leaves, name="branch", check=lambda: _check_branches(
        api, branches, trees))
    return tree_util.tree_unflatten(trees[0][0], out)


def _check_branches(api, branches, trees):
    labels = ([f"false_fun {fun_name(branches[0])}", f"true_fun {fun_name(branches[1])}"]
              if api == "cond" else
              [f"branch {k} ({fun_name(b)})" for k, b in enumerate(branches)])
    t0, a0 = trees[0]
    for k, (t, a) in enumerate(trees[1:], 1):
        _check_same(f"{api}: branch outputs must have the same type", t0, a0, t, a,
                    names=(labels[0] + " gives", labels[k] + " gives"))


# --- while / fori ---------------------------------------------------------------------------------

def _check_callable(api, **fns):
    for name, f in fns.items():
        if not callable(f):
            raise ControlFlowError(f"{api}: {name} must be callable, got {type(f).__name__} "
                                   f"{f!r:.40}")


def while_loop(cond_fun, body_fun, init_val):
    """`val = body_fun(val)` while `cond_fun(val)`; returns the final `val`.

    Differentiable in both modes (reverse mode records the carries; see the README)."""
    _check_callable("while_loop", cond_fun=cond_fun, body_fun=body_fun)
    leaves, tree = _leaves(init_val, "while_loop init_val")
    avals = _loop_avals("while_loop", body_fun, tree, leaves, lambda v, _: body_fun(v))
    leaves = _retype(leaves, avals)

    def cond_flat_fn(*xs):
        p = cond_fun(tree_util.tree_unflatten(tree, list(xs)))
        p = p if isinstance(p, Tracer) else asarray(p)
        pa = core.get_aval(p)
        if pa.shape != () or pa.dtype != np.bool_:
            raise ControlFlowError(f"while_loop: cond_fun {fun_name(cond_fun)} must return a "
                                   f"boolean scalar, got {pa.str_short()}")
        return [p]

    def body_flat_fn(*xs):
        out = body_fun(tree_util.tree_unflatten(tree, list(xs)))
        o_leaves, o_tree = _leaves(out, f"while_loop body_fun {fun_name(body_fun)} output")
        _check_same(f"while_loop: body_fun {fun_name(body_fun)} must return the carry's type",
                    tree, avals, o_tree, _avals(o_leaves), names=("carry", "body_fun output"))
        return o_leaves
    return tree_util.tree_unflatten(tree, while_flat(cond_flat_fn, body_flat_fn, leaves))


def _loop_avals(api, fn, tree, leaves, call, extra_avals=()):
    """The carry's avals. A weakly typed initial value (`0`, `0.0`) takes the dtype the body
    gives it, as JAX does; otherwise the initial value's aval. `call(carry, extras)` runs the
    body once on tracers (`extra_avals`: its other inputs, e.g. one slice of each x)."""
    avals = _avals(leaves)
    if not any(a.weak_type for a in avals):
        return avals
    from xla_like import ir
    from xla_like.builder import build
    n = len(avals)
    box = []

    def probe(*xs):
        out = call(tree_util.tree_unflatten(tree, list(xs[:n])), list(xs[n:]))
        o_leaves, o_tree = _leaves(out, f"{api} output of {fun_name(fn)}")
        box.append((o_tree, _avals(o_leaves)))
        return o_leaves
    build("probe", probe, avals + list(extra_avals), ir.Module("probe"))
    o_tree, o_avals = box[0]
    if o_tree != tree:
        return avals  # the real trace reports the mismatch
    out = []
    for a, o in zip(avals, o_avals):
        if a.weak_type and a.shape == o.shape:
            out.append(o if a.dtype != o.dtype else a.update(weak_type=o.weak_type))
        else:
            out.append(a)
    return out


def _static_int(x):
    if isinstance(x, Tracer):
        return None
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    a = np.asarray(x)
    if a.shape == () and a.dtype.kind in "iu":
        return int(a)
    return None


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """`val = body_fun(i, val)` for `i` in `[lower, upper)`.

    With Python-int bounds it is a `scan` (its trip count is static); with traced bounds a
    `while_loop`. Both are differentiable in forward and reverse mode."""
    _check_callable("fori_loop", body_fun=body_fun)
    lo, hi = _static_int(lower), _static_int(upper)
    for b, nm in ((lower, "lower"), (upper, "upper")):
        a = core.get_aval(b) if isinstance(b, Tracer) else core.get_aval(asarray(b))
        if a.shape != () or a.dtype.kind not in "iu":
            raise ControlFlowError(f"fori_loop: {nm} must be an integer scalar, got "
                                   f"{a.str_short()}")
    # The index's dtype: the bounds' promoted one (Python ints give a weak int64, as in JAX).
    dtype, weak = result_dtype(lower, upper)
    lower = convert(lower, dtype, weak)
    upper = convert(upper, dtype, weak)
    one = convert(1, dtype, weak)
    if lo is not None and hi is not None:
        def step(carry, _):
            i, x = carry
            return (_el.add(i, one), body_fun(i, x)), None
        (_, out), _ = scan(step, (lower, init_val), None, length=max(hi - lo, 0),
                           unroll=unroll or 1)
        return out

    def body(carry):
        i, x = carry
        return _el.add(i, one), body_fun(i, x)
    _, out = while_loop(lambda c: _el.lt(c[0], upper), body, (lower, init_val))
    return out


# --- scan / map -----------------------------------------------------------------------------------

def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`carry, y = f(carry, x)` over the leading axis of `xs`; returns the final carry and the
    `y`s stacked. `xs=None` with `length` runs `length` steps with `x=None`."""
    _check_callable("scan", f=f)
    c_leaves, c_tree = _leaves(init, "scan init")
    x_leaves, x_tree = _leaves(xs, "scan xs")
    lengths = {core.get_aval(x).shape[0] if core.get_aval(x).shape else None for x in x_leaves}
    if None in lengths:
        raise ControlFlowError("scan: every leaf of xs needs a leading axis to scan over; got "
                               + _describe(_avals(x_leaves)))
    if length is not None:
        length = int(length)
        lengths.add(length)
    if len(lengths) > 1:
        raise ControlFlowError(f"scan: xs leaves (and length={length}) disagree on the "
                               f"length: {_describe(_avals(x_leaves))}",
                               hint="every leaf of xs is scanned along its first axis")
    if not lengths:
        raise ControlFlowError("scan: with xs=None, pass length=")
    n_steps = lengths.pop()
    ybox = []
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in _avals(x_leaves)]
    c_avals = _loop_avals("scan", f, c_tree, c_leaves, lambda c, xv: _first(
        f(c, tree_util.tree_unflatten(x_tree, xv))), x_avals)
    c_leaves = _retype(c_leaves, c_avals)
    nc = len(c_leaves)

    def body(*vs):
        carry = tree_util.tree_unflatten(c_tree, list(vs[:nc]))
        x = tree_util.tree_unflatten(x_tree, list(vs[nc:]))
        out = f(carry, x)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ControlFlowError(f"scan: f {fun_name(f)} must return a pair (carry, y), got "
                                   f"{type(out).__name__}")
        new_c, y = out
        o_leaves, o_tree = _leaves(new_c, f"scan: carry returned by {fun_name(f)}")
        _check_same(f"scan: f {fun_name(f)} must return the carry's type", c_tree, c_avals,
                    o_tree, _avals(o_leaves), names=("carry", "returned carry"))
        y_leaves, y_tree = _leaves(y, f"scan: y returned by {fun_name(f)}")
        ybox.append(y_tree)
        return o_leaves + y_leaves
    res = scan_flat(body, c_leaves, x_leaves, n_steps, reverse)
    return (tree_util.tree_unflatten(c_tree, res[:nc]),
            tree_util.tree_unflatten(ybox[0], res[nc:]))


def _first(pair):
    return pair[0] if isinstance(pair, tuple) and len(pair) == 2 else pair


def _retype(leaves, avals):
    """The initial carry converted to the carry's avals (dtype and weak type)."""
    out = []
    for x, a in zip(leaves, avals):
        xa = core.get_aval(x)
        if xa.dtype != a.dtype or xa.weak_type != a.weak_type:
            x = _el.convert_element_type(x, new_dtype=a.dtype, weak_type=a.weak_type)
        out.append(x)
    return out


def map(f, xs, *, batch_size=None):
    """`jnp.stack([f(x) for x in xs])` as one loop (a `scan` without carry). With
    `batch_size`, each step applies `vmap(f)` to that many elements, the remainder in one
    more vmapped call (JAX's)."""
    _check_callable("map", f=f)
    if batch_size is None:
        _, ys = scan(lambda c, x: (c, f(x)), (), xs)
        return ys
    from . import numpy as jnp
    from . import tree_util
    from .batching import vmap
    leaves = tree_util.tree_leaves(xs)
    n = leaves[0].shape[0] if leaves else 0
    size = int(batch_size)
    full = n // size * size
    parts = []
    if full:
        blocks = tree_util.tree_map(
            lambda x: jnp.reshape(x[:full], (full // size, size) + tuple(x.shape[1:])), xs)
        _, ys = scan(lambda c, x: (c, vmap(f)(x)), (), blocks)
        parts.append(tree_util.tree_map(
            lambda y: jnp.reshape(y, (full,) + tuple(y.shape[2:])), ys))
    if full < n:
        parts.append(vmap(f)(tree_util.tree_map(lambda x: x[full:], xs)))
    if len(parts) == 1:
        return parts[0]
    return tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), *parts)
