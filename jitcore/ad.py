"""Automatic differentiation: grad, value_and_grad, vjp, jvp, linearize, jacfwd, jacrev, hessian.

Each traces the function into a Module and runs the forward-mode (`passes.jvp`) or
reverse-mode (`passes.vjp`) interpreter over it, binding on the current trace. So outside any
trace the result is numbers; inside `jit`, `vmap` or another derivative the derivative's IR is
inlined there, which is how transforms compose in any order and depth.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from ops import core, dtypes
from ops.autodiff import full_aval, zeros_like_aval
from ops.errors import DtypeError, JitcoreError, ShapeError
from xla_like.evaluate import eval_computation
from xla_like.passes.jvp import jvp_computation
from xla_like.passes.vjp import vjp_computation

from . import tree_util
from .array import Array
from .custom_derivatives import differentiated
from .transform_tracing import fun_name, trace_flat


class GradError(JitcoreError, TypeError):
    """A function or argument that cannot be differentiated as asked."""



def _zeros(aval):
    """A zero derivative of `aval`'s type: an Array when computed eagerly (never a bare
    NumPy array, which `zeros_like_aval` gives for scalars), IR under a trace."""
    z = zeros_like_aval(aval)
    if isinstance(z, np.ndarray):
        return Array._wrap(np.array(z), False)
    return z

def _argnums_tuple(argnums, nargs, what):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    out = []
    for a in nums:
        a = operator.index(a)
        if not -nargs <= a < nargs:
            raise GradError(f"{what}: argnums {argnums!r} is out of range for a call with "
                            f"{nargs} positional argument(s)")
        out.append(a % nargs)
    return single, tuple(out)


def _split_args(args, kwargs, argnums):
    """Flatten `(args, kwargs)`; mark which leaves belong to the differentiated arguments."""
    leaves, wrt, per_arg = [], [], []
    for i, a in enumerate(args):
        ls, tree = tree_util.tree_flatten(a)
        per_arg.append((len(leaves), len(ls), tree))
        leaves.extend(ls)
        wrt.extend([i in argnums] * len(ls))
    kl, ktree = tree_util.tree_flatten(kwargs)
    leaves.extend(kl)
    wrt.extend([False] * len(kl))
    return leaves, wrt, per_arg, ktree


def _caller(fun, per_arg, ktree):
    """`fun` as a function of the leaves that `_split_args` produced."""
    n_args = sum(n for _, n, _ in per_arg)

    def call(*leaves):
        args = [tree_util.tree_unflatten(tree, leaves[s:s + n]) for s, n, tree in per_arg]
        kwargs = tree_util.tree_unflatten(ktree, leaves[n_args:])
        return fun(*args, **kwargs)
    return call


def _trace(fun, args, kwargs, argnums, name, static_extras=False):
    leaves, wrt, per_arg, ktree = _split_args(args, kwargs, argnums)
    call = _caller(fun, per_arg, ktree)
    if static_extras:
        call, leaves, wrt = _close_over_non_arrays(call, leaves, wrt)
    traced = trace_flat(differentiated(call), leaves, _flat_tree(len(leaves)), name)
    return traced, leaves, wrt, per_arg


def _close_over_non_arrays(call, leaves, wrt):
    """`grad` passes the arguments it does not differentiate through untouched, as JAX's
    does: a function, string or other non-array there is closed over instead of traced.
    Returns the caller of the array leaves only, with those leaves and their flags."""
    def is_array(x):
        try:
            core.get_aval(x)
            return True
        except TypeError:
            return False
    keep = [i for i, (x, w) in enumerate(zip(leaves, wrt)) if w or is_array(x)]
    if len(keep) == len(leaves):
        return call, leaves, wrt
    full = list(leaves)

    def call_arrays(*arrays):
        vals = list(full)
        for i, v in zip(keep, arrays):
            vals[i] = v
        return call(*vals)
    return call_arrays, [full[i] for i in keep], [wrt[i] for i in keep]


@functools.lru_cache(maxsize=None)
def _flat_tree(n):
    """The structure of `(leaves_tuple, {})`: positional leaves, no keyword arguments."""
    return tree_util.tree_structure((tuple(range(n)), {}))


# JAX's dtype of the gradient of an integer input under `allow_int=True`: no values at all.
float0 = np.dtype([("float0", np.void, 0)])


def _check_diff_inputs(what, leaves, wrt, holomorphic=False, allow_int=False):
    """The inputs `grad` differentiates must be float or complex (complex only, for
    `holomorphic=True`); integer and bool inputs are allowed with `allow_int=True` and get
    float0 gradients. Returns `wrt` with those inputs taken out."""
    out = []
    for x, w in zip(leaves, wrt):
        a = core.get_aval(x)
        if w and dtypes.kind(a.dtype) not in "fc":
            if not allow_int:
                raise GradError(
                    f"{what} requires real-valued or complex-valued inputs (a dtype that is a "
                    f"sub-dtype of np.inexact), got an argument of type {a.str_short()}",
                    hint="convert it with .astype(float), leave it out of argnums, or pass "
                         "allow_int=True for a float0 gradient")
            w = False
        elif w and holomorphic and a.dtype.kind != "c":
            raise GradError(f"{what} with holomorphic=True requires inputs with complex dtype, "
                            f"got {a.str_short()}")
        out.append(w)
    return out


def _grad_cts(traced, has_aux, what, holomorphic=False):
    """Output cotangents for grad: 1 for the scalar output, zero for the aux outputs."""
    if has_aux:
        n_main = _n_main_leaves(traced, what)
    else:
        n_main = len(traced.out_avals)
    if n_main != 1:
        raise GradError(f"{what} requires a scalar output, but the function returned "
                        f"{n_main} arrays", hint="use jacrev or vjp for non-scalar outputs")
    a = traced.out_avals[0]
    if holomorphic:
        if a.shape != () or a.dtype.kind != "c":
            raise GradError(f"{what} with holomorphic=True requires a complex scalar output, "
                            f"got {a.str_short()}")
    elif a.shape != () or dtypes.kind(a.dtype) != "f":
        hint = ("for a holomorphic function pass holomorphic=True; otherwise take .real or "
                "abs()" if a.shape == () and a.dtype.kind == "c" else
                "reduce it first (e.g. .sum()), or use jacrev / vjp")
        raise GradError(f"{what} requires a real scalar output, got {a.str_short()}",
                        hint=hint)
    return [full_aval(a.update(weak_type=False), 1.0)] + [None] * (len(traced.out_avals) - 1)


def _n_main_leaves(traced, what):
    children = traced.out_tree.children() if traced.out_tree.num_nodes > 1 else []
    if len(children) != 2 or not _is_pair(traced.out_tree):
        raise GradError(f"{what} with has_aux=True requires the function to return a pair "
                        "(output, auxiliary data)")
    return children[0].num_leaves


def _is_pair(treedef):
    return repr(treedef).startswith("PyTreeDef((") and len(treedef.children()) == 2


def _unflatten_out(traced, outs, has_aux):
    tree = tree_util.tree_unflatten(traced.out_tree, outs)
    return (tree[0], tree[1]) if has_aux else (tree, None)


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """`f(*args) -> (value, gradient)`; the gradient follows the structure of the argument(s)
    at `argnums` (a tuple of gradients when `argnums` is a tuple).

    Complex inputs follow JAX's convention: for a real `f` of `z = x + iy` the gradient is
    the conjugate of df/dx + i df/dy; `holomorphic=True` (complex inputs and output) gives
    f'(z). `allow_int=True` lets integer inputs through, with float0 gradients."""
    what = f"grad({fun_name(fun)})"

    @functools.wraps(fun, updated=())
    def value_and_grad_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), what)
        traced, leaves, wrt, per_arg = _trace(fun, args, kwargs, nums, fun_name(fun),
                                              static_extras=True)
        diff = _check_diff_inputs(what, leaves, wrt, holomorphic, allow_int)
        cts = _grad_cts(traced, has_aux, what, holomorphic)
        inputs = traced.inputs(leaves)
        outs, in_cts = vjp_computation(traced.module, traced.module.entry, inputs,
                                       diff + [False] * len(traced.captured), cts)
        grads = [_like_input(c, x) if d else np.zeros(core.get_aval(x).shape, float0)
                 for c, x, w, d in zip(in_cts, leaves, wrt, diff) if w]
        per = _grads_per_arg(grads, per_arg, nums)
        value, aux = _unflatten_out(traced, outs, has_aux)
        g = per[0] if single else tuple(per)
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_f


