"""The CUDA backend's PTX, checked by NVIDIA's assembler (no GPU needed).

Every kernel family is compiled with `jit(f, backend="cuda")` for sm_80 and sm_90 and
assembled with `ptxas -arch=sm_XX -v`: it must assemble, the hot kernels (an elementwise chain
with transcendental functions, softmax) must not spill, and the kernels must have the shape the
backend promises (grid-stride loops, block trees with warp shuffles, vector accesses).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jax  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config, lax  # noqa: E402
from xla_like.backends import cuda  # noqa: E402
from xla_like.backends.cuda import codegen as cuda_codegen

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")
needs_libdevice = pytest.mark.skipif(cuda_codegen.libdevice_path() is None,
                                     reason="libdevice (CUDA toolkit) not found; set CUDA_HOME")

rng = np.random.default_rng(0)
F32 = rng.standard_normal((64, 300)).astype(np.float32)
F64 = rng.standard_normal((64, 300))
X3 = rng.standard_normal((8, 40, 70)).astype(np.float32)
I32 = rng.integers(-50, 50, (33, 65)).astype(np.int32)
U8 = rng.integers(0, 255, (33, 65)).astype(np.uint8)
I64 = rng.integers(-50, 50, (33, 65))
B = rng.random((33, 65)) < 0.5
H = rng.standard_normal((48, 130)).astype(np.float16)
LONG = np.zeros(10 ** 7, np.float32)    # compiled only: its values are never read


def elementwise_chain(x, y):
    z = jnp.exp(x) * jnp.tanh(y) + jnp.log1p(jnp.abs(x)) - jnp.sin(y) / (1 + x * x)
    z = z + jax.nn.sigmoid(x) + jnp.sqrt(jnp.abs(y)) + jnp.arctan2(x, y) + jnp.power(jnp.abs(x), y)
    return jnp.where(x > 0, z, jnp.fmod(x, 0.7)) + lax.erf(y) + jnp.cbrt(x)


def light_chain(x, y):
    return jnp.exp(x) * y + jnp.float32(1.5) * x


def broadcast(x, row, col):
    return x * row + col - jnp.float32(2) * row * col


def reductions(x):
    return (x.sum(0), x.sum(1), x.sum(2), x.sum((0, 2)), x.sum(), x.max(1), x.min(2),
            jnp.prod(x, axis=0), jnp.mean(x, axis=2), x.var(axis=2))


def arg_reductions(x):
    return (jnp.argmax(x, 0), jnp.argmax(x, 1), jnp.argmax(x, 2), jnp.argmin(x, 2),
            jnp.argmin(x, 0), jnp.argmax(x > 0, 2))


def bool_reductions(b):
    return jnp.any(b, 1), jnp.all(b, 0), jnp.sum(b, 1)


def softmax(x):
    return jax.nn.softmax(x, axis=-1)


def layer_norm(x):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / jnp.sqrt(v + 1e-5)


def transposes(x, y):
    return x.T + y, jnp.transpose(x.reshape(8, 8, 300), (2, 0, 1)) * 2, x[::-1, ::2]


def indexing(x, idx):
    return (x[idx], x[3:40:3, 10:], jnp.concatenate([x, x * 2], axis=1),
            jnp.pad(x, ((1, 2), (3, 0))), lax.dynamic_slice(x, (idx[0], 5), (4, 7)),
            jnp.take(x, idx, axis=1, mode="fill", fill_value=-1.0))


def integer_ops(a, b, u, c):
    q = b + (b == 0)
    return (a // q, a % q, a << 3, a >> 2, a & b, a | b, a ^ b, a * b - 7, a ** 3,
            jnp.maximum(a, b), (a < b) & c, ~c | (a > 0), u >> 1, u.astype(np.float32),
            (a * 0.5).astype(np.int64), jnp.clip(a, -5, 5), jnp.sign(a), jnp.abs(a),
            lax.convert_element_type(c, np.int32), b.astype(np.uint8))


def half_ops(h):
    return jnp.exp(h) * h + 1, h.sum(1), h.max(0), jax.nn.softmax(h, -1), h.astype(np.float32)


def double_ops(x):
    return jnp.exp(x) + jnp.tanh(x) * jnp.log(jnp.abs(x) + 1), x.sum(1), jnp.argmax(x, 1)


def dots(a, b, h):
    return a @ b, (a.astype(np.float64) @ b.astype(np.float64)), h @ h.T, \
        jnp.einsum("bij,bjk->bik", a.reshape(4, 16, 300), jnp.stack([b[:, :8]] * 4))


def int_dot(a, b):
    return a @ b


def control_flow(x):
    def body(i, c):
        return c * 0.5 + jnp.tanh(c) + i
    y = lax.fori_loop(0, 3, body, x)
    return jnp.sort(y, axis=1), jnp.cumsum(y, axis=0), y.sum(1)


def loops(x, xs):
    """Bodies of while, scan (slices of `xs` need not be 16-byte aligned) and cond."""
    w = lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, jnp.exp(c[1]) * 0.5), (0, x))
    s = lax.scan(lambda c, r: (c + r * 2, jnp.tanh(r) + c), xs[0], xs)
    k = lax.cond(x.sum() > 0, lambda v: v.max(1), lambda v: v.min(1), x)
    return w, s, k


def scatters(x, idx, v, h):
    """One-thread scatter kernels: duplicates in `idx`, out-of-range rows, a 2-axis scatter
    of windows, float16 and integers, and one in a scan body (unaligned pointers)."""
    rows = x[:5]
    two = lax.scatter_add(x, jnp.stack([idx, idx[::-1]], -1), v, axes=(0, 1))
    s = lax.scan(lambda c, k: (c.at[k].add(1.0), c.at[k].get()), x[0], idx)
    return (x.at[idx].set(rows), x.at[idx].add(rows), x.at[idx].min(rows),
            x.at[idx].max(rows), x.at[idx].multiply(rows), two, h.at[idx].add(h[:5]),
            (x * 100).astype(np.int32).at[idx].min(7), s)


def complex_ops(z, w):
    """Complex arithmetic on parts (split_complex), whole complex loads and stores, and a
    complex matrix product (four real ones)."""
    return (jnp.exp(z) * w.conj() / (z + 2j), jnp.abs(z) + jnp.angle(w), (z * w).sum(1),
            jnp.sqrt(z) @ w.T, jnp.prod(z[:4, :8], axis=1))


def long_reductions(x):
    return x.sum(), jnp.argmax(x), (x * x).max(), x.reshape(10, -1).sum(1)



def convs(x, w):
    """A strided NHWC convolution and both its gradients (im2col + cuBLAS after lower_conv)."""
    def f(a, b):
        return lax.conv_general_dilated(a, b, (2, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return f(x, w), jax.grad(lambda a, b: (f(a, b) ** 2).sum(), (0, 1))(x, w)


FAMILIES = {
    "elementwise_chain": (elementwise_chain, (F32, F32[::-1].copy())),
    "elementwise_f64": (elementwise_chain, (F64, F64[::-1].copy())),
    "light_chain": (light_chain, (F32, F32[::-1].copy())),
    "broadcast": (broadcast, (F32, F32[0], F32[:, :1])),
    "reductions": (reductions, (X3,)),
    "arg_reductions": (arg_reductions, (X3,)),
    "bool_reductions": (bool_reductions, (B,)),
    "softmax": (softmax, (F32,)),
    "layer_norm": (layer_norm, (F32,)),
    "transposes": (transposes, (F32, F32.T.copy())),
    "indexing": (indexing, (F32, np.array([3, 1, 63, 0, 7]))),
    "integer_ops": (integer_ops, (I32, I32[::-1].copy(), U8, B)),
    "integer_ops_i64": (integer_ops, (I64, I64[::-1].copy(), U8, B)),
    "float16": (half_ops, (H,)),
    "float64": (double_ops, (F64,)),
    "dots": (dots, (F32, F32.T.copy(), H)),
    "int_dot": (int_dot, (I32, I32.T.copy())),
    "control_flow": (control_flow, (F32[:8, :16],)),
    "loops": (loops, (F32[:8, :16], F32[:9, :3])),
    "long_reductions": (long_reductions, (LONG,)),
    "complex": (complex_ops, ((F32 + 1j * F32[::-1]).astype(np.complex64)[:16, :32],
                              (F32[::-1] - 0.5j * F32).astype(np.complex64)[:16, :32])),
    "conv": (convs, (X3.reshape(8, 40, 14, 5), F32[:45, :8].reshape(3, 3, 5, 8))),
    "scatter": (scatters, (F32[:40, :16], np.array([3, 1, 3, 63, 0]),
                           F32[0, :5], H[:40, :16])),
}
# Families whose kernels are hot and must not spill registers.
NO_SPILLS = {"elementwise_chain", "light_chain", "softmax", "layer_norm", "float16",
             "broadcast"}

_ptx_cache = {}


def ptx_of(family, arch):
    key = (family, arch)
    if key not in _ptx_cache:
        f, args = FAMILIES[family]
        with config.override(cuda_arch=arch):
            _ptx_cache[key] = jax.jit(f, backend="cuda").lower(*args).compile().as_text("ptx")
    return _ptx_cache[key]


def ptxas(ptx, arch):
    """ptxas -v's report: {kernel name: [spill store bytes, spill load bytes, registers]}."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.ptx")
        with open(path, "w") as fh:
            fh.write(ptx)
        res = subprocess.run([PTXAS, f"-arch={arch}", "-v", path, "-o",
                              os.path.join(tmp, "k.cubin")], capture_output=True, text=True)
    assert res.returncode == 0, f"ptxas -arch={arch} failed:\n{res.stderr[-4000:]}"
    report, name = {}, None
    for line in res.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            name = m.group(1)
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and name:
            report[name] = [int(m.group(1)), int(m.group(2)), None]
        m = re.search(r"Used (\d+) registers", line)
        if m and name in report:
            report[name][2] = int(m.group(1))
    return report


