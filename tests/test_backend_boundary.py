"""jitcore/ talks to the backends through `xla_like.backends` and its runtime interface only:
no import of a backend's own module, no private attribute read through the interface."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "xla_like.backends"
ALLOWED = {PACKAGE, f"{PACKAGE}.runtime"}


def boundary_violations(source: str) -> list[str]:
    """What in `source` (a jitcore module) reaches past the interface."""
    tree = ast.parse(source)
    found = []
    aliases = set()      # local names bound to an allowed module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE) and a.name not in ALLOWED:
                    found.append(f"line {node.lineno}: import {a.name}")
                elif a.name in ALLOWED:
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if node.module == PACKAGE and full not in ALLOWED and a.name != "get_backend":
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                elif node.module.startswith(PACKAGE) and node.module not in ALLOWED:
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                elif full in ALLOWED:
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                node.value.startswith(PACKAGE + ".") and node.value not in ALLOWED:
            found.append(f"line {node.lineno}: names module {node.value!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                ast.unparse(node.value).split(".")[0] in aliases:
            found.append(f"line {node.lineno}: reads {ast.unparse(node)}")
    return found


def test_the_scan_finds_each_way_past_the_interface():
    source = ("from xla_like.backends import memory\n"
              "import xla_like.backends.cuda.runtime\n"
              "from xla_like.backends.cpu import compile\n"
              "from xla_like.backends import runtime as rt\n"
              "rt._private\n"
              "importlib.import_module('xla_like.backends.disk_cache')\n"
              "from xla_like import backends\n"
              "backends.get_backend('cpu')\n")
    assert len(boundary_violations(source)) == 5


def test_jitcore_uses_only_the_runtime_interface():
    found = {}
    for path in sorted((ROOT / "jitcore").rglob("*.py")):
        bad = boundary_violations(path.read_text())
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    assert not found, f"go through xla_like.backends.runtime instead: {found}"

