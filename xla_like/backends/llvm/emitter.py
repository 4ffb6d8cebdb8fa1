"""The LLVM IR emitter shared by the compiled backends: one output element at a time.

`ElementEmitter.value(instr, index)` returns the LLVM value of `instr`'s element at `index`
(a list of i64 values, one per dimension), from its operands' elements: data movement
(broadcast, reshape, transpose, slice, pad, ...) is index arithmetic, elementwise ops are one or
a few instructions, reductions are loops. Results are cached per index within the current loop
body, so a value used twice is computed once, and a row reduction computed before an inner loop
is reused by every element of that row.

Each instruction's handler is a generator that yields `(operand, index)` for every operand
element it needs and is sent that element's value; `run` serves those requests from an explicit
stack. A fused expression is as deep as the program that made it (a 10,000-step chain is one
kernel), so walking it by Python recursion would hit the interpreter's recursion limit.

Semantics follow the NumPy references in `ops/` exactly where IEEE allows: NaN-propagating
max/min with NumPy's tie rule, C integer division with x/0 = 0, saturating float->int
conversion, shifts past the bit width, round half away from zero / to even. The backend-specific
parts (how loops are laid out, math function bodies) come in from the caller.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from ops import dtypes as _dt
from ops.core import PRIMITIVES

from ... import ir
from . import half
from .half import f64_to_f32_round_to_odd, round_bf16  # noqa: F401 (shared names)
from .reshape_runs import reshape_runs as _reshape_runs

I1, I8, I16, I32, I64 = (ll.IntType(1), ll.IntType(8), ll.IntType(16), ll.IntType(32),
                        ll.IntType(64))
F16, F32, F64 = ll.HalfType(), ll.FloatType(), ll.DoubleType()
BF16 = _dt.bfloat16


def storage_type(dtype: np.dtype):
    """How a dtype is laid out in memory (bool is a byte, as in NumPy; bfloat16 its 16 bits,
    an i16, rounded by integer arithmetic in `round_bf16`: exact and vectorizable on every
    host, where AVX-512 BF16's VCVTNEPS2BF16 flushes subnormals)."""
    k, n = dtype.kind, dtype.itemsize
    if dtype == BF16:
        return I16
    if k == "b":
        return I8
    if k in "iu":
        return ll.IntType(8 * n)
    if k == "c":
        # Kernels see complex values only where they are read or written whole (the
        # split_complex pass computes with their parts): a {re, im} pair, NumPy's layout.
        part = F32 if n == 8 else F64
        return ll.LiteralStructType([part, part])
    return {2: F16, 4: F32, 8: F64}[n]


def value_type(dtype: np.dtype):
    """How a dtype is held in registers (bool is i1; bfloat16 a float32 holding a bfloat16
    value: every op computes in float32 and rounds its result with `round_bf16`)."""
    if dtype == BF16:
        return F32
    return I1 if dtype.kind == "b" else storage_type(dtype)


def to_register(b: ll.IRBuilder, v, dtype: np.dtype):
    """A loaded element (storage type) as its register value (`value_type`)."""
    if dtype == BF16:
        return half.to_register(b, v)   # the upper half of a float32: exact
    if dtype.kind == "b":
        return b.icmp_unsigned("!=", v, ll.Constant(I8, 0))
    return v


def to_memory(b: ll.IRBuilder, v, dtype: np.dtype):
    """A register value as stored (the inverse of `to_register`). A bfloat16 register holds
    a rounded value (every op producing one rounds, and so do accumulators when they finish:
    `round_bf16`), so its upper 16 bits are the element."""
    if dtype == BF16:
        return half.to_memory(b, v)
    if dtype.kind == "b":
        return b.zext(v, I8)
    return v


def const(dtype: np.dtype, v):
    t = value_type(dtype)
    if dtype.kind == "b":
        return ll.Constant(I1, int(bool(v)))
    if dtype.kind in "iu":
        return ll.Constant(t, int(v) & ((1 << (8 * dtype.itemsize)) - 1))
    if dtype == BF16:
        return ll.Constant(t, float(np.float32(v)))
    if dtype.kind == "c":
        part = t.elements[0]
        return ll.Constant(t, [ll.Constant(part, float(np.real(v))),
                               ll.Constant(part, float(np.imag(v)))])
    return ll.Constant(t, float(v))


def _align(dtype: np.dtype) -> int:
    """An element's alignment: its size, or its part's for a complex one (NumPy's)."""
    return dtype.itemsize // 2 if dtype.kind == "c" else dtype.itemsize


def i64(v):
    return ll.Constant(I64, int(v))


def mangle(t) -> str:
    if isinstance(t, ll.IntType):
        return f"i{t.width}"
    return {F16: "f16", F32: "f32", F64: "f64"}[t]


def intrinsic(module: ll.Module, base: str, ret, args, overloads):
    """Declare (once) the LLVM intrinsic `base` overloaded on `overloads`."""
    name = base + "".join("." + mangle(t) for t in overloads)
    fn = module.globals.get(name)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(ret, list(args)), name)
    return fn


