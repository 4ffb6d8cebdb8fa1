"""`jitcore.scipy.stats.vonmises`: the von Mises (circular normal) distribution with
concentration `kappa`."""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as jnp
from ...numpy._promotion import promote_to_inexact

__all__ = ["logpdf", "pdf"]

# Chebyshev coefficients of exp(-x) I0(x) (Cephes i0e): _A on [0, 8] in the variable x/2 - 2,
# _B on (8, inf) for sqrt(x) exp(-x) I0(x) in 32/x - 2.
_A = [-4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
      1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
      -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
      9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
      -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
      1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
      -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
      1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
      -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
      1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1]
_B = [-7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
      3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
      1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
      -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
      7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
      -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
      3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
      2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
      8.04490411014108831608e-1]


def _chbevl(x, coeffs):
    b0 = jnp.zeros_like(x) + coeffs[0]
    b1 = jnp.zeros_like(x)
    b2 = b1
    for c in coeffs[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _i0e(x):
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""
    x = jnp.abs(x)
    small = jnp.minimum(x, 8.0)
    large = jnp.maximum(x, 8.0)  # keeps 32/x finite in the branch that is not selected
    return jnp.where(x <= 8.0, _chbevl(small / 2 - 2, _A),
                     _chbevl(32.0 / large - 2, _B) / jnp.sqrt(large))


def logpdf(x, kappa):
    x, kappa = promote_to_inexact("vonmises.logpdf", x, kappa)
    # log I0(kappa) = log i0e(kappa) + kappa, folded into kappa (cos x - 1) to avoid overflow.
    val = kappa * (jnp.cos(x) - 1) - jnp.log(2 * math.pi * _i0e(kappa))
    return jnp.where(kappa > 0, val, np.nan)


def pdf(x, kappa):
    return jnp.exp(logpdf(x, kappa))
