"""Tests for key paths (``tree_flatten_with_path``, ``keystr``, the key classes), keyed and
static registration, ``Partial``, ``tree_transpose``/``tree_broadcast``, the ``jitcore.tree``
module, ``flatten_util.ravel_pytree``, and unhashable (dict) aux data under jit. Expected
strings and values are JAX 0.10.2's answers to the same calls."""
import collections
import dataclasses
import functools
import pickle

import numpy as np
import pytest

import jitcore
import jitcore.numpy as jnp
from jitcore import tree_util as tu
from jitcore import tree
from jitcore.flatten_util import ravel_pytree
from jitcore.tree_util import (
    DictKey, FlattenedIndexKey, GetAttrKey, Partial, SequenceKey, keystr,
    register_pytree_node, register_pytree_with_keys, register_pytree_with_keys_class,
    register_static, tree_flatten_with_path, tree_leaves_with_path, tree_map_with_path,
)

P = collections.namedtuple("P", "x y")


class Node:
    def __init__(self, a, b):
        self.a, self.b = a, b


register_pytree_node(Node, lambda n: ((n.a, n.b), None), lambda aux, ch: Node(*ch))


@dataclasses.dataclass
class DC:
    a: object
    b: object


tu.register_dataclass(DC, data_fields=["a"], meta_fields=["b"])


class Keyed:
    def __init__(self, u, v):
        self.u, self.v = u, v


register_pytree_with_keys(
    Keyed, lambda k: (((GetAttrKey("u"), k.u), (DictKey("vee"), k.v)), None),
    lambda aux, ch: Keyed(*ch))


@register_pytree_with_keys_class
class KeyedCls:
    def __init__(self, w):
        self.w = w

    def tree_flatten_with_keys(self):
        return ((GetAttrKey("w"), self.w),), "aux"

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


class Static:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Static) and self.v == other.v

    def __hash__(self):
        return hash(self.v)


register_static(Static)


def paths(tree_, **kw):
    return [(keystr(p), x) for p, x in tree_leaves_with_path(tree_, **kw)]


# --- key classes and keystr ------------------------------------------------------------------

def test_key_reprs_strs_and_equality():
    keys = (GetAttrKey("x"), DictKey(1), SequenceKey(2), FlattenedIndexKey(3))
    assert "".join(map(repr, keys)) == \
        "GetAttrKey(name='x')DictKey(key=1)SequenceKey(idx=2)FlattenedIndexKey(key=3)"
    assert keystr((GetAttrKey("x"), DictKey("a"), SequenceKey(2), FlattenedIndexKey(3))) == \
        ".x['a'][2][<flat index 3>]"
    assert SequenceKey(0) == SequenceKey(0) and hash(DictKey("a")) == hash(DictKey("a"))
    assert FlattenedIndexKey(0) != SequenceKey(0) and DictKey(0) != SequenceKey(0)
    assert (SequenceKey(4).idx, DictKey("k").key, GetAttrKey("n").name) == (4, "k", "n")


def test_keystr_simple_and_separator():
    ks = (DictKey("b"), SequenceKey(0))
    assert keystr(ks) == "['b'][0]"
    assert keystr(ks, separator="/") == "['b']/[0]"
    assert keystr(ks, simple=True, separator="/") == "b/0"
    assert keystr(()) == ""


# --- paths of each node kind -----------------------------------------------------------------

def test_builtin_paths_dict_sorted_none_empty():
    t = {"b": [1, (2, None)], "a": 3}
    pairs, td = tree_flatten_with_path(t)
    assert str(pairs) == ("[((DictKey(key='a'),), 3), ((DictKey(key='b'), SequenceKey(idx=0)), "
                          "1), ((DictKey(key='b'), SequenceKey(idx=1), SequenceKey(idx=0)), 2)]")
    assert str(td) == "PyTreeDef({'a': *, 'b': [*, (*, None)]})"
    assert [x for _, x in pairs] == tu.tree_leaves(t)
    assert paths([None, 1]) == [("[1]", 1)]
    assert tree_flatten_with_path(5)[0] == [((), 5)]


def test_namedtuple_ordereddict_defaultdict_paths():
    assert paths(P(1, {"k": 2})) == [(".x", 1), (".y['k']", 2)]
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    assert paths(od) == [("['z']", 1), ("['a']", 2)]  # insertion order
    dd = collections.defaultdict(list, {"z": 1, "a": 2})
    assert paths(dd) == [("['a']", 2), ("['z']", 1)]  # sorted


