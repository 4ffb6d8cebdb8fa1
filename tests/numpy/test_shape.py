"""Shape manipulation in jitcore.numpy against NumPy: values, shapes and dtypes, eagerly and under
jit (shape arguments closed over or static), plus the error paths."""
import numpy as np
import pytest

import jitcore as jax
import jitcore.numpy as jnp
from ops import dtypes
from ops.errors import AxisError, ConcretizationTypeError, ShapeError
from tests.helpers import assert_same, rand, raises

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]
SHAPES = [(), (0,), (5,), (2, 3), (3, 0, 2), (2, 3, 4)]


def check(f, g, *arrays):
    """`f` on jitcore arrays (eagerly) and on traced values (jit) equals NumPy's `g`."""
    want = g(*arrays)
    assert_same(f(*[jnp.asarray(a) for a in arrays]), want)
    assert_same(jax.jit(f)(*arrays), want)


# --- reshape, ravel ------------------------------------------------------------------------

@pytest.mark.parametrize("shape,new", [((6,), (2, 3)), ((2, 3), (-1,)), ((2, 3, 4), (4, -1)),
                                       ((), (1, 1)), ((1, 1), ()), ((0, 3), (3, -1, 2)),
                                       ((2, 3), 6), ((2, 3, 4), (2, 12)), ((24,), (2, 3, 4))])
def test_reshape(shape, new):
    x = rand(shape)
    check(lambda a: jnp.reshape(a, new), lambda a: np.reshape(a, new), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_ravel_dtypes(dtype):
    x = rand((2, 3, 2), dtype)
    check(lambda a: jnp.reshape(a, (3, 4)), lambda a: a.reshape(3, 4), x)
    check(jnp.ravel, np.ravel, x)
    check(lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), x)
    check(lambda a: a.flatten(), lambda a: a.flatten(), x)


def test_reshape_static_argnums_and_newshape():
    x = rand((4, 6))
    f = jax.jit(lambda a, s: jnp.reshape(a, s), static_argnums=1)
    for s in [(24,), (2, -1, 3), (6, 4)]:
        assert_same(f(x, s), x.reshape(s))
    assert_same(jnp.reshape(x, newshape=(3, 8)), x.reshape(3, 8))


def test_reshape_errors():
    x = jnp.ones((2, 3))
    with raises(ShapeError, "reshape", "(2, 3)", "(4,)"):
        jnp.reshape(x, (4,))
    with raises(ShapeError, "reshape", "(2, 3)", "(-1, 4)"):
        jnp.reshape(x, (-1, 4))
    with raises(ShapeError, "reshape", "(-1, -1)"):
        jnp.reshape(x, (-1, -1))
    with raises(ShapeError, "reshape", "(2, 3)", "(5,)"):
        jax.jit(lambda a: jnp.reshape(a, (5,)))(np.ones((2, 3)))
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        jnp.reshape(x, (3, 2), order="X")
    with pytest.raises(NotImplementedError, match="order='A'"):
        jnp.ravel(x, order="A")
    with raises(ConcretizationTypeError, "reshape", "static"):
        jax.jit(lambda a, n: jnp.reshape(a, (n, -1)))(np.ones((2, 3)), 2)


def test_weak_type_is_kept():
    x = jnp.asarray(2.0)
    assert jnp.reshape(x, (1, 1)).weak_type
    assert jnp.expand_dims(x, 0).weak_type
    assert not jnp.reshape(jnp.ones(3), (3, 1)).weak_type


# --- transpose, swapaxes, moveaxis ---------------------------------------------------------

@pytest.mark.parametrize("shape,axes", [((2, 3), None), ((2, 3, 4), None), ((2, 3, 4), (1, 0, 2)),
                                        ((2, 3, 4), (-1, 0, -2)), ((), None), ((), ()),
                                        ((3, 0, 2), (2, 0, 1)), ((5,), (0,))])
def test_transpose(shape, axes):
    x = rand(shape, np.int32)
    check(lambda a: jnp.transpose(a, axes), lambda a: np.transpose(a, axes), x)


def test_transpose_methods():
    x = rand((2, 3, 4))
    check(lambda a: a.T, lambda a: a.T, x)
    check(lambda a: a.transpose(2, 0, 1), lambda a: a.transpose(2, 0, 1), x)
    check(lambda a: a.transpose((1, 2, 0)), lambda a: a.transpose((1, 2, 0)), x)
    check(lambda a: a.mT, lambda a: np.swapaxes(a, -1, -2), x)


