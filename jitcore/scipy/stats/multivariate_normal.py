"""`jitcore.scipy.stats.multivariate_normal`: the multivariate normal with mean `mean` (last
axis is the event) and covariance `cov` (a scalar times the identity, or a matrix)."""
from __future__ import annotations

import math

from ... import lax
from ... import numpy as jnp
from ...numpy._promotion import aval_of
from ._common import promote_dtypes_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = promote_dtypes_inexact(x, mean, cov)
    mshape, cshape = aval_of(mean).shape, aval_of(cov).shape
    if not mshape:
        return -0.5 * jnp.square(x - mean) / cov - 0.5 * (math.log(2 * math.pi) + jnp.log(cov))
    n = mshape[-1]
    y = x - mean
    if not cshape:
        return (-0.5 * jnp.einsum("...i,...i->...", y, y) / cov
                - n / 2 * (math.log(2 * math.pi) + jnp.log(cov)))
    if len(cshape) < 2 or tuple(cshape[-2:]) != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes: "
                         f"x {aval_of(x).shape}, mean {mshape}, cov {cshape}")
    chol = lax.linalg.cholesky(cov)
    # Whitened residual L^{-1} (x - mean): its squared norm is the Mahalanobis distance.
    solve = jnp.vectorize(
        lambda a, b: lax.linalg.triangular_solve(a, b, lower=True, transpose_a=True),
        signature="(n,n),(n)->(n)")
    z = solve(chol, y)
    return (-0.5 * jnp.einsum("...i,...i->...", z, z) - n / 2 * math.log(2 * math.pi)
            - jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-1, axis2=-2)), axis=-1))


def pdf(x, mean, cov):
    return jnp.exp(logpdf(x, mean, cov))
