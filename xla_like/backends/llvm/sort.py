"""Native sorts: a stable LSD radix sort of order-preserving integer keys, emitted with LLVM.

Each key operand's bits become an unsigned integer of its width whose order is the sort's:
integers flip their sign bit; floats map -0.0 to +0.0 and every NaN to one positive quiet
NaN (so ties are the sort's ties and NaNs come last, as `ops.sorting` and JAX order them),
then flip all bits of negatives and the sign bit of the others. 8-bit digits, least
significant first, each a counting pass (a histogram, its prefix sums, a stable scatter);
a digit every key shares is skipped. A sort by several keys sorts by the last key first,
each later key read through the positions sorted so far.

- One operand ("values" mode): only keys move; the last pass turns them back into values.
  The map merges -0.0/+0.0 and NaN payloads, so a row holding -0.0 or a NaN other than the
  canonical one gets its run of zeros (and of NaNs) rewritten from the input in order (the
  stable order); such rows are rare and pay one more pass.
- Several operands ("perm" mode, argsort is sort(x, iota)): keys move with their int32
  positions; every operand is gathered by them at the end.

Rows (see `plan.sort_scan.Rows`) are sorted whole by one unit, each unit ("slot") taking a
share of the rows with its own scratch (which stays in cache from row to row); short rows
(`layout.insertion`) by a stable insertion sort of the same keys. A row too long for the
threads to share otherwise is cut into chunks sorted as one by phases with barriers between
them: load (keys and per-chunk histograms of every digit), then per digit a histogram of each
chunk in the current order and a scatter in which each chunk writes at its own offsets (the
sum of the lower digits' counts and of the earlier chunks' counts of its digit), then the
gather or conversion back.
"""
from __future__ import annotations

from llvmlite import ir as ll

from .emitter import I1, I8, I32, I64, i64
from .loops import counted_loop, entry_alloca

_I8P = ll.PointerType(I8)


class Phase:
    """One kernel of a phased step: `fn(*pointers, lo, hi)` over `units` units."""

    def __init__(self, fn, units):
        self.fn, self.units = fn, units


def _int(nbytes):
    return ll.IntType(8 * nbytes)


def _fn(mod, name, nptrs):
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [_I8P] * nptrs + [I64, I64]), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    return fn, b


class _Var:
    """A mutable i64 (or other) local: an alloca that mem2reg turns into registers."""

    def __init__(self, b, t, init, name=""):
        self.b, self.slot = b, entry_alloca(b, t, name)
        b.store(init, self.slot)

    def get(self):
        return self.b.load(self.slot)

    def set(self, v):
        self.b.store(v, self.slot)


# --- keys ------------------------------------------------------------------------------------

def _float_consts(w):
    bits = 8 * w
    sign = 1 << (bits - 1)
    mant = {2: 10, 4: 23, 8: 52}[w]
    inf = (sign - 1) ^ ((1 << mant) - 1)
    canon = inf | (1 << (mant - 1))
    return sign, inf, canon


def _key(b, bits, dt):
    """(key, (neg, zero, nan, changed) or None) for the raw bits of one element."""
    w = dt.itemsize
    t = _int(w)
    if dt.kind == "f":
        sign, inf, canon = _float_consts(w)
        a = b.and_(bits, ll.Constant(t, sign - 1))
        zero = b.icmp_unsigned("==", a, ll.Constant(t, 0))
        nan = b.icmp_unsigned(">", a, ll.Constant(t, inf))
        c = b.select(zero, ll.Constant(t, 0), b.select(nan, ll.Constant(t, canon), bits))
        neg = b.icmp_unsigned(">=", c, ll.Constant(t, sign))
        key = b.select(neg, b.not_(c), b.or_(c, ll.Constant(t, sign)))
        return key, (neg, zero, nan, b.icmp_unsigned("!=", c, bits))
    if dt.kind == "i":
        return b.xor(bits, ll.Constant(t, 1 << (8 * w - 1))), None
    return bits, None


def _unkey(b, key, dt):
    w = dt.itemsize
    t = _int(w)
    sign = ll.Constant(t, 1 << (8 * w - 1))
    if dt.kind == "f":
        pos = b.icmp_unsigned(">=", key, sign)
        return b.select(pos, b.xor(key, sign), b.not_(key))
    if dt.kind == "i":
        return b.xor(key, sign)
    return key


