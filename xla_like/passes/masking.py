"""Masking: a bucketed trace's program made exact for every true size of its bucket.

A bucketed specialization runs at the bucket's capacity (say 64 rows) for any true size n in
its range (33..64); the entry's first parameters hold the true sizes. Its shapes, as traced,
still carry `Dim`s (ops.dims) on every axis whose extent is a true size, so this pass knows
which axes hold padding. The invariant it keeps: along every such axis the valid data is the
prefix of length n, and what lies beyond never reaches a valid position. Most instructions
keep it by themselves (elementwise math, broadcasts, transposes, dots over other axes). The
ones that mix positions along a padded axis are rewritten:

- reductions, arg-reductions, reversed cumulative scans and sorts along it read the padding
  replaced by a value that cannot change the answer (0 for sums, -inf for max, NaN or the
  largest value for sorts, which therefore leave it at the end);
- dot_general contracting it reads zeros there in both operands;
- concatenation along it places each operand at the true end of the previous one;
- reshapes are accepted when the padded axis leads the axes it merges with (the valid data
  stays a prefix).

Anything else that touches a padded axis (reversal, padding, gathers and scatters over it,
control flow) raises SizeDependentError, and `jit` compiles that call for its exact shapes.
At the end every Dim becomes a plain int: later passes and the backends see an ordinary
module with static shapes.
"""
from __future__ import annotations

import math

import numpy as np

from ops.dtypes import kind as _kind
from ops import dtypes
from ops.core import PRIMITIVES
from ops.dims import Dim, Poly, SizeDependentError, has_dim, plain

from .. import ir
from .inline import inline_calls

def keeps_prefix(op: str) -> bool:
    """Does `op` keep the valid data a prefix along every padded axis by itself? Elementwise
    ops and ops reading only at the output's own position (`Primitive.keeps_positions`:
    transposes, broadcasts, iota), and the structural opcodes."""
    if op in ir.STRUCTURAL:
        return True
    prim = PRIMITIVES.get(op)
    return prim is not None and (prim.elementwise or prim.keeps_positions)


def padded_axes(shape) -> dict[int, Poly]:
    """{axis: true-size polynomial} of the axes of `shape` whose extent is symbolic."""
    if isinstance(shape, tuple):
        return {}
    return {a: d.poly for a, d in enumerate(shape.dims) if type(d) is Dim}


def mask_padding(module: ir.Module) -> ir.Module:
    """Rewrite the entry of a bucketed trace (its first `module.num_sizes` parameters are the
    true sizes) so that padding never reaches valid data; then make every shape static."""
    num_sizes = module.num_sizes
    module = inline_calls(module)
    comp = module.entry
    m = _Masker(module, comp, num_sizes)
    original = list(comp.instructions)
    for instr in original:
        m.visit(instr)
    comp.instructions = m.out
    # The program's own values may skip their padded rows; the masks this pass built (and
    # what they read as fill) must compute them.
    hinted = ({i.id for i in original} | m.rows_free) - m.must_fill
    originals = {i.id for i in original} - m.must_fill
    for c in module.computations.values():
        if c is not comp:
            _check_static(c)
        for instr in c.instructions:
            own = c is comp and instr.opcode not in (ir.PARAMETER, ir.CONSTANT)
            hint = _row_hint(instr.shape, m.sizes) if own and instr.id in hinted else None
            axes = None
            if own and instr.id in originals:
                axes = _axis_hints(instr.shape, m.sizes, set(padded_axes(instr.shape)))
            elif own and instr.id in m.mask_axes:
                free, via_dot = m.mask_axes[instr.id]
                axes = _axis_hints(instr.shape, m.sizes, free, via_dot)
            instr.shape = _static_shape(instr.shape, hint, axes)
            if has_dim(instr.attrs):
                instr.attrs = plain(instr.attrs)
    return module


