"""The CPU backend's op tests (`test_cpu_vs_interp`), run on the CUDA backend.

Each test here calls the CPU test of the same name with the same parameters (a representative
subset of them: the emulated device runs one OS thread per GPU thread, so every case costs a
compile and a simulated launch per kernel) and the `backend` fixture below, "cuda": its
`compare` checks `jit(f, backend="cuda")` against the interpreter, with the outputs on the GPU.
Like `test_cuda_runtime`, each test runs on a real GPU (skipped without one) and on the emulated
device.
"""
from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")
pytest.importorskip("hypothesis")

from tests.backends import test_cpu_vs_interp as cpu_cases  # noqa: E402
from tests.backends.test_cuda_runtime import emulated, runtime  # noqa: E402,F401  (fixtures)


@pytest.fixture
def backend(runtime):
    """The CUDA backend, on the device `runtime` gives (a real GPU or the emulated driver)."""
    return "cuda"


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4)])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool", "float16"])
def test_flat_loop(shape, dtype, backend):
    cpu_cases.test_flat_loop(shape, dtype, backend)


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (2, 3, 4)])
def test_nested_loop_data_movement(shape, backend):
    cpu_cases.test_nested_loop_data_movement(shape, backend)


@pytest.mark.parametrize("start", [0, 7, -3])
def test_dynamic_slices_clamp_like_the_interpreter(start, backend):
    cpu_cases.test_dynamic_slices_clamp_like_the_interpreter(start, backend)


def test_gather_modes_and_index_dtypes(backend):
    cpu_cases.test_gather_modes_and_index_dtypes(backend)


def test_iota_and_conversions(backend):
    cpu_cases.test_iota_and_conversions(backend)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_programs(dtype, backend):
    cpu_cases.test_complex_programs(dtype, backend)


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_linear_algebra_programs(dtype, backend):
    cpu_cases.test_linear_algebra_programs(dtype, backend)


@pytest.mark.parametrize("shape", [(4, 1), (3, 5), (0, 4)])
def test_row_softmax_and_layer_norm(shape, backend):
    cpu_cases.test_row_softmax_and_layer_norm(shape, backend)


@pytest.mark.parametrize("shape", [(3, 0), (2, 0, 4)])
def test_row_kernels_with_empty_rows(shape, backend):
    cpu_cases.test_row_kernels_with_empty_rows(shape, backend)


@pytest.mark.parametrize("shape,axis", [((5,), None), ((3, 4), 1), ((3, 4), 0),
                                        ((2, 3, 4), (0, 2)), ((0, 3), 1)])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_reductions(shape, axis, dtype, backend):
    cpu_cases.test_reductions((shape, axis), dtype, backend)


def test_max_min_argmax_propagate_nan_like_numpy(backend):
    cpu_cases.test_max_min_argmax_propagate_nan_like_numpy(backend)


def test_integer_sums_wrap_exactly(backend):
    cpu_cases.test_integer_sums_wrap_exactly(backend)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((0, 3), (3, 4)), ((2, 3, 4), (2, 4, 5)),
                                    ((3,), (3, 2))])
@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_matmul_through_loops(shapes, dtype, backend):
    cpu_cases.test_matmul_through_loops(shapes, dtype, backend)


@pytest.mark.parametrize("dtype", ["float32"])
def test_dot_general_layouts(dtype, backend):
    cpu_cases.test_dot_general_layouts(dtype, backend)


def test_program_with_python_steps_between_kernels(backend):
    cpu_cases.test_program_with_python_steps_between_kernels(backend)


def test_scalar_programs_and_constant_outputs(backend):
    cpu_cases.test_scalar_programs_and_constant_outputs(backend)

