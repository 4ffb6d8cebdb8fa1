"""16-bit float products (bfloat16 and float16 `dot_general`) as float32 ones.

After this pass no `dot_general` of the compiled backends reads a bfloat16 or float16
operand: each becomes `convert(lhs, f32)`, `convert(rhs, f32)`, a float32 `dot_general`, and,
unless the dot asked for a float32 result (`preferred_element_type`), a `convert` of that
result to its dtype. The product then accumulates in float32 and rounds once per element,
which is what XLA's dots and the NumPy reference (`ops/linalg.py`) compute, and it runs as a
BLAS sgemm on the CPU and cuBLAS on CUDA instead of a loop over 16-bit elements (OpenBLAS's
`sbgemm` is not exported by the wheel jitcore links). The converts are elementwise, so fusion
makes them the GEMM's prologue and epilogue, or part of the kernels around it.

Every computation is rewritten, control-flow bodies included; those without such a dot are
left as they are. One walk per computation: time linear in its length.

A backend with a native 16-bit GEMM names the dots it keeps with `keeping(predicate)` around
the pipeline (the CPU with AVX-512 BF16: `backends.cpu.bf16_dot.keep`). A kept dot keeps its
operands; one with a 16-bit result becomes a float32 dot of them (`preferred_element_type`)
and a `convert` of that result, so its kernel always accumulates and stores float32 and the
result rounds once, as above.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from ops import dtypes
from ops.elementwise import convert_element_type
from ops.linalg import dot_general

from .. import ir
from .rebuild import Copier, rebuild_where

_F32 = np.dtype(np.float32)
# The dots the compiling backend runs natively: `keep(instr) -> bool`, or None (widen all).
_KEEP = contextvars.ContextVar("widen_half_dots_keep", default=None)


@contextlib.contextmanager
def keeping(keep):
    """Inside the block (this thread), the pass leaves the dots `keep(instr)` accepts 16-bit."""
    token = _KEEP.set(keep)
    try:
        yield
    finally:
        _KEEP.reset(token)


def _narrow_dot(instr) -> bool:
    return (instr.opcode == "dot_general" and not instr.called
            and dtypes.is_half(instr.operands[0].shape.dtype))


def widen_half_dots(module: ir.Module) -> ir.Module:
    """Rewrite every bfloat16/float16 dot of `module` (see the module docstring)."""
    return rebuild_where(module, _narrow_dot, _Widener)


class _Widener(Copier):
    def apply(self, instr, values):
        if not _narrow_dot(instr):
            return self.copy(instr, values)
        keep = _KEEP.get()
        if keep is not None and keep(instr):
            if instr.shape.dtype == _F32:
                return self.copy(instr, values)
            out = dot_general(*values, dimension_numbers=instr.attrs["dimension_numbers"],
                              preferred_element_type=_F32)
            return convert_element_type(out, new_dtype=instr.shape.dtype)
        lhs, rhs = (convert_element_type(v, new_dtype=_F32) for v in values)
        out = dot_general(lhs, rhs, dimension_numbers=instr.attrs["dimension_numbers"],
                          preferred_element_type=_F32)
        if instr.shape.dtype != _F32:
            out = convert_element_type(out, new_dtype=instr.shape.dtype)
        return out
