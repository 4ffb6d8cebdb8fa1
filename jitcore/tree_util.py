"""Pytrees: nested containers of leaves, with JAX's ``jax.tree_util`` semantics.

Nodes: tuple, list, dict (children in sorted-key order), None (no children), namedtuples,
OrderedDict (insertion order), defaultdict (sorted keys; default_factory is in the treedef) and
registered classes. Dispatch is on the exact ``type(x)`` (a dict subclass is a leaf unless
registered); everything else is a leaf.

``tree_flatten`` runs on every jitted call, so it is written for speed: one dict lookup per
value, the leaf test inlined in container loops, and interned treedefs, so building one is a
dict hit and the jit cache hashes and compares them by a stored hash and identity.

A structure has two forms. ``spec``, built by flatten, is a flat preorder tuple of tokens:
``None`` for a leaf; ``type, n`` for a tuple/list/namedtuple of n children; ``type, aux, n`` for
other nodes (aux: dict keys, ``(default_factory, keys)`` or registered aux_data). A flat tuple
is cheaper to build and hash than a nested one, and tuple ``==``/``hash`` are structural.
``node``, the nested form ``None | (type, aux, children)``, is parsed once per interned treedef
and serves unflatten, repr and children.
"""
import collections
import dataclasses
import functools

__all__ = [
    "PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure", "tree_map",
    "tree_all", "tree_reduce", "register_pytree_node", "register_pytree_node_class",
    "register_dataclass", "treedef_is_leaf", "treedef_is_strict_leaf", "all_leaves",
    "GetAttrKey", "DictKey", "SequenceKey", "FlattenedIndexKey", "keystr",
    "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path", "tree_transpose",
    "tree_broadcast", "register_pytree_with_keys", "register_pytree_with_keys_class",
    "register_static", "Partial",
]

# Kind codes. Small ints compare fastest; ``_KIND`` maps every type seen so far to its code,
# leaf types included, so a leaf costs one dict hit (unknown types are classified once, then
# cached; registering a type later overwrites its entry).
_LEAF, _TUPLE, _LIST, _DICT, _NONE, _NAMEDTUPLE, _ORDEREDDICT, _DEFAULTDICT, _CUSTOM = range(9)
_KIND = {
    tuple: _TUPLE, list: _LIST, dict: _DICT, type(None): _NONE,
    collections.OrderedDict: _ORDEREDDICT, collections.defaultdict: _DEFAULTDICT,
}
_BUILTIN_NODES = frozenset(_KIND)  # node types that may not be re-registered
_KIND.update(dict.fromkeys((float, int, bool, complex, str, bytes), _LEAF))
_CUSTOM_FNS = {}  # type -> (flatten_fn, unflatten_fn)
_DATA_FIELDS = {}  # dataclass type -> names of its data fields (for key paths)


def _classify(t):
    # JAX's namedtuple test: a tuple subclass with ``_fields``. The class itself is the node type.
    kind = _NAMEDTUPLE if issubclass(t, tuple) and hasattr(t, "_fields") else _LEAF
    _KIND[t] = kind
    return kind


def _sorted_keys(d):
    try:
        return tuple(sorted(d))
    except TypeError as e:  # as JAX: an order that depends on insertion would split treedefs
        raise ValueError(f"pytree dict keys must be mutually comparable to be sorted: "
                         f"{list(d)!r} ({e}).") from None


def _flatten(x, leaves, spec, kget=_KIND.get):
    """Append x's leaves to ``leaves`` and its tokens to ``spec``.

    The leaf test is inlined in the child loop so a leaf child costs no call, and dict values
    come from ``map`` rather than a comprehension (an extra frame on 3.11)."""
    t = type(x)
    k = kget(t)
    if k is None:
        k = _classify(t)
    if k == _LEAF:
        leaves.append(x)
        spec.append(None)
        return
    spec.append(t)
    if k == _TUPLE or k == _LIST:
        spec.append(len(x))
        children = x
    elif k == _DICT:
        if not x:  # the usual empty **kwargs of a jitted call
            spec.append(())
            spec.append(0)
            return
        keys = _sorted_keys(x)
        spec.append(keys)
        spec.append(len(keys))
        children = map(x.__getitem__, keys)
    else:
        children, aux = _node_children(x, t, k)
        if k != _NAMEDTUPLE:
            spec.append(aux)
        spec.append(len(children))
    for c in children:
        if kget(type(c)) == _LEAF:
            leaves.append(c)
            spec.append(None)
        else:
            _flatten(c, leaves, spec)


