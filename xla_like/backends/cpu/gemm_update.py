"""GEMM with beta = 1: a product and the kernel that adds it to another array, as one GEMM.

A training step ends with `W - lr * (A^T B)` per weight matrix (and gradient accumulation with
`G + A^T B`): a GEMM writing the product to memory, then a kernel reading it back with `W` to
write the result. As `C = alpha * op(A) op(B) + beta * C` with `C` first holding `W`
(`beta = 1`, `alpha = -lr`), the product never goes to memory and the kernel, its memory pass
and the barrier before it in a threaded segment, disappear; each thread copies `W` into the
rows (or columns) of `C` its GEMM pieces write just before calling them (`gemm._shared_gemm`).
Where the kernel reads the product transposed (`W - lr * transpose(A^T B)`, what the gradient
of `x @ W` gives), the GEMM computes the transpose directly: `(op(A) op(B))^T = op(B)^T op(A)^T`.

The kernel must read the product and the other array only at the output's position (up to
that transpose), compute `P + s * D`, `P - s * D` or `s * D + P` (s a constant, or none), and be
the product's only reader. It runs at the product's place instead of its own: so it must write
a program output (fresh memory, not the workspace whose bytes later temporaries share) or come
right after the product into workspace bytes no operand holds, and read nothing written in
between. The renderer (`cpu.render`) finds these with `find_updates` and calls BLAS with the
`Update` (`gemm.call_blas`).
"""
from __future__ import annotations

import copy

from ops.core import PRIMITIVES

from ..plan.kernel_shapes import gemm_layout

# Fold products into their update kernels (False: product and kernel, as before).
ENABLED = True


class Update:
    """`C = alpha * product + C`, C first holding buffer `addend`; `transposed`: C holds the
    product's transpose. `kernel`: the step it replaces."""

    def __init__(self, kernel, addend, alpha, transposed):
        self.kernel = kernel
        self.addend = addend
        self.alpha = alpha
        self.transposed = transposed


def layout(step):
    """(batch, m, n, k, ta, tb, a buffer, b buffer) of the GEMM a dot step calls: the dot's
    own, or for a transposed `Update` the product of the swapped, opposite-transposed
    operands, whose result is the transpose."""
    batch, m, n, k, ta, tb = gemm_layout(step.instr)
    a, b = step.inputs[:2]
    update = getattr(step, "update", None)
    if update is not None and update.transposed:
        return batch, n, m, k, not tb, not ta, b, a
    return batch, m, n, k, ta, tb, a, b


def _const_scalar(instr):
    """The value of a scalar constant, possibly broadcast, else None."""
    if instr.opcode == "broadcast_in_dim" and not instr.operands[0].shape.dims:
        instr = instr.operands[0]
    if instr.opcode == "constant" and not instr.shape.dims:
        try:
            return float(instr.attrs["value"])
        except (TypeError, ValueError):
            return None
    return None


def _product_term(instr, param):
    """(alpha, transposed) if `instr` is s * D, D * s, -D or D (or D transposed), D being
    `param`; else None."""
    alpha = 1.0
    while True:
        if instr is param:
            return alpha, False
        if instr.opcode == "transpose" and instr.operands[0] is param and \
                tuple(instr.attrs["permutation"]) == (1, 0):
            return alpha, True
        prim = PRIMITIVES.get(instr.opcode)
        if prim is None or not prim.elementwise:
            return None
        if instr.opcode == "neg":
            alpha, instr = -alpha, instr.operands[0]
            continue
        if instr.opcode == "mul":
            x, y = instr.operands
            c = _const_scalar(x)
            if c is None:
                x, y = y, x
                c = _const_scalar(x)
            if c is None:
                return None
            alpha, instr = alpha * c, y
            continue
        return None


