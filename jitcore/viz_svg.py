"""SVG of one stage's graph (`viz_graph.Graph`), laid out by `viz_layout`.

Each instruction is a `<g class="node">` with `data-id` (its id), `data-op`, `data-t` (its
text's number in the page's table) and `data-fusion` (the kernel holding it); each read an
`<path class="edge">` with `data-src`/`data-dst`; each kernel a `<g class="fusion">` with
`data-id`, `data-reason` and `data-kernel` (its LLVM function) around its members. The page's
script and its tests read these attributes.
"""
from __future__ import annotations

from html import escape

from .viz_layout import layout

CHAR_W = 6.6      # width of a character of the 11px monospace font
NODE_H = 30
PAD = 8           # inside a fusion box
HEADER = 16       # a fusion box's title line


def _node_size(node):
    return max(len(_label(node)), len(node.shape), 6) * CHAR_W + 12, NODE_H


def _label(node):
    return f"%{node.id} {node.opcode}"


def _category(node):
    op = node.opcode
    if op in ("parameter", "constant", "tuple", "get_tuple_element"):
        return op
    if op == "dot_general":
        return "dot"
    return "op"


def _heat(frac):
    """White to red for a share of the slowest kernel's time."""
    frac = min(max(frac, 0.0), 1.0)
    g = int(245 - 180 * frac)
    return f"rgb(250,{g},{int(g * 0.8)})"


def render(graph, stage: int, text_index, kernels=None, times=None) -> str:
    """The SVG of `graph`. `text_index(text)`: the number of an instruction's text in the page's
    table; `kernels`: {instruction id: LLVM function name} of kernels and dots; `times`:
    {instruction id: seconds} from a profile."""
    kernels = kernels or {}
    times = times or {}
    slowest = max(times.values(), default=0.0) or 1.0
    nodes = {n.id: n for n in graph.nodes}
    sizes = {n.id: _node_size(n) for n in graph.nodes}
    # Fusions first: their members laid out inside, giving each box its size.
    box_of = {m: fid for fid, f in graph.fusions.items() for m in f.members}
    inside = {fid: [] for fid in graph.fusions}     # each kernel's own edges, in one pass
    for s, d, _ in graph.edges:
        fid = box_of.get(d)
        if fid is not None and box_of.get(s) == fid:
            inside[fid].append((s, d))
    inner = {}
    for fid, f in graph.fusions.items():
        items = [(m, *sizes[m]) for m in f.members]
        coords, w, h = layout(items, inside[fid])
        title = _fusion_title(f)
        w = max(w, len(title) * CHAR_W) + 2 * PAD
        inner[fid] = (coords, w, h + 2 * PAD + HEADER)
    # Then the program: each box one item.
    items, seen = [], set()
    for n in graph.nodes:
        key = ("f", box_of[n.id]) if n.id in box_of else n.id
        if key in seen:
            continue
        seen.add(key)
        if type(key) is tuple:
            _, w, h = inner[key[1]]
            items.append((key, w, h))
        else:
            items.append((key, *sizes[n.id]))

    def outer(i):
        return ("f", box_of[i]) if i in box_of else i

    coords, width, height = layout(items, [(outer(s), outer(d)) for s, d, _ in graph.edges])
    # Absolute position of each node.
    where = {}
    for key, (x, y) in coords.items():
        if type(key) is tuple:
            for m, (mx, my) in inner[key[1]][0].items():
                where[m] = (x + PAD + mx, y + PAD + HEADER + my)
        else:
            where[key] = (x, y)

    out = [f'<svg class="stage" data-stage="{stage}" data-name="{escape(graph.name)}" '
           f'xmlns="http://www.w3.org/2000/svg" width="{width + 20:.0f}" '
           f'height="{height + 20:.0f}" viewBox="-10 -10 {width + 20:.0f} {height + 20:.0f}">']
    for fid, f in graph.fusions.items():
        x, y = coords[("f", fid)]
        _, w, h = inner[fid]
        t = times.get(fid)
        fill = f' style="fill:{_heat(t / slowest)}"' if t is not None else ""
        out.append(
            f'<g class="fusion" data-id="{fid}" data-reason="{escape(f.reason)}" '
            f'data-kernel="{escape(kernels.get(fid, ""))}" data-name="{escape(f.name)}"'
            f'{_time_attr(t)}><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" '
            f'height="{h:.0f}" rx="6"{fill}/><text x="{x + PAD:.0f}" y="{y + 13:.0f}">'
            f'{escape(_fusion_title(f))}</text></g>')
    for s, d, k in graph.edges:
        (sx, sy), (dx, dy) = where[s], where[d]
        sw, sh = sizes[s]
        dw = sizes[d][0]
        x1, y1, x2, y2 = sx + sw / 2, sy + sh, dx + dw / 2, dy
        bend = max(abs(y2 - y1) / 2, 12)
        out.append(f'<path class="edge" data-src="{s}" data-dst="{d}" data-k="{k}" '
                   f'd="M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + bend:.0f} {x2:.0f},'
                   f'{y2 - bend:.0f} {x2:.0f},{y2:.0f}"/>')
    for n in graph.nodes:
        x, y = where[n.id]
        w, h = sizes[n.id]
        fusion = f' data-fusion="{n.fusion}"' if n.fusion is not None else ""
        t = times.get(n.id)
        fill = f' style="fill:{_heat(t / slowest)}"' if t is not None else ""
        kernel = f' data-kernel="{escape(kernels[n.id])}"' if n.id in kernels else ""
        out.append(
            f'<g class="node {_category(n)}" data-id="{n.id}" data-op="{escape(n.opcode)}" '
            f'data-t="{text_index(n.text)}"{fusion}{kernel}{_time_attr(t)} '
            f'transform="translate({x:.0f},{y:.0f})"><rect width="{w:.0f}" height="{h}"{fill}/>'
            f'<text x="6" y="12">{escape(_label(n))}</text>'
            f'<text class="s" x="6" y="25">{escape(n.shape)}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _fusion_title(f):
    return f"%{f.id} {f.name} ({f.kind}): {f.reason}"


def _time_attr(t):
    return f' data-seconds="{t:.9g}"' if t is not None else ""
