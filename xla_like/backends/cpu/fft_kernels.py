"""LLVM functions of the CPU backend's native FFT (`cpu.fft` plans and calls them).

Each function does one memory pass of a transform with every size a compile-time constant, and
takes `noalias` real pointers (a complex element `e` is the reals `2e`, `2e + 1`), so LLVM's
loop vectorizer sees independent, counted loops over contiguous runs. A function is named by
its spec (a tuple of constants) and emitted once per module.

Specs (`sign` -1 is the forward transform, +1 the inverse; tables hold forward values and are
conjugated when loaded for the inverse; `scale` None or a real factor applied to the result):
- ("pass", r, m, L, sign, scale, p_outer): one Stockham autosort pass of radix r over a
  sequence of current length n = r * m whose elements are contiguous runs of L complex values:
  y[(r p + k) L + u] = (sum_j x[(p + j m) L + u] w_r^(j k)) * w_n^(p k), w_n = exp(sign 2 pi
  i / n). Args (x, y, tw); tw is [p][k-1] when `p_outer` (loop p outside, the run u inside),
  else [k-1][p] (u outside, p inside: for the first passes, where runs are short).
- ("copy2d", rows, width, src_stride, dst_stride, scale): complex rows of `width` elements.
- ("bpre", n, m, v, sign): Bluestein's a_j = x_j * chirp_j for j < n, 0 up to m. (x, a, chirp)
- ("bmul", m, v, sign): a_j *= B_j in place. (a, B)
- ("bpost", n, v, sign, scale): y_k = g_k * chirp_k. (g, y, chirp)
- ("r2c_widen", n): real x -> complex c. (x, c)
- ("r2c_post", h, scale): the n = 2h real transform from the h-point FFT z of x's even/odd
  pairs: X_k = E_k + t_k O_k for k <= h. (z, X, t) with t_k = exp(-2 pi i k / n)
- ("c2r_pre", h): the h-point spectrum whose inverse is the n = 2h real signal as pairs.
  (X, z, t)
- ("herm", n): the full Hermitian spectrum (n values) from its first n // 2 + 1. (X, c)
- ("real_part", n, scale): y = Re(c) * scale. (c, y)
"""
from __future__ import annotations

import hashlib
import math

from llvmlite import ir as ll

from ..llvm.emitter import i64
from ..llvm.loops import counted_loop


def function(mod, spec, rt):
    """The LLVM function of `spec` for real type `rt` (float or double), emitted on first use."""
    tag = "f32" if isinstance(rt, ll.FloatType) else "f64"
    name = f"fft.{spec[0]}.{tag}." + hashlib.sha1(repr(spec).encode()).hexdigest()[:12]
    fn = mod.globals.get(name)
    if fn is not None:
        return fn
    kind = spec[0]
    nargs = _ARGS[kind]
    fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [ll.PointerType(rt)] * nargs), name)
    if kind != "copy2d":   # a copy may scale in place
        for a in fn.args:
            a.add_attribute("noalias")
    fn.linkage = "internal"
    # Each pass stays a function of its own: passes are called per transform of a batch and
    # inlined they only make the segment slower to optimize.
    fn.attributes.add("noinline")
    b = ll.IRBuilder(fn.append_basic_block("entry"))
    _EMIT[kind](_Cx(b, rt), fn.args, *spec[1:])
    b.ret_void()
    return fn


class _Cx:
    """Complex arithmetic on (re, im) pairs of LLVM values of real type `rt`."""

    def __init__(self, b, rt):
        self.b, self.rt = b, rt

    def c(self, v):
        return ll.Constant(self.rt, float(v))

    def load(self, p, e):
        b = self.b
        k = b.mul(e, i64(2)) if not isinstance(e, int) else i64(2 * e)
        return (b.load(b.gep(p, [k], inbounds=True)),
                b.load(b.gep(p, [b.add(k, i64(1))], inbounds=True)))

    def store(self, p, e, z):
        b = self.b
        k = b.mul(e, i64(2)) if not isinstance(e, int) else i64(2 * e)
        b.store(z[0], b.gep(p, [k], inbounds=True))
        b.store(z[1], b.gep(p, [b.add(k, i64(1))], inbounds=True))

    def add(self, x, y):
        return (self.b.fadd(x[0], y[0]), self.b.fadd(x[1], y[1]))

    def sub(self, x, y):
        return (self.b.fsub(x[0], y[0]), self.b.fsub(x[1], y[1]))

    def mul(self, x, y):
        b = self.b
        return (b.fsub(b.fmul(x[0], y[0]), b.fmul(x[1], y[1])),
                b.fadd(b.fmul(x[0], y[1]), b.fmul(x[1], y[0])))

    def scale(self, x, s):
        if s is None:
            return x
        c = self.c(s)
        return (self.b.fmul(x[0], c), self.b.fmul(x[1], c))

    def real_scale(self, x, s):
        return (self.b.fmul(x[0], s), self.b.fmul(x[1], s))

    def conj(self, x, on=True):
        return (x[0], self.b.fneg(x[1])) if on else x

    def times_i(self, x, sign):
        """x * (sign i)."""
        return (self.b.fneg(x[1]), x[0]) if sign > 0 else (x[1], self.b.fneg(x[0]))

    def idx(self, *terms):
        """Sum of products of i64 values and ints: idx((a, 3), b, 5) = 3a + b + 5."""
        b = self.b
        acc = None
        for t in terms:
            if isinstance(t, tuple):
                v, k = t
                v = v if k == 1 else b.mul(v, i64(k))
            elif isinstance(t, int):
                if t == 0:
                    continue
                v = i64(t)
            else:
                v = t
            acc = v if acc is None else b.add(acc, v)
        return acc if acc is not None else i64(0)


