"""Index helpers of `jitcore.numpy`: insert/delete, (un)ravelling multi-indices, ix_, mgrid and
ogrid, triangle indices, bit packing and `vectorize`.

Sizes are static: positions given as Python values are resolved with NumPy at trace time;
traced positions follow JAX's rules (delete needs `assume_unique_indices=True`).
"""
from __future__ import annotations

import numpy as np

from ops import core
from ops.errors import ConcretizationTypeError

from ._promotion import asarray, aval_of

__all__ = ["insert", "delete", "unravel_index", "ravel_multi_index", "ix_", "mgrid", "ogrid",
           "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
           "packbits", "unpackbits", "vectorize"]


def _jnp():
    from .. import numpy as jnp  # this module is imported while jitcore.numpy initialises
    return jnp


def _traced(x):
    return isinstance(x, core.Tracer)


def _axis_index(nd, axis, idx):
    return (slice(None),) * axis + (idx,) + (slice(None),) * (nd - axis - 1)


def _along(op, arr, axis):
    """(array, axis, its ndim, its size along axis): flattened when `axis` is None."""
    a = asarray(arr)
    if axis is None:
        a, axis = _jnp().ravel(a), 0
    nd = aval_of(a).ndim
    axis = axis + nd if axis < 0 else axis
    if not 0 <= axis < nd:
        raise ValueError(f"{op}: axis {axis} is out of bounds for an array of {nd} dimensions")
    return a, axis, nd, aval_of(a).shape[axis]


def insert(arr, obj, values, axis=None):
    """`arr` with `values` inserted before the positions `obj` along `axis` (flattened when
    None). `obj` may be an int, a slice, a sequence or an integer array (also traced)."""
    jnp = _jnp()
    a, axis, nd, n = _along("insert", arr, axis)
    values = asarray(values).astype(aval_of(a).dtype)
    if isinstance(obj, slice):
        idx = jnp.asarray(np.arange(*obj.indices(n)))
    else:
        idx = asarray(obj)
    if not (np.issubdtype(aval_of(idx).dtype, np.integer)):
        raise TypeError(f"insert: obj must be integer indices, got {aval_of(idx).dtype}")
    if aval_of(idx).ndim > 1:
        raise ValueError(f"insert: obj must be a scalar or one-dimensional, got shape "
                         f"{aval_of(idx).shape}")
    scalar = aval_of(idx).ndim == 0
    if scalar:
        # One position: `values` fills a block whose length is its size along `axis`.
        # NumPy's rule: leading axes up to arr's rank, then the first axis moves to `axis`.
        v = values.reshape((1,) * (nd - values.ndim) + tuple(values.shape))
        v = jnp.moveaxis(v, 0, axis)
        shape = list(aval_of(a).shape)
        shape[axis] = aval_of(v).shape[axis]
        values = jnp.broadcast_to(v, tuple(shape))
        idx = jnp.full((shape[axis],), idx)
    else:
        shape = list(aval_of(a).shape)
        shape[axis] = aval_of(idx).shape[0]
        values = jnp.broadcast_to(values, tuple(shape))
    k = aval_of(idx).shape[0]
    idx = jnp.clip(jnp.where(idx < 0, idx + n, idx), 0, n)
    order = jnp.argsort(idx)
    srt = idx[order]
    # The k-th inserted value (in position order) lands at its index plus k; each original
    # element moves right by the number of inserted values at or before it.
    values_pos = jnp.zeros((k,), np.int64).at[order].set(srt + jnp.arange(k))
    arr_pos = jnp.arange(n) + jnp.searchsorted(srt, jnp.arange(n), side="right")
    out_shape = list(aval_of(a).shape)
    out_shape[axis] = n + k
    out = jnp.zeros(tuple(out_shape), aval_of(a).dtype)
    out = out.at[_axis_index(nd, axis, values_pos)].set(values)
    return out.at[_axis_index(nd, axis, arr_pos)].set(a)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """`arr` without the entries `obj` along `axis`. A traced `obj` needs
    `assume_unique_indices=True` (the output size then is `n - obj.size`), as in JAX."""
    jnp = _jnp()
    a, axis, nd, n = _along("delete", arr, axis)
    if isinstance(obj, slice):
        keep = np.setdiff1d(np.arange(n), np.arange(*obj.indices(n)))
        return a[_axis_index(nd, axis, jnp.asarray(keep))]
    if _traced(obj):
        if not assume_unique_indices:
            raise ConcretizationTypeError(
                "delete: obj must be concrete (the output size depends on it)",
                hint="pass assume_unique_indices=True to delete traced, unique indices")
        o = jnp.ravel(obj)
        o = jnp.sort(jnp.clip(jnp.where(o < 0, o + n, o), 0, n))
        o = o - jnp.arange(aval_of(o).shape[0])
        i = jnp.arange(n - aval_of(o).shape[0])
        i = i + jnp.sum(i[None, :] >= o[:, None], axis=0)
        return a[_axis_index(nd, axis, i)]
    o = np.asarray(obj)
    if o.dtype == np.bool_:
        raise ValueError("delete: boolean obj is not supported; use arr[~mask]")
    if not np.issubdtype(o.dtype, np.integer) and o.size:
        raise TypeError(f"delete: obj must be integer indices, got {o.dtype}")
    o = o.astype(np.int64)
    if np.any((o < -n) | (o >= n)):
        raise IndexError(f"delete: index out of bounds for axis {axis} with size {n}: {o}")
    mask = np.ones(n, bool)
    mask[o] = False
    return a[_axis_index(nd, axis, jnp.asarray(np.flatnonzero(mask)))]


