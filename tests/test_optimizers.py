"""Tests for jitcore.example_libraries.optimizers: each optimizer's steps against a NumPy
float64 re-implementation of its update formula, on a pytree of parameters, eagerly and with a
jitted update; schedules against their formulas; the utilities and (un)packing."""
import numpy as np
import pytest

import jitcore
from jitcore import tree_util as tu
from jitcore.example_libraries import optimizers as opt

RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4), "s": np.float64(0.5)}
GRADS = [tu.tree_map(lambda x: RNG.normal(size=np.shape(x)), PARAMS) for _ in range(5)]
# A gradient entry that stays 0 exercises the 0/0 guards of adagrad and sm3.
for g in GRADS:
    g["b"][0] = 0.0


# NumPy reference updates: (init(x) -> state, update(i, g, state) -> state, params(state)).

def np_sgd(lr):
    return (lambda x: x), (lambda i, g, x: x - lr(i) * g), (lambda x: x)


def np_momentum(lr, mass, nesterov=False):
    def update(i, g, s):
        x, v = s
        v = mass * v + g
        return x - lr(i) * ((mass * v + g) if nesterov else v), v
    return (lambda x: (x, np.zeros_like(x))), update, (lambda s: s[0])


def np_adagrad(lr, momentum=0.9):
    def update(i, g, s):
        x, gsq, m = s
        gsq = gsq + g * g
        with np.errstate(divide="ignore"):
            inv = np.where(gsq > 0, 1 / np.sqrt(gsq), 0.0)
        m = (1 - momentum) * g * inv + momentum * m
        return x - lr(i) * m, gsq, m
    return (lambda x: (x, np.zeros_like(x), np.zeros_like(x))), update, (lambda s: s[0])


def np_rmsprop(lr, gamma=0.9, eps=1e-8):
    def update(i, g, s):
        x, a = s
        a = gamma * a + (1 - gamma) * g * g
        return x - lr(i) * g / np.sqrt(a + eps), a
    return (lambda x: (x, np.zeros_like(x))), update, (lambda s: s[0])


def np_rmsprop_momentum(lr, gamma=0.9, eps=1e-8, momentum=0.9):
    def update(i, g, s):
        x, a, mom = s
        a = gamma * a + (1 - gamma) * g * g
        mom = momentum * mom + lr(i) * g / np.sqrt(a + eps)
        return x - mom, a, mom
    return (lambda x: (x, np.zeros_like(x), np.zeros_like(x))), update, (lambda s: s[0])


def np_adam(lr, b1=0.9, b2=0.999, eps=1e-8):
    def update(i, g, s):
        x, m, v = s
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** (i + 1)), v / (1 - b2 ** (i + 1))
        return x - lr(i) * mhat / (np.sqrt(vhat) + eps), m, v
    return (lambda x: (x, np.zeros_like(x), np.zeros_like(x))), update, (lambda s: s[0])


def np_adamax(lr, b1=0.9, b2=0.999, eps=1e-8):
    def update(i, g, s):
        x, m, u = s
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        return x - lr(i) / (1 - b1 ** (i + 1)) * m / (u + eps), m, u
    return (lambda x: (x, np.zeros_like(x), np.zeros_like(x))), update, (lambda s: s[0])


def np_sm3(lr, momentum=0.9):
    # Written with explicit loops over entries: an entry's accumulator is the min over its
    # axes' per-index accumulators; each axis' accumulator is then the max over the slice.
    def init(x):
        x1 = np.atleast_1d(np.asarray(x, float))
        return x1, np.zeros_like(x1), [np.zeros(n) for n in x1.shape], np.shape(x)

    def update(i, g, s):
        x, m, vs, shape = s
        g = np.atleast_1d(g)
        accum = np.empty_like(x)
        for idx in np.ndindex(*x.shape):
            accum[idx] = min(vs[a][j] for a, j in enumerate(idx)) + g[idx] ** 2
        inv = np.zeros_like(accum)
        inv[accum > 0] = 1 / np.sqrt(accum[accum > 0])
        m = (1 - momentum) * g * inv + momentum * m
        new_vs = [np.full(n, -np.inf) for n in x.shape]
        for idx in np.ndindex(*x.shape):
            for a, j in enumerate(idx):
                new_vs[a][j] = max(new_vs[a][j], accum[idx])
        return x - lr(i) * m, m, new_vs, shape
    return init, update, (lambda s: s[0].reshape(s[3]))


