"""Pieces shared by the distribution modules: dtype promotion without broadcasting (for the
multivariate families), `betaln`, and the incomplete gamma/beta functions, looked up in
`jitcore.scipy.special` when called."""
from __future__ import annotations

from ops import dtypes

from ...numpy._promotion import convert, result_dtype
from .. import special


def special_fn(name: str, family: str):
    fn = getattr(special, name, None)
    if fn is None:
        raise NotImplementedError(f"{family} needs jitcore.scipy.special.{name}, "
                                  "which this build does not provide")
    return fn


def betaln(a, b):
    """log B(a, b): special.betaln when present (accurate for large arguments), else from
    gammaln."""
    fn = getattr(special, "betaln", None)
    if fn is not None:
        return fn(a, b)
    return special.gammaln(a) + special.gammaln(b) - special.gammaln(a + b)


def promote_dtypes_inexact(*args):
    """The arguments converted to one common inexact dtype, shapes left as they are."""
    dtype, weak = result_dtype(*args)
    dtype = dtypes.to_inexact(dtype, weak)
    return [convert(a, dtype, weak) for a in args]


def promote_dtypes_numeric(*args):
    """The arguments converted to their common dtype (ints stay ints), shapes left as they are."""
    dtype, weak = result_dtype(*args)
    return [convert(a, dtype, weak) for a in args]
