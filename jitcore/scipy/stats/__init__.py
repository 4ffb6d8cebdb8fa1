"""`jitcore.scipy.stats`: probability distributions, one module per family as in
`jax.scipy.stats` (each with logpdf/pdf or logpmf/pmf, and cdf, sf, ppf... where JAX has them)."""
from . import (bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon,  # noqa: F401
               gamma, gennorm, geom, laplace, logistic, multinomial, multivariate_normal,
               nbinom, norm, pareto, poisson, t, truncnorm, uniform, vonmises)

__all__ = ["bernoulli", "beta", "betabinom", "binom", "cauchy", "chi2", "dirichlet", "expon",
           "gamma", "gennorm", "geom", "laplace", "logistic", "multinomial",
           "multivariate_normal", "nbinom", "norm", "pareto", "poisson", "t", "truncnorm",
           "uniform", "vonmises"]

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
