"""`jit`: trace once per input signature, compile, cache, call.

The cache key is: the pytree structure of the dynamic arguments, each array leaf's
(shape, dtype, weak type), the static arguments' values, the backend, and which leaves are
donated (an executable compiled for donation may write into those arrays, so a call without
donation must never reach it). A cached call flattens the arguments, builds that key, looks it
up, runs the executable and wraps the outputs; nothing else happens on that path.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import time
import weakref
from typing import NamedTuple

import numpy as np

from ops import core, dtypes
from ops.core import ShapedArray, Tracer
from ops.dims import SizeDependentError, Symbol, SymbolTable
from ops.errors import InvalidArgumentError, NonHashableStaticArgError
from xla_like import backends, passes

from . import tree_util
from .array import Array
from .devices import device_leaf, exclusive_on_device, host_inputs
from .tracing import leaf_names, trace_to_module

from . import bucketing, config


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


# --- signatures of argument leaves ---------------------------------------------------------
# Each returns the leaf's part of the cache key and the value handed to the executable.

def _sig_array(x):
    v = x._value
    if v is None:
        return device_leaf(x)   # an Array on a GPU (raises if it was deleted)
    return (v.shape, v.dtype, x.weak_type), v


def _sig_ndarray(x):
    return (x.shape, x.dtype, False), x


def _sig_generic(x):
    v = np.asarray(x)
    return (v.shape, v.dtype, False), v


def _sig_int(x):
    return int, np.asarray(x, dtypes.default_int)


def _sig_float(x):
    return float, np.asarray(x, dtypes.default_float)


def _sig_bool(x):
    return bool, np.asarray(x, dtypes.bool_)


_LEAF_SIG = {Array: _sig_array, np.ndarray: _sig_ndarray, int: _sig_int, float: _sig_float,
             bool: _sig_bool}
for _t in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
           np.uint16, np.uint32, np.uint64, np.bool_):
    _LEAF_SIG[_t] = _sig_generic

_SCALAR_AVAL = {int: ShapedArray((), dtypes.default_int, True),
                float: ShapedArray((), dtypes.default_float, True),
                bool: ShapedArray((), dtypes.bool_, False)}


def _aval_from_sig(sig) -> ShapedArray:
    if sig in _SCALAR_AVAL:
        return _SCALAR_AVAL[sig]
    shape, dtype, weak = sig
    return ShapedArray(shape, dtypes.canonicalize(dtype, "jit argument"), weak)


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


def _normalize_argnums(argnums, name):
    if argnums is None:
        return ()
    if isinstance(argnums, int):
        return (argnums,)
    try:
        return tuple(int(a) for a in argnums)
    except TypeError:
        raise TypeError(f"jit: {name} must be an int or a sequence of ints, got {argnums!r}") \
            from None


def _normalize_argnames(argnames):
    if argnames is None:
        return ()
    if isinstance(argnames, str):
        return (argnames,)
    return tuple(argnames)


class JitFunction:
    """A jitted function: call it like the original; `.lower(*args)`, `.cache_info()`."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=(),
                 backend=None, dynamic_axes=None, buckets=None, auto_dynamic=None):
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
        self.fun = fun
        self._name = getattr(fun, "__name__", "fn").replace("<", "").replace(">", "") or "fn"
        functools.update_wrapper(self, fun, updated=())  # keep our own attributes
        static_argnums = _normalize_argnums(static_argnums, "static_argnums")
        static_argnames = _normalize_argnames(static_argnames)
        try:
            params = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self._arg_names = positional
        n = len(positional)
        # As in JAX: naming a parameter static by number makes it static by name, and back.
        static_argnums = tuple(a + n if a < 0 and n else a for a in static_argnums)
        names = set(static_argnames) | {positional[i] for i in static_argnums if 0 <= i < n}
        nums = set(static_argnums) | {positional.index(nm) for nm in static_argnames
                                      if nm in positional}
        self.static_argnums = tuple(sorted(nums))
        self.static_argnames = tuple(sorted(names))
        self.donate_argnums = _normalize_argnums(donate_argnums, "donate_argnums")
        # None: the `backend` setting (JITCORE_BACKEND) at the time of each compile.
        self.backend = backend
        if backend is not None:
            backends.get_backend(backend)  # an unknown name fails here, not at the first call
        self._simple = not self.static_argnums and not self.static_argnames
        self._fast = self._simple and not self.donate_argnums
        # Dynamic axes (jitcore.bucketing): declared, and made dynamic after `auto_dynamic`
        # distinct sizes ({(treedef, statics): {(leaf, axis)}}).
        self.dynamic_axes = bucketing.normalize_dynamic_axes(dynamic_axes, positional,
                                                             self._name)
        self.buckets = bucketing.check_buckets(buckets, self._name)
        self.auto_dynamic = auto_dynamic
        self._auto: dict = {}
        self._sizes_seen: dict = {}
        self._declared_cache: dict = {}
        self._bucketing = bool(self.dynamic_axes)
        if self._bucketing:
            self._fast = False
        self._cache: dict = {}
        self._hits = self._misses = self._compiles = 0
        self._trace_s = self._compile_s = self._last_trace_s = 0.0
        _LIVE.add(self)

    # -- the call path -------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if core.is_tracing():
            # Inside another trace the body inlines: its primitives bind on the outer trace.
            return self.fun(*args, **kwargs)
        if self._fast and not kwargs:
            # The hot path, written out: flatten, key, look up, one executable call, wrap.
            leaves, treedef = tree_util.tree_flatten(args)
            sigs, vals = [], []
            for x in leaves:
                t = type(x)
                if t is np.ndarray:
                    sigs.append((x.shape, x.dtype, False))
                    vals.append(x)
                    continue
                f = _LEAF_SIG.get(t) or self._sig_fallback(x)
                sg, v = f(x)
                sigs.append(sg)
                vals.append(v)
            key = (treedef, None, tuple(sigs), self.backend or config.settings.backend,
                   _NO_DONATION)
        else:
            key, vals = self._key_and_values(args, kwargs)
            if self._bucketing:
                out = self._call_bucketed(key, vals, args, kwargs)
                if out is not _EXACT:
                    return out
        entry = self._cache.get(key)
        if entry is None:
            entry = self._miss(key, args, kwargs)
        else:
            self._hits += 1
        outs = entry.executable(vals)
        if self.donate_argnums:
            self._donate(args)
        wrap = Array._wrap
        return tree_util.tree_unflatten(entry.out_tree,
                                        [wrap(o, w) for o, w in zip(outs, entry.out_weak)])

    def _key_and_values(self, args, kwargs):
        """The cache key of a call, and the flat input arrays for the executable."""
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
            f = _LEAF_SIG.get(type(x))
            if f is None:
                f = self._sig_fallback(x)
            s, v = f(x)
            sigs.append(s)
            vals.append(v)
        donated = _NO_DONATION
        if self.donate_argnums:
            x = v = None   # `_donatable` counts the references to each value
            donated = self._donatable(args, leaves, vals)
        return (treedef, statics, tuple(sigs), self.backend or config.settings.backend,
                donated), vals

    def _donatable(self, args, leaves, vals):
        """The flat indices of donated leaves whose memory the executable may write: jitcore
        Arrays (a NumPy argument is the caller's, never written) whose array nothing else
        refers to (no other Array, no NumPy view, not passed twice)."""
        out = []
        k = 0
        for i, a in enumerate(args):
            if i in self.static_argnums:
                continue
            n = len(tree_util.tree_leaves(a))
            if i in self.donate_argnums:
                out.extend(j for j in range(k, k + n)
                           if type(leaves[j]) is Array and _exclusive(vals, j))
            k += n
        return frozenset(out)

    def _run(self, entry, vals, args):
        outs = entry.executable(vals)
        if self.donate_argnums:
            self._donate(args)
        return tree_util.tree_unflatten(
            entry.out_tree, [Array._wrap(o, w) for o, w in zip(outs, entry.out_weak)])

    def _sig_fallback(self, x):
        if isinstance(x, Tracer):
            raise core.UnexpectedTracerError(
                f"jit({self._name}): a traced value {x.aval.str_short()} from a finished trace "
                "was passed as an argument")
        if isinstance(x, Array):
            return _sig_array
        if isinstance(x, np.ndarray):
            return _sig_ndarray
        if isinstance(x, np.generic):
            return _sig_generic
        raise InvalidArgumentError(
            f"jit({self._name}): an argument of type {type(x).__name__} is not a valid array: "
            f"{x!r:.60}",
            hint="pass arrays or Python numbers; mark other arguments static with "
                 "static_argnums or static_argnames")

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

    def _donate(self, args):
        """Donated Arrays are deleted whether or not their memory was reused, as in JAX."""
        for i in self.donate_argnums:
            if i < len(args):
                for leaf in tree_util.tree_leaves(args[i]):
                    if isinstance(leaf, Array):
                        leaf.delete()

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
            f = _LEAF_SIG.get(type(x)) or self._sig_fallback(x)
            avals.append(_aval_from_sig(f(x)[0]))
        names = leaf_names(dyn_args, dyn_kwargs,
                           [n for i, n in enumerate(self._arg_names)
                            if i not in self.static_argnums])
        return trace_to_module(fun, avals, in_tree, self._name, names)

    def _miss(self, key, args, kwargs):
        self._misses += 1
        if config.settings.explain_cache_misses:
            print(f"jitcore: compiling {self._name}: {self._why(key, args, kwargs)}")
        t0 = time.perf_counter()
        with _PassLog.start(self._name) as log:
            module, out_tree, out_avals = self._lower_module(args, kwargs)
        t1 = time.perf_counter()
        self._trace_s += t1 - t0
        self._last_trace_s = t1 - t0
        entry = self._compile(module, out_tree, out_avals, key[4], log)
        entry.executable = host_inputs(entry.executable, key[2])
        self._cache[key] = entry
        self._note_sizes(key, args, kwargs)
        return entry

    # -- dynamic axes: bucketing ---------------------------------------------------------------

    def _call_bucketed(self, key, vals, args, kwargs):
        """Run the call through its bucket's specialization, or return _EXACT when it has no
        dynamic size >= 2, passes device arrays, or its bucket fell back to exact shapes."""
        treedef, statics, sigs, backend, donated = key
        declared = self._declared_for(treedef, statics, args, kwargs)
        auto = self._auto.get((treedef, statics), frozenset())
        if not auto and not any(declared):
            return _EXACT
        bsigs, symbols = bucketing.bucket_key(
            sigs, declared, auto, self.buckets, lambda j: self._leaf_name(args, kwargs, j),
            self._name)
        if bsigs is None or any(type(s) is not tuple and s not in _SCALAR_AVAL for s in sigs):
            return _EXACT
        bkey = (treedef, statics, bsigs, backend, _NO_DONATION, "bucketed")
        entry = self._cache.get(bkey)
        if entry is None:
            entry = self._miss_bucketed(bkey, symbols, args, kwargs)
        elif type(entry) is _Entry:
            self._hits += 1
        if type(entry) is not _Entry:
            return _EXACT
        sizes = {k: s[2] for k, s in enumerate(symbols)}
        inputs = [np.array(s[2], np.int64) for s in symbols]
        for v, bs, s in zip(vals, bsigs, sigs):
            if bs is s:
                inputs.append(v)
            else:
                inputs.append(bucketing.pad_input(
                    np.asarray(v), tuple(d[3] if type(d) is tuple else d for d in bs[0])))
        outs = entry.executable(inputs)
        if self.donate_argnums:
            self._donate(args)
        wrap = Array._wrap
        return tree_util.tree_unflatten(entry.out_tree, [
            wrap(o if c is None else bucketing.cut(o, c, sizes), w)
            for o, w, c in zip(outs, entry.out_weak, entry.out_cut)])

    def _declared_for(self, treedef, statics, args, kwargs):
        k = (treedef, statics)
        hit = self._declared_cache.get(k)
        if hit is None:
            if not self.dynamic_axes:
                hit = ()
            else:
                positions = [i for i in range(len(args)) if i not in self.static_argnums]
                groups = [(i, args[i]) for i in positions] + \
                    [(n, kwargs[n]) for n in sorted(kwargs) if n not in self.static_argnames]
                hit = tuple(bucketing.declared_axes(self.dynamic_axes, groups,
                                                    self._arg_names))
            self._declared_cache[k] = hit
        return hit

    def _leaf_names(self, args, kwargs):
        _, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        return leaf_names(dyn_args, dyn_kwargs, [n for i, n in enumerate(self._arg_names)
                                                 if i not in self.static_argnums])

    def _leaf_name(self, args, kwargs, j):
        names = self._leaf_names(args, kwargs)
        return names[j] if j < len(names) else f"argument leaf {j}"

    def _miss_bucketed(self, bkey, symbols, args, kwargs):
        self._misses += 1
        names = self._leaf_names(args, kwargs)
        sym_names = [f"{self._leaf_name(args, kwargs, j)}.shape[{a}]"
                     for (j, a, n, lo, hi) in symbols]
        if config.settings.explain_cache_misses:
            what = ", ".join(f"{nm} = {n}: bucket {lo}..{hi}"
                             for nm, (j, a, n, lo, hi) in zip(sym_names, symbols))
            print(f"jitcore: compiling {self._name} for a bucket: {what}")
        t0 = time.perf_counter()
        fun, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        _, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))

        def table(extra):
            syms = [Symbol(nm, lo, hi, k)
                    for k, (nm, (j, a, n, lo, hi)) in enumerate(zip(sym_names, symbols))]
            return SymbolTable(syms, {k: s.hi + extra for k, s in enumerate(syms)})

        def trace(tab, rewrite):
            avals = bucketing.symbolic_avals(bkey[2], tab, _aval_from_sig)
            return trace_to_module(fun, avals, in_tree, self._name, names, sizes=tab,
                                   rewrite=rewrite)

        seen = []
        tracing = [True]   # False once the program is traced (errors no longer have a line)

        def check_and_mask(module):
            tracing[0] = False
            fp = bucketing.fingerprint(module)
            if fp != seen[0]:
                raise SizeDependentError(
                    "the traced program changes with the size itself (first at "
                    f"{bucketing.first_difference(fp, seen[0], module)}): the function uses "
                    "a dynamic size as a Python int (range(), len(), a shape-dependent "
                    "branch or NumPy arithmetic on it)")
            return bucketing.mask_padding(module, len(symbols))

        try:
            # Traced at capacity hi + 1 first, only to be compared with the real trace.
            trace(table(1), lambda m: seen.append(bucketing.fingerprint(m)))
            with _PassLog.start(self._name) as log:
                module, out_tree, out_avals = trace(table(0), check_and_mask)
        except Exception as e:  # any failure under symbolic sizes: exact shapes decide
            reason = getattr(e, "bare_message", None) or str(e).splitlines()[0] if str(e) \
                else type(e).__name__
            if not isinstance(e, SizeDependentError):
                reason = f"{type(e).__name__}: {reason}"
            if tracing[0] and getattr(e, "location", ""):
                reason += f" (at {e.location})"
            if config.settings.debug:
                import traceback
                traceback.print_exc()
            fb = bucketing.Fallback(reason)
            self._cache[bkey] = fb
            if config.settings.explain_cache_misses:
                print(f"jitcore: {self._name}: bucket {', '.join(sym_names)} falls back to "
                      f"exact shapes: {reason}")
            return fb
        t1 = time.perf_counter()
        self._trace_s += t1 - t0
        self._last_trace_s = t1 - t0
        entry = self._compile(module, out_tree, out_avals, frozenset(), log)
        entry.out_cut = bucketing.out_slicer(out_avals)
        entry.buckets = tuple((nm, lo, hi) for nm, (j, a, n, lo, hi) in zip(sym_names, symbols))
        self._cache[bkey] = entry
        return entry

    def _note_sizes(self, key, args, kwargs):
        """Automatic dynamic axes: count the distinct sizes seen on each axis of each leaf
        among specializations that differ from another only there."""
        limit = self.auto_dynamic if self.auto_dynamic is not None else \
            config.settings.auto_dynamic
        if not limit or limit < 2:
            return
        treedef, statics, sigs = key[0], key[1], key[2]
        made = []
        for k in list(self._cache):
            if len(k) != 5 or k is key or k[0] != treedef or k[1] != statics or \
                    k[3:] != key[3:]:
                continue
            diff = [j for j, (a, b) in enumerate(zip(sigs, k[2])) if a != b]
            if len(diff) != 1:
                continue
            j = diff[0]
            a, b = sigs[j], k[2][j]
            if type(a) is not tuple or type(b) is not tuple or a[1:] != b[1:] or \
                    len(a[0]) != len(b[0]):
                continue
            axes = [i for i, (x, y) in enumerate(zip(a[0], b[0])) if x != y]
            if len(axes) != 1:
                continue
            seen = self._sizes_seen.setdefault((treedef, statics, j, axes[0]), set())
            seen |= {a[0][axes[0]], b[0][axes[0]]}
            auto = self._auto.setdefault((treedef, statics), set())
            declared = self._declared_cache.get((treedef, statics)) or ()
            if j < len(declared) and any(ax % len(a[0]) == axes[0] for ax in declared[j]):
                continue      # declared dynamic already (these were its sizes 0 and 1)
            if len(seen) >= limit and (j, axes[0]) not in auto:
                auto.add((j, axes[0]))
                made.append((j, axes[0], sorted(seen)))
        if made:
            self._bucketing = True
            self._fast = False
            if config.settings.explain_cache_misses:
                for j, ax, sizes in made:
                    print(f"jitcore: {self._name}: axis {ax} of {self._leaf_name(args, kwargs, j)} "
                          f"is dynamic from now on (sizes {', '.join(map(str, sizes))} seen); "
                          "later calls share bucketed specializations")

    def _why(self, key, args, kwargs):
        """Why `key` missed the cache: what differs from the closest earlier specialization
        (argument structure, static arguments, or which array leaves changed type)."""
        exact = [k for k in self._cache if len(k) == 5]   # not the bucketed ones
        if not exact:
            return "first call" if len(exact) == len(self._cache) else \
                "first call with exact shapes"
        treedef, statics, sigs = key[0], key[1], key[2]
        same_tree = [k for k in exact if k[0] == treedef]
        if not same_tree:
            return (f"the arguments' structure changed: {treedef} (before: {exact[0][0]})")
        _, dyn_args, dyn_kwargs = self._traceable(args, kwargs)
        names = leaf_names(dyn_args, dyn_kwargs, [n for i, n in enumerate(self._arg_names)
                                                  if i not in self.static_argnums])

        def diffs(k):
            out = []
            if k[1] != statics:
                out.append(f"static arguments {_statics_text(statics)} (before: "
                           f"{_statics_text(k[1])})")
            for name, new, old in zip(names, sigs, k[2]):
                if new != old:
                    out.append(f"{name or 'an argument'} is {_aval_from_sig(new).str_short()}"
                               f" (before: {_aval_from_sig(old).str_short()})")
            if k[3:] != key[3:]:
                out.append(f"backend/donation {key[3:]} (before: {k[3:]})")
            return out
        best = min((diffs(k) for k in reversed(same_tree)), key=len)   # ties: the latest
        return "; ".join(best) if best else "a new specialization"

    def _compile(self, module, out_tree, out_avals, donated=frozenset(), log=None):
        """`donated`: flat parameter numbers the executable may write into. `log`: the
        passes seen so far (the trace pipeline's), when dumping or printing passes."""
        t0 = time.perf_counter()
        name = self.backend or config.settings.backend
        with _PassLog.start(self._name, log) as log:
            executable = backends.get_backend(name).compile(module, donated=donated)
        dt = time.perf_counter() - t0
        self._compile_s += dt
        self._compiles += 1
        if config.settings.dump:
            _dump(config.settings.dump, self._name, log, executable)
        if config.settings.debug:
            sig = ", ".join(p.shape.__str__() for p in module.entry.parameters)
            print(f"jitcore: compiled {self._name}({sig}) for {name} in {dt * 1e3:.1f} ms "
                  f"(trace {self._last_trace_s * 1e3:.1f} ms)")
            if config.settings.debug >= 2:
                print(executable.as_text("hlo"))
        return _Entry(executable, out_tree, [a.weak_type for a in out_avals], module)

    # -- observability -------------------------------------------------------------------------

    def lower(self, *args, **kwargs) -> "Lowered":
        with _PassLog.start(self._name) as log:
            module, out_tree, out_avals = self._lower_module(args, kwargs)
        key, _ = self._key_and_values(args, kwargs)
        lowered = Lowered(self, module, out_tree, out_avals, key)
        lowered._pass_log = log
        return lowered

    def cache_info(self) -> CacheInfo:
        buckets: dict = {}
        fallbacks = 0
        for e in self._cache.values():
            fallbacks += type(e) is bucketing.Fallback
            if type(e) is _Entry:
                for name, lo, hi in e.buckets:
                    buckets.setdefault(name, set()).add(hi)
        return CacheInfo(self._hits, self._misses, self._compiles, self._trace_s,
                         self._compile_s, {k: tuple(sorted(v)) for k, v in buckets.items()},
                         fallbacks)

    def clear_cache(self):
        self._cache.clear()

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
                              self.buckets, self.auto_dynamic))

    def __get__(self, obj, objtype=None):
        # Jitted methods bind `self` like plain functions do.
        if obj is None:
            return self
        return functools.partial(self, obj)