def run_reference(ref, params, grads):
    init, update, get = ref
    leaves, td = tu.tree_flatten(params)
    states = [init(np.asarray(x, float)) for x in leaves]
    for i, g in enumerate(grads):
        states = [update(i, gl, s) for gl, s in zip(tu.tree_leaves(g), states)]
    return tu.tree_unflatten(td, [get(s) for s in states])


SCHEDULE = opt.exponential_decay(0.1, 2, 0.5)
NP_SCHEDULE = lambda i: 0.1 * 0.5 ** (i / 2)  # noqa: E731

CASES = [
    ("sgd", opt.sgd(0.1), np_sgd(lambda i: 0.1)),
    ("sgd_schedule", opt.sgd(SCHEDULE), np_sgd(NP_SCHEDULE)),
    ("momentum", opt.momentum(0.1, 0.9), np_momentum(lambda i: 0.1, 0.9)),
    ("nesterov", opt.nesterov(0.1, 0.8), np_momentum(lambda i: 0.1, 0.8, nesterov=True)),
    ("adagrad", opt.adagrad(0.1), np_adagrad(lambda i: 0.1)),
    ("adagrad_m0", opt.adagrad(SCHEDULE, momentum=0.0), np_adagrad(NP_SCHEDULE, 0.0)),
    ("rmsprop", opt.rmsprop(0.01, gamma=0.8), np_rmsprop(lambda i: 0.01, gamma=0.8)),
    ("rmsprop_momentum", opt.rmsprop_momentum(0.01), np_rmsprop_momentum(lambda i: 0.01)),
    ("adam", opt.adam(0.1), np_adam(lambda i: 0.1)),
    ("adam_schedule", opt.adam(SCHEDULE, b1=0.5, b2=0.9, eps=1e-3),
     np_adam(NP_SCHEDULE, 0.5, 0.9, 1e-3)),
    ("adamax", opt.adamax(0.1), np_adamax(lambda i: 0.1)),
    ("sm3", opt.sm3(0.1), np_sm3(lambda i: 0.1)),
]


@pytest.mark.parametrize("name,triple,ref", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_optimizer_matches_numpy(name, triple, ref, jit):
    init_fun, update_fun, get_params = triple
    if jit:
        update_fun = jitcore.jit(update_fun)
    state = init_fun(PARAMS)
    assert isinstance(state, opt.OptimizerState)
    for i, g in enumerate(GRADS):
        state = update_fun(i, g, state)
    got = get_params(state)
    want = run_reference(ref, PARAMS, GRADS)
    assert tu.tree_structure(got) == tu.tree_structure(PARAMS)
    for k in PARAMS:
        assert np.shape(got[k]) == np.shape(PARAMS[k])
        np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-12, atol=1e-12)


def test_float32_params_stay_float32():
    init_fun, update_fun, get_params = opt.adam(0.1)
    x = np.ones(3, np.float32)
    state = update_fun(0, np.ones(3, np.float32), init_fun(x))
    assert get_params(state).dtype == np.float32


def test_jitted_update_reuses_its_compilation():
    traces = []
    init_fun, update_fun, get_params = opt.momentum(0.1, 0.9)

    def step(i, state):
        traces.append(1)
        return update_fun(i, GRADS[0], state)

    jstep = jitcore.jit(step)
    state = init_fun(PARAMS)
    for i in range(3):
        state = jstep(i, state)
    assert len(traces) == 1


