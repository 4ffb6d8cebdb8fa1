"""Backends share one small interface: `compile(module) -> Executable`.

An Executable is called with the flat list of input arrays (in the entry computation's parameter
order) and returns the flat list of output arrays.
"""
from __future__ import annotations

from . import interp

BACKENDS = {"interp": interp}


def get_backend(name: str):
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}") from None
