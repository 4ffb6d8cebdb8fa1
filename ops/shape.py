"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, rev, slice, dynamic_slice,
dynamic_update_slice, concatenate and pad. They move data; none computes a new value.
"""
from __future__ import annotations

import builtins

import math
import numpy as np

from . import dtypes
from .autodiff import deflinear, is_float, move_batch_to_front, shift_axes, zeros_like_aval
from .dims import Dim
from .core import Primitive, ShapedArray, bind, get_aval
from .errors import DtypeError, ShapeError
from .rules import as_function, canonical_axes, canonical_axis


def _shape_prim(name, rule, impl, cheap=False, keeps_positions=False, linear_order=False,
                reshapes=False):
    """A data-movement primitive (the traits: see `Primitive`); the kernel emitter computes
    each output element by reading the operand element it comes from."""
    p = Primitive(name, "shape")
    p.abstract_eval = rule
    p.impl = impl
    p.moves_data = True
    p.lowering = "kernel"
    p.complex_parts = "parts"
    p.cheap = cheap
    p.keeps_positions = keeps_positions
    p.linear_order = linear_order
    p.reshapes = reshapes
    return p


def _unbatched_ndim(x, batched):
    return get_aval(x).ndim - int(bool(batched))


def _defbatch_unary(prim, batched_params):
    """Batching for a one-operand shape primitive: `batched_params(ndim, size, **params)` gives
    the params that apply it to the operand with a leading batch axis of length `size` (`ndim` is
    the unbatched rank)."""
    def batch(args, batched, size, **params):
        (x,), (b,) = args, batched
        if not b:
            return bind(prim, x, **params), False
        return bind(prim, x, **batched_params(_unbatched_ndim(x, b), size, **params)), True
    prim.batch = batch
    return batch


def _static_dims(op, what, dims):
    try:
        return tuple(d if type(d) is Dim else int(d) for d in dims)   # Dim: ops.dims
    except TypeError:
        raise TypeError(f"{op}: {what} must be a tuple of static ints, got {dims!r}",
                        ) from None


# --- broadcast_in_dim ----------------------------------------------------------------------

def _broadcast_in_dim_rule(x, *, shape, broadcast_dimensions):
    shape = _static_dims("broadcast_in_dim", "shape", shape)
    bdims = tuple(broadcast_dimensions)
    if len(bdims) != x.ndim:
        raise ShapeError(f"broadcast_in_dim: operand {x.str_short()} needs {x.ndim} broadcast "
                         f"dimensions, got {bdims}")
    if any(b < 0 or b >= len(shape) for b in bdims) or list(bdims) != sorted(set(bdims)):
        raise ShapeError(f"broadcast_in_dim: broadcast_dimensions {bdims} must be strictly "
                         f"increasing and within the output rank {len(shape)}")
    for d, b in zip(x.shape, bdims):
        if d != 1 and d != shape[b]:
            raise ShapeError(f"broadcast_in_dim: cannot broadcast {x.str_short()} to {shape} "
                             f"(operand dimension of size {d} maps to output size {shape[b]})")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for d, b in zip(x.shape, broadcast_dimensions):
        expanded[b] = d
    return np.broadcast_to(x.reshape(expanded), shape)


broadcast_in_dim_p = _shape_prim("broadcast_in_dim", _broadcast_in_dim_rule,
                                 _broadcast_in_dim_impl, cheap=True, keeps_positions=True,
                                 linear_order=True)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    # Sum over the new dimensions and over the size-1 dimensions that were stretched.
    if ct is None or not is_float(x):
        return (None,)
    from .reduction import reduce_sum
    xa = get_aval(x)
    stretched = [b for d, b in zip(xa.shape, broadcast_dimensions) if d == 1 and shape[b] != 1]
    summed = tuple(sorted(set(range(len(shape))) - set(broadcast_dimensions) | set(stretched)))
    out = reduce_sum(ct, axes=summed) if summed else ct
    if get_aval(out).shape != xa.shape:
        out = reshape(out, new_sizes=xa.shape)
    return (out,)


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
_defbatch_unary(broadcast_in_dim_p, lambda nd, size, *, shape, broadcast_dimensions: dict(
    shape=(size,) + tuple(shape), broadcast_dimensions=(0,) + shift_axes(broadcast_dimensions)))

# --- reshape -------------------------------------------------------------------------------


def _reshape_rule(x, *, new_sizes):
    new_sizes = _static_dims("reshape", "new_sizes", new_sizes)
    if any(d < 0 for d in new_sizes) or math.prod(new_sizes) != x.size:
        raise ShapeError(f"reshape: cannot reshape {x.str_short()} ({x.size} elements) "
                         f"into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = _shape_prim("reshape", _reshape_rule, lambda x, *, new_sizes: x.reshape(new_sizes),
                        cheap=True, linear_order=True, reshapes=True)
deflinear(reshape_p, lambda ct, x, *, new_sizes: (
    None if ct is None or not is_float(x) else reshape(ct, new_sizes=get_aval(x).shape),))
_defbatch_unary(reshape_p, lambda nd, size, *, new_sizes: dict(
    new_sizes=(size,) + tuple(new_sizes)))

# --- transpose -----------------------------------------------------------------------------


def _transpose_rule(x, *, permutation):
    perm = tuple(permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: permutation {perm} is not a permutation of the "
                         f"{x.ndim} axes of {x.str_short()}")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype, x.weak_type)


transpose_p = _shape_prim("transpose", _transpose_rule,
                          lambda x, *, permutation: np.transpose(x, permutation),
                          cheap=True, keeps_positions=True)
deflinear(transpose_p, lambda ct, x, *, permutation: (
    None if ct is None or not is_float(x)
    else transpose(ct, permutation=tuple(int(i) for i in np.argsort(permutation))),))
_defbatch_unary(transpose_p, lambda nd, size, *, permutation: dict(
    permutation=(0,) + shift_axes(permutation)))

# --- squeeze -------------------------------------------------------------------------------


def _squeeze_rule(x, *, dimensions):
    dims = canonical_axes("squeeze", dimensions, x.ndim, x.shape)
    for d in dims:
        if x.shape[d] != 1:
            raise ShapeError(f"squeeze: dimension {d} of {x.str_short()} has size "
                             f"{x.shape[d]}, not 1")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype,
                       x.weak_type)


squeeze_p = _shape_prim("squeeze", _squeeze_rule,
                        lambda x, *, dimensions: np.squeeze(x, tuple(dimensions)),
                        cheap=True, keeps_positions=True, linear_order=True, reshapes=True)
deflinear(squeeze_p, lambda ct, x, *, dimensions: (
    None if ct is None or not is_float(x) else reshape(ct, new_sizes=get_aval(x).shape),))
_defbatch_unary(squeeze_p, lambda nd, size, *, dimensions: dict(
    dimensions=shift_axes(canonical_axes("squeeze", dimensions, nd))))

# --- rev -----------------------------------------------------------------------------------


def _rev_rule(x, *, dimensions):
    canonical_axes("rev", dimensions, x.ndim, x.shape)
    return x


rev_p = _shape_prim("rev", _rev_rule, lambda x, *, dimensions: np.flip(x, tuple(dimensions)),
                    cheap=True)
deflinear(rev_p, lambda ct, x, *, dimensions: (
    None if ct is None or not is_float(x) else rev(ct, dimensions=dimensions),))
_defbatch_unary(rev_p, lambda nd, size, *, dimensions: dict(
    dimensions=shift_axes(canonical_axes("rev", dimensions, nd))))

# --- slice ---------------------------------------------------------------------------------


def _slice_rule(x, *, start_indices, limit_indices, strides=None):
    start, limit = tuple(start_indices), tuple(limit_indices)
    strides = tuple(strides) if strides is not None else (1,) * x.ndim
    if not len(start) == len(limit) == len(strides) == x.ndim:
        raise ShapeError(f"slice: {x.str_short()} needs {x.ndim} start/limit/stride entries, "
                         f"got {start}, {limit}, {strides}")
    out = []
    for d, (s, l, st, n) in enumerate(zip(start, limit, strides, x.shape)):
        if not (0 <= s <= l <= n) or st < 1:
            raise ShapeError(f"slice: dimension {d} of {x.str_short()}: start {s}, limit {l}, "
                             f"stride {st} must satisfy 0 <= start <= limit <= {n}, stride >= 1")
        out.append(max(0, -(-(l - s) // st)))
    return ShapedArray(out, x.dtype, x.weak_type)


def _slice_impl(x, *, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * x.ndim
    return x[tuple(builtins.slice(s, l, st) for s, l, st in zip(start_indices, limit_indices, strides))]


slice_p = _shape_prim("slice", _slice_rule, _slice_impl, cheap=True)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides=None):
    # Pad the cotangent back to the operand's shape: zeros before, after and between strides.
    if ct is None or not is_float(x):
        return (None,)
    xa, out = get_aval(x), get_aval(ct).shape
    strides = tuple(strides) if strides is not None else (1,) * xa.ndim
    config = []
    for n, s, st, k in zip(xa.shape, start_indices, strides, out):
        last = s + (k - 1) * st + 1 if k else s
        config.append((int(s), int(n - last), int(st - 1) if k else 0))
    return (pad(ct, np.array(0, xa.dtype), padding_config=tuple(config)),)


deflinear(slice_p, _slice_transpose)
_defbatch_unary(slice_p, lambda nd, size, *, start_indices, limit_indices, strides=None: dict(
    start_indices=(0,) + tuple(start_indices), limit_indices=(size,) + tuple(limit_indices),
    strides=None if strides is None else (1,) + tuple(strides)))

# --- dynamic_slice / dynamic_update_slice --------------------------------------------------
# Start indices are scalar integer operands, clamped so the window stays in bounds (XLA's rule).


def _check_starts(op, x, starts):
    if len(starts) != x.ndim:
        raise ShapeError(f"{op}: {x.str_short()} needs {x.ndim} start indices, got {len(starts)}")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise DtypeError(f"{op}: start indices must be integer scalars, got {s.str_short()}")


def _clamped_starts(starts, shape, sizes):
    return tuple(int(min(max(int(s), 0), n - k)) for s, n, k in zip(starts, shape, sizes))


def _dynamic_slice_rule(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    sizes = _static_dims("dynamic_slice", "slice_sizes", slice_sizes)
    if len(sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(sizes, x.shape)):
        raise ShapeError(f"dynamic_slice: slice_sizes {sizes} do not fit {x.str_short()}")
    return ShapedArray(sizes, x.dtype, x.weak_type)


def _dynamic_slice_impl(x, *starts, slice_sizes):
    st = _clamped_starts(starts, x.shape, slice_sizes)
    return x[tuple(builtins.slice(s, s + k) for s, k in zip(st, slice_sizes))]


dynamic_slice_p = _shape_prim("dynamic_slice", _dynamic_slice_rule, _dynamic_slice_impl)


def _dynamic_update_slice_rule(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype:
        raise DtypeError(f"dynamic_update_slice: update {update.str_short()} must have the "
                         f"operand's dtype ({x.str_short()})")
    if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"dynamic_update_slice: update {update.str_short()} does not fit "
                         f"inside {x.str_short()}")
    return x


def _dynamic_update_slice_impl(x, update, *starts):
    st = _clamped_starts(starts, x.shape, update.shape)
    out = x.copy()
    out[tuple(builtins.slice(s, s + k) for s, k in zip(st, update.shape))] = update
    return out


dynamic_update_slice_p = _shape_prim("dynamic_update_slice", _dynamic_update_slice_rule,
                                     _dynamic_update_slice_impl)


# Rules. The starts are integer operands: no tangents, no cotangents. Both VJPs address the
# same clamped window as the primal, so clamping needs no special care.

def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    ans = dynamic_slice(x, *starts, slice_sizes=slice_sizes)
    if tangents[0] is None or not is_float(ans):
        return ans, None
    return ans, dynamic_slice(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_vjp(ct, ans, primals, *, slice_sizes):
    x, *starts = primals
    if ct is None or not is_float(x):
        return (None,) * len(primals)
    ct_x = dynamic_update_slice(zeros_like_aval(get_aval(x)), ct, *starts)
    return (ct_x,) + (None,) * len(starts)


def _dynamic_update_slice_jvp(primals, tangents, **params):
    x, update, *starts = primals
    ans = dynamic_update_slice(x, update, *starts)
    tx, tu = tangents[:2]
    if (tx is None and tu is None) or not is_float(ans):
        return ans, None
    tx = tx if tx is not None else zeros_like_aval(get_aval(x))
    tu = tu if tu is not None else zeros_like_aval(get_aval(update))
    return ans, dynamic_update_slice(tx, tu, *starts)


def _dynamic_update_slice_vjp(ct, ans, primals, **params):
    x, update, *starts = primals
    if ct is None or not is_float(x):
        return (None,) * len(primals)
    ua = get_aval(update)
    ct_x = dynamic_update_slice(ct, zeros_like_aval(ua), *starts)
    ct_u = dynamic_slice(ct, *starts, slice_sizes=ua.shape)
    return (ct_x, ct_u) + (None,) * len(starts)


# Batching. With unbatched starts the batch axis is one more (full) window axis starting at 0.
# Batched starts put each example's window elsewhere: like JAX, that becomes a gather (or a
# scatter) whose index rows enumerate every example's window, on the axes the window does not
# span in full (a full axis always starts at 0 after clamping, whatever the start says).

def _zero_start():
    return np.array(0, dtypes.int64)


def _clamped_start(s, n, k):
    """The int64 start (scalar or per example) clamped as XLA clamps: into [0, n - k]."""
    from .elementwise import clamp, convert_element_type
    dt = get_aval(s).dtype
    s = clamp(np.array(0, dt), s, np.array(min(n - k, np.iinfo(dt).max), dt))
    return s if dt == dtypes.int64 else convert_element_type(s, new_dtype=dtypes.int64)


def _window_indices(starts, starts_batched, shape, sizes, size, indexed, batch_column):
    """int64 indices of shape (size, sizes[d] for d in indexed..., len(indexed) [+1]): row
    (b, i...) holds [b,] start_b[d] + i_d for each indexed axis d."""
    from .elementwise import add, iota
    grid = (size,) + tuple(sizes[d] for d in indexed)
    cols = [iota(dtype=dtypes.int64, shape=grid, dimension=0)] if batch_column else []
    for j, d in enumerate(indexed):
        s = _clamped_start(starts[d], shape[d], sizes[d])
        s = broadcast_in_dim(s, shape=grid, broadcast_dimensions=(0,) if starts_batched[d] else ())
        cols.append(add(s, iota(dtype=dtypes.int64, shape=grid, dimension=j + 1)))
    cols = [reshape(c, new_sizes=grid + (1,)) for c in cols]
    return concatenate(*cols, dimension=len(grid)) if len(cols) > 1 else cols[0]


def _window_layout(ndim, indexed):
    """Axis order of a gather's output over `_window_indices`: batch, indexed axes, the rest."""
    rest = [d for d in range(ndim) if d not in indexed]
    return (0,) + tuple(d + 1 for d in list(indexed) + rest)


