"""`custom_jvp` and `custom_vjp`: functions with user-defined derivative rules (JAX's API).

Called with no trace active, the function just runs. While tracing (under `jit`, `grad`,
`vmap`...), it becomes one call-like instruction holding the function as a sub-computation,
and its Python rules by a key (`ops.custom_derivatives.register_rules`): as in JAX, a rule is
run or traced only when the call is differentiated (`xla_like.custom_calls`), and
differentiating a custom_vjp function runs its forward rule, not the function. Outside `jit`
the function and rules see their arguments' values, so Python `if x > 0:` works in them.
"""
from __future__ import annotations

import contextlib
import functools
import weakref

import numpy as np

from ops import core
from ops.autodiff import add_any, zeros_like_aval
from ops.custom_derivatives import custom_jvp_call_p, custom_vjp_call_p, register_rules
from xla_like.builder import build
from xla_like.custom_calls import emit_call
from xla_like.evaluate import eval_computation

from . import tree_util
from .transform_tracing import concrete_of, fun_name


def _split_nondiff(args, nondiff_argnums):
    static = {i: args[i] for i in nondiff_argnums}
    dyn = [a for i, a in enumerate(args) if i not in static]
    return static, dyn


def _merge(static, dyn, n):
    it = iter(dyn)
    return [static[i] if i in static else next(it) for i in range(n)]


def _trace_sub(name, fn, avals, owner=None, concretes=None):
    """Trace `fn(*leaves) -> list` into a sub-computation of the module being built; with the
    leaves' values (`concretes`) when all are known, so Python control flow on them works.

    While `owner`'s rules are traced, calls of `owner` itself run its plain function: rules
    usually compute the primal with it (`return f(x), ...`), and emitting another custom call
    there would trace the same rule again, forever."""
    module = core.current_trace().module
    if concretes is not None and any(c is None for c in concretes):
        concretes = None
    with _rule_of(owner):
        _, comp, out_avals, captured = build(name, fn, avals, module, concrete_inputs=concretes)
    module.add_computation(comp)
    return comp, out_avals, [t for t, _ in captured]


@contextlib.contextmanager
def _rule_of(owner):
    """While a rule of `owner` runs: calls of `owner` run its plain function (see above)."""
    if owner is not None:
        owner._in_rule += 1
    try:
        yield
    finally:
        if owner is not None:
            owner._in_rule -= 1


# The traces that a derivative transform (grad, vjp, jvp...) builds to differentiate: a
# custom_vjp function called there runs its forward rule instead of itself, as in JAX.
_differentiated = weakref.WeakSet()


def differentiated(fun):
    """`fun`, marking the trace it is called in as one that will be differentiated."""
    @functools.wraps(fun)
    def marked(*args, **kwargs):
        _differentiated.add(core.current_trace())
        return fun(*args, **kwargs)
    return marked


def _flat_call(fun, static, in_tree, n_args, leaves):
    return fun(*_merge(static, tree_util.tree_unflatten(in_tree, leaves), n_args))