def _node_children(x, t, k):
    """(children, aux) of a node of kind k (rarer kinds; dict and tuple are inlined above)."""
    if k == _TUPLE or k == _LIST or k == _NAMEDTUPLE:
        return x, None
    if k == _NONE:
        return (), None
    if k == _DICT or k == _ORDEREDDICT:
        keys = tuple(x) if k == _ORDEREDDICT else _sorted_keys(x)
        return [x[key] for key in keys], keys
    if k == _DEFAULTDICT:
        keys = _sorted_keys(x)
        return [x[key] for key in keys], (x.default_factory, keys)
    children, aux = _CUSTOM_FNS[t][0](x)
    return list(children), aux


def _flatten_is_leaf(x, leaves, spec, is_leaf):
    """``_flatten`` with a user predicate that can stop recursion at any subtree."""
    t = type(x)
    k = _KIND.get(t)
    if k is None:
        k = _classify(t)
    if is_leaf(x) or k == _LEAF:  # JAX asks the predicate about every subtree, leaves too
        leaves.append(x)
        spec.append(None)
        return
    children, aux = _node_children(x, t, k)
    spec.append(t)
    if k != _TUPLE and k != _LIST and k != _NAMEDTUPLE:
        spec.append(aux)
    spec.append(len(children))
    for c in children:
        _flatten_is_leaf(c, leaves, spec, is_leaf)


def _parse(spec, i):
    """Nested node of the subtree whose tokens start at spec[i], and the index after it."""
    t = spec[i]
    if t is None:
        return None, i + 1
    k = _KIND[t]
    if k == _TUPLE or k == _LIST or k == _NAMEDTUPLE:
        aux, n, i = None, spec[i + 1], i + 2
    else:
        aux, n, i = spec[i + 1], spec[i + 2], i + 3
    children = []
    for _ in range(n):
        c, i = _parse(spec, i)
        children.append(c)
    return (t, aux, tuple(children)), i


def _build(node, it):
    """Rebuild a value from ``node``, drawing leaves from iterator ``it``."""
    if node is None:
        return next(it)
    t, aux, children = node
    k = _KIND[t]
    if k == _TUPLE:
        return tuple([next(it) if c is None else _build(c, it) for c in children])
    if k == _LIST:
        return [next(it) if c is None else _build(c, it) for c in children]
    if k == _DICT or k == _ORDEREDDICT:
        return t(zip(aux, [_build(c, it) for c in children]))
    if k == _NONE:
        return None
    if k == _NAMEDTUPLE:
        return t(*[_build(c, it) for c in children])
    if k == _DEFAULTDICT:
        return t(aux[0], zip(aux[1], [_build(c, it) for c in children]))
    return _CUSTOM_FNS[t][1](aux, tuple([_build(c, it) for c in children]))


def _compile_builder(node, num_nodes):
    """A function leaves -> tree for ``node``, generated as one Python expression (as
    namedtuple and dataclasses do) so that rebuilding costs no per-node call. Objects (types,
    keys, aux data) reach the code through its namespace, never through its text. Returns
    ``_build`` bound to node for trees too large or deep to be worth compiling."""
    if num_nodes > 256:
        return lambda leaves: _build(node, iter(leaves))
    ns = {}
    leaf_index = iter(range(num_nodes))

    def name(obj):
        ns[f"c{len(ns)}"] = obj
        return f"c{len(ns) - 1}"

    def expr(node, depth):
        if depth > 48:  # stay far from the parser's nesting limit
            raise RecursionError
        if node is None:
            return f"L[{next(leaf_index)}]"
        t, aux, children = node
        k = _KIND[t]
        es = [expr(c, depth + 1) for c in children]
        if k == _TUPLE:
            return "(" + "".join(e + ", " for e in es) + ")"
        if k == _LIST:
            return "[" + ", ".join(es) + "]"
        if k == _NONE:
            return "None"
        if k == _NAMEDTUPLE:
            return f"{name(t)}({', '.join(es)})"
        if k == _CUSTOM:
            return f"{name(_CUSTOM_FNS[t][1])}({name(aux)}, ({''.join(e + ', ' for e in es)}))"
        keys = aux[1] if k == _DEFAULTDICT else aux
        items = "{" + ", ".join(f"{name(key)}: {e}" for key, e in zip(keys, es)) + "}"
        if k == _DICT:
            return items
        return f"{name(t)}({name(aux[0])}, {items})" if k == _DEFAULTDICT else f"{name(t)}({items})"

    try:
        source = f"def build(L):\n    return {expr(node, 0)}\n"
    except RecursionError:
        return lambda leaves: _build(node, iter(leaves))
    exec(source, ns)
    return ns["build"]


