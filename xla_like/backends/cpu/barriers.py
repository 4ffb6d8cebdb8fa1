"""Which barriers a threaded segment needs, and which small kernels run on thread 0 alone.

A segment running on several threads (`cpu.render`) used to end every step with a barrier.
Under load each barrier costs whatever time the slowest thread is kept off its core (often a
whole scheduler slice, milliseconds), so a training step of ~30 kernels paid for ~30 of them.
A barrier is only needed where a thread could touch memory that another thread touched, one
of the two writing, in the steps since the last barrier (a race). This module works out, for
every thread count the segment may run with (2 up to the plan's `threads`), which elements of
which buffer each thread reads and writes in each step, from the same partition rules the
renderer follows:

- a splittable kernel: thread t's contiguous chunk of its range (`render._render_segment`);
  it reads an operand at the chunk's own elements when it reads it only at the output's
  position (elementwise), at the chunk's own rows when it reads it only at the output row's
  leading indices (a row reduction, a row-wise softmax), else whole;
- a BLAS product shared among the threads: thread t's run of `gemm.pieces`, its rows of the
  result and (untransposed) of the left operand;
- anything else (an unshared product, a scatter, a GEMM with prologue or epilogue, a column
  reduction): every thread reads and writes the whole of every buffer it names, a superset
  of what it does.

Buffers are placed in memory spaces (the workspace, where temporaries whose lifetimes do not
overlap share bytes; each parameter's or output's own array; an output taking a donated
parameter's memory is that parameter's) and compared by byte ranges. So `relu(x @ W)` then
`@ W2` on the same rows needs no barrier: each thread reads back only the rows it wrote.

Kernels too small to be worth splitting (`ALONE_MAX_WORK`) run on thread 0 alone when that
spares a barrier or costs none: a chain of small kernels (a loss's reductions to a scalar, a
bias update) then needs no barrier inside it, and the other threads go on to the next one.
In a bucketed program (`jit(..., dynamic_axes=...)`) a kernel's range may be a run-time count,
coefficient * size parameter + constant rows (`render.valid_rows`, `axis_size`), each thread
taking its chunk of that count, and loops along later axes stop at run-time extents. Where its
range is static the model is the same as above (a loop stopping early touches less). Where it
is a run-time count, a thread's part of a buffer is known only as a multiple of the kernel's
unit; two such kernels splitting the same run-time count (same parameter, coefficient,
constant, capacity, unit count per row, flat or not) hand every thread the same units in both
at every size, so parts at the same bytes per unit from the same first byte never overlap
between threads. Anything else is modelled as the whole range the count may reach, and
bucketed products as touching all they name.
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ..plan.kernel_shapes import column_layout, flat_ok, is_reduction, outer_rank
from ..plan.planner import reads_at_output_position
from . import gemm_update
from .gemm import pieces, worth_sharing

# Kernels touching at most this many elements may run on thread 0 alone (a few microseconds
# of work: less than a barrier costs under load, and not enough to share).
ALONE_MAX_WORK = 1 << 14
# Elide barriers at all (False: one after every step, as before; benchmarks compare).
ELIDE = True
# Steps one barrier-free run may hold before a barrier anyway: the check of a step looks at
# every access since the last barrier, and this keeps it linear in the segment's length.
_MAX_RUN = 64


def kernel_geometry(comp):
    """(extent, splittable, flat, rows) of the loop kernel `llvm.kernels.emit_fusion` makes of
    `comp` (no windows, no run-time bounds): its parallel range and how it is cut; `rows`: how
    many leading output axes one unit of the range covers (None: a unit is not whole rows, a
    column reduction's blocks or a flat kernel's elements)."""
    out = comp.root.shape
    if out.size == 0:
        return 0, False, False, None
    k = outer_rank(comp)
    if k is None and flat_ok(comp):
        return out.size, True, True, None
    if k is None:
        if not out.dims:
            return 1, False, False, None
        return out.dims[0], True, False, 1
    if column_layout(comp) is not None:
        return None, True, False, None
    return int(np.prod(out.dims[:k], dtype=np.int64)) if k else 1, True, False, k


def reads_own_rows(comp, index, k) -> bool:
    """Does the kernel of `comp` read parameter `index` only at the leading `k` indices of the
    output row it computes (the parameter has the output's leading `k` axes)? Elementwise ops,
    reductions over later axes and broadcasts keeping the leading axes in place keep a value
    at its row."""
    root = comp.root
    param = next((p for p in comp.parameters if p.attrs["index"] == index), None)
    lead = tuple(root.shape.dims[:k])
    if param is None or len(lead) < k or tuple(param.shape.dims[:k]) != lead:
        return False
    at_row = {root.id: True}
    for instr in reversed(comp.instructions):
        here = at_row.get(instr.id)
        if here is None:
            continue
        keeps = here and _keeps_rows(instr, k, lead)
        for o in instr.operands:
            at_row[o.id] = at_row.get(o.id, True) and keeps
    return at_row.get(param.id, False)


def _keeps_rows(instr, k, lead):
    """Does `instr` read its operands at its own leading `k` indices?"""
    if tuple(instr.shape.dims[:k]) != lead:
        return False
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None:
        return False
    if instr.opcode == "broadcast_in_dim":
        bd = tuple(instr.attrs["broadcast_dimensions"])
        src = instr.operands[0].shape.dims
        # Every leading output axis comes from the same operand axis, at full size.
        return len(bd) >= k and bd[:k] == tuple(range(k)) and tuple(src[:k]) == lead
    if is_reduction(instr):
        axes = instr.attrs.get("axes")
        return axes is not None and all(a % len(instr.operands[0].shape.dims) >= k
                                        for a in axes) and \
            tuple(instr.operands[0].shape.dims[:k]) == lead
    if prim.elementwise:
        return all(o.shape.dims == instr.shape.dims for o in instr.operands)
    if prim.linear_order:
        # A reshape keeping the leading axes keeps every element in its row.
        src = instr.operands[0].shape
        return len(instr.operands) == 1 and src.size == instr.shape.size and \
            tuple(src.dims[:k]) == lead
    if instr.opcode == "transpose":
        return tuple(instr.attrs["permutation"][:k]) == tuple(range(k))
    return False


class _Spaces:
    """Where each buffer lives: (space, first byte)."""

    def __init__(self, plan, steps=()):
        self.plan = plan
        self.modes = {}     # id(kernel step): how it reads each input (`_read_modes`)
        self.bucketed = any(_bucketed(s) for s in steps)
        self.strided = {}
        if self.bucketed:
            from .render import _dot_bounded
            self.params = {b.index: b.id for b in plan.buffers if b.kind == "param"}
            # Buffers whose true extent a GEMM reading them stops at (with BLAS; without,
            # none): the renderer bounds their kernels along such axes too.
            self.dot_bounded = _dot_bounded(plan)
            self.strided = getattr(plan, "strided_inputs", None) or {}
            # Spaces the segment writes: a size parameter among them could change between
            # two kernels reading it, so its counts would not be the same in both.
            self.written = {self.place(bid)[0] for s in steps if s is not None
                            for bid in s.writes()}

    def place(self, bid):
        b = self.plan.buffers[bid]
        while b.kind == "view" and b.view_of is not None:
            b = self.plan.buffers[b.view_of]
        if b.kind == "temp":
            return "ws", b.offset or 0
        if b.kind == "output" and b.alias is not None:
            return ("array", b.alias), 0
        if b.kind == "const":
            return None, 0        # never written
        return ("array", b.id), 0


def _chunks(n_units, nthreads, flat, share=(64, 1, 0)):
    """Thread t's [lo, hi) of a kernel's range, as `render._render_segment` cuts it: `share`
    is the segment's schedule (`cpu.schedule`): (elements a flat chunk is a multiple of,
    units a row chunk is a multiple of, most threads sharing the range (0: all))."""
    align, row_align, cap = share
    chunk = -(-n_units // (min(nthreads, cap) if cap else nthreads))
    if flat or row_align > 1:
        a = align if flat else row_align
        chunk = -(-chunk // a) * a
    out = []
    for t in range(nthreads):
        lo = min(t * chunk, n_units)
        out.append((lo, min(lo + chunk, n_units)))
    return out


class _Access:
    """One step's accesses by thread: [t] -> list of (space, lo byte, hi byte, writes)."""

    def __init__(self, nthreads):
        self.by_thread = [[] for _ in range(nthreads)]


