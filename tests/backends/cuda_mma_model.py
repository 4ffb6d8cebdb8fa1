"""The emulated CUDA driver's model of what the host CPU cannot run as LLVM IR for the GPU:
tensor-core `mma.sync` (a warp-wide instruction) and the hardware bfloat16 conversion.

- `mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32` (LLVM's
  `llvm.nvvm.mma.m16n8k16.row.col.bf16` / `.f32.f32`): each lane's call hands its fragment
  registers to a Python callback; when the warp's 32 lanes are in, each lane rebuilds A (16x16),
  B (16x8) and C (16x8) from the fragments with the layout of the PTX ISA (`FRAGMENTS`,
  written out here from the ISA's tables, independently of the backend), computes
  D = A @ B + C in float64, and each lane takes its own D fragment. A kernel that loads its
  fragments in another layout computes wrong numbers here.
- `fptrunc float to bfloat` (`cvt.rn.bf16.f32`): the host's instruction (VCVTNEPS2BF16)
  flushes subnormals; this rounds to nearest even in integer arithmetic, as the GPU does.
"""
from __future__ import annotations

import ctypes
import re

import ml_dtypes
import numpy as np


def _fragments():
    """Per lane: (A (row, col) per element a0..a7, B (row, col) per b0..b3, C per c0..c3).
    PTX ISA 9.7.14.5.8: groupID = lane >> 2, threadID_in_group = lane % 4; element i of A's
    8 sits at row groupID (+8 for a2, a3, a6, a7), column threadID*2 + (i & 1) (+8 for a4..a7);
    B's element i at row threadID*2 + (i & 1) (+8 for b2, b3), column groupID; C's element i
    at row groupID (+8 for c2, c3), column threadID*2 + (i & 1)."""
    out = []
    for lane in range(32):
        gid, tig = lane >> 2, lane % 4
        a = [(gid + (8 if i in (2, 3, 6, 7) else 0), tig * 2 + (i & 1) + (8 if i >= 4 else 0))
             for i in range(8)]
        b = [(tig * 2 + (i & 1) + (8 if i >= 2 else 0), gid) for i in range(4)]
        c = [(gid + (8 if i >= 2 else 0), tig * 2 + (i & 1)) for i in range(4)]
        out.append((a, b, c))
    return out


FRAGMENTS = _fragments()
_HALF = {0: ml_dtypes.bfloat16, 1: np.float16}


_cache: dict = {}


def _positions(fragments):
    """Flat positions in A (16x16), B (16x8), C (16x8) of each lane's elements, lane-major."""
    hit = _cache.get(id(fragments))
    if hit is not None and hit[0] is fragments:
        return hit[1]
    a = [r * 16 + c for fa, _, _ in fragments for r, c in fa]
    b = [r * 8 + c for _, fb, _ in fragments for r, c in fb]
    c = [r * 8 + col for _, _, fc in fragments for r, col in fc]
    out = np.array(a), np.array(b), np.array(c)
    _cache[id(fragments)] = (fragments, out)
    return out


def mma_reference(kind, regs, fragments=None):
    """D fragments (32 x 4 float32) of one m16n8k16 MMA from the 32 lanes' registers `regs`
    (32 x 10: a0..a3, b0, b1 as uint32 bits, c0..c3 as float32 values). `kind`: 0 bfloat16,
    1 float16. Each A/B register's low half is the lower-numbered element."""
    pa, pb, pc = _positions(FRAGMENTS if fragments is None else fragments)
    regs = np.asarray(regs, np.float64)
    words = regs[:, :6].astype(np.uint32)
    halves = words.view(np.uint16).view(_HALF[kind]).astype(np.float64)   # 32 x 12
    A, B, C = np.zeros(256), np.zeros(128), np.zeros(128)
    A[pa] = halves[:, :8].ravel()
    B[pb] = halves[:, 8:].ravel()
    C[pc] = regs[:, 6:].ravel()
    D = (A.reshape(16, 16) @ B.reshape(16, 8) + C.reshape(16, 8)).astype(np.float32)
    return D.ravel()[pc].reshape(32, 4)


