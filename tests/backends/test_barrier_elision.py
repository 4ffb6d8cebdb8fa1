"""Threaded segments with barriers only where threads could race (`cpu.barriers`) and products
added to another array as one GEMM with beta = 1 (`cpu.gemm_update`).

Each program runs on two threads and is checked against NumPy in float64 (or the
interpreter); the structure (which steps got a barrier, which kernels were folded) is checked
on the compiled plan with the same functions the renderer calls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitcore as jc  # noqa: E402
import jitcore.numpy as jnp  # noqa: E402
from jitcore import config  # noqa: E402
from jitcore.testing.differential import check  # noqa: E402
from jitcore.testing.random_programs import random_program  # noqa: E402
from tests.helpers import mlp_sgd_numpy  # noqa: E402
from xla_like.backends.cpu import barriers, gemm_update, schedule  # noqa: E402
from xla_like.backends.cpu.gemm import blas_ok  # noqa: E402

RNG = np.random.default_rng(11)


def _segments(f, *args):
    """[(plan, steps, library)] of the compiled program's threaded native segments."""
    ex = f.lower(*args).compile()._entry.executable
    out = []
    for kind, seg in ex._order:
        if kind == "native" and seg.parallel:
            out.append((ex.plan, seg.steps,
                        [s.kind == "dot" and blas_ok(s.instr) for s in seg.steps]))
    return out


def _structure(f, *args):
    """(steps, barrier before step k, alone kernels, folded steps) of the one threaded segment."""
    (plan, steps, library), = _segments(f, *args)
    run = gemm_update.fold(plan, steps, library)
    need, alone = barriers.plan_barriers(plan, run, library, 2)
    return run, need, alone


def _f32(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def _close(got, want, rtol=2e-5):
    got = np.asarray(got, np.float64)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, np.abs(want).max()))


def test_row_local_chain_needs_no_barrier():
    # relu(x @ w1 + b) then @ w2, tanh and a row sum: every step reads only the rows this
    # thread wrote, so the threads never wait for each other.
    x, w1, b, w2 = _f32(256, 384), _f32(384, 256), _f32(256), _f32(256, 256)

    def fn(x, w1, b, w2):
        h = jnp.maximum(x @ w1 + b, 0.0)
        return jnp.sum(jnp.tanh(h @ w2) * 2.0, axis=1)

    f = jc.jit(fn)
    with config.override(num_threads=2):
        got = f(x, w1, b, w2)
        run, need, _ = _structure(f, x, w1, b, w2)
    h = np.maximum(x.astype(np.float64) @ w1 + b, 0)
    _close(got, np.sum(np.tanh(h @ w2) * 2, axis=1), 1e-4)
    assert len(run) >= 3 and not any(need), need


def test_reading_other_rows_keeps_the_barrier():
    # A column sum and a transposed product read rows other threads wrote.
    x, w = _f32(512, 256), _f32(256, 256)

    def fn(x, w):
        y = jnp.tanh(x @ w)
        return jnp.sum(y, axis=0), y.T @ x

    f = jc.jit(fn)
    with config.override(num_threads=2):
        s, g = f(x, w)
        run, need, _ = _structure(f, x, w)
    y = np.tanh(x.astype(np.float64) @ w)
    _close(s, y.sum(0), 1e-4)
    _close(g, y.T @ x, 1e-4)
    kinds = [(s.kind, need[k]) for k, s in enumerate(run)]
    # The tanh kernel follows its product without a barrier; the column sum waits (and the
    # transposed product after it needs no second barrier: y was complete before the sum).
    assert kinds[:3] == [("dot", False), ("kernel", False), ("kernel", True)], kinds
    # Alone, the transposed product waits for y.
    f = jc.jit(lambda x, w: jnp.tanh(x @ w).T @ x)
    with config.override(num_threads=2):
        _close(f(x, w), y.T @ x, 1e-4)
        run, need, _ = _structure(f, x, w)
    assert [(s.kind, n) for s, n in zip(run, need)] == \
        [("dot", False), ("kernel", False), ("dot", True)]