def _like_input(ct, x):
    """The gradient of input `x` has `x`'s abstract value, weak type included, as JAX's:
    `grad(jnp.tanh)(2.0) * f32_array` stays float32."""
    a = core.get_aval(x)
    if ct is None:
        ct = _zeros(a)
    if a.weak_type and not core.get_aval(ct).weak_type and core.get_aval(ct).dtype == a.dtype:
        from ops.elementwise import convert_element_type
        ct = convert_element_type(ct, new_dtype=a.dtype, weak_type=True)
    return ct


def _grads_per_arg(grads, per_arg, nums):
    out, k = [], 0
    by_arg = {}
    for i, (s, n, tree) in enumerate(per_arg):
        if i in nums:
            by_arg[i] = tree_util.tree_unflatten(tree, grads[k:k + n])
            k += n
    return [by_arg[i] for i in nums]


def grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """The gradient of a real scalar function, as a function of the same arguments (see
    `value_and_grad` for complex inputs, `holomorphic` and `allow_int`)."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun, updated=())
    def grad_f(*args, **kwargs):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


def vjp(fun, *primals, has_aux=False):
    """`(fun(*primals), vjp_fn)`; `vjp_fn(cotangent)` returns a tuple with one cotangent per
    primal argument. (`vjp_fn` replays the forward computation it needs.)"""
    name = fun_name(fun)
    traced, leaves, wrt, per_arg = _trace(fun, primals, {}, tuple(range(len(primals))), name)
    wrt = [w and dtypes.kind(core.get_aval(x).dtype) in "fc" for x, w in zip(leaves, wrt)]
    inputs = traced.inputs(leaves)
    outs = eval_computation(traced.module, traced.module.entry, inputs)
    out, aux = _unflatten_out(traced, outs, has_aux)
    n_main = _n_main_leaves(traced, f"vjp({name})") if has_aux else len(outs)

    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_util.tree_flatten(ct)
        main_tree = tree_util.tree_structure(out)
        if ct_tree != main_tree:
            raise ShapeError(f"vjp({name}): the cotangent's structure {ct_tree} does not match "
                             f"the output's {main_tree}")
        for c, a in zip(ct_leaves, traced.out_avals):
            ca = core.get_aval(c)
            if ca.shape != a.shape:
                raise ShapeError(f"vjp({name}): cotangent {ca.str_short()} does not match the "
                                 f"output {a.str_short()}")
        cts = [_as_dtype(c, a) for c, a in zip(ct_leaves, traced.out_avals)]
        cts = cts + [None] * (len(outs) - n_main)
        _, in_cts = vjp_computation(traced.module, traced.module.entry, inputs,
                                    wrt + [False] * len(traced.captured), cts)
        flat = [c if c is not None else _zeros(core.get_aval(x))
                for c, x in zip(in_cts, leaves)]
        return tuple(tree_util.tree_unflatten(tree, flat[s:s + n]) for s, n, tree in per_arg)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _as_dtype(x, aval):
    from ops.elementwise import convert_element_type
    if core.get_aval(x).dtype == aval.dtype:
        return x
    return convert_element_type(x, new_dtype=aval.dtype)


def jvp(fun, primals, tangents, has_aux=False):
    """`(fun(*primals), tangent of the output along tangents)`."""
    name = fun_name(fun)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"jvp({name}): primals and tangents must be tuples or lists, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp({name}): {len(primals)} primals but {len(tangents)} tangents")
    traced, leaves, wrt, per_arg = _trace(fun, tuple(primals), {}, (), name)
    t_leaves, t_tree = tree_util.tree_flatten(tuple(tangents))
    p_tree = tree_util.tree_structure(tuple(primals))
    if t_tree != p_tree:
        raise ShapeError(f"jvp({name}): the tangents' structure {t_tree} does not match the "
                         f"primals' {p_tree}")
    for p, t in zip(leaves, t_leaves):
        pa, ta = core.get_aval(p), core.get_aval(t)
        if pa.shape != ta.shape or (dtypes.kind(pa.dtype) in "fc" and pa.dtype != ta.dtype):
            raise ShapeError(f"jvp({name}): primal {pa.str_short()} and tangent "
                             f"{ta.str_short()} must have equal shapes and dtypes")
    ts = [t if dtypes.kind(core.get_aval(p).dtype) in "fc" else None
          for p, t in zip(leaves, t_leaves)]
    outs, touts = jvp_computation(traced.module, traced.module.entry, traced.inputs(leaves),
                                  ts + [None] * len(traced.captured))
    touts = [t if t is not None else _zeros(core.get_aval(o))
             for o, t in zip(outs, touts)]
    out, aux = _unflatten_out(traced, outs, has_aux)
    tout, _ = _unflatten_out(traced, touts, has_aux)
    return (out, tout, aux) if has_aux else (out, tout)


def linearize(fun, *primals, has_aux=False):
    """`(fun(*primals), f_jvp)` where `f_jvp(*tangents)` is the JVP at `primals`; with
    `has_aux`, `fun` returns `(out, aux)` and this returns `(out, f_jvp, aux)`."""
    out = fun(*primals)

    def f_jvp(*tangents):
        return jvp(fun, primals, tangents, has_aux=has_aux)[1]

    return (out[0], f_jvp, out[1]) if has_aux else (out, f_jvp)


# --- Jacobians ---------------------------------------------------------------------------------

def _std_basis(aval):
    """The identity over `aval`'s elements, shaped (size,) + shape."""
    from jitcore import numpy as jnp
    n = aval.size
    return jnp.eye(n, dtype=aval.dtype).reshape((n,) + aval.shape)


