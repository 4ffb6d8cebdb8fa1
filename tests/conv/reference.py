"""A direct float64 loop implementation of XLA's ConvGeneralDilated, the reference of the
convolution tests: every output element is the sum over its window written out, with the
input's dilation and padding resolved by index arithmetic (no padded copy, no im2col)."""
from __future__ import annotations

import itertools

import numpy as np


def conv_reference(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count=1, batch_group_count=1):
    lspec, rspec, ospec = dimension_numbers
    x = np.transpose(np.asarray(lhs, np.complex128 if np.iscomplexobj(lhs) else np.float64),
                     lspec)
    w = np.transpose(np.asarray(rhs, x.dtype), rspec)
    n, c = x.shape[:2]
    o, i_per_group = w.shape[:2]
    in_sp, k_sp = x.shape[2:], w.shape[2:]
    dims = len(in_sp)
    out_sp = []
    for d in range(dims):
        dil_in = (in_sp[d] - 1) * lhs_dilation[d] + 1 if in_sp[d] else 0
        dil_k = (k_sp[d] - 1) * rhs_dilation[d] + 1 if k_sp[d] else 0
        span = dil_in + padding[d][0] + padding[d][1] - dil_k
        out_sp.append(span // window_strides[d] + 1 if span >= 0 else 0)
    g, b = feature_group_count, batch_group_count
    nb = n // b
    out = np.zeros((nb, o) + tuple(out_sp), x.dtype)
    o_per_fgroup, o_per_bgroup = o // g, o // b
    for bi, oi in itertools.product(range(nb), range(o)):
        fg = oi // o_per_fgroup          # feature group of this output feature
        bg = oi // o_per_bgroup          # batch group of this output feature
        src_n = bg * nb + bi
        for pos in itertools.product(*map(range, out_sp)):
            total = 0.0
            for ci in range(i_per_group):
                src_c = fg * i_per_group + ci
                for tap in itertools.product(*map(range, k_sp)):
                    idx = []
                    for d in range(dims):
                        # position in the padded, dilated input
                        q = pos[d] * window_strides[d] + tap[d] * rhs_dilation[d] \
                            - padding[d][0]
                        if q < 0 or q % lhs_dilation[d]:
                            break
                        q //= lhs_dilation[d]
                        if q >= in_sp[d]:
                            break
                        idx.append(q)
                    else:
                        total += x[(src_n, src_c) + tuple(idx)] * w[(oi, ci) + tap]
            out[(bi, oi) + pos] = total
    return np.transpose(out, np.argsort(ospec))
