"""The CPU backend against the reference interpreter.

Every number the compiled code produces must be the interpreter's: exactly for integers and
booleans, and for floats up to the last bits where the compiled code legitimately reorders a
sum (reductions and dots may reassociate) or evaluates a transcendental function with a
different (correctly bounded) polynomial. Deterministic tests cover each kind of kernel the
fusion pass makes on edge shapes (empty, size-1 dimensions, scalars); seeded random programs
(jitcore.testing) add edge values, control flow, grad and vmap.

The op tests take the backend under test as the `backend` fixture (tests/backends/conftest.py:
"cpu"); `test_cuda_ops` calls them with "cuda".
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import lax  # noqa: E402
from jitcore.testing.differential import Mismatch, check  # noqa: E402
from jitcore.testing.differential import compare as compare_values  # noqa: E402
from jitcore.testing.random_ops import BINARY, COMPARE, UNARY, edge_values  # noqa: E402
from jitcore.testing.random_programs import program_from_steps, random_program  # noqa: E402
from ops.core import PRIMITIVES  # noqa: E402

# Float tolerance relative to the largest magnitude in the result: reassociated sums of n
# terms differ by about n ulps of the largest partial sum, not of each element.
TOL = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def assert_same(got, want, exact=False, tol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, \
        (got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind != "f" or exact:
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    if finite.any():
        scale = max(1.0, float(np.max(np.abs(want[finite]))))
        tol = (TOL[want.dtype] if tol is None else tol) * scale
        np.testing.assert_allclose(got[finite].astype(np.float64),
                                   want[finite].astype(np.float64), rtol=0, atol=tol)


def _assert_same_complex(got, want, exact, tol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert_same(got.real, want.real, exact, tol)
    assert_same(got.imag, want.imag, exact, tol)


def compare(backend, f, *args, exact=False, tol=None):
    """`jit(f, backend=backend)` against the interpreter. `tol`: relative to the largest
    magnitude, for every float output (default: by dtype). Every output lives on the
    backend's device: CUDA's stay on the GPU (a copy to the host would hide where the results
    were computed)."""
    want = jax.jit(f, backend="interp")(*args)
    got = jax.jit(f, backend=backend)(*args)
    want_l, got_l = jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)
    assert len(want_l) == len(got_l)
    for g, w in zip(got_l, want_l):
        assert g.device.platform == backend, (backend, g.device)
        if np.asarray(w).dtype.kind == "c":
            _assert_same_complex(g, w, exact, tol)
        else:
            assert_same(g, w, exact, tol)
    return got


def kinds(backend, f, *args):
    """The fusion kinds the backend's pipeline made for `f` (CUDA shares the CPU's)."""
    text = jax.jit(f, backend=backend).lower(*args).compile().as_text("hlo")
    return {k for k in ("loop", "row", "reduction") if f'kind="{k}"' in text}


def rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(size=shape) < 0.5
    return rng.integers(-50, 50, size=shape).astype(dtype)


EDGE_SHAPES = [(), (0,), (1,), (7,), (1, 1), (0, 3), (3, 0), (4, 1), (1, 5), (3, 4),
               (2, 1, 3), (2, 0, 3)]


# --- loop kernels ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", EDGE_SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool", "float16"])
def test_flat_loop(shape, dtype, backend):
    x, y = rand(shape, dtype, 1), rand(shape, dtype, 2)
    if np.dtype(dtype).kind == "b":
        f = lambda a, b: (a & ~b) | (a ^ b)  # noqa: E731
    elif np.dtype(dtype).kind == "i":
        f = lambda a, b: jnp.maximum(a * b - 3, b) // (a | 1) + a % 7  # noqa: E731
    else:
        f = lambda a, b: jnp.where(a > b, a * b + 1, jnp.abs(b) - a) / 2  # noqa: E731
    compare(backend, f, x, y)
    assert kinds(backend, f, x, y) <= {"loop"}


@pytest.mark.parametrize("shape", [s for s in EDGE_SHAPES if len(s) == 2] + [(2, 3, 4)])
def test_nested_loop_data_movement(shape, backend):
    x = rand(shape, np.float32)
    y = rand(shape[::-1], np.float32, 3)
    n = shape[0]

    def f(a, b):
        t = a.T + b                              # transpose
        r = jnp.flip(a, axis=0) * 2              # rev
        s = a[::2] if n else a                   # strided slice
        p = jnp.pad(a, [(1, 2)] + [(0, 0)] * (a.ndim - 1), constant_values=-1.0)
        c = jnp.concatenate([a, r, a[:1]], axis=0)
        bc = jnp.broadcast_to(a[..., :1], a.shape) - a   # broadcast of a size-1 column
        return t, r, s, p, c, bc, a.reshape(-1)[::-1].reshape(a.shape)

    compare(backend, f, x, y)


@pytest.mark.parametrize("start", [0, 1, 2, 7, -3])
def test_dynamic_slices_clamp_like_the_interpreter(start, backend):
    x = rand((5, 4), np.float64)
    u = rand((2, 3), np.float64, 4)
    f = lambda a, b, s: (lax.dynamic_slice(a, (s, s + 1), (3, 2)),  # noqa: E731
                         lax.dynamic_update_slice(a, b, (s, s)))
    compare(backend, f, x, u, np.int32(start))
    compare(backend, f, x, u, np.uint8(max(start, 0)))


def test_gather_modes_and_index_dtypes(backend):
    x = rand((5, 3), np.float32)
    for idx in (np.array([[0], [4], [7], [-1]], np.int32), np.array([[3], [9]], np.uint8)):
        compare(backend, lambda a, i: lax.gather(a, i, axes=(0,)), x, idx)
        compare(backend, lambda a, i: lax.gather(a, i, axes=(0,), mode="fill"), x, idx)
        compare(backend, lambda a, i: lax.gather(a, i, axes=(-1,), mode="fill", fill_value=2.5),
                x, idx)
    ints = rand((5, 3), np.int32)
    compare(backend, lambda a, i: lax.gather(a, i, axes=(1,), mode="fill"), ints,
            np.array([[2], [3]], np.int64))
    compare(backend, lambda a: a[jnp.array([[0, 2], [4, 1]])], x)


def test_iota_and_conversions(backend):
    def f(x):
        i = lax.broadcasted_iota(np.int32, x.shape, 1)
        h = x.astype(np.float16)
        return (i * 3 + x.astype(np.int32), h, h.astype(np.float64),
                (x * 1e5).astype(np.float16), h.astype(np.int8), x.astype(bool),
                jnp.arange(7, dtype=np.float16) * h[0, 0],
                (x * 1e10).astype(np.int32), (x * 1e10).astype(np.uint16))
    x = rand((3, 4), np.float64)
    x[0, 1], x[1, 2], x[2, 3] = np.nan, np.inf, 65519.99
    compare(backend, f, x, exact=True)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_programs(dtype, backend):
    """Complex arithmetic (on parts inside kernels), whole complex loads and stores, complex
    reductions and products, a host step (FFT) and control flow carrying complex values."""
    def f(z, w, x):
        a = jnp.exp(z) * w.conj() / (z + 2j) + jnp.sqrt(z) * jnp.abs(w)
        loop = lax.fori_loop(0, 3, lambda i, c: c * (0.5 + 0.5j) + z, w)
        return (a, a.sum(1), jnp.prod(z, axis=0), z @ w.T, z < w, jnp.maximum(z, w),
                (x * 1j).astype(z.dtype) + z, jnp.angle(z), jnp.fft.fft(z, axis=1), loop,
                z[::-1, 1:3], jnp.where(x > 0, z, w), jnp.concatenate([z, w]).T)
    rng = np.random.default_rng(4)
    z = (rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))).astype(dtype)
    w = (rng.normal(size=(3, 4)) - 1j * rng.normal(size=(3, 4))).astype(dtype)
    compare(backend, f, z, w, rng.normal(size=(3, 4)).astype(np.real(z).dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_linear_algebra_programs(dtype, backend):
    """Factorizations between kernels: native LAPACK calls on the CPU, host steps on CUDA;
    their inputs and outputs flow to and from fused kernels."""
    def f(a, b):
        spd = a @ jnp.conj(a).mT + 4 * jnp.eye(4, dtype=a.dtype)
        x = jnp.linalg.solve(a, b)
        return (x, jnp.linalg.cholesky(spd), jnp.linalg.eigvalsh(spd), jnp.linalg.det(a),
                jnp.linalg.svd(a, compute_uv=False), jnp.abs(jnp.linalg.qr(a)[1]),
                jnp.linalg.inv(spd) @ b)
    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 4, 4)) + (1j * rng.normal(size=(2, 4, 4)) if dtype == "complex128"
                                      else 0)
    b = rng.normal(size=(2, 4, 3)).astype(a.dtype)
    tol = 1e-3 if dtype == "float32" else 1e-10
    compare(backend, f, a.astype(dtype), b.astype(dtype), tol=tol)


def test_float16_conversions_round_like_numpy(backend):
    # float64 -> float16 has no instruction and its runtime routine is not in the process:
    # the backend rounds to odd in float32 first. Every float16, every midpoint between two
    # neighbours, just above and below it, subnormals, overflow and specials.
    h = np.arange(65536, dtype=np.uint16).view(np.float16)
    h = h[np.isfinite(h)].astype(np.float64)
    h.sort()
    mid = (h[:-1] + h[1:]) / 2
    x = np.concatenate([h, mid, mid * (1 + 1e-12), mid * (1 - 1e-12), [65519.99, 65520.0,
                        1e-300, -6e-8, 2.98e-8, 1e300, np.inf, -np.inf, np.nan]])
    compare(backend, lambda a: (a.astype(np.float16), a.astype(np.float32).astype(np.float16)), x,
            exact=True)
    ints = np.concatenate([np.arange(-70000, 70000, 7), [2 ** 62, -2 ** 63, 2 ** 24 + 1]])
    compare(backend, lambda i: (i.astype(np.float16), i.astype(np.uint64).astype(np.float16),
                       i.astype(np.int8).astype(np.float16)), ints, exact=True)
    halves = h.astype(np.float16)
    compare(backend, lambda a: (a.astype(np.int64), a.astype(np.uint8), a.astype(np.int16)), halves)


# --- row kernels -----------------------------------------------------------------------------

ROW_SHAPES = [(1, 1), (4, 1), (1, 7), (3, 5), (2, 3, 6), (0, 4)]


@pytest.mark.parametrize("shape", ROW_SHAPES)
def test_row_softmax_and_layer_norm(shape, backend):
    x = rand(shape, np.float32)

    def softmax(a):
        e = jnp.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def layer_norm(a):
        m = a.mean(axis=-1, keepdims=True)
        v = ((a - m) ** 2).mean(axis=-1, keepdims=True)
        return (a - m) / jnp.sqrt(v + 1e-5)

    compare(backend, softmax, x)
    compare(backend, layer_norm, x)
    if x.size:
        assert "row" in kinds(backend, softmax, x)


@pytest.mark.parametrize("shape", [(3, 0), (0, 0), (2, 0, 4)])
def test_row_kernels_with_empty_rows(shape, backend):
    x = rand(shape, np.float64)
    compare(backend, lambda a: a / (a.sum(axis=-1, keepdims=True) + 1.0), x)
    compare(backend, lambda a: jnp.exp(a) - a.sum(axis=-1, keepdims=True), x)


# --- reduction kernels -----------------------------------------------------------------------

REDUCE_CASES = [((5,), 0), ((5,), None), ((3, 4), 1), ((3, 4), 0), ((3, 4), (0, 1)),
                ((2, 3, 4), (0, 2)), ((2, 3, 4), 1), ((2, 3, 4), (1, 2)), ((1, 1), 0),
                ((4, 1), 1), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((), None)]


# Every pair of (layout, dtype) would be the full product: each layout meets three dtypes and
# each dtype every kind of layout, rotating, instead (half the cases).
@pytest.mark.parametrize("shape_axis,dtype", [
    (case, dt) for i, case in enumerate(REDUCE_CASES)
    for dt in [["float32", "float64", "int32", "bool", "float16", "uint8"][(i + k) % 6]
               for k in (0, 2, 4)]])
def test_reductions(shape_axis, dtype, backend):
    shape, axis = shape_axis
    x = rand(shape, dtype)
    kind = np.dtype(dtype).kind
    fs = [lambda a: jnp.sum(a, axis=axis), lambda a: jnp.prod(a, axis=axis),
          lambda a: jnp.any(a, axis=axis), lambda a: jnp.all(a, axis=axis)]
    empty = any(shape[d] == 0 for d in ((range(len(shape)) if axis is None else
                                         np.atleast_1d(axis))))
    if not empty:
        fs += [lambda a: jnp.max(a, axis=axis), lambda a: jnp.min(a, axis=axis)]
        if isinstance(axis, int) or (axis is None and len(shape) <= 1):
            fs += [lambda a: jnp.argmax(a, axis=axis), lambda a: jnp.argmin(a, axis=axis)]
    if kind == "f":
        fs.append(lambda a: jnp.sum(jnp.exp(a) * 2, axis=axis))
    for f in fs:
        compare(backend, f, x)


def test_max_min_argmax_propagate_nan_like_numpy(backend):
    x = rand((4, 6), np.float64)
    x[1, 2] = np.nan
    x[2, 0] = np.nan
    x[2, 4] = np.nan
    x[3] = [1, 5, 5, -np.inf, 5, np.inf]
    for f in (lambda a: a.max(axis=1), lambda a: a.min(axis=0), lambda a: a.argmax(axis=1),
              lambda a: a.argmin(axis=1), lambda a: a.argmax(axis=0),
              lambda a: jnp.maximum(a, a[::-1]), lambda a: jnp.minimum(a[::-1], a),
              lambda a: jnp.sum(a, axis=1), lambda a: jnp.clip(a, -0.5, 0.5)):
        compare(backend, f, x)
    ints = np.array([[3, 7, 7, -2], [0, 0, 0, 0]], np.int64)
    compare(backend, lambda a: (a.argmax(axis=1), a.argmin(axis=1), a.max(axis=0)), ints)
    bools = np.array([[False, True, True], [False, False, False]])
    compare(backend, lambda a: (a.argmax(axis=1), a.argmin(axis=1), a.max(axis=1), a.sum(axis=1)),
            bools)


def test_integer_sums_wrap_exactly(backend):
    x = np.full((3, 1000), 2 ** 30, np.int32)
    compare(backend, lambda a: (a.sum(axis=1), a.sum(axis=0), (a * 3).sum(), a.prod(axis=0)), x)


# --- dots --------------------------------------------------------------------------------------

DOT_CASES = [((3, 4), (4, 5)), ((0, 3), (3, 4)), ((3, 0), (0, 4)), ((1, 1), (1, 1)),
             ((2, 3, 4), (2, 4, 5)), ((3,), (3,)), ((4, 3), (3,)), ((3,), (3, 2)),
             ((2, 0, 4), (2, 4, 3))]


@pytest.mark.parametrize("shapes", DOT_CASES)
@pytest.mark.parametrize("dtype", ["int32", "float16", "float64", "bool"])
def test_matmul_through_loops(shapes, dtype, backend):
    a, b = rand(shapes[0], dtype, 1), rand(shapes[1], dtype, 2)
    compare(backend, jnp.matmul, a, b)


@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_dot_general_layouts(dtype, backend):
    x, y = rand((2, 3, 4), dtype, 1), rand((4, 2, 5), dtype, 2)
    compare(backend, lambda a, b: jnp.einsum("bik,kbj->bij", a, b), x, y)
    compare(backend, lambda a, b: jnp.einsum("bik,kbj->jib", a, b), x, y)
    compare(backend, lambda a: jnp.einsum("bik,bjk->bij", a, a), x)
    compare(backend, lambda a: jnp.einsum("bik,bil->kl", a, a), x)
    compare(backend, lambda a, b: lax.dot_general(a, b, (((-1,), (0,)), ((0,), (-2,)))), x, y)
    compare(backend, lambda a, b: a.T @ a.T.swapaxes(1, 2), x, y)
    z = rand((3, 4, 5), dtype, 3)
    compare(backend, lambda a: jnp.einsum("ijk,jik->k", a, a.swapaxes(0, 1)), z)
    compare(backend, lambda a: jnp.einsum("ijk,kji->", a, a.T), z)


def test_mixed_precision_dot(backend):
    a, b = rand((3, 4), np.int8, 1), rand((4, 2), np.int8, 2)
    compare(backend, lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())),
                                         preferred_element_type=np.float32), a, b)
    compare(backend, lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ())),
                                         preferred_element_type=np.int32), a * 20, b * 20)
    # NumPy accumulates float16 products in float32, in order, and rounds once: so do we.
    h = rand((2, 5, 256), np.float16, 3)
    compare(backend, lambda x: x @ x.swapaxes(1, 2), h, exact=True)
    compare(backend, lambda x: x[0].T @ x[1], h, exact=True)


# --- threads: large segments split each kernel across threads, with barriers between ---------

def test_parallel_segments_with_barriers_match(backend):
    x = rand((520, 300), np.float32)      # above the size where a segment runs on threads

    def f(a):
        e = jnp.exp(jnp.tanh(a))          # read by three kernels: written to memory first
        soft = e / e.sum(axis=-1, keepdims=True)
        cols = soft.sum(axis=0)           # reads `soft`, written by the kernel before
        return soft, e.T * 2 + cols[:, None], cols, jnp.argmax(e, axis=1), e.reshape(-1) + 1

    compare(backend, f, x)
    exe = jax.jit(f, backend=backend).lower(x).compile()
    assert "row" in exe.as_text("hlo")


# --- everything at once: a program with all kinds of steps -------------------------------------

def test_program_with_python_steps_between_kernels(backend):
    x = rand((4, 6), np.float32)

    def f(a):
        s = jnp.sort(a * 2, axis=1)
        c = jnp.cumsum(s, axis=0)
        u = a.at[jnp.array([0, 2, 2])].add(1.0)
        return c + u.sum(axis=1, keepdims=True), jnp.argsort(a[:, 0])

    compare(backend, f, x)


def test_scalar_programs_and_constant_outputs(backend):
    compare(backend, lambda a: (a * 2, a, jnp.float32(3), jnp.zeros((2, 0))), np.float32(1.5))
    compare(backend, lambda a, b: (a + b, b), np.int32(3), np.array([1, 2], np.int32))


# --- random programs -----------------------------------------------------------------------
# Seeded random programs (jitcore.testing.random_programs): edge values, every kind of kernel,
# control flow, grad and vmap. Each module groups several independent programs (fragments) to
# share a compile; a failure names the seed and `benchmarks/fuzz.py` finds the fragment.

def _check_random(kind, seed, fragments):
    program = random_program(seed, kind, range(fragments))
    try:
        check(program)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{program.describe()}") from None


# Longer fuzzing: benchmarks/fuzz.py.
@pytest.mark.parametrize("seed", range(10))
def test_random_programs_match_the_interpreter(seed):
    _check_random("plain", seed, 8)


@pytest.mark.parametrize("seed", range(5))
def test_random_vmapped_programs_match_a_loop_on_the_interpreter(seed):
    _check_random("vmap", seed, 8)


@pytest.mark.parametrize("seed", range(5))
def test_random_gradients_match_the_interpreter_and_finite_differences(seed):
    _check_random("grad", seed, 6)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "int64",
                                   "uint8", "uint32", "bool"])
def test_every_op_on_every_pair_of_edge_values(dtype):
    # NaN, infinities, signed zeros, subnormals, integer extremes, -1 and 0 as divisors,
    # over-wide and negative shift counts: each op of the random programs on all pairs.
    edges = edge_values(dtype)
    x, y = (a.reshape(-1) for a in np.meshgrid(edges, edges))
    k = "i" if np.dtype(dtype).kind == "u" else np.dtype(dtype).kind
    steps = [(op.name, op.fn, (0,), op.approx) for op in UNARY if k in op.kinds]
    steps += [(op.name, op.fn, (0, 1), op.approx) for op in BINARY if k in op.kinds]
    steps += [(f.__name__, f, (0, 1)) for f in COMPARE]
    check(program_from_steps("plain", steps, [x, y]))


def test_random_fragments_reproduce_alone():
    # benchmarks/fuzz.py names a failing fragment of a module by drawing it alone.
    group = random_program(7, "vmap", range(4))
    for f in (0, 3):
        alone = random_program(7, "vmap", [f]).parts[0]
        assert alone.fragment.describe() == group.parts[f].fragment.describe()
        for x, y in zip(alone.inputs, group.parts[f].inputs):
            for a, b in zip(x, y):
                np.testing.assert_array_equal(a, b)


def test_steps_that_two_correct_backends_could_disagree_on_are_dropped():
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    sums = [("sum(axis=0)", lambda a: jnp.sum(a, axis=0), (0,), "abs_in"),
            ("sum(a.T, axis=1)", lambda a: jnp.sum(a.T, axis=1), (0,), "abs_in")]
    # The two sums are equal as computed here, but may differ in the last bits elsewhere.
    prog = program_from_steps("plain", sums + [("subtract", jnp.subtract, (1, 2))], [x])
    assert prog.out_err[0] is not None and prog.out_err[0][0].min() > 0
    with pytest.raises(ValueError, match="unstable"):
        program_from_steps("plain", sums + [("less_equal", jnp.less_equal, (1, 2))], [x])


def test_the_checker_sees_a_wrong_result(monkeypatch):
    # The interpreter is made to round the other way: the compiled code is now "wrong".
    prog = program_from_steps("plain", [("floor", jnp.floor, (0,))],
                              [np.array([0.5, -1.5, 2.0])])
    check(prog)
    monkeypatch.setattr(PRIMITIVES["floor"], "impl", np.ceil)
    with pytest.raises(Mismatch, match="output 0"):
        check(prog)


def test_finite_differences_see_a_wrong_derivative(monkeypatch):
    from ops import elementwise as el
    from ops.autodiff import defvjp
    prog = program_from_steps("grad", [("tanh", jnp.tanh, (0,))],
                              [np.array([0.3, -1.2, 0.8])])
    check(prog)
    monkeypatch.setattr(el.tanh_p, "vjp", el.tanh_p.vjp)
    defvjp(el.tanh_p, lambda g, ans, x: el.mul(g, ans))      # d tanh = tanh: wrong
    with pytest.raises(Mismatch, match="finite differences give"):
        check(prog)


def test_compare_rules():
    compare_values(np.array([0.0, np.nan, -np.inf]), np.array([-0.0, np.nan, -np.inf]))
    for got, want in (([np.nan], [1.0]), ([np.inf], [-np.inf]), ([1.0], [np.inf]),
                      ([1.0 + 1e-15], [1.0])):
        with pytest.raises(Mismatch):
            compare_values(np.array(got), np.array(want))
    compare_values(np.array([1.0 + 1e-15]), np.array([1.0]), err=np.array([1e-15]))
    with pytest.raises(Mismatch, match="int32"):
        compare_values(np.array([1], np.int32), np.array([1], np.int64))


# --- cases the random programs found ---------------------------------------------------------

def test_loop_invariant_sort_in_a_scan_body(backend):
    # The sort reads only a captured value: hoisting it out of the loop must hoist its
    # element, not the multi-result sort itself (a tuple is no loop operand).
    def f(x, y):
        return lax.scan(lambda c, xv: (lax.cummin(jnp.sort(y), reverse=True), xv), x, x)
    x = np.array([3, 1, 2], np.int32)
    compare(backend, f, x, x[::-1].copy())


def test_dynamic_slice_with_a_uint64_start_past_int64_range(backend):
    # 2**64 - 64 is a large start (clamped to the last position), not -64 (clamped to 0).
    x, u = rand((5, 4), np.float64), rand((2, 3), np.float64, 1)
    start = np.uint64(2 ** 64 - 64)
    compare(backend, lambda a, b, s: (lax.dynamic_slice(a, (s, s), (2, 2)),
                             lax.dynamic_update_slice(a, b, (s, np.uint64(1)))), x, u, start)


def test_scatter_at_a_uint64_index_past_int64_range_is_dropped(backend):
    x, big = np.arange(3.0), np.uint64(2 ** 64 - 1)
    np.testing.assert_array_equal(jnp.asarray(x).at[big].multiply(2.0), x)
    compare(backend, lambda a, i: (a.at[i].multiply(2.0), a.at[i].set(9.0)), x, big)


def test_take_clip_with_a_scalar_index(backend):
    x, i = np.array([[1, 5, 11]], np.uint32), np.array(0, np.int32)
    np.testing.assert_array_equal(jnp.take(x, i, axis=1, mode="clip"), [1])
    compare(backend, lambda a, k: jnp.take(a, k, axis=0, mode="clip"), x, i)


# --- runtime routines ------------------------------------------------------------------------

def test_half_conversion_routines_for_cpus_without_f16c():
    """Code generated for an x86-64 CPU without F16C calls __extendhfsf2 / __truncsfhf2 /
    __truncdfhf2; the backend's own definitions must give NumPy's results bit for bit."""
    import ctypes
    import platform

    from llvmlite import binding as llvm
    from llvmlite import ir as ll

    from xla_like.backends import cpu
    from xla_like.backends.cpu import runtime as cpu_runtime
    from xla_like.backends.llvm.emitter import i64
    from xla_like.backends.llvm.loops import counted_loop

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the generic target below is x86-64")
    cpu_runtime.install(cpu.target_machine())
    mod = ll.Module()
    mod.triple = llvm.get_process_triple()
    conversions = {"h2f": (ll.HalfType(), ll.FloatType()), "f2h": (ll.FloatType(), ll.HalfType()),
                   "d2h": (ll.DoubleType(), ll.HalfType())}
    for name, (src, dst) in conversions.items():
        fn = ll.Function(mod, ll.FunctionType(ll.VoidType(), [ll.PointerType(src),
                                                              ll.PointerType(dst), ll.IntType(64)]),
                         name)
        b = ll.IRBuilder(fn.append_basic_block())

        def body(i, fn=fn, b=b, src=src, dst=dst):
            v = b.load(b.gep(fn.args[0], [i]))
            v = b.fpext(v, dst) if src == ll.HalfType() else b.fptrunc(v, dst)
            b.store(v, b.gep(fn.args[1], [i]))
        counted_loop(b, i64(0), fn.args[2], body)
        b.ret_void()
    generic = llvm.Target.from_default_triple().create_target_machine(
        cpu="x86-64", features="", opt=2, codemodel="jitdefault")
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(mod)), generic)
    engine.finalize_object()

    def run(name, x, dtype):
        out = np.empty(x.shape, dtype)
        f = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(
            engine.get_function_address(name))
        f(x.ctypes.data, out.ctypes.data, x.size)
        return out

    def same(got, want):
        ok = (got.view(np.uint16) == want.view(np.uint16)) | (np.isnan(got) & np.isnan(want))
        assert ok.all(), (got[~ok][:5], want[~ok][:5])

    halves = np.arange(65536, dtype=np.uint16).view(np.float16)
    got = run("h2f", halves, np.float32)
    np.testing.assert_array_equal(got, halves.astype(np.float32))
    finite = np.sort(halves[np.isfinite(halves)].astype(np.float64))
    mid = (finite[:-1] + finite[1:]) / 2
    rng = np.random.default_rng(0)
    wide = np.concatenate([finite, mid, mid * (1 + 1e-12), mid * (1 - 1e-12),
                           rng.integers(0, 2 ** 64, 100_000, dtype=np.uint64).view(np.float64),
                           [65519.99, 65520.0, np.inf, -np.inf, np.nan]])
    with np.errstate(all="ignore"):
        same(run("d2h", wide, np.float16), wide.astype(np.float16))
        f32 = np.concatenate([wide.astype(np.float32),
                              rng.integers(0, 2 ** 32, 100_000, dtype=np.uint64)
                              .astype(np.uint32).view(np.float32)])
        same(run("f2h", f32, np.float16), f32.astype(np.float16))


def test_unresolvable_calls_raise_instead_of_aborting():
    from llvmlite import binding as llvm

    from xla_like.backends.cpu import runtime as cpu_runtime

    text = """