def test_mlp_sgd_step():
    # value_and_grad of a 2-layer MLP and the SGD update: the updates fold into their weight
    # gradients' GEMMs (beta = 1), the small kernels of the loss run on one thread, and the
    # segment keeps far fewer barriers than steps.
    params = [(_f32(256, 256) / 16, _f32(256) / 10), (_f32(256, 10) / 16, _f32(10) / 10)]
    x = _f32(128, 256)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 128)]

    def loss(params, x, y):
        (w1, b1), (w2, b2) = params
        h = jnp.maximum(x @ w1 + b1, 0.0)
        logits = h @ w2 + b2
        return -jnp.mean(jnp.sum(jc.nn.log_softmax(logits) * y, axis=-1))

    def step(params, x, y):
        value, g = jc.value_and_grad(loss)(params, x, y)
        return value, jc.tree_util.tree_map(lambda p, d: p - 0.01 * d, params, g)

    f = jc.jit(step)
    with config.override(num_threads=2):
        value, new = f(params, x, y)
        run, need, alone = _structure(f, params, x, y)
    # NumPy float64: forward, manual backward, update.
    want_value, want = mlp_sgd_numpy(params, x, y, 0.01)
    _close(value, want_value, 1e-5)
    for (gw, gb), (ww, wb) in zip(new, want):
        _close(gw, ww, 1e-5)
        _close(gb, wb, 1e-5)
    folded = [s for s in run if s is not None and getattr(s, "update", None) is not None]
    assert len(folded) == 2 and all(u.update.transposed for u in folded)
    assert sum(s is None for s in run) == 2
    assert alone
    assert sum(need) <= len(run) // 3, need


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("form", ["p - s*d", "p + d", "d*s + p", "p - (-d)"])
def test_gemm_update_forms(form, transposed):
    # Products large enough to share among threads, folded into `p +- s * d` as beta = 1;
    # a product read by anything else stays a product.
    a, b = _f32(192, 160), _f32(192, 224)
    p = _f32(224, 160) if transposed else _f32(160, 224)

    def fn(a, b, p):
        d = a.T @ b
        d = d.T if transposed else d
        return {"p - s*d": lambda: p - 0.5 * d, "p + d": lambda: p + d,
                "d*s + p": lambda: d * 3.0 + p, "p - (-d)": lambda: p - (-d)}[form]()

    f = jc.jit(fn)
    d = a.astype(np.float64).T @ b
    d = d.T if transposed else d
    want = {"p - s*d": p - 0.5 * d, "p + d": p + d, "d*s + p": d * 3 + p,
            "p - (-d)": p + d}[form]
    for threads in (1, 2):
        with config.override(num_threads=threads):
            _close(f(a, b, p), want, 1e-5)
    (plan, steps, library), = _all_segments(f, a, b, p)
    found = gemm_update.find_updates(plan, steps, library)
    assert len(found) == 1 and next(iter(found.values())).transposed == transposed


def _all_segments(f, *args):
    ex = f.lower(*args).compile()._entry.executable
    return [(ex.plan, seg.steps, [s.kind == "dot" and blas_ok(s.instr) for s in seg.steps])
            for kind, seg in ex._order if kind == "native"]


def test_gemm_update_not_folded_when_the_product_is_read_twice():
    a, b, p = _f32(64, 96), _f32(96, 80), _f32(64, 80)
    f = jc.jit(lambda a, b, p: (p - 0.1 * (a @ b), (a @ b).sum()))
    got, total = f(a, b, p)
    d = a.astype(np.float64) @ b
    _close(got, p - 0.1 * d)
    _close(total, d.sum(), 1e-4)
    (plan, steps, library), = _all_segments(f, a, b, p)
    assert gemm_update.find_updates(plan, steps, library) == {}


@pytest.mark.parametrize("alone_max", [0, barriers.ALONE_MAX_WORK])
@pytest.mark.parametrize("seed", range(4))
def test_random_programs_on_two_threads(seed, alone_max, monkeypatch):
    # Random programs, every segment threaded (small ones too); with alone_max 0 no kernel
    # runs alone, so the elision between split kernels carries everything.
    monkeypatch.setattr(barriers, "ALONE_MAX_WORK", alone_max)
    monkeypatch.setattr(schedule, "DEFAULT", schedule.Schedule(parallel_min_work=1))
    program = random_program(5000 + 10 * seed + (alone_max > 0), "plain", range(4),
                             large_fraction=0.75)
    with config.override(num_threads=2):
        try:
            check(program)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{program.describe()}") from None


def test_gemm_update_into_a_temporary():
    # The update's result is read by another product (a workspace temporary, not an output):
    # folded only where its bytes hold no operand of the product it joins.
    a, b, p, w = _f32(192, 160), _f32(192, 224), _f32(160, 224), _f32(224, 96)
    f = jc.jit(lambda a, b, p, w: (p + a.T @ b) @ w)
    want = (p + a.astype(np.float64).T @ b) @ w
    for threads in (1, 2):
        with config.override(num_threads=threads):
            _close(f(a, b, p, w), want, 1e-4)
    (plan, steps, library), = _all_segments(f, a, b, p, w)
    for k, update in gemm_update.find_updates(plan, steps, library).items():
        out = plan.buffers[update.kernel.outputs[0]]
        assert out.kind == "output" or not any(
            gemm_update._overlap(out, plan.buffers[bid]) for bid in steps[k].inputs)
