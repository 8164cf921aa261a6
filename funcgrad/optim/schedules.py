"""Learning-rate schedules: pure functions of the step count (torch.optim.lr_scheduler's values).

A schedule maps ``count``, the number of updates applied so far (0 at the first update), to the
learning rate used by the next update: ``schedule(t)`` is the lr a PyTorch scheduler has set
after ``t`` calls to ``scheduler.step()``. Counts may be Python ints or int Arrays (traced under
vmap or jit); the maths is done in float64, as PyTorch does it in Python floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import funcgrad.numpy as fnp
from funcgrad.optim.base import Schedule


def _t(count):
    return fnp.asarray(count).astype(fnp.float64)


def constant(lr: float) -> Schedule:
    """``lr`` at every step."""
    return lambda count: lr


def step(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``lr * gamma ** (t // step_size)``, as ``StepLR``."""
    if step_size <= 0:
        raise ValueError(f"step: step_size must be > 0, got {step_size}")
    return lambda count: lr * gamma ** fnp.floor(_t(count) / step_size)


def multi_step(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """``lr * gamma ** (number of milestones <= t)``, as ``MultiStepLR``."""
    milestones = sorted(milestones)

    def schedule(count):
        t = _t(count)
        return lr * gamma ** sum((t >= m).astype(fnp.float64) for m in milestones)

    return schedule


def exponential(lr: float, gamma: float) -> Schedule:
    """``lr * gamma ** t``, as ``ExponentialLR``."""
    return lambda count: lr * gamma ** _t(count)


def cosine_annealing(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """``eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``, as ``CosineAnnealingLR``.

    Like PyTorch's, it keeps following the cosine past ``T_max`` (back up to ``lr`` at
    ``2 * T_max``); use ``min(t, T_max)`` in your own schedule to hold ``eta_min`` instead.
    """
    if T_max <= 0:
        raise ValueError(f"cosine_annealing: T_max must be > 0, got {T_max}")
    return lambda count: eta_min + (lr - eta_min) * (1 + fnp.cos(math.pi * _t(count) / T_max)) / 2


def linear(
    lr: float, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5
) -> Schedule:
    """``lr`` times a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then held, as ``LinearLR``."""
    if total_iters <= 0:
        raise ValueError(f"linear: total_iters must be > 0, got {total_iters}")

    def schedule(count):
        frac = fnp.minimum(_t(count), total_iters) / total_iters
        return lr * (start_factor + (end_factor - start_factor) * frac)

    return schedule


def linear_warmup(
    lr: float, warmup_steps: int, start_factor: float = 0.0, then: Schedule | None = None
) -> Schedule:
    """Warm up linearly from ``start_factor * lr`` to ``lr`` over ``warmup_steps`` steps, then
    hold ``lr``, or follow ``then(t - warmup_steps)`` when given.

    Equals ``LinearLR(start_factor, 1.0, warmup_steps)``, and with ``then`` it is
    ``SequentialLR([warmup, then], milestones=[warmup_steps])``.

    Example:
      >>> sched = linear_warmup(1e-3, 100, then=cosine_annealing(1e-3, T_max=900))
    """
    warm = linear(lr, start_factor, 1.0, warmup_steps)
    if then is None:
        return warm

    def schedule(count):
        t = _t(count)
        return fnp.where(t < warmup_steps, warm(t), then(fnp.maximum(t - warmup_steps, 0.0)))

    return schedule


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal: str = "cos",
) -> Schedule:
    """The 1cycle policy as ``OneCycleLR`` (two phases): from ``max_lr / div_factor`` up to
    ``max_lr`` at step ``pct_start * total_steps - 1``, then down to
    ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1``.

    Past ``total_steps`` the lr holds its value there (PyTorch raises instead).
    """
    if total_steps <= 0:
        raise ValueError(f"one_cycle: total_steps must be > 0, got {total_steps}")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"one_cycle: pct_start must be in [0, 1], got {pct_start}")
    if anneal not in ("cos", "linear"):
        raise ValueError(f"one_cycle: anneal must be 'cos' or 'linear', got {anneal!r}")
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    end1 = float(pct_start * total_steps) - 1
    end2 = float(total_steps - 1)
    if end1 == 0 or end2 == end1:
        raise ValueError(
            f"one_cycle: a phase of zero length (pct_start={pct_start}, total_steps="
            f"{total_steps}); PyTorch divides by zero here"
        )

    def interp(start, end, pct):
        if anneal == "cos":
            return end + (start - end) / 2.0 * (fnp.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def schedule(count):
        t = fnp.minimum(_t(count), float(total_steps))
        up = interp(initial_lr, max_lr, t / end1)
        down = interp(max_lr, min_lr, (t - end1) / (end2 - end1))
        return fnp.where(t <= end1, up, down)

    return schedule
