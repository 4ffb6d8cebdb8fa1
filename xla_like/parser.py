"""Read the text that `printer.module_to_text` writes back into a Module.

The result is structurally identical to the printed module: same ids, opcodes, operand links,
shapes, attributes (with their Python types), constants (NumPy arrays of the instruction's dtype
and shape), locations, called computations, roots, entry and computation order.

The parser checks syntax, not meaning: an operand may name an instruction defined later or in
another computation, and shapes are not checked against shape rules, so a broken module that was
printed for debugging reads back as the same broken module, and `verifier.verify_module` says
what is wrong with it. Refused here is only what leaves the text ambiguous or incomplete (an id
or computation name defined twice, an undefined name, a missing ROOT, an elided constant) and a
computation header that contradicts its body.
"""
from __future__ import annotations

import json
import re

import numpy as np

from ops import dtypes
from ops.errors import IRParseError

from . import ir

_WORD = re.compile(r"[A-Za-z0-9_.+\-]+")
_BARE_NAME = re.compile(r"[A-Za-z0-9_.\-<>]+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_INT = re.compile(r"[-+]?\d+\Z")
# What the printer writes for floats (Python's repr, NumPy's unique formatting, inf, nan); stricter
# than float(), which would also take `1_0` or `infinity`.
_FLOAT = re.compile(r"[-+]?((\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?|inf|nan)\Z")
_NUM = r"[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|inf|nan)"
# A complex element: `re+imj`, each part as floats print (`1.5-2j`, `nan+infj`).
_COMPLEX = re.compile(f"({_NUM})({_NUM})j\\Z")
_LITERAL_TOKEN = re.compile(r"\s*([{},]|[^\s{},)]+)")
# The common forms, read in one step (anything else takes the general path, which also
# explains errors): an array type `f64[3,4]`, and an instruction's `ROOT %12 = `.
_ARRAY_TYPE = re.compile(r"\s*([a-z]+[0-9]*)\[([0-9]+(?:,[0-9]+)*)?\]")
_INSTRUCTION_HEAD = re.compile(r"\s*(ROOT\s+)?%([0-9]+)\s*=")
_OPCODE_AND_OPERANDS = re.compile(r"\s*([A-Za-z0-9_.+\-]+)\(((?:%[0-9]+)(?:, %[0-9]+)*)?\)")


class _Ref:
    """`%name` inside an attribute value: only `calls={...}` may hold these."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _Line:
    """A cursor over one line of text, raising errors that name the line."""

    def __init__(self, lineno: int, text: str):
        self.lineno = lineno
        self.text = text
        self.i = 0

    def error(self, message: str) -> IRParseError:
        return IRParseError(f"line {self.lineno}: {message}\n  {self.text.strip()}")

    def peek(self) -> str:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1
        return self.text[self.i] if self.i < len(self.text) else ""

    def accept(self, token: str) -> bool:
        self.peek()
        if self.text.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def expect(self, token: str, what: str = ""):
        if not self.accept(token):
            found = self.text[self.i:self.i + 12] or "end of line"
            raise self.error(f"expected {token!r}{' ' + what if what else ''} at column "
                             f"{self.i + 1}, found {found!r}")

    def match(self, pattern: re.Pattern, what: str) -> str:
        self.peek()
        m = pattern.match(self.text, self.i)
        if not m:
            found = self.text[self.i:self.i + 12] or "end of line"
            raise self.error(f"expected {what} at column {self.i + 1}, found {found!r}")
        self.i = m.end()
        return m.group(0)

    def word(self, what: str = "a word") -> str:
        return self.match(_WORD, what)

    def integer(self, what: str) -> int:
        w = self.word(what)
        if not _INT.match(w):
            raise self.error(f"expected {what}, found {w!r}")
        return int(w)

    def string(self) -> str:
        # Strings are printed as JSON string literals (json.dumps), so JSON reads them back.
        text = self.match(_STRING, "a quoted string")
        try:
            return json.loads(text)
        except ValueError as e:
            raise self.error(f"bad string literal {text}: {e}") from None

    def name(self) -> str:
        """A module or computation name: bare or quoted."""
        if self.peek() == '"':
            return self.string()
        return self.match(_BARE_NAME, "a name")

    def rest(self) -> str:
        """The trailing comment (a location on instruction lines), or '' at end of line."""
        c = self.peek()
        if c == "":
            return ""
        if c != "#":
            raise self.error(f"unexpected text at column {self.i + 1}: {self.text[self.i:]!r}")
        return self.text[self.i + 1:].strip()

    # -- types and values --------------------------------------------------------------------

    def shape(self):
        m = _ARRAY_TYPE.match(self.text, self.i)
        if m is not None and m.group(1) in dtypes.FROM_IR_NAME:
            self.i = m.end()
            dims = m.group(2)
            return ir.Shape(dtypes.FROM_IR_NAME[m.group(1)],
                            [int(d) for d in dims.split(",")] if dims else [])
        if self.accept("("):
            if self.accept(")"):
                return ()
            parts = [self.shape()]
            while self.accept(","):
                parts.append(self.shape())
            self.expect(")", "closing the tuple type")
            return tuple(parts)
        name = self.word("a type such as f32[3]")
        dtype = dtypes.FROM_IR_NAME.get(name)
        if dtype is None:
            raise self.error(f"unknown element type {name!r} (known: "
                             + " ".join(dtypes.FROM_IR_NAME) + ")")
        self.expect("[", "after the element type")
        dims = []
        if not self.accept("]"):
            dims.append(self.integer("a dimension"))
            while self.accept(","):
                dims.append(self.integer("a dimension"))
            self.expect("]", "closing the dimensions")
        return ir.Shape(dtype, dims)

    def value(self):
        """One attribute value, with its Python type."""
        c = self.peek()
        if c == "{":
            self.i += 1
            items = []
            if not self.accept("}"):
                items.append(self.value())
                while self.accept(","):
                    items.append(self.value())
                self.expect("}", "closing the tuple")
            return tuple(items)
        if c == '"':
            return self.string()
        if c == "%":
            self.i += 1
            return _Ref(self.name())
        if c == "<":
            raise self.error("an attribute value the printer could not write as IR text "
                             f"({self.text[self.i:].split('>')[0]}>); only ints, floats, bools, "
                             "none, dtypes, strings and tuples of them can be read back")
        w = self.word("an attribute value")
        if w in ("true", "false"):
            return w == "true"
        if w == "none":
            return None
        if w in dtypes.FROM_IR_NAME:
            return dtypes.FROM_IR_NAME[w]
        if _INT.match(w):
            return int(w)
        if _FLOAT.match(w):
            return float(w)
        raise self.error(f"unknown attribute value {w!r}")

    def literal(self, shape: ir.Shape) -> np.ndarray:
        """The array inside `constant(...)`, of `shape`'s dtype and dimensions."""
        if self.peek() == "{" and re.match(r"\{\s*\.\.\.\s*\}", self.text[self.i:]):
            raise self.error("elided constant; print with print_large_constants=True")
        # Literal elements never contain parentheses, so the literal runs to the next ')'.
        end = self.text.find(")", self.i)
        if end < 0:
            raise self.error("constant literal without a closing ')'")
        tokens = _LITERAL_TOKEN.findall(self.text, self.i, end)
        self.i = end
        if not tokens:
            raise self.error("empty constant literal")
        words = []
        pos = self._literal_level(tokens, 0, shape.dims, words)
        if pos != len(tokens):
            raise self.error(f"unexpected {tokens[pos]!r} after the constant literal")
        return self._elements(words, shape)

    def _literal_level(self, tokens, pos, dims, out) -> int:
        """Check one nesting level against `dims`, append its words to `out`; return next pos."""
        if not dims:
            tok = tokens[pos] if pos < len(tokens) else "end of literal"
            if tok in ("{", "}", ","):
                raise self.error(f"expected a constant element, found {tok!r}")
            out.append(tok)
            return pos + 1
        if pos >= len(tokens) or tokens[pos] != "{":
            raise self.error(f"expected '{{' opening a constant dimension of size {dims[0]}")
        pos += 1
        for k in range(dims[0]):
            if k:
                if pos >= len(tokens) or tokens[pos] != ",":
                    raise self.error(f"constant literal has {k} entries where its type "
                                     f"needs {dims[0]}")
                pos += 1
            pos = self._literal_level(tokens, pos, dims[1:], out)
        if pos >= len(tokens) or tokens[pos] != "}":
            raise self.error(f"constant literal has more than {dims[0]} entries at a level "
                             f"where its type needs {dims[0]}")
        return pos + 1

    def _elements(self, words, shape: ir.Shape) -> np.ndarray:
        dt = shape.dtype
        kind = dt.kind
        name = dtypes.IR_NAME[dt]
        if kind == "b":
            bad = next((w for w in words if w not in ("true", "false")), None)
            if bad is not None:
                raise self.error(f"{name} constant element {bad!r} is not true or false")
            flat = np.array([w == "true" for w in words], dtype=dt)
        elif kind in "iu":
            bad = next((w for w in words if not _INT.match(w)), None)
            if bad is not None:
                raise self.error(f"{name} constant element {bad!r} is not an integer")
            try:
                flat = np.array([int(w) for w in words], dtype=dt)
            except OverflowError:
                raise self.error(f"a constant element is out of range for {name}") from None
        elif kind == "c":
            bad = next((w for w in words if not _COMPLEX.match(w)), None)
            if bad is not None:
                raise self.error(f"{name} constant element {bad!r} is not a complex number")
            part = dtypes.real_dtype(dt)
            m = [_COMPLEX.match(w) for w in words]
            wide = np.array([[float(x.group(1)), float(x.group(2))] for x in m], np.float64)
            wide = wide.reshape(len(words), 2)
            with np.errstate(all="ignore"):
                parts = wide.astype(part)
            if np.any(np.isinf(parts) & ~np.isinf(wide)):
                raise self.error(f"a constant element is out of range for {name}")
            flat = np.empty(len(words), dt)
            flat.real, flat.imag = parts[:, 0], parts[:, 1]
        else:
            bad = next((w for w in words if not _FLOAT.match(w)), None)
            if bad is not None:
                raise self.error(f"{name} constant element {bad!r} is not a number")
            wide = np.array([float(w) for w in words], dtype=np.float64)
            with np.errstate(all="ignore"):
                flat = wide.astype(dt)
            if np.any(np.isinf(flat) & ~np.isinf(wide)):
                raise self.error(f"a constant element is out of range for {name}")
        return flat.reshape(shape.dims)


class _Block:
    """A computation being read: its header's claims are checked against its body at the end."""

    __slots__ = ("comp", "is_entry", "header", "param_shapes", "result", "root_line")

    def __init__(self, comp, is_entry, header, param_shapes, result):
        self.comp = comp
        self.is_entry = is_entry
        self.header = header
        self.param_shapes = param_shapes
        self.result = result
        self.root_line = None


class _PendingInstr:
    """An instruction whose operand and callee names are resolved once every line is read."""

    __slots__ = ("instr", "operand_ids", "callee_names", "line")

    def __init__(self, instr, operand_ids, callee_names, line):
        self.instr = instr
        self.operand_ids = operand_ids
        self.callee_names = callee_names
        self.line = line


def _parse_header(line: _Line):
    is_entry = line.accept("ENTRY")
    line.expect("%", "before the computation name")
    name = line.name()
    line.expect("(", "opening the parameter list")
    param_shapes = []
    if not line.accept(")"):
        while True:
            line.word("a parameter name")
            line.expect(":")
            param_shapes.append(line.shape())
            if line.accept(")"):
                break
            line.expect(",", "between parameters")
    line.expect("->", "before the result type")
    result = None if line.accept("?") else line.shape()
    line.expect("{", "opening the computation body")
    line.rest()
    return is_entry, name, param_shapes, result


def _parse_instruction(line: _Line):
    """One instruction line -> (_PendingInstr, is_root)."""
    head = _INSTRUCTION_HEAD.match(line.text, line.i)
    if head is not None:
        is_root, iid = head.group(1) is not None, int(head.group(2))
        line.i = head.end()
    else:
        is_root = line.accept("ROOT")
        line.expect("%", "before the instruction id")
        iid = line.integer("an instruction id")
        line.expect("=")
    shape = line.shape()
    attrs, operand_ids = {}, []
    fast = _OPCODE_AND_OPERANDS.match(line.text, line.i)
    if fast is not None and fast.group(1) not in (ir.PARAMETER, ir.CONSTANT):
        opcode, operands = fast.group(1), fast.group(2)
        operand_ids = [int(o[1:]) for o in operands.split(", ")] if operands else []
        line.i = fast.end()
    else:
        opcode = line.word("an opcode")
        line.expect("(", f"after {opcode}")
        if opcode == ir.PARAMETER:
            attrs["index"] = line.integer("a parameter index")
            line.expect(")")
        elif opcode == ir.CONSTANT:
            if not isinstance(shape, ir.Shape):
                raise line.error("a constant must have an array type, not a tuple type")
            attrs["value"] = line.literal(shape)
            line.expect(")")
        elif not line.accept(")"):
            while True:
                line.expect("%", "before an operand id")
                operand_ids.append(line.integer("an operand id"))
                if line.accept(")"):
                    break
                line.expect(",", "between operands")
    callee_names = []
    while line.accept(","):
        key = line.word("an attribute name")
        line.expect("=", f"after attribute {key}")
        value = line.value()
        if key in attrs or (key == "calls" and callee_names):
            raise line.error(f"attribute {key!r} given twice")
        refs = _refs_in(value)
        if key == "calls" and isinstance(value, tuple) and value and len(refs) == len(value):
            callee_names = [r.name for r in value]
        elif refs:
            raise line.error(f"attribute {key!r} names a computation (%{refs[0].name}); only "
                             "calls={...} may")
        else:
            attrs[key] = value
    location = line.rest()
    instr = ir.Instruction(iid, opcode, [], shape, attrs, (), location)
    return _PendingInstr(instr, operand_ids, callee_names, line), is_root


def _refs_in(value) -> list:
    if isinstance(value, _Ref):
        return [value]
    if isinstance(value, tuple):
        return [r for v in value for r in _refs_in(v)]
    return []


def parse_module(text: str) -> ir.Module:
    """Parse HLO-like text (as `module_to_text` prints it) into a Module.

    Blank lines and lines starting with `#` are skipped; a `#` comment after an instruction is
    its location. Raises `IRParseError` naming the line number and its text.
    """
    module = None
    blocks = []       # _Block per computation, in text order
    pending = []      # _PendingInstr, in text order
    by_id = {}        # instruction id -> (Computation, Instruction)
    defined = set()   # computation names
    current = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        line = _Line(lineno, raw)
        if module is None:
            line.expect("HloModule", "(a module starts with `HloModule name`)")
            if line.peek() == "":
                raise line.error("expected a module name after HloModule")
            module = ir.Module(line.name())
            line.rest()
            continue
        if current is None:
            is_entry, name, params, result = _parse_header(line)
            comp = ir.Computation(name)
            if name in defined:
                raise line.error(f"computation %{name} is defined twice")
            defined.add(name)
            current = _Block(comp, is_entry, line, params, result)
            blocks.append(current)
            continue
        if line.accept("}"):
            line.rest()
            current = None
            continue
        p, is_root = _parse_instruction(line)
        comp = current.comp
        if p.instr.id in by_id:
            other = by_id[p.instr.id][0]
            raise line.error(f"instruction %{p.instr.id} is defined twice (first in "
                             f"computation %{other.name})")
        by_id[p.instr.id] = (comp, p.instr)
        if is_root:
            if current.root_line is not None:
                raise line.error(f"computation %{comp.name} has a second ROOT (the first is "
                                 f"on line {current.root_line.lineno})")
            comp.root, current.root_line = p.instr, line
        comp.add(p.instr)
        pending.append((comp, p))
    if module is None:
        raise IRParseError("line 1: expected `HloModule name`, found no text")
    if current is not None:
        raise current.header.error(f"computation %{current.comp.name} is not closed with '}}'")

    comp_by_name = {b.comp.name: b.comp for b in blocks}
    local_by_comp = {id(b.comp): {i.id: i for i in b.comp.instructions} for b in blocks}
    for comp, p in pending:
        local = local_by_comp[id(comp)]
        for oid in p.operand_ids:
            # Operands normally live in the same computation; a reference elsewhere is kept so
            # the verifier can report it instead of the parser hiding it.
            op = local.get(oid) or (by_id[oid][1] if oid in by_id else None)
            if op is None:
                raise p.line.error(f"operand %{oid} is not defined anywhere in the module")
            p.instr.operands.append(op)
        called = []
        for cname in p.callee_names:
            if cname not in comp_by_name:
                raise p.line.error(f"calls unknown computation %{cname}")
            called.append(comp_by_name[cname])
        p.instr.called = tuple(called)

    entry = None
    for block in blocks:
        _finish_computation(block)
        if block.is_entry:
            if entry is not None:
                raise block.header.error(f"a second ENTRY computation (the first is "
                                         f"%{entry.name})")
            entry = block.comp
        module.add_computation(block.comp)
    if entry is not None:
        module.set_entry(entry)
    module._next_id = max(by_id, default=-1) + 1
    return module


def _finish_computation(block: _Block):
    comp, header, params, result = block.comp, block.header, block.param_shapes, block.result
    if block.root_line is None:
        raise header.error(f"computation %{comp.name} has no ROOT instruction")
    # Parameters are listed by their index (the calling convention), not by where they appear.
    comp.parameters.sort(key=lambda p: p.attrs["index"])
    got = [p.shape for p in comp.parameters]
    if got != list(params):
        raise header.error(f"the header's parameter types ({', '.join(map(ir.shape_str, params))})"
                           f" differ from the parameter instructions' "
                           f"({', '.join(map(ir.shape_str, got))})")
    if result is not None and result != comp.root.shape:
        raise header.error(f"the header's result type {ir.shape_str(result)} differs from the "
                           f"ROOT's {ir.shape_str(comp.root.shape)} "
                           f"(line {block.root_line.lineno})")
