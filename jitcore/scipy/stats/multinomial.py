"""`jitcore.scipy.stats.multinomial`: the multinomial distribution; counts `x` on the last
axis (integers) with total `n` and category probabilities `p`."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import aval_of, promote_to_inexact
from .. import special
from ._common import promote_dtypes_numeric

__all__ = ["logpmf", "pmf"]


def logpmf(x, n, p):
    (p,) = promote_to_inexact("multinomial.logpmf", p)
    x, n = promote_dtypes_numeric(x, n)
    if aval_of(x).dtype.kind not in "iu":
        raise ValueError("multinomial.logpmf: x and n must be of integer type; "
                         f"got x.dtype={aval_of(x).dtype}, n.dtype={aval_of(n).dtype}")
    dt = aval_of(p).dtype
    x, n = x.astype(dt), n.astype(dt)
    logprobs = special.gammaln(n + 1) + jnp.sum(special.xlogy(x, p) - special.gammaln(x + 1),
                                                axis=-1)
    return jnp.where(jnp.sum(x) == n, logprobs, -np.inf)


def pmf(x, n, p):
    return jnp.exp(logpmf(x, n, p))
