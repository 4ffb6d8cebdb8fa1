"""Batched dots that are not worth one small GEMM per batch element become bigger operations.

`vmap` turns every dot of a per-example function into a `dot_general` with batch dimensions,
which the backends run as one GEMM per batch element: `vmap(grad(f))` over 4096 examples of a
logistic regression makes 4096 outer products of one row and one column. Afterwards, in every
computation (same parameters, same results, up to the order of floating-point sums):

- a `reduce_sum` over batch dimensions of a batched dot read by nothing else is one dot that
  contracts those dimensions too (per-example gradients summed: `sum_b x_b g_b^T = X^T G`);
- a batched dot whose operand is a `broadcast_in_dim` adding exactly the batch dimensions (a
  matrix shared by every batch element) reads the matrix itself, the other operand's batch
  dimensions becoming free rows: one GEMM `(B*M, K) @ (K, N)`, transposed only if the batch
  dimensions do not come out first;
- a batched dot whose contraction has one element (an outer product per batch element) is an
  elementwise multiply of two broadcasts, and a batched dot of vectors (one free element on
  each side), or a small batched matrix-vector product, a multiply and a `reduce_sum` over
  the contraction: elementwise work the fusion pass merges with its neighbours, instead of
  one library call per batch element.

Dots with a `preferred_element_type` other than their operands' dtype, and of non-numeric
dtypes, are left alone. The layout pass, after this one, puts the new dots' operands in GEMM
order and merges the transposes and reshapes this pass emits.
"""
from __future__ import annotations

import math

import numpy as np

from ops import core
from ops.elementwise import mul
from ops.linalg import dot_general
from ops.reduction import reduce_sum
from ops.shape import broadcast_in_dim, reshape, transpose

from .. import ir
from .dce import dce
from .rebuild import Copier, rebuild

# A batched matrix-vector product becomes multiply + reduce when each batch element's matrix
# has at most this many elements: below it one library call per element costs more than the
# arithmetic, above it GEMV's blocking beats a strided reduction kernel.
SMALL_MATVEC_ELEMENTS = 4096


def fold_batched_dots(module: ir.Module) -> ir.Module:
    changed = False
    for comp in list(module.computations.values()):
        if any(_batched(i) or _row_matvec(i) for i in comp.instructions):
            users = {}
            for i in comp.instructions:
                for o in i.operands:
                    users.setdefault(o.id, []).append(i)
            for o in (comp.root.operands if comp.root.opcode == ir.TUPLE else [comp.root]):
                users.setdefault(o.id, []).append(None)   # read by the caller
            rebuild(module, comp, lambda trace, u=users: _Folder(trace, u))
            changed = True
    return dce(module) if changed else module


def _batched(instr):
    if instr.opcode != "dot_general":
        return False
    dtype = instr.shape.dtype
    pet = instr.attrs.get("preferred_element_type")
    if dtype.kind not in "fiu" or (pet is not None and np.dtype(pet) != dtype):
        return False
    return bool(instr.attrs["dimension_numbers"][1][0])


def _dims(instr):
    """The dot's dimension numbers, non-negative: (lc, rc, lb, rb) as tuples."""
    (lc, rc), (lb, rb) = instr.attrs["dimension_numbers"]
    lr, rr = len(instr.operands[0].shape.dims), len(instr.operands[1].shape.dims)
    return (tuple(d % lr for d in lc), tuple(d % rr for d in rc),
            tuple(d % lr for d in lb), tuple(d % rr for d in rb))


def _row_matvec(instr):
    """An unbatched matrix @ vector contracting the matrix's trailing axes (`x @ w` with w a
    vector): a GEMV, which reads the matrix once and fuses with nothing. As a multiply and a
    sum over each row it joins its producers and consumers in one row kernel (`vmap(grad)`
    of a linear model reads each example's row once, not twice)."""
    if instr.opcode != "dot_general" or _batched(instr):
        return False
    dtype = instr.shape.dtype
    pet = instr.attrs.get("preferred_element_type")
    if dtype.kind != "f" or (pet is not None and np.dtype(pet) != dtype):
        return False
    lc, rc, lb, rb = _dims(instr)
    ls, rs = instr.operands[0].shape.dims, instr.operands[1].shape.dims
    if not all(type(d) is int for d in ls + rs):
        return False
    trailing = tuple(range(len(ls) - len(lc), len(ls)))
    return (bool(lc) and sorted(lc) == list(trailing) and
            math.prod(rs[d] for d in _free(len(rs), rc)) == 1)


def _vector_dot(instr):
    """One free element on each side: each batch element's product is a dot of vectors."""
    lc, rc, lb, rb = _dims(instr)
    ls, rs = instr.operands[0].shape.dims, instr.operands[1].shape.dims
    return (math.prod(ls[d] for d in _free(len(ls), lc, lb)) == 1 and
            math.prod(rs[d] for d in _free(len(rs), rc, rb)) == 1)


