"""Scatter kernels: `scatter`, `scatter_add`, `scatter_mul`, `scatter_min`, `scatter_max` as
native loops, so programs (and loop bodies: `x.at[i].set(v)` is a scatter) need no NumPy step.

`out = operand`, then for each index row in order: if every index is in range, each element of
its window is combined into `out` (`set` overwrites: the last duplicate wins, as NumPy's fancy
assignment; the others accumulate in row order, as `ufunc.at`). Out-of-range rows are dropped
(`ops.indexing`). Threads split the operand's leading dimension: each copies its slices and
applies, in row order, the parts of every row that land in them, so colliding rows need no
locks and combine in the order one thread would (each thread reads all the indices, a small
fraction of the traffic next to the windows); a scatter whose windows outweigh its operand
runs on one thread instead (`split_pays`). The window's trailing contiguous run is an inner
loop LLVM vectorizes. The CUDA backend runs the same loop (`scatter_body`) over the whole
range in a one-thread kernel (`cuda.kernels.emit_scatter`).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import PRIMITIVES

from .kernels import Kernel, declare_kernel
from .emitter import BF16, F16, F32, I8, I64, i64, round_bf16, storage_type, to_memory, to_register
from .loops import counted_loop

_I8P = ll.PointerType(I8)


def emit_scatter(module, name, instr) -> Kernel:
    operand, indices, updates = instr.operands
    fn = declare_kernel(module, name, [operand.shape, indices.shape, updates.shape], instr.shape)
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    scatter_body(b, module, instr, *fn.args[:4], lo=fn.args[4], hi=fn.args[5])
    b.ret_void()
    # The parallel range is the operand's leading dimension: a thread owns the output slices
    # [lo, hi) along it, so threads never write the same element, whatever the indices.
    dims = operand.shape.dims
    return Kernel(fn, dims[0] if dims else 1, bool(dims) and split_pays(instr), False)


def split_pays(instr) -> bool:
    """Is this scatter worth sharing among threads? Where the indices pick along the leading
    axis, each thread reads every index row and skips those outside its slices: that pays
    for the copy of a large operand, but where the updates' windows outweigh the operand, the
    threads stream the same update rows (half of each one's reads wasted, a data-dependent
    branch per row) and wait for each other at the end. 1e5 rows of 128 float32 into 1e4
    rows on 2 cores: 2.9 ms on one thread, 4.1 ms on two on a quiet machine, 8-30 ms on two
    under load. Where the leading axis is in the window, each thread reads only its part of
    every window: sharing pays."""
    operand, _, updates = instr.operands
    nd = len(operand.shape.dims)
    if not nd or 0 not in tuple(a % nd for a in instr.attrs["axes"]):
        return True
    return operand.shape.size >= updates.shape.size


def scatter_body(b, module, instr, src, idx_ptr, upd, out, memcpy=None, lo=None, hi=None):
    """The scatter loop, emitted at `b` (the CPU kernel's body and the CUDA backend's one-thread
    kernel's): `out = src` on the slices [lo, hi) of the leading dimension (default: all),
    then the rows in order, each writing only its part inside those slices. With several
    threads each owning a range, every output element is written by one thread, in row order,
    so duplicates combine as on one thread. `memcpy(b, module, dst, src, nbytes)` makes the
    copy (default: libc's `memcpy`, which a GPU has not)."""
    operand, indices, _ = instr.operands
    dims = operand.shape.dims
    nd = len(dims)
    axes = tuple(a % nd for a in instr.attrs["axes"])   # the IR may keep -1
    k = len(axes)
    rows = int(np.prod(indices.shape.dims[:-1], dtype=np.int64))
    window = [d for d in range(nd) if d not in axes]
    wsize = int(np.prod([dims[d] for d in window], dtype=np.int64))
    strides = [int(np.prod(dims[d + 1:], dtype=np.int64)) for d in range(nd)]
    dt = operand.shape.dtype
    idt = indices.shape.dtype
    combine = PRIMITIVES[instr.opcode].scatter_combine
    lead = dims[0] if nd else 1
    stride0 = strides[0] if nd else 1
    if lo is None:
        lo, hi = i64(0), i64(lead)
        (memcpy or _memcpy)(b, module, out, src, operand.shape.size * dt.itemsize)
    else:
        _memcpy(b, module, b.gep(out, [b.mul(lo, i64(stride0))]),
                b.gep(src, [b.mul(lo, i64(stride0))]),
                b.mul(b.sub(hi, lo), i64(stride0 * dt.itemsize)))
    # The window is walked as an outer part (div/mod per step) and a contiguous inner run: the
    # window dimensions at the end of the layout. The run is one vectorizable loop; it never
    # takes in dimension 0, whose range [lo, hi) the outer part restricts.
    inner, run_dims = 1, []
    for d in reversed(range(1, nd)):
        if d in axes:
            break
        inner *= dims[d]
        run_dims.append(d)
    outer_dims = [d for d in window if d not in run_dims]
    if nd and 0 not in axes:
        # Dimension 0 is the window's first: this thread's outer steps are a contiguous range.
        per = wsize // max(dims[0], 1) // max(inner, 1) if dims[0] else 0
        o_lo, o_hi = b.mul(lo, i64(per)), b.mul(hi, i64(per))
    else:
        nouter = wsize // inner if inner else 0
        o_lo, o_hi = i64(0), i64(nouter)

    def row(r):
        base = i64(0)
        valid = ll.Constant(ll.IntType(1), 1)
        for j, axis in enumerate(axes):
            v = b.load(b.gep(idx_ptr, [b.add(b.mul(r, i64(k)), i64(j))]))
            if v.type.width < 64:
                v = b.sext(v, I64) if idt.kind == "i" else b.zext(v, I64)
            # Unsigned compare: a negative index is out of range too.
            valid = b.and_(valid, b.icmp_unsigned("<", v, i64(dims[axis])))
            if axis == 0:   # another thread's slice (lo <= v < hi, v already >= 0)
                valid = b.and_(valid, b.icmp_unsigned(">=", v, lo))
                valid = b.and_(valid, b.icmp_unsigned("<", v, hi))
            base = b.add(base, b.mul(v, i64(strides[axis])))
        with b.if_then(valid):
            row_upd = b.gep(upd, [b.mul(r, i64(wsize))])

            def outer(o):
                off, rest = base, o
                for d in reversed(outer_dims):
                    off = b.add(off, b.mul(b.urem(rest, i64(dims[d])), i64(strides[d])))
                    rest = b.udiv(rest, i64(dims[d]))
                dst = b.gep(out, [off])
                srcu = b.gep(row_upd, [b.mul(o, i64(inner))])

                def element(i):
                    u = b.load(b.gep(srcu, [i]))
                    p = b.gep(dst, [i])
                    b.store(u if combine is None else _combine(b, combine, b.load(p), u, dt), p)
                counted_loop(b, i64(0), i64(inner), element, name="w")
            counted_loop(b, o_lo, o_hi, outer, name="o")
    counted_loop(b, i64(0), i64(rows), row, name="r")


def _memcpy(b, module, dst, src, nbytes):
    fn = module.globals.get("memcpy")
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(_I8P, [_I8P, _I8P, I64]), "memcpy")
    if isinstance(nbytes, int):
        if not nbytes:
            return
        nbytes = i64(nbytes)
    b.call(fn, [b.bitcast(dst, _I8P), b.bitcast(src, _I8P), nbytes])


def _combine(b, op, x, y, dt):
    """NumPy's add/multiply/minimum/maximum of two stored values (NaN propagates in min and
    max; on bools add is or, multiply and min are and, max is or; integers wrap)."""
    if dt == BF16:   # stored as i16: computed in float32, rounded once
        f32 = np.dtype(np.float32)
        r = _combine(b, op, to_register(b, x, dt), to_register(b, y, dt), f32)
        return to_memory(b, round_bf16(b, r), dt)
    if dt.kind == "b":
        return b.or_(x, y) if op in ("add", "max") else b.and_(x, y)
    if dt.kind in "iu":
        if op == "add":
            return b.add(x, y)
        if op == "mul":
            return b.mul(x, y)
        cmp = b.icmp_signed if dt.kind == "i" else b.icmp_unsigned
        return b.select(cmp("<" if op == "min" else ">", x, y), x, y)
    t = storage_type(dt)
    if t == F16:   # computed in float32, rounded once, as NumPy's float16 ufuncs
        return b.fptrunc(_combine(b, op, b.fpext(x, F32), b.fpext(y, F32), np.dtype(np.float32)),
                         F16)
    if op == "add":
        return b.fadd(x, y)
    if op == "mul":
        return b.fmul(x, y)
    pick = b.select(b.fcmp_ordered("<" if op == "min" else ">", x, y), x, y)
    pick = b.select(b.fcmp_unordered("uno", x, x), x, pick)
    return b.select(b.fcmp_unordered("uno", y, y), y, pick)
