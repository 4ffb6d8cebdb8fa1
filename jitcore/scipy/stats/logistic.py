"""`jitcore.scipy.stats.logistic`: the logistic distribution with location `loc`, scale `scale`."""
from __future__ import annotations

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("logistic.logpdf", x, loc, scale)
    half = (x - loc) / scale / 2
    # -2 log(e^{z/2} + e^{-z/2}) is the symmetric, overflow-free form of z - 2 log(1 + e^z).
    return -2.0 * jnp.logaddexp(half, -half) - jnp.log(scale)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("logistic.cdf", x, loc, scale)
    return special.expit((x - loc) / scale)


def sf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("logistic.sf", x, loc, scale)
    return special.expit(-(x - loc) / scale)


def ppf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("logistic.ppf", x, loc, scale)
    return special.logit(x) * scale + loc


def isf(x, loc=0, scale=1):
    x, loc, scale = promote_to_inexact("logistic.isf", x, loc, scale)
    return -special.logit(x) * scale + loc
