"""``ravel_pytree``: a pytree of arrays as one flat vector, and the function that undoes it."""
import functools

import numpy as np

from . import lax
from . import numpy as jnp
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["ravel_pytree"]


def ravel_pytree(pytree):
    """Return ``(flat, unravel)``: every leaf raveled and concatenated in ``tree_leaves``
    order into one 1-D array of the leaves' promoted dtype (float32 and empty for no
    leaves), and ``unravel(flat)`` rebuilding the tree with each leaf's shape and dtype."""
    leaves, treedef = tree_flatten(pytree)
    flat, unravel_list = _ravel_list(leaves)
    return flat, functools.partial(_unravel_pytree, treedef, unravel_list)


def _unravel_pytree(treedef, unravel_list, flat):
    return tree_unflatten(treedef, unravel_list(flat))


def _dtype(x):
    dt = getattr(x, "dtype", None)
    return np.dtype(dt) if dt is not None else jnp.asarray(x).dtype


def _ravel_list(leaves):
    if not leaves:
        return jnp.array([], jnp.float32), lambda _: []
    from_dtypes = tuple(_dtype(x) for x in leaves)
    to_dtype = jnp.result_type(*from_dtypes)
    shapes = tuple(np.shape(x) for x in leaves)
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    indices = tuple(np.cumsum(sizes).tolist())
    raveled = jnp.concatenate([jnp.ravel(lax.convert_element_type(x, to_dtype)) for x in leaves])
    return raveled, functools.partial(_unravel_list, indices, shapes, from_dtypes, to_dtype)


def _unravel_list(indices, shapes, from_dtypes, to_dtype, flat):
    flat_dtype = _dtype(flat)
    if flat_dtype != to_dtype and len(set(from_dtypes)) > 1:
        raise TypeError(f"unravel function given array of dtype {flat_dtype}, "
                        f"but expected dtype {to_dtype}")
    if np.shape(flat) != (indices[-1],):
        raise ValueError(f"The unravel function expected an array of shape {(indices[-1],)}, "
                         f"got shape {np.shape(flat)}.")
    chunks = jnp.split(flat, list(indices[:-1]))
    return [lax.convert_element_type(c.reshape(s), dt)
            for c, s, dt in zip(chunks, shapes, from_dtypes)]