def test_transpose_errors():
    x = jnp.ones((2, 3))
    with raises(AxisError, "transpose", "(2, 3)"):
        jnp.transpose(x, (0,))
    with raises(AxisError, "transpose", "repeated"):
        jnp.transpose(x, (1, 1))
    with raises(AxisError, "transpose", "(2, 3)"):
        jnp.transpose(x, (0, 2))


@pytest.mark.parametrize("shape,a1,a2", [((2, 3), 0, 1), ((2, 3, 4), -1, 0), ((2, 3, 4), 1, 1),
                                         ((4,), 0, -1), ((2, 0, 3), 2, 1)])
def test_swapaxes(shape, a1, a2):
    check(lambda a: jnp.swapaxes(a, a1, a2), lambda a: np.swapaxes(a, a1, a2), rand(shape))
    check(lambda a: a.swapaxes(a1, a2), lambda a: a.swapaxes(a1, a2), rand(shape))


@pytest.mark.parametrize("src,dst", [(0, -1), (-1, 0), (1, 1), ((0, 1), (2, 3)),
                                     ((0, 3), (3, 0)), ([2], [0]), ((0, 1, 2, 3), (3, 2, 1, 0))])
def test_moveaxis(src, dst):
    x = rand((2, 3, 4, 5))
    check(lambda a: jnp.moveaxis(a, src, dst), lambda a: np.moveaxis(a, src, dst), x)


def test_swapaxes_moveaxis_errors():
    x = jnp.ones((2, 3))
    with raises(AxisError, "swapaxes", "(2, 3)"):
        jnp.swapaxes(x, 0, 2)
    with raises(AxisError, "moveaxis", "(2, 3)"):
        jnp.moveaxis(x, -3, 0)
    with raises(AxisError, "moveaxis", "same number"):
        jnp.moveaxis(x, (0, 1), 0)
    with raises(AxisError, "moveaxis", "repeated"):
        jnp.moveaxis(x, (0, 0), (0, 1))


# --- expand_dims, squeeze ------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((), 0), ((), -1), ((3,), 0), ((3,), 1), ((3,), -1),
                                        ((2, 3), (0, 3)), ((2, 3), (-1, 0)), ((2, 3), (1, 2)),
                                        ((0, 2), 1), ((2, 3), (0, 1, 2, 3))])
def test_expand_dims(shape, axis):
    check(lambda a: jnp.expand_dims(a, axis), lambda a: np.expand_dims(a, axis), rand(shape))


def test_expand_dims_errors():
    x = jnp.ones((2, 3))
    with raises(AxisError, "expand_dims", "(2, 3)"):
        jnp.expand_dims(x, 3)
    with raises(AxisError, "expand_dims", "(2, 3)"):
        jnp.expand_dims(x, (0, -5))
    with raises(AxisError, "expand_dims", "repeated"):
        jnp.expand_dims(x, (1, 1))


@pytest.mark.parametrize("shape,axis", [((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), -1),
                                        ((1, 3, 1), (0, 2)), ((), None), ((1,), 0),
                                        ((2, 3), None), ((1, 0, 1), (2,)), ((1, 1), ())])
def test_squeeze(shape, axis):
    x = rand(shape, np.float32)
    check(lambda a: jnp.squeeze(a, axis), lambda a: np.squeeze(a, axis), x)
    check(lambda a: a.squeeze(axis), lambda a: a.squeeze(axis), x)


def test_squeeze_errors():
    x = jnp.ones((1, 3))
    with raises(ShapeError, "squeeze", "(1, 3)", "axis 1"):
        jnp.squeeze(x, 1)
    with raises(AxisError, "squeeze", "(1, 3)"):
        jnp.squeeze(x, 2)
    with raises(ShapeError, "squeeze", "(1, 3)"):
        jax.jit(lambda a: jnp.squeeze(a, (0, 1)))(np.ones((1, 3)))


# --- concatenate and the stack family ------------------------------------------------------

@pytest.mark.parametrize("shapes,axis", [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 0)], 1),
                                         ([(2, 3), (2, 5)], -1), ([(3,), (2,), (0,)], 0),
                                         ([(2, 3), (5,), ()], None), ([(2, 3, 4)], 2),
                                         ([(1, 2, 3), (1, 2, 3), (1, 2, 3)], 1),
                                         ([(0, 3), (0, 3)], 0)])
