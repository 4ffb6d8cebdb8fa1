"""The IR: Module -> Computation -> Instruction, typed by Shape.

One instruction is one SSA value (`%3 = f32[64,128] add(%1, %2)`). Its `opcode` is a primitive
name from `ops.PRIMITIVES` or one of the structural opcodes below. Operands are Instruction
objects (a graph, convenient for passes); ids are unique within a Module and only matter for
printing. A computation may call sub-computations (fusions, loop bodies, branches) through
`Instruction.called`; the Module owns every computation, entry last.
"""
from __future__ import annotations

import numpy as np

from ops import dtypes
from ops.dims import Dim

# Opcodes that are not primitives: they shape the graph rather than compute.
PARAMETER = "parameter"
CONSTANT = "constant"
TUPLE = "tuple"
GET_TUPLE_ELEMENT = "get_tuple_element"
STRUCTURAL = (PARAMETER, CONSTANT, TUPLE, GET_TUPLE_ELEMENT)


class Shape:
    """An array type: a dtype and static dimensions. Printed `f32[64,128]`.

    `valid_rows`, set by bucketing (passes/masking.py) on values whose leading axis holds a
    true size below its capacity: (entry parameter index, coefficient, constant), the valid
    rows being coefficient * that parameter's value + constant. Rows past it are padding no
    valid result reads, so a backend may skip computing them. Not part of the type: equality,
    hashing and the text ignore it. `valid_dims`, the same for every axis (None or a tuple
    with None or (index, coefficient, constant, read by a dot) per axis, see
    passes/masking.py): a backend may stop each at its true size."""

    __slots__ = ("dtype", "dims", "valid_rows", "valid_dims")

    def __init__(self, dtype, dims, valid_rows=None):
        self.dtype = np.dtype(dtype)
        self.dims = tuple(d if type(d) is Dim else int(d) for d in dims)  # see ops.dims
        self.valid_rows = valid_rows
        self.valid_dims = None

    @property
    def rank(self):
        return len(self.dims)

    @property
    def size(self):
        return int(np.prod(self.dims, dtype=np.int64))

    def __eq__(self, other):
        return isinstance(other, Shape) and self.dtype == other.dtype and self.dims == other.dims

    def __hash__(self):
        return hash((self.dtype, self.dims))

    def __str__(self):
        return f"{dtypes.IR_NAME[self.dtype]}[{','.join(map(str, self.dims))}]"

    __repr__ = __str__


def shape_str(shape) -> str:
    """Text of an instruction's type: a Shape, or a tuple of Shapes `(f32[3], s64[3])`."""
    if isinstance(shape, tuple):
        return "(" + ", ".join(shape_str(s) for s in shape) + ")"
    return str(shape)


class Instruction:
    """One SSA value.

    - `opcode`: primitive name or structural opcode.
    - `operands`: the Instructions it reads.
    - `shape`: a Shape, or a tuple of Shapes for multi-result ops (read with get_tuple_element).
    - `attrs`: the primitive's static parameters (ints, floats, bools, strings, dtypes, None and
      tuples of them), plus `index` for parameters and get_tuple_element, `value` for constants.
    - `called`: sub-computations this instruction runs (empty for plain ops).
    - `location`: the user's `file.py:line`, printed as a trailing comment.
    """

    __slots__ = ("id", "opcode", "operands", "shape", "attrs", "called", "location")

    def __init__(self, id, opcode, operands, shape, attrs=None, called=(), location=""):
        self.id = id
        self.opcode = opcode
        self.operands = list(operands)
        self.shape = shape
        self.attrs = dict(attrs or {})
        self.called = tuple(called)
        self.location = location

    @property
    def name(self):
        return f"%{self.id}"

    def __repr__(self):
        return f"<{self.name} = {shape_str(self.shape)} {self.opcode}>"


