"""The jit cache key, and the signature of each argument leaf that goes into it.

A call's key is: the pytree structure of the dynamic arguments, the static arguments' values,
each array leaf's signature, the backend, which leaves are donated (an executable compiled for
donation may write into those arrays, so a call without donation must never reach it), and
whether it names a bucket's specialization (jitcore.bucketing) rather than exact shapes.

A leaf's signature is `(shape, dtype, weak_type)` for an array in host memory, a
`devices.DeviceSig` for one in device memory, or the type `int`, `float` or `bool` for a Python
scalar (whose dtype follows the defaults). A bucketed key's shapes hold `("dim", symbol, lo,
hi)` for each dynamic size.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ops import core, dtypes
from ops.core import ShapedArray, Tracer
from ops.errors import InvalidArgumentError

from .array import Array
from .devices import device_leaf

NO_DONATION = frozenset()


class CacheKey(NamedTuple):
    treedef: object           # tree_util.PyTreeDef of the dynamic arguments
    statics: tuple | None     # ((position or name, value), ...); None: the function has none
    sigs: tuple               # per flat leaf, its signature
    backend: str
    donated: frozenset        # flat indices of the leaves the executable may write into
    bucketed: bool = False

    def without_donation(self) -> "CacheKey":
        return self._replace(donated=NO_DONATION)


# The call path builds its key as a plain tuple of these fields: a tuple equals, and hashes
# as, the CacheKey of the same fields, so it finds the entries stored under CacheKeys, without
# the cost of building a NamedTuple on every call (it would double the cost of building the
# key). Code that reads the fields, a miss first, turns it into a CacheKey.
as_key = CacheKey._make


# --- signatures of argument leaves ---------------------------------------------------------
# Each returns the leaf's signature and the value handed to the executable.

def _sig_array(x):
    v = x._value
    if v is None:
        return device_leaf(x)   # an Array on a GPU (raises if it was deleted)
    return (v.shape, v.dtype, x.weak_type), v


def _sig_ndarray(x):
    return (x.shape, x.dtype, False), x


def _sig_generic(x):
    v = np.asarray(x)
    return (v.shape, v.dtype, False), v


def _sig_int(x):
    return int, np.asarray(x, dtypes.default_int)


def _sig_float(x):
    return float, np.asarray(x, dtypes.default_float)


def _sig_bool(x):
    return bool, np.asarray(x, dtypes.bool_)


LEAF_SIG = {Array: _sig_array, np.ndarray: _sig_ndarray, int: _sig_int, float: _sig_float,
            bool: _sig_bool}
for _t in (dtypes.bfloat16.type, np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
           np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_):
    LEAF_SIG[_t] = _sig_generic


def sig_fallback(x, fun_name):
    """The signature function of a leaf whose exact type is not in LEAF_SIG (a subclass), or
    the error that says why it cannot be an argument of jitted `fun_name`."""
    if isinstance(x, Tracer):
        raise core.UnexpectedTracerError(
            f"jit({fun_name}): a traced value {x.aval.str_short()} from a finished trace "
            "was passed as an argument")
    if isinstance(x, Array):
        return _sig_array
    if isinstance(x, np.ndarray):
        return _sig_ndarray
    if isinstance(x, np.generic):
        return _sig_generic
    raise InvalidArgumentError(
        f"jit({fun_name}): an argument of type {type(x).__name__} is not a valid array: "
        f"{x!r:.60}",
        hint="pass arrays or Python numbers; mark other arguments static with "
             "static_argnums or static_argnames")


SCALAR_AVAL = {int: ShapedArray((), dtypes.default_int, True),
               float: ShapedArray((), dtypes.default_float, True),
               bool: ShapedArray((), dtypes.bool_, False)}


def aval_from_sig(sig) -> ShapedArray:
    if sig in SCALAR_AVAL:
        return SCALAR_AVAL[sig]
    shape, dtype, weak = sig
    return ShapedArray(shape, dtypes.canonicalize(dtype, "jit argument"), weak)
