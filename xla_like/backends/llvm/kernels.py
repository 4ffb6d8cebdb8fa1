"""Kernels: each fusion (and each dot without a library) becomes one LLVM function.

A kernel has the signature `void k(T0* noalias in0, ..., To* noalias out, i64 lo, i64 hi)` and
computes the slice [lo, hi) of its outermost parallel range, so a program's segment can split
the work across threads. The loop layout depends on the fusion's kind:
- loop: elementwise over the output. When every operand is read at the output's own position
  (or is a scalar), one flat loop over all elements (contiguous, vectorized); else a loop nest.
- row / reduction: a loop over the output rows; in each row the row reductions are computed
  first (each a vectorized loop over the row), then the row's elements, which read those
  reductions from registers. Softmax and layer norm read each row from memory once. An
  expensive value several of these passes read (gelu(x) under a layer norm, softmax's
  exp(x - max)) is computed once per row into a stack row (`llvm.row_scratch`).

Two variants of a loop kernel serve the plan's memory rewrites (see `plan.planner`): `in_place`
reads one parameter through the output pointer (the output took that parameter's memory; one
pointer, so LLVM sees the read-before-write at each position and no aliasing is hidden from
it), `window` reads one parameter from a buffer holding only the kernel's current block
(a GEMM epilogue's scratch), and `out_window` writes only the current block, to a buffer
holding just that (a GEMM prologue's scratch).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops.core import PRIMITIVES

from ... import ir
from .elementwise import convert_value
from ..plan.kernel_shapes import column_layout, flat_ok, gemm_layout, is_reduction, outer_rank
from .reduce import emit_column_reduction
from .prefetch import row_prefetcher
from .tiles import TileReads, emit_tiled, plan_tiles
from .row_scratch import fill_row_scratch, plan_row_scratch
from .emitter import (BF16, F16, F32, I64, Buffer, ElementEmitter, i64, round_bf16, storage_type,
                      to_memory, to_register, value_type)
from .loops import counted_loop



class Kernel:
    """An emitted kernel: its LLVM function, the size of its parallel range, and whether the
    range may be split between threads."""

    def __init__(self, fn, extent, splittable, flat):
        self.fn = fn
        self.extent = extent
        self.splittable = splittable
        self.flat = flat


def declare_kernel(module, name, in_shapes, out_shape, extra=0):
    """`extra`: i64 arguments between the output pointer and the range (run-time extents)."""
    args = [ll.PointerType(storage_type(s.dtype)) for s in in_shapes]
    args.append(ll.PointerType(storage_type(out_shape.dtype)))
    fn = ll.Function(module, ll.FunctionType(ll.VoidType(), args + [I64] * extra + [I64, I64]),
                     name)
    for a in fn.args[:len(in_shapes) + 1]:
        a.add_attribute("noalias")
    fn.linkage = "internal"
    # Each kernel stays its own function: inlined, a program's kernels made one function whose
    # optimization time grows faster than its length (an 80-step chain of dots took 6x the
    # time of a 20-step one, 2.5x at 20 steps already). Called once, with constant bounds when
    # run on one thread, a kernel still sees its trip counts (LLVM propagates constant
    # arguments into a function with a single caller).
    fn.attributes.add("noinline")
    return fn


class _WindowEmitter(ElementEmitter):
    """Reads the buffers in `shifts` at (linear position - shift): they hold only the part of
    their value from the kernel's `lo` on."""

    def __init__(self, *args, shifts=None, **kw):
        super().__init__(*args, **kw)
        self.shifts = shifts or {}
        self.tile_reads = TileReads()     # a transposing nest's tile buffers (`llvm.tiles`)

    def _op_transpose(self, instr, index):
        if id(instr) in self.tile_reads.active:
            return self.tile_reads.load(self.b, instr, index)
        return (yield from super()._op_transpose(instr, index))

    def load(self, buf, index):
        shift = self.shifts.get(id(buf))
        if shift is None or buf.size == 0:
            return super().load(buf, index)
        off = self.b.sub(self.linear(buf, index), shift)
        v = self.b.load(self.b.gep(buf.ptr, [off], inbounds=True),
                        align=buf.shape.dtype.itemsize)
        return to_register(self.b, v, buf.shape.dtype)


