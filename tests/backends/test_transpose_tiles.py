"""Loop nests that transpose walk their last two axes in tiles (`llvm/tiles.py`), a parameter
swapped by `x.T` through a stack buffer per tile. Checked against NumPy exactly (a transpose
moves values), at ragged sizes (tiles cut at both ends, each thread's rows starting
mid-tile), for every element width the buffer copies, and on one or two threads; each
program's plan shows whether it is tiled."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends.llvm import tiles

RNG = np.random.default_rng(11)


def _plans(f, *args):
    """The tile plans of the program's loop kernels (None where a kernel keeps its nest)."""
    module = jitcore.jit(f).lower(*args).compile()._entry.executable.optimized
    return [tiles.plan_tiles(c, c.root.shape.dims, {}) for name, c in
            module.computations.items() if name.startswith("fused")]


def _buffered(f, *args):
    return [p is not None and p.param is not None for p in _plans(f, *args)]


def _tiled(f, *args):
    return [p is not None for p in _plans(f, *args)]


def _check(f, ref, *args):
    for threads in (1, 2):
        with config.override(num_threads=threads):
            np.testing.assert_array_equal(np.asarray(jitcore.jit(f)(*args)), ref(*args))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int8", "bool"])
def test_a_transposed_parameter_is_copied_through_tiles(dtype):
    x = RNG.normal(size=(1100, 1031)) * 50
    x = (x > 0) if dtype == "bool" else x.astype(jnp.dtype(dtype))
    assert x.nbytes >= tiles.MIN_BYTES
    assert _buffered(lambda a: a.T, x) == [True]
    _check(lambda a: a.T, lambda a: a.T, x)
    if dtype != "bool":
        _check(lambda a: a.T * 2, lambda a: a.T * np.asarray(2, a.dtype), x)


def test_swapaxes_of_a_batch_and_sums_with_other_operands():
    x = RNG.normal(size=(4, 250, 330)).astype(np.float32)
    y = RNG.normal(size=(4, 330, 250)).astype(np.float32)
    f = lambda a, b: jnp.swapaxes(a, 1, 2) + b       # noqa: E731
    assert _buffered(f, x, y) == [True]
    _check(f, lambda a, b: np.swapaxes(a, 1, 2) + b, x, y)


def test_a_parameter_read_directly_too_and_computed_transposes():
    x = RNG.normal(size=(700, 900)).astype(np.float32)
    sq = x[:, :700]
    f = lambda a: a.T + a                                  # noqa: E731
    assert _buffered(f, sq) == [True]                      # the direct read skips the buffer
    _check(f, lambda a: a.T + a, np.ascontiguousarray(sq))
    g = lambda a: jnp.exp(a).T                             # noqa: E731
    assert _tiled(g, x) == [True] and _buffered(g, x) == [False]
    np.testing.assert_allclose(np.asarray(jitcore.jit(g)(x)), np.exp(x).T, rtol=1e-6)
    z = RNG.normal(size=(64, 80, 96)).astype(np.float32)   # the contiguous axis to the middle
    g = lambda a: jnp.transpose(a, (1, 2, 0)) - 1.0         # noqa: E731
    assert _tiled(g, z) == [True] and _buffered(g, z) == [False]
    _check(g, lambda a: np.transpose(a, (1, 2, 0)) - np.float32(1.0), z)


def test_small_and_untransposed_kernels_keep_their_loop_nest():
    small = RNG.normal(size=(400, 600)).astype(np.float32)          # 938 KiB
    head = RNG.normal(size=(8, 128, 4, 64)).astype(np.float32)      # the last axis stays last
    for f, x in [(lambda a: a.T + 1, small),
                 (lambda a: jnp.transpose(a, (0, 2, 1, 3)) * 2, head)]:
        assert _tiled(f, x) == [False]
    _check(lambda a: a.T + 1, lambda a: a.T + np.float32(1), small)


def test_tiled_kernels_in_a_loop_body_and_under_a_bucket():
    x = RNG.normal(size=(600, 600)).astype(np.float32)

    def body(c, _):
        return c.T * 0.5 + 1.0, None
    f = lambda a: jitcore.lax.scan(body, a, None, length=3)[0]     # noqa: E731
    want = x
    for _ in range(3):
        want = want.T * np.float32(0.5) + np.float32(1.0)
    _check(f, lambda a: want, x)
    g = jitcore.jit(lambda a: a.T + 1.0, dynamic_axes={0: 0})   # run-time extents: no tiles
    for n in (600, 700):
        y = RNG.normal(size=(n, 600)).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(g(y)), y.T + np.float32(1.0))