def unravel_index(indices, shape):
    """Tuple of coordinate arrays of flat `indices` in `shape`; out-of-range indices are
    clipped (negative ones count from the end), as in JAX."""
    jnp = _jnp()
    idx = asarray(indices)
    if not np.issubdtype(aval_of(idx).dtype, np.integer):
        raise TypeError(f"unravel_index: indices must be integers, got {aval_of(idx).dtype}")
    shape = tuple(int(s) for s in (shape if np.ndim(shape) else (shape,)))
    if any(s < 0 for s in shape):
        raise ValueError(f"unravel_index: shape {shape} has a negative dimension")
    total = int(np.prod(shape))
    c = jnp.clip(idx, -total, total - 1)
    c = jnp.where(c < 0, c + total, c)
    out = []
    for s in reversed(shape):
        c, r = jnp.floor_divide(c, s), jnp.remainder(c, s)
        out.append(r)
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of the coordinate arrays `multi_index` in shape `dims`. mode='raise' needs
    concrete indices (use 'wrap' or 'clip' under jit), as in JAX."""
    jnp = _jnp()
    dims = tuple(int(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: {len(multi_index)} index arrays for "
                         f"{len(dims)} dimensions")
    if order not in ("C", "F"):
        raise ValueError(f"ravel_multi_index: order must be 'C' or 'F', got {order!r}")
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not np.issubdtype(aval_of(i).dtype, np.integer):
            raise TypeError(f"ravel_multi_index: indices must be integers, got {aval_of(i).dtype}")
    if mode == "raise":
        if any(_traced(i) for i in idx):
            raise ConcretizationTypeError(
                "ravel_multi_index: mode='raise' needs concrete indices",
                hint="use mode='wrap' or mode='clip' under jit")
        for i, d in zip(idx, dims):
            v = np.asarray(i)
            if np.any((v < 0) | (v >= d)):
                raise ValueError("ravel_multi_index: invalid entry in coordinates array")
    elif mode == "wrap":
        idx = [jnp.remainder(i, d) for i, d in zip(idx, dims)]
    elif mode == "clip":
        idx = [jnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"ravel_multi_index: invalid mode {mode!r}")
    axes = range(len(dims)) if order == "F" else range(len(dims) - 1, -1, -1)
    stride, out = 1, None
    for ax in axes:
        term = idx[ax] * stride
        out = term if out is None else out + term
        stride *= dims[ax]
    return out


def ix_(*args):
    """Open mesh from 1-D index arrays: the i-th output has its length on axis i."""
    jnp = _jnp()
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        if aval_of(a).ndim != 1:
            raise ValueError(f"ix_: arguments must be one-dimensional, got shape "
                             f"{aval_of(a).shape}")
        if aval_of(a).dtype == np.bool_:
            raise NotImplementedError("Boolean arguments to jax.numpy.ix_ are not implemented")
        shape = [1] * n
        shape[i] = aval_of(a).shape[0]
        out.append(jnp.reshape(a, tuple(shape)))
    return tuple(out)


class _Grid:
    """`mgrid[...]` / `ogrid[...]`: static slices (a complex step means a point count)."""

    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        jnp = _jnp()
        grid = np.ogrid[key] if self.sparse else np.mgrid[key]
        if isinstance(grid, (list, tuple)):
            return [jnp.asarray(g) for g in grid]
        return jnp.asarray(grid)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


def _tri_indices(op, fn, n, k, m):
    jnp = _jnp()
    for name, v in (("n", n), ("k", k), ("m", m)):
        if _traced(v):
            raise ConcretizationTypeError(f"{op}: {name} must be static, got a traced value")
    r, c = fn(int(n), int(k), None if m is None else int(m))
    return jnp.asarray(r.astype(np.int64)), jnp.asarray(c.astype(np.int64))


def tril_indices(n, k=0, m=None):
    return _tri_indices("tril_indices", np.tril_indices, n, k, m)


def triu_indices(n, k=0, m=None):
    return _tri_indices("triu_indices", np.triu_indices, n, k, m)


def _from(op, fn, arr, k):
    s = aval_of(asarray(arr)).shape
    if len(s) != 2:
        raise ValueError(f"{op}: input array must be 2-d, got shape {s}")
    return _tri_indices(op, fn, s[0], k, s[1])


def tril_indices_from(arr, k=0):
    return _from("tril_indices_from", np.tril_indices, arr, k)


def triu_indices_from(arr, k=0):
    return _from("triu_indices_from", np.triu_indices, arr, k)


def _bit_shifts(jnp, bitorder, op):
    if bitorder not in ("big", "little"):
        raise ValueError(f"{op}: bitorder must be 'big' or 'little', got {bitorder!r}")
    s = np.arange(8, dtype=np.uint8)
    return jnp.asarray(s[::-1].copy() if bitorder == "big" else s)


def packbits(a, axis=None, bitorder="big"):
    """Pack the truthiness of `a` into uint8, 8 elements per byte (zero-padded at the end)."""
    jnp = _jnp()
    a = asarray(a)
    dt = aval_of(a).dtype
    if not (np.issubdtype(dt, np.integer) or dt == np.bool_):
        raise TypeError(f"packbits: expected an integer or boolean array, got {dt}")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    a = jnp.moveaxis(a != 0, axis, -1).astype(np.uint8)
    n = aval_of(a).shape[-1]
    pad = (-n) % 8
    if pad:
        a = jnp.concatenate([a, jnp.zeros(aval_of(a).shape[:-1] + (pad,), np.uint8)], axis=-1)
    a = a.reshape(aval_of(a).shape[:-1] + ((n + pad) // 8, 8))
    packed = jnp.sum(jnp.left_shift(a, _bit_shifts(jnp, bitorder, "packbits")), axis=-1,
                     dtype=np.uint8)
    return jnp.moveaxis(packed, -1, axis)


def unpackbits(a, axis=None, count=None, bitorder="big"):
    """Bits of the uint8 array `a` as a uint8 array of 0/1, 8 per byte; `count` keeps the first
    `count` bits (negative: drops from the end; beyond the end: zero-pads)."""
    jnp = _jnp()
    a = asarray(a)
    if aval_of(a).dtype != np.uint8:
        raise TypeError(f"unpackbits: expected a uint8 array, got {aval_of(a).dtype}")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    a = jnp.moveaxis(a, axis, -1)
    bits = jnp.right_shift(a[..., None], _bit_shifts(jnp, bitorder, "unpackbits")) & 1
    bits = bits.reshape(aval_of(a).shape[:-1] + (aval_of(a).shape[-1] * 8,))
    if count is not None:
        n = aval_of(bits).shape[-1]
        count = int(count)
        keep = count if count >= 0 else max(n + count, 0)
        if keep <= n:
            bits = bits[..., :keep]
        else:
            bits = jnp.concatenate(
                [bits, jnp.zeros(aval_of(bits).shape[:-1] + (keep - n,), np.uint8)], axis=-1)
    return jnp.moveaxis(bits, -1, axis)


def _parse_signature(sig):
    import re
    m = re.fullmatch(r"\s*(.*?)\s*->\s*(.*?)\s*", sig)
    if not m:
        raise ValueError(f"vectorize: invalid signature {sig!r}")

    def groups(s):
        return [tuple(d.strip() for d in g.split(",") if d.strip())
                for g in re.findall(r"\(([^()]*)\)", s)]
    return groups(m.group(1)), groups(m.group(2))


class vectorize:
    """NumPy's `vectorize` by `vmap`: loop dimensions broadcast, then each is mapped; with a
    `signature`, the trailing core dimensions go to `pyfunc` whole."""

    def __init__(self, pyfunc, *, excluded=frozenset(), signature=None):
        self.pyfunc = pyfunc
        self.excluded = set(excluded)
        self.signature = signature
        self.__doc__ = getattr(pyfunc, "__doc__", None)
        self.__name__ = getattr(pyfunc, "__name__", "vectorized")

    def __call__(self, *args, **kwargs):
        from ..batching import vmap
        jnp = _jnp()
        fixed_kw = {k: v for k, v in kwargs.items() if k in self.excluded}
        mapped_kw = {k: v for k, v in kwargs.items() if k not in self.excluded}
        names = list(mapped_kw)
        pos = [i for i in range(len(args)) if i not in self.excluded]
        mapped = [asarray(args[i]) for i in pos] + [asarray(mapped_kw[k]) for k in names]
        if self.signature is None:
            ins = [()] * len(mapped)
        else:
            ins, _ = _parse_signature(self.signature)
            if len(ins) != len(mapped):
                raise TypeError(f"vectorize: signature {self.signature!r} has {len(ins)} "
                                f"inputs, got {len(mapped)} arrays")
        loop_shapes = []
        for x, core_dims in zip(mapped, ins):
            s = aval_of(x).shape
            if len(s) < len(core_dims):
                raise ValueError(f"vectorize: input of shape {s} has fewer dimensions than its "
                                 f"core dimensions {core_dims}")
            loop_shapes.append(s[:len(s) - len(core_dims)])
        loop = tuple(np.broadcast_shapes(*loop_shapes)) if loop_shapes else ()
        mapped = [jnp.broadcast_to(x, loop + aval_of(x).shape[len(ls):])
                  for x, ls in zip(mapped, loop_shapes)]

        def call(*vals):
            full = list(args)
            for i, v in zip(pos, vals[:len(pos)]):
                full[i] = v
            kw = dict(fixed_kw)
            kw.update(zip(names, vals[len(pos):]))
            return self.pyfunc(*full, **kw)

        f = call
        for _ in loop:
            f = vmap(f)
        return f(*mapped)
