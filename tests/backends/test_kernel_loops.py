"""How kernels' loops reach LLVM: reshapes index each run of regrouped axes on its own
(`llvm.reshape_runs`), and only kernels holding a reduction let LLVM's loop unroller
at their loops (`cpu.schedule.loop_hints`). Both change only the code's shape: results are
checked against NumPy, and the generated text is checked for the shape itself."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from xla_like.backends.cpu.render import render
from xla_like.backends.llvm.reshape_runs import reshape_runs

RNG = np.random.default_rng(7)


def _map(out_dims, in_dims, index):
    """The operand index `reshape_runs` gives output index `index`, run by run."""
    src = []
    for out_axes, in_axes in reshape_runs(out_dims, in_dims):
        lin = 0
        for k in out_axes:
            lin = lin * out_dims[k] + index[k]
        part = []
        for k in reversed(in_axes):
            part.append(lin % in_dims[k])
            lin //= in_dims[k]
        src += reversed(part)
    return tuple(src)


@pytest.mark.parametrize("out_dims,in_dims", [
    ((8, 4, 16), (8, 64)), ((8, 64), (8, 4, 16)), ((4, 6), (3, 8)), ((6,), (2, 3)),
    ((1, 6, 1), (2, 1, 3)), ((2, 1, 3, 1), (6,)), ((), (1, 1)), ((1,), ()),
    ((3, 4, 5), (5, 4, 3)), ((2, 2, 3), (4, 3))])
def test_runs_map_every_index_as_row_major_order_does(out_dims, in_dims):
    for index in itertools.product(*[range(d) for d in out_dims]):
        flat = np.ravel_multi_index(index, out_dims) if out_dims else 0
        want = np.unravel_index(flat, in_dims) if in_dims else ()
        assert _map(out_dims, in_dims, index) == tuple(int(v) for v in want)


def test_runs_cut_a_regrouping_at_every_matching_product():
    # A head split (B, S, D) -> (B, S, H, D/H): the first two axes map one to one.
    assert reshape_runs((8, 128, 4, 64), (8, 128, 256)) == [([0], [0]), ([1], [1]),
                                                            ([2, 3], [2])]
    assert reshape_runs((4, 6), (3, 8)) == [([0, 1], [0, 1])]


def _program_text(f, *args):
    jf = jitcore.jit(f)
    jf(*args)
    (entry,) = jf._cache.values()
    return str(render(entry.executable.plan, None))


def test_head_transpose_divides_nothing():
    x = RNG.standard_normal((4, 32, 64)).astype(np.float32)

    def heads(t):
        return t.reshape(4, 32, 4, 16).transpose(0, 2, 1, 3) * 2.0

    np.testing.assert_array_equal(np.asarray(jitcore.jit(heads)(x)),
                                  x.reshape(4, 32, 4, 16).transpose(0, 2, 1, 3) * 2.0)
    text = _program_text(heads, x)
    # The whole index linearized and divided back by (32, 64) needed udiv/urem; by runs,
    # (4, 16) -> 64 is a multiply-add.
    assert "udiv" not in text and "urem" not in text


@pytest.mark.parametrize("shape,new", [((6, 10), (4, 15)), ((2, 3, 4), (4, 6)),
                                       ((5, 1, 7), (7, 5)), ((12,), (2, 1, 6))])
def test_reshapes_inside_fusions_match_numpy(shape, new):
    x = RNG.standard_normal(shape).astype(np.float32)
    got = jitcore.jit(lambda t: jnp.sin(t).reshape(new).T + 1.0)(x)
    np.testing.assert_allclose(np.asarray(got), np.sin(x).reshape(new).T + 1.0, rtol=2e-6,
                               atol=2e-6)


def test_only_reductions_let_llvm_unroll():
    x = RNG.standard_normal((64, 48)).astype(np.float32)
    text = _program_text(lambda t: jnp.exp(t) * 2.0 + 1.0, x)
    assert "llvm.loop.unroll.disable" in text
    text = _program_text(lambda t: jnp.sum(jnp.exp(t), axis=1), x)
    assert "llvm.loop.unroll.disable" not in text
    got = jitcore.jit(lambda t: jnp.exp(t) * 2.0 + 1.0)(x)
    np.testing.assert_allclose(np.asarray(got), np.exp(x.astype(np.float64)) * 2 + 1,
                               rtol=2e-6)
