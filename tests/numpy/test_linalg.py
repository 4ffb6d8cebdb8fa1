"""Products and linear algebra of `jitcore.numpy` against NumPy (float64 references), eagerly and
under `jitcore.jit`: matmul/dot/inner/outer/vdot/tensordot/kron/cross, the diagonal family,
einsum on a table of subscripts, `linalg.norm`, dtype promotion, and the error paths."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from ops.errors import AxisError, ShapeError

F16, F32, F64, I8, I32, I64, BOOL = (np.dtype(t) for t in ("float16", "float32", "float64",
                                                            "int8", "int32", "int64", "bool"))


def _data(shape, dtype=F64, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _f64(x):
    x = np.asarray(x)
    return x.astype(F64) if x.dtype.kind == "f" else x


def _compare(got, want, dtype, where):
    g = np.asarray(got)
    want = np.asarray(want)
    assert g.shape == want.shape, f"{where}: shape {g.shape}, expected {want.shape}"
    assert g.dtype == dtype, f"{where}: dtype {g.dtype}, expected {dtype}"
    if g.dtype.kind == "f":
        rtol = {F32: 1e-5, F16: 1e-2}.get(g.dtype, 1e-11)
        np.testing.assert_allclose(g.astype(F64), want.astype(F64), rtol=rtol, atol=rtol,
                                   equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(g, want, err_msg=where)


def check(f, ref, *args, dtype=None, where=""):
    """f(*args), eagerly and jitted, against ref on float64 copies; the expected dtype is
    NumPy's on the original inputs unless given (where JAX's promotion differs)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # NumPy deprecates 2-vector cross products
        want = ref(*[_f64(a) for a in args])
        if dtype is None:
            dtype = np.asarray(ref(*[np.asarray(a) for a in args])).dtype
    _compare(f(*args), want, np.dtype(dtype), f"{where} eager")
    _compare(jitcore.jit(f)(*args), want, np.dtype(dtype), f"{where} jit")


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((0, 3), (3, 2)), ((3, 0), (0, 2)),
                 ((2, 0, 3), (3, 4)), ((1, 3), (3, 1))]


@pytest.mark.parametrize("dtype", [F32, F64, I32, BOOL], ids=str)
def test_matmul(dtype):
    for sa, sb in MATMUL_SHAPES:
        a, b = _data(sa, dtype, 1), _data(sb, dtype, 2)
        check(jnp.matmul, np.matmul, a, b, where=f"matmul {sa} @ {sb}")
        check(lambda x, y: x @ y, np.matmul, a, b, where=f"@ {sa} @ {sb}")


def test_matmul_promotion_and_preferred_element_type():
    a, b = _data((3, 4), I32), _data((4, 2), F32)
    # JAX's lattice: int32 with float32 is float32 (NumPy would say float64).
    check(jnp.matmul, np.matmul, a, b, dtype=F32, where="i32 @ f32")
    check(lambda x: jnp.matmul(x, 2 * np.ones((4, 2), F32)), lambda x: x @ (2 * np.ones((4, 2))),
          _data((3, 4), F32), dtype=F32, where="f32 @ f32")
    a8, b8 = _data((3, 4), I8), _data((4, 2), I8)
    check(lambda x, y: jnp.matmul(x, y, preferred_element_type=I32),
          lambda x, y: x.astype(I32) @ y.astype(I32), a8, b8, where="preferred int32")
    check(lambda x, y: jnp.einsum("ij,jk->ik", x, y, preferred_element_type=I32),
          lambda x, y: x.astype(I32) @ y.astype(I32), a8, b8, where="einsum preferred")


