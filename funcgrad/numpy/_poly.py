"""Polynomials (coefficients highest power first, as NumPy's ``poly*`` functions), Vandermonde
matrices and piecewise-linear interpolation (``interp``)."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array, ArrayBase
from funcgrad.lax.sort import searchsorted_p
from funcgrad.numpy._core import operand, unary_operand
from funcgrad.numpy._indexing import take
from funcgrad.numpy._numeric import convolve
from funcgrad.numpy._shape import concatenate, stack


def _coefficients(who, p):
    p = unary_operand(p)
    if len(p.shape) != 1:
        raise ValueError(f"fnp.{who}: coefficients must be 1-d, got shape {p.shape}")
    return p


def polyval(p, x):
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's rule.

    Differentiable in both ``p`` and ``x``.

    Example:
      >>> fnp.polyval(fnp.asarray([1.0, 0.0, -2.0]), 3.0)   # x**2 - 2
      Array(7., dtype=float32)
    """
    p = _coefficients("polyval", p)
    x = unary_operand(x)
    dtype = np.result_type(p.dtype, x.dtype)
    y = lax.broadcast_to(Array(np.zeros((), dtype)), tuple(x.shape))
    for i in range(p.shape[0]):
        y = y * x + p[i]
    return y


def polyadd(a1, a2):
    """Sum of two polynomials (coefficients highest power first).

    Example: ``fnp.polyadd(fnp.asarray([1.0, 2.0]), fnp.asarray([1.0, 0.0, 0.0]))`` is
    ``[1, 1, 2]``.
    """
    a, b = _coefficients("polyadd", a1), _coefficients("polyadd", a2)
    n = max(a.shape[0], b.shape[0])
    a = lax.pad(a, 0, [(n - a.shape[0], 0, 0)])
    b = lax.pad(b, 0, [(n - b.shape[0], 0, 0)])
    return a + b


def polysub(a1, a2):
    """Difference of two polynomials. Example: ``fnp.polysub(p, q)``."""
    return polyadd(a1, -_coefficients("polysub", a2))


def polymul(a1, a2):
    """Product of two polynomials (the convolution of their coefficients).

    Example: ``fnp.polymul(fnp.asarray([1.0, 1.0]), fnp.asarray([1.0, -1.0]))`` is ``[1, 0, -1]``.
    """
    return convolve(_coefficients("polymul", a1), _coefficients("polymul", a2))


def polyder(p, m=1):
    """The ``m``-th derivative of a polynomial.

    Example: ``fnp.polyder(fnp.asarray([1.0, 0.0, -2.0]))`` is ``[2, 0]``.
    """
    p = _coefficients("polyder", p)
    if int(m) < 0:
        raise ValueError(f"fnp.polyder: the order m must be non-negative, got {m}")
    if p.dtype.kind in "bu":
        p = lax.convert_element_type(p, np.int64)
    for _ in range(int(m)):
        n = p.shape[0] - 1
        p = p[:-1] * Array(np.arange(n, 0, -1).astype(p.dtype))
    return p


