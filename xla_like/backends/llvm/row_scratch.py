"""Row scratch: a row kernel computes each expensive per-element value once per row.

A row kernel (softmax, layer norm; see `kernels.emit_fusion`) walks each row several times:
once per row reduction, then once for the output. An element value that more than one of
these passes uses, such as `gelu(x)` in `layer_norm(gelu(x))` (read by the mean, the variance
and the output) or `exp(x - max)` in softmax (read by the sum and the output), would be
recomputed on every pass; with a transcendental in it that costs more than reading the row.
Instead, right before the first pass that needs it, one loop over the row computes it into a
stack buffer of one row (which stays in L1), and later passes load it from there.

    plan_row_scratch(comp, dims, k, row_reduces) -> {pass number: [instr, ...]}
    fill_row_scratch(em, instrs, idx, dims, k)    # emits the loop, registers the loads

Pass numbers: `i` < len(row_reduces) is the pass computing row_reduces[i]; len(row_reduces)
is the output pass. Only values every one of whose uses reads it in the current row (the
element emitter asks for it at the row's own index) come from scratch; any other request
computes the value as before, so the choice here can cost speed but never change a result.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import PRIMITIVES

from .emitter import ElementEmitter, i64, value_type
from .loops import counted_loop, entry_alloca

# Scratch rows above this many bytes (all spilled values of a kernel together) are not used:
# the stack of a worker thread is finite, and a row past L2 no longer stays in cache anyway.
MAX_SCRATCH_BYTES = 64 * 1024


def _is_reduction(instr):
    prim = PRIMITIVES.get(instr.opcode)
    return prim is not None and prim.reduces


def _per_element_cost(instr, full, stop):
    """Whether computing `instr` at one position runs a non-cheap elementwise primitive at
    full size (values of fewer elements are per row: already cached); None when it depends on
    a reduction outside `stop` (a value the pre-pass could not compute)."""
    seen, todo, costly = set(), [instr], False
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x is not instr and x in stop:
            continue
        if _is_reduction(x):
            return None
        if x.shape.dims != full:
            # A broadcast row value (a reduction's result) is cached per row; only its
            # reductions need to be ones computed before the pre-pass.
            todo.extend(o for o in x.operands)
            continue
        prim = PRIMITIVES.get(x.opcode)
        if prim is not None and prim.elementwise and not prim.cheap:
            costly = True
        todo.extend(x.operands)
    return costly


def _closure(root, row_reduces):
    """Instructions a pass evaluates per element: the operands of `root`, transitively,
    stopping at the row reductions (cached per row)."""
    seen, todo, out = set(), list(root.operands), []
    while todo:
        x = todo.pop()
        if id(x) in seen or x in row_reduces:
            continue
        seen.add(id(x))
        out.append(x)
        todo.extend(x.operands)
    return out


def plan_row_scratch(comp, dims, k, row_reduces):
    """{pass number: values to compute into scratch rows right before that pass} for the row
    kernel of `comp` (output `dims`, the first `k` of them rows)."""
    full = tuple(dims)
    inner = int(np.prod(full[k:], dtype=np.int64)) if len(full) > k else 1
    if inner <= 1 or not row_reduces:
        return {}
    passes = list(row_reduces)
    if comp.root not in row_reduces:
        passes.append(comp.root)
    users = {}   # id(instr) -> (instr, [pass numbers])
    for p, root in enumerate(passes):
        members = _closure(root, row_reduces)
        if not _is_reduction(root):
            members.append(root)
        for x in members:
            users.setdefault(id(x), (x, []))[1].append(p)
    stop = set(row_reduces)
    candidates = set()
    for x in comp.instructions:
        entry = users.get(id(x))
        if entry is None or len(set(entry[1])) < 2 or _is_reduction(x):
            continue
        if x.shape.dims != full or x.shape.dtype.kind != "f" or x.shape.dtype.itemsize < 4:
            continue
        if x.opcode not in ("parameter", "constant") and _per_element_cost(x, full, stop):
            candidates.add(x)
    consumers = {}
    for x in comp.instructions:
        for o in x.operands:
            consumers.setdefault(id(o), []).append(x)
    # Latest first: a value all of whose uses lie under kept values is needed only in their
    # pre-pass (tanh's argument under gelu(x)), so it is not kept itself. A row reduction is
    # its own pass, never part of another value's pre-pass.
    kept, covered = set(), set()
    for x in reversed(comp.instructions):
        cons = consumers.get(id(x), [])
        if cons and all(c in covered for c in cons) and x not in stop:
            covered.add(x)
        elif x in candidates:
            kept.add(x)
            covered.add(x)
    # A kept value whose own work is cheap once the other kept values are loads (`h - mean`
    # with `h` kept) is not worth a row of its own.
    order = [x for x in comp.instructions if x in kept]
    for x in order:
        if not _per_element_cost(x, full, stop | kept):
            kept.discard(x)
    chosen, budget = {}, MAX_SCRATCH_BYTES
    for x in order:
        size = inner * x.shape.dtype.itemsize
        if x not in kept or size > budget:
            continue
        budget -= size
        chosen.setdefault(min(users[id(x)][1]), []).append(x)
    return {p: list(xs) for p, xs in chosen.items()}


def _same(a, b):
    if a is b:
        return True
    return (isinstance(a, ll.Constant) and isinstance(b, ll.Constant)
            and a.type == b.type and a.constant == b.constant)


def fill_row_scratch(em: ElementEmitter, instrs, idx, dims, k, limit=None):
    """Emit one loop over the row at `idx` computing `instrs` into stack rows, and make the
    element emitter load them from there when asked at the row's own index. `limit`: a
    run-time count of the row's leading positions anything reads (a bucketed program)."""
    b = em.b
    inner_dims = list(dims[k:])
    n = int(np.prod(inner_dims, dtype=np.int64))
    strides, acc = [], 1
    for d in reversed(inner_dims):
        strides.append(acc)
        acc *= d
    strides.reverse()
    rows = [entry_alloca(b, ll.ArrayType(value_type(x.shape.dtype), n), name="row.scratch")
            for x in instrs]

    def at(row, off):
        return b.gep(row, [i64(0), off], inbounds=True)

    def body(i):
        ix, rest = [], i
        for d, s in zip(inner_dims, strides):
            if d == 1:
                ix.append(i64(0))
            elif s == 1:
                ix.append(rest)
            else:
                ix.append(b.udiv(rest, i64(s)))
                rest = b.urem(rest, i64(s))
        em.push_scope()
        for x, row in zip(instrs, rows):
            b.store(em.value(x, list(idx) + ix), at(row, i))
        em.pop_scope()

    stop = i64(n) if limit is None else b.mul(limit, i64(n // max(inner_dims[0], 1)))
    counted_loop(b, i64(0), stop, body, name="scratch")

    def loader(row):
        def load(index):
            if len(index) != len(dims) or not all(_same(a, c) for a, c in zip(index[:k], idx)):
                return None
            off = None
            for v, s, d in zip(index[k:], strides, inner_dims):
                if d == 1:
                    continue
                t = v if s == 1 else b.mul(v, i64(s))
                off = t if off is None else b.add(off, t)
            return b.load(at(row, i64(0) if off is None else off))
        return load

    for x, row in zip(instrs, rows):
        em.scratch[x.id] = loader(row)