def test_concatenate(shapes, axis):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: jnp.concatenate(a, axis=axis), lambda *a: np.concatenate(a, axis=axis), *xs)


@pytest.mark.parametrize("d1,d2", [(np.float32, np.float64), (np.int32, np.int64),
                                   (np.bool_, np.int8), (np.uint8, np.int16),
                                   (np.int32, np.float32), (np.float16, np.int64),
                                   (np.uint32, np.int32), (np.bool_, np.bool_)])
def test_concatenate_promotes(d1, d2):
    x, y = rand((2, 2), d1), rand((3, 2), d2, seed=1)
    want_dtype = dtypes.promote_types(d1, d2)  # JAX's lattice (NumPy's differs for some pairs)
    want = np.concatenate([x.astype(want_dtype), y.astype(want_dtype)])
    check(lambda a, b: jnp.concatenate([a, b]), lambda a, b: want, x, y)
    check(lambda a, b: jnp.vstack([a, b]), lambda a, b: want, x, y)
    want_i32 = np.concatenate([x, y]).astype(np.int32)
    check(lambda a, b: jnp.concatenate([a, b], dtype=np.int32), lambda a, b: want_i32, x, y)


def test_concatenate_of_array_and_lists():
    x = rand((3, 2, 4))
    for axis in (0, 1, -1, None):
        check(lambda a: jnp.concatenate(a, axis=axis), lambda a: np.concatenate(a, axis=axis), x)
    assert_same(jnp.concatenate([[1, 2], [3]]), np.concatenate([[1, 2], [3]]))
    assert_same(jnp.concatenate([np.arange(2.0), jnp.ones(2)]),
                np.concatenate([np.arange(2.0), np.ones(2)]))


def test_concatenate_weak_scalars_keep_array_dtype():
    x = np.ones(3, np.float32)
    f = jax.jit(lambda a: jnp.concatenate([a, jnp.atleast_1d(2.0)]))
    assert_same(f(x), np.array([1, 1, 1, 2], np.float32))


def test_concatenate_errors():
    with raises(ShapeError, "concatenate", "zero-dimensional", "f64[]"):
        jnp.concatenate([jnp.ones(()), jnp.ones(())])
    with raises(ShapeError, "concatenate", "f64[2,3]", "f64[3]"):
        jnp.concatenate([jnp.ones((2, 3)), jnp.ones(3)])
    with raises(ShapeError, "concatenate", "f64[2,3]", "f64[2,4]"):
        jnp.concatenate([jnp.ones((2, 3)), jnp.ones((2, 4))])
    with raises(AxisError, "concatenate", "(2, 3)"):
        jnp.concatenate([jnp.ones((2, 3)), jnp.ones((2, 3))], axis=2)
    with raises(ShapeError, "concatenate", "f32[2,3]", "f32[2,4]"):
        jax.jit(lambda a, b: jnp.concatenate([a, b]))(np.ones((2, 3), np.float32),
                                                       np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="at least one"):
        jnp.concatenate([])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 2)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(shape, axis):
    if not -len(shape) - 1 <= axis <= len(shape):
        return
    xs = [rand(shape, np.int32, seed=i) for i in range(3)]
    check(lambda *a: jnp.stack(a, axis), lambda *a: np.stack(a, axis), *xs)
    check(lambda a: jnp.stack([a], axis), lambda a: np.stack([a], axis), xs[0])


def test_stack_array_dtype_and_weak():
    x = rand((3, 2, 4))
    for axis in (0, 1, 2, -1):
        check(lambda a: jnp.stack(a, axis), lambda a: np.stack(list(a), axis), x)
    check(lambda a, b: jnp.stack([a, b], dtype=np.float32),
          lambda a, b: np.stack([a, b]).astype(np.float32), rand((2,), np.int32), rand((2,)))
    assert jnp.stack([1.0, 2.0]).weak_type
    assert not jnp.stack([jnp.ones(()), 2.0]).weak_type
    assert_same(jnp.stack([np.float32(1), 2.0]), np.array([1, 2], np.float32))


