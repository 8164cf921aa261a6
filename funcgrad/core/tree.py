"""Pytrees: nested containers of leaves, flattened to a list plus a hashable structure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from itertools import islice
from typing import Any, NamedTuple

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "register_dataclass",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
    "treedef_is_leaf",
    "leaf_paths",
]


class _NodeType(NamedTuple):
    to_iterable: Callable[[Any], tuple[Iterable[Any], Hashable]]
    from_iterable: Callable[[Hashable, Iterable[Any]], Any]


_registry: dict[type, _NodeType] = {}


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Hashable, Iterable[Any]], Any],
) -> None:
    """Registers a container type as a pytree node.

    Args:
      nodetype: the class to register.
      flatten_func: ``obj -> (children, aux_data)``; aux_data must be hashable.
      unflatten_func: ``(aux_data, children) -> obj``.

    Example:
      >>> class Pair:
      ...     def __init__(self, a, b): self.a, self.b = a, b
      >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    """
    if nodetype in _registry:
        raise ValueError(f"register_pytree_node: {nodetype.__name__} is already registered")
    _registry[nodetype] = _NodeType(flatten_func, unflatten_func)


def register_dataclass(cls: type, data_fields=None, meta_fields=None) -> type:
    """Registers a dataclass as a pytree node; usable as a decorator.

    ``data_fields`` are children (default: every field not in ``meta_fields``); ``meta_fields``
    are static, hashable configuration kept in the tree structure (default: the fields declared
    with ``dataclasses.field(metadata={"static": True})``).

    Example:
      >>> @register_dataclass
      ... @dataclasses.dataclass
      ... class Point:
      ...     x: float
      ...     y: float
      >>> tree_leaves(Point(1.0, 2.0))
      [1.0, 2.0]
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"register_dataclass: {cls!r} is not a dataclass; decorate it first")
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    if meta_fields is None:  # fields marked ``field(metadata={"static": True})`` are static
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    meta = tuple(meta_fields)
    data = (
        tuple(data_fields) if data_fields is not None else tuple(n for n in names if n not in meta)
    )
    missing = set(names) - set(data) - set(meta)
    if missing:
        raise ValueError(f"register_dataclass: fields {sorted(missing)} are neither data nor meta")

    def flatten(obj):
        return [getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta)

    def unflatten(aux, children):
        return cls(**dict(zip(data, children)), **dict(zip(meta, aux)))

    register_pytree_node(cls, flatten, unflatten)
    return cls


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


class PyTreeDef:
    """The structure of a pytree: node kind, static data and child structures (hashable)."""

    __slots__ = ("kind", "aux", "children", "num_leaves", "_hash", "_flat")

    def __init__(self, kind, aux, children: tuple[PyTreeDef, ...]):
        self.kind = kind  # None for a leaf, "none" for None, else the node's type
        self.aux = aux
        self.children = children
        n = 0
        flat = True
        for c in children:
            n += c.num_leaves
            flat = flat and c.kind is None
        self.num_leaves = 1 if kind is None else n
        self._flat = flat  # every child is a leaf: unflatten without recursion
        self._hash = None  # computed on first use (most treedefs are never hashed)

    def __eq__(self, other):
        return self is other or (
            isinstance(other, PyTreeDef)
            and self.kind == other.kind
            and self.aux == other.aux
            and self.children == other.children
        )

    def __hash__(self):
        if self._hash is None:
            self._hash = hash((self.kind, self.aux, self.children))
        return self._hash

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(
                f"tree_unflatten: expected {self.num_leaves} leaves for {self}, got {len(leaves)}"
            )
        kind = self.kind
        if self._flat and kind is not None:  # the common flat containers, built directly
            if kind is dict:
                return dict(zip(self.aux, leaves))
            if kind is tuple:
                return tuple(leaves)
            if kind is list:
                return leaves
        return self._build(iter(leaves))

    def _build(self, it):
        kind = self.kind
        if kind is None:
            return next(it)
        if kind == "none":
            return None
        if self._flat:
            kids = list(islice(it, self.num_leaves))
        else:
            kids = [c._build(it) for c in self.children]
        if kind is tuple:
            return tuple(kids)
        if kind is list:
            return kids
        if kind is dict:
            return dict(zip(self.aux, kids))
        if kind == "namedtuple":
            return self.aux(*kids)
        return _registry[kind].from_iterable(self.aux, kids)

    def __repr__(self):
        return f"PyTreeDef({self._str()})"

    def _str(self):
        kind = self.kind
        if kind is None:
            return "*"
        if kind == "none":
            return "None"
        kids = [c._str() for c in self.children]
        if kind is tuple:
            return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
        if kind is list:
            return "[" + ", ".join(kids) + "]"
        if kind is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.aux, kids)) + "}"
        name = self.aux.__name__ if kind == "namedtuple" else kind.__name__
        return f"{name}(" + ", ".join(kids) + ")"