def test_dot_inner_vdot_outer():
    pairs = [((3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,)), ((4,), (4,)),
             ((), (3,)), ((3, 2), ())]
    for sa, sb in pairs:
        check(jnp.dot, np.dot, _data(sa, F64, 1), _data(sb, F64, 2), where=f"dot {sa} {sb}")
    for sa, sb in [((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (5, 4)), ((), (2, 3))]:
        check(jnp.inner, np.inner, _data(sa, F32, 1), _data(sb, F32, 2), where=f"inner {sa}")
    check(jnp.vdot, np.vdot, _data((3, 4)), _data((2, 6), F64, 3), where="vdot")
    check(jnp.outer, np.outer, _data((3, 2), I32), _data((4,), I32, 4), where="outer")
    check(jnp.outer, np.outer, _data((0,)), _data((4,)), where="outer empty")
    check(lambda x, y: jnp.vecdot(x, y), lambda x, y: np.vecdot(x, y), _data((2, 3, 4)),
          _data((3, 4), F64, 5), where="vecdot")
    check(lambda x, y: jnp.vecdot(x, y, axis=0), lambda x, y: np.vecdot(x, y, axis=0),
          _data((3, 4)), _data((3, 4), F64, 6), where="vecdot axis 0")
    check(lambda x: jnp.asarray(x).dot(x.T), lambda x: x.dot(x.T), _data((3, 4)), where="method")


def test_tensordot():
    a, b = _data((2, 3, 4)), _data((3, 4, 5), F64, 1)
    for axes in (0, 1, 2):
        bb = b if axes != 1 else _data((4, 5), F64, 2)
        check(lambda x, y: jnp.tensordot(x, y, axes), lambda x, y: np.tensordot(x, y, axes),
              a, bb, where=f"tensordot axes={axes}")
    for axes in (([1, 2], [0, 1]), ([2, 1], [1, 0]), (1, 0), ([-1], [-2])):
        check(lambda x, y: jnp.tensordot(x, y, axes), lambda x, y: np.tensordot(x, y, axes),
              a, b if axes != (1, 0) else _data((3, 2)), where=f"tensordot {axes}")


def test_kron_and_cross():
    for sa, sb in [((2, 3), (3, 2)), ((3,), (2, 2)), ((2, 1, 2), (3, 2)), ((), (3,))]:
        check(jnp.kron, np.kron, _data(sa, I32, 1), _data(sb, I32, 2), where=f"kron {sa} {sb}")
    for sa, sb in [((3,), (3,)), ((4, 3), (4, 3)), ((4, 2), (4, 3)), ((4, 3), (2,)),
                   ((2, 2), (2, 2)), ((5, 1, 3), (4, 3))]:
        check(jnp.cross, np.cross, _data(sa, F64, 1), _data(sb, F64, 2), where=f"cross {sa}")
    a, b = _data((3, 4), F32, 3), _data((2, 3), F32, 4)
    check(lambda x, y: jnp.cross(x, y, axisa=0, axisb=1, axisc=0),
          lambda x, y: np.cross(x, y, axisa=0, axisb=1, axisc=0), a, b[:1].repeat(4, 0),
          where="cross axes")
    check(lambda x, y: jnp.cross(x, y, axis=0), lambda x, y: np.cross(x, y, axis=0),
          _data((3, 5)), _data((3, 5), F64, 6), where="cross axis=")


def test_diagonal_family():
    m = _data((4, 5, 3), I32)
    for k in (-5, -2, 0, 1, 4, 7):
        check(lambda x: jnp.diagonal(x, k, 0, 2), lambda x: np.diagonal(x, k, 0, 2), m,
              where=f"diagonal k={k}")
        check(lambda x: jnp.diagonal(x, k, -1, 1), lambda x: np.diagonal(x, k, -1, 1), m,
              where=f"diagonal -1,1 k={k}")
        check(lambda x: jnp.trace(x, k, 1, 0), lambda x: np.trace(x, k, 1, 0), m,
              where=f"trace k={k}")
        check(lambda x: jnp.diag(x, k), lambda x: np.diag(x, k), _data((3,), F32), where="diag1")
        check(lambda x: jnp.diag(x, k), lambda x: np.diag(x, k), m[:, :, 0], where="diag2")
        for name in ("tril", "triu"):
            jf, nf = getattr(jnp, name), getattr(np, name)
            check(lambda x: jf(x, k), lambda x: nf(x, k), m, where=f"{name} k={k}")
            check(lambda x: jf(x, k), lambda x: nf(x, k), _data((4,), BOOL), where=f"{name} 1-d")
    check(jnp.trace, np.trace, _data((3, 3), BOOL), where="trace bool")
    check(lambda x: jnp.trace(x, dtype=F32), lambda x: np.trace(x, dtype=F32), m[0],
          where="trace dtype")
    check(jnp.diag, np.diag, _data((0,)), where="diag empty")
    check(lambda x: jnp.linalg.trace(x, offset=1), lambda x: np.linalg.trace(x, offset=1), m,
          where="linalg.trace")
    check(lambda x: jnp.linalg.diagonal(x, offset=-1), lambda x: np.linalg.diagonal(x, offset=-1),
          m, where="linalg.diagonal")
    check(lambda x: jnp.asarray(x).diagonal(), lambda x: x.diagonal(), m, where="method")


EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->", [(4, 4)]), ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]), ("i,j->ij", [(3,), (4,)]), ("ij->ji", [(3, 4)]), ("ji", [(3, 4)]),
    ("ij->", [(3, 4)]), ("ij->j", [(3, 4)]), ("...ij->...ji", [(2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(5, 1, 2, 3), (4, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("i,i->", [(4,), (4,)]), ("i,i", [(4,), (4,)]),
    ("ij,j->i", [(3, 4), (4,)]), ("bij->b", [(2, 3, 4)]), ("iij->j", [(3, 3, 2)]),
    ("i...,i->...", [(4, 2, 3), (4,)]), ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
    ("ab,ab->ab", [(3, 4), (3, 4)]), ("a,b,c->abc", [(2,), (3,), (4,)]),
    ("...,...->...", [(3, 4), (4,)]), ("iji->j", [(3, 4, 3)]), ("ij,ij,ij->", [(2, 3)] * 3),
    ("ijk->kji", [(2, 3, 4)]), ("i,j,i->j", [(1,), (3,), (4,)]), ("Ba", [(2, 3)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES,
                         ids=[f"{s}-{i}" for i, (s, _) in enumerate(EINSUM_CASES)])
def test_einsum_matches_numpy(subscripts, shapes):
    ops = [_data(s, F64, i) for i, s in enumerate(shapes)]
    check(lambda *xs: jnp.einsum(subscripts, *xs), lambda *xs: np.einsum(subscripts, *xs),
          *ops, where=f"einsum {subscripts}")


def test_einsum_dtypes_and_interleaved_form():
    a, b = _data((3, 4), I32, 1), _data((4, 2), I32, 2)
    check(lambda x, y: jnp.einsum("ij,jk->ik", x, y), lambda x, y: np.einsum("ij,jk->ik", x, y),
          a, b, where="int32")
    check(lambda x, y: jnp.einsum("ij,jk", x, y), lambda x, y: np.einsum("ij,jk", x, y),
          a, _data((4, 2), F32, 3), dtype=F32, where="int32 x float32")
    check(lambda x: jnp.einsum("ij->", x), lambda x: np.einsum("ij->", x), _data((3, 4), BOOL),
          where="bool sum")
    check(lambda x, y: jnp.einsum(x, [0, 1], y, [1, 2], [0, 2]),
          lambda x, y: np.einsum(x, [0, 1], y, [1, 2], [0, 2]), _data((3, 4)), _data((4, 5)),
          where="interleaved")
    check(lambda x: jnp.einsum(x, [Ellipsis, 0, 0]), lambda x: np.einsum(x, [Ellipsis, 0, 0]),
          _data((2, 3, 3)), where="interleaved ellipsis")
    check(lambda x, y: jnp.einsum("ij,jk->ik", x, y, optimize=True),
          lambda x, y: np.einsum("ij,jk->ik", x, y, optimize=True), _data((2, 3)),
          _data((3, 2)), where="optimize")
    text = jitcore.make_hlo(lambda x, y: jnp.einsum("bij,bjk->bik", x, y))(
        _data((2, 3, 4)), _data((2, 4, 5))).as_text()
    assert "dot_general" in text


# --- norm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 0, 3, -1.5, 0.5])
def test_vector_norm(ord):
    x = _data((3, 4, 5), F64)
    for axis in (0, -1, (1,)):
        for keepdims in (False, True):
            check(lambda v: jnp.linalg.norm(v, ord, axis, keepdims),
                  lambda v: np.linalg.norm(v, ord, axis, keepdims), x,
                  where=f"norm ord={ord} axis={axis} keepdims={keepdims}")
    check(lambda v: jnp.linalg.norm(v, ord), lambda v: np.linalg.norm(v, ord), x[0, 0],
          where=f"1-d norm ord={ord}")
    check(lambda v: jnp.linalg.norm(v, ord, 0), lambda v: np.linalg.norm(v, ord, 0),
          _data((5,), F32), where=f"f32 norm ord={ord}")


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norm(ord):
    x = _data((3, 4, 5), F64)
    for axis in ((0, 1), (2, 0), (-1, -2)):
        for keepdims in (False, True):
            check(lambda v: jnp.linalg.norm(v, ord, axis, keepdims),
                  lambda v: np.linalg.norm(v, ord, axis, keepdims), x,
                  where=f"norm ord={ord} axis={axis}")
    check(lambda v: jnp.linalg.norm(v, ord), lambda v: np.linalg.norm(v, ord), x[0],
          where=f"2-d norm ord={ord}")
    check(lambda v: jnp.linalg.matrix_norm(v, ord="fro" if ord is None else ord),
          lambda v: np.linalg.matrix_norm(v, ord="fro" if ord is None else ord), x,
          where="matrix_norm")


def test_norm_defaults_and_dtypes():
    check(jnp.linalg.norm, np.linalg.norm, _data((2, 3, 4)), where="all elements")
    check(lambda v: jnp.linalg.norm(v, keepdims=True),
          lambda v: np.linalg.norm(v, keepdims=True), _data((2, 3)), where="keepdims")
    # JAX 0.10: int32 computes in float32 (int64 in float64).
    check(jnp.linalg.norm, np.linalg.norm, _data((4,), I32), dtype=np.float32,
          where="int32 gives float32")
    check(jnp.linalg.norm, np.linalg.norm, _data((4,), np.int64), where="int64 gives float64")
    check(jnp.linalg.norm, np.linalg.norm, _data((0,)), where="empty")
    check(lambda v: jnp.linalg.vector_norm(v, axis=1, ord=1),
          lambda v: np.linalg.vector_norm(v, axis=1, ord=1), _data((3, 4)), where="vector_norm")


# --- errors ----------------------------------------------------------------------------------


def test_matmul_contraction_mismatch():
    for run in (lambda: jnp.matmul(np.ones((3, 4)), np.ones((5, 2))),
                lambda: jitcore.jit(jnp.matmul)(np.ones((3, 4)), np.ones((5, 2))),
                lambda: jnp.asarray(np.ones((3, 4))) @ np.ones((5, 2))):
        with pytest.raises(ShapeError) as e:
            run()
        msg = str(e.value)
        for needle in ("matmul", "contraction mismatch", "(3, 4)", "(5, 2)", "size 4", "size 5",
                       "test_linalg.py"):
            assert needle in msg, (needle, msg)


def test_product_shape_errors():
    cases = [
        ("matmul", lambda: jnp.matmul(np.ones(3), np.float64(2.0)), "f64[]"),
        ("matmul", lambda: jnp.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 2))), "(2,)"),
        ("dot", lambda: jnp.dot(np.ones((2, 3)), np.ones((4, 2))), "(2, 3)"),
        ("inner", lambda: jnp.inner(np.ones((2, 3)), np.ones(4)), "f64[2,3]"),
        ("vdot", lambda: jnp.vdot(np.ones(3), np.ones(4)), "f64[4]"),
        ("tensordot", lambda: jnp.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), "f64[2,3]"),
        ("cross", lambda: jnp.cross(np.ones(4), np.ones(3)), "f64[4]"),
        ("diag", lambda: jnp.diag(np.ones((2, 2, 2))), "f64[2,2,2]"),
        ("diagonal", lambda: jnp.diagonal(np.ones(3)), "f64[3]"),
        ("einsum", lambda: jnp.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5))), "(4, 5)"),
        ("einsum", lambda: jnp.einsum("ijk", np.ones((2, 3))), "(2, 3)"),
        ("einsum", lambda: jnp.einsum("ii", np.ones((2, 3))), "f64[2,3]"),
        ("norm", lambda: jnp.linalg.norm(np.ones((2, 2, 2)), 1), "f64[2,2,2]"),
    ]
    for name, run, needle in cases:
        with pytest.raises(ShapeError) as e:
            run()
        msg = str(e.value)
        assert name in msg and needle in msg and "test_linalg.py" in msg, msg


