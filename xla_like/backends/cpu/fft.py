"""The CPU backend's native FFT: the `fft` primitive (`ops.fft`) as a "library" step.

At compile time (here, in Python with NumPy float64) a step gets a *schedule*: for each length
a plan (its factorization into radices 4, 2, 3, 5, or, for a length with another prime factor,
Bluestein's algorithm on a 5-smooth length m >= 2n - 1), twiddle tables (plan constants: const
buffers, computed in float64 and stored in the transform's real type), scratch regions in the
call's workspace, and a list of *stages*: nested loops (the batch, the other axes, column
blocks) around calls of LLVM functions that each make one memory pass (`cpu.fft_kernels`). At
render time the stages become loops in the segment function.

- A 1-D complex transform is Stockham autosort passes (no bit reversal), ping-ponging between
  the destination and a scratch buffer so that the last pass lands in the destination.
- Axes are transformed one after the other, last first. An axis whose elements are runs of
  `inner` contiguous values (every axis but the last) transforms whole runs: each butterfly
  works on `L = stride * inner` contiguous complex values, the loop LLVM vectorizes. When the
  axis' data is larger than the cache, blocks of `block` columns are copied into scratch,
  transformed there, and copied back (the copy back applies the IFFT scale).
- RFFT of even n: the h = n/2-point complex FFT of the real row read as h complex pairs, then
  the standard post-processing (X_k from Z_k and Z_{h-k}). IRFFT of even n: the inverse
  pre-processing, then the inverse h-point FFT written straight into the real row. Odd n uses
  a full complex transform of a widened copy (RFFT) or of the Hermitian extension (IRFFT).
  Other axes are complex transforms of the half spectrum (after the real axis for RFFT,
  before it for IRFFT, in a scratch copy of the half spectrum).
- IFFT and IRFFT scale by 1/prod(fft_lengths) in their last pass.

Empty transforms stay on the host (their result is zeros, the reference's convention).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as ll

from ops.fft import smooth_length

from ..llvm.emitter import i64
from ..llvm.loops import counted_loop
from . import fft_kernels as kernels
from .matrix_loops import real_type

_ALIGN = 64
# Column blocks of a non-last axis: each block (the axis' length times `block` complex values)
# about this many bytes, so the block and its ping-pong partner stay in L2.
BLOCK_BYTES = 1 << 18
# Loop order of a pass: p outside and the contiguous run inside once runs are at least this
# long, or at least 2 long and the pass' data outgrows the cache (p inside sweeps the data once
# per run element); else p inside, the run outside. On a Zen 4 core: a batch of 64-point
# transforms 1.8 ms with 8 vs 2.4 ms with 2; one 2^20-point 17 ms with 2 vs 24 ms with 8.
P_OUTER_MIN_RUN = 8
CACHE_BYTES = 1 << 18


def supported(instr) -> bool:
    """Does the native FFT run `instr` (an fft of a float/complex dtype, nothing empty)?"""
    if instr.opcode != "fft":
        return False
    x = instr.operands[0].shape
    if x.dtype.kind not in "fc" or x.dtype.itemsize not in (4, 8, 16):
        return False
    dims = tuple(x.dims) + tuple(instr.shape.dims)
    return 0 not in dims and 0 not in instr.attrs["fft_lengths"]


def factor(n):
    """Radices (4s, then a 2, 3s, 5s) with product n, or None if n has another prime factor."""
    out = []
    while n % 4 == 0:
        out.append(4)
        n //= 4
    if n % 2 == 0:
        out.append(2)
        n //= 2
    for r in (3, 5):
        while n % r == 0:
            out.append(r)
            n //= r
    return out if n == 1 else None


# --- the schedule ----------------------------------------------------------------------------

class Stage:
    """Loops (count, {buffer: stride in reals}) around calls (spec, [(buffer, offset)]);
    a buffer is "in", "out", a scratch part of the step's region, or ("table", key)."""

    def __init__(self, loops):
        self.loops = loops
        self.calls = []


