"""Tests for jitcore.tree_util: JAX's pytree semantics for every node kind, treedef identity,
registration APIs, and a round-trip property over random nested structures."""
import collections
import dataclasses
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jitcore import tree_util as tu
from jitcore.tree_util import (
    PyTreeDef, all_leaves, register_dataclass, register_pytree_node,
    register_pytree_node_class, tree_all, tree_flatten, tree_leaves, tree_map, tree_reduce,
    tree_structure, tree_unflatten, treedef_is_leaf, treedef_is_strict_leaf,
)

Point = collections.namedtuple("Point", ["x", "y"])
Other = collections.namedtuple("Other", ["x", "y"])


class Pair:
    """Registered with register_pytree_node; ``tag`` is aux data."""

    def __init__(self, a, b, tag="t"):
        self.a, self.b, self.tag = a, b, tag


register_pytree_node(Pair, lambda p: ((p.a, p.b), p.tag), lambda tag, ch: Pair(*ch, tag=tag))


@register_pytree_node_class
class Box:
    def __init__(self, value, name):
        self.value, self.name = value, name

    def tree_flatten(self):
        return [self.value], self.name

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], aux)


@register_dataclass
@dataclasses.dataclass
class Params:
    w: object
    b: object


@dataclasses.dataclass(frozen=True)
class Layer:
    weight: object
    size: int
    act: str = dataclasses.field(default="relu", metadata={"static": True})


register_dataclass(Layer, data_fields=["weight"], meta_fields=["size", "act"])


@dataclasses.dataclass
class Static:
    x: object
    n: int = dataclasses.field(default=3, metadata={"static": True})


register_dataclass(Static)


def roundtrip(tree, **kw):
    leaves, td = tree_flatten(tree, **kw)
    return leaves, td, tree_unflatten(td, leaves)


# ---- node kinds ---------------------------------------------------------------------------

def test_leaves_of_scalars_arrays_and_objects():
    a = np.arange(3.0)
    obj = object()
    for leaf in (1, 2.5, True, 1j, "s", b"b", a, np.float32(1.0), obj):
        leaves, td = tree_flatten(leaf)
        assert leaves[0] is leaf and len(leaves) == 1
        assert td.num_leaves == 1 and td.num_nodes == 1
        assert tree_unflatten(td, [leaf]) is leaf
        assert treedef_is_strict_leaf(td)
        assert repr(td) == "PyTreeDef(*)"


def test_tuple_and_list():
    a, b = np.ones(2), np.zeros(3)
    leaves, td, back = roundtrip((a, [b, 1.0], ()))
    assert len(leaves) == 3 and leaves[0] is a and leaves[1] is b and leaves[2] == 1.0
    assert type(back) is tuple and type(back[1]) is list and back[2] == ()
    assert back[0] is a and back[1][0] is b
    assert td.num_leaves == 3 and td.num_nodes == 6
    assert repr(td) == "PyTreeDef((*, [*, *], ()))"
    assert repr(tree_structure((1,))) == "PyTreeDef((*,))"


def test_dict_children_in_sorted_key_order_and_rebuilt_sorted():
    leaves, td, back = roundtrip({"b": 2, "a": 1, "c": (3, 4)})
    assert leaves == [1, 2, 3, 4]
    assert list(back) == ["a", "b", "c"] and back == {"a": 1, "b": 2, "c": (3, 4)}
    assert repr(td) == "PyTreeDef({'a': *, 'b': *, 'c': (*, *)})"
    # Key order of the input does not matter; the keys themselves do.
    assert tree_structure({"a": 0, "b": 0, "c": (0, 0)}) == td
    assert tree_structure({"a": 0, "x": 0, "c": (0, 0)}) != td


def test_dict_with_incomparable_keys_is_an_error():
    # As JAX: an insertion-dependent order would give equal dicts different treedefs.
    with pytest.raises(ValueError, match="comparable"):
        tree_flatten({1: "one", "a": "A"})


def test_none_is_a_node_without_children():
    leaves, td, back = roundtrip((None, 1, [None]))
    assert leaves == [1] and back == (None, 1, [None])
    assert repr(td) == "PyTreeDef((None, *, [None]))"
    td_none = tree_structure(None)
    assert td_none.num_leaves == 0 and td_none.num_nodes == 1
    assert tree_unflatten(td_none, []) is None
    assert not treedef_is_strict_leaf(td_none)
    assert treedef_is_leaf(td_none)  # JAX: a single node counts, None included


