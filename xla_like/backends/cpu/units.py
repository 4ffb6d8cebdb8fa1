"""A rendered program cut into compile units: one per kernel call, and one driver.

LLVM's optimization and code generation grow faster than linearly with a module's size, and a
module is compiled whole even when most of its kernels were compiled before (by this program
or by another). So the module `render` builds is cut, on its text, into:

- a *kernel unit* per call of a kernel from a segment: the kernel (internal, inlinable), the
  helpers it calls (copied), and an external entry `jk_<hash>` taking the call's non-constant
  arguments, its constant ones (the bounds of small segments) written into the call so that
  LLVM still sees every trip count, as it did with the whole module;
- a *part unit* per part of a long segment (`render.PART_STEPS`: a segment of many steps
  calls one function per run of them): the part, its kernel calls calling those entries, as
  an external entry `jd_<hash>` (LLVM's time on a function grows faster than its length, and
  parts compile in parallel);
- the *driver*: the segment functions, whose kernel and part calls now call those entries.

A unit's entry is named by a hash of its text, so two identical kernels (in one program, or in
two) are one unit: compiled once, cached by that name in memory and on disk, and linked into
each program that calls it. Units share nothing but those names, so they compile independently
(in parallel: `cpu.compile_units`).
"""
from __future__ import annotations

import hashlib
import re

_DEFINE = re.compile(r'define (?:(internal|private) )?(.*?)@("[^"]+"|[\w.$-]+)\((.*)\)(.*)$')
_DECLARE = re.compile(r'declare .*?@("[^"]+"|[\w.$-]+)\(')
_REF = re.compile(r'@("[^"]+"|[\w.$-]+)')
_CALL = re.compile(r'^(\s*)call void @("[^"]+"|[\w.$-]+)\((.*)\)\s*$')
_SEGMENT = re.compile(r'seg\d+(?:\.p\d+)?$')    # segments and their parts
_PART = re.compile(r'seg\d+\.p\d+$')
_METADATA = re.compile(r'!(\d+)\b')    # a numbered metadata node (loop hints, `cpu.schedule`)
PLACEHOLDER = "jk_UNIT"


class Unit:
    """`text`: LLVM assembly; `name`: its entry (`None` for the driver, whose entries are the
    segments); `key`: the hash naming it."""

    def __init__(self, text, name, key):
        self.text, self.name, self.key = text, name, key


def _bare(name):
    return name[1:-1] if name.startswith('"') else name