def test_stack_errors():
    with raises(ShapeError, "stack", "f64[2]", "f64[3]"):
        jnp.stack([jnp.ones(2), jnp.ones(3)])
    with raises(AxisError, "stack", "(2,)"):
        jnp.stack([jnp.ones(2), jnp.ones(2)], axis=2)
    with pytest.raises(ValueError, match="at least one"):
        jnp.stack([])


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(2, 3), (1, 3)],
                                    [(2, 3, 2), (1, 3, 2)]])
def test_vstack(shapes):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: jnp.vstack(a), lambda *a: np.vstack(a), *xs)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (2,)], [(2, 3), (2, 1)],
                                    [(2, 1, 2), (2, 3, 2)]])
def test_hstack(shapes):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: jnp.hstack(a), lambda *a: np.hstack(a), *xs)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(2, 3), (2, 3)],
                                    [(2, 3, 1), (2, 3, 2)]])
def test_dstack(shapes):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: jnp.dstack(a), lambda *a: np.dstack(a), *xs)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(3,), (3, 2)], [(2, 3), (2, 1)]])
def test_column_stack(shapes):
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: jnp.column_stack(a), lambda *a: np.column_stack(a), *xs)


def test_stack_family_on_arrays():
    for shape in [(3,), (3, 2), (2, 3, 2)]:
        x = rand(shape, np.int64)
        for jf, nf in [(jnp.vstack, np.vstack), (jnp.hstack, np.hstack),
                       (jnp.dstack, np.dstack), (jnp.column_stack, np.column_stack)]:
            check(jf, nf, x)
    check(lambda a, b: jnp.hstack([a, b], dtype=np.float32),
          lambda a, b: np.hstack([a, b]).astype(np.float32), rand((2,)), rand((3,), np.int32))


# --- split ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,ios,axis", [((6,), 3, 0), ((6,), 1, 0), ((4, 6), 2, 1),
                                            ((4, 6), [1, 3], 1), ((6,), [2, -1], 0),
                                            ((6,), [4, 2, 10], 0), ((0, 3), 3, 1),
                                            ((2, 6, 2), np.array([3]), -2), ((6,), [], 0)])
def test_split(shape, ios, axis):
    x = rand(shape)
    check(lambda a: jnp.split(a, ios, axis), lambda a: np.split(a, ios, axis), x)
    check(lambda a: jnp.array_split(a, ios, axis), lambda a: np.array_split(a, ios, axis), x)


@pytest.mark.parametrize("n,sections", [(7, 3), (5, 5), (3, 5), (0, 2), (10, 4)])
def test_array_split_uneven(n, sections):
    x = rand((n, 2), np.uint8)
    check(lambda a: jnp.array_split(a, sections), lambda a: np.array_split(a, sections), x)


def test_split_errors():
    x = jnp.ones((7, 2))
    with raises(ShapeError, "split", "equal division", "(7, 2)"):
        jnp.split(x, 3)
    with raises(ShapeError, "split", "equal division"):
        jax.jit(lambda a: jnp.split(a, 2))(np.ones(5))
    with raises(AxisError, "split", "(7, 2)"):
        jnp.split(x, 2, axis=2)
    with pytest.raises(ValueError, match="larger than 0"):
        jnp.array_split(x, 0)
    with raises(ConcretizationTypeError, "split", "static"):
        jax.jit(lambda a, n: jnp.split(a, n))(np.ones(4), 2)


# --- tile, repeat --------------------------------------------------------------------------

@pytest.mark.parametrize("shape,reps", [((3,), 2), ((3,), (2, 2)), ((2, 3), 2), ((2, 3), (1, 1)),
                                        ((2, 3), (2, 1, 3)), ((2, 1, 3), (2, 2)), ((), 3),
                                        ((), (2, 2)), ((2, 3), 0), ((0, 2), (3, 1))])
def test_tile(shape, reps):
    check(lambda a: jnp.tile(a, reps), lambda a: np.tile(a, reps), rand(shape, np.int32))


@pytest.mark.parametrize("shape,repeats,axis", [((3,), 2, None), ((2, 3), 2, None), ((2, 3), 3, 1),
                                                ((2, 3), [1, 0, 2], 1), ((2, 3), [2, 2], 0),
                                                ((2, 3), [3], -1), ((), 3, None), ((), 4, 0),
                                                ((4,), [0, 0, 0, 0], 0), ((2, 3), 0, 0),
                                                ((5,), [1, 1, 2, 2, 0], 0), ((0, 2), 3, 0)])
