"""Deep programs: thousands of steps compile and match NumPy, with no Python recursion in
proportion to their length.

Every program runs with the recursion limit only `FRAMES` (300) frames above the test
(`shallow_stack`), so anything on its path (tracing, every pass, the LLVM emitter, the printer,
parser and verifier that check each traced module in this suite) that recursed once per
instruction would fail at a fifth of the 1,500-step chains and 1,000-step programs through grad
and vmap; so would the parts of the compile path the long chains do not reach (row reductions,
data movement, loop bodies, the interpreter, CUDA code generation).
How compile time grows with program length is measured by benchmarks/compile_scaling.py.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends.plan.planner import cpu_pipeline
from xla_like.ir_compare import assert_modules_equal
from xla_like.parser import parse_module
from xla_like.passes.fusion import MAX_KERNEL_COST
from xla_like.printer import module_to_text
from xla_like.verifier import verify_module

X = np.linspace(0.05, 0.95, 16)
FRAMES = 300


@contextlib.contextmanager
def shallow_stack(frames=FRAMES):
    """Allow only `frames` Python frames below the caller: a walk that recursed once per
    instruction of a program of a few thousand instructions would raise RecursionError."""
    depth, f = 0, sys._getframe()
    while f is not None:
        depth, f = depth + 1, f.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# --- programs, each with a NumPy version ----------------------------------------------------------

def affine_chain(n, xp):
    def f(x):
        for _ in range(n):
            x = x * 0.999 + 1e-4
        return x
    return f


def mixed_chain(n, xp):
    """Mostly multiply-add, with a sin and an exp every 50 steps (both map [0, 1] into
    itself and do not amplify rounding, so the result is comparable after 10,000 steps)."""
    def f(x):
        for i in range(n):
            if i % 50 == 0:
                x = xp.sin(x)
            elif i % 50 == 25:
                x = xp.exp(-x)
            else:
                x = x * 0.999 + 1e-4
        return x
    return f


def gentle_chain(n, xp):
    """A chain whose result still depends on its input after thousands of steps (a
    derivative of order 1e-3..1, not 1e-14), so a gradient can be checked."""
    def f(x):
        for i in range(n):
            x = xp.sin(x) + 0.5 * x if i % 200 == 100 else x * 0.9995 + 1e-4
        return x
    return f


def scalar_sum(n):
    def f(x):
        return sum([x[i % x.shape[0]] * i for i in range(n)])
    return f


def softmax_chain(n, xp):
    """Row reductions feeding row reductions."""
    def f(x):
        for _ in range(n):
            e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
            x = e / xp.sum(e, axis=-1, keepdims=True) * 4.0
        return x
    return f


def movement_chain(n, xp):
    """Data movement: each step reads its operand at another index (one kernel holds about
    a hundred steps)."""
    def f(x):
        for i in range(n):
            x = x[::-1] + 0.5 if i % 2 else xp.pad(x[1:], (0, 1))
        return x
    return f


def softmax_of_chain(n, xp):
    """A deep elementwise chain, then row reductions."""
    def f(x):
        return softmax_chain(1, xp)(mixed_chain(n, xp)(x))
    return f


def loop_of_chain(n, xp):
    """A deep loop body: three iterations of an n-step chain."""
    if xp is np:
        def f(x):
            for i in range(3):
                x = affine_chain(n, np)(x) + i
            return x
        return f
    return lambda x: jc.lax.fori_loop(0, 3, lambda i, v: affine_chain(n, jnp)(v) + i, x)


# --- 1,500 steps on a stack of 300 frames: a walk recursing once per instruction would fail
# at a fifth of this ---------------------------------------------------------------------------

@pytest.mark.parametrize("chain", [affine_chain, mixed_chain])
def test_elementwise_chain_of_1500_steps(chain):
    with shallow_stack():
        got = jc.jit(chain(1500, jnp))(X)
    np.testing.assert_allclose(np.asarray(got), chain(1500, np)(X), rtol=1e-10)


def test_sum_of_1500_traced_scalars():
    with shallow_stack():
        got = jc.jit(scalar_sum(1500))(X)
    want = scalar_sum(1500)(X)   # the same additions, in the same order, on NumPy scalars
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_long_chain_becomes_kernels_of_bounded_size():
    # One kernel per chain would cost LLVM time quadratic in its length.
    module = cpu_pipeline(jc.jit(affine_chain(2000, jnp)).lower(X).module)
    kernels = [i for i in module.entry.instructions if i.opcode == "fusion"]
    sizes = [sum(j.opcode in ("mul", "add") for j in k.called[0].instructions)
             for k in kernels]
    assert sum(sizes) == 4000 and max(sizes) <= MAX_KERNEL_COST
    assert sum(k.attrs["reason"] == "kernel size" for k in kernels) == len(kernels) - 1


# --- 1,000 steps through the transforms, traced and compiled on a shallow stack -------------------

def test_grad_of_1000_step_chain():
    f = gentle_chain(1000, jnp)
    with shallow_stack():
        got = jc.jit(jc.grad(lambda x: jnp.sum(f(x))))(X)
    # The chain is elementwise: a central difference per element is the whole gradient.
    g, h = gentle_chain(1000, np), 1e-6
    want = (g(X + h) - g(X - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_vmap_of_1000_step_chain():
    xs = np.stack([X, X[::-1] * 0.5, X ** 2])
    with shallow_stack():
        got = jc.jit(jc.vmap(mixed_chain(1000, jnp)))(xs)
    want = np.stack([mixed_chain(1000, np)(row) for row in xs])   # one example at a time
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)


# --- the rest of the compile path on a shallow stack ----------------------------------------------

DEEP = {
    "rows": (softmax_chain, 100, X.reshape(4, 4)),
    "movement": (movement_chain, 600, X),
    "loop_body": (loop_of_chain, 1000, X),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_compile_does_not_recurse_per_instruction(name):
    program, n, x = DEEP[name]
    lowered = jc.jit(program(n, jnp)).lower(x)
    with jc.config.override(cache=0), shallow_stack():
        got = lowered.compile()(x)
    np.testing.assert_allclose(np.asarray(got), program(n, np)(x), rtol=1e-10)


def test_interpreter_does_not_recurse_per_instruction():
    lowered = jc.jit(mixed_chain(2000, jnp), backend="interp").lower(X)
    with shallow_stack():
        got = lowered.compile()(X)
    np.testing.assert_allclose(np.asarray(got), mixed_chain(2000, np)(X), rtol=1e-12)


def test_cuda_code_generation_does_not_recurse_per_instruction():
    # PTX is made without a GPU; the device emitter computes row reductions block-wide.
    pytest.importorskip("llvmlite")
    x = X.astype(np.float32).reshape(4, 4)
    lowered = jc.jit(softmax_of_chain(400, jnp), backend="cuda").lower(x)
    with jc.config.override(cache=0), shallow_stack():
        ptx = lowered.compile().as_text("ptx")
    assert ".entry" in ptx


def test_deep_module_prints_parses_and_verifies():
    module = jc.jit(mixed_chain(3000, jnp)).lower(X).module
    with shallow_stack():
        verify_module(module)
        text = module_to_text(module)
        parsed = parse_module(text)
        verify_module(parsed)
        assert_modules_equal(module, parsed)
        assert module_to_text(parsed) == text
    assert len(parsed.entry.instructions) > 5000
