"""Draw a small MLP's gradient with `jitcore.viz` and photograph the page with headless
Chromium: docs/viz.png (a check by eye that the page renders and reads well).

    python benchmarks/viz_screenshot.py [--out docs/viz.png] [--html /tmp/viz.html] [--size 1600,1000]

The page shows its last stage (after fusion) with an instruction of a kernel selected, as a
click would (the page's `#select` hook).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium():
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def run_chromium(args, timeout=60):
    """Chromium with the flags above and a fresh profile directory; returns its stdout."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    return proc.stdout


def mlp_page(path):
    import numpy as np

    import jitcore
    import jitcore.numpy as jnp

    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jnp.tanh(h @ w + b)
        w, b = params[-1]
        logits = h @ w + b
        return -jnp.mean(jnp.sum(jitcore.nn.log_softmax(logits) * y, axis=-1))

    rng = np.random.default_rng(0)
    sizes = (16, 32, 32, 4)
    params = [(rng.normal(size=(a, b)).astype(np.float32), np.zeros(b, np.float32))
              for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(8, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], 8)]
    return jitcore.viz(jitcore.grad(loss))(params, x, y, path=path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "viz.png"))
    ap.add_argument("--html", default=None)
    ap.add_argument("--size", default="1600,1000")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html = a.html or os.path.join(tmp, "viz.html")
        mlp_page(html)
        run_chromium([f"--screenshot={os.path.abspath(a.out)}", f"--window-size={a.size}",
                      "file://" + os.path.abspath(html) + "#select"])
    print(a.out)


if __name__ == "__main__":
    main()
