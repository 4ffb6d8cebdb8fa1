"""Suite-wide test plumbing.

The suite runs with `JITCORE_CHECKS=1`: the library verifies every Module tracing builds and the
result of every pass, and reads the trace-time pipeline's result back from its text
(`xla_like.pipeline`). So any test that builds IR also tests the verifier's invariants and the
printer/parser round trip on that IR, and a pass that breaks a module fails that test, naming
the pass, not a later one.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Set before anything reads the settings table (read from the environment once, at import), and
# inherited by the subprocesses a test starts.
os.environ["JITCORE_CHECKS"] = "1"

# The persistent compilation cache of a test run (and of the subprocesses it starts) lives in a
# fresh folder, removed at exit: tests never read or write the user's cache.
_CACHE_DIR = tempfile.mkdtemp(prefix="jitcore-test-cache-")
os.environ["JITCORE_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, True)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_jit_wrappers():
    """`jit(f)` wrappers of one function share their compiled specializations (as JAX's do);
    each test starts without those of earlier tests, so a test that counts traces or compiles
    of a module-level function sees its own. (Functions decorated at import keep theirs.)"""
    import importlib
    jit_module = importlib.import_module("jitcore.jit")   # the module, not jitcore.jit()
    with jit_module._SHARED_LOCK:
        jit_module._SHARED.clear()
    yield
