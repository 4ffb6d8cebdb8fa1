"""The page around the SVGs: styles, the details panel and the script, all inline (the page
reads nothing from the network, so it opens anywhere, offline, from a file).

The script: a stage selector (one SVG per distinct stage, the others hidden), a click on an
instruction or a kernel shows its text, source line, the reason its kernel's result is in
memory, its time from a profile and the kernel's LLVM in the panel; hovering shows the
source line; + and - zoom. With `#selftest` in the URL it clicks through the page itself and
writes what it found into `<pre id="selftest">` (a headless browser's `--dump-dom` shows it);
with `#select` it selects an instruction of a kernel, as a click would (for screenshots).
"""
from __future__ import annotations

import json
from html import escape

STYLE = """
body{margin:0;font:13px system-ui,sans-serif;display:flex;flex-direction:column;height:100vh}
header{padding:6px 10px;border-bottom:1px solid #ccc;display:flex;gap:12px;align-items:center}
header h1{font-size:15px;margin:0}
main{flex:1;display:flex;min-height:0}
#view{flex:1;overflow:auto;background:#fafafa}
#panel{width:38%;overflow:auto;border-left:1px solid #ccc;padding:6px 10px}
#panel pre{white-space:pre-wrap;font:11px monospace;background:#f3f3f3;padding:4px}
#code{max-height:60vh;overflow:auto}#selftest:empty{display:none}
#tip{position:fixed;pointer-events:none;background:#ffffe8;border:1px solid #aa9;
 font:11px monospace;padding:3px 5px;display:none;max-width:60em;white-space:pre-wrap}
svg.stage{display:none;font:11px monospace}
svg.stage.shown{display:block}
.node rect{fill:#fff;stroke:#666;stroke-width:1}
.node.parameter rect{fill:#dbeafe}.node.constant rect{fill:#eee}
.node.dot rect{fill:#fde2c4}.node.tuple rect,.node.get_tuple_element rect{fill:#f5f5dc}
.node .s{fill:#555}
.node{cursor:pointer}.node.sel rect{stroke:#d00;stroke-width:2.5}
.fusion rect{fill:#eef6ee;stroke:#4a8a4a;stroke-dasharray:4 2}
.fusion text{fill:#2d5e2d}.fusion.sel rect{stroke:#d00;stroke-width:2}
.edge{fill:none;stroke:#889;stroke-width:1;opacity:.7}
.edge.hot{stroke:#d00;stroke-width:2;opacity:1}
.legend span{padding:1px 6px;border:1px solid #999;margin-right:4px;font-size:11px}
"""

