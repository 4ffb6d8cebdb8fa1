"""`jitcore.scipy.stats.nbinom`: the negative binomial distribution (failures before the n-th
success, success probability `p`)."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote_to_inexact("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    gl = special.gammaln
    comb = gl(y + n) - gl(n) - gl(y + 1)
    log_linear = special.xlogy(n, p) + special.xlogy(y, 1 - p)
    return jnp.where(k < loc, -np.inf, comb + log_linear)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
