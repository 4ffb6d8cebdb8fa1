"""jitcore's exception types (defined in `ops.errors`, where shape rules raise them).

Every message names the op, the shapes and dtypes involved and the user's source line, and
suggests a fix.
"""
from ops.errors import (  # noqa: F401
    AxisError, CompilerError, ConcretizationTypeError, ControlFlowError, DtypeError,
    IndexOutOfRangeError, InvalidArgumentError, InvalidOptionError, IRParseError,
    IRVerificationError, JitcoreError, NonHashableStaticArgError, ShapeError,
    TracerArrayConversionError, TracerIntegerConversionError, UnexpectedTracerError)

__all__ = [
    "AxisError", "CompilerError", "ConcretizationTypeError", "ControlFlowError", "DtypeError",
    "IndexOutOfRangeError", "InvalidArgumentError", "InvalidOptionError", "IRParseError",
    "IRVerificationError", "JitcoreError", "NonHashableStaticArgError", "ShapeError",
    "TracerArrayConversionError", "TracerIntegerConversionError", "UnexpectedTracerError",
]