def _whole(spaces, bid):
    """(space, lo, hi) of all of buffer `bid`, or None for a constant."""
    space, base = spaces.place(bid)
    if space is None:
        return None
    if bid in spaces.strided:
        # The caller's array, read with its own strides: all of its space.
        return space, 0, 1 << 62
    return space, base, base + spaces.plan.buffers[bid].nbytes


def _part(spaces, bid, elo, ehi, key=None, per=None):
    """(space, lo, hi) of elements [elo, ehi) of buffer `bid`; with a run-time count `key`,
    (space, lo, hi, tag): [elo, ehi) the range every thread's part lies in, `per` elements of
    the buffer a unit of the kernel's range."""
    space, base = spaces.place(bid)
    if space is None or ehi <= elo:
        return None
    size = spaces.plan.buffers[bid].shape.dtype.itemsize
    part = space, base + elo * size, base + ehi * size
    if key is None:
        return part
    return part + ((key, base, per * size),)


def _everything(spaces, step, nthreads, threads):
    """Accesses of a step modelled as: the threads in `threads` read and write all it names."""
    acc = _Access(nthreads)
    for t in threads:
        for bid in step.reads():
            r = _whole(spaces, bid)
            if r:
                acc.by_thread[t].append(r + (False,))
        for bid in step.writes():
            w = _whole(spaces, bid)
            if w:
                acc.by_thread[t].append(w + (True,))
    return acc


