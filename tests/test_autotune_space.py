"""The schedule fields beyond threads and vector widths (`cpu.schedule`): the vectorizer's
interleave count, column reductions' row blocks, row shares, small dots as loops, GEMM
epilogues off. Each changes the rendered code, and gives the default's bits or, where it may
reorder a sum, NumPy's float64 result within float32 rounding. The tuner compares a candidate
bit for bit unless it may reorder a sum."""
from __future__ import annotations

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
import xla_like.backends.cpu.autotune as at
from xla_like.backends.cpu import schedule
from xla_like.backends.cpu.barriers import _chunks
from xla_like.backends.cpu.render import render
from xla_like.backends.cpu.schedule import NEVER, PLAN, Schedule

RNG = np.random.default_rng(1)
X = RNG.standard_normal((300, 320)).astype(np.float32)
# Odd sizes: a row block does not divide the rows.
C = RNG.standard_normal((1003, 97)).astype(np.float32)
# 512 products of 6x5 @ 5x7: one BLAS call each, or one loop kernel.
A = RNG.standard_normal((512, 6, 5)).astype(np.float32)
B = RNG.standard_normal((512, 5, 7)).astype(np.float32)
XD = RNG.standard_normal((4096, 64)).astype(np.float32)
WD = RNG.standard_normal((64, 128)).astype(np.float32)   # a 2 MiB result: an epilogue
BD = RNG.standard_normal(128).astype(np.float32)


def _base(f, *args):
    jf = jitcore.jit(f)
    jf(*args)
    (entry,) = jf._cache.values()
    return entry.executable


def _text(plan, choice):
    return str(at._render(plan, choice))


def _kernel_text(plan, name, choice=None):
    mod = at._render(plan, choice or {})
    return str(mod.get_global(name))


def _run(base, choice, *args):
    return at._build(base, frozenset(), choice)(list(args))


def chain(x):
    return jnp.tanh(jnp.exp(jnp.sin(x)) * jnp.cos(x)) + jnp.log1p(x * x)


def chain64(x):
    x = x.astype(np.float64)
    return np.tanh(np.exp(np.sin(x)) * np.cos(x)) + np.log1p(x * x)


def test_unroll_hints_each_loop_and_keeps_elementwise_bits():
    base = _base(chain, X)
    (default,) = base([X])
    np.testing.assert_allclose(default, chain64(X), rtol=3e-6, atol=3e-6)
    plain = _kernel_text(base.plan, "seg0.k0")
    assert "llvm.loop.interleave.count" not in _text(base.plan, {})
    for u in (1, 2, 4):
        choice = {"seg0.k0": Schedule(unroll=u)}
        text = _text(base.plan, choice)
        assert f'!"llvm.loop.interleave.count", i32 {u}' in text and "!llvm.loop !" in text
        assert not schedule.reorders("unroll", _kernel_text(base.plan, "seg0.k0", choice))
        (got,) = _run(base, choice, X)
        assert np.array_equal(got, default), u


def test_unroll_of_a_sum_reorders_it_within_rounding():
    def f(x):
        return jnp.sum(jnp.exp(x) * x, axis=1)
    base = _base(f, X)
    assert schedule.reorders("unroll", _kernel_text(base.plan, "seg0.k0"))
    ref = (np.exp(X.astype(np.float64)) * X).sum(axis=1)
    for u in (1, 2, 8):
        (got,) = _run(base, {"seg0.k0": Schedule(unroll=u)}, X)
        np.testing.assert_allclose(got, ref, rtol=2e-6 * np.sqrt(X.shape[1]))


@pytest.mark.parametrize("block", [1, 32, 1024, NEVER])
def test_row_blocks_of_a_column_sum(block):
    def f(c):
        return jnp.sum(c * c, axis=0)
    base = _base(f, C)
    plain = _kernel_text(base.plan, "seg0.k0")
    assert "rb.header" in plain
    choice = {"seg0.k0": Schedule(row_block=block)}
    text = _kernel_text(base.plan, "seg0.k0", choice)
    assert text != plain and ("rb.header" in text) == (block < NEVER)
    (got,) = _run(base, choice, C)
    ref = (C.astype(np.float64) ** 2).sum(axis=0)
    # Float32 rounding grows with the rows a block or the running sum adds in order.
    np.testing.assert_allclose(got, ref, rtol=1e-7 * (C.shape[0] if block >= 128 else 200))


def test_row_block_leaves_integer_and_max_reductions_alone():
    def f(c):
        return jnp.max(c, axis=0), jnp.sum(c.astype(np.int32), axis=0)
    base = _base(f, C)
    mod = at._render(base.plan, {})
    kernels = [fn.name for fn in mod.functions if at._KERNEL.match(fn.name) and fn.blocks]
    for k in kernels:
        assert not at._applies("row_block", _kernel_text(base.plan, k))
        assert _text(base.plan, {k: Schedule(row_block=32)}) == str(mod)


def test_row_align_changes_the_shares_and_keeps_the_bits():
    def f(x):
        e = jnp.exp(x - jnp.max(x, axis=1, keepdims=True))
        return e / jnp.sum(e, axis=1, keepdims=True)
    base = _base(f, X)
    (default,) = base([X])
    pool = Schedule(parallel_min_work=1)
    on_pool = _text(base.plan, {"seg0": pool})
    for a in (8, 64):
        choice = {"seg0": pool.with_(row_align=a)}
        assert _text(base.plan, choice) != on_pool
        (got,) = _run(base, choice, X)
        assert np.array_equal(got, default), a
    e = np.exp(X.astype(np.float64) - X.max(axis=1, keepdims=True))
    np.testing.assert_allclose(default, e / e.sum(axis=1, keepdims=True), rtol=1e-5)


