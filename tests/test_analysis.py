"""`f.lower(*args).compile().cost_analysis()` and `.memory_analysis()` against hand-counted
programs: a matmul is 2*M*N*K flops, each element of exp/sin/tanh one transcendental call,
each kernel reads its operands and writes its result once; arguments and outputs are their
arrays' bytes, temporaries what the buffer assignment lays out by liveness."""
from __future__ import annotations

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from xla_like.backends import get_backend, runtime

F32, F64 = 4, 8


def _compiled(f, *args, **jit_kw):
    return jc.jit(f, **jit_kw).lower(*args).compile()


def test_cost_of_a_matmul_has_jax_type_and_keys():
    m, k, n = 4, 3, 5
    a, b = np.ones((m, k), np.float32), np.ones((k, n), np.float32)
    cost = _compiled(lambda a, b: a @ b, a, b).cost_analysis()
    assert type(cost) is dict
    assert cost["flops"] == 2 * m * n * k
    assert cost["transcendentals"] == 0
    assert cost["bytes accessed"] == (m * k + k * n + m * n) * F32
    assert cost["bytes accessed0{}"] == m * k * F32
    assert cost["bytes accessed1{}"] == k * n * F32
    assert cost["bytes accessedout{}"] == m * n * F32
    assert all(type(v) is float for key, v in cost.items() if key != "kernels")
    (dot,) = cost["kernels"]
    assert dot["kind"] == "dot" and dot["opcode"] == "dot_general"
    assert dot["flops"] == cost["flops"]


def test_matmul_and_tanh_match_xla_counts():
    # XLA 0.10.2 reports flops 120, transcendentals 20, bytes accessed 348 for this program.
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    cost = _compiled(lambda a, b: jnp.tanh(a @ b), a, b).cost_analysis()
    assert (cost["flops"], cost["transcendentals"]) == (2 * 4 * 5 * 3, 4 * 5)
    # The dot reads a, b and writes its 4x5 result; the tanh kernel reads it and writes.
    assert cost["bytes accessed"] == (12 + 15 + 20) * F32 + (20 + 20) * F32 == 348


def test_large_matmul_with_elementwise_consumer():
    # Whether tanh runs on GEMM row blocks (an epilogue) or as its own kernel, the counts are
    # those of the dot and of one kernel over its result.
    m = k = n = 192
    a = np.ones((m, k), np.float32)
    cost = _compiled(lambda a: jnp.tanh(a @ a) * 2.0, a).cost_analysis()
    assert cost["flops"] == 2 * m * n * k + m * n
    assert cost["transcendentals"] == m * n
    assert cost["bytes accessed"] == (m * k + k * n + m * n) * F32 + 2 * m * n * F32
    kinds = sorted(kernel["kind"] for kernel in cost["kernels"])
    assert kinds in (["dot", "epilogue"], ["dot", "kernel"])


def test_elementwise_chain_counts_each_op_per_element():
    n = 1000
    x = np.linspace(0.0, 1.0, n)
    cost = _compiled(lambda x: jnp.exp(jnp.sin(x)) * 2.0 + jnp.tanh(x), x).cost_analysis()
    assert cost["transcendentals"] == 3 * n      # exp, sin, tanh
    assert cost["flops"] == 2 * n                # mul, add
    assert cost["bytes accessed"] == 2 * n * F64  # one fused kernel: read x, write the result
    assert len(cost["kernels"]) == 1


def test_reduction_counts_one_combine_per_element():
    x = np.ones((30, 40))
    cost = _compiled(lambda x: x.sum(axis=1), x).cost_analysis()
    assert cost["flops"] == 30 * 40
    assert cost["bytes accessed"] == (30 * 40 + 30) * F64


def _three_kernels(a, b):
    s = jnp.sin(a) @ b        # kernel 1 (sin), dot 1
    e = jnp.exp(s) @ b        # kernel 2 (exp), dot 2
    return jnp.tanh(e) + s    # kernel 3 (tanh, add): the output


def test_three_kernel_program_cost():
    a = b = np.ones((8, 8))
    cost = _compiled(_three_kernels, a, b).cost_analysis()
    block = 64 * F64
    assert cost["flops"] == 2 * (2 * 8 * 8 * 8) + 64
    assert cost["transcendentals"] == 3 * 64
    # sin: 1 in + 1 out; each dot: 2 in + 1 out; exp: 1 + 1; tanh+add: 2 in + 1 out.
    assert cost["bytes accessed"] == 13 * block
    assert cost["bytes accessed0{}"] == block            # a: read by the sin kernel
    assert cost["bytes accessed1{}"] == 2 * block        # b: read by both dots
    assert sum(kernel["bytes accessed"] for kernel in cost["kernels"]) == 13 * block


def test_three_kernel_program_memory():
    a = b = np.ones((8, 8))
    mem = _compiled(_three_kernels, a, b).memory_analysis()
    block = 64 * F64
    assert mem.argument_size_in_bytes == 2 * block
    assert mem.output_size_in_bytes == block
    assert mem.alias_size_in_bytes == 0
    # Temporaries in step order: sin(a) (steps 0-1), s = dot 1 (1-4), exp(s) (2-3), dot 2
    # (3-4). sin(a) is dead when exp(s) is born and takes its bytes: at most three live at
    # once (steps 3: s, exp(s), dot 2), four made.
    assert mem.temp_size_in_bytes == 3 * block
    assert mem.unshared_temp_size_in_bytes == 4 * block
    assert mem.constant_size_in_bytes == 0
    assert mem.peak_memory_in_bytes == 2 * block + block + 3 * block
    assert mem.generated_code_size_in_bytes > 0
    assert mem.host_temp_size_in_bytes == 0
    assert "temp_size_in_bytes=1536" in repr(mem)


def test_donated_output_is_aliased():
    x = np.ones(1000)
    f = jc.jit(lambda x: x * 2.0 + 1.0)
    module = f.lower(x).module
    for donated, alias in ((frozenset(), 0), (frozenset({0}), 1000 * F64)):
        exe = get_backend("cpu").compile(module, donated=donated)
        mem = runtime.memory_analysis(exe)
        assert mem.alias_size_in_bytes == alias
        assert mem.peak_memory_in_bytes == 2 * 1000 * F64 - alias


def test_constants_are_counted():
    table = np.arange(500.0)
    mem = _compiled(lambda x: x * table, np.ones(500)).memory_analysis()
    assert mem.constant_size_in_bytes == 500 * F64
    assert mem.argument_size_in_bytes == mem.output_size_in_bytes == 500 * F64


def test_interpreter_counts_instructions_unfused():
    a, b = np.ones((4, 3)), np.ones((3, 5))
    c = _compiled(lambda a, b: jnp.tanh(a @ b), a, b, backend="interp")
    cost = c.cost_analysis()
    assert (cost["flops"], cost["transcendentals"]) == (120, 20)
    assert [kernel["opcode"] for kernel in cost["kernels"]] == ["dot_general", "tanh"]
    mem = c.memory_analysis()
    assert (mem.argument_size_in_bytes, mem.output_size_in_bytes) == (27 * F64, 20 * F64)
    assert mem.temp_size_in_bytes == 0
