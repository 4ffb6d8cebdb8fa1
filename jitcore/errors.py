"""jitcore's exception types (defined in `ops.errors`, where shape rules raise them).

JAX's exception names are here too, and jitcore raises them where JAX does, so code that
catches `jax.errors.TracerBoolConversionError` catches jitcore's. `JAXTypeError` and
`JAXIndexError` are the bases JAX gives its errors: every jitcore error that is a TypeError
(IndexError) is caught by them.

Every message names the op, the shapes and dtypes involved and the user's source line, and
suggests a fix.
"""
from ops.errors import (  # noqa: F401
    AxisError, CompilerError, ConcretizationTypeError, ControlFlowError, DtypeError,
    IndexOutOfRangeError, InvalidArgumentError, InvalidOptionError, IRParseError,
    IRVerificationError, JitcoreError, NonHashableStaticArgError, ShapeError,
    KeyReuseError, NonConcreteBooleanIndexError, TracerArrayConversionError,
    TracerBoolConversionError, TracerIntegerConversionError, UnexpectedTracerError)

# JAX's base classes: its TypeErrors and IndexErrors derive from these, ours from the builtins.
JAXTypeError = TypeError
JAXIndexError = IndexError
JaxRuntimeError = RuntimeError

__all__ = [
    "AxisError", "CompilerError", "ConcretizationTypeError", "ControlFlowError", "DtypeError",
    "IndexOutOfRangeError", "InvalidArgumentError", "InvalidOptionError", "IRParseError",
    "IRVerificationError", "JitcoreError", "NonHashableStaticArgError", "ShapeError",
    "TracerArrayConversionError", "TracerIntegerConversionError", "UnexpectedTracerError",
    "TracerBoolConversionError", "NonConcreteBooleanIndexError", "KeyReuseError",
    "JAXTypeError", "JAXIndexError", "JaxRuntimeError",
]
