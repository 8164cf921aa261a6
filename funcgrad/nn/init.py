"""nn.init: PyTorch's weight initialisers as pure functions of (key, shape, dtype).

Pass one to ``nn.Parameter`` (with ``functools.partial`` for its options) or call it directly:
``w = nn.init.xavier_uniform(key, (128, 64))``. Fans follow ``torch.nn.init``: for a weight of
shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

__all__ = [
    "calculate_gain",
    "constant",
    "kaiming_normal",
    "kaiming_uniform",
    "normal",
    "ones",
    "orthogonal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

Shape = Sequence[int]


def _fans(shape: Shape) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(
            f"nn.init: fan in and fan out need a shape of at least 2 dims, got {tuple(shape)}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nn.init.calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform(key: Any, shape: Shape, dtype: Any = np.float32, a: float = 0.0, b: float = 1.0):
    """U(a, b)."""
    return fg.random.uniform(key, tuple(shape), dtype, a, b)


def normal(key: Any, shape: Shape, dtype: Any = np.float32, mean: float = 0.0, std: float = 1.0):
    """N(mean, std**2)."""
    return fg.random.normal(key, tuple(shape), dtype) * std + mean


def constant(key: Any, shape: Shape, dtype: Any = np.float32, value: float = 0.0):
    """Every entry ``value`` (the key is unused)."""
    return fnp.full(tuple(shape), value, dtype=dtype)


def zeros(key: Any, shape: Shape, dtype: Any = np.float32):
    """Zeros (the key is unused)."""
    return fnp.zeros(tuple(shape), dtype=dtype)


def ones(key: Any, shape: Shape, dtype: Any = np.float32):
    """Ones (the key is unused)."""
    return fnp.ones(tuple(shape), dtype=dtype)


def xavier_uniform(key: Any, shape: Shape, dtype: Any = np.float32, gain: float = 1.0):
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot)."""
    fan_in, fan_out = _fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(key, shape, dtype, -a, a)


def xavier_normal(key: Any, shape: Shape, dtype: Any = np.float32, gain: float = 1.0):
    """N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    return normal(key, shape, dtype, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(shape, a, mode, nonlinearity):
    fan_in, fan_out = _fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"nn.init: cannot initialise a weight of shape {tuple(shape)} (fan 0)")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(
    key: Any,
    shape: Shape,
    dtype: Any = np.float32,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
):
    """U(-b, b) with ``b = gain * sqrt(3 / fan)`` (He). Linear and Conv weights use ``a=sqrt(5)``.

    Example:
      >>> w = nn.init.kaiming_uniform(key, (64, 32, 3, 3), a=math.sqrt(5))
    """
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(key, shape, dtype, -bound, bound)


def kaiming_normal(
    key: Any,
    shape: Shape,
    dtype: Any = np.float32,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
):
    """N(0, std**2) with ``std = gain / sqrt(fan)`` (He)."""
    return normal(key, shape, dtype, 0.0, _kaiming_std(shape, a, mode, nonlinearity))


def orthogonal(key: Any, shape: Shape, dtype: Any = np.float32, gain: float = 1.0):
    """A (semi-)orthogonal matrix, the trailing dims flattened, times ``gain`` (Saxe et al.).

    As in PyTorch: the Q of the QR decomposition of a Gaussian matrix, with R's diagonal made
    positive. Here Q = A L^-T where L L^T = A^T A (so R = L^T has a positive diagonal already),
    computed in float64.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"nn.init.orthogonal: needs at least 2 dims, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    a = fg.random.normal(key, (max(rows, cols), min(rows, cols)), np.float64)
    chol = fnp.linalg.cholesky(a.T @ a)
    q = a @ fnp.linalg.inv(chol).T
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)