def match_update(comp, d_index, shape):
    """(addend parameter index, alpha, transposed) if the kernel of `comp` computes
    P +- s * D (D = parameter `d_index`, of the product's `shape`), else None."""
    root = comp.root
    params = {p.attrs["index"]: p for p in comp.parameters}
    if len(params) != 2 or d_index not in params or len(root.shape.dims) != 2 or \
            root.opcode != "add" and root.opcode != "sub":
        return None
    d = params[d_index]
    (p_index, p), = [(i, q) for i, q in params.items() if i != d_index]
    if p.shape.dims != root.shape.dims or p.shape.dtype != root.shape.dtype or \
            d.shape.dtype != root.shape.dtype:
        return None
    uses = sum(o is d for i in comp.instructions for o in i.operands)
    if uses != 1:
        return None
    x, y = root.operands
    if x is p:
        term, sign = _product_term(y, d), (-1.0 if root.opcode == "sub" else 1.0)
    elif y is p and root.opcode == "add":
        term, sign = _product_term(x, d), 1.0
    else:
        return None
    if term is None:
        return None
    alpha, transposed = term
    want = tuple(reversed(shape)) if transposed else tuple(shape)
    if tuple(root.shape.dims) != want:
        return None
    return p_index, sign * alpha, transposed


def find_updates(plan, steps, library):
    """{index of a BLAS dot in `steps`: Update} for the products folded into a later kernel
    of the same segment (see the module docstring)."""
    if not ENABLED:
        return {}
    readers = {}
    for step in plan.steps:
        for bid in set(step.reads()):
            readers[bid] = readers.get(bid, 0) + 1
    found = {}
    taken = set()
    reader_at = {}
    for k, s in enumerate(steps):
        for bid in s.inputs:
            reader_at.setdefault(bid, []).append(k)
    for k, (dot, lib) in enumerate(zip(steps, library)):
        if not lib or dot.epilogue is not None or dot.prologue is not None:
            continue
        res = plan.buffers[dot.outputs[0]]
        batch = gemm_layout(dot.instr)[0]
        if batch != 1 or len(dot.instr.shape.dims) != 2 or res.kind != "temp" or \
                readers.get(res.id) != 1 or _bucketed(dot.instr):
            continue
        later = [j for j in reader_at.get(res.id, []) if j > k]
        if len(later) != 1 or later[0] in taken:
            continue
        j = later[0]
        kernel = steps[j]
        if kernel.kind != "kernel" or kernel.in_place is not None or \
                kernel.inputs.count(res.id) != 1 or _bucketed(kernel.instr) or \
                isinstance(kernel.instr.shape, tuple):
            continue
        out = plan.buffers[kernel.outputs[0]]
        if out.alias is not None or out.kind != "output" and (
                j != k + 1 or out.kind != "temp" or
                any(_overlap(out, plan.buffers[bid]) for bid in dot.inputs + kernel.inputs)):
            continue
        m = match_update(kernel.instr.called[0], kernel.inputs.index(res.id),
                         dot.instr.shape.dims)
        if m is None:
            continue
        p_index, alpha, transposed = m
        addend = kernel.inputs[p_index]
        if any(addend in s.writes() or kernel.outputs[0] in s.reads()
               for s in steps[k + 1:j]):
            continue
        found[k] = Update(kernel, addend, alpha, transposed)
        taken.add(j)
    return found


def fold(plan, steps, library):
    """The steps a segment runs, in place of `steps`: a BLAS dot carrying its `Update` (a copy
    of the step reading the addend too and writing the kernel's output), None for the kernel
    it absorbed, the others as they are."""
    run = list(steps)
    position = {id(s): k for k, s in enumerate(steps)}
    for k, update in find_updates(plan, steps, library).items():
        dot = copy.copy(steps[k])
        dot.inputs = steps[k].inputs[:2] + [update.addend]
        dot.outputs = list(update.kernel.outputs)
        dot.update = update
        run[k] = dot
        run[position[id(update.kernel)]] = None
    return run


def _overlap(x, y):
    """Do temporaries x and y share workspace bytes (buffer assignment gives a buffer whose
    life starts at the kernel the bytes of one whose life ends at the product)?"""
    if x.kind != "temp" or y.kind != "temp" or x.offset is None or y.offset is None:
        return False
    return x.offset < y.offset + y.nbytes and y.offset < x.offset + x.nbytes


def _bucketed(instr):
    shapes = [instr.shape] + [o.shape for o in instr.operands]
    return any(getattr(s, "valid_rows", None) or getattr(s, "valid_dims", None)
               for s in shapes if not isinstance(s, tuple))
