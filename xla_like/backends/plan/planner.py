"""From an optimized Module to a plan: buffers, and the steps that fill them.

After `cpu_pipeline` (inlining, CSE, layout, fusion, DCE) the entry computation is a list of
kernels (fusion), library calls (dot_general) and a few instructions no kernel expresses, which
run through their NumPy reference between native segments. Scatters are native kernels
(`llvm.scatter`); sorts and cumulative scans are native "sort"/"scan" steps where the plan says
`native_sorts` (`plan.sort_scan`: phases of kernels with barriers between them).
Each value that is materialized gets a buffer: a parameter, a constant, an output (allocated
per call) or a temporary (a slice of the workspace, placed by buffer assignment).

Three rewrites of the step list save memory passes:
- GEMM epilogue: a BLAS dot whose only consumer is the next kernel, which reads it at the
  output's own position, runs in row blocks, the kernel on each block right after its GEMM
  (the block is still in cache): the dot's result never goes to memory, only a block-sized
  scratch buffer that stays in cache. Worth it when the result is large and the right-hand
  matrix small (each block's GEMM re-reads it).
- GEMM prologue: a kernel whose only consumer is the next BLAS dot, as its (untransposed)
  left operand, runs in row blocks right before each block's GEMM: its result (an im2col
  patch matrix of a convolution, `relu(x)` in `relu(x) @ w`) goes to a block-sized scratch
  buffer that the GEMM reads while it is still in cache, never to memory. A dot may have a
  prologue and an epilogue; they then share one block size.
- Donation: an output may take the memory of a donated parameter of the same type when the
  kernel producing it reads that parameter only at the position it writes, and nothing after
  it reads the parameter (`BufferInfo.alias`).

Before those, views: a kernel that only regroups the axes of one operand (a reshape, a squeeze,
a broadcast adding size-1 axes) leaves a row-major buffer's bytes as they are, so it runs no
code: its readers read the operand's buffer instead (`walk`). Then every read of the view is a
read of the operand's buffer, which keeps it alive (buffer assignment) and keeps a donated
parameter from being overwritten in place while a view of it is still to be read. A view that
is a result of its computation (a program output, a loop body's result) keeps its copy, as
does one read by a step that sees buffers as NumPy arrays of their own shape (host steps).
"""
from __future__ import annotations

import numpy as np

from ops.core import PRIMITIVES

from ... import ir
from ...evaluate import Walker, walk as walk_computation
from ...passes.buffer_assignment import assign_offsets
from ...passes.widen_half_dots import keeping
from ...pipeline import run_pipeline
from .control import CONTROL, make_control
from .kernel_shapes import flat_ok, gemm_layout, outer_rank
from .sort_scan import native_step

# GEMM epilogue thresholds: the dot's result must be larger than this...
EPILOGUE_MIN_BYTES = 1 << 20
# ...and its right-hand matrix (re-read by each block's GEMM) at most this;
EPILOGUE_MAX_RHS_BYTES = 1 << 20
# each block's result is about this large (per thread: threads share the blocks, see
# cpu.gemm); it stays in cache between the GEMM and the kernel. On one core of a Zen 4 (1 MiB
# L2), relu(x @ W + b) with a 32 MiB result: 15.0-15.4 ms without blocks, 256 KiB blocks 14.6,
# 512 KiB 14.3, 1 MiB 14.1, 2-4 MiB 14.0-14.3.
EPILOGUE_BLOCK_BYTES = 1 << 20
# GEMM prologue: the kernel's result (the dot's left operand) must be larger than this, and
# each block of it about this large (per thread).
PROLOGUE_MIN_BYTES = 1 << 20
PROLOGUE_BLOCK_BYTES = 1 << 19
# Regrouping kernels become views (`walk`); False keeps them as copies (benchmarks compare).
VIEWS = True
# A bucketed program's zero masks that only bounded GEMMs read become views (`_mask_view`);
# False keeps them as kernels (benchmarks compare).
MASK_VIEWS = True


def cpu_pipeline(module: ir.Module, after_pass=None, keep_half_dots=None) -> ir.Module:
    """The kernel-time pipeline (`xla_like.pipeline.PIPELINES["kernel"]`) on a copy of
    `module`; `after_pass(name, module)` sees each pass's result (as do the observers of
    `pipeline.observe`). `keep_half_dots(instr)`: the 16-bit dots the backend runs natively,
    which `widen_half_dots` leaves 16-bit (None: widen all)."""
    with keeping(keep_half_dots):
        module, _ = run_pipeline(ir.clone_module(module), "kernel", after_pass)
    return module


