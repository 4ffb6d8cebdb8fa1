"""Convolutions as one matrix product, for the compiled backends (im2col).

After this pass no `conv_general_dilated` remains: each becomes primitives the CPU and CUDA
backends already run fast, so neither needs a convolution kernel:

1. the input is transposed to (batch, spatial..., features) and, for lhs_dilation, padded
   (`pad` with interior padding; negative edges crop); without it the gather below reads
   the padding as its fill value, so no padded copy is made;
2. its patches form the im2col matrix, rows = batch x output positions, columns = kernel
   taps x input features of one group, laid out (rows, taps, features): one strided slice
   of the (padded) input per kernel tap, stacked on a taps axis before the features (or one
   slice per output position, stacked on a positions axis, when there are fewer positions
   than taps, as in a kernel gradient). The innermost loop of the kernel fusion makes of it
   then copies a run of features from one slice: it vectorizes, and the choice of slice is
   loop-invariant (concatenating on the features axis instead picks the slice per element,
   ~20x slower). Above 64 slices, one `gather` whose indices are arithmetic on iotas builds
   the same matrix. The GEMM prologue (`plan.planner`) runs this kernel per row block of the
   GEMM, so the matrix is never in memory whole;
3. one `dot_general` with the kernel reshaped to (taps x input features, output features)
   (BLAS GEMM on the CPU, cuBLAS on CUDA); feature or batch groups are its batch dimension;
4. the product is reshaped and transposed to the output's layout.

float16 operands are widened to float32 for the product (which accumulates there) and the
result narrowed, as the primitive's reference does. Complex convolutions were already split
into real ones by `split_complex` (the primitive's `complex_parts` rule), which runs before.
Computations without a convolution are left as they are; time is linear in program length.
"""
from __future__ import annotations

import math

import numpy as np

from ops.autodiff import full_aval
from ops.conv import conv_general_dilated_p
from ops.core import PRIMITIVES, get_aval
from ops.elementwise import add, convert_element_type, iota, mul
from ops.indexing import gather
from ops.linalg import dot_general
from ops.shape import broadcast_in_dim, concatenate, pad, reshape, transpose
from ops.shape import slice as shape_slice

from .. import ir
from .rebuild import Copier, rebuild


def lower_conv(module: ir.Module) -> ir.Module:
    """Rewrite every convolution of `module` as im2col and a GEMM (see the module docstring)."""
    for comp in list(module.computations.values()):
        if any(i.opcode == conv_general_dilated_p.name for i in comp.instructions):
            _rewrite(module, comp)
    return module