def _count(node):
    """(num_leaves, num_nodes) of a node; leaves and None count as nodes, as in JAX."""
    if node is None:
        return 1, 1
    counts = [_count(c) for c in node[2]]
    return sum(c[0] for c in counts), 1 + sum(c[1] for c in counts)


def _node_str(node):
    """JAX's treedef notation: builtins as literals, other nodes as CustomNode(Name[aux], [...])."""
    if node is None:
        return "*"
    t, aux, children = node
    k = _KIND[t]
    parts = [_node_str(c) for c in children]
    if k == _TUPLE:
        return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
    if k == _LIST:
        return "[" + ", ".join(parts) + "]"
    if k == _DICT:
        return "{" + ", ".join(f"{key!r}: {p}" for key, p in zip(aux, parts)) + "}"
    if k == _NONE:
        return "None"
    name, aux = ("namedtuple", t.__name__) if k == _NAMEDTUPLE else (t.__name__, aux)
    return f"CustomNode({name}[{aux}], [{', '.join(parts)}])"


class PyTreeDef:
    """The structure of a pytree: everything but the leaves. Immutable, hashable, interned."""
    __slots__ = ("_spec", "_hash", "num_leaves", "num_nodes", "_node", "_builder", "_uses")

    def __init__(self, spec, spec_hash=None):
        self._spec = spec
        self._hash = hash(spec) if spec_hash is None else spec_hash
        self._node = node = _parse(spec, 0)[0]
        self.num_leaves, self.num_nodes = _count(node)
        # leaves -> tree; a flat tuple is just tuple(leaves). Others get a compiled builder
        # after a few unflattens (see tree_unflatten): compiling costs ~50 us, so structures
        # used once or twice never pay for it.
        self._builder = tuple if spec[0] is tuple and spec[2:] == (None,) * spec[1] else None
        self._uses = 0

    def children(self):
        """Treedefs of the immediate children (empty for a leaf)."""
        spec, out = self._spec, []
        if spec[0] is not None:  # children's tokens follow the node's own 2 or 3 tokens
            i = 2 if _KIND[spec[0]] in (_TUPLE, _LIST, _NAMEDTUPLE) else 3
            for _ in range(spec[i - 1]):
                end = _parse(spec, i)[1]
                out.append(_intern(spec[i:end]))
                i = end
        return out

    def unflatten(self, leaves):
        return tree_unflatten(self, leaves)

    def flatten_up_to(self, tree):
        """Leaves of ``tree`` cut at this structure: where self has a leaf, take tree's subtree."""
        out = []
        _flatten_up_to(self._node, tree, out)
        return out

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is not PyTreeDef:
            return NotImplemented
        return self._hash == other._hash and self._spec == other._spec

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"PyTreeDef({_node_str(self._node)})"

    def __reduce__(self):
        return (_intern, (self._spec,))


# Interning: equal structures share one PyTreeDef, so building one on the hot path is a dict
# hit and the jit cache compares treedefs by identity. Cleared when large so odd workloads
# (e.g. ever-changing dict keys) cannot grow it without bound; correctness never depends on
# it, since == is structural.
_INTERN = {}
_INTERN_MAX = 8192
_COMPILE_AFTER_USES = 4


def _intern(spec):
    try:
        td = _INTERN.get(spec)
    except TypeError:  # unhashable aux_data (a dict, a list): intern by a frozen copy
        return _intern_unhashable(spec)
    if td is None:
        if len(_INTERN) >= _INTERN_MAX:
            _INTERN.clear()
        td = _INTERN[spec] = PyTreeDef(spec)
    return td