def kernel_arguments(fn, b, in_shapes, out_shape, in_place=None):
    """(input Buffers, output Buffer, lo, hi) of a kernel function `k(in..., out, lo, hi)`.
    With `in_place`, that input is read through the output pointer (the output took its
    memory; one pointer, so LLVM sees the read-before-write at each position)."""
    out_arg = fn.args[len(in_shapes)]
    inputs = [Buffer(a, s) for a, s in zip(fn.args, in_shapes)]
    if in_place is not None:
        a = fn.args[in_place]
        inputs[in_place] = Buffer(out_arg if out_arg.type == a.type else
                                  b.bitcast(out_arg, a.type), in_shapes[in_place])
    return inputs, Buffer(out_arg, out_shape), fn.args[-2], fn.args[-1]


def emit_fusion(module, name, comp: ir.Computation, math, in_place=None,
                window=None, out_window=None, bounds=(), strides=None) -> Kernel:
    """`in_place`: a parameter number read through the output pointer; `window`: (parameter
    number, elements per unit of the range) of a parameter whose buffer starts at element
    lo * elements per unit; `out_window`: elements per unit of the range, for an output
    buffer that starts at element lo * that (see the module docstring). `bounds`: output axes
    (not the first) whose run-time extent the kernel takes as an i64 argument each, after the
    output pointer: positions past it are padding nothing reads (a bucketed program), left
    unwritten by loop nests and rows (a column reduction computes them all). `strides`:
    {parameter number: r}, parameters whose strides along their first r axes (in elements)
    the kernel takes as i64 arguments after the bounds, in that order: read from the
    caller's array of its true length (`cpu.prefix_inputs.strided_inputs`); such a kernel
    uses neither the flat loop nor the column reduction, which address by position."""
    in_shapes = [p.shape for p in comp.parameters]
    out_shape = comp.root.shape
    strides = dict(sorted((strides or {}).items()))
    fn = declare_kernel(module, name, in_shapes, out_shape,
                        len(bounds) + sum(strides.values()))
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    inputs, out, lo, hi = kernel_arguments(fn, b, in_shapes, out_shape, in_place)
    limits = {a: fn.args[len(in_shapes) + 1 + j] for j, a in enumerate(bounds)}
    at = len(in_shapes) + 1 + len(bounds)
    for j, r in strides.items():
        inputs[j].strides[:r] = fn.args[at:at + r]
        at += r
    if out_window is not None:
        out = _Shifted(out, b.mul(lo, i64(out_window)) if out_window != 1 else lo)
    shifts = {}
    if window is not None:
        j, unit = window
        shifts[id(inputs[j])] = b.mul(lo, i64(unit)) if unit != 1 else lo

    def emitter(**kw):
        return _WindowEmitter(b, inputs, math, shifts=shifts, **kw)

    k = outer_rank(comp)
    dims = out_shape.dims
    if out_shape.size == 0:
        # Nothing to write; emitting element code for an empty index space would only read
        # operands at positions that do not exist.
        b.ret_void()
        return Kernel(fn, 0, False, False)
    if k is None and flat_ok(comp) and not limits and not strides:
        n = out_shape.size
        em = emitter(flat_size=n)

        def body(i):
            em.push_scope()
            v = em.value(comp.root, [i])
            store_element(b, out, [i], v, flat=True)
            em.pop_scope()
        counted_loop(b, lo, hi, body)
        b.ret_void()
        return Kernel(fn, n, True, True)
    em = emitter()
    if k is None:
        # Loop nest over the output; the outermost dimension is split across threads.
        if not dims:
            b.store(_to_storage(b, em.value(comp.root, []), out_shape.dtype),
                    b.gep(out.ptr, [i64(0)]))
            b.ret_void()
            return Kernel(fn, 1, False, False)

        prefetch = row_prefetcher(em, comp, dims)
        # (Not for a GEMM epilogue's blocks: their buffers hold one block of rows.)
        tiles = plan_tiles(comp, dims, limits) \
            if prefetch is None and window is None and out_window is None else None

        def element(idx):
            em.push_scope()
            store_element(b, out, idx, em.value(comp.root, idx))
            em.pop_scope()

        def nest(idx):
            d = len(idx)
            if tiles is not None and d == len(dims) - 2:   # (transposing: `llvm.tiles`)
                emit_tiled(b, em, tiles, inputs, idx, i64(0), i64(dims[d]), i64(dims[-1]),
                           element)
                return
            if d == len(dims) - 1 and prefetch is not None:
                prefetch(idx)
            if d == len(dims):
                element(idx)
                return
            counted_loop(b, i64(0), limits.get(d, i64(dims[d])), lambda i: nest(idx + [i]),
                         name=f"d{d}")

        if tiles is not None and len(dims) == 2:
            emit_tiled(b, em, tiles, inputs, [], lo, hi, i64(dims[1]), element)
        else:
            counted_loop(b, lo, hi, lambda i0: nest([i0]), name="d0")
        b.ret_void()
        return Kernel(fn, dims[0], True, False)
    columns = column_layout(comp) if out_window is None and not strides else None
    if columns is not None:
        # A reduction over leading axes: rows of the operand stream through a block of
        # results (`llvm.reduce.emit_column_reduction`).
        emit_column_reduction(em, comp, columns, out, lo, hi)
        b.ret_void()
        return Kernel(fn, columns.extent, True, False)
    # Rows: the leading k output dims, flattened into one parallel range.
    outer = dims[:k]
    n_rows = int(np.prod(outer, dtype=np.int64)) if outer else 1
    inner_dims = dims[k:]
    row_reduces = [i for i in comp.instructions
                   if is_reduction(i) and i is not comp.root and i.shape.dims == tuple(outer)]

    scratch = plan_row_scratch(comp, dims, k, row_reduces)

    def row(r):
        em.push_scope()
        idx = delinearize(b, r, outer)
        for p, red in enumerate(row_reduces):
            if p in scratch:     # values several passes read: computed once into a row buffer
                fill_row_scratch(em, scratch[p], idx, dims, k, limits.get(k))
            em.value(red, idx)   # computed once per row, cached for the elements below
        if len(row_reduces) in scratch:
            fill_row_scratch(em, scratch[len(row_reduces)], idx, dims, k, limits.get(k))
        if is_reduction(comp.root):
            store_element(b, out, idx, em.value(comp.root, idx))
        else:
            def inner(ix):
                d = len(ix)
                if d == len(inner_dims):
                    em.push_scope()
                    store_element(b, out, idx + ix, em.value(comp.root, idx + ix))
                    em.pop_scope()
                    return
                counted_loop(b, i64(0), limits.get(k + d, i64(inner_dims[d])),
                             lambda i: inner(ix + [i]), name=f"c{d}")
            inner([])
        em.scratch.clear()
        em.pop_scope()

    counted_loop(b, lo, hi, row, name="row")
    b.ret_void()
    return Kernel(fn, n_rows, True, False)


