"""`checkpoint` (alias `remat`): trade compute for memory in reverse mode (JAX's API).

`checkpoint(f)` computes what `f` computes. Under `grad`/`vjp` its forward pass keeps only
f's inputs and the intermediate values the `policy` names as saveable; the backward pass
replays f's computation from those inputs, taking the saved values instead of recomputing
them, and then pulls the cotangents back through it.

How: f is traced once into a computation of its own (inputs, and the values it closed over,
are its parameters, so closed-over weights get gradients too). The call becomes a
`custom_vjp` call whose forward rule returns the outputs plus the saved values, and whose
backward rule replays the computation with those values substituted. The backward rule is an
ordinary traced computation, so the recomputation is visible in the IR and second-order
derivatives differentiate it like any other code. Forward mode (jvp, jacfwd, hessian)
differentiates f itself: there is nothing to save or replay.

A policy is called as in JAX, `policy(prim, *avals, **params) -> bool`, once per
instruction of f; values marked with `checkpoint_name(x, name)` are offered to it as the
pseudo-primitive `name_p` with `name=` among the params.
"""
from __future__ import annotations

import functools
import threading

from ops.dtypes import kind as _kind
from ops import core
from ops.autodiff import zeros_like_aval
from ops.custom_derivatives import optimization_barrier
from ops.core import PRIMITIVES
from xla_like import ir
from xla_like.builder import IRTracer, build
from xla_like.evaluate import Walker, _Replay, output_instrs, walk
from xla_like.passes.vjp import vjp_computation

from . import tree_util
from .custom_derivatives import custom_vjp
from .transform_tracing import fun_name

__all__ = ["checkpoint", "remat", "checkpoint_name", "checkpoint_policies", "name_p"]


class _NamePrimitive:
    """What a policy is shown for a value named with `checkpoint_name` (JAX's `name_p`)."""
    name = "name"

    def __repr__(self):
        return "name"


name_p = _NamePrimitive()

# Per thread: the traces of the checkpointed functions being traced now, innermost last, each
# with the names given to its values ({instruction id: set of names}).
_naming = threading.local()


def _frames():
    if not hasattr(_naming, "frames"):
        _naming.frames = []
    return _naming.frames


def checkpoint_name(x, name):
    """`x`, marked with `name` for the policies `save_only_these_names` and
    `save_any_names_but_these` of an enclosing `checkpoint` (the identity otherwise)."""
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: the name must be a string, got {name!r}")

    def mark(v):
        if isinstance(v, IRTracer):
            for trace, names in reversed(_frames()):
                if v._trace is trace:
                    names.setdefault(v.instr.id, set()).add(name)
                    break
        return v
    return tree_util.tree_map(mark, x)


class checkpoint_policies:
    """Which intermediate values the forward pass of a `checkpoint` keeps (the rest is
    recomputed in the backward pass). Each is `policy(prim, *avals, **params) -> bool`."""

    @staticmethod
    def everything_saveable(*_, **__):
        return True

    @staticmethod
    def nothing_saveable(*_, **__):
        return False

    @staticmethod
    def dots_saveable(prim, *_, **__):
        return getattr(prim, "name", None) == "dot_general"

    checkpoint_dots = dots_saveable

    @staticmethod
    def dots_with_no_batch_dims_saveable(prim, *_, **params):
        if getattr(prim, "name", None) != "dot_general":
            return False
        (_, _), (lhs_batch, rhs_batch) = params["dimension_numbers"]
        return not lhs_batch and not rhs_batch

    checkpoint_dots_with_no_batch_dims = dots_with_no_batch_dims_saveable

    @staticmethod
    def save_only_these_names(*names):
        names = set(names)

        def policy(prim, *_, **params):
            return prim is name_p and params.get("name") in names
        return policy

    @staticmethod
    def save_any_names_but_these(*names):
        names = set(names)

        def policy(prim, *_, **params):
            return prim is name_p and params.get("name") not in names
        return policy

    @staticmethod
    def save_from_both_policies(policy_1, policy_2):
        def policy(*args, **params):
            return policy_1(*args, **params) or policy_2(*args, **params)
        return policy

    @staticmethod
    def _offload(name):
        def make(*_, **__):
            raise NotImplementedError(
                f"checkpoint_policies.{name}: jitcore has a single memory space per device, "
                "so values cannot be offloaded to host memory; use save_only_these_names or "
                "nothing_saveable instead")
        make.__name__ = name
        return staticmethod(make)


for _n in ("offload_dot_with_no_batch_dims", "save_and_offload_only_these_names",
           "save_anything_except_these_names"):
    setattr(checkpoint_policies, _n, checkpoint_policies._offload(_n))
# JAX spells the "everything but these names" policy both ways.
checkpoint_policies.save_anything_except_these_names = staticmethod(
    checkpoint_policies.save_any_names_but_these)