def _axis_hints(shape, sizes, free, via_dot=frozenset()):
    """`ir.Shape.valid_dims` of a value: per axis, (parameter index, coefficient, constant,
    read by a dot) for a padded axis of a*n + b positions whose padding nothing reads (`free`)
    or only a dot contracting it (`via_dot`: the backend may skip computing it only if that
    dot stops at the true size too), else None. None when no axis has one."""
    if isinstance(shape, tuple):
        return None
    out, any_hint = [], False
    for a, d in enumerate(shape.dims):
        h = None
        if type(d) is Dim and (a in free or a in via_dot):
            terms = d.poly.terms
            monos = [m for m in terms if m]
            if len(monos) == 1 and len(monos[0]) == 1:
                h = (sizes[monos[0][0]].attrs["index"], terms[monos[0]], terms.get((), 0),
                     a in via_dot)
                any_hint = True
        out.append(h)
    return tuple(out) if any_hint else None


def _row_hint(shape, sizes):
    """(parameter index, coefficient, constant) of a leading axis of a*n + b rows."""
    if isinstance(shape, tuple) or not shape.dims or type(shape.dims[0]) is not Dim:
        return None
    terms = shape.dims[0].poly.terms
    monos = [m for m in terms if m]
    if len(monos) != 1 or len(monos[0]) != 1:
        return None
    return (sizes[monos[0][0]].attrs["index"], terms[monos[0]], terms.get((), 0))


def _static_shape(shape, hint=None, axes=None):
    if isinstance(shape, tuple):
        return tuple(_static_shape(s) for s in shape)
    if any(type(d) is Dim for d in shape.dims) or hint or axes:
        out = ir.Shape(shape.dtype, [int(d) for d in shape.dims], hint)
        out.valid_dims = axes
        return out
    return shape


def _check_static(comp):
    for instr in comp.instructions:
        if _any_dim(instr.shape) or has_dim(instr.attrs):
            _unsupported(instr, "inside a called computation")


def _any_dim(shape):
    if isinstance(shape, tuple):
        return any(_any_dim(s) for s in shape)
    return any(type(d) is Dim for d in shape.dims)


def _unsupported(instr, why=""):
    loc = f" at {instr.location}" if instr.location else ""
    raise SizeDependentError(
        f"{instr.opcode}{loc} {why or 'moves data along a dynamic axis'}; "
        "bucketing does not cover it", )


