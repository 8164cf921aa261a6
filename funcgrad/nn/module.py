"""nn.Module: PyTorch-style model classes whose arrays live outside them, in params and state.

A module holds configuration only. ``model.init(key)`` builds the parameter pytree (nested dicts
named after attributes), ``model.apply(params, x, ...)`` runs ``forward`` with a per-thread
context from which each child call reads its parameters, buffers and random key by attribute
path; no module object is mutated, so ``apply`` is a pure function.
"""

from __future__ import annotations

import threading
import weakref
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

__all__ = ["Buffer", "Module", "ModuleList", "Parameter", "Sequential"]


class Parameter:
    """A trainable array declared in ``__init__``: ``self.scale = nn.Parameter(fnp.ones(3))``.

    Args:
      value: an initial array, or an initialiser ``init(key, shape, dtype)`` (see ``nn.init``).
      shape: the shape, when ``value`` is an initialiser.
      dtype: the dtype (default: the value's, or float32 for an initialiser).

    Inside ``apply``, ``self.scale`` reads the array from ``params``; outside, the declaration.
    """

    def __init__(self, value: Any, shape: tuple[int, ...] | None = None, dtype: Any = None):
        if callable(value):
            if shape is None:
                raise TypeError("nn.Parameter: an initialiser needs a shape")
            self.init_fn, self.shape = value, tuple(int(s) for s in shape)
            self.dtype = np.dtype(dtype or np.float32)
        else:
            arr = np.asarray(value, dtype=dtype)
            self.init_fn, self.shape, self.dtype = (
                (lambda key, shape, dtype: arr),
                arr.shape,
                arr.dtype,
            )

    def create(self, key: Any, dtype: Any = None) -> Any:
        dtype = dtype if dtype is not None and self.dtype.kind == "f" else self.dtype
        return fnp.asarray(self.init_fn(key, self.shape, dtype), dtype=dtype)

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class Buffer(Parameter):
    """A non-trainable array kept in ``state`` (BatchNorm's running statistics).

    Inside ``apply``, ``self.running_mean`` reads the current value and assigning
    ``self.running_mean = new`` records the new value in the state that ``apply`` returns.
    """

    def create(self, key: Any = None, dtype: Any = None) -> Any:
        return super().create(key, dtype)


# ----------------------------------------------------------------------------- apply context


class _Context:
    """What one ``apply`` call sees: the params/state trees, the module paths, the rng."""

    def __init__(self, paths, params, state, rng, train, record=None):
        self.paths = paths  # id(module) -> tuple path of attribute names
        self.params, self.state, self.rng, self.train = params, state, rng, train
        self.new_state: dict[tuple, dict] = {}
        self.rng_counts: dict[tuple, int] = {}
        self.record = record
        self.nodes: dict[tuple[int, int], dict] = {}  # (id(tree), id(module)) -> node

    def node(self, tree, module):
        """``module``'s dict in ``tree`` (the params or the state), looked up once per apply."""
        key = (id(tree), id(module))
        sub = self.nodes.get(key)
        if sub is None:
            sub = tree
            for name in module._path(self):
                sub = sub.get(name, _EMPTY)
            self.nodes[key] = sub
        return sub


_EMPTY: dict = {}


class _Stack(threading.local):
    def __init__(self):
        self.contexts: list[_Context] = []


_stack = _Stack()


def _current(who) -> _Context:
    if not _stack.contexts:
        raise RuntimeError(
            f"{who}: modules run inside model.apply(params, x); call model.apply(params, x) "
            "instead of model(x), or use nn.functional for a direct call"
        )
    return _stack.contexts[-1]


def _dotted(path) -> str:
    return ".".join(path)


def _path_hash(path) -> int:
    return zlib.crc32(_dotted(path).encode()) & 0x7FFFFFFF


# ----------------------------------------------------------------------------- Module


class _StructureVersion:
    """Counts structural changes to any Module (children, Parameters, Buffers)."""

    version = 0


_structure = _StructureVersion()
_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Module -> (version, plan)