class Schedule:
    def __init__(self, instr):
        self.instr = instr
        x = instr.operands[0].shape
        # The complex side: the operand, or the result of an RFFT.
        self.cdtype = x.dtype if x.dtype.kind == "c" else instr.shape.dtype
        cdt = self.cdtype
        self.rdtype = np.dtype(np.float32 if cdt == np.complex64 else np.float64)
        self.stages = []
        self.scratch = {}       # name -> reals needed
        self.tables = {}        # key -> real array (interleaved complex)
        self.stage = None
        self._build()

    # -- bookkeeping
    def need(self, name, reals):
        if name not in ("in", "out"):
            self.scratch[name] = max(self.scratch.get(name, 0), int(reals))

    def open(self, *loops):
        self.stage = Stage(list(loops))
        self.stages.append(self.stage)

    def call(self, spec, *args):
        self.stage.calls.append((spec, list(args)))

    def table(self, key, make):
        if key not in self.tables:
            v = np.ascontiguousarray(np.asarray(make(), np.complex128).astype(self.cdtype))
            self.tables[key] = v.view(self.rdtype)
        return ("table", key)

    def layout(self):
        """Byte offsets of the scratch parts in the region, and its size."""
        off, total = {}, 0
        for name in sorted(self.scratch):
            off[name] = total
            nbytes = max(self.scratch[name], 1) * self.rdtype.itemsize
            total += -(-nbytes // _ALIGN) * _ALIGN
        return off, total

    # -- the transforms
    def _build(self):
        at = self.instr.attrs
        kind, lengths = at["fft_type"], tuple(at["fft_lengths"])
        x = self.instr.operands[0].shape
        k = len(lengths)
        batch = int(np.prod(x.dims[:-k], dtype=np.int64)) if x.dims[:-k] else 1
        total = math.prod(lengths)
        if kind in ("FFT", "IFFT"):
            sign = -1 if kind == "FFT" else 1
            self._axes(batch, lengths, sign, "in", "out", 1.0 / total if sign > 0 else None)
        elif kind == "RFFT":
            n, h = lengths[-1], lengths[-1] // 2
            rows = batch * math.prod(lengths[:-1])
            self._r2c(rows, n)
            self._axes(batch, lengths[:-1] + (h + 1,), -1, "out", "out", None, skip_last=True)
        else:
            n, h = lengths[-1], lengths[-1] // 2
            rows = batch * math.prod(lengths[:-1])
            src = "in"
            if k > 1:
                half = lengths[:-1] + (h + 1,)
                self.need("hs", 2 * batch * math.prod(half))
                self._axes(batch, half, 1, "in", "hs", None, skip_last=True)
                src = "hs"
            self._c2r(rows, n, src, 1.0 / total)

    def _axes(self, batch, dims, sign, src, dst, scale, skip_last=False):
        """Complex transforms over every axis of `dims` (but the last if `skip_last`) of each
        of `batch` arrays, last axis first; `scale` with the final one."""
        axes = list(range(len(dims) - (2 if skip_last else 1), -1, -1))
        for j, a in enumerate(axes):
            n, inner = dims[a], math.prod(dims[a + 1:])
            outer = batch * math.prod(dims[:a])
            self._axis(n, outer, inner, sign, src, dst, scale if j == len(axes) - 1 else None)
            src = dst

    def _axis(self, n, outer, inner, sign, src, dst, scale):
        per = 2 * n * inner
        if n == 1 and src == dst and scale is None:
            return
        block = self._block(n, inner)
        if block >= inner:
            self.open((outer, {src: per, dst: per}))
            self.transform(n, inner, sign, (src, 0), (dst, 0), scale)
            return
        for width, count, start in ((block, inner // block, 0),
                                    (inner % block, 1, inner // block * block)):
            if not width or not count:
                continue
            self.open((outer, {src: per, dst: per}), (count, {src: 2 * width, dst: 2 * width}))
            self.need("cols", 2 * n * width)
            self.call(("copy2d", n, width, inner, width, None), (src, 2 * start), ("cols", 0))
            got = self.transform(n, width, sign, ("cols", 0), None, None)
            self.call(("copy2d", n, width, width, inner, scale), got, (dst, 2 * start))

    def _block(self, n, inner):
        """Columns per block of an axis of length n whose elements are `inner` long."""
        item = self.cdtype.itemsize
        if n * inner * item <= 2 * BLOCK_BYTES:
            return inner
        b = max(4, BLOCK_BYTES // (n * item))
        return min(inner, 1 << (b.bit_length() - 1))

    def transform(self, n, v, sign, src, dst, scale):
        """The n-point transform of runs of v complex values from `src` to `dst` (buffer,
        offset); dst None: wherever it lands (returned)."""
        radices = factor(n)
        if radices is None:
            dst = dst if dst is not None else src
            self._bluestein(n, v, sign, src, dst, scale)
            return dst
        passes, s, cur = [], 1, n
        for r in radices:
            m = cur // r
            passes.append(self._pass(cur, r, s * v, sign))
            s, cur = s * r, m
        return self._run(passes, n * v, src, dst, scale)

    def _pass(self, cur, r, run, sign):
        m = cur // r
        p_outer = run >= P_OUTER_MIN_RUN or (
            run >= 2 and cur * run * self.cdtype.itemsize > CACHE_BYTES)
        tw = None
        if m > 1:
            p, k = np.arange(m)[:, None], np.arange(1, r)[None, :]

            def make():
                ang = -2 * np.pi * ((p * k) % cur) / cur
                w = np.exp(1j * ang)
                return w if p_outer else w.T
            tw = self.table(("tw", cur, r, p_outer), make)
        return (r, m, run, sign, p_outer, tw)

    def _run(self, passes, count, src, dst, scale, spare="spare"):
        """Stockham passes ping-ponging between dst and `spare` so the last lands in dst (or,
        dst None, between src's buffer and spare, landing wherever)."""
        k = len(passes)
        if k == 0:
            if dst is None:
                dst = src
            if dst != src or scale is not None:
                self.call(("copy2d", 1, count, 0, 0, scale), src, dst)
            return dst
        sp = (spare, 0)
        self.need(spare, 2 * count)
        if dst is None:
            targets = [sp if i % 2 == 0 else src for i in range(k)]
        else:
            if src == dst and k % 2 == 1:
                self.call(("copy2d", 1, count, 0, 0, None), src, sp)
                src = sp
            targets = [dst if (k - 1 - i) % 2 == 0 else sp for i in range(k)]
        for i, (r, m, run, sign, p_outer, tw) in enumerate(passes):
            spec = ("pass", r, m, run, sign, scale if i == k - 1 else None, p_outer)
            self.call(spec, src, targets[i], tw if tw is not None else src)
            src = targets[i]
        return src

    def _bluestein(self, n, v, sign, src, dst, scale):
        m = smooth_length(2 * n - 1)
        j = np.arange(n)
        chirp_fwd = np.exp(-1j * np.pi * ((j * j) % (2 * n)) / n)

        def make_b():
            bp = np.zeros(m, np.complex128)
            bp[:n] = np.conj(chirp_fwd)
            bp[m - n + 1:] = np.conj(chirp_fwd[1:][::-1])
            return np.fft.fft(bp) / m
        chirp = self.table(("chirp", n), lambda: chirp_fwd)
        btab = self.table(("bluestein", n, m), make_b)
        a, b2 = ("b1", 0), ("b2", 0)
        self.need("b1", 2 * m * v)
        self.call(("bpre", n, m, v, sign), src, a, chirp)
        # The convolution: forward FFT, times B, inverse FFT (unscaled: B holds the 1/m).
        fwd = self._plain_passes(m, v, -1)
        got = self._run(fwd, m * v, a, None, None, spare="b2")
        self.call(("bmul", m, v, sign), got, btab)
        inv = self._plain_passes(m, v, 1)
        other = b2 if got == a else a
        self.need("b2", 2 * m * v)
        got = self._run(inv, m * v, got, None, None, spare=other[0])
        self.call(("bpost", n, v, sign, scale), got, dst, chirp)

    def _plain_passes(self, n, v, sign):
        passes, s, cur = [], 1, n
        for r in factor(n):
            passes.append(self._pass(cur, r, s * v, sign))
            s, cur = s * r, cur // r
        return passes

    def _r2c(self, rows, n):
        h = n // 2
        out_row = 2 * (h + 1)
        if n % 2 == 0:
            self.open((rows, {"in": n, "out": out_row}))
            self.need("x1", 2 * h)
            self.transform(h, 1, -1, ("in", 0), ("x1", 0), None)
            t = self.table(("half", n), lambda: np.exp(-2j * np.pi * np.arange(h // 2 + 1) / n))
            self.call(("r2c_post", h, None), ("x1", 0), ("out", 0), t)
            return
        self.open((rows, {"in": n, "out": out_row}))
        self.need("x1", 2 * n)
        self.need("x2", 2 * n)
        self.call(("r2c_widen", n), ("in", 0), ("x1", 0))
        self.transform(n, 1, -1, ("x1", 0), ("x2", 0), None)
        self.call(("copy2d", 1, h + 1, 0, 0, None), ("x2", 0), ("out", 0))

    def _c2r(self, rows, n, src, scale):
        h = n // 2
        in_row = 2 * (h + 1)
        if n % 2 == 0:
            self.open((rows, {src: in_row, "out": n}))
            self.need("x1", 2 * h)
            t = self.table(("half", n), lambda: np.exp(-2j * np.pi * np.arange(h // 2 + 1) / n))
            self.call(("c2r_pre", h), (src, 0), ("x1", 0), t)
            self.transform(h, 1, 1, ("x1", 0), ("out", 0), scale)
            return
        self.open((rows, {src: in_row, "out": n}))
        self.need("x1", 2 * n)
        self.need("x2", 2 * n)
        self.call(("herm", n), (src, 0), ("x1", 0))
        self.transform(n, 1, 1, ("x1", 0), ("x2", 0), None)
        self.call(("real_part", n, scale), ("x2", 0), ("out", 0))


# --- the plan's side: region and constants ---------------------------------------------------

def prepare(plan, step, new_region, new_constant):
    """Give the library step `step` its schedule (`step.fft`), scratch region
    (`new_region(nbytes) -> bid`, `step.region`) and table constants
    (`new_constant(array) -> bid`). Returns the layout description for the program key."""
    sched = Schedule(step.instr)
    offsets, nbytes = sched.layout()
    step.fft = sched
    step.fft_offsets = offsets
    step.fft_tables = {key: new_constant(arr) for key, arr in sched.tables.items()}
    step.region = new_region(max(nbytes, 1))
    return sorted(sched.scratch.items())


# --- emission --------------------------------------------------------------------------------

def emit(b, step, raw):
    """The code of the fft library step `step` at the builder's position; `raw(bid)` is an i8*
    to a buffer."""
    sched = step.fft
    rt = real_type(sched.cdtype)
    rp = ll.PointerType(rt)
    mod = b.module

    def base(name):
        if name == "in":
            return b.bitcast(raw(step.inputs[0]), rp)
        if name == "out":
            return b.bitcast(raw(step.outputs[0]), rp)
        p = b.gep(raw(step.region), [i64(step.fft_offsets[name])])
        return b.bitcast(p, rp)

    for stage in sched.stages:
        bases = {}
        for spec, args in stage.calls:
            for name, _ in args:
                if name != "table" and name not in bases:
                    bases[name] = base(name)

        def body(idx, stage=stage, bases=bases):
            for spec, args in stage.calls:
                fn = kernels.function(mod, spec, rt)
                ptrs = []
                for name, off in args:
                    if name == "table":
                        ptrs.append(b.bitcast(raw(step.fft_tables[off]), rp))
                        continue
                    at = i64(off)
                    for (count, strides), i in zip(stage.loops, idx):
                        if strides.get(name):
                            at = b.add(at, b.mul(i, i64(strides[name])))
                    ptrs.append(b.gep(bases[name], [at]))
                b.call(fn, ptrs)
        _nest(b, stage.loops, body, [])


def _nest(b, loops, body, idx):
    if not loops:
        body(idx)
        return
    count = loops[0][0]
    counted_loop(b, i64(0), i64(count), lambda i: _nest(b, loops[1:], body, idx + [i]),
                 name="fft.loop")
