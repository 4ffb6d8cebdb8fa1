"""`jitcore.scipy.stats.truncnorm`: the normal distribution truncated to [a, b] (in standard
units: the support is loc + scale * [a, b])."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special
from . import norm

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _log_diff(x, y):
    """log(exp(x) - exp(y)) for x >= y."""
    return special.logsumexp(jnp.stack([x, y]), b=jnp.stack([jnp.ones_like(x), -jnp.ones_like(y)]),
                             axis=0)


def _log_gauss_mass(a, b):
    """log(Phi(b) - Phi(a)), taking differences in the far tail where they do not cancel."""
    a, b = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(b))
    case_left = b <= 0
    case_right = a > 0
    case_central = ~(case_left | case_right)
    # In the right tail mirror to the left one: Phi(b) - Phi(a) = Phi(-a) - Phi(-b).
    a_tail = jnp.where(case_right, -b, a)
    b_tail = jnp.where(case_right, -a, b)
    mass_tail = _log_diff(special.log_ndtr(b_tail), special.log_ndtr(a_tail))
    mass_central = jnp.log1p(-special.ndtr(a) - special.ndtr(-b))
    return jnp.where(case_central, mass_central, mass_tail)


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote_to_inexact("truncnorm.logpdf", x, a, b, loc, scale)
    val = norm.logpdf(x, loc, scale) - _log_gauss_mass(a, b)
    z = (x - loc) / scale
    val = jnp.where((z < a) | (z > b), -np.inf, val)
    return jnp.where(a >= b, np.nan, val)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote_to_inexact("truncnorm.logcdf", x, a, b, loc, scale)
    z = (x - loc) / scale
    lgm_ab = _log_gauss_mass(a, b)
    log_cdf = _log_gauss_mass(a, z) - lgm_ab
    log_sf = _log_gauss_mass(z, b) - lgm_ab
    # Near 1 the cdf is better computed from the small survival mass.
    out = jnp.select([z >= b, z <= a, log_cdf > -0.1, z > a],
                     [jnp.zeros_like(z), jnp.full_like(z, -np.inf),
                      jnp.log1p(-jnp.exp(log_sf)), log_cdf])
    return jnp.where(a >= b, np.nan, out)


def cdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote_to_inexact("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


def sf(x, a, b, loc=0, scale=1):
    return jnp.exp(logsf(x, a, b, loc, scale))
