"""`jit`: trace once per input signature, compile, cache, call.

A cached call flattens the arguments, builds the cache key (jitcore.cache_key), looks it up,
runs the executable and wraps the outputs; nothing else happens on that path. A miss traces and
compiles once however many threads miss together. Beside this module: `jit_options` (checking
jit's options against the function), `bucketing` (which sizes share a specialization),
`donation` (which donated arrays a call may write into), `jit_observe` (dumps, debug lines,
explained misses) and `stages` (`lower` and `compile` ahead of time).
"""
from __future__ import annotations

import functools
import inspect
import sys
import threading
import time
import weakref
from typing import NamedTuple

import numpy as np

from ops import core
from ops.errors import InvalidOptionError, NonHashableStaticArgError
from xla_like import backends, profile_hooks
from xla_like.backends import runtime as backend_runtime

from . import tree_util
from .array import Array
from .cache_key import LEAF_SIG, NO_DONATION, aval_from_sig, as_key, sig_fallback
from .devices import host_inputs
from .tracing import leaf_names, trace_to_module

from . import autotune as _autotune, bucketing, config, donation, jit_observe
from .jit_observe import PassLog
from .jit_options import Params, normalize_argnames, normalize_argnums
from .stages import Lowered
from .inspection import abstract_arguments


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    compiles: int
    trace_seconds: float
    compile_seconds: float
    # Dynamic sizes: {"x.shape[0]": (capacities of the buckets compiled, ascending)}.
    buckets: dict = {}
    # Buckets whose program depended on the true size: their calls compile exact shapes.
    exact_fallbacks: int = 0

    @property
    def seconds(self):
        return self.trace_seconds + self.compile_seconds


class _Entry:
    """One compiled specialization."""

    __slots__ = ("executable", "out_tree", "out_weak", "module", "out_cut", "buckets")

    def __init__(self, executable, out_tree, out_weak, module):
        self.executable = executable
        self.out_tree = out_tree
        self.out_weak = out_weak
        self.module = module
        self.out_cut = None    # bucketed: per output, the true sizes to cut it back to
        self.buckets = ()      # bucketed: ((symbol name, lo, hi), ...)



def _leaf_sigs(leaves, name):
    """(signature tuple, values) of a call's flattened arguments: the hot path's loop, with
    NumPy arrays and host Arrays (a training step's parameters), the common cases, inline."""
    sigs, vals = [], []
    for x in leaves:
        t = type(x)
        if t is np.ndarray:
            sigs.append((x.shape, x.dtype, False))
            vals.append(x)
            continue
        if t is Array:
            v = x._value
            if v is not None:      # (None: on a GPU, or deleted; `_sig_array` says which)
                sigs.append((v.shape, v.dtype, x.weak_type))
                vals.append(v)
                continue
        sg, v = (LEAF_SIG.get(type(x)) or sig_fallback(x, name))(x)
        sigs.append(sg)
        vals.append(v)
    return tuple(sigs), vals