# Every family on sm_80; on sm_90 the families whose code depends on the arch (tensor-core
# dots, 16-bit conversions, block reductions) and one plain chain: the rest is the same PTX
# under another `.target`, and each run of ptxas costs about a second.
ARCH_CASES = [(f, "sm_80") for f in sorted(FAMILIES)] + [
    (f, "sm_90") for f in ("dots", "elementwise_chain", "float16", "long_reductions", "softmax")]


@needs_ptxas
@needs_libdevice
@pytest.mark.parametrize("family,arch", ARCH_CASES)
def test_ptx_assembles(family, arch):
    ptx = ptx_of(family, arch)
    assert f".target {arch}" in ptx
    isa = cuda_codegen.PTX_ISA[int(arch[3:])]
    assert f".version {isa // 10}.{isa % 10}" in ptx
    report = ptxas(ptx, arch)
    entries = re.findall(r"\.visible \.entry (\w+)\(", ptx)
    assert sorted(report) == sorted(entries)
    assert entries
    if family in NO_SPILLS:
        for k in entries:
            assert report[k][:2] == [0, 0], (k, report[k])


@needs_libdevice
def test_kernel_shapes():
    """Light flat kernels use 16-byte accesses; row kernels are block trees with shuffles;
    the math comes from libdevice, linked in (no call to an external function is left)."""
    light = ptx_of("light_chain", "sm_80")
    assert "ld.global.nc.v4" in light and "st.global.v4" in light
    for family in ("elementwise_chain", "elementwise_f64", "light_chain"):
        assert ".extern" not in ptx_of(family, "sm_80")
    soft = ptx_of("softmax", "sm_80")
    assert "shfl.sync.bfly" in soft and "bar.sync" in soft and ".shared" in soft
    assert ".maxntid 256" in soft
    red = ptx_of("arg_reductions", "sm_80")
    assert "shfl.sync.bfly" in red
    dot = ptx_of("dots", "sm_80")
    assert "fma.rn.f32" in dot and "fma.rn.f64" in dot
    # A full reduction of 1e7 elements: per-block partials, then a block combining them.
    long = ptx_of("long_reductions", "sm_80")
    assert len(re.findall(r"\.visible \.entry \w+_p2\(", long)) == 4
    # Loop bodies are kernels; a scan's take no 16-byte alignment for granted.
    loop = ptx_of("loops", "sm_80")
    assert len(re.findall(r"\.visible \.entry", loop)) >= 4


