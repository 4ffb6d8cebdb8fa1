"""Which row scatters share among threads (`llvm.scatter.split_pays`), and that both kinds give
NumPy's `ufunc.at` answer on two threads: a large operand with few rows (shared), many rows
into a small operand (one thread), and the leading axis in the window (shared)."""
import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jc  # noqa: E402
from jitcore import config  # noqa: E402
from ops import indexing as ix  # noqa: E402
from tests.helpers import plan_of  # noqa: E402
from xla_like.backends.llvm.scatter import split_pays  # noqa: E402

RNG = np.random.default_rng(5)


def _scatter_step(f, *args):
    return next(s for s in plan_of(f, *args).steps if s.kind == "scatter")


@pytest.mark.parametrize("rows,n,width,shared", [(60_000, 3_000, 4, True),
                                                  (2_000, 40_000, 8, False)])
def test_row_scatter_add_on_two_threads(rows, n, width, shared):
    x = RNG.normal(size=(rows, width)).astype(np.float32)
    idx = RNG.integers(-rows - 5, rows + 5, size=n)   # collisions, negatives, out of range
    u = RNG.normal(size=(n, width)).astype(np.float32)
    f = jc.jit(lambda x, i, u: x.at[i].add(u))
    with config.override(num_threads=2):
        got = np.asarray(f(x, idx, u))
        assert split_pays(_scatter_step(f, x, idx, u).instr) == shared
    want = x.astype(np.float64)
    ok = (idx >= -rows) & (idx < rows)
    np.add.at(want, idx[ok], u[ok])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_window_on_the_leading_axis_is_shared():
    # Indices along axis 1: each thread reads only its part of every window.
    x = RNG.normal(size=(400, 30, 3)).astype(np.float32)
    idx = RNG.integers(-2, 32, size=(2000, 1))
    u = RNG.normal(size=(2000, 400, 3)).astype(np.float32)
    f = jc.jit(lambda x, i, u: ix.scatter_add(x, i, u, axes=(1,)))
    with config.override(num_threads=2):
        got = np.asarray(f(x, idx, u))
        assert split_pays(_scatter_step(f, x, idx, u).instr)
    want = x.astype(np.float64)
    for r, (i,) in enumerate(idx):
        if 0 <= i < 30:
            want[:, i] += u[r]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