class _Masker:
    def __init__(self, module, comp, num_sizes):
        self.module = module
        self.comp = comp
        self.out: list[ir.Instruction] = []
        self.sizes = comp.parameters[:num_sizes]
        self._size_cache: dict = {}
        # Program values rewritten into ones whose padded rows are read: a concatenation
        # turned into dynamic_update_slice.
        self.must_fill: set = set()
        # Masks along other axes than the leading one: their padded rows are not read either.
        self.rows_free: set = set()
        # Each mask: (padded axes it does not mask, masked axes only a float dot contracts).
        self.mask_axes: dict = {}

    # -- building instructions ---------------------------------------------------------------

    def emit(self, opcode, operands, shape, attrs=None, location=""):
        instr = ir.Instruction(self.module.fresh_id(), opcode, operands, shape, attrs or {},
                               (), location)
        self.out.append(instr)
        return instr

    def scalar(self, value, dtype):
        return self.emit(ir.CONSTANT, [], ir.Shape(dtype, ()),
                         {"value": np.array(value, dtype)})

    def size(self, poly: Poly):
        """An s64[] instruction computing `poly` from the size parameters."""
        key = poly
        hit = self._size_cache.get(key)
        if hit is not None:
            return hit
        s64 = ir.Shape(dtypes.int64, ())
        total = None
        for mono, coeff in sorted(poly.terms.items()):
            term = None
            for s in mono:
                p = self.sizes[s]
                term = p if term is None else self.emit("mul", [term, p], s64)
            if term is None:
                term = self.scalar(coeff, dtypes.int64)
            elif coeff != 1:
                term = self.emit("mul", [term, self.scalar(coeff, dtypes.int64)], s64)
            total = term if total is None else self.emit("add", [total, term], s64)
        if total is None:
            total = self.scalar(0, dtypes.int64)
        self._size_cache[key] = total
        return total

    def broadcast(self, scalar, shape):
        return self.emit("broadcast_in_dim", [scalar],
                         ir.Shape(scalar.shape.dtype, shape.dims),
                         {"shape": shape.dims, "broadcast_dimensions": ()})

    def valid(self, shape, axes: dict[int, Poly]):
        """pred[shape]: true at positions inside the true sizes along `axes`."""
        pred = None
        for axis, poly in sorted(axes.items()):
            pos = self.emit("iota", [], ir.Shape(dtypes.int64, shape.dims),
                            {"dtype": dtypes.int64, "shape": shape.dims, "dimension": axis})
            n = self.broadcast(self.size(poly), ir.Shape(dtypes.int64, shape.dims))
            lt = self.emit("lt", [pos, n], ir.Shape(dtypes.bool_, shape.dims))
            pred = lt if pred is None else \
                self.emit("and", [pred, lt], ir.Shape(dtypes.bool_, shape.dims))
        return pred

    def masked(self, x, axes, fill, dot=False):
        """`x` with the padding along `axes` replaced by `fill` (a name of a value). `dot`:
        the mask feeds a float dot contracting `axes`, which the CPU backend's GEMM stops at
        the true size (so it may leave the padding of `axes` unwritten, see _axis_hints)."""
        if not axes:
            return x
        value = _fill_value(fill, x.shape.dtype)
        f = self.broadcast(self.scalar(value, x.shape.dtype), x.shape)
        sel = self.emit("select", [self.valid(x.shape, axes), x, f], x.shape,
                        location=x.location)
        if 0 not in axes:
            self.rows_free.add(sel.id)   # its fill lies in valid rows only
        self.mask_axes[sel.id] = (set(padded_axes(x.shape)) - set(axes),
                                  set(axes) if dot else set())
        return sel

    # -- the rules ---------------------------------------------------------------------------

    def visit(self, instr):
        op = instr.opcode
        touched = bool(padded_axes(instr.shape) if not isinstance(instr.shape, tuple)
                       else any(padded_axes(s) for s in instr.shape)) or \
            any(padded_axes(o.shape) for o in instr.operands)
        if not touched or keeps_prefix(op):
            self.out.append(instr)
            return
        rule = getattr(self, "rule_" + op, None) or self._reduction_rule(op)
        if rule is None:
            _unsupported(instr)
        rule(instr)
        self.out.append(instr)

    def _reduction_rule(self, op):
        """The rule of a reduction, by its kind (`Primitive.reduction` names its fill)."""
        prim = PRIMITIVES.get(op)
        if prim is None or prim.reduction is None:
            return None
        if prim.cumulative:
            return self._cumulative
        return self._arg_reduce if prim.arg_reduction else self._reduce

    def _along(self, x, axes):
        pads = padded_axes(x.shape)
        return {a: pads[a] for a in axes if a in pads}

    def _reduce(self, instr):
        x = instr.operands[0]
        along = self._along(x, instr.attrs["axes"])
        if along:
            fill = PRIMITIVES[instr.opcode].reduction
            instr.operands = [self.masked(x, along, fill)] + instr.operands[1:]

    def _arg_reduce(self, instr):
        # The padding holds what never wins (-inf for argmax), so the answer is a valid index.
        x = instr.operands[0]
        along = self._along(x, [instr.attrs["axis"]])
        if along:
            instr.operands = [self.masked(x, along, PRIMITIVES[instr.opcode].reduction)]

    def _cumulative(self, instr):
        # A forward scan's valid prefix reads only the valid prefix; a reversed one starts
        # in the padding, so that must hold the operation's identity.
        if instr.attrs.get("reverse"):
            x = instr.operands[0]
            along = self._along(x, [instr.attrs["axis"]])
            if along:
                instr.operands = [self.masked(x, along, PRIMITIVES[instr.opcode].reduction)]

    def rule_sort(self, instr):
        # Stable sort: padding filled with what sorts last goes after every valid element
        # (NaN after a valid NaN, the largest value after a valid largest value).
        d = instr.attrs["dimension"] % instr.operands[0].shape.rank
        nk = instr.attrs.get("num_keys", 1)
        ops = list(instr.operands)
        for i in range(nk):
            along = self._along(ops[i], [d])
            if along:
                ops[i] = self.masked(ops[i], along, "last")
        instr.operands = ops

    def rule_dot_general(self, instr):
        (lc, rc), _ = instr.attrs["dimension_numbers"]
        lhs, rhs = instr.operands[:2]
        # The shape rule made contracted sizes equal, so both sides are padded alike. Zeros
        # in both: padding holding inf or NaN would otherwise make 0 * inf = NaN.
        la, ra = self._along(lhs, lc), self._along(rhs, rc)
        if la or ra:
            dt = instr.shape.dtype
            gemm = _kind(dt) == "f" and dt.itemsize in (4, 8) and len(lc) == 1 and \
                lhs.shape.dtype == dt and rhs.shape.dtype == dt
            instr.operands = [self.dot_operand(lhs, la, gemm),
                              self.dot_operand(rhs, ra, gemm)]

    def dot_operand(self, x, axes, gemm):
        """`x` zero-masked along `axes` for a dot contracting them. A transpose (`x @ y.T`) is
        masked before it, so that `passes/layout.py` still folds it into the dot's dimension
        numbers as in the exact program: the dot then reads the mask of y, which the CPU
        backend reads in place (`plan.planner`'s mask views) instead of a transposed copy."""
        if not axes or not gemm or x.opcode != "transpose":
            return self.masked(x, axes, "zero", gemm)
        perm = x.attrs["permutation"]
        y = self.masked(x.operands[0], {perm[a]: p for a, p in axes.items()}, "zero", gemm)
        return self.emit("transpose", [y], x.shape, dict(x.attrs), location=x.location)

    def rule_reshape(self, instr):
        if not _reshape_keeps_prefix(instr.operands[0].shape.dims, instr.shape.dims):
            _unsupported(instr, "merges or splits a dynamic axis that does not lead the "
                                "axes it is merged with")

    def rule_slice(self, instr):
        x = instr.operands[0]
        starts, limits = instr.attrs["start_indices"], instr.attrs["limit_indices"]
        strides = instr.attrs.get("strides") or (1,) * len(starts)
        if any(type(s) is Dim for s in starts) and all(st == 1 for st in strides) and all(
                type(s) is not Dim or type(lim - s) is not Dim
                for s, lim in zip(starts, limits)):
            # x[-1], x[n-3:]: a window of static size at a position the true size gives.
            zero = self.scalar(0, dtypes.int64)
            instr.opcode = "dynamic_slice"
            instr.operands = [x] + [self.size(s.poly) if type(s) is Dim else
                                    (self.scalar(s, dtypes.int64) if s else zero)
                                    for s in starts]
            instr.attrs = {"slice_sizes": tuple(lim - s for s, lim in zip(starts, limits))}
            return
        for a, poly in padded_axes(x.shape).items():
            s, lim, st = starts[a], limits[a], strides[a]
            if type(s) is Dim or st != 1:
                _unsupported(instr, "starts at a size-dependent position or strides along "
                                    "a dynamic axis")
            if type(lim) is Dim:
                continue                        # x[s:n-k] keeps the prefix (shifted by s)
            if type(lim) is not Dim and lim <= x.shape.dims[a].table.bounds(poly)[0]:
                continue                        # a static window inside every true size
            _unsupported(instr, "ends at a size-dependent position")

    def rule_concatenate(self, instr):
        d = instr.attrs["dimension"]
        ops = instr.operands
        if not any(type(o.shape.dims[d]) is Dim for o in ops):
            return                              # joined along a static axis
        # Each operand lands at the true end of those before it; later writes overwrite
        # the padding of earlier ones (the result's capacity fits every placement).
        acc = self.broadcast(self.scalar(0, instr.shape.dtype), instr.shape)
        offset = Poly.const(0)
        zero = self.scalar(0, dtypes.int64)
        for k, o in enumerate(ops):
            starts = [zero] * instr.shape.rank
            starts[d] = self.size(offset)
            if k == len(ops) - 1:
                self.must_fill.add(instr.id)
                instr.opcode = "dynamic_update_slice"
                instr.operands = [acc, o] + starts
                instr.attrs = {}
                return
            acc = self.emit("dynamic_update_slice", [acc, o] + starts, instr.shape,
                            location=instr.location)
            offset = offset + Poly.of(o.shape.dims[d])

    def rule_pad(self, instr):
        cfg = instr.attrs["padding_config"]
        for a in padded_axes(instr.operands[0].shape):
            if any(cfg[a]):
                _unsupported(instr, "pads a dynamic axis")

    def rule_rev(self, instr):
        if any(a in padded_axes(instr.operands[0].shape) for a in instr.attrs["dimensions"]):
            _unsupported(instr, "reverses a dynamic axis")

    def rule_gather(self, instr):
        # Gathering rows of a static table at positions that come from a padded array (an
        # embedding lookup) keeps the prefix: padded positions only read some row.
        if padded_axes(instr.operands[0].shape) or \
                instr.attrs.get("mode", "clip") not in ("clip", "fill", "promise_in_bounds"):
            _unsupported(instr, "indexes into a dynamic axis")