_NO_DONATION = frozenset()
_EXACT = object()   # a call that bucketing does not serve: it runs its exact-shape specialization
_LIVE: "weakref.WeakSet[JitFunction]" = weakref.WeakSet()   # for `clear_cache`


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
    from xla_like.backends import disk_cache
    disk_cache.clear(memory=True)


def _exclusive(vals, j):
    """Is `vals[j]` (an Array's array) referred to only by that Array and `vals`, and its
    memory by nothing else (a view's base only by the view and the output pool)?"""
    if type(vals[j]) is not np.ndarray:
        return exclusive_on_device(vals, j)
    refs, base_refs = _refcounts(vals, j)   # first: a local here would count too
    if refs != _REFS[0]:
        return False
    base = vals[j].base
    if base is None:
        return True
    if type(base) is not np.ndarray or not base.flags.owndata:
        return False
    from xla_like.backends import memory
    pooled = any(b is base for b in memory._pool.get(base.nbytes, ()))
    return base_refs == _REFS[1] + pooled


def _refcounts(vals, j):
    v = vals[j]
    base = v.base
    return sys.getrefcount(v), None if base is None else sys.getrefcount(base)


def _calibrate():
    """`_refcounts` of an Array's array held by one list, and of a view's base held only by
    the view: what `_exclusive` expects (measured, as interpreters count borrowed references
    differently)."""
    owner = Array._wrap(np.empty(2))
    base = np.empty(2)
    viewer = Array._wrap(base[:1])
    del base
    return _refcounts([owner._value], 0)[0], _refcounts([viewer._value], 0)[1]


