"""Key paths of pytrees, and the rest of ``jax.tree_util``'s surface built on the core.

A leaf's key path is the tuple of keys that lead from the root to it: ``SequenceKey(i)`` into
a tuple or list, ``DictKey(k)`` into a dict (sorted keys) or OrderedDict (insertion order),
``GetAttrKey(name)`` into a namedtuple field or a registered dataclass field, and
``FlattenedIndexKey(i)`` into a custom node registered without keys. ``None`` is a node with
no children, so it contributes no path. Paths follow the same traversal as ``tree_flatten``,
so ``tree_flatten_with_path`` lists exactly the leaves ``tree_flatten`` does, in order.
"""
import functools

from . import tree_util as _tu

__all__ = [
    "GetAttrKey", "DictKey", "SequenceKey", "FlattenedIndexKey", "keystr",
    "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path", "tree_transpose",
    "tree_broadcast", "register_pytree_with_keys", "register_pytree_with_keys_class",
    "register_static", "Partial",
]


class _Key:
    """Common base: keys compare and hash by (class, value), as JAX's do."""
    __slots__ = ()
    _field = None

    def _value(self):
        return getattr(self, self._field)

    def __eq__(self, other):
        return type(other) is type(self) and self._value() == other._value()

    def __hash__(self):
        return hash((type(self).__name__, self._value()))

    def __repr__(self):
        return f"{type(self).__name__}({self._field}={self._value()!r})"


class SequenceKey(_Key):
    __slots__ = ("idx",)
    __match_args__ = ("idx",)
    _field = "idx"

    def __init__(self, idx):
        self.idx = idx

    def __str__(self):
        return f"[{self.idx!r}]"


class DictKey(_Key):
    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __init__(self, key):
        self.key = key

    def __str__(self):
        return f"[{self.key!r}]"


class GetAttrKey(_Key):
    __slots__ = ("name",)
    __match_args__ = ("name",)
    _field = "name"

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(_Key):
    __slots__ = ("key",)
    __match_args__ = ("key",)
    _field = "key"

    def __init__(self, key):
        self.key = key

    def __str__(self):
        return f"[<flat index {self.key}>]"


def _simple(k):
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, (DictKey, FlattenedIndexKey)):
        return str(k.key)
    if isinstance(k, GetAttrKey):
        return str(k.name)
    return str(k)


def keystr(keys, *, simple=False, separator=""):
    """A key path as a string: ``"['b'][0]"``; with ``simple=True`` only the bare keys
    (``"b/0"`` with ``separator="/"``)."""
    return separator.join(_simple(k) if simple else str(k) for k in keys)


# type -> function x -> (((key, child), ...), aux) for nodes registered with keys.
_KEYED_FNS = {}


def _keyed_children(x, is_leaf):
    """None for a leaf, else the (key, child) pairs of node x, in flatten order."""
    t = type(x)
    k = _tu._KIND.get(t)
    if k is None:
        k = _tu._classify(t)
    if k == _tu._LEAF or (is_leaf is not None and is_leaf(x)):
        return None
    if k == _tu._TUPLE or k == _tu._LIST:
        return [(SequenceKey(i), c) for i, c in enumerate(x)]
    if k == _tu._NAMEDTUPLE:
        return [(GetAttrKey(f), c) for f, c in zip(t._fields, x)]
    if k == _tu._NONE:
        return []
    if k == _tu._CUSTOM:
        if t in _KEYED_FNS:
            return list(_KEYED_FNS[t](x)[0])
        children = _tu._node_children(x, t, k)[0]
        fields = _tu._DATA_FIELDS.get(t)
        if fields is not None:
            return [(GetAttrKey(f), c) for f, c in zip(fields, children)]
        return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)]
    children, aux = _tu._node_children(x, t, k)
    keys = aux[1] if k == _tu._DEFAULTDICT else aux
    return [(DictKey(key), c) for key, c in zip(keys, children)]


def _walk(x, path, out, is_leaf):
    pairs = _keyed_children(x, is_leaf)
    if pairs is None:
        out.append((path, x))
        return
    for key, c in pairs:
        _walk(c, path + (key,), out, is_leaf)


def tree_leaves_with_path(tree, is_leaf=None):
    """``[(key_path, leaf), ...]`` in the order of ``tree_leaves``."""
    out = []
    _walk(tree, (), out, is_leaf)
    return out


