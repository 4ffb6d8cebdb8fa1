"""Bucketing: one compiled specialization serves every size of a bucket along dynamic axes.

`jit(f, dynamic_axes={"x": 0})` (or an axis that automatically became dynamic) maps each true
size n >= 2 of such an axis to a bucket lo..hi (powers of two by default: 2, 3..4, 5..8, ...,
or the user's `buckets=[16, 64, ...]`, powers of two beyond the last). Sizes 0 and 1 compile
for their exact shapes. Axes of equal true size share one symbol, so `x + y` of two arrays of
n rows stays valid. The specialization is traced with symbolic sizes (ops.dims.Dim), masked
(the pass xla_like.passes.masking) and compiled at its capacity (`capacity(hi)`: hi, or a
little more for large buckets); a call pads its inputs to the capacity (reusing pooled
buffers), passes the true sizes, and slices the outputs back to their true sizes. An input
padded along its leading axis only, whose padded rows no step of the executable reads, goes
as it is (its rows are the first rows of the padded layout); so does one padded along one
later axis whose every reader is a kernel reading it with the array's own row strides and
stopping at the true extent there. What a signature's calls need is worked out once, in its
`CallPlan`.

Exactness has two guards. A Dim raises when the program asks something its bucket cannot
answer (`n < 40`); and the function is traced twice, at capacities c and c + 1, and the two
programs must be the same but for their symbolic sizes, which catches the size used as a
Python int (`range(x.shape[0])`, `len(x)`). Either way that call compiles for its exact shape.

Here: `Policy` (per jitted function, which axes are dynamic and the sizes seen so far), the
bucketed signatures of a call, `trace_bucket` (the two traces, then the "bucketed" pipeline of
xla_like.pipeline, which masks), and the padding of inputs and cutting of outputs
(`CallPlan`); `jit` keeps the cache and runs the calls.
"""
from __future__ import annotations

import math
import sys
import threading
import traceback

import numpy as np

from ops.core import ShapedArray
from ops.dims import Dim, SizeDependentError, Symbol, SymbolTable
from ops.errors import (AxisError, CompilerError, ConcretizationTypeError, InvalidArgumentError,
                        InvalidOptionError)
from xla_like import ir, pipeline

from . import config, tree_util
from .array import Array
from .cache_key import NO_DONATION, SCALAR_AVAL, aval_from_sig, as_key
from .jit_observe import PassLog
from .tracing import trace_to_module


class Fallback:
    """A bucket whose program depends on the true size: its calls compile exact shapes."""

    def __init__(self, reason):
        self.reason = reason