_LEAF = PyTreeDef(None, None, ())
_NONE = PyTreeDef("none", None, ())


# Types known to be leaves, checked first (arrays dominate the leaves of real pytrees).
_LEAF_TYPES: set[type] = {int, float, bool, complex}


def register_leaf_type(t: type) -> None:
    """Marks ``t`` as always a leaf: a fast path for flattening (used for array types)."""
    _LEAF_TYPES.add(t)


def _flatten(x, leaves, is_leaf):
    if is_leaf is None:
        return _flatten_plain(x, leaves)
    if is_leaf(x):
        leaves.append(x)
        return _LEAF
    t = type(x)
    if t is tuple or t is list:
        return PyTreeDef(t, None, tuple([_flatten(c, leaves, is_leaf) for c in x]))
    if t is dict:
        keys = _sorted_keys(x)
        return PyTreeDef(dict, keys, tuple([_flatten(x[k], leaves, is_leaf) for k in keys]))
    return _flatten_node(x, t, leaves, is_leaf)


def _flatten_plain(x, leaves):
    # _flatten without is_leaf: the hot path of every transform's argument handling, with the
    # containers whose children are all leaves (a layer's params) getting a cached treedef.
    t = type(x)
    if t in _LEAF_TYPES:
        leaves.append(x)
        return _LEAF
    if t is dict:
        keys = _sorted_keys(x)
        vals = [x[k] for k in keys]
        for v in vals:
            if type(v) not in _LEAF_TYPES:
                return PyTreeDef(dict, keys, tuple([_flatten_plain(c, leaves) for c in vals]))
        leaves.extend(vals)
        return _flat_def(dict, keys, len(keys))
    if t is tuple or t is list:
        for v in x:
            if type(v) not in _LEAF_TYPES:
                return PyTreeDef(t, None, tuple([_flatten_plain(c, leaves) for c in x]))
        leaves.extend(x)
        return _flat_def(t, None, len(x))
    return _flatten_node(x, t, leaves, None)


def _flatten_node(x, t, leaves, is_leaf):
    # None, registered nodes, namedtuples and other leaves
    if x is None:
        return _NONE
    node = _registry.get(t)
    if node is not None:
        children, aux = node.to_iterable(x)
        return PyTreeDef(t, aux, tuple([_flatten(c, leaves, is_leaf) for c in children]))
    if _is_namedtuple(x):
        return PyTreeDef("namedtuple", t, tuple([_flatten(c, leaves, is_leaf) for c in x]))
    leaves.append(x)
    return _LEAF


_flat_defs: dict = {}


def _flat_def(kind, aux, n: int) -> PyTreeDef:
    key = (kind, aux, n)
    td = _flat_defs.get(key)
    if td is None:
        if len(_flat_defs) > 4096:  # bounded: dict keys are arbitrary user data
            _flat_defs.clear()
        td = _flat_defs[key] = PyTreeDef(kind, aux, (_LEAF,) * n)
    return td