class custom_jvp:
    """A function with a custom forward-mode rule; reverse mode transposes that rule.

        @custom_jvp
        def f(x): ...
        @f.defjvp
        def f_jvp(primals, tangents): ... return out, tangent_out

    Under a trace the call becomes one instruction holding f's computation; the rule is run
    (forward mode) or traced and transposed (reverse mode) only when f is differentiated."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None
        self._in_rule = 0

    def defjvp(self, jvp, symbolic_zeros=False):
        """`jvp(primals, tangents) -> (primal_out, tangent_out)` (nondiff args come first).
        Returns `jvp`, so it works as a decorator."""
        if symbolic_zeros:
            raise NotImplementedError("custom_jvp.defjvp: symbolic_zeros=True is not supported")
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        """One rule per argument: `rule(t, ans, *primals) -> tangent contribution` (or None).
        Returns None, as JAX's."""
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

    def __call__(self, *args):
        if self.jvp is None:
            raise TypeError(f"custom_jvp {fun_name(self.fun)} has no rule: call defjvp first")
        if not core.is_tracing() or self._in_rule:
            return self.fun(*args)
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = tree_util.tree_flatten(tuple(dyn))
        avals = [core.get_aval(x) for x in leaves]
        n_args = len(args)
        box = {}

        def fun_flat(*ls):
            out_leaves, box["out_tree"] = tree_util.tree_flatten(
                _flat_call(self.fun, static, in_tree, n_args, ls))
            return out_leaves

        name = fun_name(self.fun)
        concretes = [concrete_of(x) for x in leaves]
        if core.current_trace() in _differentiated:
            return self._call_rule(static, leaves, in_tree, avals, concretes, name)
        fun_comp, out_avals, fun_consts = _trace_sub(name, fun_flat, avals, concretes=concretes)
        rules = _JVPRules(self, static, in_tree, box["out_tree"], out_avals, name)
        outs = emit_call(custom_jvp_call_p.name, leaves + fun_consts, (fun_comp,),
                         {"num_primals": len(leaves), "num_fun_consts": len(fun_consts),
                          "rule": register_rules(rules)}, out_avals)
        return tree_util.tree_unflatten(box["out_tree"], outs)

    def _call_rule(self, static, leaves, in_tree, avals, concretes, name):
        """In a trace that will be differentiated, only the rule runs (as in JAX): its
        computation is traced now, and the function's is the rule's primal part."""
        n = len(leaves)
        rules = _JVPRules(self, static, in_tree, None, None, name)
        # Symbolic sizes (a bucketed trace) have no NumPy zeros: trace the zeros instead.
        symbolic = any(type(d) is not int for a in avals for d in a.shape)
        tangent_zeros = None if symbolic else [np.zeros(a.shape, a.dtype) for a in avals]
        jvp_comp, jvp_avals, jvp_consts = _trace_sub(
            name + ".jvp", lambda *ls: _flat_pair(rules.jvp(list(ls[:n]), list(ls[n:]))),
            avals + avals, self, None if symbolic else concretes + tangent_zeros)
        m = len(jvp_avals) // 2
        module = core.current_trace().module

        def primal_part(*xs):
            zeros = tangent_zeros if tangent_zeros is not None else \
                [zeros_like_aval(a) for a in avals]
            return eval_computation(module, jvp_comp,
                                    list(xs[:n]) + zeros + list(xs[n:]))[:m]
        fun_comp, _, _ = _trace_sub(name, primal_part,
                                    avals + [core.get_aval(c) for c in jvp_consts])
        outs = emit_call(custom_jvp_call_p.name, leaves + jvp_consts + jvp_consts,
                         (fun_comp, jvp_comp),
                         {"num_primals": n, "num_fun_consts": len(jvp_consts),
                          "rule": register_rules(rules)}, jvp_avals[:m])
        return tree_util.tree_unflatten(rules.out_tree, outs)


class _JVPRules:
    """The rule of one custom_jvp call, on flat lists (see `ops.custom_derivatives`)."""

    def __init__(self, owner, static, in_tree, out_tree, out_avals, name):
        self.owner, self.static, self.in_tree = owner, static, in_tree
        self.out_tree, self.out_avals, self.name = out_tree, out_avals, name

    def jvp(self, primals, tangents):
        ps = tree_util.tree_unflatten(self.in_tree, primals)
        ts = tree_util.tree_unflatten(self.in_tree, tangents)
        nd = [self.static[i] for i in sorted(self.static)]
        with _rule_of(self.owner):
            out, tout = self.owner.jvp(*nd, tuple(ps), tuple(ts))
        o_leaves, out_tree = tree_util.tree_flatten(out)
        if self.out_tree is None:       # only the rule has run: it tells the output type
            self.out_tree = out_tree
            self.out_avals = [core.get_aval(o) for o in o_leaves]
        t_leaves = tree_util.tree_leaves(tout)
        if len(o_leaves) != len(self.out_avals) or len(t_leaves) != len(self.out_avals):
            raise TypeError(f"custom_jvp {self.name}: the rule must return (out, tangent_out) "
                            f"with the function's output structure {self.out_tree}")
        return ([_like(o, a) for o, a in zip(o_leaves, self.out_avals)],
                [_like(t, a) for t, a in zip(t_leaves, self.out_avals)])


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

    As in JAX, differentiating f runs f_fwd and f_bwd, never f itself; `jit(f)` or `vmap(f)`
    runs f only (the rules wait until the result is differentiated)."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._in_rule = 0
        # Set by `checkpoint`: rules traced at once into the IR, and forward mode
        # differentiating the function itself.
        self._trace_rules = False

    def defvjp(self, fwd, bwd, symbolic_zeros=False, optimize_remat=False):
        """`fwd(*args) -> (out, residuals)`, `bwd(*nondiff_args, residuals, out_cotangent)
        -> one cotangent per differentiable argument`. Returns None, as JAX's."""
        if symbolic_zeros:
            raise NotImplementedError("custom_vjp.defvjp: symbolic_zeros=True is not supported")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp {fun_name(self.fun)} has no rule: call defvjp first")
        if not core.is_tracing() or self._in_rule:
            return self.fun(*args)
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = tree_util.tree_flatten(tuple(dyn))
        avals = [core.get_aval(x) for x in leaves]
        concretes = [concrete_of(x) for x in leaves]
        name = fun_name(self.fun)
        rules = _VJPRules(self, static, in_tree, len(args), dyn, avals, name)
        attrs = {"num_primals": len(leaves), "rule": register_rules(rules)}
        if self._trace_rules:
            attrs["forward_mode"] = "function"
        if core.current_trace() in _differentiated or self._trace_rules:
            # Only the forward rule runs; the function's computation is its primal part.
            fwd_comp, fwd_avals, fwd_consts = _trace_sub(
                name + ".fwd", lambda *ls: _flat_pair(rules.fwd(list(ls))), avals, self,
                concretes)
            out_avals = fwd_avals[:rules.n_out]
            module = core.current_trace().module
            if self._trace_rules:
                fun_comp, _, fun_consts = _trace_sub(
                    name, lambda *ls: rules.call(ls), avals, concretes=concretes)
            else:
                fun_comp, _, fun_consts = _trace_sub(
                    name, lambda *xs: eval_computation(module, fwd_comp, list(xs))[:rules.n_out],
                    avals + [core.get_aval(c) for c in fwd_consts])
                fun_consts = list(fwd_consts)
            called, operands = (fun_comp, fwd_comp), leaves + fun_consts + fwd_consts
            if self._trace_rules:
                bwd_comp, _, bwd_consts = _trace_sub(
                    name + ".bwd", lambda *ls: rules.bwd(list(ls[:len(rules.res_avals)]),
                                                         list(ls[len(rules.res_avals):])),
                    rules.res_avals + out_avals, self)
                called, operands = called + (bwd_comp,), operands + bwd_consts
            attrs.update(num_fun_consts=len(fun_consts), num_fwd_consts=len(fwd_consts))
        else:
            fun_comp, out_avals, fun_consts = _trace_sub(name, lambda *ls: rules.call(ls),
                                                         avals, concretes=concretes)
            called, operands = (fun_comp,), leaves + fun_consts
            attrs.update(num_fun_consts=len(fun_consts), num_fwd_consts=0)
        rules.out_avals = out_avals
        outs = emit_call(custom_vjp_call_p.name, operands, called, attrs, out_avals)
        return tree_util.tree_unflatten(rules.out_tree, outs)