def test_namedtuple_is_a_node_typed_by_its_class():
    leaves, td, back = roundtrip(Point(1, (2, 3)))
    assert leaves == [1, 2, 3] and type(back) is Point and back == Point(1, (2, 3))
    assert repr(td) == "PyTreeDef(CustomNode(namedtuple[Point], [*, (*, *)]))"
    assert tree_structure(Point(1, 2)) != tree_structure(Other(1, 2))
    assert tree_structure(Point(1, 2)) != tree_structure((1, 2))


def test_ordereddict_keeps_insertion_order():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, td, back = roundtrip(od)
    assert leaves == [1, 2] and type(back) is collections.OrderedDict
    assert list(back.items()) == [("b", 1), ("a", 2)]
    assert td != tree_structure({"b": 1, "a": 2})
    assert td != tree_structure(collections.OrderedDict([("a", 2), ("b", 1)]))
    assert repr(td) == "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, *]))"


def test_defaultdict_keeps_default_factory_and_sorts_keys():
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, td, back = roundtrip(dd)
    assert leaves == [2, 1] and type(back) is collections.defaultdict
    assert back.default_factory is list and list(back) == ["a", "b"]
    assert back["missing"] == []
    assert td != tree_structure(collections.defaultdict(tuple, {"b": 1, "a": 2}))
    assert td != tree_structure({"a": 2, "b": 1})
    assert repr(td) == (
        "PyTreeDef(CustomNode(defaultdict[(<class 'list'>, ('a', 'b'))], [*, *]))")


def test_subclasses_of_containers_are_leaves():
    class MyList(list):
        pass

    x = MyList([1, 2])
    assert tree_leaves(x) == [x]


# ---- registration -------------------------------------------------------------------------

def test_register_pytree_node():
    leaves, td, back = roundtrip([Pair(1, (2, 3), tag="k")])
    assert leaves == [1, 2, 3]
    assert type(back[0]) is Pair and back[0].tag == "k" and back[0].b == (2, 3)
    assert repr(td) == "PyTreeDef([CustomNode(Pair[k], [*, (*, *)])])"
    # aux data is part of the structure, compared with ==
    assert tree_structure(Pair(1, 2, "k")) == tree_structure(Pair(5, 6, "k"))
    assert tree_structure(Pair(1, 2, "k")) != tree_structure(Pair(1, 2, "j"))


def test_registering_twice_or_a_builtin_is_an_error():
    with pytest.raises(ValueError, match="Duplicate"):
        register_pytree_node(Pair, lambda p: ((), None), lambda a, c: None)
    with pytest.raises(ValueError, match="Duplicate"):
        register_pytree_node(tuple, lambda p: ((), None), lambda a, c: None)


def test_type_seen_as_leaf_then_registered_becomes_a_node():
    class Late:
        def __init__(self, v):
            self.v = v

    x = Late(1)
    assert tree_leaves(x) == [x]
    register_pytree_node(Late, lambda o: ([o.v], None), lambda aux, ch: Late(ch[0]))
    assert tree_leaves(Late(7)) == [7]


def test_register_pytree_node_class():
    leaves, td, back = roundtrip({"box": Box(np.ones(2), "n")})
    assert len(leaves) == 1 and isinstance(back["box"], Box) and back["box"].name == "n"
    assert tree_structure(Box(1, "n")) != tree_structure(Box(1, "m"))


def test_register_dataclass_as_bare_decorator():
    p = Params(w=np.ones(2), b=3.0)
    leaves, td, back = roundtrip(p)
    assert leaves[1] == 3.0 and leaves[0] is p.w
    assert type(back) is Params and back.w is p.w and back.b == 3.0
    assert tree_map(lambda v: v * 2, Params(1, 2)) == Params(2, 4)


def test_register_dataclass_with_meta_fields():
    layer = Layer(weight=np.zeros(3), size=3, act="tanh")
    leaves, td, back = roundtrip(layer)
    assert len(leaves) == 1 and back.size == 3 and back.act == "tanh"
    assert tree_structure(Layer(1, 3)) != tree_structure(Layer(1, 4))
    assert tree_structure(Layer(1, 3)) == tree_structure(Layer(2, 3))
    # inferred: fields with metadata static=True are meta
    assert tree_leaves(Static(x=5, n=9)) == [5]
    assert tree_map(lambda v: v + 1, Static(x=5, n=9)) == Static(x=6, n=9)


