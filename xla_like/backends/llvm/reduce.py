"""Reductions as loops: one output element's accumulation over the reduced axes.

Sums and products may reassociate (that is what lets them vectorize); max/min propagate NaN
like NumPy (`llvm.maximum`/`llvm.minimum`); argmax/argmin keep the first maximal element and
the first NaN.
"""
from __future__ import annotations

from llvmlite import ir as ll

from ops.dtypes import kind as _kind

from .emitter import (BF16, F16, F32, I1, I8, I32, I64, const, i64, intrinsic, round_bf16,
                      to_memory, value_type)
from .loops import close_loop, counted_loop, entry_alloca, open_loop

REASSOC = ("reassoc",)


def initial_value(op, dtype):
    k = _kind(dtype)
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
    k = _kind(dtype)
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
    if dtype == BF16:
        return round_bf16(b, r)   # a bfloat16 sum accumulates in float32, rounded once
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
    if _kind(dtype) == "f":
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


# --- reductions over leading axes: stream rows, keep a block of results on the stack ----------

# Rows a float sum or product adds into a block of partial results before adding that block
# into the running one: the rounding error grows like the number of blocks plus this, not
# like the number of rows (a sequential sum's).
ROW_BLOCK = 128


# Rows per block of a column reduction, by kernel function: a device's tuner installs its own
# lookup here (the CPU's `cpu.schedule`, whose tuned `row_block` is 0 for `ROW_BLOCK` and at
# least 2**62 for one pass without blocks); this stage imports no device.
row_block_of = None


# Reduced rows a reduction over leading axes reads per update of its partial results (the
# stack arrays of a block of columns). Over axis 0 of 4096x4096 float32 (Zen 4, one thread,
# bit-identical results: the rows are still combined in order): argmax 6.7 -> 3.4 ms, var (two
# such passes) 7.9-8.8 -> 5.4-6.0, sum 2.7-3.3 -> 2.6, max 3.2-3.5 -> 3.0.
ROW_GROUP = 4
# Smaller partial results stay in L1 and gain nothing: a (64, 1024, 256) sum over axis 1 (1 KiB
# of them) took 3.6 ms in groups against 1.7-2.2 one row at a time.
GROUP_MIN_BYTES = 16 << 10


def _bytes(ty) -> int:
    if isinstance(ty, ll.IntType):
        return ty.width // 8
    return {"half": 2, "float": 4, "double": 8}.get(str(ty), 8)


def _row_block(fn):
    tuned = row_block_of(fn) if row_block_of is not None else 0
    return tuned or ROW_BLOCK


def emit_column_reduction(em, comp, layout, out, lo, hi):
    """The units [lo, hi) of `layout` (`plan.kernel_shapes.ColumnLayout`) for the reduction
    root of `comp`: for each unit, every reduced position's row of its block of columns is
    read in order (contiguous when the operand is a parameter) and combined into a stack
    array of results, written to `out` at the end."""
    em.run(_column_steps(em, comp.root, layout, out, lo, hi))