def test_custom_dataclass_keyed_and_static_paths():
    assert str(tree_leaves_with_path(Node(1, [2]))) == \
        "[((FlattenedIndexKey(key=0),), 1), ((FlattenedIndexKey(key=1), SequenceKey(idx=0)), 2)]"
    assert str(tree_leaves_with_path(DC(1, 2))) == "[((GetAttrKey(name='a'),), 1)]"
    assert paths(Keyed(1, [2, 3])) == [(".u", 1), ("['vee'][0]", 2), ("['vee'][1]", 3)]
    assert paths(KeyedCls(7)) == [(".w", 7)]
    # Keyed nodes flatten and rebuild like any node.
    leaves, td = tu.tree_flatten(Keyed(1, [2, 3]))
    assert leaves == [1, 2, 3]
    back = td.unflatten([4, 5, 6])
    assert (back.u, back.v) == (4, [5, 6])
    # A static node has no leaves; the object is part of the treedef.
    assert tu.tree_leaves([Static(1), 2]) == [2] and paths([Static(1), 2]) == [("[1]", 2)]
    assert tu.tree_structure(Static(1)) == tu.tree_structure(Static(1))
    assert tu.tree_structure(Static(1)) != tu.tree_structure(Static(2))
    assert tu.tree_unflatten(tu.tree_structure([Static(3), 0]), [9])[0].v == 3


def test_is_leaf_stops_paths():
    pairs, td = tree_flatten_with_path([1, {"a": 2}], is_leaf=lambda x: isinstance(x, dict))
    assert str(pairs) == "[((SequenceKey(idx=0),), 1), ((SequenceKey(idx=1),), {'a': 2})]"
    assert str(td) == "PyTreeDef([*, *])"


def test_map_with_path():
    out = tree_map_with_path(lambda p, x: (keystr(p), x), [1, {"a": 2}])
    assert out == [("[0]", 1), {"a": ("[1]['a']", 2)}]
    assert tree_map_with_path(lambda p, x, y: len(p) + x + y, [1, (2,)], [10, (20,)]) == \
        [12, (24,)]


# --- Partial ---------------------------------------------------------------------------------

def test_partial_is_a_pytree():
    add = lambda a, b: a + b  # noqa: E731
    p = Partial(add, 1, b=3)
    assert p() == 4 and Partial(add, 1)(2) == 3
    assert tu.tree_leaves(p) == [1, 3]
    assert str(tree_leaves_with_path(p)) == ("[((FlattenedIndexKey(key=0), SequenceKey(idx=0)), "
                                            "1), ((FlattenedIndexKey(key=1), DictKey(key='b')), 3)]")
    q = tu.tree_map(lambda x: x * 10, p)
    assert isinstance(q, Partial) and q() == 40
    assert tu.tree_structure(Partial(add, 5)) == tu.tree_structure(Partial(add, 6))
    # A Partial built on a functools.partial: equal inner partials give equal treedefs.
    inner1, inner2 = functools.partial(add, b=1), functools.partial(add, b=1)
    assert tu.tree_structure(Partial(inner1, 2)) == tu.tree_structure(Partial(inner2, 3))
    assert Partial(inner1, 2)() == 3