def delinearize(b, lin, dims):
    """The index of linear position `lin` in `dims`. A size-1 dimension's index is the
    constant 0, the value data movement uses for it too: the element cache finds values
    (a row's reductions) by their index, so the two must be the same."""
    out = []
    for k in range(len(dims) - 1, -1, -1):
        if dims[k] == 1:
            out.append(i64(0))
        elif k == 0:
            out.append(lin)
        else:
            out.append(b.urem(lin, i64(dims[k])))
            lin = b.udiv(lin, i64(dims[k]))
    return list(reversed(out))


def _to_storage(b, v, dtype):
    return to_memory(b, v, dtype)


class _Shifted:
    """An output Buffer holding only the elements from linear position `shift` on."""

    def __init__(self, buf, shift):
        self.buf, self.shift = buf, shift
        self.ptr, self.shape, self.strides = buf.ptr, buf.shape, buf.strides


def store_element(b, buf, idx, v, flat=False):
    if flat:
        off = idx[0]
    else:
        off = None
        for x, s, n in zip(idx, buf.strides, buf.shape.dims):
            if n == 1:
                continue
            t = x if s == 1 else b.mul(x, i64(s))
            off = t if off is None else b.add(off, t)
        off = i64(0) if off is None else off
    if isinstance(buf, _Shifted):
        off = b.sub(off, buf.shift)
    v = _to_storage(b, v, buf.shape.dtype)
    b.store(v, b.gep(buf.ptr, [off], inbounds=True), align=buf.shape.dtype.itemsize)


# --- dot_general without a library: a loop GEMM ------------------------------------------------

