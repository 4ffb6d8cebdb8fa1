"""The size of `jitcore.viz`'s page for a large program, and how long it takes to make and to
draw.

    python benchmarks/viz_page.py [--blocks 8] [--rounds 3] [--out results/...md]

The program: the gradient of a stack of `--blocks` transformer encoder blocks (the
`workloads_cases` "tf" block at its quick sizes; 8 blocks trace to about 2,000 instructions).
Figures: seconds to make the page without compiling (`compile=False`: graphs, layout, SVG)
and with compiling (adds the kernels' LLVM); the page's bytes; in headless Chromium, the time
to load it with `--dump-dom` (process start to DOM out) against an empty page in the same
rounds, and, from the page's own self-test, the milliseconds until its script ran
(`ready_ms`, from navigation start) and to style and lay out the shown stage (`layout_ms`).
Rounds interleave the page and the empty page; the table gives min and median.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

from machine import cpu_model, emit_table, run_with_default_out  # noqa: E402


def _lowered(blocks):
    import numpy as np

    import jitcore as jc
    import jitcore.numpy as jnp
    import workloads_cases as wc
    from jitcore import lax
    src = wc.source("tf", True).replace(
        "def loss(p, x):\n    return jnp.mean(block(p, x) ** 2)",
        f"def loss(p, x):\n    for _ in range({blocks}):\n        x = block(p, x)\n"
        "    return jnp.mean(x ** 2)")
    ns = {"jax": jc, "jnp": jnp, "lax": lax, "np": np}
    exec(src, ns)
    return jc.jit(ns["fn"]).lower(*ns["inputs"](0))


def _mm(ts, scale=1.0, fmt="{:.2f}"):
    return f"{fmt.format(min(ts) * scale)} / {fmt.format(statistics.median(ts) * scale)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import viz_screenshot
    lowered = _lowered(a.blocks)
    n_instr = len(lowered.module.entry.instructions)
    make, make_compiled, load, empty, ready, lay = [], [], [], [], [], []
    page = ""
    with tempfile.TemporaryDirectory() as tmp:
        blank = os.path.join(tmp, "empty.html")
        with open(blank, "w") as f:
            f.write("<!DOCTYPE html><html><body></body></html>\n")
        path = os.path.join(tmp, "page.html")
        for r in range(a.rounds):
            t0 = time.perf_counter()
            lowered.as_html(compile=False)
            make.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            page = lowered.as_html()   # compiled once; later rounds hit the compile cache
            make_compiled.append(time.perf_counter() - t0)
            with open(path, "w") as f:
                f.write(page)
            t0 = time.perf_counter()
            dom = viz_screenshot.run_chromium(["--dump-dom", f"file://{path}#selftest"], 300)
            load.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            viz_screenshot.run_chromium(["--dump-dom", f"file://{blank}"], 300)
            empty.append(time.perf_counter() - t0)
            m = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
            report = json.loads(m.group(1))
            ready.append(report["ready_ms"] / 1e3)
            lay.append(report["layout_ms"] / 1e3)
    stage_counts = report["stages"]
    lines = [f"# jitcore.viz page of a {a.blocks}-block transformer gradient", "",
             f"CPU: {cpu_model()}; {time.strftime('%Y-%m-%d')}; {a.rounds} rounds "
             "(min / median); Chromium headless (`--dump-dom`).", "",
             f"Traced program: {n_instr} instructions; drawn stages: "
             + ", ".join(f"{k} {v['nodes']} nodes/{v['edges']} edges"
                         for k, v in stage_counts.items()), "",
             "| figure | value |", "| --- | --- |",
             f"| make the page, compile=False (s) | {_mm(make)} |",
             f"| make the page with the kernels' LLVM (s; first round compiles) | "
             f"{_mm(make_compiled)} |",
             f"| page size (MB) | {len(page) / 1e6:.2f} |",
             f"| Chromium --dump-dom of the page (s) | {_mm(load)} |",
             f"| Chromium --dump-dom of an empty page (s) | {_mm(empty)} |",
             f"| script ran, from navigation start (ms) | {_mm(ready, 1e3, '{:.0f}')} |",
             f"| style + layout of the shown stage (ms) | {_mm(lay, 1e3, '{:.0f}')} |",
             f"| self-test clicks ok | {report['clicked_ok']} / {report['clicks']} |"]
    return emit_table(lines, a.out)


if __name__ == "__main__":
    run_with_default_out(main, "viz_page")