# --- conversions that never need a runtime library call ----------------------------------------
# Half-precision conversions other than f32 <-> f16 lower to compiler-rt routines
# (`__truncdfhf2`, ...) that a JIT cannot resolve, so they go through float32, which is exact
# where it must be: every integer a float16 can hold below its overflow threshold is exact in
# float32, and f64 -> f16 rounds to odd in float32 first (24 >= 2 * 11 + 2 bits), after which
# the f32 -> f16 rounding is the correctly rounded one.

def fp_cast(b: ll.IRBuilder, x, t):
    """Float to float, correctly rounded (round to nearest even)."""
    src = x.type
    if src == t:
        return x
    width = {F16: 16, F32: 32, F64: 64}
    if width[t] > width[src]:
        return b.fpext(x, t)
    if t == F16 and src == F64:
        return b.fptrunc(f64_to_f32_round_to_odd(b, x), F16)
    return b.fptrunc(x, t)


def int_to_fp(b: ll.IRBuilder, x, t, signed: bool):
    if x.type == I1:
        signed = False
    via = F32 if t == F16 else t
    v = b.sitofp(x, via) if signed else b.uitofp(x, via)
    return b.fptrunc(v, F16) if t == F16 else v


def fp_to_int_sat(b: ll.IRBuilder, x, t, signed: bool):
    """Float to integer: truncating, saturating, NaN -> 0 (XLA's conversion)."""
    if x.type == F16:
        x = b.fpext(x, F32)
    name = "llvm.fptosi.sat" if signed else "llvm.fptoui.sat"
    return b.call(intrinsic(b.module, name, t, [x.type], [t, x.type]), [x])


class Buffer:
    """A kernel input or output in memory: a typed pointer, the Shape, row-major strides."""

    def __init__(self, ptr, shape: ir.Shape):
        self.ptr = ptr
        self.shape = shape
        strides, acc = [], 1
        for d in reversed(shape.dims):
            strides.append(acc)
            acc *= d
        self.strides = list(reversed(strides))
        self.size = acc


