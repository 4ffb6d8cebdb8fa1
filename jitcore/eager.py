"""Eager calls as compiled kernels: what runs when a primitive or a random sampler is called
outside `jit`.

Outside `jit` a primitive computes with its NumPy reference (`impl`), one NumPy call or a few.
That is the cheapest way to run it on small arrays (a few microseconds), but on large ones
NumPy is single-threaded and, for transcendental math, scalar. So, as JAX does, an eager
primitive on a large array runs a cached compiled kernel for its signature instead: a `jit`
of the one-primitive function, one per (primitive, params), whose own cache holds a kernel
per input shapes and dtypes. Small arrays keep the reference and its low dispatch cost.

Random samplers are composites of ~200 primitives (threefry's rounds); run eagerly on NumPy,
each of those is a pass over memory and a Python dispatch. `call(fun, size, ...)` runs such a
body through a `jit` keyed by its static arguments (shape, dtype), as JAX jits its samplers,
once the output is large enough that the reference would take milliseconds per call.

Both paths are skipped (the reference runs) under a trace, under `disable_jit`, with the
`interp` backend (it runs the references anyway), for dtypes
the native backends do not take (float16, complex), for params that cannot key a
cache (arrays, lists), and for primitives whose lowering is not a kernel (library calls,
host steps, control flow, scatters). A signature that fails to compile falls back to the
reference for good; `stats()` counts both outcomes.
"""
from __future__ import annotations

import threading

import ml_dtypes
import numpy as np

from ops import core

from . import config
from .array import Array

# Elements (of the largest operand or result) from which an eager primitive runs compiled:
# below it NumPy's per-call cost (microseconds) beats a kernel launch, and a new shape would
# pay a compile (tens of milliseconds) for little.
MIN_PRIMITIVE_SIZE = 1 << 16
# Elements of a sampler's output from which it runs compiled: threefry alone is ~180 NumPy
# calls (4 ms at 1,024 elements, 2 s at 4e6), against a compile per shape (0.1-0.8 s) that
# every later call with that shape reuses.
MIN_SAMPLER_SIZE = 1 << 10
# Distinct (primitive, params) kept compiled; past it new ones use the reference.
MAX_PRIMITIVES = 1024

# Dtypes every native backend computes in; others run the reference.
_NATIVE = frozenset(np.dtype(d) for d in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float32, np.float64, ml_dtypes.bfloat16))
# Kernel lowerings: elementwise math (the LLVM element rule) and the kernel emitter's ops.
_KERNEL_LOWERINGS = frozenset(("element", "kernel"))

_lock = threading.Lock()
_by_primitive: dict = {}    # (primitive, params key) -> JitFunction, or None: use the reference
_by_sampler: dict = {}      # (body, static_argnums) -> JitFunction
_counts = {"compiled_calls": 0, "fallbacks": 0}


def _jit(fun, **options):
    from .jit import jit   # at first use: importing this module must not load jit's stack
    return jit(fun, auto_dynamic=0, **options)


def _eager_here() -> bool:
    """No trace on this thread and jit not disabled: eager calls may compile."""
    return not core.is_tracing() and not (config._may_disable and config.jit_disabled()) \
        and config.settings.backend != "interp"   # it would run the same references, slower


def _large(avals, out_aval) -> bool:
    """Does an operand or the result hold MIN_PRIMITIVE_SIZE elements? The one test that
    calls on small arrays pay, so written as plain loops."""
    for a in avals:
        if a.size >= MIN_PRIMITIVE_SIZE:
            return True
    if isinstance(out_aval, (tuple, list)):
        for a in out_aval:
            if a.size >= MIN_PRIMITIVE_SIZE:
                return True
        return False
    return out_aval.size >= MIN_PRIMITIVE_SIZE


