"""The CPU backend's op tests (`test_cpu_vs_interp`), run on the CUDA backend.

Each test here calls the CPU test of the same name with the same parameters (a representative
subset of them: the emulated device runs one OS thread per GPU thread, so every case costs a
compile and a simulated launch per kernel), its `compare` comparing `jit(f, backend="cuda")`
with the interpreter instead of the CPU backend. Like `test_cuda_runtime`, each test runs on a
real GPU (skipped without one) and on the emulated device.
"""
from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")
pytest.importorskip("hypothesis")

import jitcore as jax  # noqa: E402

from tests.backends import test_cpu_vs_interp as cpu_cases  # noqa: E402
from tests.backends.test_cuda_runtime import emulated, runtime  # noqa: E402,F401  (fixtures)


@pytest.fixture
def on_cuda(runtime, monkeypatch):
    """`cpu_cases.compare` runs the CUDA backend."""
    def compare(f, *args, exact=False, tol=None):
        want = jax.jit(f, backend="interp")(*args)
        got = jax.jit(f, backend="cuda")(*args)
        want_l, got_l = jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)
        assert len(want_l) == len(got_l)
        for g, w in zip(got_l, want_l):
            assert g.device.platform == "cuda"
            cpu_cases.assert_same(g, w, exact, tol)
        return got
    monkeypatch.setattr(cpu_cases, "compare", compare)
    return runtime


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4)])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "float16"])
def test_flat_loop(shape, dtype, on_cuda):
    cpu_cases.test_flat_loop(shape, dtype)


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (2, 3, 4)])
def test_nested_loop_data_movement(shape, on_cuda):
    cpu_cases.test_nested_loop_data_movement(shape)


@pytest.mark.parametrize("start", [0, 7, -3])
def test_dynamic_slices_clamp_like_the_interpreter(start, on_cuda):
    cpu_cases.test_dynamic_slices_clamp_like_the_interpreter(start)


def test_gather_modes_and_index_dtypes(on_cuda):
    cpu_cases.test_gather_modes_and_index_dtypes()


def test_iota_and_conversions(on_cuda):
    cpu_cases.test_iota_and_conversions()


@pytest.mark.parametrize("shape", [(4, 1), (3, 5), (0, 4)])
def test_row_softmax_and_layer_norm(shape, on_cuda):
    cpu_cases.test_row_softmax_and_layer_norm(shape)


@pytest.mark.parametrize("shape", [(3, 0), (2, 0, 4)])
def test_row_kernels_with_empty_rows(shape, on_cuda):
    cpu_cases.test_row_kernels_with_empty_rows(shape)


@pytest.mark.parametrize("shape,axis", [((5,), None), ((3, 4), 1), ((3, 4), 0),
                                        ((2, 3, 4), (0, 2)), ((0, 3), 1)])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_reductions(shape, axis, dtype, on_cuda):
    cpu_cases.test_reductions(shape, axis, dtype)


def test_max_min_argmax_propagate_nan_like_numpy(on_cuda):
    cpu_cases.test_max_min_argmax_propagate_nan_like_numpy()


def test_integer_sums_wrap_exactly(on_cuda):
    cpu_cases.test_integer_sums_wrap_exactly()


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((0, 3), (3, 4)), ((2, 3, 4), (2, 4, 5)),
                                    ((3,), (3, 2))])
@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_matmul_through_loops(shapes, dtype, on_cuda):
    cpu_cases.test_matmul_through_loops(shapes, dtype)


@pytest.mark.parametrize("dtype", ["float32"])
def test_dot_general_layouts(dtype, on_cuda):
    cpu_cases.test_dot_general_layouts(dtype)


def test_program_with_python_steps_between_kernels(on_cuda):
    cpu_cases.test_program_with_python_steps_between_kernels()


def test_scalar_programs_and_constant_outputs(on_cuda):
    cpu_cases.test_scalar_programs_and_constant_outputs()