def _digit(b, key, p):
    d = b.lshr(key, ll.Constant(key.type, 8 * p)) if p else key
    return b.zext(b.trunc(d, I8), I64) if key.type.width > 8 else b.zext(d, I64)


class _Sort:
    """The pieces of one sort's code, shared by its whole-row and chunked forms."""

    def __init__(self, mod, name, layout):
        self.mod, self.name, self.lay = mod, name, layout
        self.K = len(layout.dtypes)
        self.kt = _int(layout.kbytes)
        self.perm = layout.mode == "perm"
        dt0 = layout.dtypes[0]
        self.fix = not self.perm and dt0.kind == "f"
        g = layout.geo
        self.n, self.inner, self.nrows = g.n, g.inner, g.rows
        # Keys sorted last to first: (operand index, its passes).
        self.keys = [(k, layout.dtypes[k].itemsize) for k in reversed(range(layout.num_keys))]

    # Pointers of a function whose args are inputs, outputs, region, lo, hi.
    def bind(self, fn, b):
        K = self.K
        self.b = b
        self.x = [b.bitcast(fn.args[j], ll.PointerType(_int(d.itemsize)))
                  for j, d in enumerate(self.lay.dtypes)]
        self.out = [b.bitcast(fn.args[K + j], ll.PointerType(_int(d.itemsize)))
                    for j, d in enumerate(self.lay.dtypes)]
        self.region = fn.args[2 * K]

    def part(self, base, name, t):
        return self.b.bitcast(self.b.gep(base, [i64(self.lay.offsets[name])]),
                              ll.PointerType(t))

    def scratch(self, unit):
        b = self.b
        base = b.gep(self.region, [b.mul(unit, i64(self.lay.unit_bytes))])
        keys = (self.part(base, "keyA", self.kt), self.part(base, "keyB", self.kt))
        idx = (self.part(base, "idxA", I32), self.part(base, "idxB", I32)) if self.perm \
            else None
        return base, keys, idx

    def row_base(self, row):
        b = self.b
        if self.inner == 1:
            return b.mul(row, i64(self.n))
        o = b.udiv(row, i64(self.inner))
        j = b.urem(row, i64(self.inner))
        return b.add(b.mul(o, i64(self.n * self.inner)), j)

    def at(self, base, i):
        b = self.b
        return b.add(base, i if self.inner == 1 else b.mul(i, i64(self.inner)))

    def pick(self, parity, pair):
        """(current, other) of a buffer pair for run-time `parity` (0: A is current)."""
        b = self.b
        odd = b.icmp_unsigned("!=", parity, i64(0))
        return b.select(odd, pair[1], pair[0]), b.select(odd, pair[0], pair[1])

    # --- loops over [lo, hi) of a row -----------------------------------------------------
    def load(self, k, first, rbase, lo, hi, keys, idx, hist, on_counts=None, uni=None):
        """Keys of operand `k` (through the current positions unless `first`) into `keys`,
        each digit's counts added to `hist(p) -> i32*`; `uni[p]` tracks whether every digit p
        of [lo, hi) is one value (the digit, else -1)."""
        b, dt = self.b, self.lay.dtypes[k]
        w = dt.itemsize

        def body(i):
            src = i if first else b.zext(b.load(b.gep(idx, [i])), I64)
            bits = b.load(b.gep(self.x[k], [self.at(rbase, src)]))
            key, cls = _key(b, bits, dt)
            key = b.zext(key, self.kt) if w < self.lay.kbytes else key
            b.store(key, b.gep(keys, [i]))
            if first and self.perm:
                b.store(b.trunc(i, I32), b.gep(idx, [i]))
            for p in range(w if hist is not None else 0):
                slot = b.gep(hist(p), [_digit(b, key, p)])
                b.store(b.add(b.load(slot), ll.Constant(I32, 1)), slot)
                if uni is not None:
                    d = _digit(b, key, p)
                    cur = uni[p].get()
                    uni[p].set(b.select(b.icmp_signed("==", cur, d), cur, i64(-1)))
            if cls is not None and on_counts is not None:
                on_counts(cls)
        if uni is not None:
            # Start each digit's tracker at the first element's digit.
            src0 = lo if first else b.zext(b.load(b.gep(idx, [lo])), I64)
            bits0 = b.load(b.gep(self.x[k], [self.at(rbase, src0)]))
            key0, _ = _key(b, bits0, dt)
            key0 = b.zext(key0, self.kt) if w < self.lay.kbytes else key0
            for p in range(w):
                uni[p].set(_digit(b, key0, p))
        counted_loop(b, lo, hi, body, name="sort.load")

    def scatter(self, p, lo, hi, src_k, dst_k, src_i, dst_i, off):
        b = self.b

        def body(i):
            key = b.load(b.gep(src_k, [i]))
            slot = b.gep(off, [i64(0), _digit(b, key, p)])
            pos = b.load(slot)
            b.store(b.add(pos, i64(1)), slot)
            b.store(key, b.gep(dst_k, [pos]))
            if src_i is not None:
                b.store(b.load(b.gep(src_i, [i])), b.gep(dst_i, [pos]))
        counted_loop(b, lo, hi, body, name="sort.scatter")

    def insertion(self, keys, idx):
        """Stable insertion sort of the row's keys (and positions) in place: for short rows,
        where a radix sort's 256-entry tables would cost more than the row."""
        b = self.b
        fn = b.function

        def outer(i):
            key = b.load(b.gep(keys, [i]))
            pos = b.load(b.gep(idx, [i])) if idx is not None else None
            pre = b.block
            head = fn.append_basic_block("ins.head")
            shift = fn.append_basic_block("ins.shift")
            done = fn.append_basic_block("ins.done")
            b.branch(head)
            b.position_at_end(head)
            j = b.phi(I64)
            j.add_incoming(i, pre)
            more = b.icmp_signed(">", j, i64(0))
            prev_at = b.sub(j, i64(1))
            # Guarded load: at j == 0 read element 0 (in bounds); `more` decides.
            prev = b.load(b.gep(keys, [b.select(more, prev_at, i64(0))]))
            b.cbranch(b.and_(more, b.icmp_unsigned(">", prev, key)), shift, done)
            b.position_at_end(shift)
            b.store(prev, b.gep(keys, [j]))
            if idx is not None:
                b.store(b.load(b.gep(idx, [prev_at])), b.gep(idx, [j]))
            j.add_incoming(prev_at, shift)
            b.branch(head)
            b.position_at_end(done)
            b.store(key, b.gep(keys, [j]))
            if idx is not None:
                b.store(pos, b.gep(idx, [j]))
        counted_loop(b, i64(1), i64(self.n), outer, name="sort.ins")

    def finish(self, rbase, lo, hi, keys, idx):
        """The outputs' elements [lo, hi) of the row from the sorted keys or positions."""
        b = self.b
        if not self.perm:
            dt = self.lay.dtypes[0]

            def body(i):
                v = _unkey(b, b.load(b.gep(keys, [i])), dt)
                b.store(v, b.gep(self.out[0], [self.at(rbase, i)]))
            counted_loop(b, lo, hi, body, name="sort.out")
            return

        def body(i):
            src = self.at(rbase, b.zext(b.load(b.gep(idx, [i])), I64))
            dst = self.at(rbase, i)
            for j in range(self.K):
                b.store(b.load(b.gep(self.x[j], [src])), b.gep(self.out[j], [dst]))
        counted_loop(b, lo, hi, body, name="sort.gather")

    def fixup(self, rbase, neg, nan):
        """Rewrite the row's runs of zeros and NaNs from the input, in order (module doc)."""
        b = self.b
        dt = self.lay.dtypes[0]
        t = _int(dt.itemsize)
        sign, inf, _ = _float_consts(dt.itemsize)
        z = _Var(b, I64, neg)
        q = _Var(b, I64, b.sub(i64(self.n), nan))

        def body(i):
            v = b.load(b.gep(self.x[0], [self.at(rbase, i)]))
            a = b.and_(v, ll.Constant(t, sign - 1))
            with b.if_else(b.icmp_unsigned("==", a, ll.Constant(t, 0))) as (zero, other):
                with zero:
                    zi = z.get()
                    b.store(v, b.gep(self.out[0], [self.at(rbase, zi)]))
                    z.set(b.add(zi, i64(1)))
                with other:
                    with b.if_then(b.icmp_unsigned(">", a, ll.Constant(t, inf))):
                        qi = q.get()
                        b.store(v, b.gep(self.out[0], [self.at(rbase, qi)]))
                        q.set(b.add(qi, i64(1)))
        counted_loop(b, i64(0), i64(self.n), body, name="sort.fix")


