"""Optimizer building blocks: GradientTransformation, Optimizer, its state, and chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import funcgrad.numpy as fnp
from funcgrad.tree_util import tree_flatten, tree_unflatten

Params = Any  # a pytree of Arrays
Updates = Any  # a pytree of Arrays with the structure of the params
Schedule = Callable[[Any], Any]  # step count (0 at the first update) -> learning rate
ScalarOrSchedule = float | Schedule


class GradientTransformation(NamedTuple):
    """A pure map from updates to updates that carries its own state (optax's convention).

    Attributes:
      init: ``init(params) -> state``.
      update: ``update(updates, state, params) -> (new_updates, new_state)``.
    """

    init: Callable[[Params], Any]
    update: Callable[[Updates, Any, Params], tuple[Updates, Any]]


class OptState(NamedTuple):
    """The state of an :class:`Optimizer`: a pytree, so it can be saved, vmapped and jitted.

    Attributes:
      params: the current (updated) parameters.
      inner: the state of the optimizer's transformations (moments, step counts), one entry per
        link of the chain.
    """

    params: Params
    inner: Any


class Optimizer(NamedTuple):
    """An optimizer: a pair of pure functions, plus the transformation it applies.

    ``state = opt.init(params)`` and ``state = opt.update(state, grads)``; the new parameters
    are ``state.params``. ``opt.transformation`` is the underlying
    :class:`GradientTransformation`, which is what :func:`chain` composes.

    Example:
      >>> opt = optim.adam(1e-3)
      >>> state = opt.init(params)
      >>> state = opt.update(state, fg.grad(loss)(state.params, x, y))
    """

    init: Callable[[Params], OptState]
    update: Callable[[OptState, Updates], OptState]
    transformation: GradientTransformation


def apply_updates(params: Params, updates: Updates) -> Params:
    """``params + updates`` leaf by leaf, keeping each parameter's dtype."""
    p_leaves, treedef = tree_flatten(params)
    u_leaves, u_treedef = tree_flatten(updates)
    _check_same_tree("apply_updates", treedef, u_treedef, p_leaves, u_leaves)
    return tree_unflatten(treedef, _add_leaves(p_leaves, u_leaves))


def _add_leaves(p_leaves, u_leaves):
    out = []
    for p, u in zip(p_leaves, u_leaves):
        new = p + u
        out.append(new if new.dtype == p.dtype else fnp.asarray(new, dtype=p.dtype))
    return out


def _check_same_tree(op, treedef, g_treedef, p_leaves, g_leaves):
    if g_treedef != treedef:
        raise ValueError(
            f"{op}: the gradients must have the structure of the parameters; got params "
            f"{treedef} and grads {g_treedef}"
        )
    for i, (p, g) in enumerate(zip(p_leaves, g_leaves)):
        if p.shape != g.shape and tuple(p.shape) != tuple(g.shape):
            raise ValueError(
                f"{op}: leaf {i} of the gradients has shape {tuple(g.shape)} but the parameter "
                f"has shape {tuple(p.shape)}"
            )


def _as_transformation(t) -> GradientTransformation:
    if isinstance(t, Optimizer):
        return t.transformation
    if isinstance(t, GradientTransformation):
        return t
    raise TypeError(
        f"optim.chain: expected GradientTransformations or Optimizers, got {type(t).__name__}"
    )


def optimizer(transformation: GradientTransformation) -> Optimizer:
    """Wrap a :class:`GradientTransformation` as an :class:`Optimizer` that owns the params.

    Its ``update`` runs the transformation on the gradients and adds the result to the params.
    """

    def init(params):
        return OptState(params, transformation.init(params))

    def update(state, grads):
        p_leaves, treedef = tree_flatten(state.params)
        g_leaves, g_treedef = tree_flatten(grads)
        _check_same_tree("Optimizer.update", treedef, g_treedef, p_leaves, g_leaves)
        updates, inner = transformation.update(grads, state.inner, state.params)
        u_leaves, u_treedef = tree_flatten(updates)
        _check_same_tree("Optimizer.update (updates)", treedef, u_treedef, p_leaves, u_leaves)
        return OptState(tree_unflatten(treedef, _add_leaves(p_leaves, u_leaves)), inner)

    return Optimizer(init, update, transformation)


def chain(*transformations: GradientTransformation | Optimizer) -> Optimizer:
    """Compose transformations (or whole optimizers) left to right into one optimizer.

    The state is a tuple with one entry per argument.

    Example:
      >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    """
    links = tuple(_as_transformation(t) for t in transformations)

    def init(params):
        return tuple(t.init(params) for t in links)

    def update(updates, state, params):
        new_state = []
        for t, s in zip(links, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return optimizer(GradientTransformation(init, update))
