"""`jitcore.viz`: a program as one self-contained HTML page of graphs, one per compiler stage.

    page = jitcore.viz(f)(*args, path="f.html")          # or f.lower(*args).as_html()

The page shows the entry computation as traced and after each pass of the kernel pipeline:
instructions as boxes with their type, each read as an edge, and after fusion each kernel as a
box around its instructions, titled with the reason the fusion pass gave for writing its
result to memory. A click shows an instruction's text, its source line and, for a kernel, the
LLVM the CPU backend made of it; with a profile (`{kernel name: seconds}` or a trace file),
kernels and dots are shaded by time. `Lowered.as_text("dot")` gives the graph as Graphviz
text instead.

The model is `viz_graph`, the layout `viz_layout`, the SVG `viz_svg`, the page `viz_page`.
"""
from __future__ import annotations

import json
import os
import re

from . import viz_graph, viz_page, viz_svg
from .viz_graph import explain_reason, graph_of, stages


def viz(fun, profile=None, compile: bool = True, **jit_kwargs):
    """`viz(f)(*args, path=None)` returns the page of `f` specialized to `args` (and writes it
    to `path` when given). `f`: a jitted function or a plain one (jitted with `jit_kwargs`).
    `compile=False` leaves out the kernels' LLVM (no compilation)."""
    from .jit import jit
    jitted = fun if hasattr(fun, "lower") else jit(fun, **jit_kwargs)

    def run(*args, path=None, **kwargs):
        text = jitted.lower(*args, **kwargs).as_html(profile=profile, compile=compile)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    return run


def html(lowered, profile=None, compile: bool = True) -> str:
    """The page of a `Lowered` (see the module docstring)."""
    graphs, final = viz_graph.stages_and_result(lowered.module)
    # Loop bodies and branches: as traced, and as the backend runs them (last pass). The
    # page opens on the program after the last pass.
    traced_bodies = viz_graph.bodies(lowered.module, graphs[0].name)
    shown = len(graphs) + len(traced_bodies) - 1
    graphs = graphs[:1] + traced_bodies + graphs[1:] + viz_graph.bodies(final, graphs[-1].name)
    kernels, llvm = {}, {}
    if compile:
        compiled = lowered.compile()
        try:
            llvm = llvm_functions(compiled.as_text("llvm"))
        except ValueError:      # a backend without LLVM text (the interpreter)
            llvm = {}
        kernels = kernel_symbols(getattr(compiled._entry, "executable", None), llvm)
    times = _times_by_id(graphs, load_profile(profile), kernels) if profile is not None \
        else {}
    texts, text_ids = [], {}

    def text_index(t):
        k = text_ids.get(t)
        if k is None:
            k = text_ids[t] = len(texts)
            texts.append(t)
        return k

    svgs, stage_list, drawn, fusions = [], [], {}, {}
    for i, g in enumerate(graphs):
        sig = g.signature()
        if sig in drawn:     # a pass that changed nothing: the earlier drawing serves
            stage_list.append((f"{g.name} (unchanged)", drawn[sig]))
            continue
        # Kernels and times are keyed by instruction id: they find the fused stages' boxes.
        svgs.append(viz_svg.render(g, i, text_index, kernels, times))
        drawn[sig] = i
        stage_list.append((g.name, i))
        for fid, f in g.fusions.items():
            fusions[fid] = {"name": f.name, "kind": f.kind, "reason": f.reason,
                            "why": explain_reason(f.reason), "loc": f.location}
    files = _files_of(lowered)
    locs = [re.sub(r".*  # ", "", t) for t in texts if "  # " in t]
    locs += [f["loc"] for f in fusions.values() if f["loc"]]
    used = set(kernels.values())
    data = {"texts": texts, "src": viz_graph.source_lines(locs, files), "fusions": fusions,
            "kernels": {k: v for k, v in llvm.items() if k in used},
            "stages": [{"label": label, "drawn": d,
                        "note": f"{len(graphs[d].nodes)} instructions, "
                                f"{len(graphs[d].edges)} reads, "
                                f"{len(graphs[d].fusions)} kernels"}
                       for label, d in stage_list]}
    legend = "".join(f'<span class="node {c}" style="background:{col}">{c}</span>' for c, col in (
        ("parameter", "#dbeafe"), ("constant", "#eee"), ("dot", "#fde2c4"),
        ("kernel", "#eef6ee")))
    if times:
        legend += '<span style="background:rgb(250,65,52)">slowest</span>'
    return viz_page.page(f"jitcore: {lowered.module.name}", svgs, stage_list, data, legend,
                         shown)


