"""The small gradient transformations that optimizers are chained from (torch.optim's formulas).

Each block maps updates to updates; only :func:`scale_by_learning_rate` carries the minus sign.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import funcgrad.numpy as fnp
from funcgrad.optim.base import GradientTransformation, ScalarOrSchedule
from funcgrad.tree_util import tree_leaves, tree_map


def _zero_count():
    return fnp.zeros((), dtype=fnp.int32)


def _steps(count):
    """The step count as a float64 scalar, for scalar maths done at PyTorch's (double) precision."""
    return fnp.asarray(count).astype(fnp.float64)


def _like(x, u):
    """A scalar ready to multiply leaf ``u``: Python numbers stay weak, arrays take u's dtype."""
    if isinstance(x, (int, float)):
        return float(x)  # also turns NumPy float64 scalars into weakly typed Python floats
    return x if x.dtype == u.dtype else fnp.asarray(x, dtype=u.dtype)


def _check(name: str, value, ok: bool, what: str):
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


def identity() -> GradientTransformation:
    """Leave the updates unchanged."""
    return GradientTransformation(lambda params: EmptyState(), lambda u, s, p: (u, s))


def scale(factor: float) -> GradientTransformation:
    """Multiply the updates by a constant ``factor``."""
    factor = float(factor)

    def update(updates, state, params=None):
        return tree_map(lambda u: u * factor, updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


class ScaleByLearningRateState(NamedTuple):
    count: Any  # int32 scalar: updates applied so far


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Multiply the updates by ``-learning_rate``: the one place where the sign flips.

    Args:
      learning_rate: a float, or a schedule ``count -> lr`` called with the number of updates
        applied so far (0 at the first update), like the lr a PyTorch scheduler has set.
    """
    if not callable(learning_rate):
        _check("learning_rate", learning_rate, learning_rate >= 0, ">= 0")

    def init(params):
        return ScaleByLearningRateState(_zero_count())

    def update(updates, state, params=None):
        if callable(learning_rate):
            step_size = -learning_rate(state.count)
        else:
            step_size = -learning_rate
        if isinstance(step_size, (int, float)):
            step_size = float(step_size)  # weakly typed: each leaf keeps its dtype
            updates = tree_map(lambda u: u * step_size, updates)
        else:
            updates = tree_map(lambda u: u * _like(step_size, u), updates)
        return updates, ScaleByLearningRateState(state.count + 1)

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates.

    Placed before the moment estimates it is PyTorch's L2 ``weight_decay`` (SGD, Adam, RMSprop,
    Adagrad); placed after them and before :func:`scale_by_learning_rate` it is decoupled weight
    decay (AdamW's ``p *= 1 - lr * wd``).
    """
    _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
    weight_decay = float(weight_decay)

    def update(updates, state, params):
        if params is None:
            raise ValueError("add_decayed_weights needs the params; pass them to update")
        return tree_map(lambda u, p: u + weight_decay * p, updates, params), state

    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_value(min: float, max: float) -> GradientTransformation:
    """Clip every update element to ``[min, max]`` (``torch.nn.utils.clip_grad_value_`` is
    ``clip_by_value(-c, c)``)."""
    _check("clip_by_value max", max, max >= min, f">= min ({min})")
    min, max = float(min), float(max)

    def update(updates, state, params=None):
        return tree_map(lambda u: fnp.clip(u, min, max), updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


def global_norm(updates) -> Any:
    """The L2 norm of all leaves of ``updates`` taken together."""
    leaves = tree_leaves(updates)
    if not leaves:
        return fnp.zeros(())
    return fnp.sqrt(sum(fnp.sum(fnp.square(u)) for u in leaves))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale the updates so that their global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the factor is ``min(1, max_norm / (norm + 1e-6))``
    (optax uses ``max_norm / norm`` without the epsilon).
    """
    _check("max_norm", max_norm, max_norm > 0, "> 0")
    max_norm = float(max_norm)

    def update(updates, state, params=None):
        if not tree_leaves(updates):
            return updates, state
        factor = fnp.minimum(max_norm / (global_norm(updates) + 1e-6), 1.0)
        return tree_map(lambda u: u * _like(factor, u), updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


class TraceState(NamedTuple):
    count: Any
    momentum_buffer: Any


def trace(
    momentum: float, dampening: float = 0.0, nesterov: bool = False
) -> GradientTransformation:
    """SGD momentum as torch.optim.SGD: ``buf = momentum * buf + (1 - dampening) * g``.

    The buffer starts as the first update itself (no dampening on the first step), and with
    ``nesterov`` the output is ``g + momentum * buf``, else ``buf``.
    """
    _check("momentum", momentum, momentum >= 0, ">= 0")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov momentum requires momentum > 0 and zero dampening")
    momentum, dampening = float(momentum), float(dampening)

    def init(params):
        return TraceState(_zero_count(), tree_map(fnp.zeros_like, params))

    def update(updates, state, params=None):
        if dampening == 0:  # a zero buffer gives buf = g on the first step by itself
            buf = tree_map(lambda b, g: momentum * b + g, state.momentum_buffer, updates)
        else:
            first = state.count == 0
            buf = tree_map(
                lambda b, g: fnp.where(first, g, momentum * b + (1 - dampening) * g),
                state.momentum_buffer,
                updates,
            )
        out = tree_map(lambda g, b: g + momentum * b, updates, buf) if nesterov else buf
        return out, TraceState(state.count + 1, buf)

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    count: Any
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any  # None unless amsgrad


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, amsgrad: bool = False
) -> GradientTransformation:
    """Adam's direction ``m_hat / (sqrt(v_hat) + eps)`` with torch.optim.Adam's bias corrections.

    With ``amsgrad`` the running maximum of the raw second moments replaces them, and is then
    bias-corrected, as in PyTorch.
    """
    _check("betas[0]", b1, 0 <= b1 < 1, "in [0, 1)")
    _check("betas[1]", b2, 0 <= b2 < 1, "in [0, 1)")
    _check("eps", eps, eps >= 0, ">= 0")
    b1, b2, eps = float(b1), float(b2), float(eps)

    def init(params):
        zeros = lambda: tree_map(fnp.zeros_like, params)
        return ScaleByAdamState(_zero_count(), zeros(), zeros(), zeros() if amsgrad else None)

    def update(updates, state, params=None):
        m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.exp_avg, updates)
        v = tree_map(lambda v, g: b2 * v + (1 - b2) * (g * g), state.exp_avg_sq, updates)
        v_max = tree_map(fnp.maximum, state.max_exp_avg_sq, v) if amsgrad else None
        t = _steps(state.count) + 1
        bc1 = 1 - b1**t
        bc2_sqrt = fnp.sqrt(1 - b2**t)

        def direction(m, v):
            denom = fnp.sqrt(v) / _like(bc2_sqrt, v) + eps
            return m / denom / _like(bc1, m)

        out = tree_map(direction, m, v_max if amsgrad else v)
        return out, ScaleByAdamState(state.count + 1, m, v, v_max)

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    square_avg: Any
    grad_avg: Any  # None unless centered


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8, centered: bool = False):
    """RMSprop's direction ``g / (sqrt(E[g^2] - centered * E[g]^2) + eps)`` as torch.optim.RMSprop
    (moments start at zero, no bias correction; eps is added after the square root)."""
    _check("alpha", alpha, alpha >= 0, ">= 0")
    _check("eps", eps, eps >= 0, ">= 0")
    alpha, eps = float(alpha), float(eps)

    def init(params):
        zeros = lambda: tree_map(fnp.zeros_like, params)
        return ScaleByRmsState(zeros(), zeros() if centered else None)

    def update(updates, state, params=None):
        sq = tree_map(lambda s, g: alpha * s + (1 - alpha) * (g * g), state.square_avg, updates)
        if centered:
            avg = tree_map(lambda a, g: alpha * a + (1 - alpha) * g, state.grad_avg, updates)
            out = tree_map(lambda g, s, a: g / (fnp.sqrt(s - a * a) + eps), updates, sq, avg)
        else:
            avg = None
            out = tree_map(lambda g, s: g / (fnp.sqrt(s) + eps), updates, sq)
        return out, ScaleByRmsState(sq, avg)

    return GradientTransformation(init, update)


class ScaleByAdagradState(NamedTuple):
    sum: Any


def scale_by_adagrad(
    initial_accumulator_value: float = 0.0, eps: float = 1e-10
) -> GradientTransformation:
    """Adagrad's direction ``g / (sqrt(sum of g^2) + eps)`` as torch.optim.Adagrad."""
    init_acc = initial_accumulator_value
    _check("initial_accumulator_value", init_acc, init_acc >= 0, ">= 0")
    _check("eps", eps, eps >= 0, ">= 0")
    eps = float(eps)

    def init(params):
        return ScaleByAdagradState(
            tree_map(lambda p: fnp.full_like(p, initial_accumulator_value), params)
        )

    def update(updates, state, params=None):
        acc = tree_map(lambda s, g: s + g * g, state.sum, updates)
        out = tree_map(lambda g, s: g / (fnp.sqrt(s) + eps), updates, acc)
        return out, ScaleByAdagradState(acc)

    return GradientTransformation(init, update)
