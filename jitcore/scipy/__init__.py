"""`jitcore.scipy`: the parts of `jax.scipy` that jitcore provides (`special`, `stats.norm`)."""
from . import special, stats  # noqa: F401

__all__ = ["special", "stats"]
