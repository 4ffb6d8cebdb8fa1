"""Passes: plain functions `Module -> Module`, one per file, each saying what it guarantees.

- `simplify`: local algebraic simplification and scalar constant folding (also applied by the
  builder as IR is emitted), then dead code removal.
- `dce`: drop instructions no output depends on.
- `jvp.jvp_module`, `vjp.vjp_module`, `batching.batch_module`: the transforms, as passes.

`PIPELINE` lists what runs on every traced program before it is compiled (and printed by
`make_hlo` / `lower().as_text()`); `run_pipeline` runs it.
"""
from __future__ import annotations

import time

from .dce import dce

PIPELINE = [
    ("dce", dce),
]


def run_pipeline(module, pipeline=None):
    """Run each pass in order; a pass's error is re-raised with its name. Returns the module
    and the seconds each pass took."""
    timings = []
    for name, fn in (pipeline or PIPELINE):
        t0 = time.perf_counter()
        try:
            module = fn(module)
        except Exception as e:
            e.add_note(f"(raised in pass {name!r} on module {module.name})")
            raise
        timings.append((name, time.perf_counter() - t0))
    return module, timings
