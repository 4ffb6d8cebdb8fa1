"""Backends share one small interface: `compile(module, donated=frozenset()) -> Executable` (`donated`: parameter numbers whose buffers outputs may take).

An Executable is called with the flat list of input arrays (in the entry computation's parameter
order) and returns the flat list of output arrays.
"""
from __future__ import annotations

import importlib

# Backends load on first use: the CPU one pulls in llvmlite. The CUDA one compiles without a
# GPU; only running its executables imports pycuda (`cuda.runtime`).
BACKENDS = {"interp": "xla_like.backends.interp", "cpu": "xla_like.backends.cpu",
            "cuda": "xla_like.backends.cuda"}


def get_backend(name: str):
    try:
        path = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}") from None
    return importlib.import_module(path)
