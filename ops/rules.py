"""Small helpers that make most primitive rules one line.

`defvectorized` (unary, same shape in and out), `defbroadcasting` (n-ary elementwise over
operands of equal shape and dtype: the `jitcore.numpy` layer has already promoted and broadcast
them, as XLA's elementwise ops expect), both setting the elementwise traits through
`defelementwise` (what passes and backends ask: `Primitive`'s docstring lists them), and
`as_function` which gives each primitive the plain function that binds it
(`ops.elementwise.exp(x)`), for use in rules and in `jitcore.lax`.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from . import dtypes
from .core import MathRoutine, Primitive, ShapedArray, bind, register_math
from .errors import (AxisError, ConcretizationTypeError, DtypeError, InvalidArgumentError,
                     ShapeError)

KIND_NAMES = {"f": "a floating-point", "i": "a signed integer", "u": "an unsigned integer",
              "b": "a boolean", "c": "a complex"}


def describe_kinds(kinds: str) -> str:
    return " or ".join(KIND_NAMES[k] for k in kinds) + " dtype"


def quiet(impl):
    """Run a NumPy reference without floating-point warnings (log(0) is -inf, as in XLA)."""
    @functools.wraps(impl)
    def run(*args, **params):
        with np.errstate(all="ignore"):
            return impl(*args, **params)
    return run


def check_kinds(op: str, aval: ShapedArray, kinds: str):
    if dtypes.kind(aval.dtype) not in kinds:
        raise DtypeError(f"{op} requires {describe_kinds(kinds)}, got {aval.str_short()}",
                         hint="convert first with .astype(...)")


def same_shapes_and_dtypes(op: str, avals):
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape:
            raise ShapeError(f"{op}: operands must have equal shapes, got "
                             + ", ".join(x.str_short() for x in avals),
                             hint="broadcast them first (jitcore.numpy functions do this)")
        if a.dtype != first.dtype:
            raise DtypeError(f"{op}: operands must have the same dtype, got "
                             + ", ".join(x.str_short() for x in avals),
                             hint="convert one of them with .astype(...)")


def all_weak(avals) -> bool:
    return all(a.weak_type for a in avals)


def routine(name, args=1, **traits) -> MathRoutine:
    """A math routine computed by the C library and libdevice under its own name unless
    `traits` say otherwise (see `MathRoutine`)."""
    traits.setdefault("libm", name)
    traits.setdefault("libdevice", name)
    return MathRoutine(name, args, **traits)


def defelementwise(p, cheap=False, math=None, comparison=None, lowering="element"):
    """Mark `p` elementwise (see `Primitive`'s traits): `math` is the routine it computes with
    on floats (a `MathRoutine`, or a name for `routine(name)`), `comparison` the relation it
    tests; `lowering` is "element" unless the kernel emitter handles it itself."""
    p.elementwise = True
    p.cheap = cheap
    p.comparison = comparison
    p.lowering = lowering
    if math is not None:
        r = register_math(math if isinstance(math, MathRoutine) else routine(math))
        p.math = r.name
    return p


def in_float32_for_bfloat16(impl):
    """`impl` computing bfloat16 operands in float32 and rounding its float result once, as
    XLA's CPU and GPU code do (ml_dtypes' own ufuncs would round inside composite references).
    Float16 keeps NumPy's float16 ufuncs. A reference marked `bfloat16_steps` follows an op
    XLA expands into several bfloat16 ops, and takes bfloat16 as it is."""
    if getattr(impl, "bfloat16_steps", False):
        return impl

    def f(*args, **kw):
        if not any(getattr(a, "dtype", None) == dtypes.bfloat16 for a in args):
            return impl(*args, **kw)
        wide = [np.asarray(a, np.float32) if getattr(a, "dtype", None) == dtypes.bfloat16
                else a for a in args]
        out = np.asarray(impl(*wide, **kw))
        return out.astype(dtypes.bfloat16) if out.dtype.kind == "f" else out
    return f


def defvectorized(name, impl, kinds="f", out_dtype=None, family="elementwise", params=(),
                  **traits):
    """A unary elementwise primitive: same shape out; dtype the input's unless `out_dtype`.

    `params` names the static parameters the primitive accepts (e.g. round's rounding_method);
    `traits` go to `defelementwise` (cheap, math).
    """
    p = Primitive(name, family)

    def rule(x, **kw):
        unknown = set(kw) - set(params)
        if unknown:
            raise TypeError(f"{name} got unexpected parameters {sorted(unknown)}")
        check_kinds(name, x, kinds)
        if out_dtype is None:
            return x
        return ShapedArray(x.shape, out_dtype, False)

    p.abstract_eval = rule
    p.impl = quiet(in_float32_for_bfloat16(impl))
    p.kinds = kinds
    return defelementwise(p, **traits)


def defbroadcasting(name, impl, kinds="fiu", out_dtype=None, nargs=2, family="elementwise",
                    **traits):
    """An n-ary elementwise primitive over operands of one shape and one dtype (`traits`: see
    `defelementwise`; a `math` name here takes `nargs` operands)."""
    p = Primitive(name, family)

    def rule(*avals):
        if len(avals) != nargs:
            raise TypeError(f"{name} takes {nargs} operands, got {len(avals)}")
        same_shapes_and_dtypes(name, avals)
        check_kinds(name, avals[0], kinds)
        if out_dtype is None:
            return ShapedArray(avals[0].shape, avals[0].dtype, all_weak(avals))
        return ShapedArray(avals[0].shape, out_dtype, False)

    p.abstract_eval = rule
    p.impl = quiet(in_float32_for_bfloat16(impl))
    p.kinds = kinds
    if isinstance(traits.get("math"), str):
        traits["math"] = routine(traits["math"], nargs)
    return defelementwise(p, **traits)


def as_function(p: Primitive, doc: str | None = None):
    """The plain function `f(*operands, **params)` that binds `p`."""
    def f(*args, **params):
        return bind(p, *args, **params)
    f.__name__ = f.__qualname__ = p.name
    f.__doc__ = doc or f"Bind the `{p.name}` primitive."
    f.primitive = p
    return f


def canonical_axis(op: str, axis, ndim: int, shape=None, what: str = "axis") -> int:
    """`axis` in [0, ndim), or an AxisError that names the op and the shape. Every axis
    argument comes through here: an axis that is not an int (a float, a string, a bool, as
    NumPy's reductions refuse them) is an InvalidArgumentError (a TypeError) naming the op
    and the argument, `what`."""
    if isinstance(axis, (bool, np.bool_)):
        index = None
    else:
        try:
            index = operator.index(axis)
        except ConcretizationTypeError:
            raise    # a traced value: its own error says how to make it static
        except TypeError:
            index = None
    if index is None:
        raise InvalidArgumentError(f"{op}: {what} must be an int, got {axis!r:.60} "
                                   f"({type(axis).__name__})")
    if not -ndim <= index < ndim:
        where = f"shape {tuple(shape)}" if shape is not None else f"ndim {ndim}"
        raise AxisError(f"{op}: {what} {index} is out of bounds for an array of {where}")
    return index % ndim if ndim else 0


def canonical_axes(op: str, axes, ndim: int, shape=None, what: str = "axis") -> tuple:
    try:
        items = tuple(axes)
    except TypeError:
        raise InvalidArgumentError(f"{op}: {what} must be a sequence of ints, got "
                                   f"{axes!r:.60} ({type(axes).__name__})") from None
    out = tuple(canonical_axis(op, a, ndim, shape, what) for a in items)
    if len(set(out)) != len(out):
        raise AxisError(f"{op}: repeated {what} in {items}")
    return out
