"""The IR as text: an HLO-like listing, one instruction a line, that `parser.parse_module` reads.

```
HloModule predict

%body (p0: f64[3]) -> f64[3] {
  ...
}

ENTRY %predict (p0: f64[4,3], p1: f64[3]) -> f64[5] {
  %0 = f64[4,3] parameter(0), name="params['w']"
  %2 = f64[] constant(2.5)
  %3 = f64[5,3] dot_general(%2, %0), dimension_numbers={{{1},{0}},{{},{}}}  # example.py:6
  ROOT %7 = f64[5] reduce_sum(%6), axes={1}  # example.py:6
}
```

The text is the IR's exchange format (dumps, tests, bug reports), so everything in it must read
back to the same Module: floats print as the shortest text that parses back to the same value in
their dtype, strings are always quoted (so `"f32"` and `"true"` cannot be mistaken for a dtype or
a bool), and constants print every element unless they are large and the caller did not ask.

The printer never raises on a malformed Module: the verifier prints the broken instruction in its
error message, so odd operands, missing attributes and unknown value types print as something
readable (which the parser then refuses).
"""
from __future__ import annotations

import json
import math
import re

import numpy as np

from ops import dtypes

from . import ir

# Constants with more elements than this print as `constant({...})` unless asked otherwise.
LARGE_CONSTANT = 16

# Names made of these characters print bare after `%`; anything else is quoted, so a computation
# named after an odd Python function (`jit(f)`, `my fn`) still reads back.
_BARE_NAME = re.compile(r"[A-Za-z0-9_.\-<>]+\Z")


def name_text(name: str) -> str:
    """A module or computation name as printed: bare if simple, else a quoted string."""
    name = str(name)
    return name if _BARE_NAME.match(name) else json.dumps(name)


# --- values ---------------------------------------------------------------------------------

def float_text(x: float) -> str:
    """A Python float: Python's repr is the shortest text that parses back to the same float64.

    NaN prints as `nan` whatever its sign bit, since nothing in the IR depends on it.
    """
    if math.isnan(x):
        return "nan"
    return repr(float(x))


def attr_value_text(v) -> str:
    """One attribute value: `3`, `-0.5`, `true`, `none`, `f32`, `"text"`, `{1,{2,3}}`."""
    # bool before int (bool is an int), NumPy scalars beside their Python counterparts.
    if v is None:
        return "none"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        # float(np.float32(x)) is exact, so this reads back to the same number.
        return float_text(float(v))
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        d = np.dtype(v)
        return dtypes.IR_NAME.get(d, f"<dtype {d}>")
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (tuple, list)):
        return "{" + ",".join(attr_value_text(x) for x in v) + "}"
    # Not an IR attribute type: print something a reader understands and the parser rejects.
    text = " ".join(repr(v).split())
    return f"<{type(v).__name__} {text[:60]}>"


def _short_float_texts(flat: np.ndarray) -> list:
    """Shortest round-tripping text of each float16/float32 element.

    NumPy's `unique=True` formatting gives the shortest digits that identify the value in its own
    dtype. The parser reads them as float64 and then rounds to the dtype; in rare cases that double
    rounding could land on a neighbour, so each text is checked and, if it fails, replaced by the
    float64 repr of the exact value (longer, but always exact).
    """
    dt = flat.dtype
    bits = flat.view(np.dtype(f"u{dt.itemsize}"))
    # Unique by bit pattern, not value, so -0.0 and 0.0 keep their own texts.
    ubits, inverse = np.unique(bits, return_inverse=True)
    texts = []
    for u in ubits.view(dt):
        if np.isnan(u):
            texts.append("nan")
        elif np.isinf(u):
            texts.append("inf" if u > 0 else "-inf")
        else:
            a = abs(float(u))
            if a == 0.0 or 1e-4 <= a < 1e16:
                s = np.format_float_positional(u, unique=True, trim="0")
            else:
                s = np.format_float_scientific(u, unique=True, trim="0")
            back = np.array(float(s)).astype(dt)
            if back.view(bits.dtype) != u.view(bits.dtype):
                s = repr(float(u))
            texts.append(s)
    return [texts[i] for i in inverse.ravel()]


def element_texts(arr: np.ndarray) -> list:
    """Every element of `arr` in row-major order, as constant literals print them."""
    flat = np.ascontiguousarray(arr).ravel()
    kind = flat.dtype.kind
    if flat.dtype == dtypes.bfloat16:
        # A bfloat16's float32 value has at most 8 significant bits: its exact text is short.
        return [float_text(v) for v in flat.astype(np.float32).tolist()]
    if kind == "b":
        return ["true" if v else "false" for v in flat.tolist()]
    if kind in "iu":
        return [str(v) for v in flat.tolist()]  # Python ints: exact even for uint64's top half
    if kind == "f":
        if flat.dtype == np.float64:
            return [float_text(v) for v in flat.tolist()]
        with np.errstate(all="ignore"):
            return _short_float_texts(flat)
    if kind == "c":
        # `re+imj` (Python's complex syntax), each part printed as a float of its precision.
        res, ims = element_texts(flat.real), element_texts(flat.imag)
        return [r + ("" if i.startswith("-") else "+") + i + "j" for r, i in zip(res, ims)]
    return [" ".join(str(v).split()) for v in flat.tolist()]


