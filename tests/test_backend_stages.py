"""The backends are split by stage, and imports point one way:

    plan/  (IR analysis: buffers, steps, kernel shapes; no LLVM)
    llvm/  (the LLVM emitter and math, shared by the CPU and CUDA code generators)
    cpu/, cuda/  (each device's render, compile, load and runtime)

`plan/` imports neither `llvm/` nor a device; `llvm/` imports no device; the devices do not
import each other; no backend module imports a private name (`_x`) of a module in another
stage or of a pass; only `plan/` imports from `xla_like/passes`; and module-level imports inside `xla_like/backends` form no cycle.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

BACKENDS = pathlib.Path(__file__).resolve().parent.parent / "xla_like" / "backends"
STAGES = ("plan", "llvm", "cpu", "cuda")
# stage -> the stages it must not import
FORBIDDEN = {"plan": {"llvm", "cpu", "cuda"}, "llvm": {"cpu", "cuda"}, "cpu": {"cuda"},
             "cuda": {"cpu"}}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(BACKENDS.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names."""
    if node.level == 0:
        return node.module
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: pathlib.Path, top_level_only: bool):
    """(line, imported module, imported name or None) for each import in `path`."""
    tree = ast.parse(path.read_text())
    me = module_name(path)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            mod = resolve(me, path.name == "__init__.py", node)
            for a in node.names:
                sub = f"{mod}.{a.name}"
                # `from . import x` names a module when x.py or x/ exists
                yield node.lineno, (sub if _is_module(sub) else mod), a.name
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, None


def _is_module(dotted: str) -> bool:
    p = BACKENDS.parent.parent.joinpath(*dotted.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def stage_of(module: str):
    parts = module.split(".")
    if parts[:2] != ["xla_like", "backends"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in STAGES else "shared"


FILES = sorted(BACKENDS.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BACKENDS)))
def test_imports_point_down_the_stages(path):
    me = stage_of(module_name(path))
    bad = [f"line {line}: {mod}" for line, mod, _ in imports_of(path, top_level_only=False)
           if stage_of(mod) in FORBIDDEN.get(me, ()) or
           (me == "plan" and mod.startswith("llvmlite"))]
    assert not bad, f"{path.name} ({me}) imports a later stage: {bad}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BACKENDS)))
def test_only_the_planner_reaches_into_passes(path):
    """Passes run through `xla_like.pipeline`; the plan may use buffer assignment, and code
    generators read what the plan and the IR say, not a pass's internals."""
    me = stage_of(module_name(path))
    bad = [f"line {line}: {mod}" for line, mod, _ in imports_of(path, top_level_only=False)
           if mod.startswith("xla_like.passes") and me != "plan"]
    assert not bad, f"{path.name} ({me}) imports a pass: {bad}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BACKENDS)))
def test_no_private_name_crosses_a_stage_or_comes_from_a_pass(path):
    me = stage_of(module_name(path))
    bad = []
    for line, mod, name in imports_of(path, top_level_only=False):
        if name is None or not name.startswith("_") or name == "__future__":
            continue
        if mod.startswith("xla_like.passes") or (stage_of(mod) is not None
                                                 and stage_of(mod) != me):
            bad.append(f"line {line}: {name} from {mod}")
    assert not bad, f"{path.name} imports private names: {bad}"


def test_module_level_imports_have_no_cycle():
    graph = {}
    for path in FILES:
        me = module_name(path)
        graph[me] = {mod for _, mod, _ in imports_of(path, top_level_only=True)
                     if mod.startswith("xla_like.backends") and mod != me}
    state = {}

    def visit(start):
        # iterative depth-first search: a cycle is an edge back to a module on the stack
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        state[start] = "open"
        path = [start]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
                path.append(nxt)
        return None

    for m in sorted(graph):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_see_what_they_look_for(tmp_path):
    """The scans above on made-up sources: a plan module importing llvm, a private import
    across stages, and the stage and module names they resolve."""
    assert stage_of("xla_like.backends.plan.planner") == "plan"
    assert stage_of("xla_like.backends.disk_cache") == "shared"
    assert stage_of("xla_like.passes.fusion") is None
    node = ast.parse("from ..llvm.kernels import _x").body[0]
    assert resolve("xla_like.backends.plan.planner", False, node) == \
        "xla_like.backends.llvm.kernels"
    node = ast.parse("from . import runtime").body[0]
    assert resolve("xla_like.backends.cpu", True, node) == "xla_like.backends.cpu"
    assert _is_module("xla_like.backends.cpu.runtime")


def test_every_folder_of_code_is_a_regular_package():
    """An installed wheel (setuptools `packages.find`) carries only folders with an
    `__init__.py`; one without works from a source checkout and vanishes when installed."""
    root = BACKENDS.parent.parent
    missing = sorted(str(d.relative_to(root)) for top in ("jitcore", "ops", "xla_like")
                     for d in [root / top, *(root / top).rglob("*")]
                     if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
                     and not (d / "__init__.py").exists())
    assert not missing, f"folders of code without __init__.py: {missing}"