def _saved_ids(comp, policy, names):
    """Ids of the instructions of `comp` whose values the forward pass keeps."""
    saved = []
    for instr in comp.instructions:
        if instr.opcode in (ir.PARAMETER, ir.CONSTANT, ir.TUPLE, ir.GET_TUPLE_ELEMENT) \
                or isinstance(instr.shape, tuple):
            continue
        aval = core.ShapedArray(instr.shape.dims, instr.shape.dtype)
        keep = any(policy(name_p, aval, name=n) for n in sorted(names.get(instr.id, ())))
        if not keep and not instr.called:
            in_avals = [core.ShapedArray(o.shape.dims, o.shape.dtype) for o in instr.operands
                        if isinstance(o.shape, ir.Shape)]
            keep = policy(PRIMITIVES[instr.opcode], *in_avals, **instr.attrs)
        if keep:
            saved.append(instr.id)
    return saved


class _Substituted(_Replay):
    """Replays a computation, taking the given values for the saved instructions."""

    def __init__(self, module, values):
        super().__init__(module)
        self.values = values

    def apply(self, instr, values):
        if instr.id in self.values:
            return self.values[instr.id]
        return super().apply(instr, values)


class _Checkpointed:
    def __init__(self, fun, prevent_cse, policy, static_argnums):
        functools.update_wrapper(self, fun, updated=())
        self.fun = fun
        self.prevent_cse = prevent_cse
        self.policy = policy if policy is not None else checkpoint_policies.nothing_saveable
        self.static_argnums = tuple(static_argnums)

    def __call__(self, *args, **kwargs):
        if not core.is_tracing():
            return self.fun(*args, **kwargs)   # nothing differentiates it: just run it
        if kwargs:
            # Keyword arguments are traced like positional ones, after them.
            fun, n_pos, names = self.fun, len(args), tuple(kwargs)
            bad = [i for i in self.static_argnums if not -n_pos <= i < n_pos]
            if bad:
                raise TypeError(f"checkpoint of {fun_name(fun)}: static_argnums {bad} name no "
                                f"positional argument of a call with {n_pos}")

            def by_position(*a):
                return fun(*a[:n_pos], **dict(zip(names, a[n_pos:])))
            by_position.__name__ = fun_name(fun)
            inner = _Checkpointed(by_position, self.prevent_cse, self.policy,
                                  [i % n_pos for i in self.static_argnums])
            return inner(*args, *kwargs.values())
        n_args = len(args)
        static = {i % n_args: args[i % n_args] for i in self.static_argnums}
        dyn = [a for i, a in enumerate(args) if i not in static]
        leaves, in_tree = tree_util.tree_flatten(tuple(dyn))
        avals = [core.get_aval(x) for x in leaves]
        box = {}
        name = fun_name(self.fun)

        def flat(*ls):
            it = iter(tree_util.tree_unflatten(in_tree, ls))
            out = self.fun(*[static[i] if i in static else next(it) for i in range(n_args)])
            out_leaves, box["out_tree"] = tree_util.tree_flatten(out)
            return out_leaves

        module = ir.Module("checkpoint." + name)
        trace_box = {}

        def traced(*ls):
            trace_box["trace"] = core.current_trace()
            _frames().append((trace_box["trace"], names))
            try:
                return flat(*ls)
            finally:
                _frames().pop()

        names = {}
        _, comp, out_avals, captured = build("checkpoint." + name, traced, avals, module)
        module.set_entry(comp)
        # Closed-over values become explicit inputs, so they are differentiated too.
        primals = list(leaves) + [t for t, _ in captured]
        saved = _saved_ids(comp, self.policy, names)
        n_in, n_out = len(primals), len(out_avals)

        def run(*ps):
            env = walk(comp, list(ps), _Replay(module))
            return [env[o.id] for o in output_instrs(comp)]

        def fwd(*ps):
            env = walk(comp, list(ps), _Replay(module))
            return [env[o.id] for o in output_instrs(comp)], \
                list(ps) + [env[i] for i in saved]

        barrier = optimization_barrier if self.prevent_cse else (lambda x: x)

        def bwd(res, cts):
            # Through the barrier, the replay below is a recomputation the compiler cannot
            # merge back into the forward pass (which would keep its values alive).
            res = [barrier(r) for r in res]
            ps, kept = list(res[:n_in]), res[n_in:]
            env = walk(comp, ps, _Substituted(module, dict(zip(saved, kept))))
            wrt = [_kind(core.get_aval(p).dtype) in "fc" for p in ps]
            cts = [c if c is not None else zeros_like_aval(a) for c, a in zip(cts, out_avals)]
            _, in_cts = vjp_computation(module, comp, ps, wrt, cts, env=env)
            return tuple(in_cts)

        run.__name__ = f"checkpoint[{name}]"
        call = custom_vjp(run)
        call._trace_rules = True      # rules in the IR; forward mode differentiates `run`
        call.defvjp(fwd, lambda res, cts: bwd(res, list(cts)))
        outs = call(*primals)
        assert len(outs) == n_out
        return tree_util.tree_unflatten(box["out_tree"], outs)


def checkpoint(fun=None, *, prevent_cse=True, policy=None, static_argnums=()):
    """`fun`, computing the same values; reverse mode recomputes in the backward pass what
    `policy` does not save (default `nothing_saveable`: only the inputs are kept).

    `static_argnums`: positions of arguments passed as Python values, not traced.
    `prevent_cse` is accepted for JAX compatibility."""
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy,
                                 static_argnums=static_argnums)
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    return _Checkpointed(fun, prevent_cse, policy, static_argnums)


remat = checkpoint
