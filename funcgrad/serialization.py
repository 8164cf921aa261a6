"""Checkpoints: ``save``/``load`` of pytrees as ``.npz`` archives, atomic and without pickle.

The archive holds one ``.npy`` member per leaf plus ``__tree__.npy``, the tree structure as JSON
(bytes). Loading reads arrays with ``allow_pickle=False`` and parses JSON: it never executes code.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad import tree_util
from funcgrad.core.array import Array

__all__ = ["load", "save"]

_FORMAT = "funcgrad-checkpoint"
_VERSION = 1
_TREE = "__tree__"
_SCALARS = {"bool": bool, "int": int, "float": float, "complex": complex}


# --------------------------------------------------------------------------------------------
# Paths and tree walking


def _keystr(path: tuple) -> str:
    return "".join(f"[{k!r}]" for k in path) or "<root>"


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _children(x: Any) -> tuple[list[Any], Any] | None:
    """One level of a registered pytree node: (children, treedef), or None for a leaf."""
    kids, td = tree_util.tree_flatten(x, is_leaf=lambda y: y is not x)
    if tree_util.treedef_is_leaf(td):
        return None
    return kids, td


def _dataclass_names(x: Any, kids: list[Any]) -> list[str] | None:
    # A registered dataclass flattens its data fields in declaration order; name the children
    # after them when they can be matched (meta fields stay in the treedef, not the archive).
    if not dataclasses.is_dataclass(x):
        return None
    names, it = [], iter(dataclasses.fields(x))
    for kid in kids:
        for f in it:
            if getattr(x, f.name) is kid:
                names.append(f.name)
                break
        else:
            return None
    return names


def _node_items(x: Any) -> tuple[str, list[tuple[Any, Any]], dict] | None:
    """(kind, [(key, child)], json extras) for a container, or None for a leaf."""
    if x is None:
        return "none", [], {}
    t = type(x)
    if t is dict:
        for k in x:
            if type(k) not in (str, int):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(k).__name__} key {k!r}"
                )
        return "dict", list(x.items()), {"keys": [[type(k).__name__, k] for k in x]}
    if t is list or t is tuple:
        return t.__name__, list(enumerate(x)), {}
    if isinstance(x, tuple) and hasattr(t, "_fields"):
        extra = {"type": _type_name(t), "fields": list(t._fields)}
        return "namedtuple", list(zip(t._fields, x)), extra
    if isinstance(x, (Array, np.ndarray, np.generic, str, bytes)) or t in _SCALARS.values():
        return None
    split = _children(x)
    if split is None:
        return None
    kids = split[0]
    names = _dataclass_names(x, kids)
    if names is not None:
        return "dataclass", list(zip(names, kids)), {"type": _type_name(t), "fields": names}
    return "node", list(enumerate(kids)), {"type": _type_name(t)}


def _encode(x: Any, path: tuple, arrays: dict[str, np.ndarray]) -> dict:
    node = _node_items(x)
    if node is None:
        return _encode_leaf(x, path, arrays)
    kind, items, extra = node
    out = {"kind": kind, **extra}
    if kind != "none":
        out["children"] = [_encode(c, (*path, k), arrays) for k, c in items]
    return out


def _encode_leaf(x: Any, path: tuple, arrays: dict[str, np.ndarray]) -> dict:
    if isinstance(x, str):
        return {"kind": "str", "value": x}
    if type(x) in _SCALARS.values():
        if type(x) is int and not -(2**63) <= x < 2**63:
            raise TypeError(f"save: the int at {_keystr(path)} does not fit in 64 bits: {x}")
        kind, value = type(x).__name__, np.asarray(x)
    elif isinstance(x, Array):
        kind, value = "array", np.asarray(x)
    elif isinstance(x, np.ndarray):
        kind, value = "numpy", x
    elif isinstance(x, np.generic):
        kind, value = "numpy_scalar", np.asarray(x)
    else:
        raise TypeError(
            f"save: leaf at {_keystr(path)} is a {type(x).__name__}; checkpoints hold Arrays, "
            "NumPy arrays, Python scalars and strings"
        )
    if value.dtype.hasobject:
        raise TypeError(
            f"save: leaf at {_keystr(path)} is an object array (dtype {value.dtype}), which "
            "would need pickle; convert it to a numeric dtype"
        )
    name = f"leaf_{len(arrays)}"
    arrays[name] = value
    return {"kind": kind, "leaf": name}


# --------------------------------------------------------------------------------------------
# save


def _write_archive(f, arrays: dict[str, np.ndarray]) -> None:
    # What np.savez does, with pickle disabled explicitly.
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def save(path: str | os.PathLike, tree: Any) -> None:
    """Saves a pytree of Arrays, NumPy arrays and Python scalars to ``path`` (an ``.npz`` file).

    The write is atomic: the archive goes to a temporary file in the same directory, is fsynced
    and then renamed over ``path``, so an interrupted save leaves any previous file intact.
    Dicts (str or int keys), lists, tuples, None, NamedTuples and registered nodes (such as
    dataclasses) are recorded; the last two are restored exactly through ``load(..., like=)``.
    Unlike ``np.savez``, no ``.npz`` suffix is appended to ``path``.

    Args:
      path: the file to write.
      tree: the pytree to save.

    Example:
      >>> fg.save("ckpt.npz", {"params": params, "step": 100})
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    structure = {"format": _FORMAT, "version": _VERSION, "tree": _encode(tree, (), arrays)}
    blob = json.dumps(structure).encode("utf-8")
    arrays[_TREE] = np.frombuffer(blob, dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:  # makes the rename durable; not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# load


def _read_archive(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with open(path, "rb") as f:
            data = f.read()
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if not hasattr(npz, "files") or _TREE not in npz.files:
                raise ValueError("it has no __tree__ entry")
            arrays = {name: npz[name] for name in npz.files}
        structure = json.loads(arrays.pop(_TREE).tobytes().decode("utf-8"))
        if not isinstance(structure, dict) or structure.get("format") != _FORMAT:
            raise ValueError("its __tree__ entry is not a funcgrad tree description")
        if structure.get("version") != _VERSION:
            raise ValueError(f"format version {structure.get('version')!r} is not supported")
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeError) as e:
        raise ValueError(
            f"load: {path!r} is not a readable funcgrad checkpoint (corrupted or truncated?): {e}"
        ) from e
    return structure["tree"], arrays


def _bad(path: str, what: str) -> ValueError:
    return ValueError(f"load: {path!r} is not a valid funcgrad checkpoint: {what}")


def _decode_leaf(node: dict, arrays: dict, file: str) -> Any:
    kind = node["kind"]
    if kind == "str":
        return node["value"]
    value = arrays.get(node.get("leaf"))
    if value is None:
        raise _bad(file, f"the leaf array {node.get('leaf')!r} is missing")
    if kind in _SCALARS:
        return _SCALARS[kind](value.item())
    if kind == "array":
        return _to_array(value)
    if kind == "numpy_scalar":
        return value[()]
    return value


def _to_array(value: np.ndarray) -> Any:
    return fnp.asarray(value)


def _decode(node: Any, arrays: dict, file: str) -> Any:
    if not isinstance(node, dict) or "kind" not in node:
        raise _bad(file, "malformed tree description")
    kind = node["kind"]
    if kind == "none":
        return None
    if kind in ("str", "array", "numpy", "numpy_scalar", *_SCALARS):
        return _decode_leaf(node, arrays, file)
    kids = [_decode(c, arrays, file) for c in node.get("children", [])]
    if kind == "dict":
        keys = [int(k) if t == "int" else str(k) for t, k in node["keys"]]
        return dict(zip(keys, kids))
    if kind == "list" or kind == "node":
        return kids
    if kind == "tuple":
        return tuple(kids)
    if kind in ("namedtuple", "dataclass"):
        return {k: v for k, v in zip(node["fields"], kids)} if "fields" in node else kids
    raise _bad(file, f"unknown node kind {kind!r}")


def _stored_leaves(node: dict, path: tuple, arrays: dict, file: str, out: dict) -> None:
    """Maps each stored leaf's path to its decoded value (``None`` nodes map to None)."""
    if not isinstance(node, dict) or "kind" not in node:
        raise _bad(file, "malformed tree description")
    kind = node["kind"]
    if kind in ("str", "array", "numpy", "numpy_scalar", "none", *_SCALARS):
        out[path] = None if kind == "none" else _decode_leaf(node, arrays, file)
        return
    children = node.get("children", [])
    if kind == "dict":
        keys = [int(k) if t == "int" else str(k) for t, k in node["keys"]]
    elif kind in ("namedtuple", "dataclass") and "fields" in node:
        keys = node["fields"]
    else:
        keys = list(range(len(children)))
    for k, c in zip(keys, children):
        _stored_leaves(c, (*path, k), arrays, file, out)


def _expected(like: Any) -> tuple[tuple[int, ...], np.dtype | str]:
    if type(like) in _SCALARS.values():
        return (), type(like).__name__
    if isinstance(like, str):
        return (), "str"
    if not (hasattr(like, "shape") and hasattr(like, "dtype")):
        like = np.asarray(like)
    return tuple(like.shape), np.dtype(like.dtype)


def _describe(shape, dtype) -> str:
    return f"{dtype}{list(shape)}"


def _matches(value: Any, like: Any) -> bool:
    shape, dtype = _expected(like)
    if isinstance(dtype, str):  # a Python scalar or string in ``like``
        if dtype == "str":
            return isinstance(value, str)
        if isinstance(value, str) or np.shape(value) != ():
            return False
        kinds = {"bool": "b", "int": "iu", "float": "f", "complex": "c"}[dtype]
        return np.asarray(value).dtype.kind in kinds
    if isinstance(value, str):
        return False
    v = np.asarray(value) if not hasattr(value, "dtype") else value
    return tuple(v.shape) == shape and np.dtype(v.dtype) == dtype


def _convert(value: Any, like: Any) -> Any:
    if type(like) in _SCALARS.values():
        return type(like)(np.asarray(value).item())
    if isinstance(like, str):
        return value
    if isinstance(like, Array):
        return value if isinstance(value, Array) else _to_array(np.asarray(value))
    if isinstance(like, np.generic):
        return np.asarray(value)[()]
    if isinstance(like, np.ndarray):
        return np.asarray(value)
    return value


def _rebuild(like: Any, path: tuple, stored: dict, used: set, errors: dict) -> Any:
    node = _node_items(like) if like is not None else ("none", [], {})
    if node is None or node[0] == "none":
        if path not in stored:
            errors["missing"].append(_keystr(path))
            return like
        used.add(path)
        value = stored[path]
        if node is not None:  # None in ``like``
            if value is not None:
                errors["mismatched"].append(f"{_keystr(path)}: expected None, got a leaf")
            return None
        if value is None or not _matches(value, like):
            got = "None" if value is None else _describe(*_expected(value))
            want = _describe(*_expected(like))
            errors["mismatched"].append(f"{_keystr(path)}: expected {want}, got {got}")
            return like
        return _convert(value, like)
    kind, items, _ = node
    kids = [_rebuild(c, (*path, k), stored, used, errors) for k, c in items]
    if kind == "dict":
        return dict(zip([k for k, _ in items], kids))
    if kind == "list":
        return kids
    if kind == "tuple":
        return tuple(kids)
    if kind == "namedtuple":
        return type(like)(*kids)
    _, td = _children(like)
    return tree_util.tree_unflatten(td, kids)


def load(path: str | os.PathLike, like: Any = None) -> Any:
    """Loads a pytree saved by ``save``.

    Without ``like``, containers come back as dicts, lists, tuples and None (a NamedTuple or
    dataclass as a dict of its fields, other registered nodes as lists), Arrays as Arrays, NumPy
    arrays as NumPy arrays and Python scalars as Python scalars. With ``like`` (a pytree of the
    same structure, e.g. freshly initialised parameters), the result has exactly ``like``'s
    structure and leaf types, and every leaf's shape and dtype is checked.

    Args:
      path: a file written by ``save``.
      like: optional template pytree.

    Returns:
      The saved pytree.

    Raises:
      ValueError: the file is corrupted, truncated or not a checkpoint, or (with ``like``) entries
        are missing, unexpected or have the wrong shape or dtype; the message lists them all.

    Example:
      >>> params = fg.load("ckpt.npz", like=model.init(fg.random.key(0)))
    """
    path = os.fspath(path)
    tree, arrays = _read_archive(path)
    stored: dict = {}
    try:
        if like is None:
            return _decode(tree, arrays, path)
        _stored_leaves(tree, (), arrays, path, stored)
    except (KeyError, TypeError, AttributeError) as e:
        raise _bad(path, f"malformed tree description ({e!r})") from e
    used: set = set()
    errors: dict[str, list[str]] = {"missing": [], "unexpected": [], "mismatched": []}
    out = _rebuild(like, (), stored, used, errors)
    errors["unexpected"] = [_keystr(p) for p in stored if p not in used]
    if any(errors.values()):
        parts = [f"{k} entries: {', '.join(v)}" for k, v in errors.items() if v]
        raise ValueError(
            f"load: {path!r} does not match the structure of `like`; " + "; ".join(parts)
        )
    return out
