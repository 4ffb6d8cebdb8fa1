"""`jitcore.scipy.stats.dirichlet`: the Dirichlet distribution on the simplex. `x` has the
categories on axis 0 (K entries, or K - 1 with the last one implied), `alpha` is 1-D."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import aval_of
from .. import special
from ._common import promote_dtypes_inexact

__all__ = ["logpdf", "pdf"]


def _is_simplex(x):
    return jnp.all(x > 0, axis=0) & (jnp.abs(jnp.sum(x, axis=0) - 1) < 1e-6)


def logpdf(x, alpha):
    x, alpha = promote_dtypes_inexact(x, alpha)
    xs, al = aval_of(x).shape, aval_of(alpha).shape
    if len(al) != 1:
        raise ValueError(f"dirichlet.logpdf: `alpha` must be one-dimensional; got alpha.shape={al}")
    if len(xs) == 0 or xs[0] not in (al[0], al[0] - 1):
        raise ValueError("dirichlet.logpdf: `x` must have either the same number of entries as "
                         f"`alpha` or one entry fewer; got x.shape={xs}, alpha.shape={al}")
    if xs[0] != al[0]:
        x = jnp.concatenate([x, 1 - jnp.sum(x, axis=0, keepdims=True)], axis=0)
    normalize = jnp.sum(special.gammaln(alpha)) - special.gammaln(jnp.sum(alpha))
    alpha_b = jnp.reshape(alpha, al + (1,) * (len(xs) - 1))
    log_probs = jnp.sum(special.xlogy(alpha_b - 1, x), axis=0) - normalize
    return jnp.where(_is_simplex(x), log_probs, -np.inf)


def pdf(x, alpha):
    return jnp.exp(logpdf(x, alpha))