def _dynamic_slice_batch(args, batched, size, *, slice_sizes):
    from .indexing import gather
    x, *starts = args
    xb, *sb = batched
    sizes = tuple(slice_sizes)
    if not any(batched):
        return dynamic_slice(x, *starts, slice_sizes=sizes), False
    shape = get_aval(x).shape[int(xb):]
    indexed = [d for d in range(len(shape)) if sizes[d] < shape[d]]
    if not any(sb[d] for d in indexed):
        starts = [_zero_start() if b else s for s, b in zip(starts, sb)]
        if not xb:
            return dynamic_slice(x, *starts, slice_sizes=sizes), False
        return dynamic_slice(x, _zero_start(), *starts, slice_sizes=(size,) + sizes), True
    indices = _window_indices(starts, sb, shape, sizes, size, indexed, batch_column=xb)
    axes = ((0,) + shift_axes(indexed)) if xb else tuple(indexed)
    out = gather(x, indices, axes=axes, mode="clip", fill_value=None)
    layout = _window_layout(len(shape), indexed)
    if layout != tuple(range(len(layout))):
        out = transpose(out, permutation=tuple(int(i) for i in np.argsort(layout)))
    return out, True


def _dynamic_update_slice_batch(args, batched, size, **params):
    from .indexing import scatter
    x, update, *starts = args
    xb, ub, *sb = batched
    if not any(batched):
        return dynamic_update_slice(x, update, *starts), False
    shape = get_aval(x).shape[int(xb):]
    sizes = get_aval(update).shape[int(ub):]
    indexed = [d for d in range(len(shape)) if sizes[d] < shape[d]]
    x = move_batch_to_front(x, xb, size)
    update = move_batch_to_front(update, ub, size)
    if not any(sb[d] for d in indexed):
        starts = [_zero_start() if b else s for s, b in zip(starts, sb)]
        return dynamic_update_slice(x, update, _zero_start(), *starts), True
    indices = _window_indices(starts, sb, shape, sizes, size, indexed, batch_column=True)
    layout = _window_layout(len(shape), indexed)
    if layout != tuple(range(len(layout))):
        update = transpose(update, permutation=layout)
    return scatter(x, indices, update, axes=(0,) + shift_axes(indexed)), True