def test_barriers_cut_ranges_as_the_schedule_does():
    """Thread t's part of n units, as `render` cuts it, counted out one unit at a time."""
    for n, threads, flat, share in [(1000, 2, True, (64, 1, 0)), (1000, 2, True, (1024, 1, 0)),
                                    (300, 2, False, (64, 8, 0)), (301, 4, False, (64, 64, 0)),
                                    (999, 4, True, (16384, 1, 2)), (10, 3, False, (64, 1, 0))]:
        align, row_align, cap = share
        users = min(threads, cap) if cap else threads
        per = -(-n // users)
        step = align if flat else row_align
        while per % step:
            per += 1
        owner = [min(u // per, threads) for u in range(n)]
        got = _chunks(n, threads, flat, share)
        for t, (lo, hi) in enumerate(got):
            assert [u for u in range(n) if owner[u] == t] == list(range(lo, hi))


def test_small_dots_as_a_loop_kernel():
    def f(a, b):
        return jnp.tanh(jnp.matmul(a, b))
    base = _base(f, A, B)
    (default,) = base([A, B])
    changes, _ = at.candidates(base.plan, base._order, 2, "")
    dots = [c for c in changes if c[1] == "blas_min_flops"]
    assert dots == [("seg0", "blas_min_flops", 2 * 512 * 6 * 5 * 7 + 1)]
    assert schedule.reorders("blas_min_flops")
    choice = {"seg0": Schedule(blas_min_flops=dots[0][2])}
    plain, looped = _text(base.plan, {}), _text(base.plan, choice)
    assert "sgemm" not in looped or looped.count("call") < plain.count("call")
    assert looped != plain
    (got,) = _run(base, choice, A, B)
    ref = np.tanh(np.matmul(A.astype(np.float64), B.astype(np.float64)))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, default, rtol=1e-5, atol=1e-6)


def dense(x, w, b):
    return jnp.maximum(x @ w + b, 0.0)


def test_gemm_fusion_off_plans_again_with_the_same_bits():
    base = _base(dense, XD, WD, BD)
    assert any(s.epilogue is not None for s in base.plan.steps)
    changes, _ = at.candidates(base.plan, base._order, 2, "")
    assert (PLAN, "gemm_fusion", 0) in changes
    choice = {PLAN: Schedule(gemm_fusion=0)}
    plan = at.plan_of(base, frozenset(), choice)
    assert plan is not base.plan and plan is at.plan_of(base, frozenset(), choice)
    assert not any(s.epilogue is not None or s.prologue is not None for s in plan.steps)
    assert len(plan.steps) > len(base.plan.steps)
    (default,) = base([XD, WD, BD])
    (got,) = _run(base, choice, XD, WD, BD)
    assert np.array_equal(got, default)
    ref = np.maximum(XD.astype(np.float64) @ WD + BD, 0)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_schedule_records_check_the_new_fields():
    s = Schedule.from_dict({"unroll": 4, "row_block": 32, "row_align": 8,
                            "blas_min_flops": 100, "gemm_fusion": 0})
    assert s.changes() == {"unroll": 4, "row_block": 32, "row_align": 8,
                           "blas_min_flops": 100, "gemm_fusion": 0}
    for bad in ({"row_align": 0}, {"gemm_fusion": 2}, {"unroll": 1000}):
        with pytest.raises(ValueError):
            Schedule.from_dict(bad)


def test_the_check_is_exact_unless_the_change_may_reorder():
    ref = [np.array([1.0, -0.0, np.nan], np.float32)]
    ulp = [np.array([np.nextafter(np.float32(1), np.float32(2)), -0.0, np.nan], np.float32)]
    zero = [np.array([1.0, 0.0, np.nan], np.float32)]
    assert at._same_results(ref, [ref[0].copy()])
    assert not at._same_results(ref, ulp) and not at._same_results(ref, zero)
    assert at._same_results(ref, ulp, exact=False)


def test_the_search_rejects_a_non_reordering_change_that_moves_a_bit(monkeypatch):
    """A change of threads that gave other bits would be a fault: rejected. The same one ulp
    from a change that may reorder a sum is within rounding: kept for timing."""
    def space(plan, order, threads, features):
        return [("seg0", "parallel_min_work", 1), ("seg0", "blas_min_flops", 10)], []
    monkeypatch.setattr(at, "candidates", space)
    build = at._build

    def nudged(base, donated, choice):
        ex = build(base, donated, choice)
        if not choice:
            return ex

        def call(args):
            return [np.nextafter(o, np.float32(np.inf)) for o in ex(args)]
        call.plan, call._order = ex.plan, ex._order
        return call
    monkeypatch.setattr(at, "_build", nudged)
    # Every candidate renders differently from the default's text.
    monkeypatch.setattr(at, "_rendered_hash", lambda plan, choice: repr(sorted(
        (n, sorted(s.changes().items())) for n, s in choice.items())))
    base = _base(chain, X)
    s0 = dict(at.stats)
    at._search(base, [X], frozenset())
    assert at.stats["candidates"] - s0["candidates"] == 2
    assert at.stats["rejected"] - s0["rejected"] == 1
