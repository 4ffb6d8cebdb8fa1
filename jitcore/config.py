"""jitcore's settings: the one table of `JITCORE_*` variables, changeable in code.

    JITCORE_BACKEND=interp python train.py
    with jitcore.config.override(debug=1): f(x)     # this thread only

The table, its defaults and the meaning of each row live in `xla_like.settings` (the backends
read it too, and they may not import jitcore); this module is its public name.
"""
from __future__ import annotations

from xla_like.settings import ENV, NAMES, Settings, from_env, override, settings

__all__ = ["ENV", "NAMES", "Settings", "from_env", "override", "settings"]
