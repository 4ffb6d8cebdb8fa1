"""`jitcore.scipy.stats.gennorm`: the generalized normal distribution with shape `beta`
(beta = 2 is a normal with variance 1/2, beta = 1 the Laplace distribution)."""
from __future__ import annotations

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special
from ..special import gammainc

__all__ = ["logpdf", "pdf", "cdf"]


def logpdf(x, beta):
    x, beta = promote_to_inexact("gennorm.logpdf", x, beta)
    return jnp.log(0.5 * beta) - special.gammaln(1 / beta) - jnp.abs(x) ** beta


def pdf(x, beta):
    return jnp.exp(logpdf(x, beta))


def cdf(x, beta):
    x, beta = promote_to_inexact("gennorm.cdf", x, beta)
    return 0.5 * (1 + jnp.sign(x) * gammainc(1 / beta, jnp.abs(x) ** beta))
