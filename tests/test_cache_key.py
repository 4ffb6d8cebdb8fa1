"""The jit cache key: named fields, plain-tuple lookups, and the automatic dynamic-axis policy
that reads them."""
import contextlib
import io

import numpy as np

import jitcore as jc
from jitcore import bucketing, config, tree_util
from jitcore.cache_key import NO_DONATION, CacheKey, as_key


def test_keys_are_cache_keys_with_the_call_fields():
    f = jc.jit(lambda x, n: x * n, static_argnums=1)
    x = np.ones((2, 3), np.float32)
    f(x, 4)
    (key,) = f._cache
    assert type(key) is CacheKey
    assert key.treedef == tree_util.tree_flatten((x,))[1]
    assert key.statics == ((1, 4),)
    assert key.sigs == (((2, 3), np.dtype(np.float32), False),)
    assert key.backend == config.settings.backend
    assert key.donated == NO_DONATION and not key.bucketed


def test_a_plain_tuple_of_the_fields_finds_the_entry():
    # The cached call path looks up with a plain tuple and must hit what a miss stored.
    f = jc.jit(lambda x: x + 1)
    x = np.ones(3)
    f(x)
    (key,) = f._cache
    plain = tuple(key)
    assert type(plain) is tuple and f._cache.get(plain) is f._cache[key]
    assert as_key(plain) == key and type(as_key(plain)) is CacheKey
    f(x)
    assert f.cache_info().hits == 1 and len(f._cache) == 1


def test_donation_and_buckets_are_fields_of_the_key():
    g = jc.jit(lambda x: x * 2, donate_argnums=0)
    g(jc.numpy.asarray(np.ones(3)))
    (key,) = g._cache
    assert key.donated == frozenset({0})
    h = jc.jit(lambda x: x * 2, dynamic_axes={"x": 0})
    h(np.ones(5))
    (bkey,) = h._cache
    assert bkey.bucketed and bkey.donated == NO_DONATION
    ((shape, dtype, weak),) = bkey.sigs
    assert shape == (("dim", 0, 5, 8),) and dtype == np.float64


def _key(n, axis_size_at=0, dtype=np.float32, statics=None):
    shape = [3, 4]
    shape[axis_size_at] = n
    return CacheKey("tree", statics, ((tuple(shape), np.dtype(dtype), False),), "cpu",
                    NO_DONATION)


def test_policy_makes_an_axis_dynamic_after_the_limit():
    policy = bucketing.Policy({}, None, 3, ["x"], (), (), "f")
    keys = [_key(5)]
    for n, want in ((6, []), (7, [(0, 0, [5, 6, 7])]), (8, [])):
        keys.append(_key(n))
        assert policy.note_sizes(keys[-1], keys) == want


def test_policy_ignores_keys_that_differ_elsewhere():
    policy = bucketing.Policy({}, None, 2, ["x"], (), (), "f")
    base = _key(5)
    other_rank = base._replace(sigs=(((6, 4, 1), np.dtype(np.float32), False),))
    for other in (_key(6, dtype=np.float64), _key(6, statics=((1, 2),)), other_rank,
                  _key(6)._replace(backend="interp")):
        assert policy.note_sizes(other, [base, other]) == []
    assert policy.note_sizes(_key(6), [base._replace(bucketed=True), _key(6)]) == []
    assert policy.note_sizes(_key(6), [base, _key(6)]) == [(0, 0, [5, 6])]


def test_a_miss_explains_a_change_of_donation():
    f = jc.jit(lambda x, y: x * y, donate_argnums=1)
    out = io.StringIO()
    with config.override(explain_cache_misses=True), contextlib.redirect_stdout(out):
        f(np.ones(2), jc.numpy.asarray(np.ones(2)))
        f(np.ones(2), np.ones(2))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("first call")
    backend = config.settings.backend
    assert f"backend/donation ({backend!r}, frozenset())" in lines[1]
    assert f"(before: ({backend!r}, frozenset({{1}})))" in lines[1]
