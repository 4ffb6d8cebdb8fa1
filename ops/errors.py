"""jitcore's exception types.

They live on the ground floor (`ops/`) because shape rules raise them; `jitcore.errors`
re-exports them for users. Every message ends with the user's source line (the innermost
frame outside jitcore's own packages), so an error raised deep in a trace points at the line
that caused it.
"""
from __future__ import annotations

import linecache
import os
import sys

# Frames from these package folders (and the stdlib plumbing they call through) are ours,
# not the user's.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
INTERNAL_DIRS = tuple(os.path.join(_ROOT, p) + os.sep for p in ("ops", "jitcore", "xla_like"))
_STDLIB_SKIP = ("contextlib.py", "functools.py")


def user_frame():
    """The innermost frame that belongs to the user's code, or None."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(INTERNAL_DIRS) and not fn.endswith(_STDLIB_SKIP):
            return f
        f = f.f_back
    return None


def user_location(short=True):
    """`file.py:line` of the user's code (basename when `short`), or '' if none is found."""
    f = user_frame()
    if f is None:
        return ""
    fn = f.f_code.co_filename
    return f"{os.path.basename(fn) if short else fn}:{f.f_lineno}"


def _location_suffix():
    f = user_frame()
    if f is None:
        return ""
    fn, line = f.f_code.co_filename, f.f_lineno
    src = linecache.getline(fn, line).strip()
    return f"\n  at {fn}:{line}" + (f"\n    {src}" if src else "")


class JitcoreError(Exception):
    """Base class of jitcore's errors. The message is completed with the user's source line."""

    def __init__(self, message: str, hint: str | None = None):
        self.bare_message = message
        self.hint = hint
        self.location = user_location(short=False)
        text = message + _location_suffix()
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class ShapeError(JitcoreError, TypeError, ValueError):
    """Operands whose shapes do not fit the op (broadcasting, contraction, reshape, concat...).

    Both a TypeError (as JAX raises) and a ValueError (as NumPy raises), so either `except` works.
    """


class DtypeError(JitcoreError, TypeError):
    """An operand's dtype is wrong for the op (e.g. a bitwise op on floats)."""


class AxisError(JitcoreError, ValueError, IndexError):
    """An axis argument outside `[-ndim, ndim)` (a ValueError and an IndexError, as in NumPy)."""


class IndexOutOfRangeError(JitcoreError, IndexError):
    """A static index outside an array's bounds."""


class ConcretizationTypeError(JitcoreError, TypeError):
    """A traced (abstract) value was used where Python needs a concrete one: `if x > 0`, `int(x)`."""


class TracerBoolConversionError(ConcretizationTypeError):
    """A traced boolean used as a Python bool: `if x > 0:`, `while`, `and`/`or`, assert."""


class NonConcreteBooleanIndexError(ConcretizationTypeError, IndexError):
    """Boolean-mask indexing with a traced mask: the result's shape would depend on values."""


class KeyReuseError(JitcoreError, TypeError):
    """A PRNG key used twice where its reuse is checked (JAX's name)."""


class TracerArrayConversionError(ConcretizationTypeError):
    """`np.asarray(tracer)` (or another NumPy function) applied to a traced value under jit."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """A traced value used as a Python int: `range(x)`, `x.__index__()`, a shape argument."""


class UnexpectedTracerError(JitcoreError):
    """A traced value escaped its trace (stored in a global, returned through a side channel)."""


class NonHashableStaticArgError(JitcoreError, ValueError):
    """A static argument of a jitted function is not hashable, so it cannot key the cache."""


class InvalidArgumentError(JitcoreError, TypeError):
    """An argument of the wrong type: a non-array where arrays go (an argument of a transform),
    or an option that is not of the kind it names (`axis=1.5`, `static_argnums="a"`)."""


class InvalidOptionError(JitcoreError, ValueError):
    """An option of `jit` or a transform that does not fit the function it is given:
    `static_argnums` past its parameters, a `static_argnames` or `dynamic_axes` name it does
    not have, an argument both static and donated, `out_axes` past an output's rank."""


class ControlFlowError(JitcoreError, TypeError):
    """Branches or loop bodies whose outputs do not match what cond/while_loop/scan need."""


class IRVerificationError(JitcoreError):
    """A Module broke an IR invariant (SSA, shapes, dtypes); the message names the instruction."""


class IRParseError(JitcoreError, ValueError):
    """HLO-like text that the parser cannot read; the message names the line."""


class CompilerError(JitcoreError):
    """A compiler pass failed on a program it should have handled: a bug in jitcore, not in the
    user's code. The message names the pass; the pass's own exception is the `__cause__`."""

    def __init__(self, message: str, pass_name: str, hint: str | None = None):
        self.pass_name = pass_name
        super().__init__(message, hint)
