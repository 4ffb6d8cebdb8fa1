"""Small loop-free programs are optimized at LLVM's O1 (their run time is call overhead; O3 only
adds compile time); large ones and any program with a loop get O3."""
import numpy as np

import jitcore as jc
from jitcore import lax
from tests.helpers import plan_of
from xla_like.backends import cpu


def test_which_programs_are_small():
    f = jc.jit(lambda x: jc.numpy.tanh(x) * 2 + 1)
    assert cpu._small(plan_of(f, np.ones(8, np.float32)))
    assert not cpu._small(plan_of(f, np.ones(cpu.SMALL_WORK, np.float32)))
    loop = jc.jit(lambda x: lax.fori_loop(0, 3, lambda i, c: c * 2, x))
    assert not cpu._small(plan_of(loop, np.ones(8)))
    # A reduction counts the elements it reads, not the few it writes.
    s = jc.jit(lambda x: x.sum(axis=-1))
    assert not cpu._small(plan_of(s, np.ones((cpu.SMALL_WORK // 4, 8))))


def test_small_and_large_give_the_same_numbers():
    f = jc.jit(lambda x: jc.numpy.exp(-x * x) + jc.numpy.tanh(x) * 0.5)
    big = np.linspace(-3, 3, cpu.SMALL_WORK + 5).astype(np.float32)
    small = big[:1000].copy()
    np.testing.assert_array_equal(np.asarray(f(small)), np.asarray(f(big))[:1000])