def reads_at_output_position(comp: ir.Computation, index: int) -> bool:
    """Does the loop kernel of `comp` read its parameter `index` only at the position of the
    output element it is computing? Then that element of the parameter is dead once the
    output element is written (its memory can be the output's), and a block of the output
    needs only the same block of the parameter."""
    if outer_rank(comp) is not None:
        return False
    param = next((p for p in comp.parameters if p.attrs["index"] == index), None)
    if param is None:
        return False
    root = comp.root
    if flat_ok(comp):
        # A flat kernel reads every full-size operand at the output's linear position.
        return param.shape.size == root.shape.size
    if param.shape.dims != root.shape.dims:
        return False
    # Which instructions are evaluated only at the output's index: the root, and operands of
    # such instructions that keep the index (elementwise ops, identity data movement).
    at_out = {root.id: True}
    for instr in reversed(comp.instructions):
        here = at_out.get(instr.id)
        if here is None:
            continue
        keeps = here and _keeps_index(instr)
        for o in instr.operands:
            at_out[o.id] = at_out.get(o.id, True) and keeps
    return at_out.get(param.id, False)


def _keeps_index(instr):
    """Does `instr` read its operands at its own index? Elementwise ops do, and so does what
    keeps the linear order (reshapes, broadcasts) when the shape does not change."""
    prim = PRIMITIVES.get(instr.opcode)
    if prim is None or not (prim.elementwise or prim.linear_order or prim.positional):
        return False
    return all(o.shape.dims == instr.shape.dims for o in instr.operands)


class BufferInfo:
    """One materialized value. kind: param | const | output | temp | view (no memory of its
    own: the bytes of `view_of`, which the steps read in its place)."""

    def __init__(self, bid, kind, shape: ir.Shape, index=None, value=None):
        self.id = bid
        self.kind = kind
        self.shape = shape
        self.index = index      # parameter number / output number
        self.value = value      # constants: the array
        self.offset = None      # temps: byte offset in the workspace
        self.first = self.last = None
        self.alias = None       # outputs: the donated parameter buffer whose memory it takes
        self.block_bytes = None  # temps holding one block of a GEMM epilogue at a time
        self.view_of = None     # views (kind "view"): the buffer whose bytes it is
        self.mask_view = False  # views: a zero mask read in place (`_mask_view`), same shape

    @property
    def nbytes(self):
        if self.block_bytes is not None:
            return self.block_bytes
        return self.shape.size * self.shape.dtype.itemsize


class Step:
    """kind: kernel (a fusion), dot (dot_general), library (a native LAPACK/FFT call),
    control (a native loop or branch, see `plan.control`), python (NumPy reference)."""

    def __init__(self, kind, instr, inputs, outputs):
        self.kind = kind
        self.instr = instr
        self.inputs = inputs    # buffer ids
        self.outputs = outputs  # buffer ids
        self.epilogue = None    # dots: the Epilogue run on each row block
        self.prologue = None    # dots: the Prologue making each row block of the left operand
        self.in_place = None    # kernels: the parameter read from the output's memory
        self.region = None      # control: the workspace its bodies use while it runs

    def reads(self):
        return self.inputs + (self.epilogue.step.inputs if self.epilogue else []) + (
            self.prologue.step.inputs if self.prologue else [])

    def writes(self):
        return self.outputs + (self.epilogue.step.outputs if self.epilogue else []) + (
            self.prologue.step.outputs if self.prologue else []) + (
            [self.region] if self.region is not None else [])


class Epilogue:
    """A kernel run on row blocks of a dot's result right after each block's GEMM.

    `window`: the kernel's parameter that is the dot's result, read from a scratch buffer
    holding the current block. `rows`: GEMM rows per block. The kernel's range counts units
    (of its outer dimension, or elements when flat) of `unit_elems` elements each."""

    def __init__(self, step, window, rows, unit_elems):
        self.step = step
        self.window = window
        self.rows = rows
        self.unit_elems = unit_elems