def _column_steps(em, instr, L, out, lo, hi):
    b = em.b
    x = instr.operands[0]
    dims = x.shape.dims
    dtype = x.shape.dtype
    op = instr.opcode
    is_arg = op in ("argmax", "argmin")
    ident = initial_value(("reduce_max" if op == "argmax" else "reduce_min") if is_arg else op,
                          dtype)
    x, bounds = yield from bounded_operand(em, x, L.reduced, ident)
    t = value_type(dtype)
    acc_t = F32 if t == F16 else t
    slot_t = I8 if dtype.kind == "b" else acc_t        # bools live as bytes in the arrays
    arr = lambda ty, name: entry_alloca(b, ll.ArrayType(ty, L.width), name=name)  # noqa: E731
    acc = arr(slot_t, "acc")
    row_block = _row_block(b.function)
    tiled = not is_arg and _kind(dtype) == "f" and op in ("reduce_sum", "reduce_prod") and \
        row_block < 1 << 62
    tile = arr(slot_t, "tile") if tiled else None
    # The best row so far as 32 bits where every reduced position fits: half the index bytes
    # a column's compare-and-select stores, and lanes as wide as a float32's (a 4096x4096
    # argmax over axis 0 took 9.0 ms with 64-bit indices).
    n_static = 1
    for a in L.reduced:
        n_static *= dims[a]
    idx_t = I32 if n_static < 1 << 31 else I64
    best_i = arr(idx_t, "best_i") if is_arg else None

    def ptr(a, c):
        return b.gep(a, [i64(0), c], inbounds=True)

    def get(a, c):
        v = b.load(ptr(a, c))
        return b.trunc(v, I1) if v.type == I8 and dtype.kind == "b" else v

    def put(a, c, v):
        b.store(b.zext(v, I8) if v.type == I1 else v, ptr(a, c))

    def widen(v):
        return b.fpext(v, F32) if t == F16 else v

    ident_v = widen(const(dtype, ident))
    extents = [bounds.get(a, i64(dims[a])) for a in L.reduced]
    n_rows = extents[0]
    for e in extents[1:]:
        n_rows = b.mul(n_rows, e)

    unit = open_loop(b, lo, hi, name="unit")
    em.push_scope()
    o = b.udiv(unit.i, i64(L.blocks)) if L.blocks > 1 else unit.i
    blk = b.urem(unit.i, i64(L.blocks)) if L.blocks > 1 else i64(0)
    outer_idx = _split(b, o, L.outer)
    d_k = dims[L.block_axis]
    a0 = b.mul(blk, i64(L.t))
    a1 = b.add(a0, i64(L.t))
    a1 = b.select(b.icmp_signed("<", a1, i64(d_k)), a1, i64(d_k))
    width = b.mul(b.sub(a1, a0), i64(L.inner))

    def fill(a, v):
        counted_loop(b, i64(0), width, lambda c: put(a, c, v), name="fill")

    def row(r, combine, group=1):
        """Each element of reduced row `r` in this unit's block, passed to `combine(c, v, r)`;
        with `group` > 1, rows r .. r + group - 1 together: `combine(c, [v...], [r...])`."""
        em.push_scope()
        rows_ = [r] + [b.add(r, i64(j)) for j in range(1, group)]
        ridxs = [_split(b, rr, extents) for rr in rows_]
        k = L.block_axis
        col = open_loop(b, a0, a1, name="col")
        em.push_scope()
        base = b.mul(b.sub(col.i, a0), i64(L.inner))
        inner_loops, c = [], base
        it_o = iter(outer_idx)
        index = [None if d in L.reduced else next(it_o) if d < k else
                 (col.i if dims[k] != 1 else i64(0)) if d == k else None
                 for d in range(len(dims))]
        stride = L.inner
        for d in range(k + 1, len(dims)):
            stride //= dims[d]
            if dims[d] == 1:
                index[d] = i64(0)
                continue
            lp = open_loop(b, i64(0), i64(dims[d]), name=f"in{d}")
            inner_loops.append(lp)
            index[d] = lp.i
            c = b.add(c, b.mul(lp.i, i64(stride)) if stride != 1 else lp.i)
        em.push_scope()
        vals = []
        for ridx in ridxs:
            it_r = iter(ridx)
            vals.append(widen((yield x, [next(it_r) if d in L.reduced else v
                                         for d, v in enumerate(index)])))
        if group == 1:
            combine(c, vals[0], r)
        else:
            combine(c, vals, rows_)
        em.pop_scope()
        for lp in reversed(inner_loops):
            close_loop(b, lp)
        em.pop_scope()
        close_loop(b, col)
        em.pop_scope()

    # Bytes of partial results per column: the value (and its tile), the arg's row.
    slot_bytes = _bytes(slot_t) * (2 if tiled else 1) + (_bytes(idx_t) if is_arg else 0)

    def rows_in(lo, hi, combine, combine_group):
        """Reduced rows [lo, hi): `ROW_GROUP` at a time (`combine_group`), the rest one at a
        time, where the unit's partial results take `GROUP_MIN_BYTES` or more: each update of
        a column's partial result reads and writes them, and then they do not stay in L1
        beside the streamed rows; a group updates them once."""
        g = ROW_GROUP if L.t * L.inner * slot_bytes >= GROUP_MIN_BYTES else 1
        start = lo
        if g > 1:
            groups = b.sdiv(b.sub(hi, lo), i64(g))
            groups = b.select(b.icmp_signed("<", groups, i64(0)), i64(0), groups)
            grp = open_loop(b, i64(0), groups, name="rg")
            yield from row(b.add(lo, b.mul(grp.i, i64(g))), combine_group, g)
            close_loop(b, grp)
            start = b.add(lo, b.mul(groups, i64(g)))
        rows = open_loop(b, start, hi, name="r")
        yield from row(rows.i, combine)
        close_loop(b, rows)

    if is_arg:
        is_max = op == "argmax"

        def first(c, v, r):
            put(acc, c, v)
            put(best_i, c, ll.Constant(idx_t, 0))

        def beats(v, cur):
            """Does `v`, from a later row, replace `cur`? (A greater or smaller value; the
            first NaN beats everything and is never replaced; ties keep the earlier row.)"""
            if _kind(dtype) == "f":
                wins = b.fcmp_ordered(">" if is_max else "<", v, cur)
                return b.and_(b.not_(b.fcmp_unordered("uno", cur, cur)),
                              b.or_(wins, b.fcmp_unordered("uno", v, v)))
            if dtype.kind == "b":
                return b.and_(v, b.not_(cur)) if is_max else b.and_(cur, b.not_(v))
            cmp = b.icmp_signed if dtype.kind == "i" else b.icmp_unsigned
            return cmp(">" if is_max else "<", v, cur)

        def narrow(r):
            return b.trunc(r, idx_t) if idx_t != I64 else r

        def better(c, v, r):
            cur = get(acc, c)
            wins = beats(v, cur)
            put(acc, c, b.select(wins, v, cur))
            put(best_i, c, b.select(wins, r if r.type == idx_t else narrow(r), get(best_i, c)))

        def better_of_group(c, vals, rows_):
            # The group's best in registers, pairing neighbours in row order (so the earlier
            # row of a tie still wins), then one update of the column's best so far.
            cand = [(v, narrow(r)) for v, r in zip(vals, rows_)]
            while len(cand) > 1:
                nxt = []
                for j in range(0, len(cand) - 1, 2):
                    (va, ia), (vb, ib) = cand[j], cand[j + 1]
                    w = beats(vb, va)
                    nxt.append((b.select(w, vb, va), b.select(w, ib, ia)))
                if len(cand) % 2:
                    nxt.append(cand[-1])
                cand = nxt
            better(c, *cand[0])

        # The first reduced position is read whatever the bound (as `_emit_arg` does).
        yield from row(i64(0), first)
        yield from rows_in(i64(1), n_rows, better, better_of_group)
    else:
        def into(a):
            return lambda c, v, r: put(a, c, combine_values(b, op, get(a, c), v, dtype))

        def into_by_group(a):
            # The group's rows folded in, in order, with the partial result in a register:
            # the same sums in the same order as one row at a time (bit for bit).
            def combine(c, vals, rows_):
                cur = get(a, c)
                for v in vals:
                    cur = combine_values(b, op, cur, v, dtype)
                put(a, c, cur)
            return combine

        fill(acc, ident_v)
        if tiled:
            blocks = open_loop(b, i64(0), n_rows, name="rb", step=i64(row_block))
            end = b.add(blocks.i, i64(row_block))
            end = b.select(b.icmp_signed("<", end, n_rows), end, n_rows)
            fill(tile, ident_v)
            yield from rows_in(blocks.i, end, into(tile), into_by_group(tile))
            counted_loop(b, i64(0), width, lambda c: put(
                acc, c, combine_values(b, op, get(acc, c), get(tile, c), dtype)), name="add")
            close_loop(b, blocks)
        else:
            yield from rows_in(i64(0), n_rows, into(acc), into_by_group(acc))

    # Results: the block's columns are contiguous in the output too.
    out_base = b.mul(b.add(b.mul(o, i64(d_k)), a0), i64(L.inner))
    out_dt = instr.shape.dtype
    src = best_i if is_arg else acc

    def store(c):
        v = get(src, c)
        if is_arg:
            ot = value_type(out_dt)
            if ot.width < v.type.width:
                v = b.trunc(v, ot)
            elif ot.width > v.type.width:
                v = b.zext(v, ot)      # a row number: never negative
        elif t == F16:
            v = b.fptrunc(v, F16)
        elif dtype == BF16:
            v = round_bf16(b, v)
        if not is_arg:
            v = to_memory(b, v, out_dt)
        b.store(v, b.gep(out.ptr, [b.add(out_base, c)], inbounds=True),
                align=out_dt.itemsize)
    counted_loop(b, i64(0), width, store, name="store")
    em.pop_scope()
    close_loop(b, unit)


def _split(b, lin, extents):
    """The index of linear position `lin` in `extents` (i64 values or ints), last fastest; a
    size-1 extent's index is the constant 0 (as `kernels.delinearize`)."""
    out = []
    for k in range(len(extents) - 1, -1, -1):
        e = extents[k]
        if isinstance(e, int):
            e = i64(e)
        if isinstance(e, ll.Constant) and e.constant == 1:
            out.append(i64(0))
        elif k == 0:
            out.append(lin)
        else:
            out.append(b.urem(lin, e))
            lin = b.udiv(lin, e)
    return list(reversed(out))
