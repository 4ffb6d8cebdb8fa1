"""Native cumulative scans (cumsum, cumprod, cummax, cummin), emitted with LLVM.

Floats accumulate in float64 and round once per output element (so a float32 cumsum of a
million elements is within about one float32 rounding of the exact prefix sums); a sum is
also blocked: the running value restarts every `BLOCK` elements and is added to the sum of the
blocks before, so a float64 sum's error grows with BLOCK + n / BLOCK terms, not n. Integers
wrap in their own type; max and min propagate NaNs, as `np.maximum`/`np.minimum` do.

Layout (`plan.sort_scan.ScanLayout`): along the last axis each unit scans a row, or a chunk of
one when rows are too few for the threads (a first phase writes each chunk's total, the
second scans each chunk starting from the totals of the chunks before it); along another axis
each unit streams down a block of columns, one running value per column on the stack, the
inner loop over columns (vectorized).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir as ll

from .emitter import F64, I64, i64, storage_type
from .loops import counted_loop, entry_alloca
from .sort import Phase, _Var, _fn

BLOCK = 256
_UNROLL = 8


class _Scan:
    def __init__(self, mod, name, layout):
        self.mod, self.name, self.lay = mod, name, layout
        self.dt = layout.dtype
        self.st = storage_type(self.dt)
        self.flt = self.dt.kind == "f"
        self.acc_t = F64 if self.flt else self.st
        self.op = layout.op
        self.blocked = self.flt and self.op == "add"
        g = layout.geo
        self.n, self.inner, self.outer = g.n, g.inner, g.outer
        self.C = layout.chunks

    def bind(self, fn, b):
        self.b = b
        self.x = b.bitcast(fn.args[0], ll.PointerType(self.st))
        self.out = b.bitcast(fn.args[1], ll.PointerType(self.st))
        self.totals = b.bitcast(fn.args[2], ll.PointerType(self.acc_t))

    def identity(self):
        t = self.acc_t
        if self.op == "add":
            return ll.Constant(t, 0.0 if self.flt else 0)
        if self.op == "mul":
            return ll.Constant(t, 1.0 if self.flt else 1)
        if self.flt:
            return ll.Constant(t, float("-inf") if self.op == "max" else float("inf"))
        info = np.iinfo(self.dt)
        v = info.min if self.op == "max" else info.max
        return ll.Constant(t, int(v) & ((1 << (8 * self.dt.itemsize)) - 1))

    def widen(self, v):
        if self.flt and self.st != F64:
            return self.b.fpext(v, F64)
        return v

    def narrow(self, v):
        if self.flt and self.st != F64:
            return self.b.fptrunc(v, self.st)
        return v

    def combine(self, acc, x):
        b = self.b
        if self.op == "add":
            return b.fadd(acc, x) if self.flt else b.add(acc, x)
        if self.op == "mul":
            return b.fmul(acc, x) if self.flt else b.mul(acc, x)
        if self.flt:
            # NumPy's maximum/minimum: a NaN on either side wins, ties keep the first.
            better = b.fcmp_unordered(">" if self.op == "max" else "<", x, acc)
            take = b.and_(better, b.fcmp_ordered("==", acc, acc))
            return b.select(take, x, acc)
        signed = self.dt.kind == "i"
        cmp = b.icmp_signed if signed else b.icmp_unsigned
        return b.select(cmp(">" if self.op == "max" else "<", x, acc), x, acc)

    def load(self, at):
        return self.widen(self.b.load(self.b.gep(self.x, [at])))

    def store(self, v, at):
        self.b.store(self.narrow(v), self.b.gep(self.out, [at]))

    def positions(self, lo, hi, body, name):
        """body(i) for i in [lo, hi), from the end when the scan is reversed."""
        b = self.b
        if not self.lay.reverse:
            counted_loop(b, lo, hi, body, name=name)
            return
        last = b.sub(hi, i64(1))
        counted_loop(b, i64(0), b.sub(hi, lo), lambda t: body(b.sub(last, t)), name=name)

    def chunk_range(self, c):
        b = self.b
        lo = b.udiv(b.mul(c, i64(self.n)), i64(self.C))
        hi = b.udiv(b.mul(b.add(c, i64(1)), i64(self.n)), i64(self.C))
        return lo, hi

    def before(self, c, get):
        """The combined totals of the chunks scanned before chunk `c` (those after it when
        reversed): `get(c2)` the total of chunk c2 for one column."""
        b = self.b
        acc = _Var(b, self.acc_t, self.identity())

        def body(c2):
            earlier = b.icmp_unsigned(">" if self.lay.reverse else "<", c2, c)
            acc.set(b.select(earlier, self.combine(acc.get(), get(c2)), acc.get()))
        counted_loop(b, i64(0), i64(self.C), body, name="scan.before")
        return acc.get()


# --- rows (the last axis) ---------------------------------------------------------------------

def _row_total(s, base, lo, hi):
    """The combined value of x[base + lo .. base + hi): `_UNROLL` independent accumulators
    (vectorizable), then a tail, then the accumulators combined."""
    b = s.b
    accs = [_Var(b, s.acc_t, s.identity()) for _ in range(_UNROLL)]
    count = b.sub(hi, lo)
    main = b.add(lo, b.mul(b.udiv(count, i64(_UNROLL)), i64(_UNROLL)))

    def body(i):
        for k, a in enumerate(accs):
            a.set(s.combine(a.get(), s.load(b.add(base, b.add(i, i64(k))))))
    counted_loop(b, lo, main, body, name="scan.total", step=i64(_UNROLL))

    def tail(i):
        accs[0].set(s.combine(accs[0].get(), s.load(b.add(base, i))))
    counted_loop(b, main, hi, tail, name="scan.tail")
    v = accs[0].get()
    for a in accs[1:]:
        v = s.combine(v, a.get())
    return v


def _row_scan(s, base, lo, hi, start):
    """out[base + i] for i in [lo, hi) (in scan order), starting from `start`."""
    b = s.b
    if not s.blocked:
        acc = _Var(b, s.acc_t, start)

        def body(i):
            v = s.combine(acc.get(), s.load(b.add(base, i)))
            acc.set(v)
            s.store(v, b.add(base, i))
        s.positions(lo, hi, body, "scan.row")
        return
    # Blocked: `run` restarts every BLOCK elements; `off` holds the blocks before.
    off = _Var(b, F64, start)
    run = _Var(b, F64, ll.Constant(F64, 0.0))
    step = _Var(b, I64, i64(0))

    def body(i):
        r = b.fadd(run.get(), s.load(b.add(base, i)))
        s.store(b.fadd(off.get(), r), b.add(base, i))
        t = b.add(step.get(), i64(1))
        full = b.icmp_unsigned("==", t, i64(BLOCK))
        off.set(b.select(full, b.fadd(off.get(), r), off.get()))
        run.set(b.select(full, ll.Constant(F64, 0.0), r))
        step.set(b.select(full, i64(0), t))
    s.positions(lo, hi, body, "scan.row")


def _row_phases(s: _Scan):
    lay = s.lay
    n, C = s.n, s.C
    rows = lay.geo.rows

    def unit_fn(suffix, body):
        fn, b = _fn(s.mod, f"{s.name}.{suffix}", 3)
        s.bind(fn, b)
        counted_loop(b, fn.args[-2], fn.args[-1], body, name="scan.unit")
        b.ret_void()
        return Phase(fn, rows * C)

    if C == 1:
        def whole(u):
            _row_scan(s, s.b.mul(u, i64(n)), i64(0), i64(n), s.identity())
        return [unit_fn("scan", whole)]

    def total(u):
        b = s.b
        row, c = b.udiv(u, i64(C)), b.urem(u, i64(C))
        lo, hi = s.chunk_range(c)
        b.store(_row_total(s, b.mul(row, i64(n)), lo, hi), b.gep(s.totals, [u]))

    def scan(u):
        b = s.b
        row, c = b.udiv(u, i64(C)), b.urem(u, i64(C))
        lo, hi = s.chunk_range(c)
        start = s.before(c, lambda c2: b.load(
            b.gep(s.totals, [b.add(b.mul(row, i64(C)), c2)])))
        _row_scan(s, b.mul(row, i64(n)), lo, hi, start)
    return [unit_fn("totals", total), unit_fn("scan", scan)]


# --- columns (another axis) -------------------------------------------------------------------

def _col_phases(s: _Scan):
    lay = s.lay
    n, inner, C = s.n, s.inner, s.C
    W = lay.width
    nb = lay.col_blocks
    units = s.outer * nb * C

    def geometry(u):
        b = s.b
        lane, c = b.udiv(u, i64(C)), b.urem(u, i64(C))
        o, cb = b.udiv(lane, i64(nb)), b.urem(lane, i64(nb))
        j0 = b.mul(cb, i64(W))
        width = b.sub(_umin(b, b.add(j0, i64(W)), i64(inner)), j0)
        base = b.add(b.mul(o, i64(n * inner)), j0)
        lo, hi = s.chunk_range(c) if C > 1 else (i64(0), i64(n))
        return lane, c, base, width, lo, hi

    def unit_fn(suffix, body):
        fn, b = _fn(s.mod, f"{s.name}.{suffix}", 3)
        s.bind(fn, b)
        counted_loop(b, fn.args[-2], fn.args[-1], body, name="scan.unit")
        b.ret_void()
        return Phase(fn, units)

    def arrays(b):
        acc = b.bitcast(entry_alloca(b, ll.ArrayType(s.acc_t, W), "acc"),
                        ll.PointerType(s.acc_t))
        run = b.bitcast(entry_alloca(b, ll.ArrayType(F64, W), "run"),
                        ll.PointerType(F64)) if s.blocked else None
        return acc, run

    def stream(base, width, lo, hi, acc, run, write):
        """Rows [lo, hi) of the column block (in scan order) into the running values."""
        b = s.b
        step = _Var(b, I64, i64(0))

        def row(i):
            at = b.add(base, b.mul(i, i64(inner)))

            def col(j):
                x = s.load(b.add(at, j))
                if run is None:
                    v = s.combine(b.load(b.gep(acc, [j])), x)
                    b.store(v, b.gep(acc, [j]))
                    if write:
                        s.store(v, b.add(at, j))
                    return
                r = b.fadd(b.load(b.gep(run, [j])), x)
                b.store(r, b.gep(run, [j]))
                if write:
                    s.store(b.fadd(b.load(b.gep(acc, [j])), r), b.add(at, j))
            counted_loop(b, i64(0), width, col, name="scan.col")
            if run is not None:
                t = b.add(step.get(), i64(1))
                full = b.icmp_unsigned("==", t, i64(BLOCK))
                with b.if_then(full):
                    fold(width, acc, run)
                step.set(b.select(full, i64(0), t))
        s.positions(lo, hi, row, "scan.rows")

    def fold(width, acc, run):
        b = s.b

        def col(j):
            b.store(b.fadd(b.load(b.gep(acc, [j])), b.load(b.gep(run, [j]))), b.gep(acc, [j]))
            b.store(ll.Constant(F64, 0.0), b.gep(run, [j]))
        counted_loop(b, i64(0), width, col, name="scan.fold")

    def init(width, acc, run, start):
        b = s.b

        def col(j):
            b.store(start(j), b.gep(acc, [j]))
            if run is not None:
                b.store(ll.Constant(F64, 0.0), b.gep(run, [j]))
        counted_loop(b, i64(0), width, col, name="scan.init")

    def scan(u):
        b = s.b
        lane, c, base, width, lo, hi = geometry(u)
        acc, run = arrays(b)
        if C == 1:
            init(width, acc, run, lambda j: s.identity())
        else:
            init(width, acc, run, lambda j: s.before(c, lambda c2: b.load(b.gep(
                s.totals, [b.add(b.mul(b.add(b.mul(lane, i64(C)), c2), i64(W)), j)]))))
        stream(base, width, lo, hi, acc, run, True)

    if C == 1:
        return [unit_fn("scan", scan)]

    def total(u):
        b = s.b
        lane, c, base, width, lo, hi = geometry(u)
        acc, run = arrays(b)
        init(width, acc, run, lambda j: s.identity())
        stream(base, width, lo, hi, acc, run, False)
        if run is not None:
            fold(width, acc, run)
        dst = b.gep(s.totals, [b.mul(u, i64(W))])
        counted_loop(b, i64(0), width, lambda j: b.store(b.load(b.gep(acc, [j])),
                                                         b.gep(dst, [j])), name="scan.put")
    return [unit_fn("totals", total), unit_fn("scan", scan)]


def _umin(b, x, y):
    return b.select(b.icmp_unsigned("<", x, y), x, y)


def emit_scan(mod, name, layout):
    """The phases of a scan step laid out by `layout` (`plan.sort_scan.ScanLayout`): each
    phase's function takes (input, output, region) as i8*, then its range of units."""
    s = _Scan(mod, name, layout)
    if layout.geo.inner == 1:
        return _row_phases(s)
    return _col_phases(s)

