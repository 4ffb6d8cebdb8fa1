"""`custom_jvp` and `custom_vjp`: functions with user-defined derivative rules (JAX's API).

Called with no trace active, the function just runs. While tracing (under `jit`, `grad`,
`vmap`...), it becomes one call-like instruction holding the function and its rules as
sub-computations, so the IR shows them and every transform finds the rules there
(`xla_like.custom_calls`).
"""
from __future__ import annotations

import functools

from ops import core
from ops.autodiff import add_any, zeros_like_aval
from ops.custom_derivatives import custom_jvp_call_p, custom_vjp_call_p
from xla_like.builder import build
from xla_like.custom_calls import emit_call

from . import tree_util
from .transform_tracing import fun_name


def _split_nondiff(args, nondiff_argnums):
    static = {i: args[i] for i in nondiff_argnums}
    dyn = [a for i, a in enumerate(args) if i not in static]
    return static, dyn


def _merge(static, dyn, n):
    it = iter(dyn)
    return [static[i] if i in static else next(it) for i in range(n)]


def _trace_sub(name, fn, avals, owner=None):
    """Trace `fn(*leaves) -> list` into a sub-computation of the module being built.

    While `owner`'s rules are traced, calls of `owner` itself run its plain function: rules
    usually compute the primal with it (`return f(x), ...`), and emitting another custom call
    there would trace the same rule again, forever."""
    module = core.current_trace().module
    if owner is not None:
        owner._in_rule += 1
    try:
        _, comp, out_avals, captured = build(name, fn, avals, module)
    finally:
        if owner is not None:
            owner._in_rule -= 1
    module.add_computation(comp)
    return comp, out_avals, [t for t, _ in captured]


