"""How a reshape maps an output index to its operand's: run by run of regrouped axes."""
from __future__ import annotations


def reshape_runs(out_dims, in_dims):
    """[(output axes, operand axes)]: the shortest runs of consecutive axes whose sizes have
    the same product on both sides, covering both shapes in order (size-1 axes join the run
    before them, or the first). A reshape maps each run's index on its own."""
    runs, i, j = [], 0, 0
    n, m = len(out_dims), len(in_dims)
    while i < n or j < m:
        oa, ia = [], []
        po = pi = 1
        # Take at least one axis of each side that has one left, then grow the smaller side.
        if i < n:
            oa.append(i); po *= out_dims[i]; i += 1
        if j < m:
            ia.append(j); pi *= in_dims[j]; j += 1
        while po != pi and (i < n or j < m):
            if (po < pi and i < n) or j >= m:
                oa.append(i); po *= out_dims[i]; i += 1
            else:
                ia.append(j); pi *= in_dims[j]; j += 1
        # Trailing size-1 axes belong to this run (their index is 0 on either side).
        while po == pi and i < n and out_dims[i] == 1:
            oa.append(i); i += 1
        while po == pi and j < m and in_dims[j] == 1:
            ia.append(j); j += 1
        runs.append((oa, ia))
    return runs