def test_register_dataclass_errors():
    class NotDC:
        pass

    with pytest.raises(TypeError):
        register_dataclass(NotDC)
    with pytest.raises(TypeError):
        register_dataclass(NotDC, data_fields=["a"])


# ---- is_leaf, tree_map, reductions ----------------------------------------------------------

def test_is_leaf_stops_recursion():
    tree = {"a": (1, 2), "b": [3, (4, 5)]}
    leaves, td = tree_flatten(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), 3, (4, 5)]
    assert tree_unflatten(td, leaves) == tree
    # None can be made a leaf
    assert tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    # the predicate is asked about the root too
    assert tree_leaves((1, 2), is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2)]


def test_tree_map_single_and_multiple_trees():
    t1 = {"a": 1, "b": (2, 3)}
    t2 = {"b": (20, 30), "a": 10}
    assert tree_map(lambda x: x * 2, t1) == {"a": 2, "b": (4, 6)}
    assert tree_map(lambda x, y: x + y, t1, t2) == {"a": 11, "b": (22, 33)}
    assert tree_map(lambda x, y, z: x + y + z, [1], [2], [3]) == [6]
    assert tree_map(lambda x: x, None) is None


def test_tree_map_rest_trees_may_have_subtrees_where_first_has_leaves():
    out = tree_map(lambda x, y: (x, y), (1, 2), ([3, 4], {"k": 5}))
    assert out == ((1, [3, 4]), (2, {"k": 5}))
    assert tree_map(lambda x, y: y, [1], [None]) == [None]


def test_tree_map_structure_mismatch_raises():
    with pytest.raises(ValueError, match="arity"):
        tree_map(lambda x, y: x, (1, 2), (1, 2, 3))
    with pytest.raises(ValueError, match="expected tuple, got list"):
        tree_map(lambda x, y: x, (1, 2), [1, 2])
    with pytest.raises(ValueError, match="keys"):
        tree_map(lambda x, y: x, {"a": 1}, {"b": 1})
    with pytest.raises(ValueError, match="expected dict, got OrderedDict"):
        tree_map(lambda x, y: x, {"a": 1}, collections.OrderedDict(a=1))
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x, Point(1, 2), Other(1, 2))
    with pytest.raises(ValueError, match="custom node"):
        tree_map(lambda x, y: x, Pair(1, 2, "k"), Pair(1, 2, "j"))
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x, (None, 1), (2, 1))


def test_tree_map_with_is_leaf():
    out = tree_map(lambda x: len(x), {"a": [1, 2], "b": [3]}, is_leaf=lambda x: type(x) is list)
    assert out == {"a": 2, "b": 1}


def test_tree_all_and_tree_reduce():
    assert tree_all((True, [1, {"a": 2}]))
    assert not tree_all((True, [0]))
    assert tree_all(())
    assert tree_reduce(lambda a, b: a + b, (1, [2, 3])) == 6
    assert tree_reduce(lambda a, b: a + b, [], 10) == 10
    assert tree_reduce(lambda a, b: a + b, {"x": 1}, initializer=5) == 6
    with pytest.raises(TypeError):
        tree_reduce(lambda a, b: a + b, [])


def test_all_leaves():
    assert all_leaves([1, np.ones(2), "s"])
    assert not all_leaves([1, (2,)])
    assert not all_leaves([None])
    assert all_leaves([None, 1], is_leaf=lambda x: x is None)


# ---- treedefs -------------------------------------------------------------------------------

def test_treedef_equality_and_hash():
    a = ((np.ones(2), np.ones(3)), {})
    b = ((1.0, "x"), {})
    ta, tb = tree_structure(a), tree_structure(b)
    assert ta == tb and hash(ta) == hash(tb)
    assert {ta: 1}[tb] == 1
    assert tree_structure((1, 2)) != tree_structure([1, 2])
    assert tree_structure((1, 2)) != tree_structure((1, (2,)))
    assert tree_structure((1, None)) != tree_structure((1, 2))
    assert tree_structure({"a": 1}) != tree_structure({"b": 1})
    assert ta != "not a treedef"


def test_treedef_properties_and_children():
    td = tree_structure({"a": 1, "b": (2, None, [3, 4])})
    assert td.num_leaves == 4
    assert td.num_nodes == 8  # dict, a, tuple, 2, None, list, 3, 4
    kids = td.children()
    assert kids == [tree_structure(0), tree_structure((0, None, [0, 0]))]
    assert [repr(k) for k in kids[1].children()] == [
        "PyTreeDef(*)", "PyTreeDef(None)", "PyTreeDef([*, *])"]
    assert tree_structure(5).children() == []
    assert td.unflatten([1, 2, 3, 4]) == {"a": 1, "b": (2, None, [3, 4])}
    assert isinstance(td, PyTreeDef)
    assert pickle.loads(pickle.dumps(tree_structure((1, [2])))) == tree_structure((1, [2]))