def test_repeat(shape, repeats, axis):
    x = rand(shape, np.float32)
    check(lambda a: jnp.repeat(a, repeats, axis), lambda a: np.repeat(a, repeats, axis), x)
    check(lambda a: a.repeat(repeats, axis), lambda a: a.repeat(repeats, axis), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_total_repeat_length(dtype):
    x = rand((4, 2), dtype)
    reps = [1, 3, 0, 2]
    full = np.repeat(x, reps, axis=0)
    for total in (6, 4, 0):  # the exact length, and shorter: the result is cut
        check(lambda a: jnp.repeat(a, reps, 0, total_repeat_length=total),
              lambda a: full[:total], x)
    # Longer: padded with the last element reached (JAX's rule).
    longer = np.concatenate([full, np.repeat(x[3:], 2, axis=0)])
    check(lambda a: jnp.repeat(a, reps, 0, total_repeat_length=8), lambda a: longer, x)
    # Traced repeats need the static total.
    for total, want in [(6, full), (4, full[:4]), (8, longer)]:
        f = jax.jit(lambda a, r: jnp.repeat(a, r, axis=0, total_repeat_length=total))
        assert_same(f(x, np.array(reps)), want)
    g = jax.jit(lambda a, r: jnp.repeat(a, r, total_repeat_length=16))
    assert_same(g(x, np.int64(2)), np.repeat(x, 2))


def test_repeat_errors():
    x = jnp.ones((2, 3))
    with raises(ShapeError, "repeat", "(2, 3)"):
        jnp.repeat(x, [1, 2], axis=1)
    with raises(ShapeError, "repeat", ">= 0"):
        jnp.repeat(x, -1)
    with raises(AxisError, "repeat", "(2, 3)"):
        jnp.repeat(x, 2, axis=2)
    with raises(ConcretizationTypeError, "repeat", "total_repeat_length"):
        jax.jit(lambda a, r: jnp.repeat(a, r))(np.ones(3), np.array([1, 2, 3]))


# --- flip, roll, rot90 ---------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((5,), None), ((2, 3), None), ((2, 3), 0), ((2, 3), -1),
                                        ((2, 3, 4), (0, 2)), ((), None), ((0, 3), 1), ((2, 3), ())])
def test_flip(shape, axis):
    check(lambda a: jnp.flip(a, axis), lambda a: np.flip(a, axis), rand(shape, np.int64))


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (1, 0)])
def test_fliplr_flipud(shape):
    x = rand(shape, np.bool_)
    check(jnp.fliplr, np.fliplr, x)
    check(jnp.flipud, np.flipud, x)
    check(jnp.flipud, np.flipud, rand((4,)))


def test_flip_errors():
    with raises(ShapeError, "fliplr", "(3,)"):
        jnp.fliplr(jnp.ones(3))
    with raises(ShapeError, "flipud", "()"):
        jnp.flipud(jnp.ones(()))
    with raises(AxisError, "flip", "(3,)"):
        jnp.flip(jnp.ones(3), 1)


@pytest.mark.parametrize("shape,shift,axis", [((5,), 2, None), ((5,), -7, 0), ((2, 3), 1, None),
                                              ((2, 3), 4, 1), ((2, 3), (1, 2), (0, 1)),
                                              ((2, 3, 4), 1, (0, 2)), ((2, 3), (1, -1), 1),
                                              ((0, 3), 2, 0), ((), 3, None), ((4,), 0, 0)])
def test_roll(shape, shift, axis):
    check(lambda a: jnp.roll(a, shift, axis), lambda a: np.roll(a, shift, axis),
          rand(shape, np.int32))


@pytest.mark.parametrize("shift", [0, 3, -2, 11])
def test_roll_traced_shift(shift):
    x = rand((4, 5))
    f = jax.jit(lambda a, s: jnp.roll(a, s, axis=1))
    assert_same(f(x, shift), np.roll(x, shift, axis=1))
    g = jax.jit(lambda a, s: jnp.roll(a, s))
    assert_same(g(x, np.int32(shift)), np.roll(x, shift))


def test_roll_errors():
    with raises(AxisError, "roll", "(2, 3)"):
        jnp.roll(jnp.ones((2, 3)), 1, axis=2)
    with raises(ShapeError, "roll"):
        jnp.roll(jnp.ones((2, 3)), (1, 2, 3), axis=(0, 1))


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("axes", [(0, 1), (1, 0), (0, 2), (-1, -2)])
def test_rot90(k, axes):
    x = rand((2, 3, 4), np.int32)
    check(lambda a: jnp.rot90(a, k, axes), lambda a: np.rot90(a, k, axes), x)


