"""The layout pass: each rewrite on a small program (the rewritten IR evaluates to the numbers
the unrewritten one gives on the interpreter, and its text shows the rewrite), and random
chains of data movement and reductions."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax
from xla_like import ir
from xla_like.backends import interp
from xla_like.parser import parse_module
from xla_like.passes.layout import layout
from xla_like.verifier import verify_module


def run_layout(f, *args):
    """(original module, laid-out module); checks both evaluate to the same numbers."""
    module = jc.make_hlo(f)(*args)
    out = layout(ir.clone_module(module))
    verify_module(out)
    parse_module(out.as_text(print_large_constants=True))
    want = interp.compile(module)(list(args))
    got = interp.compile(out)(list(args))
    assert len(want) == len(got)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(g, w)
    return module, out


def opcodes(module):
    return [i.opcode for i in module.entry.instructions]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- (a) dots ---------------------------------------------------------------------------------

def test_transposed_rhs_folds_into_dimension_numbers():
    x, w = rand(3, 4), rand(5, 4, seed=1)
    module, out = run_layout(lambda x, w: x @ w.T, x, w)
    assert "transpose" in opcodes(module)
    assert "transpose" not in opcodes(out)
    text = out.as_text()
    assert "dot_general(%0, %1), dimension_numbers={{{1},{1}},{{},{}}}" in text, text
    np.testing.assert_allclose(interp.compile(out)([x, w])[0], x @ w.T, rtol=1e-12)


def test_transposed_lhs_folds_into_dimension_numbers():
    x, w = rand(4, 3), rand(4, 5, seed=1)
    module, out = run_layout(lambda x, w: x.T @ w, x, w)
    assert "transpose" not in opcodes(out)
    assert "dimension_numbers={{{0},{0}},{{},{}}}" in out.as_text()


def test_transpose_that_reorders_free_axes_stays():
    # Folding would swap the result's axes: the operand is laid out by a transpose instead.
    x, w = rand(2, 3, 4), rand(4, 5, seed=1)
    module, out = run_layout(lambda x, w: jnp.transpose(x, (1, 0, 2)) @ w, x, w)
    assert opcodes(out).count("transpose") == 1


def test_batched_dot_with_non_gemm_layout_gets_a_transpose():
    a, b = rand(4, 2, 3), rand(2, 3, 5, seed=1)
    f = lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((1,), (0,))))  # noqa: E731
    module, out = run_layout(f, a, b)
    assert "transpose" in opcodes(out)
    dot = next(i for i in out.entry.instructions if i.opcode == "dot_general")
    assert dot.attrs["dimension_numbers"][1] == ((0,), (0,))
    np.testing.assert_allclose(interp.compile(out)([a, b])[0],
                               np.einsum("fik,ikn->ifn", a, b), rtol=1e-12)


# --- (b) transposes ---------------------------------------------------------------------------

def test_transpose_of_transpose_is_one_transpose():
    x = rand(2, 3, 4)
    f = lambda x: jnp.transpose(jnp.transpose(x, (1, 2, 0)), (0, 2, 1)) * 2  # noqa: E731
    module, out = run_layout(f, x)
    assert opcodes(module).count("transpose") == 2
    assert opcodes(out).count("transpose") == 1
    t = next(i for i in out.entry.instructions if i.opcode == "transpose")
    assert t.operands[0].opcode == "parameter"
    np.testing.assert_array_equal(interp.compile(out)([x])[0],
                                  np.transpose(x, (1, 2, 0)).transpose(0, 2, 1) * 2)


def test_inverse_transposes_cancel():
    x = rand(3, 4)
    module, out = run_layout(lambda x: x.T.T + 1, x)
    assert "transpose" in opcodes(module)
    assert "transpose" not in opcodes(out)


def test_transpose_moving_only_unit_axes_is_a_reshape():
    x = rand(3, 1, 4)
    module, out = run_layout(lambda x: jnp.transpose(x, (1, 0, 2)) + 1, x)
    assert "transpose" not in opcodes(out) and "reshape" in opcodes(out)


# --- (c) reshapes and broadcasts ---------------------------------------------------------------

def test_reshape_of_reshape_is_one_reshape():
    x = rand(2, 3, 4)
    module, out = run_layout(lambda x: x.reshape(6, 4).reshape(4, 6) + 1, x)
    assert opcodes(module).count("reshape") == 2
    assert opcodes(out).count("reshape") == 1
    r = next(i for i in out.entry.instructions if i.opcode == "reshape")
    assert r.operands[0].opcode == "parameter" and r.attrs["new_sizes"] == (4, 6)


def test_reshape_back_to_the_same_shape_is_removed():
    x = rand(2, 3)
    module, out = run_layout(lambda x: jnp.squeeze(x.reshape(1, 6)).reshape(2, 3) * 3, x)
    assert "reshape" in opcodes(module)
    assert "reshape" not in opcodes(out) and "squeeze" not in opcodes(out)


def test_broadcast_of_broadcast_is_one_broadcast():
    x = rand(3)
    f = lambda x: lax.broadcast_in_dim(lax.broadcast_in_dim(x, (2, 3), (1,)), (4, 2, 3),  # noqa: E731
                                       (1, 2))
    module, out = run_layout(f, x)
    assert opcodes(module).count("broadcast_in_dim") == 2
    b = [i for i in out.entry.instructions if i.opcode == "broadcast_in_dim"]
    assert len(b) == 1 and b[0].attrs["broadcast_dimensions"] == (2,)
    np.testing.assert_array_equal(interp.compile(out)([x])[0], np.broadcast_to(x, (4, 2, 3)))


# --- (d) reductions of transposes ------------------------------------------------------------

def test_sum_of_transpose_reduces_the_operand():
    x = rand(3, 4)
    module, out = run_layout(lambda x: x.T.sum(axis=0), x)
    assert "transpose" in opcodes(module)
    assert "transpose" not in opcodes(out)
    r = next(i for i in out.entry.instructions if i.opcode == "reduce_sum")
    assert r.operands[0].opcode == "parameter" and r.attrs["axes"] == (1,)
    np.testing.assert_allclose(interp.compile(out)([x])[0], x.sum(axis=1), rtol=1e-12)


def test_reduction_result_out_of_order_is_transposed_after():
    x = rand(2, 3, 4)
    f = lambda x: jnp.transpose(x, (2, 1, 0)).max(axis=1)  # noqa: E731
    module, out = run_layout(f, x)
    t = next(i for i in out.entry.instructions if i.opcode == "transpose")
    assert t.operands[0].opcode == "reduce_max" and t.operands[0].shape.dims == (2, 4)
    assert t.operands[0].operands[0].opcode == "parameter"
    np.testing.assert_array_equal(interp.compile(out)([x])[0], x.max(axis=1).T)


def test_argmax_of_transpose():
    x = rand(3, 5)
    module, out = run_layout(lambda x: jnp.argmax(x.T, axis=1), x)
    assert "transpose" not in opcodes(out)
    np.testing.assert_array_equal(interp.compile(out)([x])[0], np.argmax(x, axis=0))


def test_transpose_with_another_user_is_kept_for_the_reduction():
    x = rand(3, 4)

    def f(x):
        t = x.T
        return t.sum(axis=0), t * 2
    module, out = run_layout(f, x)
    r = next(i for i in out.entry.instructions if i.opcode == "reduce_sum")
    assert r.operands[0].opcode == "transpose"


def test_transpose_that_is_an_output_is_kept():
    x = rand(3, 4)

    def f(x):
        t = x.T
        return t, t.sum(axis=1)
    module, out = run_layout(f, x)
    r = next(i for i in out.entry.instructions if i.opcode == "reduce_sum")
    assert r.operands[0].opcode == "transpose"


# --- the pass in the CPU pipeline -------------------------------------------------------------

def test_layout_runs_before_fusion_in_the_cpu_pipeline():
    from xla_like.pipeline import PIPELINES
    names = [n for n, _ in PIPELINES["kernel"]]
    assert names.index("layout") < names.index("fusion")


def test_compiled_program_after_layout_matches_numpy():
    x, w = rand(6, 5).astype(np.float32), rand(7, 5, seed=1).astype(np.float32)
    f = jc.jit(lambda x, w: (x @ w.T).T.sum(axis=1))
    np.testing.assert_allclose(f(x, w), (x.astype(np.float64) @ w.T).sum(axis=0), rtol=1e-5)
    assert "transpose" not in f.lower(x, w).compile().as_text("hlo")


# --- random chains ----------------------------------------------------------------------------

_OPS = ("transpose", "transpose", "reshape", "sum", "max", "argmax", "broadcast", "neg",
        "squeeze_like")


@st.composite
def programs(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    steps = []
    dims = shape
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(_OPS))
        if op == "transpose":
            perm = tuple(draw(st.permutations(range(len(dims)))))
            steps.append(("transpose", perm))
            dims = tuple(dims[p] for p in perm)
        elif op == "reshape":
            size = int(np.prod(dims))
            new = [d for d in (size,)]
            if size % 2 == 0 and draw(st.booleans()):
                new = [2, size // 2]
            if draw(st.booleans()):
                new.insert(draw(st.integers(0, len(new))), 1)
            steps.append(("reshape", tuple(new)))
            dims = tuple(new)
        elif op in ("sum", "max") and dims:
            axes = tuple(sorted(draw(st.sets(st.integers(0, len(dims) - 1), min_size=1))))
            steps.append((op, axes))
            dims = tuple(d for i, d in enumerate(dims) if i not in axes)
        elif op == "argmax" and dims and len(dims) > 1:
            axis = draw(st.integers(0, len(dims) - 1))
            steps.append(("argmax", axis))
            dims = tuple(d for i, d in enumerate(dims) if i != axis)
            break   # integers from here on: keep the chain in floats before it
        elif op == "broadcast" and len(dims) < 4:
            pos = draw(st.integers(0, len(dims)))
            new = dims[:pos] + (draw(st.integers(1, 3)),) + dims[pos:]
            steps.append(("broadcast", (new, tuple(d for d in range(len(new)) if d != pos))))
            dims = new
        elif op == "squeeze_like":
            steps.append(("reshape", tuple(d for d in dims if d != 1)))
            dims = tuple(d for d in dims if d != 1)
        else:
            steps.append(("neg", None))
    return shape, steps


def _apply(steps):
    def f(x):
        for op, arg in steps:
            if op == "transpose":
                x = lax.transpose(x, arg)
            elif op == "reshape":
                x = lax.reshape(x, arg)
            elif op == "sum":
                x = lax.reduce_sum(x, arg)
            elif op == "max":
                x = lax.reduce_max(x, arg)
            elif op == "argmax":
                x = lax.argmax(x, arg, np.int64)
            elif op == "broadcast":
                x = lax.broadcast_in_dim(x, *arg)
            else:
                x = -x
        return x
    return f


@settings(max_examples=80, deadline=None)
@given(programs())
def test_random_chains_evaluate_the_same_after_layout(prog):
    shape, steps = prog
    x = np.random.default_rng(len(steps)).standard_normal(shape)
    run_layout(_apply(steps), x)
