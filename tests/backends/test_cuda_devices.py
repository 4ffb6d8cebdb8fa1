"""Arrays on the GPU: `jitcore.devices()`, `device_put`, `Array.device`, results of
`jit(f, backend="cuda")` that stay on the device, donation of device memory, and cuBLAS.

Everything runs on the emulated device of `test_cuda_runtime` (and again on a real GPU where
there is one); cuBLAS is a fake with the library's C signature computing with NumPy in the
emulator's memory, which checks the column-major argument mapping.
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config, lax  # noqa: E402
from xla_like.backends.cuda import runtime as cuda_runtime  # noqa: E402

from tests.backends.test_cuda_runtime import _check, emulated, runtime  # noqa: E402,F401  (fixtures)

rng = np.random.default_rng(7)
X = rng.standard_normal((6, 40)).astype(np.float32)
V = rng.standard_normal(300).astype(np.float32)


def _on_gpu(a):
    return a.device.platform == "cuda" and a._value is None


# --- without a GPU -------------------------------------------------------------------------

def test_without_gpu_only_the_cpu(monkeypatch):
    monkeypatch.setattr(cuda_runtime, "_driver", None)
    monkeypatch.setattr(cuda_runtime, "_devices", None)
    monkeypatch.setattr(cuda_runtime, "_unavailable", "no GPU here (test)")
    assert jax.devices() == [jax.devices("cpu")[0]]
    assert repr(jax.devices()[0]) == "cpu:0"
    assert jax.devices("cuda") == []
    with pytest.raises(ValueError, match=r"no device 'cuda' \(no GPU here \(test\)\)"):
        jax.device_put(X, "cuda")
    a = jax.device_put(X)
    assert a.device == jax.devices()[0] and str(a.device) == "cpu:0"
    assert jax.jit(lambda x: x + 1)(X).device.platform == "cpu"
    np.testing.assert_array_equal(np.asarray(a), X)


def test_device_names_are_checked():
    for bad in ("tpu", "cpu:1", "cuda:x", 3):
        with pytest.raises(ValueError, match="device"):
            jax.device_put(X, bad)
    with pytest.raises(ValueError, match="unknown backend"):
        jax.devices("tpu")


# --- device arrays ---------------------------------------------------------------------------

def test_devices_and_device_put(runtime):
    devs = jax.devices()
    assert [str(d) for d in devs[:2]] == ["cpu:0", "cuda:0"]
    assert jax.devices("cuda")[0] == devs[1] and devs[1].platform == "cuda"
    assert isinstance(devs[1].device_kind, str)
    tree = {"x": X, "s": 2.5, "i": [np.int32(3)]}
    put = jax.device_put(tree, devs[1])
    for leaf, src in zip(jax.tree_util.tree_leaves(put), jax.tree_util.tree_leaves(tree)):
        assert _on_gpu(leaf)
        want = np.asarray(jnp.asarray(src))
        # Shape and dtype come from the device buffer: nothing is copied back for them.
        assert leaf.shape == want.shape and leaf.dtype == want.dtype and leaf._value is None
        assert leaf.ndim == want.ndim and leaf.size == want.size and leaf.nbytes == want.nbytes
        np.testing.assert_array_equal(np.asarray(leaf), want)
        assert leaf._value is not None    # the host copy is kept
    assert put["s"].weak_type and not put["x"].weak_type
    assert jax.device_put(put["x"], "cuda:0") is put["x"]
    back = jax.device_put(put["x"], "cpu")
    assert back.device == devs[0]
    np.testing.assert_array_equal(np.asarray(back), X)
    assert jax.device_put(put["s"], "gpu").device == devs[1]


def test_results_stay_on_the_device(runtime):
    f = jax.jit(lambda x: (jnp.exp(x) * 2, x.sum(1), x.max()), backend="cuda")
    e, s, m = f(X)
    for r in (e, s, m):
        assert _on_gpu(r)
        assert r.block_until_ready() is r
    assert e.shape == X.shape and s.dtype == np.float32 and m.aval.shape == ()
    want_m = float(X.max())
    assert float(m) == want_m and m._value is not None
    assert "Array(" in repr(s) and s._value is not None
    _check(e, (np.exp(X.astype(np.float64)) * 2).astype(np.float32))
    assert [float(v) for v in s] == pytest.approx(X.astype(np.float64).sum(1), rel=1e-5)


def test_device_arrays_feed_cuda_functions_without_copies(emulated):
    f = jax.jit(lambda x: jnp.tanh(x) * 0.5 + x, backend="cuda")
    g = jax.jit(lambda x, y: (x * y).sum(0), backend="cuda")
    x = jax.device_put(X, "cuda")
    y = f(x)
    uploads = emulated.uploads
    z = g(y, x)
    assert emulated.uploads == uploads     # both arguments were used where they are
    assert _on_gpu(z)
    yh = np.tanh(X.astype(np.float64)) * 0.5 + X
    _check(z, (yh * X).sum(0).astype(np.float32))
    # A host argument next to a device one is uploaded.
    _check(g(y, X), (yh * X).sum(0).astype(np.float32))
    assert emulated.uploads == uploads + 1


def test_device_arrays_on_cpu_paths(runtime):
    y = jax.jit(lambda x: x * 3 - 1, backend="cuda")(X)
    want = X * 3 - 1
    for backend in ("cpu", "interp"):
        h = jax.jit(lambda a: jnp.sin(a) + a.sum(), backend=backend)
        r = h(y)
        assert r.device.platform == "cpu"
        _check(r, (np.sin(want.astype(np.float64)) + want.astype(np.float64).sum())
               .astype(np.float32))
    # Eager operations read the values on the host.
    _check(jnp.cos(y) * 2, (np.cos(want.astype(np.float64)) * 2).astype(np.float32))
    _check(y[1:3, ::5], want[1:3, ::5])
    # jit(grad) of a function of a device array.
    gr = jax.jit(jax.grad(lambda a: (a * a).sum()), backend="cuda")(y)
    _check(gr, 2 * want)


def test_one_function_host_and_device_calls(runtime):
    f = jax.jit(lambda x: x * 2, backend="cuda")
    a = f(X)           # a host argument
    b = f(a)           # a device argument: another cache entry, the same executable
    c = f(b)
    _check(c, X * 8)
    info = f.cache_info()
    assert info.misses == 2 and info.hits == 1
    entries = {id(e.executable) for e in f._cache.values()}
    assert len(entries) == 1


def test_outputs_never_share_memory(runtime):
    f = jax.jit(lambda x, c: (x, x * 2, c, x * 2, jnp.float32(7)), backend="cuda")
    x = jax.device_put(X, "cuda")
    outs = f(x, V)
    ptrs = [o._buf.ptr for o in outs] + [x._buf.ptr]
    assert len(set(ptrs)) == len(ptrs)
    for got, want in zip(outs, (X, X * 2, V, X * 2, np.float32(7))):
        _check(got, want)


def test_deleted_device_array_says_so(runtime):
    x = jax.device_put(X, "cuda")
    x.delete()
    assert x.is_deleted() and repr(x) == "Array(<deleted>)"
    with pytest.raises(RuntimeError, match="deleted"):
        np.asarray(x)
    with pytest.raises(RuntimeError, match="deleted"):
        jax.jit(lambda a: a + 1, backend="cuda")(x)


# --- donation ------------------------------------------------------------------------------

def test_donated_device_memory_is_reused(runtime):
    f = jax.jit(lambda x, y: (x * 2 + y, y.sum()), backend="cuda", donate_argnums=0)
    x = jax.device_put(X, "cuda")
    y = jax.device_put(X[::-1].copy(), "cuda")
    ptr = x._buf.ptr
    out, total = f(x, y)
    assert x.is_deleted() and not y.is_deleted()
    assert out._buf.ptr == ptr
    _check(out, X * 2 + X[::-1])
    _check(total, X[::-1].astype(np.float64).sum().astype(np.float32))
    # Passed twice: not exclusive, so nothing is reused (and both uses read the right values).
    z = jax.device_put(X, "cuda")
    ptr = z._buf.ptr
    out2, _ = f(z, z)
    assert z.is_deleted() and out2._buf.ptr != ptr
    _check(out2, X * 3)


def test_donated_host_array_takes_the_upload(runtime):
    f = jax.jit(lambda x: jnp.exp(x) - 1, backend="cuda", donate_argnums=0)
    x = jnp.asarray(V)
    r = f(x)
    assert x.is_deleted()
    _check(r, (np.exp(V.astype(np.float64)) - 1).astype(np.float32))
    plan = next(iter(f._cache.values())).executable.plan
    assert any(b.alias is not None for b in plan.buffers)


def test_no_donation_without_the_plan_allowing_it(runtime):
    # The output reads x at other positions than its own: it cannot take x's memory.
    f = jax.jit(lambda x: x[::-1] + x, backend="cuda", donate_argnums=0)
    x = jax.device_put(V, "cuda")
    ptr = x._buf.ptr
    r = f(x)
    assert x.is_deleted() and r._buf.ptr != ptr
    _check(r, V[::-1] + V)


# --- cuBLAS --------------------------------------------------------------------------------

class FakeCublas:
    """libcublas's gemm entry points (column-major, as documented), in NumPy on raw memory."""

    def __init__(self):
        self.calls = []

    def cublasCreate_v2(self, handle_ptr):
        handle_ptr.contents.value = 1234
        return 0

    def cublasSetStream_v2(self, handle, stream):
        assert handle.value == 1234
        return 0

    @staticmethod
    def _matrix(ptr, rows, cols, ld, ctype):
        assert ld >= max(1, rows), (ld, rows)    # cuBLAS rejects a smaller leading dimension
        n = ld * (cols - 1) + rows
        flat = np.ctypeslib.as_array((ctype * n).from_address(int(ptr)))
        size = ctypes.sizeof(ctype)
        return np.lib.stride_tricks.as_strided(flat, (rows, cols), (size, ld * size))

    def _gemm(self, ctype, handle, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        op_a = self._matrix(a, *((m, k) if ta == 0 else (k, m)), lda, ctype)
        op_b = self._matrix(b, *((k, n) if tb == 0 else (n, k)), ldb, ctype)
        op_a = op_a if ta == 0 else op_a.T
        op_b = op_b if tb == 0 else op_b.T
        out = self._matrix(c, m, n, ldc, ctype)
        res = alpha.contents.value * (op_a.astype(np.float64) @ op_b.astype(np.float64))
        if beta.contents.value != 0:
            res += beta.contents.value * out
        out[...] = res

    def cublasSgemm_v2(self, handle, *args):
        self.calls.append(("S", 1) + args[:5])
        self._gemm(ctypes.c_float, handle, *args)
        return 0

    def cublasDgemm_v2(self, handle, *args):
        self.calls.append(("D", 1) + args[:5])
        self._gemm(ctypes.c_double, handle, *args)
        return 0

    def _batched(self, ctype, handle, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta,
                 c, ldc, sc, count):
        size = ctypes.sizeof(ctype)
        for q in range(count):
            self._gemm(ctype, handle, ta, tb, m, n, k, alpha, a + q * sa * size, lda,
                       b + q * sb * size, ldb, beta, c + q * sc * size, ldc)

    def cublasSgemmStridedBatched(self, handle, *args):
        self.calls.append(("S", args[-1]) + args[:5])
        self._batched(ctypes.c_float, handle, *args)
        return 0

    def cublasDgemmStridedBatched(self, handle, *args):
        self.calls.append(("D", args[-1]) + args[:5])
        self._batched(ctypes.c_double, handle, *args)
        return 0


def _dg(x, y, contract, batch=((), ())):
    return lax.dot_general(x, y, (contract, batch))


# Arguments (a, at, b, bt): a is 5x7, b 7x3, at and bt their transposes in memory.
DOTS = {
    "plain": (lambda a, at, b, bt: a @ b, (0, 0)),
    "a_transposed": (lambda a, at, b, bt: _dg(at, b, ((0,), (0,))), (1, 0)),
    "b_transposed": (lambda a, at, b, bt: _dg(a, bt, ((1,), (1,))), (0, 1)),
    "both_transposed": (lambda a, at, b, bt: _dg(at, bt, ((0,), (1,))), (1, 1)),
    "batched": (lambda a, at, b, bt: jnp.stack([a, a * 2, -a]) @ jnp.stack([b, b + 1, b * b]),
                (0, 0)),
    "batched_transposed": (lambda a, at, b, bt: _dg(
        jnp.stack([at, at * 2]), jnp.stack([b, -b]), ((1,), (1,)), ((0,), (0,))), (1, 0)),
    "vector": (lambda a, at, b, bt: (a @ b[:, 0], a[0] @ b), None),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(DOTS))
def test_cublas_argument_mapping(case, dtype, emulated, monkeypatch):
    fake = FakeCublas()
    monkeypatch.setattr(cuda_runtime, "load_cublas", lambda: fake)
    a = rng.standard_normal((5, 7)).astype(dtype)
    b = rng.standard_normal((7, 3)).astype(dtype)
    args = (a, a.T.copy(), b, b.T.copy())
    f, transposed = DOTS[case]
    want = jax.tree_util.tree_leaves(jax.jit(f, backend="interp")(*args))
    got = jax.tree_util.tree_leaves(jax.jit(f, backend="cuda")(*args))
    assert fake.calls, "cuBLAS was not called"
    assert all(c[0] == ("S" if dtype == np.float32 else "D") for c in fake.calls)
    if transposed is not None:
        # cuBLAS's first operand is b's memory: (op(b), op(a)) is (tb, ta).
        assert fake.calls[0][2:4] == transposed[::-1]
    if case.startswith("batched"):
        assert fake.calls[0][1] > 1
    for g, w in zip(got, want):
        _check(g, w)


def test_integer_dots_use_the_kernel_half_dots_widen_to_sgemm(emulated, monkeypatch):
    fake = FakeCublas()
    monkeypatch.setattr(cuda_runtime, "load_cublas", lambda: fake)
    h = rng.standard_normal((4, 16)).astype(np.float16)
    i = rng.integers(-5, 5, (4, 6)).astype(np.int32)
    f = jax.jit(lambda h, i: (h @ h.T, i @ i.T, lax.dot_general(
        i, i, (((1,), (1,)), ((), ())), preferred_element_type=np.float32)), backend="cuda")
    r = f(h, i)
    # Integer dots run the kernel; on sm_80+ (the emulated GPU is sm_90) a float16 dot runs on
    # tensor cores (`cuda.mma`), before sm_80 it is a float32 dot between conversions
    # (`widen_half_dots`), which cuBLAS runs as one sgemm.
    assert fake.calls == []
    _check(r[0], (h.astype(np.float32) @ h.T.astype(np.float32)).astype(np.float16))
    _check(r[1], i @ i.T)
    _check(r[2], (i @ i.T).astype(np.float32))
    with config.override(cuda_arch="sm_75"):
        r75 = jax.jit(lambda h: h @ h.T, backend="cuda")(h)
    assert [c[0] for c in fake.calls] == ["S"]
    _check(r75, (h.astype(np.float32) @ h.T.astype(np.float32)).astype(np.float16))


def test_cublas_without_the_library(emulated, monkeypatch):
    monkeypatch.setattr(config.settings, "cuda_cublas", 0)
    assert cuda_runtime.load_cublas() is None
    a = rng.standard_normal((5, 7)).astype(np.float32)
    _check(jax.jit(lambda x: x @ x.T, backend="cuda")(a), a @ a.T)
