"""`vmap`: map a function over a batch axis of its arguments, without a Python loop.

The function is traced once on one example's shapes, and the batching interpreter
(`passes.batching`) runs the Module on the whole batch, binding on the current trace.
"""
from __future__ import annotations

import functools

from ops import core
from ops.autodiff import move_batch_to_front
from ops.collectives import axis_frame
from ops.errors import JitcoreError
from xla_like.passes.batching import batch_computation

from . import tree_util
from .transform_tracing import fun_name, trace_flat


class BatchingError(JitcoreError, ValueError):
    """in_axes/out_axes that do not fit the arguments, or batch sizes that disagree."""


def _broadcast_prefix(prefix, tree, what):
    """One axis per leaf of `tree`, from `prefix` (an int/None, or a pytree prefix of `tree`)."""
    p_leaves, p_tree = tree_util.tree_flatten(prefix, is_leaf=lambda x: x is None)
    try:
        subtrees = p_tree.flatten_up_to(tree)
    except (ValueError, TypeError) as e:
        raise BatchingError(f"{what} {prefix!r} is not a prefix of the arguments' structure "
                            f"{tree_util.tree_structure(tree)}: {e}") from None
    axes = []
    for ax, sub in zip(p_leaves, subtrees):
        if ax is not None and not isinstance(ax, int):
            raise BatchingError(f"{what} entries must be ints or None, got {ax!r}")
        axes.extend([ax] * len(tree_util.tree_leaves(sub)))
    return axes


def _moveaxis(x, src, dst):
    from jitcore import numpy as jnp
    return jnp.moveaxis(x, src, dst)


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, spmd_axis_name=None):
    """Vectorize `fun` over the axes `in_axes` of its arguments; outputs get the batch at
    `out_axes`. `in_axes` is an int, None, or a pytree prefix of the positional arguments
    (a tuple with one entry per argument); keyword arguments are mapped over axis 0.
    `axis_name` names the mapped axis for collectives (`lax.psum`, `lax.axis_index`...);
    `spmd_axis_name` (device sharding) is accepted and has no effect here."""
    name = f"vmap({fun_name(fun)})"

    @functools.wraps(fun, updated=())
    def vmapped(*args, **kwargs):
        if isinstance(in_axes, list):
            axes_spec = tuple(in_axes)
        else:
            axes_spec = in_axes
        if isinstance(axes_spec, tuple) and len(axes_spec) != len(args):
            raise BatchingError(f"{name}: in_axes has {len(axes_spec)} entries but the function "
                                f"was called with {len(args)} positional arguments")
        axes = _broadcast_prefix(axes_spec, tuple(args), f"{name}: in_axes")
        leaves, in_tree = tree_util.tree_flatten((tuple(args), kwargs))
        axes = axes + [0] * (len(leaves) - len(axes))
        size = _batch_size(name, leaves, axes, axis_size, args)
        moved, avals, batched = [], [], []
        for x, ax in zip(leaves, axes):
            a = core.get_aval(x)
            if ax is None:
                moved.append(x)
                avals.append(a.update(weak_type=a.weak_type))
                batched.append(False)
                continue
            ax = ax % a.ndim if a.ndim else ax
            x = _moveaxis(x, ax, 0) if ax != 0 else x
            moved.append(x)
            avals.append(core.ShapedArray(a.shape[:ax] + a.shape[ax + 1:], a.dtype, a.weak_type))
            batched.append(True)
        with axis_frame(axis_name, size):  # collectives see the named axis and its size
            traced = trace_flat(fun, leaves, in_tree, fun_name(fun), avals=avals)
            outs, obs = batch_computation(traced.module, traced.module.entry,
                                          traced.inputs(moved),
                                          batched + [False] * len(traced.captured), size)
        out_struct = tree_util.tree_unflatten(traced.out_tree, list(range(len(outs))))
        o_axes = _broadcast_prefix(out_axes, out_struct, f"{name}: out_axes")
        final = []
        for o, b, ax, oa in zip(outs, obs, o_axes, traced.out_avals):
            o = _keep_weak(o, oa)
            if ax is None:
                if b:
                    raise BatchingError(f"{name}: an output depends on the mapped inputs, so "
                                        "out_axes cannot be None for it")
                final.append(o)
                continue
            o = move_batch_to_front(o, b, size)
            nd = core.get_aval(o).ndim
            if not -nd <= ax < nd:
                raise BatchingError(
                    f"{name}: out_axes {ax} is out of bounds for an output of rank {nd - 1} "
                    f"per example ({core.get_aval(o).str_short()} with the mapped axis): it "
                    f"must be in [{-nd}, {nd})")
            ax = ax % nd
            final.append(_moveaxis(o, 0, ax) if ax != 0 else _wrap(o))
        return tree_util.tree_unflatten(traced.out_tree, final)

    return vmapped


def _keep_weak(x, aval):
    """An output keeps the weak type it had per example (a Python scalar, a shape-derived
    value), as JAX's vmap does; the batching rules need not track it."""
    a = core.get_aval(x)
    if aval.weak_type and not a.weak_type and a.dtype == aval.dtype:
        from ops.elementwise import convert_element_type
        return convert_element_type(x, new_dtype=a.dtype, weak_type=True)
    return x


def _wrap(x):
    # Outputs are arrays even where the batched function returned a constant.
    from jitcore.numpy._promotion import asarray
    return asarray(x) if not isinstance(x, core.Tracer) else x


def _batch_size(name, leaves, axes, axis_size, args):
    sizes = {}
    for i, (x, ax) in enumerate(zip(leaves, axes)):
        if ax is None:
            continue
        a = core.get_aval(x)
        if not -a.ndim <= ax < max(a.ndim, 1) or a.ndim == 0:
            raise BatchingError(f"{name}: in_axes {ax} is out of range for an argument of "
                                f"shape {a.shape}")
        sizes.setdefault(a.shape[ax % a.ndim], []).append((i, a.shape))
    if len(sizes) > 1:
        detail = "; ".join(f"size {n} for leaves {[i for i, _ in who]} (shapes "
                           f"{[s for _, s in who]})" for n, who in sizes.items())
        raise BatchingError(f"{name}: the mapped axes have different sizes: {detail}",
                            hint="every mapped argument must have the same batch size")
    if not sizes:
        if axis_size is None:
            raise BatchingError(f"{name}: in_axes maps no argument, so the batch size is unknown",
                                hint="map at least one argument or pass axis_size=")
        return int(axis_size)
    (n,) = sizes
    if axis_size is not None and axis_size != n:
        raise BatchingError(f"{name}: axis_size={axis_size} but the mapped axes have size {n}")
    return n