class JitFunction:
    """A jitted function: call it like the original; `.lower(*args)`, `.cache_info()`."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=(),
                 backend=None, dynamic_axes=None, buckets=None, auto_dynamic=None,
                 autotune=None):
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
        self.fun = fun
        self._name = getattr(fun, "__name__", "fn").replace("<", "").replace(">", "") or "fn"
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        # Options that cannot fit `fun` fail here, at the line that called jit, not as a
        # silently ignored option at some later call.
        params = Params(fun)
        static_argnums = params.positions(
            normalize_argnums(static_argnums, "static_argnums", self._name), "static_argnums",
            self._name)
        static_argnames = normalize_argnames(static_argnames, self._name)
        params.check_names(static_argnames, "static_argnames", self._name)
        positional = params.positional
        self._arg_names = positional
        n = len(positional)
        # As in JAX: naming a parameter static by number makes it static by name, and back.
        names = set(static_argnames) | {positional[i] for i in static_argnums if i < n}
        nums = set(static_argnums) | {positional.index(nm) for nm in static_argnames
                                      if nm in positional}
        self.static_argnums = tuple(sorted(nums))
        self.static_argnames = tuple(sorted(names))
        self.donate_argnums = params.positions(
            normalize_argnums(donate_argnums, "donate_argnums", self._name), "donate_argnums",
            self._name)
        both = sorted(set(self.donate_argnums) & nums)
        if both:
            which = ", ".join(f"{i} ({positional[i]})" if i < n else str(i) for i in both)
            raise InvalidOptionError(
                f"jit({self._name}): argument {which} is both static and donated "
                f"(static_argnums/static_argnames and donate_argnums)",
                hint="a static argument is a Python value, not an array whose memory jit "
                     "could reuse: drop it from donate_argnums")
        # None: the `backend` setting (JITCORE_BACKEND) at the time of each compile.
        self.backend = backend
        if backend is not None:
            backends.get_backend(backend)  # an unknown name fails here, not at the first call
        self._simple = not self.static_argnums and not self.static_argnames
        self._fast = self._simple and not self.donate_argnums
        # Dynamic axes: declared, and made dynamic after `auto_dynamic` distinct sizes.
        self.dynamic_axes = bucketing.normalize_dynamic_axes(
            dynamic_axes, params, self._name, self.static_argnums, self.static_argnames)
        self.buckets = bucketing.check_buckets(buckets, self._name)
        self.auto_dynamic = auto_dynamic
        # None: the `autotune` setting when a program compiles (`jitcore.autotune`).
        self.autotune = None if autotune is None else bool(autotune)
        self._axes = bucketing.Policy(self.dynamic_axes, self.buckets, auto_dynamic,
                                      positional, self.static_argnums, self.static_argnames,
                                      self._name)
        self._bucketing = bool(self.dynamic_axes)
        if self._bucketing:
            self._fast = False
        # {CacheKey: _Entry, or a bucket's bucketing.Fallback}. `_lock` guards the counters
        # and `_building` ({key: Event set when its build ends}), so concurrent misses of one
        # key trace and compile once. Wrappers of one function with the same options share
        # these, as JAX's do: `jit(f)(x)` twice traces once.
        shared = _shared_state(fun, (self.static_argnums, self.static_argnames,
                                     self.donate_argnums, backend, repr(self.dynamic_axes),
                                     repr(self.buckets), auto_dynamic, self.autotune), self._axes)
        self._cache, self._building, self._lock, self._axes = shared
        self._hits = self._misses = self._compiles = 0
        self._trace_s = self._compile_s = self._last_trace_s = 0.0
        _LIVE.add(self)

    # -- the call path -------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if core.is_tracing() or (config._may_disable and config.jit_disabled()):
            # Inside another trace the body inlines: its primitives bind on the outer trace.
            # Under `disable_jit` it runs eagerly, op by op.
            return self.fun(*args, **kwargs)
        if self._fast and not kwargs:
            # The hot path, written out: flatten, key, look up, one executable call, wrap.
            leaves, treedef = tree_util.tree_flatten(args)
            sigs, vals = _leaf_sigs(leaves, self._name)
            key = (treedef, None, sigs, self.backend or config.settings.backend,
                   NO_DONATION, False)
        else:
            if self._bucketing and self._simple and not kwargs and not self.donate_argnums:
                out = self._call_planned(args)
                if out is not _EXACT:
                    return out
            key, vals = self._key_and_values(args, kwargs)
            if self._bucketing:
                out = self._call_bucketed(as_key(key), vals, args, kwargs)
                if out is not _EXACT:
                    return out
        entry = self._cache.get(key)
        if entry is None:
            entry = self._miss(as_key(key), args, kwargs)
        else:
            with self._lock:
                self._hits += 1
        outs = entry.executable(vals)
        if self.donate_argnums:
            donation.delete_donated(args, self.donate_argnums)
        wrap = Array._wrap
        return tree_util.tree_unflatten(entry.out_tree,
                                        [wrap(o, w) for o, w in zip(outs, entry.out_weak)])

    def _key_and_values(self, args, kwargs):
        """The call's cache key, as a plain tuple of CacheKey's fields (see
        cache_key.as_key), and the flat input arrays for the executable."""
        if self._simple and not kwargs:
            statics = None
            dyn = args
        else:
            statics, dyn, kwargs = self._split_static(args, kwargs)
            dyn = (dyn, kwargs) if kwargs else dyn
        leaves, treedef = tree_util.tree_flatten(dyn)
        sigs = []
        vals = []
        for x in leaves:
            f = LEAF_SIG.get(type(x))
            if f is None:
                f = sig_fallback(x, self._name)
            s, v = f(x)
            sigs.append(s)
            vals.append(v)
        donated = NO_DONATION
        if self.donate_argnums:
            x = v = None   # `donatable` counts the references to each value
            donated = donation.donatable(args, leaves, vals, self.static_argnums,
                                         self.donate_argnums)
        return (treedef, statics, tuple(sigs), self.backend or config.settings.backend,
                donated, False), vals

    def _run(self, entry, vals, args):
        outs = entry.executable(vals)
        if self.donate_argnums:
            donation.delete_donated(args, self.donate_argnums)
        return tree_util.tree_unflatten(
            entry.out_tree, [Array._wrap(o, w) for o, w in zip(outs, entry.out_weak)])

    def _split_static(self, args, kwargs):
        statics = []
        dyn = []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                statics.append((i, self._hashable(a, f"static argument {i}")))
            else:
                dyn.append(a)
        dyn_kwargs = {}
        for k in sorted(kwargs):
            if k in self.static_argnames:
                statics.append((k, self._hashable(kwargs[k], f"static argument {k!r}")))
            else:
                dyn_kwargs[k] = kwargs[k]
        return tuple(statics), tuple(dyn), dyn_kwargs

    def _hashable(self, value, what):
        try:
            hash(value)
        except TypeError:
            raise NonHashableStaticArgError(
                f"jit({self._name}): {what} of type {type(value).__name__} is not hashable, "
                "so it cannot be part of the compilation cache key",
                hint="pass a tuple instead of a list, a frozen dataclass, or make the argument "
                     "dynamic (an array)") from None
        return value

    # -- misses: trace and compile -------------------------------------------------------------

    def _traceable(self, args, kwargs):
        """A function of the dynamic arguments alone, with the static ones put back in place."""
        if self._simple:
            return self.fun, args, kwargs
        static_pos = {i: args[i] for i in self.static_argnums if i < len(args)}
        static_kw = {k: v for k, v in kwargs.items() if k in self.static_argnames}
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_kw}
        n = len(args)

        def fun(*dargs, **dkwargs):
            it = iter(dargs)
            full = [static_pos[i] if i in static_pos else next(it) for i in range(n)]
            return self.fun(*full, **dkwargs, **static_kw)

        return fun, dyn_args, dyn_kwargs

    def _lower_module(self, args, kwargs):
        fun, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = []
        for x in leaves:
            f = LEAF_SIG.get(type(x)) or sig_fallback(x, self._name)
            avals.append(aval_from_sig(f(x)[0]))
        names = leaf_names(dyn_args, dyn_kwargs,
                           [n for i, n in enumerate(self._arg_names)
                            if i not in self.static_argnums])
        return trace_to_module(fun, avals, in_tree, self._name, names)

    def _miss(self, key, args, kwargs):
        entry, built = self._build_once(key, lambda: self._build(key, args, kwargs))
        if not built:   # another thread built it meanwhile
            with self._lock:
                self._hits += 1
        return entry

    def _build_once(self, key, build):
        """(`self._cache[key]`, whether this call built it): `build()` stores the entry (or a
        bucket's fallback) in the cache and returns it. Concurrent misses of one key wait
        for the first one's build instead of tracing and compiling it again; if that build
        fails, the next waiter tries itself (and gets its own error)."""
        while True:
            with self._lock:
                entry = self._cache.get(key)
                if entry is not None:
                    return entry, False
                done = self._building.get(key)
                if done is None:
                    done = self._building[key] = threading.Event()
                    self._misses += 1
                    break
            done.wait()
        try:
            return build(), True
        finally:
            with self._lock:
                del self._building[key]
            done.set()

    def _add_trace_time(self, seconds):
        with self._lock:
            self._trace_s += seconds
            self._last_trace_s = seconds

    def _build(self, key, args, kwargs):
        # A snapshot of the keys: other threads may be adding to the cache.
        jit_observe.miss(self._name, key, list(self._cache),
                         lambda: self._leaf_names(args, kwargs))
        t0 = time.perf_counter()
        with PassLog.start(self._name) as log, profile_hooks.stage(f"trace {self._name}"):
            module, out_tree, out_avals = self._lower_module(args, kwargs)
        self._add_trace_time(time.perf_counter() - t0)
        entry = self._compile(module, out_tree, out_avals, key.donated, log)
        if _autotune.wanted(self.autotune):   # its first call tunes it on its arguments
            _autotune.defer(entry, key, key.backend, host_inputs)
        entry.executable = host_inputs(entry.executable, key.sigs)
        with self._lock:
            self._store(key, entry)
            made = self._axes.note_sizes(key, list(self._cache))
            if made:
                self._bucketing = True
                self._fast = False
                jit_observe.axes_made_dynamic(self._name, made,
                                              lambda j: self._leaf_name(args, kwargs, j))
        return entry

    # -- dynamic axes: bucketing ---------------------------------------------------------------

    def _call_planned(self, args):
        """A bucketed call of a signature seen before (`bucketing.CallPlan`), keyed as
        `_call_bucketed` keeps it; _EXACT when there is none."""
        leaves, treedef = tree_util.tree_flatten(args)
        sigs, vals = _leaf_sigs(leaves, self._name)
        plan = self._axes.calls.get(
            (treedef, None, sigs, self.backend or config.settings.backend))
        if plan is None:
            return _EXACT
        with self._lock:
            self._hits += 1
        return plan.run(vals)

    def _call_bucketed(self, key, vals, args, kwargs):
        """Run the call through its bucket's specialization, or return _EXACT when it has no
        dynamic size >= 2, passes device arrays, or its bucket fell back to exact shapes."""
        calls = self._axes.calls
        pkey = (key.treedef, key.statics, key.sigs, key.backend)
        plan = calls.get(pkey)
        if plan is not None:
            with self._lock:
                self._hits += 1
            return self._run_planned(plan, vals, args)
        found = self._axes.bucket(key, args, kwargs, lambda j: self._leaf_name(args, kwargs, j))
        if found is None:
            return _EXACT
        bkey, symbols = found
        entry, built = self._cache.get(bkey), False
        if entry is None:
            entry, built = self._build_once(
                bkey, lambda: self._miss_bucketed(bkey, symbols, args, kwargs))
        if type(entry) is not _Entry:
            return _EXACT
        if not built:
            with self._lock:
                self._hits += 1
        plan = bucketing.CallPlan(entry, symbols, bkey.sigs, key.sigs, entry.out_cut)
        if len(calls) >= 1024:
            calls.clear()
        calls[pkey] = plan
        return self._run_planned(plan, vals, args)

    def _run_planned(self, plan, vals, args):
        out = plan.run(vals)
        if self.donate_argnums:
            donation.delete_donated(args, self.donate_argnums)
        return out

    def _leaf_names(self, args, kwargs):
        _, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        return leaf_names(dyn_args, dyn_kwargs, [n for i, n in enumerate(self._arg_names)
                                                 if i not in self.static_argnums])

    def _leaf_name(self, args, kwargs, j):
        names = self._leaf_names(args, kwargs)
        return names[j] if j < len(names) else f"argument leaf {j}"

    def _miss_bucketed(self, bkey, symbols, args, kwargs):
        names = self._leaf_names(args, kwargs)
        sym_names = [f"{self._leaf_name(args, kwargs, j)}.shape[{a}]"
                     for (j, a, n, lo, hi) in symbols]
        jit_observe.bucket_miss(self._name, sym_names, symbols)
        t0 = time.perf_counter()
        fun, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        _, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        traced = bucketing.trace_bucket(fun, in_tree, bkey.sigs, symbols, sym_names,
                                        self._name, names,
                                        lambda: self._lower_module(args, kwargs))
        if type(traced) is bucketing.Fallback:
            with self._lock:
                self._store(bkey, traced)
            jit_observe.bucket_fell_back(self._name, sym_names, traced.reason)
            return traced
        module, out_tree, out_avals, log = traced
        self._add_trace_time(time.perf_counter() - t0)
        entry = self._compile(module, out_tree, out_avals, NO_DONATION, log)
        entry.out_cut = bucketing.out_slicer(out_avals)
        entry.buckets = tuple((nm, lo, hi) for nm, (j, a, n, lo, hi) in zip(sym_names, symbols))
        with self._lock:
            self._store(bkey, entry)
        return entry

    def _compile(self, module, out_tree, out_avals, donated=NO_DONATION, log=None):
        """`donated`: flat parameter numbers the executable may write into. `log`: the
        passes seen so far (the trace pipeline's), when dumping or printing passes."""
        t0 = time.perf_counter()
        name = self.backend or config.settings.backend
        with PassLog.start(self._name, log) as log, \
                profile_hooks.stage(f"compile {self._name}", backend=name):
            executable = backends.get_backend(name).compile(module, donated=donated)
        dt = time.perf_counter() - t0
        with self._lock:
            self._compile_s += dt
            self._compiles += 1
        jit_observe.compiled(self._name, module, name, dt, self._last_trace_s, log, executable)
        return _Entry(executable, out_tree, [a.weak_type for a in out_avals], module)

    # -- observability -------------------------------------------------------------------------

    def lower(self, *args, **kwargs) -> Lowered:
        with PassLog.start(self._name) as log, abstract_arguments():   # ShapeDtypeStructs too
            module, out_tree, out_avals = self._lower_module(args, kwargs)
            key, _ = self._key_and_values(args, kwargs)
        return Lowered(self, module, out_tree, out_avals, as_key(key), log)

    def cache_info(self) -> CacheInfo:
        buckets: dict = {}
        fallbacks = 0
        for e in list(self._cache.values()):
            fallbacks += type(e) is bucketing.Fallback
            if type(e) is _Entry:
                for name, lo, hi in e.buckets:
                    buckets.setdefault(name, set()).add(hi)
        with self._lock:
            counts = (self._hits, self._misses, self._compiles, self._trace_s, self._compile_s)
        return CacheInfo(*counts, {k: tuple(sorted(v)) for k, v in buckets.items()}, fallbacks)

    def clear_cache(self):
        self._cache.clear()
        self._axes.calls.clear()

    def _store(self, key, entry):
        """Keep `entry` under `key` (the caller holds `_lock`). Past `MAX_SPECIALIZATIONS`, the
        oldest specialization goes: its native code is freed once no call is running it, and a
        later call with its signature compiles it again (from the backend's in-memory or disk
        cache of machine code when it is still there)."""
        cache = self._cache
        cache[key] = entry
        while len(cache) > MAX_SPECIALIZATIONS:
            del cache[next(iter(cache))]
            self._axes.calls.clear()   # call plans hold specializations

    def __repr__(self):
        return f"<jitted {self._name}>"

    def __reduce__(self):
        # The compiled specializations stay behind: the unpickling process compiles them
        # again, or loads them from the persistent cache.
        module, qualname = getattr(self, "__module__", None), getattr(self, "__qualname__", "")
        if module not in (None, "__main__") and _lookup(module, qualname) is self:
            return qualname   # `@jit` on a module-level function: by reference, as functions
        # Rebuilt from the function, which cloudpickle pickles by value when it is a lambda, a
        # closure or defined in __main__ (plain pickle only by reference).
        return (JitFunction, (self.fun, self.static_argnums, self.static_argnames,
                              self.donate_argnums, self.backend, self.dynamic_axes or None,
                              self.buckets, self.auto_dynamic, self.autotune))

    def __get__(self, obj, objtype=None):
        # Jitted methods bind `self` like plain functions do.
        if obj is None:
            return self
        return functools.partial(self, obj)


# Specializations one jitted function keeps (JAX's C++ jit cache keeps 4096, of far larger
# executables): each holds its native code (~60 KB for a small program) and buffers.
MAX_SPECIALIZATIONS = 512
_EXACT = object()   # a call that bucketing does not serve: it runs its exact-shape specialization
_LIVE: "weakref.WeakSet[JitFunction]" = weakref.WeakSet()   # for `clear_cache`


_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # fun -> {options: state}
_SHARED_LOCK = threading.Lock()


def _shared_state(fun, options, axes):
    """(cache, building, lock, bucketing policy) for `fun` jitted with `options`: one per
    function and options while the function lives, fresh for a function that cannot be
    weakly referenced."""
    fresh = ({}, {}, threading.RLock(), axes)
    try:
        with _SHARED_LOCK:
            per_fun = _SHARED.setdefault(fun, {})
            return per_fun.setdefault(options, fresh)
    except TypeError:   # not weakly referenceable, or an unhashable option
        return fresh


def forget_wrappers(fun) -> None:
    """Drop what `jit(fun)` wrappers share, so the next `jit(fun)` starts with no
    specializations (for tests and benchmarks that time a first call)."""
    with _SHARED_LOCK:
        _SHARED.pop(fun, None)


def _lookup(module, qualname):
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def clear_cache():
    """Forget every compiled program: each jitted function's specializations, the backends'
    in-memory machine code, and the files of the persistent compilation cache."""
    for f in list(_LIVE):
        f.clear_cache()
    with _SHARED_LOCK:
        states = [st for per_fun in list(_SHARED.values()) for st in per_fun.values()]
    for cache, _, _, axes in states:   # wrappers that are gone left their caches behind
        cache.clear()
        axes.calls.clear()
    backend_runtime.clear_compiled_code()


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=(), backend=None,
        dynamic_axes=None, buckets=None, auto_dynamic=None, donate_argnames=(),
        keep_unused=False, device=None, inline=False, autotune=None):
    """Compile `fun` once per input signature; usable as `@jit` and `@jit(static_argnums=...)`.

    `dynamic_axes={"x": 0, "mask": (0, 1)}` (argument names or positions: an axis or a tuple
    of axes, for every array leaf of that argument): sizes along those axes share one
    specialization per bucket (powers of two, or `buckets=[16, 64, 256]`), with results
    identical to exact shapes. `auto_dynamic`: after this many distinct sizes on one axis
    (nothing else changed) the axis becomes dynamic; 0 never; None: the `auto_dynamic`
    setting (3). `donate_argnames` names donated arguments (JAX's); `keep_unused`, `device`
    and `inline` are accepted as JAX's are (every argument is kept; a device's platform picks
    the backend; a jitted function called under a trace is inlined anyway). `autotune`:
    each program's first call times kernel schedules on its arguments and keeps the
    fastest (`jitcore.autotune`); None: the `autotune` setting."""
    if device is not None and backend is None:
        backend = getattr(device, "platform", None) or str(device).split(":")[0]

    def make(f):
        donate = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
        names = (donate_argnames,) if isinstance(donate_argnames, str) else tuple(donate_argnames)
        if names:
            params = list(inspect.signature(f).parameters)
            missing = [n for n in names if n not in params]
            if missing:
                raise ValueError(f"jit: donate_argnames {missing} are not parameters of "
                                 f"{getattr(f, '__name__', f)}")
            donate = tuple(sorted(set(donate) | {params.index(n) for n in names}))
        return JitFunction(f, static_argnums, static_argnames, donate, backend,
                           dynamic_axes, buckets, auto_dynamic, autotune)
    if fun is None:
        return make
    return make(fun)


def make_hlo(fun, *, static_argnums=(), static_argnames=()):
    """`make_hlo(f)(*args)` returns the traced Module (print it for the HLO-like text)."""
    if isinstance(fun, JitFunction):
        jf = fun
    else:
        jf = JitFunction(fun, static_argnums, static_argnames)

    @functools.wraps(fun, updated=())
    def lowered(*args, **kwargs):
        return jf.lower(*args, **kwargs).module

    return lowered