class ElementEmitter:
    """Emits the elements of a fused computation's instructions at given indices.

    Handlers (`_op_<opcode>`, `reduction`, `_elementwise`) are generators: they yield
    `(instr, index)` for each element they need and receive its value (see the module
    docstring)."""

    # The target's float arithmetic returns an operand's NaN (quieted) or a default NaN with
    # zero low 16 bits (x86, ARM), so rounding a bfloat16 op's result needs no NaN test
    # (`round_bf16`). PTX's default NaN is 0x7FFFFFFF: the CUDA emitter says False.
    nan_passes_through = True
    # Row gathers prefetch the rows ahead (`llvm.prefetch`); the CUDA emitter says False.
    prefetches = True

    def __init__(self, builder: ll.IRBuilder, inputs: list, math, flat_size=None):
        self.b = builder
        self.inputs = inputs          # Buffer per parameter index
        self.math = math              # (name, llvm type) -> llvm Function
        self.flat_size = flat_size    # set: every index is one linear position (flat loop)
        self.scopes = [{}]
        self.scratch = {}             # instr id -> load(index) or None (row_scratch.py)

    # -- caching and the request loop ------------------------------------------------------

    def push_scope(self):
        self.scopes.append({})

    def pop_scope(self):
        self.scopes.pop()

    @staticmethod
    def _key(instr, index):
        parts = []
        for v in index:
            parts.append(("c", v.constant) if isinstance(v, ll.Constant) else id(v))
        return (instr.id, tuple(parts))

    def _cached(self, key):
        for scope in reversed(self.scopes):
            hit = scope.get(key)
            if hit is not None:
                return hit[0]
        return None

    def value(self, instr, index):
        """The LLVM value of `instr`'s element at `index`, emitted at the builder's position
        (or the one already emitted in an enclosing scope)."""
        return self.run(_request(instr, index))

    def run(self, steps):
        """Drive the generator `steps` (a handler, or any code written like one) to its return
        value, emitting every element it requests, and theirs, in the order asked for."""
        stack = [(steps, None, None)]      # (generator, cache key of its result, its index)
        sent = None
        while True:
            gen, key, index = stack[-1]
            try:
                instr, want = gen.send(sent)
            except StopIteration as done:
                stack.pop()
                sent = done.value
                if not stack:
                    return sent
                # Cached in the scope open when it finished, as a call returning would be;
                # `index` is kept alive so the ids in the key stay unique.
                self.scopes[-1][key] = (sent, index)
                continue
            key = self._key(instr, want)
            sent = self._cached(key)
            if sent is not None:
                continue
            if self.scratch and instr.id in self.scratch:
                sent = self.scratch[instr.id](want)
                if sent is not None:
                    self.scopes[-1][key] = (sent, want)
                    continue
            if _is_leaf(instr.opcode):
                sent = self._leaf(instr, want)
                self.scopes[-1][key] = (sent, want)
                continue
            stack.append((self._handler(instr, want), key, want))

    # -- addressing ----------------------------------------------------------------------------

    def linear(self, buf: Buffer, index):
        if self.flat_size is not None:
            return index[0] if index and buf.size == self.flat_size else i64(0)
        off = None
        for v, s, n in zip(index, buf.strides, buf.shape.dims):
            if n == 1:
                continue  # the index there is 0
            # A stride is an int, or a run-time i64 (a parameter read from the caller's
            # array of its true length, `kernels.emit_fusion`'s `strides`).
            term = v if s == 1 else self.b.mul(v, s if isinstance(s, ll.Value) else i64(s))
            off = term if off is None else self.b.add(off, term)
        return i64(0) if off is None else off

    def load(self, buf: Buffer, index):
        if buf.size == 0:
            # Only reachable on a path whose result is discarded (a select's other arm).
            return ll.Constant(value_type(buf.shape.dtype), 0)
        ptr = self.b.gep(buf.ptr, [self.linear(buf, index)], inbounds=True)
        v = self.b.load(ptr, align=_align(buf.shape.dtype))
        return to_register(self.b, v, buf.shape.dtype)

    def store(self, buf: Buffer, index, v):
        v = to_memory(self.b, v, buf.shape.dtype)
        ptr = self.b.gep(buf.ptr, [self.linear(buf, index)], inbounds=True)
        self.b.store(v, ptr, align=_align(buf.shape.dtype))

    # -- instructions --------------------------------------------------------------------------

    def _leaf(self, instr, index):
        """An element that reads no other element: a parameter's, a constant's, an iota's."""
        if instr.opcode == ir.PARAMETER:
            return self.load(self.inputs[instr.attrs["index"]], index)
        if instr.opcode == ir.CONSTANT:
            return const(instr.shape.dtype, instr.attrs["value"].reshape(-1)[0])
        return self._iota(instr, index)

    def _handler(self, instr, index):
        handler = getattr(self, "_op_" + instr.opcode, None)
        if handler is not None:
            return handler(instr, index)
        return self._elementwise(instr, index)

    def _elementwise(self, instr, index):
        from . import elementwise as llvm_elementwise
        args = []
        for o in instr.operands:
            args.append((yield o, index))
        return llvm_elementwise.emit(self, instr, args)

    # data movement: each maps the output index to an operand index

    def _op_broadcast_in_dim(self, instr, index):
        x = instr.operands[0]
        if self.flat_size is not None:
            return (yield x, index if x.shape.size == self.flat_size else [])
        dims = instr.attrs["broadcast_dimensions"]
        return (yield x, [i64(0) if x.shape.dims[k] == 1 else index[d]
                          for k, d in enumerate(dims)])

    def _delinearize(self, lin, dims):
        out = []
        for k in range(len(dims) - 1, -1, -1):
            d = dims[k]
            if d == 1:
                out.append(i64(0))   # as `kernels.delinearize`: one value per index
            elif k == 0:
                out.append(lin)
            else:
                out.append(self.b.urem(lin, i64(d)))
                lin = self.b.udiv(lin, i64(d))
        return list(reversed(out))

    def _linearize(self, index, dims):
        lin = i64(0)
        for v, d in zip(index, dims):
            lin = self.b.add(self.b.mul(lin, i64(d)), v)
        return lin

    def _op_reshape(self, instr, index):
        x = instr.operands[0]
        if self.flat_size is not None:
            return (yield x, index)
        if x.shape.dims == instr.shape.dims:
            return (yield x, index)
        # Dropping or adding size-1 dims keeps the other indices as they are.
        a = [d for d in instr.shape.dims if d != 1]
        c = [d for d in x.shape.dims if d != 1]
        if a == c:
            src = iter([v for v, d in zip(index, instr.shape.dims) if d != 1])
            return (yield x, [i64(0) if d == 1 else next(src) for d in x.shape.dims])
        # Axes regroup in runs whose sizes multiply to the same number on both sides (a head
        # split (S, D) -> (S, H, D/H) is three runs): each run maps on its own, so a pure
        # regrouping needs no division by the other runs' sizes. Linearizing the whole index
        # and dividing it back made LLVM's vectorizer give up on transposed copies (it cannot
        # prove `(i * 64 + j) % 256` stays in one row) and unroll them instead.
        src = []
        for out_axes, in_axes in _reshape_runs(instr.shape.dims, x.shape.dims):
            lin = self._linearize([index[k] for k in out_axes],
                                  [instr.shape.dims[k] for k in out_axes])
            src += self._delinearize(lin, [x.shape.dims[k] for k in in_axes])
        return (yield x, src)

    _op_squeeze = _op_reshape

    def _op_stop_gradient(self, instr, index):
        return (yield instr.operands[0], index)

    _op_optimization_barrier = _op_stop_gradient

    def _op_transpose(self, instr, index):
        perm = instr.attrs["permutation"]
        src = [None] * len(perm)
        for i, p in enumerate(perm):
            src[p] = index[i]
        return (yield instr.operands[0], src)

    def _op_rev(self, instr, index):
        n = instr.shape.dims
        dims = {d % len(n) for d in instr.attrs["dimensions"]}
        return (yield instr.operands[0], [self.b.sub(i64(n[d] - 1), v) if d in dims else v
                                          for d, v in enumerate(index)])

    def _op_slice(self, instr, index):
        starts = instr.attrs["start_indices"]
        strides = instr.attrs.get("strides") or (1,) * len(starts)
        src = []
        for v, s, st in zip(index, starts, strides):
            w = self.b.mul(v, i64(st)) if st != 1 else v
            src.append(self.b.add(w, i64(s)) if s else w)
        return (yield instr.operands[0], src)

    def _iota(self, instr, index):
        d = instr.attrs["dimension"]
        v = index[d] if self.flat_size is None else index[0]
        dt = instr.shape.dtype
        t = value_type(dt)
        if dt == BF16:
            return round_bf16(self.b, self.b.uitofp(v, F64))
        if dt.kind == "f":
            return int_to_fp(self.b, v, t, signed=False)
        return self.b.trunc(v, t) if t.width < 64 else v

    def _as_i64(self, v, dtype):
        if v.type.width == 64:
            if dtype.kind == "u":
                # A uint64 index past int64's range is still past every size: saturate it
                # rather than let it read as negative (a clamp would then pick 0).
                return self.b.select(self.b.icmp_signed("<", v, i64(0)), i64(2 ** 63 - 1), v)
            return v
        return self.b.sext(v, I64) if dtype.kind == "i" else self.b.zext(v, I64)

    def _clamp_i64(self, v, lo, hi):
        v = self.b.select(self.b.icmp_signed("<", v, i64(lo)), i64(lo), v)
        return self.b.select(self.b.icmp_signed(">", v, i64(hi)), i64(hi), v)

    def _op_dynamic_slice(self, instr, index):
        x = instr.operands[0]
        sizes = instr.attrs["slice_sizes"]
        src = []
        for d, (v, s_instr) in enumerate(zip(index, instr.operands[1:])):
            start = self._as_i64((yield s_instr, []), s_instr.shape.dtype)
            start = self._clamp_i64(start, 0, x.shape.dims[d] - sizes[d])
            src.append(self.b.add(v, start))
        return (yield x, src)

    def _op_dynamic_update_slice(self, instr, index):
        x, upd = instr.operands[0], instr.operands[1]
        inside = ll.Constant(I1, 1)
        src = []
        for d, (v, s_instr) in enumerate(zip(index, instr.operands[2:])):
            start = self._as_i64((yield s_instr, []), s_instr.shape.dtype)
            start = self._clamp_i64(start, 0, x.shape.dims[d] - upd.shape.dims[d])
            rel = self.b.sub(v, start)
            ok = self.b.and_(self.b.icmp_signed(">=", rel, i64(0)),
                             self.b.icmp_signed("<", rel, i64(upd.shape.dims[d])))
            inside = self.b.and_(inside, ok)
            src.append(self.b.select(ok, rel, i64(0)))
        u = yield upd, src
        o = yield x, index
        return self.b.select(inside, u, o)

    def _op_pad(self, instr, index):
        x, pv = instr.operands
        inside = ll.Constant(I1, 1)
        src = []
        for v, n, (lo, hi, interior) in zip(index, x.shape.dims, instr.attrs["padding_config"]):
            t = self.b.sub(v, i64(lo))
            step = interior + 1
            q = self.b.sdiv(t, i64(step)) if step != 1 else t
            ok = self.b.and_(self.b.icmp_signed(">=", t, i64(0)),
                             self.b.icmp_signed("<", q, i64(n)))
            if step != 1:
                ok = self.b.and_(ok, self.b.icmp_signed("==", self.b.srem(t, i64(step)),
                                                        i64(0)))
            inside = self.b.and_(inside, ok)
            src.append(self.b.select(ok, q, i64(0)))
        inner = yield x, src
        fill = yield pv, []
        return self.b.select(inside, inner, fill)

    def _op_concatenate(self, instr, index):
        d = instr.attrs["dimension"] % len(instr.shape.dims)
        result, off = None, 0
        for o in instr.operands:
            n = o.shape.dims[d]
            if n:
                rel = self.b.sub(index[d], i64(off)) if off else index[d]
                safe = self._clamp_i64(rel, 0, n - 1)
                v = yield o, index[:d] + [safe] + index[d + 1:]
                # Operands are in order: from its offset on, a later operand's value wins.
                result = v if result is None else \
                    self.b.select(self.b.icmp_signed(">=", index[d], i64(off)), v, result)
            off += n
        if result is None:
            # Every operand is empty along `d`: only a loop that runs zero times asks.
            return ll.Constant(value_type(instr.shape.dtype), 0)
        return result

    def _op_gather(self, instr, index):
        x, idx = instr.operands
        axes = [a % len(x.shape.dims) for a in instr.attrs["axes"]]
        mode = instr.attrs.get("mode", "clip")
        nb = len(idx.shape.dims) - 1
        batch, window = index[:nb], index[nb:]
        ok = ll.Constant(I1, 1)
        picked = []
        for k, a in enumerate(axes):
            v = self._as_i64((yield idx, batch + [i64(k)]), idx.shape.dtype)
            n = x.shape.dims[a]
            if idx.shape.dtype.kind == "u":
                in_range = self.b.icmp_unsigned("<", v, i64(n))
            else:
                in_range = self.b.and_(self.b.icmp_signed(">=", v, i64(0)),
                                       self.b.icmp_signed("<", v, i64(n)))
            ok = self.b.and_(ok, in_range)
            if mode != "fill" and idx.shape.dtype.kind == "u":
                v = self.b.select(in_range, v, i64(max(n - 1, 0)))
            else:
                v = self._clamp_i64(v, 0, max(n - 1, 0))
            picked.append(v)
        src, w = [], iter(window)
        for d in range(len(x.shape.dims)):
            src.append(picked[axes.index(d)] if d in axes else next(w))
        v = yield x, src
        if mode == "fill":
            from ops.indexing import default_fill_value
            fv = instr.attrs.get("fill_value")
            with np.errstate(all="ignore"):
                fv = np.asarray(default_fill_value(instr.shape.dtype) if fv is None
                                else fv).astype(instr.shape.dtype)
            fill = const(instr.shape.dtype, fv.item())
            v = self.b.select(ok, v, fill)
        return v

    # reductions: a loop over the reduced axes at this output index

    def _reduced_axes(self, instr):
        rank = len(instr.operands[0].shape.dims)
        if "axis" in instr.attrs:
            return (instr.attrs["axis"] % rank,)
        return tuple(sorted({a % rank for a in instr.attrs["axes"]}))

    def reduction(self, instr, out_index):
        """Emit the loop computing `instr` (a reduction) at `out_index`; returns the value."""
        from . import reduce as llvm_reduce
        return (yield from llvm_reduce.emit_reduction(self, instr, out_index,
                                                      self._reduced_axes(instr)))

    _op_reduce_sum = _op_reduce_prod = _op_reduce_max = _op_reduce_min = \
        _op_reduce_and = _op_reduce_or = _op_argmax = _op_argmin = reduction