class Computation:
    """A list of instructions in dependency order, with parameters and a root."""

    def __init__(self, name: str):
        self.name = name
        self.instructions: list[Instruction] = []
        self.parameters: list[Instruction] = []
        self.root: Instruction | None = None

    def add(self, instr: Instruction) -> Instruction:
        self.instructions.append(instr)
        if instr.opcode == PARAMETER:
            # `parameters` is listed by number even when a parameter comes before one of a lower
            # number (licm places the loop's new parameters first; rebuilding passes and the
            # parser add instructions in order). Appending is the common case.
            params, index = self.parameters, instr.attrs.get("index")
            k = len(params)
            while k and type(index) is int and type(params[k - 1].attrs.get("index")) is int \
                    and params[k - 1].attrs["index"] > index:
                k -= 1
            params.insert(k, instr)
        return instr

    def __repr__(self):
        return f"<Computation {self.name}: {len(self.instructions)} instructions>"


class Module:
    """A program: named computations, the entry one last (callees are printed before callers)."""

    def __init__(self, name: str, entry: Computation | None = None):
        self.name = name
        self.computations: dict[str, Computation] = {}
        self.entry: Computation | None = None
        if entry is not None:
            self.set_entry(entry)
        self._next_id = 0
        self._promised_names: set[str] = set()
        self._next_suffix: dict[str, int] = {}   # base name -> first suffix not yet tried
        # A bucketed trace's leading entry parameters hold this many true sizes (the masking
        # pass reads it); 0 for a program of exact shapes.
        self.num_sizes = 0

    def add_computation(self, comp: Computation) -> Computation:
        if comp.name in self.computations and self.computations[comp.name] is not comp:
            raise ValueError(f"a computation named {comp.name!r} is already in module {self.name}")
        self.computations[comp.name] = comp
        return comp

    def set_entry(self, comp: Computation):
        self.computations.pop(comp.name, None)
        self.computations[comp.name] = comp  # entry goes last
        self.entry = comp

    def call_counts(self) -> dict:
        """{computation name: how many instructions call it}: a pass may rewrite a loop body
        in place only when one instruction calls it."""
        uses: dict = {}
        for comp in self.computations.values():
            for instr in comp.instructions:
                for c in instr.called:
                    uses[c.name] = uses.get(c.name, 0) + 1
        return uses

    def fresh_id(self) -> int:
        i = self._next_id
        self._next_id += 1
        return i

    def fresh_computation_name(self, base: str) -> str:
        """A name no computation of this module has or has been promised (builders take their
        name before their computation is added)."""
        # Suffixes resume where the last name of this base stopped: a program of n kernels
        # names them in O(n), not O(n^2).
        k = self._next_suffix.get(base, 0)
        name = base if k == 0 else f"{base}.{k}"
        while name in self.computations or name in self._promised_names:
            k += 1
            name = f"{base}.{k}"
        self._next_suffix[base] = k + 1
        self._promised_names.add(name)
        return name

    def as_text(self, print_large_constants: bool = False) -> str:
        from .printer import module_to_text
        return module_to_text(self, print_large_constants=print_large_constants)

    def __str__(self):
        return self.as_text()

    def _repr_pretty_(self, p, cycle):  # IPython shows the text
        p.text(self.as_text())

    def __repr__(self):
        return f"<Module {self.name}: {len(self.computations)} computation(s)>"


def to_shape(aval) -> Shape:
    """The IR Shape of an abstract value (the weak-type flag is a tracing notion, not an IR one)."""
    return Shape(aval.dtype, aval.shape)


def clone_module(module: Module) -> Module:
    """A deep copy (same ids and names) that passes may rewrite without touching `module`."""
    new = Module(module.name)
    new._next_id = module._next_id
    new._promised_names = set(module._promised_names)
    new._next_suffix = dict(module._next_suffix)
    new.num_sizes = module.num_sizes
    comps = {}
    for name, comp in module.computations.items():
        comps[name] = Computation(comp.name)
    for name, comp in module.computations.items():
        c = comps[name]
        mapping = {}
        for instr in comp.instructions:
            copy = Instruction(instr.id, instr.opcode, [mapping[o.id] for o in instr.operands],
                               instr.shape, dict(instr.attrs),
                               tuple(comps[sub.name] for sub in instr.called), instr.location)
            mapping[instr.id] = copy
            c.add(copy)
        c.root = mapping[comp.root.id]
        new.computations[name] = c
    new.entry = comps[module.entry.name]
    return new