class _Frozen(tuple):
    """Tag for a frozen unhashable value, so that it never equals a plain tuple token."""
    __slots__ = ()


def _freeze(v):
    """A hashable stand-in for aux data that is equal exactly when the data is equal:
    dicts (any key order), lists and sets are frozen recursively. Other unhashable values
    have no structural hash, so they are rejected with the reason."""
    try:
        hash(v)
        return v
    except TypeError:
        pass
    if isinstance(v, dict):
        return _Frozen(("dict", frozenset((k, _freeze(x)) for k, x in v.items())))
    if isinstance(v, (list, tuple)):
        return _Frozen((type(v).__name__,) + tuple(_freeze(x) for x in v))
    if isinstance(v, (set, frozenset)):
        return _Frozen(("set", frozenset(_freeze(x) for x in v)))
    raise TypeError(f"pytree aux_data must be hashable (or a dict/list/set of hashable "
                    f"values) to be part of a treedef; got {type(v).__name__}: {v!r:.80}")


def _intern_unhashable(spec):
    frozen = _freeze(spec)
    td = _INTERN.get(frozen)
    if td is None or td._spec != spec:
        if len(_INTERN) >= _INTERN_MAX:
            _INTERN.clear()
        td = _INTERN[frozen] = PyTreeDef(spec, hash(frozen))
    return td


# Tuples of n plain leaves (the usual positional-args case) skip even the intern lookup.
_FLAT_TUPLE_DEFS = [_intern((tuple, n) + (None,) * n) for n in range(17)]


def _flatten_up_to(node, x, out):
    if node is None:
        out.append(x)
        return
    t, aux, children = node
    k = _KIND[t]
    if type(x) is not t:  # exact type, as JAX (an OrderedDict does not match a dict)
        raise ValueError(f"pytree structure mismatch: expected {t.__name__}, got "
                         f"{type(x).__name__}: {x!r}.")
    if k == _DICT or k == _ORDEREDDICT or k == _DEFAULTDICT:
        keys = aux[1] if k == _DEFAULTDICT else aux
        if x.keys() != set(keys):
            raise ValueError(f"pytree structure mismatch: expected dict keys {list(keys)}, "
                             f"got {list(x)}.")
        xs = [x[key] for key in keys]
    elif k == _TUPLE or k == _LIST or k == _NAMEDTUPLE:
        if len(x) != len(children):
            raise ValueError(f"pytree structure mismatch: {t.__name__} arity: expected "
                             f"{len(children)}, got {len(x)}: {x!r}.")
        xs = x
    elif k == _NONE:
        return
    else:
        xs, x_aux = _CUSTOM_FNS[t][0](x)
        xs = list(xs)
        if x_aux != aux or len(xs) != len(children):
            raise ValueError(f"pytree structure mismatch: custom node {t.__name__}: expected aux "
                             f"{aux!r} with {len(children)} children, got {x_aux!r} with "
                             f"{len(xs)}.")
    for c, cx in zip(children, xs):
        _flatten_up_to(c, cx, out)


def tree_flatten(tree, is_leaf=None):
    """Return ``(leaves, treedef)``: leaves left to right, and the structure to rebuild tree."""
    if is_leaf is None:
        if type(tree) is tuple and len(tree) <= 16:
            # Fast path for a tuple of plain leaves: no recursion, no hashing.
            kget = _KIND.get
            for c in tree:
                if kget(type(c)) != _LEAF:
                    break
            else:
                return list(tree), _FLAT_TUPLE_DEFS[len(tree)]
        leaves = []
        spec = []
        _flatten(tree, leaves, spec)
    else:
        leaves = []
        spec = []
        _flatten_is_leaf(tree, leaves, spec, is_leaf)
    spec = tuple(spec)
    try:
        td = _INTERN.get(spec)
    except TypeError:  # unhashable aux_data
        td = None
    if td is None:
        td = _intern(spec)
    return leaves, td


def tree_unflatten(treedef, leaves):
    """Rebuild a pytree of structure ``treedef`` from an iterable of leaves."""
    if type(leaves) is not list and type(leaves) is not tuple:
        leaves = list(leaves)
    n = treedef.num_leaves
    if len(leaves) != n:
        few = "few" if len(leaves) < n else "many"
        raise ValueError(f"Too {few} leaves for {treedef!r}: expected {n}, got {len(leaves)}.")
    builder = treedef._builder
    if builder is not None:
        return builder(leaves)
    node = treedef._node
    if node is None:
        return leaves[0]
    treedef._uses += 1
    if treedef._uses == _COMPILE_AFTER_USES:
        treedef._builder = _compile_builder(node, treedef.num_nodes)
    return _build(node, iter(leaves))