def test_rot90_errors():
    with raises(AxisError, "rot90", "repeated"):
        jnp.rot90(jnp.ones((2, 3)), 1, (1, 1))
    with raises(AxisError, "rot90", "(2, 3)"):
        jnp.rot90(jnp.ones((2, 3)), 1, (0, 2))
    with raises(AxisError, "rot90"):
        jnp.rot90(jnp.ones((2, 3)), 1, (0,))


# --- pad -----------------------------------------------------------------------------------

PAD_WIDTHS = [2, (1, 2), ((1, 0), (2, 3)), ((0, 0), (0, 0)), [[3, 1]], np.array([[1, 2], [0, 4]])]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("pw", PAD_WIDTHS)
def test_pad_2d(mode, pw):
    x = rand((3, 4), np.int32)
    check(lambda a: jnp.pad(a, pw, mode), lambda a: np.pad(a, pw, mode), x)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("shape,pw", [((3,), 7), ((1,), 3), ((2,), (5, 4)), ((3, 1, 2), (2, 5)),
                                      ((), 0), ((4,), 0)])
def test_pad_wide_and_small(mode, shape, pw):
    x = rand(shape, np.float32)
    check(lambda a: jnp.pad(a, pw, mode), lambda a: np.pad(a, pw, mode), x)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("pw", [1, 3, 9, (0, 6)])
def test_pad_reflect_odd(mode, pw):
    # Wider than the axis, NumPy and JAX mirror in different chunks: 2 * edge - x rounds
    # differently in the last bit for floats, and agrees exactly for integers.
    x = rand((4,), np.float64)
    want = np.pad(x, pw, mode, reflect_type="odd")
    for got in (jnp.pad(x, pw, mode, reflect_type="odd"),
                jax.jit(lambda a: jnp.pad(a, pw, mode, reflect_type="odd"))(x)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-14, atol=1e-15)
    y = rand((3, 2), np.int64)
    check(lambda a: jnp.pad(a, pw, mode, reflect_type="odd"),
          lambda a: np.pad(a, pw, mode, reflect_type="odd"), y)


@pytest.mark.parametrize("cv", [5, 1.5, -2, ((1, 2), (3, 4)), (7, 8), [[9]]])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_pad_constant_values(cv, dtype):
    x = rand((2, 3), dtype)
    check(lambda a: jnp.pad(a, ((1, 2), (2, 1)), constant_values=cv),
          lambda a: np.pad(a, ((1, 2), (2, 1)), constant_values=cv), x)


def test_pad_traced_constant_value_and_empty_axis():
    x = rand((2, 3))
    f = jax.jit(lambda a, v: jnp.pad(a, 1, constant_values=v))
    assert_same(f(x, 4.5), np.pad(x, 1, constant_values=4.5))
    g = jax.jit(lambda a, v: jnp.pad(a, ((1, 0), (0, 2)), constant_values=v))
    cv = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert_same(g(x, cv), np.pad(x, ((1, 0), (0, 2)), constant_values=cv))
    e = rand((0, 2))
    check(lambda a: jnp.pad(a, 2), lambda a: np.pad(a, 2), e)
    check(lambda a: jnp.pad(a, ((0, 0), (1, 1)), "edge"),
          lambda a: np.pad(a, ((0, 0), (1, 1)), "edge"), e)
    assert np.asarray(jnp.pad(jnp.ones(2), 1, "empty")).shape == (4,)


def test_pad_errors():
    x = jnp.ones((2, 3))
    with raises(ShapeError, "pad", "(2, 3)"):
        jnp.pad(x, ((1, 2), (3, 4), (5, 6)))
    with raises(ShapeError, "pad", ">= 0"):
        jnp.pad(x, -1)
    with raises(ShapeError, "pad", "empty axis 0", "(0, 3)"):
        jnp.pad(jnp.ones((0, 3)), 1, "reflect")
    with pytest.raises(ValueError, match="'bogus' is not supported"):
        jnp.pad(x, 1, "bogus")
    with pytest.raises(ValueError, match="unsupported keyword"):
        jnp.pad(x, 1, "edge", constant_values=3)
    with raises(ConcretizationTypeError, "pad", "pad_width"):
        jax.jit(lambda a, w: jnp.pad(a, w))(np.ones(3), 2)


