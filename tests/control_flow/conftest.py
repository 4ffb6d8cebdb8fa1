"""The three paths every control-flow test runs on: eager (NumPy, no jit), `jit` on the NumPy
reference interpreter and `jit` on the default (cpu) backend.

`on(f)` returns `f` run on the test's path. Jitted functions are kept per (function, path), so
module-level functions shared by several parametrized cases are traced and compiled once per
path (the cpu backend's compile is the slow part of these tests).
"""
from __future__ import annotations

import pytest

import jitcore as jc

PATHS = ("eager", "interp", "cpu")
_JITTED: dict = {}


def on_path(path, f, **jit_kwargs):
    if path == "eager":
        return f
    key = (f, path, tuple(sorted(jit_kwargs.items())))
    if key not in _JITTED:
        backend = "interp" if path == "interp" else None
        _JITTED[key] = jc.jit(f, backend=backend, **jit_kwargs)
    return _JITTED[key]


class Runner:
    def __init__(self, path):
        self.path = path
        self.jitted = path != "eager"

    def __call__(self, f, **jit_kwargs):
        return on_path(self.path, f, **jit_kwargs)

    def __repr__(self):
        return self.path


@pytest.fixture(params=PATHS)
def on(request):
    return Runner(request.param)