def emit_dot(module, name, instr) -> Kernel:
    """out[b, i, j] = sum_k lhs[b, i, k] * rhs[b, k, j] as loops: rows split across threads,
    the inner loop over j contiguous (vectorized) when rhs is not transposed."""
    lhs, rhs = instr.operands
    out_shape = instr.shape
    fn = declare_kernel(module, name, [lhs.shape, rhs.shape], out_shape)
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    pa, pb, pc, lo, hi = fn.args
    batch, m, n, k, ta, tb = gemm_layout(instr)
    in_dt, out_dt = lhs.shape.dtype, out_shape.dtype
    acc_dt = out_dt
    t_acc = value_type(acc_dt)
    if t_acc == F16:
        t_acc = F32

    def load(ptr, off, dt):
        v = to_register(b, b.load(b.gep(ptr, [off], inbounds=True), align=dt.itemsize), dt)
        return convert_value(b, v, dt, acc_dt, t_acc)

    is_float = acc_dt.kind == "f"
    if t_acc != value_type(out_dt) or out_dt == BF16:
        # Float16 and bfloat16 accumulate in float32 and round once per element, as NumPy's
        # matmul and XLA's dot do.
        return _emit_dot_by_element(b, fn, pa, pb, pc, lo, hi, (batch, m, n, k, ta, tb),
                                    in_dt, rhs.shape.dtype, out_dt, t_acc, load)

    def row(r):  # r = batch * m + i
        bi = b.udiv(r, i64(m)) if m else r
        i = b.urem(r, i64(m)) if m else r
        a_base = b.mul(bi, i64(m * k))
        b_base = b.mul(bi, i64(k * n))
        c_base = b.mul(r, i64(n))
        zero = ll.Constant(t_acc, 0.0 if is_float else 0)

        def init(j):
            _store_acc(b, pc, b.add(c_base, j), zero, out_dt, t_acc)
        counted_loop(b, i64(0), i64(n), init, name="z")

        def over_k(kk):
            a_off = b.add(a_base, b.add(b.mul(kk, i64(m)), i) if ta else
                          b.add(b.mul(i, i64(k)), kk))
            a = load(pa, a_off, in_dt)

            def over_j(j):
                b_off = b.add(b_base, b.add(b.mul(j, i64(k)), kk) if tb else
                              b.add(b.mul(kk, i64(n)), j))
                c_ptr = b.gep(pc, [b.add(c_base, j)], inbounds=True)
                prod = _mul(b, a, load(pb, b_off, rhs.shape.dtype), acc_dt)
                cur = _load_acc(b, c_ptr, out_dt, t_acc)
                _store_acc_ptr(b, c_ptr, _add(b, cur, prod, acc_dt), out_dt)
            counted_loop(b, i64(0), i64(n), over_j, name="j")
        counted_loop(b, i64(0), i64(k), over_k, name="k")

    counted_loop(b, lo, hi, row, name="row")
    b.ret_void()
    return Kernel(fn, batch * m, True, False)


def _emit_dot_by_element(b, fn, pa, pb, pc, lo, hi, layout, lhs_dt, rhs_dt, out_dt, t_acc,
                         load):
    batch, m, n, k, ta, tb = layout
    slot = b.alloca(t_acc, name="acc")

    def row(r):
        bi = b.udiv(r, i64(m)) if m else r
        i = b.urem(r, i64(m)) if m else r
        a_base = b.mul(bi, i64(m * k))
        b_base = b.mul(bi, i64(k * n))
        c_base = b.mul(r, i64(n))

        def over_j(j):
            b.store(ll.Constant(t_acc, 0.0), slot)

            def over_k(kk):
                a_off = b.add(a_base, b.add(b.mul(kk, i64(m)), i) if ta else
                              b.add(b.mul(i, i64(k)), kk))
                b_off = b.add(b_base, b.add(b.mul(j, i64(k)), kk) if tb else
                              b.add(b.mul(kk, i64(n)), j))
                prod = b.fmul(load(pa, a_off, lhs_dt), load(pb, b_off, rhs_dt))
                b.store(b.fadd(b.load(slot), prod), slot)
            counted_loop(b, i64(0), i64(k), over_k, name="k")
            _store_acc(b, pc, b.add(c_base, j), b.load(slot), out_dt, t_acc)
        counted_loop(b, i64(0), i64(n), over_j, name="j")

    counted_loop(b, lo, hi, row, name="row")
    b.ret_void()
    return Kernel(fn, batch * m, True, False)


def _mul(b, x, y, dt):
    if dt.kind == "f":
        return b.fmul(x, y)
    return b.and_(x, y) if dt.kind == "b" else b.mul(x, y)


def _add(b, x, y, dt):
    if dt.kind == "f":
        return b.fadd(x, y)
    return b.or_(x, y) if dt.kind == "b" else b.add(x, y)


def _load_acc(b, ptr, dt, t):
    v = to_register(b, b.load(ptr, align=dt.itemsize), dt)
    return b.fpext(v, t) if v.type == F16 else v


def _store_acc_ptr(b, ptr, v, dt):
    if dt == BF16:
        v = round_bf16(b, v)
    elif storage_type(dt) == F16:
        v = b.fptrunc(v, F16)
    b.store(to_memory(b, v, dt), ptr, align=dt.itemsize)


def _store_acc(b, base, off, v, dt, t):
    _store_acc_ptr(b, b.gep(base, [off], inbounds=True), v, dt)