def reduces(comp) -> bool:
    """Does fused computation `comp` hold a reduction (the only element op emitting a loop of
    its own inside the kernel's loops)?"""
    return any(getattr(ElementEmitter, f"_op_{instr.opcode}", None) is ElementEmitter.reduction
               for instr in comp.instructions)


def _is_leaf(op) -> bool:
    """Reads no other element: a parameter, a constant, or computed from its own position."""
    if op == ir.PARAMETER or op == ir.CONSTANT:
        return True
    prim = PRIMITIVES.get(op)
    return prim is not None and prim.positional


def _request(instr, index):
    """The generator asking for one element (what `ElementEmitter.value` runs)."""
    return (yield instr, index)


def logistic_function(module: ll.Module, ty, exp):
    """`jc.logistic.f32/f64`: 1 / (1 + e) or e / (1 + e) with e = exp(-|x|), so neither side
    overflows. `exp`: the function computing exp for `ty` (libm, libdevice...)."""
    fname = f"jc.logistic.{'f32' if ty == F32 else 'f64'}"
    fn = module.globals.get(fname)
    if fn is None:
        fn = ll.Function(module, ll.FunctionType(ty, [ty]), fname)
        fn.linkage = "internal"
        b = ll.IRBuilder(fn.append_basic_block())
        x = fn.args[0]
        fabs = intrinsic(module, "llvm.fabs", ty, [ty], [ty])
        e = b.call(exp, [b.fneg(b.call(fabs, [x]))])
        one = ll.Constant(ty, 1.0)
        d = b.fadd(one, e)
        b.ret(b.select(b.fcmp_ordered(">=", x, ll.Constant(ty, 0.0)), b.fdiv(one, d),
                       b.fdiv(e, d)))
    return fn