dynamic_slice_p.jvp = _dynamic_slice_jvp
dynamic_slice_p.vjp = _dynamic_slice_vjp
dynamic_slice_p.batch = _dynamic_slice_batch
dynamic_update_slice_p.jvp = _dynamic_update_slice_jvp
dynamic_update_slice_p.vjp = _dynamic_update_slice_vjp
dynamic_update_slice_p.batch = _dynamic_update_slice_batch

# --- concatenate ---------------------------------------------------------------------------


def _concatenate_rule(*xs, dimension):
    if not xs:
        raise ShapeError("concatenate: needs at least one operand")
    first = xs[0]
    d = canonical_axis("concatenate", dimension, first.ndim, first.shape)
    for x in xs[1:]:
        if x.dtype != first.dtype:
            raise DtypeError("concatenate: operands must share a dtype, got "
                             + ", ".join(a.str_short() for a in xs))
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != d):
            raise ShapeError(f"concatenate: operands must match except along dimension {d}, "
                             "got " + ", ".join(a.str_short() for a in xs))
    shape = list(first.shape)
    shape[d] = sum(x.shape[d] for x in xs)
    return ShapedArray(shape, first.dtype, all(x.weak_type for x in xs))


concatenate_p = _shape_prim("concatenate", _concatenate_rule,
                            lambda *xs, dimension: np.concatenate(xs, axis=dimension))


