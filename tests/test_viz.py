"""jitcore.viz: the graph model against the IR it draws, the layout, the Graphviz text, the
kernels' LLVM, profiles, and the page itself rendered by headless Chromium (skipped without
it)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore.viz import (_calls_by_output, graph_of, kernel_symbols, llvm_functions,
                         load_profile, stages)
from jitcore.viz_layout import H_GAP, layout
from xla_like import ir
from xla_like.pipeline import PIPELINES, run_pipeline


def _loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    return -jnp.mean(jnp.sum(jitcore.nn.log_softmax(h @ w + b) * y, axis=-1))


def _mlp_args():
    rng = np.random.default_rng(0)
    sizes = (6, 8, 8, 3)
    params = [(rng.normal(size=(a, b)).astype(np.float32), np.zeros(b, np.float32))
              for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(5, sizes[0])).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    return params, x, y


@pytest.fixture(scope="module")
def lowered():
    return jitcore.jit(jitcore.grad(_loss)).lower(*_mlp_args())


@pytest.fixture(scope="module")
def fused(lowered):
    return run_pipeline(ir.clone_module(lowered.module), "kernel")[0]


def _expected(comp):
    """(node ids, edge count, {fusion id: member ids}) of a computation, counted on the IR."""
    nodes, edges, fusions = [], 0, {}
    for i in comp.instructions:
        if i.opcode == "fusion":
            body = [m for m in i.called[0].instructions if m.opcode != ir.PARAMETER]
            fusions[i.id] = [m.id for m in body]
            nodes += fusions[i.id]
            edges += sum(len(m.operands) for m in body)
        else:
            nodes.append(i.id)
            edges += len(i.operands)
    return nodes, edges, fusions


def test_traced_graph_is_the_ir(lowered):
    g = graph_of(lowered.module.entry)
    nodes, edges, fusions = _expected(lowered.module.entry)
    assert [n.id for n in g.nodes] == nodes and len(g.edges) == edges and not fusions
    ids = {i.id: i for i in lowered.module.entry.instructions}
    # Each edge is one operand read: destination's operand k is the source.
    for s, d, k in g.edges:
        assert ids[d].operands[k].id == s
    assert all(n.shape == ir.shape_str(ids[n.id].shape) for n in g.nodes)


def test_fused_graph_membership_is_the_fused_module(fused):
    g = graph_of(fused.entry)
    nodes, edges, fusions = _expected(fused.entry)
    assert fusions, "the MLP's gradient has kernels"
    assert sorted(n.id for n in g.nodes) == sorted(nodes)
    assert len(g.edges) == edges
    assert {fid: f.members for fid, f in g.fusions.items()} == fusions
    reasons = {i.id: i.attrs["reason"] for i in fused.entry.instructions if i.opcode == "fusion"}
    assert {fid: f.reason for fid, f in g.fusions.items()} == reasons
    # Edges leaving a kernel leave from its root; every edge joins two drawn nodes.
    drawn = {n.id for n in g.nodes}
    assert all(s in drawn and d in drawn for s, d, _ in g.edges)
    roots = {f.root for f in g.fusions.values()}
    member_of = {m: fid for fid, f in g.fusions.items() for m in f.members}
    for s, d, _ in g.edges:
        if s in member_of and member_of.get(d) != member_of[s]:
            assert s in roots


def test_stages_follow_the_kernel_pipeline(lowered, fused):
    graphs = stages(lowered.module)
    assert [g.name for g in graphs] == ["traced"] + [f"after {n}" for n, _ in PIPELINES["kernel"]]
    assert graphs[-1].signature() == graph_of(fused.entry).signature()
    assert graphs[0].signature() == graph_of(lowered.module.entry).signature()


def test_dot_text_counts(lowered, fused):
    for text, comp in ((lowered.as_text("dot"), lowered.module.entry),
                       (lowered.as_text("dot-fused"), fused.entry)):
        nodes, edges, fusions = _expected(comp)
        assert text.startswith("digraph ") and text.count("{") == text.count("}")
        declared = re.findall(r"^\s+n(\d+) \[label=", text, re.M)
        assert sorted(map(int, declared)) == sorted(nodes)
        arrows = re.findall(r"^\s+n(\d+) -> n(\d+);$", text, re.M)
        assert len(arrows) == edges
        assert len(re.findall(r"subgraph cluster_\d+ \{", text)) == len(fusions)
    assert lowered.as_text() == lowered.module.as_text()      # the default is unchanged
    with pytest.raises(ValueError):
        lowered.as_text("svg")


def test_layout_layers_and_overlaps():
    # A diamond lattice plus a long skip edge, and a deep chain (no recursion).
    items = [(k, 20 + 5 * (k % 3), 10) for k in range(40)]
    edges = [(k, k + 1) for k in range(39)] + [(k, k + 3) for k in range(0, 37, 2)] + [(0, 39)]
    coords, w, h = layout(items, edges)
    for s, d in edges:
        assert coords[s][1] < coords[d][1]          # every edge points down
    size = {k: kw for k, kw, _ in items}
    rows = {}
    for k, (x, y) in coords.items():
        rows.setdefault(y, []).append((x, k))
    for row in rows.values():
        row.sort()
        for (x1, k1), (x2, _) in zip(row, row[1:]):
            assert x2 >= x1 + size[k1] + H_GAP - 1e-6
    assert all(0 <= x and x + size[k] <= w + 1e-6 for k, (x, _) in coords.items())
    chain = [(k, 10, 10) for k in range(20000)]
    coords, _, _ = layout(chain, [(k, k + 1) for k in range(19999)], sweeps=1)
    assert coords[19999][1] > coords[0][1]


def test_profile_formats(tmp_path):
    trace = {"traceEvents": [{"name": "seg0.k1", "ph": "X", "dur": 1500.0},
                             {"name": "seg0.k1", "ph": "X", "dur": 500.0},
                             {"name": "fused_tanh", "ph": "X", "dur": 250.0},
                             {"name": "meta", "ph": "M"}]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    got = load_profile(str(path))
    assert got == pytest.approx({"seg0.k1": 2e-3, "fused_tanh": 2.5e-4})
    assert load_profile({"a": 1}) == {"a": 1.0}


def test_kernel_llvm_found_two_ways(lowered, fused):
    compiled = lowered.compile()
    llvm = llvm_functions(compiled.as_text("llvm"))
    kernels = kernel_symbols(compiled._entry.executable, llvm)
    fusion_ids = {i.id for i in fused.entry.instructions if i.opcode == "fusion"}
    assert set(kernels) == fusion_ids           # every kernel, nothing else (dots call BLAS)
    assert all(llvm[k].startswith("define ") for k in kernels.values())
    # The same kernels found from the segment's calls (how a program cut into compile units
    # is matched): each call's output pointer leads back to the kernel's output buffer.
    plan = compiled._entry.executable.plan
    out_of = {s.outputs[0]: s.instr.id for s in plan.steps if s.outputs}
    by_call = {out_of[b]: name for name, b in _calls_by_output(llvm["seg0"]) if b in out_of}
    assert by_call == kernels


def test_page_marks_kernels_and_times(lowered, fused):
    fid = next(i.id for i in fused.entry.instructions if i.opcode == "fusion")
    page = lowered.as_html(profile={f"%{fid}": 0.002})
    assert re.search(rf'<g class="fusion" data-id="{fid}"[^>]*data-seconds="0.002"', page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and \
        "https://" not in page and "<link" not in page     # nothing from the network


def _chromium():
    return shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists(
        "/usr/bin/chromium") else None)


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_page_in_headless_chromium(lowered, fused, tmp_path):
    page = jitcore.viz(jitcore.grad(_loss))(*_mlp_args(), path=str(tmp_path / "mlp.html"))
    assert page == (tmp_path / "mlp.html").read_text()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
             f"file://{tmp_path / 'mlp.html'}#selftest"],
            capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    m = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert m and m.group(1), f"the page's script did not run: {proc.stderr[-2000:]}"
    report = json.loads(m.group(1))
    graphs = {g.name: g for g in stages(lowered.module)}
    traced_nodes, traced_edges, _ = _expected(lowered.module.entry)
    fused_nodes, fused_edges, fused_fusions = _expected(fused.entry)
    assert report["stages"]["traced"] == {"nodes": len(traced_nodes), "edges": traced_edges,
                                          "fusions": 0}
    last = f"after {PIPELINES['kernel'][-1][0]}"
    assert report["stages"][last] == {"nodes": len(fused_nodes), "edges": fused_edges,
                                      "fusions": len(fused_fusions)}
    for name, counts in report["stages"].items():
        g = graphs[name]
        assert counts == {"nodes": len(g.nodes), "edges": len(g.edges),
                          "fusions": len(g.fusions)}
    n_stages = len(PIPELINES["kernel"]) + 1
    assert report["switched"] == n_stages and report["clicks"] == n_stages
    assert report["clicked_ok"] == n_stages and report["hovered_ok"] == n_stages
    assert report["kernel_text"] >= 2       # clicks inside kernels showed their LLVM
    # The DOM the browser built holds one element per instruction of the traced stage.
    traced_svg = re.search(r'<svg class="stage" data-stage="0".*?</svg>', dom, re.S).group(0)
    ids = re.findall(r'<g class="node[^"]*" data-id="(\d+)"', traced_svg)
    assert sorted(map(int, ids)) == sorted(traced_nodes)
    assert len(re.findall(r'<path class="edge', traced_svg)) == traced_edges


def _svgs(page):
    """{stage name: its SVG text} of a page."""
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<svg class="stage" data-stage="\d+" data-name="([^"]*)".*?</svg>', page, re.S)}


def test_loop_bodies_are_drawn():
    from jitcore import lax

    def f(w, xs):
        def cell(h, x):
            h = jnp.tanh(x @ w + h)
            return h, h.sum()
        h, ys = lax.scan(cell, jnp.zeros(4, np.float32), xs)
        return jnp.sum(h) + ys.sum()

    lo = jitcore.jit(f).lower(np.ones((3, 4), np.float32), np.ones((5, 3), np.float32))
    fused = run_pipeline(ir.clone_module(lo.module), "kernel")[0]
    svgs = _svgs(lo.as_html(compile=False))
    last = f"after {PIPELINES['kernel'][-1][0]}"
    for module, stage in ((lo.module, "traced"), (fused, last)):
        called = [c for comp in module.computations.values() for i in comp.instructions
                  if i.opcode == "scan" for c in i.called]
        assert called
        for comp in called:
            nodes, edges, _ = _expected(comp)
            svg = svgs[f"{stage}: {comp.name}"]
            assert len(re.findall(r'<g class="node', svg)) == len(nodes)
            assert len(re.findall(r'<path class="edge', svg)) == edges


def test_profiler_trace_shades_its_kernels(lowered, fused, tmp_path):
    profiler = pytest.importorskip("jitcore.profiler")
    f = jitcore.jit(jitcore.grad(_loss))
    args = _mlp_args()
    path = str(tmp_path / "run.json")
    with profiler.trace(path):
        jitcore.block_until_ready(f(*args))
    events = json.loads(open(path).read())["traceEvents"]
    # The kernels the trace names after their fusion instruction, with their time.
    named = {}
    for ev in events:
        m = re.fullmatch(r"fusion\.(\d+)", ev.get("name", ""))
        if m and ev.get("cat") == "kernel":
            named[int(m.group(1))] = ev["args"]["time_us"] * 1e-6
    fusion_ids = {i.id for i in fused.entry.instructions if i.opcode == "fusion"}
    assert named and set(named) <= fusion_ids
    svg = _svgs(lowered.as_html(profile=path, compile=False))[f"after {PIPELINES['kernel'][-1][0]}"]
    for fid, seconds in named.items():
        m = re.search(rf'<g class="fusion" data-id="{fid}"[^>]*data-seconds="([^"]+)"', svg)
        assert m and float(m.group(1)) == pytest.approx(seconds)


def test_page_carries_source_lines():
    def f(x):
        return jnp.sin(x) * 3.0   # the line the page shows

    page = jitcore.jit(f).lower(np.ones(4, np.float32)).as_html(compile=False)
    data = json.loads(re.search(r'id="viz-data">(.*?)</script>', page, re.S).group(1)
                      .replace("<\\/", "</"))
    here = os.path.basename(__file__)
    lines = {loc: text for loc, text in data["src"].items() if loc.startswith(here + ":")}
    assert lines and all("the line the page shows" in t for t in lines.values())
    with open(__file__) as fh:
        source = fh.read().splitlines()
    for loc, text in lines.items():
        assert source[int(loc.rsplit(":", 1)[1]) - 1] == text