def conv_as_gemm(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                 dimension_numbers, feature_group_count=1, batch_group_count=1,
                 preferred_element_type=None):
    """The convolution of `lhs` and `rhs` from pad, slices, concatenate, one dot_general,
    reshapes and transposes (bound on the current trace)."""
    params = dict(window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                  rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                  feature_group_count=feature_group_count, batch_group_count=batch_group_count,
                  preferred_element_type=preferred_element_type)
    la, ra = get_aval(lhs), get_aval(rhs)
    out_aval = conv_general_dilated_p.abstract_eval(la, ra, **params)
    lspec, rspec, ospec = (tuple(s) for s in dimension_numbers)
    k = la.ndim - 2
    grp = max(feature_group_count, batch_group_count)
    ksp = tuple(ra.shape[d] for d in rspec[2:])
    osp = tuple(out_aval.shape[d] for d in ospec[2:])
    cg = ra.shape[rspec[1]]
    og = ra.shape[rspec[0]] // grp
    taps = math.prod(ksp)
    if out_aval.size == 0 or taps * cg == 0:
        return full_aval(out_aval, 0)

    # The product's dtype: float16 widens to float32 (its accumulator), or to a wider
    # preferred_element_type.
    narrow = la.dtype.kind == "f" and la.dtype.itemsize < 4
    if narrow:
        wide = out_aval.dtype if out_aval.dtype.kind == "f" and out_aval.dtype.itemsize >= 4 \
            else np.dtype(np.float32)
        lhs = convert_element_type(lhs, new_dtype=wide, weak_type=False)
        rhs = convert_element_type(rhs, new_dtype=wide, weak_type=False)
    dtype = get_aval(lhs).dtype

    positions = math.prod(osp)
    if grp == 1 and positions < taps and positions <= MAX_SLICES:
        return _many_taps(lhs, rhs, lspec, rspec, ospec, osp, ksp, window_strides, padding,
                          lhs_dilation, rhs_dilation, k, out_aval, narrow,
                          preferred_element_type)

    # 1. (batch, spatial..., features), padded and dilated.
    x = _permute(lhs, (lspec[0],) + lspec[2:] + (lspec[1],))
    config = ((0, 0, 0),) + tuple((int(lo), int(hi), int(d) - 1) for (lo, hi), d
                                  in zip(padding, lhs_dilation)) + ((0, 0, 0),)
    # Without lhs_dilation the edges need no padded copy: the gather below reads positions
    # outside the input as zeros (mode "fill"), and `shift` moves them by the low padding.
    use_slices = min(taps, math.prod(osp)) <= MAX_SLICES
    dilated = use_slices or any(int(d) != 1 for d in lhs_dilation)
    shift = [0] * k if dilated else [-int(lo) for lo, _ in padding]
    if dilated and any(c != (0, 0, 0) for c in config):
        x = pad(x, np.array(0, dtype), padding_config=config)
    if feature_group_count > 1 and cg == 1 and use_slices and taps <= MAX_SLICES:
        return _depthwise(x, rhs, rspec, osp, ksp, window_strides, rhs_dilation, og, k,
                          ospec, out_aval)
    xs = get_aval(x).shape
    n, sp, c = xs[0], xs[1:-1], xs[-1]
    # Groups lead: (grp, batch', spatial..., features').
    if batch_group_count > 1:
        x = reshape(x, new_sizes=(grp, n // grp) + sp + (c,))
    elif feature_group_count > 1:
        x = reshape(x, new_sizes=(n,) + sp + (grp, c // grp))
        x = transpose(x, permutation=(k + 1,) + tuple(range(k + 1)) + (k + 2,))
    lead = (grp,) if grp > 1 else ()
    nl = len(lead)
    nb = get_aval(x).shape[nl]

    if use_slices:
        cols = _patches_by_slices(x, nl, osp, ksp, window_strides, rhs_dilation)
        cols = reshape(cols, new_sizes=lead + (nb * positions, taps, cg))
        contract = (nl + 1, nl + 2)
        w = _permute(rhs, rspec[2:] + (rspec[1], rspec[0]))
        if grp > 1:
            w = reshape(w, new_sizes=(taps, cg, grp, og))
            w = transpose(w, permutation=(2, 0, 1, 3))
        else:
            w = reshape(w, new_sizes=(taps, cg, og))
        batch = ((0,), (0,)) if lead else ((), ())
        out = dot_general(cols, w, dimension_numbers=((contract, (nl, nl + 1)), batch),
                          preferred_element_type=None if narrow else preferred_element_type)
        return _to_output(out, lead, nb, osp, og, grp, k, ospec, out_aval)

    # 2. im2col with one gather: row (position, tap) reads the padded input at
    # position * stride + tap * rhs_dilation on each spatial axis; the indices are
    # arithmetic on iotas, which fusion computes inside the gather's kernel.
    reach = max(max(get_aval(x).shape), max((o - 1) * s + (t - 1) * d + abs(h) for o, s, t, d, h
                                             in zip(osp, window_strides, ksp, rhs_dilation,
                                                    shift)))
    index_dtype = np.dtype(np.int32 if reach < 2 ** 31 else np.int64)
    grid = osp + ksp
    columns = []
    for d in range(k):
        pos = iota(dtype=index_dtype, shape=grid, dimension=d)
        tap = iota(dtype=index_dtype, shape=grid, dimension=k + d)
        idx = add(mul(pos, _scalar(window_strides[d], index_dtype, grid)),
                  mul(tap, _scalar(rhs_dilation[d], index_dtype, grid)))
        if shift[d]:
            idx = add(idx, _scalar(shift[d], index_dtype, grid))
        columns.append(reshape(idx, new_sizes=grid + (1,)))
    indices = columns[0] if k == 1 else concatenate(*columns, dimension=2 * k)
    cols = gather(x, indices, axes=tuple(range(nl + 1, nl + 1 + k)), mode="fill",
                  fill_value=0.0 if dtype.kind == "f" else 0)
    # (positions..., taps..., lead..., nb, cg) -> (lead..., nb, positions..., taps..., cg)
    cols = transpose(cols, permutation=tuple(range(2 * k, 2 * k + nl + 1)) + tuple(range(2 * k))
                     + (2 * k + nl + 1,))
    cols = reshape(cols, new_sizes=lead + (nb * positions, taps * cg))

    # 3. The kernel as (lead..., taps * cg, og), and one product.
    w = _permute(rhs, rspec[2:] + (rspec[1], rspec[0]))
    if grp > 1:
        w = reshape(w, new_sizes=(taps * cg, grp, og))
        w = transpose(w, permutation=(1, 0, 2))
    else:
        w = reshape(w, new_sizes=(taps * cg, og))
    batch = ((0,), (0,)) if lead else ((), ())
    out = dot_general(cols, w, dimension_numbers=(((nl + 1,), (nl,)), batch),
                      preferred_element_type=None if narrow else preferred_element_type)
    return _to_output(out, lead, nb, osp, og, grp, k, ospec, out_aval)


# At most this many strided slices make the patch matrix; beyond, one gather does.
MAX_SLICES = 64


def _many_taps(lhs, rhs, lspec, rspec, ospec, osp, ksp, strides, padding, lhs_dilation,
               rhs_dilation, k, out_aval, narrow, preferred_element_type):
    """A convolution with more kernel taps than output positions (a kernel gradient: the
    "kernel" is a cotangent as large as the image) as one GEMM over a transposed patch
    matrix: Q[(feature, tap...), (position..., batch)] = input[batch, position * stride +
    tap * dilation, feature] is one strided slice of the input per output position, in the
    input's own layout (feature, spatial..., batch); the product contracts Q's rows with the
    kernel's (feature, tap...) rows, which BLAS reads transposed. The patch matrix of the
    forward convolution's im2col, in other words, read by columns instead of rows."""
    x = _permute(lhs, (lspec[1],) + lspec[2:] + (lspec[0],))      # (F, spatial..., B)
    dtype = get_aval(x).dtype
    config = ((0, 0, 0),) + tuple((int(lo), int(hi), int(d) - 1) for (lo, hi), d
                                  in zip(padding, lhs_dilation)) + ((0, 0, 0),)
    if any(c != (0, 0, 0) for c in config):
        x = pad(x, np.array(0, dtype), padding_config=config)
    xs = get_aval(x).shape
    f, b = xs[0], xs[-1]
    parts = []
    for pos in np.ndindex(*osp):
        start = [0] + [o * s for o, s in zip(pos, strides)] + [0]
        limit = [f] + [st + (t - 1) * d + 1 for st, t, d in zip(start[1:], ksp, rhs_dilation)] \
            + [b]
        step = [1] + list(rhs_dilation) + [1]
        parts.append(slice_(x, start, limit, step, (f,) + tuple(ksp) + (1, b)))
    q = concatenate(*parts, dimension=k + 1) if len(parts) > 1 else parts[0]
    # Kept 3-d: the kernel's innermost loop then runs over the batch only, one slice's
    # contiguous run (merged with the positions, it would pick the slice per element).
    q = reshape(q, new_sizes=(f * math.prod(ksp), math.prod(osp), b))
    w = _permute(rhs, (rspec[1],) + rspec[2:] + (rspec[0],))      # (F, taps..., F_out)
    fo = get_aval(w).shape[-1]
    w = reshape(w, new_sizes=(f * math.prod(ksp), fo))
    out = dot_general(q, w, dimension_numbers=(((0,), (0,)), ((), ())),
                      preferred_element_type=None if narrow else preferred_element_type)
    # (positions..., B, F_out) -> (B, positions..., F_out), as the other paths leave it.
    out = reshape(out, new_sizes=tuple(osp) + (b, fo))
    out = transpose(out, permutation=(k,) + tuple(range(k)) + (k + 1,))
    out = reshape(out, new_sizes=(b * math.prod(osp), fo))
    return _to_output(out, (), b, osp, fo, 1, k, ospec, out_aval)


def _depthwise(x, rhs, rspec, osp, ksp, strides, rhs_dilation, mult, k, ospec, out_aval):
    """A depthwise convolution (one input feature per group) as a sum over kernel taps of a
    strided slice of `x` (batch, padded spatial..., features) times that tap's weights, each
    broadcast over the batch and positions: elementwise, so fusion makes one kernel that
    reads the input from cache and writes the output once (a grouped GEMM would be one
    matrix-vector product per feature). `mult`: output features per input feature."""
    xs = get_aval(x).shape
    c = xs[-1]
    taps = math.prod(ksp)
    w = _permute(rhs, rspec[2:] + (rspec[1], rspec[0]))          # (spatial..., 1, c * mult)
    w = reshape(w, new_sizes=(taps, c, mult))
    out_shape = (xs[0],) + tuple(osp) + (c, mult)
    total = None
    for t, tap in enumerate(np.ndindex(*ksp)):
        start = [0] + [i * d for i, d in zip(tap, rhs_dilation)] + [0]
        limit = [xs[0]] + [st + (o - 1) * s + 1 for st, o, s in zip(start[1:], osp, strides)] \
            + [c]
        part = shape_slice(x, start_indices=tuple(start), limit_indices=tuple(limit),
                           strides=tuple([1] + list(strides) + [1])
                           if any(s != 1 for s in strides) else None)
        part = broadcast_in_dim(part, shape=out_shape, broadcast_dimensions=tuple(range(k + 2)))
        wt = reshape(shape_slice(w, start_indices=(t, 0, 0), limit_indices=(t + 1, c, mult),
                                 strides=None), new_sizes=(c, mult))
        wt = broadcast_in_dim(wt, shape=out_shape, broadcast_dimensions=(k + 1, k + 2))
        term = mul(part, wt)
        total = term if total is None else add(total, term)
    out = reshape(total, new_sizes=(xs[0] * math.prod(osp), c * mult))
    return _to_output(out, (), xs[0], osp, c * mult, 1, k, ospec, out_aval)


def _patches_by_slices(x, nl, osp, ksp, strides, rhs_dilation):
    """The patches of `x` (lead..., nb, spatial..., features), padded so every window is
    inside it, in the order (lead..., nb, positions..., taps..., features): one strided slice
    per tap stacked after the positions, or one per output position stacked before the
    taps, whichever is fewer (the stacked axis is the taps, or the positions, flattened)."""
    xs = get_aval(x).shape
    k = len(osp)
    lead_nb = xs[:nl + 1]
    c = xs[-1]
    if math.prod(ksp) <= math.prod(osp):
        # Slice for tap t: positions o * stride + t * dilation.
        parts, axis = [], nl + 1 + k
        for tap in np.ndindex(*ksp):
            start = [0] * (nl + 1) + [t * d for t, d in zip(tap, rhs_dilation)] + [0]
            limit = list(lead_nb) + [st + (o - 1) * s + 1 for st, o, s
                                     in zip(start[nl + 1:], osp, strides)] + [c]
            step = [1] * (nl + 1) + list(strides) + [1]
            parts.append(slice_(x, start, limit, step, lead_nb + osp + (1, c)))
        # (The caller's reshape to (rows, taps, features) is the only one: a kernel gradient
        # of the same input builds the same patches (`_many_taps`), and CSE then shares them.)
        return concatenate(*parts, dimension=axis) if len(parts) > 1 else parts[0]
    # Slice for position o: taps o * stride + t * dilation.
    parts, axis = [], nl + 1
    for pos in np.ndindex(*osp):
        start = [0] * (nl + 1) + [o * s for o, s in zip(pos, strides)] + [0]
        limit = list(lead_nb) + [st + (t - 1) * d + 1 for st, t, d
                                 in zip(start[nl + 1:], ksp, rhs_dilation)] + [c]
        step = [1] * (nl + 1) + list(rhs_dilation) + [1]
        parts.append(slice_(x, start, limit, step, lead_nb[:nl + 1] + (1,) + tuple(ksp) + (c,)))
    return concatenate(*parts, dimension=axis) if len(parts) > 1 else parts[0]


def slice_(x, start, limit, step, shape):
    """A strided slice of `x`, with a unit axis inserted where `shape` says."""
    part = shape_slice(x, start_indices=tuple(start), limit_indices=tuple(limit),
                       strides=tuple(step) if any(s != 1 for s in step) else None)
    return reshape(part, new_sizes=tuple(shape))


def _to_output(out, lead, nb, osp, og, grp, k, ospec, out_aval):
    # 4. (batch', out spatial..., features) in the output's layout.
    out = reshape(out, new_sizes=lead + (nb,) + osp + (og,))
    if lead:
        out = transpose(out, permutation=tuple(range(1, k + 2)) + (0, k + 2))
        out = reshape(out, new_sizes=(nb,) + osp + (grp * og,))
    # Axis j of `out` holds the logical dimension order[j]: batch, spatial..., feature.
    order = (0,) + tuple(range(2, k + 2)) + (1,)
    perm = [0] * (k + 2)
    for j, logical in enumerate(order):
        perm[ospec[logical]] = j
    out = _permute(out, tuple(perm))
    if get_aval(out).dtype != out_aval.dtype:
        out = convert_element_type(out, new_dtype=out_aval.dtype, weak_type=False)
    return out


def _scalar(v, dtype, shape):
    return broadcast_in_dim(np.array(v, dtype), shape=shape, broadcast_dimensions=())


def _permute(x, perm):
    perm = tuple(int(p) for p in perm)
    return x if perm == tuple(range(len(perm))) else transpose(x, permutation=perm)


# --- rebuilding a computation ---------------------------------------------------------------

class _Lowerer(Copier):
    def apply(self, instr, values):
        if PRIMITIVES.get(instr.opcode) is conv_general_dilated_p and not instr.called:
            return conv_as_gemm(*values, **instr.attrs)
        return self.copy(instr, values)


def _rewrite(module, comp):
    rebuild(module, comp, _Lowerer)
