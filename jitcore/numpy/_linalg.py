"""Products in `jitcore.numpy`: matmul, dot, tensordot, einsum, outer, inner, vdot, kron,
cross, trace, diag, diagonal, tril, triu."""
from __future__ import annotations

from ops import linalg
from ops.errors import ShapeError

from ._promotion import aval_of, promote_args

__all__ = ["matmul"]


def matmul(a, b, /):
    a, b = promote_args("matmul", a, b) if False else _promote_dtypes("matmul", a, b)
    sa, sb = aval_of(a).shape, aval_of(b).shape
    if len(sa) == 2 and len(sb) == 2:
        if sa[1] != sb[0]:
            raise ShapeError(f"matmul: contraction mismatch: {sa} @ {sb} (size {sa[1]} vs {sb[0]})")
        return linalg.dot_general(a, b, dimension_numbers=(((1,), (0,)), ((), ())))
    raise NotImplementedError("matmul of these ranks")


def _promote_dtypes(op, *args):
    from ._promotion import result_dtype, convert
    d, w = result_dtype(*args)
    return [convert(x, d, w) for x in args]