def make_callbacks(tls):
    """{symbol: ctypes callback} for `host_rewrite`'s calls; `tls`: the emulator's thread-local
    (`ids` = (tid, ntid, ctaid, nctaid), `block` with `warps` barriers)."""
    def mma(kind, a0, a1, a2, a3, b0, b1, c0, c1, c2, c3, out):
        tid, blk = tls.ids[0], tls.block
        lane, w = tid % 32, tid // 32
        # Two sets of slots, by the parity of the lane's call: a lane writes a set again only
        # after the whole warp met at the barrier of the call in between, that is after every
        # lane has read it.
        state = blk.__dict__.setdefault("mma", {})
        calls = state.get(tid, 0)
        state[tid] = calls + 1
        slots = state.setdefault((w, calls % 2), [None] * 32)
        slots[lane] = (a0, a1, a2, a3, b0, b1, c0, c1, c2, c3)
        blk.warps[w].wait()
        d = mma_reference(kind, slots, FRAGMENTS)[lane]
        arr = (ctypes.c_float * 4).from_address(out)
        for i in range(4):
            arr[i] = d[i]

    f, u = ctypes.c_float, ctypes.c_uint32
    return {"jc_mma_cb": ctypes.CFUNCTYPE(None, ctypes.c_int32, u, u, u, u, u, u, f, f, f, f,
                                          ctypes.c_void_p)(mma)}


_MMA = {"llvm.nvvm.mma.m16n8k16.row.col.bf16": (0, "i32"),
        "llvm.nvvm.mma.m16n8k16.row.col.f32.f32": (1, "<2 x half>")}
_S4 = "{float, float, float, float}"

_F2BF = """
define internal bfloat @"jc.f2bf"(float %x) alwaysinline {
  %bits = bitcast float %x to i32
  %hi = lshr i32 %bits, 16
  %lsb = and i32 %hi, 1
  %bias = add i32 %lsb, 32767
  %up = add i32 %bits, %bias
  %rounded = lshr i32 %up, 16
  %sign = and i32 %hi, 32768
  %qnan = or i32 %sign, 32704
  %isnan = fcmp uno float %x, %x
  %r = select i1 %isnan, i32 %qnan, i32 %rounded
  %t = trunc i32 %r to i16
  %bf = bitcast i16 %t to bfloat
  ret bfloat %bf
}
"""


def _mma_definition(name, kind, part):
    args = ", ".join([f"{part} %r{i}" for i in range(6)] + [f"float %c{i}" for i in range(4)])
    words = []
    for i in range(6):
        if part == "i32":
            words.append(f"i32 %r{i}")
        else:
            words.append(f"i32 %w{i}")
    casts = "".join(f"  %w{i} = bitcast {part} %r{i} to i32\n" for i in range(6)
                    if part != "i32")
    cs = ", ".join(f"float %c{i}" for i in range(4))
    body = [f'define internal {_S4} @"jc.{name[5:]}"({args}) {{',
            casts + "  %d = alloca [4 x float]",
            "  %p = getelementptr [4 x float], [4 x float]* %d, i32 0, i32 0",
            f"  call void @jc_mma_cb(i32 {kind}, {', '.join(words)}, {cs}, float* %p)"]
    s = "undef"
    for i in range(4):
        body += [f"  %q{i} = getelementptr float, float* %p, i32 {i}",
                 f"  %v{i} = load float, float* %q{i}",
                 f"  %s{i} = insertvalue {_S4} {s}, float %v{i}, {i}"]
        s = f"%s{i}"
    body += [f"  ret {_S4} %s3", "}"]
    return "\n".join(body) + "\n"


def host_rewrite(text):
    """`text` (a rendered module, already retargeted to the host) with the MMA intrinsics and
    the bfloat16 narrowing replaced by the models above."""
    extra = []
    for name, (kind, part) in _MMA.items():
        if f'@"{name}"' not in text:
            continue
        text = re.sub(rf'declare [^\n]*@"{re.escape(name)}"\([^\n]*\n', "", text)
        text = text.replace(f'@"{name}"', f'@"jc.{name[5:]}"')
        extra.append(_mma_definition(name, kind, part))
    if extra:
        extra.append("declare void @jc_mma_cb(i32, i32, i32, i32, i32, i32, i32, float, float, "
                     "float, float, float*)\n")
    new = re.sub(r"fptrunc float ([^\n]+?) to bfloat", r'call bfloat @"jc.f2bf"(float \1)', text)
    if new != text:
        text = new
        extra.append(_F2BF)
    return text + "\n" + "".join(extra)
