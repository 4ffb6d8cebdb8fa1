"""`jitcore.scipy.stats.t`: Student's t distribution with `df` degrees of freedom."""
from __future__ import annotations

import math

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact
from .. import special

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote_to_inexact("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half_df = df / 2
    half_df_plus = half_df + 0.5
    normalize = (special.gammaln(half_df) + jnp.log(scale * scale * math.pi * df) / 2
                 - special.gammaln(half_df_plus))
    return -(normalize + half_df_plus * jnp.log1p(z * z / df))


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))
