"""Structural equality of Modules, for round-trip tests (print -> parse -> compare).

Two modules are equal when they have the same name, the same computations in printing order
(`printer.computation_order`: the order the text records), the same entry, and instruction by
instruction the same id, opcode, operand ids, shape, attributes, called computations and location,
and the same parameters and root. `_next_id` is not compared: after dead-code elimination it may
exceed the largest id, and only "above every id" matters.

Attribute values compare with their types (an int is not a float, a tuple not a list); NumPy
scalars count as their Python counterparts, since the printer writes them the same way. Floats
and float arrays compare exactly, bit for bit, except that any NaN equals any NaN: a round trip
must keep -0.0 and the last bit of a float32.
"""
from __future__ import annotations

import math

import numpy as np

from ops.dtypes import kind as _kind

from . import ir
from .printer import computation_order, instruction_to_text


def modules_equal(a: ir.Module, b: ir.Module) -> bool:
    try:
        assert_modules_equal(a, b)
    except AssertionError:
        return False
    return True


def assert_modules_equal(a: ir.Module, b: ir.Module) -> None:
    """Raise AssertionError describing the first difference between `a` and `b`."""
    if a.name != b.name:
        raise AssertionError(f"module names differ: {a.name!r} vs {b.name!r}")
    names_a = [c.name for c in computation_order(a)]
    names_b = [c.name for c in computation_order(b)]
    if names_a != names_b:
        raise AssertionError(f"computations differ: {names_a} vs {names_b}")
    entry_a = a.entry.name if a.entry is not None else None
    entry_b = b.entry.name if b.entry is not None else None
    if entry_a != entry_b:
        raise AssertionError(f"entry computations differ: {entry_a} vs {entry_b}")
    for ca, cb in zip(computation_order(a), computation_order(b)):
        _assert_computations_equal(ca, cb)


def _ids(instrs) -> list:
    return [getattr(i, "id", i) for i in instrs]


def _assert_computations_equal(a: ir.Computation, b: ir.Computation):
    where = f"computation %{a.name}"
    if _ids(a.parameters) != _ids(b.parameters):
        raise AssertionError(f"{where}: parameters differ: {_ids(a.parameters)} vs "
                             f"{_ids(b.parameters)}")
    root_a = a.root.id if a.root is not None else None
    root_b = b.root.id if b.root is not None else None
    if root_a != root_b:
        raise AssertionError(f"{where}: roots differ: %{root_a} vs %{root_b}")
    if _ids(a.instructions) != _ids(b.instructions):
        raise AssertionError(f"{where}: instruction ids differ: {_ids(a.instructions)} vs "
                             f"{_ids(b.instructions)}")
    for ia, ib in zip(a.instructions, b.instructions):
        problem = _instruction_difference(ia, ib)
        if problem:
            raise AssertionError(f"{where}, {instruction_to_text(ia)}:\n  {problem}\n"
                                 f"  other: {instruction_to_text(ib)}")


def _instruction_difference(a: ir.Instruction, b: ir.Instruction) -> str:
    if a.opcode != b.opcode:
        return f"opcodes differ: {a.opcode} vs {b.opcode}"
    if _ids(a.operands) != _ids(b.operands):
        return f"operands differ: {_ids(a.operands)} vs {_ids(b.operands)}"
    if not _shapes_equal(a.shape, b.shape):
        return f"shapes differ: {ir.shape_str(a.shape)} vs {ir.shape_str(b.shape)}"
    if set(a.attrs) != set(b.attrs):
        return f"attribute names differ: {sorted(a.attrs)} vs {sorted(b.attrs)}"
    for k in a.attrs:
        if not values_equal(a.attrs[k], b.attrs[k]):
            return f"attribute {k} differs: {a.attrs[k]!r} vs {b.attrs[k]!r}"
    called_a = [getattr(c, "name", c) for c in a.called]
    called_b = [getattr(c, "name", c) for c in b.called]
    if called_a != called_b:
        return f"called computations differ: {called_a} vs {called_b}"
    if a.location != b.location:
        return f"locations differ: {a.location!r} vs {b.location!r}"
    return ""


def _shapes_equal(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(_shapes_equal(x, y) for x, y in zip(a, b)))
    # A symbolic size (ops.dims.Dim, in a transform's trace inside a bucketed trace) prints as
    # its capacity, and the text keeps no more: it compares as that int.
    return a.dtype == b.dtype and tuple(map(int, a.dims)) == tuple(map(int, b.dims))


def _normalize(v):
    """NumPy scalars and scalar types as the Python values the printer writes them as."""
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer) or (isinstance(v, int) and type(v) not in (int, bool)):
        return int(v)   # also int subclasses such as a custom call's RuleKey
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v)
    return v


def values_equal(x, y) -> bool:
    """Attribute values equal with their types; floats bit-exact except NaN == NaN."""
    x, y = _normalize(x), _normalize(y)
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and arrays_equal(x, y)
    if isinstance(x, np.dtype) or isinstance(y, np.dtype):
        # Each dtype has its own class (Float32DType...), so compare values, not types.
        return isinstance(x, np.dtype) and isinstance(y, np.dtype) and x == y
    if type(x) is not type(y):
        return False
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(values_equal(p, q) for p, q in zip(x, y))
    if isinstance(x, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)
    return x == y


def arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, same shape, same elements: floats bit for bit, any NaN equal to any NaN."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "c":
        return arrays_equal(np.real(a), np.real(b)) and arrays_equal(np.imag(a), np.imag(b))
    if _kind(a.dtype) == "f":
        fa, fb = np.ascontiguousarray(a.reshape(-1)), np.ascontiguousarray(b.reshape(-1))
        nan_a, nan_b = np.isnan(fa), np.isnan(fb)
        if not np.array_equal(nan_a, nan_b):
            return False
        bits = np.dtype(f"u{a.dtype.itemsize}")
        return bool(np.array_equal(fa.view(bits)[~nan_a], fb.view(bits)[~nan_b]))
    return bool(np.array_equal(a, b))
