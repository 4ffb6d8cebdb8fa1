"""Pytrees: nested containers of leaves, with JAX's ``jax.tree_util`` semantics.

Node kinds: tuple, list, dict (children in sorted-key order), None (a node with no children),
namedtuples, ``collections.OrderedDict`` (insertion order), ``collections.defaultdict``
(sorted keys, ``default_factory`` kept in the treedef) and registered classes. Dispatch is on
the exact ``type(x)``, so subclasses of dict/list are leaves unless registered; everything else
is a leaf.

``tree_flatten`` runs on every jitted call, so it is written for speed: one dict lookup per
value, the leaf check inlined in container loops, and treedefs interned so that building one is
a dict hit and hashing/comparing one in the jit cache is an attribute read / identity check.

A structure is encoded two ways. ``spec``, built by flatten, is a flat preorder tuple of
tokens: ``None`` for a leaf; ``type, n`` for tuple/list/namedtuple with n children; ``type, aux,
n`` for every other node (aux: dict keys, ``(default_factory, keys)``, or registered aux_data).
A flat tuple is cheaper to build and hash than a nested one, and tuple ``==``/``hash`` make
equal structures equal. ``node``, the nested form ``None | (type, aux, children)``, is parsed from
the spec once per interned treedef and used to unflatten, print and take children.
"""
import collections
import functools

__all__ = [
    "PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure", "tree_map",
    "tree_all", "tree_reduce", "register_pytree_node", "register_pytree_node_class",
    "register_dataclass", "treedef_is_leaf", "treedef_is_strict_leaf", "treedef_children",
    "all_leaves",
]

# Kind codes. Small ints compare fastest; ``_KIND`` maps every type seen so far to its code,
# leaf types included, so a leaf costs one dict hit (unknown types are classified once, then
# cached; registering a type later overwrites its entry).
_LEAF, _TUPLE, _LIST, _DICT, _NONE, _NAMEDTUPLE, _ORDEREDDICT, _DEFAULTDICT, _CUSTOM = range(9)
_KIND = {
    tuple: _TUPLE, list: _LIST, dict: _DICT, type(None): _NONE,
    collections.OrderedDict: _ORDEREDDICT, collections.defaultdict: _DEFAULTDICT,
    float: _LEAF, int: _LEAF, bool: _LEAF, complex: _LEAF, str: _LEAF, bytes: _LEAF,
}
_BUILTIN_NODES = frozenset(_KIND)  # types that may not be re-registered
_CUSTOM_FNS = {}  # type -> (flatten_fn, unflatten_fn)


def _classify(t):
    # JAX's namedtuple test: a tuple subclass with ``_fields``. The class itself is the node type.
    kind = _NAMEDTUPLE if issubclass(t, tuple) and hasattr(t, "_fields") else _LEAF
    _KIND[t] = kind
    return kind


def _sorted_keys(d):
    try:
        return tuple(sorted(d))
    except TypeError:  # incomparable keys (e.g. mixed types): keep insertion order, as JAX does
        return tuple(d)


def _flatten(x, leaves, spec, kget=_KIND.get):
    """Append x's leaves to ``leaves`` and its tokens to ``spec``.

    Explicit loops rather than comprehensions (on 3.11 a comprehension is an extra frame), and
    the leaf test is inlined so a leaf child costs no call."""
    t = type(x)
    k = kget(t)
    if k is None:
        k = _classify(t)
    if k == _LEAF:
        leaves.append(x)
        spec.append(None)
    elif k == _TUPLE or k == _LIST:
        spec.append(t)
        spec.append(len(x))
        for c in x:
            if kget(type(c)) == _LEAF:
                leaves.append(c)
                spec.append(None)
            else:
                _flatten(c, leaves, spec)
    elif k == _DICT:
        keys = _sorted_keys(x) if x else ()
        spec.append(t)
        spec.append(keys)
        spec.append(len(keys))
        for key in keys:
            c = x[key]
            if kget(type(c)) == _LEAF:
                leaves.append(c)
                spec.append(None)
            else:
                _flatten(c, leaves, spec)
    else:
        children, aux = _node_children(x, t, k)
        if k == _NAMEDTUPLE:
            spec.append(t)
        else:
            spec.append(t)
            spec.append(aux)
        spec.append(len(children))
        for c in children:
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