def _worth_compiling(prim, avals, out_aval) -> bool:
    outs = out_aval if prim.multiple_results else (out_aval,)
    every = (*avals, *outs)
    if (prim.lowering not in _KERNEL_LOWERINGS or prim.has_side_effects or prim.call_like
            # argmax and argmin: NumPy's are several times faster than a fused kernel's.
            or prim.arg_reduction
            # Pure data movement (reshape, slice, transpose, broadcast) is a view or one
            # copy in NumPy, already at memory speed; a kernel would only add a launch.
            or (prim.moves_data and not prim.elementwise)
            # Identities (stop_gradient, optimization_barrier): NumPy returns the operand.
            or prim.linear_order):
        return False
    return all(a.dtype in _NATIVE and all(type(d) is int for d in a.shape) for a in every)


def _contiguous(x) -> bool:
    """Is `x` laid out as a kernel reads it? An operand NumPy holds as a view (a broadcast
    of stride 0, a transpose, a slice) would be copied whole first; NumPy reads it as it is."""
    v = x._value if type(x) is Array else x
    return not isinstance(v, np.ndarray) or v.flags.c_contiguous


def _params_key(params):
    key = tuple(sorted(params.items()))
    hash(key)   # TypeError for arrays, lists, dicts: the caller uses the reference
    return key


def _primitive_function(prim, params):
    """The cached jit of `prim` with `params`, or None when it cannot be keyed or cached."""
    try:
        key = (prim, _params_key(params))
    except TypeError:
        return None
    fn = _by_primitive.get(key, False)
    if fn is not False:
        return fn
    with _lock:
        fn = _by_primitive.get(key, False)
        if fn is not False:
            return fn
        if len(_by_primitive) >= MAX_PRIMITIVES:
            return None

        def one_primitive(*args):
            return prim.bind(*args, **params)

        one_primitive.__name__ = one_primitive.__qualname__ = f"eager_{prim.name}"
        fn = _by_primitive[key] = _jit(one_primitive)
        return fn


def run_primitive(prim, args, avals, out_aval, params):
    """`prim` applied to concrete `args` as a compiled kernel, or None: use the reference.

    Installed as the eager trace's `compiled` hook; `avals` and `out_aval` are already
    checked by the primitive's shape rule."""
    if not _large(avals, out_aval) or not _worth_compiling(prim, avals, out_aval) or \
            not _eager_here() or \
            not all(map(_contiguous, args)):
        return None
    fn = _primitive_function(prim, params)
    if fn is None:
        return None
    try:
        out = fn(*args)
    except FloatingPointError:   # jax_debug_nans found a NaN: the caller's to see
        raise
    except Exception:   # noqa: BLE001  a backend gap: the reference is the definition
        with _lock:
            _counts["fallbacks"] += 1
            # Forget this (primitive, params): later calls go straight to the reference
            # rather than failing to compile again.
            _by_primitive[(prim, _params_key(params))] = None
        return None
    with _lock:
        _counts["compiled_calls"] += 1
    return tuple(out) if prim.multiple_results else out


def call(fun, size, *args, static_argnums=()):
    """`fun(*args)`, run through a `jit` of `fun` (with `static_argnums`) when called
    eagerly with an output of at least MIN_SAMPLER_SIZE elements, else as it is.

    For composite bodies (random samplers): their static arguments (shape, dtype) must be
    hashable, and the body must give the same values traced as eagerly (it is the same
    code: only rounding of transcendental functions may differ from NumPy's)."""
    if size < MIN_SAMPLER_SIZE or not _eager_here():
        return fun(*args)
    key = (fun, static_argnums)
    fn = _by_sampler.get(key)
    if fn is None:
        with _lock:
            fn = _by_sampler.get(key)
            if fn is None:
                fn = _by_sampler[key] = _jit(fun, static_argnums=static_argnums)
    return fn(*args)


def stats() -> dict:
    """{"compiled_calls": eager primitives run compiled, "fallbacks": signatures that failed
    to compile and use the reference, "primitives": (primitive, params) pairs cached,
    "samplers": sampler bodies jitted}."""
    with _lock:
        return dict(_counts, primitives=len(_by_primitive), samplers=len(_by_sampler))


def clear():
    """Forget every cached eager function (their kernels go with them)."""
    with _lock:
        _by_primitive.clear()
        _by_sampler.clear()
        _counts.update(compiled_calls=0, fallbacks=0)


core.eval_trace().compiled = run_primitive
