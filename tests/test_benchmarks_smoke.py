"""benchmarks/workloads.py still runs: two cheap rows at quick sizes, without the JAX column.

The script checks every case against a NumPy float64 version of the same math before it times
anything, so a row marked "NumPy64 ok" means jitcore's answer matched that reference. Timings
are not checked (they are not stable on a shared machine).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "workloads.py")
LIMIT_S = 60     # a few seconds when the machine is quiet; past this it is too loaded to tell


def test_workloads_quick_two_rows():
    env = dict(os.environ, BENCH_JAX_PYTHON="")
    try:
        r = subprocess.run([sys.executable, SCRIPT, "--quick", "--rows", "5,7", "--rounds", "1",
                            "--calls", "1", "--no-jax"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"workloads.py --quick took over {LIMIT_S} s: machine too loaded")
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert "| row | case | check |" in out
    table = [ln for ln in out.splitlines() if ln.startswith("| ")][1:]
    labels = [ln.split("|")[2].strip() for ln in table]
    assert labels == ["sum axis 0 4096^2", "mean axis 0 4096^2", "var axis 0 4096^2",
                      "vmap(grad) logreg"]
    for ln in table:
        cells = [c.strip() for c in ln.split("|")]
        assert cells[3] == "NumPy64 ok", ln          # checked against the float64 reference
        assert cells[4] != "n/a" and cells[5] == "n/a", ln   # jitcore timed, JAX left out
    assert "JAX: n/a" in out