def _encode(node, spec):
    """Inverse of ``_parse``: append node's tokens to ``spec``."""
    if node is None:
        spec.append(None)
        return
    t, aux, children = node
    spec.append(t)
    if _KIND[t] not in (_TUPLE, _LIST, _NAMEDTUPLE):
        spec.append(aux)
    spec.append(len(children))
    for c in children:
        _encode(c, spec)


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


def _count(node):
    """(num_leaves, num_nodes) of a node; leaves and None count as nodes, as in JAX."""
    if node is None:
        return 1, 1
    leaves, nodes = 0, 1
    for c in node[2]:
        cl, cn = _count(c)
        leaves += cl
        nodes += cn
    return leaves, nodes


def _node_str(node):
    if node is None:
        return "*"
    t, aux, children = node
    k = _KIND[t]
    parts = [_node_str(c) for c in children]
    if k == _TUPLE:
        return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
    if k == _LIST:
        return "[" + ", ".join(parts) + "]"
    if k == _NONE:
        return "None"
    if k == _NAMEDTUPLE:
        return t.__name__ + "(" + ", ".join(f"{f}={p}" for f, p in zip(t._fields, parts)) + ")"
    if k in (_DICT, _ORDEREDDICT, _DEFAULTDICT):
        keys = aux[1] if k == _DEFAULTDICT else aux
        body = "{" + ", ".join(f"{key!r}: {p}" for key, p in zip(keys, parts)) + "}"
        if k == _DICT:
            return body
        return f"{t.__name__}({aux[0]!r}, {body})" if k == _DEFAULTDICT else f"OrderedDict({body})"
    return f"CustomNode({t.__name__}[{aux!r}], [{', '.join(parts)}])"


class PyTreeDef:
    """The structure of a pytree: everything but the leaves. Immutable, hashable, interned."""
    __slots__ = ("_spec", "_hash", "num_leaves", "_node", "_num_nodes", "_flat_tuple")

    def __init__(self, spec):
        self._spec = spec
        self._hash = hash(spec)  # also rejects unhashable aux_data up front
        self._node = node = _parse(spec, 0)[0]
        self.num_leaves, self._num_nodes = _count(node)
        # Once per interned treedef, so unflatten of a flat tuple is just tuple(leaves).
        self._flat_tuple = spec[0] is tuple and spec[2:] == (None,) * spec[1]

    @property
    def num_nodes(self):
        return self._num_nodes

    def children(self):
        """Treedefs of the immediate children (empty for a leaf)."""
        return [] if self._node is None else [_from_node(c) for c in self._node[2]]

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


def _intern(spec):
    td = _INTERN.get(spec)
    if td is None:
        if len(_INTERN) >= _INTERN_MAX:
            _INTERN.clear()
        td = _INTERN[spec] = PyTreeDef(spec)
    return td


def _from_node(node):
    spec = []
    _encode(node, spec)
    return _intern(tuple(spec))


# Tuples of n plain leaves (the usual positional-args case) skip even the intern lookup.
_FLAT_TUPLE_DEFS = [_intern((tuple, n) + (None,) * n) for n in range(17)]


