"""jitcore's settings: the one table of `JITCORE_*` variables, changeable in code.

    JITCORE_BACKEND=interp python train.py
    with jitcore.config.override(debug=1): f(x)     # this thread only
    jitcore.config.update("jax_disable_jit", True)  # JAX's names for the few that map

The table, its defaults and the meaning of each row live in `xla_like.settings` (the backends
read it too, and they may not import jitcore); this module is its public name.
"""
from __future__ import annotations

import contextvars

from xla_like.settings import ENV, NAMES, Settings, from_env, override, settings

__all__ = ["ENV", "NAMES", "Settings", "from_env", "override", "settings", "update",
           "jit_disabled", "UnsupportedOptionError"]

# `jit` runs functions eagerly while this is on: process-wide (`update("jax_disable_jit",
# ...)`), or for a block of this thread (`jitcore.disable_jit()`). `_may_disable` is True once
# either was ever asked for, so the cached call path reads one module attribute until then.
_disable_jit_process = False
_disable_jit_here: contextvars.ContextVar = contextvars.ContextVar("jitcore_disable_jit",
                                                                  default=None)
_may_disable = False
# `update("jax_debug_nans", True)`: jitted calls check their float outputs for NaN.
debug_nans = False


class UnsupportedOptionError(AttributeError, ValueError):
    """`config.update` with an option jitcore does not have."""


def jit_disabled() -> bool:
    """Does `jit` run functions eagerly here (`disable_jit()` block or `jax_disable_jit`)?"""
    here = _disable_jit_here.get()
    return _disable_jit_process if here is None else here


def update(name: str, value):
    """Set one of JAX's configuration options that jitcore knows (`jax.config.update`):

    - `jax_enable_x64`: jitcore is always 64-bit (float64/int64 defaults); True is accepted,
      False raises;
    - `jax_disable_jit`: `jit` calls run the function eagerly, op by op;
    - `jax_debug_nans`: a jitted call whose float output holds a NaN raises FloatingPointError;
    - `jax_log_compiles`: a log record per compile (the `log_compiles` setting: logger
      "jitcore", WARNING, with the reason the call missed the cache).

    Any other name raises UnsupportedOptionError (an AttributeError, as JAX raises for a name
    it does not know, and a ValueError) naming it; jitcore's own settings are `override(...)` or
    `settings.<name> = value`."""
    global _disable_jit_process, _may_disable, debug_nans
    if name == "jax_enable_x64":
        if not value:
            raise ValueError(
                "config.update('jax_enable_x64', False): jitcore is always 64-bit (arrays and "
                "Python numbers default to float64 and int64); 32-bit defaults are not "
                "supported. Pass dtype=jnp.float32 where you want 32-bit arrays")
    elif name == "jax_disable_jit":
        _disable_jit_process = bool(value)
        _may_disable = True
    elif name == "jax_debug_nans":
        debug_nans = bool(value)
        from .inspection import set_nan_checks
        set_nan_checks(debug_nans)
    elif name == "jax_log_compiles":
        settings.log_compiles = int(bool(value))
    else:
        raise UnsupportedOptionError(
            f"config.update: jitcore does not support the option {name!r}; it knows "
            "'jax_enable_x64' (True only), 'jax_disable_jit', 'jax_debug_nans' and "
            f"'jax_log_compiles'. jitcore's own settings ({', '.join(NAMES)}) are set with "
            "config.override(...) or config.settings.<name> = value")
