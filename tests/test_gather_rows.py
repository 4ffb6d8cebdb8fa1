"""Row gathers (`table[ids]`, `jnp.take(table, ids, axis=0)`): the embedding-lookup shape,
where each output row is one whole table row. Checked against NumPy on the index semantics
JAX gives them: `table[ids]` wraps negative ids once and clamps what is still out of range;
`take` (mode "fill") wraps negative ids once and fills the rows still out of range (NaN for
floats, the dtype's minimum for signed ints, its maximum for unsigned ones)."""
import numpy as np
import pytest

import jitcore as jc
from jitcore import config, numpy as jnp
from xla_like.backends.cpu import pool as cpu_pool

ROWS, WIDTH = 700, 256      # 600 ids x 256 = 153600 elements: enough work for the pool
N_IDS = 600


def _ids(rng, n, rows, dtype):
    """Mostly valid ids, plus negative ones (valid and not) and ones past the end."""
    ids = rng.integers(0, rows, n)
    ids[::7] = -rng.integers(1, rows + 1, len(ids[::7]))       # -rows..-1: wrap once
    ids[3::11] = rows + rng.integers(0, 50, len(ids[3::11]))   # past the end
    ids[5::13] = -rows - 1 - rng.integers(0, 50, len(ids[5::13]))   # below -rows
    if np.dtype(dtype).kind == "u":
        ids = np.abs(ids)
    return ids.astype(dtype)


def _clip_ref(table, ids):
    i = ids.astype(np.int64)
    i = np.where(i < 0, i + table.shape[0], i)
    return table[np.clip(i, 0, table.shape[0] - 1)]


def _fill_value(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.nan
    return np.iinfo(dtype).min if dtype.kind == "i" else np.iinfo(dtype).max


def _fill_ref(table, ids):
    i = ids.astype(np.int64)
    i = np.where(i < 0, i + table.shape[0], i)
    ok = (i >= 0) & (i < table.shape[0])
    out = table[np.where(ok, i, 0)].copy()
    out[~ok] = _fill_value(table.dtype)
    return out


def _table(rng, dtype, rows=ROWS, width=WIDTH):
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=(rows, width)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), (rows, width)).astype(dtype)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype,id_dtype", [(np.float32, np.int64), (np.float64, np.int32),
                                            (np.int32, np.int64), (np.uint8, np.uint32),
                                            (np.int16, np.int32)])
def test_row_gather_matches_numpy(dtype, id_dtype, threads):
    rng = np.random.default_rng([np.dtype(dtype).num, threads])
    table = _table(rng, dtype)
    ids = _ids(rng, N_IDS, ROWS, id_dtype)
    with config.override(num_threads=threads):
        index = jc.jit(lambda t, i: t[i])
        take = jc.jit(lambda t, i: jnp.take(t, i, axis=0))
        for _ in range(3):      # claimed shares land on either thread: same bits every call
            got_i, got_t = np.asarray(index(table, ids)), np.asarray(take(table, ids))
            assert got_i.dtype == table.dtype and got_t.dtype == table.dtype
            np.testing.assert_array_equal(got_i, _clip_ref(table, ids))
            np.testing.assert_array_equal(got_t, _fill_ref(table, ids))


def test_row_gather_of_wide_and_narrow_rows():
    """Rows of one element and rows longer than a vector register's worth, with a leading
    batch of ids (a 2-D index array)."""
    rng = np.random.default_rng(3)
    for width in (1, 3, 1000):
        table = _table(rng, np.float32, rows=40, width=width)
        ids = _ids(rng, 24, 40, np.int32).reshape(4, 6)
        got = np.asarray(jc.jit(lambda t, i: t[i])(table, ids))
        assert got.shape == (4, 6, width)
        np.testing.assert_array_equal(got, _clip_ref(table, ids.reshape(-1)).reshape(got.shape))


def test_large_row_gather_runs_on_the_pool():
    """An embedding-sized gather is one native segment, split over the worker pool."""
    if cpu_pool.threads() < 2:
        pytest.skip("one CPU thread: the backend has no worker pool")
    rng = np.random.default_rng(4)
    table = _table(rng, np.float32)
    ids = _ids(rng, N_IDS, ROWS, np.int64)
    with config.override(num_threads=2):
        f = jc.jit(lambda t, i: jnp.take(t, i, axis=0))
        exe = f.lower(table, ids).compile()._entry.executable
        segs = [seg for kind, seg in exe._order if kind == "native"]
        assert len(exe._order) == 1 and len(segs) == 1 and segs[0].parallel
        np.testing.assert_array_equal(np.asarray(f(table, ids)), _fill_ref(table, ids))


@pytest.mark.parametrize("dtype,id_dtype", [(np.float32, np.int64), (np.float64, np.int32),
                                            (np.uint8, np.uint32)])
def test_rows_of_a_large_table_are_prefetched_and_exact(dtype, id_dtype):
    """A table of 1 MiB or more: the kernel prefetches the rows 8 ids ahead (its LLVM text
    asks for them), and every id kind (negative, past the end, near the last ids, where the
    look-ahead clamps) still gives NumPy's rows."""
    rng = np.random.default_rng([np.dtype(dtype).num, 5])
    rows = (1 << 20) // (256 * np.dtype(dtype).itemsize) + 3
    table = _table(rng, dtype, rows=rows)
    ids = _ids(rng, 300, rows, id_dtype)
    ids[-3:] = [rows - 1, 0, -1] if np.dtype(id_dtype).kind != "u" else [rows - 1, 0, rows]
    for fn, ref in ((lambda t, i: t[i], _clip_ref),
                    (lambda t, i: jnp.take(t, i, axis=0), _fill_ref)):
        compiled = jc.jit(fn).lower(table, ids).compile()
        assert "llvm.prefetch" in compiled.as_text("llvm")
        np.testing.assert_array_equal(np.asarray(compiled(table, ids)), ref(table, ids))
    small = _table(rng, dtype, rows=64)
    ids = _ids(rng, 300, 64, id_dtype)
    assert "llvm.prefetch" not in jc.jit(lambda t, i: t[i]).lower(small, ids).compile() \
        .as_text("llvm")