def _sorted_keys(d: dict) -> tuple:
    # Dict keys are sorted (as in JAX) so that structure does not depend on insertion order;
    # keys of mixed types sort by type name first.
    try:
        return tuple(sorted(d))
    except TypeError:
        return tuple(sorted(d, key=lambda k: (type(k).__name__, k)))


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None):
    """Flattens a pytree into ``(leaves, treedef)``.

    Example:
      >>> leaves, treedef = tree_flatten({"a": 1, "b": (2, 3)})
      >>> leaves
      [1, 2, 3]
    """
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Builds a pytree of structure ``treedef`` from ``leaves``.

    Example:
      >>> leaves, td = tree_flatten((1, [2]))
      >>> tree_unflatten(td, [10, 20])
      (10, [20])
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of a pytree, in flattening order.

    Example:
      >>> tree_leaves([1, {"x": 2}, None])
      [1, 2]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The structure of a pytree.

    Example:
      >>> tree_structure((1, 2)) == tree_structure((3, 4))
      True
    """
    return tree_flatten(tree, is_leaf)[1]


def leaf_paths(tree: PyTreeDef, prefix: str) -> list[str]:
    """Readable names of a treedef's leaves for error messages, e.g. ``params['w']``,
    ``state.params`` or ``xs[1]`` (with ``prefix`` the name of the whole tree)."""
    if tree.kind is None:
        return [prefix]
    if tree.kind is dict:
        keys = [f"[{k!r}]" for k in tree.aux]
    elif tree.kind == "namedtuple":
        keys = [f".{f}" for f in tree.aux._fields]
    else:  # a sequence or a registered node (None has no children)
        keys = [f"[{i}]" for i in range(len(tree.children))]
    return [p for k, c in zip(keys, tree.children) for p in leaf_paths(c, prefix + k)]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    return treedef.kind is None


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf=None) -> Any:
    """Applies ``f`` leafwise to one or more pytrees of the same structure.

    Example:
      >>> tree_map(lambda a, b: a + b, {"x": 1, "y": 2}, {"x": 10, "y": 20})
      {'x': 11, 'y': 22}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves = [leaves]
    for i, r in enumerate(rest):
        r_leaves, r_def = tree_flatten(r, is_leaf)
        if r_def != treedef:
            raise ValueError(
                f"tree_map: tree {i + 1} has structure {r_def}, which differs from the first "
                f"tree's structure {treedef}"
            )
        all_leaves.append(r_leaves)
    return treedef.unflatten(f(*xs) for xs in zip(*all_leaves))


def flatten_up_to(treedef: PyTreeDef, tree: Any, what: str = "tree") -> list[Any]:
    """Flattens ``tree`` only down to the leaves of ``treedef`` (a prefix of its structure)."""
    out: list[Any] = []
    _flatten_up_to(treedef, tree, "", out, what)
    return out


def _flatten_up_to(td: PyTreeDef, x: Any, path: str, out: list[Any], what: str) -> None:
    # A module-level recursion (a recursive closure would be a reference cycle per call).
    if td.kind is None:
        out.append(x)
        return
    if td.kind == "none":
        if x is not None:
            raise ValueError(f"{what}: expected None at {path or 'the root'}, got {x!r}")
        return
    children: list[Any] = []
    sub = _flatten(x, children, lambda y: y is not x)
    if sub.kind != td.kind or sub.aux != td.aux or len(sub.children) != len(td.children):
        raise ValueError(
            f"{what}: expected structure {td} at {path or 'the root'}, got {type(x).__name__} "
            f"with structure {tree_structure(x)}"
        )
    keys = td.aux if td.kind is dict else range(len(td.children))
    for k, c, child in zip(keys, td.children, children):
        _flatten_up_to(c, child, f"{path}[{k!r}]", out, what)