def _free(rank, *taken):
    used = set().union(*taken)
    return tuple(d for d in range(rank) if d not in used)


class _Folder(Copier):
    def __init__(self, trace, users):
        super().__init__(trace)
        self.users = users

    def apply(self, instr, values):
        if instr.opcode == "reduce_sum":
            out = self._sum_of_dot(instr, values[0])
            if out is not None:
                return out
        if _row_matvec(instr):
            return self._row_sums(instr, *values)
        if instr.opcode == "dot_general" and _batched(instr) and not self._summed(instr):
            lhs, rhs = values
            # A dot of two vectors per element stays elementwise even with a shared operand:
            # as multiply + row sum it fuses with its consumers (one pass over the rows),
            # where the shared-operand GEMM would be a matrix-vector product on its own.
            if _vector_dot(instr):
                out = self._elementwise(instr, lhs, rhs)
            else:
                out = self._shared_operand(instr, lhs, rhs)
                if out is None:
                    out = self._elementwise(instr, lhs, rhs)
            if out is not None:
                return out
        return self.copy(instr, values)

    # -- sums over the batch --------------------------------------------------------------

    def _summed(self, dot):
        """Is `dot` read only by one reduce_sum over some of its batch dimensions?"""
        users = self.users.get(dot.id, [])
        if len(users) != 1 or users[0] is None or users[0].opcode != "reduce_sum":
            return False
        nb = len(dot.attrs["dimension_numbers"][1][0])
        return any(a % len(dot.shape.dims) < nb for a in users[0].attrs["axes"])

    def _sum_of_dot(self, instr, value):
        dot = instr.operands[0]
        if dot.opcode != "dot_general" or not _batched(dot) or not self._summed(dot):
            return None
        rank = len(dot.shape.dims)
        axes = sorted({a % rank for a in instr.attrs["axes"]})
        lc, rc, lb, rb = _dims(dot)
        summed = [a for a in axes if a < len(lb)]
        kept = [a for a in range(len(lb)) if a not in summed]
        dn = ((lc + tuple(lb[a] for a in summed), rc + tuple(rb[a] for a in summed)),
              (tuple(lb[a] for a in kept), tuple(rb[a] for a in kept)))
        new_dot = self.trace.to_instr(value)   # the dot as copied: its operands are ours
        lhs, rhs = (self.wrap(o) for o in new_dot.operands)
        out = _dot(lhs, rhs, dn, _params(dot))
        # The new dot's dims are the old ones without `summed`; sum what else was summed.
        rest = [a - sum(1 for s in summed if s < a) for a in axes if a >= len(lb)]
        return reduce_sum(out, axes=tuple(rest)) if rest else out

    # -- a matrix shared by every batch element ---------------------------------------------

    def _shared_operand(self, dot, lhs, rhs):
        lc, rc, lb, rb = _dims(dot)
        for side in (1, 0):
            b = self.trace.to_instr((lhs, rhs)[side])
            batch, contract = (rb, rc) if side else (lb, lc)
            shared = _shared_source(b, batch)
            if shared is None:
                continue
            src, where = shared   # where[d]: the source dim of the operand's dim d
            other = (lhs, rhs)[1 - side]
            o_contract = (lc, rc)[1 - side]
            s_contract = tuple(where[d] for d in contract)
            if side:
                dn = ((o_contract, s_contract), ((), ()))
                out = _dot(other, self.wrap(src), dn, _params(dot))
            else:
                dn = ((s_contract, o_contract), ((), ()))
                out = _dot(self.wrap(src), other, dn, _params(dot))
            return transpose_to_dot_order(out, dot, side, where)
        return None

    # -- outer products and small matrix-vector products -----------------------------------

    def _row_sums(self, dot, lhs, rhs):
        lc, rc, _, _ = _dims(dot)
        ls, rs = dot.operands[0].shape.dims, dot.operands[1].shape.dims
        lf = _free(len(ls), lc)
        # The vector laid out along the matrix's contracted axes, broadcast over its rows.
        order = [rc[lc.index(d)] for d in sorted(lc)]
        rest = [d for d in range(len(rs)) if d not in rc]       # size-1 free axes
        v = reshape(transpose(rhs, permutation=tuple(order + rest)),
                    new_sizes=tuple(ls[d] for d in sorted(lc)))
        v = broadcast_in_dim(v, shape=tuple(ls), broadcast_dimensions=tuple(sorted(lc)))
        out = reduce_sum(mul(lhs, v), axes=tuple(sorted(lc)))
        return reshape(out, new_sizes=tuple(dot.shape.dims)) if \
            tuple(ls[d] for d in lf) != tuple(dot.shape.dims) else out

    def _elementwise(self, dot, lhs, rhs):
        lc, rc, lb, rb = _dims(dot)
        ls, rs = dot.operands[0].shape.dims, dot.operands[1].shape.dims
        lf, rf = _free(len(ls), lc, lb), _free(len(rs), rc, rb)
        k = math.prod(ls[d] for d in lc)
        m, n = math.prod(ls[d] for d in lf), math.prod(rs[d] for d in rf)
        if not (k == 1 or (m == 1 and n == 1) or
                (min(m, n) == 1 and k * max(m, n) <= SMALL_MATVEC_ELEMENTS)):
            return None
        nb, nlf, nrf, nc = len(lb), len(lf), len(rf), len(lc)
        full = tuple(dot.shape.dims) + tuple(ls[d] for d in lc)
        contract = tuple(range(nb + nlf + nrf, nb + nlf + nrf + nc))
        a = broadcast_in_dim(transpose(lhs, permutation=lb + lf + lc), shape=full,
                             broadcast_dimensions=tuple(range(nb + nlf)) + contract)
        b = broadcast_in_dim(transpose(rhs, permutation=rb + rf + rc), shape=full,
                             broadcast_dimensions=tuple(range(nb)) +
                             tuple(range(nb + nlf, nb + nlf + nrf)) + contract)
        prod = mul(a, b)
        if not contract:
            return prod
        if k == 1:
            return reshape(prod, new_sizes=tuple(dot.shape.dims))
        return reduce_sum(prod, axes=contract)