def _concatenate_transpose(ct, *xs, dimension):
    if ct is None:
        return (None,) * len(xs)
    shape = get_aval(ct).shape
    d = canonical_axis("concatenate", dimension, len(shape), shape)
    cts, pos = [], 0
    for x in xs:
        n = get_aval(x).shape[d]
        if is_float(x):
            start = tuple(pos if i == d else 0 for i in range(len(shape)))
            limit = tuple(pos + n if i == d else k for i, k in enumerate(shape))
            cts.append(slice(ct, start_indices=start, limit_indices=limit))
        else:
            cts.append(None)
        pos += n
    return tuple(cts)


def _concatenate_batch(args, batched, size, *, dimension):
    if not any(batched):
        return concatenate(*args, dimension=dimension), False
    nd = _unbatched_ndim(args[0], batched[0])
    d = canonical_axis("concatenate", dimension, nd)
    args = [move_batch_to_front(x, b, size) for x, b in zip(args, batched)]
    return concatenate(*args, dimension=d + 1), True


deflinear(concatenate_p, _concatenate_transpose)
concatenate_p.batch = _concatenate_batch

# --- pad -----------------------------------------------------------------------------------
# padding_config: per dimension (low, high, interior); low/high may be negative (cropping).


def _pad_rule(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise DtypeError(f"pad: the padding value must be a scalar of the operand's dtype, got "
                         f"{padding_value.str_short()} for {x.str_short()}")
    cfg = tuple(tuple(int(v) for v in c) for c in padding_config)
    if len(cfg) != x.ndim or any(len(c) != 3 or c[2] < 0 for c in cfg):
        raise ShapeError(f"pad: padding_config {cfg} needs one (low, high, interior>=0) triple "
                         f"per dimension of {x.str_short()}")
    out = []
    for n, (lo, hi, interior) in zip(x.shape, cfg):
        size = lo + hi + n + max(n - 1, 0) * interior
        if size < 0:
            raise ShapeError(f"pad: padding_config {cfg} gives a negative size for {x.str_short()}")
        out.append(size)
    return ShapedArray(out, x.dtype, x.weak_type)


def _pad_impl(x, padding_value, *, padding_config):
    # Interior padding first (a strided write), then edges; negative edges crop.
    if x.ndim == 0:
        return x  # nothing to pad, and np.pad rejects 0-d arrays
    full = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config):
        full.append(n + max(n - 1, 0) * interior)
    buf = np.full(full, padding_value, dtype=x.dtype)
    buf[tuple(builtins.slice(None, None, i + 1) for (_, _, i) in padding_config)] = x
    pads = [(max(lo, 0), max(hi, 0)) for lo, hi, _ in padding_config]
    buf = np.pad(buf, pads, constant_values=padding_value)
    crop = tuple(builtins.slice(-min(lo, 0), buf.shape[d] + min(hi, 0))
                 for d, (lo, hi, _) in enumerate(padding_config))
    return buf[crop]