def _reshape_keeps_prefix(src, dst) -> bool:
    """Whether reshaping `src` to `dst` (dims, Dims symbolic) keeps every valid region a
    prefix: the axes are grouped where their products agree, and within each group only the
    leading axis may be symbolic."""
    src = [d for d in src if not (type(d) is not Dim and d == 1)]
    dst = [d for d in dst if not (type(d) is not Dim and d == 1)]
    i = j = 0
    while i < len(src) or j < len(dst):
        if i >= len(src) or j >= len(dst):
            return False
        gs, gd = [src[i]], [dst[j]]
        i += 1
        j += 1
        ps, pd = Poly.of(gs[0]), Poly.of(gd[0])
        while ps != pd:
            # Grow the side whose product is smaller at capacity.
            if math.prod(map(int, gs)) < math.prod(map(int, gd)) and i < len(src):
                gs.append(src[i])
                ps = ps * Poly.of(src[i])
                i += 1
            elif j < len(dst):
                gd.append(dst[j])
                pd = pd * Poly.of(dst[j])
                j += 1
            elif i < len(src):
                gs.append(src[i])
                ps = ps * Poly.of(src[i])
                i += 1
            else:
                return False
        if any(type(d) is Dim for d in gs[1:]) or any(type(d) is Dim for d in gd[1:]):
            return False
    return True


