"""Covering arrays for parametrized tests: every pair of factor values, not every combination.

A test parametrized over four factors of sizes 4, 4, 6 and 2 compiles 192 programs when taken
as a full product; most bugs show with one value or an interaction of two (a dtype with an
axis, a kind with a thread count). `pairwise(...)` returns a short list of cases that holds
every pair of values of every two factors at least once, so each interaction is still tried;
the list is deterministic (same cases every run, so a failure reproduces by its test id).

    @pytest.mark.parametrize("name,dtype,reverse", pairwise(NAMES, DTYPES, [False, True]))

A factor given as a list of tuples stays one factor (e.g. `(shape, axis)` pairs): unpack it in
the test or name it as one argument.
"""
from __future__ import annotations

import itertools


def pairwise(*factors):
    """Cases (tuples, one value per factor) covering every pair of values of any two factors.

    Greedy: each new case starts from the first pair not yet covered and fills the other
    factors with the value covering the most pairs still missing (ties: first value), which
    for the sizes tests use gives a list close to the product of the two largest factors."""
    factors = [list(f) for f in factors]
    if any(not f for f in factors):
        return []
    if len(factors) == 1:
        return [(v,) for v in factors[0]]
    k = len(factors)
    missing = {(i, a, j, b) for i, j in itertools.combinations(range(k), 2)
               for a in range(len(factors[i])) for b in range(len(factors[j]))}
    cases = []
    while missing:
        i, a, j, b = min(missing)
        case = [None] * k
        case[i], case[j] = a, b
        for f in range(k):
            if case[f] is not None:
                continue
            def gain(v, f=f):
                return sum((min(f, g), (v if f < g else case[g]), max(f, g),
                            (case[g] if f < g else v)) in missing
                           for g in range(k) if case[g] is not None)
            case[f] = max(range(len(factors[f])), key=lambda v: (gain(v), -v))
        for x, y in itertools.combinations(range(k), 2):
            missing.discard((x, case[x], y, case[y]))
        cases.append(tuple(factors[f][v] for f, v in enumerate(case)))
    return cases
