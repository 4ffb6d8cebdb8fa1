"""Operators and methods shared by `jitcore.Array` and traced values.

Both kinds of value behave like NumPy arrays: `x + 1`, `x @ w`, `x.sum(axis=0)`, `x[1:, None]`,
`x.at[i].add(v)`. The methods are defined once here and attached to both classes;
traced values come from `ops.core.Tracer`, which cannot import this floor of the code, hence
the attaching instead of inheritance.
"""
from __future__ import annotations

from ops import core

from . import numpy as jnp
from .array import Array


def _binop(name, reflected=False):
    def op(self, other):
        if not _is_operand(other):
            return NotImplemented
        f = getattr(jnp, name)
        return f(other, self) if reflected else f(self, other)
    op.__name__ = name
    return op


def _is_operand(x):
    # Defer to types we do not know (so their reflected operator gets a chance).
    return isinstance(x, (int, float, complex, bool, Array, core.Tracer, list, tuple)) or \
        hasattr(x, "__array__") or hasattr(x, "aval")


def _unop(name):
    def op(self):
        return getattr(jnp, name)(self)
    op.__name__ = name
    return op


_OPERATORS = {
    "__add__": _binop("add"), "__radd__": _binop("add", True),
    "__sub__": _binop("subtract"), "__rsub__": _binop("subtract", True),
    "__mul__": _binop("multiply"), "__rmul__": _binop("multiply", True),
    "__truediv__": _binop("true_divide"), "__rtruediv__": _binop("true_divide", True),
    "__floordiv__": _binop("floor_divide"), "__rfloordiv__": _binop("floor_divide", True),
    "__mod__": _binop("remainder"), "__rmod__": _binop("remainder", True),
    "__divmod__": _binop("divmod"), "__rdivmod__": _binop("divmod", True),
    "__pow__": _binop("power"), "__rpow__": _binop("power", True),
    "__matmul__": _binop("matmul"), "__rmatmul__": _binop("matmul", True),
    "__and__": _binop("bitwise_and"), "__rand__": _binop("bitwise_and", True),
    "__or__": _binop("bitwise_or"), "__ror__": _binop("bitwise_or", True),
    "__xor__": _binop("bitwise_xor"), "__rxor__": _binop("bitwise_xor", True),
    "__lshift__": _binop("left_shift"), "__rlshift__": _binop("left_shift", True),
    "__rshift__": _binop("right_shift"), "__rrshift__": _binop("right_shift", True),
    "__eq__": _binop("equal"), "__ne__": _binop("not_equal"),
    "__lt__": _binop("less"), "__le__": _binop("less_equal"),
    "__gt__": _binop("greater"), "__ge__": _binop("greater_equal"),
    "__neg__": _unop("negative"), "__pos__": _unop("positive"),
    "__abs__": _unop("abs"), "__invert__": _unop("bitwise_not"),
}


def _method(name, jnp_name=None):
    def m(self, *args, **kwargs):
        return getattr(jnp, jnp_name or name)(self, *args, **kwargs)
    m.__name__ = name
    m.__doc__ = f"Same as `jitcore.numpy.{jnp_name or name}(self, ...)`."
    return m


_METHOD_NAMES = ["sum", "mean", "max", "min", "prod", "argmax", "argmin", "transpose", "ravel",
                 "squeeze", "clip", "cumsum", "cumprod", "dot", "any", "all", "var", "std",
                 "round", "swapaxes", "repeat", "take", "argsort", "sort", "diagonal",
                 "trace", "nonzero", "conj", "conjugate", "ptp", "searchsorted"]


def _reshape(self, *shape, order="C"):
    """`x.reshape(2, 3)` or `x.reshape((2, 3))`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return jnp.reshape(self, shape, order=order)


def _view(self, dtype=None, type=None):
    from .numpy._bitview import view
    return view(self, dtype, type)


def _astype(self, dtype, copy=False):
    return jnp.asarray(self, dtype=dtype) if dtype is not None else self


def _transpose(self, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return jnp.transpose(self, axes or None)


def _getitem(self, idx):
    return jnp._indexing.getitem(self, idx)


def _setitem(self, idx, value):
    raise TypeError(
        f"{type(self).__name__} is immutable and does not support item assignment; use "
        "x = x.at[idx].set(value) (or .add, .multiply, .min, .max) for a functional update")


def _at(self):
    return jnp._indexing.IndexUpdateHelper(self)


_PROPERTIES = {
    "T": property(lambda self: jnp.transpose(self)),
    "mT": property(lambda self: jnp.swapaxes(self, -1, -2)),
    "at": property(_at, doc="Functional updates: `x.at[idx].set(v)`, `.add`, `.multiply`, "
                            "`.min`, `.max`, `.get` return new arrays."),
    "real": property(lambda self: jnp.real(self)),
    "imag": property(lambda self: jnp.imag(self)),
}


def _shape_props(cls):
    # Traced values carry an aval; the runtime Array has its own fast properties.
    if cls is core.Tracer:
        cls.shape = property(lambda self: self.aval.shape)
        cls.dtype = property(lambda self: self.aval.dtype)
        cls.ndim = property(lambda self: len(self.aval.shape))
        cls.size = property(lambda self: self.aval.size)
        cls.weak_type = property(lambda self: self.aval.weak_type)
        cls.itemsize = property(lambda self: self.aval.dtype.itemsize)
        cls.nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)
        cls.copy = lambda self: self    # values are immutable: a traced copy is the value


def install(cls):
    for name, fn in _OPERATORS.items():
        setattr(cls, name, fn)
    cls.__hash__ = None  # defining __eq__ would otherwise leave it; arrays are unhashable
    for name in _METHOD_NAMES:
        setattr(cls, name, _method(name))
    cls.flatten = _method("flatten", "ravel")
    cls.reshape = _reshape
    cls.astype = _astype
    cls.view = _view
    cls.transpose = _transpose
    cls.__getitem__ = _getitem
    cls.__setitem__ = _setitem
    for name, prop in _PROPERTIES.items():
        setattr(cls, name, prop)
    _shape_props(cls)


install(Array)
install(core.Tracer)