def _zero_i32(b, ptr, count):
    counted_loop(b, i64(0), i64(count),
                 lambda i: b.store(ll.Constant(I32, 0), b.gep(ptr, [i])), name="sort.clear")


# --- whole rows ------------------------------------------------------------------------------

def _emit_rows(s: _Sort, fn, b):
    """One function: units are slots; each sorts its share of the rows, row after row."""
    lo, hi = fn.args[-2], fn.args[-1]
    lay = s.lay
    n = s.n
    hist_t = ll.ArrayType(I32, 256 * max(w for _, w in s.keys))
    hist = entry_alloca(b, hist_t, "hist")
    off = entry_alloca(b, ll.ArrayType(I64, 256), "off")
    histp = b.bitcast(hist, ll.PointerType(I32))

    def slot_body(slot):
        _, keys, idx = s.scratch(slot)
        r0 = b.udiv(b.mul(slot, i64(s.nrows)), i64(lay.slots))
        r1 = b.udiv(b.mul(b.add(slot, i64(1)), i64(s.nrows)), i64(lay.slots))

        def row_body(row):
            rbase = s.row_base(row)
            parity = _Var(b, I64, i64(0))
            counts = [_Var(b, I64, i64(0)) for _ in range(4)] if s.fix else None

            def on_counts(cls):
                for v, c in zip(counts, cls):
                    v.set(b.add(v.get(), b.zext(c, I64)))
            if lay.insertion:
                for kk, (k, w) in enumerate(s.keys):
                    s.load(k, kk == 0, rbase, i64(0), i64(n), keys[0],
                           idx[0] if idx else None, None,
                           on_counts if kk == 0 and counts else None)
                    s.insertion(keys[0], idx[0] if idx else None)
                s.finish(rbase, i64(0), i64(n), keys[0], idx[0] if idx else None)
                if s.fix:
                    with b.if_then(b.icmp_unsigned("!=", counts[3].get(), i64(0))):
                        s.fixup(rbase, counts[0].get(), counts[2].get())
                return
            for kk, (k, w) in enumerate(s.keys):
                kc, _ = s.pick(parity.get(), keys)
                ic = s.pick(parity.get(), idx)[0] if idx else None
                _zero_i32(b, histp, 256 * w)
                s.load(k, kk == 0, rbase, i64(0), i64(n), kc, ic,
                       lambda p: b.gep(histp, [i64(256 * p)]),
                       on_counts if kk == 0 and counts else None)
                for p in range(w):
                    par = parity.get()
                    kc, ko = s.pick(par, keys)
                    ic, io = s.pick(par, idx) if idx else (None, None)
                    h = b.gep(histp, [i64(256 * p)])
                    d0 = _digit(b, b.load(kc), p)
                    trivial = b.icmp_unsigned("==", b.zext(b.load(b.gep(h, [d0])), I64),
                                              i64(n))
                    with b.if_then(b.not_(trivial)):
                        run = _Var(b, I64, i64(0))

                        def prefix(d, h=h):
                            b.store(run.get(), b.gep(off, [i64(0), d]))
                            run.set(b.add(run.get(), b.zext(b.load(b.gep(h, [d])), I64)))
                        counted_loop(b, i64(0), i64(256), prefix, name="sort.prefix")
                        s.scatter(p, i64(0), i64(n), kc, ko, ic, io, off)
                        parity.set(b.xor(parity.get(), i64(1)))
            kc, _ = s.pick(parity.get(), keys)
            ic = s.pick(parity.get(), idx)[0] if idx else None
            s.finish(rbase, i64(0), i64(n), kc, ic)
            if s.fix:
                with b.if_then(b.icmp_unsigned("!=", counts[3].get(), i64(0))):
                    s.fixup(rbase, counts[0].get(), counts[2].get())
        counted_loop(b, r0, r1, row_body, name="sort.row")
    counted_loop(b, lo, hi, slot_body, name="sort.slot")
    b.ret_void()