pad_p = _shape_prim("pad", _pad_rule, _pad_impl)


def _pad_mask(shape, padding_config, operand_value):
    """bool array of the padded shape: `operand_value` where the operand's elements land."""
    mask = broadcast_in_dim(np.array(operand_value), shape=tuple(shape), broadcast_dimensions=())
    return pad(mask, np.array(not operand_value), padding_config=padding_config)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    if ct is None or not is_float(x):
        return (None, None)
    from .elementwise import select
    from .reduction import reduce_sum
    xa = get_aval(x)
    if xa.ndim == 0:
        return (ct, None)  # padding a 0-d array is the identity
    # Undo the edges (negative edges were crops: padding them back adds zeros), then take
    # every (interior + 1)-th element.
    unpad = tuple((-lo, -hi, 0) for lo, hi, _ in padding_config)
    inner = pad(ct, np.array(0, xa.dtype), padding_config=unpad)
    ct_x = slice(inner, start_indices=(0,) * xa.ndim, limit_indices=get_aval(inner).shape,
                 strides=tuple(interior + 1 for _, _, interior in padding_config))
    # The padding value's cotangent sums over padded positions only (a select, not a
    # subtraction of sums: exact, and no NaN from the operand's positions).
    padded = _pad_mask(xa.shape, padding_config, False)
    kept = select(padded, ct, zeros_like_aval(get_aval(ct)))
    ct_v = reduce_sum(kept, axes=tuple(range(xa.ndim)))
    return (ct_x, ct_v)