def tree_leaves(tree, is_leaf=None):
    leaves = []
    if is_leaf is None:
        _flatten(tree, leaves, [])
    else:
        _flatten_is_leaf(tree, leaves, [], is_leaf)
    return leaves


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f, tree, *rest, is_leaf=None):
    """Apply ``f`` leafwise. Each tree in ``rest`` must match ``tree``'s structure down to
    tree's leaves; where ``tree`` has a leaf, the whole corresponding subtree is passed."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return tree_unflatten(treedef, [f(x) for x in leaves])
    others = [treedef.flatten_up_to(r) for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])


def tree_all(tree, *, is_leaf=None):
    return all(tree_leaves(tree, is_leaf))


_NO_INITIALIZER = object()


def tree_reduce(function, tree, initializer=_NO_INITIALIZER, is_leaf=None):
    if initializer is _NO_INITIALIZER:
        return functools.reduce(function, tree_leaves(tree, is_leaf))
    return functools.reduce(function, tree_leaves(tree, is_leaf), initializer)


def treedef_is_leaf(treedef):
    # JAX's definition: a single node. True for a leaf, and also for None and () (JAX quirk).
    return treedef.num_nodes == 1


def treedef_is_strict_leaf(treedef):
    return treedef._spec == (None,)


def all_leaves(iterable, is_leaf=None):
    """True if every element of ``iterable`` is a leaf (None is a node, so it is not)."""
    return all(tree_structure(x, is_leaf)._spec == (None,) for x in iterable)


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Make ``nodetype`` a node: ``flatten_func(x) -> (children, aux_data)`` and
    ``unflatten_func(aux_data, children) -> x``. aux_data must be hashable and comparable."""
    if nodetype in _BUILTIN_NODES or nodetype in _CUSTOM_FNS:
        raise ValueError(f"Duplicate custom PyTreeDef type registration for {nodetype!r}.")
    _CUSTOM_FNS[nodetype] = (flatten_func, unflatten_func)
    _KIND[nodetype] = _CUSTOM  # overwrites a cached "leaf" classification


def register_pytree_node_class(cls):
    """Class decorator: register ``cls`` using ``x.tree_flatten()`` and
    ``cls.tree_unflatten(aux_data, children)``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(nodetype, data_fields=None, meta_fields=None, drop_fields=()):
    """Register a dataclass: ``data_fields`` are children, ``meta_fields`` go into the treedef.
    With neither given, fields come from ``dataclasses.fields`` (those with
    ``metadata={'static': True}`` are meta, the rest data). Usable as a bare decorator."""
    if (data_fields is None) != (meta_fields is None):
        raise TypeError("register_dataclass: give both data_fields and meta_fields, or neither.")
    if data_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass: {nodetype!r} is not a dataclass; apply "
                            "@dataclasses.dataclass first or pass data_fields/meta_fields.")
        fields = [f for f in dataclasses.fields(nodetype) if f.name not in drop_fields]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    _DATA_FIELDS[nodetype] = data_fields

    def flatten(x):
        return ([getattr(x, n) for n in data_fields],
                tuple([getattr(x, n) for n in meta_fields]))

    def unflatten(meta, data):
        kwargs = dict(zip(meta_fields, meta))
        kwargs.update(zip(data_fields, data))
        return nodetype(**kwargs)

    register_pytree_node(nodetype, flatten, unflatten)
    return nodetype


# Key paths, Partial and the keyed registrations build on the core above (imported last, as
# they read its tables).
from .tree_paths import (  # noqa: E402,F401
    DictKey, FlattenedIndexKey, GetAttrKey, Partial, SequenceKey, keystr, register_pytree_with_keys,
    register_pytree_with_keys_class, register_static, tree_broadcast, tree_flatten_with_path,
    tree_leaves_with_path, tree_map_with_path, tree_transpose)

from jitcore._missing import missing_names as _missing_names  # noqa: E402
__getattr__ = _missing_names(__name__, globals())
