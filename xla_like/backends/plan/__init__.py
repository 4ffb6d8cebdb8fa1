"""The plan of a compiled program, shared by the CPU and CUDA backends: buffers (parameters,
constants, outputs, workspace temporaries) and steps (kernels, dots, control flow sub-plans,
scatters, host fallbacks), made from the kernel pipeline's Module. Pure IR analysis: nothing
here knows LLVM or a device (`tests/test_backend_stages.py`)."""