def tree_flatten_with_path(tree, is_leaf=None):
    """``([(key_path, leaf), ...], treedef)``."""
    return tree_leaves_with_path(tree, is_leaf), _tu.tree_structure(tree, is_leaf)


def tree_map_with_path(f, tree, *rest, is_leaf=None):
    """``tree_map`` whose ``f`` also receives each leaf's key path: ``f(path, x, *xs)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    """Turn a tree of structure outer(inner(leaves)) into inner(outer(leaves)). With
    ``inner_treedef=None`` it is the structure of the first outer leaf."""
    try:
        flat = outer_treedef.flatten_up_to(pytree_to_transpose)
        if inner_treedef is None:
            inner_treedef = _tu.tree_structure(flat[0]) if flat else _tu.tree_structure(())
        lol = [inner_treedef.flatten_up_to(x) for x in flat]
    except ValueError as e:  # JAX reports any mismatch as a TypeError
        raise TypeError(f"Mismatch\n{_tu.tree_structure(pytree_to_transpose)}\n != \n"
                        f"outer {outer_treedef}, inner {inner_treedef}: {e}") from None
    inner_size = inner_treedef.num_leaves
    columns = [outer_treedef.unflatten(col) for col in zip(*lol)] if lol else \
        [outer_treedef.unflatten([])] * inner_size
    return inner_treedef.unflatten(columns)


def tree_broadcast(prefix_tree, full_tree, is_leaf=None):
    """Repeat each leaf of ``prefix_tree`` over the matching subtree of ``full_tree``."""
    prefix_leaves, prefix_def = _tu.tree_flatten(prefix_tree, is_leaf)
    subtrees = prefix_def.flatten_up_to(full_tree)
    leaves = []
    for x, sub in zip(prefix_leaves, subtrees):
        leaves.extend([x] * _tu.tree_structure(sub).num_leaves)
    return _tu.tree_structure(full_tree).unflatten(leaves)


def register_pytree_with_keys(nodetype, flatten_with_keys, unflatten_func, flatten_func=None):
    """Register a node whose ``flatten_with_keys(x) -> (((key, child), ...), aux_data)``
    names each child; ``flatten_func`` (children without keys) is derived if not given."""
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux
    _tu.register_pytree_node(nodetype, flatten_func, unflatten_func)
    _KEYED_FNS[nodetype] = flatten_with_keys
    return nodetype


def register_pytree_with_keys_class(cls):
    """Class decorator: ``x.tree_flatten_with_keys()`` and ``cls.tree_unflatten(aux, children)``
    (and ``x.tree_flatten()`` if the class defines one)."""
    flatten = (lambda x: x.tree_flatten()) if hasattr(cls, "tree_flatten") else None
    return register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(),
                                     cls.tree_unflatten, flatten)


def register_static(cls):
    """Make instances of ``cls`` nodes with no children: the object itself goes into the
    treedef (so it must be hashable), as a static argument would."""
    _tu.register_pytree_node(cls, lambda x: ((), x), lambda aux, _: aux)
    _KEYED_FNS[cls] = lambda x: ((), x)
    return cls


class _HashableCallableShim:
    """Wraps a functools.partial used as a Partial's function so that two Partials built
    from equal partials have equal treedefs (functools.partial compares by identity)."""

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, *args, **kw):
        return self.fun(*args, **kw)

    def _ident(self):
        f = self.fun
        return (f.func, f.args, tuple(sorted(f.keywords.items())))

    def __hash__(self):
        return hash(self.fun.func)

    def __eq__(self, other):
        if isinstance(other, _HashableCallableShim):
            try:
                return self._ident() == other._ident()
            except Exception:  # arguments that cannot be compared (arrays): by identity
                return self.fun is other.fun
        return NotImplemented


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: its bound arguments are children (so arrays
    bound in it are traced), the function is static. Can be passed into and out of jit."""

    def __new__(cls, func, *args, **kw):
        if isinstance(func, functools.partial) and not isinstance(func, Partial):
            func = _HashableCallableShim(func)
        return super().__new__(cls, func, *args, **kw)


register_pytree_with_keys(
    Partial,
    lambda p: (((FlattenedIndexKey(0), p.args), (FlattenedIndexKey(1), p.keywords)), p.func),
    lambda func, xs: Partial(func, *xs[0], **xs[1]),
    lambda p: ((p.args, p.keywords), p.func))
