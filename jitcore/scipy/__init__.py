"""`jitcore.scipy`: the parts of `jax.scipy` that jitcore provides (`special`, `stats.norm`, `fft`)."""
from . import linalg, special, stats  # noqa: F401
from . import fft  # noqa: F401

__all__ = ["linalg", "special", "stats", "fft"]
