"""Reductions as loops: one output element's accumulation over the reduced axes.

Sums and products may reassociate (that is what lets them vectorize); max/min propagate NaN
like NumPy (`llvm.maximum`/`llvm.minimum`); argmax/argmin keep the first maximal element and
the first NaN.
"""
from __future__ import annotations

from .emitter import (F16, F32, I64, close_loop, const, entry_alloca, i64, intrinsic,
                           open_loop, value_type)

REASSOC = ("reassoc",)


def initial_value(op, dtype):
    k = dtype.kind
    if op == "reduce_sum":
        return 0
    if op == "reduce_prod":
        return 1
    if op == "reduce_and":
        return True
    if op == "reduce_or":
        return False
    import numpy as np
    if k == "f":
        return -np.inf if op == "reduce_max" else np.inf
    if k == "b":
        return op == "reduce_min"
    info = np.iinfo(dtype)
    return info.min if op == "reduce_max" else info.max


def combine_values(b, op, acc, v, dtype):
    k = dtype.kind
    if k == "b" or op in ("reduce_and", "reduce_or"):
        return b.or_(acc, v) if op in ("reduce_sum", "reduce_or", "reduce_max") else \
            b.and_(acc, v)
    if op == "reduce_sum":
        return b.fadd(acc, v, flags=REASSOC) if k == "f" else b.add(acc, v)
    if op == "reduce_prod":
        return b.fmul(acc, v, flags=REASSOC) if k == "f" else b.mul(acc, v)
    if k == "f":
        name = "llvm.maximum" if op == "reduce_max" else "llvm.minimum"
    else:
        name = {"i": "llvm.smax", "u": "llvm.umax"}[k] if op == "reduce_max" else \
            {"i": "llvm.smin", "u": "llvm.umin"}[k]
    fn = intrinsic(b.module, name, acc.type, [acc.type, acc.type], [acc.type])
    return b.call(fn, [acc, v])


def operand_index(out_index, red_axes, red_vars, rank):
    it_out, it_red = iter(out_index), iter(red_vars)
    return [next(it_red) if d in red_axes else next(it_out) for d in range(rank)]


def bounded_operand(em, x, axes, identity):
    """Loop bounds instead of a mask: `x` = select(iota_a < n, y, identity) with `a` a reduced
    axis (the padding mask of a bucketed program, xla_like.passes.masking) reduces `y` over
    positions < n along `a` only, so the padding is never read. A generator in the element
    emitter's manner (it requests `n`); returns (operand, {axis: runtime extent}), ({}) when
    `x` is no such mask."""
    if x.opcode != "select":
        return x, {}
    pred, y, fill = x.operands
    if pred.opcode != "lt" or not _is_fill(fill, identity, x.shape.dtype):
        return x, {}
    pos, lim = pred.operands
    if pos.opcode != "iota" or lim.opcode != "broadcast_in_dim" or lim.operands[0].shape.dims:
        return x, {}
    a = pos.attrs["dimension"]
    if a not in axes or pos.shape.dtype.kind not in "iu":
        return x, {}
    b = em.b
    n = yield lim.operands[0], []
    if n.type.width < 64:
        n = b.sext(n, I64) if pos.shape.dtype.kind == "i" else b.zext(n, I64)
    n = b.select(b.icmp_signed("<", n, i64(0)), i64(0), n)
    n = b.select(b.icmp_signed(">", n, i64(x.shape.dims[a])), i64(x.shape.dims[a]), n)
    return y, {a: n}


def _is_fill(fill, identity, dtype):
    import numpy as np
    while fill.opcode == "broadcast_in_dim":
        fill = fill.operands[0]
    if fill.opcode != "constant" or fill.shape.dims:
        return False
    v = np.asarray(fill.attrs["value"])
    return bool(v == np.asarray(identity).astype(dtype))


def emit_reduction(em, instr, out_index, axes):
    """The loop nest reducing `instr`'s operand over `axes` at `out_index`: a generator in the
    element emitter's manner (it suspends inside the innermost body while the operand's element
    is emitted)."""
    b = em.b
    x = instr.operands[0]
    rank = len(x.shape.dims)
    op = instr.opcode
    if op in ("argmax", "argmin"):
        return (yield from _emit_arg(em, instr, out_index, axes[0]))
    dtype = x.shape.dtype
    t = value_type(dtype)
    acc_t = F32 if t == F16 else t
    slot = entry_alloca(b, acc_t, name=op)
    init = const(dtype, initial_value(op, dtype))
    b.store(b.fpext(init, F32) if t == F16 else init, slot)
    x, bounds = yield from bounded_operand(em, x, axes, initial_value(op, dtype))
    loops = []
    for a in axes:
        hi = bounds.get(a, x.shape.dims[a])
        loops.append(open_loop(b, i64(0), i64(hi) if isinstance(hi, int) else hi, name="r"))
    em.push_scope()
    v = yield x, operand_index(out_index, axes, [lp.i for lp in loops], rank)
    if t == F16:
        v = b.fpext(v, F32)
    b.store(combine_values(b, op, b.load(slot), v, dtype), slot)
    em.pop_scope()
    for lp in reversed(loops):
        close_loop(b, lp)
    r = b.load(slot)
    return b.fptrunc(r, F16) if t == F16 else r


def _emit_arg(em, instr, out_index, axis):
    """argmax/argmin along `axis`: first extreme wins, and the first NaN beats everything."""
    b = em.b
    x = instr.operands[0]
    dtype = x.shape.dtype
    t = value_type(dtype)
    rank = len(x.shape.dims)
    fill = initial_value("reduce_max" if instr.opcode == "argmax" else "reduce_min", dtype)
    x, bounds = yield from bounded_operand(em, x, (axis,), fill)
    best = entry_alloca(b, t, name="best")
    best_i = entry_alloca(b, I64, name="best_i")
    first = yield x, operand_index(out_index, (axis,), [i64(0)], rank)
    b.store(first, best)
    b.store(i64(0), best_i)
    is_max = instr.opcode == "argmax"

    loop = open_loop(b, i64(1), bounds.get(axis, i64(x.shape.dims[axis])), name="a")
    i = loop.i
    em.push_scope()
    v = yield x, operand_index(out_index, (axis,), [i], rank)
    cur = b.load(best)
    if dtype.kind == "f":
        better = b.fcmp_ordered(">" if is_max else "<", v, cur)
        cur_nan = b.fcmp_unordered("uno", cur, cur)
        v_nan = b.fcmp_unordered("uno", v, v)
        better = b.and_(b.not_(cur_nan), b.or_(better, v_nan))
    elif dtype.kind == "b":
        better = b.and_(v, b.not_(cur)) if is_max else b.and_(cur, b.not_(v))
    else:
        cmp = b.icmp_signed if dtype.kind == "i" else b.icmp_unsigned
        better = cmp(">" if is_max else "<", v, cur)
    b.store(b.select(better, v, cur), best)
    b.store(b.select(better, i, b.load(best_i)), best_i)
    em.pop_scope()
    close_loop(b, loop)
    out_t = value_type(instr.shape.dtype)
    r = b.load(best_i)
    return b.trunc(r, out_t) if out_t.width < 64 else r