_REFS = _calibrate()


class _PassLog:
    """Sees each pass of a compile (both pipelines): prints the IR after the passes named in
    the `print_after` setting, and keeps every pass's IR text for `JITCORE_DUMP`."""

    def __init__(self, fn_name, dump, print_after):
        self.fn_name = fn_name
        self.dump = dump
        self.print_after = print_after
        self.passes = []     # (pass name, IR text) in order, when dumping
        self.count = 0

    @staticmethod
    @contextlib.contextmanager
    def start(fn_name, log=None):
        """Observe the passes run inside the block (continuing `log` if given); yields the
        log, or None when neither dumping nor printing is on."""
        if log is None:
            dump = bool(config.settings.dump)
            print_after = _pass_names(config.settings.print_after)
            if not dump and not print_after:
                yield None
                return
            log = _PassLog(fn_name, dump, print_after)
        with passes.observe(log):
            yield log

    def fork(self):
        """A copy to continue (one lowering compiled twice logs its trace passes twice)."""
        new = _PassLog(self.fn_name, self.dump, self.print_after)
        new.passes, new.count = list(self.passes), self.count
        return new

    def __call__(self, name, module):
        if name != "traced":
            self.count += 1
        text = None
        if self.dump:
            text = module.as_text()
            self.passes.append((name, text))
        if name in self.print_after or "all" in self.print_after:
            what = "as traced" if name == "traced" else f"after pass {self.count} ({name})"
            print(f"// {self.fn_name}: IR {what}")
            print(text or module.as_text(), end="", flush=True)


