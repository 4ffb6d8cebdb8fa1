"""The ground floor: abstract values, primitives, traces and `bind`.

A primitive is defined once (in one of the family modules) with all of its rules. Calling a
primitive means `bind(prim, *args, **params)`, which hands the call to the innermost active
trace: the IR builder while a function is being traced (so rules build IR), or the eager
trace at the bottom of the stack (so rules compute numbers with NumPy). `ops/` never imports
the IR; the builder lives in `xla_like` and is pushed onto this module's trace stack.
"""
from __future__ import annotations

import abc
import math
import threading
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from . import dtypes
from .dims import Dim
from .errors import (ConcretizationTypeError, TracerArrayConversionError,
                     TracerBoolConversionError, TracerIntegerConversionError,
                     UnexpectedTracerError)


class ShapedArray:
    """An abstract array value: shape, dtype and whether its dtype is weak (from a Python scalar)."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        # A Dim (a bucketed trace's symbolic size) stays one; other sizes become plain ints.
        self.shape = tuple(d if type(d) is Dim else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def update(self, shape=None, dtype=None, weak_type=None):
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def str_short(self):
        return f"{dtypes.IR_NAME.get(self.dtype, str(self.dtype))}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak' if self.weak_type else ''})"


# --- primitives ----------------------------------------------------------------------------

PRIMITIVES: dict[str, "Primitive"] = {}

# The values `Primitive.lowering` takes: how a compiled backend runs the primitive.
LOWERINGS = ("element", "kernel", "scatter", "library", "host", "control", "calls", "rewritten")
# The identities `Primitive.reduction` names (masking fills padding with them).
IDENTITIES = ("zero", "one", "lowest", "highest")


class Primitive:
    """One operation of the IR, with its rules side by side.

    - `abstract_eval(*avals, **params) -> ShapedArray | tuple[ShapedArray, ...]`: the shape/dtype rule.
    - `impl(*ndarrays, **params) -> ndarray | tuple`: the NumPy reference, the definition of the op.
    - `jvp`, `vjp` / `transpose`, `batch`: the transform rules (`ops/autodiff.py`).

    Traits: facts about the op that passes and backends ask instead of keeping lists of opcode
    names (the `def*` helpers of `ops/rules.py` and the family files set them):

    - `elementwise`: output element i depends only on element i of each operand, all of one
      shape (unary and binary math, comparisons, select, clamp, conversions, stop_gradient);
    - `cheap`: about one machine instruction per element; fusion recomputes it in every kernel
      that reads it rather than storing it;
    - `moves_data`: each output element is one operand element (or a fill value) read at a
      position computed from the output's (broadcasts, reshapes, slices, pads, gathers...);
    - `keeps_positions`: not elementwise, but reads each operand only at the output's own
      position along every axis they share (transpose, broadcast, squeeze, iota): a valid
      prefix along a padded axis stays one (bucketing's masking leaves it alone);
    - `linear_order`: an output of its operand's size holds the operand's elements in the same
      row-major order (reshape, squeeze, a broadcast adding size-1 axes, stop_gradient): a
      flat loop reads it at the output's own linear position;
    - `reshapes`: only regroups axes (reshape, squeeze): two in a row are one;
    - `positional`: no operands; each element is computed from its own index (iota);
    - `reduction`: for reductions, the identity of their combining operation: "zero", "one",
      "lowest" or "highest" (also for cumulative scans and arg-reductions, with the flags
      `cumulative` and `arg_reduction`); None otherwise;
    - `comparison`: the relation an elementwise comparison tests ("==", "!=", "<", "<=", ">",
      ">="), None otherwise;
    - `math`: the name of the math routine an elementwise op computes with on floats (a key of
      `MATH_ROUTINES`, which says how each backend computes it and on how many operands);
      None for ops the element rule writes out itself;
    - `scatter_combine`: for scatters, how an update joins the element it lands on (None:
      overwrites; "add", "mul", "min", "max");
    - `lowering`: how compiled backends run it (one of `LOWERINGS`): "element" (the LLVM
      element rule, `llvm.elementwise`, emits it), "kernel" (the kernel emitter, inside a
      fused loop: data movement, reductions, iota, stop_gradient), "scatter" (a serial native
      loop, `llvm.scatter`), "library" (a library call: dot_general through BLAS), "host" (the
      NumPy reference on the host; the CPU plan turns sorts and cumulative scans into native
      steps, `plan/sort_scan.py`), "control" (native loops and
      branches: cond, while, scan), "calls" (inlined or run as their body: the custom
      derivative calls, fusion), "rewritten" (a pass of the kernel pipeline replaces it with
      other primitives: conv_general_dilated by `lower_conv`);
    - `library`: for `lowering="library"`, which library family runs it: "gemm" (BLAS
      matrix products: dot_general), "lapack" (factorizations and solves), "fft"; a backend
      that has no native call for an op runs it as a host step (its NumPy reference);
    - `complex_parts`: how compiled backends compute it on complex values from their real and
      imaginary parts (the `split_complex` pass): "parts" (the same op on each part: data
      movement, add, select...), a rule `f(*operands, **params)` taking a complex operand as
      its (re, im) pair and returning a value or a pair (`ops/complex_parts.py`), or None:
      the op takes and gives whole complex arrays (library and host ops, control flow);
    - `call_like`: runs sub-computations, so its rules need the IR; `xla_like` registers them
      as `call_rules`; `inlinable`: a call whose first sub-computation is all that matters once
      transforms are done (compiled backends inline it);
    - `has_side_effects`: running it matters beyond its results (host callbacks that print):
      dead code elimination keeps it, CSE never merges two, code motion never moves it.
    """

    def __init__(self, name: str, family: str, multiple_results: bool = False):
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} is defined twice")
        self.name = name
        self.family = family
        self.multiple_results = multiple_results
        self.abstract_eval = None
        self.impl = None
        self.elementwise = False
        self.cheap = False
        self.moves_data = False
        self.keeps_positions = False
        self.linear_order = False
        self.reshapes = False
        self.positional = False
        self.reduction = None
        self.cumulative = False
        self.arg_reduction = False
        self.comparison = None
        self.math = None
        self.scatter_combine = None
        self.lowering = None
        self.library = None
        self.complex_parts = None
        self.call_like = False
        self.call_rules = None
        self.inlinable = False
        self.has_side_effects = False
        PRIMITIVES[name] = self

    @property
    def reduces(self) -> bool:
        """A reduction to a smaller shape (arg-reductions included; cumulative scans keep
        their operand's shape)."""
        return self.reduction is not None and not self.cumulative

    def bind(self, *args, **params):
        traces = _state.traces
        return (traces[-1] if traces else _bottom).process_primitive(self, args, params)

    def __repr__(self):
        return f"Primitive({self.name})"


def bind(prim: Primitive, *args, **params):
    traces = _state.traces
    return (traces[-1] if traces else _bottom).process_primitive(prim, args, params)


class OpcodesWhere:
    """The opcodes whose primitive passes `test`, looked up live (a primitive registered later
    belongs as soon as it exists): `op in OpcodesWhere(lambda p: p.lowering == "control")`."""

    def __init__(self, test):
        self.test = test

    def __contains__(self, op) -> bool:
        prim = PRIMITIVES.get(op)
        return prim is not None and bool(self.test(prim))

    def __iter__(self):
        return iter([n for n, p in PRIMITIVES.items() if self.test(p)])


# --- math routines -------------------------------------------------------------------------

class MathRoutine(NamedTuple):
    """How backends compute one math function (`Primitive.math` names it).

    - `args`: 1 or 2 operands;
    - `intrinsic`: the LLVM intrinsic the element rule calls for it (llvm.floor), or None: the
      backend's math provider supplies it (the CPU's vectorized bodies in `llvm.math`, by this
      name, else the C library; CUDA's libdevice);
    - `libm`: the C library function (float64; an `f` suffix for float32) the CPU falls back
      to when vectorized bodies are off or out of range; None: the C library lacks it (our
      body serves) or it is an intrinsic;
    - `libdevice`: CUDA's `__nv_<libdevice>` (an `f` suffix for float32), or None;
    - `from_exp`: without a body of its own, a provider composes it from its exp (logistic);
    - `bounded_range`: its argument is reduced modulo pi/2: the vectorized body is exact only
      for |x| < 2**53 (the CPU calls the C library instead), and libdevice's body keeps a
      table for huge arguments (heavy for a GPU thread);
    - `in_float64`: the reference computes in float64 whatever the input, so float32 and
      float16 operands are widened and the float64 routine called (erf).
    """

    name: str
    args: int = 1
    intrinsic: str | None = None
    libm: str | None = None
    libdevice: str | None = None
    from_exp: bool = False
    bounded_range: bool = False
    in_float64: bool = False


MATH_ROUTINES: dict[str, MathRoutine] = {}


def register_math(routine: MathRoutine) -> MathRoutine:
    """Record `routine` under its name; several primitives may share one, identically."""
    known = MATH_ROUTINES.setdefault(routine.name, routine)
    if known != routine:
        raise ValueError(f"math routine {routine.name!r} is described twice, differently: "
                         f"{known} and {routine}")
    return routine


# --- abstract values of anything array-like ------------------------------------------------

def get_aval(x) -> ShapedArray:
    """The abstract value of a tracer, a jitcore/NumPy array, a NumPy scalar or a Python scalar."""
    aval = getattr(x, "aval", None)
    if isinstance(aval, ShapedArray):
        return aval
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return ShapedArray(x.shape, dtypes.canonicalize(x.dtype, "array argument"), False)
    sd = dtypes.python_scalar_dtype(x)
    if sd is not None:
        return ShapedArray((), sd[0], sd[1])
    raise TypeError(f"{type(x).__name__} is not a valid array value: {x!r:.80}")


def to_numpy(x, aval: ShapedArray | None = None) -> np.ndarray:
    """The concrete NumPy value of a non-tracer `x` (no copy for NumPy or jitcore arrays)."""
    if isinstance(x, np.ndarray):
        return x
    if aval is None:
        aval = get_aval(x)
    return np.asarray(x, dtype=aval.dtype)


# --- traces --------------------------------------------------------------------------------

class Trace(abc.ABC):
    """Interprets primitive applications. Subclasses: the eager trace, the IR builder."""

    level = 0

    @abc.abstractmethod
    def process_primitive(self, prim, args, params):
        """Apply `prim` with `params` to `args` (tracers of this trace or concrete values)."""


class EvalTrace(Trace):
    """The bottom of the stack: computes with each primitive's NumPy `impl` (or, where the
    runtime's `compiled` hook takes the call, a compiled kernel of it).

    Output avals come from the shape rule, so eager calls check shapes and dtypes exactly as
    traced calls do, and results carry the weak type the rule decides. `wrap` turns an output
    into the value users see (the runtime installs one that makes `jitcore.Array`s).
    """

    # `compiled(prim, args, avals, out_aval, params)`: the outputs of `prim` computed by a
    # compiled kernel (wrapped as `wrap` would), or None to use `impl`. The runtime installs
    # one that compiles primitives on large arrays; None: always `impl`.
    compiled = None

    def wrap(self, value: np.ndarray, aval: ShapedArray):
        return value

    def process_primitive(self, prim, args, params):
        for a in args:
            if isinstance(a, Tracer):
                raise UnexpectedTracerError(
                    f"{prim.name}: a traced value {a.aval.str_short()} was used after the trace "
                    "that created it ended (it escaped through a global, a closure or a side output)",
                    hint="return traced values from the traced function instead of storing them")
        avals = [get_aval(a) for a in args]
        out_aval = prim.abstract_eval(*avals, **params)
        if self.compiled is not None:
            out = self.compiled(prim, args, avals, out_aval, params)
            if out is not None:
                return out
        vals = [to_numpy(a, av) for a, av in zip(args, avals)]
        out = prim.impl(*vals, **params)
        if prim.multiple_results:
            return tuple(self.wrap(independent_of(_as_dtype(o, av.dtype), vals), av)
                         for o, av in zip(out, out_aval))
        return self.wrap(independent_of(_as_dtype(out, out_aval.dtype), vals), out_aval)


def _as_dtype(x, dtype):
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def independent_of(value: np.ndarray, inputs) -> np.ndarray:
    """`value`, copied if it may share memory with a caller's writable array.

    NumPy references return views (reshape, transpose, slices) and sometimes an input itself;
    results are immutable, so they must not alias memory someone else can still write.
    Memory we own is made read-only when wrapped, so a writable root means "not ours".
    """
    root = value
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root.flags.writeable and (root is not value or any(value is a for a in inputs)):
        return value.copy()
    return value


class _ThreadTraces(threading.local):
    """The traces active on this thread, above the shared bottom one, innermost last.

    Per thread: two threads tracing at once each see only their own builder, so neither binds
    onto the other's computation nor takes the other's tracers for escaped ones."""

    def __init__(self):
        self.traces: list[Trace] = []


_state = _ThreadTraces()
# The bottom of every thread's stack: one for the process, installed once by the runtime.
_bottom: EvalTrace = EvalTrace()


def current_trace() -> Trace:
    traces = _state.traces
    return traces[-1] if traces else _bottom


def eval_trace() -> EvalTrace:
    return _bottom


def set_eval_trace(trace: EvalTrace):
    """Install the bottom-of-stack trace (the runtime's, which wraps results in `Array`)."""
    global _bottom
    _bottom = trace


def is_tracing() -> bool:
    return bool(_state.traces)


def trace_is_live(trace: Trace) -> bool:
    return trace is _bottom or any(t is trace for t in _state.traces)


@contextmanager
def new_trace(trace: Trace):
    traces = _state.traces
    trace.level = len(traces) + 1   # the bottom trace is level 0
    traces.append(trace)
    try:
        yield trace
    finally:
        popped = traces.pop()
        assert popped is trace, "trace stack corrupted"


class Tracer:
    """A value inside a trace: knows its trace, its abstract value and, when it is known while
    tracing, its concrete value.

    Transforms applied outside `jit` trace with concrete inputs, so every traced value also
    carries its NumPy value (`concrete`), and Python control flow on it works (`if x > 0:`
    inside eager `grad`, as in JAX and autograd). Under `jit` nothing is concrete and the same
    code raises a ConcretizationTypeError. Conversions that would silently drop a derivative
    (`float()`, `np.asarray`, `.item()`) raise either way.

    The runtime attaches the array operators and methods (`+`, `@`, `.sum()`, `.at`, indexing)
    to this class, so traced values behave like arrays.
    """

    __slots__ = ("_trace", "aval", "concrete")
    __array_priority__ = 1000

    def __init__(self, trace: Trace, aval: ShapedArray, concrete=None):
        self._trace = trace
        self.aval = aval
        self.concrete = concrete

    def _origin(self) -> str:
        return ""

    def _concretization_error(self, what, cls=ConcretizationTypeError):
        inside = "inside a jitted function" if self.concrete is None else \
            "inside a transform (its derivative would be lost)"
        return cls(
            f"{what} needs a concrete value, but got a traced value {self.aval.str_short()}"
            f"{self._origin()} {inside}",
            hint="mark the argument static with static_argnums/static_argnames, or use "
                 "lax.cond / jnp.where for value-dependent control flow")

    def __bool__(self):
        if self.concrete is not None:
            return bool(self.concrete)
        raise self._concretization_error("bool() (an `if`, `while`, `and`/`or` or assert)",
                                         TracerBoolConversionError)

    def __int__(self):
        if self.concrete is not None:
            return int(self.concrete)
        raise self._concretization_error("int()", TracerIntegerConversionError)

    def __float__(self):
        if self.concrete is not None and dtypes.kind(self.aval.dtype) != "f":
            return float(self.concrete)
        raise self._concretization_error("float()")

    def __complex__(self):
        raise self._concretization_error("complex()")

    def __index__(self):
        if self.concrete is not None and self.aval.dtype.kind in "iub":
            return int(self.concrete)
        raise self._concretization_error("using it as a Python index (range, shape, slice)",
                                         TracerIntegerConversionError)

    def __array__(self, dtype=None, copy=None):
        raise self._concretization_error(
            "np.asarray() / a NumPy function", TracerArrayConversionError)

    def tolist(self):
        raise self._concretization_error(".tolist()")

    def item(self, *args):
        raise self._concretization_error(".item()")

    __hash__ = None  # arrays are unhashable, like NumPy's

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}{', weak' if self.aval.weak_type else ''}>"
