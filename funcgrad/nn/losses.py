"""nn losses with PyTorch's formulas, weights and reductions ('mean' | 'sum' | 'none')."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.core.array import Array
from funcgrad.lax.indexing import gather_p
from funcgrad.nn.functional import _is_concrete, log_softmax
from funcgrad.scipy.special import xlogy

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]


def _reduce(op: str, loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return fnp.mean(loss)
    if reduction == "sum":
        return fnp.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_reduction(op, reduction, allowed=("mean", "sum", "none")):
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """(input - target)**2, reduced.

    Example:
      >>> nn.mse_loss(fnp.asarray([1.0, 2.0]), fnp.asarray([1.0, 4.0]))  # 2.0
    """
    d = input - target
    return _reduce("mse_loss", d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """|input - target|, reduced."""
    return _reduce("l1_loss", fnp.abs(input - target), reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Any:
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (``beta=0`` is the L1 loss)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    a = fnp.abs(input - target)
    if beta == 0:
        return _reduce("smooth_l1_loss", a, reduction)
    return _reduce(
        "smooth_l1_loss", fnp.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta), reduction
    )


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    a = fnp.abs(input - target)
    return _reduce(
        "huber_loss", fnp.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta)), reduction
    )


# ----------------------------------------------------------------------------- classification


def _class_dim(op, input):
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, got a scalar")
    return 1 if input.ndim >= 2 else 0


def _check_labels(op, target, input, cdim, ignore_index) -> bool:
    """Checks the labels' dtype, shape and (when known now) range; True if they are known now
    and none equals ``ignore_index``."""
    num = input.shape[cdim]
    expected = tuple(input.shape[:cdim]) + tuple(input.shape[cdim + 1 :])
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(
            f"{op}: class labels must have an integer dtype, got {target.dtype} (labels of "
            f"shape {tuple(target.shape)} for input of shape {tuple(input.shape)}); class "
            f"probabilities need the input's shape; labels index the {num} classes [0, {num - 1}]"
        )
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{op}: labels of shape {tuple(target.shape)} do not match input of shape "
            f"{tuple(input.shape)}; expected labels of shape {expected}"
        )
    if not _is_concrete(target):
        return False
    t = np.asarray(target)
    if not t.size:
        return True
    lo, hi = t.min(), t.max()
    if 0 <= lo and hi < num:  # all in range: ignore_index can only be there if it is too
        return not (lo <= ignore_index <= hi and bool((t == ignore_index).any()))
    kept = t != ignore_index
    t = t[kept]
    if t.size and (t.min() < 0 or t.max() >= num):
        bad = t[(t < 0) | (t >= num)]
        raise ValueError(
            f"{op}: labels must be in the range [0, {num - 1}] for {num} classes (or equal "
            f"ignore_index={ignore_index}), got {bad[:5].tolist()} (labels dtype {t.dtype})"
        )
    return bool(kept.all())


def _nll(op, logp, target, weight, ignore_index, reduction, cdim, none_ignored=False):
    """(sum of -w[y] logp[y], per-element weights w[y] masked by ignore_index).

    ``none_ignored``: the labels are known to contain no ``ignore_index``. Then, without class
    weights, every weight is 1: the masking and weighting are skipped and the weights come back
    as None (all ones).
    """
    if none_ignored and weight is None:
        picked = _picked(logp, target, cdim)
        if reduction == "none":
            return -picked, None
        total = fnp.sum(picked)
        # -sum / n, bit for bit: negating is exact and rounds the same either side of zero
        return (-total if reduction == "sum" else total / -(target.size or np.nan)), None
    valid = target != ignore_index
    safe = fnp.where(valid, target, 0)
    w = valid.astype(logp.dtype)
    if weight is not None:
        w = w * fnp.take(weight, safe).astype(logp.dtype)
    loss = -_picked(logp, safe, cdim) * w
    if reduction == "none":
        return loss, w
    total = fnp.sum(loss)
    if reduction == "sum":
        return total, w
    return total / fnp.sum(w), w


def _picked(logp, labels, cdim):
    """``logp`` at the labels along the class axis ``cdim``: the shape of ``labels``."""
    if logp.ndim == 2 and cdim == 1:
        # logp[arange(n), labels] as one gather whose vjp is a plain write (the pairs are
        # unique). Bound directly: the labels are integers and range-checked when concrete.
        rows = Array(_rows(logp.shape[0]))  # host data: it follows logp's device
        return gather_p.bind(logp, rows, labels, spec=_ROWS_AND_LABELS, unique_indices=True)
    picked = fnp.take_along_axis(logp, fnp.expand_dims(labels, cdim), axis=cdim)
    return fnp.squeeze(picked, axis=cdim)


_ROWS_AND_LABELS = (("array", 0), ("array", 1))


@functools.lru_cache(maxsize=64)
def _rows(n: int) -> np.ndarray:
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


def _check_weight(op, weight, num):
    if weight is not None and tuple(weight.shape) != (num,):
        raise ValueError(
            f"{op}: weight must have shape ({num},) (one entry per class), got "
            f"{tuple(weight.shape)}"
        )


def nll_loss(
    input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Any:
    """-input[n, target[n]] (input holds log-probabilities), weighted by ``weight[target[n]]``.

    ``reduction='mean'`` divides by the total weight of the non-ignored targets (PyTorch).
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    cdim = _class_dim(op, input)
    target = fnp.asarray(target)
    none_ignored = _check_labels(op, target, input, cdim, ignore_index)
    _check_weight(op, weight, input.shape[cdim])
    return _nll(op, input, target, weight, ignore_index, reduction, cdim, none_ignored)[0]


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Cross entropy between logits ``input`` and class labels or class probabilities.

    Args:
      input: logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
      target: integer labels of the input's shape without ``C``, or probabilities of the
        input's shape (a floating dtype).
      weight: per-class weights ``(C,)``; the 'mean' divides by the summed weights of the
        targets (PyTorch's weighted mean) for labels, by the number of rows for probabilities.
      ignore_index: labels equal to it contribute nothing (labels only).
      label_smoothing: mixes the target with the uniform distribution over the C classes.

    Example:
      >>> nn.cross_entropy(logits, fnp.asarray([0, 2, 1]))
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    cdim = _class_dim(op, input)
    num = input.shape[cdim]
    _check_weight(op, weight, num)
    target = fnp.asarray(target)
    logp = log_softmax(input, cdim)
    wshape = (-1,) + (1,) * (input.ndim - cdim - 1)
    if np.issubdtype(target.dtype, np.floating) and tuple(target.shape) == tuple(input.shape):
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / num
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        loss = -fnp.sum(prod, axis=cdim)
        if reduction == "mean":
            return fnp.sum(loss) / (input.size // num if input.size else np.nan)
        return _reduce(op, loss, reduction)
    none_ignored = _check_labels(op, target, input, cdim, ignore_index)
    nll, w = _nll(op, logp, target, weight, ignore_index, reduction, cdim, none_ignored)
    if label_smoothing == 0:
        return nll
    valid = (target != ignore_index).astype(logp.dtype)
    smooth = logp if weight is None else logp * weight.reshape(wshape)
    smooth = -fnp.sum(smooth, axis=cdim) * valid
    if reduction == "mean":
        smooth = fnp.sum(smooth) / (target.size if w is None else fnp.sum(w))
    elif reduction == "sum":
        smooth = fnp.sum(smooth)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / num)


def _check_probs(op, x):
    if _is_concrete(x):
        a = np.asarray(x)
        if a.size and (np.nanmin(a) < 0 or np.nanmax(a) > 1):
            raise ValueError(
                f"{op}: input must hold probabilities in [0, 1], got values in "
                f"[{np.nanmin(a)}, {np.nanmax(a)}]; use binary_cross_entropy_with_logits for logits"
            )


def _clamped_log(x):
    # log clamped at -100 (PyTorch), with a zero (not nan) gradient where x == 0
    pos = x > 0
    return fnp.where(pos, fnp.maximum(fnp.log(fnp.where(pos, x, 1)), -100.0), -100.0)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Any:
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as in PyTorch."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    _check_probs(op, input)
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(op, loss, reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """Sigmoid + binary cross entropy in one stable formula; ``pos_weight`` (broadcast along the
    last, class, axis) weighs the positive term."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    # log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|))
    softplus_neg = fnp.where(input < 0, -input, 0) + fnp.log1p(fnp.exp(-fnp.abs(input)))
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(op, loss, reduction)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Any:
    """KL(target || exp(input)) pointwise: ``target * (log(target) - input)`` (0 where target is 0).

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence);
    'mean' divides by the number of elements, as PyTorch does.
    """
    op = "kl_div"
    _check_reduction(op, reduction, ("mean", "batchmean", "sum", "none"))
    if log_target:
        loss = fnp.exp(target) * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        return fnp.sum(loss) / (input.shape[0] if input.ndim else 1)
    return _reduce(op, loss, reduction)