def mask_only(comp) -> tuple | None:
    """(parameter index of x, {masked axis: parameter index of its bound}) when the kernel
    of `comp` (a fusion) does nothing but mask one parameter along some axes, as
    `_Masker.masked` builds it: `select(iota_a < n [and ...], x, fill)`, each bound n a
    scalar parameter, `fill` a broadcast constant, x of the result's shape and type; else
    None. A reader that never looks past n along those axes (a GEMM stopping at the true K:
    `plan.planner`'s mask views) can read x itself: inside the bounds the mask is x."""
    root = comp.root
    if isinstance(root.shape, tuple) or root.opcode != "select":
        return None
    pred, x, fill = root.operands
    if x.opcode != ir.PARAMETER or x.shape.dims != root.shape.dims or \
            x.shape.dtype != root.shape.dtype:
        return None
    while fill.opcode == "broadcast_in_dim":
        fill = fill.operands[0]
    if fill.opcode != ir.CONSTANT:
        return None
    axes, todo = {}, [pred]
    while todo:
        p = todo.pop()
        if p.opcode == "and":
            todo.extend(p.operands)
            continue
        if p.opcode != "lt":
            return None
        pos, lim = p.operands
        if pos.opcode != "iota" or lim.opcode != "broadcast_in_dim" or \
                lim.operands[0].opcode != ir.PARAMETER or lim.operands[0].shape.dims:
            return None
        a = pos.attrs["dimension"]
        if axes.setdefault(a, lim.operands[0].attrs["index"]) != lim.operands[0].attrs["index"]:
            return None
    return x.attrs["index"], axes


def _fill_value(name, dtype):
    dtype = np.dtype(dtype)
    if name == "zero":
        return np.zeros((), dtype)
    if name == "one":
        return np.ones((), dtype)
    if dtype == np.bool_:
        return np.bool_(name in ("highest", "last"))
    if _kind(dtype) == "f":
        if name == "last":
            return np.array(np.nan, dtype)
        return np.array(-np.inf if name == "lowest" else np.inf, dtype)
    info = np.iinfo(dtype)
    return np.array(info.min if name == "lowest" else info.max, dtype)