class Policy:
    """Which axes of one jitted function's arguments are dynamic: those the user declared,
    and those made dynamic after `auto_dynamic` distinct sizes (None: the `auto_dynamic`
    setting) among specializations that differ from another only there."""

    def __init__(self, declared, buckets, auto_dynamic, arg_names, static_argnums,
                 static_argnames, fun_name):
        self.declared = declared        # {position or name: tuple of axes}
        self.buckets = buckets
        self.auto_dynamic = auto_dynamic
        self._arg_names = arg_names
        self._static_argnums = static_argnums
        self._static_argnames = static_argnames
        self._fun_name = fun_name
        self._auto: dict = {}           # {(treedef, statics): {(leaf, axis)}} made dynamic
        self._sizes_seen: dict = {}     # {(treedef, statics, leaf, axis): {sizes}}
        self._declared_cache: dict = {}  # {(treedef, statics): per leaf, its declared axes}
        # {exact key: (auto version, bucket()'s answer)}: a call repeating an exact signature
        # skips recomputing its bucket (a tenth of a small bucketed call's time).
        self._memo: dict = {}
        self._auto_version = 0
        # {(treedef, statics, exact signatures, backend): CallPlan}: a repeated signature
        # skips its bucket, padding and output plan (`jit` runs it from here). Emptied
        # whenever an answer of `bucket` or a cached specialization may have changed.
        self.calls: dict = {}

    def bucket(self, key, args, kwargs, leaf_name):
        """(the bucketed key, its symbols [(leaf, axis, n, lo, hi)]) that serves the call of
        exact `key`, or None when it has no dynamic size >= 2 or passes device arrays (it
        runs its exact-shape specialization). `leaf_name(j)`: leaf j's name, for errors."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == self._auto_version:
            return hit[1]
        version = self._auto_version
        found = self._bucket(key, args, kwargs, leaf_name)
        if len(self._memo) >= 1024:
            self._memo.clear()
        self._memo[key] = (version, found)
        return found

    def _bucket(self, key, args, kwargs, leaf_name):
        declared = self._declared_for(key.treedef, key.statics, args, kwargs)
        auto = self._auto.get((key.treedef, key.statics), frozenset())
        if not auto and not any(declared):
            return None
        bsigs, symbols = bucket_key(key.sigs, declared, auto, self.buckets, leaf_name,
                                    self._fun_name)
        if bsigs is None or any(type(s) is not tuple and s not in SCALAR_AVAL
                                for s in key.sigs):
            return None
        return as_key((key.treedef, key.statics, bsigs, key.backend, NO_DONATION, True)), \
            symbols

    def _declared_for(self, treedef, statics, args, kwargs):
        k = (treedef, statics)
        hit = self._declared_cache.get(k)
        if hit is None:
            if not self.declared:
                hit = ()
            else:
                positions = [i for i in range(len(args)) if i not in self._static_argnums]
                groups = [(i, args[i]) for i in positions] + \
                    [(n, kwargs[n]) for n in sorted(kwargs) if n not in self._static_argnames]
                hit = tuple(declared_axes(self.declared, groups, self._arg_names))
            self._declared_cache[k] = hit
        return hit

    def note_sizes(self, key, keys):
        """Count the sizes seen on each axis of each leaf, now that exact `key` joined the
        specializations `keys` (the caller holds the jitted function's lock); returns the
        [(leaf, axis, sizes seen)] that became dynamic just now."""
        limit = self.auto_dynamic if self.auto_dynamic is not None else \
            config.settings.auto_dynamic
        if not limit or limit < 2:
            return []
        treedef, statics, sigs = key.treedef, key.statics, key.sigs
        made = []
        for k in keys:
            if k.bucketed or k is key or k.treedef != treedef or k.statics != statics or \
                    (k.backend, k.donated) != (key.backend, key.donated):
                continue
            diff = [j for j, (a, b) in enumerate(zip(sigs, k.sigs)) if a != b]
            if len(diff) != 1:
                continue
            j = diff[0]
            a, b = sigs[j], k.sigs[j]
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
                self._auto_version += 1
                self.calls.clear()
                made.append((j, axes[0], sorted(seen)))
        return made


def normalize_dynamic_axes(dynamic_axes, params, fun_name, static_argnums, static_argnames):
    """{position or name: tuple of axes}; names of positional parameters map to positions.
    `params` (jit's view of the signature) checks that each position or name is a parameter
    of the function; a static argument has no axes, so naming one is an error too."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise InvalidArgumentError(
            f"jit({fun_name}): dynamic_axes must be a dict {{argument name or position: axis "
            f"or tuple of axes}}, got {dynamic_axes!r:.60}")
    out = {}
    for k, axes in dynamic_axes.items():
        axes = _axes(axes, k, fun_name)
        if isinstance(k, str):
            params.check_names((k,), "dynamic_axes", fun_name)
            if k in params.positional:
                k = params.positional.index(k)
        elif _is_int(k):
            (k,) = params.positions((int(k),), "dynamic_axes", fun_name)
        else:
            raise InvalidArgumentError(f"jit({fun_name}): dynamic_axes keys are argument names "
                                       f"or positions, got {k!r:.60}")
        if k in static_argnums or k in static_argnames:
            name = params.positional[k] if isinstance(k, int) and \
                k < len(params.positional) else k
            raise InvalidOptionError(
                f"jit({fun_name}): dynamic_axes names {name!r}, which is a static argument",
                hint="a static argument is a Python value, not an array with axes: drop it "
                     "from dynamic_axes or from static_argnums/static_argnames")
        out[k] = axes
    return out


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _axes(axes, key, fun_name):
    """An axis or a sequence of axes, as a tuple of ints."""
    items = (axes,) if _is_int(axes) else axes
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or isinstance(axes, (str, bytes)) or not all(map(_is_int, items)):
        raise InvalidArgumentError(f"jit({fun_name}): dynamic_axes[{key!r}] must be an axis or "
                                   f"a tuple of axes, got {axes!r:.60}")
    return tuple(int(a) for a in items)


def check_buckets(buckets, fun_name):
    if buckets is None:
        return None
    try:
        items = None if isinstance(buckets, (str, bytes)) else list(buckets)
    except TypeError:
        items = None
    if items is None or not all(map(_is_int, items)):
        raise InvalidArgumentError(f"jit({fun_name}): buckets must be a list of sizes, got "
                                   f"{buckets!r:.60}")
    b = sorted({int(x) for x in items})
    if not b or b[0] < 2:
        raise InvalidOptionError(f"jit({fun_name}): bucket sizes must be >= 2 (sizes 0 and 1 "
                                 f"always compile exactly), got {buckets!r:.60}")
    return tuple(b)


def bucket_of(n, buckets):
    """(lo, hi): the range of true sizes sharing n's specialization (hi is its capacity)."""
    if buckets is not None:
        prev = 1
        for b in buckets:
            if n <= b:
                return prev + 1, b
            prev = b
        floor = buckets[-1]
    else:
        floor = 1
    hi = 1 << (n - 1).bit_length()
    return max(hi // 2, floor) + 1, hi


# Extra positions past a large bucket's last size. A capacity that is a power of two makes
# the rows of every array with it as a minor axis a power-of-two stride apart (4 KiB for 1024
# float32), which maps the rows a GEMM or a column pass walks to the same cache sets: the
# product q k^T of 600 x 64 ran 1.3x slower into rows of 1024 than of 600. 16 more (64 bytes
# of float32) breaks that; past the true size nothing is computed (passes/masking.py).
CAPACITY_PAD = 16
CAPACITY_PAD_FROM = 128


def capacity(hi):
    """The extent a bucket whose largest size is `hi` is compiled with."""
    return hi + CAPACITY_PAD if hi >= CAPACITY_PAD_FROM else hi


def declared_axes(declared, groups, arg_names):
    """Per flat leaf, the axes `declared` for its argument. `groups`: (position or keyword
    name, argument value) of the dynamic arguments in flattening order."""
    per_leaf = []
    for pos, a in groups:
        axes = declared.get(pos)
        if axes is None and isinstance(pos, str) and pos in arg_names:
            axes = declared.get(arg_names.index(pos))
        if axes is None and isinstance(pos, int) and pos < len(arg_names):
            axes = declared.get(arg_names[pos])
        per_leaf.extend([axes or ()] * len(tree_util.tree_leaves(a)))
    return per_leaf


def bucket_key(sigs, declared, auto, buckets, names, fun_name):
    """The bucketed signatures of a call and its symbols [(leaf, axis, n, lo, hi)], or
    (None, None) when no dynamic axis has a size >= 2 (the call compiles for its exact
    shapes). `declared`: per leaf, its declared axes; `auto`: {(leaf, axis)} made dynamic;
    `names(j)`: leaf j's readable name, for errors."""
    symbols = []
    by_size = {}
    out = []
    for j, sig in enumerate(sigs):
        axes = declared[j] if j < len(declared) else ()
        if (not axes and not auto) or type(sig) is not tuple:
            out.append(sig)
            continue
        shape = list(sig[0])
        ndim = len(shape)
        chosen = set()
        for ax in axes:
            if not -ndim <= ax < ndim:
                raise AxisError(f"jit({fun_name}): dynamic_axes names axis {ax} of "
                                f"{names(j)}, which has shape {tuple(shape)}")
            chosen.add(ax % ndim)
        chosen |= {ax for (leaf, ax) in auto if leaf == j and ax < ndim}
        for a in sorted(chosen):
            n = shape[a]
            if n < 2:
                continue
            k = by_size.get(n)
            if k is None:
                lo, hi = bucket_of(n, buckets)
                k = by_size[n] = len(symbols)
                symbols.append((j, a, n, lo, hi))
            shape[a] = ("dim", k, lo, hi)
        out.append((tuple(shape),) + sig[1:])
    if not symbols:
        return None, None
    return tuple(out), symbols


def symbolic_avals(bsigs, table, aval_from_sig):
    """The abstract values of a bucketed trace: each dynamic size a Dim of `table`."""
    avals = []
    for sig in bsigs:
        if type(sig) is tuple and any(type(d) is tuple for d in sig[0]):
            shape = tuple(table.dim(table.symbols[d[1]]) if type(d) is tuple else d
                          for d in sig[0])
            a = aval_from_sig((tuple(int(d) for d in shape),) + sig[1:])
            avals.append(ShapedArray(shape, a.dtype, a.weak_type))
        else:
            avals.append(aval_from_sig(sig))
    return avals


def fingerprint(module):
    """The program's structure with symbolic sizes kept symbolic: equal for two traces at
    different capacities exactly when no size was used as a plain int."""
    seen = {}

    def sym(x):
        t = type(x)
        if t is Dim:
            return ("dim", x.poly)
        if t in (tuple, list):
            return tuple(sym(v) for v in x)
        if t is dict:
            return tuple((k, sym(v)) for k, v in sorted(x.items()))
        if isinstance(x, np.ndarray):
            return ("array", x.dtype.str, x.shape, x.tobytes())
        if isinstance(x, ir.Shape):
            return (x.dtype.str, sym(x.dims))
        if isinstance(x, ir.Computation):
            return comp_fp(x)
        return x

    def const_value(instr):
        v = instr.attrs["value"]
        dims = instr.shape.dims
        if any(type(d) is Dim for d in dims):
            # Values past the smallest true size are padding: compare the part every size uses.
            v = v[tuple(slice(0, d.table.bounds(d.poly)[0]) if type(d) is Dim else slice(None)
                        for d in dims)]
        return ("array", v.dtype.str, v.shape, v.tobytes())

    def comp_fp(comp):
        if comp.name in seen:
            return seen[comp.name]
        pos = {}
        items = []
        for i, instr in enumerate(comp.instructions):
            pos[instr.id] = i
            attrs = dict(instr.attrs)
            attrs.pop("rule", None)   # a custom call's rules, registered anew by each trace
            if instr.opcode == ir.CONSTANT:
                attrs["value"] = const_value(instr)
            items.append((instr.opcode, tuple(pos.get(o.id, -1) for o in instr.operands),
                          sym(instr.shape), sym(attrs),
                          tuple(comp_fp(c) for c in instr.called),
                          pos.get(comp.root.id) if instr is comp.root else None))
        seen[comp.name] = tuple(items)
        return seen[comp.name]

    return comp_fp(module.entry)


def first_difference(fp1, fp2, module):
    """Where two fingerprints first differ, for the explanation."""
    for i, (a, b) in enumerate(zip(fp1, fp2)):
        if a != b:
            instr = module.entry.instructions[i]
            loc = f" at {instr.location}" if instr.location else ""
            return f"{instr.opcode}{loc}"
    return "the number of operations"


def pad_input(v, shape):
    """`v` copied into zeros of `shape` (the bucket's capacity). Only the padding is zeroed:
    writing the whole capacity first costs as much again as the copy (a quarter of a
    bucketed call's time on a (512, 600) input in a bucket of 1024 columns)."""
    vs = v.shape
    if vs == shape:
        return v
    buf = _input_buffer(shape, v.dtype)
    if vs[1:] == shape[1:]:     # the common case, padded rows only: two contiguous writes
        buf[:vs[0]] = v
        buf[vs[0]:] = 0
        return buf
    buf[tuple(slice(0, n) for n in vs)] = v
    for a, (n, cap) in enumerate(zip(v.shape, shape)):
        if n < cap:   # the slab past the true size along axis a (overlaps are harmless)
            buf[(slice(None),) * a + (slice(n, None),)] = 0
    return buf


# Padded inputs of at least this many bytes come from a small pool: a fresh one each call
# page-faults on first touch (glibc hands freed memory at the top of its heap back to the
# system at once), which cost as much as the GEMM it fed (200 us on q k^T, n = 520 of 1040).
_POOL_MIN_BYTES = 1 << 16
_POOL_PER_SIZE = 4
_POOL_MAX_BYTES = 64 << 20
_pool_lock = threading.Lock()
_pool: dict = {}     # {nbytes: [uint8 buffers]}
_pool_bytes = 0


def _input_buffer(shape, dtype):
    """An uninitialized C-contiguous array, reusing a pooled buffer nothing else refers to."""
    global _pool_bytes
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes < _POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    with _pool_lock:
        bucket = _pool.setdefault(nbytes, [])
        for b in bucket:
            # Referenced only by the list, this loop and getrefcount's argument: free (no
            # output aliases it, no call is still reading it).
            if sys.getrefcount(b) <= 3:
                return b.view(dtype).reshape(shape)
        b = np.empty(nbytes, np.uint8)
        if len(bucket) < _POOL_PER_SIZE and _pool_bytes + nbytes <= _POOL_MAX_BYTES:
            bucket.append(b)
            _pool_bytes += nbytes
        return b.view(dtype).reshape(shape)


def out_slicer(out_avals):
    """Per output: None (static), or a tuple of Polys/None per axis to cut it back to."""
    out = []
    for a in out_avals:
        polys = tuple(d.poly if type(d) is Dim else None for d in a.shape)
        out.append(polys if any(p is not None for p in polys) else None)
    return out


def trace_bucket(fun, in_tree, bsigs, symbols, sym_names, fun_name, names, trace_exact):
    """Trace `fun` (of the flat leaves `in_tree` describes) for the bucket of `bsigs`, and
    mask its padding: (module, out_tree, out_avals, pass log), or a Fallback when the program
    needs the true sizes. `names`: the leaves' names; `sym_names`: the symbols'.
    `trace_exact()` traces at the call's exact shapes: any other error is either a mistake
    in the function, which raises again there with the true sizes in its message, or a bug
    in tracing with symbolic sizes, which must not hide behind a fallback."""
    def table(extra):
        syms = [Symbol(nm, lo, hi, k)
                for k, (nm, (j, a, n, lo, hi)) in enumerate(zip(sym_names, symbols))]
        return SymbolTable(syms, {k: capacity(s.hi) + extra for k, s in enumerate(syms)})

    def trace(tab, inspect):
        avals = symbolic_avals(bsigs, tab, aval_from_sig)
        return trace_to_module(fun, avals, in_tree, fun_name, names, sizes=tab,
                               inspect=inspect)

    seen = []
    tracing = [True]   # False once the program is traced (errors no longer have a line)

    def fingerprint_pass(module):
        return pipeline.run_pass("bucketing fingerprint", fingerprint, module)

    def first_trace(module):
        seen.append(fingerprint_pass(module))
        return False

    def same_as_first(module):
        # Tracing then runs the "bucketed" pipeline: its masking pass may still find the
        # program size-dependent (a SizeDependentError, handled below like this one).
        tracing[0] = False
        fp = fingerprint_pass(module)
        if fp != seen[0]:
            raise SizeDependentError(
                "the traced program changes with the size itself (first at "
                f"{first_difference(fp, seen[0], module)}): the function uses "
                "a dynamic size as a Python int (range(), len(), a shape-dependent "
                "branch or NumPy arithmetic on it)")

    failure = None
    try:
        # Traced at the capacity + 1 first, only to be compared with the real trace.
        trace(table(1), first_trace)
        with PassLog.start(fun_name) as log:
            module, out_tree, out_avals = trace(table(0), same_as_first)
    except (SizeDependentError, ConcretizationTypeError) as e:
        # The program needs the true size (as a Python value, or a traced size where a
        # concrete one is needed): this bucket compiles exact shapes.
        return _fallback(e, tracing[0])
    except CompilerError:
        raise
    except Exception as e:
        failure = e
    if failure is not None:
        trace_exact()
        first = str(failure).splitlines()[0] if str(failure) else ""
        raise CompilerError(
            f"jit({fun_name}): tracing with symbolic sizes ({', '.join(sym_names)}) "
            f"raised {type(failure).__name__}: {first}; at exact shapes the trace "
            "succeeds", "symbolic trace",
            hint="this is a bug in jitcore, not in your program; until it is fixed, leave "
                 "these axes out of dynamic_axes") from failure
    return module, out_tree, out_avals, log


def _fallback(e, traced_line):
    """The Fallback for error `e` (raised at the user's line when `traced_line`); called
    while `e` is handled, so the `debug` setting can print its traceback."""
    reason = getattr(e, "bare_message", None) or str(e).splitlines()[0] if str(e) \
        else type(e).__name__
    if not isinstance(e, SizeDependentError):
        reason = f"{type(e).__name__}: {reason}"
    if traced_line and getattr(e, "location", ""):
        reason += f" (at {e.location})"
    if config.settings.debug:
        traceback.print_exc()
    return Fallback(reason)


class CallPlan:
    """How the calls of one exact signature run through their bucket's specialization,
    worked out once: the true sizes as ready arrays, per input leaf whether it goes as it is
    or padded to its capacity, per output the slices cutting it back to its true sizes.

    An input whose only padded axis is the leading one goes unpadded when the executable
    says no step reads a row of it past the true size (`prefix_inputs`, the CPU backend's
    `cpu.prefix_inputs`): its rows are the first ones of the padded layout, so its memory
    serves as it is, and the copy into the capacity (9 of the 60 us of a bucketed attention
    at n = 100) never happens. An input padded along one later axis goes unpadded when the
    executable reads it with run-time strides and only inside that axis's true extent
    (`strided_inputs`, `cpu.prefix_inputs.strided_inputs`): a (512, n) input with dynamic
    columns is not copied into (512, 528) either.
    Immutable once made, so calls on any thread share it."""

    __slots__ = ("entry", "sizes", "pads", "cuts", "n_pad")

    def __init__(self, entry, symbols, bsigs, sigs, out_cut):
        self.entry = entry
        sizes = []
        for s in symbols:
            a = np.array(s[2], np.int64)
            a.flags.writeable = False
            sizes.append(a)
        self.sizes = sizes
        prefix = getattr(entry.executable, "prefix_inputs", None) or {}
        strided = getattr(entry.executable, "strided_inputs", None) or {}
        pads = []
        for j, (bs, s) in enumerate(zip(bsigs, sigs)):
            if bs is s or type(bs) is not tuple:
                pads.append(None)
                continue
            dims = bs[0]
            padded = [a for a, d in enumerate(dims) if type(d) is tuple]
            if not padded or (padded == [0] and
                              prefix.get(len(symbols) + j) == (dims[0][1], 1, 0)):
                pads.append(None)     # read only up to its true rows: passed as it is
            elif len(padded) == 1 and (padded[0], (dims[padded[0]][1], 1, 0)) in \
                    strided.get(len(symbols) + j, ()):
                pads.append(None)     # read with its own strides, up to its true extent
            else:
                pads.append(tuple(capacity(d[3]) if type(d) is tuple else d for d in dims))
        self.pads = tuple(pads)
        self.n_pad = sum(p is not None for p in pads)
        values = {k: s[2] for k, s in enumerate(symbols)}
        self.cuts = tuple(
            None if polys is None else
            tuple(slice(0, p.evaluate(values)) if p is not None else slice(None) for p in polys)
            for polys in out_cut)

    def inputs(self, vals):
        """The executable's arguments for flat input values `vals`."""
        if not self.n_pad:
            return self.sizes + vals
        return self.sizes + [v if cap is None else pad_input(np.asarray(v), cap)
                             for v, cap in zip(vals, self.pads)]

    def run(self, vals):
        """The call's result for flat input values `vals`: the executable's outputs cut to
        their true sizes (views, no copy), wrapped and in the function's output tree."""
        entry = self.entry
        outs = entry.executable(self.inputs(vals))
        wrap = Array._wrap
        return tree_util.tree_unflatten(entry.out_tree, [
            wrap(o if c is None else o[c], w)
            for o, c, w in zip(outs, self.cuts, entry.out_weak)])
