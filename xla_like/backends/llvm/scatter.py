"""Scatter kernels: `scatter`, `scatter_add`, `scatter_mul`, `scatter_min`, `scatter_max` as
native loops, so programs (and loop bodies: `x.at[i].set(v)` is a scatter) need no NumPy step.

`out = operand`, then for each index row in order: if every index is in range, each element of
its window is combined into `out` (`set` overwrites: the last duplicate wins, as NumPy's fancy
assignment; the others accumulate in row order, as `ufunc.at`). Out-of-range rows are dropped
(`ops.indexing`). One thread runs it: rows may collide. The CUDA backend runs the same loop
(`scatter_body`) in a one-thread kernel (`cuda.kernels.emit_scatter`).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import PRIMITIVES

from .kernels import Kernel, declare_kernel
from .emitter import F16, F32, I8, I64, counted_loop, i64, storage_type

_I8P = ll.PointerType(I8)


def emit_scatter(module, name, instr) -> Kernel:
    operand, indices, updates = instr.operands
    fn = declare_kernel(module, name, [operand.shape, indices.shape, updates.shape], instr.shape)
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    scatter_body(b, module, instr, *fn.args[:4])
    b.ret_void()
    return Kernel(fn, 1, False, False)


def scatter_body(b, module, instr, src, idx_ptr, upd, out, memcpy=None):
    """The serial scatter loop, emitted at `b` (the CPU kernel's body and the CUDA backend's
    one-thread kernel's): `out = src`, then the rows in order. `memcpy(b, module, dst, src,
    nbytes)` makes the copy (default: libc's `memcpy`, which a GPU has not)."""
    operand, indices, _ = instr.operands
    dims = operand.shape.dims
    axes = tuple(a % len(dims) for a in instr.attrs["axes"])   # the IR may keep -1
    k = len(axes)
    rows = int(np.prod(indices.shape.dims[:-1], dtype=np.int64))
    window = [d for d in range(len(dims)) if d not in axes]
    wsize = int(np.prod([dims[d] for d in window], dtype=np.int64))
    strides = [int(np.prod(dims[d + 1:], dtype=np.int64)) for d in range(len(dims))]
    dt = operand.shape.dtype
    (memcpy or _memcpy)(b, module, out, src, operand.shape.size * dt.itemsize)
    idt = indices.shape.dtype
    combine = PRIMITIVES[instr.opcode].scatter_combine

    def row(r):
        base = i64(0)
        valid = ll.Constant(ll.IntType(1), 1)
        for j, axis in enumerate(axes):
            v = b.load(b.gep(idx_ptr, [b.add(b.mul(r, i64(k)), i64(j))]))
            if v.type.width < 64:
                v = b.sext(v, I64) if idt.kind == "i" else b.zext(v, I64)
            # Unsigned compare: a negative index is out of range too.
            valid = b.and_(valid, b.icmp_unsigned("<", v, i64(dims[axis])))
            base = b.add(base, b.mul(v, i64(strides[axis])))
        with b.if_then(valid):
            def element(w):
                off, rest = base, w
                for d in reversed(window):
                    off = b.add(off, b.mul(b.urem(rest, i64(dims[d])), i64(strides[d])))
                    rest = b.udiv(rest, i64(dims[d]))
                u = b.load(b.gep(upd, [b.add(b.mul(r, i64(wsize)), w)]))
                p = b.gep(out, [off])
                b.store(u if combine is None else _combine(b, combine, b.load(p), u, dt), p)
            counted_loop(b, i64(0), i64(wsize), element, name="w")
    counted_loop(b, i64(0), i64(rows), row, name="r")


def _memcpy(b, module, dst, src, nbytes):
    fn = module.globals.get("memcpy")
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(_I8P, [_I8P, _I8P, I64]), "memcpy")
    if nbytes:
        b.call(fn, [b.bitcast(dst, _I8P), b.bitcast(src, _I8P), i64(nbytes)])


def _combine(b, op, x, y, dt):
    """NumPy's add/multiply/minimum/maximum of two stored values (NaN propagates in min and
    max; on bools add is or, multiply and min are and, max is or; integers wrap)."""
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