@needs_libdevice
def test_as_text_kinds():
    c = jax.jit(softmax, backend="cuda").lower(F32).compile()
    assert c.as_text("asm") == c.as_text("ptx")
    assert "fusion" in c.as_text("hlo")
    assert "nvptx64-nvidia-cuda" in c.as_text("llvm")
    with pytest.raises(ValueError, match="cuda backend has no"):
        c.as_text("sass")


def test_arch_setting():
    assert cuda_codegen.cuda_arch("sm_86") == 86
    assert cuda_codegen.cuda_arch("8.6") == 86
    assert cuda_codegen.cuda_arch("90") == 90
    with config.override(cuda_arch="sm_90"):
        assert cuda.target_arch() == 90
    with pytest.raises(cuda_codegen.CudaArchError, match="older than sm_75"):
        cuda_codegen.cuda_arch("sm_70")
    with pytest.raises(cuda_codegen.CudaArchError, match="not a compute capability"):
        cuda_codegen.cuda_arch("volta")


def test_call_without_gpu_says_why():
    from xla_like.backends.cuda import runtime as cuda_runtime
    reason = cuda_runtime.probe()
    if reason is None:
        pytest.skip("a GPU is present: calls run")
    f = jax.jit(lambda x: x + 1, backend="cuda")
    with pytest.raises(cuda_runtime.CudaUnavailableError) as e:
        f(np.ones(3, np.float32))
    assert str(e.value) == reason
    assert "pycuda" in reason or "driver" in reason or "GPU" in reason


def test_cpu_paths_never_import_the_cuda_runtime():
    code = (
        "import sys, numpy as np\n"
        "import jitcore as jax, jitcore.numpy as jnp\n"
        "f = jax.jit(lambda x: jnp.exp(x).sum())\n"
        "f(np.ones(5)); jax.jit(lambda x: x * 2, backend='interp')(np.ones(3))\n"
        "bad = [m for m in sys.modules if m.startswith('pycuda') or\n"
        "       m.startswith('xla_like.backends.cuda')]\n"
        "print(bad)\n"
        "assert not bad, bad\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
