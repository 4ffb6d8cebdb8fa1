"""NumPy references of the elementwise math functions NumPy lacks or computes differently:
logistic, erf and erf_inv (`ops.elementwise` defines the primitives with them).
"""
from __future__ import annotations

import math

import numpy as np


def logistic(x):
    if x.dtype.name == "bfloat16":
        # XLA expands bfloat16 logistic as 1 / (1 + exp(-x)), each op rounded to bfloat16
        # (ml_dtypes' ufuncs compute each in float32 and round).
        return 1 / (1 + np.exp(-x))
    # Stable on both tails: never exponentiates a large positive number.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


logistic.bfloat16_steps = True   # rounds its own bfloat16 steps (`ops.rules`)


_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    # np.asarray: on a 0-d input frompyfunc returns a bare Python float.
    return np.asarray(_erf_scalar(x.astype(np.float64)), np.float64).astype(x.dtype)


# erf_inv: Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): polynomials
# in w = -log(1 - x^2), highest degree first, for w < 6.25, w < 16 (in sqrt(w) - 3.25) and above
# (in sqrt(w) - 5). About 4 ULP in float64 when w is computed as -log((1 - x)(1 + x)); the
# compiled backends evaluate exactly this.
ERF_INV64_A = (-3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
               1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
               6.6376381343583238325e-15, -4.0545662729752068639e-14,
               -8.1519341976054721522e-14, 2.6335093153082322977e-12,
               -1.2975133253453532498e-11, -5.4154120542946279317e-11,
               1.051212273321532285e-09, -4.1126339803469836976e-09,
               -2.9070369957882005086e-08, 4.2347877827932403518e-07,
               -1.3654692000834678645e-06, -1.3882523362786468719e-05,
               0.0001867342080340571352, -0.00074070253416626697512,
               -0.0060336708714301490533, 0.24015818242558961693, 1.6536545626831027356)
ERF_INV64_B = (2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
               1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
               2.9234449089955446044e-06, 1.2475304481671778723e-05,
               -4.7318229009055733981e-05, 6.8284851459573175448e-05,
               2.4031110387097893999e-05, -0.0003550375203628474796,
               0.00095328937973738049703, -0.0016882755560235047313,
               0.0024914420961078508066, -0.0037512085075692412107,
               0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635)
ERF_INV64_C = (-2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
               -3.7894654401267369937e-09, 7.6157012080783393804e-09,
               -1.4960026627149240478e-08, 2.9147953450901080826e-08,
               -6.7711997758452339498e-08, 2.2900482228026654717e-07,
               -9.9298272942317002539e-07, 4.5260625972231537039e-06,
               -1.9681778105531670567e-05, 7.5995277030017761139e-05,
               -0.00021503011930044477347, -0.00013871931833623122026,
               1.0103004648645343977, 4.8499064014085844221)
_erfc_scalar = np.frompyfunc(math.erfc, 1, 1)


def _horner(coeffs, w):
    p = np.full_like(w, coeffs[0])
    for c in coeffs[1:]:
        p = p * w + c
    return p


def erf_inv(x):
    a = np.abs(x.astype(np.float64))
    # (1 - a) is exact for a >= 1/2, where 1 - a^2 would lose the small difference.
    w = -np.log((1 - a) * (1 + a))
    sw = np.sqrt(np.maximum(w, 6.25))
    y = a * np.where(w < 6.25, _horner(ERF_INV64_A, w - 3.125),
                     np.where(w < 16.0, _horner(ERF_INV64_B, sw - 3.25),
                              _horner(ERF_INV64_C, sw - 5.0)))
    # One Newton step on erf (on erfc above 1/2, where 1 - a is exact) brings the polynomial's
    # few ULP down to the last bit: the reference is float64-accurate.
    resid = np.where(a < 0.5, np.asarray(_erf_scalar(y), np.float64) - a,
                     (1 - a) - np.asarray(_erfc_scalar(y), np.float64))
    y = y - resid / ((2 / math.sqrt(math.pi)) * np.exp(-y * y))
    y = np.where(a == 1, np.inf, np.where(a > 1, np.nan, y))
    # copysign: erf_inv(-0.0) is -0.0 and NaN stays NaN.
    return np.copysign(y, x).astype(x.dtype)