def _files_of(lowered):
    fun = getattr(lowered._jitted, "fun", None)
    code = getattr(fun, "__code__", None)
    return [code.co_filename] if code is not None else []


# --- the kernels' LLVM ------------------------------------------------------------------------

_DEFINE = re.compile(r'^define [^@]*@("[^"]+"|[\w.$-]+)\(', re.M)


def llvm_functions(text: str) -> dict:
    """{function name: its `define ... { ... }` text} of an LLVM module's text (or several
    modules' texts one after the other)."""
    out = {}
    for m in _DEFINE.finditer(text):
        end = text.find("\n}", m.end())
        end = len(text) if end < 0 else end + 2
        out[m.group(1).strip('"')] = text[m.start():end]
    return out


def kernel_symbols(executable, llvm: dict) -> dict:
    """{instruction id: the LLVM function computing it} for the kernels (and native dots) of a
    CPU executable; {} for a backend without such a plan.

    The CPU backend names the kernel of step k of native segment j `seg{j}.k{k}` (a GEMM's
    prologue and epilogue kernels `.prologue`, `.epilogue` after it), counting the steps of
    loop bodies inside; a large program is cut into compile units, where each kernel is an
    entry `jk_<hash>` that the segment calls with its output's buffer last."""
    plan = getattr(executable, "plan", None)
    if plan is None:
        return {}
    segments, current = [], []
    for step in plan.steps:          # grouped as the CPU backend groups them
        if step.kind == "python":
            if current:
                segments.append(current)
                current = []
            segments.append(None)
        else:
            current.append(step)
    if current:
        segments.append(current)
    out = {}
    for j, steps in enumerate(segments):
        if steps is None:
            continue
        wanted = []          # (instruction id, name suffix) in the order of emission
        for k, step in enumerate(steps):
            if step.kind == "control":
                break        # its bodies' steps take numbers too: the rest is not known
            for part, suffix in ((step.prologue, ".prologue"), (step.epilogue, ".epilogue")):
                if part is not None:
                    wanted.append((part.step.instr.id, f"seg{j}.k{k}{suffix}"))
            wanted.append((step.instr.id, f"seg{j}.k{k}"))
        out.update((i, name) for i, name in wanted if name in llvm)
        # Compile units (and steps after a loop): the segment calls an entry `jk_<hash>` (or
        # the kernel) per kernel; the last pointer it passes is the kernel's output, loaded
        # from the segment's table of buffers.
        by_output = {}
        for step in steps:
            for part in (step, step.prologue, step.epilogue):
                part = getattr(part, "step", part)
                if part is not None and part.outputs:
                    by_output.setdefault(part.outputs[0], part.instr.id)
        # A long segment calls its parts (`cpu.render.PART_STEPS`), which call the kernels.
        driver = llvm.get(f"seg{j}", "")
        for text in [driver] + [llvm.get(p, "") for p in _PART_CALL.findall(driver)]:
            for name, bid in _calls_by_output(text):
                if bid in by_output:
                    out.setdefault(by_output[bid], name)
    return out


_ASSIGN = re.compile(r"^\s*(%[\w.]+) = (.*)$", re.M)
# A kernel call: to a compile unit's entry, or (one module) to the kernel itself.
_CALL = re.compile(r"call (?:\w+ )*void @(jk_\w+|\"?seg\d+\.k[\w.]+\"?)\((.*)\)")
_PART_CALL = re.compile(r"call (?:\w+ )*void @\"?(jd_\w+|seg\d+\.p\d+)\"?\(")
_LOAD = re.compile(r"load ptr, ptr (%[\w.]+)")
_GEP = re.compile(r"getelementptr (?:\w+ )*i8, ptr (%[\w.]+), i64 (\d+)$")


def _calls_by_output(driver: str):
    """[(kernel entry, buffer number of its output)] of the kernel calls in a segment's LLVM:
    each pointer argument is loaded from the segment's first parameter (the buffer table,
    8 bytes a buffer), directly or through the array object it holds."""
    if not driver:
        return []
    m = re.match(r"define [^(]*\(ptr [^%]*(%[\w.]+)", driver)
    table = m.group(1) if m else "%.1"
    defs = dict(_ASSIGN.findall(driver))
    out = []
    for name, args in _CALL.findall(driver):
        ptrs = re.findall(r"ptr (%[\w.]+)", args)
        if not ptrs:
            continue
        v = ptrs[-1]
        bid = None
        for _ in range(8):     # table slot -> (array object -> data field ->) pointer
            if v == table:
                bid = 0
                break
            d = defs.get(v, "")
            ld, gep = _LOAD.match(d), _GEP.match(d)
            if ld:
                v = ld.group(1)
            elif gep and gep.group(1) == table:
                bid = int(gep.group(2)) // 8
                break
            elif gep:
                v = gep.group(1)
            else:
                break
        if bid is not None:
            out.append((name.strip('"'), bid))
    return out


