"""`assign_offsets`: temporaries share workspace bytes only when their live ranges (first
write, last read, in step order) do not overlap, and dead space is reused. Checked by brute force
over every pair on random schedules."""
import numpy as np

from xla_like.passes.buffer_assignment import assign_offsets


def _overlap(a_lo, a_hi, b_lo, b_hi):
    return a_lo < b_hi and b_lo < a_hi


def _random_temps(rng, n):
    temps = []
    for k in range(n):
        first = int(rng.integers(0, 40))
        temps.append((f"t{k}", int(rng.integers(0, 5000)), first, first + int(rng.integers(0, 10))))
    return temps


def test_live_temporaries_never_share_bytes():
    rng = np.random.default_rng(0)
    for _ in range(50):
        temps = _random_temps(rng, int(rng.integers(1, 40)))
        offsets, total = assign_offsets(temps)
        assert set(offsets) == {t[0] for t in temps}
        for i, (ka, na, fa, la) in enumerate(temps):
            assert 0 <= offsets[ka] and offsets[ka] + na <= total
            for kb, nb, fb, lb in temps[i + 1:]:
                if _overlap(fa, la + 1, fb, lb + 1):
                    assert not _overlap(offsets[ka], offsets[ka] + max(na, 1),
                                        offsets[kb], offsets[kb] + max(nb, 1)), (ka, kb)


def test_dead_space_is_reused():
    # Three 1000-byte temporaries alive one after another fit in the space of one.
    temps = [("a", 1000, 0, 1), ("b", 1000, 2, 3), ("c", 1000, 4, 5)]
    offsets, total = assign_offsets(temps)
    assert len(set(offsets.values())) == 1
    assert total < 2000
    # Alive together, they need all three.
    offsets, total = assign_offsets([(k, n, 0, 5) for k, n, _, _ in temps])
    assert total >= 3000 and len(set(offsets.values())) == 3