class Prologue:
    """A kernel computing a dot's left operand, run on row blocks right before each block's
    GEMM, writing only the current block to a scratch buffer (`llvm.kernels.emit_fusion`'s
    `out_window`). `rows`: GEMM rows per block; the kernel's range counts units of
    `unit_elems` elements each (`unit_elems` 1: a flat kernel)."""

    def __init__(self, step, rows, unit_elems):
        self.step = step
        self.rows = rows
        self.unit_elems = unit_elems


def _unit_elems(comp) -> int:
    """Elements per unit of a fused kernel's parallel range (`llvm.kernels.emit_fusion`)."""
    root = comp.root
    k = outer_rank(comp)
    if k is None and flat_ok(comp):
        return 1
    extent = int(np.prod(root.shape.dims[:k if k is not None else 1], dtype=np.int64))
    return root.shape.size // max(extent, 1)


class Plan:
    """`donated`: parameter numbers whose memory outputs may take. `blas`: the backend's
    predicate `blas(dot_instr) -> bool`, true for the dots it runs through a BLAS library (the
    GEMM epilogue needs one), or None. `threads`: how many threads may share an epilogue's
    blocks (each has its own scratch block)."""

    native_scatter = True   # scatters as native kernels (`llvm.scatter`); a subclass may say no
    # `native_library(instr) -> bool`: the library calls (LAPACK, FFT) this backend runs
    # natively as "library" steps; the others run as host steps. None: all on the host.
    native_library = None
    # Sorts and cumulative scans as native "sort"/"scan" steps (`plan.sort_scan`) where the
    # backend renders them; False: host steps.
    native_sorts = False

    def __init__(self, module: ir.Module, donated=frozenset(), blas=None, threads=1,
                 gemm_fusion=True):
        self.module = module
        # GEMM prologues and epilogues; False: none (a tuned schedule's choice, `cpu.schedule`)
        self.gemm_fusion = gemm_fusion
        self.buffers: list[BufferInfo] = []
        self.steps: list[Step] = []
        self.outputs: list[int] = []   # buffer id per program output
        self.workspace_bytes = 0
        self.n_params = len(module.entry.parameters)
        self.threads = threads
        self.blas = blas
        # (the settings change the plan: code caches key on them)
        self.views = VIEWS if not (MASK_VIEWS and blas is not None) else (VIEWS, "masks")
        self._build(donated, blas)

    def _new(self, kind, shape, **kw):
        b = BufferInfo(len(self.buffers), kind, shape, **kw)
        self.buffers.append(b)
        return b.id

    def _new_constant(self, instr):
        return self._new("const", instr.shape, value=np.array(instr.attrs["value"], order="C"))

    def _make_step(self, instr, ins, outs, nested=False):
        """The step computing `instr`; control flow gets its sub-plans (`plan.control`), and
        runs through the interpreter if a body holds something native code cannot run."""
        op = instr.opcode
        if op in CONTROL:
            step = make_control(self, Step("control", instr, ins, outs), nested)
            if not step.native:
                step.kind = "python"
            return step
        prim = PRIMITIVES[op]
        lowering = prim.lowering
        if lowering == "library" and prim.library != "gemm":
            # LAPACK, FFT: a native library step where the backend has one for this op.
            native = self.native_library is not None and self.native_library(instr)
            return Step("library" if native else "python", instr, ins, outs)
        if lowering == "host" and self.native_sorts:
            step = native_step(self, Step, instr, ins, outs, nested)
            if step is not None:
                return step
        kind = ("kernel" if op == "fusion" else "dot" if lowering == "library" else
                "scatter" if lowering == "scatter" and self.native_scatter else "python")
        return Step(kind, instr, ins, outs)

    def _build(self, donated, blas):
        entry = self.module.entry
        buf_of = {}
        for p in entry.parameters:
            buf_of[p.id] = self._new("param", p.shape, index=p.attrs["index"])
        self.steps.extend(walk(self, entry, buf_of, lambda shape: self._new("temp", shape)))
        root = entry.root
        results = root.operands if root.opcode == ir.TUPLE else [root]
        claimed = set()
        for k, r in enumerate(results):
            bid = buf_of[r.id]
            b = self.buffers[bid]
            if b.kind == "temp" and bid not in claimed:
                b.kind, b.index = "output", k
                claimed.add(bid)
            self.outputs.append(bid)
        if blas is not None and self.gemm_fusion:
            self._find_prologues()
            self._find_epilogues()
        if donated:
            self._find_donations(donated)
        self._assign_temps()

    def _find_epilogues(self):
        # How many steps read each buffer (counted once, not per candidate: a program of n
        # dots would otherwise cost n^2).
        readers = {}
        for step in self.steps:
            for bid in set(step.reads()):
                readers[bid] = readers.get(bid, 0) + 1
        steps = []
        for step in self.steps:
            prev = steps[-1] if steps else None
            if prev is not None and prev.epilogue is None and step.kind == "kernel":
                ep = self._epilogue(prev, step, readers)
                if ep is not None:
                    prev.epilogue = ep
                    continue
            steps.append(step)
        self.steps = steps

    def _find_prologues(self):
        readers = {}
        for step in self.steps:
            for bid in set(step.reads()):
                readers[bid] = readers.get(bid, 0) + 1
        # The kernel need not be the step right before the dot: plan steps write each buffer
        # once, so a kernel whose result only the dot reads can run as late as the dot.
        producer = {}
        absorbed = set()
        for step in self.steps:
            if step.kind == "kernel":
                producer[step.outputs[0]] = step
            elif step.kind == "dot" and step.inputs[0] in producer:
                kernel = producer[step.inputs[0]]
                pro = self._prologue(kernel, step, readers)
                if pro is not None:
                    step.prologue = pro
                    absorbed.add(id(kernel))
        self.steps = [s for s in self.steps if id(s) not in absorbed]

    def _prologue(self, kernel, dot, readers):
        if not self.blas(dot.instr) or kernel.in_place is not None:
            return None
        lhs = self.buffers[kernel.outputs[0]]
        if lhs.kind != "temp" or dot.inputs[0] != lhs.id or dot.inputs.count(lhs.id) != 1 \
                or readers.get(lhs.id) != 1:
            return None
        if getattr(dot.instr.operands[0].shape, "valid_dims", None):
            # A bucketed operand (passes/masking.py): its true size, not known here, decides
            # whether blocks pay; as its own kernel it stops at the true size all the same.
            return None
        batch, m, n, k, ta, _ = gemm_layout(dot.instr)
        size = lhs.shape.dtype.itemsize
        if batch != 1 or ta or m < 2 or m * k * size <= PROLOGUE_MIN_BYTES or \
                k * n * size > EPILOGUE_MAX_RHS_BYTES:
            return None     # small, or each block's GEMM would re-read a large right operand
        comp = kernel.instr.called[0]
        if comp.root.shape.dims != dot.instr.operands[0].shape.dims or \
                comp.root.shape.size != m * k:
            return None     # (a view between them: the blocks are counted in the dot's axes)
        unit = _unit_elems(comp)
        if unit != 1 and unit % k:
            return None     # a unit of the kernel's range must hold whole GEMM rows
        unit_rows = max(1, unit // k)
        rows = max(unit_rows, PROLOGUE_BLOCK_BYTES // (k * size) // unit_rows * unit_rows)
        rows = min(rows, m)
        lhs.block_bytes = rows * k * size * self.threads
        return Prologue(kernel, rows, unit)

    def _epilogue(self, dot, kernel, readers):
        if dot.kind != "dot" or not self.blas(dot.instr):
            return None
        res = self.buffers[dot.outputs[0]]
        # The kernel must be the result's only reader (an epilogue found earlier is a step
        # that reads its own inputs, counted as such).
        if res.kind != "temp" or kernel.inputs.count(res.id) != 1 or readers[res.id] != 1:
            return None
        batch, m, n, k, _, _ = gemm_layout(dot.instr)
        size = res.shape.dtype.itemsize
        if batch != 1 or m < 2 or m * n * size <= EPILOGUE_MIN_BYTES or \
                k * n * size > EPILOGUE_MAX_RHS_BYTES:
            return None
        comp = kernel.instr.called[0]
        window = kernel.inputs.index(res.id)
        param = next(p for p in comp.parameters if p.attrs["index"] == window)
        if param.shape.dims != dot.instr.shape.dims or \
                not reads_at_output_position(comp, window):
            return None     # (a view between them: the blocks are counted in the dot's axes)
        rows = max(1, EPILOGUE_BLOCK_BYTES // (n * size))
        if flat_ok(comp):
            unit_elems = 1
        else:
            # The kernel's outer dimension is the dot's first row dimension.
            unit_elems = comp.root.shape.size // comp.root.shape.dims[0]
            unit_rows = unit_elems // n
            rows = max(unit_rows, rows // unit_rows * unit_rows)
        rows = min(rows, m)
        if dot.prologue is not None:
            # One block size for both: the prologue's, if it holds whole epilogue units.
            rows = dot.prologue.rows
            unit_rows = 1 if unit_elems == 1 else unit_elems // n
            if rows % unit_rows and rows != m:
                return None
        res.block_bytes = rows * n * size * self.threads
        return Epilogue(kernel, window, rows, unit_elems)

    def _find_donations(self, donated):
        """Give outputs the memory of donated parameters (see the module docstring)."""
        taken = set(self.outputs)    # a returned parameter must keep its value
        last_read = {}
        for s, step in enumerate(self.steps):
            for bid in step.reads():
                last_read[bid] = s
        for s, step in enumerate(self.steps):
            kernels = [step] if step.kind == "kernel" else []
            if step.epilogue is not None:
                kernels.append(step.epilogue.step)
            for kernel in kernels:
                out = self.buffers[kernel.outputs[0]]
                if out.kind != "output" or out.alias is not None:
                    continue
                for j, bid in enumerate(kernel.inputs):
                    p = self.buffers[bid]
                    if p.kind != "param" or p.index not in donated or bid in taken or \
                            p.shape != out.shape or kernel.inputs.count(bid) != 1:
                        continue
                    if bid in step.inputs and step is not kernel:
                        continue   # the dot of an epilogue reads it block by block
                    if last_read[bid] > s:   # read after this step
                        continue
                    if not reads_at_output_position(kernel.instr.called[0], j):
                        continue
                    out.alias, kernel.in_place = bid, j
                    taken.add(bid)
                    break

    def _assign_temps(self):
        for s, step in enumerate(self.steps):
            for bid in step.writes():
                b = self.buffers[bid]
                b.first = s if b.first is None else b.first
                b.last = s if b.last is None else max(b.last, s)
            for bid in step.reads():
                b = self.buffers[bid]
                b.last = s if b.last is None else max(b.last, s)
        # A temporary's bytes go to another only two steps after its last read: threads
        # running the next step without a barrier between them (`cpu.barriers`) would
        # otherwise write bytes another thread may still be reading.
        temps = [(b.id, b.nbytes, b.first, None if b.last is None else b.last + 1)
                 for b in self.buffers if b.kind == "temp"]
        offsets, total = assign_offsets(temps)
        for bid, off in offsets.items():
            self.buffers[bid].offset = off
        self.workspace_bytes = total
        for step in self.steps:
            if step.region is not None:
                step.place(self.buffers[step.region].offset)


class _Planner(Walker):
    """Values are buffer ids (a tuple of them for a tuple value); each primitive application
    becomes a step writing fresh result buffers."""

    def __init__(self, plan, new_temp, nested):
        self.plan, self.new_temp, self.nested = plan, new_temp, nested
        self.steps = []

    def constant(self, instr):
        return self.plan._new_constant(instr)

    def apply(self, instr, ins):
        multi = isinstance(instr.shape, tuple)
        outs = [self.new_temp(s) for s in (instr.shape if multi else (instr.shape,))]
        self.steps.append(self.plan._make_step(instr, ins, outs, self.nested))
        return tuple(outs) if multi else outs[0]


def walk(plan, comp, buf_of, new_temp, nested=False) -> list:
    """The steps computing `comp`'s instructions, in order. `buf_of` maps instruction ids to
    buffer ids (the parameters' already there; every other instruction's is added);
    `new_temp(shape)` makes a result buffer."""
    planner = _Planner(plan, new_temp, nested)
    args = [None] * len(comp.parameters)
    for p in comp.parameters:
        args[p.attrs["index"]] = buf_of[p.id]
    buf_of.update(walk_computation(comp, args, planner))
    root = comp.root
    results = {buf_of[r.id] for r in (root.operands if root.opcode == ir.TUPLE else [root])}
    return _elide_views(plan, planner.steps, results)


# Steps that read their operands through the pointer table only, in the instruction's own
# shapes: they can read a view's bytes from its operand's buffer. Host steps (and the CUDA
# backend's library steps, run on the host) see buffers as arrays of the buffer's shape.
_VIEW_READERS = ("kernel", "dot", "scatter", "control")


def _elide_views(plan, steps, results):
    """`steps` without the kernels that only regroup an operand's axes (module docstring):
    each such result becomes a "view" buffer and its readers read the operand's buffer."""
    reader_kinds, readers = {}, {}
    for step in steps:
        for j, bid in enumerate(step.inputs):
            reader_kinds.setdefault(bid, set()).add(step.kind)
            readers.setdefault(bid, []).append((step, j))
    base = {}   # view buffer -> the buffer its readers read
    kept = []
    for step in steps:
        if base:
            step.inputs = [base.get(bid, bid) for bid in step.inputs]
        x = _mask_view(plan, step, readers, results)
        if x is not None:
            out = step.outputs[0]
            base[out] = x
            b = plan.buffers[out]
            b.kind, b.view_of, b.mask_view = "view", x, True
            continue
        if VIEWS and step.kind == "kernel" and len(step.outputs) == 1 and \
                len(step.inputs) == 1:
            out = step.outputs[0]
            if out not in results and reader_kinds.get(out, set()) <= set(_VIEW_READERS) \
                    and view_operand(step.instr) is not None:
                base[out] = step.inputs[0]
                b = plan.buffers[out]
                b.kind, b.view_of = "view", step.inputs[0]
                continue
        kept.append(step)
    return kept


def _mask_view(plan, step, readers, results):
    """The buffer a bucketed program's mask kernel (`passes.masking.mask_only`: x with zeros
    past the true size along some axes) may be read in place of, or None. Only where every
    reader is a BLAS dot (`plan.blas`; the CPU backend's GEMM takes the true size of the
    contracted axis as its K, `cpu.render.gemm_sizes`) contracting the masked axis, whose
    bound is that true size (`Shape.valid_dims`): the GEMM reads x inside the bounds only,
    where the mask is x. A product over a dynamic axis then reads the caller's array (or x
    where a kernel left it) with no zero-filled copy; outside the bounds x may hold anything
    (NaN included), which the GEMM never reads."""
    if not MASK_VIEWS or plan.blas is None or step.kind != "kernel" or \
            len(step.outputs) != 1 or step.outputs[0] in results:
        return None
    from ...passes.masking import mask_only
    found = mask_only(step.instr.called[0])
    if found is None:
        return None
    xi, axes = found
    hints = getattr(step.instr.shape, "valid_dims", None)
    if not hints or len(axes) != 1:
        return None
    ((a, bi),) = axes.items()
    bound = plan.buffers[step.inputs[bi]]
    if hints[a] is None or bound.kind != "param" or tuple(hints[a][:3]) != (bound.index, 1, 0):
        return None
    out = step.outputs[0]
    for reader, j in readers.get(out, ()):
        if reader.kind != "dot" or not plan.blas(reader.instr) or j > 1:
            return None
        (lc, rc), _ = reader.instr.attrs["dimension_numbers"]
        if len(lc) != 1 or (lc, rc)[j][0] != a or reader.instr.operands[j] is not step.instr:
            return None
    return step.inputs[xi]


def view_operand(fusion) -> int | None:
    """The operand whose bytes `fusion` returns unchanged (row-major, same dtype, only its
    axes regrouped), or None when it computes something. Not for a bucketed program's
    values: a kernel may skip their padding (`Shape.valid_dims`), which a view would move."""
    comp = fusion.called[0]
    x = comp.root
    if isinstance(x.shape, tuple):
        return None
    while x.opcode != ir.PARAMETER:
        if len(x.operands) != 1 or not _regroups(x):
            return None
        x = x.operands[0]
    if len(comp.instructions) - len(comp.parameters) != _depth(comp.root):
        return None
    shapes = (fusion.shape, fusion.operands[x.attrs["index"]].shape)
    if any(getattr(s, "valid_dims", None) or getattr(s, "valid_rows", None) for s in shapes):
        return None
    return x.attrs["index"]


def _depth(instr):
    n = 0
    while instr.opcode != ir.PARAMETER:
        n, instr = n + 1, instr.operands[0]
    return n


def _regroups(instr) -> bool:
    """Does `instr` keep its operand's bytes: same dtype and size, same row-major order?"""
    prim = PRIMITIVES.get(instr.opcode)
    (x,) = instr.operands
    if prim is None or x.shape.dtype != instr.shape.dtype or x.shape.size != instr.shape.size:
        return False
    if getattr(prim, "reshapes", False):
        return True
    if instr.opcode == "broadcast_in_dim":
        # Of the same size, it only adds size-1 axes; the kept ones must stay in order.
        dims = list(instr.attrs["broadcast_dimensions"])
        return dims == sorted(dims)
    return False