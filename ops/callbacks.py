"""Calls back into Python from a program: `pure_callback` and `host_callback`.

The IR must print and parse, so an instruction cannot hold a Python function. It holds an
integer `callback` naming an entry of a process-wide registry (`register_callback`), and the
shapes and dtypes of the results (`result_shapes`: ((dims...), dtype) per result). Both run on
the host (`lowering="host"`): the planner makes them host steps between native segments, and
their `impl` calls the function with NumPy arrays.

- `pure_callback`: a pure function of its operands; passes may drop it when its results are
  unused, or merge two identical ones. Not differentiable (wrap it in `custom_jvp`).
- `host_callback`: has side effects (printing, I/O), so `has_side_effects` is set: dead code
  elimination keeps it even when it has no results, common subexpression elimination never
  merges two, and loop-invariant code motion never hoists it. Its JVP passes values through
  when it has no results (debug printing inside `grad`), else raises.

Under `vmap` both follow `vmap_method`: "sequential" (the function once per batch element, the
results stacked), "expand_dims" (once, with unbatched operands given a leading axis of size 1),
"broadcast_all" (once, every operand broadcast to the batch size). The registered function
takes and returns flat lists of NumPy arrays; pytrees are the API's business.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from . import dtypes
from .autodiff import move_batch_to_front
from .core import Primitive, ShapedArray, bind, get_aval
from .errors import InvalidArgumentError, JitcoreError

VMAP_METHODS = (None, "sequential", "expand_dims", "broadcast_all")


class CallbackError(JitcoreError, ValueError):
    """A callback returned values that do not match its declared result shapes and dtypes,
    or names no registered function."""


# --- the registry: callback ids in the IR, functions here -------------------------------

_REGISTRY: dict[int, object] = {}
_LOCK = threading.Lock()
_IDS = itertools.count(1)


def register_callback(fn) -> int:
    """A fresh id for `fn`, valid for the rest of the process (programs may be cached)."""
    if not callable(fn):
        raise InvalidArgumentError(f"callback: expected a callable, got {type(fn).__name__}")
    with _LOCK:
        cid = next(_IDS)
        _REGISTRY[cid] = fn
    return cid


def lookup_callback(cid: int, op: str = "callback"):
    with _LOCK:
        fn = _REGISTRY.get(int(cid))
    if fn is None:
        raise CallbackError(f"{op}: no callback is registered under id {cid} (a program "
                            "text parsed in another process cannot call its callbacks)")
    return fn


def result_shapes_of(avals) -> tuple:
    """The `result_shapes` parameter for the abstract values `avals`."""
    return tuple((tuple(int(d) for d in a.shape), np.dtype(a.dtype)) for a in avals)


# --- shape rule and reference -----------------------------------------------------------

def _abstract_eval(name):
    def rule(*avals, callback, result_shapes, vmap_method=None, ordered=False):
        if vmap_method not in VMAP_METHODS:
            raise InvalidArgumentError(
                f"{name}: vmap_method must be one of {VMAP_METHODS[1:]} or None, "
                f"got {vmap_method!r}")
        if not isinstance(callback, (int, np.integer)) or int(callback) not in _REGISTRY:
            raise CallbackError(f"{name}: callback id {callback!r} names no registered "
                                f"function (operands: "
                                f"{', '.join(a.str_short() for a in avals) or 'none'})")
        out = []
        for dims, dt in result_shapes:
            out.append(ShapedArray(dims, dtypes.canonicalize(np.dtype(dt), name)))
        return tuple(out)
    return rule


def _impl(name):
    def impl(*args, callback, result_shapes, vmap_method=None, ordered=False):
        fn = lookup_callback(callback, name)
        res = fn(*[np.asarray(a) for a in args])
        res = [] if res is None else list(res)
        if len(res) != len(result_shapes):
            raise CallbackError(f"{name}: the callback returned {len(res)} values, but "
                                f"{len(result_shapes)} were declared")
        out = []
        for k, (r, (dims, dt)) in enumerate(zip(res, result_shapes)):
            r = np.asarray(r)
            want = ShapedArray(dims, dt).str_short()
            if r.shape != tuple(dims) or r.dtype != np.dtype(dt):
                raise CallbackError(
                    f"{name}: result {k} of the callback is "
                    f"{dtypes.IR_NAME.get(r.dtype, str(r.dtype))}[{','.join(map(str, r.shape))}]"
                    f", but the declared result is {want}: return exactly the declared shape "
                    "and dtype")
            out.append(r)
        return tuple(out)
    return impl


# --- batching -----------------------------------------------------------------------------

def _batch(prim):
    def batch(args, batched, size, **params):
        fn = lookup_callback(params["callback"], prim.name)
        result_shapes = params["result_shapes"]
        method = params.get("vmap_method")
        if method is None:
            if not prim.has_side_effects:
                raise InvalidArgumentError(
                    f"{prim.name}: vmap of a callback needs vmap_method= 'sequential', "
                    "'expand_dims' or 'broadcast_all'")
            method = "sequential"
        out_shapes = tuple(((size,) + tuple(d), dt) for d, dt in result_shapes)
        if method == "sequential":
            def run(*xs):
                results = []
                for i in range(size):
                    results.append(fn(*[x[i] if b else x for x, b in zip(xs, batched)]))
                return [np.stack([np.asarray(r[k]) for r in results])
                        if results else np.zeros((0,) + tuple(d), dt)
                        for k, (d, dt) in enumerate(result_shapes)]
            operands = list(args)
        else:
            def run(*xs):
                return fn(*xs)
            operands = []
            for a, b in zip(args, batched):
                if b or method == "broadcast_all":
                    operands.append(move_batch_to_front(a, b, size))
                else:
                    from .shape import broadcast_in_dim
                    shape = get_aval(a).shape
                    operands.append(broadcast_in_dim(
                        a, shape=(1,) + shape, broadcast_dimensions=tuple(range(1, len(shape) + 1))))
        outs = bind(prim, *operands, **dict(params, callback=register_callback(run),
                                            result_shapes=out_shapes))
        return outs, tuple(True for _ in outs)
    return batch


# --- derivatives --------------------------------------------------------------------------

def _pure_jvp(primals, tangents, **params):
    if all(t is None for t in tangents):
        outs = bind(pure_callback_p, *primals, **params)
        return outs, tuple(None for _ in outs)
    raise InvalidArgumentError(
        "pure_callback: pure callbacks do not support JVP; wrap the function that calls "
        "pure_callback in jitcore.custom_jvp to give it a derivative")


def _pure_vjp(cts, ans, primals, **params):
    raise InvalidArgumentError(
        "pure_callback: pure callbacks do not support VJP (reverse-mode differentiation); "
        "wrap the function that calls pure_callback in jitcore.custom_vjp or custom_jvp")


def _host_jvp(primals, tangents, **params):
    outs = bind(host_callback_p, *primals, **params)
    if outs and any(t is not None for t in tangents):
        raise InvalidArgumentError("io_callback: IO callbacks do not support JVP")
    return outs, tuple(None for _ in outs)


def _host_vjp(cts, ans, primals, **params):
    if any(c is not None for c in cts):
        raise InvalidArgumentError("io_callback: IO callbacks do not support VJP")
    return (None,) * len(primals)


def _define(name, side_effects, jvp, vjp):
    prim = Primitive(name, "callbacks", multiple_results=True)
    prim.has_side_effects = side_effects
    prim.abstract_eval = _abstract_eval(name)
    prim.impl = _impl(name)
    prim.jvp = jvp
    prim.vjp = vjp
    prim.batch = _batch(prim)
    prim.lowering = "host"
    return prim


pure_callback_p = _define("pure_callback", False, _pure_jvp, _pure_vjp)
host_callback_p = _define("host_callback", True, _host_jvp, _host_vjp)


def pure_callback(*args, callback, result_shapes, vmap_method=None):
    return bind(pure_callback_p, *args, callback=callback, result_shapes=result_shapes,
                vmap_method=vmap_method)


def host_callback(*args, callback, result_shapes, ordered=False):
    return bind(host_callback_p, *args, callback=callback, result_shapes=result_shapes,
                ordered=ordered)