# --- profiles ---------------------------------------------------------------------------------

def load_profile(profile) -> dict:
    """{kernel name: seconds} from a mapping, or from a trace file of `jitcore.profiler` (a
    `.json` or `.json.gz` path, or the folder it wrote): Chrome trace events, the kernels'
    (`cat` "kernel") time summed over calls, each kernel counted once per call however many
    threads ran a share of it (its `time_us`); other complete events by their `dur`. A step
    named after several instructions (a GEMM with its prologue and epilogue,
    "fusion.9+dot_general.10+fusion.14") gives its time to each."""
    if isinstance(profile, (str, os.PathLike)):
        profile = _read_trace(os.fspath(profile))
    if isinstance(profile, dict) and "traceEvents" in profile:
        profile = profile["traceEvents"]
    if isinstance(profile, list):
        totals, seen = {}, set()
        for ev in profile:
            if not isinstance(ev, dict) or ev.get("ph", "X") != "X" or "name" not in ev:
                continue
            args = ev.get("args") or {}
            if ev.get("cat") == "kernel" and "time_us" in args:
                once = (ev["name"], args.get("program"), args.get("call"))
                if once in seen:
                    continue
                seen.add(once)
                us = float(args["time_us"])
            elif "dur" in ev:
                us = float(ev["dur"])
            else:
                continue
            totals[ev["name"]] = totals.get(ev["name"], 0.0) + us * 1e-6
        profile = totals
    out = {}
    for k, v in dict(profile).items():
        for part in str(k).split("+"):
            out[part] = out.get(part, 0.0) + float(v)
    return out


def _read_trace(path):
    import glob
    import gzip
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "**", "*.trace.json.gz"), recursive=True),
                       key=os.path.getmtime)
        if not found:
            raise FileNotFoundError(f"no *.trace.json.gz under {path}")
        path = found[-1]     # the latest run
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _times_by_id(graphs, profile, kernels):
    """{instruction id: seconds} of the kernels and dots of the fused `graphs` named in
    `profile`: as the profiler names them ("fusion.12"), by LLVM function, by kernel
    computation name, or as `%12`."""
    out = {}
    names = {}
    for graph in graphs:
        if not graph.fusions:
            continue
        for fid, f in graph.fusions.items():
            names[fid] = (f"fusion.{fid}", f.name, f"%{fid}", str(fid), kernels.get(fid))
        for n in graph.nodes:
            if n.fusion is None and n.opcode not in ("parameter", "constant", "tuple"):
                names[n.id] = (f"{n.opcode}.{n.id}", f"%{n.id}", str(n.id), kernels.get(n.id))
    for i, keys in names.items():
        for key in keys:
            if key is not None and key in profile:
                out[i] = profile[key]
                break
    return out


# --- Graphviz ---------------------------------------------------------------------------------

def to_dot(graph) -> str:
    """`graph` as Graphviz text: a node per instruction, an edge per read, a cluster per
    kernel labelled with its reason."""
    def q(s):
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(graph.name)} {{", "  node [shape=box, fontname=monospace];"]
    in_fusion = {}
    for n in graph.nodes:
        in_fusion.setdefault(n.fusion, []).append(n)
    for n in in_fusion.get(None, []):
        lines.append(f"  n{n.id} [label={q(f'%{n.id} {n.opcode} {n.shape}')}];")
    for fid, f in graph.fusions.items():
        lines.append(f"  subgraph cluster_{fid} {{")
        lines.append(f"    label={q(f'fusion %{fid} {f.kind}: {f.reason}')};")
        for n in in_fusion.get(fid, []):
            lines.append(f"    n{n.id} [label={q(f'%{n.id} {n.opcode} {n.shape}')}];")
        lines.append("  }")
    for s, d, _ in graph.edges:
        lines.append(f"  n{s} -> n{d};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_text(module, fused: bool = False) -> str:
    """Graphviz text of `module`'s entry computation, or of it after the kernel pipeline."""
    graph = stages(module)[-1] if fused else graph_of(module.entry, module.name)
    return to_dot(graph)