def _diff_setup(fun, args, argnums, what):
    """Leaves of `args`, the positions of the differentiated ones, and `fun` as a function of
    just those leaves (the others held fixed)."""
    single, nums = _argnums_tuple(argnums, len(args), what)
    leaves, wrt, per_arg, _ = _split_args(args, {}, nums)
    _check_diff_inputs(what, leaves, wrt)
    diff_pos = [i for i, w in enumerate(wrt) if w]

    def f_diff(*dl):
        full = list(leaves)
        for p, v in zip(diff_pos, dl):
            full[p] = v
        return _call_flat(fun, per_arg, full)

    return single, nums, per_arg, [leaves[p] for p in diff_pos], f_diff


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):
    """The Jacobian by forward mode: one JVP per input element, batched with vmap. Each leaf
    has shape `out.shape + in.shape`."""
    from .batching import vmap
    what = f"jacfwd({fun_name(fun)})"

    def jacfun(*args):
        single, nums, per_arg, primals, f_diff = _diff_setup(fun, args, argnums, what)
        zeros = [zeros_like_aval(core.get_aval(p)) for p in primals]
        res = jvp(f_diff, primals, zeros, has_aux=has_aux)
        cols = []  # cols[k]: the output pytree of d out / d input k, batched over input k
        for k, p in enumerate(primals):
            a = core.get_aval(p)

            def push(row, k=k):
                ts = list(zeros)
                ts[k] = row
                return jvp(f_diff, primals, ts, has_aux=has_aux)[1]
            cols.append(_move_front_to_back(vmap(push)(_std_basis(a)), a))
        blocks = [[tree_util.tree_leaves(c)[o] for c in cols]
                  for o in range(len(tree_util.tree_leaves(res[0])))]
        jac = _assemble(res[0], blocks, per_arg, nums, single)
        return (jac, res[2]) if has_aux else jac

    return jacfun


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """The Jacobian by reverse mode: one VJP per output element, batched with vmap. Each leaf
    has shape `out.shape + in.shape`."""
    from .batching import vmap
    what = f"jacrev({fun_name(fun)})"

    def jacfun(*args):
        single, nums, per_arg, primals, f_diff = _diff_setup(fun, args, argnums, what)
        res = vjp(f_diff, *primals, has_aux=has_aux)
        out, vjp_fn = res[0], res[1]
        out_leaves, out_tree = tree_util.tree_flatten(out)
        blocks = []  # blocks[o][k]: d out_o / d input k, shape out_o.shape + in_k.shape
        for o, ol in enumerate(out_leaves):
            a = core.get_aval(ol)

            def pull(row, o=o):
                cts = [zeros_like_aval(core.get_aval(x)) for x in out_leaves]
                cts[o] = row
                return vjp_fn(tree_util.tree_unflatten(out_tree, cts))
            per_in = vmap(pull)(_std_basis(a))
            blocks.append([r.reshape(a.shape + r.shape[1:]) for r in per_in])
        jac = _assemble(out, blocks, per_arg, nums, single)
        return (jac, res[2]) if has_aux else jac

    return jacfun