def test_grad_tree_mismatch_raises():
    init_fun, update_fun, _ = opt.sgd(0.1)
    with pytest.raises(TypeError, match="did not match the parameter tree"):
        update_fun(0, [np.ones(2)], init_fun({"a": np.ones(2)}))


# --- schedules -------------------------------------------------------------------------------

STEPS = np.arange(0, 12)


def _values(schedule):
    return np.array([float(schedule(int(i))) for i in STEPS])


def test_schedules_against_formulas():
    np.testing.assert_allclose(_values(opt.constant(0.3)), np.full(12, 0.3))
    np.testing.assert_allclose(_values(opt.exponential_decay(0.2, 3, 0.7)),
                               0.2 * 0.7 ** (STEPS / 3), rtol=1e-12)
    np.testing.assert_allclose(_values(opt.inverse_time_decay(0.2, 3, 0.5)),
                               0.2 / (1 + 0.5 * STEPS / 3), rtol=1e-12)
    np.testing.assert_allclose(_values(opt.inverse_time_decay(0.2, 3, 0.5, staircase=True)),
                               0.2 / (1 + 0.5 * np.floor(STEPS / 3)), rtol=1e-12)
    np.testing.assert_allclose(_values(opt.polynomial_decay(1.0, 5, 0.1, power=2.0)),
                               (1 - np.minimum(STEPS, 5) / 5) ** 2 * 0.9 + 0.1, rtol=1e-12)
    pc = _values(opt.piecewise_constant([2, 5], [1.0, 0.5, 0.25]))
    np.testing.assert_allclose(pc, np.where(STEPS <= 2, 1.0, np.where(STEPS <= 5, 0.5, 0.25)))


def test_schedules_under_jit_and_make_schedule():
    sched = opt.piecewise_constant([2, 5], [1.0, 0.5, 0.25])
    js = jitcore.jit(sched)
    assert [float(js(i)) for i in (0, 2, 3, 5, 6)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    pd = jitcore.jit(opt.polynomial_decay(1.0, 4, 0.0))
    np.testing.assert_allclose(float(pd(1)), 0.75)
    assert opt.make_schedule(0.5)(7) == 0.5
    assert opt.make_schedule(sched) is sched
    with pytest.raises(TypeError):
        opt.make_schedule(np.ones(2))
    with pytest.raises(ValueError, match="one shorter"):
        opt.piecewise_constant([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="sequences"):
        opt.piecewise_constant(1, [1.0, 2.0])


# --- utilities -------------------------------------------------------------------------------

def test_l2_norm_and_clip_grads():
    ref = np.sqrt(sum(np.sum(np.square(x)) for x in tu.tree_leaves(GRADS[0])))
    np.testing.assert_allclose(float(opt.l2_norm(GRADS[0])), ref, rtol=1e-12)
    clipped = opt.clip_grads(GRADS[0], 1.0)
    np.testing.assert_allclose(float(opt.l2_norm(clipped)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(clipped["w"]), GRADS[0]["w"] / ref, rtol=1e-12)
    kept = opt.clip_grads(GRADS[0], ref * 2)  # under the limit: unchanged
    np.testing.assert_allclose(np.asarray(kept["w"]), GRADS[0]["w"], rtol=1e-12)


def test_pack_unpack_roundtrip():
    init_fun, update_fun, get_params = opt.adam(0.1)
    state = update_fun(0, GRADS[0], init_fun(PARAMS))
    marked = opt.unpack_optimizer_state(state)
    assert set(marked) == {"w", "b", "s"} and isinstance(marked["w"], opt.JoinPoint)
    x, m, v = marked["w"].subtree
    np.testing.assert_allclose(np.asarray(m), 0.1 * GRADS[0]["w"], rtol=1e-12)
    packed = opt.pack_optimizer_state(marked)
    assert packed.tree_def == state.tree_def and packed.subtree_defs == state.subtree_defs
    a, b = get_params(packed), get_params(state)
    for k in PARAMS:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    with pytest.raises(TypeError, match="JoinPoint"):
        opt.pack_optimizer_state({"w": 1.0})