def _pass_names(setting):
    if not setting:
        return frozenset()
    if isinstance(setting, str):
        setting = setting.split(",")
    return frozenset(n.strip() for n in setting if n.strip())


_dump_counter = [0]


def _dump(folder, name, log, executable):
    """Numbered files per compile: the IR as traced, after every pass of both pipelines (the
    trace's, then the backend's) in order, the IR the backend runs, its LLVM IR and assembly:
    `0003.f.00.traced.hlo`, `0003.f.01.dce.hlo`, ..., `0003.f.NN.optimized.hlo`,
    `0003.f.NN.llvm.ll`, `0003.f.NN.asm.s` (NN counting on)."""
    os.makedirs(folder, exist_ok=True)
    _dump_counter[0] += 1
    stem = os.path.join(folder, f"{_dump_counter[0]:04d}.{name}")
    texts = [(f"{pass_name}.hlo", text) for pass_name, text in (log.passes if log else ())]
    for kind, suffix in (("hlo", "optimized.hlo"), ("llvm", "llvm.ll"), ("asm", "asm.s")):
        try:
            texts.append((suffix, executable.as_text(kind)))
        except ValueError:
            pass  # the interpreter has no LLVM text
    for k, (suffix, text) in enumerate(texts):
        with open(f"{stem}.{k:02d}.{suffix}", "w") as fh:
            fh.write(text)