def _pad_batch(args, batched, size, *, padding_config):
    (x, value), (xb, vb) = args, batched
    if not any(batched):
        return pad(x, value, padding_config=padding_config), False
    if not vb:
        return pad(x, value, padding_config=((0, 0, 0),) + tuple(padding_config)), True
    # Per-example padding values: pad with zero, then select each example's value outside
    # the operand's positions.
    from .elementwise import select
    xa = get_aval(x)
    shape = xa.shape[int(xb):]
    out = pad(x, np.array(0, xa.dtype),
              padding_config=(((0, 0, 0),) if xb else ()) + tuple(padding_config))
    out = move_batch_to_front(out, xb, size)
    oshape = get_aval(out).shape
    inside = _pad_mask(shape, padding_config, True)
    inside = broadcast_in_dim(inside, shape=oshape, broadcast_dimensions=tuple(range(1, len(oshape))))
    value = broadcast_in_dim(value, shape=oshape, broadcast_dimensions=(0,))
    return select(inside, out, value), True


deflinear(pad_p, _pad_transpose)
pad_p.batch = _pad_batch

# `slice` below shadows the builtin in this module: impls above call `builtins.slice`.
for _name, _p in list(globals().items()):
    if _name.endswith("_p") and isinstance(_p, Primitive):
        globals()[_name[:-2]] = as_function(_p)
del _name, _p
