"""`jitcore.scipy.stats.laplace`: the Laplace (double exponential) distribution."""
from __future__ import annotations

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact

__all__ = ["logpdf", "pdf", "cdf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("laplace.logpdf", x, loc, scale)
    return -(jnp.abs(x - loc) / scale + jnp.log(2 * scale))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("laplace.cdf", x, loc, scale)
    z = (x - loc) / scale
    # Each branch only exponentiates a non-positive number, so neither overflows.
    return jnp.where(z <= 0, 0.5 * jnp.exp(jnp.minimum(z, 0)), 1 - 0.5 * jnp.exp(-jnp.maximum(z, 0)))