def _nest(texts: list, dims: tuple) -> str:
    """Row-major element texts as nested braces: `{{1, 2}, {3, 4}}`; a scalar bare."""
    if not dims:
        return texts[0]

    def level(offset: int, axis: int) -> str:
        n = dims[axis]
        if axis == len(dims) - 1:
            return "{" + ", ".join(texts[offset:offset + n]) + "}"
        step = math.prod(dims[axis + 1:])
        return "{" + ", ".join(level(offset + k * step, axis + 1) for k in range(n)) + "}"

    return level(0, 0)


def constant_text(value, print_large_constants: bool = False) -> str:
    """The literal inside `constant(...)`; `{...}` for an elided large array."""
    if value is None:
        return "?"
    arr = np.asarray(value)
    if arr.ndim > 0 and arr.size > LARGE_CONSTANT and not print_large_constants:
        return "{...}"
    return _nest(element_texts(arr), arr.shape)


# --- instructions and computations ------------------------------------------------------------

def _operand_text(op) -> str:
    return op.name if isinstance(op, ir.Instruction) else f"<not an instruction: {op!r:.40}>"


def _shape_text(shape) -> str:
    # A malformed type still has to print, inside the verifier's message about it.
    if isinstance(shape, tuple):
        return "(" + ", ".join(_shape_text(s) for s in shape) + ")"
    if isinstance(shape, ir.Shape):
        name = dtypes.IR_NAME.get(shape.dtype) or str(shape.dtype)
        return f"{name}[{','.join(map(str, shape.dims))}]"
    try:
        text = repr(shape)
    except Exception:
        text = type(shape).__name__
    return f"<bad shape {text:.40}>"


def instruction_to_text(instr: ir.Instruction, print_large_constants: bool = False) -> str:
    """One instruction without the ROOT marker: `%3 = f32[4] add(%1, %2), k=v  # f.py:3`."""
    attrs = dict(instr.attrs)
    if instr.opcode == ir.PARAMETER:
        index = attrs.pop("index", None)
        args = "?" if index is None else attr_value_text(index)
    elif instr.opcode == ir.CONSTANT:
        args = constant_text(attrs.pop("value", None), print_large_constants)
    else:
        args = ", ".join(_operand_text(op) for op in instr.operands)
    parts = [f"{k}={attr_value_text(v)}" for k, v in attrs.items()]
    if instr.called:
        names = ",".join("%" + name_text(getattr(c, "name", c)) for c in instr.called)
        parts.append("calls={" + names + "}")
    text = f"%{instr.id} = {_shape_text(instr.shape)} {instr.opcode}({args})"
    text += "".join(", " + p for p in parts)
    if instr.location:
        text += "  # " + str(instr.location)
    return text


def computation_to_text(comp: ir.Computation, print_large_constants: bool = False,
                        is_entry: bool = False) -> str:
    """A computation block: header with parameter and result types, then its instructions."""
    params = ", ".join(f"p{k}: {_shape_text(p.shape)}" for k, p in enumerate(comp.parameters))
    result = "?" if comp.root is None else _shape_text(comp.root.shape)
    lines = [f"{'ENTRY ' if is_entry else ''}%{name_text(comp.name)} ({params}) -> {result} {{"]
    for instr in comp.instructions:
        root = "ROOT " if instr is comp.root else ""
        lines.append("  " + root + instruction_to_text(instr, print_large_constants))
    lines.append("}")
    return "\n".join(lines)


def computation_order(module: ir.Module) -> list:
    """The computations in printing order: callees before callers, the entry last.

    Module order when it already has that property; otherwise the least reordering of it
    (a depth-first post-order), so a pass that registers a fusion after the entry still prints
    (and parses back) with the fusion first.
    """
    order, seen = [], set()

    def visit(comp):
        if id(comp) in seen or not isinstance(comp, ir.Computation):
            return
        seen.add(id(comp))
        for instr in comp.instructions:
            for sub in instr.called:
                visit(sub)
        order.append(comp)

    for comp in module.computations.values():
        if comp is not module.entry:
            visit(comp)
    if module.entry is not None:
        visit(module.entry)
    return order


def module_to_text(module: ir.Module, print_large_constants: bool = False) -> str:
    """The whole module: `HloModule name`, then each computation, callees first, ENTRY last."""
    blocks = [f"HloModule {name_text(module.name)}"]
    for comp in computation_order(module):
        blocks.append(computation_to_text(comp, print_large_constants,
                                          is_entry=comp is module.entry))
    return "\n\n".join(blocks) + "\n"
