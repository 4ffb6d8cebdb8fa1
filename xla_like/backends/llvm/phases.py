"""The kernels of a phased step (a native sort or cumulative scan, `plan.sort_scan`): each
phase a function `fn(*input pointers, *output pointers, region, lo, hi)` over its units,
threads sharing each phase's units with a barrier between phases."""
from __future__ import annotations

from .sort import Phase, emit_sort


def emit_phases(mod, name, step) -> list[Phase]:
    if step.kind == "sort":
        return emit_sort(mod, name, step.layout)
    from .scan import emit_scan
    return emit_scan(mod, name, step.layout)
