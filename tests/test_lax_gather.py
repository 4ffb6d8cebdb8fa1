"""`lax.gather` / `lax.scatter*` with XLA's dimension numbers, against a loop-form NumPy
reference of XLA's semantics (batching dims included); the old jitcore call forms; gradients
by finite differences and vmap by a loop. Also the smaller lax additions: approx_max_k /
approx_min_k, dynamic_slice's negative starts, linearize's has_aux."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import jitcore as jax
from jitcore import lax

GDN, SDN = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers
RNG = np.random.default_rng(3)


# --- references: XLA's definitions, one element at a time ----------------------------------

def _start(op_shape, sizes, idx_row, index_map, obd, ibd, batch_index, clip):
    """The window start on every operand axis, or None when the window is out of bounds
    (in drop/fill mode)."""
    start = [0] * len(op_shape)
    for k, d in enumerate(index_map):
        start[d] = int(idx_row[k])
    for a, b in zip(obd, ibd):
        start[a] = batch_index[b]
    for d in range(len(op_shape)):
        hi = op_shape[d] - sizes[d]
        if clip:
            start[d] = min(max(start[d], 0), hi)
        elif not 0 <= start[d] <= hi:
            return None
    return start


def ref_gather(x, idx, dn, slice_sizes, clip=True, fill=np.nan):
    offset_dims, collapsed, index_map, obd, ibd = dn
    nb = idx.ndim - 1
    window = [d for d in range(x.ndim) if d not in collapsed and d not in obd]
    rank = nb + len(offset_dims)
    batch_pos = [p for p in range(rank) if p not in offset_dims]
    shape = [0] * rank
    for p, n in zip(batch_pos, idx.shape[:-1]):
        shape[p] = n
    for p, d in zip(offset_dims, window):
        shape[p] = slice_sizes[d]
    out = np.empty(shape, x.dtype)
    for o in itertools.product(*map(range, shape)):
        g = tuple(o[p] for p in batch_pos)
        start = _start(x.shape, slice_sizes, idx[g], index_map, obd, ibd, g, clip)
        if start is None:
            out[o] = fill
            continue
        pos = list(start)
        for p, d in zip(offset_dims, window):
            pos[d] += o[p]
        out[o] = x[tuple(pos)]
    return out


def ref_scatter(x, idx, upd, dn, combine, clip=False):
    uwd, inserted, index_map, obd, ibd = dn
    out = x.copy()
    window = [d for d in range(x.ndim) if d not in inserted and d not in obd]
    scatter_pos = [p for p in range(upd.ndim) if p not in uwd]
    sizes = [1] * x.ndim
    for p, d in zip(uwd, window):
        sizes[d] = upd.shape[p]
    for u in itertools.product(*map(range, upd.shape)):
        g = tuple(u[p] for p in scatter_pos)
        start = _start(x.shape, sizes, idx[g], index_map, obd, ibd, g, clip)
        if start is None:
            continue
        pos = list(start)
        for p, d in zip(uwd, window):
            pos[d] += u[p]
        out[tuple(pos)] = combine(out[tuple(pos)], upd[u])
    return out


# --- configurations ----------------------------------------------------------------------

def _gather_configs():
    x3 = RNG.normal(size=(4, 5, 6))
    yield "rows", x3, np.array([[1], [3], [0]]), GDN((1, 2), (0,), (0,)), (1, 5, 6)
    yield "windows", x3, np.array([[1, 2], [3, 4], [-1, 9]]), GDN((1, 2), (0,), (0, 2)), (1, 5, 3)
    yield "offset-first", x3, RNG.integers(0, 5, (2, 3, 1)), GDN((0,), (0, 1), (1,)), (1, 1, 6)
    yield "uncollapsed", x3, np.array([[2, 1]]), GDN((1, 2, 3), (), (2, 0)), (2, 3, 4)
    yield "scalar-idx", x3, np.array([2, 4]), GDN((0,), (0, 1), (0, 1)), (1, 1, 6)
    yield ("batching", x3, RNG.integers(-1, 7, (4, 2, 1)),
           GDN((2,), (1,), (1,), (0,), (0,)), (1, 1, 3))
    yield ("batching-mid", RNG.normal(size=(3, 4, 5)), RNG.integers(0, 4, (2, 4, 1)),
           GDN((2,), (0,), (0,), (1,), (1,)), (1, 1, 5))


GATHERS = list(_gather_configs())


@pytest.mark.parametrize("label,x,idx,dn,sizes", GATHERS, ids=[g[0] for g in GATHERS])
@pytest.mark.parametrize("mode", ["clip", "fill", None])
def test_gather_matches_xla_semantics(label, x, idx, dn, sizes, mode):
    f = lambda a, i: lax.gather(a, i, dn, sizes, mode=mode)  # noqa: E731
    want = ref_gather(x, idx, tuple(dn), sizes, clip=mode != "fill")
    for got in (f(x, idx), jax.jit(f)(x, idx)):
        np.testing.assert_array_equal(np.asarray(got), want)


def test_gather_fill_value_and_mode_enum():
    x, idx = np.arange(24.0).reshape(4, 6), np.array([[1, 2], [3, 5], [-1, 0]])
    dn = GDN(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0, 1))
    got = lax.gather(x, idx, dn, (1, 3), mode=lax.GatherScatterMode.FILL_OR_DROP,
                     fill_value=-7)
    np.testing.assert_array_equal(got, ref_gather(x, idx, tuple(dn), (1, 3), False, -7))
    assert lax.GatherScatterMode.from_any("drop") is lax.GatherScatterMode.FILL_OR_DROP


@pytest.mark.parametrize("label,x,idx,dn,sizes", GATHERS[:3] + GATHERS[5:6],
                         ids=[g[0] for g in GATHERS[:3] + GATHERS[5:6]])
def test_gather_gradient_is_a_scatter_add(label, x, idx, dn, sizes):
    w = RNG.normal(size=ref_gather(x, idx, tuple(dn), sizes).shape)
    g = jax.grad(lambda a: (lax.gather(a, idx, dn, sizes) * w).sum())(x)
    # The loss is linear in x: its gradient is each weight added at the position it read.
    want = np.zeros_like(x)
    flat = ref_gather(np.arange(x.size, dtype=np.float64).reshape(x.shape), idx, tuple(dn),
                      sizes)
    np.add.at(want.reshape(-1), flat.astype(np.int64).reshape(-1), w.reshape(-1))
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_gather_under_vmap_matches_a_loop():
    x, idx = RNG.normal(size=(3, 4, 5)), RNG.integers(0, 4, (3, 2, 1))
    dn = GDN((1,), (0,), (0,))
    got = jax.vmap(lambda a, i: lax.gather(a, i, dn, (1, 5)))(x, idx)
    for b in range(3):
        np.testing.assert_array_equal(got[b], ref_gather(x[b], idx[b], tuple(dn), (1, 5)))


def _scatter_configs():
    x = RNG.normal(size=(4, 6))
    yield ("windows", x, np.array([[1, 2], [3, 5], [-1, 0], [1, 2]]),
           RNG.normal(size=(4, 3)), SDN((1,), (0,), (0, 1)))
    yield "rows", x, np.array([[2], [0], [2]]), RNG.normal(size=(3, 6)), SDN((1,), (0,), (0,))
    yield ("points", x, RNG.integers(-1, 6, (2, 3, 2)), RNG.normal(size=(2, 3)),
           SDN((), (0, 1), (0, 1)))
    yield ("batching", RNG.normal(size=(3, 5, 2)), RNG.integers(0, 5, (3, 4, 1)),
           RNG.normal(size=(3, 4, 2)), SDN((2,), (1,), (1,), (0,), (0,)))


SCATTERS = list(_scatter_configs())
COMBINE = {"scatter": lambda a, b: b, "scatter_add": np.add, "scatter_mul": np.multiply,
           "scatter_min": np.minimum, "scatter_max": np.maximum}


@pytest.mark.parametrize("label,x,idx,upd,dn", SCATTERS, ids=[s[0] for s in SCATTERS])
@pytest.mark.parametrize("kind", sorted(COMBINE))
@pytest.mark.parametrize("mode", [None, "clip"])
def test_scatter_matches_xla_semantics(label, x, idx, upd, dn, kind, mode):
    if kind == "scatter" and label in ("points", "rows"):
        idx = idx.copy()  # overwrite order of duplicates is unspecified: make them unique
        if label == "rows":
            idx = np.array([[2], [0], [3]])
        else:
            idx = np.stack(np.unravel_index(np.arange(6), (2, 3)), -1).reshape(2, 3, 2)
    f = lambda a, i, u: getattr(lax, kind)(a, i, u, dn, mode=mode)  # noqa: E731
    want = ref_scatter(x, idx, upd, tuple(dn), COMBINE[kind], clip=mode == "clip")
    for got in (f(x, idx, upd), jax.jit(f)(x, idx, upd)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_scatter_add_gradients():
    label, x, idx, upd, dn = SCATTERS[0]
    w = RNG.normal(size=x.shape)
    gx, gu = jax.grad(lambda a, u: (lax.scatter_add(a, idx, u, dn) * w).sum(),
                      argnums=(0, 1))(x, upd)
    np.testing.assert_allclose(gx, w)
    # d/du: the weight at the position each update element lands on (0 where dropped).
    h, fd = 1e-6, np.zeros_like(upd)
    for k in np.ndindex(upd.shape):
        e = np.zeros_like(upd)
        e[k] = h
        fd[k] = ((ref_scatter(x, idx, upd + e, tuple(dn), np.add) * w).sum()
                 - (ref_scatter(x, idx, upd - e, tuple(dn), np.add) * w).sum()) / (2 * h)
    np.testing.assert_allclose(gu, fd, rtol=1e-6, atol=1e-9)


def test_scatter_apply():
    x = np.zeros((4, 6))
    dn = SDN((1,), (0,), (0, 1))
    idx = np.array([[1, 2], [3, 1], [1, 3]])
    got = lax.scatter_apply(x, idx, lambda v: v + 1, dn, update_shape=(3, 3))
    touched = ref_scatter(np.zeros((4, 6)), idx, np.ones((3, 3)), tuple(dn), lambda a, b: b)
    np.testing.assert_array_equal(got, touched)


def test_old_call_forms_still_work():
    x, idx = RNG.normal(size=(4, 3)), np.array([[2], [0], [7]])
    np.testing.assert_array_equal(lax.gather(x, idx, (0,)), x[[2, 0, 3]])
    np.testing.assert_array_equal(lax.gather(x, idx, axes=(0,), mode="fill")[2], np.full(3, np.nan))
    want = x.copy()
    want[[2, 0]] += 1.0
    np.testing.assert_allclose(lax.scatter_add(x, idx, 1.0, (0,)), want)
    np.testing.assert_allclose(lax.scatter_add(x, idx, np.ones((3, 3)), axes=(0,)), want)


def test_gather_errors_name_the_problem():
    x = np.zeros((4, 5))
    with pytest.raises(ValueError, match="slice size 1"):
        lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (2, 5))
    with pytest.raises(ValueError, match="start_index_map"):
        lax.gather(x, np.zeros((2, 2), np.int32), GDN((1,), (0,), (0,)), (1, 5))


# --- approx_max_k / approx_min_k, dynamic slices, linearize ----------------------------------

def test_approx_top_k_is_exact():
    x = np.array([[3.0, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    v, i = lax.approx_max_k(x, 2)
    np.testing.assert_array_equal(v, [[5, 4], [9, 6]])
    np.testing.assert_array_equal(i, [[4, 2], [0, 2]])
    assert np.asarray(i).dtype == np.int32
    v, i = lax.approx_min_k(x, 1, reduction_dimension=0)
    np.testing.assert_array_equal(v, np.min(x, 0, keepdims=True))
    np.testing.assert_array_equal(i, np.argmin(x, 0)[None])
    with pytest.raises(ValueError, match="floating"):
        lax.approx_max_k(np.arange(3), 1)


@pytest.mark.parametrize("start", [-3, -1, -30, 2, 9])
def test_dynamic_slices_wrap_negative_starts(start):
    x = np.arange(10.0)
    s = start + 10 if start < 0 else start
    s = min(max(s, 0), 8)
    np.testing.assert_array_equal(lax.dynamic_slice(x, (start,), (2,)), x[s:s + 2])
    traced = jax.jit(lambda i: lax.dynamic_slice(x, (i,), (2,)))(np.int32(start))
    np.testing.assert_array_equal(traced, x[s:s + 2])
    want = x.copy()
    want[s:s + 2] = -1
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, -np.ones(2), (start,)), want)
    got = jax.jit(lambda i: lax.dynamic_update_slice(x, -np.ones(2), (i,)))(start)
    np.testing.assert_array_equal(got, want)


def test_linearize_has_aux():
    x, t = np.array([0.1, 0.7]), np.array([1.0, -2.0])
    out, f_jvp, aux = jax.linearize(lambda v: (np.sin(1.0) * v ** 3, v.sum()), x, has_aux=True)
    np.testing.assert_allclose(out, np.sin(1.0) * x ** 3)
    np.testing.assert_allclose(aux, x.sum())
    np.testing.assert_allclose(f_jvp(t), np.sin(1.0) * 3 * x ** 2 * t, rtol=1e-12)
