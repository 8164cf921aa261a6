"""The familiar optimizers (sgd, adam, adamw, rmsprop, adagrad) with torch.optim's arguments and
update formulas, each a chain of the blocks in transforms.py."""

from __future__ import annotations

from funcgrad.optim import transforms as T
from funcgrad.optim.base import Optimizer, ScalarOrSchedule, chain


def _optional(condition, transformation):
    return [transformation] if condition else []


def _l2_and_sign(weight_decay, maximize):
    # PyTorch negates the gradient for maximize, then adds weight_decay * param (L2).
    return _optional(maximize, T.scale(-1.0)) + _optional(
        weight_decay != 0, T.add_decayed_weights(weight_decay)
    )


def sgd(
    lr: ScalarOrSchedule,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> Optimizer:
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD``.

    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step), then
    ``p -= lr * (g + momentum * buf if nesterov else buf)``; ``g`` includes
    ``weight_decay * p``.

    Example:
      >>> opt = optim.sgd(0.1, momentum=0.9)
      >>> state = opt.init(params)
      >>> state = opt.update(state, grads)   # state.params are the new params
    """
    return chain(
        *_l2_and_sign(weight_decay, maximize),
        *_optional(momentum != 0 or nesterov, T.trace(momentum, dampening, nesterov)),
        T.scale_by_learning_rate(lr),
    )


def adam(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """Adam as ``torch.optim.Adam``: ``weight_decay`` is L2 (added to the gradient before the
    moments); bias corrections and ``amsgrad`` as in PyTorch."""
    return chain(
        *_l2_and_sign(weight_decay, maximize),
        T.scale_by_adam(betas[0], betas[1], eps, amsgrad),
        T.scale_by_learning_rate(lr),
    )


def adamw(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """AdamW as ``torch.optim.AdamW``: decoupled weight decay ``p *= 1 - lr * weight_decay``
    (with the scheduled lr), then the Adam step."""
    return chain(
        *_optional(maximize, T.scale(-1.0)),
        T.scale_by_adam(betas[0], betas[1], eps, amsgrad),
        *_optional(weight_decay != 0, T.add_decayed_weights(weight_decay)),
        T.scale_by_learning_rate(lr),
    )


def rmsprop(
    lr: ScalarOrSchedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> Optimizer:
    """RMSprop as ``torch.optim.RMSprop``: ``avg = sqrt(E[g^2] - centered * E[g]^2) + eps``,
    ``buf = momentum * buf + g / avg`` (from a zero buffer) and ``p -= lr * buf``, or
    ``p -= lr * g / avg`` without momentum."""
    return chain(
        *_l2_and_sign(weight_decay, maximize),
        T.scale_by_rms(alpha, eps, centered),
        *_optional(momentum != 0, T.trace(momentum)),
        T.scale_by_learning_rate(lr),
    )


def adagrad(
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> Optimizer:
    """Adagrad as ``torch.optim.Adagrad``: ``sum += g^2``,
    ``p -= lr / (1 + t * lr_decay) * g / (sqrt(sum) + eps)`` at step ``t`` (from 0)."""
    if lr_decay < 0:
        raise ValueError(f"lr_decay must be >= 0, got {lr_decay!r}")
    if not callable(lr) and lr < 0:
        raise ValueError(f"learning_rate must be >= 0, got {lr!r}")
    step_size = lr
    if lr_decay != 0:
        base = lr if callable(lr) else (lambda count: lr)
        step_size = lambda count: base(count) / (1 + T._steps(count) * lr_decay)
    return chain(
        *_l2_and_sign(weight_decay, maximize),
        T.scale_by_adagrad(initial_accumulator_value, eps),
        T.scale_by_learning_rate(step_size),
    )
