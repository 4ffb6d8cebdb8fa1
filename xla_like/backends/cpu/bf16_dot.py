"""bfloat16 dots on CPUs with AVX-512 BF16: when they run natively, and how a segment calls them.

Without this, every bfloat16 dot is a float32 GEMM between conversions (`passes.widen_half_dots`,
then OpenBLAS's sgemm). On a host whose LLVM features include `avx512bf16` (Zen 4, Cooper
Lake, Sapphire Rapids), a bfloat16 x bfloat16 dot whose result is float32 or bfloat16 instead
keeps its 16-bit operands and runs the GEMM kernel of `llvm.bf16_gemm` (`vdpbf16ps`, float32
accumulation): no widened copies of the operands, and twice the multiply-adds per instruction
of sgemm. A bfloat16 result is a float32 product rounded once by a `convert` after it (the
pass writes it so), as the widened dot is.

The `bf16_dot` setting (`JITCORE_BF16_DOT`): `auto` (default) runs natively the dots worth it
(`worth_native`), `native` every bfloat16 dot, `widen` none. On a host without the instruction
every setting widens: the float32 GEMM is then the exact emulation.

Each call of the kernel takes a contiguous share of the result's `batch * M` rows, as loop
kernels share their range; the threads each pack the whole of B (the extra packing is
`K * N` per thread, against `2 M N K / threads` flops). Its scratch, packed blocks of A and B,
is a workspace region of the step (`Step.region`), a slice per share.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes

from ...settings import settings
from ..llvm import bf16_gemm
from ..llvm.emitter import i64
from ..plan.kernel_shapes import gemm_layout

_F32 = np.dtype(np.float32)
_MODES = ("auto", "native", "widen")

# `auto` runs a dot natively from this many flops (2 * batch * M * N * K) on, with at least
# `MIN_COLS` result columns. Measured through `jit` on the 2-core Zen 4 (2026-12-07, best of
# 7 interleaved rounds): below ~1e5 flops both paths take the call's ~8-10 us, and the native
# kernel costs more to compile; 64^3 took 15.0 us native against 17.0 widened, 128^3 39.5
# against 52.9; 512x512 times 512x16 the same (155 us), times 512x8 160 against 129 and
# times 512x1 38 against 22 (most of each 32-column micro-tile is empty).
MIN_FLOPS = 1 << 18
MIN_COLS = 16

_host = None


def host_has_bf16() -> bool:
    """Does the host CPU have AVX-512 BF16 (LLVM's host features, asked once)?"""
    global _host
    if _host is None:
        from .blas import host_cpu_features
        features = host_cpu_features() or {}
        _host = bool(features.get("avx512bf16") and features.get("avx512f"))
    return _host


def mode() -> str:
    """The `bf16_dot` setting, checked."""
    m = (settings.bf16_dot or "auto").strip().lower()
    if m not in _MODES:
        raise ValueError(f"JITCORE_BF16_DOT={settings.bf16_dot!r}: expected one of "
                         f"{', '.join(_MODES)}")
    return m


def _bf16_operands(instr) -> bool:
    return (instr.opcode == "dot_general" and not instr.called and
            all(o.shape.dtype == dtypes.bfloat16 for o in instr.operands))


def worth_native(instr) -> bool:
    """Is this dot big enough for the native kernel to beat the widened one (`MIN_FLOPS`,
    `MIN_COLS`; measured in `benchmarks/mixed_precision.py`)?"""
    batch, m, n, k, _, _ = gemm_layout(instr)
    return 2 * batch * m * n * k >= MIN_FLOPS and n >= MIN_COLS


def keeper():
    """For `widen_half_dots.keeping`: the predicate saying which dots keep their bfloat16
    operands (run natively) under the setting, or None (all widened). Raises ValueError for
    an unknown setting."""
    m = mode()
    if m == "widen" or not host_has_bf16():
        return None
    return _keep_all if m == "native" else _keep_worth


def _keep_all(instr) -> bool:
    return _bf16_operands(instr) and instr.shape.dtype in (_F32, dtypes.bfloat16)


def _keep_worth(instr) -> bool:
    return _keep_all(instr) and worth_native(instr)


def native(step) -> bool:
    """Does this plan step run the native kernel (a kept dot, given its scratch region by
    `prepare`)?"""
    return step.kind == "dot" and getattr(step, "region", None) is not None and \
        _bf16_operands(step.instr)


def prepare(plan, step, nested):
    """Give a kept dot's step its scratch: one slice per thread that may run a share."""
    if step.kind != "dot" or not _bf16_operands(step.instr) or step.instr.shape.dtype != _F32 \
            or not host_has_bf16():
        return
    from ... import ir
    per = _slice_bytes(step.instr)
    step.region = plan._new("subtemp" if nested else "temp",
                            ir.Shape(np.dtype(np.uint8), (per * max(plan.threads, 1),)))
    step.place = lambda base: None   # its own offset is all it needs


def _slice_bytes(instr) -> int:
    return -(-bf16_gemm.scratch_bytes(instr) // 64) * 64


def emit(b, mod, step, ptr, raw, tid, nthreads, name):
    """Call the kernel for `step` on share `tid` of `nthreads` (None: the whole range, on
    this thread), with share `tid`'s slice of the scratch."""
    kernel = bf16_gemm.emit_bf16_gemm(mod, name, step.instr)
    scratch = b.gep(raw(step.region), [b.mul(tid, i64(_slice_bytes(step.instr)))])
    args = [ptr(step.inputs[0]), ptr(step.inputs[1]), ptr(step.outputs[0]), scratch]
    n = i64(kernel.extent)
    if nthreads is None:
        b.call(kernel.fn, args + [i64(0), n])
        return
    chunk = b.sdiv(b.add(n, b.sub(nthreads, i64(1))), nthreads)
    lo = _min(b, b.mul(tid, chunk), n)
    hi = _min(b, b.add(lo, chunk), n)
    with b.if_then(b.icmp_signed("<", lo, hi)):
        b.call(kernel.fn, args + [lo, hi])


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)
