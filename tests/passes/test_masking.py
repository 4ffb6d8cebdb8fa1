"""`mask_padding`: a bucketed trace made exact for every true size of its bucket.

The program is traced the way `jit(f, dynamic_axes=...)` traces it (its module as traced, with
symbolic sizes, is caught from the pipeline's observers), then masked here. The masked module
must verify, have static shapes only, and, run on the interpreter at the bucket's capacity with
the padding full of values chosen to corrupt the answer (NaN, infinities, huge integers), give
NumPy's results on the true data in the valid part of every output. What the pass cannot make
exact raises SizeDependentError.
"""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax
from ops.dims import Dim, SizeDependentError
from xla_like import ir, pipeline
from xla_like.passes.masking import mask_padding
from xla_like.verifier import verify_module
from tests.helpers import opcodes, rand, run_on_interpreter


def bucketed_trace(f, *args):
    """The module `jit(f, dynamic_axes=...)` traces for the bucket of `args` (axis 0 of every
    argument dynamic, all of one true size), before any pass."""
    seen = []

    def keep(name, module):
        # Later passes rewrite the module in place: keep a copy of it as traced.
        if name == "traced" and module.num_sizes:
            seen.append(ir.clone_module(module))
    g = jax.jit(f, dynamic_axes={k: 0 for k in range(len(args))}, backend="interp")
    with pipeline.observe(keep):
        g(*args)
    assert len(seen) == 1, "no bucketed trace"
    return seen[0]


def static_shapes(module):
    for comp in module.computations.values():
        for instr in comp.instructions:
            shapes = instr.shape if isinstance(instr.shape, tuple) else (instr.shape,)
            for s in shapes:
                assert not any(type(d) is Dim for d in s.dims), (comp.name, instr)