class Lowered:
    """The traced, not yet compiled, program of one specialization."""

    def __init__(self, jitted, module, out_tree, out_avals, key):
        self._jitted = jitted
        self.module = module
        self.out_tree = out_tree
        self.out_avals = out_avals
        self._key = key

    def as_text(self, print_large_constants: bool = False) -> str:
        return self.module.as_text(print_large_constants=print_large_constants)

    def compile(self) -> "Compiled":
        # Compiled without donation: a later call's donated arrays may not be exclusively
        # its own, which only the cached call path checks.
        log = getattr(self, "_pass_log", None)
        log = log.fork() if log is not None else None
        entry = self._jitted._compile(self.module, self.out_tree, self.out_avals, log=log)
        entry.executable = host_inputs(entry.executable, self._key[2])
        return Compiled(self, entry)

    def __str__(self):
        return self.as_text()


class Compiled:
    """A compiled specialization: call it with arguments of the lowered signature."""

    def __init__(self, lowered, entry):
        self.lowered = lowered
        self._entry = entry

    def as_text(self, kind: str = "hlo") -> str:
        return self._entry.executable.as_text(kind)

    def __call__(self, *args, **kwargs):
        jitted = self.lowered._jitted
        key, vals = jitted._key_and_values(args, kwargs)
        if key[:4] != self.lowered._key[:4]:
            raise TypeError(
                f"{jitted._name}: this compiled specialization was lowered for arguments "
                f"{_describe_key(self.lowered._key)} but was called with {_describe_key(key)}")
        return jitted._run(self._entry, vals, args)


def _statics_text(statics):
    return "none" if not statics else ", ".join(f"{k}={v!r}" for k, v in statics)


def _describe_key(key):
    treedef, statics, sigs = key[:3]
    parts = [str(_aval_from_sig(s).str_short()) for s in sigs]
    return f"({', '.join(parts)})" + (f" static={statics}" if statics else "")


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=(), backend=None,
        dynamic_axes=None, buckets=None, auto_dynamic=None):
    """Compile `fun` once per input signature; usable as `@jit` and `@jit(static_argnums=...)`.

    `dynamic_axes={"x": 0, "mask": (0, 1)}` (argument names or positions: an axis or a tuple
    of axes, for every array leaf of that argument): sizes along those axes share one
    specialization per bucket (powers of two, or `buckets=[16, 64, 256]`), with results
    identical to exact shapes. `auto_dynamic`: after this many distinct sizes on one axis
    (nothing else changed) the axis becomes dynamic; 0 never; None: the `auto_dynamic`
    setting (3)."""
    def make(f):
        return JitFunction(f, static_argnums, static_argnames, donate_argnums, backend,
                           dynamic_axes, buckets, auto_dynamic)
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