def _split(args: str) -> list:
    """Top-level comma-separated items of an argument or parameter list."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(args):
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    if args[start:].strip():
        out.append(args[start:].strip())
    return out


def _parse(text):
    """(header lines, {name: define lines}, {name: declare line}) of llvmlite's module text."""
    header, defines, declares = [], {}, {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _DEFINE.match(line)
        if m:
            j = lines.index("}", i)
            defines[_bare(m.group(3))] = lines[i:j + 1]
            i = j + 1
            continue
        m = _DECLARE.match(line)
        if m:
            declares[_bare(m.group(1))] = line
        elif line.startswith(("target ", "source_filename")):
            header.append(line)
        elif line.startswith("!") and " = " in line:    # kept with the declarations as "!N"
            declares[line.split(" = ", 1)[0]] = line
        elif line.strip() and not line.startswith(";"):
            raise ValueError(f"cpu backend: cannot cut the module at {line[:80]!r}")
        i += 1
    return header, defines, declares


def _refs(lines):
    return {_bare(r) for line in lines for r in _REF.findall(line)}


def _closure(names, defines):
    """`names` and the defined functions they call, transitively."""
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in seen or n not in defines:
            continue
        seen.add(n)
        todo.extend(_refs(defines[n][1:]))
    return seen


def _module(header, body_defs, defines, declares, mark):
    """Module text: `header`, then the defines `body_defs` (already rewritten lines) and the
    declarations of what they call."""
    out = list(header) + [mark]
    for lines in body_defs:
        out.extend(lines)
        out.append("")
    for n in sorted(_refs(line for lines in body_defs for line in lines)):
        if n in declares:
            out.append(declares[n])
    # Metadata nodes the functions name, and those they name, transitively.
    todo = [m for lines in body_defs for line in lines for m in _METADATA.findall(line)]
    seen = set()
    while todo:
        k = todo.pop()
        if k not in seen and f"!{k}" in declares:
            seen.add(k)
            todo.extend(_METADATA.findall(declares[f"!{k}"].split(" = ", 1)[1]))
    out.extend(declares[f"!{k}"] for k in sorted(seen, key=int))
    return "\n".join(out) + "\n"


def cut(text: str, mark: str, driver_mark=None):
    """(driver Unit, [kernel and part Units]) of the module `text` llvmlite rendered; `mark`
    is a comment line recording how the units are compiled (it enters their keys),
    `driver_mark` that of the driver and the parts (default `mark`). Part units have
    `part = True`."""
    header, defines, declares = _parse(text)
    segments = {n for n in defines if _SEGMENT.match(n)}
    driver_mark = mark if driver_mark is None else driver_mark
    params = {n: _split(_DEFINE.match(lines[0]).group(4)) for n, lines in defines.items()}
    kernels = {}
    for n, lines in defines.items():   # kernels: noinline functions only segments call
        m = _DEFINE.match(lines[0])
        if n in segments or "noinline" not in m.group(5) or m.group(2).strip() != "void":
            continue
        kernels[n] = lines
    for lines in (defines[s] for s in segments):
        for line in lines[1:]:
            for r in _REF.findall(line):   # referenced other than by a plain call: kept
                if _bare(r) in kernels and not (_CALL.match(line) and
                                                _bare(_CALL.match(line).group(2)) == _bare(r)):
                    kernels.pop(_bare(r))
    for n, lines in defines.items():
        if n not in segments:
            for r in _refs(lines[1:]):
                kernels.pop(r, None)
    units, seen = [], {}
    driver_defs, parts = [], {}
    for s in (n for n in defines if n in segments):
        new_lines = [defines[s][0]]
        for line in defines[s][1:]:
            m = _CALL.match(line)
            if m is None or _bare(m.group(2)) not in kernels:
                new_lines.append(line)
                continue
            k = _bare(m.group(2))
            unit, entry_args = _kernel_unit(header, k, kernels[k], params[k], _split(m.group(3)),
                                            defines, declares, mark)
            if unit.key not in seen:
                seen[unit.key] = unit
                units.append(unit)
            new_lines.append(f'{m.group(1)}call void @"{unit.name}"({", ".join(entry_args)})')
        if _PART.match(s):
            parts[s] = new_lines
        else:
            driver_defs.append(new_lines)
    entry_decls = dict(declares)
    for u in units:
        entry_decls[u.name] = u.declaration
    renamed = {}
    for s, lines in parts.items():
        unit = _part_unit(header, s, lines, params[s], defines, segments, entry_decls,
                          driver_mark)
        renamed[f'@"{s}"'] = f'@"{unit.name}"'
        entry_decls[unit.name] = unit.declaration
        if unit.key not in seen:
            seen[unit.key] = unit
            units.append(unit)
    if renamed:    # the segments call their parts' entries
        calls = re.compile("|".join(re.escape(r) for r in renamed))
        driver_defs = [[calls.sub(lambda m: renamed[m.group(0)], line) for line in lines]
                       for lines in driver_defs]
    helpers = _closure(_refs(line for lines in driver_defs for line in lines[1:]), defines) \
        - segments
    body = driver_defs + [defines[n] for n in sorted(helpers)]
    driver_text = _module(header, body, defines, entry_decls, driver_mark)
    driver = Unit(driver_text, None, digest(driver_text))
    return driver, units


def _part_unit(header, name, lines, params, defines, segments, declares, mark):
    """The Unit of part `name` of a long segment (`lines`: its definition, kernel calls
    already calling their units): an external entry named by the hash of its text."""
    m = _DEFINE.match(lines[0])
    attrs = m.group(5).replace("noinline", "").rstrip()
    entry = [f'define {m.group(2)}@"{PLACEHOLDER}"({m.group(4)}){attrs}'] + lines[1:]
    helpers = _closure(_refs(lines[1:]), defines) - segments
    text = _module(header, [entry] + [defines[h] for h in sorted(helpers)], defines,
                   declares, mark)
    key = digest(text)
    unit_name = "jd_" + key[:24]
    unit = Unit(text.replace(f'@"{PLACEHOLDER}"', f'@"{unit_name}"'), unit_name, key)
    unit.declaration = f'declare void @"{unit_name}"' \
        f'({", ".join(p.rpartition(" ")[0] for p in params)})'
    unit.part = True
    return unit


def _kernel_unit(header, name, lines, params, args, defines, declares, mark):
    """(Unit, the driver's arguments to its entry) for one call of kernel `name`."""
    if len(params) != len(args):
        raise ValueError(f"cpu backend: call of {name} with {len(args)} of {len(params)} "
                         "arguments")
    m = _DEFINE.match(lines[0])
    # The kernel itself: renamed (the unit's text must not depend on the program's numbering),
    # inlined into the entry, which LLVM then sees with the call's constants.
    attrs = m.group(5).replace("noinline", "").rstrip()
    head = f'define internal {m.group(2)}@"kernel"({m.group(4)}){attrs}'
    body = [head] + [line.replace(f'@"{name}"', '@"kernel"') for line in lines[1:]]
    entry_params, call_args, entry_args, kinds = [], [], [], []
    for j, (p, a) in enumerate(zip(params, args)):
        ty, _, value = a.rpartition(" ")
        if value.startswith("%"):
            ptext = p.rpartition(" ")[0]
            entry_params.append(f"{ptext} %a{j}")
            call_args.append(f"{ty} %a{j}")
            entry_args.append(a)
            kinds.append(ptext)
        else:
            call_args.append(a)
    entry = [f'define void @"{PLACEHOLDER}"({", ".join(entry_params)})', "{", "entry:",
             f'  call void @"kernel"({", ".join(call_args)})', "  ret void", "}"]
    helpers = _closure(_refs(lines[1:]), defines) - {name}
    text = _module(header, [entry, body] + [defines[h] for h in sorted(helpers)], defines,
                   declares, mark)
    key = digest(text)
    unit_name = "jk_" + key[:24]
    unit = Unit(text.replace(f'@"{PLACEHOLDER}"', f'@"{unit_name}"'), unit_name, key)
    unit.declaration = f'declare void @"{unit_name}"({", ".join(kinds)})'
    return unit, entry_args


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()