class Module:
    """Base class of layers and models (subclass it as in PyTorch).

    Assign children and ``Parameter``/``Buffer`` declarations in ``__init__`` and write
    ``forward``; then ``params = model.init(key)``, ``state = model.init_state()`` and
    ``model.apply(params, x, state=state, rng=rng, train=True)``.

    Example:
      >>> class Net(nn.Module):
      ...     def __init__(self):
      ...         super().__init__()
      ...         self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)
      ...     def forward(self, x):
      ...         return self.fc2(nn.relu(self.fc1(x)))
      >>> params = Net().init(fg.random.key(0))   # {'fc1': {'weight', 'bias'}, 'fc2': {...}}
    """

    def __init__(self):
        pass

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, x, ...)")

    # -- declarations -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            _structure.version += 1
            kind = "_buffers" if isinstance(value, Buffer) else "_params"
            other = "_params" if kind == "_buffers" else "_buffers"
            d.setdefault(kind, {})[name] = value
            d.get(other, {}).pop(name, None)
            d.pop(name, None)
            return
        if name in d.get("_buffers", ()):
            if _stack.contexts:  # a state update inside apply
                ctx = _stack.contexts[-1]
                ctx.new_state.setdefault(self._path(ctx), {})[name] = value
                return
            raise TypeError(
                f"{type(self).__name__}.{name} is a Buffer; its values live in state (from "
                "model.init_state()), not in the module; assign it inside forward only"
            )
        if name in d.get("_params", ()):
            raise TypeError(
                f"{type(self).__name__}.{name} is a Parameter; its values live in params (from "
                "model.init(key)); assign a new nn.Parameter to redeclare it"
            )
        if isinstance(value, Module) or isinstance(d.get(name), Module):
            _structure.version += 1  # a child added or replaced: cached plans are stale
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _structure.version += 1
        d = self.__dict__
        for kind in ("_params", "_buffers"):
            if name in d.get(kind, ()):
                del d[kind][name]  # undeclare a Parameter or Buffer, as PyTorch's del
                return
        object.__delattr__(self, name)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: parameters and buffers, read from the context.
        d = self.__dict__
        decls = d.get("_params")
        if decls is not None and name in decls:
            contexts = _stack.contexts
            if not contexts:
                return decls[name]
            ctx = contexts[-1]
            return ctx.node(ctx.params, self)[name]
        decls = d.get("_buffers")
        if decls is not None and name in decls:
            if not _stack.contexts:
                return decls[name]
            ctx = _stack.contexts[-1]
            path = self._path(ctx)
            updated = ctx.new_state.get(path)
            if updated is not None and name in updated:
                return updated[name]
            return ctx.node(ctx.state, self)[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The child modules, in assignment order, with their attribute names."""
        for name, value in self.__dict__.items():
            if isinstance(value, Module):
                yield name, value

    def _walk(self, prefix=(), seen=None):
        """(path, module) for this module and every descendant, each module once."""
        seen = set() if seen is None else seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child._walk(prefix + (name,), seen)

    def named_modules(self) -> Iterator[tuple[str, Module]]:
        """('', self) and ('conv1', child), ('block.0', grandchild), ... as in PyTorch."""
        for path, m in self._walk():
            yield _dotted(path), m

    def _path(self, ctx) -> tuple:
        try:
            return ctx.paths[id(self)]
        except KeyError:
            raise RuntimeError(
                f"{type(self).__name__}: this module is not an attribute of the model being "
                "applied; assign it in __init__ (self.name = module; a list of modules needs "
                "nn.ModuleList or nn.Sequential) before calling it"
            ) from None

    def _name(self) -> str:
        """This module's attribute path in the running apply (for errors), else its class."""
        if _stack.contexts:
            path = _stack.contexts[-1].paths.get(id(self))
            if path:
                return f"{_dotted(path)} ({self!r})"
        return repr(self)

    # -- init ---------------------------------------------------------------------------------

    def init(self, key: Any, dtype: Any = None) -> dict:
        """A fresh parameter pytree: nested dicts named after the attributes.

        Args:
          key: a ``fg.random.key``; each parameter's key is folded in from its dotted name, so
            adding a layer does not change the others' initial values.
          dtype: a floating dtype for every floating parameter (default: float32).

        Returns:
          ``{'conv1': {'weight': ..., 'bias': ...}, ...}``; modules without parameters are
          left out.
        """
        return self._build("_params", key, dtype)

    def init_state(self, dtype: Any = None) -> dict:
        """The buffers (BatchNorm running statistics) as a nested dict; ``{}`` if there are none."""
        return self._build("_buffers", None, dtype)

    def _build(self, kind, key, dtype):
        out: dict = {}
        for path, m in self._walk():
            decls = m.__dict__.get(kind)
            if not decls:
                continue
            node = out
            for name in path:
                node = node.setdefault(name, {})
            for name, decl in decls.items():
                k = None if key is None else fg.random.fold_in(key, _path_hash(path + (name,)))
                node[name] = decl.create(k, dtype)
        return out

    # -- apply --------------------------------------------------------------------------------

    def apply(
        self,
        params: dict,
        *args: Any,
        state: dict | None = None,
        rng: Any = None,
        train: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Runs ``forward(*args, **kwargs)`` with ``params`` (a pure function).

        Args:
          params: the tree from ``init`` (or an updated one).
          state: the tree from ``init_state`` (needed when the model has buffers).
          rng: a key for the random layers (Dropout); each layer gets its own key, folded in
            from its attribute path.
          train: training mode (BatchNorm uses batch statistics, Dropout drops).

        Returns:
          The output, or ``(output, new_state)`` whenever ``state`` is passed.
        """
        return self._apply(params, args, kwargs, state, rng, train, None)

    def _plan(self):
        """(paths by module id, params spec, state spec) of this module's tree, cached until a
        Module anywhere gains or loses a child, a Parameter or a Buffer."""
        cached = _plans.get(self)
        if cached is not None and cached[0] == _structure.version:
            return cached[1]
        paths = {}
        params_spec, state_spec = {}, {}
        for path, m in self._walk():
            paths[id(m)] = path
            d = m.__dict__
            if d.get("_params"):
                params_spec[path] = d["_params"]
            if d.get("_buffers"):
                state_spec[path] = d["_buffers"]
        plan = (paths, params_spec, state_spec, _layout(params_spec), _layout(state_spec))
        _plans[self] = (_structure.version, plan)
        return plan

    def _apply(self, params, args, kwargs, state, rng, train, record):
        paths, params_spec, state_spec, params_layout, state_layout = self._plan()
        name = type(self).__name__
        if not _matches(params, params_layout):
            _check_tree(f"{name}.apply", "params", params, params_spec, "model.init(key)")
        if state is None:
            if state_spec:
                names = [_dotted(p + (n,)) for p, b in state_spec.items() for n in b]
                raise ValueError(
                    f"{name}.apply: the model has buffers ({', '.join(names[:4])}"
                    f"{', ...' if len(names) > 4 else ''}); pass state=model.init_state() and "
                    "keep the new state that apply returns"
                )
        elif not _matches(state, state_layout):
            _check_tree(f"{name}.apply", "state", state, state_spec, "model.init_state()")
        ctx = _Context(paths, params, state if state is not None else {}, rng, bool(train), record)
        _stack.contexts.append(ctx)
        try:
            out = self(*args, **kwargs)
        finally:
            _stack.contexts.pop()
        if state is None:
            return out
        return out, _merge_state(state, ctx.new_state)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ctx = _current(type(self).__name__)
        if ctx.record is None:
            return self.forward(*args, **kwargs)
        slot = len(ctx.record)  # summary: layers listed in call order, outer ones first
        ctx.record.append(None)
        out = self.forward(*args, **kwargs)
        ctx.record[slot] = (self._path(ctx), self, out)
        return out

    # -- helpers for layers -------------------------------------------------------------------

    @property
    def training(self) -> bool:
        """Whether the running ``apply`` was called with ``train=True``."""
        return _current(type(self).__name__).train

    def make_rng(self) -> Any:
        """A fresh key for this call of this module, from ``apply``'s ``rng`` and the path."""
        ctx = _current(type(self).__name__)
        if ctx.rng is None:
            raise ValueError(
                f"{self._name()}: needs randomness in training mode; pass rng=key to "
                "model.apply (e.g. rng=fg.random.fold_in(key, step))"
            )
        path = self._path(ctx)
        count = ctx.rng_counts.get(path, 0)
        ctx.rng_counts[path] = count + 1
        k = fg.random.fold_in(ctx.rng, _path_hash(path))
        return fg.random.fold_in(k, count) if count else k

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            sub = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"


def _layout(spec) -> tuple:
    """The dict nodes a tree matching ``spec`` has, parents first: ``(path, number of keys,
    ((name, shape), ...) of the arrays declared there)``, for :func:`_matches`."""
    paths = {()}
    for p in spec:
        paths.update(p[:i] for i in range(1, len(p) + 1))
    nodes = []
    for path in sorted(paths, key=len):
        decls = spec.get(path, {})
        n_children = sum(1 for q in paths if len(q) == len(path) + 1 and q[:-1] == path)
        shapes = tuple((name, decl.shape) for name, decl in decls.items())
        nodes.append((path, len(decls) + n_children, shapes))
    return tuple(nodes)


def _matches(tree, layout) -> bool:
    """Whether ``tree`` has exactly the nodes, keys and shapes of ``layout``: the quick check
    that :func:`_check_tree` (which finds and names the first difference) runs after."""
    for path, n_keys, shapes in layout:
        node = tree
        for key in path:
            node = node.get(key)
            if type(node) is not dict:
                return False
        if type(node) is not dict or len(node) != n_keys:
            return False
        for name, shape in shapes:
            a = node.get(name)
            if a is None or getattr(a, "shape", None) != shape:
                return False
    return True


def _check_tree(op, what, tree, spec, hint):
    """Every declared array present with its shape, nothing else: errors name the first path."""

    def fail(msg):
        raise ValueError(f"{op}: {what} {msg}; build {what} with {hint} of this model")

    def walk(node, path):
        if not isinstance(node, dict):
            fail(f"entry {_dotted(path) or '(root)'!r} is a {type(node).__name__}, not a dict")
        decls = spec.get(path, {})
        for name, decl in decls.items():
            if name not in node:
                fail(f"has no entry {_dotted(path + (name,))!r} (expected shape {decl.shape})")
            shape = getattr(node[name], "shape", None)
            if shape is None or tuple(shape) != decl.shape:
                fail(
                    f"entry {_dotted(path + (name,))!r} has shape {shape} but the model expects "
                    f"{decl.shape}"
                )
        children = {p[len(path)] for p in spec if len(p) > len(path) and p[: len(path)] == path}
        for name, sub in node.items():
            if name in decls:
                continue
            if name not in children:
                fail(f"has an unexpected entry {_dotted(path + (name,))!r}")
            walk(sub, path + (name,))
        for name in sorted(children - set(node)):
            missing = [p for p in spec if p[: len(path) + 1] == path + (name,)]
            decls = spec[missing[0]]
            first = next(iter(decls))
            fail(
                f"has no entry {_dotted(missing[0] + (first,))!r} (expected shape "
                f"{decls[first].shape})"
            )

    walk(tree, ())


def _merge_state(state, updates):
    if not updates:
        return state
    out = _copy_dicts(state)
    for path, values in updates.items():
        node = out
        for name in path:
            node = node[name]
        node.update(values)
    return out


def _copy_dicts(tree):
    return {k: _copy_dicts(v) if isinstance(v, dict) else v for k, v in tree.items()}


# ----------------------------------------------------------------------------- containers


class Sequential(Module):
    """Children ``'0'``, ``'1'``, ... applied in order (``params['0']['weight']``).

    Example:
      >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: argument {i} is a {type(layer).__name__}, not a Module"
                )
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __getitem__(self, i: int) -> Module:
        return list(self.__iter__())[i]

    def __iter__(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def forward(self, x: Any) -> Any:
        for _, layer in self.named_children():
            x = layer(x)
        return x


class ModuleList(Module):
    """A list of children named ``'0'``, ``'1'``, ... (no forward of its own), as in PyTorch."""

    def __init__(self, modules: Any = ()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: got a {type(module).__name__}, not a Module")
        setattr(self, str(len(self)), module)
        return self

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __getitem__(self, i: int) -> Module:
        return list(self.__iter__())[i]

    def __iter__(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())