def butterfly(cx, a, sign):
    """The r-point DFT c_k = sum_j a_j exp(sign 2 pi i j k / r) for r = len(a) in 2, 3, 4, 5."""
    r = len(a)
    if r == 1:
        return list(a)
    if r == 2:
        return [cx.add(a[0], a[1]), cx.sub(a[0], a[1])]
    if r == 4:
        t0, t1 = cx.add(a[0], a[2]), cx.sub(a[0], a[2])
        t2, t3 = cx.add(a[1], a[3]), cx.times_i(cx.sub(a[1], a[3]), sign)
        return [cx.add(t0, t2), cx.add(t1, t3), cx.sub(t0, t2), cx.sub(t1, t3)]
    # Odd r: pairs j, r - j share cos and have opposite sin.
    half = (r - 1) // 2
    s = [cx.add(a[j], a[r - j]) for j in range(1, half + 1)]
    d = [cx.sub(a[j], a[r - j]) for j in range(1, half + 1)]
    out = [None] * r
    c0 = a[0]
    for v in s:
        c0 = cx.add(c0, v)
    out[0] = c0
    for k in range(1, half + 1):
        re, im = a[0], None
        for j in range(1, half + 1):
            co = math.cos(2 * math.pi * j * k / r)
            si = math.sin(2 * math.pi * j * k / r)
            re = cx.add(re, cx.scale(s[j - 1], co))
            term = cx.scale(d[j - 1], si)
            im = term if im is None else cx.add(im, term)
        rot = cx.times_i(im, sign)
        out[k], out[r - k] = cx.add(re, rot), cx.sub(re, rot)
    return out


def _emit_pass(cx, args, r, m, L, sign, scale, p_outer):
    x, y, tw = args
    b = cx.b

    def body(p, u):
        a = [cx.load(x, cx.idx((p, L), (u, 1), j * m * L)) for j in range(r)]
        c = butterfly(cx, a, sign)
        for k in range(r):
            v = c[k]
            if k and m > 1:
                at = cx.idx((p, r - 1), k - 1) if p_outer else cx.idx(p, (k - 1) * m)
                v = cx.mul(v, cx.conj(cx.load(tw, at), sign > 0))
            cx.store(y, cx.idx((p, r * L), (u, 1), k * L), cx.scale(v, scale))

    if p_outer:
        counted_loop(b, i64(0), i64(m), lambda p: counted_loop(
            b, i64(0), i64(L), lambda u: body(p, u), name="u"), name="p")
    else:
        counted_loop(b, i64(0), i64(L), lambda u: counted_loop(
            b, i64(0), i64(m), lambda p: body(p, u), name="p"), name="u")


def _emit_copy2d(cx, args, rows, width, src_stride, dst_stride, scale):
    x, y = args
    b = cx.b

    def row(i):
        counted_loop(b, i64(0), i64(width), lambda u: cx.store(
            y, cx.idx((i, dst_stride), u), cx.scale(cx.load(x, cx.idx((i, src_stride), u)),
                                                    scale)), name="u")
    counted_loop(b, i64(0), i64(rows), row, name="row")


def _emit_bpre(cx, args, n, m, v, sign):
    x, a, chirp = args
    b = cx.b

    def row(j):
        w = cx.conj(cx.load(chirp, j), sign > 0)
        counted_loop(b, i64(0), i64(v), lambda u: cx.store(
            a, cx.idx((j, v), u), cx.mul(cx.load(x, cx.idx((j, v), u)), w)), name="u")
    counted_loop(b, i64(0), i64(n), row, name="j")
    zero = (cx.c(0.0), cx.c(0.0))
    counted_loop(b, i64(n * v), i64(m * v), lambda e: cx.store(a, e, zero), name="z")


