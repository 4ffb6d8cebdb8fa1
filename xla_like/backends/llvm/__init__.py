"""LLVM code generation shared by the CPU and CUDA backends: the element-at-a-time emitter,
elementwise rules, vectorizable math bodies, reductions, kernels and scatters, and the MCJIT
glue (`native`). Imports no device package (`tests/test_backend_stages.py`)."""