def test_value_errors():
    for run in (lambda: jnp.einsum("ij,jk->ik", np.ones((2, 2))),
                lambda: jnp.einsum("i$->i", np.ones((2, 2))),
                lambda: jnp.einsum("ij->ii", np.ones((2, 2))),
                lambda: jnp.einsum("ij->k", np.ones((2, 2))),
                lambda: jnp.linalg.norm(np.ones(3), "fro"),
                lambda: jnp.linalg.norm(np.ones((2, 2)), 3)):
        with pytest.raises(ValueError) as e:
            run()
        assert "einsum" in str(e.value) or "norm" in str(e.value)


def test_matrix_singular_value_norms():
    x = np.arange(6.0).reshape(2, 3) - 2.5
    for o in (2, -2, "nuc"):
        np.testing.assert_allclose(jnp.linalg.norm(x, o), np.linalg.norm(x, o), rtol=1e-12)


def test_bad_axes():
    for name, run in (("diagonal", lambda: jnp.diagonal(np.ones((2, 3)), 0, 0, 2)),
                      ("trace", lambda: jnp.trace(np.ones((2, 3)), 0, -3, 1)),
                      ("cross", lambda: jnp.cross(np.ones((2, 3)), np.ones((2, 3)), axisa=2)),
                      ("norm", lambda: jnp.linalg.norm(np.ones((2, 3)), axis=2)),
                      ("tensordot", lambda: jnp.tensordot(np.ones((2, 3)), np.ones((3, 2)),
                                                          ([2], [0])))):
        with pytest.raises(AxisError) as e:
            run()
        msg = str(e.value)
        assert "(2, 3)" in msg and "test_linalg.py" in msg, msg