class custom_jvp:
    """A function with a custom forward-mode rule; reverse mode transposes that rule.

        @custom_jvp
        def f(x): ...
        @f.defjvp
        def f_jvp(primals, tangents): ... return out, tangent_out
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None
        self._in_rule = 0

    def defjvp(self, jvp):
        """`jvp(primals, tangents) -> (primal_out, tangent_out)` (nondiff args come first)."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        """One rule per argument: `rule(t, ans, *primals) -> tangent contribution` (or None)."""
        def jvp(primals, tangents):
            ans = self.fun(*primals)
            out = None
            for rule, t in zip(jvps, tangents):
                if rule is not None:
                    out = tree_util.tree_map(add_any, out, rule(t, ans, *primals)) \
                        if out is not None else rule(t, ans, *primals)
            if out is None:
                out = tree_util.tree_map(lambda a: zeros_like_aval(core.get_aval(a)), ans)
            return ans, out
        self.jvp = jvp
        return jvp

    def __call__(self, *args):
        if self.jvp is None:
            raise TypeError(f"custom_jvp {fun_name(self.fun)} has no rule: call defjvp first")
        if not core.is_tracing() or self._in_rule:
            return self.fun(*args)
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = tree_util.tree_flatten(tuple(dyn))
        avals = [core.get_aval(x) for x in leaves]
        n_args = len(args)
        out_tree_box = []

        def fun_flat(*ls):
            d = tree_util.tree_unflatten(in_tree, ls)
            out = self.fun(*_merge(static, d, n_args))
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box.append(out_tree)
            return out_leaves

        name = fun_name(self.fun)
        fun_comp, out_avals, fun_consts = _trace_sub(name, fun_flat, avals)
        n = len(leaves)

        def jvp_flat(*ls):
            primals = tree_util.tree_unflatten(in_tree, ls[:n])
            tangents = tree_util.tree_unflatten(in_tree, ls[n:])
            nd = [static[i] for i in sorted(static)]
            out, tout = self.jvp(*nd, tuple(primals), tuple(tangents)) if nd else \
                self.jvp(tuple(primals), tuple(tangents))
            o_leaves = tree_util.tree_leaves(out)
            t_leaves = tree_util.tree_leaves(tout)
            if len(o_leaves) != len(out_avals) or len(t_leaves) != len(out_avals):
                raise TypeError(f"custom_jvp {name}: the rule must return (out, tangent_out) "
                                f"with the function's output structure {out_tree_box[0]}")
            return o_leaves + [_like(t, a) for t, a in zip(t_leaves, out_avals)]

        jvp_comp, _, jvp_consts = _trace_sub(name + ".jvp", jvp_flat, avals + avals, self)
        outs = emit_call(custom_jvp_call_p.name, leaves + fun_consts + jvp_consts,
                         (fun_comp, jvp_comp),
                         {"num_primals": n, "num_fun_consts": len(fun_consts)}, out_avals)
        return tree_util.tree_unflatten(out_tree_box[0], outs)


def _like(x, aval):
    """A rule's output as the declared output's dtype (zeros where the rule gave None)."""
    from ops.elementwise import convert_element_type
    if x is None:
        return zeros_like_aval(aval)
    a = core.get_aval(x)
    if a.shape != aval.shape:
        raise TypeError(f"a custom rule returned {a.str_short()} where "
                        f"{aval.str_short()} was expected")
    return x if a.dtype == aval.dtype else convert_element_type(x, new_dtype=aval.dtype)


class custom_vjp:
    """A function with a custom reverse-mode rule:

        @custom_vjp
        def f(x): ...
        def f_fwd(x): return f(x), residuals
        def f_bwd(residuals, g): return (cotangent_for_x,)
        f.defvjp(f_fwd, f_bwd)
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._in_rule = 0

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp {fun_name(self.fun)} has no rule: call defvjp first")
        if not core.is_tracing() or self._in_rule:
            return self.fun(*args)
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        nd = [static[i] for i in sorted(static)]
        leaves, in_tree = tree_util.tree_flatten(tuple(dyn))
        avals = [core.get_aval(x) for x in leaves]
        n_args = len(args)
        name = fun_name(self.fun)
        box = {}

        def fun_flat(*ls):
            out = self.fun(*_merge(static, tree_util.tree_unflatten(in_tree, ls), n_args))
            out_leaves, box["out_tree"] = tree_util.tree_flatten(out)
            return out_leaves

        fun_comp, out_avals, fun_consts = _trace_sub(name, fun_flat, avals)

        def fwd_flat(*ls):
            out, res = self.fwd(*_merge(static, tree_util.tree_unflatten(in_tree, ls), n_args))
            o_leaves = tree_util.tree_leaves(out)
            if len(o_leaves) != len(out_avals):
                raise TypeError(f"custom_vjp {name}: fwd must return (out, residuals) with the "
                                f"function's output structure {box['out_tree']}")
            r_leaves, box["res_tree"] = tree_util.tree_flatten(res)
            box["res_avals"] = [core.get_aval(r) for r in r_leaves]
            return [_like(o, a) for o, a in zip(o_leaves, out_avals)] + r_leaves

        fwd_comp, _, fwd_consts = _trace_sub(name + ".fwd", fwd_flat, avals, self)
        n_res = len(box["res_avals"])

        def bwd_flat(*ls):
            res = tree_util.tree_unflatten(box["res_tree"], ls[:n_res])
            ct = tree_util.tree_unflatten(box["out_tree"], ls[n_res:])
            cts = self.bwd(*nd, res, ct)
            if not isinstance(cts, (tuple, list)) or len(cts) != len(dyn):
                raise TypeError(f"custom_vjp {name}: bwd must return a tuple with one cotangent "
                                f"per differentiable argument ({len(dyn)}), got {cts!r:.80}")
            flat = []
            for c, d in zip(cts, dyn):
                d_leaves = tree_util.tree_leaves(d)
                c_leaves = [None] * len(d_leaves) if c is None else tree_util.tree_leaves(c)
                flat.extend(_like(c, core.get_aval(x)) for c, x in zip(c_leaves, d_leaves))
            return flat

        bwd_comp, _, bwd_consts = _trace_sub(name + ".bwd", bwd_flat,
                                             box["res_avals"] + out_avals, self)
        outs = emit_call(custom_vjp_call_p.name,
                         leaves + fun_consts + fwd_consts + bwd_consts,
                         (fun_comp, fwd_comp, bwd_comp),
                         {"num_primals": len(leaves), "num_fun_consts": len(fun_consts),
                          "num_fwd_consts": len(fwd_consts)}, out_avals)
        return tree_util.tree_unflatten(box["out_tree"], outs)


def stop_gradient(x):
    """`x` with zero derivative (applied to every leaf of a pytree)."""
    from ops.custom_derivatives import stop_gradient as _sg
    from .numpy._promotion import asarray
    return tree_util.tree_map(lambda v: _sg(asarray(v)), x)