def test_wrong_leaf_count_raises_with_counts():
    td = tree_structure((1, [2, 3]))
    with pytest.raises(ValueError, match="expected 3, got 2"):
        tree_unflatten(td, [1, 2])
    with pytest.raises(ValueError, match="expected 3, got 4"):
        tree_unflatten(td, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="expected 2, got 1"):
        tree_unflatten(tree_structure((1, 2)), [1])


def test_unflatten_accepts_any_iterable_and_repeated_use_is_stable():
    td = tree_structure({"a": (1, 2), "b": [Point(3, 4)], "c": None})
    for i in range(4):  # exercise the interpreted and the compiled builders
        out = tree_unflatten(td, iter(range(i, i + 4)))
        assert out == {"a": (i, i + 1), "b": [Point(i + 2, i + 3)], "c": None}


def test_deep_and_wide_trees_unflatten():
    deep = 0
    for _ in range(200):
        deep = [deep, None]
    narrow_deep = 0  # few nodes but too deep to compile: falls back to the interpreter
    for _ in range(60):
        narrow_deep = (narrow_deep,)
    wide = {f"k{i}": (i, [i]) for i in range(300)}
    for tree in (deep, narrow_deep, wide):
        leaves, td = tree_flatten(tree)
        for _ in range(3):
            assert tree_unflatten(td, leaves) == tree


def test_interned_treedefs_are_shared():
    assert tree_structure(((1, 2), {"a": 3})) is tree_structure(((4, 5), {"a": 6}))
    assert tree_structure((1, 2)) is tree_structure((np.ones(1), 2.0))


# ---- property: round trip over random nested structures -----------------------------------

_leaf = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
                  st.builds(np.zeros, st.integers(0, 3)))
_key = st.text(max_size=4)


def _containers(children):
    return st.one_of(
        st.tuples(children, children), st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=4), st.dictionaries(_key, children, max_size=4),
        st.builds(Point, children, children), st.just(None),
        st.dictionaries(_key, children, max_size=3).map(collections.OrderedDict),
        st.dictionaries(_key, children, max_size=3).map(
            lambda d: collections.defaultdict(int, d)),
        st.builds(Pair, children, children, st.sampled_from(["p", "q"])),
        st.builds(Params, children, children),
    )


_trees = st.recursive(_leaf, _containers, max_leaves=20)


def _same(x, y):
    """Structural equality that also checks container types and array identity."""
    if type(x) is not type(y):
        return False
    if isinstance(x, np.ndarray):
        return x is y
    if isinstance(x, Pair):
        return x.tag == y.tag and _same(x.a, y.a) and _same(x.b, y.b)
    if isinstance(x, Params):
        return _same(x.w, y.w) and _same(x.b, y.b)
    if isinstance(x, dict):
        if isinstance(x, collections.OrderedDict) and list(x) != list(y):
            return False
        if isinstance(x, collections.defaultdict) and x.default_factory != y.default_factory:
            return False
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    return x == y or x is y


@settings(max_examples=300, deadline=None)
@given(_trees)
def test_roundtrip_property(tree):
    leaves, td = tree_flatten(tree)
    assert td.num_leaves == len(leaves)
    assert all(a is b for a, b in zip(leaves, tree_leaves(tree), strict=True))
    for _ in range(3):  # first, second (compiles) and later unflattens
        assert _same(tree_unflatten(td, leaves), tree)
    # structure is independent of leaf values; children partition the leaves
    assert tree_structure(tree_map(lambda x: 0, tree)) == td
    assert _same(tree_map(lambda x, y: y, tree, tree), tree)
    if td.num_nodes > 1:
        assert sum(c.num_leaves for c in td.children()) == td.num_leaves
    assert isinstance(repr(td), str) and repr(td).startswith("PyTreeDef(")


def test_tuple_subclass_without_fields_is_a_leaf():
    # Unknown types are classified on first sight: namedtuples become nodes, other tuple
    # subclasses stay leaves.
    class T(tuple):
        pass

    t = T((1, 2))
    assert tree_leaves(t) == [t]
    assert tu.tree_leaves(Point(1, 2)) == [1, 2]
