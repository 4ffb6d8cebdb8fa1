"""Complex arithmetic as arithmetic on real and imaginary parts, for the compiled backends.

After this pass, kernels compute only with real values: each complex operation whose
primitive has a `complex_parts` rule (see `ops/complex_parts.py` and `Primitive`) is replaced
by that rule's real operations on the parts, so fusion, the element emitters and the math
routines need no complex arithmetic. A complex value stays whole only where the program
needs the array itself:

- parameters and results of every computation (the signatures do not change, so the
  executable's buffers keep NumPy's interleaved layout),
- operands and results of operations without a rule (library calls such as FFT and LAPACK,
  host steps such as sort, control flow, whose bodies this pass rewrites on their own).

There the pass reads the parts with `real`/`imag` and assembles a whole value with `complex`;
a kernel's element emitter loads and stores such a value as a pair (`llvm.emitter`). A
program without complex types is returned unchanged. Time is linear in the program's length.
"""
from __future__ import annotations

import numpy as np

from ops import core, dtypes
from ops import elementwise as el
from ops.core import PRIMITIVES

from .. import ir
from .rebuild import Copier, rebuild


def split_complex(module: ir.Module) -> ir.Module:
    """Rewrite every computation of `module` that holds complex values (see the module
    docstring); the others are left as they are."""
    for comp in list(module.computations.values()):
        if any(_is_complex(i.shape) for i in comp.instructions):
            _split(module, comp)
    return module


def _is_complex(shape) -> bool:
    if isinstance(shape, tuple):
        return any(_is_complex(s) for s in shape)
    return shape.dtype.kind == "c"


class _Complex:
    """A complex value, held whole (a tracer), as parts (two real tracers), or both; each
    form is made from the other when first asked for."""

    __slots__ = ("_whole", "_parts")

    def __init__(self, whole=None, parts=None):
        self._whole, self._parts = whole, parts

    def parts(self):
        if self._parts is None:
            self._parts = (el.real(self._whole), el.imag(self._whole))
        return self._parts

    def whole(self):
        if self._whole is None:
            self._whole = el.complex(*self._parts)
        return self._whole


class _Splitter(Copier):
    """Values: tracers for real ones, `_Complex` for complex ones."""

    def wrap(self, instr):
        t = super().wrap(instr)
        return _Complex(whole=t) if instr.shape.dtype.kind == "c" else t

    def instr_of(self, v):
        return super().instr_of(v.whole() if isinstance(v, _Complex) else v)

    def constant(self, instr):
        value = instr.attrs["value"]
        if instr.shape.dtype.kind == "c":
            part = dtypes.real_dtype(instr.shape.dtype)
            return _Complex(parts=(np.array(value.real, part), np.array(value.imag, part)))
        return super().constant(instr)

    def apply(self, instr, values):
        prim = PRIMITIVES.get(instr.opcode)
        rule = None if prim is None or instr.called else prim.complex_parts
        touches = _is_complex(instr.shape) or any(isinstance(v, _Complex) for v in values)
        if rule is None or not touches:
            return self.copy(instr, values)
        if rule == "parts":
            # A parts-wise op's parameters never name a complex dtype: they serve both parts.
            re = core.bind(prim, *[_part(v, 0) for v in values], **instr.attrs)
            im = core.bind(prim, *[_part(v, 1) for v in values], **instr.attrs)
            return _Complex(parts=(re, im))
        out = rule(*[v.parts() if isinstance(v, _Complex) else v for v in values],
                   **instr.attrs)
        return _Complex(parts=out) if isinstance(out, tuple) else out


def _part(v, k):
    return v.parts()[k] if isinstance(v, _Complex) else v


def _split(module, comp):
    rebuild(module, comp, _Splitter)