jacobian = jacrev


def hessian(fun, argnums=0, has_aux=False):
    """`jacfwd(jacrev(fun))`: second derivatives, each of shape `out.shape + in.shape + in.shape`."""
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


def _call_flat(fun, per_arg, leaves):
    args = [tree_util.tree_unflatten(tree, leaves[s:s + n]) for s, n, tree in per_arg]
    return fun(*args)


def _move_front_to_back(tangents, in_aval):
    """vmapped JVP tangents (size,) + out.shape -> out.shape + in.shape, per output leaf."""
    from jitcore import numpy as jnp
    def fix(t):
        t = jnp.moveaxis(t, 0, -1)
        return t.reshape(t.shape[:-1] + in_aval.shape)
    return tree_util.tree_map(fix, tangents)


def _assemble(out, blocks, per_arg, nums, single):
    """Nest Jacobian blocks as JAX does: the output's structure outside, the input's inside
    (a tuple of inputs when argnums is a tuple)."""
    out_tree = tree_util.tree_structure(out)
    in_trees = [per_arg[i][2] for i in nums]
    nested = []
    for flat_in in blocks:
        per, k = [], 0
        for tree in in_trees:
            per.append(tree_util.tree_unflatten(tree, flat_in[k:k + tree.num_leaves]))
            k += tree.num_leaves
        nested.append(per[0] if single else tuple(per))
    return tree_util.tree_unflatten(out_tree, nested)
