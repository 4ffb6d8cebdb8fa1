"""Missing names: `jnp.foo` that jitcore lacks is an AttributeError naming what is close.

Each public module ends with `__getattr__ = missing_names(__name__, globals())`. Python calls
a module's `__getattr__` only when normal lookup fails, so existing names cost nothing.
"""
from __future__ import annotations

import difflib


def missing_names(module_name: str, namespace: dict):
    """A module-level `__getattr__` for `module_name` whose names live in `namespace`."""
    def __getattr__(name):
        # Dunder lookups (`__path__`, `__wrapped__`...) are probes by tools, not typos.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        public = [n for n in namespace if not n.startswith("_")]
        close = difflib.get_close_matches(name, public, n=3, cutoff=0.6)
        if not close:   # a different case or a prefix: `Float32`, `linalg_norm`
            low = name.lower()
            close = [n for n in public if n.lower() == low or
                     (len(low) > 3 and (n.lower().startswith(low) or low.startswith(n.lower())
                                        and len(n) > 3))][:3]
        hint = (f"; the closest existing: {', '.join(repr(c) for c in close)}" if close else "")
        raise AttributeError(f"module {module_name!r} has no attribute {name!r} (jitcore does "
                             f"not provide it){hint}")
    return __getattr__