def padded(a, shape, garbage):
    """`a` at the top-left corner of an array of `shape` holding `garbage` elsewhere."""
    a = np.asarray(a)
    out = np.full(shape, garbage, a.dtype)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def check_masked(f, args, garbage=np.nan, *, numpy_f):
    """Mask `f`'s bucketed trace and run it with `garbage` in the padding: the valid part of
    each output is `numpy_f` of the true data. Returns the masked module."""
    traced = bucketed_trace(f, *args)
    n_sizes = traced.num_sizes
    assert n_sizes == 1     # the arguments' rows share one symbol
    masked = mask_padding(ir.clone_module(traced))
    verify_module(masked)
    static_shapes(masked)
    params = masked.entry.parameters
    assert len(params) == n_sizes + len(args)
    sizes = [np.int64(np.shape(args[0])[0])]
    inputs = sizes + [padded(a, p.shape.dims, garbage) for a, p in zip(args, params[n_sizes:])]
    got = run_on_interpreter(masked, inputs)
    want = numpy_f(*args)
    want = [np.asarray(w) for w in (want if isinstance(want, tuple) else (want,))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        valid = g[tuple(slice(0, n) for n in w.shape)]
        assert valid.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(valid, w, rtol=1e-13, atol=1e-13)
        else:
            np.testing.assert_array_equal(valid, w)
    return masked


N = [3, 5, 37]       # buckets 3..4, 5..8 and 33..64: the padding is 1, 3 and 27 rows


def rows(n, cols=3, seed=0):
    return rand((n, cols), seed=seed + n)


@pytest.mark.parametrize("n", N)
def test_sums_and_means_read_zeros_in_the_padding(n):
    masked = check_masked(lambda x: (x.sum(0), jnp.sum(x), x.mean(0), jnp.prod(1 + x / 9, 0)),
                          (rows(n),),
                          numpy_f=lambda x: (x.sum(0), np.sum(x), x.mean(0),
                                             np.prod(1 + x / 9, 0)))
    assert "select" in opcodes(masked.entry)


@pytest.mark.parametrize("n", N)
def test_max_min_argmax_ignore_the_padding(n):
    x = rows(n)
    x[n // 2, 1] = -np.inf          # a valid -inf stays the minimum
    funcs = (lambda x: x.max(0), lambda x: x.min(0), lambda x: x.argmax(0), lambda x: x.argmin(0))
    for garbage in (np.inf, -np.inf, np.nan):
        check_masked(lambda x: tuple(fn(x) for fn in funcs), (x,), garbage,
                     numpy_f=lambda x: tuple(fn(x) for fn in funcs))


@pytest.mark.parametrize("n", N)
def test_integer_reductions(n):
    x = rand((n, 4), np.int32, seed=n)
    check_masked(lambda x: (x.sum(0), x.max(0), x.argmin(0), (x > 50).any(0), (x > 5).all(0)),
                 (x,), np.int32(2 ** 31 - 1),
                 numpy_f=lambda x: (x.sum(0), x.max(0), x.argmin(0), (x > 50).any(0),
                                    (x > 5).all(0)))


@pytest.mark.parametrize("n", N)
def test_cumulative_ops_forward_and_reversed(n):
    check_masked(lambda x: (jnp.cumsum(x, 0), lax.cumsum(x, 0, reverse=True),
                            lax.cummax(x, 0, reverse=True)), (rows(n),),
                 numpy_f=lambda x: (np.cumsum(x, 0), np.cumsum(x[::-1], 0)[::-1],
                                    np.maximum.accumulate(x[::-1], 0)[::-1]))


@pytest.mark.parametrize("n", N)
@pytest.mark.parametrize("garbage", [-np.inf, -1e300, np.nan])
def test_sort_leaves_the_padding_at_the_end(n, garbage):
    x = rows(n)
    x[0, 0] = np.nan                # a valid NaN sorts last among the valid values
    check_masked(lambda x: (jnp.sort(x, 0), jnp.argsort(x[:, 1])), (x,), garbage,
                 numpy_f=lambda x: (np.sort(x, 0), np.argsort(x[:, 1], kind="stable")))


@pytest.mark.parametrize("n", N)
def test_dot_contracting_the_padded_axis(n):
    x, y = rows(n), rows(n, cols=2, seed=1)
    for garbage in (np.nan, np.inf):
        # (x @ x.T) is padded along both axes; the product with y contracts one of them.
        check_masked(lambda x, y: (x.T @ y, jnp.einsum("ij,ij->j", x, x), (x @ x.T) @ y),
                     (x, y), garbage,
                     numpy_f=lambda x, y: (x.T @ y, np.einsum("ij,ij->j", x, x),
                                           (x @ x.T) @ y))


@pytest.mark.parametrize("n", N)
def test_concatenate_along_the_padded_axis(n):
    # Each part starts at the true end of the one before it.
    check_masked(lambda x: (jnp.concatenate([x, 2 * x, x[:1]], 0),
                            jnp.concatenate([jnp.ones((2, 3)), x], 0).sum(0)),
                 (rows(n),),
                 numpy_f=lambda x: (np.concatenate([x, 2 * x, x[:1]], 0),
                                    np.concatenate([np.ones((2, 3)), x], 0).sum(0)))


@pytest.mark.parametrize("n", N)
def test_reshapes_that_keep_the_valid_data_a_prefix(n):
    check_masked(lambda x: (x.reshape(-1), x.reshape(-1, 1, 3).sum(0),
                            x.reshape(-1).reshape(x.shape[0], 3).max(0)),
                 (rows(n),),
                 numpy_f=lambda x: (x.reshape(-1), x.reshape(-1, 1, 3).sum(0), x.max(0)))


@pytest.mark.parametrize("n", N)
def test_slices_at_positions_given_by_the_true_size(n):
    check_masked(lambda x: (x[-1], x[1:].sum(0), x[-2:], x[:2], x[-3:-1]), (rows(n),),
                 numpy_f=lambda x: (x[-1], x[1:].sum(0), x[-2:], x[:2], x[-3:-1]))


def test_elementwise_and_broadcasts_need_no_mask():
    masked = check_masked(lambda x: jnp.tanh(x) * x[:, :1] + jnp.arange(3.0),
                          (rows(5),),
                          numpy_f=lambda x: np.tanh(x) * x[:, :1] + np.arange(3.0))
    assert "select" not in opcodes(masked.entry)


REFUSED = {
    "rev": (lambda x: jnp.flip(x, 0), "reverses a dynamic axis"),
    "pad": (lambda x: jnp.pad(x, ((1, 0), (0, 0))), "pads a dynamic axis"),
    "strided slice": (lambda x: lax.slice(x, (0, 0), (4, 3), (2, 1)), "strides along a dynamic"),
    "gather": (lambda x: x[jnp.array([0, 2])], "indexes into a dynamic axis"),
    "reshape": (lambda x: x.T.reshape(-1), "does not lead the axes it is merged with"),
    "cond": (lambda x: lax.cond(x[0, 0] > 0, lambda a: a * 2, lambda a: -a, x), "cond"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_data_movement_it_cannot_make_exact_raises(name):
    f, words = REFUSED[name]
    traced = bucketed_trace(f, rows(5))
    with pytest.raises(SizeDependentError, match=words):
        mask_padding(traced)