# --- broadcasting --------------------------------------------------------------------------

@pytest.mark.parametrize("shape,target", [((), (2, 3)), ((3,), (2, 3)), ((2, 1), (2, 3)),
                                          ((1,), 4), ((2, 3), (2, 3)), ((1, 3), (0, 3)),
                                          ((3, 1, 1), (2, 3, 4, 5))])
def test_broadcast_to(shape, target):
    x = rand(shape, np.uint8)
    check(lambda a: jnp.broadcast_to(a, target), lambda a: np.broadcast_to(a, target), x)


def test_broadcast_shapes_and_arrays():
    cases = [[(2, 3), (3,)], [(1,), (5, 1), ()], [(0, 1), (1, 4)], [4, (2, 1)], [()]]
    for shapes in cases:
        got = jnp.broadcast_shapes(*shapes)
        assert type(got) is tuple and got == np.broadcast_shapes(*shapes)
    xs = [rand((2, 1), np.float32), rand((3,), np.int32), rand((), np.bool_)]
    check(lambda *a: jnp.broadcast_arrays(*a), lambda *a: list(np.broadcast_arrays(*a)), *xs)


def test_broadcast_errors():
    with raises(ShapeError, "broadcast_to", "(2, 3)"):
        jnp.broadcast_to(jnp.ones((2, 3)), (3, 3))
    with raises(ShapeError, "broadcast_to", "(4,)"):
        jnp.broadcast_to(jnp.ones((2, 3)), (4,))
    with raises(ShapeError, "broadcast_shapes", "(2, 3)", "(4,)"):
        jnp.broadcast_shapes((2, 3), (4,))
    with raises(ShapeError, "broadcast_arrays", "(2,)", "(3,)"):
        jnp.broadcast_arrays(jnp.ones(2), jnp.ones(3))


# --- atleast_*d, shape/ndim/size -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4), (0,)])
def test_atleast(shape):
    x = rand(shape, np.float16)
    for jf, nf in [(jnp.atleast_1d, np.atleast_1d), (jnp.atleast_2d, np.atleast_2d),
                   (jnp.atleast_3d, np.atleast_3d)]:
        check(jf, nf, x)
        check(lambda a, b: jf(a, b), lambda a, b: list(nf(a, b)), x, rand((2,)))
    assert_same(jnp.atleast_2d(3.0), np.atleast_2d(3.0))


def test_shape_ndim_size():
    for v in [[[1, 2, 3], [4, 5, 6]], 3.0, np.ones((2, 0, 4)), jnp.ones((3, 2))]:
        assert jnp.shape(v) == np.shape(v)
        assert jnp.ndim(v) == np.ndim(v)
        assert jnp.size(v) == np.size(v)
    assert jnp.size(np.ones((2, 3, 4)), 1) == 3
    assert jnp.size(np.ones((2, 3, 4)), (0, -1)) == 8

    def f(a):
        assert jnp.shape(a) == (2, 3) and jnp.ndim(a) == 2 and jnp.size(a) == 6
        assert jnp.size(a, -1) == 3
        return a
    jax.jit(f)(np.ones((2, 3)))
    with raises(AxisError, "size", "(2, 3)"):
        jnp.size(jnp.ones((2, 3)), 2)


def test_traced_static_arguments_raise():
    with raises(ConcretizationTypeError, "expand_dims", "static"):
        jax.jit(lambda a, ax: jnp.expand_dims(a, ax))(np.ones(3), 0)
    with raises(ConcretizationTypeError, "tile", "static"):
        jax.jit(lambda a, r: jnp.tile(a, r))(np.ones(3), 2)
    with raises(ConcretizationTypeError, "broadcast_to", "static"):
        jax.jit(lambda a, n: jnp.broadcast_to(a, (n, 3)))(np.ones(3), 2)


def test_shape_functions_build_only_shape_ops():
    def f(x):
        y = jnp.concatenate([jnp.reshape(x, (3, 2)), jnp.flip(x.T, 0)], axis=1)
        return jnp.pad(jnp.roll(y, 1, 0), 1, "wrap")
    module = jax.make_hlo(f)(np.ones((2, 3)))
    ops = {i.opcode for c in module.computations.values() for i in c.instructions}
    assert ops <= {"parameter", "reshape", "transpose", "rev", "concatenate", "slice"}, ops
