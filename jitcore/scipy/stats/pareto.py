"""`jitcore.scipy.stats.pareto`: the Pareto distribution with shape `b`, supported on
x >= loc + scale."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _scaled(x, loc, scale):
    """(x - loc) / scale and the support mask; outside the support z is 1 so logs stay finite
    in the discarded branch (and its gradient)."""
    ok = x >= loc + scale
    return jnp.where(ok, (x - loc) / scale, jnp.ones_like(x)), ok


def logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote_to_inexact("pareto.logpdf", x, b, loc, scale)
    z, ok = _scaled(x, loc, scale)
    log_probs = -(jnp.log(scale / b) + (b + 1) * jnp.log(z))
    return jnp.where(ok, log_probs, -np.inf)


def pdf(x, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote_to_inexact("pareto.cdf", x, b, loc, scale)
    z, ok = _scaled(x, loc, scale)
    return jnp.where(ok, 1 - z ** -b, 0.0)


def logcdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote_to_inexact("pareto.logcdf", x, b, loc, scale)
    z, ok = _scaled(x, loc, scale)
    return jnp.where(ok, jnp.log1p(-(z ** -b)), -np.inf)


def logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote_to_inexact("pareto.logsf", x, b, loc, scale)
    z, ok = _scaled(x, loc, scale)
    return jnp.where(ok, -b * jnp.log(z), 0.0)


def sf(x, b, loc=0, scale=1):
    return jnp.exp(logsf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote_to_inexact("pareto.ppf", q, b, loc, scale)
    val = loc + scale * (1 - q) ** (-1 / b)
    return jnp.where(jnp.isnan(q) | (q < 0) | (q > 1), np.nan, val)