def _emit_bmul(cx, args, m, v, sign):
    a, tab = args
    b = cx.b

    def row(j):
        w = cx.conj(cx.load(tab, j), sign > 0)

        def one(u):
            e = cx.idx((j, v), u)
            cx.store(a, e, cx.mul(cx.load(a, e), w))
        counted_loop(b, i64(0), i64(v), one, name="u")
    counted_loop(b, i64(0), i64(m), row, name="j")


def _emit_bpost(cx, args, n, v, sign, scale):
    g, y, chirp = args
    b = cx.b

    def row(k):
        w = cx.scale(cx.conj(cx.load(chirp, k), sign > 0), scale)
        counted_loop(b, i64(0), i64(v), lambda u: cx.store(
            y, cx.idx((k, v), u), cx.mul(cx.load(g, cx.idx((k, v), u)), w)), name="u")
    counted_loop(b, i64(0), i64(n), row, name="k")


def _emit_r2c_widen(cx, args, n):
    x, c = args
    b = cx.b
    counted_loop(b, i64(0), i64(n), lambda j: cx.store(
        c, j, (b.load(b.gep(x, [j], inbounds=True)), cx.c(0.0))), name="j")


def _emit_r2c_post(cx, args, h, scale):
    z, out, t = args
    b = cx.b
    half = cx.c(0.5)
    z0 = cx.load(z, 0)
    cx.store(out, 0, cx.scale((b.fadd(z0[0], z0[1]), cx.c(0.0)), scale))
    cx.store(out, h, cx.scale((b.fsub(z0[0], z0[1]), cx.c(0.0)), scale))

    def pair(k):
        a = cx.load(z, k)
        bb = cx.conj(cx.load(z, b.sub(i64(h), k)))
        e = cx.real_scale(cx.add(a, bb), half)
        # O_k = (a - conj b) / (2i) = -i (a - conj b) / 2
        o = cx.times_i(cx.real_scale(cx.sub(a, bb), half), -1)
        to = cx.mul(cx.load(t, k), o)
        cx.store(out, k, cx.scale(cx.add(e, to), scale))
        cx.store(out, b.sub(i64(h), k), cx.scale(cx.conj(cx.sub(e, to)), scale))
    counted_loop(b, i64(1), i64(h // 2 + 1), pair, name="k")


def _emit_c2r_pre(cx, args, h):
    x, z, t = args
    b = cx.b
    x0, xh = cx.load(x, 0), cx.load(x, h)
    # The imaginary parts of X_0 and X_h are ignored (pocketfft's and XLA's convention).
    cx.store(z, 0, (b.fadd(x0[0], xh[0]), b.fsub(x0[0], xh[0])))

    def pair(k):
        a = cx.load(x, k)
        bb = cx.conj(cx.load(x, b.sub(i64(h), k)))
        s = cx.add(a, bb)
        d = cx.mul(cx.conj(cx.load(t, k)), cx.sub(a, bb))
        idd = cx.times_i(d, 1)
        cx.store(z, k, cx.add(s, idd))
        cx.store(z, b.sub(i64(h), k), cx.conj(cx.sub(s, idd)))
    counted_loop(b, i64(1), i64(h // 2 + 1), pair, name="k")


def _emit_herm(cx, args, n):
    x, c = args
    b = cx.b
    h = n // 2
    x0 = cx.load(x, 0)
    cx.store(c, 0, (x0[0], cx.c(0.0)))
    if n % 2 == 0 and h:
        xh = cx.load(x, h)
        cx.store(c, h, (xh[0], cx.c(0.0)))
    top = (n - 1) // 2   # k in 1..top have a mirror n - k distinct from k

    def one(k):
        v = cx.load(x, k)
        cx.store(c, k, v)
        cx.store(c, b.sub(i64(n), k), cx.conj(v))
    counted_loop(b, i64(1), i64(top + 1), one, name="k")


def _emit_real_part(cx, args, n, scale):
    c, y = args
    b = cx.b
    s = cx.c(1.0 if scale is None else scale)
    counted_loop(b, i64(0), i64(n), lambda j: b.store(
        b.fmul(cx.load(c, j)[0], s), b.gep(y, [j], inbounds=True)), name="j")


_EMIT = {"pass": _emit_pass, "copy2d": _emit_copy2d, "bpre": _emit_bpre, "bmul": _emit_bmul,
         "bpost": _emit_bpost, "r2c_widen": _emit_r2c_widen, "r2c_post": _emit_r2c_post,
         "c2r_pre": _emit_c2r_pre, "herm": _emit_herm, "real_part": _emit_real_part}
_ARGS = {"pass": 3, "copy2d": 2, "bpre": 3, "bmul": 2, "bpost": 3, "r2c_widen": 2,
         "r2c_post": 3, "c2r_pre": 3, "herm": 2, "real_part": 2}
