"""Tracing for transforms: a Python function of pytrees becomes a Module over flat leaves.

Every transform (grad, jvp, vmap, ...) traces the user's function once with this, runs its
interpreter over the Module (`xla_like.passes`), and binds the results on the current trace:
numbers eagerly, IR inside `jit` or another transform. Outside `jit` the trace carries
concrete values, so Python control flow on values works as in JAX's eager `grad`.
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.core import Tracer
from xla_like import pipeline
from xla_like.builder import build

from . import tree_util


class Traced:
    """A traced function: its Module, output structure and the outer values it closed over."""

    def __init__(self, module, out_tree, out_avals, captured):
        self.module = module
        self.out_tree = out_tree
        self.out_avals = out_avals
        self.captured = [t for t, _ in captured]

    def inputs(self, leaves):
        """The entry computation's arguments: the leaves, then the captured outer values."""
        return list(leaves) + self.captured


def concrete_of(x):
    """The NumPy value of a leaf if it is known now (a concrete array, or a tracer that
    carries its value), else None."""
    if isinstance(x, Tracer):
        return x.concrete
    return np.asarray(x)


def trace_flat(fun, leaves, in_tree, name: str, avals=None) -> Traced:
    """Trace `fun(*args, **kwargs)` where `(args, kwargs) = unflatten(in_tree, leaves)`.

    `avals` overrides the leaves' abstract values (vmap traces one example of a batch); then
    nothing is concrete.
    """
    out_tree_box = []

    def flat_fun(*tracers):
        args, kwargs = tree_util.tree_unflatten(in_tree, tracers)
        out = fun(*args, **kwargs)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return [_check_output(o, name) for o in out_leaves]

    if avals is None:
        avals = [core.get_aval(x) for x in leaves]
        concretes = [concrete_of(x) for x in leaves]
    else:
        concretes = None
    module, comp, out_avals, captured = build(_clean(name), flat_fun, avals,
                                              concrete_inputs=concretes)
    module.set_entry(comp)
    pipeline.check_traced(module)   # no pipeline runs on a transform's trace
    return Traced(module, out_tree_box[0], out_avals, captured)


def _check_output(x, name):
    try:
        core.get_aval(x)
    except TypeError:
        from ops.errors import InvalidArgumentError
        raise InvalidArgumentError(
            f"{name}: the function returned a {type(x).__name__}, which is not an array: "
            f"{x!r:.60}", hint="return arrays (or pytrees of arrays) from transformed functions") \
            from None
    return x


def _clean(name: str) -> str:
    return name.replace("<", "").replace(">", "") or "fn"


def fun_name(fun) -> str:
    return _clean(getattr(fun, "__name__", "fn"))