def _flatten_up_to(node, x, out):
    if node is None:
        out.append(x)
        return
    t, aux, children = node
    k = _KIND[t]
    if k == _DICT or k == _ORDEREDDICT or k == _DEFAULTDICT:
        keys = aux[1] if k == _DEFAULTDICT else aux
        if not isinstance(x, dict):
            raise ValueError(f"Expected a dict with keys {list(keys)}, got {x!r}.")
        if (set(x) != set(keys)) or len(x) != len(keys):
            raise ValueError(f"Dict key mismatch: expected keys {list(keys)}, got {list(x)}.")
        xs = [x[key] for key in keys]
    elif type(x) is not t:
        raise ValueError(f"Expected {t.__name__}, got {type(x).__name__}: {x!r}.")
    elif k == _TUPLE or k == _LIST or k == _NAMEDTUPLE:
        if len(x) != len(children):
            raise ValueError(f"{t.__name__} arity mismatch: expected {len(children)}, "
                             f"got {len(x)}: {x!r}.")
        xs = x
    elif k == _NONE:
        return
    else:
        xs, x_aux = _CUSTOM_FNS[t][0](x)
        xs = list(xs)
        if x_aux != aux or len(xs) != len(children):
            raise ValueError(f"Custom node mismatch for {t.__name__}: expected aux {aux!r} with "
                             f"{len(children)} children, got {x_aux!r} with {len(xs)}.")
    for c, cx in zip(children, xs):
        _flatten_up_to(c, cx, out)


def tree_flatten(tree, is_leaf=None):
    """Return ``(leaves, treedef)``: leaves left to right, and the structure to rebuild tree."""
    leaves = []
    spec = []
    if is_leaf is None:
        if type(tree) is tuple and len(tree) <= 16:
            # Fast path for a tuple of plain leaves: no recursion, no hashing.
            kget = _KIND.get
            for c in tree:
                if kget(type(c)) != _LEAF:
                    break
            else:
                return list(tree), _FLAT_TUPLE_DEFS[len(tree)]
        _flatten(tree, leaves, spec)
    else:
        _flatten_is_leaf(tree, leaves, spec, is_leaf)
    spec = tuple(spec)
    td = _INTERN.get(spec)
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
    node = treedef._node
    if node is None:
        return leaves[0]
    if treedef._flat_tuple:
        return tuple(leaves)
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


def treedef_children(treedef):
    return treedef.children()


def all_leaves(iterable, is_leaf=None):
    """True if every element of ``iterable`` is a leaf (None is a node, so it is not)."""
    if is_leaf is None:
        return all(_KIND.get(type(x), None) == _LEAF or tree_structure(x)._spec == (None,)
                   for x in iterable)
    return all(tree_structure(x, is_leaf)._spec == (None,) for x in iterable)


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Make ``nodetype`` a node: ``flatten_func(x) -> (children, aux_data)`` and
    ``unflatten_func(aux_data, children) -> x``. aux_data must be hashable and comparable."""
    if nodetype in _BUILTIN_NODES or nodetype in _CUSTOM_FNS:
        raise ValueError(f"Duplicate custom PyTreeDef type registration for {nodetype!r}.")
    _CUSTOM_FNS[nodetype] = (flatten_func, unflatten_func)
    _KIND[nodetype] = _CUSTOM  # overwrites a cached "leaf" classification
    return nodetype


def register_pytree_node_class(cls):
    """Class decorator: register ``cls`` using ``x.tree_flatten()`` and
    ``cls.tree_unflatten(aux_data, children)``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(nodetype, data_fields=None, meta_fields=None, drop_fields=()):
    """Register a dataclass: ``data_fields`` are children, ``meta_fields`` go into the treedef.
    With neither given, fields come from ``dataclasses.fields`` (those with
    ``metadata={'static': True}`` are meta, the rest data). Usable as a bare decorator."""
    import dataclasses

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

    def flatten(x):
        return ([getattr(x, n) for n in data_fields],
                tuple([getattr(x, n) for n in meta_fields]))

    def unflatten(meta, data):
        kwargs = dict(zip(meta_fields, meta))
        kwargs.update(zip(data_fields, data))
        return nodetype(**kwargs)

    register_pytree_node(nodetype, flatten, unflatten)
    return nodetype