def _dot(lhs, rhs, dn, params):
    """dot_general without the contracting pairs of size 1 (reshaped away: they only add
    nothing), which would otherwise split a GEMM's contraction into non-adjacent axes."""
    (lc, rc), (lb, rb) = dn
    unit = [j for j, d in enumerate(lc) if core.get_aval(lhs).shape[d] == 1]
    if unit and (len(unit) < len(lc) or lb):
        keep = [j for j in range(len(lc)) if j not in unit]
        dropl, dropr = {lc[j] for j in unit}, {rc[j] for j in unit}
        lhs, lmap = _squeeze(lhs, dropl)
        rhs, rmap = _squeeze(rhs, dropr)
        dn = ((tuple(lmap[lc[j]] for j in keep), tuple(rmap[rc[j]] for j in keep)),
              (tuple(lmap[d] for d in lb), tuple(rmap[d] for d in rb)))
    return dot_general(lhs, rhs, dimension_numbers=dn, **params)


def _squeeze(x, drop):
    """`x` without its (size-1) axes `drop`, and {old axis: new axis} of the others."""
    dims = core.get_aval(x).shape
    kept = [d for d in range(len(dims)) if d not in drop]
    return reshape(x, new_sizes=tuple(dims[d] for d in kept)), {d: i for i, d in enumerate(kept)}


def _params(dot):
    return {k: v for k, v in dot.attrs.items() if k != "dimension_numbers"}


def _shared_source(b, batch):
    """If `b` is a broadcast_in_dim that adds exactly the dimensions `batch` (every other
    dimension comes whole from its operand): (operand, {b's dim: operand's dim})."""
    if b.opcode != "broadcast_in_dim" or not batch:
        return None
    src = b.operands[0]
    bd = tuple(b.attrs["broadcast_dimensions"])
    if set(bd) & set(batch) or len(bd) + len(batch) != len(b.shape.dims):
        return None
    if any(src.shape.dims[i] != b.shape.dims[d] for i, d in enumerate(bd)):
        return None
    return src, {d: i for i, d in enumerate(bd)}


def transpose_to_dot_order(out, dot, side, where):
    """`out`, the unbatched dot of the other operand with the shared matrix, in `dot`'s
    output order (batch, lhs free, rhs free)."""
    lc, rc, lb, rb = _dims(dot)
    ls, rs = dot.operands[0].shape.dims, dot.operands[1].shape.dims
    lf, rf = _free(len(ls), lc, lb), _free(len(rs), rc, rb)
    # Name every output dim of `dot`: ("b", i) the i-th batch dim, ("l", d) / ("r", d) free.
    want = [("b", i) for i in range(len(lb))] + [("l", d) for d in lf] + [("r", d) for d in rf]
    other_batch = rb if side == 0 else lb
    other_contract = rc if side == 0 else lc
    other_rank = len(rs) if side == 0 else len(ls)
    other_tag = "r" if side == 0 else "l"
    other_dims = [(("b", other_batch.index(d)) if d in other_batch else (other_tag, d))
                  for d in range(other_rank) if d not in other_contract]
    shared_tag = "l" if side == 0 else "r"
    shared_free = lf if side == 0 else rf
    shared_dims = [(shared_tag, d) for d in sorted(shared_free, key=lambda d: where[d])]
    have = shared_dims + other_dims if side == 0 else other_dims + shared_dims
    perm = tuple(have.index(t) for t in want)
    if perm == tuple(range(len(perm))):
        return out
    return transpose(out, permutation=perm)