def test_partial_through_jit():
    f = jitcore.jit(lambda p, x: p(x))
    p = Partial(lambda a, x: a * x, np.array([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(f(p, 3.0)), [3.0, 6.0])
    out = jitcore.jit(lambda a: Partial(lambda u, v: u - v, a))(np.float64(5.0))
    assert isinstance(out, Partial) and float(out(2.0)) == 3.0


# --- transpose, broadcast, the tree module ---------------------------------------------------

def test_transpose():
    outer, inner = tree.structure([0, 0]), tree.structure((0, 0, 0))
    assert tree.transpose(outer, inner, [(1, 2, 3), (4, 5, 6)]) == ([1, 4], [2, 5], [3, 6])
    assert tu.tree_transpose(outer, None, [(1, 2, 3), (4, 5, 6)]) == ([1, 4], [2, 5], [3, 6])
    with pytest.raises(TypeError, match="Mismatch"):
        tree.transpose(outer, inner, [(1, 2), (4, 5, 6)])


def test_broadcast():
    assert tree.broadcast([1, 2], [(3, 4), {"a": 5}]) == [(1, 1), {"a": 2}]
    assert tree.broadcast({"a": 1}, {"a": [1, 2]}) == {"a": [1, 1]}
    with pytest.raises(ValueError):
        tree.broadcast([1, 2], [(3, 4)])


def test_tree_module_names():
    assert jitcore.tree is tree
    t = {"b": (1, 2), "a": [3]}
    leaves, td = tree.flatten(t)
    assert leaves == [3, 1, 2] and tree.leaves(t) == leaves and tree.structure(t) == td
    assert tree.unflatten(td, [0, 1, 2]) == {"b": (1, 2), "a": [0]}
    assert tree.map(lambda x, y: x + y, t, t) == {"b": (2, 4), "a": [6]}
    assert tree.reduce(lambda a, b: a + b, [1, 2, 3], 10) == 16
    assert tree.reduce(lambda a, b: a * b, [2, 3]) == 6
    assert tree.all([1, 1]) and not tree.all([1, 0])
    assert str(tree.leaves_with_path([1, 0])) == \
        "[((SequenceKey(idx=0),), 1), ((SequenceKey(idx=1),), 0)]"
    assert tree.flatten_with_path(t)[1] == td
    assert tree.map_with_path(lambda p, x: len(p), t) == {"b": (2, 2), "a": [2]}


# --- ravel_pytree ----------------------------------------------------------------------------

def test_ravel_pytree_mixed_dtypes():
    t = {"a": np.ones(2, np.float32), "b": (np.int32(3),)}
    flat, unravel = ravel_pytree(t)
    assert flat.dtype == np.float32 and flat.shape == (3,)  # JAX promotes i32, f32 -> f32
    np.testing.assert_array_equal(np.asarray(flat), [1, 1, 3])
    back = unravel(np.arange(3, dtype=np.float32))
    assert back["b"][0].dtype == np.int32 and int(back["b"][0]) == 2
    np.testing.assert_array_equal(np.asarray(back["a"]), [0, 1])
    with pytest.raises(TypeError, match="expected dtype float32"):
        unravel(np.arange(3.0))


def test_ravel_pytree_shapes_and_roundtrip():
    rng = np.random.default_rng(0)
    t = [1.0, 2, {"m": rng.normal(size=(2, 3)), "v": rng.normal(size=4)}]
    flat, unravel = ravel_pytree(t)
    ref = np.concatenate([[1.0, 2.0], t[2]["m"].ravel(), t[2]["v"]])
    assert flat.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(flat), ref)
    back = unravel(flat)
    assert back[1].dtype == np.int64 and int(back[1]) == 2
    np.testing.assert_array_equal(np.asarray(back[2]["m"]), t[2]["m"])
    with pytest.raises(ValueError, match="shape"):
        unravel(np.zeros(3))
    empty, unravel_empty = ravel_pytree([])
    assert empty.shape == (0,) and empty.dtype == np.float32 and unravel_empty(empty) == []


def test_ravel_pytree_under_grad():
    g = jitcore.grad(lambda t: (ravel_pytree(t)[0] ** 2).sum())({"a": np.ones(2), "b": 3.0})
    np.testing.assert_allclose(np.asarray(g["a"]), [2.0, 2.0])
    np.testing.assert_allclose(float(g["b"]), 6.0)


# --- unhashable aux data ---------------------------------------------------------------------

class WithMeta:
    def __init__(self, x, meta):
        self.x, self.meta = x, meta


register_pytree_node(WithMeta, lambda n: ((n.x,), n.meta), lambda m, c: WithMeta(c[0], m))


def test_dict_aux_data_treedefs():
    a = tu.tree_structure(WithMeta(1, {"a": 1, "b": [1]}))
    b = tu.tree_structure(WithMeta(2, {"b": [1], "a": 1}))
    c = tu.tree_structure(WithMeta(2, {"a": 1, "b": [2]}))
    assert a == b and hash(a) == hash(b) and a != c
    assert pickle.loads(pickle.dumps(a)) == a
    assert tu.tree_unflatten(a, [5]).meta == {"a": 1, "b": [1]}
    with pytest.raises(TypeError, match="hashable"):
        tu.tree_structure(WithMeta(1, np.zeros(2)))


def test_dict_aux_data_under_jit():
    traces = []

    def f(n):
        traces.append(1)
        return WithMeta(n.x * n.meta["k"], n.meta)

    jf = jitcore.jit(f)
    out = jf(WithMeta(np.ones(2), {"k": 2, "z": [1, 2]}))
    np.testing.assert_array_equal(np.asarray(out.x), [2, 2])
    assert out.meta == {"k": 2, "z": [1, 2]}
    jf(WithMeta(np.ones(2), {"z": [1, 2], "k": 2}))  # equal aux data: a cache hit
    assert len(traces) == 1
    out = jf(WithMeta(np.ones(2), {"z": [1, 2], "k": 3}))  # different aux data: a retrace
    assert len(traces) == 2
    np.testing.assert_array_equal(np.asarray(out.x), [3, 3])
