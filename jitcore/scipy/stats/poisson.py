"""`jitcore.scipy.stats.poisson`: the Poisson distribution with mean `mu`."""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special
from ..special import gammaincc

__all__ = ["logpmf", "pmf", "cdf", "entropy"]


def logpmf(k, mu, loc=0):
    k, mu, loc = promote_to_inexact("poisson.logpmf", k, mu, loc)
    x = k - loc
    log_probs = special.xlogy(x, mu) - special.gammaln(x + 1) - mu
    return jnp.where((x < 0) | (jnp.round(k) != k), -np.inf, log_probs)


def pmf(k, mu, loc=0):
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = promote_to_inexact("poisson.cdf", k, mu, loc)
    x = k - loc
    # P(X <= k) = Q(floor(k) + 1, mu), the regularized upper incomplete gamma function.
    p = gammaincc(jnp.floor(1 + jnp.maximum(x, 0)), mu)
    return jnp.where(x < 0, 0.0, p)


def _entr(p):
    return -special.xlogy(p, p)


def _entropy_sum(mu, max_k, upper):
    """Sum of -p log p over k < min(max_k, upper): exact for small means."""
    k = jnp.arange(max_k, dtype=mu.dtype)[:, None]
    probs = pmf(k, mu[None, :], 0)
    probs = jnp.where(k < upper[None, :], probs, 0.0)
    return jnp.sum(_entr(probs), axis=0)


def entropy(mu, loc=0):
    """Entropy of Poisson(mu): a direct sum for mu < 100, the asymptotic series above."""
    mu, loc = promote_to_inexact("poisson.entropy", mu, loc)
    shape = mu.shape
    flat = jnp.ravel(mu)
    small = _entropy_sum(flat, 35, jnp.ceil(flat + 20))
    medium = _entropy_sum(flat, 250, jnp.ceil(flat + 10 * jnp.sqrt(flat) + 20))
    safe = jnp.where(flat > 0, flat, 1.0)
    large = 0.5 * jnp.log(2 * math.pi * math.e * safe) - 1.0 / (12 * safe)
    result = jnp.where(flat == 0, 0.0,
                       jnp.where(flat < 10, small, jnp.where(flat < 100, medium, large)))
    return jnp.reshape(result, shape)
