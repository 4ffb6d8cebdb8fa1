"""Layout normalization: fold transposes and reshapes into the instructions that consume them.

Guarantees, in every computation (same parameters, same results):
- every dot_general's operands are [batch, rows, cols] in memory, either operand possibly
  transposed in its last two groups (GEMM's flags absorb that): a transposed operand is read
  through the dot's dimension numbers where that keeps the result's axis order, and a
  transpose is inserted where the layout is not GEMM's;
- no transpose of a transpose, reshape (or squeeze) of a reshape (or squeeze), or broadcast of
  a broadcast: each chain is one instruction, and one that changes nothing is gone;
- a transpose that only moves size-1 axes is a reshape (kernels read reshapes at the output's
  own linear position, transposes not);
- a reduction of a transpose used by nothing else reduces the transpose's operand over the
  corresponding axes; the (smaller) result is transposed only if its axes come out in another
  order.
Instructions left unused are removed.
"""
from __future__ import annotations

from ops.core import OpcodesWhere

from .. import ir
from .dce import dce

# Asked of each primitive's traits (`ops.core.Primitive`): reductions over `axes`, reductions
# over one `axis` to an index, and ops that only regroup axes.
REDUCE_AXES = OpcodesWhere(lambda p: p.reduces and not p.arg_reduction)
REDUCE_AXIS = OpcodesWhere(lambda p: p.arg_reduction)
RESHAPES = OpcodesWhere(lambda p: p.reshapes)


def layout(module: ir.Module) -> ir.Module:
    for comp in list(module.computations.values()):
        canonicalize_dots(module, comp)
        while _sweep(module, comp):
            pass
    return dce(module)


# --- dot operands in GEMM-friendly layouts -------------------------------------------------

def _gemm_order(dims, batch, first, second):
    """Is `dims`' order batch..., first..., second... (each group contiguous, in order)?"""
    return list(range(len(dims))) == list(batch) + list(first) + list(second)


def _free(rank, contract, batch):
    return [d for d in range(rank) if d not in contract and d not in batch]


def _lhs_ok(rank, lc, lb):
    lf = _free(rank, lc, lb)
    return (_gemm_order(range(rank), lb, lf, lc) or _gemm_order(range(rank), lb, lc, lf)) \
        and list(lb) == sorted(lb)


def _rhs_ok(rank, rc, rb):
    rf = _free(rank, rc, rb)
    return (_gemm_order(range(rank), rb, rc, rf) or _gemm_order(range(rank), rb, rf, rc)) \
        and list(rb) == sorted(rb)


def _fold_transpose(x, contract, batch, ok):
    """If `x` is a transpose, its operand and the dimension numbers that read it directly,
    when that keeps the free axes' order (the dot's result order) and is GEMM's layout."""
    if x.opcode != "transpose":
        return None
    perm = x.attrs["permutation"]
    rank = len(perm)
    free = _free(rank, contract, batch)
    src_free = [perm[d] for d in free]
    if src_free != sorted(src_free):
        return None
    c = tuple(perm[d] for d in contract)
    bt = tuple(perm[d] for d in batch)
    if not ok(rank, c, bt):
        return None
    return x.operands[0], c, bt


def canonicalize_dots(module: ir.Module, comp: ir.Computation):
    """Make every dot_general of `comp` read its operands in GEMM's layout (see the module
    docstring); a transpose it needs is inserted right before it."""
    new_list = []
    for instr in comp.instructions:
        if instr.opcode == "dot_general":
            _canonicalize_dot(module, instr, new_list)
        new_list.append(instr)
    comp.instructions = new_list


def _canonicalize_dot(module, instr, new_list):
    lhs, rhs = instr.operands
    lr, rr = len(lhs.shape.dims), len(rhs.shape.dims)
    (lc, rc), (lb, rb) = instr.attrs["dimension_numbers"]
    lc, lb = tuple(d % lr for d in lc), tuple(d % lr for d in lb)
    rc, rb = tuple(d % rr for d in rc), tuple(d % rr for d in rb)
    folded = _fold_transpose(lhs, lc, lb, _lhs_ok)
    if folded is not None:
        lhs, lc, lb = folded
    folded = _fold_transpose(rhs, rc, rb, _rhs_ok)
    if folded is not None:
        rhs, rc, rb = folded
    if not _lhs_ok(lr, lc, lb):
        lf = _free(lr, lc, lb)
        lhs = _insert_transpose(module, lhs, tuple(lb) + tuple(lf) + tuple(lc), new_list,
                                instr.location)
        nb, nf = len(lb), len(lf)
        lb = tuple(range(nb))
        lc = tuple(range(nb + nf, nb + nf + len(lc)))
    if not _rhs_ok(rr, rc, rb):
        rf = _free(rr, rc, rb)
        rhs = _insert_transpose(module, rhs, tuple(rb) + tuple(rc) + tuple(rf), new_list,
                                instr.location)
        nb = len(rb)
        rb = tuple(range(nb))
        rc = tuple(range(nb, nb + len(rc)))
    dn = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    if dn != instr.attrs["dimension_numbers"] or [lhs, rhs] != instr.operands:
        instr.operands = [lhs, rhs]
        instr.attrs["dimension_numbers"] = dn