# --- chunked rows ----------------------------------------------------------------------------

class _Chunked:
    """Addresses of a chunked row's scratch and the run-time facts every phase recomputes."""

    def __init__(self, s: _Sort, b):
        self.s, self.b = s, b
        self.C = s.lay.chunks

    def setup(self, unit, unit_is_row=False):
        s, b = self.s, self.b
        C = self.C
        if unit_is_row:
            self.row, self.c = unit, None
        else:
            self.row = b.udiv(unit, i64(C))
            self.c = b.urem(unit, i64(C))
        base, self.keys, self.idx = s.scratch(self.row)
        self.thist = s.part(base, "thist", I32)
        self.phist = s.part(base, "phist", I32)
        self.uni = s.part(base, "uni", I32)
        self.counts = s.part(base, "counts", I64)
        self.rbase = s.row_base(self.row)
        if self.c is not None:
            self.lo = b.udiv(b.mul(self.c, i64(s.n)), i64(C))
            self.hi = b.udiv(b.mul(b.add(self.c, i64(1)), i64(s.n)), i64(C))

    def uni_at(self, kk, c, p):
        s = self.s
        w = s.lay.kbytes
        return self.b.gep(self.uni, [self.b.add(i64((kk * self.C) * w + p),
                                                self.b.mul(c, i64(w)))])

    def thist_at(self, kk, c, p):
        w = self.s.lay.kbytes
        return self.b.gep(self.thist, [self.b.add(i64(((kk * self.C) * w + p) * 256),
                                                  self.b.mul(c, i64(w * 256)))])

    def trivial(self, kk, p):
        """Does every key of key round kk share digit p (the pass is skipped)?"""
        b = self.b
        first = b.load(self.uni_at(kk, i64(0), p))
        ok = _Var(b, I1, b.icmp_signed("!=", first, ll.Constant(I32, -1)))

        def body(c):
            ok.set(b.and_(ok.get(), b.icmp_signed("==", b.load(self.uni_at(kk, c, p)), first)))
        counted_loop(b, i64(1), i64(self.C), body, name="sort.triv")
        return ok.get()

    def parity(self, upto):
        """Passes done before (kk, p) = upto (exclusive), or all (None), mod 2."""
        b = self.b
        par = i64(0)
        for kk, (_, w) in enumerate(self.s.keys):
            for p in range(w):
                if upto is not None and (kk, p) >= upto:
                    return par
                par = b.xor(par, b.zext(b.not_(self.trivial(kk, p)), I64))
        return par


