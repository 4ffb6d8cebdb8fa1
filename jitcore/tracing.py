"""Tracing: a Python function over abstract values becomes a Module.

`trace_to_module` pushes an IR builder onto the trace stack, calls the function on tracers (one
parameter per array leaf of the arguments), and sets the outputs as the entry computation's root.
Eager execution (no trace active) goes through `EagerTrace`, which returns `jitcore.Array`s.
"""
from __future__ import annotations

from ops import core, dtypes
from ops.core import ShapedArray, Tracer
from ops.errors import InvalidArgumentError
from xla_like import ir
from xla_like.builder import BuilderTrace
from xla_like.pipeline import run_traced

from . import tree_util
from .array import Array


class EagerTrace(core.EvalTrace):
    """The bottom of the trace stack: NumPy references, results wrapped as immutable Arrays."""

    def wrap(self, value, aval):
        return Array._wrap(value, aval.weak_type)


core.set_eval_trace(EagerTrace())


def leaf_names(args, kwargs, arg_names) -> list[str]:
    """Readable names of the array leaves (`params['w']`, `x`, `args[2][0]`) for the IR."""
    names = []

    def walk(x, path):
        t = type(x)
        if t is dict:
            for k in sorted(x):
                walk(x[k], f"{path}[{k!r}]")
        elif t in (list, tuple):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif x is None:
            return
        else:
            n = len(tree_util.tree_leaves(x))
            if n == 1:
                names.append(path)
            else:
                names.extend(f"{path}.{i}" for i in range(n))

    for i, a in enumerate(args):
        walk(a, arg_names[i] if i < len(arg_names) else f"args[{i}]")
    for k in sorted(kwargs):
        walk(kwargs[k], k)
    return names


def check_leaf(x, where: str):
    """A clear error for an argument leaf that is not an array."""
    if isinstance(x, (Tracer, Array)) or _is_arraylike(x):
        return
    raise InvalidArgumentError(
        f"{where}: {type(x).__name__} is not a valid array argument: {x!r:.60}",
        hint="pass arrays or Python numbers; mark other arguments static with static_argnums "
             "or static_argnames")


def _is_arraylike(x):
    try:
        core.get_aval(x)
        return True
    except TypeError:
        return False


def trace_to_module(fun, in_avals: list[ShapedArray], in_tree, name: str,
                    param_names: list[str] | None = None, *, sizes=None, inspect=None):
    """Trace `fun(*args, **kwargs)` (args/kwargs = `in_tree` unflattened over `in_avals`), then
    run the trace-time pipeline on it (`xla_like.pipeline`; "bucketed" when `sizes` is given).

    `sizes`: the SymbolTable of a bucketed trace (ops.dims): one leading int64 parameter per
    symbol holds its true size, and `in_avals` hold the symbols' Dims. `inspect(module)` looks
    at the module as traced, before any pass (bucketing compares two traces there); it returns
    False to stop there, with None for the module. Returns (module, out_tree, out_avals).
    """
    module = ir.Module(name)
    trace = BuilderTrace(module, name)
    names = param_names if param_names and len(param_names) == len(in_avals) else [""] * len(in_avals)
    with core.new_trace(trace):
        if sizes is not None:
            for sym in sizes.symbols:
                sym.tracer = trace.new_parameter(ShapedArray((), dtypes.int64, True),
                                                 f"size.{sym.name}")
        try:
            tracers = [trace.new_parameter(a, n) for a, n in zip(in_avals, names)]
            args, kwargs = tree_util.tree_unflatten(in_tree, tracers)
            out = fun(*args, **kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            for leaf in out_leaves:
                check_leaf(leaf, f"the output of {name}")
            out_avals = [core.get_aval(o) for o in out_leaves]
            comp = trace.finish(out_leaves)
        finally:
            if sizes is not None:
                for sym in sizes.symbols:
                    sym.tracer = None
    module.set_entry(comp)
    if sizes is not None:
        module.num_sizes = len(sizes.symbols)
    if inspect is not None and inspect(module) is False:
        return None, out_tree, out_avals
    module = run_traced(module, "trace" if sizes is None else "bucketed")
    return module, out_tree, out_avals
