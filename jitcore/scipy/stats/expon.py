"""`jitcore.scipy.stats.expon`: the exponential distribution, supported on x >= loc."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("expon.logpdf", x, loc, scale)
    log_probs = -((x - loc) / scale + jnp.log(scale))
    return jnp.where(x < loc, -np.inf, log_probs)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("expon.cdf", x, loc, scale)
    neg_scaled = (loc - x) / scale
    # -expm1 keeps precision for small x where 1 - exp(-x) would cancel.
    return jnp.where(x < loc, jnp.zeros_like(neg_scaled), -jnp.expm1(neg_scaled))


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("expon.logsf", x, loc, scale)
    neg_scaled = (loc - x) / scale
    return jnp.where(x < loc, jnp.zeros_like(neg_scaled), neg_scaled)


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    return jnp.log1p(-sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote_to_inexact("expon.ppf", q, loc, scale)
    return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), np.nan, loc - scale * jnp.log1p(-q))
