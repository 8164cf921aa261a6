"""``scipy.stats.norm``'s functions over funcgrad arrays, differentiable (``jax.scipy.stats.norm``).

Each takes ``loc`` and ``scale`` (broadcast against the input); Python scalars are weakly typed,
so float32 inputs stay float32.
"""

from __future__ import annotations

import math
from typing import Any

from funcgrad import numpy as fnp
from funcgrad.numpy._math import _float_operand
from funcgrad.scipy.special import log_ndtr, ndtr, ndtri

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _standardize(x, loc, scale):
    return (_float_operand(x) - loc) / scale


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log density of N(loc, scale**2) at ``x``.

    Example: ``norm.logpdf(0.0)`` gives -0.9189385 (``-log(2 pi) / 2``).
    """
    z = _standardize(x, loc, scale)
    return -0.5 * z * z - fnp.log(scale + 0 * z) - _HALF_LOG_2PI


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The density of N(loc, scale**2) at ``x``. Example: ``norm.pdf(0.0)`` gives 0.3989423."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``P(X <= x)`` for X ~ N(loc, scale**2). Example: ``norm.cdf(1.96)`` gives 0.9750021."""
    return ndtr(_standardize(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``log P(X <= x)``, accurate far in both tails (``special.log_ndtr``).

    Example: ``norm.logcdf(-40.0)`` gives -804.6084.
    """
    return log_ndtr(_standardize(x, loc, scale))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``P(X > x) = 1 - cdf(x)``, accurate in the upper tail.

    Example: ``norm.sf(1.96)`` gives 0.0249979.
    """
    return ndtr(-_standardize(x, loc, scale))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """``log P(X > x)``. Example: ``norm.logsf(40.0)`` gives -804.6084."""
    return log_ndtr(-_standardize(x, loc, scale))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile function, the inverse of ``cdf``; -inf at 0, inf at 1, NaN outside [0, 1].

    Example: ``norm.ppf(0.975)`` gives 1.959964.
    """
    return ndtri(q) * scale + loc


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The inverse of ``sf``: ``ppf(1 - q)``, accurate for small ``q``.

    Example: ``norm.isf(0.025)`` gives 1.959964.
    """
    return -ndtri(q) * scale + loc