def _insert_transpose(module, x, perm, out_list, location):
    dims = tuple(x.shape.dims[p] for p in perm)
    t = ir.Instruction(module.fresh_id(), "transpose", [x], ir.Shape(x.shape.dtype, dims),
                       {"permutation": tuple(perm)}, (), location)
    out_list.append(t)
    return t


# --- chains of data movement, reductions of transposes --------------------------------------

def _users(comp):
    users = {i.id: 0 for i in comp.instructions}
    for i in comp.instructions:
        for o in i.operands:
            users[o.id] = users.get(o.id, 0) + 1
    for o in (comp.root.operands if comp.root.opcode == ir.TUPLE else [comp.root]):
        users[o.id] = users.get(o.id, 0) + 1   # an output is used by the caller
    return users


def _sweep(module, comp) -> bool:
    """One forward pass of the rewrites; True if anything changed (a rewrite can enable
    another one upstream of it, e.g. a reduction's transpose losing its last other user)."""
    users = _users(comp)
    replace = {}
    new_list = []
    changed = False
    for instr in comp.instructions:
        instr.operands = [replace.get(o.id, o) for o in instr.operands]
        out = _rewrite(module, instr, users)
        if out is None:
            new_list.append(instr)
            continue
        changed = True
        emitted, result = out
        new_list.extend(emitted)
        if result is not instr:
            replace[instr.id] = result
    comp.instructions = new_list
    if replace:
        root = comp.root
        if root.id in replace:
            comp.root = replace[root.id]
        elif root.opcode == ir.TUPLE:
            root.operands = [replace.get(o.id, o) for o in root.operands]
    return changed


def _reshape_to(module, instr, x):
    """`instr` (a reshape-like instruction) as a reshape of `x`, or `x` if that is one."""
    if x.shape.dims == instr.shape.dims:
        return [], x
    new = ir.Instruction(instr.id, "reshape", [x], instr.shape,
                         {"new_sizes": tuple(instr.shape.dims)}, (), instr.location)
    return [new], new


def _rewrite(module, instr, users):
    """None (keep `instr`), or (instructions to emit in its place, what replaces it)."""
    op = instr.opcode
    if op == "transpose":
        x = instr.operands[0]
        perm = tuple(instr.attrs["permutation"])
        if x.opcode == "transpose":
            inner = x.attrs["permutation"]
            perm = tuple(inner[p] for p in perm)
            x = x.operands[0]
        if perm == tuple(range(len(perm))):
            return [], x
        moved = [p for p in perm if x.shape.dims[p] != 1]
        if moved == sorted(moved):
            return _reshape_to(module, instr, x)
        if x is not instr.operands[0]:
            instr.operands = [x]
            instr.attrs["permutation"] = perm
            return [instr], instr
        return None
    if op in RESHAPES:
        x = instr.operands[0]
        if x.opcode in RESHAPES:
            return _reshape_to(module, instr, x.operands[0])
        if x.shape.dims == instr.shape.dims:
            return [], x
        return None
    if op == "broadcast_in_dim":
        x = instr.operands[0]
        bdims = tuple(instr.attrs["broadcast_dimensions"])
        if x.opcode == "broadcast_in_dim":
            bdims = tuple(bdims[d] for d in x.attrs["broadcast_dimensions"])
            instr.operands = [x.operands[0]]
            instr.attrs["broadcast_dimensions"] = bdims
            x = x.operands[0]
            if not (x.shape.dims == instr.shape.dims and bdims == tuple(range(len(bdims)))):
                return [instr], instr
        if x.shape.dims == instr.shape.dims and bdims == tuple(range(len(bdims))):
            return [], x
        return None
    if (op in REDUCE_AXES or op in REDUCE_AXIS) and instr.operands[0].opcode == "transpose" \
            and users.get(instr.operands[0].id, 0) == 1:
        return _reduce_of_transpose(module, instr)
    return None


def _reduce_of_transpose(module, instr):
    t = instr.operands[0]
    x = t.operands[0]
    perm = t.attrs["permutation"]
    rank = len(perm)
    if instr.opcode in REDUCE_AXIS:
        axes = (instr.attrs["axis"] % rank,)
    else:
        axes = tuple(sorted({a % rank for a in instr.attrs["axes"]}))
    src_axes = tuple(sorted(perm[a] for a in axes))
    wanted = [perm[d] for d in range(rank) if d not in axes]   # source axes, result order
    have = sorted(wanted)                                       # what reducing x gives
    attrs = dict(instr.attrs)
    if instr.opcode in REDUCE_AXIS:
        attrs["axis"] = src_axes[0]
    else:
        attrs["axes"] = src_axes
    if wanted == have:
        new = ir.Instruction(instr.id, instr.opcode, [x], instr.shape, attrs, (),
                             instr.location)
        return [new], new
    dims = tuple(x.shape.dims[d] for d in have)
    red = ir.Instruction(module.fresh_id(), instr.opcode, [x],
                         ir.Shape(instr.shape.dtype, dims), attrs, (), instr.location)
    back = tuple(have.index(d) for d in wanted)
    new = ir.Instruction(instr.id, "transpose", [red], instr.shape, {"permutation": back}, (),
                         instr.location)
    return [red, new], new
