"""Debugging inside transformed code: ``callback`` and ``print`` run on the values at run time.

Both are an effectful primitive (``debug_callback``): jit keeps them in the program (the passes
never remove them), and they see concrete NumPy values even inside ``jit``, ``grad`` (the
primal values) and ``vmap`` (called once per example).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core.ir import effectful_primitives
from funcgrad.core.primitive import Primitive
from funcgrad.core.tree import tree_flatten, tree_unflatten
from funcgrad.transforms.grad import defjvp_all, defvjp_all
from funcgrad.transforms.vmap import batch_rules, batch_size, moveaxis

__all__ = ["callback", "print"]


def callback(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Calls ``fn(*args, **kwargs)`` with the arguments' values as NumPy arrays, at run time.

    Example:
      >>> @fg.jit
      ... def f(x):
      ...     fg.debug.callback(lambda v: print("x is", v), x)
      ...     return x * 2
      >>> f(fnp.ones(2))   # prints "x is [1. 1.]" on every call, not only while tracing
    """
    leaves, tree = tree_flatten((args, kwargs))
    debug_callback_p.bind(*leaves, callback=_Call(fn, tree))


def print(fmt: str, *args: Any, **kwargs: Any) -> None:  # noqa: A001 - JAX's name
    """``print(fmt.format(*args, **kwargs))`` with the arguments' values, at run time.

    Example:
      >>> fg.debug.print("loss {}", loss)
    """
    callback(lambda *a, **k: builtins.print(fmt.format(*a, **k)), *args, **kwargs)


class _Call:
    """The user's function and the structure of its arguments (compared by identity)."""

    __slots__ = ("fn", "tree")

    def __init__(self, fn, tree):
        self.fn = fn
        self.tree = tree

    def __call__(self, leaves) -> None:
        args, kwargs = tree_unflatten(self.tree, [np.asarray(x) for x in leaves])
        self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", "callback")


def _debug_callback_impl(xp, *args, callback):
    callback([a.get() if hasattr(a, "get") else a for a in args])
    return []


def _debug_callback_abstract_eval(*avals, callback):
    return []


def _debug_callback_jvp(primals, tangents, *, callback):
    debug_callback_p.bind(*primals, callback=callback)
    return [], []


def _debug_callback_vjp(g, ans, *args, callback):
    return (None,) * len(args)


def _debug_callback_batch(args, dims, *, callback):
    size = batch_size(args, dims)
    moved = [a if d is None else moveaxis(a, d, 0) for a, d in zip(args, dims)]
    for i in range(size):  # once per example, as the unbatched function would
        debug_callback_p.bind(
            *[a if d is None else a[i] for a, d in zip(moved, dims)], callback=callback
        )
    return [], []


debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.def_impl(_debug_callback_impl)
debug_callback_p.def_abstract_eval(_debug_callback_abstract_eval)
defjvp_all(debug_callback_p, _debug_callback_jvp)
defvjp_all(debug_callback_p, _debug_callback_vjp)
batch_rules[debug_callback_p] = _debug_callback_batch
effectful_primitives.add(debug_callback_p)
