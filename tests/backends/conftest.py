"""Fixtures of the backend tests.

`backend`: the backend the op tests of `test_cpu_vs_interp` compare with the interpreter. It is
the CPU backend here; a module that runs those tests on another backend defines its own
`backend` fixture (`test_cuda_ops`: "cuda", on a real GPU and on the emulated driver) and calls
them with it.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def backend():
    return "cpu"