def _kernel_access(spaces, step, nthreads, alone):
    comp = step.instr.called[0]
    key = None
    if spaces.bucketed:
        geometry = _bucket_geometry(spaces, step)
        if geometry is None:
            return _everything(spaces, step, nthreads, [0] if alone else range(nthreads))
        extent, splittable, flat, rows, key = geometry
    else:
        extent, splittable, flat, rows = kernel_geometry(comp)
    if alone or not splittable:
        return _everything(spaces, step, nthreads, [0])
    if extent is None:
        return _everything(spaces, step, nthreads, range(nthreads))
    out = step.outputs[0]
    out_size = spaces.plan.buffers[out].shape.size
    unit = out_size // max(extent, 1)
    acc = _Access(nthreads)
    modes = spaces.modes.get(id(step))
    if modes is None:
        modes = spaces.modes[id(step)] = _read_modes(spaces.plan, step, extent, rows)
    # A run-time count: every thread's part is anywhere in the range the count may reach
    # (the whole capacity), tagged with what makes parts of two kernels disjoint.
    cuts = _chunks(extent, nthreads, flat, spaces.share) if key is None else \
        [(0, extent)] * nthreads
    for t, (lo, hi) in enumerate(cuts):
        if hi <= lo:
            continue
        mine = acc.by_thread[t]
        w = _part(spaces, out, lo * unit, hi * unit, key, unit)
        if w:
            mine.append(w[:3] + (True,) + w[3:])
        for bid, (mode, per) in zip(step.inputs, modes):
            r = _whole(spaces, bid) if mode == "whole" or bid in spaces.strided else \
                _part(spaces, bid, lo * unit, hi * unit, key, unit) if mode == "same" else \
                _part(spaces, bid, lo * per, hi * per, key, per)
            if r:
                mine.append(r[:3] + (False,) + r[3:])
    return acc


def _bucket_geometry(spaces, step):
    """(extent, splittable, flat, rows, key) of a bucketed program's kernel as the renderer
    emits and splits it (`render.emit_step`, `kernels.emit_fusion`), or None where that is
    not certain; `key`: None for a static range, else what its run-time count is made of."""
    comp = step.instr.called[0]
    shape = step.instr.shape
    out = step.outputs[0]
    # `render.axis_size`'s dot_read is "out is dot-bounded" with BLAS and False without:
    # where the two give different kernels the geometry is not known here.
    found = {_rendered(spaces, step, comp, shape, dot_read)
             for dot_read in {False, out in spaces.dot_bounded}}
    return found.pop() if len(found) == 1 else None


