"""`jitcore.scipy.stats.norm`: the normal distribution with location `loc` and scale `scale`,
as `jax.scipy.stats.norm` (arguments broadcast together and promote to a float dtype)."""
from __future__ import annotations

import math

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("norm.logpdf", x, loc, scale)
    scale_sq = scale * scale
    return (jnp.log((2 * math.pi) * scale_sq) + jnp.square(x - loc) / scale_sq) / -2.0


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("norm.cdf", x, loc, scale)
    return special.ndtr((x - loc) / scale)


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("norm.logcdf", x, loc, scale)
    return special.log_ndtr((x - loc) / scale)


def sf(x, loc=0, scale=1):
    """The survival function 1 - cdf, without the cancellation in the upper tail."""
    x, loc, scale = promote_to_inexact("norm.sf", x, loc, scale)
    return special.ndtr((loc - x) / scale)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("norm.logsf", x, loc, scale)
    return special.log_ndtr((loc - x) / scale)


def ppf(q, loc=0, scale=1):
    """The quantile function (inverse of cdf)."""
    q, loc, scale = promote_to_inexact("norm.ppf", q, loc, scale)
    return special.ndtri(q) * scale + loc


def isf(q, loc=0, scale=1):
    """The inverse survival function: ppf(1 - q)."""
    q, loc, scale = promote_to_inexact("norm.isf", q, loc, scale)
    return ppf(1.0 - q, loc, scale)