def _flat_pair(pair):
    outs, res = pair
    return list(outs) + list(res)


class _VJPRules:
    """The rules of one custom_vjp call, on flat lists (see `ops.custom_derivatives`)."""

    def __init__(self, owner, static, in_tree, n_args, dyn, avals, name):
        self.owner, self.static, self.in_tree, self.n_args = owner, static, in_tree, n_args
        self.arg_sizes = [len(tree_util.tree_leaves(d)) for d in dyn]
        self.avals, self.name = avals, name
        self.out_tree = self.out_avals = self.n_out = self.res_tree = self.res_avals = None

    def call(self, leaves):
        """The function itself."""
        out_leaves, self.out_tree = tree_util.tree_flatten(
            _flat_call(self.owner.fun, self.static, self.in_tree, self.n_args, leaves))
        return out_leaves

    def fwd(self, primals):
        with _rule_of(self.owner):
            out, res = _flat_call(self.owner.fwd, self.static, self.in_tree, self.n_args,
                                  primals)
        o_leaves, out_tree = tree_util.tree_flatten(out)
        if self.out_tree is None:
            self.out_tree = out_tree
        elif len(o_leaves) != self.out_tree.num_leaves:
            raise TypeError(f"custom_vjp {self.name}: fwd must return (out, residuals) with the "
                            f"function's output structure {self.out_tree}")
        if self.out_avals is not None:
            o_leaves = [_like(o, a) for o, a in zip(o_leaves, self.out_avals)]
        self.n_out = len(o_leaves)
        r_leaves, self.res_tree = tree_util.tree_flatten(res)
        self.res_avals = [core.get_aval(r) for r in r_leaves]
        return o_leaves, r_leaves

    def bwd(self, res, cts):
        res = tree_util.tree_unflatten(self.res_tree, res)
        ct = tree_util.tree_unflatten(self.out_tree, cts)
        nd = [self.static[i] for i in sorted(self.static)]
        with _rule_of(self.owner):
            in_cts = self.owner.bwd(*nd, res, ct)
        if not isinstance(in_cts, (tuple, list)) or len(in_cts) != len(self.arg_sizes):
            raise TypeError(f"custom_vjp {self.name}: bwd must return a tuple with one "
                            f"cotangent per differentiable argument ({len(self.arg_sizes)}), "
                            f"got {in_cts!r:.80}")
        flat, start = [], 0
        for c, size in zip(in_cts, self.arg_sizes):
            c_leaves = [None] * size if c is None else tree_util.tree_leaves(c)
            flat.extend(_like(c, a) for c, a in zip(c_leaves, self.avals[start:start + size]))
            start += size
        return flat


def stop_gradient(x):
    """`x` with zero derivative (applied to every leaf of a pytree)."""
    from ops.custom_derivatives import stop_gradient as _sg
    from .numpy._promotion import asarray
    return tree_util.tree_map(lambda v: _sg(asarray(v)), x)
