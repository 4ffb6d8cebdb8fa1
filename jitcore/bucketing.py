"""Bucketing: one compiled specialization serves every size of a bucket along dynamic axes.

`jit(f, dynamic_axes={"x": 0})` (or an axis that automatically became dynamic) maps each true
size n >= 2 of such an axis to a bucket lo..hi (powers of two by default: 2, 3..4, 5..8, ...,
or the user's `buckets=[16, 64, ...]`, powers of two beyond the last). Sizes 0 and 1 compile
for their exact shapes. Axes of equal true size share one symbol, so `x + y` of two arrays of
n rows stays valid. The specialization is traced with symbolic sizes (ops.dims.Dim), masked
(xla_like.passes.masking) and compiled at capacity hi; a call pads its inputs to the capacity,
passes the true sizes, and slices the outputs back to their true sizes.

Exactness has two guards. A Dim raises when the program asks something its bucket cannot
answer (`n < 40`); and the function is traced twice, at capacities hi and hi + 1, and the two
programs must be the same but for their symbolic sizes, which catches the size used as a
Python int (`range(x.shape[0])`, `len(x)`). Either way that call compiles for its exact shape.
"""
from __future__ import annotations

import numpy as np

from ops.core import ShapedArray
from ops.dims import Dim
from xla_like import ir
from xla_like.passes.masking import mask_padding  # noqa: F401  (jit calls it from here)

from . import tree_util


class Fallback:
    """A bucket whose program depends on the true size: its calls compile exact shapes."""

    def __init__(self, reason):
        self.reason = reason


def normalize_dynamic_axes(dynamic_axes, arg_names, fun_name):
    """{position or name: tuple of axes}; names of positional parameters map to positions."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"jit({fun_name}): dynamic_axes must be a dict {{argument name or "
                        f"position: axis or tuple of axes}}, got {dynamic_axes!r}")
    out = {}
    for k, axes in dynamic_axes.items():
        if isinstance(axes, int):
            axes = (axes,)
        try:
            axes = tuple(int(a) for a in axes)
        except TypeError:
            raise TypeError(f"jit({fun_name}): dynamic_axes[{k!r}] must be an axis or a tuple "
                            f"of axes, got {axes!r}") from None
        if isinstance(k, str):
            if k in arg_names:
                k = arg_names.index(k)
        elif not isinstance(k, int):
            raise TypeError(f"jit({fun_name}): dynamic_axes keys are argument names or "
                            f"positions, got {k!r}")
        out[k] = axes
    return out


def check_buckets(buckets, fun_name):
    if buckets is None:
        return None
    try:
        b = sorted({int(x) for x in buckets})
    except TypeError:
        raise TypeError(f"jit({fun_name}): buckets must be a list of sizes, got "
                        f"{buckets!r}") from None
    if not b or b[0] < 2:
        raise ValueError(f"jit({fun_name}): bucket sizes must be >= 2 (sizes 0 and 1 always "
                         f"compile exactly), got {buckets!r}")
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
                raise ValueError(f"jit({fun_name}): dynamic_axes names axis {ax} of "
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
    """`v` copied into zeros of `shape` (the bucket's capacity)."""
    if v.shape == shape:
        return v
    buf = np.zeros(shape, v.dtype)
    buf[tuple(slice(0, n) for n in v.shape)] = v
    return buf


def out_slicer(out_avals):
    """Per output: None (static), or a tuple of Polys/None per axis to cut it back to."""
    out = []
    for a in out_avals:
        polys = tuple(d.poly if type(d) is Dim else None for d in a.shape)
        out.append(polys if any(p is not None for p in polys) else None)
    return out


def cut(x, polys, sizes):
    return x[tuple(slice(0, p.evaluate(sizes)) if p is not None else slice(None)
                   for p in polys)]
