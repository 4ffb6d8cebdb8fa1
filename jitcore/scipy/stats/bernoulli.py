"""`jitcore.scipy.stats.bernoulli`: the Bernoulli distribution with success probability `p`."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


def logpmf(k, p, loc=0):
    k, p, loc = promote_to_inexact("bernoulli.logpmf", k, p, loc)
    x = k - loc
    log_probs = special.xlogy(x, p) + special.xlog1py(1 - x, -p)
    return jnp.where((x < 0) | (x > 1), -np.inf, log_probs)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    k, p = promote_to_inexact("bernoulli.cdf", k, p)
    zero, one = jnp.zeros_like(k), jnp.ones_like(k)
    conds = [jnp.isnan(k) | jnp.isnan(p) | (p < 0) | (p > 1), k < 0, (k >= 0) & (k < 1), k >= 1]
    return jnp.select(conds, [jnp.full_like(k, np.nan), zero, one - p, one])


def ppf(q, p):
    q, p = promote_to_inexact("bernoulli.ppf", q, p)
    invalid = jnp.isnan(q) | jnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return jnp.where(invalid, np.nan, jnp.where(q <= 1 - p, jnp.zeros_like(q), jnp.ones_like(q)))
