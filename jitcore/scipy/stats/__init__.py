"""`jitcore.scipy.stats`: probability distributions (so far the normal distribution, `norm`)."""
from . import norm  # noqa: F401

__all__ = ["norm"]
