"""The CUDA backend against the reference interpreter.

Each case runs twice:
- `gpu`: on a real GPU through pycuda (skipped, with the probe's reason, where there is none);
- `emulated`: through `cuda.runtime` with pycuda's driver replaced by a simulation, where each
  kernel's LLVM IR is compiled for this CPU and run with one OS thread per GPU thread: thread
  ids, `__syncthreads` and warp shuffles are Python callbacks, shared memory is a global. This
  checks, without a GPU, what PTX assembly cannot: that the kernels compute the right numbers
  for any grid (grid-stride loops, block trees, shuffles, tiles), and the runtime's plumbing
  (buffers, arguments, host steps, the caching allocator).
"""
from __future__ import annotations

import collections
import ctypes
import re
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import lax  # noqa: E402
from xla_like.backends import cuda  # noqa: E402
from xla_like.backends.cuda import codegen as cuda_codegen, runtime as cuda_runtime
from tests.backends import cuda_mma_model  # noqa: E402  (tensor cores, bfloat16 rounding)

TOL = {np.dtype(np.float16): 3e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}

# --- the simulated driver ----------------------------------------------------------------------

_tls = threading.local()
EMULATED_BLOCKS = 2        # blocks run per launch, whatever the grid (grid-stride loops cover)
# Threads per block: kernels read the block size at run time and take any multiple of the
# warp, except dots, whose 16x16 tiles need the full block.
EMULATED_THREADS = 64
_WAIT_S = 60


class _Block:
    def __init__(self, nthreads):
        self.barrier = threading.Barrier(nthreads, timeout=_WAIT_S)
        self.warps = [threading.Barrier(min(32, nthreads - w), timeout=_WAIT_S)
                      for w in range(0, nthreads, 32)]
        self.slots = [None] * nthreads


def _sreg(k):
    return lambda: _tls.ids[k]


def _shfl(mask, v, lane_mask, clamp):
    tid, blk = _tls.ids[0], _tls.block
    warp = blk.warps[tid // 32]
    blk.slots[tid] = v
    warp.wait()
    r = blk.slots[(tid & ~31) | ((tid & 31) ^ lane_mask)]
    warp.wait()
    return r


_SREG_T = ctypes.CFUNCTYPE(ctypes.c_int32)
_BAR_T = ctypes.CFUNCTYPE(None)
_CALLBACKS = {
    "jc_sreg_tid_x": _SREG_T(_sreg(0)), "jc_sreg_ntid_x": _SREG_T(_sreg(1)),
    "jc_sreg_ctaid_x": _SREG_T(_sreg(2)), "jc_sreg_nctaid_x": _SREG_T(_sreg(3)),
    "jc_barrier0": _BAR_T(lambda: _tls.block.barrier.wait()),
    "jc_shfl_f32": ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int32, ctypes.c_float,
                                    ctypes.c_int32, ctypes.c_int32)(_shfl),
    "jc_shfl_i32": ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                    ctypes.c_int32, ctypes.c_int32)(_shfl),
    **cuda_mma_model.make_callbacks(_tls),
}


def host_llvm(text):
    """A rendered CUDA module as LLVM IR for this CPU (see the module docstring)."""
    from llvmlite import binding as llvm
    text = re.sub(r'target triple = ".*"', f'target triple = "{llvm.get_process_triple()}"',
                  text)
    text = re.sub(r"target datalayout = .*\n", "", text)
    text = text.replace("ptx_kernel ", "")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("!"))
    # Shared memory: one plain global the block's threads share (not internal: LLVM must not
    # assume the barrier callbacks leave it alone).
    text = re.sub(r"= internal addrspace\(3\) global (.*) undef", r"= global \1 zeroinitializer",
                  text)
    text = text.replace(" addrspace(3)", "")
    for reg in ("tid", "ntid", "ctaid", "nctaid"):
        text = text.replace(f"llvm.nvvm.read.ptx.sreg.{reg}.x", f"jc_sreg_{reg}_x")
    text = text.replace("llvm.nvvm.barrier0", "jc_barrier0")
    text = text.replace("llvm.nvvm.shfl.sync.bfly.f32", "jc_shfl_f32")
    text = text.replace("llvm.nvvm.shfl.sync.bfly.i32", "jc_shfl_i32")
    text = re.sub(r"@\"?__nv_(\w+)\"?", r'@"\1"', text)   # libdevice -> the C math library
    return cuda_mma_model.host_rewrite(text)


