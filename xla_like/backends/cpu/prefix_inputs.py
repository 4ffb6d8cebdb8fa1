"""Parameters of a bucketed program that a call may pass without their padded rows.

A bucketed program (passes/masking.py) runs at its bucket's capacity, and its kernels and
GEMMs stop at the true size of every padded axis (`ir.Shape.valid_dims`, `render.true_size`).
A parameter whose only padded axis is the leading one holds its valid data as a prefix of its
memory: if no step ever reads a row past the true size, those rows need not exist, and the
caller can hand over the unpadded array itself instead of copying it into the capacity (the
copy was a fifth of a small bucketed call).

`prefix_inputs(plan, blas)` answers, per parameter, under which true row count every reader
of it stays, following what `render.py` and `gemm.py` emit:

- a loop kernel that reads the parameter only at the position of the element it computes
  (`planner.reads_at_output_position`, same dims as its output), whose leading loop stops at
  a true row count (`valid_rows`, or the rows only a bounded GEMM reads);
- a 2-d GEMM through BLAS, without prologue or epilogue, where the parameter's storage rows
  are the product's M, N or K axis and that extent is a true size (`render.gemm_sizes`).

Any other reader (host steps, LAPACK, control flow, scatters, views, epilogues, a loop over
the whole capacity) leaves the parameter out, and the call pads it as before.

A parameter dynamic along a later axis (a (512, n) array with dynamic columns) is not a prefix
of its padded layout: its rows are n apart, not the capacity. `strided_inputs(plan, blas)`
names those every kernel reading them reads with the row strides of the array it is handed
(run-time values, `kernels.emit_fusion`'s `strides`, read by `render.py` from the array
object) and only inside the true extent along that axis; the call then passes the caller's
array as it is (`bucketing.CallPlan`).
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ..plan.planner import Plan, reads_at_output_position
from .gemm import blas_ok
from .render import _dot_bounded


def _hint(shape, axis, dot_read=True):
    """(size parameter, coefficient, constant) of the true extent of `axis`, as
    `render.axis_size` reads it, or None when the backend loops over the capacity there."""
    hints = getattr(shape, "valid_dims", None)
    if not hints or axis >= len(hints) or hints[axis] is None or \
            (hints[axis][3] and not dot_read):
        return None
    return tuple(hints[axis][:3])


def _kernel_rows(step, dot_bounded):
    """The true row count the leading loop of a kernel step stops at (render's `rows`)."""
    shape = step.instr.shape
    if isinstance(shape, tuple) or not shape.dims:
        return None
    rows = getattr(shape, "valid_rows", None)
    if rows is not None:
        return tuple(rows[:3])
    return _hint(shape, 0, step.outputs[0] in dot_bounded)


def _kernel_bound(step, bid, dot_bounded):
    """The row hint under which kernel `step` reads buffer `bid`, or None (it may read any)."""
    if step.in_place is not None:
        return None
    rows = _kernel_rows(step, dot_bounded)
    if rows is None:
        return None
    comp = step.instr.called[0]
    for j, b in enumerate(step.inputs):
        if b != bid:
            continue
        param = next((p for p in comp.parameters if p.attrs["index"] == j), None)
        if param is None or param.shape.dims != comp.root.shape.dims or \
                not reads_at_output_position(comp, j):
            return None
    return rows


def _dot_bound(step, bid):
    """The row hint under which a BLAS GEMM step reads buffer `bid` (gemm.call_blas with
    render.gemm_sizes' M, N, K), or None."""
    instr = step.instr
    if step.epilogue is not None or step.prologue is not None or not blas_ok(instr):
        return None
    (lc, rc), (lb, rb) = instr.attrs["dimension_numbers"]
    lhs, rhs = instr.operands
    if lb or rb or len(lc) != 1 or len(instr.shape.dims) != 2 or \
            len(lhs.shape.dims) != 2 or len(rhs.shape.dims) != 2:
        return None
    k = _hint(lhs.shape, lc[0]) or _hint(rhs.shape, rc[0])
    found = None
    for j, b in enumerate(step.inputs):
        if b != bid:
            continue
        if j == 0:   # stored (M, K), or (K, M) when contracting its leading axis
            h = k if lc[0] == 0 else _hint(instr.shape, 0)
        else:        # stored (K, N), or (N, K)
            h = k if rc[0] == 0 else _hint(instr.shape, 1)
        if h is None or (found is not None and h != found):
            return None
        found = h
    return found


def prefix_inputs(plan: Plan, blas: bool) -> dict:
    """{parameter number: (size parameter, coefficient, constant)}: the parameters whose
    every reader stays within their first coefficient * size + constant rows. `blas`: the
    segments call BLAS for the dots `gemm.blas_ok` accepts."""
    dot_bounded = _dot_bounded(plan) if blas else set()
    bound: dict = {}
    bad = set(plan.outputs)
    for info in plan.buffers:
        if info.kind == "view" and not info.mask_view:   # (a mask view: the same shape)
            bad.add(info.view_of)
    for step in plan.steps:
        extra = [s.step for s in (step.epilogue, step.prologue) if s is not None]
        for s in extra:
            bad.update(s.inputs)
        for bid in set(step.inputs):
            if step.kind == "kernel":
                h = _kernel_bound(step, bid, dot_bounded)
            elif step.kind == "dot" and blas:
                h = _dot_bound(step, bid)
            else:
                h = None
            if h is None or bound.setdefault(bid, h) != h:
                bad.add(bid)
    out = {}
    for info in plan.buffers:
        if info.kind == "param" and info.id in bound and info.id not in bad:
            out[info.index] = bound[info.id]
    return out


# --- parameters dynamic along a later axis: read in place with run-time strides -------------

def strided_inputs(plan: Plan, blas: bool) -> tuple:
    """({parameter buffer: r}, {parameter number: frozenset of (axis, hint)}): the parameters
    every step reads through a kernel with run-time strides along their first r axes
    (`kernels.emit_fusion`'s `strides`), and for each, the (axis a >= 1, true-extent hint)
    such that a call may pass the caller's array padded along no axis but a, of true extent
    `hint`, without a read past its end. A kernel reads with the strides of the array it is
    handed, so the code is right for a padded copy too: the call pads whenever its padding is
    not one of these (`bucketing.CallPlan`).

    A kernel stays within the true extent along `a` of a parameter read
    - at the position of the output element it computes, through elementwise ops and
      same-shape data movement (`_keeps_index`), where its loop along `a` stops at the true
      extent (`render.axis_size`; loop nests, and rows when `a` is not a row axis);
    - as the operand of a reduction over `a` whose padding mask (`passes/masking.py`) the
      emitter turns into loop bounds (`llvm.reduce.bounded_operand`): the operand's element
      is then asked for at positions below the true size only.
    Row scratch (`llvm.row_scratch`) fills a row up to the kernel's bound along the first row
    axis: accepted only when that axis is `a`. A plain BLAS product reading a 2-d parameter
    whose rows it reads up to a run-time count, `a` = 1, takes the array's row stride as its
    leading dimension (`_gemm_axes`). Any other reader (other BLAS products, whose leading
    dimensions are the capacity's, host and library steps, control flow, flat loops, column
    reductions, views, outputs) leaves the parameter out: it is copied into its capacity as
    before."""
    from .array_fields import STRIDES_OFFSET
    if STRIDES_OFFSET is None:
        return {}, {}
    dot_bounded = _dot_bounded(plan) if blas else set()
    have = {info.index for info in plan.buffers if info.kind == "param"}
    safe: dict = {}
    bad = set(plan.outputs)
    for info in plan.buffers:
        if info.kind == "view" and not info.mask_view:   # (a mask view: the same shape)
            bad.add(info.view_of)
        if getattr(info, "alias", None) is not None:   # an output writes its capacity there
            bad.add(info.alias)
    for step in plan.steps:
        for s in (step.epilogue, step.prologue):
            if s is not None:
                bad.update(s.step.inputs)
        reads = [bid for bid in set(step.inputs)
                 if plan.buffers[bid].kind == "param" and bid not in bad]
        got = _kernel_axes(plan, step, reads, dot_bounded, have) \
            if step.kind == "kernel" and reads else \
            _gemm_axes(step, reads, have) if step.kind == "dot" and blas and reads else {}
        for bid in reads:
            axes = got.get(bid, frozenset())
            safe[bid] = safe.get(bid, axes) & axes
    by_buffer, by_number = {}, {}
    for info in plan.buffers:
        axes = safe.get(info.id)
        if info.kind == "param" and axes and info.id not in bad and len(info.shape.dims) > 1:
            by_buffer[info.id] = max(a for a, _ in axes)
            by_number[info.index] = axes
    return by_buffer, by_number


def _kernel_axes(plan, step, reads, dot_bounded, have) -> dict:
    """{buffer: the (axis, hint) under which kernel `step` reads it only inside the true
    extent along that axis}, for the buffers `reads` (see `strided_inputs`); `have`: the
    program's parameter numbers."""
    from ..llvm.row_scratch import plan_row_scratch
    from ..plan.kernel_shapes import column_layout, is_reduction, outer_rank
    shape = step.instr.shape
    if step.in_place is not None or isinstance(shape, tuple) or not shape.dims:
        return {}
    comp = step.instr.called[0]
    if column_layout(comp) is not None:
        return {}
    dims = shape.dims
    k = outer_rank(comp)
    dot_read = step.outputs[0] in dot_bounded
    # render's `sizes`: the output axes (not the first) its loops stop at the true extent of
    # (`true_size`: only from a size parameter the program has)
    bounds = {a: _hint(shape, a, dot_read) for a in range(1, len(dims))}
    bounds = {a: h for a, h in bounds.items() if h is not None and h[0] in have}
    sizes = {}     # the kernel's scalar parameters that are size parameters of the program
    for j, b in enumerate(step.inputs):
        info = plan.buffers[b]
        if info.kind == "param" and not info.shape.dims:
            sizes[j] = (info.index, 1, 0)
    masks = {}     # reduction id: (operand y read below the true size along axis a, a, hint)
    for instr in comp.instructions:
        found = _bounded_operand(instr, sizes) if is_reduction(instr) else None
        if found is not None:
            masks[instr.id] = found
    candidates = {(a, h) for a, h in bounds.items() if k is None or a >= k}
    candidates |= {(a, h) for _, a, h in masks.values()}
    row_reduces = [i for i in comp.instructions if is_reduction(i) and i is not comp.root
                   and k is not None and i.shape.dims == tuple(dims[:k])]
    scratch = bool(k is not None and plan_row_scratch(comp, dims, k, row_reduces))
    candidates = [(a, h) for a, h in candidates
                  if not scratch or (a == k and bounds.get(a) == h)]
    out = {}
    for bid in reads:
        out[bid] = frozenset(
            (a, h) for a, h in candidates
            if all(_reads_inside(comp, j, a, h, bounds, k, masks)
                   for j, b in enumerate(step.inputs) if b == bid))
    return out


def _gemm_axes(step, reads, have) -> dict:
    """{x: {(1, hint)}} for the 2-d parameters x among `reads` that a plain BLAS product of
    one result reads as an operand, row-major, the row length it reads being a run-time
    count `hint` of the program (`render.gemm_sizes`: M for a transposed left operand, K for
    an untransposed one, N or K for the right): the GEMM takes the array's row stride as its
    leading dimension (`gemm.call_blas`) and reads `hint` elements of each row. The call
    passes the array as it is where its axis 1 is dynamic of that true extent."""
    if not blas_ok(step.instr) or step.epilogue is not None or step.prologue is not None:
        return {}
    instr = step.instr
    (lc, rc), (lb, _) = instr.attrs["dimension_numbers"]
    if lb or len(lc) != 1 or len(instr.shape.dims) != 2:
        return {}
    lhs, rhs = instr.operands
    k_hint = _hint(lhs.shape, lc[0]) or _hint(rhs.shape, rc[0])
    # The run-time count of the minor axis of each operand, as `render.gemm_sizes` has it.
    minor = [_hint(instr.shape, 0) if lc[0] == 0 else k_hint,
             _hint(instr.shape, 1) if rc[0] == 0 else k_hint]
    out = {}
    for j, (x, hint) in enumerate(zip((lhs, rhs), minor)):
        bid = step.inputs[j]
        if bid not in reads or len(x.shape.dims) != 2 or hint is None or hint[0] not in have:
            continue
        axes = frozenset({(1, hint)})
        out[bid] = out[bid] & axes if bid in out else axes
    if step.inputs[0] == step.inputs[1] and minor[0] != minor[1]:
        out.pop(step.inputs[0], None)
    return out


def _bounded_operand(red, sizes):
    """(y, a, hint) when reduction `red`'s operand is `select(iota_a < n, y, identity)` with
    `a` a reduced axis and n a size parameter: the pattern `llvm.reduce.bounded_operand`
    turns into a loop stopping at n along `a`. None otherwise (the loop reads the padding)."""
    from ..llvm.emitter import ElementEmitter
    from ..llvm.reduce import initial_value
    from ..plan.kernel_shapes import reduced_axes
    op = red.opcode
    if getattr(ElementEmitter, "_op_" + op, None) is not ElementEmitter.reduction:
        return None
    x = red.operands[0]
    axes = reduced_axes(red)
    if PRIMITIVES[op].arg_reduction:
        fill = initial_value("reduce_max" if op == "argmax" else "reduce_min", x.shape.dtype)
        axes = axes[:1]     # the emitter's arg-reduction loop is along the first
    else:
        fill = initial_value(op, x.shape.dtype)
    if x.opcode != "select":
        return None
    pred, y, f = x.operands
    if pred.opcode != "lt" or not _is_fill(f, fill, x.shape.dtype):
        return None
    pos, lim = pred.operands
    if pos.opcode != "iota" or lim.opcode != "broadcast_in_dim" or lim.operands[0].shape.dims \
            or pos.shape.dtype.kind not in "iu":
        return None
    a = pos.attrs["dimension"]
    n = lim.operands[0]
    if a not in axes or n.opcode != "parameter" or n.attrs["index"] not in sizes or \
            y.shape.dims != x.shape.dims:
        return None
    return y, a, sizes[n.attrs["index"]]


def _is_fill(fill, identity, dtype):
    """Is `fill` a (broadcast) constant equal to `identity` (`llvm.reduce`'s test)?"""
    while fill.opcode == "broadcast_in_dim":
        fill = fill.operands[0]
    if fill.opcode != "constant" or fill.shape.dims:
        return False
    return bool(np.asarray(fill.attrs["value"]) == np.asarray(identity).astype(dtype))


def _reads_inside(comp, index, a, h, bounds, k, masks):
    """Does the kernel of `comp` read its parameter `index` only at positions below the true
    extent `h` along axis `a`? Walks from the root and the bounded reduction operands back
    through instructions reading their operands at their own index; any other reader of a
    value on the way to the parameter may ask for it anywhere."""
    param = next((p for p in comp.parameters if p.attrs["index"] == index), None)
    if param is None:
        return False
    pdims = param.shape.dims
    root = comp.root
    inside: dict = {}     # instr id: every request for it is inside (False: not known)

    def note(instr, ok):
        inside[instr.id] = inside.get(instr.id, True) and ok
    if root.id not in masks:
        note(root, root.shape.dims == pdims and bounds.get(a) == h and (k is None or a >= k))
    for instr in reversed(comp.instructions):
        mask = masks.get(instr.id)
        if mask is not None and instr.id not in inside:
            inside[instr.id] = True     # a reduction: evaluated at any output position
        here = inside.get(instr.id)
        if here is None:
            continue                    # never evaluated (a mask the emitter skips)
        if mask is not None:
            y, axis, hint = mask
            note(y, axis == a and hint == h and y.shape.dims == pdims)
            continue
        keeps = here and _keeps_index(instr)
        for o in instr.operands:
            note(o, keeps)
    return inside.get(param.id, True)


def _keeps_index(instr):
    """Reads its operands at its own index (`planner.reads_at_output_position`'s rule)."""
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None or not (prim.elementwise or prim.linear_order or prim.positional):
        return False
    return all(o.shape.dims == instr.shape.dims for o in instr.operands)