SCRIPT = r"""
(function(){
const D = JSON.parse(document.getElementById('viz-data').textContent);
const sel = document.getElementById('stage'), panel = document.getElementById('detail');
const code = document.getElementById('code'), tip = document.getElementById('tip');
let zoom = 1, current = null;
function svgFor(i){ const s = D.stages[i]; return document.querySelector(
  'svg.stage[data-stage="' + s.drawn + '"]'); }
function show(i){
  document.querySelectorAll('svg.stage.shown').forEach(e => e.classList.remove('shown'));
  current = svgFor(i); current.classList.add('shown'); applyZoom();
  document.getElementById('note').textContent = D.stages[i].note || '';
}
function applyZoom(){ if(!current) return; const vb = current.viewBox.baseVal;
  current.setAttribute('width', vb.width * zoom);
  current.setAttribute('height', vb.height * zoom); }
function srcOf(t){ const m = t.match(/  # (\S+:\d+)$/); return m ? m[1] : null; }
function describe(g){
  const out = [];
  if (g.classList.contains('fusion')) {
    const f = D.fusions[g.dataset.id] || {};
    out.push('kernel ' + (g.dataset.name || '') + '  (fusion %' + g.dataset.id + ', ' +
             (f.kind || '') + ')');
    out.push('in memory because: ' + (f.why || g.dataset.reason));
    if (f.loc) out.push(f.loc + (D.src[f.loc] ? ':  ' + D.src[f.loc].trim() : ''));
  } else {
    const t = D.texts[+g.dataset.t]; out.push(t);
    const loc = srcOf(t);
    if (loc) out.push(loc + ':  ' + (D.src[loc] || '(source not found)').trim());
    if (g.dataset.fusion) { const f = D.fusions[g.dataset.fusion] || {};
      out.push('inside kernel ' + (f.name || '') + ' (fusion %' + g.dataset.fusion +
               '), whose result is in memory because: ' + (f.why || '')); }
  }
  if (g.dataset.seconds) out.push('time: ' + (1e3 * +g.dataset.seconds).toFixed(3) + ' ms');
  return out.join('\n');
}
function kernelOf(g){
  if (g.dataset.kernel) return g.dataset.kernel;
  if (g.dataset.fusion) {
    const b = current.querySelector('g.fusion[data-id="' + g.dataset.fusion + '"]');
    if (b && b.dataset.kernel) return b.dataset.kernel; }
  return '';
}
function select(g){
  current.querySelectorAll('.sel').forEach(e => e.classList.remove('sel'));
  current.querySelectorAll('.edge.hot').forEach(e => e.classList.remove('hot'));
  g.classList.add('sel');
  if (g.classList.contains('node')) { const id = g.dataset.id;
    current.querySelectorAll('.edge[data-src="' + id + '"],.edge[data-dst="' + id + '"]')
      .forEach(e => e.classList.add('hot')); }
  panel.textContent = describe(g);
  const k = kernelOf(g);
  code.textContent = k ? ('; ' + k + '\n' + (D.kernels[k] || '(no LLVM text for this kernel)')) :
    (g.dataset.fusion || g.classList.contains('fusion') ? '(no LLVM text: not compiled)' : '');
}
document.getElementById('view').addEventListener('click', ev => {
  const g = ev.target.closest('g.node') || ev.target.closest('g.fusion'); if (g) select(g); });
document.getElementById('view').addEventListener('mousemove', ev => {
  const g = ev.target.closest('g.node');
  if (!g) { tip.style.display = 'none'; return; }
  const t = D.texts[+g.dataset.t], loc = srcOf(t);
  tip.textContent = t + (loc && D.src[loc] ? '\n' + D.src[loc].trim() : '');
  tip.style.left = (ev.clientX + 12) + 'px'; tip.style.top = (ev.clientY + 12) + 'px';
  tip.style.display = 'block'; });
sel.addEventListener('change', () => show(+sel.value));
document.getElementById('zin').onclick = () => { zoom *= 1.25; applyZoom(); };
document.getElementById('zout').onclick = () => { zoom /= 1.25; applyZoom(); };
const first = +sel.value;
show(first);
const shownMs = performance.now();
if (location.hash === '#selftest') {
  const r = {stages: {}, clicks: 0, clicked_ok: 0, kernel_text: 0, switched: 0,
             ready_ms: shownMs};
  // Style and layout of the shown stage, forced now: what drawing it first costs.
  let t0 = performance.now(); document.body.offsetHeight; current.getBBox();
  r.layout_ms = performance.now() - t0;
  document.querySelectorAll('svg.stage').forEach(s => { r.stages[s.dataset.name] = {
    nodes: s.querySelectorAll('g.node').length, edges: s.querySelectorAll('path.edge').length,
    fusions: s.querySelectorAll('g.fusion').length}; });
  for (let i = 0; i < D.stages.length; i++) {
    sel.value = String(i); sel.dispatchEvent(new Event('change'));
    if (current.classList.contains('shown') && +current.dataset.stage === D.stages[i].drawn)
      r.switched++;
    // An instruction inside a kernel where there is one: its click shows LLVM too.
    const g = current.querySelector('g.node[data-fusion]') || current.querySelector('g.node');
    if (!g) continue;
    g.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));
    r.clicks++;
    if (g.classList.contains('sel') && panel.textContent.startsWith(D.texts[+g.dataset.t]))
      r.clicked_ok++;
    if (kernelOf(g) && code.textContent.indexOf('define') >= 0) r.kernel_text++;
    g.querySelector('rect').dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
                                                                       clientX: 5, clientY: 5}));
    if (tip.style.display === 'block' && tip.textContent.startsWith(D.texts[+g.dataset.t]))
      r.hovered_ok = (r.hovered_ok || 0) + 1;
  }
  // Back to the first stage shown, a kernel's instruction selected (as a screenshot shows).
  sel.value = String(first); sel.dispatchEvent(new Event('change'));
  const g = current.querySelector('g.node[data-fusion]');
  if (g) select(g);
  tip.style.display = 'none';
  r.selftest_ms = performance.now() - shownMs;
  document.getElementById('selftest').textContent = JSON.stringify(r);
} else if (location.hash === '#select') {   // a kernel's instruction selected, as clicked
  const g = current.querySelector('g.node[data-fusion]') || current.querySelector('g.node');
  if (g) select(g);
}
})();
"""


def page(title, svgs, stage_list, data, legend="", shown=None) -> str:
    """The HTML page: `svgs` the drawn stages' SVG texts, `stage_list` [(label, drawn stage
    number)], `data` the JSON the script reads (texts, src, fusions, kernels, stages);
    `shown`: the stage it opens on (the last by default)."""
    shown = len(stage_list) - 1 if shown is None else shown
    options = "".join(
        f'<option value="{i}"{" selected" if i == shown else ""}>'
        f'{escape(label)}</option>' for i, (label, _) in enumerate(stage_list))
    # `</` must not end the script element early.
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><style>{STYLE}</style></head><body>'
        f'<header><h1>{escape(title)}</h1><label>stage <select id="stage">{options}'
        '</select></label><button id="zout">-</button><button id="zin">+</button>'
        f'<span id="note"></span><span class="legend">{legend}</span></header>'
        '<main><div id="view">' + "\n".join(svgs) + '</div><aside id="panel">'
        '<pre id="selftest"></pre><p>Click an instruction or a kernel.</p><pre id="detail">'
        '</pre><pre id="code"></pre></aside></main><div id="tip"></div>'
        f'<script type="application/json" id="viz-data">{blob}</script>'
        f'<script>{SCRIPT}</script></body></html>\n')
