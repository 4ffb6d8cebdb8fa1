"""The graph model behind `jitcore.viz`: one graph per stage of compilation.

A stage's graph holds the entry computation of the module at that stage: a node per
instruction, an edge per operand read (`(source id, destination id, operand number)`; an
instruction reading one value twice has two edges). After fusion, a `fusion` instruction is
not a node: it is a box (`Fusion`) around the instructions of the computation it calls (its
parameters excepted), and its reads and uses are drawn to and from those members: an edge
reaching a member's parameter comes from the operand outside, and a use of the fusion's
result comes from the member that is its root. So every node is one instruction and every
edge one read of an array by an instruction, at every stage.

Sub-computations (loop bodies, branches) are not expanded in their caller's graph (the
caller is one node naming them); `bodies` draws each as a graph of its own.
"""
from __future__ import annotations

from ops.core import PRIMITIVES
from xla_like import ir
from xla_like.pipeline import run_pipeline
from xla_like.printer import instruction_to_text

# Why the fusion pass writes a value to memory (`fusion` instructions' `reason`), in words.
REASONS = {
    "output": "a program output",
    "shared": "read by several kernels, and too costly to recompute in each",
    "reduction result": "a reduction result read at other positions than its own row",
    "code size": "read at too many positions: recomputing it in place would copy its code "
                 "more than the fusion pass allows",
    "kernel size": "the kernel reading it would be too large: a long chain is cut into "
                   "several kernels",
}


def explain_reason(reason: str) -> str:
    """The fusion pass's reason for materializing a value, as a sentence."""
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith("operand of "):
        op = reason[len("operand of "):]
        if op == "dot_general":
            return "feeds a GEMM (dot_general reads it from memory)"
        return f"an operand of {op}, which runs as its own step and reads memory"
    return reason


class Node:
    __slots__ = ("id", "opcode", "shape", "text", "location", "fusion", "is_root")

    def __init__(self, instr, fusion=None, is_root=False):
        self.id = instr.id
        self.opcode = instr.opcode
        self.shape = ir.shape_str(instr.shape)
        self.text = instruction_to_text(instr)
        self.location = str(instr.location or "")
        self.fusion = fusion          # the id of the fusion instruction holding it, or None
        self.is_root = is_root        # the root of its fusion (or of the program)


class Fusion:
    """A kernel: the `fusion` instruction `id`, the instructions inside, and why its result
    is in memory."""
    __slots__ = ("id", "name", "kind", "reason", "members", "root", "shape", "location")

    def __init__(self, instr, members, root):
        self.id = instr.id
        self.name = instr.called[0].name
        self.kind = str(instr.attrs.get("kind", ""))
        self.reason = str(instr.attrs.get("reason", ""))
        self.members = members        # member node ids, in the computation's order
        self.root = root
        self.shape = ir.shape_str(instr.shape)
        self.location = str(instr.location or "")


class Graph:
    """`nodes` in a topological order, `edges` as (source, destination, operand number),
    `fusions` by the fusion instruction's id."""

    def __init__(self, name):
        self.name = name
        self.nodes: list[Node] = []
        self.edges: list[tuple] = []
        self.fusions: dict[int, Fusion] = {}

    def signature(self):
        """Equal for two stages that draw the same graph."""
        return (tuple(n.text for n in self.nodes), tuple(self.edges),
                tuple((f.id, tuple(f.members)) for f in self.fusions.values()))


def graph_of(comp: ir.Computation, name: str = "") -> Graph:
    """The graph of `comp` (see the module docstring). Linear in its size, no recursion."""
    g = Graph(name or comp.name)
    # The node that stands for an instruction's value when another instruction reads it:
    # itself, or for a fusion the root member.
    value_of = {}
    for instr in comp.instructions:
        if instr.opcode == "fusion" and instr.called:
            _add_fusion(g, instr, value_of)
            continue
        g.nodes.append(Node(instr, is_root=instr is comp.root))
        value_of[instr.id] = instr.id
        for k, o in enumerate(instr.operands):
            g.edges.append((value_of[o.id], instr.id, k))
    return g


def _add_fusion(g, instr, value_of):
    body = instr.called[0]
    outside = {}   # the body's parameter id -> the node of the operand it reads
    for p in body.parameters:
        index = p.attrs.get("index")
        if type(index) is int and index < len(instr.operands):
            outside[p.id] = value_of[instr.operands[index].id]
    members = []
    for m in body.instructions:
        if m.opcode == ir.PARAMETER:
            continue
        g.nodes.append(Node(m, fusion=instr.id, is_root=m is body.root))
        members.append(m.id)
        for k, o in enumerate(m.operands):
            g.edges.append((outside.get(o.id, o.id), m.id, k))
    g.fusions[instr.id] = Fusion(instr, members, body.root.id)
    value_of[instr.id] = value_of.get(body.root.id, body.root.id)


def stages(module: ir.Module) -> list[Graph]:
    """The graph of `module` as traced, then after each pass of the kernel pipeline (the one
    the CPU and CUDA backends run, on a copy), named "traced", "after <pass>"."""
    return stages_and_result(module)[0]


def stages_and_result(module: ir.Module):
    """(`stages(module)`, the module the kernel pipeline made)."""
    out = [graph_of(module.entry, "traced")]

    def after(name, m):
        # The next pass may rewrite this module in place: take the graph now.
        out.append(graph_of(m.entry, f"after {name}"))

    final, _ = run_pipeline(ir.clone_module(module), "kernel", after)
    return out, final


def bodies(module: ir.Module, stage: str) -> list[Graph]:
    """The graphs of the computations `module` runs inside control flow (loop bodies,
    branches), named "<stage>: <computation>", callers' order."""
    out, seen = [], set()
    for comp in module.computations.values():
        for instr in comp.instructions:
            prim = PRIMITIVES.get(instr.opcode)
            if prim is None or prim.lowering != "control":
                continue
            for c in instr.called:
                if c.name not in seen:
                    seen.add(c.name)
                    out.append(graph_of(c, f"{stage}: {c.name}"))
    return out


def source_lines(locations, files) -> dict:
    """{"file.py:12": the text of that line} for the locations found in `files` (full paths;
    a location names only the file's base name) or in the loaded modules' files."""
    import linecache
    import os
    import sys
    by_base = {}
    for f in list(files) + [getattr(m, "__file__", None) for m in list(sys.modules.values())]:
        if f and f not in ("<string>",):
            by_base.setdefault(os.path.basename(f), f)
    out = {}
    for loc in set(locations):
        base, _, line = loc.rpartition(":")
        path = by_base.get(base)
        if path and line.isdigit():
            text = linecache.getline(path, int(line)).rstrip()
            if text:
                out[loc] = text
    return out