def polyint(p, m=1, k=None):
    """The ``m``-th antiderivative of a polynomial; ``k`` gives the integration constants
    (a scalar, or ``m`` values, default 0).

    Example: ``fnp.polyint(fnp.asarray([3.0, 0.0]))`` is ``[1.5, 0, 0]``.
    """
    p = _coefficients("polyint", p)
    m = int(m)
    if m < 0:
        raise ValueError(f"fnp.polyint: the order m must be non-negative, got {m}")
    if p.dtype.kind in "biu":
        p = lax.convert_element_type(p, np.float64)
    if k is None:
        ks = [0.0] * m
    elif np.ndim(k) == 0 and not isinstance(k, ArrayBase):
        ks = [k] * m
    else:
        kv = unary_operand(k)
        kv = lax.reshape(kv, (-1,) if kv.size else (0,)) if len(kv.shape) != 1 else kv
        if kv.shape[0] != m:
            raise ValueError(f"fnp.polyint: k must hold m={m} constants, got shape {kv.shape}")
        ks = [kv[i] for i in range(m)]
    for c in ks:
        n = p.shape[0]
        p = p / Array(np.arange(n, 0, -1).astype(p.dtype))
        c = lax.convert_element_type(lax.reshape(operand(c), (1,)), p.dtype)
        p = lax.concatenate([p, c], 0)
    return p


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-d ``x``: columns ``x**(N-1), ..., x, 1`` (reversed with
    ``increasing=True``); ``N`` defaults to ``len(x)``.

    Example:
      >>> fnp.vander(fnp.asarray([2.0, 3.0]), 3)
      Array([[4., 2., 1.],
             [9., 3., 1.]], dtype=float32)
    """
    x = unary_operand(x)
    if len(x.shape) != 1:
        raise ValueError(f"fnp.vander: x must be 1-d, got shape {x.shape}")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise ValueError(f"fnp.vander: N must be non-negative, got {N}")
    powers = range(n) if increasing else range(n - 1, -1, -1)
    if n == 0:
        return lax.broadcast_to(Array(np.zeros((), x.dtype)), (x.shape[0], 0))
    return stack([lax.integer_pow(x, k) for k in powers], axis=1)


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least-squares polynomial fit of degree ``deg`` (coefficients highest power first),
    differentiable in ``x``, ``y`` and ``w``; ``y`` may be 2-d (one fit per column).

    Solves ``vander(x, deg + 1) @ p ~ y`` with ``fnp.linalg.lstsq`` after scaling the columns to
    unit norm, as NumPy does. ``full=True`` also returns ``(residuals, rank, singular_values,
    rcond)``; ``cov`` is not supported.

    Example:
      >>> fnp.polyfit(fnp.asarray([0.0, 1.0, 2.0]), fnp.asarray([1.0, 3.0, 5.0]), 1)
      Array([2., 1.], dtype=float32)
    """
    from funcgrad.numpy.linalg import lstsq

    if cov:
        raise NotImplementedError("fnp.polyfit: cov=True is not supported; use full=True")
    deg = int(deg)
    if deg < 0:
        raise ValueError(f"fnp.polyfit: deg must be non-negative, got {deg}")
    x, y = unary_operand(x), unary_operand(y)
    if len(x.shape) != 1 or x.shape[0] == 0:
        raise ValueError(f"fnp.polyfit: x must be a non-empty 1-d array, got shape {x.shape}")
    if len(y.shape) not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"fnp.polyfit: y must have shape ({x.shape[0]},) or ({x.shape[0]}, k), got {y.shape}"
        )
    dtype = np.result_type(x.dtype, y.dtype, np.float32)
    x, y = lax.convert_element_type(x, dtype), lax.convert_element_type(y, dtype)
    if rcond is None:
        rcond = x.shape[0] * float(np.finfo(dtype).eps)
    lhs = vander(x, deg + 1)
    rhs = y
    if w is not None:
        w = lax.convert_element_type(unary_operand(w), dtype)
        lhs = lhs * lax.reshape(w, (w.shape[0], 1))
        rhs = rhs * (w if len(y.shape) == 1 else lax.reshape(w, (w.shape[0], 1)))
    scale = lax.sqrt(lax.reduce_sum(lhs * lhs, axes=(0,)))
    scale = lax.select(scale == 0, 1.0, scale)
    coef, resids, rank, s = lstsq(lhs / scale, rhs, rcond)
    coef = (coef.T / scale).T
    if full:
        return coef, resids, rank, s, rcond
    return coef


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points (``xp``, ``fp``) at ``x`` (NumPy's
    ``interp``); ``xp`` must increase. Outside ``[xp[0], xp[-1]]`` the result is ``left``
    (default ``fp[0]``) and ``right`` (default ``fp[-1]``); ``period`` makes ``xp`` periodic.

    Differentiable in ``x``, ``xp`` and ``fp``. The dtype follows the inputs (NumPy always
    gives float64 or complex128), as in JAX.

    Example:
      >>> fnp.interp(2.5, fnp.asarray([1.0, 2.0, 3.0]), fnp.asarray([3.0, 2.0, 0.0]))
      Array(1., dtype=float32)
    """
    x, xp, fp = unary_operand(x), unary_operand(xp), unary_operand(fp)
    if len(xp.shape) != 1 or len(fp.shape) != 1:
        raise ValueError(f"fnp.interp: xp and fp must be 1-d, got shapes {xp.shape} and {fp.shape}")
    if xp.shape[0] != fp.shape[0]:
        raise ValueError(
            f"fnp.interp: xp and fp must have the same length, got {xp.shape[0]} and {fp.shape[0]}"
        )
    if xp.shape[0] == 0:
        raise ValueError("fnp.interp: xp and fp are empty; give at least one point")
    dtype = np.result_type(x.dtype, xp.dtype, fp.dtype)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    rdtype = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype
    x, xp = lax.convert_element_type(x, rdtype), lax.convert_element_type(xp, rdtype)
    fp = lax.convert_element_type(fp, dtype)
    if period is not None:
        if period == 0:
            raise ValueError("fnp.interp: period must be a non-zero value")
        period = abs(period)
        left = right = None
        x, xp = x % period, xp % period
        from funcgrad.numpy._sorting import argsort

        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([xp[-1:] - period, xp, xp[0:1] + period])
        fp = concatenate([fp[-1:], fp, fp[0:1]])
    n = xp.shape[0]
    if n == 1:
        f = lax.broadcast_to(fp[0], tuple(x.shape))
    else:
        # i: the right end of x's interval, clipped so that x outside uses the end intervals.
        i = lax.clamp(1, searchsorted_p.bind(xp, x, side="right"), n - 1)
        x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
        dx = x1 - x0
        t = (x - x0) / lax.select(dx == 0, 1.0, dx)
        f = f0 + (f1 - f0) * lax.convert_element_type(t, dtype)
        f = lax.select(lax.eq(x, x1), f1, f)  # exact at the sample points
    lo = fp[0] if left is None else _like(operand(left), dtype)
    hi = fp[-1] if right is None else _like(operand(right), dtype)
    return lax.select(x > xp[-1], hi, lax.select(x < xp[0], lo, f))


def _like(v, dtype):
    return lax.convert_element_type(v, dtype) if isinstance(v, ArrayBase) else v