declare double @jitcore_no_such_function(double, double)
define double @f(double %x) {
  %y = call double @jitcore_no_such_function(double %x, double %x)
  ret double %y
}
"""
    with pytest.raises(RuntimeError, match="jitcore_no_such_function"):
        cpu_runtime.check_symbols(llvm.parse_assembly(text))
    cpu_runtime.check_symbols(llvm.parse_assembly(text.replace("jitcore_no_such_function",
                                                               "fmod")))


def test_size_one_axes_index_as_the_constant_zero():
    """A size-1 axis's index is the constant 0 in both delinearizations, the one data
    movement uses: the element cache keys values by index, so a row kernel's reductions
    (softmax over (8, 1, 256, 256)) are found once per row, not recomputed per element."""
    from llvmlite import ir as ll
    from xla_like.backends.llvm.emitter import ElementEmitter
    from xla_like.backends.llvm.kernels import delinearize
    fn = ll.Function(ll.Module(), ll.FunctionType(ll.VoidType(), [ll.IntType(64)]), "f")
    b = ll.IRBuilder(fn.append_basic_block())
    em = ElementEmitter(b, [], None)
    for dims in ((8, 1, 256), (1, 8, 1)):
        for idx in (delinearize(b, fn.args[0], dims), em._delinearize(fn.args[0], dims)):
            for v, d in zip(idx, dims):
                if d == 1:
                    assert isinstance(v, ll.Constant) and v.constant == 0
    x = np.random.default_rng(0).normal(size=(4, 1, 8, 16)).astype(np.float32)
    compare("cpu", jax.nn.softmax, x)
