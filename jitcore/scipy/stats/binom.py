"""`jitcore.scipy.stats.binom`: the binomial distribution with `n` trials, probability `p`."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote_to_inexact("binom.logpmf", k, n, p, loc)
    y = k - loc
    gl = special.gammaln
    comb = gl(n + 1) - (gl(y + 1) + gl(n - y + 1))
    log_linear = special.xlogy(y, p) + special.xlog1py(n - y, -p)
    log_probs = comb + log_linear
    # A certain outcome (n == 0, or p at 0/1 with the matching k) has probability exactly one.
    certain = ((y == 0) & (n == 0)) | (log_linear == 0)
    log_probs = jnp.where(certain, 0.0, log_probs)
    return jnp.where((k >= loc) & (k < loc + n + 1), log_probs, -np.inf)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
