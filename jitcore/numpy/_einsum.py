"""`einsum`: Einstein summation, parsed here and lowered to diagonals, sums and `dot_general`s.

Subscripts follow NumPy: `'ij,jk->ik'` (explicit output), `'ij,jk'` (implicit: the labels seen
exactly once, sorted, after any broadcast dimensions), `'...'` for broadcast dimensions, a
label repeated within one operand for its diagonal, and size-1 dimensions broadcasting against
their label's size elsewhere. Operands are contracted pairwise from left to right; before each
step, labels that nothing later needs are summed out, so every contraction is one `dot_general`
(shared labels still needed become batch dimensions). The interleaved form
`einsum(x, [0, 1], y, [1, 2], [0, 2])` works too; `optimize` is accepted and ignored.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ops import dtypes
from ops import linalg as la
from ops import reduction as red
from ops import shape as sh
from ops.errors import ShapeError

from ._promotion import aval_of, asarray, convert, result_dtype
from ._reductions import no_out

__all__ = ["einsum"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def promote(op, *args):
    """The operands converted to their JAX-promoted dtype (not broadcast)."""
    args = [asarray(a) for a in args]
    d, weak = result_dtype(*args)
    return [convert(a, d, weak) for a in args]


def take_diagonal(x, axis1, axis2, offset=0):
    """The `offset` diagonal of axes (axis1, axis2) of `x`, appended as the last axis.

    The two axes are moved last and merged, and the diagonal is a strided slice of the merged
    axis (stride cols + 1), so the elements come out exactly as stored.
    """
    xa = aval_of(x)
    rest = tuple(i for i in range(xa.ndim) if i not in (axis1, axis2))
    perm = rest + (axis1, axis2)
    if perm != tuple(range(xa.ndim)):
        x = sh.transpose(x, permutation=perm)
    r, c = xa.shape[axis1], xa.shape[axis2]
    lead = tuple(xa.shape[i] for i in rest)
    x = sh.reshape(x, new_sizes=lead + (r * c,))
    if offset >= 0:
        n, start = max(0, min(r, c - offset)), offset
    else:
        n, start = max(0, min(r + offset, c)), -offset * c
    if n == 0:
        start = limit = 0
    else:
        limit = start + (n - 1) * (c + 1) + 1
    zeros = (0,) * len(lead)
    return sh.slice(x, start_indices=zeros + (start,), limit_indices=lead + (limit,),
                    strides=(1,) * len(lead) + (c + 1,))


# --- parsing -------------------------------------------------------------------------------


def _from_interleaved(args):
    """(subscripts, operands) from einsum(x, [0, 1], y, [1, 2], [0, 2])."""
    args = list(args)
    operands, terms = [], []
    while len(args) >= 2:
        operands.append(args.pop(0))
        terms.append(args.pop(0))
    out = args.pop(0) if args else None

    def term(sub):
        chars = []
        for s in sub:
            if s is Ellipsis:
                chars.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= int(s) < len(_LETTERS):
                chars.append(_LETTERS[int(s)])
            else:
                raise ValueError(f"einsum: subscript {s!r} in the interleaved form must be an "
                                 f"int in [0, {len(_LETTERS)}) or Ellipsis")
        return "".join(chars)

    subscripts = ",".join(term(t) for t in terms)
    if out is not None:
        subscripts += "->" + term(out)
    return subscripts, operands


def _split_ellipsis(op, subscripts, term):
    """(labels before '...', labels after, whether '...' appears), validating the characters."""
    if term.count("...") > 1 or term.replace("...", "").count("."):
        raise ValueError(f"einsum: invalid subscripts {subscripts!r}: '.' may only appear as "
                         "one '...' per operand")
    pre, has, post = term.partition("...")
    for ch in pre + post:
        if ch not in _LETTERS:
            raise ValueError(f"einsum: invalid subscript {ch!r} in {subscripts!r}; labels "
                             "must be letters a-z or A-Z")
    return pre, post, bool(has)


def _parse(subscripts, shapes):
    """Each operand's labels and the output's; '...' dimensions get labels '...0', '...1'..."""
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} contain more than one '->'")
    explicit = "->" in s
    lhs, _, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but "
                         f"{len(shapes)} were given")
    parsed, ell_ndim = [], 0
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        pre, post, has = _split_ellipsis("einsum", subscripts, t)
        k = len(shape) - len(pre) - len(post)
        if k < 0 or (k > 0 and not has):
            raise ShapeError(f"einsum: operand {i} has shape {tuple(shape)} ({len(shape)} "
                             f"dimensions) but its subscripts {t!r} name {len(pre) + len(post)}"
                             f" in {subscripts!r}")
        ell_ndim = max(ell_ndim, k)
        parsed.append((pre, k, post))
    ell = [f"...{i}" for i in range(ell_ndim)]
    labels = [list(pre) + ell[ell_ndim - k:] + list(post) for pre, k, post in parsed]
    if explicit:
        pre, post, has = _split_ellipsis("einsum", subscripts, rhs)
        if ell_ndim and not has:
            raise ShapeError(f"einsum: the operands of {subscripts!r} have broadcast ('...') "
                             "dimensions but the output names no '...'")
        out = list(pre) + (ell if has else []) + list(post)
        seen = {l for ls in labels for l in ls}
        for l in out:
            if out.count(l) > 1:
                raise ValueError(f"einsum: output label {l!r} appears more than once in "
                                 f"{subscripts!r}")
            if l not in seen:
                raise ValueError(f"einsum: output label {l!r} of {subscripts!r} appears in no "
                                 "operand")
    else:
        counts = Counter(l for ls in labels for l in ls if not l.startswith("..."))
        out = ell + sorted(l for l, c in counts.items() if c == 1)
    return labels, out


def _label_sizes(subscripts, labels, shapes):
    sizes = {}
    for i, (ls, shape) in enumerate(zip(labels, shapes)):
        for l, d in zip(ls, shape):
            prev = sizes.get(l)
            if prev is None or prev == 1:
                sizes[l] = d
            elif d != 1 and d != prev:
                name = "a '...' dimension" if l.startswith("...") else f"label {l!r}"
                raise ShapeError(
                    f"einsum: {name} has size {prev} in an earlier operand but {d} in operand "
                    f"{i} for {subscripts!r} with shapes "
                    + ", ".join(str(tuple(s)) for s in shapes))
    return sizes


# --- lowering ------------------------------------------------------------------------------


def _prepare(subscripts, x, labels, sizes):
    """Take diagonals for repeated labels and drop size-1 dimensions that broadcast."""
    labels = list(labels)
    while True:
        dup = next((l for l in labels if labels.count(l) > 1), None)
        if dup is None:
            break
        p = labels.index(dup)
        q = labels.index(dup, p + 1)
        shape = aval_of(x).shape
        if shape[p] != shape[q]:
            raise ShapeError(f"einsum: repeated label {dup!r} of {subscripts!r} spans dimensions "
                             f"of sizes {shape[p]} and {shape[q]} in {aval_of(x).str_short()}")
        x = take_diagonal(x, p, q)
        labels = [l for i, l in enumerate(labels) if i not in (p, q)] + [dup]
    shape = aval_of(x).shape
    squeeze = [i for i, l in enumerate(labels) if shape[i] == 1 and sizes[l] != 1]
    if squeeze:
        x = sh.reshape(x, new_sizes=tuple(d for i, d in enumerate(shape) if i not in squeeze))
        labels = [l for i, l in enumerate(labels) if i not in squeeze]
    return x, labels


def _sum_unneeded(x, labels, needed):
    axes = tuple(i for i, l in enumerate(labels) if l not in needed)
    if not axes:
        return x, labels
    return red.reduce_sum(x, axes=axes), [l for l in labels if l in needed]


def _contract(x, xl, y, yl, keep, preferred_element_type):
    common = [l for l in xl if l in yl]
    batch = [l for l in common if l in keep]
    contract = [l for l in common if l not in keep]
    dn = ((tuple(xl.index(l) for l in contract), tuple(yl.index(l) for l in contract)),
          (tuple(xl.index(l) for l in batch), tuple(yl.index(l) for l in batch)))
    out = la.dot_general(x, y, dimension_numbers=dn,
                         preferred_element_type=preferred_element_type)
    labels = batch + [l for l in xl if l not in common] + [l for l in yl if l not in common]
    return out, labels


def einsum(subscripts, /, *operands, out=None, optimize="auto", precision=None,
           preferred_element_type=None, _dot_general=None):
    """Einstein summation over `operands` as described by `subscripts` (NumPy's notation)."""
    no_out("einsum", out)
    if not isinstance(subscripts, str):
        subscripts, operands = _from_interleaved((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ops = promote("einsum", *operands)
    if preferred_element_type is not None:
        # Accumulating in the requested type from the start gives the same numbers.
        pet = dtypes.canonicalize(preferred_element_type, "einsum preferred_element_type")
        ops = [convert(x, pet) for x in ops]
    shapes = [aval_of(x).shape for x in ops]
    labels, out_labels = _parse(subscripts, shapes)
    sizes = _label_sizes(subscripts, labels, shapes)
    items = [_prepare(subscripts, x, ls, sizes) for x, ls in zip(ops, labels)]
    x, xl = items[0]
    for i in range(1, len(items)):
        later = {l for _, ls in items[i + 1:] for l in ls}
        keep = set(out_labels) | later
        y, yl = items[i]
        x, xl = _sum_unneeded(x, xl, keep | set(yl))
        y, yl = _sum_unneeded(y, yl, keep | set(xl))
        x, xl = _contract(x, xl, y, yl, keep, None)
    x, xl = _sum_unneeded(x, xl, set(out_labels))
    perm = tuple(xl.index(l) for l in out_labels)
    if perm != tuple(range(len(perm))):
        x = sh.transpose(x, permutation=perm)
    return x