def _phase_fn(s, name, body, units, unit_is_row=False):
    fn, b = _fn(s.mod, name, 2 * s.K + 1)
    s.bind(fn, b)
    ch = _Chunked(s, b)

    def each(unit):
        ch.setup(unit, unit_is_row)
        body(ch)
    counted_loop(b, fn.args[-2], fn.args[-1], each, name="sort.unit")
    b.ret_void()
    return Phase(fn, units)


def _chunk_phases(s: _Sort):
    lay = s.lay
    C, R = lay.chunks, s.nrows
    phases = []
    name = s.name

    for kk, (k, w) in enumerate(s.keys):
        def load(ch, kk=kk, k=k, w=w):
            b = ch.b
            par = ch.parity((kk, 0))
            kc, _ = s.pick(par, ch.keys)
            ic = s.pick(par, ch.idx)[0] if ch.idx else None
            for p in range(w):
                _zero_i32(b, ch.thist_at(kk, ch.c, p), 256)
            uni = [_Var(b, I64, i64(-1)) for _ in range(w)]
            counts = [_Var(b, I64, i64(0)) for _ in range(4)] if s.fix and kk == 0 else None

            def on_counts(cls):
                for v, c in zip(counts, cls):
                    v.set(b.add(v.get(), b.zext(c, I64)))
            s.load(k, kk == 0, ch.rbase, ch.lo, ch.hi, kc, ic,
                   lambda p: ch.thist_at(kk, ch.c, p), on_counts if counts else None, uni)
            for p in range(w):
                b.store(b.trunc(uni[p].get(), I32), ch.uni_at(kk, ch.c, p))
            if counts:
                for j in range(4):
                    b.store(counts[j].get(), b.gep(ch.counts, [b.add(b.mul(ch.c, i64(4)),
                                                                      i64(j))]))
        phases.append(_phase_fn(s, f"{name}.load{kk}", load, R * C))
        for p in range(w):
            if p:
                def hist(ch, kk=kk, p=p):
                    b = ch.b
                    with b.if_then(b.not_(ch.trivial(kk, p))):
                        kc, _ = s.pick(ch.parity((kk, p)), ch.keys)
                        h = b.gep(ch.phist, [b.mul(ch.c, i64(256))])
                        _zero_i32(b, h, 256)

                        def body(i):
                            slot = b.gep(h, [_digit(b, b.load(b.gep(kc, [i])), p)])
                            b.store(b.add(b.load(slot), ll.Constant(I32, 1)), slot)
                        counted_loop(b, ch.lo, ch.hi, body, name="sort.hist")
                phases.append(_phase_fn(s, f"{name}.hist{kk}_{p}", hist, R * C))

            def scatter(ch, kk=kk, p=p):
                b = ch.b
                off = entry_alloca(b, ll.ArrayType(I64, 256), "off")
                with b.if_then(b.not_(ch.trivial(kk, p))):
                    par = ch.parity((kk, p))
                    kc, ko = s.pick(par, ch.keys)
                    ic, io = s.pick(par, ch.idx) if ch.idx else (None, None)

                    def count(c, d):
                        if p == 0:
                            return b.load(b.gep(ch.thist_at(kk, c, 0), [d]))
                        return b.load(b.gep(ch.phist, [b.add(b.mul(c, i64(256)), d)]))
                    run = _Var(b, I64, i64(0))

                    def bucket(d):
                        tot = _Var(b, I64, i64(0))
                        before = _Var(b, I64, i64(0))

                        def chunk(c):
                            v = b.zext(count(c, d), I64)
                            tot.set(b.add(tot.get(), v))
                            early = b.icmp_unsigned("<", c, ch.c)
                            before.set(b.add(before.get(), b.select(early, v, i64(0))))
                        counted_loop(b, i64(0), i64(C), chunk, name="sort.chunks")
                        b.store(b.add(run.get(), before.get()), b.gep(off, [i64(0), d]))
                        run.set(b.add(run.get(), tot.get()))
                    counted_loop(b, i64(0), i64(256), bucket, name="sort.bucket")
                    s.scatter(p, ch.lo, ch.hi, kc, ko, ic, io, off)
            phases.append(_phase_fn(s, f"{name}.scatter{kk}_{p}", scatter, R * C))

    def finish(ch):
        par = ch.parity(None)
        kc, _ = s.pick(par, ch.keys)
        ic = s.pick(par, ch.idx)[0] if ch.idx else None
        s.finish(ch.rbase, ch.lo, ch.hi, kc, ic)
    phases.append(_phase_fn(s, f"{name}.out", finish, R * C))
    if s.fix:
        def fix(ch):
            b = ch.b
            tot = [_Var(b, I64, i64(0)) for _ in range(4)]

            def body(c):
                for j in range(4):
                    v = b.load(b.gep(ch.counts, [b.add(b.mul(c, i64(4)), i64(j))]))
                    tot[j].set(b.add(tot[j].get(), v))
            counted_loop(b, i64(0), i64(C), body, name="sort.sum")
            with b.if_then(b.icmp_unsigned("!=", tot[3].get(), i64(0))):
                s.fixup(ch.rbase, tot[0].get(), tot[2].get())
        phases.append(_phase_fn(s, f"{name}.fix", fix, R, unit_is_row=True))
    return phases


def emit_sort(mod, name, layout):
    """The phases of a sort step laid out by `layout` (`plan.sort_scan.SortLayout`); each
    phase's function takes the step's input pointers, output pointers and region (i8*), then
    its range of units."""
    s = _Sort(mod, name, layout)
    if layout.chunks == 1:
        fn, b = _fn(mod, name, 2 * s.K + 1)
        s.bind(fn, b)
        _emit_rows(s, fn, b)
        return [Phase(fn, layout.slots)]
    return _chunk_phases(s)
