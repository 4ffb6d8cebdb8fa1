"""`tests.covering.pairwise`: the short case lists the larger parametrized tests use."""
import itertools

import pytest

from tests.covering import pairwise


@pytest.mark.parametrize("sizes", [(2, 2), (4, 4, 6, 2), (9, 6), (2, 5, 3, 5), (3, 1, 4),
                                   (7,), (2, 2, 2, 2, 2, 2)])
def test_every_pair_is_covered_and_the_list_is_short(sizes):
    factors = [[f"f{i}v{v}" for v in range(n)] for i, n in enumerate(sizes)]
    cases = pairwise(*factors)
    assert all(len(c) == len(sizes) for c in cases)
    for i, j in itertools.combinations(range(len(sizes)), 2):
        seen = {(c[i], c[j]) for c in cases}
        assert seen == set(itertools.product(factors[i], factors[j]))
    if len(sizes) == 1:
        assert len(cases) == sizes[0]
    else:
        a, b = sorted(sizes)[-2:]
        total = 1
        for n in sizes:
            total *= n
        # Never more than the full product, and near the lower bound (the two largest sizes).
        assert a * b <= len(cases) <= min(total, 2 * a * b)
    assert pairwise(*factors) == cases            # deterministic


def test_empty_factor_gives_no_cases():
    assert pairwise([1, 2], []) == []