class FakeAllocation:
    def __init__(self, nbytes):
        self.memory = np.zeros(nbytes + 256, np.uint8)
        self.address = self.memory.ctypes.data + (-self.memory.ctypes.data) % 256
        self.freed = False

    def __int__(self):
        return self.address

    def free(self):
        self.freed = True


class FakeFunction:
    def __init__(self, name, address):
        self.address = address
        self.full_block = name.endswith("_dot")

    def prepare(self, fmt):
        types = [ctypes.c_void_p if c == "P" else ctypes.c_int64 for c in fmt]
        self.cfunc = ctypes.CFUNCTYPE(None, *types)(self.address)

    def prepared_async_call(self, grid, block, stream, *args):
        nthreads = block[0] if self.full_block else min(block[0], EMULATED_THREADS)
        nblocks = min(grid[0], EMULATED_BLOCKS)
        errors = []

        def thread(blk, t, state):
            _tls.ids, _tls.block = (t, nthreads, blk, nblocks), state
            try:
                self.cfunc(*args)
            except Exception as e:   # a broken barrier: some thread did not arrive
                errors.append(e)

        for blk in range(nblocks):
            state = _Block(nthreads)
            threads = [threading.Thread(target=thread, args=(blk, t, state))
                       for t in range(nthreads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert not errors, errors[0]
        FakeDriver.launches += 1


class FakeModule:
    def __init__(self, text):
        from llvmlite import binding as llvm

        from xla_like.backends import cpu
        from xla_like.backends.cpu import runtime as cpu_runtime
        for name, cb in _CALLBACKS.items():
            llvm.add_symbol(name, ctypes.cast(cb, ctypes.c_void_p).value)
        host = host_llvm(text)
        names = re.findall(r'define void @"?(\w+)"?\(', host)
        cpu_runtime.install(cpu.target_machine())
        mod = llvm.parse_assembly(host)
        mod.verify()
        cpu.optimize(mod, cpu.target_machine())
        cpu_runtime.check_symbols(mod)
        self.engine = llvm.create_mcjit_compiler(mod, cpu.target_machine())
        self.engine.finalize_object()
        self.addresses = {n: self.engine.get_function_address(n) for n in names}

    def get_function(self, name):
        return FakeFunction(name, self.addresses[name])


class FakeDriver:
    """The parts of `pycuda.driver` that `cuda.runtime` uses."""
    Error = RuntimeError
    launches = 0
    allocations = 0
    uploads = 0
    llvm_of_ptx = {}

    class device_attribute:
        MULTIPROCESSOR_COUNT = "sm_count"

    class Context:
        @staticmethod
        def pop():
            pass

    class Stream:
        handle = 0

        def synchronize(self):
            pass

    class Device:
        @staticmethod
        def count():
            return 1

        def __init__(self, ordinal):
            pass

        def name(self):
            return "emulated GPU"

        def compute_capability(self):
            return (9, 0)

        def get_attribute(self, attr):
            return 1

        def retain_primary_context(self):
            return type("Ctx", (), {"push": lambda self: None})()

    @staticmethod
    def init():
        pass

    @classmethod
    def mem_alloc(cls, nbytes):
        cls.allocations += 1
        return FakeAllocation(nbytes)

    @classmethod
    def memcpy_htod(cls, dst, src):
        cls.uploads += 1
        src = np.ascontiguousarray(src)
        ctypes.memmove(int(dst), src.ctypes.data, src.nbytes)

    @staticmethod
    def memcpy_htod_async(dst, src, stream=None):
        FakeDriver.memcpy_htod(dst, src)

    @staticmethod
    def memcpy_dtoh_async(dst, src, stream=None):
        ctypes.memmove(dst.ctypes.data, int(src), dst.nbytes)

    @staticmethod
    def memcpy_dtod_async(dst, src, size, stream=None):
        ctypes.memmove(int(dst), int(src), size)

    @classmethod
    def module_from_buffer(cls, ptx):
        return FakeModule(cls.llvm_of_ptx[ptx.decode()])


@pytest.fixture
def emulated(monkeypatch):
    """cuda_runtime on the simulated driver; compiles remember their LLVM text by PTX."""
    monkeypatch.setattr(cuda_runtime, "_driver", FakeDriver)
    monkeypatch.setattr(cuda_runtime, "_devices", None)
    monkeypatch.setattr(cuda_runtime, "_unavailable", None)
    # Executables compiled before (their PTX not remembered) are compiled again.
    monkeypatch.setattr(cuda, "_memo", collections.OrderedDict())
    real = cuda.compile_ptx

    def remember(text, arch, kernels):
        ptx, opt = real(text, arch, kernels)
        FakeDriver.llvm_of_ptx[ptx] = text
        return ptx, opt
    monkeypatch.setattr(cuda, "compile_ptx", remember)
    yield FakeDriver


@pytest.fixture(params=["gpu", "emulated"])
def runtime(request):
    if request.param == "gpu":
        reason = cuda_runtime.probe()
        if reason is not None:
            pytest.skip(reason)
        yield "gpu"
    else:
        if cuda_codegen.libdevice_path() is None:
            pytest.skip("libdevice (CUDA toolkit) not found; set CUDA_HOME")
        yield request.getfixturevalue("emulated")


# --- cases -------------------------------------------------------------------------------------

rng = np.random.default_rng(1)
A = rng.standard_normal((5, 150)).astype(np.float32)
A64 = rng.standard_normal((4, 70))
S = rng.standard_normal((6, 20)).astype(np.float32)
N = rng.standard_normal(1000).astype(np.float32)
I = rng.integers(-40, 40, (7, 9)).astype(np.int32)
H = rng.standard_normal((3, 80)).astype(np.float16)
A[1, 7] = A[1, 100] = 5.0   # argmax ties: the first wins
A[2, 30] = np.nan
BIG = rng.standard_normal(9_001).astype(np.float32)
BIG[[5, 3_000, 6_000]] = 9.0     # ties for argmax and argmin across chunks
BIG[[7, 5_000, 7_000]] = -9.0


def _softmax(x):
    return jax.nn.softmax(x, axis=-1)


CASES = {
    "flat_chain": (lambda x, y: jnp.exp(x) * y + 1.5 * x - jnp.tanh(y), (N, N[::-1].copy())),
    "flat_tail": (lambda x: x * 2 + 1, (N[:1003 - 8],)),
    "math": (lambda x: jnp.sin(x) + jnp.log1p(jnp.abs(x)) + jnp.fmod(x, 0.3) +
             jnp.arctan2(x, 0.5) + jax.nn.sigmoid(x), (S,)),
    "broadcast_transpose": (lambda x, r: x.T * r[:, None] + jnp.flip(x, 0).T, (S, S[0])),
    "softmax_rows": (_softmax, (A,)),
    "softmax_short_rows": (_softmax, (S,)),
    "row_sums": (lambda x: (x.sum(1), x.max(1), jnp.argmax(x, 1), jnp.argmin(x, 1)), (A,)),
    "column_sums": (lambda x: (x.sum(0), x.min(0), jnp.argmax(x, 0)), (S,)),
    "full_sum": (lambda x: (x.sum(), jnp.argmax(x)), (N,)),
    "layer_norm_f64": (lambda x: (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True),
                       (A64,)),
    "float16": (lambda h: (jnp.exp(h) * h, h.sum(1), _softmax(h)), (H,)),
    "integers": (lambda a: (a // 3, a % 7, a << 2, (a > 0).sum(1), a.max(0), a * a - a),
                 (I,)),
    # A NaN x1 is neither < 0, > 0 nor == 0: it must come out NaN, as NumPy gives.
    "heaviside_nan": (jnp.heaviside, (
        np.array([np.nan, -0.0, 0.0, 2.0, -2.0, np.inf, -np.inf, 0.0], np.float32),
        np.array([0.5, 0.25, 0.75, 3.0, 3.0, 3.0, 3.0, np.nan], np.float32))),
    "indexing": (lambda x, i: (x[i], x[1:5:2, ::3], jnp.concatenate([x, -x], 1),
                               jnp.pad(x, ((1, 0), (0, 2)))), (S, np.array([5, 0, 2]))),
    "dot": (lambda x, y: (x @ y, (x @ y).sum()), (S, S.T[:, :7].copy())),
    "dot_f64_int": (lambda x, i: (x @ x.T, i @ i.T), (A64, I)),
    "dot_f16_bool": (lambda h, b: (h[:, :16] @ h[:, :16].T, b @ b.T),
                     (H, rng.random((5, 40)) < 0.3)),
    "edge_shapes": (lambda s, e: (s * 2 + 1, jnp.exp(s), e.sum(0), e.sum(1), e * 2,
                                  jnp.argmax(e, 1)), (np.float32(1.5), np.zeros((0, 3)))),
    "host_steps": (lambda x: (jnp.sort(x, 1), jnp.cumsum(x, 0),
                              lax.fori_loop(0, 3, lambda k, c: c * 0.5 + k, x)), (S,)),
    # Scatters: one-thread kernels, rows in order (duplicates: the last set wins, the others
    # accumulate in row order), out-of-range rows dropped, NaN kept by min/max.
    "scatter_duplicates": (lambda x, i: (
        x.at[i].set(x[:6] * 2), x.at[i].add(x[:6]), x.at[i].min(x[::-1] - 1),
        x.at[i].max(jnp.where(x[:6] > 0, jnp.nan, x[:6])), x.at[i].multiply(1.5),
        (x * 10).astype(np.int32).at[i].add(3),
        x.astype(np.float16).at[i].add(x[:6, :1].astype(np.float16))),
        (S, np.array([2, 5, 2, 40, -1, 2]))),
    "scatter_two_axes": (lambda x, ij, v: (
        lax.scatter(x, ij, v, axes=(0, 2)), lax.scatter_add(x, ij, v, axes=(0, 2)),
        lax.scatter_min(x, ij, v, axes=(2, 0)), lax.scatter_max(x, ij[:0], v[:0], axes=(0, 2))),
        (S.reshape(3, 4, 10), np.array([[1, 9], [0, 0], [1, 9], [3, 1], [2, -11], [0, 0]]),
         S[:, :4].copy())),
    "scatter_in_loops": (lambda x, i: (
        lax.fori_loop(0, 3, lambda k, c: c.at[i].add(c[k]), x),
        lax.scan(lambda c, j: (c.at[j].set(c[j] * 2 + 1), c[j].sum()), x[:, :3], i)),
        (S, np.array([4, 1, 4]))),
    # Control flow, driven from the host over device buffers.
    "while_loop": (lambda x, n: lax.while_loop(
        lambda c: c[0] < n,
        lambda c: (c[0] + 1, c[1] * 0.9 + jnp.tanh(c[1]).sum(1, keepdims=True), c[2] + c[1][1]),
        (0, x, x[0])), (S, np.int32(4))),
    "while_zero_trips": (lambda x: lax.while_loop(lambda c: c.sum() > 1e9, lambda c: c * 2, x),
                         (S,)),
    "scan_unaligned_slices": (lambda c0, xs: lax.scan(
        lambda c, x: (c * 0.5 + x, (c.sum(), x * c, jnp.argmax(x))), c0, xs),
        (S[0, :3].copy(), S[:7, 5:8].copy())),
    "scan_reverse_consts": (lambda xs, w: lax.scan(
        lambda c, x: (c + (x * w).sum(), jnp.exp(x) * c), jnp.float32(0), xs, reverse=True),
        (A[:4, :40].copy(), A[4, :40].copy())),
    "scan_empty": (lambda xs, c: lax.scan(lambda c, x: (c + x, c * x), c, xs),
                   (np.zeros((0, 3), np.float32), S[0, :3].copy())),
    "cond_switch": (lambda i, x: (
        lax.switch(i, [lambda v: v * 2, lambda v: jnp.sin(v), lambda v: v.T @ v], x[:6, :6]),
        lax.cond(x.sum() > 0, lambda v: v + 1, lambda v: v - 1, x),
        lax.switch(i + 5, [lambda v: v.sum(0), lambda v: v.max(0)], x)),
        (np.int32(1), S)),
    "nested_loops": (lambda x: lax.fori_loop(
        0, 3, lambda k, c: lax.scan(lambda d, r: (d + r.sum(), jnp.sort(r) * d), c[0],
                                    c[1] * 0.5), (jnp.float32(1), x)), (S[:5, :9],)),
}


def _check(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    if ok.any():
        scale = max(1.0, float(np.max(np.abs(want[ok]))))
        np.testing.assert_allclose(got[ok].astype(np.float64), want[ok].astype(np.float64),
                                   rtol=0, atol=TOL[want.dtype] * scale)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_interpreter(case, runtime):
    f, args = CASES[case]
    want = jax.tree_util.tree_leaves(jax.jit(f, backend="interp")(*args))
    got = jax.tree_util.tree_leaves(jax.jit(f, backend="cuda")(*args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        _check(g, w)


# Long reductions: per-block partial results, then one block per result. The thresholds are
# lowered so that the emulator, whose barriers are slow, runs few chunks.
TWO_PASS = {
    "full": (lambda x: ((jnp.exp(x) * 2).sum(), jnp.argmax(x), (x > 3).any(),
                        (x * 100).astype(np.int32).sum()), (BIG,)),
    "rows": (lambda x: (x.sum(1), jnp.argmin(x, 1), x.astype(np.float16).max(1)),
             (BIG[:2 * 4500].reshape(2, 4500),)),
    "in_loop": (lambda x: lax.fori_loop(0, 2, lambda i, c: c * 0.5 + (x * c).max(), 1.0),
                (BIG,)),
}


@pytest.mark.parametrize("case", sorted(TWO_PASS))
def test_two_pass_reductions(case, runtime, monkeypatch):
    from xla_like.backends.cuda import kernels as cuda_kernels
    monkeypatch.setattr(cuda_kernels, "TWO_PASS_MIN", 4096)
    monkeypatch.setattr(cuda_kernels, "CHUNK_PER_THREAD", 8)
    monkeypatch.setattr(sys.modules[__name__], "EMULATED_THREADS", 32)   # one warp: faster
    monkeypatch.setattr(cuda, "_memo", collections.OrderedDict())
    f, args = TWO_PASS[case]
    ptx = jax.jit(f, backend="cuda").lower(*args).compile().as_text("ptx")
    assert len(re.findall(r"\.entry \w+_p2\(", ptx)) == len(jax.tree_util.tree_leaves(
        jax.jit(f, backend="interp")(*args)))   # a second pass per reduction
    want = jax.tree_util.tree_leaves(jax.jit(f, backend="interp")(*args))
    got = jax.tree_util.tree_leaves(jax.jit(f, backend="cuda")(*args))
    for g, w in zip(got, want):
        _check(g, w)


def test_caching_allocator_reuses_memory(emulated):
    f = jax.jit(lambda x: (jnp.exp(x) + 1).sum(1), backend="cuda")
    f(S)
    before = emulated.allocations
    for _ in range(3):
        _check(f(S), (np.exp(S.astype(np.float64)) + 1).sum(1).astype(np.float32))
    assert emulated.allocations == before


def test_size_classes():
    sc = cuda_runtime.CachingAllocator.size_class
    assert sc(0) == 256 and sc(257) == 512 and sc(1 << 20) == 1 << 20
    assert sc((1 << 20) + 1) == 2 << 20


def test_scatters_are_device_kernels(emulated):
    """No host step: each scatter is a kernel launched as one block of one thread."""
    f, args = CASES["scatter_duplicates"]
    exe = jax.jit(f, backend="cuda").lower(*args).compile()._entry.executable
    scatters = [k for s, k in exe.kernels.values() if s.kind == "scatter"]
    assert len(scatters) == 7 and all(k.block == 1 and k.grid(100) == 1 for k in scatters)
    assert not [s for s in exe.plan.steps if s.kind == "python"]
    assert len(re.findall(r"\.visible \.entry \w+_scatter\w*\(", exe.as_text("ptx"))) == 7