def _hint(spaces, hint, cap):
    """The run-time count `render.true_size` makes of `hint`, or None where it is static."""
    if hint is None or hint[0] not in spaces.params:
        return None
    if ("array", spaces.params[hint[0]]) in spaces.written:
        return "changing"
    return (hint[0], hint[1], hint[2], cap)


def _rendered(spaces, step, comp, shape, dot_read):
    """`_bucket_geometry` with `render.axis_size`'s dot_read as given."""
    if isinstance(shape, tuple) or shape.size == 0:
        return None
    dims = shape.dims
    hints = getattr(shape, "valid_dims", None) or ()
    counts = []
    for a in range(len(dims)):
        h = hints[a] if a < len(hints) else None
        counts.append(None if h is None or (h[3] and not dot_read) else
                      _hint(spaces, h, dims[a]))
    if "changing" in counts:
        return None
    bounded = any(c is not None for c in counts[1:])
    strided = any(bid in spaces.strided for bid in step.inputs)
    k = outer_rank(comp)
    if k is None and flat_ok(comp) and not bounded and not strided:
        extent, flat, rows = shape.size, True, None
    elif k is None:
        if not dims:
            return 1, False, False, None, None
        extent, flat, rows = dims[0], False, 1
    elif column_layout(comp) is not None and not strided:
        return None, True, False, None, None
    else:
        extent, flat, rows = int(np.prod(dims[:k], dtype=np.int64)) if k else 1, False, k
    count = _hint(spaces, getattr(shape, "valid_rows", None), dims[0]) if dims else None
    if count is None and dims:
        count = counts[0]
    if count == "changing":
        return None
    key = None
    if count is not None and extent and extent % dims[0] == 0:
        key = count + (extent // dims[0], flat)
        if flat:
            # Shared by whole leading rows (`render.emit_step`), as a row kernel is.
            extent, key = dims[0], count + (1, False)
    return extent, True, flat, rows, key


def _read_modes(plan, step, extent, rows):
    """Per input of a kernel step: ("same", 1) read at the output's own elements, ("rows",
    elements a row) at the output row's own rows, or ("whole", None)."""
    comp = step.instr.called[0]
    out_size = plan.buffers[step.outputs[0]].shape.size
    modes = []
    for j, bid in enumerate(step.inputs):
        in_size = plan.buffers[bid].shape.size
        if reads_at_output_position(comp, j) and in_size == out_size:
            modes.append(("same", 1))
        elif rows is not None and reads_own_rows(comp, j, rows):
            modes.append(("rows", in_size // max(extent, 1)))
        else:
            modes.append(("whole", None))
    return modes


def _gemm_access(spaces, step, nthreads, threads):
    """A BLAS product shared among the threads (`gemm._shared_gemm`); with an `Update`, each
    thread also reads the addend where it writes the result."""
    batch, m, n, k, ta, _, a, bmat = gemm_update.layout(step)
    axis, per, size = pieces(batch, m, n, threads)
    if axis == "cols":
        return _everything(spaces, step, nthreads, range(nthreads))
    total = batch * per
    share = -(-total // nthreads)
    addend = step.inputs[2] if getattr(step, "update", None) is not None else None
    out = step.outputs[0]
    acc = _Access(nthreads)

    def row(p, end):
        """Row of the stacked (batch * m) result where piece p starts (or ends)."""
        bi, q = divmod(p, per)
        r = q * size if axis == "rows" else 0
        if end:
            r = min(r + size, m) if axis == "rows" else m
        return bi * m + r
    for t in range(nthreads):
        first = min(t * share, total)
        last = min(first + share, total)
        if last <= first:
            continue
        r0, r1 = row(first, False), row(last - 1, True)
        mine = acc.by_thread[t]
        for rng, writes in ((_part(spaces, out, r0 * n, r1 * n), True),
                            (_whole(spaces, bmat), False),
                            (_whole(spaces, a) if ta else _part(spaces, a, r0 * k, r1 * k),
                             False),
                            (addend is not None and _part(spaces, addend, r0 * n, r1 * n),
                             False)):
            if rng:
                mine.append(rng + (writes,))
    return acc


def _access(spaces, step, lib, nthreads, threads, alone):
    if step is None:      # a kernel folded into a GEMM (`gemm_update`): nothing here
        return _Access(nthreads)
    if step.kind == "kernel" and not isinstance(step.instr.shape, tuple):
        return _kernel_access(spaces, step, nthreads, alone)
    if lib and step.epilogue is None and step.prologue is None:
        if worth_sharing(step.instr):
            if spaces.bucketed and _bucketed(step):
                # Pieces of run-time rows or columns (`gemm._shared_gemm`): anywhere.
                return _everything(spaces, step, nthreads, range(nthreads))
            return _gemm_access(spaces, step, nthreads, threads)
        return _everything(spaces, step, nthreads, [0])
    return _everything(spaces, step, nthreads, range(nthreads))


def _conflicts(run, acc):
    """Could a thread's access in `acc` race with another thread's in `run` (the accesses of
    the steps since the last barrier, by thread)?"""
    for t, new in enumerate(acc.by_thread):
        for s, old in enumerate(run):
            if s == t:
                continue
            for space, lo, hi, w, *tag in new:
                for space2, lo2, hi2, w2, *tag2 in old:
                    if (w or w2) and space == space2 and lo < hi2 and lo2 < hi and \
                            not (tag and tag == tag2):
                        return True
    return False


def _bucketed(step):
    if step is None:
        return False
    shapes = [step.instr.shape] + [o.shape for o in step.instr.operands]
    if step.epilogue is not None:
        shapes.append(step.epilogue.step.instr.shape)
    if step.prologue is not None:
        shapes.append(step.prologue.step.instr.shape)
    return any(getattr(s, "valid_rows", None) or getattr(s, "valid_dims", None)
               for s in shapes if not isinstance(s, tuple))


def _small(plan, step):
    comp = step.instr.called[0]
    if isinstance(comp.root.shape, tuple):
        return False
    dims = comp.root.operands[0].shape.dims if is_reduction(comp.root) else comp.root.shape.dims
    return int(np.prod(dims, dtype=np.int64)) <= ALONE_MAX_WORK


def plan_barriers(plan, steps, library, threads, share=(64, 1, 0), split=1):
    """(barrier before step k?, {id(step) of kernels run on thread 0 alone}) for a segment of
    `steps` run on 2..`plan.threads` threads; `library[k]`: step k is a BLAS product;
    `threads`: the thread count `gemm.pieces` cuts products for; `share`: how the segment's
    schedule cuts kernel ranges (`_chunks`); `split`: shares a thread (`cpu.claims`)."""
    need = [k > 0 for k in range(len(steps))]
    alone = set()
    top = max(int(plan.threads or 1), 2)
    if not ELIDE:
        return need, alone
    spaces = _Spaces(plan, steps)
    spaces.share = share
    # Shares each thread count runs: `split` a thread where they are claimed (`cpu.claims`).
    counts = [split * n for n in range(2, top + 1)]
    runs = {n: [[] for _ in range(n)] for n in counts}
    length = 0
    for k, (step, lib) in enumerate(zip(steps, library)):
        small = step is not None and step.kind == "kernel" and _small(plan, step)
        options = [True, False] if small else [False]   # alone first where it may
        chosen = None
        for one in options:
            accs = {n: _access(spaces, step, lib, n, threads, one) for n in counts}
            if not any(_conflicts(runs[n], accs[n]) for n in counts):
                chosen = (one, accs, False)
                break
        if chosen is None or (k and length >= _MAX_RUN):
            one = small
            chosen = (one, {n: _access(spaces, step, lib, n, threads, one) for n in counts}, True)
        one, accs, barrier = chosen
        need[k] = bool(k) and barrier
        if barrier:
            runs = {n: [[] for _ in range(n)] for n in counts}
            length = 0
        if one:
            alone.add(id(step))
        for n in counts:
            for t, items in enumerate(accs[n].by_thread):
                runs[n][t].extend(items)
        length += 1
    return need, alone
